//! This node: creating it, what it holds, settings, peers, the network picture, the
//! consistency check, the demo, and shell completions and the man page.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use grapevine::{FeedId, Node, view};
use serde_json::json;

use super::graph::{GraphFormat, graph_format, graph_json, graph_outline};
use super::render::{count, counted, pretty, when};
use super::{Ctx, EXIT_INCONSISTENT};

#[derive(Subcommand)]
pub enum Settings {
    /// Create your identity and an empty store; prints your new feed id.
    #[command(after_help = "Example:\n  grapevine init --name alice")]
    Init(InitArgs),
    /// Show your key as 24 words to keep on paper (or write it to a passphrase-locked file):
    /// the way back after a lost or broken computer.
    #[command(
        after_help = "Examples:\n  grapevine backup\n  grapevine backup --file /media/$USER/SAFE/alice.key"
    )]
    Backup(BackupArgs),
    /// Print your feed id (give it to people so they can follow you).
    Whoami {
        /// Print as JSON (your id and name).
        #[arg(long)]
        json: bool,
    },
    /// You, your name, what you hold, unread messages, peers, pending and forks at a glance.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read or change a setting (hops: how many follow-steps away feeds are replicated).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Peers you exchanged bundles with: when last heard, how, how far behind.
    Peers {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Draw your gossip network: you, friends, friends of friends, blocked feeds. On a
    /// terminal without --out it lists them by hops; the picture goes to a file or a pipe.
    #[command(
        after_help = "Examples:\n  grapevine graph --out network.svg   (open it in a browser)\n  \
                      grapevine graph --out network.dot   (Graphviz)"
    )]
    Graph(GraphArgs),
    /// Prove the store consistent: SQLite's integrity check, every chain linked from 1, frontiers,
    /// pending and fork records, names, contacts and inbox agreeing with the messages.
    /// Exits 4 if anything is wrong.
    Check {
        /// Skip verifying every stored signature again (much faster on a large store).
        #[arg(long)]
        no_signatures: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open grapevine in a browser window on this computer: prints the link to open (it works
    /// once; a new one is printed when it was used). Ctrl-C ends it.
    #[command(after_help = "Example:\n  grapevine ui")]
    Ui(super::window::UiArgs),
    /// Three people, one USB stick and a spammer: a tour in a temporary folder.
    Demo(super::window::DemoArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  grapevine completions bash > ~/.local/share/bash-completion/completions/grapevine"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  grapevine man > grapevine.1 && man ./grapevine.1")]
    Man,
}

#[derive(Subcommand)]
pub enum ConfigAction {
    /// Print a setting's value.
    Get {
        /// hops, network, pub, folder-stale-days or forget-after-days.
        key: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a setting.
    Set {
        /// hops, network, pub, folder-stale-days or forget-after-days.
        key: String,
        /// The new value.
        value: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Settings {
    pub fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let text = match self {
            Settings::Ui(args) => return args.run(ctx),
            Settings::Demo(args) => return args.run(ctx),
            Settings::Completions { shell } => {
                clap_complete::generate(shell, &mut super::command(), "grapevine", &mut ctx.out);
                return Ok(ExitCode::SUCCESS);
            }
            Settings::Man => {
                clap_mangen::Man::new(super::command()).render(&mut ctx.out)?;
                return Ok(ExitCode::SUCCESS);
            }
            Settings::Backup(args) => args.run(ctx)?,
            Settings::Init(args) => args.run(ctx)?,
            Settings::Check {
                no_signatures,
                json,
            } => return check(ctx, no_signatures, json),
            Settings::Whoami { json } => {
                let node = ctx.node()?;
                if json {
                    pretty(&json!({ "me": node.names()?.json(&node.id()) }))?
                } else {
                    node.id().to_string()
                }
            }
            Settings::Status { json } => status(&ctx.node()?, json)?,
            Settings::Config { action } => {
                let mut node = ctx.node()?;
                match action {
                    ConfigAction::Get { key, json } => {
                        let value = node.config(&key)?;
                        if json {
                            pretty(&json!({ "key": key, "value": value }))?
                        } else {
                            value
                        }
                    }
                    ConfigAction::Set { key, value, json } => {
                        node.set_config(&key, &value)?;
                        let value = node.config(&key)?;
                        if json {
                            pretty(&json!({ "key": key, "value": value }))?
                        } else {
                            format!("{key} = {value}")
                        }
                    }
                }
            }
            Settings::Peers { json } => peers(&ctx.node()?, json)?,
            Settings::Graph(args) => match args.run(ctx)? {
                Some(text) => text,
                None => return Ok(ExitCode::SUCCESS),
            },
        };
        ctx.say(text)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// What `init` made, in words (the feed id alone, for scripts that read it) or JSON.
fn created(node: &Node, restored: bool, json: bool) -> Result<String> {
    if json {
        return pretty(&json!({
            "me": node.names()?.json(&node.id()),
            "home": node.home()?,
            "restored": restored,
        }));
    }
    Ok(node.id().to_string())
}

/// The store alone: a check needs no key, so it runs even where the key cannot be read.
fn check(ctx: &mut Ctx, no_signatures: bool, json: bool) -> Result<ExitCode> {
    let home = ctx.home()?;
    let path = home.join(grapevine::node::STORE_FILE);
    if !path.is_file() {
        bail!(
            "{} holds no store; run `grapevine init` first",
            home.display()
        );
    }
    let report = grapevine::store::Store::open(&path)?.check(!no_signatures)?;
    ctx.say(check_text(&report, json)?)?;
    Ok(if report.is_consistent() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INCONSISTENT)
    })
}

fn check_text(report: &grapevine::store::CheckReport, json: bool) -> Result<String> {
    if json {
        return pretty(&json!({
            "consistent": report.is_consistent(),
            "feeds": report.feeds,
            "messages": report.messages,
            "pending": report.pending,
            "forks": report.forks,
            "signatures_checked": report.signatures_checked,
            "problems": report.problems,
            "more_problems": report.more_problems,
        }));
    }
    let mut text = format!(
        "checked {} of {}, {} pending, {}; {} verified",
        counted(report.messages, "message"),
        counted(report.feeds, "feed"),
        report.pending,
        counted(report.forks, "fork record"),
        counted(report.signatures_checked, "signature")
    );
    if report.is_consistent() {
        text += "\nthe store is consistent";
    } else {
        for problem in &report.problems {
            text += &format!("\nPROBLEM: {}", view::escape(problem));
        }
        if report.more_problems > 0 {
            text += &format!("\n… and {} more problems", report.more_problems);
        }
        text += "\nthe store is NOT consistent: keep a copy of the home folder before changing it";
    }
    Ok(text)
}

/// Backup words: typed at a prompt that does not echo them, or read from standard input.
fn read_words() -> Result<zeroize::Zeroizing<String>> {
    use std::io::{IsTerminal, Read};
    if std::io::stdin().is_terminal() {
        let typed = rpassword::prompt_password("your 24 backup words: ")
            .context("could not read the words")?;
        return Ok(zeroize::Zeroizing::new(typed));
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut text)
        .context("could not read the words from standard input")?;
    Ok(text)
}

fn restored_advice(node: &Node) -> String {
    let home = node
        .home()
        .map(|h| h.display().to_string())
        .unwrap_or_default();
    format!(
        "restored your key in {}. Before it writes anything, this node needs your diary's newest \
         message. Run `grapevine sync-dir STICK` on a stick (or shared folder) that someone who \
         follows you syncs too: your bundle there asks for your diary, their next one brings it, \
         and your next sync-dir takes it in. `grapevine sync HOST:PORT` with them does it at once",
        home
    )
}

/// A new passphrase: from GRAPEVINE_PASSPHRASE, or typed twice on the terminal.
fn new_passphrase() -> Result<zeroize::Zeroizing<String>> {
    use grapevine::identity::{PASSPHRASE_VAR, passphrase};
    let Some(first) = passphrase("new passphrase for the key: ")? else {
        bail!("--passphrase needs a terminal to ask on, or {PASSPHRASE_VAR} set");
    };
    if std::env::var_os(PASSPHRASE_VAR).is_none() {
        let again = passphrase("the same passphrase again: ")?.unwrap_or_default();
        if *again != *first {
            bail!("the two passphrases differ; nothing was created");
        }
    }
    if first.chars().count() < 12 {
        eprintln!(
            "warning: a passphrase of fewer than 12 characters is easy to guess for whoever \
             takes the key file; a few unrelated words are better"
        );
    }
    Ok(first)
}

fn status(node: &Node, as_json: bool) -> Result<String> {
    let (messages, pending, feeds) = node.store().counts()?;
    let hidden = node.store().hidden_feeds()?.len();
    let requests = node.store().requests()?;
    let forks = node.store().forks()?;
    let (unread, unread_private) = node.store().unread()?;
    let names = node.names()?;
    let me = node.id();
    let peers = by_name(node.peers()?, &names);
    let devices: Vec<FeedId> = names
        .person(&me)
        .iter()
        .filter(|d| **d != me)
        .copied()
        .collect();
    let now = grapevine::now_ms();
    if as_json {
        let value = json!({
            "me": names.json(&me),
            "devices": devices.iter().map(|d| names.json(d)).collect::<Vec<_>>(),
            "home": node.home()?,
            "store": node.store_path(),
            "feeds": feeds,
            "messages": messages,
            "pending": pending,
            "unread_posts": unread,
            "unread_private": unread_private,
            "peers": peers.iter().map(|p| json!({
                "peer": names.json(&p.peer),
                "last_heard": p.last_heard,
                "behind": p.behind,
            })).collect::<Vec<_>>(),
            "watching": grapevine::watch::watching(node).map(|(folders, _)| folders).unwrap_or_default(),
            "serving": grapevine::lan::serve::serving(node).map(|(address, _)| address),
            "fork_proofs": forks.iter().map(|(f, s)| json!({"feed": names.json(f), "sequence": s})).collect::<Vec<_>>(),
            "restoring": node.restore_wait()?.map(|(held, known)| json!({"held": held, "known": known})),
            "hidden_feeds": hidden,
            "requests": requests.len(),
        });
        return pretty(&value);
    }
    let mut text = format!(
        "you      {} {me}\nhome     {}\nholds    {} of {}",
        names.name(&me),
        node.home()?.display(),
        counted(messages, "message"),
        counted(feeds, "feed"),
    );
    if pending > 0 {
        text += &format!(" ({pending} more waiting for earlier messages)");
    }
    if !requests.is_empty() {
        let mut from: Vec<String> = requests.iter().map(|r| names.name(&r.author)).collect();
        from.sort();
        from.dedup();
        text += &format!(
            "\nrequests {} for you from {}, whom you don't follow: `grapevine requests`",
            count(requests.len() as u64, "private message", "private messages"),
            from.join(", ")
        );
    }
    if hidden > 0 {
        text += &format!(
            "\nhidden   {} you unfollowed or blocked: following again shows {} at once \
             (forgotten after {} days, or with `grapevine forget`)",
            counted(hidden as u64, "feed"),
            if hidden == 1 { "it" } else { "them" },
            node.forget_after_days()?
        );
    }
    if let Some((held, known)) = node.restore_wait()? {
        let heard = if node.store().peers()?.is_empty() {
            "no one heard from yet".to_owned()
        } else {
            format!("peers hold it up to message {known}")
        };
        text += &format!(
            "\nrestored waiting for your own diary before you can write: this node holds {held} \
             of its messages, {heard}. Sync a stick or folder with someone who follows you \
             (`grapevine sync-dir STICK`, they sync it, then you again)"
        );
    }
    if !devices.is_empty() {
        let listed: Vec<String> = devices
            .iter()
            .map(|d| format!("{} ({})", names.name(d), d.short()))
            .collect();
        text += &format!("\ndevices  also you: {}", listed.join(", "));
    }
    text += &format!(
        "\nunread   {} (`grapevine timeline`), {} (`grapevine inbox`)",
        count(unread, "post", "posts"),
        count(unread_private, "private message", "private messages")
    );
    match grapevine::watch::watching(node) {
        Some((folders, since)) => {
            text += &format!(
                "\nwatching {} (since {})",
                folders
                    .iter()
                    .map(|f| view::escape(f))
                    .collect::<Vec<_>>()
                    .join(", "),
                when(since, now)
            )
        }
        None => text += "\nwatching nothing (`grapevine watch FOLDER` keeps a folder in sync)",
    }
    if let Some((address, since)) = grapevine::lan::serve::serving(node) {
        text += &format!(
            "\nserving  the local network on {address} (since {})",
            when(since, now)
        );
    }
    if peers.is_empty() {
        text += "\npeers    none yet: export a bundle to a stick, or `grapevine sync HOST:PORT`";
    }
    for p in &peers {
        let heard = p.last_heard.map_or("never".into(), |at| when(at, now));
        text += &format!(
            "\npeer     {} heard {heard}, {} behind",
            names.name(&p.peer),
            counted(p.behind, "message")
        );
    }
    for (feed, seq) in forks {
        text += &format!(
            "\nFORK     {} ({feed}) signed two different messages {seq}",
            names.name(&feed)
        );
    }
    Ok(text)
}

/// Peers in the order people look for them: by name.
fn by_name(
    mut peers: Vec<grapevine::node::PeerView>,
    names: &grapevine::people::Names,
) -> Vec<grapevine::node::PeerView> {
    peers.sort_by_cached_key(|p| (names.name(&p.peer).to_lowercase(), p.peer));
    peers
}

fn peers(node: &Node, json: bool) -> Result<String> {
    let names = node.names()?;
    let peers = by_name(node.peers()?, &names);
    if json {
        return pretty(&serde_json::Value::Array(
            peers
                .iter()
                .map(|p| {
                    json!({
                        "peer": names.json(&p.peer),
                        "last_heard": p.last_heard,
                        "via": p.via,
                        "last_export": p.last_export,
                        "behind": p.behind,
                        "forked": p.forked,
                    })
                })
                .collect(),
        ));
    }
    if peers.is_empty() {
        return Ok("no peers yet: import a bundle someone exported, or export --for PERSON".into());
    }
    let now = grapevine::now_ms();
    let mut text = String::new();
    for p in peers {
        let heard = p.last_heard.map_or("never".into(), |at| when(at, now));
        let via = p.via.as_deref().map(view::escape).unwrap_or_default();
        let sent = p.last_export.map_or("never".into(), |at| when(at, now));
        text += &format!(
            "{} {}\n    heard {heard} {via}; last bundle for them {sent}; {} behind{}\n",
            names.name(&p.peer),
            p.peer,
            counted(p.behind, "message"),
            if p.forked { "; FORKED feed" } else { "" }
        );
    }
    Ok(text.trim_end().to_owned())
}

#[derive(Args)]
pub struct InitArgs {
    /// The name to publish for your feed.
    #[arg(long)]
    name: Option<String>,
    /// Lock the key with a passphrase (asked twice, or taken from GRAPEVINE_PASSPHRASE);
    /// every later command then needs it.
    #[arg(long)]
    passphrase: bool,
    /// Restore your key from the 24 backup words `grapevine backup` showed (typed at the
    /// prompt, or read from standard input). Nothing is written until your diary's newest
    /// message is back.
    #[arg(long, conflicts_with_all = ["restore_file", "name"])]
    restore: bool,
    /// Restore your key from a key file `grapevine backup --file` wrote.
    #[arg(long, value_name = "FILE", conflicts_with = "name")]
    restore_file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl InitArgs {
    /// A new identity, or one restored from its words or its key file: what was made, said.
    fn run(self, ctx: &mut Ctx) -> Result<String> {
        let Self {
            name,
            passphrase,
            restore,
            restore_file,
            json,
        } = self;
        Ok({
            if restore {
                let words = read_words()?;
                let identity = grapevine::backup::identity_from_words(&words)?;
                let phrase = if passphrase {
                    Some(new_passphrase()?)
                } else {
                    None
                };
                let node = Node::init_restored(
                    &ctx.home()?,
                    &identity,
                    None,
                    phrase.as_deref().map(|p| p.as_str()),
                )?;
                eprintln!("{}", restored_advice(&node));
                created(&node, true, json)?
            } else if let Some(file) = restore_file {
                let identity = grapevine::identity::Identity::load(&file)?;
                let node = Node::init_restored(&ctx.home()?, &identity, Some(&file), None)?;
                eprintln!("{}", restored_advice(&node));
                created(&node, true, json)?
            } else {
                let phrase = if passphrase {
                    Some(new_passphrase()?)
                } else {
                    None
                };
                let node = Node::init_with(
                    &ctx.home()?,
                    name.as_deref(),
                    phrase.as_deref().map(|p| p.as_str()),
                )?;
                eprintln!(
                    "created your identity in {}; give your feed id (below) to the people \
                 who should follow you",
                    node.home()?.display()
                );
                created(&node, false, json)?
            }
        })
    }
}

#[derive(Args)]
pub struct BackupArgs {
    /// Write a passphrase-locked key file here instead of showing words.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print the words (or the file written) as JSON.
    #[arg(long)]
    json: bool,
}

impl BackupArgs {
    fn run(self, ctx: &mut Ctx) -> Result<String> {
        let Self { file, json } = self;
        Ok({
            let node = ctx.node()?;
            let identity =
                grapevine::identity::Identity::load(&node.home()?.join(grapevine::node::KEY_FILE))?;
            match file {
                Some(file) => {
                    let phrase = new_passphrase()?;
                    identity.save_new_locked(&file, &phrase)?;
                    if json {
                        pretty(&json!({ "file": file }))?
                    } else {
                        format!(
                            "wrote your key to {}, locked with the passphrase; `grapevine init \
                     --restore-file` takes it back",
                            file.display()
                        )
                    }
                }
                None => {
                    eprintln!(
                        "These 24 words are your key: whoever reads them can write as you. \
                     Write them on paper and keep it safe; grapevine keeps no copy of \
                     them. `grapevine init --restore` takes them back."
                    );
                    let words = grapevine::backup::words(&identity).to_string();
                    if json {
                        let list: Vec<&str> = words.split_whitespace().collect();
                        pretty(&json!({ "words": list }))?
                    } else {
                        words
                    }
                }
            }
        })
    }
}

#[derive(Args)]
pub struct GraphArgs {
    /// Picture format (default: from the --out file's extension, else SVG).
    #[arg(long, value_enum)]
    format: Option<GraphFormat>,
    /// Write to this file (.svg or .dot) instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the network as JSON instead of a picture.
    #[arg(long, conflicts_with_all = ["format", "out"])]
    json: bool,
}

impl GraphArgs {
    /// The picture, or the words to print; `None` when it was printed already.
    fn run(self, ctx: &mut Ctx) -> Result<Option<String>> {
        let Self { format, out, json } = self;
        Ok(Some({
            let node = ctx.node()?;
            let picture = node.picture()?;
            if json {
                ctx.say(graph_json(&node, &picture)?)?;
                return Ok(None);
            }
            let format = graph_format(format, out.as_deref())?;
            if out.is_none() && std::io::stdout().is_terminal() {
                ctx.say(graph_outline(&picture))?;
                return Ok(None);
            }
            let text = match format {
                GraphFormat::Dot => picture.dot(),
                GraphFormat::Svg => picture.svg(),
            };
            match out {
                Some(file) => {
                    grapevine::fsutil::write_atomically(&file, |w| w.write_all(text.as_bytes()))
                        .with_context(|| format!("could not write {}", file.display()))?;
                    format!(
                        "wrote {} ({})",
                        file.display(),
                        counted(picture.nodes.len() as u64, "feed")
                    )
                }
                None => text.trim_end().to_owned(),
            }
        }))
    }
}
