//! `ipcx send` / `ipcx recv` for sysvshm endpoints (`sysvshm:KEY?size=B`),
//! compatible with the seed's `shm_writer.c` and `shm_reader.c`.
//!
//! - `send` opens the segment, or creates it (mode 0600 unless `--mode`,
//!   default size 1024 bytes), writes the text followed by a NUL at offset 0,
//!   and **leaves the segment in place** so that a reader started later finds
//!   the data — like the seed's writer. The reader removes it. Text of more
//!   than size − 1 bytes is refused (`MessageTooLarge`), never truncated;
//!   stdin is read only up to the segment's size, so an endless stdin is
//!   refused rather than buffered.
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
    let mut opener = Segment::builder(key);
    if let Some(s) = size {
        opener = opener.size(s);
    }
    let existing = match opener.open() {
        Ok(seg) => Some(seg),
        Err(ipcx::Error::NotFound { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let seg_len = existing
        .as_ref()
        .map_or(size.unwrap_or(DEFAULT_SIZE), |seg| seg.len());
    let object = existing.as_ref().map_or_else(
        || format!("System V shared memory {key}"),
        |seg| seg.describe(),
    );
    // Read no more than the segment holds (one byte more tells that the
    // text is too long): stdin may be endless.
    let text: Vec<u8> = match &args.message {
        Some(m) => m.clone().into_bytes(),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(seg_len as u64)
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
    // Checked before creating, so a refused text leaves nothing behind.
    if text.len() + 1 > seg_len {
        return Err(ipcx::Error::MessageTooLarge {
            object,
            len: text.len(),
            max: seg_len - 1,
            limit_source: format!("segment size of {seg_len} bytes minus the terminating NUL"),
        }
        .into());
    }
    let mut seg = match existing {
        Some(seg) => seg,
        None => Segment::builder(key)
            .size(seg_len)
            .mode(args.mode.unwrap_or(0o600))
            .open_or_create()?,
    };
    // The data must outlive this process: the reader removes the segment.
    seg.keep();
    if text.len() + 1 > seg.len() {
        // Made by someone else, with another size, since we looked.
        return Err(ipcx::Error::MessageTooLarge {
            object: seg.describe(),
            len: text.len(),
            max: seg.len() - 1,
            limit_source: format!(
                "segment size of {} bytes minus the terminating NUL",
                seg.len()
            ),
        }
        .into());
    }
    seg.write_bytes(0, &text)?;
    seg.write_bytes(text.len(), &[0])?;
    Ok(())
}

/// Bytes copied out of a segment at a time. `recv` never holds more: the
/// segment's size comes from whoever made it (up to `shmmax`), and copying
/// it whole would allocate that much, and touch every page of it.
const CHUNK: usize = 64 * 1024;

/// Offset of the first NUL in the segment, scanning `chunk` bytes at a time
/// and stopping there (pages after it are never touched).
fn text_len(seg: &impl SharedMemory, chunk: usize) -> ipcx::Result<Option<usize>> {
    let mut buf = vec![0u8; chunk.min(seg.size())];
    let mut offset = 0;
    while offset < seg.size() {
        let n = chunk.min(seg.size() - offset);
        seg.read_bytes(offset, &mut buf[..n])?;
        if let Some(p) = buf[..n].iter().position(|&b| b == 0) {
            return Ok(Some(offset + p));
        }
        offset += n;
    }
    Ok(None)
}

/// Writes the first `len` bytes of the segment to `out`, `chunk` at a time.
fn copy_text(
    seg: &impl SharedMemory,
    len: usize,
    chunk: usize,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut buf = vec![0u8; chunk.min(len)];
    let mut offset = 0;
    while offset < len {
        let n = chunk.min(len - offset);
        seg.read_bytes(offset, &mut buf[..n])?;
        out.write_all(&buf[..n])?;
        offset += n;
    }
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
    let Some(end) = text_len(&seg, CHUNK)? else {
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
    copy_text(&seg, end, CHUNK, &mut out)?;
    if args.lines {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if !args.keep {
        seg.remove()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipcx::key::Key;

    #[test]
    fn recv_finds_the_text_across_chunk_boundaries_without_a_whole_segment_copy() {
        let seg = Segment::builder(Key::PRIVATE).size(64).create().unwrap();
        seg.write_bytes(0, &[b'a'; 64]).unwrap();
        for (nul, chunk) in [(0, 4), (3, 4), (4, 4), (5, 4), (63, 4), (10, 64), (10, 1)] {
            seg.write_bytes(0, &[b'a'; 64]).unwrap();
            seg.write_bytes(nul, &[0]).unwrap();
            assert_eq!(text_len(&seg, chunk).unwrap(), Some(nul), "{nul} {chunk}");
            let mut out = Vec::new();
            copy_text(&seg, nul, chunk, &mut out).unwrap();
            assert_eq!(out, vec![b'a'; nul]);
        }
        seg.write_bytes(0, &[b'a'; 64]).unwrap();
        assert_eq!(text_len(&seg, 7).unwrap(), None);
    }
}
