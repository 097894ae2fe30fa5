//! `grapevine demo`: three neighbours, a spammer and one USB stick, no internet.

use std::io::Write;
use std::path::Path;

use crate::content::ContactChange::{Block, Follow};
use crate::node::{ExportOptions, Node, NodeError, Result};
use crate::store::Filter;
use crate::view::{self, counted};

fn say(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "{text}").map_err(|source| NodeError::Io {
        path: "stdout".into(),
        source,
    })
}

/// Runs the demo in a fresh temporary folder, narrating to `out`. The folder is removed at the
/// end, and the last line says so, unless `keep`: then its four homes stay to explore.
pub fn run(out: &mut dyn Write, keep: bool) -> Result<Option<std::path::PathBuf>> {
    let root = tempfile::Builder::new()
        .prefix("grapevine-demo-")
        .tempdir()
        .map_err(|source| NodeError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    run_in(root.path(), out)?;
    if keep {
        let kept = root.keep();
        say(
            out,
            &format!(
                "\nThe four homes stay in {}: try `grapevine --home {}/bob timeline`",
                kept.display(),
                kept.display()
            ),
        )?;
        Ok(Some(kept))
    } else {
        say(
            out,
            &format!(
                "\nThe demo's folder {} is removed now; `grapevine demo --keep` leaves it to \
                 explore",
                root.path().display()
            ),
        )?;
        Ok(None)
    }
}

pub fn run_in(root: &Path, out: &mut dyn Write) -> Result<()> {
    let stick = root.join("usb-stick");
    std::fs::create_dir_all(&stick).map_err(|source| NodeError::Io {
        path: stick.clone(),
        source,
    })?;
    let init = |name: &str| Node::init(&root.join(name), Some(name));
    let (mut alice, mut bob) = (init("alice")?, init("bob")?);
    let (mut carol, mut mallory) = (init("carol")?, init("mallory")?);
    say(
        out,
        &format!("Four diaries in {}, no internet:", root.display()),
    )?;
    let ids: Vec<String> = [
        (&alice, "alice"),
        (&bob, "bob"),
        (&carol, "carol"),
        (&mallory, "mallory"),
    ]
    .iter()
    .map(|(n, name)| format!("{name} {}", n.id().short()))
    .collect();
    say(out, &format!("  {}", ids.join("   ")))?;

    let bridge = alice.post("The river bridge is open again.", None)?;
    alice.post("Market on Saturday, bring seeds to swap. #market", None)?;
    alice.dm(
        &[carol.id()],
        "Carol, the seeds you asked for are at the mill.",
    )?;
    for n in 1..=3 {
        mallory.post(&format!("CHEAP WATCHES {n}!!! #market"), None)?;
    }
    bob.contact(alice.id(), Follow)?;
    bob.contact(mallory.id(), Block)?;
    bob.post("Good news, I'll cross on Friday.", Some(bridge.id))?;
    bob.like(bridge.id, true)?;
    carol.contact(bob.id(), Follow)?;
    say(
        out,
        "alice posts twice and writes carol privately; mallory posts ads. bob follows alice and \
         blocks mallory; carol follows bob only.",
    )?;

    carry(
        &mut alice,
        &stick,
        &mut bob,
        "alice's stick, read by bob",
        out,
    )?;
    carry(
        &mut mallory,
        &stick,
        &mut bob,
        "mallory's stick, read by bob",
        out,
    )?;
    carry(
        &mut bob,
        &stick,
        &mut carol,
        "bob's stick, read by carol",
        out,
    )?;

    say(out, "carol's timeline (alice reached her through bob):")?;
    let names = carol.names()?;
    for post in carol.timeline(&Filter::default())? {
        let mut line = format!(
            "  {:<6} {}",
            names.name(&post.message.header.author),
            view::escape(&post.post.text)
        );
        if post.likes > 0 {
            line += &format!("  ♥ {}", post.likes);
        }
        if post.replies > 0 {
            line += &format!("  ({})", view::count(post.replies, "reply", "replies"));
        }
        say(out, &line)?;
    }
    for c in carol.conversations(5)? {
        for post in c.posts {
            say(
                out,
                &format!(
                    "carol's inbox, from {}: {}",
                    names.name(&post.message.header.author),
                    view::escape(&post.post.text)
                ),
            )?;
        }
    }
    let spam = carol.store().frontier(&mallory.id())?.sequence;
    say(
        out,
        &format!(
            "bob carried that private message but cannot read it, nor tell whom it is for; bob's \
             inbox holds {}.\nmallory's ads reached no one: bob dropped them, so carol has {} of \
             them.\nEvery message was checked against its author's key.",
            counted(bob.conversations(5)?.len() as u64, "conversation"),
            spam
        ),
    )
}

/// One node writes everything it replicates to the stick; another reads it.
fn carry(
    from: &mut Node,
    stick: &Path,
    to: &mut Node,
    what: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let everything = ExportOptions {
        all: true,
        ..Default::default()
    };
    for old in crate::node::bundles_in(stick) {
        let _ = std::fs::remove_file(old);
    }
    let Some(exported) = from.export(stick, &everything)?.wrote else {
        return say(out, &format!("{what}: nothing to carry"));
    };
    let total = to.import(std::slice::from_ref(&exported.path))?.total();
    say(
        out,
        &format!(
            "{what}: {} of {}; {} new, {} refused",
            counted(exported.messages, "message"),
            counted(exported.feeds as u64, "feed"),
            total.new,
            total.not_wanted
        ),
    )
}
