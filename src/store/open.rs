//! Opening a store: a file in WAL mode, or a database in memory that this process's
//! connections share; and another connection to the same store.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::{Result, Store, pack, schema};

/// Where a store's database lives: a file, or memory shared by this process's connections.
#[derive(Clone, Debug)]
pub(crate) enum Location {
    File(std::path::PathBuf),
    /// A shared-cache in-memory database's URI; it lives while a connection to it is open.
    Memory(String),
}

impl Location {
    /// A connection to it, read-only if asked.
    pub(super) fn connect(&self, read_only: bool) -> rusqlite::Result<Connection> {
        use rusqlite::OpenFlags as F;
        let access = if read_only {
            F::SQLITE_OPEN_READ_ONLY
        } else {
            F::SQLITE_OPEN_READ_WRITE | F::SQLITE_OPEN_CREATE
        };
        match self {
            Self::File(path) => Connection::open_with_flags(path, access | F::SQLITE_OPEN_NO_MUTEX),
            Self::Memory(uri) => {
                let conn = Connection::open_with_flags(
                    uri,
                    F::SQLITE_OPEN_READ_WRITE
                        | F::SQLITE_OPEN_CREATE
                        | F::SQLITE_OPEN_URI
                        | F::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Connections to one shared cache lock tables, not files: a reader would
                // otherwise fail while another connection writes (not wait, as on a file).
                conn.pragma_update(None, "read_uncommitted", true)?;
                // Nothing of a store in memory goes to disk, not even a sort's spill.
                conn.pragma_update(None, "temp_store", "MEMORY")?;
                // Freed space is zeroed, so that what a store holds is all its image says.
                conn.pragma_update(None, "secure_delete", true)?;
                Ok(conn)
            }
        }
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_at(Location::File(path.to_owned()))
    }

    /// A store that lives in memory only, until it and every connection to it are dropped:
    /// for simulations and tests, where nothing may touch a disk.
    pub fn in_memory() -> Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        Self::open_at(Location::Memory(format!(
            "file:grapevine-{pid}-{n}?mode=memory&cache=shared"
        )))
    }

    /// The whole database as bytes, as SQLite lays it out: two stores that did the same
    /// things in the same order give the same image (a simulation checks that it repeats).
    pub fn image(&mut self) -> Result<Vec<u8>> {
        Ok(self.conn.serialize(rusqlite::MAIN_DB)?.to_vec())
    }

    /// Another connection to the same store (for a thread of its own).
    pub fn reopen(&self) -> Result<Self> {
        Self::open_at(self.location.clone())
    }

    fn open_at(location: Location) -> Result<Self> {
        let conn = location.connect(false)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))?;
        // FULL: a post that was exported must never be lost, or the next post would fork our feed.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 16 MiB of page cache (2 by default): an import batch's pages (~6 MB for 8,192
        // messages) stay in memory until commit instead of spilling to the WAL and being read
        // back; -21% of the importing thread's CPU time.
        conn.pragma_update(None, "cache_size", -16384)?;
        pack::register(&conn, &location)?;
        let mut store = Self {
            conn,
            packer: None,
            location,
        };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }
}
