//! `grapevine demo`: three people, one USB stick, no internet.

use std::io::Write;
use std::path::Path;

use crate::node::{Node, NodeError, Result};
use crate::view;

fn say(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "{text}").map_err(|source| NodeError::Io {
        path: "stdout".into(),
        source,
    })
}

/// Runs the demo in a fresh temporary folder, narrating to `out`.
pub fn run(out: &mut dyn Write) -> Result<()> {
    let root = tempfile::Builder::new()
        .prefix("grapevine-demo-")
        .tempdir()
        .map_err(|source| NodeError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    run_in(root.path(), out)
}

pub fn run_in(root: &Path, out: &mut dyn Write) -> Result<()> {
    let stick = root.join("usb-stick");
    std::fs::create_dir_all(&stick).map_err(|source| NodeError::Io {
        path: stick.clone(),
        source,
    })?;
    let mut alice = Node::init(&root.join("alice"), Some("alice"))?;
    let mut bob = Node::init(&root.join("bob"), Some("bob"))?;
    let mut carol = Node::init(&root.join("carol"), Some("carol"))?;
    say(out, &format!("Three diaries in {}:", root.display()))?;
    for node in [&alice, &bob, &carol] {
        let name = node.store().name_of(&node.id())?.unwrap_or_default();
        say(out, &format!("  {name:<6} {}", node.id()))?;
    }

    let hello = alice.post("The river bridge is open again.", None)?;
    alice.post("Market on Saturday, bring seeds to swap.", None)?;
    bob.follow_and_reply(&alice, hello.id, "Good news, I'll cross on Friday.")?;
    carol.post("Anyone heading to the hills this week?", None)?;
    carol.contact(bob.id(), crate::content::ContactChange::Follow)?;
    alice.dm(
        &[carol.id()],
        "Carol, the seeds you asked for are at the mill.",
    )?;

    say(
        out,
        "\nalice writes her diary to the stick; bob plugs it in:",
    )?;
    carry(&mut alice, &stick, &mut bob, out)?;
    say(
        out,
        "bob writes his (with alice's inside) back; carol plugs it in:",
    )?;
    carry(&mut bob, &stick, &mut carol, out)?;

    say(
        out,
        "\nWhat carol can read now, without ever meeting alice:",
    )?;
    for feed in carol.store().feeds()? {
        let name = feed.name.unwrap_or_else(|| feed.feed.short());
        say(
            out,
            &format!("\n{name} ({} messages)", feed.frontier.sequence),
        )?;
        for message in carol.feed(&feed.feed, 3)? {
            let readable = carol.readable_content(&message)?;
            say(out, &view::message_text(&message, readable, &|f| f.short()))?;
        }
    }
    say(
        out,
        "\ncarol's inbox (bob carried this private message but cannot read it):",
    )?;
    for (message, content) in carol.inbox(5)? {
        say(
            out,
            &view::message_text(&message, Some(content), &|f| f.short()),
        )?;
    }
    say(
        out,
        &format!("bob's inbox: {} messages", bob.inbox(5)?.len()),
    )?;
    say(
        out,
        "\nNo server, no internet: every message was checked against its author's key.",
    )
}

fn carry(from: &mut Node, stick: &Path, to: &mut Node, out: &mut dyn Write) -> Result<()> {
    // `all`: the reader has never written to this stick, so nothing says what it lacks.
    let everything = crate::node::ExportOptions {
        all: true,
        ..Default::default()
    };
    let report = from.export(stick, &everything)?;
    let Some(exported) = report.wrote else {
        return say(out, "  nothing to carry");
    };
    let imported = to.import(std::slice::from_ref(&exported.path))?;
    let total = imported.total();
    say(
        out,
        &format!(
            "  {} messages of {} feeds in {} bytes; {} new to the reader",
            exported.messages, exported.feeds, exported.bytes, total.new
        ),
    )
}

impl Node {
    fn follow_and_reply(&mut self, other: &Node, to: crate::MessageId, text: &str) -> Result<()> {
        self.contact(other.id(), crate::content::ContactChange::Follow)?;
        self.post(text, Some(to))?;
        Ok(())
    }
}
