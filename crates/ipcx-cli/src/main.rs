//! `ipcx`: run the seed's IPC scenarios, move data through any mechanism,
//! benchmark them, and list and remove IPC objects.
//!
//! # Exit status
//! - 0: success, also when stdout is closed early (like `cat`, e.g.
//!   `ipcx recv … | head -c 10`).
//! - 1: any error, printed as one line on stderr (`ipcx: …`).
//! - 2: a usage error (an unknown flag or subcommand, a missing argument, a
//!   value that does not parse such as `--timeout -1s`), also one line.
//! - 128 + N: ended by signal N: 130 for `SIGINT` (Ctrl-C), 143 for
//!   `SIGTERM`, 129 for `SIGHUP`. Before exiting, whatever this command
//!   created and would have removed (a FIFO or a message queue made by
//!   `--create`) is removed; see [`cleanup`].
//! - `ipcx lock … -- CMD` returns CMD's status.

mod cleanup;
mod cli;
mod cmd;
mod io_util;
mod tour;
mod transport;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help, --version, and the help shown for a bare `ipcx`.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            e.exit()
        }
        Err(e) => {
            eprintln!("ipcx: {}", usage_line(&e));
            std::process::exit(2);
        }
    };
    if let Err(err) = cleanup::install() {
        eprintln!("ipcx: {}", one_line(&err));
        std::process::exit(1);
    }
    let result = match cli.command {
        cli::Command::Tour(a) => cmd::tour::run(a),
        cli::Command::Send(a) => cmd::send::run(a),
        cli::Command::Recv(a) => cmd::recv::run(a),
        cli::Command::Serve(a) => cmd::serve::run(a),
        cli::Command::Bench(a) => cmd::bench::run(a),
        cli::Command::Ls(a) => cmd::ls::run(a),
        cli::Command::Rm(a) => cmd::rm::run(a),
        cli::Command::Limits(a) => cmd::limits::run(a),
        cli::Command::Lock(a) => cmd::lock::run(a),
        cli::Command::Peer(a) => tour::run_peer(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            if io_util::is_broken_pipe(&err) {
                std::process::exit(0);
            }
            eprintln!("ipcx: {}", one_line(&err));
            std::process::exit(1);
        }
    }
}

/// clap's usage error on one line: its message without the `error:` tag,
/// the usage block and the help hint, which the line replaces.
fn usage_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let mut out = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out.push_str(" (see ipcx --help)");
    out
}

/// The error and its causes on one line, each cause once.
fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out.replace('\n', " ")
}
