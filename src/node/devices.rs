//! One person, several devices: linking and unlinking them (crate::devices has the rules).

use super::{Node, NodeError, Result};
use crate::content;
use crate::devices::{Devices, LinkState};
use crate::ids::FeedId;
use crate::message::Message;
use crate::node::ImportSummary;

/// A device `device list` shows: one that names us or that we name.
#[derive(Clone, Debug)]
pub struct DeviceEntry {
    pub feed: FeedId,
    pub state: LinkState,
}

impl Node {
    /// The device links this node holds.
    pub fn devices(&self) -> Result<Devices> {
        Ok(Devices::new(self.store.device_claims()?))
    }

    /// Links `feed` as another device of ours, then settles: its feed becomes wanted, and once
    /// its own link to us arrives, everyone sees one person.
    pub fn link_device(&mut self, feed: FeedId) -> Result<(Message, ImportSummary)> {
        let me = self.id();
        if feed == me {
            return Err(NodeError::Usage(
                "that is this device; give the id of the other one (`grapevine whoami` there)"
                    .into(),
            ));
        }
        if matches!(
            self.devices()?.state(&me, &feed),
            Some(LinkState::Linked | LinkState::Waiting)
        ) {
            return Err(NodeError::Usage(
                "this device already links that one; `grapevine device list` shows how it stands"
                    .into(),
            ));
        }
        let message = self.publish_json(&content::device(feed, true, 0))?;
        Ok((message, self.settle()?))
    }

    /// Ends the link with `feed` (a lost or sold device). Its messages up to the newest we
    /// hold stay ours in everyone's eyes; later ones are its own.
    pub fn unlink_device(&mut self, feed: FeedId) -> Result<(Message, ImportSummary)> {
        let me = self.id();
        match self.devices()?.state(&me, &feed) {
            Some(LinkState::Linked | LinkState::Waiting) => {}
            _ => {
                return Err(NodeError::Usage(
                    "this device does not link that one; `grapevine device list` shows the \
                     devices it links"
                        .into(),
                ));
            }
        }
        let through = self.store.frontier(&feed)?.sequence;
        let message = self.publish_json(&content::device(feed, false, through))?;
        Ok((message, self.settle()?))
    }

    /// Every device of ours, and every one that names us or that we name, with how each
    /// link stands.
    pub fn device_list(&self) -> Result<Vec<DeviceEntry>> {
        let me = self.id();
        let devices = self.devices()?;
        let mut feeds = devices.named_with(&me);
        feeds.extend(devices.others(&me));
        feeds.sort();
        feeds.dedup();
        let mut entries: Vec<DeviceEntry> = feeds
            .iter()
            .map(|&feed| DeviceEntry {
                feed,
                // A device linked to another of ours, but never named by this one, is ours too.
                state: devices.state(&me, &feed).unwrap_or(LinkState::Linked),
            })
            .collect();
        // Offers from feeds not replicated yet (a new device's first stick).
        for feed in self.store.device_offers()? {
            if !feeds.contains(&feed) {
                entries.push(DeviceEntry {
                    feed,
                    state: LinkState::Offered,
                });
            }
        }
        Ok(entries)
    }
}
