//! Long-running services on a home (`watch`, `serve`, a window running either): one of each
//! kind per home, held by an advisory lock, and a note in the store's settings saying which
//! process runs it and what it does, for `status` and the window.

use std::path::Path;

use serde_json::Value;

use super::{Node, NodeError, Result};

/// Takes the advisory lock on `file` in `home`, which the system lets go when the process
/// ends however it ends, so a crashed service never leaves it behind. `None`: another
/// process holds it.
pub fn lock(home: &Path, file: &str) -> Result<Option<std::fs::File>> {
    let path = home.join(file);
    let handle = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| NodeError::Io {
            path: path.clone(),
            source,
        })?;
    match handle.try_lock() {
        Ok(()) => Ok(Some(handle)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(source)) => Err(NodeError::Io { path, source }),
    }
}

impl Node {
    /// Leaves the note `key` for this process: `fields`, with its pid and since when.
    pub(crate) fn note_running(&mut self, key: &str, mut fields: Value) -> Result<()> {
        fields["pid"] = std::process::id().into();
        fields["since"] = self.now().into();
        Ok(self.store.set_config(key, &fields.to_string())?)
    }

    /// The note `key`, if the process that left it still runs.
    pub(crate) fn running(&self, key: &str) -> Option<Value> {
        let note: Value = serde_json::from_str(&self.store.config(key).ok()??).ok()?;
        let pid = note.get("pid")?.as_u64()?;
        Path::new(&format!("/proc/{pid}")).exists().then_some(note)
    }
}
