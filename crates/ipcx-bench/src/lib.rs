//! The benchmark engine behind `ipcx bench`: scenarios, process orchestration,
//! statistics and reports.
//!
//! Every scenario runs between two processes: this one (the *parent*, which
//! measures) and a peer started through a caller-supplied command (the
//! *child*, which calls [`child_main`]). The two talk over a private control
//! socket (a `SOCK_SEQPACKET` pair handed to the child as its standard input)
//! that also carries the file descriptors a mechanism needs (pipe ends, a
//! memfd), so anonymous objects cross the `exec` as well as named ones.
//!
//! Two scenarios are measured for every mechanism and message size:
//! - **latency**: a ping-pong; the parent sends one message, the child sends it
//!   back, and the parent records the round-trip time of each exchange in an
//!   HDR histogram (p50, p99, p99.9, max);
//! - **throughput**: a one-way stream of messages from the parent to the child;
//!   the time runs from the first send until the child reports that it holds
//!   the last message.
//!
//! Baselines are measured in the same run: a cache-line ping-pong over one
//! shared atomic (the physical limit for latency), a raw futex ping-pong and
//! `memcpy` bandwidth (the limit for throughput), plus hidden raw-libc loops
//! doing the same system calls as each kernel mechanism without ipcx, so that
//! the report can show each wrapper's cost.
//!
//! ```no_run
//! let config = ipcx_bench::Config::quick();
//! let spawn = || {
//!     let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
//!     cmd.arg("--bench-child");
//!     cmd
//! };
//! let report = ipcx_bench::run(&config, &spawn, &mut |_p| {})?;
//! println!("{}", report.table());
//! # Ok::<(), anyhow::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

mod chart;
mod config;
mod control;
mod engine;
mod handshake;
mod link;
mod mechs;
#[allow(unsafe_code)]
mod raw;
mod report;
mod stats;
mod wired;

pub use chart::write_svg;
pub use config::{parse_size, Budget, Config};
pub use engine::{child_main, run, Progress};
pub use link::remove_leftovers;
pub use mechs::{catalog, MechanismInfo, Role};
pub use report::{
    Conclusion, Entry, Machine, Parameters, Report, Scenario, Status, Target, SCHEMA_VERSION,
};
pub use stats::{format_bytes_per_sec, format_ns, format_size, LatencySummary, ThroughputSummary};
