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
    // 8: a lean store (#13). Feeds get integer keys; a linked message keeps its feed's key and
    // 74 envelope bytes (lean.rs), and its content, packed with a dictionary once one is
    // trained (pack.rs); posts, mentions and tags point at messages by key, and the search index
    // uses the same keys (rebuilt by `backfill`).
    "INSERT OR IGNORE INTO feeds (author, seq) SELECT DISTINCT author, 0 FROM messages;
    CREATE TABLE feeds_v8 (
        key INTEGER PRIMARY KEY,
        author BLOB NOT NULL UNIQUE,
        seq INTEGER NOT NULL,
        head BLOB,
        name TEXT,
        name_seq INTEGER,
        forked INTEGER NOT NULL DEFAULT 0,
        description TEXT,
        description_seq INTEGER
    );
    INSERT INTO feeds_v8 (author, seq, head, name, name_seq, forked, description, description_seq)
        SELECT author, seq, head, name, name_seq, forked, description, description_seq
        FROM feeds ORDER BY author;
    CREATE TABLE messages_v8 (
        key INTEGER PRIMARY KEY,
        feed INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        id BLOB NOT NULL,
        envelope BLOB NOT NULL,
        content BLOB NOT NULL,
        dict INTEGER
    );
    CREATE TABLE dictionaries (
        key INTEGER PRIMARY KEY,
        bytes BLOB NOT NULL
    );
    INSERT INTO messages_v8 (feed, seq, id, envelope, content)
        SELECT f.key, m.seq, m.id,
            CAST(substr(m.envelope, 1, 2) || substr(m.envelope, 75, 8)
                || substr(m.envelope, 119, 64) AS BLOB),
            m.content
        FROM messages m JOIN feeds_v8 f ON f.author = m.author ORDER BY m.author, m.seq;
    DROP TABLE messages;
    ALTER TABLE messages_v8 RENAME TO messages;
    CREATE UNIQUE INDEX messages_by_seq ON messages (feed, seq);
    CREATE UNIQUE INDEX messages_by_id ON messages (id);
    DROP TABLE feeds;
    ALTER TABLE feeds_v8 RENAME TO feeds;
    CREATE TABLE posts_v8 (
        message INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        reply BLOB,
        private INTEGER NOT NULL,
        unread INTEGER NOT NULL
    );
    INSERT INTO posts_v8 SELECT m.key, p.at, p.reply, p.private, p.unread
        FROM posts p JOIN messages m ON m.id = p.id;
    CREATE TABLE mentions_v8 (
        feed BLOB NOT NULL,
        message INTEGER NOT NULL,
        PRIMARY KEY (feed, message)
    ) WITHOUT ROWID;
    INSERT INTO mentions_v8 SELECT x.feed, m.key FROM mentions x JOIN messages m ON m.id = x.id;
    CREATE TABLE tags_v8 (
        tag TEXT NOT NULL,
        message INTEGER NOT NULL,
        PRIMARY KEY (tag, message)
    ) WITHOUT ROWID;
    INSERT INTO tags_v8 SELECT t.tag, m.key FROM tags t JOIN messages m ON m.id = t.id;
    DROP TABLE posts;
    DROP TABLE mentions;
    DROP TABLE tags;
    DROP TABLE post_text;
    ALTER TABLE posts_v8 RENAME TO posts;
    ALTER TABLE mentions_v8 RENAME TO mentions;
    ALTER TABLE tags_v8 RENAME TO tags;
    CREATE INDEX posts_by_time ON posts (at);
    CREATE INDEX posts_by_reply ON posts (reply) WHERE reply IS NOT NULL;
    CREATE INDEX posts_unread ON posts (at) WHERE unread;
    CREATE VIRTUAL TABLE post_text USING fts5 (
        text, content = '', contentless_delete = 1, detail = none
    );",
    // 9: the bundles this node wrote, by id: a file in a shared folder is ours because we
    // wrote it, never because its name says so (#27).
    // A feed that leaves the replication set is hidden, not dropped, until `forget-after-days`
    // (its reading rows go; its messages, frontier and opened boxes stay), so undoing an
    // unfollow or a block is instant. Private messages for us from feeds we do not replicate
    // are kept apart as message requests.
    "CREATE TABLE own_bundles (
        bundle_id TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE feeds ADD COLUMN hidden_at INTEGER;
    CREATE TABLE requests (
        id BLOB PRIMARY KEY,
        author BLOB NOT NULL,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        plaintext TEXT NOT NULL,
        dismissed INTEGER NOT NULL
    );
    CREATE INDEX requests_by_author ON requests (author);",
    // 10: `device` messages naming this device from feeds we do not replicate yet: a new
    // device sees the offer to link it before it can take in the feed that makes it (#27).
    "CREATE TABLE device_offers (
        author BLOB PRIMARY KEY,
        seq INTEGER NOT NULL,
        linked INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 11: private and public posts each in time order, so that listing the private ones (the
    // window's conversations, `inbox`) does not scan every public post.
    "CREATE INDEX posts_by_privacy ON posts (private, at);",
];

/// What a Rust step fills from the messages held, once all SQL steps have run (so it reads and
/// writes the newest layout, whichever version the store started at).
enum Backfill {
    /// Posts, votes, mentions, tags, descriptions and the search index (schema 6).
    Reading,
    /// The search index alone, whose rows took new keys (schema 8).
    Search,
    /// Linked devices (schema 7).
    Devices,
}

fn backfills(from: usize) -> Vec<Backfill> {
    let mut out = Vec::new();
    if from < 6 {
        out.push(Backfill::Reading);
    } else if from < 8 {
        out.push(Backfill::Search);
    }
    if from < 7 {
        out.push(Backfill::Devices);
    }
    out
}

pub fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for sql in MIGRATIONS.iter().skip(found as usize) {
        tx.execute_batch(sql)?;
    }
    // A new store has nothing to fill.
    if found > 0 {
        for step in backfills(found as usize) {
            match step {
                Backfill::Reading => super::derive::backfill(&tx)?,
                Backfill::Search => super::posts::backfill_search(&tx)?,
                Backfill::Devices => super::peers::backfill_devices(&tx)?,
            }
        }
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::content;
    use crate::identity::Identity;
    use crate::message::{ContentKind, Message};
    use crate::store::Store;

    /// A store of schema 6 (messages whole, keyed by author) that holds `device` messages
    /// gets its device index from them when this version opens it.
    #[test]
    fn a_schema_6_store_gets_its_device_index() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.sqlite");
        let (a, b) = (Identity::from_seed(&[1; 32]), Identity::from_seed(&[2; 32]));
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
        let conn = rusqlite::Connection::open(&path).expect("db");
        for sql in &super::MIGRATIONS[..6] {
            conn.execute_batch(sql).expect("old schema");
        }
        conn.execute(
            "INSERT INTO feeds (author, seq, head) VALUES (?1, 2, ?2)",
            rusqlite::params![a.feed_id().as_bytes(), second.id.as_bytes()],
        )
        .expect("feed");
        for m in [&first, &second] {
            conn.execute(
                "INSERT INTO messages (author, seq, id, timestamp, kind, envelope, content) \
                 VALUES (?1, ?2, ?3, 0, 1, ?4, ?5)",
                rusqlite::params![
                    a.feed_id().as_bytes(),
                    m.header.sequence as i64,
                    m.id.as_bytes(),
                    &m.envelope[..],
                    &m.content
                ],
            )
            .expect("message");
        }
        conn.pragma_update(None, "user_version", 6)
            .expect("version");
        drop(conn);
        let store = Store::open(&path).expect("migrated");
        let indexed = store.device_claims().expect("claims");
        assert_eq!(indexed.len(), 1);
        assert!(indexed[0].ever_linked && !indexed[0].linked && indexed[0].through == 9);
        assert_eq!(
            store.latest(&a.feed_id(), 5).expect("latest"),
            [second, first]
        );
        assert!(store.check(true).expect("check").is_consistent());
    }
}
