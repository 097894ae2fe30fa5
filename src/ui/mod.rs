//! `grapevine ui`: the window. A web page served on loopback only, for people who will not
//! open a terminal. It reads and writes the same store, through the same library, as the
//! commands do.
//!
//! A hostile web page in the same browser must not be able to use it ([`guard`]): the server
//! listens on a loopback address only, answers only to its own Host, takes state-changing
//! requests only from its own Origin, and gives data only to a session that showed the one-time
//! secret printed in the link's fragment (never sent in a URL the server sees, never logged).

mod api;
mod assets;
mod folders;
mod guard;
mod lan;

pub use api::ROUTES;

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::node::{Node, NodeError, Result};

/// How `grapevine ui` runs.
pub struct UiOptions {
    /// Where to listen: a loopback address; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The folders and mount roots to keep in sync, as `watch` does (none: none).
    pub watch: crate::watch::WatchOptions,
    /// Open the link in the default browser (`xdg-open`).
    pub open: bool,
    /// The LAN service to run, as `serve` does (none: `--no-serve`). Its network and pub
    /// mode are the home's settings.
    pub serve: Option<crate::lan::ServeOptions>,
}

/// What every request handler shares.
pub(crate) struct App {
    home: PathBuf,
    /// The node, once the home has an identity (the first-run page creates one).
    node: Mutex<Option<Node>>,
    /// `127.0.0.1:PORT` and `localhost:PORT`: the only Host headers answered.
    hosts: Vec<String>,
    /// `http://` and each host: the only Origins whose writes are taken.
    origins: Vec<String>,
    /// The link's secret until a page shows it; then a new one is made and printed.
    secret: Mutex<String>,
    /// Session tokens given out as cookies.
    sessions: Mutex<HashSet<String>>,
    /// The cookie's name: per port, since browsers share cookies between ports of one host.
    cookie: String,
    /// Lines for the terminal (a fresh link once the last one was used).
    say: std::sync::mpsc::Sender<String>,
    /// The folders kept in sync, and what the watcher said of them.
    folders: Mutex<folders::Folders>,
    /// The LAN service, and what it said.
    lan: Mutex<lan::Lan>,
    /// The watcher's and the LAN service's events, for open pages.
    live: tokio::sync::broadcast::Sender<String>,
    /// How to start the watcher once a first-run page made a diary, and what stops it.
    watch: crate::watch::WatchOptions,
    stop: Arc<AtomicBool>,
}

impl App {
    fn url(&self, secret: &str) -> String {
        format!("{}/#{secret}", self.origins[0])
    }
}

/// Opens `link` in the default browser without putting its secret on a command line (where
/// any local user could read it): the browser is handed a file only we can read, which sends
/// it on to the link, and which is removed a moment later.
fn open_in_browser(home: &std::path::Path, link: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = home.join("open-the-window.html");
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={link}\">\
         <title>grapevine</title><a href=\"{link}\">Open grapevine</a>\n"
    );
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(page.as_bytes()));
    let opened = written.and_then(|()| {
        std::process::Command::new("xdg-open")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
    });
    match opened {
        Ok(status) if status.success() => {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(10));
                let _ = std::fs::remove_file(path);
            });
        }
        _ => {
            let _ = std::fs::remove_file(&path);
            eprintln!("could not open a browser here: open the link above yourself");
        }
    }
}

/// 32 random bytes in hex: secrets and session tokens.
fn token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| NodeError::Usage(format!("no randomness: {e}")))?;
    Ok(data_encoding::HEXLOWER.encode(&bytes))
}

/// Serves the window until `stop` is set, printing the link to open on `out`.
pub fn run(
    home: PathBuf,
    opts: UiOptions,
    out: &mut dyn Write,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    if !opts.listen.ip().is_loopback() {
        return Err(NodeError::Usage(format!(
            "{} is not a loopback address: the window is for this computer only, so it \
             listens on 127.0.0.1 (or ::1) and nowhere else",
            opts.listen.ip()
        )));
    }
    // A locked key is unlocked in the page, never at a prompt that no one may be watching.
    use crate::identity::{Identity, IdentityError, Passphrase};
    let key = home.join(crate::node::KEY_FILE);
    let node = match Identity::load_with(&key, Passphrase::FromEnvironment) {
        Ok(_) => Some(Node::open(&home)?),
        Err(IdentityError::Missing(_) | IdentityError::Locked(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::Usage(format!("cannot start the window's server: {e}")))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(opts.listen))
        .map_err(|source| {
            NodeError::Usage(format!("cannot listen on {}: {source}", opts.listen))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| NodeError::Usage(format!("cannot listen: {e}")))?
        .port();
    let ip = match opts.listen.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let mut hosts = vec![format!("{ip}:{port}")];
    if !hosts.contains(&format!("localhost:{port}")) {
        hosts.push(format!("localhost:{port}"));
    }
    let (say, said) = std::sync::mpsc::channel();
    let app = Arc::new(App {
        home,
        node: Mutex::new(node),
        origins: hosts.iter().map(|h| format!("http://{h}")).collect(),
        hosts,
        secret: Mutex::new(token()?),
        sessions: Mutex::new(HashSet::new()),
        cookie: format!("grapevine_session_{port}"),
        say,
        folders: Mutex::new(folders::Folders {
            folders: opts.watch.folders.clone(),
            media: opts.watch.media.clone(),
            ..Default::default()
        }),
        lan: Mutex::new(lan::Lan {
            options: opts.serve.clone(),
            ..Default::default()
        }),
        live: tokio::sync::broadcast::channel(256).0,
        watch: opts.watch.clone(),
        stop: stop.clone(),
    });
    if app.node.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
        folders::start(&app, &opts.watch, stop.clone());
        lan::start(&app);
    }
    let link = app.url(&app.secret.lock().unwrap_or_else(|p| p.into_inner()));
    writeln!(out, "open {link}").map_err(|source| NodeError::Io {
        path: "standard output".into(),
        source,
    })?;
    let _ = out.flush();
    eprintln!(
        "the window is this link, for this computer only: open it in a browser here. Ctrl-C \
         ends it"
    );
    if opts.open {
        open_in_browser(&app.home, &link);
    }
    let router = api::router(app.clone());
    let server = runtime.spawn(async move {
        axum::serve(listener, router.into_make_service())
            .await
            .map_err(|e| e.to_string())
    });
    while !stop.load(Ordering::Relaxed) && !server.is_finished() {
        while let Ok(line) = said.try_recv() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed = server
        .is_finished()
        .then(|| runtime.block_on(server))
        .and_then(|joined| joined.ok())
        .and_then(|served| served.err());
    // Open event streams never end by themselves: stop everything now.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match failed {
        Some(e) => Err(NodeError::Usage(format!(
            "the window's server stopped: {e}"
        ))),
        None => Ok(()),
    }
}
