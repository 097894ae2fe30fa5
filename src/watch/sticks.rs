//! Sticks: mount roots where removable media appear, and the sync each mounted stick gets.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::events::{Event, Place};

use super::{STICK_FOLDER, Watcher};

/// Whether `path` is one of the usual places where removable media are mounted.
pub fn is_media_root(path: &Path) -> bool {
    let user = std::env::var("USER").unwrap_or_default();
    let mut roots = vec![PathBuf::from("/media"), PathBuf::from("/run/media")];
    if !user.is_empty() {
        roots.push(Path::new("/media").join(&user));
        roots.push(Path::new("/run/media").join(&user));
    }
    roots.iter().any(|r| r == path)
}

impl Watcher<'_> {
    /// Notices sticks mounted under `root` (a different device than the root) and syncs each
    /// once, in its `grapevine/` folder; forgets sticks that went away.
    pub(super) fn check_mounts(&mut self, root: &Path) {
        let Ok(root_dev) = std::fs::metadata(root).map(|m| m.dev()) else {
            return;
        };
        let mut present = HashSet::new();
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_mount =
                    std::fs::metadata(&path).is_ok_and(|m| m.is_dir() && m.dev() != root_dev);
                if is_mount {
                    present.insert(path);
                }
            }
        }
        let gone: Vec<PathBuf> = self
            .mounts
            .iter()
            .filter(|m| m.starts_with(root) && !present.contains(*m))
            .cloned()
            .collect();
        for mount in gone {
            self.mounts.remove(&mount);
            self.unwritable.remove(&mount.join(STICK_FOLDER));
            (self.tell)(Event::Unplugged { mount });
        }
        for mount in present {
            if self.mounts.insert(mount.clone()) {
                self.sync_stick(&mount);
            }
        }
    }

    fn sync_stick(&mut self, mount: &Path) {
        let folder = mount.join(STICK_FOLDER);
        (self.tell)(Event::Mounted {
            mount: mount.to_owned(),
            folder: folder.clone(),
        });
        if let Err(e) = std::fs::create_dir_all(&folder) {
            (self.tell)(Event::error(
                Place::Folder(folder.clone()),
                &e,
                format!("cannot use {}: {e}", folder.display()),
            ));
            return;
        }
        for file in crate::node::bundles_in(&folder) {
            if !self.node.is_own_bundle(&file) {
                // Nobody is writing to a stick we just saw mounted: take what is there now.
                self.files.remove(&file);
                self.consider(&file, Duration::ZERO);
            }
        }
        self.refresh(&folder);
        self.safe_to_unplug(mount);
    }

    pub(super) fn safe_to_unplug(&mut self, mount: &Path) {
        (self.tell)(Event::SafeToUnplug {
            mount: mount.to_owned(),
        });
    }
}
