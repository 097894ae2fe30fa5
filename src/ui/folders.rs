//! Sticks and shared folders in the window: `grapevine ui DIR… --media ROOT` keeps them in
//! sync exactly as `watch` does (it runs the same watcher, on its own connection), and the
//! page hears every event the watcher tells — merged, wrote, mounted, safe to unplug — live.
//! Where a watcher already runs on the home (one home, one watcher), the window leaves the
//! work to it and says so.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};

use super::App;
use crate::events::Event;
use crate::node::Node;
use crate::watch::WatchOptions;

/// How many of the watcher's latest events the window keeps for a page that opens later.
const KEPT_EVENTS: usize = 200;

/// What the window knows of the folders it keeps in sync, or of its LAN service.
#[derive(Default)]
pub struct Folders {
    /// The folders and mount roots asked for.
    pub folders: Vec<PathBuf>,
    pub media: Vec<PathBuf>,
    /// The latest events (as `watch --json` and `serve --json` print them), oldest first.
    pub events: VecDeque<Value>,
    /// Why this window is not the one keeping them in sync, if it is not.
    pub elsewhere: Option<String>,
}

impl Folders {
    pub fn json(&self) -> Value {
        json!({
            "folders": self.folders,
            "media": self.media,
            "events": self.events,
            "elsewhere": self.elsewhere,
        })
    }

    /// Whether `folder` is one the window may sync on a page's word: a watched folder, or
    /// the `grapevine` folder of a stick under a watched mount root. A page never names any
    /// other path for the window to write into.
    pub fn allows(&self, folder: &Path) -> bool {
        self.folders.iter().any(|f| f == folder)
            || folder
                .file_name()
                .is_some_and(|n| n == crate::watch::STICK_FOLDER)
                && folder
                    .parent()
                    .and_then(Path::parent)
                    .is_some_and(|root| self.media.iter().any(|m| m == root))
    }
}

impl App {
    /// Keeps an event of the watcher or the LAN service and tells open pages of it.
    pub(super) fn heard(&self, event: &Event) {
        let value = event.json(crate::now_ms());
        let keep = |events: &mut VecDeque<Value>| {
            if events.len() == KEPT_EVENTS {
                events.pop_front();
            }
            events.push_back(value.clone());
        };
        match event.is_lan() {
            true => {
                let mut lan = self.lan.lock().unwrap_or_else(|p| p.into_inner());
                if let Event::Listening { address, .. } = event {
                    lan.listening = Some(*address);
                }
                keep(&mut lan.events);
            }
            false => keep(
                &mut self
                    .folders
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .events,
            ),
        }
        let _ = self.live.send(value.to_string());
    }
}

/// Starts the watcher for the folders asked for, on a thread of its own with its own node,
/// until `stop` is set. Nothing to watch, or no diary yet: nothing starts.
pub fn start(app: &Arc<App>, options: &WatchOptions, stop: Arc<AtomicBool>) {
    if options.folders.is_empty() && options.media.is_empty() {
        return;
    }
    let mut node = match Node::open(&app.home) {
        Ok(node) => node,
        Err(e) => {
            app.folders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elsewhere = Some(format!("the folders are not kept in sync: {e}"));
            return;
        }
    };
    let options = options.clone();
    let report = app.clone();
    let app = app.clone();
    std::thread::spawn(move || {
        let mut tell = |event: Event| app.heard(&event);
        if let Err(e) = crate::watch::run(&mut node, options, &mut tell, &stop) {
            let said = e.to_string();
            report
                .folders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elsewhere = Some(said.clone());
            let _ = report
                .say
                .send(format!("the window does not keep folders in sync: {said}"));
        }
    });
}
