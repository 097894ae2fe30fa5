//! The window's LAN service, a key unlocked in the page, a bundle to download, and the
//! reach-back hint: each checked from outside, through raw HTTP and the terminal.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestNode, eventually, stick};
use crate::ui::{http, open_window, open_window_with, sign_in};

const WAIT: Duration = Duration::from_secs(20);

/// `grapevine ui` runs the LAN service as `serve` does: a peer that syncs with it is heard
/// live in the page; "Sync with" runs one session with another peer; pubs are added and
/// removed; and a second LAN service on the same home is refused, saying why.
#[test]
fn the_window_serves_the_lan() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    for (a, b) in [
        (&alice, &bob),
        (&bob, &alice),
        (&alice, &carol),
        (&carol, &alice),
    ] {
        a.follow(b);
    }
    bob.post("from bob, over the LAN");
    carol.post("from carol, by Sync with");
    let w = open_window_with(
        &alice,
        &["ui", "--serve-on", "127.0.0.1:0", "--no-discovery"],
    );
    let cookie = sign_in(&w);
    let get = |path: &str| http(w.port, "GET", path, &[("Cookie", &cookie)], "");
    let post = |path: &str, body: Value| {
        http(
            w.port,
            "POST",
            path,
            &[("Cookie", &cookie)],
            &body.to_string(),
        )
    };
    let mut lan = Value::Null;
    eventually(WAIT, "the LAN service listens", || {
        lan = get("/api/lan").json();
        !lan["listening"].is_null()
    });
    assert_eq!(lan["serving"], true, "{lan}");
    assert_eq!(lan["discovery"], false, "{lan}");
    let address = lan["listening"].as_str().unwrap().to_owned();

    bob.ok(&["sync", &address]);
    assert!(alice.ok(&["timeline"]).contains("from bob, over the LAN"));
    eventually(WAIT, "the session is told to the page", || {
        get("/api/lan").json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "session-ended" && e["peer"]["id"] == bob.id())
    });

    let said = alice.fails_with(1, &["serve", "--listen", "127.0.0.1:0", "--no-discovery"]);
    assert!(
        said.contains(&format!(
            "already runs on this home, listening on {address}"
        )),
        "{said}"
    );
    let status = alice.ok(&["status"]);
    assert!(
        status.contains(&format!("serving  the local network on {address}")),
        "{status}"
    );

    let (mut carol_serving, carol_at) = crate::lan::serve(&carol, &[]);
    let synced = post("/api/lan/sync", json!({ "address": carol_at }));
    assert_eq!(synced.status, 200, "{}", synced.body);
    assert_eq!(synced.json()["peer"]["name"], "carol");
    // carol's name, follow and post.
    assert_eq!(synced.json()["received"], 3, "{}", synced.body);
    assert!(alice.ok(&["timeline"]).contains("from carol, by Sync with"));
    carol_serving.stop_with("INT", WAIT);
    let unreachable = post("/api/lan/sync", json!({ "address": carol_at }));
    assert_eq!(unreachable.status, 502, "{}", unreachable.body);
    assert!(
        unreachable.json()["error"]
            .as_str()
            .unwrap()
            .contains("could not sync with")
    );

    let added = post(
        "/api/pubs",
        json!({ "address": "127.0.0.1:9", "action": "add" }),
    );
    assert_eq!(
        added.json()["pubs"],
        json!(["127.0.0.1:9"]),
        "{}",
        added.body
    );
    assert!(alice.ok(&["pub", "list"]).contains("127.0.0.1:9"));
    let removed = post(
        "/api/pubs",
        json!({ "address": "127.0.0.1:9", "action": "remove" }),
    );
    assert_eq!(removed.json()["pubs"], json!([]), "{}", removed.body);
    let again = post(
        "/api/pubs",
        json!({ "address": "127.0.0.1:9", "action": "remove" }),
    );
    assert_eq!(again.status, 400, "{}", again.body);
}

/// A key locked with a passphrase is opened in the page, never at a prompt: until then the
/// page gets no data and is told the key is locked; a wrong passphrase is refused and changes
/// nothing; the right one opens the diary.
#[test]
fn a_locked_key_is_unlocked_in_the_page() {
    let phrase = crate::harness::PASSPHRASE;
    let (me, id) = TestNode::locked("locked");
    let w = open_window(&me);
    let cookie = sign_in(&w);
    let get = |path: &str| http(w.port, "GET", path, &[("Cookie", &cookie)], "");
    let unlock = |phrase: &str| {
        http(
            w.port,
            "POST",
            "/api/unlock",
            &[("Cookie", &cookie)],
            &json!({ "passphrase": phrase }).to_string(),
        )
    };
    let state = get("/api/state").json();
    assert_eq!(state, json!({ "me": null, "locked": true }));
    assert_eq!(get("/api/timeline").status, 409);
    let wrong = unlock("not the passphrase");
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert!(
        wrong.json()["error"]
            .as_str()
            .unwrap()
            .contains("not this diary's passphrase")
    );
    assert_eq!(unlock("").status, 400);
    assert_eq!(get("/api/state").json()["locked"], true);
    let right = unlock(phrase);
    assert_eq!(right.status, 200, "{}", right.body);
    assert_eq!(right.json()["me"]["id"], id);
    assert_eq!(get("/api/state").json()["me"]["name"], "locked");
    let posted = http(
        w.port,
        "POST",
        "/api/posts",
        &[("Cookie", &cookie)],
        r#"{"text":"written after unlocking in the page"}"#,
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
    let read = me
        .command(&["timeline"])
        .env("GRAPEVINE_PASSPHRASE", phrase)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&read.stdout).contains("written after unlocking"));
}

/// "Download a bundle": what the chosen people lack, as a file that `import` takes; sealed,
/// only they can read it; nothing is left in the home.
#[test]
fn a_bundle_for_chosen_people_is_downloaded() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    bob.follow(&alice);
    carol.follow(&alice);
    alice.follow(&bob);
    alice.post("in a downloaded bundle");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let download = |body: Value| {
        http(
            w.port,
            "POST",
            "/api/bundle",
            &[("Cookie", &cookie)],
            &body.to_string(),
        )
    };
    let s = stick();
    let save = |name: &str, bytes: &[u8]| {
        let path = s.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let plain = download(json!({ "for": [bob.id()] }));
    assert_eq!(plain.status, 200, "{}", plain.body);
    let disposition = plain.header("content-disposition").unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"gv-") && disposition.ends_with(".gvb\""),
        "{disposition}"
    );
    let file = save("plain.gvb", &plain.bytes);
    let took = bob.import(&file);
    assert!(
        bob.ok(&["timeline"]).contains("in a downloaded bundle"),
        "{took}"
    );

    let sealed = download(json!({ "for": [carol.id()], "seal": true }));
    assert_eq!(sealed.status, 200, "{}", sealed.body);
    let file = save("sealed.gvb", &sealed.bytes);
    let stranger = TestNode::new("dave");
    stranger.follow(&alice);
    let said = stranger.ok(&["import", crate::harness::path_str(&file)]);
    assert!(
        said.contains("a sealed bundle not addressed to you"),
        "{said}"
    );
    carol.import(&file);
    assert!(carol.ok(&["timeline"]).contains("in a downloaded bundle"));

    let no_one = download(json!({ "seal": true }));
    assert_eq!(no_one.status, 400, "{}", no_one.body);
    let stranger_name = download(json!({ "for": ["nobody-by-that-name"] }));
    assert_eq!(stranger_name.status, 400, "{}", stranger_name.body);
    let too_many: Vec<String> = (0..16).map(|i| format!("p{i}")).collect();
    assert_eq!(download(json!({ "for": too_many })).status, 400);
    let left: Vec<_> = std::fs::read_dir(alice.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".download-"))
        .collect();
    assert!(left.is_empty(), "downloads are removed from the home");
}

/// Patchwork's hint, in `who` and the page: whether my posts reach someone, as far as I know
/// whom they follow.
#[test]
fn whether_my_posts_reach_them_is_said() {
    let me = TestNode::new("me");
    let friend = TestNode::new("friend");
    let far = TestNode::new("far");
    let loner = TestNode::new("loner");
    let blocker = TestNode::new("blocker");
    friend.follow(&me);
    far.follow(&friend);
    loner.post("no one follows me back");
    blocker.ok(&["block", &me.id(), "--yes"]);
    let s = stick();
    for node in [&friend, &far, &loner, &blocker] {
        me.follow(node);
        node.export_to(s.path());
    }
    me.ok(&["import", crate::harness::path_str(s.path())]);
    let who = |node: &TestNode| -> Value {
        serde_json::from_str(&me.ok(&["who", &node.id(), "--json"])).unwrap()
    };
    assert_eq!(who(&friend)["reaches_them"], 1);
    assert_eq!(who(&far)["reaches_them"], 2);
    assert_eq!(who(&loner)["reaches_them"], Value::Null);
    assert_eq!(who(&blocker)["blocks_you"], true);
    assert!(
        me.ok(&["who", &loner.id()])
            .contains("follows no one who follows you: your posts may not reach them")
    );
    assert!(
        me.ok(&["who", &friend.id()])
            .contains("follows you: your posts reach them")
    );
    assert!(me.ok(&["who", &blocker.id()]).contains("blocks you"));
}

/// Your own profile, edited in the page: the name and the few words are published as `name`
/// and `about` would, only when they changed; a bad name is refused and nothing is written.
#[test]
fn your_own_profile_is_edited_in_the_page() {
    let alice = TestNode::new("alice");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let about = |body: Value| {
        http(
            w.port,
            "POST",
            "/api/about",
            &[("Cookie", &cookie)],
            &body.to_string(),
        )
    };
    let messages = || alice.feed(&alice.id()).len();
    let before = messages();
    let saved = about(json!({ "name": "alicia", "description": "I keep bees" }));
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert_eq!(saved.json()["feed"]["name"], "alicia");
    assert_eq!(saved.json()["description"], "I keep bees");
    assert_eq!(messages(), before + 2);
    let who = alice.ok(&["who", &alice.id()]);
    assert!(
        who.contains("alicia") && who.contains("I keep bees"),
        "{who}"
    );
    let again = about(json!({ "name": "alicia", "description": "I keep bees" }));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(messages(), before + 2, "nothing changed, nothing written");
    let empty = about(json!({ "name": "  " }));
    assert_eq!(empty.status, 400, "{}", empty.body);
    let long = about(json!({ "name": "x".repeat(200) }));
    assert_eq!(long.status, 400, "{}", long.body);
    assert_eq!(messages(), before + 2);
}

/// Every data route, from the server's own list: without a session it answers 401; under a
/// foreign Host, 421; every write without an Origin or from another origin, 403 — and none
/// of those requests changes the store.
#[test]
fn every_route_refuses_strangers() {
    let alice = TestNode::new("alice");
    alice.post("kept");
    let w = open_window(&alice);
    let cookie = sign_in(&w);
    let before = alice.feed(&alice.id()).len();
    let rebound = format!("evil.example:{}", w.port);
    let other_port = format!("http://127.0.0.1:{}", w.port + 1);
    let body = r#"{"text":"x","name":"x","passphrase":"x","address":"127.0.0.1:9","action":"add","person":"alice","change":"block","key":"hops","value":"0","for":[]}"#;
    let mut checked = 0;
    for (method, path) in grapevine::ui::ROUTES {
        if !path.starts_with("/api/") || *path == "/api/session" {
            continue;
        }
        checked += 1;
        let none = http(w.port, method, path, &[], body);
        assert_eq!(
            none.status, 401,
            "{method} {path} without a session: {}",
            none.body
        );
        let host = http(
            w.port,
            method,
            path,
            &[("Host", &rebound), ("Cookie", &cookie)],
            body,
        );
        assert_eq!(
            host.status, 421,
            "{method} {path} under another Host: {}",
            host.body
        );
        if *method == "POST" {
            for origin in ["", other_port.as_str(), "null"] {
                let reply = http(
                    w.port,
                    method,
                    path,
                    &[("Cookie", &cookie), ("Origin", origin)],
                    body,
                );
                assert_eq!(
                    reply.status, 403,
                    "{method} {path} from {origin:?}: {}",
                    reply.body
                );
            }
        }
    }
    assert!(checked >= 30, "only {checked} routes");
    assert_eq!(
        alice.feed(&alice.id()).len(),
        before,
        "a refused request wrote"
    );
    assert!(alice.ok(&["pub", "list"]).contains("no pubs"));
    assert_eq!(alice.ok(&["config", "get", "hops"]).trim(), "2");
}
