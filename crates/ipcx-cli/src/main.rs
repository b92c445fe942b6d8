//! `ipcx`: run the seed's IPC scenarios, move data through any mechanism,
//! benchmark them, and list and remove IPC objects.
//!
//! # Exit status
//! - 0: success, also when stdout is closed early (like `cat`, e.g.
//!   `ipcx recv … | head -c 10`).
//! - 1: any error, printed as one line on stderr (`ipcx: …`).
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
    let cli = cli::Cli::parse();
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
