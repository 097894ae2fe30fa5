//! What reading needs, derived from held messages: posts (public, and private ones we opened)
//! with their read state, replies, likes, mentions, tags and a full-text index; and petnames.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, blob_id};
use crate::content::{Content, Post};
use crate::ids::{FeedId, MessageId};
use crate::message::{ContentKind, Message};

/// How many of the newest posts that hold every searched word are ranked by BM25: beyond it,
/// a common word would cost a score for every post that holds it (docs/benchmarks.md).
pub const SEARCH_WINDOW: i64 = 2_000;

/// A post as reading shows it.
#[derive(Clone, Debug)]
pub struct PostView {
    pub message: Message,
    pub post: Post,
    /// The claimed time, but never later than when we took the post in: a peer cannot pin its
    /// post to the top by dating it in the future.
    pub at: i64,
    pub private: bool,
    /// Recipients of a private post, as its plaintext names them.
    pub recipients: Vec<FeedId>,
    pub unread: bool,
    pub likes: u64,
    pub replies: u64,
    /// The author of the post it answers, when that post is held here.
    pub reply_author: Option<FeedId>,
}

/// A feed, its petname and its self-chosen name.
pub type NameRow = (FeedId, Option<String>, Option<String>);

/// Which posts a listing takes, newest first.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub private: bool,
    pub since: Option<i64>,
    pub unread_only: bool,
    pub author: Option<FeedId>,
    pub limit: Option<u64>,
}

/// A post's columns: the message (`super::LINKED`, rebuilt by `linked_message`) and then
/// what [`Store::post_views`] reads after it. `p.rowid` is the message's key.
fn select() -> String {
    format!(
        "SELECT {}, i.content, p.at, p.private, p.unread, \
         (SELECT count(*) FROM votes v WHERE v.link = m.id AND v.liked AND NOT p.private), \
         (SELECT count(*) FROM posts r WHERE r.reply = m.id AND r.private >= p.private), \
         (SELECT pf.author FROM messages parent JOIN feeds pf ON pf.key = parent.feed \
            LEFT JOIN posts pp ON pp.rowid = parent.key \
            WHERE parent.id = p.reply AND (p.private OR NOT coalesce(pp.private, 0))) \
         FROM posts p JOIN messages m ON m.key = p.rowid {} LEFT JOIN inbox i ON i.id = m.id",
        super::LINKED,
        super::LINKED_JOINS
    )
}

impl Store {
    /// Posts by `filter`, newest first.
    pub fn posts(&self, filter: &Filter) -> Result<Vec<PostView>> {
        let sql = format!(
            "{} WHERE p.private = ?1 AND p.at >= ?2 AND (p.unread OR NOT ?3) \
             AND (?4 IS NULL OR lf.author = ?4) ORDER BY p.at DESC, p.rowid DESC LIMIT ?5",
            select()
        );
        self.post_views(
            &sql,
            params![
                filter.private,
                filter.since.unwrap_or(i64::MIN),
                filter.unread_only,
                filter.author.map(|f| f.0.to_vec()),
                sql_limit(filter.limit),
            ],
        )
    }

    /// How many posts `filter` takes, its limit aside.
    pub fn count_posts(&self, filter: &Filter) -> Result<u64> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM posts p JOIN messages m ON m.key = p.rowid \
             JOIN feeds lf ON lf.key = m.feed \
             WHERE p.private = ?1 AND p.at >= ?2 AND (p.unread OR NOT ?3) \
             AND (?4 IS NULL OR lf.author = ?4)",
            )?
            .query_row(
                params![
                    filter.private,
                    filter.since.unwrap_or(i64::MIN),
                    filter.unread_only,
                    filter.author.map(|f| f.0.to_vec()),
                ],
                |r| r.get::<_, i64>(0),
            )? as u64)
    }

    /// One post, if we hold it (and can read it, when private).
    pub fn post(&self, id: &MessageId) -> Result<Option<PostView>> {
        let sql = format!("{} WHERE m.id = ?1", select());
        Ok(self.post_views(&sql, [id.as_bytes()])?.pop())
    }

    /// The conversation `id` belongs to: from the oldest ancestor we hold, every reply below
    /// it that we hold, each after its parent, siblings oldest first, with its depth. A public
    /// post never joins a private one's thread (messages.md "Private conversations stay
    /// private"): it stands alone there, and the private one shows none of it.
    pub fn thread(&self, id: &MessageId) -> Result<Vec<(usize, PostView)>> {
        let mut root = *id;
        let mut seen = vec![root];
        let mut private = self.post(&root)?.is_some_and(|p| p.private);
        while let Some(parent) = self.reply_of(&root)? {
            let Some(above) = self.post(&parent)? else {
                break;
            };
            if seen.contains(&parent) || (above.private && !private) {
                break;
            }
            private = above.private;
            seen.push(parent);
            root = parent;
        }
        let Some(top) = self.post(&root)? else {
            return Ok(Vec::new());
        };
        let mut out = vec![(0, top)];
        let mut stack = vec![(0usize, root)];
        let children_sql = format!(
            "{} WHERE p.reply = ?1 AND p.private >= ?2 ORDER BY p.at DESC, p.rowid DESC",
            select()
        );
        while let Some((depth, parent)) = stack.pop() {
            let parent_private = out
                .iter()
                .find(|(_, p)| p.message.id == parent)
                .is_some_and(|(_, p)| p.private);
            let children =
                self.post_views(&children_sql, params![parent.as_bytes(), parent_private])?;
            // Depth first: insert each parent's children right after it, oldest first.
            let at = out
                .iter()
                .position(|(_, p)| p.message.id == parent)
                .map_or(out.len(), |i| i + 1);
            for child in children.into_iter() {
                if out.len() > 10_000 || out.iter().any(|(_, p)| p.message.id == child.message.id) {
                    continue;
                }
                stack.push((depth + 1, child.message.id));
                out.insert(at, (depth + 1, child));
            }
        }
        Ok(out)
    }

    fn reply_of(&self, id: &MessageId) -> Result<Option<MessageId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT p.reply FROM posts p JOIN messages m ON m.key = p.rowid WHERE m.id = ?1",
        )?;
        Ok(stmt
            .query_row([id.as_bytes()], |r| {
                Ok(r.get_ref(0)?
                    .as_blob_or_null()?
                    .and_then(blob_id)
                    .map(MessageId))
            })
            .optional()?
            .flatten())
    }

    /// Posts that mention any of `feeds` (a person's devices), newest first.
    pub fn mentioning(&self, feeds: &[FeedId], limit: u64) -> Result<Vec<PostView>> {
        let marks = vec!["?"; feeds.len()].join(", ");
        let sql = format!(
            "{} WHERE p.rowid IN (SELECT message FROM mentions WHERE feed IN ({marks})) \
             ORDER BY p.at DESC, p.rowid DESC LIMIT {}",
            select(),
            sql_limit(Some(limit))
        );
        self.post_views(
            &sql,
            rusqlite::params_from_iter(feeds.iter().map(|f| f.as_bytes().to_vec())),
        )
    }

    /// Posts tagged `tag` (without `#`, any case), newest first.
    pub fn tagged(&self, tag: &str, limit: u64) -> Result<Vec<PostView>> {
        let sql = format!(
            "{} WHERE p.rowid IN (SELECT message FROM tags WHERE tag = ?1) \
             ORDER BY p.at DESC, p.rowid DESC LIMIT ?2",
            select()
        );
        let tag = tag.trim_start_matches('#').to_lowercase();
        self.post_views(&sql, params![tag, sql_limit(Some(limit))])
    }

    /// Tags in use, with how many posts carry each, most used first.
    pub fn tags(&self, limit: u64) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tag, count(*) AS n FROM tags GROUP BY tag ORDER BY n DESC, tag LIMIT ?1",
        )?;
        let rows = stmt.query_map([sql_limit(Some(limit))], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Posts whose text holds every word of `words`, best match first (SQLite FTS5, BM25)
    /// among the newest [`SEARCH_WINDOW`] that hold them all.
    pub fn search(&self, words: &str, limit: u64) -> Result<Vec<PostView>> {
        // Each word quoted, so that nothing a person types is taken as query syntax; split
        // where the tokenizer splits, so that each is one token (the index keeps no positions,
        // so it answers no phrases).
        let query: Vec<String> = words
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{w}\""))
            .collect();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        // Ranking scores every match it is given: a word in half of 100,000 posts took 120 ms.
        // The newest matches (rowids grow as posts arrive) are ranked, no more.
        let sql = format!(
            "WITH hits AS (SELECT rowid, rank FROM post_text WHERE post_text MATCH ?1 \
             ORDER BY rowid DESC LIMIT ?3) \
             {} JOIN hits h ON h.rowid = p.rowid ORDER BY h.rank, p.at DESC LIMIT ?2",
            select()
        );
        self.post_views(
            &sql,
            params![query.join(" "), sql_limit(Some(limit)), SEARCH_WINDOW],
        )
    }

    /// Who likes a message, if it is liked.
    pub fn likers(&self, id: &MessageId) -> Result<Vec<FeedId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT author FROM votes WHERE link = ?1 AND liked ORDER BY seq")?;
        let rows = stmt.query_map([id.as_bytes()], |r| {
            Ok(blob_id(r.get_ref(0)?.as_blob()?).map(FeedId))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?);
        }
        Ok(out)
    }

    /// How many posts are unread: (public, private).
    pub fn unread(&self) -> Result<(u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT count(*) FILTER (WHERE NOT private), count(*) FILTER (WHERE private) \
             FROM posts WHERE unread",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    /// Marks posts as read.
    pub fn mark_read(&mut self, ids: &[MessageId]) -> Result<()> {
        let tx = self.write()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE posts SET unread = 0 WHERE rowid = (SELECT key FROM messages WHERE id = ?1)",
            )?;
            for id in ids {
                stmt.execute([id.as_bytes()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A message we hold (linked), by id.
    pub fn message(&self, id: &MessageId) -> Result<Option<Message>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {} FROM messages m {} WHERE m.id = ?1",
            super::LINKED,
            super::LINKED_JOINS
        ))?;
        let mut rows = stmt.query([id.as_bytes()])?;
        match rows.next()? {
            Some(row) => super::linked_message(row, 0),
            None => Ok(None),
        }
    }

    /// Up to `limit` held message ids between `low` and `high` (byte order), for prefixes.
    pub fn message_ids_between(
        &self,
        low: &[u8; 32],
        high: &[u8; 32],
        limit: u64,
    ) -> Result<Vec<MessageId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM messages WHERE id BETWEEN ?1 AND ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![&low[..], &high[..], sql_limit(Some(limit))], |r| {
            Ok(blob_id(r.get_ref(0)?.as_blob()?).map(MessageId))
        })?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?);
        }
        Ok(out)
    }

    /// Every feed this node has heard of: held, named, followed or blocked by anyone, a peer,
    /// or carried in a bundle file we read.
    pub fn known_feeds(&self) -> Result<Vec<FeedId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT author FROM feeds UNION SELECT contact FROM contacts \
             UNION SELECT peer FROM peers UNION SELECT feed FROM petnames \
             UNION SELECT feed FROM sources",
        )?;
        let rows = stmt.query_map([], |r| Ok(blob_id(r.get_ref(0)?.as_blob()?).map(FeedId)))?;
        let mut out = Vec::new();
        for row in rows {
            out.extend(row?);
        }
        Ok(out)
    }

    /// Whether `feed` appears anywhere this node has looked: held, named, followed or blocked
    /// by anyone, a peer, given a petname, or carried in a bundle file we read. A feed id
    /// typed by hand that appears nowhere is probably mistyped.
    pub fn has_seen(&self, feed: &FeedId) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM feeds WHERE author = ?1)                  OR EXISTS (SELECT 1 FROM contacts WHERE contact = ?1)                  OR EXISTS (SELECT 1 FROM peers WHERE peer = ?1)                  OR EXISTS (SELECT 1 FROM petnames WHERE feed = ?1)                  OR EXISTS (SELECT 1 FROM sources WHERE feed = ?1)",
        )?;
        Ok(stmt.query_row([feed.as_bytes()], |r| r.get(0))?)
    }

    /// What `feed` says about itself, if it published a description.
    pub fn description_of(&self, feed: &FeedId) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT description FROM feeds WHERE author = ?1")?;
        Ok(stmt
            .query_row([feed.as_bytes()], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    /// The name this node gives `feed`, if the user set one.
    pub fn petname(&self, feed: &FeedId) -> Result<Option<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM petnames WHERE feed = ?1")?;
        Ok(stmt.query_row([feed.as_bytes()], |r| r.get(0)).optional()?)
    }

    /// Every petname and self-chosen name (of a held feed, or else as last heard).
    pub fn names(&self) -> Result<Vec<NameRow>> {
        let mut stmt = self.conn.prepare_cached(
            "WITH known AS (SELECT author AS feed FROM feeds WHERE name IS NOT NULL \
                 UNION SELECT feed FROM petnames UNION SELECT feed FROM heard_names) \
             SELECT k.feed, p.name, coalesce(f.name, h.name) FROM known k \
             LEFT JOIN petnames p ON p.feed = k.feed LEFT JOIN feeds f ON f.author = k.feed \
             LEFT JOIN heard_names h ON h.feed = k.feed",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                blob_id(r.get_ref(0)?.as_blob()?).map(FeedId),
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (feed, pet, own) = row?;
            if let Some(feed) = feed {
                out.push((feed, pet, own));
            }
        }
        Ok(out)
    }

    /// Gives `feed` a name of this node's own (`None` removes it). Petnames never travel.
    pub fn set_petname(&mut self, feed: &FeedId, name: Option<&str>) -> Result<()> {
        match name {
            Some(name) => self.conn.execute(
                "INSERT INTO petnames (feed, name) VALUES (?1, ?2) \
                 ON CONFLICT (feed) DO UPDATE SET name = ?2",
                params![feed.as_bytes(), name],
            )?,
            None => self
                .conn
                .execute("DELETE FROM petnames WHERE feed = ?1", [feed.as_bytes()])?,
        };
        Ok(())
    }

    fn post_views(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PostView>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let Some(message) = super::linked_message(row, 0)? else {
                continue;
            };
            let c = super::LINKED_COUNT;
            let private = row.get::<_, bool>(c + 2)?;
            let content = if private {
                row.get::<_, Option<String>>(c)?
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .map_or(Content::Unknown, |v| {
                        Content::parse(message.header.author, &v)
                    })
            } else {
                Content::of(&message)
            };
            let Content::Post { post, recipients } = content else {
                continue;
            };
            out.push(PostView {
                message,
                post,
                at: row.get(c + 1)?,
                private,
                recipients,
                unread: row.get(c + 3)?,
                likes: row.get::<_, i64>(c + 4)? as u64,
                replies: row.get::<_, i64>(c + 5)? as u64,
                reply_author: row
                    .get_ref(c + 6)?
                    .as_blob_or_null()?
                    .and_then(blob_id)
                    .map(FeedId),
            });
        }
        Ok(out)
    }
}

fn sql_limit(limit: Option<u64>) -> i64 {
    limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64)
}

/// Indexes what a newly linked message (stored under `key`) means for reading: a post (public,
/// or private with the `content` we opened) or a vote.
pub(crate) fn index(
    tx: &Transaction<'_>,
    key: i64,
    m: &Message,
    content: &Content,
    now: i64,
) -> Result<()> {
    let private = m.header.kind == ContentKind::PrivateBox;
    match content {
        Content::Post { post, .. } => index_post(tx, key, m, post, private, now)?,
        Content::Vote(link, liked) if !private => {
            tx.prepare_cached(
                "INSERT INTO votes (link, author, liked, seq) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (link, author) DO UPDATE SET liked = ?3, seq = ?4 WHERE seq < ?4",
            )?
            .execute(params![
                link.as_bytes(),
                m.header.author.as_bytes(),
                liked,
                m.header.sequence as i64
            ])?;
        }
        _ => {}
    }
    Ok(())
}

fn index_post(
    tx: &Transaction<'_>,
    key: i64,
    m: &Message,
    post: &Post,
    private: bool,
    now: i64,
) -> Result<()> {
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO posts (message, at, reply, private, unread) \
             VALUES (?1, ?2, ?3, ?4, 1)",
        )?
        .execute(params![
            key,
            m.header.timestamp.min(now),
            post.reply.map(|r| r.0.to_vec()),
            private
        ])?;
    if inserted == 0 {
        return Ok(());
    }
    tx.prepare_cached("INSERT INTO post_text (rowid, text) VALUES (?1, ?2)")?
        .execute(params![key, post.text])?;
    for feed in &post.mentions {
        tx.prepare_cached("INSERT OR IGNORE INTO mentions (feed, message) VALUES (?1, ?2)")?
            .execute(params![feed.as_bytes(), key])?;
    }
    for tag in &post.tags {
        tx.prepare_cached("INSERT OR IGNORE INTO tags (tag, message) VALUES (?1, ?2)")?
            .execute(params![tag, key])?;
    }
    Ok(())
}

/// Most names of feeds we do not hold that are remembered: a bundle of a hundred thousand
/// made-up feeds must not grow the store without bound.
pub const MAX_HEARD_NAMES: i64 = 10_000;

/// Remembers the name a feed we do not hold gave itself, from a verified `about` message
/// (a newer one replaces it; a new feed only while fewer than [`MAX_HEARD_NAMES`] are kept).
pub(crate) fn heard_name(tx: &Transaction<'_>, m: &Message, name: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO heard_names (feed, name, seq) \
         SELECT ?1, ?2, ?3 WHERE (SELECT count(*) FROM heard_names) < ?4 \
            OR EXISTS (SELECT 1 FROM heard_names WHERE feed = ?1) \
         ON CONFLICT (feed) DO UPDATE SET name = ?2, seq = ?3 WHERE seq < ?3",
    )?
    .execute(params![
        m.header.author.as_bytes(),
        name,
        m.header.sequence as i64,
        MAX_HEARD_NAMES
    ])?;
    Ok(())
}

/// Marks the post stored under `key` read (our own posts never show as unread).
pub(crate) fn mark_read(tx: &Transaction<'_>, key: i64) -> Result<()> {
    tx.prepare_cached("UPDATE posts SET unread = 0 WHERE rowid = ?1")?
        .execute([key])?;
    Ok(())
}

/// Removes what reading derived from `feed`'s messages.
pub(crate) fn forget_feed(tx: &Transaction<'_>, feed: &FeedId) -> Result<()> {
    let key = feed.as_bytes();
    let of_feed = "SELECT m.key FROM messages m JOIN feeds f ON f.key = m.feed WHERE f.author = ?1";
    for sql in [
        "DELETE FROM post_text WHERE rowid IN ({of_feed})",
        "DELETE FROM mentions WHERE message IN ({of_feed})",
        "DELETE FROM tags WHERE message IN ({of_feed})",
        "DELETE FROM posts WHERE rowid IN ({of_feed})",
    ] {
        tx.execute(&sql.replace("{of_feed}", of_feed), [key])?;
    }
    tx.execute("DELETE FROM votes WHERE author = ?1", [key])?;
    Ok(())
}

/// Each linked message with its key and the plaintext we opened, if private, in feed order.
pub(super) fn for_each_held(
    tx: &Transaction<'_>,
    each: impl FnMut(i64, &Message, Content) -> Result<()>,
) -> Result<()> {
    for_each_of(tx, None, each)
}

/// [`for_each_held`], of one feed only when `feed` is given.
pub(super) fn for_each_of(
    tx: &Transaction<'_>,
    feed: Option<&FeedId>,
    mut each: impl FnMut(i64, &Message, Content) -> Result<()>,
) -> Result<()> {
    let mut stmt = tx.prepare(&format!(
        "SELECT {}, m.key, i.content FROM messages m {} LEFT JOIN inbox i ON i.id = m.id \
         WHERE ?1 IS NULL OR lf.author = ?1 ORDER BY m.feed, m.seq",
        super::LINKED,
        super::LINKED_JOINS
    ))?;
    let mut rows = stmt.query([feed.map(|f| f.0.to_vec())])?;
    while let Some(row) = rows.next()? {
        let Some(message) = super::linked_message(row, 0)? else {
            continue;
        };
        let key = row.get(super::LINKED_COUNT)?;
        // A private message we opened says what its plaintext says.
        let content = match row.get::<_, Option<String>>(super::LINKED_COUNT + 1)? {
            Some(text) => serde_json::from_str(&text).map_or(Content::Unknown, |v| {
                Content::parse(message.header.author, &v)
            }),
            None => Content::of(&message),
        };
        each(key, &message, content)?;
    }
    Ok(())
}

/// Fills the (empty) search index from the posts held.
pub(super) fn backfill_search(tx: &Transaction<'_>) -> Result<()> {
    for_each_held(tx, |key, _, content| {
        let is_post = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM posts WHERE rowid = ?1)")?
            .query_row([key], |r| r.get::<_, bool>(0))?;
        if let (true, Some(post)) = (is_post, content.post()) {
            tx.prepare_cached("INSERT INTO post_text (rowid, text) VALUES (?1, ?2)")?
                .execute(params![key, post.text])?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::identity::Identity;

    #[test]
    fn heard_names_are_capped_but_kept_current() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.sqlite")).expect("store");
        let about = |who: &Identity, seq: u64, name: &str| {
            let content = crate::content::about(who.feed_id(), name)
                .expect("a name")
                .to_string();
            let previous = (seq > 1).then_some(MessageId([1; 32]));
            Message::create(
                who,
                seq,
                previous,
                0,
                ContentKind::Json,
                content.into_bytes(),
            )
            .expect("message")
        };
        let known = Identity::from_seed(&[1; 32]);
        let tx = store.write().expect("tx");
        heard_name(&tx, &about(&known, 1, "old"), "old").expect("heard");
        tx.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
             INSERT INTO heard_names SELECT randomblob(32), 'filler', 1 FROM n",
            [MAX_HEARD_NAMES - 1],
        )
        .expect("fill");
        let stranger = Identity::from_seed(&[2; 32]);
        heard_name(&tx, &about(&stranger, 1, "new"), "new").expect("heard");
        heard_name(&tx, &about(&known, 2, "renamed"), "renamed").expect("heard");
        tx.commit().expect("commit");
        let count: i64 = store
            .conn
            .query_row("SELECT count(*) FROM heard_names", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, MAX_HEARD_NAMES, "no new feed once full");
        let names: HashMap<FeedId, Option<String>> = store
            .names()
            .expect("names")
            .into_iter()
            .map(|(f, _, own)| (f, own))
            .collect();
        assert_eq!(
            names[&known.feed_id()].as_deref(),
            Some("renamed"),
            "a known one renames"
        );
        assert!(!names.contains_key(&stranger.feed_id()));
    }

    /// A common word ranks only the newest [`SEARCH_WINDOW`] posts that hold it, so its cost
    /// is bounded; a rarer word still finds an old post.
    #[test]
    fn search_ranks_the_newest_matches_only() {
        let dir = tempfile::tempdir().expect("dir");
        let mut node = crate::node::Node::init(&dir.path().join("home"), None).expect("node");
        node.post("market day, the oldest", None).expect("post");
        for i in 0..SEARCH_WINDOW {
            node.post(&format!("market stall {i}"), None).expect("post");
        }
        let found = node.store().search("market", 5000).expect("search");
        assert_eq!(found.len() as i64, SEARCH_WINDOW);
        assert!(
            found
                .iter()
                .all(|p| p.post.text != "market day, the oldest")
        );
        let old = node.store().search("oldest", 10).expect("search");
        assert_eq!(old.len(), 1);
        assert_eq!(old[0].post.text, "market day, the oldest");
    }
}
