//! The LAN in the window: `grapevine ui` runs the LAN service as `serve` does (`--no-serve`
//! leaves it off), and the page hears its sessions live. Where a `serve` already runs on the
//! home (one home, one LAN service), the window leaves the work to it and says so.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};

use super::App;
use crate::lan::ServeOptions;

/// What the window knows of its LAN service.
#[derive(Default)]
pub struct Lan {
    /// How the service runs, when the window runs one.
    pub options: Option<ServeOptions>,
    /// Where it listens, once it does.
    pub listening: Option<SocketAddr>,
    /// Why the window does not run it, if it does not.
    pub elsewhere: Option<String>,
    /// Its latest events (as `serve --json` prints them), oldest first.
    pub events: VecDeque<Value>,
}

impl Lan {
    pub fn json(&self, pubs: &[String]) -> Value {
        json!({
            "serving": self.options.is_some() && self.elsewhere.is_none(),
            "listening": self.listening,
            "discovery": self.options.as_ref().map(|o| o.discovery),
            "elsewhere": self.elsewhere,
            "pubs": pubs,
            "events": self.events,
        })
    }
}

/// Starts the LAN service on a thread of its own, if the window runs one and the home has a
/// diary. It runs until the window ends.
pub fn start(app: &Arc<App>) {
    let Some(mut options) = app
        .lan
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .options
        .clone()
    else {
        return;
    };
    let node = match crate::node::Node::open(&app.home) {
        Ok(node) => node,
        Err(e) => return app.lan_stopped(format!("the LAN service does not run: {e}")),
    };
    // The network and pub mode are the home's settings, as for `serve`.
    match (node.network(), node.is_pub()) {
        (Ok(network), Ok(is_pub)) => {
            options.network = network;
            options.pub_mode |= is_pub;
        }
        (Err(e), _) | (_, Err(e)) => {
            return app.lan_stopped(format!("the LAN service does not run: {e}"));
        }
    }
    drop(node);
    let app = app.clone();
    std::thread::spawn(move || {
        let told = app.clone();
        let tell: crate::events::Tell = Arc::new(move |event| told.heard(&event));
        if let Err(e) = crate::lan::serve(&app.home, &options, tell) {
            app.lan_stopped(e.to_string());
        }
    });
}

impl App {
    fn lan_stopped(&self, why: String) {
        let _ = self
            .say
            .send(format!("the window does not serve the LAN: {why}"));
        self.lan.lock().unwrap_or_else(|p| p.into_inner()).elsewhere = Some(why);
    }
}
