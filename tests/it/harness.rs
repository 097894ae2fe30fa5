//! A small harness: a node is a temporary home driven through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_grapevine")
}

pub struct TestNode {
    pub name: String,
    dir: TempDir,
}

impl TestNode {
    /// A fresh node, initialised with `name` as its published name.
    pub fn new(name: &str) -> Self {
        let node = Self::uninitialised(name);
        node.ok(&["init", "--name", name]);
        node
    }

    pub fn uninitialised(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("gv-{name}-"))
            .tempdir()
            .expect("temp dir");
        Self {
            name: name.to_owned(),
            dir,
        }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--home")
            .arg(self.home())
            .args(args)
            .env_remove("GRAPEVINE_HOME")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run grapevine")
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{}: `grapevine {}` failed with {}\nstdout:\n{}\nstderr:\n{}",
            self.name,
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs a command that must fail with `code`; returns stdout and stderr together.
    pub fn fails_with(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}: `grapevine {}` should exit {code}; output:\n{text}",
            self.name,
            args.join(" ")
        );
        text
    }

    /// Follows another node, so that its feed (and those it follows) are replicated.
    pub fn follow(&self, other: &TestNode) {
        self.follow_id(&other.id());
    }

    pub fn follow_id(&self, id: &str) {
        self.ok(&["follow", id]);
    }

    pub fn id(&self) -> String {
        self.ok(&["whoami"]).trim().to_owned()
    }

    pub fn post(&self, text: &str) -> String {
        self.ok(&["post", text]).trim().to_owned()
    }

    /// Writes a bundle into `dir`; returns the bundle's path.
    pub fn export_to(&self, dir: &Path) -> PathBuf {
        let out = self.ok(&["export", path_str(dir)]);
        PathBuf::from(out.lines().next().expect("export prints the path"))
    }

    pub fn import(&self, path: &Path) -> String {
        self.ok(&["import", path_str(path)])
    }

    /// A feed as `feed --json` prints it, newest first.
    pub fn feed(&self, id: &str) -> Vec<Value> {
        let out = self.ok(&["feed", id, "--json", "--limit", "1000000"]);
        serde_json::from_str::<Vec<Value>>(&out).expect("feed --json prints a JSON array")
    }

    /// The texts of a feed's posts, oldest first.
    pub fn posts(&self, id: &str) -> Vec<String> {
        let mut texts: Vec<String> = self
            .feed(id)
            .iter()
            .filter(|m| m["content"]["type"] == "post")
            .map(|m| m["content"]["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        texts.reverse();
        texts
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json")
    }
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// A folder standing in for a USB stick.
pub fn stick() -> TempDir {
    tempfile::Builder::new()
        .prefix("gv-stick-")
        .tempdir()
        .expect("temp dir")
}

/// The numbers in an import summary line: (new, already held, rejected).
pub fn import_counts(summary: &str) -> (u64, u64, u64) {
    let line = summary.lines().next().unwrap_or_default();
    let number_before = |word: &str| -> u64 {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("no '{word}' in: {line}"));
        line[..at]
            .split_whitespace()
            .last()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count before '{word}' in: {line}"))
    };
    (
        number_before("new messages"),
        number_before("already held"),
        number_before("rejected"),
    )
}
