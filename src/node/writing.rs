//! Writing to our diary: every message we sign goes through `publish` — posts, replies,
//! likes, names, descriptions, contacts and private messages — plus petnames, which never
//! leave this node.

use super::{ImportSummary, MAX_PETNAME, Node, NodeError, Result};
use crate::content;
use crate::ids::{FeedId, MessageId};
use crate::message::{ContentKind, Message};
use crate::private_box::{self, BoxError, Randomness};
use crate::store::{self, StoreError};

impl Node {
    /// Appends one message to our own feed, atomically with respect to other processes.
    pub fn publish(&mut self, kind: ContentKind, content: Vec<u8>) -> Result<Message> {
        self.check_restored()?;
        self.check_links(kind, &content)?;
        let identity = &self.identity;
        let (tx, packer) = self.store.write_packing()?;
        let frontier = store::frontier(&tx, &identity.feed_id())?;
        let message = Message::create(
            identity,
            frontier.sequence + 1,
            frontier.head,
            self.clock.now_ms(),
            kind,
            content,
        )?;
        crate::ingest::link_own(&tx, &self.opener, packer, &message, self.clock.now_ms())?;
        tx.commit().map_err(StoreError::from)?;
        self.store.train_if_due()?;
        Ok(message)
    }

    /// Appends public JSON content. Public content never links to a private message we hold
    /// (bundle-format/messages.md, "Private conversations stay private"): that link alone
    /// would tell every reader that we could read it.
    pub fn publish_json(&mut self, value: &serde_json::Value) -> Result<Message> {
        let bytes = serde_json::to_vec(value).map_err(|e| NodeError::Usage(e.to_string()))?;
        self.publish(ContentKind::Json, bytes)
    }

    /// Refuses public content that links to a private message we hold (see `publish_json`).
    fn check_links(&self, kind: ContentKind, content: &[u8]) -> Result<()> {
        let Some(value) = (kind == ContentKind::Json)
            .then(|| serde_json::from_slice::<serde_json::Value>(content).ok())
            .flatten()
        else {
            return Ok(());
        };
        for link in content::Content::parse(self.id(), &value).links() {
            if self.is_private(&link)? {
                return Err(NodeError::Usage(format!(
                    "{} is a private message: anything public that names it would tell \
                     everyone you can read it. Reply to it instead (grapevine reply), which \
                     stays private among the same people",
                    link.short()
                )));
            }
        }
        Ok(())
    }

    pub fn set_name(&mut self, name: &str) -> Result<Message> {
        let about = content::about(self.id(), name).map_err(|e| NodeError::Usage(e.0))?;
        self.publish_json(&about)
    }

    /// Publishes a contact message (a block or unblock, one per device of the person), then
    /// settles: feeds that became wanted are read from the
    /// bundle files that still hold them, and feeds that left the set (a block forgets
    /// everything held of the blocked feed) are dropped (docs/replication.md says why).
    pub fn contact(
        &mut self,
        feed: FeedId,
        change: content::ContactChange,
    ) -> Result<(Message, ImportSummary)> {
        let me = self.id();
        if feed == me {
            return Err(NodeError::Usage("that is your own feed id".into()));
        }
        let message = self.publish_json(&content::contact(feed, change))?;
        if matches!(
            change,
            content::ContactChange::Block | content::ContactChange::Unblock
        ) {
            // A block names every device of the person: it must outlast what we forget of
            // their links, and reach friends who never held those links.
            let devices = self.devices()?;
            let mine = devices.person(&me);
            for other in devices.others(&feed).filter(|d| !mine.contains(d)) {
                self.publish_json(&content::contact(*other, change))?;
            }
        }
        let settled = self.settle()?;
        if change == content::ContactChange::Block {
            for device in self.devices()?.person(&feed) {
                self.store.forget_claims(device)?;
            }
            self.store.forget_claims(&feed)?;
        }
        Ok((message, settled))
    }

    /// Sends `text` privately to `recipients` (and to ourselves, so we can read what we sent),
    /// encrypted to every linked device of each.
    pub fn dm(&mut self, recipients: &[FeedId], text: &str) -> Result<Message> {
        self.private_post(recipients, text, None)
    }

    /// A private post to `recipients` (and us), answering `reply` when given.
    pub(crate) fn private_post(
        &mut self,
        recipients: &[FeedId],
        text: &str,
        reply: Option<crate::ids::MessageId>,
    ) -> Result<Message> {
        if text.trim().is_empty() {
            return Err(NodeError::Usage(
                "the message is empty; write some text".into(),
            ));
        }
        let me = self.id();
        let devices = self.devices()?;
        let mut all = vec![me];
        // Every device of each person, ours included, takes a recipient slot.
        for r in std::iter::once(&me).chain(recipients) {
            for device in devices.person(r) {
                if !all.contains(device) {
                    all.push(*device);
                }
            }
        }
        if all.len() > private_box::MAX_RECIPIENTS {
            let mut people: Vec<FeedId> = std::iter::once(&me)
                .chain(recipients)
                .map(|r| devices.person(r)[0])
                .collect();
            people.sort();
            people.dedup();
            let people = people.len();
            if people == all.len() {
                return Err(BoxError::RecipientCount(all.len()).into());
            }
            return Err(NodeError::Usage(format!(
                "a private message holds {} recipients, one per device, and these {people} \
                 people (you included) have {} devices between them; send to fewer people",
                private_box::MAX_RECIPIENTS,
                all.len()
            )));
        }
        let plaintext = serde_json::to_vec(&content::private_post(text, &all, reply))
            .map_err(|e| NodeError::Usage(e.to_string()))?;
        let random = Randomness::drawn(&*self.entropy)?;
        let sealed = private_box::seal(&me, &all, &plaintext, &random)?;
        self.publish(ContentKind::PrivateBox, sealed)
    }

    /// Posts `text` publicly (as a reply to `reply`, if given). Each `@name` in it that names
    /// exactly one feed (petname or self-chosen name) is recorded in `mentions`. A reply to a
    /// private message is private, to everyone who could read that message.
    pub fn post(&mut self, text: &str, reply: Option<MessageId>) -> Result<Message> {
        if text.trim().is_empty() {
            return Err(NodeError::Usage(
                "the post is empty; write some text".into(),
            ));
        }
        let private_parent = match reply {
            Some(parent) if self.is_private(&parent)? => Some(parent),
            _ => None,
        };
        if let Some(parent) = private_parent {
            let Some(opened) = self.store.post(&parent)? else {
                return Err(NodeError::Usage(format!(
                    "{} is a private message that was not written to you: you cannot reply to it",
                    parent.short()
                )));
            };
            let me = self.id();
            let devices = self.devices()?;
            let mine = devices.person(&me);
            let others: Vec<FeedId> = opened
                .recipients
                .iter()
                .chain([&opened.message.header.author])
                .filter(|f| !mine.contains(f))
                .copied()
                .collect();
            return self.private_post(&others, text, Some(parent));
        }
        let names = self.names()?;
        let mut mentions = Vec::new();
        for word in content::mention_words(text) {
            // By name only: an `@word` that merely starts some feed's id is no mention.
            if let Some(feed) = names.resolve_feed_by_name(word)
                && !mentions.contains(&feed)
                && mentions.len() < content::MAX_MENTIONS
            {
                mentions.push(feed);
            }
        }
        self.publish_json(&content::post(text, reply, &mentions))
    }

    /// Publishes a few words about ourselves (shown by `who`).
    pub fn set_description(&mut self, text: &str) -> Result<Message> {
        let about = content::description(self.id(), text).map_err(|e| NodeError::Usage(e.0))?;
        self.publish_json(&about)
    }

    /// Likes a message (or takes the like back). Likes are public, so a private message
    /// cannot be liked (`publish_json` refuses it).
    pub fn like(&mut self, id: MessageId, like: bool) -> Result<Message> {
        self.publish_json(&content::vote(id, like))
    }

    /// Gives `feed` a name only this node uses (`None` removes it).
    pub fn set_petname(&mut self, feed: &FeedId, name: Option<&str>) -> Result<()> {
        let name = name.map(str::trim);
        if let Some(name) = name
            && (name.is_empty() || name.len() > MAX_PETNAME || name.contains(char::is_control))
        {
            return Err(NodeError::Usage(format!(
                "a petname has 1 to {MAX_PETNAME} bytes and no control characters"
            )));
        }
        Ok(self.store.set_petname(feed, name)?)
    }
}
