//! `grapevine ui`, the window, from outside: a real server on 127.0.0.1 driven with raw HTTP,
//! so that every header a hostile page could send (or leave out) is under the test's control.
//! A browser drives the page itself in the end-to-end test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Running, TestNode};

/// A running window: its port and the secret its link carries.
pub struct Window {
    pub running: Running,
    pub port: u16,
    pub secret: String,
}

pub fn open_window(node: &TestNode) -> Window {
    open_window_with(node, &["ui"])
}

/// A window on `args`; without the LAN service unless they ask for it (`--serve-on`), so
/// that no test announces itself on a real network.
pub fn open_window_with(node: &TestNode, args: &[&str]) -> Window {
    let mut args = args.to_vec();
    if !args.contains(&"--serve-on") {
        args.push("--no-serve");
    }
    let mut running = node.spawn(&args);
    let line = running.expect(Duration::from_secs(20), "the link", |l| {
        l.starts_with("open http://127.0.0.1:")
    });
    let (port, secret) = link(&line);
    Window {
        running,
        port,
        secret,
    }
}

/// The port and secret of a printed link `… http://127.0.0.1:PORT/#SECRET`.
fn link(line: &str) -> (u16, String) {
    let rest = &line[line.find("http://127.0.0.1:").expect("a link") + 17..];
    let (port, secret) = rest.split_once("/#").expect("a fragment");
    (port.parse().expect("a port"), secret.trim().to_owned())
}

pub struct Reply {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: String,
    /// The body as sent (a downloaded bundle is no text).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// One request. `headers` replace the defaults of the same name (Host; Origin on writes);
/// a header given with an empty value is left out.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let ours = format!("127.0.0.1:{port}");
    let origin = format!("http://{ours}");
    let mut all: Vec<(&str, &str)> = vec![("Host", &ours)];
    if method != "GET" {
        all.push(("Origin", &origin));
        all.push(("Content-Type", "application/json"));
    }
    for (name, value) in headers {
        all.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        all.push((name, value));
    }
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (name, value) in all.iter().filter(|(_, v)| !v.is_empty()) {
        request += &format!("{name}: {value}\r\n");
    }
    request += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the window");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the reply");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a reply");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let bytes = raw[end + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// Shows the window's secret and returns the session cookie (`name=token`).
pub fn sign_in(w: &Window) -> String {
    let reply = http(
        w.port,
        "POST",
        "/api/session",
        &[],
        &format!(r#"{{"secret":"{}"}}"#, w.secret),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let cookie = reply.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

/// No data without a session; the secret works once, only from our own Origin, and a used
/// link is replaced by a new one printed in the terminal.
#[test]
fn the_window_gives_nothing_without_its_secret() {
    let alice = TestNode::new("alice");
    alice.post("for my friends only");
    let mut w = open_window(&alice);
    for path in ["/api/timeline", "/api/state", "/api/events"] {
        let reply = http(w.port, "GET", path, &[], "");
        assert_eq!(
            reply.status, 401,
            "{path} without a session: {}",
            reply.body
        );
        assert!(reply.json()["error"].is_string());
        assert!(!reply.body.contains("for my friends only"));
    }
    let wrong = http(w.port, "POST", "/api/session", &[], r#"{"secret":"00"}"#);
    assert_eq!(wrong.status, 403);
    let secret = format!(r#"{{"secret":"{}"}}"#, w.secret);
    let other_port = format!("http://127.0.0.1:{}", w.port + 1);
    for (origin, what) in [
        ("", "no Origin"),
        (other_port.as_str(), "another port's page"),
    ] {
        let reply = http(
            w.port,
            "POST",
            "/api/session",
            &[("Origin", origin)],
            &secret,
        );
        assert_eq!(reply.status, 403, "{what}: {}", reply.body);
    }
    let cookie = sign_in(&w);
    let again = http(w.port, "POST", "/api/session", &[], &secret);
    assert_eq!(again.status, 403, "a link works once");
    let fresh = w
        .running
        .expect(Duration::from_secs(10), "a new link", |l| {
            l.contains("For another browser: open http://127.0.0.1:")
        });
    let (_, next) = link(&fresh);
    assert_ne!(next, w.secret);
    w.secret = next;
    sign_in(&w);

    let timeline = http(w.port, "GET", "/api/timeline", &[("Cookie", &cookie)], "");
    assert_eq!(timeline.status, 200, "{}", timeline.body);
    assert_eq!(timeline.json()["posts"][0]["text"], "for my friends only");
    let forged = http(
        w.port,
        "GET",
        "/api/timeline",
        &[("Cookie", "grapevine_session_1=00")],
        "",
    );
    assert_eq!(forged.status, 401);
    w.running.stop_with("TERM", Duration::from_secs(10));
}

/// A page under another name (DNS rebinding), another port's page (same site) and a page that
/// sends no Origin can neither read nor write; every answer carries the security headers and
/// no CORS header.
#[test]
fn hostile_pages_cannot_read_or_write() {
    let alice = TestNode::new("alice");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let rebound = format!("evil.example:{}", w.port);
    for path in ["/", "/api/timeline"] {
        let reply = http(
            w.port,
            "GET",
            path,
            &[("Host", &rebound), ("Cookie", &cookie)],
            "",
        );
        assert_eq!(
            reply.status, 421,
            "{path} under another Host: {}",
            reply.body
        );
    }
    let cross = http(
        w.port,
        "GET",
        "/api/timeline",
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "same-site")],
        "",
    );
    assert_eq!(
        cross.status, 403,
        "another port's page reads: {}",
        cross.body
    );
    let other_port = format!("http://127.0.0.1:{}", w.port + 1);
    for origin in ["", other_port.as_str(), "null"] {
        let reply = http(
            w.port,
            "POST",
            "/api/posts",
            &[("Cookie", &cookie), ("Origin", origin)],
            r#"{"text":"written by a stranger's page"}"#,
        );
        assert_eq!(reply.status, 403, "Origin {origin:?}: {}", reply.body);
    }
    assert!(
        !alice.ok(&["timeline"]).contains("stranger's page"),
        "nothing was written"
    );
    for path in ["/", "/app.js", "/api/timeline", "/nowhere"] {
        let reply = http(w.port, "GET", path, &[("Cookie", &cookie)], "");
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline")
                && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert!(
            !reply
                .headers
                .iter()
                .any(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-")),
            "{path}: a CORS header"
        );
    }
}

/// What the page does, each through the store the terminal sees: a post, a reply, a like; a
/// bad body or an oversized one gets a JSON error and changes nothing.
#[test]
fn the_window_writes_what_the_terminal_reads() {
    let alice = TestNode::new("alice");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let hostile = r#"<img src=x onerror=alert(1)> <script>alert(2)</script>"#;
    let body = serde_json::json!({ "text": hostile }).to_string();
    let posted = http(w.port, "POST", "/api/posts", &with, &body);
    assert_eq!(posted.status, 200, "{}", posted.body);
    let id = posted.json()["id"].as_str().unwrap().to_owned();
    let reply = serde_json::json!({ "text": "and a reply", "reply": id }).to_string();
    assert_eq!(
        http(w.port, "POST", "/api/posts", &with, &reply).status,
        200
    );
    let like = serde_json::json!({ "id": id, "like": true }).to_string();
    assert_eq!(http(w.port, "POST", "/api/likes", &with, &like).status, 200);
    let thread: Value = serde_json::from_str(&alice.ok(&["thread", &id, "--json"])).unwrap();
    assert_eq!(thread[0]["text"], hostile, "the text is kept as written");
    assert_eq!(thread[0]["likes"], 1);
    assert_eq!(thread[1]["text"], "and a reply");
    let shown = http(
        w.port,
        "GET",
        &format!("/api/thread?id={}", id.replace('%', "%25")),
        &with,
        "",
    )
    .json();
    assert_eq!(
        shown["posts"], thread,
        "the window's thread is the terminal's"
    );
    let reply_text = serde_json::json!({ "text": "#Bees in the #garden" }).to_string();
    assert_eq!(
        http(w.port, "POST", "/api/posts", &with, &reply_text).status,
        200
    );
    for (query, expected) in [
        ("tag=bees", "#Bees in the #garden"),
        ("search=garden", "#Bees in the #garden"),
        ("search=reply", "and a reply"),
    ] {
        let found = http(w.port, "GET", &format!("/api/posts?{query}"), &with, "").json();
        assert_eq!(found["posts"][0]["text"], expected, "{query}");
        assert_eq!(found["posts"].as_array().unwrap().len(), 1, "{query}");
    }
    let unknown = format!("/api/thread?id=%25{}", "a".repeat(52));
    assert_eq!(http(w.port, "GET", &unknown, &with, "").status, 404);

    for (body, what) in [
        ("{", "broken JSON"),
        (r#"{"text":5}"#, "a text that is no string"),
        (r#"{"text":"   "}"#, "an empty post"),
    ] {
        let reply = http(w.port, "POST", "/api/posts", &with, body);
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        assert!(
            reply.json()["error"]
                .as_str()
                .is_some_and(|e| !e.is_empty())
        );
    }
    let huge = serde_json::json!({ "text": "x".repeat(100_000) }).to_string();
    let reply = http(w.port, "POST", "/api/posts", &with, &huge);
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    let timeline: Value = serde_json::from_str(&alice.ok(&["timeline", "--json"])).unwrap();
    assert_eq!(
        timeline.as_array().unwrap().len(),
        3,
        "nothing else was written"
    );
}

/// The first run: a home with no diary gets the form; the page creates the identity and shows
/// the 24 backup words, which restore the same feed.
#[test]
fn the_first_run_creates_a_diary_in_the_page() {
    let newcomer = TestNode::uninitialised("newcomer");
    let w = open_window(&newcomer);
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let state = http(w.port, "GET", "/api/state", &with, "");
    assert_eq!(state.json()["me"], Value::Null);
    let created = http(w.port, "POST", "/api/init", &with, r#"{"name":"dana"}"#).json();
    let words: Vec<&str> = created["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(words.len(), 24);
    assert_eq!(created["me"]["name"], "dana");
    let again = http(w.port, "POST", "/api/init", &with, r#"{"name":"dana"}"#);
    assert_eq!(again.status, 409, "one diary per home");
    let id = newcomer.ok(&["whoami"]);
    assert_eq!(created["me"]["id"], id.trim());
    let restored = TestNode::uninitialised("restored");
    let out = restored.run_with_input(&["init", "--restore"], words.join(" ").as_bytes());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id.trim());

    // The other way in: the words, typed into another home's first-run page.
    let elsewhere = TestNode::uninitialised("elsewhere");
    let w2 = open_window(&elsewhere);
    let cookie2 = sign_in(&w2);
    let with2 = [("Cookie", cookie2.as_str())];
    let wrong = http(
        w2.port,
        "POST",
        "/api/restore",
        &with2,
        r#"{"words":"one two three"}"#,
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let body = serde_json::json!({ "words": words.join(" ") }).to_string();
    let back = http(w2.port, "POST", "/api/restore", &with2, &body).json();
    assert_eq!(back["me"]["id"], id.trim());
    assert_eq!(elsewhere.ok(&["whoami"]).trim(), id.trim());
}

/// Live: a post written by another process (the terminal, a watcher merging a bundle) reaches
/// an open event stream as `changed` within a second.
#[test]
fn the_window_hears_changes_made_elsewhere() {
    let alice = TestNode::new("alice");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let mut stream = TcpStream::connect(("127.0.0.1", w.port)).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\n\r\n",
        w.port
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut lines = BufReader::new(stream).lines();
    let mut wait_for = |what: &str| {
        for line in lines.by_ref() {
            let line = line.unwrap_or_else(|e| panic!("no `{what}` event: {e}"));
            if line == format!("event: {what}") {
                return;
            }
        }
        panic!("the stream ended before `{what}`");
    };
    wait_for("ready");
    alice.post("from the terminal");
    // Bounded by the read timeout above; how fast is measured in the end-to-end bench.
    wait_for("changed");
}

/// docs/http-api.md lists exactly the routes the server has, each answers, and every JSON
/// field the window sends is documented (there or in docs/json.md).
#[test]
fn every_route_and_field_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/http-api.md"),
    )
    .unwrap();
    let mut documented: Vec<(String, String)> = doc
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let method = *cells.get(1)?;
            (method == "GET" || method == "POST")
                .then(|| (method.to_owned(), cells[2].trim_matches('`').to_owned()))
        })
        .collect();
    documented.sort();
    let mut served: Vec<(String, String)> = grapevine::ui::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    served.sort();
    assert_eq!(
        documented, served,
        "docs/http-api.md and the server's routes"
    );

    let mut fields = crate::json::documented_in("docs/json.md");
    fields.extend(crate::json::documented_in("docs/http-api.md"));
    let alice = TestNode::new("alice");
    alice.post("hello");
    let w = open_window(&alice);
    let session = http(
        w.port,
        "POST",
        "/api/session",
        &[],
        &format!(r#"{{"secret":"{}"}}"#, w.secret),
    );
    let cookie = session
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let mut replies = vec![session];
    for (method, path) in &served {
        let reply = if path == "/api/events" {
            continue;
        } else if method == "GET" {
            http(w.port, method, path, &[("Cookie", &cookie)], "")
        } else {
            http(w.port, method, path, &[("Cookie", &cookie)], "{}")
        };
        assert_ne!(
            reply.status, 404,
            "{method} {path} is documented but not served"
        );
        replies.push(reply);
    }
    let id = replies
        .iter()
        .filter(|r| r.header("content-type") == Some("application/json"))
        .find_map(|r| r.json().get("posts").map(|p| p[0]["id"].clone()))
        .expect("the timeline");
    for (path, body) in [
        (
            "/api/posts",
            serde_json::json!({"text": "again", "reply": id}),
        ),
        ("/api/likes", serde_json::json!({"id": id, "like": true})),
    ] {
        replies.push(http(
            w.port,
            "POST",
            path,
            &[("Cookie", &cookie)],
            &body.to_string(),
        ));
    }
    fn walk(value: &Value, fields: &std::collections::BTreeSet<String>) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| walk(v, fields)),
            Value::Object(map) => {
                for (key, v) in map {
                    assert!(
                        fields.contains(key),
                        "the window sends `{key}`, documented nowhere"
                    );
                    if key != "content" {
                        walk(v, fields);
                    }
                }
            }
            _ => {}
        }
    }
    for reply in replies
        .iter()
        .filter(|r| r.header("content-type") == Some("application/json"))
    {
        walk(&reply.json(), &fields);
    }
}

/// Only loopback: any other address is refused, with the reason.
#[test]
fn the_window_listens_on_loopback_only() {
    let alice = TestNode::new("alice");
    let said = alice.fails_with(1, &["ui", "--listen", "0.0.0.0:0"]);
    assert!(said.contains("not a loopback address"), "{said}");
}

/// Private messages, people and names through the window, each checked through the terminal:
/// a private message says who can read it; follow, block and unblock settle as on the
/// terminal; a petname stays on this node.
#[test]
fn people_and_private_messages_through_the_window() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let post = |path: &str, body: Value| {
        let reply = http(w.port, "POST", path, &with, &body.to_string());
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.json()
    };
    let followed = post(
        "/api/contacts",
        serde_json::json!({"person": bob.id(), "change": "follow"}),
    );
    assert_eq!(followed["change"], "follow");
    let contacts: Value = serde_json::from_str(&alice.ok(&["contacts", "--json"])).unwrap();
    assert_eq!(contacts["following"][0]["id"], bob.id().as_str());

    let sent = post(
        "/api/private",
        serde_json::json!({"to": [bob.id()], "text": "psst, the key is under the pot"}),
    );
    let readers: Vec<&str> = sent["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(readers.contains(&bob.id().as_str()) && readers.contains(&alice.id().as_str()));
    let reply = post(
        "/api/private",
        serde_json::json!({"text": "and bring bread", "reply": sent["id"]}),
    );
    assert_eq!(reply["recipients"].as_array().unwrap().len(), 2);
    let conversations = http(w.port, "GET", "/api/conversations", &with, "").json();
    let texts: Vec<&str> = conversations["conversations"][0]["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["and bring bread", "psst, the key is under the pot"]);
    let public = http(
        w.port,
        "POST",
        "/api/private",
        &with,
        r#"{"text":"to nobody"}"#,
    );
    assert_eq!(public.status, 400, "a private message needs a reader");
    let timeline: Value = serde_json::from_str(&alice.ok(&["timeline", "--json"])).unwrap();
    assert_eq!(
        timeline,
        serde_json::json!([]),
        "nothing private became public"
    );

    post(
        "/api/petname",
        serde_json::json!({"person": bob.id(), "name": "Bobby"}),
    );
    let who = http(w.port, "GET", "/api/person?who=Bobby", &with, "").json();
    assert_eq!(who["petname"], "Bobby");
    assert_eq!(who["hops"], 1);
    post(
        "/api/contacts",
        serde_json::json!({"person": "Bobby", "change": "block"}),
    );
    assert!(alice.ok(&["who", &bob.id()]).contains("blocked by you"));
    post(
        "/api/contacts",
        serde_json::json!({"person": "Bobby", "change": "unblock"}),
    );
    let network = http(w.port, "GET", "/api/network", &with, "").json();
    assert!(network["people"].as_array().unwrap().len() >= 2);
    for (path, what) in [
        ("/api/person", "no person named"),
        ("/api/person?who=nobody-at-all", "an unknown name"),
        ("/api/timeline?limit=lots", "a limit that is no number"),
    ] {
        let reply = http(w.port, "GET", path, &with, "");
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        assert!(reply.json()["error"].is_string(), "{what}");
    }
}

/// `grapevine ui FOLDER` keeps the folder in sync as `watch` does: a friend's bundle is merged
/// and the open page hears it; "Sync now" works on that folder and on no other path; and with
/// a watcher already running on the home, the window says it leaves the work to it.
#[test]
fn the_window_keeps_its_folders_in_sync() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    let shared = crate::harness::stick();
    let folder = crate::harness::path_str(shared.path()).to_owned();
    let w = open_window_with(&alice, &["ui", &folder]);
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let mut stream = TcpStream::connect(("127.0.0.1", w.port)).unwrap();
    write!(
        stream,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\n\r\n",
        w.port
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut lines = BufReader::new(stream).lines();
    bob.post("carried by the shared folder");
    bob.ok(&["sync-dir", &folder]);
    let merged = loop {
        let line = lines.next().expect("the stream goes on").expect("an event");
        if line.starts_with("data: ") && line.contains("\"event\":\"merged\"") {
            break line;
        }
    };
    assert!(merged.contains("\"says\":\"merged"), "{merged}");
    let folders = http(w.port, "GET", "/api/folders", &with, "").json();
    assert_eq!(folders["folders"][0], folder.as_str());
    assert!(
        folders["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "merged")
    );
    assert_eq!(folders["elsewhere"], Value::Null);
    let shown = http(w.port, "GET", "/api/timeline", &with, "").json();
    assert_eq!(shown["posts"][0]["text"], "carried by the shared folder");
    assert_eq!(shown["posts"][0]["unread"], true);
    let again = http(w.port, "GET", "/api/timeline", &with, "").json();
    assert_eq!(again["posts"][0]["unread"], false, "shown once as unread");

    let sync = |folder: &str| {
        let body = serde_json::json!({ "folder": folder }).to_string();
        http(w.port, "POST", "/api/sync", &with, &body)
    };
    assert_eq!(sync(&folder).status, 200);
    let elsewhere = crate::harness::stick();
    let refused = sync(crate::harness::path_str(elsewhere.path()));
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    // One home, one watcher: a second window leaves the folders to the first.
    let second = open_window_with(&alice, &["ui", &folder]);
    let cookie2 = sign_in(&second);
    // The second window's watcher finds the lock taken on its own thread: await its word.
    crate::harness::eventually(Duration::from_secs(20), "the second window's word", || {
        let folders = http(
            second.port,
            "GET",
            "/api/folders",
            &[("Cookie", &cookie2)],
            "",
        )
        .json();
        folders["elsewhere"]
            .as_str()
            .is_some_and(|why| why.contains("another watcher already runs"))
    });
}

/// A bundle file chosen in the page is imported as `import` would, and reports the same way;
/// a file that is no bundle is said to be one, and nothing is left behind in the home.
#[test]
fn a_bundle_file_chosen_in_the_page_is_imported() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    alice.follow(&bob);
    bob.post("handed over as a file");
    let s = crate::harness::stick();
    let file = bob.export_to(s.path());
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let upload = |bytes: &[u8]| {
        let mut stream = TcpStream::connect(("127.0.0.1", w.port)).unwrap();
        write!(
            stream,
            "POST /api/import HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n\
             Cookie: {cookie}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            bytes.len(),
            port = w.port
        )
        .unwrap();
        stream.write_all(bytes).unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        (
            head[9..12].parse::<u16>().unwrap(),
            serde_json::from_str::<Value>(body).unwrap(),
        )
    };
    let (status, report) = upload(&std::fs::read(&file).unwrap());
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["new"], 2, "{report}");
    assert!(alice.ok(&["timeline"]).contains("handed over as a file"));
    let (status, report) = upload(b"not a bundle at all");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["new"], 0);
    let left: Vec<_> = std::fs::read_dir(alice.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
        .collect();
    assert!(left.is_empty(), "uploads are removed");
}

/// `--open` hands the browser a file only this user can read, never the secret on a command
/// line where any local user could read it.
#[test]
fn open_hands_the_browser_a_private_file_not_the_secret() {
    use std::os::unix::fs::PermissionsExt;
    let alice = TestNode::new("alice");
    let tools = tempfile::tempdir().unwrap();
    let record = tools.path().join("asked");
    let script = tools.path().join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > '{r}.args'\nstat -c %a \"$1\" > '{r}.mode'\ncp \"$1\" '{r}.page'\n",
            r = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = alice.command(&["ui", "--open", "--no-serve"]);
    let path = std::env::var("PATH").unwrap_or_default();
    command.env("PATH", format!("{}:{path}", tools.path().display()));
    let mut running = alice.spawn_command(command);
    let line = running.expect(Duration::from_secs(20), "the link", |l| {
        l.starts_with("open http://127.0.0.1:")
    });
    let (_, secret) = link(&line);
    let page = record.with_extension("page");
    crate::harness::eventually(Duration::from_secs(20), "the browser was asked", || {
        page.exists()
    });
    let args = std::fs::read_to_string(record.with_extension("args")).unwrap();
    assert!(
        !args.contains(&secret),
        "the secret on a command line: {args}"
    );
    assert_eq!(
        std::fs::read_to_string(record.with_extension("mode"))
            .unwrap()
            .trim(),
        "600"
    );
    assert!(std::fs::read_to_string(&page).unwrap().contains(&secret));
}

/// Message requests answered in the window, settings changed there, and the network picture
/// served as an image.
#[test]
fn requests_settings_and_the_network_picture() {
    let alice = TestNode::new("alice");
    let carol = TestNode::new("carol");
    carol.ok(&["dm", "--to", &alice.id(), "hello from a stranger", "--yes"]);
    let s = crate::harness::stick();
    alice.import(&carol.export_to(s.path()));
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let waiting = http(w.port, "GET", "/api/requests", &with, "").json();
    assert_eq!(waiting["requests"][0]["text"], "hello from a stranger");
    let accept = serde_json::json!({"person": carol.id(), "action": "accept"}).to_string();
    let accepted = http(w.port, "POST", "/api/requests", &with, &accept);
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.json()["change"], "follow");
    let waiting = http(w.port, "GET", "/api/requests", &with, "").json();
    assert_eq!(waiting["requests"], serde_json::json!([]));
    let inbox = http(w.port, "GET", "/api/conversations", &with, "").json();
    assert_eq!(
        inbox["conversations"][0]["posts"][0]["text"],
        "hello from a stranger"
    );

    let settings = http(w.port, "GET", "/api/settings", &with, "").json();
    assert!(
        settings["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["key"] == "hops" && s["value"] == "2"),
        "{settings}"
    );
    let set = |key: &str, value: &str| {
        let body = serde_json::json!({"key": key, "value": value}).to_string();
        http(w.port, "POST", "/api/settings", &with, &body)
    };
    assert_eq!(set("hops", "3").status, 200);
    assert_eq!(alice.ok(&["config", "get", "hops"]).trim(), "3");
    assert_eq!(set("hops", "99").status, 400, "out of range");
    assert_eq!(
        set("restored", "yes").status,
        400,
        "not the window's to change"
    );
    assert_eq!(alice.ok(&["config", "get", "hops"]).trim(), "3");

    let picture = http(w.port, "GET", "/api/network.svg", &with, "");
    assert_eq!(picture.status, 200);
    assert_eq!(picture.header("content-type"), Some("image/svg+xml"));
    assert!(picture.body.contains("<svg"), "{}", &picture.body[..80]);
}

/// `demo --ui`: the demo's four diaries stay, and alice's window opens on them, keeping the
/// demo's stick in sync.
#[test]
fn the_demo_opens_alices_window() {
    use std::os::unix::fs::PermissionsExt;
    let somebody = TestNode::uninitialised("visitor");
    let tools = tempfile::tempdir().unwrap();
    let opener = tools.path().join("xdg-open");
    std::fs::write(&opener, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut command = somebody.command(&["demo", "--ui"]);
    let path = std::env::var("PATH").unwrap_or_default();
    command.env("PATH", format!("{}:{path}", tools.path().display()));
    let mut running = somebody.spawn_command(command);
    let stays = running.expect(Duration::from_secs(60), "where the homes stay", |l| {
        l.contains("The four homes stay in")
    });
    let root = stays
        .split("stay in ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .expect("a folder")
        .to_owned();
    let line = running.expect(Duration::from_secs(20), "the link", |l| {
        l.starts_with("open http://127.0.0.1:")
    });
    let (port, secret) = link(&line);
    let w = Window {
        running,
        port,
        secret,
    };
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let state = http(w.port, "GET", "/api/state", &with, "").json();
    assert_eq!(state["me"]["name"], "alice");
    let timeline = http(w.port, "GET", "/api/timeline", &with, "").json();
    assert!(
        !timeline["posts"].as_array().unwrap().is_empty(),
        "{timeline}"
    );
    let folders = http(w.port, "GET", "/api/folders", &with, "").json();
    assert!(
        folders["folders"][0]
            .as_str()
            .is_some_and(|f| f.ends_with("usb-stick")),
        "{folders}"
    );
    drop(w);
    let _ = std::fs::remove_dir_all(root);
}

/// Devices in the window: an offer from the old device shows as `offered`, linking it by the
/// name its offer gave makes one person, and unlinking ends it.
#[test]
fn devices_are_linked_in_the_window() {
    let laptop = TestNode::new("alice");
    let desktop = TestNode::new("alice (desktop)");
    laptop.ok(&["device", "link", &desktop.id()]);
    let s = crate::harness::stick();
    desktop.import(&laptop.export_to(s.path()));
    let w = open_window(&desktop);
    let cookie = sign_in(&w);
    let with = [("Cookie", cookie.as_str())];
    let list = http(w.port, "GET", "/api/devices", &with, "").json();
    assert_eq!(list["this_device"]["id"], desktop.id().as_str());
    assert_eq!(list["links"][0]["state"], "offered", "{list}");
    let link = serde_json::json!({"device": "alice", "action": "link"}).to_string();
    let linked = http(w.port, "POST", "/api/devices", &with, &link);
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert_eq!(linked.json()["state"], "linked");
    assert!(desktop.ok(&["device", "list"]).contains("linked both ways"));
    let unlink = serde_json::json!({"device": laptop.id(), "action": "unlink"}).to_string();
    assert_eq!(
        http(w.port, "POST", "/api/devices", &with, &unlink).json()["state"],
        "unlinked"
    );
    let wrong = serde_json::json!({"device": laptop.id(), "action": "merge"}).to_string();
    assert_eq!(
        http(w.port, "POST", "/api/devices", &with, &wrong).status,
        400
    );
}
