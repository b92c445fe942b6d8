//! `ipcx tour`: the seed's scenarios run for real, one module per mechanism.
//!
//! Each module lists its [`Scenario`]s and implements the roles that
//! `ipcx peer MECHANISM ROLE ARGS…` runs in separate processes (the tour starts
//! its own executable for each side, so every scenario really crosses a process
//! boundary).

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::PeerArgs;

pub mod conclusions;
pub mod fifo;
pub mod mq;
pub mod pipe;
pub mod ring;
pub mod sem;
pub mod shm;
pub mod socket;

/// One scenario of the tour.
pub struct Scenario {
    /// The mechanism it belongs to (`pipe`, `fifo`, …), as written on the command line.
    pub mechanism: &'static str,
    /// A short title.
    pub title: &'static str,
    /// Runs it, printing steps through the reporter; an error is a failure.
    pub run: fn(&mut Reporter) -> anyhow::Result<()>,
}

/// A mechanism module: its scenarios and its peer roles.
pub struct Module {
    /// The mechanism name used on the command line (several modules may share one).
    pub name: &'static str,
    /// The module's own id, used by `ipcx peer ID ROLE`.
    pub id: &'static str,
    /// The scenarios, in order.
    pub scenarios: fn() -> Vec<Scenario>,
    /// Runs one role in a peer process; returns its exit status.
    pub peer: fn(role: &str, args: &[String]) -> anyhow::Result<i32>,
}

/// Every mechanism, in tour order.
pub const MODULES: &[Module] = &[
    Module {
        name: "pipe",
        id: "pipe",
        scenarios: pipe::scenarios,
        peer: pipe::peer,
    },
    Module {
        name: "fifo",
        id: "fifo",
        scenarios: fifo::scenarios,
        peer: fifo::peer,
    },
    Module {
        name: "mq",
        id: "mq",
        scenarios: mq::scenarios,
        peer: mq::peer,
    },
    Module {
        name: "shm",
        id: "shm",
        scenarios: shm::scenarios,
        peer: shm::peer,
    },
    Module {
        name: "shm",
        id: "ring",
        scenarios: ring::scenarios,
        peer: ring::peer,
    },
    Module {
        name: "sem",
        id: "sem",
        scenarios: sem::scenarios,
        peer: sem::peer,
    },
    Module {
        name: "socket",
        id: "socket",
        scenarios: socket::scenarios,
        peer: socket::peer,
    },
];

/// Prints the steps of a scenario as it runs.
pub struct Reporter {
    /// Measurements worth a summary column, e.g. `("bytes", "19")`.
    pub facts: Vec<(String, String)>,
}

impl Reporter {
    pub(crate) fn new() -> Self {
        Reporter { facts: Vec::new() }
    }

    /// Prints one step of the scenario.
    pub fn step(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("    {text}");
    }

    /// Records a measured fact for the summary table and prints it.
    pub fn fact(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        println!("    {name}: {value}");
        self.facts.push((name, value));
    }
}

/// A command that runs `ipcx peer ID ROLE ARGS…` with this executable, where
/// ID is a [`Module::id`].
pub fn peer_command(mechanism: &str, role: &str, args: &[&str]) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("finding the ipcx executable to start a peer")?;
    let mut cmd = Command::new(exe);
    cmd.arg("peer").arg(mechanism).arg(role).args(args);
    Ok(cmd)
}

/// Waits for a peer process with a deadline, killing it if it overstays, and
/// returns its captured stdout.
pub fn wait_peer(
    child: std::process::Child,
    what: &str,
    timeout: Duration,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    let mut child = child;
    loop {
        if let Some(status) = child.try_wait()? {
            let mut out = String::new();
            if let Some(mut stdout) = child.stdout.take() {
                use std::io::Read;
                stdout.read_to_string(&mut out)?;
            }
            if !status.success() {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    use std::io::Read;
                    let _ = stderr.read_to_string(&mut err);
                }
                anyhow::bail!("{what} failed ({status}): {}", err.trim());
            }
            return Ok(out);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `ipcx peer …`.
pub fn run_peer(args: PeerArgs) -> anyhow::Result<i32> {
    let module = MODULES
        .iter()
        .find(|m| m.id == args.mechanism)
        .with_context(|| format!("no tour mechanism {:?}", args.mechanism))?;
    (module.peer)(&args.role, &args.args)
}

/// Unknown role in a peer module.
pub fn unknown_role(mechanism: &str, role: &str) -> anyhow::Error {
    anyhow::anyhow!("tour {mechanism}: no peer role {role:?}")
}
