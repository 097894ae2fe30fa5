//! Reading: the timeline, threads, one message, private conversations, a feed, mentions, tags
//! and search.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Subcommand;
use grapevine::people::{Names, resolve_message};
use grapevine::store::{Filter, PostView};
use grapevine::{Node, view};
use serde_json::{Value, json};

use super::Ctx;
use super::render::{self, Style, count, counted, post, post_json, pretty};
use super::resolve::{person_or_me, resolve_person};

#[derive(Subcommand)]
pub enum Reading {
    /// Posts of everyone you replicate, newest first; ● marks what you have not seen.
    #[command(
        after_help = "Examples:\n  grapevine timeline\n  grapevine timeline --since 2d\n  \
                            grapevine timeline --unread --json"
    )]
    Timeline {
        /// How many posts to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Show every post, however many.
        #[arg(long, conflicts_with = "limit")]
        all: bool,
        /// Only posts of this age or younger: 90m, 2d, 1week…
        #[arg(long, value_parser = humantime::parse_duration, value_name = "AGE")]
        since: Option<Duration>,
        /// Only posts you have not seen.
        #[arg(long)]
        unread: bool,
        /// Print a JSON array of posts.
        #[arg(long)]
        json: bool,
    },
    /// A post and its replies, as a tree.
    Thread {
        /// Any post of the thread: its id or a unique start of it.
        message: String,
        /// Print a JSON array of posts, each with its depth.
        #[arg(long)]
        json: bool,
    },
    /// One message in full: who wrote it, when, what it says, likes and replies.
    Show {
        /// The message: its id or a unique start of it.
        message: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Private conversations, newest first, each with its latest messages.
    Inbox {
        /// Only the conversation with this person (all of it).
        #[arg(long, value_name = "PERSON")]
        with: Option<String>,
        /// How many messages to show per conversation.
        #[arg(long, default_value_t = 3)]
        limit: usize,
        /// Print a JSON array of conversations.
        #[arg(long)]
        json: bool,
    },
    /// One feed, newest first, every kind of message (yours by default).
    Feed {
        /// A name, petname, feed id or unique start of one.
        person: Option<String>,
        /// How many messages to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print a JSON array of messages.
        #[arg(long)]
        json: bool,
    },
    /// Posts that mention you (or PERSON) by @name.
    Mentions {
        /// Whose mentions (default: yours).
        person: Option<String>,
        /// How many posts to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print a JSON array of posts.
        #[arg(long)]
        json: bool,
    },
    /// Posts tagged #NAME; without a name, the tags in use.
    Tag {
        /// The tag, with or without '#'.
        name: Option<String>,
        /// How many posts (or tags) to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the text of every post you hold, and of private messages you can read; best
    /// matches first, of the newest 2,000 that hold every word.
    #[command(after_help = "Example:\n  grapevine search well water")]
    Search {
        /// Words that must all occur.
        #[arg(required = true)]
        words: Vec<String>,
        /// How many posts to show.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print a JSON array of posts.
        #[arg(long)]
        json: bool,
    },
}

impl Reading {
    pub fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let names = node.names()?;
        let text = match self {
            Reading::Timeline {
                limit,
                all,
                since,
                unread,
                json,
            } => {
                let filter = Filter {
                    since: since.map(|age| {
                        grapevine::now_ms()
                            .saturating_sub(age.as_millis().min(i64::MAX as u128) as i64)
                    }),
                    unread_only: unread,
                    limit: (!all).then_some(limit),
                    ..Filter::default()
                };
                let posts = node.timeline(&filter)?;
                let empty = if unread {
                    "nothing unread"
                } else {
                    "no posts yet: follow someone and import their bundle (see `grapevine help`)"
                };
                let shown = posts.len() as u64;
                let mut text = listing(&mut node, &names, posts, json, empty)?;
                if !json && !all && shown == limit {
                    let more = node.store().count_posts(&filter)?.saturating_sub(shown);
                    if more > 0 {
                        text += &format!(
                            "\n\n… and {} (`grapevine timeline --limit N` or `--all` shows them)",
                            count(more, "older post", "older posts")
                        );
                    }
                }
                text
            }
            Reading::Thread { message, json } => {
                let id = resolve_message(node.store(), &message)?;
                let thread = node.store().thread(&id)?;
                if thread.is_empty() {
                    bail!("{id} is not a post held here (`grapevine show` shows any message)");
                }
                let text = if json {
                    let array: Vec<Value> = thread
                        .iter()
                        .map(|(depth, p)| {
                            let mut v = post_json(p, &names);
                            v["depth"] = json!(depth);
                            v
                        })
                        .collect();
                    pretty(&Value::Array(array))?
                } else {
                    let (now, style) = (grapevine::now_ms(), Style::new());
                    thread
                        .iter()
                        .map(|(depth, p)| post(p, &names, now, *depth, &style))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let shown: Vec<&PostView> = thread.iter().map(|(_, p)| p).collect();
                node.mark_read(&shown)?;
                text
            }
            Reading::Show { message, json } => show(&mut node, &names, &message, json)?,
            Reading::Inbox { with, limit, json } => inbox(&mut node, &names, with, limit, json)?,
            Reading::Feed {
                person,
                limit,
                json,
            } => {
                let feed = person_or_me(&node, &names, person.as_deref())?;
                feed_text(&node, &names, feed, limit, json)?
            }
            Reading::Mentions {
                person,
                limit,
                json,
            } => {
                let feed = person_or_me(&node, &names, person.as_deref())?;
                let posts = node.store().mentioning(names.person(&feed), limit)?;
                let empty = format!("no post held here mentions {}", names.name(&feed));
                listing(&mut node, &names, posts, json, &empty)?
            }
            Reading::Tag { name, limit, json } => match name {
                Some(tag) => {
                    let posts = node.store().tagged(&tag, limit)?;
                    let empty = format!(
                        "no post held here is tagged #{}",
                        view::escape(tag.trim_start_matches('#'))
                    );
                    listing(&mut node, &names, posts, json, &empty)?
                }
                None => {
                    let tags = node.store().tags(limit)?;
                    if json {
                        pretty(&Value::Array(
                            tags.iter()
                                .map(|(t, n)| json!({"tag": t, "posts": n}))
                                .collect(),
                        ))?
                    } else if tags.is_empty() {
                        "no tags yet: a #word in a post tags it".into()
                    } else {
                        tags.iter()
                            .map(|(t, n)| format!("#{} ({})", view::escape(t), counted(*n, "post")))
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                }
            },
            Reading::Search { words, limit, json } => {
                let posts = node.store().search(&words.join(" "), limit)?;
                listing(
                    &mut node,
                    &names,
                    posts,
                    json,
                    "no post held here has all those words",
                )?
            }
        };
        ctx.say(text)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Posts, one after another (or a JSON array); marks them read.
fn listing(
    node: &mut Node,
    names: &Names,
    posts: Vec<PostView>,
    json: bool,
    empty: &str,
) -> Result<String> {
    let text = if json {
        pretty(&Value::Array(
            posts.iter().map(|p| post_json(p, names)).collect(),
        ))?
    } else if posts.is_empty() {
        empty.to_owned()
    } else {
        let (now, style) = (grapevine::now_ms(), Style::new());
        posts
            .iter()
            .map(|p| post(p, names, now, 0, &style))
            .collect::<Vec<_>>()
            .join("\n\n")
    };
    node.mark_read(&posts.iter().collect::<Vec<_>>())?;
    Ok(text)
}

fn show(node: &mut Node, names: &Names, input: &str, json: bool) -> Result<String> {
    let id = resolve_message(node.store(), input)?;
    if let Some(p) = node.store().post(&id)? {
        let text = if json {
            let mut value = post_json(&p, names);
            value["liked_by"] = node
                .store()
                .likers(&id)?
                .iter()
                .map(|f| names.json(f))
                .collect();
            pretty(&value)?
        } else {
            let mut text = post(&p, names, grapevine::now_ms(), 0, &Style::new());
            let likers = node.store().likers(&id)?;
            if !likers.is_empty() {
                let who: Vec<String> = likers.iter().map(|f| names.name(f)).collect();
                text += &format!("\n    liked by {}", who.join(", "));
            }
            text += &format!(
                "\n    {} #{} · written {}",
                id,
                p.message.header.sequence,
                view::time(p.message.header.timestamp)
            );
            text
        };
        node.mark_read(&[&p])?;
        return Ok(text);
    }
    let Some(message) = node.store().message(&id)? else {
        bail!("no message {id} is held here; import the bundle that carries it");
    };
    let readable = node.readable_content(&message)?;
    if json {
        return pretty(&message_json(names, &message, readable));
    }
    Ok(format!(
        "{} · {}\n{}",
        names.author_label(&message.header.author, message.header.sequence),
        render::when(message.header.timestamp, grapevine::now_ms()),
        view::message_text(&message, readable, &|f| names.name(f))
    ))
}

/// A message of any kind in JSON (docs/json.md "message").
fn message_json(
    names: &Names,
    message: &grapevine::message::Message,
    readable: Option<Value>,
) -> Value {
    let mut value = view::message_json(message, readable);
    value["author"] = names.json(&message.header.author);
    value
}

fn inbox(
    node: &mut Node,
    names: &Names,
    with: Option<String>,
    limit: usize,
    json: bool,
) -> Result<String> {
    let mut conversations = node.conversations(if with.is_some() { usize::MAX } else { limit })?;
    if let Some(person) = with {
        let feed = resolve_person(node, names, &person, true)?;
        conversations.retain(|c| c.with.contains(&names.person(&feed)[0]));
    }
    let text = if json {
        pretty(&Value::Array(
            conversations
                .iter()
                .map(|c| grapevine::view::json::conversation_json(c, names))
                .collect(),
        ))?
    } else if conversations.is_empty() {
        "no private messages yet: `grapevine dm --to PERSON TEXT` starts a conversation".into()
    } else {
        let (now, style) = (grapevine::now_ms(), Style::new());
        let mut text = Vec::new();
        for c in &conversations {
            let with: Vec<String> = c.with.iter().map(|f| names.name(f)).collect();
            let mut head = format!(
                "with {}",
                if with.is_empty() {
                    "yourself".to_owned()
                } else {
                    with.join(", ")
                }
            );
            if c.unread() > 0 {
                head += &format!(" · {} unread", c.unread());
            }
            let mut block = style.bold(&head);
            for p in c.posts.iter().rev() {
                block += "\n";
                block += &post(p, names, now, 1, &style);
            }
            text.push(block);
        }
        text.join("\n\n")
    };
    let shown: Vec<&PostView> = conversations.iter().flat_map(|c| &c.posts).collect();
    node.mark_read(&shown)?;
    Ok(text)
}

fn feed_text(
    node: &Node,
    names: &Names,
    feed: grapevine::FeedId,
    limit: u64,
    json: bool,
) -> Result<String> {
    let messages = node.feed(&feed, limit)?;
    if json {
        let mut array = Vec::with_capacity(messages.len());
        for m in &messages {
            array.push(message_json(names, m, node.readable_content(m)?));
        }
        return pretty(&Value::Array(array));
    }
    let summary = node.store().feeds()?.into_iter().find(|f| f.feed == feed);
    let Some(summary) = summary else {
        bail!(
            "this node holds no messages of {}. Import a bundle that carries it \
             (grapevine import PATH)",
            names.name(&feed)
        );
    };
    let mut text = format!(
        "{} {feed}: {}",
        names.label(&feed),
        counted(summary.frontier.sequence, "message")
    );
    if summary.pending > 0 {
        text += &format!(", {} more waiting for earlier ones", summary.pending);
    }
    if summary.forked {
        text += "\nWARNING: this feed is forked: its author signed two different histories";
    }
    for message in &messages {
        text += "\n\n";
        text += &view::message_text(message, node.readable_content(message)?, &|f| names.name(f));
    }
    Ok(text)
}
