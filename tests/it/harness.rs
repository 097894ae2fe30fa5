//! A small harness: a node is a temporary home driven through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// A system test that cannot run here says why, loudly; under CI (`CI` set), where .ci/run
/// installs everything such tests need, a skip is a failure.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("cannot skip under CI: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// The binary under test: the one cargo built, or `GRAPEVINE_TEST_BIN` (a copy, so that a
/// long run is not disturbed by rebuilds).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("GRAPEVINE_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_grapevine").to_owned())
    })
}

pub struct TestNode {
    pub name: String,
    dir: TempDir,
}

/// Every node's store must pass `grapevine check` when its test is done with it: whatever a
/// test did (kills included), the store stays consistent.
impl Drop for TestNode {
    fn drop(&mut self) {
        if std::thread::panicking() || !self.home().join("store.sqlite").exists() {
            return;
        }
        let out = self.run(&["check"]);
        assert!(
            out.status.success(),
            "{}: `grapevine check` found the store inconsistent:\n{}{}",
            self.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
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

    /// Runs a command with `input` on its standard input.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn grapevine");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to stdin");
        child.wait_with_output().expect("wait for grapevine")
    }

    /// A node whose key is locked with [`PASSPHRASE`], named `name`; and its feed id.
    pub fn locked(name: &str) -> (Self, String) {
        let node = Self::uninitialised(name);
        let out = node
            .command(&["init", "--name", name, "--passphrase"])
            .env("GRAPEVINE_PASSPHRASE", PASSPHRASE)
            .output()
            .expect("run grapevine");
        let said = Said::from(out);
        assert!(said.success(), "init --passphrase: {said:?}");
        let id = said.out.trim().to_owned();
        (node, id)
    }

    /// Runs a command, whatever its end: its exit code and all of its text.
    pub fn said(&self, args: &[&str]) -> Said {
        Said::from(self.run(args))
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
        let said = self.said(args);
        let text = said.all();
        assert_eq!(
            said.code,
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

    /// Follows a feed by id; `--yes`, since tests follow feeds before any bundle of theirs
    /// arrived (which a person typing the id would be warned of).
    pub fn follow_id(&self, id: &str) {
        self.ok(&["follow", id, "--yes"]);
    }

    pub fn id(&self) -> String {
        self.ok(&["whoami"]).trim().to_owned()
    }

    /// Posts `text`; returns the new message's id.
    pub fn post(&self, text: &str) -> String {
        written_id(&self.ok(&["post", text, "--json"]))
    }

    /// Writes a bundle into `dir`; returns the bundle's path.
    pub fn export_to(&self, dir: &Path) -> PathBuf {
        let out = self.ok(&["export", path_str(dir), "--json"]);
        let report: Value = serde_json::from_str(&out).expect("export --json");
        let path = PathBuf::from(report["wrote"]["file"].as_str().unwrap_or_default());
        assert!(
            path.is_file(),
            "{}: export wrote no bundle: {out}",
            self.name
        );
        path
    }

    /// How many of this node's own bundle files (`gv-<id>-N.gvb`) lie in `dir`.
    pub fn own_bundles_in(&self, dir: &Path) -> usize {
        let prefix = format!("gv-{}-", self.id().trim_start_matches('@'));
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&prefix)
            })
            .count()
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

/// The bundle `export` wrote, from its "wrote PATH: N messages of …" line.
pub fn wrote_path(out: &str) -> PathBuf {
    exported(out)
        .unwrap_or_else(|| panic!("no 'wrote PATH: N messages' in: {out}"))
        .1
}

/// (messages, path) from `export`'s "wrote PATH: N messages of …" line.
pub fn exported(out: &str) -> Option<(u64, PathBuf)> {
    let line = out.lines().find(|l| l.starts_with("wrote "))?;
    let (path, rest) = line["wrote ".len()..].rsplit_once(": ")?;
    let n = rest.split_whitespace().next()?.parse().ok()?;
    Some((n, PathBuf::from(path)))
}

/// The id in what a writing command prints with `--json`.
pub fn written_id(json: &str) -> String {
    let value: Value = serde_json::from_str(json).expect("a JSON object");
    value["id"].as_str().expect("an id").to_owned()
}

/// A small seeded generator (xorshift64) for tests that choose at random but must replay.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
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
        number_before("new message"),
        number_before("already held"),
        number_before("rejected"),
    )
}

/// A long-running `grapevine` process whose output lines are awaited with bounded waits.
pub struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
    what: String,
}

impl TestNode {
    pub fn spawn(&self, args: &[&str]) -> Running {
        let what = format!("{}: grapevine {}", self.name, args.join(" "));
        Running::start(self.command(args), what)
    }

    /// Spawns a prepared command (e.g. wrapped in `ip netns exec`).
    pub fn spawn_command(&self, cmd: Command) -> Running {
        let what = format!("{}: {cmd:?}", self.name);
        Running::start(cmd, what)
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn start(mut cmd: Command, what: String) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn grapevine");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines: rx,
            seen: Vec::new(),
            what,
        }
    }
}

impl Running {
    /// Waits for a line matching `pred`, at most `within`; fails with everything seen so far.
    pub fn expect(
        &mut self,
        within: std::time::Duration,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{}: no line {what} within {within:?}; output so far:\n{}",
                    self.what,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Collects whatever lines arrive during `period`.
    pub fn drain(&mut self, period: std::time::Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + period;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Running {
    /// Sends `signal` (e.g. "INT", "TERM") and waits at most `within` for the process to end;
    /// returns its exit status.
    pub fn stop_with(
        &mut self,
        signal: &str,
        within: std::time::Duration,
    ) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "{}: kill -{signal} failed", self.what);
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{}: still running {within:?} after SIG{signal}",
                self.what
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `cond` every 50 ms until it holds, at most `within`; fails naming `what`.
pub fn eventually(
    within: std::time::Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if cond() {
            return start.elapsed();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not happen within {within:?}");
}

/// The passphrase of [`TestNode::locked`] nodes.
pub const PASSPHRASE: &str = "seven unrelated words make a fine passphrase";

/// What a command said: how it ended, its results (stdout) and its diagnostics (stderr).
#[derive(Debug)]
pub struct Said {
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
}

impl Said {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Both streams, results first: for what a person sees in a terminal.
    pub fn all(&self) -> String {
        format!("{}{}", self.out, self.err)
    }
}

impl From<Output> for Said {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            out: String::from_utf8_lossy(&out.stdout).into_owned(),
            err: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
