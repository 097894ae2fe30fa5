//! A node's folder on disk: the key file and the store file (and, beside them, the files a
//! window writes while it takes an upload). A node in memory has none.

use std::path::{Path, PathBuf};

use super::{KEY_FILE, STORE_FILE};

/// Where a node on disk lives.
#[derive(Clone, Debug)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    pub fn at(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The node's key ([`KEY_FILE`]), plain or locked by a passphrase.
    pub fn key_file(&self) -> PathBuf {
        self.dir.join(KEY_FILE)
    }

    /// The node's store ([`STORE_FILE`]).
    pub fn store_file(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }
}
