//! Length-prefixed frames over any byte stream.
//!
//! A byte stream (pipe, FIFO, Unix stream socket, TCP) has no message
//! boundaries. A frame restores them: a 4-byte little-endian length, then that
//! many payload bytes. The reader checks the length against its maximum
//! **before** allocating, so a hostile or corrupted prefix (say 4 GiB) is an
//! [`Error::MessageTooLarge`] and never a giant allocation; below the maximum,
//! the buffer grows with the bytes that actually arrive, so a prefix with no
//! payload behind it allocates nothing much either.
//!
//! ```
//! use ipcx::frame::{FrameReader, FrameWriter};
//! let mut wire = Vec::new();
//! let mut w = FrameWriter::new(&mut wire, 1024);
//! w.send(b"hello")?;
//! w.send(b"")?;
//! let mut r = FrameReader::new(&wire[..], 1024);
//! assert_eq!(r.recv()?, Some(&b"hello"[..]));
//! assert_eq!(r.recv()?, Some(&b""[..]));
//! assert_eq!(r.recv()?, None); // clean end of stream
//! # Ok::<(), ipcx::Error>(())
//! ```

use std::io::{self, Read, Write};

use crate::error::{Error, Result};

/// Bytes in a frame header (the little-endian `u32` length).
pub const HEADER_LEN: usize = 4;

/// The largest frame this module can describe: `u32::MAX` bytes.
pub const ABSOLUTE_MAX: usize = u32::MAX as usize;

/// Writes frames to a byte stream.
#[derive(Debug)]
pub struct FrameWriter<W> {
    inner: W,
    max: usize,
    object: String,
}

impl<W: Write> FrameWriter<W> {
    /// Wraps `inner`; frames longer than `max` bytes are refused.
    pub fn new(inner: W, max: usize) -> Self {
        FrameWriter {
            inner,
            max: max.min(ABSOLUTE_MAX),
            object: "frame stream".into(),
        }
    }

    /// Names the stream in errors (for example `unix socket /run/x.sock`).
    pub fn with_name(mut self, object: impl Into<String>) -> Self {
        self.object = object.into();
        self
    }

    /// Writes one frame: header and payload, retrying partial writes and
    /// `EINTR`, then flushes.
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`] if `payload` is over the maximum; nothing is written.
    /// - [`Error::Disconnected`] if the reader is gone (`EPIPE`, `ECONNRESET`).
    /// - [`Error::Io`] for other write errors.
    pub fn send(&mut self, payload: &[u8]) -> Result<()> {
        if payload.len() > self.max {
            return Err(Error::MessageTooLarge {
                object: self.object.clone(),
                len: payload.len(),
                max: self.max,
                limit_source: "the frame stream's maximum frame size".into(),
            });
        }
        let header = (payload.len() as u32).to_le_bytes();
        self.write_all(&header)?;
        self.write_all(payload)?;
        self.inner.flush().map_err(|e| self.io_error("write", e))
    }

    fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.inner.write(buf) {
                Ok(0) => {
                    return Err(Error::Disconnected {
                        object: self.object.clone(),
                        reason: "the stream accepted no more bytes".into(),
                    })
                }
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error("write", e)),
            }
        }
        Ok(())
    }

    fn io_error(&self, syscall: &'static str, e: io::Error) -> Error {
        io_error(&self.object, syscall, e)
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Reads frames from a byte stream, reusing one buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    max: usize,
    buf: Vec<u8>,
    object: String,
}

impl<R: Read> FrameReader<R> {
    /// Wraps `inner`; a header announcing more than `max` bytes is refused
    /// before any allocation.
    pub fn new(inner: R, max: usize) -> Self {
        FrameReader {
            inner,
            max: max.min(ABSOLUTE_MAX),
            buf: Vec::new(),
            object: "frame stream".into(),
        }
    }

    /// Names the stream in errors.
    pub fn with_name(mut self, object: impl Into<String>) -> Self {
        self.object = object.into();
        self
    }

    /// Reads the next frame; `Ok(None)` at a clean end of stream (the writer
    /// closed between frames). The returned slice borrows the reader's buffer
    /// until the next call.
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`] if the header announces more than the
    ///   maximum; nothing is allocated and the stream should be dropped.
    /// - [`Error::Disconnected`] if the stream ends inside a frame (the writer
    ///   hung up mid-frame), saying how many bytes were missing.
    /// - [`Error::Io`] for other read errors.
    pub fn recv(&mut self) -> Result<Option<&[u8]>> {
        let mut header = [0u8; HEADER_LEN];
        match self.read_exact_or_eof(&mut header)? {
            0 => return Ok(None),
            HEADER_LEN => {}
            got => {
                return Err(Error::Disconnected {
                    object: self.object.clone(),
                    reason: format!("stream ended after {got} of {HEADER_LEN} frame header bytes"),
                })
            }
        }
        let len = u32::from_le_bytes(header) as usize;
        if len > self.max {
            return Err(Error::MessageTooLarge {
                object: self.object.clone(),
                len,
                max: self.max,
                limit_source:
                    "the frame stream's maximum frame size (announced by the peer's length prefix)"
                        .into(),
            });
        }
        // Grown as bytes arrive (`read_to_end` retries EINTR), not sized
        // from the announced length up front.
        self.buf.clear();
        let read = (&mut self.inner)
            .take(len as u64)
            .read_to_end(&mut self.buf);
        read.map_err(|e| io_error(&self.object, "read", e))?;
        let got = self.buf.len();
        if got < len {
            return Err(Error::Disconnected {
                object: self.object.clone(),
                reason: format!("stream ended after {got} of {len} frame payload bytes"),
            });
        }
        Ok(Some(&self.buf[..len]))
    }

    /// Reads until `buf` is full or end of stream; returns the bytes read.
    fn read_exact_or_eof(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(&self.object, "read", e)),
            }
        }
        Ok(filled)
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

fn io_error(object: &str, syscall: &'static str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted => Error::Disconnected {
            object: object.to_owned(),
            reason: format!("the peer closed the stream ({syscall}: {e})"),
        },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::TimedOut {
            object: object.to_owned(),
            waiting_for: format!("the stream to be ready ({syscall})"),
            timeout: std::time::Duration::ZERO,
        },
        _ => Error::os(object, syscall, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        let mut w = FrameWriter::new(&mut wire, 100);
        for m in [&b"a"[..], b"", b"hello world", &[7u8; 100]] {
            w.send(m).unwrap();
        }
        let mut r = FrameReader::new(&wire[..], 100);
        assert_eq!(r.recv().unwrap().unwrap(), b"a");
        assert_eq!(r.recv().unwrap().unwrap(), b"");
        assert_eq!(r.recv().unwrap().unwrap(), b"hello world");
        assert_eq!(r.recv().unwrap().unwrap(), &[7u8; 100]);
        assert!(r.recv().unwrap().is_none());
    }

    #[test]
    fn oversized_send_writes_nothing() {
        let mut wire = Vec::new();
        let err = FrameWriter::new(&mut wire, 3).send(b"four").unwrap_err();
        assert!(matches!(err, Error::MessageTooLarge { len: 4, max: 3, .. }));
        assert!(wire.is_empty());
    }

    #[test]
    fn hostile_length_prefix_is_refused_before_allocation() {
        let wire = u32::MAX.to_le_bytes();
        let mut r = FrameReader::new(&wire[..], 1 << 20);
        let err = r.recv().unwrap_err();
        assert!(matches!(err, Error::MessageTooLarge { len, .. } if len == u32::MAX as usize));
        assert_eq!(r.buf.capacity(), 0);
    }

    #[test]
    fn a_large_prefix_under_the_maximum_allocates_only_what_arrives() {
        // 256 MiB announced (under the 4 GiB maximum), 10 bytes sent.
        let mut wire = (256u32 << 20).to_le_bytes().to_vec();
        wire.extend_from_slice(b"0123456789");
        let mut r = FrameReader::new(&wire[..], ABSOLUTE_MAX);
        let err = r.recv().unwrap_err();
        assert!(
            matches!(&err, Error::Disconnected { reason, .. } if reason.contains("10 of 268435456")),
            "{err:?}"
        );
        assert!(r.buf.capacity() < 1 << 20, "{}", r.buf.capacity());
    }

    #[test]
    fn truncated_frames_are_disconnections() {
        let mut wire = 10u32.to_le_bytes().to_vec();
        wire.extend_from_slice(b"12345");
        let err = FrameReader::new(&wire[..], 100).recv().unwrap_err();
        assert!(matches!(&err, Error::Disconnected { reason, .. } if reason.contains("5 of 10")));
        let err = FrameReader::new(&[1u8, 0][..], 100).recv().unwrap_err();
        assert!(matches!(err, Error::Disconnected { .. }));
    }

    proptest::proptest! {
        #[test]
        fn any_byte_string_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut r = FrameReader::new(&bytes[..], 16);
            for _ in 0..8 {
                match r.recv() {
                    Ok(Some(f)) => proptest::prop_assert!(f.len() <= 16),
                    Ok(None) | Err(_) => break,
                }
            }
        }
    }
}
