//! Reading and talking like email: the timeline, threads, conversations, likes, mentions,
//! petnames and what we know of a person.

use std::collections::BTreeMap;

use super::{Node, Result};
use crate::content;
use crate::ids::{FeedId, MessageId};
use crate::message::{ContentKind, Message};
use crate::people::Names;
use crate::store::{Filter, PostView};

/// What this node knows of a person (`grapevine who`).
#[derive(Clone, Debug)]
pub struct Who {
    pub feed: FeedId,
    pub petname: Option<String>,
    pub name: Option<String>,
    /// What it says about itself.
    pub description: Option<String>,
    /// Messages held, and how many more wait for earlier ones.
    pub messages: u64,
    pub pending: u64,
    pub forked: bool,
    pub follows: Vec<FeedId>,
    pub followers: Vec<FeedId>,
    pub blocks: Vec<FeedId>,
    /// Its other linked devices (one person with it).
    pub devices: Vec<FeedId>,
    /// Follow-steps from us, if the feed is in our replication set.
    pub hops: Option<u32>,
    pub blocked_by_us: bool,
    /// When we last imported a bundle it signed, if it is a peer.
    pub last_heard: Option<i64>,
    /// The time of the newest post we hold from any of its devices.
    pub last_post: Option<i64>,
    /// How many follow-steps from them we are, in what they carry as far as we know their
    /// follows (at the default hops): `None` when our posts may not reach them.
    pub reaches_them: Option<u32>,
    /// Whether it blocks us (then nothing of ours reaches it).
    pub blocks_us: bool,
}

/// The people we follow, who follow us, and whom we block.
#[derive(Clone, Debug, Default)]
pub struct Contacts {
    pub following: Vec<FeedId>,
    pub followers: Vec<FeedId>,
    pub blocked: Vec<FeedId>,
}

/// Private posts among one set of people (all recipients, us included), newest first.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub with: Vec<FeedId>,
    pub posts: Vec<PostView>,
}

impl Conversation {
    pub fn unread(&self) -> usize {
        self.posts.iter().filter(|p| p.unread).count()
    }
}

/// Longest petname, in bytes (the same as a self-chosen name).
pub const MAX_PETNAME: usize = content::MAX_NAME;

impl Node {
    /// The names this node knows, for showing and for reading what a person typed.
    pub fn names(&self) -> Result<Names> {
        Ok(Names::load(&self.store, self.id())?)
    }

    /// Public posts, newest first.
    pub fn timeline(&self, filter: &Filter) -> Result<Vec<PostView>> {
        Ok(self.store.posts(&Filter {
            private: false,
            ..filter.clone()
        })?)
    }

    /// Marks posts read, once they were shown.
    pub fn mark_read(&mut self, posts: &[&PostView]) -> Result<()> {
        let ids: Vec<MessageId> = posts
            .iter()
            .filter(|p| p.unread)
            .map(|p| p.message.id)
            .collect();
        if !ids.is_empty() {
            self.store.mark_read(&ids)?;
        }
        Ok(())
    }

    /// Private conversations, newest first, each with its newest `per` posts.
    pub fn conversations(&self, per: usize) -> Result<Vec<Conversation>> {
        let me = self.id();
        let devices = self.devices()?;
        let mine = devices.person(&me);
        let mut groups: BTreeMap<Vec<FeedId>, Vec<PostView>> = BTreeMap::new();
        for post in self.store.posts(&Filter {
            private: true,
            ..Filter::default()
        })? {
            // One entry per person: a person's devices stand as its first one.
            let mut with: Vec<FeedId> = post
                .recipients
                .iter()
                .chain([&post.message.header.author])
                .filter(|f| !mine.contains(f))
                .map(|f| devices.person(f)[0])
                .collect();
            with.sort();
            with.dedup();
            let posts = groups.entry(with).or_default();
            if posts.len() < per || post.unread {
                posts.push(post);
            }
        }
        let mut out: Vec<Conversation> = groups
            .into_iter()
            .map(|(with, posts)| Conversation { with, posts })
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.posts.first().map_or(i64::MIN, |p| p.at)));
        Ok(out)
    }

    /// What we know of `feed`.
    pub fn who(&self, feed: &FeedId) -> Result<Who> {
        let graph = self.graph()?;
        let set = self.replication_set()?;
        let names = self.names()?;
        let summary = self.store.feeds()?.into_iter().find(|f| f.feed == *feed);
        let last_heard = self
            .store
            .peers()?
            .into_iter()
            .find(|p| p.peer == *feed)
            .and_then(|p| p.last_heard);
        let devices = graph.devices();
        let mut last_post = None;
        for device in devices.person(feed) {
            let newest = self
                .store
                .posts(&Filter {
                    author: Some(*device),
                    limit: Some(1),
                    ..Filter::default()
                })?
                .first()
                .map(|p| p.at);
            last_post = last_post.max(newest);
        }
        let mut follows = graph.follows(feed).to_vec();
        let mut followers = graph.followers(feed);
        let mut blocks: Vec<FeedId> = graph.blocked_by(feed).copied().collect();
        let by_name = |a: &FeedId, b: &FeedId| names.name(a).cmp(&names.name(b));
        follows.sort_by(by_name);
        followers.sort_by(by_name);
        blocks.sort_by(by_name);
        Ok(Who {
            feed: *feed,
            petname: names.petname(feed).map(str::to_owned),
            name: names.chosen(feed).map(str::to_owned),
            description: self.store.description_of(feed)?,
            messages: summary.as_ref().map_or(0, |s| s.frontier.sequence),
            pending: summary.as_ref().map_or(0, |s| s.pending),
            forked: summary.as_ref().is_some_and(|s| s.forked),
            follows,
            followers,
            blocks,
            devices: devices.others(feed).copied().collect(),
            hops: set.distance.get(feed).copied(),
            blocked_by_us: graph.blocks(&self.id(), feed),
            last_heard,
            last_post,
            reaches_them: graph
                .replication_set(*feed, crate::graph::DEFAULT_HOPS)
                .distance
                .get(&self.id())
                .copied(),
            blocks_us: graph.blocks(feed, &self.id()),
        })
    }

    /// Whom we follow, who follows us, whom we block; by name.
    pub fn contacts(&self) -> Result<Contacts> {
        let who = self.who(&self.id())?;
        Ok(Contacts {
            following: who.follows,
            followers: who.followers,
            blocked: who.blocks,
        })
    }

    /// Whether `id` is a private message we hold (whether or not we could open it).
    pub fn is_private(&self, id: &crate::ids::MessageId) -> Result<bool> {
        Ok(self
            .store
            .message(id)?
            .is_some_and(|m| m.header.kind == ContentKind::PrivateBox))
    }

    /// Private messages we could open, newest first, with their plaintext content.
    pub fn inbox(&self, limit: u64) -> Result<Vec<(Message, serde_json::Value)>> {
        Ok(self
            .store
            .inbox(limit)?
            .into_iter()
            .map(|(m, text)| (m, serde_json::from_str(&text).unwrap_or_default()))
            .collect())
    }

    /// What to show of a message: its JSON content, or a private message's plaintext if we
    /// could open it (`None` for boxes not for us and opaque kinds).
    pub fn readable_content(&self, message: &Message) -> Result<Option<serde_json::Value>> {
        match message.header.kind {
            ContentKind::PrivateBox => Ok(self
                .store
                .private_content(&message.id)?
                .and_then(|text| serde_json::from_str(&text).ok())),
            _ => Ok(message.json()),
        }
    }

    /// The newest `limit` messages of a feed, newest first; none of a hidden feed (one we
    /// unfollowed or blocked).
    pub fn feed(&self, feed: &FeedId, limit: u64) -> Result<Vec<Message>> {
        if self.store.is_hidden(feed)? {
            return Ok(Vec::new());
        }
        Ok(self.store.latest(feed, limit)?)
    }
}
