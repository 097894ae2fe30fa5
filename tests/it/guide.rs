//! docs/guide.md and docs/devices.md, run: every `console NAME` block, command by command, on
//! fresh homes (one per person) and a folder standing in for the stick, each printed line
//! checked.

use std::path::Path;
use std::process::Command;

use crate::harness::{TestNode, bin, path_str};

/// (person, command, expected lines) in the order the guide gives them.
fn steps(guide: &str) -> Vec<(String, String, Vec<String>)> {
    let mut steps: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut person: Option<String> = None;
    for line in guide.lines() {
        if let Some(who) = line.strip_prefix("```console ") {
            person = Some(who.trim().to_owned());
            continue;
        }
        if line.starts_with("```") {
            person = None;
            continue;
        }
        let Some(who) = &person else { continue };
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push((who.clone(), command.to_owned(), Vec::new()));
        } else if let Some(step) = steps.last_mut()
            && !line.trim().is_empty()
        {
            step.2.push(line.trim().to_owned());
        }
    }
    steps
}

/// Whether `expected` (with `…` standing for anything) is found in one line of `output`.
fn shows(output: &str, expected: &str) -> bool {
    let pieces: Vec<&str> = expected.split('…').collect();
    output.lines().any(|line| {
        let mut rest = line;
        pieces.iter().all(|piece| match rest.find(piece) {
            Some(at) => {
                rest = &rest[at + piece.len()..];
                true
            }
            None => false,
        })
    })
}

#[test]
fn the_guide_runs_as_written() {
    run_as_written("docs/guide.md", &["alice", "bob"], 15);
}

#[test]
fn the_devices_walkthrough_runs_as_written() {
    run_as_written("docs/devices.md", &["laptop", "desktop", "bob"], 12);
}

/// Runs every step of `doc` on fresh homes, one per person, sharing one stick (`$STICK`).
/// Each person's feed id, once it has one, is `$NAME` (upper case) to every step.
fn run_as_written(doc: &str, names: &[&str], at_least: usize) {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(doc))
        .unwrap_or_else(|e| panic!("{doc}: {e}"));
    let steps = steps(&text);
    assert!(
        steps.len() >= at_least,
        "{doc} has only {} steps",
        steps.len()
    );
    let people: Vec<TestNode> = names.iter().map(|n| TestNode::uninitialised(n)).collect();
    let stick = crate::harness::stick();
    // `grapevine` on the PATH is the binary under test.
    let tools = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(bin(), tools.path().join("grapevine")).unwrap();
    let path = format!(
        "{}:{}",
        path_str(tools.path()),
        std::env::var("PATH").unwrap_or_default()
    );
    // A message id the guide writes as `%…`: the newest post of the other person.
    let mut last_post: Option<String> = None;
    for (who, command, expected) in steps {
        let node = people
            .iter()
            .find(|n| n.name == who)
            .unwrap_or_else(|| panic!("{doc} names an unknown person '{who}'"));
        let mut command = command.clone();
        if command.contains("%…") {
            let id = last_post.clone().expect("a post to refer to");
            command = command.replace("%…", &id);
        }
        let mut shell = Command::new("sh");
        for person in people
            .iter()
            .filter(|p| p.home().join("secret.key").exists())
        {
            shell.env(person.name.to_uppercase(), person.id());
        }
        let out = shell
            .arg("-c")
            .arg(&command)
            .env("PATH", &path)
            .env("GRAPEVINE_HOME", node.home())
            .env("STICK", stick.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let fails = expected.iter().any(|e| e.starts_with("grapevine: "));
        assert_eq!(
            out.status.success(),
            !fails,
            "{doc}: {who}: `{command}` exited {}:\n{text}",
            out.status
        );
        for line in &expected {
            assert!(
                shows(&text, line),
                "{doc}: {who}: `{command}` should show\n  {line}\nbut printed:\n{text}"
            );
        }
        // Remember the newest post the other person can refer to.
        if command.starts_with("grapevine timeline") || command.contains("sync-dir") {
            last_post = newest_post(node.home().as_path(), &path).or(last_post);
        }
    }
}

fn newest_post(home: &Path, path: &str) -> Option<String> {
    let out = Command::new("grapevine")
        .args(["timeline", "--json", "--limit", "1"])
        .env("PATH", path)
        .env("GRAPEVINE_HOME", home)
        .output()
        .ok()?;
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    list[0]["id"].as_str().map(|s| s[..9].to_owned())
}
