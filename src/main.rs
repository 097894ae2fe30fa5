//! The `grapevine` command: a thin layer over [`grapevine::Node`] (see `cli/`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
