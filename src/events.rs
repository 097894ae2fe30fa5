//! What the long-running commands do, told once: `watch` (folders and sticks), `serve` (the
//! LAN) and the window all speak [`Event`]s. The terminal prints an event's words
//! ([`Event::says`]), `--json` its object ([`Event::json`], docs/json.md), and the window sends
//! that object to open pages as it happens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::ids::FeedId;
use crate::people::Names;

/// Someone an event is about: their id, and the name shown for them (escaped for a terminal
/// in [`Who::called`], as chosen in [`Who::name`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Who {
    pub id: FeedId,
    pub name: Option<String>,
    called: String,
}

impl Who {
    /// `id` as `names` shows it.
    pub fn named(names: &Names, id: &FeedId) -> Self {
        let json = names.json(id);
        Self {
            id: *id,
            name: json["name"].as_str().map(str::to_owned),
            called: names.name(id),
        }
    }

    /// `id` as the store in `home` names it: for threads that hold no node of their own.
    pub fn in_home(home: &std::path::Path, id: &FeedId) -> Self {
        let names = crate::store::Store::open(&home.join(crate::node::STORE_FILE))
            .ok()
            .and_then(|store| Names::load(&store, *id).ok());
        match names {
            Some(names) => Self::named(&names, id),
            None => Self::unnamed(id),
        }
    }

    /// `id` with the names `store` knows for it.
    pub fn in_store(store: &crate::store::Store, id: &FeedId) -> Self {
        match Names::load(store, *id) {
            Ok(names) => Self::named(&names, id),
            Err(_) => Self::unnamed(id),
        }
    }

    /// `id` with no name known.
    pub fn unnamed(id: &FeedId) -> Self {
        Self {
            id: *id,
            name: None,
            called: id.short(),
        }
    }

    /// The name and the id's start, for lines where several peers mingle ("alice (@abcd…)").
    fn called_with_id(&self) -> String {
        match self.called == self.id.short() {
            true => self.called.clone(),
            false => format!("{} ({})", self.called, self.id.short()),
        }
    }

    fn json(&self) -> Value {
        json!({ "id": self.id, "name": self.name })
    }
}

/// Where a problem happened, when it happened at a place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    Nowhere,
    /// A bundle file.
    File(PathBuf),
    /// A drop folder.
    Folder(PathBuf),
    /// A folder or mount root being watched.
    Watched(PathBuf),
    /// A peer's address.
    Peer(String),
}

/// One thing a watcher or a LAN service did or met.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    // Folders and sticks (`watch`).
    /// The watcher runs.
    Ready {
        folders: Vec<PathBuf>,
        media: Vec<PathBuf>,
    },
    Stopped,
    /// A bundle was read into the store.
    Merged {
        file: PathBuf,
        exporter: Option<Who>,
        new: u64,
        already_held: u64,
        not_wanted: u64,
        rejected: u64,
        reread: u64,
    },
    /// Part of a file could not be used; the rest was.
    Problem {
        file: PathBuf,
        problem: String,
    },
    NotForUs {
        file: PathBuf,
    },
    /// Messages of a feed no longer replicated were let go.
    Dropped {
        feed: Who,
        messages: u64,
    },
    /// A file cut short that stopped changing: what verifies is salvaged.
    Incomplete {
        file: PathBuf,
        settled: Duration,
    },
    /// A participant of a folder that has not written there for long.
    Stale {
        folder: PathBuf,
        peer: Who,
        newest: i64,
        says: String,
    },
    /// Our own bundle was written.
    Wrote {
        file: PathBuf,
        messages: u64,
        feeds: usize,
        bytes: u64,
    },
    Mounted {
        mount: PathBuf,
        /// Its folder that is synced.
        folder: PathBuf,
    },
    /// A stick holds all it should: it may be pulled out.
    SafeToUnplug {
        mount: PathBuf,
    },
    Unplugged {
        mount: PathBuf,
    },
    // The LAN (`serve`).
    Listening {
        address: SocketAddr,
        /// This node.
        me: Who,
        pub_mode: bool,
        discovery: bool,
    },
    /// A session with a peer began.
    Session {
        peer: Who,
        address: String,
    },
    /// The first exchange is done; new messages now flow as they are written.
    InSync {
        peer: Who,
    },
    Pushed {
        peer: Who,
        messages: u64,
    },
    SessionEnded {
        peer: Option<Who>,
        address: String,
        new: u64,
        already_held: u64,
        not_wanted: u64,
        sent: u64,
        duration: Duration,
    },
    /// A second connection from a peer already in a session.
    Duplicate {
        peer: Who,
        address: String,
    },
    /// A session that failed.
    Disconnected {
        address: String,
        error: String,
    },
    /// Connections refused (too many, too fast); `more` since the last such event.
    Refused {
        from: SocketAddr,
        why: String,
        more: u64,
    },
    Discovered {
        peer: Who,
        address: SocketAddr,
    },
    /// A peer heard on the LAN whose feed we do not replicate.
    Ignoring {
        peer: Who,
        address: std::net::IpAddr,
    },
    /// The service was stopped (Ctrl-C, or a signal).
    StoppedServing,
    // Either.
    /// Something failed; `says` tells what, and what happens next.
    Error {
        place: Place,
        error: String,
        says: String,
    },
}

impl Event {
    /// An error at `place`, said as `says`.
    pub fn error(place: Place, error: impl ToString, says: impl Into<String>) -> Self {
        Self::Error {
            place,
            error: error.to_string(),
            says: says.into(),
        }
    }

    /// Its name in JSON (`"event"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ready { .. } => "ready",
            Self::Stopped | Self::StoppedServing => "stopped",
            Self::Merged { .. } => "merged",
            Self::Problem { .. } => "problem",
            Self::NotForUs { .. } => "not-for-us",
            Self::Dropped { .. } => "dropped",
            Self::Incomplete { .. } => "incomplete",
            Self::Stale { .. } => "stale",
            Self::Wrote { .. } => "wrote",
            Self::Mounted { .. } => "mounted",
            Self::SafeToUnplug { .. } => "unplug",
            Self::Unplugged { .. } => "unplugged",
            Self::Listening { .. } => "listening",
            Self::Session { .. } => "session",
            Self::InSync { .. } => "in-sync",
            Self::Pushed { .. } => "pushed",
            Self::SessionEnded { .. } => "session-ended",
            Self::Duplicate { .. } => "duplicate",
            Self::Disconnected { .. } => "disconnected",
            Self::Refused { .. } => "refused",
            Self::Discovered { .. } => "discovered",
            Self::Ignoring { .. } => "ignoring",
            Self::Error { .. } => "error",
        }
    }

    /// Whether it is the LAN's (the window shows those on its own page).
    pub fn is_lan(&self) -> bool {
        matches!(
            self,
            Self::Listening { .. }
                | Self::Session { .. }
                | Self::InSync { .. }
                | Self::Pushed { .. }
                | Self::SessionEnded { .. }
                | Self::Duplicate { .. }
                | Self::Disconnected { .. }
                | Self::Refused { .. }
                | Self::Discovered { .. }
                | Self::Ignoring { .. }
                | Self::StoppedServing
                | Self::Error {
                    place: Place::Peer(_),
                    ..
                }
        )
    }

    /// The line a terminal prints.
    pub fn says(&self) -> String {
        use crate::text::{count, counted};
        let file_name = |file: &PathBuf| {
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        match self {
            Self::Ready { folders, media } => format!(
                "watching {} and {}",
                counted(folders.len() as u64, "folder"),
                counted(media.len() as u64, "mount root")
            ),
            Self::Stopped => "stopped watching".into(),
            Self::StoppedServing => "stopped serving".into(),
            Self::Merged {
                file,
                exporter,
                new,
                already_held,
                not_wanted,
                rejected,
                reread,
            } => format!(
                "merged {} from {}{}: {}, {already_held} already held, {not_wanted} not wanted, \
                 {rejected} rejected",
                file_name(file),
                exporter
                    .as_ref()
                    .map_or("an unknown exporter".into(), |w| w.called.clone()),
                if *reread > 0 {
                    " (read again: its feeds are now wanted)"
                } else {
                    ""
                },
                count(*new, "new message", "new messages"),
            ),
            Self::Problem { file, problem } => format!("{}: {problem}", file.display()),
            Self::NotForUs { file } => {
                format!("{}: sealed for someone else; skipped", file.display())
            }
            Self::Dropped { feed, messages } => format!(
                "dropped {} of {} (no longer replicated)",
                counted(*messages, "message"),
                feed.id.short()
            ),
            Self::Incomplete { file, settled } => format!(
                "{}: incomplete and unchanged for {} s; salvaging what verifies, leaving the \
                 file in place",
                file.display(),
                settled.as_secs()
            ),
            Self::Stale { says, .. } | Self::Error { says, .. } => says.clone(),
            Self::Wrote {
                file,
                messages,
                feeds,
                ..
            } => format!(
                "wrote {} ({} of {})",
                file.display(),
                counted(*messages, "message"),
                counted(*feeds as u64, "feed")
            ),
            Self::Mounted { mount, folder } => {
                format!("{} mounted; syncing {}", mount.display(), folder.display())
            }
            Self::SafeToUnplug { mount } => format!("{}: done, safe to unplug", mount.display()),
            Self::Unplugged { mount } => format!("{} went away", mount.display()),
            Self::Listening {
                address,
                me,
                pub_mode,
                discovery,
            } => format!(
                "listening on {address} as {}{}{}",
                me.id,
                if *pub_mode { " (pub)" } else { "" },
                if *discovery { "" } else { "; discovery off" }
            ),
            Self::Session { peer, address } => {
                format!("session with {} at {address}", peer.called_with_id())
            }
            Self::InSync { peer } => format!(
                "in sync with {}; pushing new messages live",
                peer.called_with_id()
            ),
            Self::Pushed { peer, messages } => format!(
                "pushed {} to {}",
                count(*messages, "new message", "new messages"),
                peer.called_with_id()
            ),
            Self::SessionEnded {
                peer,
                address,
                new,
                already_held,
                not_wanted,
                sent,
                duration,
            } => format!(
                "session with {} at {address} ended: received {} ({already_held} already held, \
                 {not_wanted} not wanted), sent {sent} in {:.2} s",
                peer.as_ref().map_or("?".into(), Who::called_with_id),
                count(*new, "new message", "new messages"),
                duration.as_secs_f64()
            ),
            Self::Duplicate { peer, address } => format!(
                "closed a second connection from {} at {address}",
                peer.called_with_id()
            ),
            Self::Disconnected { address, error } => format!("dropped {address}: {error}"),
            Self::Refused { from, why, more } => format!(
                "refused {from}: {why}{}",
                if *more > 0 {
                    format!(" ({more} more refused since the last such line)")
                } else {
                    String::new()
                }
            ),
            Self::Discovered { peer, address } => {
                format!("discovered {} at {address}", peer.called_with_id())
            }
            Self::Ignoring { peer, address } => format!(
                "ignoring {} at {address}: not a feed we replicate",
                peer.called_with_id()
            ),
        }
    }

    /// Its JSON object (docs/json.md): `event`, `at` (`now`, in ms), `says`, and its fields.
    pub fn json(&self, now: i64) -> Value {
        let mut fields = match self {
            Self::Ready { folders, media } => json!({ "folders": folders, "media": media }),
            Self::Stopped | Self::StoppedServing => json!({}),
            Self::Merged {
                file,
                exporter,
                new,
                already_held,
                not_wanted,
                rejected,
                reread,
            } => json!({
                "file": file, "exporter": exporter.as_ref().map(Who::json), "new": new,
                "already_held": already_held, "not_wanted": not_wanted, "rejected": rejected,
                "reread": reread,
            }),
            Self::Problem { file, problem } => json!({ "file": file, "problem": problem }),
            Self::NotForUs { file } => json!({ "file": file }),
            Self::Dropped { feed, messages } => {
                json!({ "feed": feed.json(), "messages": messages })
            }
            Self::Incomplete { file, .. } => json!({ "file": file }),
            Self::Stale {
                folder,
                peer,
                newest,
                ..
            } => json!({ "folder": folder, "peer": peer.json(), "newest": newest }),
            Self::Wrote {
                file,
                messages,
                feeds,
                bytes,
            } => json!({ "file": file, "messages": messages, "feeds": feeds, "bytes": bytes }),
            Self::Mounted { mount, folder } => json!({ "mount": mount, "folder": folder }),
            Self::SafeToUnplug { mount } | Self::Unplugged { mount } => {
                json!({ "mount": mount })
            }
            Self::Listening {
                address,
                me,
                pub_mode,
                discovery,
            } => json!({
                "address": address, "me": me.json(), "pub": pub_mode, "discovery": discovery,
            }),
            Self::Session { peer, address } | Self::Duplicate { peer, address } => {
                json!({ "peer": peer.json(), "address": address })
            }
            Self::InSync { peer } => json!({ "peer": peer.json() }),
            Self::Pushed { peer, messages } => {
                json!({ "peer": peer.json(), "messages": messages })
            }
            Self::SessionEnded {
                peer,
                address,
                new,
                already_held,
                not_wanted,
                sent,
                duration,
            } => json!({
                "peer": peer.as_ref().map(Who::json), "address": address, "new": new,
                "already_held": already_held, "not_wanted": not_wanted, "sent": sent,
                "ms": duration.as_millis() as u64,
            }),
            Self::Disconnected { address, error } => {
                json!({ "address": address, "error": error })
            }
            Self::Refused { from, why, more } => {
                json!({ "address": from, "why": why, "more": more })
            }
            Self::Discovered { peer, address } => {
                json!({ "peer": peer.json(), "address": address })
            }
            Self::Ignoring { peer, address } => {
                json!({ "peer": peer.json(), "address": address })
            }
            Self::Error { place, error, .. } => {
                let mut fields = json!({ "error": error });
                match place {
                    Place::Nowhere => {}
                    Place::File(p) => fields["file"] = json!(p),
                    Place::Folder(p) => fields["folder"] = json!(p),
                    Place::Watched(p) => fields["path"] = json!(p),
                    Place::Peer(a) => fields["address"] = json!(a),
                }
                fields
            }
        };
        fields["event"] = json!(self.name());
        fields["at"] = json!(now);
        fields["says"] = json!(self.says());
        fields
    }
}

/// Where events go: a terminal, a JSON stream, the window.
pub type Tell = std::sync::Arc<dyn Fn(Event) + Send + Sync>;

/// A [`Tell`] that prints each event's words (or, with `json`, its object) as one line on
/// `out`. A closed output does not stop the work being told of.
pub fn print_to<W: std::io::Write + Send + 'static>(out: W, json: bool) -> Tell {
    let out = std::sync::Mutex::new(out);
    std::sync::Arc::new(move |event: Event| {
        let line = match json {
            true => event.json(crate::now_ms()).to_string(),
            false => event.says(),
        };
        let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event's JSON names it, stamps it and says it, and a peer's name in words is the
    /// escaped one.
    #[test]
    fn json_carries_name_time_and_words() {
        let peer = Who {
            id: FeedId([7; 32]),
            name: Some("a\u{1b}[31mb".into()),
            called: "a\\u{1b}[31mb".into(),
        };
        let event = Event::Session {
            peer: peer.clone(),
            address: "127.0.0.1:9".into(),
        };
        let value = event.json(5);
        assert_eq!(value["event"], "session");
        assert_eq!(value["at"], 5);
        assert_eq!(value["peer"]["name"], "a\u{1b}[31mb");
        assert!(!event.says().contains('\u{1b}'), "{}", event.says());
        let error = Event::error(Place::Folder("/f".into()), "full", "could not write");
        assert_eq!(error.json(0)["folder"], "/f");
        assert_eq!(error.says(), "could not write");
        assert!(!error.is_lan());
        assert!(Event::error(Place::Peer("x".into()), "e", "s").is_lan());
    }
}
