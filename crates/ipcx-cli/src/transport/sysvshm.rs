//! `ipcx send` / `ipcx recv` for sysvshm endpoints (`sysvshm:KEY?size=B`),
//! compatible with the seed's `shm_writer.c` and `shm_reader.c`.
//!
//! - `send` opens the segment, or creates it (mode 0600 unless `--mode`,
//!   default size 1024 bytes), writes the text followed by a NUL at offset 0,
//!   and **leaves the segment in place** so that a reader started later finds
//!   the data — like the seed's writer. The reader removes it. Text of more
//!   than size − 1 bytes is refused (`MessageTooLarge`), never truncated.
//! - `recv` opens the existing segment (the size is checked when `?size=`
//!   is given), prints the bytes before the first NUL (with a newline only
//!   under `--lines`), and then **removes the segment** (`IPC_RMID`) like
//!   the seed's reader, unless `--keep`. A segment with no NUL anywhere is
//!   not seed text: that is a `Corrupted` error, nothing is printed, and the
//!   segment is kept for inspection.

use std::io::{Read, Write};

use anyhow::Context;
use ipcx::key::KeySpec;
use ipcx::shm::sysv::Segment;
use ipcx::shm::SharedMemory;
use ipcx::Endpoint;

use crate::cli::{RecvArgs, SendArgs};

/// The seed's segment size, bytes.
pub const DEFAULT_SIZE: usize = 1024;

fn parts(endpoint: &Endpoint) -> anyhow::Result<(&KeySpec, Option<usize>)> {
    match endpoint {
        Endpoint::SysvShm { key, size } => {
            let size = size
                .map(usize::try_from)
                .transpose()
                .with_context(|| format!("endpoint {endpoint}: size does not fit in memory"))?;
            Ok((key, size))
        }
        other => anyhow::bail!("endpoint {other} is not a sysvshm endpoint"),
    }
}

/// Sends stdin or `--message` to the endpoint.
pub fn send(endpoint: &Endpoint, args: &SendArgs) -> anyhow::Result<()> {
    let (spec, size) = parts(endpoint)?;
    let key = spec.resolve()?;
    let text: Vec<u8> = match &args.message {
        Some(m) => m.clone().into_bytes(),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            buf
        }
    };
    if text.contains(&0) {
        anyhow::bail!(
            "endpoint {endpoint}: the text contains a NUL byte, which would cut it short for the reader"
        );
    }
    let too_large = |object: String, seg_len: usize| ipcx::Error::MessageTooLarge {
        object,
        len: text.len(),
        max: seg_len - 1,
        limit_source: format!("segment size of {seg_len} bytes minus the terminating NUL"),
    };
    let mut opener = Segment::builder(key);
    if let Some(s) = size {
        opener = opener.size(s);
    }
    let mut seg = match opener.open() {
        Ok(seg) => seg,
        Err(ipcx::Error::NotFound { .. }) => {
            let new_size = size.unwrap_or(DEFAULT_SIZE);
            // Check before creating, so a refused text leaves nothing behind.
            if text.len() + 1 > new_size {
                return Err(too_large(format!("System V shared memory {key}"), new_size).into());
            }
            Segment::builder(key)
                .size(new_size)
                .mode(args.mode.unwrap_or(0o600))
                .open_or_create()?
        }
        Err(e) => return Err(e.into()),
    };
    // The data must outlive this process: the reader removes the segment.
    seg.keep();
    if text.len() + 1 > seg.len() {
        return Err(too_large(seg.describe(), seg.len()).into());
    }
    seg.write_bytes(0, &text)?;
    seg.write_bytes(text.len(), &[0])?;
    Ok(())
}

/// Receives from the endpoint to stdout.
pub fn recv(endpoint: &Endpoint, args: &RecvArgs) -> anyhow::Result<()> {
    let (spec, size) = parts(endpoint)?;
    let key = spec.resolve()?;
    let mut builder = Segment::builder(key).read_only();
    if let Some(s) = size {
        builder = builder.size(s);
    }
    let mut seg = builder.open()?;
    let mut data = vec![0u8; seg.len()];
    seg.read_bytes(0, &mut data)?;
    let Some(end) = data.iter().position(|&b| b == 0) else {
        return Err(ipcx::Error::Corrupted {
            object: seg.describe(),
            detail: format!(
                "no NUL terminator within its {} bytes: not a seed-style text (segment kept)",
                seg.len()
            ),
        }
        .into());
    };
    let mut out = std::io::stdout().lock();
    out.write_all(&data[..end])?;
    if args.lines {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if !args.keep {
        seg.remove()?;
    }
    Ok(())
}
