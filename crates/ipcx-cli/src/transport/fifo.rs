//! `ipcx send` / `ipcx recv` for fifo endpoints.
//!
//! A FIFO is a byte stream: `send` copies stdin (or `--message`) into it,
//! `recv` copies it to stdout until every writer has closed it, byte for byte
//! and in 64 KiB pieces, so any amount of data streams through without being
//! held in memory.
//!
//! - `--create`: make the FIFO (mode `--mode`, default 600) if it does not
//!   exist, and remove it when done unless `--keep`; without it, a missing
//!   FIFO is an error naming the path.
//! - `--timeout D`: give up when the peer has not opened the FIFO within D,
//!   or when no data moves for D (recv: nothing arrives; send: the reader
//!   does not drain the FIFO).
//! - `--count N`: recv stops after N bytes; send copies at most N bytes of
//!   stdin, or sends `--message` N times.
//! - `send --message TEXT` (with `--pad N`: NUL-padded to N bytes) and
//!   `send --lines` write each message or line in one atomic write when it
//!   is at most `PIPE_BUF` (4096) bytes, so concurrent senders never
//!   interleave inside one.

use std::io::{BufRead, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use ipcx::fifo::{Fifo, FifoReader, FifoWriter};
use ipcx::pipe::PIPE_BUF;
use ipcx::Endpoint;

use crate::cli::{RecvArgs, SendArgs};

/// Size of one piece of the byte stream.
const CHUNK: usize = 64 * 1024;

fn fifo_path(endpoint: &Endpoint) -> anyhow::Result<&Path> {
    match endpoint {
        Endpoint::Fifo { path } => Ok(path),
        other => bail!("endpoint {other} is not a fifo: endpoint"),
    }
}

/// Makes or finds the FIFO as `--create`, `--mode` and `--keep` say.
fn establish(path: &Path, create: bool, mode: Option<u32>, keep: bool) -> anyhow::Result<Fifo> {
    let builder = Fifo::builder(path).mode(mode.unwrap_or(0o600)).keep(keep);
    if create {
        return Ok(builder.open_or_create()?);
    }
    if mode.is_some() || keep {
        bail!("--mode and --keep apply to a FIFO made with --create");
    }
    match builder.open() {
        Err(e @ ipcx::Error::NotFound { .. }) => {
            bail!("{e}; pass --create to make it")
        }
        other => Ok(other?),
    }
}

/// Sends stdin or `--message` to the FIFO.
pub fn send(endpoint: &Endpoint, args: &SendArgs) -> anyhow::Result<()> {
    let path = fifo_path(endpoint)?;
    if args.listen {
        bail!("--listen applies to stream sockets, not to fifo: endpoints");
    }
    if args.pad.is_some() && args.message.is_none() {
        bail!("--pad applies to --message");
    }
    if args.lines && args.message.is_some() {
        bail!("--lines reads stdin; it cannot be combined with --message");
    }
    let fifo = establish(path, args.create, args.mode, args.keep)?;
    let writer = fifo.open_writer(args.timeout)?;
    if let Some(text) = &args.message {
        let mut msg = text.as_bytes().to_vec();
        if let Some(pad) = args.pad {
            if msg.len() > pad {
                bail!("--message is {} bytes, longer than --pad {pad}", msg.len());
            }
            msg.resize(pad, 0);
        }
        for _ in 0..args.count.unwrap_or(1) {
            write_piece(&writer, &msg, args.timeout)?;
        }
    } else if args.lines {
        send_lines(&writer, args.count, args.timeout)?;
    } else {
        send_stream(&writer, args.count, args.timeout)?;
    }
    drop(writer);
    if fifo.is_owner() && !args.keep {
        fifo.remove()?;
    }
    Ok(())
}

/// Writes one message: atomically when it fits in `PIPE_BUF` bytes.
fn write_piece(w: &FifoWriter, msg: &[u8], timeout: Option<Duration>) -> anyhow::Result<()> {
    if msg.len() > PIPE_BUF {
        return write_stream(w, msg, timeout);
    }
    match timeout {
        None => w.write_message(msg)?,
        Some(t) => w.write_message_timeout(msg, t)?,
    }
    Ok(())
}

/// Copies stdin (at most `limit` bytes) into the FIFO.
fn send_stream(
    w: &FifoWriter,
    limit: Option<u64>,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    let mut left = limit.unwrap_or(u64::MAX);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match stdin.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(anyhow::Error::new(e).context("reading stdin")),
        };
        write_stream(w, &buf[..n], timeout)?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes all of `data`, with an inactivity timeout if given.
fn write_stream(w: &FifoWriter, data: &[u8], timeout: Option<Duration>) -> anyhow::Result<()> {
    match timeout {
        Some(t) => w.write_all_timeout(data, t)?,
        None => {
            let mut w = w;
            w.write_all(data).map_err(unwrap_io)?
        }
    }
    Ok(())
}

/// Sends each stdin line (with its newline) as one atomic write; at most
/// `limit` lines.
fn send_lines(w: &FifoWriter, limit: Option<u64>, timeout: Option<Duration>) -> anyhow::Result<()> {
    let mut stdin = std::io::stdin().lock();
    let mut line = Vec::new();
    let mut left = limit.unwrap_or(u64::MAX);
    while left > 0 {
        line.clear();
        if stdin
            .read_until(b'\n', &mut line)
            .context("reading stdin")?
            == 0
        {
            break;
        }
        write_piece(w, &line, timeout)?;
        left -= 1;
    }
    Ok(())
}

/// Turns an `io::Error` that carries an `ipcx::Error` back into it, so the
/// message names the FIFO.
fn unwrap_io(e: std::io::Error) -> anyhow::Error {
    if e.get_ref().is_some_and(|inner| inner.is::<ipcx::Error>()) {
        let inner = e.into_inner().expect("checked above");
        match inner.downcast::<ipcx::Error>() {
            Ok(err) => return anyhow::Error::new(*err),
            Err(other) => return anyhow::anyhow!(other),
        }
    }
    anyhow::Error::new(e)
}

/// Receives from the FIFO to stdout.
pub fn recv(endpoint: &Endpoint, args: &RecvArgs) -> anyhow::Result<()> {
    let path = fifo_path(endpoint)?;
    if args.lines || args.connect || args.verbose {
        bail!("--lines, --connect and --verbose do not apply to fifo: endpoints (a byte stream)");
    }
    let fifo = establish(path, args.create, args.mode, args.keep)?;
    let mut reader = fifo.open_reader(args.timeout)?;
    copy_out(&mut reader, args.count, args.timeout)?;
    drop(reader);
    if fifo.is_owner() && !args.keep {
        fifo.remove()?;
    }
    Ok(())
}

/// Copies the FIFO to stdout until every writer has closed it, or `limit`
/// bytes have been copied.
fn copy_out(
    reader: &mut FifoReader,
    limit: Option<u64>,
    timeout: Option<Duration>,
) -> anyhow::Result<()> {
    // Straight to descriptor 1: Stdout's line buffering would split binary
    // data at every newline and copy it.
    let stdout = std::io::stdout();
    let mut out = std::fs::File::from(
        stdout
            .as_fd()
            .try_clone_to_owned()
            .context("duplicating stdout")?,
    );
    let mut buf = vec![0u8; CHUNK];
    let mut left = limit.unwrap_or(u64::MAX);
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match timeout {
            Some(t) => reader.read_timeout(&mut buf[..want], t)?,
            None => reader.read(&mut buf[..want]).map_err(unwrap_io)?,
        };
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}
