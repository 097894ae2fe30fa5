//! `grapevine device`: one person, several devices (messages.md "Linked devices").

use anyhow::Result;
use clap::Subcommand;
use grapevine::devices::LinkState;
use grapevine::people::Names;
use grapevine::{FeedId, Node};

use super::render::{counted, pretty};
use super::resolve::resolve_person;

#[derive(Subcommand)]
pub enum Device {
    /// Link another device of yours. Run it on both devices, each naming the other; once
    /// each has the other's link message (carried by stick, folder or LAN like any other),
    /// everyone sees one person.
    #[command(
        after_help = "Example (on the laptop, then on the desktop with the laptop's id):\n  \
                            grapevine device link @4xq2…(the id `grapevine whoami` shows there)"
    )]
    Link {
        /// The other device's feed id (or a name or unique start of its id). A new device
        /// is seen nowhere yet, so its id is taken as typed: `device list` shows it waiting
        /// until its own link arrives.
        device: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// End a link, from either side (a lost or sold device). Its messages up to the newest
    /// this device holds stay yours; later ones are shown as its own.
    Unlink {
        /// The device's feed id, name or unique start of its id.
        device: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Your devices, and how each link stands.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Device {
    pub fn run(self, node: &mut Node, names: &Names) -> Result<String> {
        Ok(match self {
            Device::Link { device, json } => {
                let feed = resolve_person(node, names, &device, true)?;
                let (message, settled) = node.link_device(feed)?;
                changed(node, names, feed, &message, settled.total().new, json)?
            }
            Device::Unlink { device, json } => {
                let feed = resolve_person(node, names, &device, true)?;
                let (message, settled) = node.unlink_device(feed)?;
                changed(node, names, feed, &message, settled.total().new, json)?
            }
            Device::List { json } => list(node, names, json)?,
        })
    }
}

/// What a link or unlink did, in words or JSON.
fn changed(
    node: &Node,
    before: &Names,
    feed: FeedId,
    message: &grapevine::message::Message,
    took_in: u64,
    json: bool,
) -> Result<String> {
    let names = node.names()?;
    let state = node.devices()?.state(&node.id(), &feed);
    let device = device_name(&names, &feed).unwrap_or_else(|| before.name(&feed));
    if json {
        return pretty(&grapevine::view::json::device_change_json(
            message, &feed, state, took_in, &names,
        ));
    }
    if took_in > 0 {
        eprintln!(
            "took in {} from bundle files read before",
            counted(took_in, "message")
        );
    }
    let me = node.id();
    Ok(match state {
        Some(LinkState::Linked) => format!("linked with {device}: one person to everyone now"),
        Some(LinkState::Waiting) => format!(
            "linked {device} from this side. On that device run\n  grapevine device link \
             {me}\nand carry its messages here (stick, folder or LAN): the link holds once \
             both sides have linked"
        ),
        _ => {
            format!("unlinked {device}: its messages up to now stay yours; later ones are its own")
        }
    })
}

/// A device's own name and short id: "alice (desktop) (@4xq2…)".
fn device_name(names: &Names, feed: &FeedId) -> Option<String> {
    names
        .chosen(feed)
        .map(|own| format!("{} ({})", grapevine::view::escape(own), feed.short()))
}

/// How to name `feed` in a command to paste: its name when that is one plain word naming no
/// one else, else its id.
fn handle(names: &Names, feed: &FeedId) -> String {
    match names.chosen(feed) {
        Some(name)
            if !names.is_lookalike(feed)
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
        {
            name.to_owned()
        }
        _ => feed.to_string(),
    }
}

fn list(node: &Node, names: &Names, json: bool) -> Result<String> {
    let me = node.id();
    let entries = node.device_list()?;
    if json {
        return pretty(&grapevine::view::json::devices_json(&me, &entries, names));
    }
    let own = |feed: &FeedId| {
        names
            .chosen(feed)
            .map_or_else(|| feed.short(), grapevine::view::escape)
    };
    let mut text = format!("{:<24} {me}  this device", own(&me));
    for e in &entries {
        let state = match e.state {
            LinkState::Linked => "linked both ways".to_owned(),
            LinkState::Waiting => {
                format!("waiting: run `grapevine device link {me}` on it and carry it here")
            }
            LinkState::Offered => format!(
                "asks to be linked: `grapevine device link {}` if it is yours",
                handle(names, &e.feed)
            ),
            LinkState::Unlinked => "unlinked".to_owned(),
        };
        text += &format!("\n{:<24} {}  {state}", own(&e.feed), e.feed);
    }
    if entries.is_empty() {
        text += "\nno other device: `grapevine device link ID` links one (see docs/devices.md)";
    }
    Ok(text)
}
