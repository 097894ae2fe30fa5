//! Writing to your own feed: posts, replies, private messages, your name, likes.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use grapevine::message::{ContentKind, Message};
use grapevine::people::{Names, resolve_message};

use super::render::{pretty, short_id, written_json};
use super::resolve::resolve_recipients;
use super::{Ctx, read_text};

#[derive(Subcommand)]
pub enum Writing {
    /// Post a public message. Each @name in it (a petname or someone's own name) is recorded as
    /// a mention, so they find it with `grapevine mentions`; #words become tags.
    #[command(
        after_help = "Examples:\n  grapevine post \"Market on Saturday #village\"\n  \
                            echo \"long text\" | grapevine post -"
    )]
    Post {
        /// The text ('-' reads it from standard input).
        text: String,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reply to a post: the reply shows under it in `grapevine thread`. A reply to a private
    /// message is private too, to the same people, and shows in that conversation.
    #[command(after_help = "Example:\n  grapevine reply %k3j4 \"See you there\"")]
    Reply {
        /// The post: its id, or a unique start of it (as the timeline shows it).
        message: String,
        /// The text ('-' reads standard input).
        text: String,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send a private message: only the recipients (and you) can read it, and no one else can
    /// tell who they are.
    #[command(after_help = "Example:\n  grapevine dm --to bob --to \"Aunt Ruth\" \"Meet at noon\"")]
    Dm {
        /// A recipient: a name, petname, feed id or unique start of one; repeat for up to 15.
        #[arg(long = "to", required = true, value_name = "PERSON")]
        to: Vec<String>,
        /// The text ('-' reads standard input).
        text: String,
        /// Send even to a feed id this node has never seen (it may be mistyped).
        #[arg(long)]
        yes: bool,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish the name others should show for you.
    Name {
        /// Your name, 1 to 64 bytes.
        name: String,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish a few words about yourself, shown to others by `grapevine who`.
    #[command(after_help = "Example:\n  grapevine about \"Beekeeper in the upper village\"")]
    About {
        /// The description, 1 to 1024 bytes ('-' reads standard input).
        text: String,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Like a post (its author and everyone who replicates you sees the count). Likes are
    /// public, so private messages cannot be liked: reply to them instead.
    Like {
        /// The post: its id, or a unique start of it.
        message: String,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take back a like.
    Unlike {
        /// The post: its id, or a unique start of it.
        message: String,
        /// Print the new message as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `--json` prints for a message just written (docs/json.md "written").
fn written(message: &Message, names: &Names) -> Result<String> {
    pretty(&written_json(message, names))
}

impl Writing {
    pub fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let (message, json, words) = match self {
            Writing::Post { text, json } => {
                let message = node.post(&read_text(text)?, None)?;
                let words = posted_words(&node, &message, "posted")?;
                (message, json, words)
            }
            Writing::Reply {
                message,
                text,
                json,
            } => {
                let parent = resolve_message(node.store(), &message)?;
                let names = node.names()?;
                let to = match node.store().message(&parent)? {
                    Some(m) => names.name(&m.header.author),
                    None => "a message not held here".to_owned(),
                };
                let message = node.post(&read_text(text)?, Some(parent))?;
                let words = if message.header.kind == ContentKind::PrivateBox {
                    let me = node.id();
                    let readers: Vec<String> = node
                        .store()
                        .post(&message.id)?
                        .map(|p| p.recipients)
                        .unwrap_or_default()
                        .iter()
                        .filter(|f| **f != me)
                        .map(|f| names.name(f))
                        .fold(Vec::new(), |mut seen, name| {
                            if !seen.contains(&name) {
                                seen.push(name);
                            }
                            seen
                        });
                    format!(
                        "replied privately to {to}'s private message ({}); only {} and you can \
                         read it",
                        short_id(&message.id),
                        readers.join(", ")
                    )
                } else {
                    posted_words(&node, &message, &format!("replied to {to}"))?
                };
                (message, json, words)
            }
            Writing::Dm {
                to,
                text,
                yes,
                json,
            } => {
                let names = node.names()?;
                let recipients = resolve_recipients(&node, &names, &to, yes)?;
                let message = node.dm(&recipients, &read_text(text)?)?;
                let listed: Vec<String> = recipients.iter().map(|f| names.name(f)).collect();
                let words = format!(
                    "sent privately to {} ({}); only they and you can read it",
                    listed.join(", "),
                    short_id(&message.id)
                );
                (message, json, words)
            }
            Writing::Name { name, json } => {
                let message = node.set_name(&name)?;
                let words = format!(
                    "you are now called \"{}\" ({})",
                    grapevine::view::escape(name.trim()),
                    short_id(&message.id)
                );
                (message, json, words)
            }
            Writing::About { text, json } => {
                let message = node.set_description(&read_text(text)?)?;
                let words = format!(
                    "published what you say about yourself ({})",
                    short_id(&message.id)
                );
                (message, json, words)
            }
            Writing::Like { message, json } => like(&mut node, &message, json, true)?,
            Writing::Unlike { message, json } => like(&mut node, &message, json, false)?,
        };
        let names = node.names()?;
        ctx.say(if json {
            written(&message, &names)?
        } else {
            words
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

fn like(
    node: &mut grapevine::Node,
    message: &str,
    json: bool,
    like: bool,
) -> Result<(Message, bool, String)> {
    let id = resolve_message(node.store(), message)?;
    let names = node.names()?;
    let whose = match node.store().message(&id)? {
        Some(m) => format!("{}'s post {}", names.name(&m.header.author), short_id(&id)),
        None => format!("post {}", short_id(&id)),
    };
    let message = node.like(id, like)?;
    let words = if like {
        format!("you like {whose}")
    } else {
        format!("you no longer like {whose}")
    };
    Ok((message, json, words))
}

/// Says on standard error which `@name`s of `text` became no mention, and why.
fn unlinked_mentions(names: &Names, text: &str) {
    let mut told = Vec::new();
    for word in grapevine::content::mention_words(text) {
        if told.contains(&word) {
            continue;
        }
        told.push(word);
        let word_shown = grapevine::view::escape_name(word);
        match names.people_named(word) {
            1 => {}
            0 => eprintln!("note: @{word_shown} names no one known here: not linked"),
            n => eprintln!(
                "note: @{word_shown} could be {n} people: not linked (a petname tells them \
                 apart: `grapevine petname ID NAME`)"
            ),
        }
    }
}

fn posted_words(node: &grapevine::Node, message: &Message, verb: &str) -> Result<String> {
    let names = node.names()?;
    let content = grapevine::content::Content::of(message);
    if let Some(post) = content.post() {
        unlinked_mentions(&names, &post.text);
    }
    let mut words = format!("{verb} ({})", short_id(&message.id));
    let mentioned = content
        .post()
        .map(|p| p.mentions.clone())
        .unwrap_or_default();
    if !mentioned.is_empty() {
        let listed: Vec<String> = mentioned.iter().map(|f| names.name(f)).collect();
        words += &format!("; mentions {}", listed.join(", "));
    }
    Ok(words)
}
