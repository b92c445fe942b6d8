//! Command-line grammar of `ipcx`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// ipcx: run, move data through, benchmark, list and remove Linux IPC.
#[derive(Debug, Parser)]
#[command(name = "ipcx", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run each seed scenario for real, between separate processes, and check it.
    Tour(TourArgs),
    /// Send bytes from stdin (or --message) to an endpoint.
    Send(SendArgs),
    /// Receive from an endpoint and write the bytes to stdout.
    Recv(RecvArgs),
    /// Serve an endpoint for many clients (echo or a fixed message).
    ///
    /// Concurrency: unix:, unix-seqpacket: and tcp: endpoints get one thread
    /// per client from a bounded pool (at most 1024 at once; further clients
    /// wait in the listen backlog); unix-dgram: and udp: endpoints are served
    /// by one thread answering each datagram. Streams are echoed byte for
    /// byte, messages whole. Binds loopback only unless --public. Prints
    /// `listening on ENDPOINT` once ready.
    Serve(ServeArgs),
    /// Measure latency and throughput of every mechanism side by side.
    Bench(BenchArgs),
    /// List IPC objects on this machine.
    Ls(LsArgs),
    /// Remove IPC objects.
    Rm(RmArgs),
    /// Show the kernel limits that shape IPC.
    Limits(LimitsArgs),
    /// Run a command while holding a cross-process lock released if the holder dies.
    Lock(LockArgs),
    /// Internal: one side of a tour scenario, started by `ipcx tour`.
    #[command(hide = true)]
    Peer(PeerArgs),
}

/// Parses durations such as `200ms`, `10s`, `1m 30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 200ms or 10s: {e}"))
}

/// Parses an octal file mode such as `600` or `0o644`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("{text:?} is not an octal mode from 000 to 777")),
    }
}

/// `ipcx tour`.
#[derive(Debug, Args)]
pub struct TourArgs {
    /// Mechanisms to run (default: all): pipe, fifo, mq, shm, sem, socket.
    pub mechanisms: Vec<String>,
}

/// `ipcx send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Where to send, e.g. fifo:/tmp/myfifo, mq:/jobs, tcp:127.0.0.1:8080.
    pub endpoint: String,
    /// Send this text instead of reading stdin.
    #[arg(long, short)]
    pub message: Option<String>,
    /// Send each input line as its own message (message endpoints: without its newline; fifo: with it, in one atomic write).
    #[arg(long)]
    pub lines: bool,
    /// Stop after N messages (message endpoints), N bytes of stdin (byte streams such as fifo:) or N lines (--lines); with --message, send it N times.
    #[arg(long)]
    pub count: Option<u64>,
    /// Give up when the peer is missing or the send blocks longer than this (e.g. 200ms, 10s).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Create the object (FIFO, queue, segment) if it does not exist.
    #[arg(long)]
    pub create: bool,
    /// Mode for created objects, octal (default 600).
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<u32>,
    /// Keep a created object when done instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// Pad each message with NUL bytes to this many bytes (the seed's C peers expect fixed-size bodies).
    #[arg(long)]
    pub pad: Option<usize>,
    /// Stream sockets: listen and send to the first client instead of connecting.
    #[arg(long)]
    pub listen: bool,
}

/// `ipcx recv`.
#[derive(Debug, Args)]
pub struct RecvArgs {
    /// Where to receive from.
    pub endpoint: String,
    /// Stop after N messages (message endpoints) or N bytes (byte streams such as fifo:).
    #[arg(long)]
    pub count: Option<u64>,
    /// Give up when nothing arrives (or no peer connects) within this time (e.g. 200ms, 10s).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Create the object (FIFO, queue, segment) if it does not exist.
    #[arg(long)]
    pub create: bool,
    /// Mode for created objects, octal (default 600).
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<u32>,
    /// Keep a created object when done instead of removing it.
    #[arg(long)]
    pub keep: bool,
    /// Print each message's priority (mq) or type (sysvmq) before it.
    #[arg(long, short)]
    pub verbose: bool,
    /// Message endpoints: end each printed message with a newline.
    #[arg(long)]
    pub lines: bool,
    /// Stream sockets: connect to a server instead of listening.
    #[arg(long)]
    pub connect: bool,
    /// sysvmq: print each body whole; by default a body is cut at its first NUL byte, as C peers send NUL-terminated text in fixed-size bodies.
    #[arg(long)]
    pub raw: bool,
}

/// `ipcx serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The endpoint to serve, e.g. unix:/tmp/s.sock, tcp:127.0.0.1:8080.
    pub endpoint: String,
    /// Echo every message back to its sender.
    #[arg(long, conflicts_with = "message")]
    pub echo: bool,
    /// Send this text to every client, then close its connection.
    #[arg(long, short)]
    pub message: Option<String>,
    /// Admit only peers whose kernel-reported uid (SO_PEERCRED) is UID.
    #[arg(long)]
    pub allow_uid: Option<u32>,
    /// Allow binding a non-loopback address (the default refuses anything but loopback).
    #[arg(long)]
    pub public: bool,
    /// Exit after serving N clients.
    #[arg(long)]
    pub clients: Option<u64>,
    /// Exit when no client arrives within this time.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// `ipcx bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Mechanisms to measure, comma-separated (default all): pipe, fifo,
    /// sysvmq, mq, unix, unix-dgram, unix-seqpacket, tcp, udp, sysvshm,
    /// posixshm, ring-spin, ring-futex, ring-adaptive, channel; an unknown
    /// name is an error that lists the names and groups.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub mechanisms: Vec<String>,
    /// Message sizes in bytes, comma-separated (e.g. 64,4KiB,64KiB,1MiB).
    #[arg(long, value_delimiter = ',', value_name = "SIZES")]
    pub sizes: Vec<String>,
    /// Time per measurement (one mechanism, one scenario, one size), e.g. 500ms.
    #[arg(long, value_parser = parse_duration, conflicts_with = "iterations")]
    pub duration: Option<Duration>,
    /// Round trips or messages per measurement.
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Output format: table, json or csv.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Shorthand for --format json.
    #[arg(long, conflicts_with_all = ["format", "csv"])]
    pub json: bool,
    /// Shorthand for --format csv.
    #[arg(long, conflicts_with = "format")]
    pub csv: bool,
    /// Write an SVG chart of latency and throughput to FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<std::path::PathBuf>,
    /// A short run (under 10 s).
    #[arg(long)]
    pub quick: bool,
    /// Internal: run as the peer process of a measurement (control socket on stdin).
    #[arg(long, hide = true)]
    pub child: bool,
}

/// `ipcx ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON (a documented, stable schema) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only objects whose creator is dead and that nobody has open or attached.
    #[arg(long)]
    pub stale: bool,
    /// Only these kinds (comma-separated): sysvmq, sysvshm, sysvsem, shm, sem, mq, unix, fifo, ring.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// Only objects owned by this user name or uid.
    #[arg(long)]
    pub owner: Option<String>,
    /// Only objects whose name, key, path or id contains this text.
    #[arg(long = "match", value_name = "TEXT")]
    pub pattern: Option<String>,
}

/// `ipcx rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Objects, e.g. sysvmq:0x4100c04d, shm:/name, mq:/name, sysvshm:id=32769.
    pub objects: Vec<String>,
    /// Remove objects that are in use.
    #[arg(long)]
    pub force: bool,
    /// Remove exactly what `ipcx ls --stale` shows.
    #[arg(long)]
    pub stale: bool,
    /// Print what would be removed and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --stale: only these kinds (comma-separated, as for `ls --kind`);
    /// with a bare System V id: the kind of that id.
    #[arg(long, value_delimiter = ',')]
    pub kind: Vec<String>,
    /// With --stale: only objects owned by this user name or uid.
    #[arg(long)]
    pub owner: Option<String>,
    /// With --stale: only objects whose name, key, path or id contains this text.
    #[arg(long = "match", value_name = "TEXT")]
    pub pattern: Option<String>,
}

/// `ipcx limits`.
#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `ipcx lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The lock's name (one leading '/' allowed, no other slash); the lock lives in the POSIX shared memory object /ipcx-lock.NAME.
    pub name: String,
    /// Give up if the lock is not acquired within this time.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `ipcx peer`: internal.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// The tour mechanism module.
    pub mechanism: String,
    /// The role inside that scenario.
    pub role: String,
    /// Role arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}
