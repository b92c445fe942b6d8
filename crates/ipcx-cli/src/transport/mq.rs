//! `ipcx send` / `ipcx recv` for message-queue endpoints: `mq:/NAME` (POSIX)
//! and `sysvmq:KEY` (System V).
//!
//! Sending: one message per send — the whole of stdin, or `--message` — or,
//! with `--lines`, one message per input line (without its newline). `--pad N`
//! NUL-pads each body to N bytes (the seed's C receiver expects a 100-byte
//! body); a body longer than N is an error, never cut. `--count N` stops after
//! N lines, or sends the single message N times; `--count 0` is refused (it
//! would send nothing, whereas `recv --count 0` means no limit). A sysvmq message has the
//! endpoint's `type=N` (default 1, as the seed uses); a POSIX message has its
//! `prio=N` (default 0).
//!
//! Receiving: one message by default (`--count N` for N, `--count 0` without
//! limit), each body written to stdout as it arrives; `--lines` ends each with a
//! newline; `--verbose` prefixes `[prio N] ` or `[type N] `. A sysvmq body is
//! printed up to its first NUL byte, since C peers send NUL-terminated text in
//! fixed-size arrays (the bytes after the NUL are undefined); `--raw` prints it
//! whole. A sysvmq `type=N` selects what to receive: N > 0 exactly N, N < 0 the
//! lowest type ≤ |N|. `--timeout` bounds each wait for a message.
//!
//! Queues: without `--create` the queue must exist. `recv --create` opens or
//! creates it and removes a queue it created when done (unless `--keep`).
//! `send --create` opens or creates it and keeps it once a message is in it:
//! removing it would throw away the messages just sent (the receiver removes
//! it, as the seed's receiver does, or `ipcrm`); a queue it created but could
//! not send to is removed again. Created queues get `--mode` (default 600).
//! A POSIX queue is opened for sending only or receiving only, so write or
//! read permission on a queue someone else made is enough.
//! A queue the command would remove is removed also when SIGINT, SIGTERM or
//! SIGHUP ends the command (unless the signal was ignored when it started, as
//! under `nohup`); the command then dies of that signal as it would have.

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use ipcx::limits;
use ipcx::mq::{posix, sysv, CreationMode};
use ipcx::Endpoint;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::cli::{RecvArgs, SendArgs};

/// Sends one message body.
type Sink = dyn FnMut(&[u8]) -> anyhow::Result<()>;

/// Sends stdin or `--message` to the endpoint.
pub fn send(endpoint: &Endpoint, args: &SendArgs) -> anyhow::Result<()> {
    if args.count == Some(0) {
        anyhow::bail!(
            "ipcx send {endpoint}: --count 0 would send nothing; leave --count out to send stdin (every line with --lines)"
        );
    }
    let creation = if args.create {
        CreationMode::OpenOrCreate
    } else {
        CreationMode::Open
    };
    let mode = args.mode.unwrap_or(0o600);
    // The sink, and the largest body it takes with where that limit comes
    // from, to check `--pad` before allocating a padded body.
    let (mut sink, max_len, limit): (Box<Sink>, usize, String) = match endpoint {
        Endpoint::PosixMq {
            name,
            capacity,
            msgsize,
            prio,
        } => {
            let mut b = posix::MessageQueue::builder(name.as_str())
                .mode(mode)
                .access(posix::Access::Send);
            if let Some(c) = capacity {
                b = b.capacity(*c);
            }
            if let Some(s) = msgsize {
                b = b.msgsize(*s);
            }
            let mut q = b.build(creation)?;
            let guard = RemoveOnSignal::posix(&q)?;
            let max_len = q.msgsize();
            let prio = prio.unwrap_or(0);
            let timeout = args.timeout;
            let sink: Box<Sink> = Box::new(move |body| {
                match timeout {
                    Some(t) => q.send_timeout(body, prio, t)?,
                    None => q.send(body, prio)?,
                }
                guard.disarm();
                q.keep();
                Ok(())
            });
            (sink, max_len, "the queue's mq_msgsize".to_owned())
        }
        Endpoint::SysvMq { key, mtype } => {
            let mtype = match mtype {
                None => 1,
                Some(t) if *t > 0 => *t,
                Some(t) => anyhow::bail!(
                    "ipcx send {endpoint}: type={t} is a receive selector; a sent message needs a type of 1 or more"
                ),
            };
            let key = key.resolve()?;
            let mut q = sysv::MessageQueue::builder(key)
                .mode(mode)
                .build(creation)?;
            let guard = RemoveOnSignal::sysv(&q)?;
            let max_len = q.max_message_size();
            let timeout = args.timeout;
            let sink: Box<Sink> = Box::new(move |body| {
                match timeout {
                    Some(t) => q.send_timeout(mtype, body, t)?,
                    None => q.send(mtype, body)?,
                }
                guard.disarm();
                q.keep();
                Ok(())
            });
            let limit = format!("{} ({})", limits::MSGMAX.name, limits::MSGMAX.path);
            (sink, max_len, limit)
        }
        other => anyhow::bail!("ipcx send: {other} is not a message queue endpoint"),
    };

    let pad = args.pad;
    if let Some(n) = pad.filter(|&n| n > max_len) {
        anyhow::bail!(
            "ipcx send {endpoint}: --pad {n} is over the largest message of {max_len} bytes ({limit})"
        );
    }
    let mut send_one = |body: &[u8]| -> anyhow::Result<()> {
        match pad {
            Some(n) if body.len() > n => anyhow::bail!(
                "ipcx send {endpoint}: message of {} bytes is longer than --pad {n}",
                body.len()
            ),
            Some(n) => {
                let mut padded = body.to_vec();
                padded.resize(n, 0);
                sink(&padded)
            }
            None => sink(body),
        }
    };

    if args.lines {
        let limit = args.count.unwrap_or(u64::MAX);
        let text: Box<dyn BufRead> = match &args.message {
            Some(m) => Box::new(io::Cursor::new(m.clone().into_bytes())),
            None => Box::new(io::stdin().lock()),
        };
        for line in text
            .split(b'\n')
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            let line = line.context("reading stdin")?;
            send_one(&line)?;
        }
    } else {
        let body = match &args.message {
            Some(m) => m.clone().into_bytes(),
            None => {
                let mut v = Vec::new();
                io::stdin().read_to_end(&mut v).context("reading stdin")?;
                v
            }
        };
        for _ in 0..args.count.unwrap_or(1) {
            send_one(&body)?;
        }
    }
    Ok(())
}

/// Receives from the endpoint to stdout.
pub fn recv(endpoint: &Endpoint, args: &RecvArgs) -> anyhow::Result<()> {
    let creation = if args.create {
        CreationMode::OpenOrCreate
    } else {
        CreationMode::Open
    };
    let mode = args.mode.unwrap_or(0o600);
    let count = match args.count {
        None => 1,
        Some(0) => u64::MAX,
        Some(n) => n,
    };
    let mut out = io::stdout().lock();
    match endpoint {
        Endpoint::PosixMq {
            name,
            capacity,
            msgsize,
            ..
        } => {
            let mut b = posix::MessageQueue::builder(name.as_str())
                .mode(mode)
                .access(posix::Access::Receive);
            if let Some(c) = capacity {
                b = b.capacity(*c);
            }
            if let Some(s) = msgsize {
                b = b.msgsize(*s);
            }
            let mut q = b.build(creation)?;
            if args.keep {
                q.keep();
            }
            let _guard = RemoveOnSignal::posix(&q)?;
            let mut buf = vec![0u8; q.msgsize()];
            for _ in 0..count {
                let (len, prio) = match args.timeout {
                    Some(t) => q.recv_timeout(&mut buf, t)?,
                    None => q.recv(&mut buf)?,
                };
                let tag = args.verbose.then(|| format!("[prio {prio}] "));
                print_message(&mut out, tag, &buf[..len], args.lines)?;
            }
        }
        Endpoint::SysvMq { key, mtype } => {
            let key = key.resolve()?;
            let mut q = sysv::MessageQueue::builder(key)
                .mode(mode)
                .build(creation)?;
            if args.keep {
                q.keep();
            }
            let _guard = RemoveOnSignal::sysv(&q)?;
            let selector = sysv::TypeSelector::from_msgtyp(*mtype);
            let size = q
                .max_message_size()
                .max(q.stat().map_or(0, |s| s.max_bytes as usize));
            let mut buf = vec![0u8; size];
            for _ in 0..count {
                let m = match args.timeout {
                    Some(t) => q.recv_timeout(selector, &mut buf, t)?,
                    None => q.recv(selector, &mut buf)?,
                };
                let mut body = &buf[..m.len];
                if !args.raw {
                    if let Some(nul) = body.iter().position(|&b| b == 0) {
                        body = &body[..nul];
                    }
                }
                let tag = args.verbose.then(|| format!("[type {}] ", m.mtype));
                print_message(&mut out, tag, body, args.lines)?;
            }
        }
        other => anyhow::bail!("ipcx recv: {other} is not a message queue endpoint"),
    }
    Ok(())
}

/// A queue the command created and would remove when done.
enum Created {
    Posix(String),
    Sysv(i32),
}

/// Removes the queue this command owns if SIGINT, SIGTERM or SIGHUP ends the
/// command while the guard is armed: the handle's drop never runs then. A
/// thread waits for the signal, removes the queue and then lets the signal's
/// default action end the process, so the exit status still tells the signal.
/// Signals ignored at start (as under `nohup`) stay ignored. Dropping the
/// guard, or [`disarm`](RemoveOnSignal::disarm), leaves removal to the handle.
struct RemoveOnSignal {
    armed: Arc<AtomicBool>,
}

impl RemoveOnSignal {
    fn posix(q: &posix::MessageQueue) -> anyhow::Result<RemoveOnSignal> {
        Self::arm(q.is_owner(), Created::Posix(q.name().to_owned()))
    }

    fn sysv(q: &sysv::MessageQueue) -> anyhow::Result<RemoveOnSignal> {
        Self::arm(q.is_owner(), Created::Sysv(q.id()))
    }

    fn arm(owner: bool, created: Created) -> anyhow::Result<RemoveOnSignal> {
        let armed = Arc::new(AtomicBool::new(owner));
        if !owner {
            return Ok(RemoveOnSignal { armed });
        }
        let ignored = ignored_signals();
        let wanted = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|&sig| ignored & (1 << (sig - 1)) == 0);
        let mut signals = Signals::new(wanted).context("installing signal handlers")?;
        let flag = Arc::clone(&armed);
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                // Held until the process ends: a receiver woken by the
                // removal must not report it as an error.
                let _stderr = io::stderr().lock();
                if flag.load(Ordering::SeqCst) {
                    match &created {
                        Created::Posix(name) => {
                            let _ = posix::MessageQueue::unlink_name(name);
                        }
                        Created::Sysv(id) => {
                            let _ = sysv::MessageQueue::open_id(*id).and_then(|q| q.remove());
                        }
                    }
                }
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        });
        Ok(RemoveOnSignal { armed })
    }

    /// Leaves the queue in place on a signal from now on.
    fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

impl Drop for RemoveOnSignal {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// The signals ignored by this process (bit `n - 1` for signal `n`), from
/// the `SigIgn` line of `/proc/self/status`; none if it cannot be read.
fn ignored_signals() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("SigIgn:"))?;
            u64::from_str_radix(line["SigIgn:".len()..].trim(), 16).ok()
        })
        .unwrap_or(0)
}

fn print_message(
    out: &mut impl Write,
    tag: Option<String>,
    body: &[u8],
    newline: bool,
) -> io::Result<()> {
    if let Some(tag) = tag {
        out.write_all(tag.as_bytes())?;
    }
    out.write_all(body)?;
    if newline {
        out.write_all(b"\n")?;
    }
    out.flush()
}
