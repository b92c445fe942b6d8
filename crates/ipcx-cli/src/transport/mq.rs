//! `ipcx send` / `ipcx recv` for message-queue endpoints: `mq:/NAME` (POSIX)
//! and `sysvmq:KEY` (System V).
//!
//! Sending: one message per send — the whole of stdin, or `--message` — or,
//! with `--lines`, one message per input line (without its newline). `--pad N`
//! NUL-pads each body to N bytes (the seed's C receiver expects a 100-byte
//! body); a body longer than N is an error, never cut. `--count N` stops after
//! N lines, or sends the single message N times. A sysvmq message has the
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

use std::io::{self, BufRead, Read, Write};

use anyhow::Context;
use ipcx::mq::{posix, sysv, CreationMode};
use ipcx::Endpoint;

use crate::cli::{RecvArgs, SendArgs};

/// Sends one message body.
type Sink = dyn FnMut(&[u8]) -> anyhow::Result<()>;

/// Sends stdin or `--message` to the endpoint.
pub fn send(endpoint: &Endpoint, args: &SendArgs) -> anyhow::Result<()> {
    let creation = if args.create {
        CreationMode::OpenOrCreate
    } else {
        CreationMode::Open
    };
    let mode = args.mode.unwrap_or(0o600);
    let mut sink: Box<Sink> = match endpoint {
        Endpoint::PosixMq {
            name,
            capacity,
            msgsize,
            prio,
        } => {
            let mut b = posix::MessageQueue::builder(name.as_str()).mode(mode);
            if let Some(c) = capacity {
                b = b.capacity(*c);
            }
            if let Some(s) = msgsize {
                b = b.msgsize(*s);
            }
            let mut q = b.build(creation)?;
            let prio = prio.unwrap_or(0);
            let timeout = args.timeout;
            Box::new(move |body| {
                match timeout {
                    Some(t) => q.send_timeout(body, prio, t)?,
                    None => q.send(body, prio)?,
                }
                q.keep();
                Ok(())
            })
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
            q.keep();
            let timeout = args.timeout;
            Box::new(move |body| {
                match timeout {
                    Some(t) => q.send_timeout(mtype, body, t)?,
                    None => q.send(mtype, body)?,
                }
                Ok(())
            })
        }
        other => anyhow::bail!("ipcx send: {other} is not a message queue endpoint"),
    };

    let pad = args.pad;
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
            let mut b = posix::MessageQueue::builder(name.as_str()).mode(mode);
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
