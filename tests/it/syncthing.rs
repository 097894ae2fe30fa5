//! A post travels from A to B through Syncthing alone: two Syncthing instances on loopback
//! (discovery, relays, NAT, STUN, upgrades and reporting off) share a folder, and `grapevine
//! watch` runs on each side.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{TestNode, path_str};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Instance {
    home: PathBuf,
    folder: PathBuf,
    id: String,
    port: u16,
    gui: u16,
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn generate(root: &Path, name: &str) -> Instance {
    let home = root.join(format!("st-{name}"));
    let out = Command::new("syncthing")
        .args([
            "generate",
            &format!("--home={}", home.display()),
            "--no-default-folder",
        ])
        .env("STNOUPGRADE", "1")
        .output()
        .expect("run syncthing generate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let id = text
        .lines()
        .find_map(|l| l.split("Device ID: ").nth(1))
        .unwrap_or_else(|| panic!("no device id in: {text}"))
        .trim()
        .to_owned();
    let folder = root.join(format!("shared-{name}"));
    fs::create_dir_all(folder.join(".stfolder")).unwrap();
    Instance {
        home,
        folder,
        id,
        port: free_port(),
        gui: free_port(),
    }
}

/// Writes a config that talks only to the other instance on loopback; only `me` dials.
fn configure(me: &Instance, other: &Instance, dials: bool) {
    let device = |i: &Instance, name: &str, address: String| {
        format!(
            r#"<device id="{}" name="{name}" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy=""><address>{address}</address><paused>false</paused><autoAcceptFolders>false</autoAcceptFolders></device>"#,
            i.id
        )
    };
    let other_address = if dials {
        format!("tcp://127.0.0.1:{}", other.port)
    } else {
        "dynamic".into()
    };
    let config = format!(
        r#"<configuration version="36">
    <folder id="grapevine" label="grapevine" path="{folder}" type="sendreceive" rescanIntervalS="60" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="{me_id}" introducedBy=""></device>
        <device id="{other_id}" introducedBy=""></device>
        <minDiskFree unit="%">0</minDiskFree>
    </folder>
    {me_device}
    {other_device}
    <gui enabled="true" tls="false" debugging="false"><address>127.0.0.1:{gui}</address><apikey>grapevine-test</apikey></gui>
    <options>
        <listenAddress>tcp://127.0.0.1:{port}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <startBrowser>false</startBrowser>
        <urAccepted>-1</urAccepted>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <stunKeepaliveStartS>0</stunKeepaliveStartS>
        <reconnectionIntervalS>1</reconnectionIntervalS>
        <minHomeDiskFree unit="%">0</minHomeDiskFree>
    </options>
</configuration>
"#,
        folder = me.folder.display(),
        me_id = me.id,
        other_id = other.id,
        me_device = device(me, "me", "dynamic".into()),
        other_device = device(other, "other", other_address),
        gui = me.gui,
        port = me.port,
    );
    fs::write(me.home.join("config.xml"), config).unwrap();
}

fn start(i: &Instance) -> Running {
    let child = Command::new("syncthing")
        .args([
            "serve",
            &format!("--home={}", i.home.display()),
            "--no-browser",
            "--no-restart",
        ])
        .env("STNOUPGRADE", "1")
        .env("STNORESTART", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start syncthing");
    Running(child)
}

#[test]
fn a_post_travels_through_syncthing() {
    if Command::new("syncthing").arg("--version").output().is_err() {
        crate::harness::skip("syncthing is not installed (.ci/run installs Debian's syncthing)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let st_a = generate(root.path(), "a");
    let st_b = generate(root.path(), "b");
    // Only one side dials: when both do at once the connection stalls.
    configure(&st_a, &st_b, true);
    configure(&st_b, &st_a, false);
    let _sa = start(&st_a);
    let _sb = start(&st_b);

    let [a, b] = ["a", "b"].map(TestNode::new);
    a.follow(&b);
    b.follow(&a);
    let mut wa = a.spawn(&["watch", path_str(&st_a.folder), "--settle", "5"]);
    let mut wb = b.spawn(&["watch", path_str(&st_b.folder), "--settle", "5"]);
    wa.expect(Duration::from_secs(20), "ready", |l| {
        l.starts_with("watching")
    });
    wb.expect(Duration::from_secs(20), "ready", |l| {
        l.starts_with("watching")
    });
    // First a's existing diary arrives, then a new post alone.
    wb.expect(
        Duration::from_secs(90),
        "a's first bundle arriving through Syncthing",
        |l| l.starts_with("merged") && l.contains("from a"),
    );
    let posted = Instant::now();
    a.post("carried by syncthing");
    wb.expect(
        Duration::from_secs(60),
        "a's new post arriving through Syncthing",
        |l| l.starts_with("merged") && l.contains("from a") && l.contains(": 1 new message,"),
    );
    let latency = posted.elapsed();
    crate::harness::eventually(Duration::from_secs(10), "b reads a's post", || {
        b.posts(&a.id())
            .contains(&"carried by syncthing".to_owned())
    });
    eprintln!("post on A readable on B through Syncthing after {latency:?}");
    // Nothing of grapevine's is left half-written, and Syncthing saw no conflicts.
    for folder in [&st_a.folder, &st_b.folder] {
        for entry in fs::read_dir(folder).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains("sync-conflict"), "{name}");
        }
    }
}
