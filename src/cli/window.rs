//! `grapevine ui` and `grapevine demo`: the window, and the tour that can end in one.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Ctx;
use super::stop_on_signal;

#[derive(Args)]
pub struct UiArgs {
    /// Drop folders to keep in sync as `watch` does (shared folders, a stick's folder).
    dirs: Vec<PathBuf>,
    /// Mount roots where sticks appear (/media/$USER): each stick's `grapevine/` folder is
    /// synced when it is plugged in, and the window says when it is safe to unplug.
    #[arg(long, value_name = "DIR")]
    media: Vec<PathBuf>,
    /// Where to listen: a loopback address only (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// Open the window in the default browser.
    #[arg(long)]
    open: bool,
    /// Do not run the LAN service (as `serve` does) in the window.
    #[arg(long)]
    no_serve: bool,
    /// Address the LAN service accepts sessions on.
    #[arg(
        long,
        default_value = "0.0.0.0:8008",
        value_name = "ADDR",
        conflicts_with = "no_serve"
    )]
    serve_on: std::net::SocketAddr,
    /// Do not announce or listen for peers on the LAN (pubs and incoming sessions still
    /// work).
    #[arg(long, conflicts_with = "no_serve")]
    no_discovery: bool,
}

impl UiArgs {
    pub(super) fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let Self {
            dirs,
            media,
            listen,
            open,
            no_serve,
            serve_on,
            no_discovery,
        } = self;

        let stop = stop_on_signal()?;
        let (roots, folders): (Vec<PathBuf>, Vec<PathBuf>) = dirs
            .into_iter()
            .partition(|d| grapevine::watch::is_media_root(d));
        let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let watch = grapevine::watch::WatchOptions {
            folders: folders.iter().map(absolute).collect(),
            media: roots.iter().chain(&media).map(absolute).collect(),
            export: true,
            rescan: std::time::Duration::from_secs(60),
            settle: std::time::Duration::from_secs(10),
        };
        grapevine::ui::run(
            ctx.home()?,
            grapevine::ui::UiOptions {
                listen,
                watch,
                open,
                serve: (!no_serve).then(|| grapevine::lan::ServeOptions {
                    listen: serve_on,
                    discovery: !no_discovery,
                    ..Default::default()
                }),
            },
            &mut ctx.out,
            stop,
        )?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Args)]
pub struct DemoArgs {
    /// Leave the demo's four homes and stick in place to explore afterwards.
    #[arg(long)]
    keep: bool,
    /// Then open alice's window in the browser (the homes stay; Ctrl-C ends the window).
    #[arg(long)]
    ui: bool,
}

impl DemoArgs {
    pub(super) fn run(self, ctx: &mut Ctx) -> Result<ExitCode> {
        let Self { keep, ui } = self;

        let kept = grapevine::demo::run(&mut ctx.out, keep || ui)?;
        if let (true, Some(root)) = (ui, kept) {
            let stop = stop_on_signal()?;
            let watch = grapevine::watch::WatchOptions {
                folders: vec![root.join("usb-stick")],
                media: Vec::new(),
                export: true,
                rescan: std::time::Duration::from_secs(60),
                settle: std::time::Duration::from_secs(10),
            };
            ctx.say("\nalice's window, with the demo's stick kept in sync:")?;
            grapevine::ui::run(
                root.join("alice"),
                grapevine::ui::UiOptions {
                    listen: "127.0.0.1:0".parse()?,
                    watch,
                    open: true,
                    // The demo's diaries are for this computer only.
                    serve: None,
                },
                &mut ctx.out,
                stop,
            )?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
