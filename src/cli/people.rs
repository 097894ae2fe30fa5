//! People: follow, block, petnames, who someone is, and your contacts.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use grapevine::content::ContactChange;
use grapevine::people::Names;
use grapevine::{FeedId, Node};
use serde_json::json;

use super::Ctx;
use super::render::{count, counted, pretty, when};
use super::resolve::{person_or_me, resolve_person};

#[derive(Subcommand)]
pub enum People {
    /// Follow someone: their feed (and, within `hops`, the feeds they follow) is stored and
    /// carried from now on.
    #[command(
        after_help = "Examples:\n  grapevine follow @dwgf…(the id they gave you)\n  \
                            grapevine follow bob"
    )]
    Follow {
        /// A name, petname, feed id or unique start of one.
        person: String,
        /// Follow even a feed id this node has never seen (it may be mistyped).
        #[arg(long)]
        yes: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop following someone. Their diary is hidden and no longer carried, not deleted:
    /// following again shows it at once (it is forgotten after `forget-after-days`).
    Unfollow {
        /// A name, petname, feed id or unique start of one.
        person: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Block someone: their feed is hidden at once and no longer carried, and your friends
    /// learn not to carry it for you. `unblock` undoes it at once; what was held is forgotten
    /// after `forget-after-days` (or with `grapevine forget`).
    Block {
        /// A name, petname, feed id or unique start of one.
        person: String,
        /// Block even a feed id this node has never seen (it may be mistyped).
        #[arg(long)]
        yes: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop blocking someone.
    Unblock {
        /// A name, petname, feed id or unique start of one.
        person: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget now what is held of someone you unfollowed or blocked, instead of after
    /// `forget-after-days`.
    Forget {
        /// A name, petname, feed id or unique start of one.
        person: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give someone a name of your own (it never leaves this node), or remove it.
    #[command(after_help = "Examples:\n  grapevine petname @dwgf… \"Aunt Ruth\"\n  \
                            grapevine petname \"Aunt Ruth\" --remove")]
    Petname {
        /// A name, petname, feed id or unique start of one.
        person: String,
        /// The petname (1 to 64 bytes).
        #[arg(required_unless_present = "remove")]
        name: Option<String>,
        /// Remove the petname instead.
        #[arg(long, conflicts_with = "name")]
        remove: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// What this node knows of someone: names, follows, followers, last heard, hops from you.
    Who {
        /// A name, petname, feed id or unique start of one (default: you).
        person: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Whom you follow, who follows you, and whom you block.
    Contacts {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Private messages for you from people you don't follow (message requests): list them,
    /// `requests accept PERSON` (follow them: their messages come in as any friend's) or
    /// `requests dismiss PERSON`.
    #[command(after_help = "Examples:\n  grapevine requests\n  grapevine requests accept carol")]
    Requests {
        /// `accept` or `dismiss`; none lists the requests.
        #[arg(value_parser = ["accept", "dismiss"], requires = "person")]
        action: Option<String>,
        /// Whose requests: a name, feed id or unique start of one.
        person: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Link your devices into one person: `device link`, `device unlink`, `device list`.
    #[command(subcommand)]
    Device(super::devices::Device),
}

impl People {
    pub fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let names = node.names()?;
        let text = match self {
            People::Follow { person, yes, json } => {
                contact(&mut node, &names, &person, yes, ContactChange::Follow, json)?
            }
            People::Unfollow { person, json } => contact(
                &mut node,
                &names,
                &person,
                true,
                ContactChange::Unfollow,
                json,
            )?,
            People::Block { person, yes, json } => {
                contact(&mut node, &names, &person, yes, ContactChange::Block, json)?
            }
            People::Unblock { person, json } => contact(
                &mut node,
                &names,
                &person,
                true,
                ContactChange::Unblock,
                json,
            )?,
            People::Requests {
                action,
                person,
                json,
            } => match (action.as_deref(), person) {
                (Some("accept"), Some(person)) => {
                    let feed = resolve_requester(&node, &names, &person)?;
                    contact(
                        &mut node,
                        &names,
                        &feed.to_string(),
                        true,
                        ContactChange::Follow,
                        json,
                    )?
                }
                (Some(_), Some(person)) => {
                    let feed = resolve_requester(&node, &names, &person)?;
                    let n = node.dismiss_requests(&feed)?;
                    if json {
                        pretty(&json!({ "contact": names.json(&feed), "dismissed": n }))?
                    } else {
                        format!(
                            "dismissed {} from {}; later ones from them stay dismissed (block \
                             them to drop them altogether)",
                            count(n, "request", "requests"),
                            names.name(&feed)
                        )
                    }
                }
                _ => requests(&node, &names, json)?,
            },
            People::Forget { person, json } => {
                let feed = resolve_person(&node, &names, &person, true)?;
                let name = names.name(&feed);
                let removed = node.forget(&feed)?;
                if json {
                    pretty(&json!({ "contact": names.json(&feed), "dropped": removed }))?
                } else {
                    format!("forgot {} of {name}", counted(removed, "message"))
                }
            }
            People::Petname {
                person,
                name,
                remove,
                json,
            } => {
                let feed = resolve_person(&node, &names, &person, true)?;
                let was = names.name(&feed);
                if json {
                    node.set_petname(&feed, if remove { None } else { name.as_deref() })?;
                    let names = node.names()?;
                    pretty(&json!({
                        "feed": names.json(&feed),
                        "petname": node.store().petname(&feed)?,
                    }))?
                } else if remove {
                    node.set_petname(&feed, None)?;
                    let now = node.names()?.name(&feed);
                    format!("{was} has no petname now; shown as {now}")
                } else {
                    let name = name.unwrap_or_default();
                    node.set_petname(&feed, Some(&name))?;
                    format!(
                        "{feed} is \"{}\" to you now (only on this node)",
                        grapevine::view::escape(name.trim())
                    )
                }
            }
            People::Who { person, json } => {
                let feed = person_or_me(&node, &names, person.as_deref())?;
                who(&node, &names, &feed, json)?
            }
            People::Contacts { json } => contacts(&node, &names, json)?,
            People::Device(device) => device.run(&mut node, &names)?,
        };
        ctx.say(text)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Publishes a contact message and says what it did, and on stderr what settling changed.
fn contact(
    node: &mut Node,
    names: &Names,
    person: &str,
    yes: bool,
    change: ContactChange,
    json: bool,
) -> Result<String> {
    let feed = resolve_person(node, names, person, yes)?;
    let before = names.name(&feed);
    let (message, settled) = node.contact(feed, change)?;
    let total = settled.total();
    if total.new > 0 {
        eprintln!(
            "took in {} from {} read before",
            counted(total.new, "message"),
            count(settled.bundles.len() as u64, "bundle file", "bundle files")
        );
    }
    let dropped: u64 = settled.dropped.iter().map(|(_, n)| n).sum();
    if !settled.dropped.is_empty() {
        eprintln!(
            "forgot {} of {} hidden longer than forget-after-days",
            counted(dropped, "message"),
            counted(settled.dropped.len() as u64, "feed")
        );
    }
    let hidden: u64 = settled.hidden.iter().map(|(_, n)| n).sum();
    if !settled.hidden.is_empty() {
        eprintln!(
            "hid {} of {} you no longer replicate: they are not shown or carried, and \
             come back at once if you undo this (forgotten after {} days, or with \
             `grapevine forget`)",
            counted(hidden, "message"),
            counted(settled.hidden.len() as u64, "feed"),
            node.forget_after_days()?
        );
    }
    if !settled.shown.is_empty() {
        eprintln!(
            "showing again {} hidden before",
            counted(settled.shown.len() as u64, "feed")
        );
    }
    // Settling may have just taken in their feed and name, or dropped them.
    let names = node.names()?;
    let name = match names.name(&feed) {
        now if now == feed.short() => before,
        now => now,
    };
    if json {
        return pretty(&grapevine::view::json::contact_json(
            &message, &feed, change, &settled, &names,
        ));
    }
    Ok(match change {
        ContactChange::Follow => format!("now following {name}"),
        ContactChange::Unfollow => format!("no longer following {name}"),
        ContactChange::Block => {
            format!("blocked {name}: nothing of theirs is shown or carried from now on")
        }
        ContactChange::Unblock => format!("no longer blocking {name}"),
    })
}

/// The author of requests that `input` names: any name, id or prefix, or the name an author of
/// a request gave itself in it.
fn resolve_requester(node: &Node, names: &Names, input: &str) -> Result<FeedId> {
    let feed = resolve_person(node, names, input, true)?;
    if !node.store().request_authors()?.contains(&feed) {
        bail!(
            "{} sent you no message request; `grapevine requests` lists who did",
            names.name(&feed)
        );
    }
    Ok(feed)
}

/// The message requests, newest first.
fn requests(node: &Node, names: &Names, json: bool) -> Result<String> {
    let list = node.store().requests()?;
    if json {
        return pretty(&serde_json::Value::Array(
            list.iter()
                .map(|r| grapevine::view::json::request_json(r, names))
                .collect(),
        ));
    }
    let text_of = grapevine::view::json::request_text;
    if list.is_empty() {
        return Ok(
            "no message requests: private messages from people you don't follow show here".into(),
        );
    }
    let now = grapevine::now_ms();
    let mut text = String::new();
    for r in &list {
        text += &format!(
            "{} {} · {}\n{}\n\n",
            names.name(&r.author),
            r.author.short(),
            when(r.at, now),
            grapevine::view::escape(&text_of(&r.plaintext))
        );
    }
    text += "`grapevine requests accept PERSON` follows them; `grapevine requests dismiss \
             PERSON` puts theirs away";
    Ok(text)
}

fn list(names: &Names, feeds: &[FeedId]) -> String {
    if feeds.is_empty() {
        return "no one".into();
    }
    feeds
        .iter()
        .map(|f| names.name(f))
        .collect::<Vec<_>>()
        .join(", ")
}

fn who(node: &Node, names: &Names, feed: &FeedId, json: bool) -> Result<String> {
    let w = node.who(feed)?;
    if json {
        return pretty(&grapevine::view::json::who_json(feed, &w, names));
    }
    let now = grapevine::now_ms();
    let mut text = format!("{}\n  id          {feed}", names.label(feed));
    if let Some(pet) = &w.petname {
        text += &format!("\n  petname     {}", grapevine::view::escape(pet));
    }
    text += &format!(
        "\n  calls self  {}",
        w.name
            .as_deref()
            .map_or("(no name published)".into(), grapevine::view::escape)
    );
    if let Some(says) = &w.description {
        text += &format!(
            "\n  says        {}",
            grapevine::view::escape(says).replace('\n', " ")
        );
    }
    if !w.devices.is_empty() {
        let devices: Vec<String> = w
            .devices
            .iter()
            .map(|d| match names.chosen(d) {
                Some(own) => format!("{} ({})", grapevine::view::escape(own), d.short()),
                None => d.short(),
            })
            .collect();
        text += &format!("\n  devices     {}", devices.join(", "));
    }
    let reach = match (w.hops, w.blocked_by_us) {
        (_, true) => "blocked by you: nothing of theirs is shown or carried".to_owned(),
        (Some(0), _) => "you".to_owned(),
        (Some(1), _) => "followed by you (1 hop)".to_owned(),
        (Some(h), _) => format!("{h} hops from you: carried as a friend of a friend"),
        (None, _) => "outside what you replicate: follow them to carry their feed".to_owned(),
    };
    text += &format!("\n  reach       {reach}");
    if let Some(back) = grapevine::view::reach_back(&w) {
        text += &format!("\n  reach back  {back}");
    }
    text += &format!("\n  holds       {}", counted(w.messages, "message"));
    if w.pending > 0 {
        text += &format!(" ({} waiting for earlier ones)", w.pending);
    }
    if let Some(at) = w.last_post {
        text += &format!("; last post {}", when(at, now));
    }
    if let Some(at) = w.last_heard {
        text += &format!("\n  last heard  {}", when(at, now));
    }
    text += &format!("\n  follows     {}", list(names, &w.follows));
    text += &format!("\n  followed by {}", list(names, &w.followers));
    if !w.blocks.is_empty() {
        text += &format!("\n  blocks      {}", list(names, &w.blocks));
    }
    if w.forked {
        text += "\n  WARNING     this feed is forked: its author signed two different histories";
    }
    Ok(text)
}

fn contacts(node: &Node, names: &Names, json: bool) -> Result<String> {
    let c = node.contacts()?;
    if json {
        return pretty(&grapevine::view::json::contacts_json(&c, names));
    }
    let section = |title: &str, feeds: &[FeedId]| {
        let mut text = format!("{title} ({})", feeds.len());
        for f in feeds {
            text += &format!("\n  {:<24} {f}", names.name(f));
        }
        text
    };
    Ok([
        section("following", &c.following),
        section("followers", &c.followers),
        section("blocked", &c.blocked),
    ]
    .join("\n"))
}
