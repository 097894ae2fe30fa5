//! The `grapevine` command: one module per family of commands, each owning its clap arguments
//! and its handler; all of them thin layers over [`grapevine::Node`].

mod devices;
mod graph;
mod import_report;
mod people;
mod reading;
pub mod render;
mod resolve;
mod settings;
mod transports;
mod window;
mod writing;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use grapevine::Node;

/// Gossip securely with no internet: signed diaries carried on USB sticks and shared folders.
#[derive(Parser)]
#[command(
    name = "grapevine",
    version,
    propagate_version = true,
    after_help = "Start with `grapevine init --name NAME`, then `grapevine post TEXT`. \
                  `grapevine demo` shows three people and a USB stick; docs/guide.md walks \
                  through everything."
)]
pub struct Cli {
    /// The node's home folder (identity and store).
    #[arg(long, global = true, env = "GRAPEVINE_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Writing(writing::Writing),
    #[command(flatten)]
    Reading(reading::Reading),
    #[command(flatten)]
    People(people::People),
    #[command(flatten)]
    Transports(transports::Transports),
    #[command(flatten)]
    Settings(settings::Settings),
}

/// Exit status when an import finished but some bundle was damaged or had rejected messages.
pub const EXIT_IMPORT_PROBLEMS: u8 = 3;
/// Exit status of `check` when the store is not consistent.
pub const EXIT_INCONSISTENT: u8 = 4;

/// What a handler has: the home it was pointed at, and standard output.
pub struct Ctx {
    home: Option<PathBuf>,
    /// Not locked: `serve`'s session threads print too.
    pub out: io::Stdout,
}

impl Ctx {
    pub fn home(&self) -> Result<PathBuf> {
        if let Some(home) = &self.home {
            return Ok(home.clone());
        }
        directories::ProjectDirs::from("", "", "grapevine")
            .map(|dirs| dirs.data_dir().to_owned())
            .context("no home folder could be found; pass --home DIR or set GRAPEVINE_HOME")
    }

    pub fn node(&self) -> Result<Node> {
        let node = Node::open(&self.home()?)?;
        warn_of_own_fork(&node);
        Ok(node)
    }

    /// Prints a result line (or block) on standard output.
    pub fn say(&mut self, text: impl AsRef<str>) -> Result<()> {
        let text = text.as_ref();
        if !text.is_empty() {
            writeln!(self.out, "{text}")?;
        }
        Ok(())
    }
}

/// A flag SIGINT and SIGTERM set, for commands that run until stopped.
pub fn stop_on_signal() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .context("could not install a signal handler")?;
    }
    Ok(stop)
}

pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut ctx = Ctx {
        home: cli.home,
        out: io::stdout(),
    };
    let result = match cli.command {
        Command::Writing(c) => c.run(&mut ctx),
        Command::Reading(c) => c.run(&mut ctx),
        Command::People(c) => c.run(&mut ctx),
        Command::Transports(c) => c.run(&mut ctx),
        Command::Settings(c) => c.run(&mut ctx),
    };
    let result = result.and_then(|code| {
        ctx.out.flush()?;
        Ok(code)
    });
    match result {
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
pub fn error_text(error: &anyhow::Error) -> String {
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

/// A fork of one's own diary is said loudly, on every command, with the two messages: the key
/// is in use twice, and everyone who holds both sees the fork.
fn warn_of_own_fork(node: &Node) {
    let Ok(proofs) = node.store().fork_proofs(&node.id()) else {
        return;
    };
    for (seq, held, other) in proofs {
        let show = |m: &grapevine::message::Message| {
            let readable = node.readable_content(m).ok().flatten();
            let text = readable
                .as_ref()
                .and_then(|c| c.get("text").and_then(|t| t.as_str()).map(str::to_owned))
                .or_else(|| readable.as_ref().map(|c| c.to_string()))
                .unwrap_or_else(|| "(not readable here)".to_owned());
            let short: String = text.chars().take(60).collect();
            format!("{}  \"{}\"", m.id, grapevine::view::escape(&short))
        };
        eprintln!(
            "WARNING: YOUR OWN DIARY IS FORKED: your key signed two different messages {seq}.\n  \
             kept here: {}\n  also seen: {}\nThe key is in use on two computers, or was copied. \
             Write from one computer only (a second device needs a key of its own), and tell the \
             people you write to: everyone who holds both messages is warned about your feed.",
            held.as_ref().map_or("(not held here)".to_owned(), show),
            show(&other)
        );
    }
}

/// Reads `-` as standard input, for texts.
pub fn read_text(text: String) -> Result<String> {
    use std::io::Read;
    if text != "-" {
        return Ok(text);
    }
    let mut input = String::new();
    io::stdin()
        .read_to_string(&mut input)
        .context("could not read the text from standard input")?;
    Ok(input.trim_end_matches('\n').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "`{path}` argument `{id}` has no help text"
                );
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some(),
                    "`{path} {}` has no about",
                    sub.get_name()
                );
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&command(), "grapevine");
    }
}
