//! `ipcx send` / `ipcx recv` for `shm:/NAME?capacity=BYTES&wait=spin|futex|adaptive`
//! endpoints: the ipcx ring in POSIX shared memory.
//!
//! - `recv` opens the ring, or creates it (then it removes it on exit unless
//!   `--keep`); it writes each record to stdout (`--lines`: followed by a
//!   newline) until `--count` records arrived or the sender closed (exit 0);
//!   `--timeout` bounds the wait for each record.
//! - `send` opens the ring, or creates it when missing; it sends `--message`
//!   (`--count` times), or each line of stdin with `--lines`, or all of stdin
//!   as one record. When it created the ring it waits, at exit, until a
//!   receiver has taken every record (bounded by `--timeout`), then removes
//!   it; with `--keep` it leaves the ring for a later receiver instead.
//! - A ring either command made (and does not keep) is also removed when
//!   `SIGINT`, `SIGTERM` or `SIGHUP` ends it (see [`crate::cleanup`]).

use std::io::{BufRead, Read, Write};
use std::path::Path;

use anyhow::Context;
use ipcx::ring::{Ring, DEFAULT_CAPACITY};
use ipcx::Endpoint;

use crate::cleanup;
use crate::cli::{RecvArgs, SendArgs};

/// Opens the ring, or creates it when missing. A ring made here (and not
/// kept) is also removed when a signal ends the command, as long as the
/// returned guard lives (bind it first, so it outlives the ring's handles).
fn open_ring(
    endpoint: &Endpoint,
    mode: Option<u32>,
    keep: bool,
) -> anyhow::Result<(Option<cleanup::Guard>, Ring)> {
    let Endpoint::Shm {
        name,
        capacity,
        wait,
    } = endpoint
    else {
        anyhow::bail!("endpoint {endpoint} is not a ring endpoint");
    };
    let capacity = match capacity {
        Some(c) => usize::try_from(*c).context("capacity does not fit this machine")?,
        None => DEFAULT_CAPACITY,
    };
    // Making the object and registering its removal happen in one section,
    // so a signal cannot come in between. Opening an existing ring may wait
    // (at most a second) for its creator to finish the header; a signal in
    // that time is handled when the section ends.
    let mut section = cleanup::creating();
    let ring = Ring::builder(name)
        .capacity(capacity)
        .wait(wait.unwrap_or_default())
        .mode(mode.unwrap_or(0o600))
        .open_or_create()
        .with_context(|| format!("opening {endpoint}"))?;
    if keep {
        ring.keep();
    }
    let guard = (ring.is_creator() && !keep).then(|| {
        section.remove_path_on_signal(&Path::new("/dev/shm").join(name.trim_start_matches('/')))
    });
    drop(section);
    Ok((guard, ring))
}

/// Sends stdin or `--message` to the endpoint.
pub fn send(endpoint: &Endpoint, args: &SendArgs) -> anyhow::Result<()> {
    let (_cleanup, ring) = open_ring(endpoint, args.mode, args.keep)?;
    let mut tx = ring.producer()?;
    if let Some(pad) = args.pad {
        // Checked before the padded copy is allocated: --pad 10000000000
        // must not try to fill 10 GB of memory.
        let max = tx.max_record_len();
        if pad > max {
            anyhow::bail!(
                "{endpoint}: --pad {pad} is over the largest record of {max} bytes (half the ring capacity of {} bytes less 8)",
                tx.capacity()
            );
        }
    }
    let mut one = |msg: &[u8]| -> anyhow::Result<()> {
        let mut padded;
        let msg = match args.pad {
            Some(pad) if pad > msg.len() => {
                padded = msg.to_vec();
                padded.resize(pad, 0);
                &padded[..]
            }
            _ => msg,
        };
        match args.timeout {
            Some(t) => tx.send_timeout(msg, t)?,
            None => tx.send(msg)?,
        }
        Ok(())
    };
    if let Some(text) = &args.message {
        for _ in 0..args.count.unwrap_or(1) {
            one(text.as_bytes())?;
        }
    } else if args.lines {
        let stdin = std::io::stdin();
        for (sent, line) in stdin.lock().split(b'\n').enumerate() {
            if args.count.is_some_and(|c| sent as u64 >= c) {
                break;
            }
            one(&line.context("reading stdin")?)?;
        }
    } else {
        let mut all = Vec::new();
        std::io::stdin()
            .read_to_end(&mut all)
            .context("reading stdin")?;
        one(&all)?;
    }
    if ring.is_creator() && !args.keep {
        // Nobody else would ever read what we leave behind: wait for it to go.
        tx.flush(args.timeout).with_context(|| {
            format!("waiting for a receiver to take everything from {endpoint}")
        })?;
    }
    Ok(())
}

/// Receives from the endpoint to stdout.
pub fn recv(endpoint: &Endpoint, args: &RecvArgs) -> anyhow::Result<()> {
    let (_cleanup, ring) = open_ring(endpoint, args.mode, args.keep)?;
    let mut rx = ring.consumer()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut received = 0u64;
    while args.count.is_none_or(|c| received < c) {
        let rec = match args.timeout {
            Some(t) => rx.recv_borrowed_timeout(t),
            None => rx.recv_borrowed(),
        };
        let rec = match rec {
            Ok(rec) => rec,
            Err(ipcx::Error::Disconnected { .. }) if args.count.is_none() => break,
            Err(e) => return Err(e.into()),
        };
        out.write_all(&rec)?;
        if args.lines {
            out.write_all(b"\n")?;
        }
        drop(rec);
        received += 1;
        // Flush per record so a pipeline sees each one as it comes.
        out.flush()?;
    }
    out.flush()?;
    Ok(())
}
