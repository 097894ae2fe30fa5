//! Moving messages: bundles on sticks and in shared folders, the watcher, and the LAN.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use grapevine::node::ExportOptions;
use serde_json::json;

use super::Ctx;
use super::import_report::{import_json, import_status, import_text, messages_in, not_a_bundle};
use super::render::{busy, counted, pretty};
use super::resolve::resolve_person;

#[derive(Subcommand)]
pub enum Transports {
    /// Write a bundle: into a folder (a new file name is chosen) or to a new NAME.gvb file.
    ///
    /// Into a folder it replaces your older bundle there, and carries what its readers lack:
    /// the folder's recent other participants (from their bundles there); or, on a stick only
    /// you write to, what is new since your last bundle on it plus what the peers you heard
    /// from lately lack. Nothing is written when no one lacks anything.
    #[command(after_help = "Examples:\n  grapevine export /media/$USER/STICK\n  \
                            grapevine export --for bob --seal /media/$USER/STICK\n  \
                            grapevine export --all everything.gvb")]
    Export(ExportArgs),
    /// Import bundle files, and every bundle in the folders named.
    #[command(after_help = "Example:\n  grapevine import /media/$USER/STICK")]
    Import(ImportArgs),
    /// One round in a drop folder (a stick, a shared folder): import everyone else's bundles,
    /// write ours, remove our superseded ones.
    SyncDir(SyncDirArgs),
    /// Stay running: merge every bundle that shows up in these folders, keep ours there
    /// current, and sync sticks mounted under mount roots (/media/$USER, …).
    Watch(WatchArgs),
    /// Stay running on the local network: accept sessions, announce yourself, sync with peers
    /// you replicate as you hear them, and push new messages to them live.
    Serve(ServeArgs),
    /// One session with a peer on the network, then a summary.
    #[command(after_help = "Example:\n  grapevine sync 192.168.1.20:8008")]
    Sync(SyncArgs),
    /// Always-on peers that `serve` visits.
    Pub(PubArgs),
}

#[derive(Subcommand)]
pub enum PubAction {
    /// Remember a pub by HOST:PORT.
    Add {
        /// The pub's HOST:PORT.
        address: String,
    },
    /// Forget a pub.
    Remove {
        /// The pub's HOST:PORT, as `pub list` shows it.
        address: String,
    },
    /// List known pubs.
    List {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

impl Transports {
    pub fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        match self {
            Transports::Export(args) => args.run(ctx),
            Transports::Import(args) => args.run(ctx),
            Transports::SyncDir(args) => args.run(ctx),
            Transports::Watch(args) => args.run(ctx),
            Transports::Serve(args) => args.run(ctx),
            Transports::Sync(args) => args.run(ctx),
            Transports::Pub(args) => args.run(ctx),
        }
    }
}

#[derive(Args)]
pub struct ExportArgs {
    /// A folder (a stick, a shared folder) or a new file name ending in .gvb.
    path: PathBuf,
    /// Carry only what this person lacks (a name or feed id; repeat for several).
    #[arg(long = "for", value_name = "PERSON")]
    for_peers: Vec<String>,
    /// Carry everything you replicate, whatever others hold.
    #[arg(long, conflicts_with = "for_peers")]
    all: bool,
    /// Encrypt the whole bundle to the --for people: a lost stick shows only its size.
    #[arg(long, requires = "for_peers")]
    seal: bool,
    /// Write a bundle even when no reader lacks anything (it still tells what you hold).
    #[arg(long)]
    anyway: bool,
    /// Write no messages, only what you hold and want: the first step of an exchange.
    /// Whoever reads it can then write you exactly what you lack.
    #[arg(long, conflicts_with = "all")]
    frontier_only: bool,
    /// Create the folder if it does not exist (otherwise a missing folder is refused: it
    /// is usually a stick that is not mounted).
    #[arg(long)]
    create: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl ExportArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let names = node.names()?;
        let Self {
            path,
            for_peers,
            all,
            seal,
            anyway,
            frontier_only,
            create,
            json,
        } = self;

        let target = export_target(&path, create)?;
        let for_peers = for_peers
            .iter()
            .map(|p| resolve_person(&node, &names, p, true))
            .collect::<Result<Vec<_>>>()?;
        let options = ExportOptions {
            for_peers,
            all,
            seal,
            anyway,
            frontier_only,
        };
        let report = {
            let _busy = busy(&format!("writing a bundle to {}", target.display()), false);
            node.export(&target, &options)?
        };
        for stale in &report.stale {
            eprintln!("note: {}", node.stale_text(stale));
        }
        let text = if json {
            pretty(&json!({
                "wrote": report.wrote.as_ref().map(|s| json!({
                    "file": s.path,
                    "messages": s.messages,
                    "feeds": s.feeds,
                    "bytes": s.bytes,
                    "sealed": s.sealed,
                })),
                "already_there": report.already_there,
                "removed": report.removed,
            }))?
        } else {
            let mut text = match &report.wrote {
                Some(s) if frontier_only => format!(
                    "wrote {}: what you hold and want, no messages ({}). Whoever reads \
                     it can write you just what you lack",
                    s.path.display(),
                    super::render::bytes(s.bytes),
                ),
                Some(s) => format!(
                    "wrote {}: {} of {} ({}{})",
                    s.path.display(),
                    counted(s.messages, "message"),
                    counted(s.feeds as u64, "feed"),
                    super::render::bytes(s.bytes),
                    if s.sealed { ", sealed" } else { "" }
                ),
                None => match &report.already_there {
                    Some(ours) => format!(
                        "nothing to send: the stick already has it ({}); --anyway \
                         writes a fresh bundle",
                        ours.display()
                    ),
                    None => "nothing to send: its readers already have everything \
                             they want (--anyway writes a bundle regardless; --all \
                             writes everything, your whole feed included, to introduce \
                             yourself to someone who does not follow you yet)"
                        .to_owned(),
                },
            };
            for old in &report.removed {
                text += &format!("\nremoved our superseded {}", old.display());
            }
            text
        };
        ctx.say(text)?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Args)]
pub struct ImportArgs {
    /// Bundle files (.gvb) and folders holding them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl ImportArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let Self { paths, json } = self;

        if let Some(missing) = paths.iter().find(|p| !p.exists()) {
            bail!(
                "{}: no such file or folder. Check the path (is the stick mounted?)",
                missing.display()
            );
        }
        let summary = {
            let busy = busy("importing, every signature checked", true);
            busy.out_of(messages_in(&paths, |_| true));
            node.on_progress(busy.counter());
            node.stop_when(stop_on_ctrl_c()?);
            node.import(&paths)?
        };
        if !summary.stopped {
            not_a_bundle(&summary, &paths)?;
        }
        let names = node.names()?;
        let text = if json {
            pretty(&import_json(&names, &summary))?
        } else {
            import_text(&names, &summary)
        };
        ctx.say(text)?;
        Ok(stopped_or(&summary, import_status(&summary)))
    }
}

#[derive(Args)]
pub struct SyncDirArgs {
    /// The drop folder.
    dir: PathBuf,
    /// Only import; write nothing into the folder.
    #[arg(long)]
    no_export: bool,
    /// Create the folder if it does not exist.
    #[arg(long)]
    create: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl SyncDirArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let Self {
            dir,
            no_export,
            create,
            json,
        } = self;

        folder_must_exist(&dir, create)?;
        let report = {
            let busy = busy(&format!("syncing with {}", dir.display()), true);
            busy.out_of(messages_in(std::slice::from_ref(&dir), |p| {
                !node.is_own_bundle(p)
            }));
            node.on_progress(busy.counter());
            node.stop_when(stop_on_ctrl_c()?);
            node.sync_dir(&dir, !no_export)?
        };
        for stale in &report.stale {
            eprintln!("note: {}", node.stale_text(stale));
        }
        let names = node.names()?;
        let text = if json {
            let mut value = import_json(&names, &report.imported);
            value["wrote"] = json!(report.wrote.as_ref().map(|w| json!({
                "file": w.path,
                "messages": w.messages,
                "feeds": w.feeds,
                "bytes": w.bytes,
            })));
            value["removed"] = json!(report.removed);
            if let Some(why) = &report.not_written {
                value["error"] = json!(why);
            }
            pretty(&value)?
        } else {
            let mut text = import_text(&names, &report.imported);
            match &report.wrote {
                Some(w) if w.messages == 0 => {
                    text += &format!(
                        "\nwrote {} (no messages: it tells the others there what you \
                         hold now, so they send only what you lack)",
                        w.path.display()
                    )
                }
                Some(w) => {
                    text += &format!(
                        "\nwrote {} ({} of {})",
                        w.path.display(),
                        counted(w.messages, "message"),
                        counted(w.feeds as u64, "feed")
                    )
                }
                None => {
                    if let Some(current) = &report.current {
                        text += &format!("\nour bundle there is current ({})", current.display());
                    }
                }
            }
            for old in &report.removed {
                text += &format!("\nremoved our superseded {}", old.display());
            }
            text
        };
        ctx.say(text)?;
        if let Some(why) = &report.not_written {
            bail!("{why} (the bundles already there were read all the same)");
        }
        Ok(stopped_or(
            &report.imported,
            import_status(&report.imported),
        ))
    }
}

#[derive(Args)]
pub struct WatchArgs {
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
}

impl WatchArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let Self {
            dirs,
            media,
            no_export,
            json,
            rescan,
            settle,
        } = self;

        let (roots, folders): (Vec<PathBuf>, Vec<PathBuf>) = dirs
            .into_iter()
            .partition(|d| grapevine::watch::is_media_root(d));
        let options = grapevine::watch::WatchOptions {
            folders: folders.iter().map(|f| absolute(f)).collect(),
            media: roots.iter().chain(&media).map(|f| absolute(f)).collect(),
            export: !no_export,
            rescan: Duration::from_secs(rescan.max(1)),
            settle: Duration::from_secs(settle),
        };
        let stop = super::stop_on_signal()?;
        let print = grapevine::events::print_to(io::stdout(), json);
        grapevine::watch::run(&mut node, options, &mut |e| print(e), &stop)?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to accept sessions on.
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
    /// One JSON object per line for each event (docs/json.md).
    #[arg(long)]
    json: bool,
}

impl ServeArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let node = ctx.node()?;
        let Self {
            listen,
            no_discovery,
            pub_mode,
            discovery_port,
            announce,
            timeout,
            network,
            json,
        } = self;

        let options = grapevine::lan::ServeOptions {
            listen,
            discovery: !no_discovery,
            discovery_port,
            announce_every: Duration::from_secs(announce.max(1)),
            pub_mode: pub_mode || node.is_pub()?,
            network: match network {
                Some(n) => n,
                None => node.network()?,
            },
            timeout: Duration::from_secs(timeout.max(1)),
            keepalive: Duration::from_secs((timeout / 3).max(1)),
            pub_every: Duration::from_secs(30),
            clock: node.clock().clone(),
        };
        let home = node.home()?.to_owned();
        drop(node);
        let stop = super::stop_on_signal()?;
        // Session threads tell too: each line takes standard output for itself.
        let tell = grapevine::events::print_to(io::stdout(), json);
        let told = tell.clone();
        std::thread::spawn(move || {
            // Sessions write in transactions, so ending the process between them or
            // inside one loses nothing stored.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            told(grapevine::events::Event::StoppedServing);
            std::process::exit(0);
        });
        grapevine::lan::serve(&home, &options, tell)?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Args)]
pub struct SyncArgs {
    /// The peer's HOST:PORT, or HOST alone for serve's default port (it runs `grapevine
    /// serve`).
    address: String,
    /// Give up when nothing arrives for this many seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
    /// Network name (default: `config get network`).
    #[arg(long, value_name = "NAME")]
    network: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl SyncArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let node = ctx.node()?;
        let Self {
            address,
            timeout,
            network,
            json,
        } = self;

        let network = match network {
            Some(n) => n,
            None => node.network()?,
        };
        let home = node.home()?.to_owned();
        let busy = busy(&format!("syncing with {address}"), false);
        let report = grapevine::lan::sync(
            &home,
            &address,
            &network,
            Duration::from_secs(timeout.max(1)),
            node.clock().clone(),
        )
        .with_context(|| format!("sync with {address} failed"))?;
        drop(busy);
        let names = node.names()?;
        let text = if json {
            pretty(&grapevine::view::json::synced_json(
                &report, &address, &names,
            ))?
        } else {
            let peer = report
                .peer
                .map(|p| names.name(&p))
                .unwrap_or_else(|| "the peer".into());
            format!(
                "synced with {peer} at {address}: {}",
                grapevine::lan::serve::summary(&report)
            )
        };
        ctx.say(text)?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Args)]
pub struct PubArgs {
    #[command(subcommand)]
    action: PubAction,
}

impl PubArgs {
    fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let mut node = ctx.node()?;
        let Self { action } = self;

        let text = match action {
            PubAction::Add { address } => {
                if node.pubs()?.contains(&address) {
                    format!("{address} is already a pub you visit")
                } else {
                    node.add_pub(&address)?;
                    format!("{address} added; `serve` visits it")
                }
            }
            PubAction::Remove { address } => {
                if node.remove_pub(&address)? {
                    format!("{address} removed; `serve` no longer visits it")
                } else {
                    bail!("{address} is not one of your pubs; `grapevine pub list` shows them")
                }
            }
            PubAction::List { json } => {
                let pubs = node.pubs()?;
                if json {
                    super::render::pretty(&serde_json::json!({ "pubs": pubs }))?
                } else if pubs.is_empty() {
                    "no pubs yet: `grapevine pub add HOST:PORT`".into()
                } else {
                    pubs.join("\n")
                }
            }
        };
        ctx.say(text)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A flag the first Ctrl-C (or SIGTERM) sets, so that an import ends after the batch in hand
/// and says what it kept; a second one ends the process at once.
fn stop_on_ctrl_c() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, EXIT_STOPPED, stop.clone())
            .and_then(|_| signal_hook::flag::register(signal, stop.clone()))
            .context("could not install a signal handler")?;
    }
    Ok(stop)
}

/// `status`, unless the import was stopped: then it says what was kept (exit 130, as for any
/// command ended by Ctrl-C).
fn stopped_or(summary: &grapevine::node::ImportSummary, status: ExitCode) -> ExitCode {
    if !summary.stopped {
        return status;
    }
    eprintln!(
        "stopped: the {} read before it were verified and kept; run the same command again to \
         take in the rest",
        counted(summary.total().new, "new message")
    );
    ExitCode::from(EXIT_STOPPED as u8)
}

/// The exit status of a command stopped by Ctrl-C (128 + SIGINT).
const EXIT_STOPPED: i32 = 130;

/// Where `export` writes: an existing folder, or a new `.gvb` file in an existing folder. A
/// missing folder is usually a stick that is not mounted, so it is created only when asked.
fn export_target(path: &Path, create: bool) -> Result<PathBuf> {
    if path.is_dir() || path.exists() {
        return Ok(path.to_owned());
    }
    let is_file = path
        .extension()
        .is_some_and(|x| x == grapevine::bundle::EXTENSION);
    if is_file {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        folder_must_exist(parent, create)?;
        return Ok(path.to_owned());
    }
    folder_must_exist(path, create)?;
    Ok(path.to_owned())
}

fn folder_must_exist(dir: &Path, create: bool) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if dir.exists() {
        bail!("{} is a file, not a folder", dir.display());
    }
    if create {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the folder {}", dir.display()))?;
        return Ok(());
    }
    bail!(
        "{}: no such folder. Is the stick mounted? (--create makes the folder; to write a \
         single file, give a name ending in .{})",
        dir.display(),
        grapevine::bundle::EXTENSION
    )
}

/// Absolute paths, so that event paths from notify compare equal to the folders we watch.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
