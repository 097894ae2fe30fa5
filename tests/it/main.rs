#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Integration tests: several nodes, each with its own home, driven the way people use grapevine.
//! One test binary, split by topic; the `grapevine` binary is built once and shared.

mod bundles;
mod carry;
mod check;
mod crash;
mod damage;
mod devices;
mod dropfolder;
mod guide;
mod harness;
mod hostile;
mod in_process;
mod json;
mod lan;
mod local;
mod order;
mod private;
mod promises;
mod reading;
mod restore;
mod snapshots;
mod soak;
mod syncthing;
mod trust;
mod ui;
mod ui_more;
mod upgrade;
mod vectors;
