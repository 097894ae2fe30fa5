//! Sticks and shared folders in the window: `grapevine ui DIR… --media ROOT` keeps them in
//! sync exactly as `watch` does (it runs the same watcher, on its own connection), and the
//! page hears every event the watcher tells — merged, wrote, mounted, safe to unplug — live.
//! Where a watcher already runs on the home (one home, one watcher), the window leaves the
//! work to it and says so.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::{Value, json};

use super::App;
use crate::node::Node;
use crate::watch::WatchOptions;

/// How many of the watcher's latest events the window keeps for a page that opens later.
const KEPT_EVENTS: usize = 200;

/// What the window knows of the folders it keeps in sync.
#[derive(Default)]
pub struct Folders {
    /// The folders and mount roots asked for.
    pub folders: Vec<PathBuf>,
    pub media: Vec<PathBuf>,
    /// The watcher's latest events (its `watch --json` lines), oldest first.
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

/// The watcher's output: whole JSON lines, each kept and sent to open pages.
struct EventSink {
    app: Arc<App>,
    pending: Vec<u8>,
}

impl Write for EventSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(data);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            if let Ok(event) = serde_json::from_slice::<Value>(&line) {
                self.app.heard(event);
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl App {
    /// Keeps a watcher event and tells open pages of it.
    fn heard(&self, event: Value) {
        {
            let mut folders = self.folders.lock().unwrap_or_else(|p| p.into_inner());
            if folders.events.len() == KEPT_EVENTS {
                folders.events.pop_front();
            }
            folders.events.push_back(event.clone());
        }
        let _ = self.live.send(event.to_string());
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
    let options = WatchOptions {
        folders: options.folders.clone(),
        media: options.media.clone(),
        json: true,
        ..*options
    };
    let sink_app = app.clone();
    let report = app.clone();
    std::thread::spawn(move || {
        let mut sink = EventSink {
            app: sink_app,
            pending: Vec::new(),
        };
        if let Err(e) = crate::watch::run(&mut node, options, &mut sink, &stop) {
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
