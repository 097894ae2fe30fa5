//! What `import` and `sync-dir` report: the summary in words or JSON, advice for damaged
//! files, the exit status, and the size of the progress bar.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use grapevine::node::ImportSummary;
use grapevine::people::Names;
use grapevine::view;

use super::EXIT_IMPORT_PROBLEMS;
use super::render::{count, counted};

pub fn import_status(summary: &ImportSummary) -> ExitCode {
    if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_IMPORT_PROBLEMS)
    }
}

/// A file named on the command line in which nothing at all could be read is no bundle:
/// say so plainly (exit 1) rather than report it as a damaged one.
pub fn not_a_bundle(summary: &ImportSummary, named: &[PathBuf]) -> Result<()> {
    for bundle in &summary.bundles {
        let found_nothing = bundle.container.segments == 0
            && bundle.container.manifest.is_none()
            && bundle.messages.new + bundle.messages.already_held + bundle.messages.rejected == 0;
        let empty = std::fs::metadata(&bundle.path).is_ok_and(|m| m.len() == 0);
        if found_nothing
            && !empty
            && named.contains(&bundle.path)
            && !starts_like_a_bundle(&bundle.path)
        {
            bail!(
                "{} is not a grapevine bundle (nothing in it reads as one); nothing was \
                 imported. Bundles are the .{} files `grapevine export` writes",
                bundle.path.display(),
                grapevine::bundle::EXTENSION
            );
        }
    }
    Ok(())
}

/// How many messages the manifests of these bundles (and of those in these folders) say they
/// carry: the length of the progress bar. Unreadable or sealed files count for nothing, and only
/// regular files are opened (a pipe or a device would block or never end; import refuses them).
pub fn messages_in(paths: &[PathBuf], read: impl Fn(&Path) -> bool) -> u64 {
    paths
        .iter()
        .flat_map(|p| {
            if p.is_dir() {
                grapevine::node::bundles_in(p)
            } else {
                vec![p.clone()]
            }
        })
        .filter(|file| {
            read(file)
                && std::fs::metadata(file).is_ok_and(|m| m.is_file())
                && starts_like_a_bundle(file)
        })
        .filter_map(|file| std::fs::File::open(file).ok())
        .filter_map(|f| grapevine::bundle::read_manifest(f).ok().flatten())
        .flat_map(|m| m.feeds)
        .map(|r| r.last.saturating_sub(r.first).saturating_add(1))
        .fold(0u64, u64::saturating_add)
}

/// Whether a file begins with the zstd magic every plain bundle starts with.
fn starts_like_a_bundle(path: &Path) -> bool {
    use std::io::Read;
    let mut first = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut first))
        .is_ok_and(|()| grapevine::bundle::has_bundle_magic(&first))
}

pub use grapevine::view::json::import_json;

pub fn import_text(names: &Names, summary: &ImportSummary) -> String {
    let total = summary.total();
    let mut text = format!(
        "read {}: {}, {} already held, {} rejected, {} not wanted",
        count(summary.bundles.len() as u64, "bundle", "bundles"),
        count(total.new, "new message", "new messages"),
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
    if total.unreadable > 0 {
        text += &format!(
            ", {} for you that failed to open",
            count(total.unreadable, "private message", "private messages")
        );
    }
    if total.forks > 0 {
        text += &format!(", {} recorded", counted(total.forks, "fork proof"));
    }
    if total.requests > 0 {
        let from: Vec<String> = total.requested_by.iter().map(|f| names.name(f)).collect();
        text += &format!(
            "\n{} for you from {}, whom you don't follow: `grapevine requests` shows {}",
            count(total.requests, "private message", "private messages"),
            from.join(", "),
            if total.requests == 1 { "it" } else { "them" }
        );
    }
    for feed in &total.offered_by {
        text += &format!(
            "\n{} asks to link this device as one of theirs: `grapevine device list` shows it",
            names.name(feed)
        );
    }
    for path in &summary.not_for_us {
        text += &format!(
            "\n{}: a sealed bundle not addressed to you (skipped; nothing in it can be read)",
            path.display()
        );
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
                "\n{}: {} ({feed}) signed two different messages {seq}: its feed is forked (a \
                 copied key, or a stolen one); the proof is kept and `grapevine feed` warns of it",
                bundle.path.display(),
                names.name(feed)
            );
        }
    }
    if !summary.blocked.is_empty() {
        text += &format!(
            "\n{} ignored",
            count(
                summary.blocked.len() as u64,
                "blocked feed's files",
                "blocked feeds' files"
            )
        );
    }
    let unwanted = summary.not_wanted_feeds();
    if !unwanted.is_empty() {
        let only = total.new == 0 && total.already_held == 0;
        let named: Vec<String> = unwanted
            .iter()
            .map(|feed| {
                let mut shown = match names.chosen(feed) {
                    Some(name) => format!("{} {feed}", view::escape_name(name)),
                    None => feed.to_string(),
                };
                if let Some(pet) = names.petname(feed) {
                    shown += &format!(" (your petname: {})", view::escape_name(pet));
                }
                if names.is_lookalike(feed) {
                    shown += " (its name looks like another's: use the id)";
                }
                shown
            })
            .collect();
        // How to name the first one in a command: by its name if that names only it and
        // looks like no other; else by its id. An ambiguous name is never picked for you.
        let first = unwanted.first().map(|f| match names.chosen(f) {
            Some(_) if names.is_lookalike(f) => f.base32()[..8].to_owned(),
            Some(name) if names.resolve_feed_by_name(name) == Some(*f) && !name.contains(' ') => {
                view::escape_name(name)
            }
            Some(name) if names.resolve_feed_by_name(name) == Some(*f) => {
                format!("\"{}\"", view::escape_name(name))
            }
            _ => f.base32()[..8].to_owned(),
        });
        text += &format!(
            "\n{} {}: {}\nhint: `grapevine follow {}` takes a feed in from these files (with \
             the feeds it follows); a unique start of its id is enough",
            if only {
                "these bundles hold only"
            } else {
                "not taken in:"
            },
            count(
                unwanted.len() as u64,
                "feed you do not replicate",
                "feeds you do not replicate"
            ),
            named.join(", "),
            first.unwrap_or_default()
        );
    }
    text
}

fn advice(bundle: &grapevine::node::BundleOutcome) -> String {
    let salvaged = bundle.messages.new + bundle.messages.already_held;
    if bundle.container.is_incomplete() {
        format!(
            "the file is incomplete; {} in it were usable. If it is still being copied, import \
             it again when the copy has finished; otherwise ask for a new bundle",
            counted(salvaged, "message")
        )
    } else {
        format!(
            "{} that verify on their own were kept; nothing invalid was stored. Ask the sender \
             for a fresh bundle",
            counted(salvaged, "message")
        )
    }
}
