//! Versioned schema migrations, tracked in SQLite's `user_version`.

use rusqlite::Connection;

use super::{Result, StoreError};

/// Each step upgrades the schema by one version; never edit a released step, add one.
const MIGRATIONS: &[&str] = &[
    // 1: feeds, linked and pending messages, fork evidence, contacts, imported bundles.
    "CREATE TABLE feeds (
        author BLOB PRIMARY KEY,
        seq INTEGER NOT NULL,
        head BLOB,
        name TEXT,
        name_seq INTEGER,
        forked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        id BLOB NOT NULL,
        timestamp INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        envelope BLOB NOT NULL,
        content BLOB NOT NULL,
        PRIMARY KEY (author, seq)
    );
    CREATE UNIQUE INDEX messages_by_id ON messages (id);
    CREATE TABLE pending (
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        id BLOB NOT NULL,
        envelope BLOB NOT NULL,
        content BLOB NOT NULL,
        PRIMARY KEY (author, seq)
    );
    CREATE TABLE forks (
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        held BLOB,
        other BLOB NOT NULL,
        other_envelope BLOB NOT NULL,
        other_content BLOB NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (author, seq, other)
    );
    CREATE TABLE contacts (
        author BLOB NOT NULL,
        contact BLOB NOT NULL,
        following INTEGER NOT NULL,
        blocking INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (author, contact)
    );
    CREATE TABLE bundles (
        bundle_id TEXT PRIMARY KEY,
        exporter BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        imported_at INTEGER NOT NULL,
        file TEXT NOT NULL,
        verified INTEGER NOT NULL,
        new INTEGER NOT NULL
    );",
    // 2: private messages this node could open, with their plaintext.
    "CREATE TABLE inbox (
        id BLOB PRIMARY KEY,
        timestamp INTEGER NOT NULL,
        content TEXT NOT NULL
    );
    CREATE INDEX inbox_by_time ON inbox (timestamp);",
    // 3: settings, and what we know of each peer: when we last heard from it, and its frontier.
    "CREATE TABLE config (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE peers (
        peer BLOB PRIMARY KEY,
        last_heard INTEGER,
        heard_created_at INTEGER,
        via TEXT,
        last_export INTEGER
    );
    CREATE TABLE peer_frontiers (
        peer BLOB NOT NULL,
        feed BLOB NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (peer, feed)
    );",
    // 4: which feeds each bundle file we read carried, and whether we took them in then; when
    // a feed becomes wanted later, the files that still hold it are read again.
    "CREATE TABLE sources (
        path TEXT NOT NULL,
        feed BLOB NOT NULL,
        taken INTEGER NOT NULL,
        PRIMARY KEY (path, feed)
    );
    CREATE INDEX sources_untaken ON sources (feed) WHERE NOT taken;",
    // 5: the feeds each peer says it wants (its manifest's `wants`, 32-byte ids end to end)
    // and its `hops`, and the newest file of it we told the user had gone stale in a folder.
    "ALTER TABLE peers ADD COLUMN wants BLOB;
    ALTER TABLE peers ADD COLUMN hops INTEGER;
    ALTER TABLE peers ADD COLUMN stale_noted INTEGER;",
    // 6: what reading needs: posts (public, and private ones we opened) with the time we show
    // them at and whether they were read, their replies, likes, mentions and tags, a full-text
    // index, the petnames this node gives feeds, and the names of feeds we do not hold (from
    // verified `about` messages we carried past, or held before). Filled by `backfill`.
    "CREATE TABLE posts (
        id BLOB NOT NULL UNIQUE,
        at INTEGER NOT NULL,
        reply BLOB,
        private INTEGER NOT NULL,
        unread INTEGER NOT NULL
    );
    CREATE INDEX posts_by_time ON posts (at);
    CREATE INDEX posts_by_reply ON posts (reply) WHERE reply IS NOT NULL;
    CREATE INDEX posts_unread ON posts (at) WHERE unread;
    CREATE TABLE votes (
        link BLOB NOT NULL,
        author BLOB NOT NULL,
        liked INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (link, author)
    ) WITHOUT ROWID;
    CREATE TABLE mentions (
        feed BLOB NOT NULL,
        id BLOB NOT NULL,
        PRIMARY KEY (feed, id)
    ) WITHOUT ROWID;
    CREATE TABLE tags (
        tag TEXT NOT NULL,
        id BLOB NOT NULL,
        PRIMARY KEY (tag, id)
    ) WITHOUT ROWID;
    CREATE TABLE petnames (
        feed BLOB PRIMARY KEY,
        name TEXT NOT NULL
    );
    ALTER TABLE feeds ADD COLUMN description TEXT;
    ALTER TABLE feeds ADD COLUMN description_seq INTEGER;
    CREATE TABLE heard_names (
        feed BLOB PRIMARY KEY,
        name TEXT NOT NULL,
        seq INTEGER NOT NULL
    );
    CREATE VIRTUAL TABLE post_text USING fts5 (
        text, content = '', contentless_delete = 1, detail = none
    );",
    // 7: linked devices: per (author, device) the latest `device` message, and whether the
    // author ever linked that device (messages.md "Linked devices"). Filled by `backfill`.
    "CREATE TABLE devices (
        author BLOB NOT NULL,
        device BLOB NOT NULL,
        linked INTEGER NOT NULL,
        through INTEGER NOT NULL,
        ever_linked INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (author, device)
    ) WITHOUT ROWID;",
];

/// Rust steps that fill what a migration added from what the store already holds, run in the
/// migration's transaction right after its SQL.
fn backfill(tx: &rusqlite::Transaction<'_>, version: usize) -> Result<()> {
    match version {
        6 => super::posts::backfill(tx)?,
        7 => super::peers::backfill_devices(tx)?,
        _ => {}
    }
    Ok(())
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        backfill(&tx, version + 1)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::content;
    use crate::identity::Identity;
    use crate::ingest::Ingester;
    use crate::message::{ContentKind, Message};
    use crate::private_box::Opener;
    use crate::store::Store;

    /// A store of schema 6 that holds `device` messages gets its device index from them when
    /// it is opened by this version.
    #[test]
    fn migration_7_indexes_the_device_messages_already_held() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.sqlite");
        let (a, b) = (Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32]));
        let mut store = Store::open(&path).expect("store");
        let opener = Opener::of(&a);
        let mut ingester = Ingester::new(&mut store, &opener);
        let link = content::device(b.feed_id(), true, 0).to_string();
        let unlink = content::device(b.feed_id(), false, 9).to_string();
        let first =
            Message::create(&a, 1, None, 0, ContentKind::Json, link.into_bytes()).expect("message");
        let second = Message::create(
            &a,
            2,
            Some(first.id),
            0,
            ContentKind::Json,
            unlink.into_bytes(),
        )
        .expect("message");
        ingester.push(first, "test").expect("push");
        ingester.push(second, "test").expect("push");
        ingester.finish().expect("finish");
        let indexed = store.device_claims().expect("claims");
        assert_eq!(indexed.len(), 1);
        assert!(indexed[0].ever_linked && !indexed[0].linked && indexed[0].through == 9);
        store
            .conn
            .execute_batch("DROP TABLE devices; PRAGMA user_version = 6;")
            .expect("back to schema 6");
        drop(store);
        let store = Store::open(&path).expect("migrated");
        assert_eq!(store.device_claims().expect("claims"), indexed);
    }
}
