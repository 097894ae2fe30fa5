//! The `grapevine` command: a thin layer over [`grapevine::Node`].

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use grapevine::content::ContactChange;
use grapevine::node::{ExportOptions, ImportSummary, Node};
use grapevine::{FeedId, MessageId, view};
use serde_json::json;

/// Gossip securely with no internet: signed diaries carried on USB sticks and shared folders.
#[derive(Parser)]
#[command(name = "grapevine", version, propagate_version = true)]
struct Cli {
    /// The node's home folder (identity and store).
    #[arg(long, global = true, env = "GRAPEVINE_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an identity and an empty store; prints the new feed id.
    Init {
        /// A name to publish for the new feed.
        #[arg(long)]
        name: Option<String>,
        /// Lock the key with a passphrase (asked twice, or taken from GRAPEVINE_PASSPHRASE);
        /// every later command then needs it.
        #[arg(long)]
        passphrase: bool,
    },
    /// Print this node's feed id.
    Whoami,
    /// Post a public message ('-' reads the text from standard input).
    Post { text: String },
    /// Reply to a message.
    Reply { message: MessageId, text: String },
    /// Send a private message: only the recipients (and you) can read it, and no one else can
    /// tell who they are.
    Dm {
        /// A recipient's feed id; repeat for up to 15 recipients.
        #[arg(long = "to", required = true, value_name = "ID")]
        to: Vec<FeedId>,
        /// The text ('-' reads standard input).
        text: String,
    },
    /// Private messages you can read (sent and received), newest first.
    Inbox {
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Publish the name others should show for this feed.
    Name { name: String },
    /// Follow a feed.
    Follow { feed: FeedId },
    /// Stop following a feed.
    Unfollow { feed: FeedId },
    /// Block a feed.
    Block { feed: FeedId },
    /// Stop blocking a feed.
    Unblock { feed: FeedId },
    /// Show a feed, newest first (this node's own by default).
    Feed {
        feed: Option<FeedId>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print a JSON array of messages.
        #[arg(long)]
        json: bool,
    },
    /// Write a bundle: into a folder (a new file name is chosen) or to a new file.
    ///
    /// Into a folder it replaces your older bundle there, and carries what its readers lack:
    /// the folder's recent other participants (from their bundles there); or, on a stick only
    /// you write to, what is new since your last bundle on it plus what the peers you heard
    /// from lately lack. Nothing is written when no one lacks anything.
    Export {
        path: PathBuf,
        /// Carry only what this peer lacks (repeat for several peers).
        #[arg(long = "for", value_name = "ID")]
        for_peers: Vec<FeedId>,
        /// Carry everything you replicate, whatever others hold.
        #[arg(long, conflicts_with = "for_peers")]
        all: bool,
        /// Encrypt the whole bundle to the --for peers: a lost stick shows only its size.
        #[arg(long, requires = "for_peers")]
        seal: bool,
        /// Write a bundle even when no reader lacks anything (it still tells what you hold).
        #[arg(long)]
        anyway: bool,
    },
    /// Import bundle files, and every bundle in the folders named.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show this node's identity and what it holds.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// One round in a drop folder (a stick, a shared folder): import everyone else's bundles,
    /// write ours, remove our superseded ones.
    SyncDir {
        dir: PathBuf,
        /// Only import; write nothing into the folder.
        #[arg(long)]
        no_export: bool,
    },
    /// Stay running: merge every bundle that shows up in these folders, keep ours there
    /// current, and sync sticks mounted under mount roots (/media/$USER, …).
    Watch {
        /// Drop folders, or mount roots (/media, /media/$USER, /run/media/$USER).
        #[arg(required_unless_present = "media")]
        dirs: Vec<PathBuf>,
        /// Treat this folder as a mount root: each stick mounted in it is synced in its
        /// `grapevine/` folder.
        #[arg(long, value_name = "DIR")]
        media: Vec<PathBuf>,
        /// Only import; write nothing into the folders.
        #[arg(long)]
        no_export: bool,
        /// Print events as JSON lines.
        #[arg(long)]
        json: bool,
        /// Rescan every folder this often (seconds), for changes notify misses.
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        rescan: u64,
        /// Take a file that stays incomplete and unchanged this long (seconds) as cut for good.
        #[arg(long, default_value_t = 10, value_name = "SECS")]
        settle: u64,
    },
    /// Stay running on the local network: accept sessions, announce yourself, sync with peers
    /// you replicate as you hear them, and push new messages to them live.
    Serve {
        #[arg(long, default_value = "0.0.0.0:8008", value_name = "ADDR")]
        listen: SocketAddr,
        /// Do not announce or listen for peers (pubs and incoming sessions still work).
        #[arg(long)]
        no_discovery: bool,
        /// Pub mode: also replicate everyone who follows you, and whoever connects.
        #[arg(long = "pub")]
        pub_mode: bool,
        /// UDP port for discovery announcements.
        #[arg(long, default_value_t = grapevine::lan::DEFAULT_PORT, value_name = "PORT")]
        discovery_port: u16,
        /// Announce every this many seconds.
        #[arg(long, default_value_t = 5, value_name = "SECS")]
        announce: u64,
        /// Drop a peer silent for this many seconds.
        #[arg(long, default_value_t = 45, value_name = "SECS")]
        timeout: u64,
        /// Network name (default: `config get network`); only nodes with the same name talk.
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
    },
    /// One session with a peer on the network, then a summary.
    Sync {
        /// The peer's HOST:PORT.
        address: String,
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
        #[arg(long, value_name = "NAME")]
        network: Option<String>,
    },
    /// Always-on peers that `serve` visits.
    Pub {
        #[command(subcommand)]
        action: PubAction,
    },
    /// Read or change a setting (hops: how many follow-steps away feeds are replicated).
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Peers you exchanged bundles with: when last heard, how, how far behind.
    Peers {
        #[arg(long)]
        json: bool,
    },
    /// Draw your gossip network: you, friends, friends of friends, blocked feeds.
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Svg)]
        format: GraphFormat,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Prove the store consistent: SQLite's integrity check, every chain linked from 1, frontiers,
    /// pending and fork records, names, contacts and inbox agreeing with the messages.
    /// Exits 4 if anything is wrong.
    Check {
        /// Skip verifying every stored signature again (much faster on a large store).
        #[arg(long)]
        no_signatures: bool,
        #[arg(long)]
        json: bool,
    },
    /// Three people, one USB stick: a tour in a temporary folder.
    Demo,
}

#[derive(Subcommand)]
enum PubAction {
    /// Remember a pub by HOST:PORT.
    Add { address: String },
    /// List known pubs.
    List,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print a setting's value.
    Get { key: String },
    /// Change a setting.
    Set { key: String, value: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GraphFormat {
    Dot,
    Svg,
}

/// Exit status when an import finished but some bundle was damaged or had rejected messages.
const EXIT_IMPORT_PROBLEMS: u8 = 3;
/// Exit status of `check` when the store is not consistent.
const EXIT_INCONSISTENT: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("grapevine: {}", error_text(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: most of our errors already include their cause
/// in their own text, and printing the chain as well would repeat it.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text += ": ";
            }
            text += &part;
        }
    }
    text
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn home(cli_home: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(home) = cli_home {
        return Ok(home);
    }
    directories::ProjectDirs::from("", "", "grapevine")
        .map(|dirs| dirs.data_dir().to_owned())
        .context("no home folder could be found; pass --home DIR or set GRAPEVINE_HOME")
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    if let Command::Demo = cli.command {
        grapevine::demo::run(&mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let home = home(cli.home)?;
    if let Command::Init { name, passphrase } = &cli.command {
        let phrase = if *passphrase {
            Some(new_passphrase()?)
        } else {
            None
        };
        let node = Node::init_with(
            &home,
            name.as_deref(),
            phrase.as_deref().map(|p| p.as_str()),
        )?;
        writeln!(out, "{}", node.id())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Check {
        no_signatures,
        json,
    } = cli.command
    {
        // The store alone: a check needs no key, so it runs even where the key cannot be read.
        let path = home.join(grapevine::node::STORE_FILE);
        if !path.is_file() {
            bail!(
                "{} holds no store; run `grapevine init` first",
                home.display()
            );
        }
        let report = grapevine::store::Store::open(&path)?.check(!no_signatures)?;
        writeln!(out, "{}", check_text(&report, json)?)?;
        return Ok(if report.is_consistent() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_INCONSISTENT)
        });
    }
    let mut node = Node::open(&home)?;
    let printed = match cli.command {
        Command::Init { .. } | Command::Demo | Command::Check { .. } => unreachable_command(),
        Command::Whoami => node.id().to_string(),
        Command::Post { text } => node.post(&read_text(text)?, None)?.id.to_string(),
        Command::Reply { message, text } => {
            node.post(&read_text(text)?, Some(message))?.id.to_string()
        }
        Command::Dm { to, text } => node.dm(&to, &read_text(text)?)?.id.to_string(),
        Command::Inbox { limit, json } => show_inbox(&node, limit, json)?,
        Command::Name { name } => node.set_name(&name)?.id.to_string(),
        Command::Follow { feed } => contact(&mut node, feed, ContactChange::Follow)?,
        Command::Unfollow { feed } => contact(&mut node, feed, ContactChange::Unfollow)?,
        Command::Block { feed } => contact(&mut node, feed, ContactChange::Block)?,
        Command::Unblock { feed } => contact(&mut node, feed, ContactChange::Unblock)?,
        Command::Feed { feed, limit, json } => show_feed(&node, feed, limit, json)?,
        Command::Export {
            path,
            for_peers,
            all,
            seal,
            anyway,
        } => {
            let options = ExportOptions {
                for_peers,
                all,
                seal,
                anyway,
            };
            let report = node.export(&path, &options)?;
            for stale in &report.stale {
                eprintln!("note: {}", node.stale_text(stale));
            }
            let mut text = match &report.wrote {
                Some(s) => format!(
                    "{}\nexported {} messages of {} feeds ({} bytes{})",
                    s.path.display(),
                    s.messages,
                    s.feeds,
                    s.bytes,
                    if s.sealed { ", sealed" } else { "" }
                ),
                None => match &report.already_there {
                    Some(ours) => format!(
                        "nothing to send: our bundle there already carries it ({}); --anyway \
                         writes a fresh one",
                        ours.display()
                    ),
                    None => "nothing to send: its readers already have everything we would \
                             write (--anyway writes a bundle regardless, --all writes everything)"
                        .to_owned(),
                },
            };
            for old in &report.removed {
                text += &format!("\nremoved our superseded {}", old.display());
            }
            text
        }
        Command::SyncDir { dir, no_export } => {
            let report = node.sync_dir(&dir, !no_export)?;
            for stale in &report.stale {
                eprintln!("note: {}", node.stale_text(stale));
            }
            let mut text = import_text(&node, &report.imported);
            match &report.wrote {
                Some(w) => {
                    text += &format!(
                        "\nwrote {} ({} messages of {} feeds)",
                        w.path.display(),
                        w.messages,
                        w.feeds
                    )
                }
                None if !no_export => text += "\nour bundle there is current",
                None => {}
            }
            for old in &report.removed {
                text += &format!("\nremoved our superseded {}", old.display());
            }
            writeln!(out, "{text}")?;
            return Ok(if report.imported.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_IMPORT_PROBLEMS)
            });
        }
        Command::Watch {
            dirs,
            media,
            no_export,
            json,
            rescan,
            settle,
        } => {
            let (roots, folders): (Vec<PathBuf>, Vec<PathBuf>) = dirs
                .into_iter()
                .partition(|d| grapevine::watch::is_media_root(d));
            let options = grapevine::watch::WatchOptions {
                folders: folders.iter().map(|f| absolute(f)).collect(),
                media: roots.iter().chain(&media).map(|f| absolute(f)).collect(),
                export: !no_export,
                json,
                rescan: std::time::Duration::from_secs(rescan.max(1)),
                settle: std::time::Duration::from_secs(settle),
            };
            grapevine::watch::run(&mut node, options, &mut out, None)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Serve {
            listen,
            no_discovery,
            pub_mode,
            discovery_port,
            announce,
            timeout,
            network,
        } => {
            let options = grapevine::lan::ServeOptions {
                listen,
                discovery: !no_discovery,
                discovery_port,
                announce_every: std::time::Duration::from_secs(announce.max(1)),
                pub_mode: pub_mode || node.is_pub()?,
                network: match network {
                    Some(n) => n,
                    None => node.network()?,
                },
                timeout: std::time::Duration::from_secs(timeout.max(1)),
                keepalive: std::time::Duration::from_secs((timeout / 3).max(1)),
                pub_every: std::time::Duration::from_secs(30),
            };
            let home = node.home().to_owned();
            drop(node);
            // Session threads print too: release this thread's hold on standard output.
            drop(out);
            let log = std::sync::Arc::new(|line: String| {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            });
            grapevine::lan::serve(&home, &options, log)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Sync {
            address,
            timeout,
            network,
        } => {
            let network = match network {
                Some(n) => n,
                None => node.network()?,
            };
            let home = node.home().to_owned();
            let report = grapevine::lan::sync(
                &home,
                &address,
                &network,
                std::time::Duration::from_secs(timeout.max(1)),
            )
            .with_context(|| format!("sync with {address} failed"))?;
            let peer = report.peer.map(|p| p.to_string()).unwrap_or_default();
            format!(
                "synced with {peer} at {address}: {}",
                grapevine::lan::serve::summary(&report)
            )
        }
        Command::Pub { action } => match action {
            PubAction::Add { address } => {
                node.add_pub(&address)?;
                format!("{address} added; `serve` visits it")
            }
            PubAction::List => node.pubs()?.join("\n"),
        },
        Command::Config { action } => match action {
            ConfigAction::Get { key } => node.config(&key)?,
            ConfigAction::Set { key, value } => {
                node.set_config(&key, &value)?;
                format!("{key} = {}", node.config(&key)?)
            }
        },
        Command::Peers { json } => show_peers(&node, json)?,
        Command::Graph { format, out: file } => {
            let picture = node.picture()?;
            let text = match format {
                GraphFormat::Dot => picture.dot(),
                GraphFormat::Svg => picture.svg(),
            };
            match file {
                Some(file) => {
                    grapevine::fsutil::write_atomically(&file, |w| w.write_all(text.as_bytes()))
                        .with_context(|| format!("could not write {}", file.display()))?;
                    format!("wrote {} ({} feeds)", file.display(), picture.nodes.len())
                }
                None => text.trim_end().to_owned(),
            }
        }
        Command::Import { paths } => {
            if let Some(missing) = paths.iter().find(|p| !p.exists()) {
                bail!(
                    "{}: no such file or folder. Check the path (is the stick mounted?)",
                    missing.display()
                );
            }
            let summary = node.import(&paths)?;
            writeln!(out, "{}", import_text(&node, &summary))?;
            return Ok(if summary.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_IMPORT_PROBLEMS)
            });
        }
        Command::Status { json } => status(&node, json)?,
    };
    writeln!(out, "{printed}")?;
    Ok(ExitCode::SUCCESS)
}

/// Absolute paths, so that event paths from notify compare equal to the folders we watch.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn unreachable_command() -> String {
    // init and demo return before a node is opened.
    String::new()
}

/// Publishes a contact message; prints its id, and on stderr what settling changed.
fn contact(node: &mut Node, feed: FeedId, change: ContactChange) -> Result<String> {
    let (message, settled) = node.contact(feed, change)?;
    let total = settled.total();
    if total.new > 0 {
        eprintln!(
            "took in {} messages from {} bundle files read before",
            total.new,
            settled.bundles.len()
        );
    }
    let dropped: u64 = settled.dropped.iter().map(|(_, n)| n).sum();
    if !settled.dropped.is_empty() {
        eprintln!(
            "dropped {dropped} messages of {} feeds you no longer replicate",
            settled.dropped.len()
        );
    }
    Ok(message.id.to_string())
}

fn check_text(report: &grapevine::store::CheckReport, json: bool) -> Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(&serde_json::json!({
            "consistent": report.is_consistent(),
            "feeds": report.feeds,
            "messages": report.messages,
            "pending": report.pending,
            "forks": report.forks,
            "signatures_checked": report.signatures_checked,
            "problems": report.problems,
            "more_problems": report.more_problems,
        }))?);
    }
    let mut text = format!(
        "checked {} messages of {} feeds, {} pending, {} fork records; {} signatures verified",
        report.messages, report.feeds, report.pending, report.forks, report.signatures_checked
    );
    if report.is_consistent() {
        text += "\nthe store is consistent";
    } else {
        for problem in &report.problems {
            text += &format!("\nPROBLEM: {}", grapevine::view::escape(problem));
        }
        if report.more_problems > 0 {
            text += &format!("\n… and {} more problems", report.more_problems);
        }
        text += "\nthe store is NOT consistent: keep a copy of the home folder before changing it";
    }
    Ok(text)
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

fn read_text(text: String) -> Result<String> {
    if text != "-" {
        return Ok(text);
    }
    let mut input = String::new();
    io::stdin()
        .read_to_string(&mut input)
        .context("could not read the text from standard input")?;
    Ok(input.trim_end_matches('\n').to_owned())
}

fn show_feed(node: &Node, feed: Option<FeedId>, limit: u64, json: bool) -> Result<String> {
    let feed = feed.unwrap_or_else(|| node.id());
    let messages = node.feed(&feed, limit)?;
    if json {
        let mut array = Vec::with_capacity(messages.len());
        for m in &messages {
            array.push(view::message_json(m, node.readable_content(m)?));
        }
        return Ok(serde_json::to_string_pretty(&array)?);
    }
    let summary = node.store().feeds()?.into_iter().find(|f| f.feed == feed);
    let Some(summary) = summary else {
        bail!(
            "this node holds no messages of {feed}. Import a bundle that carries it \
             (grapevine import PATH)"
        );
    };
    let name = summary
        .name
        .map(|n| view::escape(&n))
        .unwrap_or_else(|| "(no name)".into());
    let mut text = format!("{name} {feed}: {} messages", summary.frontier.sequence);
    if summary.pending > 0 {
        text += &format!(", {} more waiting for earlier ones", summary.pending);
    }
    if summary.forked {
        text += "\nWARNING: this feed is forked: its author signed two different histories";
    }
    for message in &messages {
        text += "\n\n";
        text += &view::message_text(message, node.readable_content(message)?);
    }
    Ok(text)
}

fn show_inbox(node: &Node, limit: u64, json: bool) -> Result<String> {
    let messages = node.inbox(limit)?;
    if json {
        let array: Vec<_> = messages
            .into_iter()
            .map(|(m, content)| view::message_json(&m, Some(content)))
            .collect();
        return Ok(serde_json::to_string_pretty(&array)?);
    }
    if messages.is_empty() {
        return Ok("no private messages yet".into());
    }
    let mut text = String::new();
    for (message, content) in messages {
        let author = message.header.author;
        let name = node
            .store()
            .name_of(&author)?
            .map(|n| view::escape(&n))
            .unwrap_or_else(|| author.short());
        if !text.is_empty() {
            text += "\n\n";
        }
        text += &format!("from {name} {author}\n");
        text += &view::message_text(&message, Some(content));
    }
    Ok(text)
}

fn status(node: &Node, as_json: bool) -> Result<String> {
    let (messages, pending, feeds) = node.store().counts()?;
    let forks = node.store().forks()?;
    if as_json {
        let value = json!({
            "feed": node.id(),
            "home": node.home(),
            "store": node.store_path(),
            "feeds": feeds,
            "messages": messages,
            "pending": pending,
            "forks": forks.iter().map(|(f, s)| json!({"feed": f, "sequence": s})).collect::<Vec<_>>(),
        });
        return Ok(serde_json::to_string_pretty(&value)?);
    }
    let mut text = format!(
        "feed     {}\nhome     {}\nstore    {}\nholds    {messages} messages of {feeds} feeds",
        node.id(),
        node.home().display(),
        node.store_path().display(),
    );
    if pending > 0 {
        text += &format!(" ({pending} more waiting for earlier messages)");
    }
    for (feed, seq) in forks {
        text += &format!("\nfork     {feed} signed two different messages {seq}");
    }
    Ok(text)
}

fn import_text(node: &Node, summary: &ImportSummary) -> String {
    let total = summary.total();
    let mut text = format!(
        "read {} bundles: {} new messages, {} already held, {} rejected, {} not wanted",
        summary.bundles.len(),
        total.new,
        total.already_held,
        total.rejected,
        total.not_wanted
    );
    if total.pending > 0 {
        text += &format!(
            " ({} of them wait for earlier messages, and show once those arrive)",
            total.pending
        );
    }
    for path in &summary.not_for_us {
        text += &format!(
            "\n{}: a sealed bundle not addressed to you (skipped; nothing in it can be read)",
            path.display()
        );
    }
    if total.unreadable > 0 {
        text += &format!(
            ", {} private messages for you that failed to open",
            total.unreadable
        );
    }
    if total.forks > 0 {
        text += &format!(", {} fork proofs recorded", total.forks);
    }
    for (path, error) in &summary.unreadable {
        text += &format!("\n{}: could not read: {error}", path.display());
    }
    for bundle in &summary.bundles {
        let name = bundle.path.display();
        if bundle.is_clean() {
            continue;
        }
        for problem in &bundle.container.problems {
            text += &format!("\n{name}: {problem}");
        }
        if bundle.container.problems_dropped > 0 {
            text += &format!(
                "\n{name}: … and {} more problems",
                bundle.container.problems_dropped
            );
        }
        for rejection in &bundle.messages.rejections {
            text += &format!("\n{name}: {rejection}");
        }
        text += &format!("\n{name}: {}", advice(bundle));
    }
    for bundle in summary.bundles.iter().filter(|b| b.messages.forks > 0) {
        for (feed, seq) in &bundle.messages.forked {
            text += &format!(
                "\n{}: {feed} signed two different messages {seq}: its feed is forked (a copied \
                 key, or a stolen one); the proof is kept and `grapevine feed` warns of it",
                bundle.path.display()
            );
        }
    }
    let unwanted = summary.not_wanted_feeds();
    if !unwanted.is_empty() {
        let only = total.new == 0 && total.already_held == 0;
        let named: Vec<String> = unwanted
            .iter()
            .map(|feed| match node.store().name_of(feed).ok().flatten() {
                Some(name) => format!("{} {feed}", view::escape(&name)),
                None => feed.to_string(),
            })
            .collect();
        text += &format!(
            "\n{} feeds you do not replicate: {}\nhint: `grapevine follow ID` takes a feed in from these files, \
             with the feeds it follows",
            if only {
                "these bundles hold only"
            } else {
                "not taken in:"
            },
            named.join(", ")
        );
    }
    text
}

fn show_peers(node: &Node, json: bool) -> Result<String> {
    let peers = node.peers()?;
    if json {
        return Ok(serde_json::to_string_pretty(&peers)?);
    }
    if peers.is_empty() {
        return Ok("no peers yet: import a bundle someone exported, or export --for ID".into());
    }
    let mut text = String::new();
    for p in peers {
        let name = p.name.clone().unwrap_or_else(|| "(no name)".into());
        let heard = p.last_heard.map_or("never".into(), view::time);
        let via = p.via.clone().unwrap_or_default();
        let sent = p.last_export.map_or("never".into(), view::time);
        text += &format!(
            "{name} {}\n    heard {heard} {via}; last bundle for it {sent}; {} messages behind{}\n",
            p.peer,
            p.behind,
            if p.forked { "; FORKED feed" } else { "" }
        );
    }
    Ok(text.trim_end().to_owned())
}

fn advice(bundle: &grapevine::node::BundleOutcome) -> String {
    let salvaged = bundle.messages.new + bundle.messages.already_held;
    if bundle.container.is_incomplete() {
        format!(
            "the file is incomplete; {salvaged} messages in it were usable. If it is still being \
             copied, import it again when the copy has finished; otherwise ask for a new bundle"
        )
    } else {
        format!(
            "{salvaged} messages that verify on their own were kept; nothing invalid was stored. \
             Ask the sender for a fresh bundle"
        )
    }
}
