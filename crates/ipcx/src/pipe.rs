//! Anonymous pipes: a one-way byte stream between related processes.
//!
//! [`pipe`] returns a [`PipeReader`] and a [`PipeWriter`]. Both are
//! close-on-exec from birth (`pipe2(O_CLOEXEC)`), implement [`Read`] /
//! [`Write`], and convert to and from [`OwnedFd`]. A child process gets an end
//! either as one of its standard streams (`Stdio::from(reader)`) or at a
//! descriptor number of the caller's choice ([`PipeReader::inherit_as`]).
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let (mut reader, mut writer) = ipcx::pipe::pipe()?;
//! writer.write_all(b"Hello from parent!\0")?;
//! drop(writer); // the reader sees end-of-file once every writer is gone
//! let mut got = Vec::new();
//! reader.read_to_end(&mut got)?;
//! assert_eq!(got, b"Hello from parent!\0");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Atomic messages (`PIPE_BUF`)
//!
//! A write of at most [`PIPE_BUF`] (4096) bytes to a pipe is atomic: the
//! kernel never interleaves it with writes of other writers and never
//! performs it in part. [`PipeWriter::write_message`] makes exactly one such
//! write and refuses longer messages with [`Error::MessageTooLarge`], so any
//! number of processes can share one pipe and the reader sees whole messages.
//!
//! # `SIGPIPE`
//!
//! Writing to a pipe whose read ends are all closed raises `SIGPIPE`, whose
//! default action kills the process. Rust programs ignore `SIGPIPE` at
//! start-up, but a library cannot rely on that, and it must not change the
//! process-wide disposition either. Every write in this module blocks
//! `SIGPIPE` in the calling thread's signal mask for the duration of the
//! `write(2)`, and takes the signal the write caused off the pending set
//! before unblocking it. The write then fails with [`Error::Disconnected`]
//! (an [`io::Error`] of kind [`io::ErrorKind::BrokenPipe`] through
//! [`Write`]), whatever the disposition of `SIGPIPE`. Cost: two
//! `rt_sigprocmask` calls per write.
//!
//! # Blocking, non-blocking and timed forms
//!
//! [`Read::read`] and [`Write::write`] block, as `read(2)` and `write(2)` do.
//! The `try_*` forms never block ([`Error::Empty`] / [`Error::Full`] when they
//! would); the `*_timeout` forms wait at most the given [`Duration`]
//! ([`Error::TimedOut`]). Both work whatever the descriptor's `O_NONBLOCK`
//! flag (which is shared with every process holding the same pipe end, so
//! ipcx never changes it): they use `preadv2`/`pwritev2` with `RWF_NOWAIT`
//! and `poll(2)`. Interrupted calls (`EINTR`) are retried, against a
//! monotonic deadline for the timed forms. On a kernel without `RWF_NOWAIT`
//! for pipes (before Linux 5.x), they wait with `poll(2)` and then read
//! what is there, or write at most [`PIPE_BUF`] bytes, which cannot block
//! unless another process races for the same end.
//!
//! # References
//! [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html),
//! [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html),
//! [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_GETPIPE_SZ`, `F_SETPIPE_SZ`),
//! [preadv2(2)](https://man7.org/linux/man-pages/man2/preadv2.2.html),
//! [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::io::Errno;

use crate::deadline::{poll_fd, Deadline};
use crate::error::{Error, Result};
use crate::limits;
use crate::sys::pipe as sys;

/// `PIPE_BUF`: the largest write to a pipe that the kernel performs
/// atomically, in bytes (4096 on Linux).
///
/// # References
/// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html)
pub const PIPE_BUF: usize = libc::PIPE_BUF;

/// Where the [`PIPE_BUF`] limit comes from, as errors name it.
const PIPE_BUF_SOURCE: &str = "PIPE_BUF, the largest atomic pipe write (pipe(7))";

/// `pipe2(O_CLOEXEC)`—creates an anonymous pipe, returning its read end and
/// its write end, both close-on-exec.
///
/// # Errors
/// [`Error::Io`] when the process or the system is out of file descriptors
/// (`EMFILE`, `ENFILE`).
///
/// # References
/// [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html)
#[doc(alias = "pipe2")]
pub fn pipe() -> Result<(PipeReader, PipeWriter)> {
    let (r, w) = sys::pipe_cloexec().map_err(|e| Error::os("pipe", "pipe2", e))?;
    Ok((PipeReader { fd: r }, PipeWriter { fd: w }))
}

/// How long a call may wait.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// As long as it takes.
    Block,
    /// Not at all: [`Error::Empty`] / [`Error::Full`].
    NonBlocking,
    /// Until the deadline: [`Error::TimedOut`].
    Until(Deadline),
}

impl Wait {
    /// A wait of at most `timeout` from now.
    pub(crate) fn timeout(timeout: Duration) -> Wait {
        Wait::Until(Deadline::after(Some(timeout)))
    }

    /// [`Wait::Block`] for `None`, a timed wait otherwise.
    pub(crate) fn from_option(timeout: Option<Duration>) -> Wait {
        match timeout {
            None => Wait::Block,
            Some(t) => Wait::timeout(t),
        }
    }

    fn deadline(self) -> Deadline {
        match self {
            Wait::Block => Deadline::NEVER,
            Wait::NonBlocking => Deadline::now(),
            Wait::Until(d) => d,
        }
    }

    /// The error for a wait that ran out.
    fn expired(self, object: String, full: bool, waiting_for: &str) -> Error {
        match self {
            Wait::Until(d) => Error::TimedOut {
                object,
                waiting_for: waiting_for.to_string(),
                timeout: d.timeout(),
            },
            _ if full => Error::Full { object },
            _ => Error::Empty { object },
        }
    }
}

/// Reads from a pipe or FIFO descriptor, waiting as `wait` says. `Ok(0)` is
/// end-of-file (no writer), or an empty `buf`.
pub(crate) fn read_fd(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    wait: Wait,
    object: &dyn Fn() -> String,
    waiting_for: &str,
) -> Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let mut ready = false;
    let mut nowait = sys::nowait_supported();
    loop {
        let r = match wait {
            Wait::Block => sys::read(fd, buf),
            _ if nowait => sys::read_nowait(fd, buf),
            // No RWF_NOWAIT: poll said readable, so read(2) returns at once.
            _ if ready => sys::read(fd, buf),
            _ => Err(Errno::AGAIN),
        };
        match r {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {}
            Err(Errno::OPNOTSUPP) => nowait = false,
            Err(e) => return Err(Error::os(object(), "read", e)),
        }
        match poll_fd(fd, PollFlags::IN, wait.deadline()) {
            Ok(Some(_)) => ready = true,
            Ok(None) => return Err(wait.expired(object(), false, waiting_for)),
            Err(e) => return Err(Error::os(object(), "poll", e)),
        }
    }
}

/// Writes some of `buf` (at least one byte) to a pipe or FIFO descriptor,
/// waiting as `wait` says; never raises `SIGPIPE`.
pub(crate) fn write_fd(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    wait: Wait,
    object: &dyn Fn() -> String,
    waiting_for: &str,
) -> Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let mut ready = false;
    let mut nowait = sys::nowait_supported();
    loop {
        let r = match wait {
            Wait::Block => sys::write(fd, buf, false),
            _ if nowait => sys::write(fd, buf, true),
            // No RWF_NOWAIT: poll said there is a free page, so a write of at
            // most PIPE_BUF bytes completes at once.
            _ if ready => sys::write(fd, &buf[..buf.len().min(PIPE_BUF)], false),
            _ => Err(Errno::AGAIN),
        };
        match r {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {}
            Err(Errno::OPNOTSUPP) => nowait = false,
            Err(Errno::PIPE) => {
                return Err(Error::Disconnected {
                    object: object(),
                    reason: "no process has the read end open (write: EPIPE)".into(),
                })
            }
            Err(e) => return Err(Error::os(object(), "write", e)),
        }
        match poll_fd(fd, PollFlags::OUT, wait.deadline()) {
            Ok(Some(_)) => ready = true,
            Ok(None) => return Err(wait.expired(object(), true, waiting_for)),
            Err(e) => return Err(Error::os(object(), "poll", e)),
        }
    }
}

/// Writes `msg` in one `write(2)` of at most [`PIPE_BUF`] bytes.
pub(crate) fn write_message_fd(
    fd: BorrowedFd<'_>,
    msg: &[u8],
    wait: Wait,
    object: &dyn Fn() -> String,
    waiting_for: &str,
) -> Result<()> {
    if msg.len() > PIPE_BUF {
        return Err(Error::MessageTooLarge {
            object: object(),
            len: msg.len(),
            max: PIPE_BUF,
            limit_source: PIPE_BUF_SOURCE.into(),
        });
    }
    if msg.is_empty() {
        return Ok(());
    }
    let n = write_fd(fd, msg, wait, object, waiting_for)?;
    if n != msg.len() {
        // A pipe or FIFO never does this for at most PIPE_BUF bytes.
        return Err(Error::Io {
            object: object(),
            syscall: "write",
            source: io::Error::other(format!(
                "wrote {n} of {} bytes of an atomic message; the descriptor is not a pipe",
                msg.len()
            )),
        });
    }
    Ok(())
}

/// `F_GETPIPE_SZ`.
pub(crate) fn capacity_fd(fd: BorrowedFd<'_>, object: &dyn Fn() -> String) -> Result<usize> {
    sys::pipe_size(fd).map_err(|e| Error::os(object(), "fcntl(F_GETPIPE_SZ)", e))
}

/// `F_SETPIPE_SZ`, checked against `pipe-max-size` first.
pub(crate) fn set_capacity_fd(
    fd: BorrowedFd<'_>,
    bytes: usize,
    object: &dyn Fn() -> String,
) -> Result<usize> {
    if bytes == 0 {
        return Err(Error::InvalidArgument {
            object: object(),
            reason: "a pipe capacity of 0 bytes; expected at least one page".into(),
        });
    }
    let max = limits::PIPE_MAX_SIZE.read()?;
    if bytes as u64 > max {
        return Err(Error::LimitExceeded {
            object: object(),
            what: "pipe capacity in bytes".into(),
            requested: bytes as u64,
            limit: limits::PIPE_MAX_SIZE.name.into(),
            max,
            source_path: limits::PIPE_MAX_SIZE.path.into(),
        });
    }
    sys::set_pipe_size(fd, bytes).map_err(|e| match e {
        Errno::BUSY => Error::InvalidArgument {
            object: object(),
            reason: format!(
                "cannot shrink the capacity to {bytes} bytes: the pipe holds more data (fcntl(F_SETPIPE_SZ): EBUSY)"
            ),
        },
        Errno::PERM => Error::PermissionDenied {
            object: format!(
                "{} (the user's pipe buffers exceed /proc/sys/fs/pipe-user-pages-soft or -hard)",
                object()
            ),
            syscall: "fcntl(F_SETPIPE_SZ)",
        },
        e => Error::os(object(), "fcntl(F_SETPIPE_SZ)", e),
    })
}

/// Duplicates a descriptor, close-on-exec.
fn dup(fd: BorrowedFd<'_>, object: &dyn Fn() -> String) -> Result<OwnedFd> {
    sys::dup_cloexec(fd).map_err(|e| Error::os(object(), "fcntl(F_DUPFD_CLOEXEC)", e))
}

/// Gives `fd` to the child that `cmd` will spawn as descriptor `child_fd`
/// (see [`PipeReader::inherit_as`]).
///
/// # Errors
/// [`Error::InvalidArgument`] for a negative `child_fd`.
///
/// # References
/// [dup2(2)](https://man7.org/linux/man-pages/man2/dup2.2.html),
/// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
pub fn inherit_as(cmd: &mut Command, fd: impl Into<OwnedFd>, child_fd: RawFd) -> Result<()> {
    if child_fd < 0 {
        return Err(Error::InvalidArgument {
            object: format!("descriptor number {child_fd}"),
            reason: "a child's descriptor number must be 0 or more".into(),
        });
    }
    sys::inherit_as(cmd, fd.into(), child_fd);
    Ok(())
}

/// The read end of an anonymous pipe.
///
/// Reading blocks until data arrives; `Ok(0)` means every write end is closed
/// (end-of-file). Close-on-exec; see the [module documentation](self).
#[derive(Debug)]
pub struct PipeReader {
    fd: OwnedFd,
}

/// The write end of an anonymous pipe.
///
/// Writing blocks while the pipe is full; a write when every read end is
/// closed fails with [`Error::Disconnected`] (kind `BrokenPipe`), never with
/// death by `SIGPIPE`. Close-on-exec; see the [module documentation](self).
#[derive(Debug)]
pub struct PipeWriter {
    fd: OwnedFd,
}

impl PipeReader {
    fn object(&self) -> String {
        format!("pipe read end (fd {})", self.fd.as_raw_fd())
    }

    /// `read`—reads what is in the pipe now, without blocking; `Ok(0)` is
    /// end-of-file (every write end closed).
    ///
    /// # Errors
    /// [`Error::Empty`] when the pipe is empty but a writer exists;
    /// [`Error::Io`] for other `read(2)` errors.
    ///
    /// # References
    /// [read(2)](https://man7.org/linux/man-pages/man2/read.2.html),
    /// [preadv2(2)](https://man7.org/linux/man-pages/man2/preadv2.2.html) (`RWF_NOWAIT`)
    pub fn try_read(&self, buf: &mut [u8]) -> Result<usize> {
        read_fd(
            self.fd.as_fd(),
            buf,
            Wait::NonBlocking,
            &|| self.object(),
            "data",
        )
    }

    /// `read`—waits at most `timeout` for data; `Ok(0)` is end-of-file.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when nothing arrived within `timeout`;
    /// [`Error::Io`] for other `read(2)` or `poll(2)` errors.
    ///
    /// # References
    /// [read(2)](https://man7.org/linux/man-pages/man2/read.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn read_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        read_fd(
            self.fd.as_fd(),
            buf,
            Wait::timeout(timeout),
            &|| self.object(),
            "data from a writer",
        )
    }

    /// `F_GETPIPE_SZ`—the pipe's capacity in bytes (shared by both ends).
    ///
    /// # Errors
    /// [`Error::Io`] if `fcntl(2)` fails (the descriptor is not a pipe).
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_GETPIPE_SZ")]
    pub fn capacity(&self) -> Result<usize> {
        capacity_fd(self.fd.as_fd(), &|| self.object())
    }

    /// `F_SETPIPE_SZ`—sets the pipe's capacity to at least `bytes`; returns
    /// the capacity granted (the kernel rounds up to a power-of-two number of
    /// pages).
    ///
    /// ipcx keeps to `/proc/sys/fs/pipe-max-size` even for privileged
    /// processes (which the kernel would let exceed it), so that behaviour
    /// does not depend on privileges.
    ///
    /// # Errors
    /// - [`Error::LimitExceeded`] naming `pipe-max-size`, its value and
    ///   `/proc/sys/fs/pipe-max-size` when `bytes` is larger (checked before
    ///   the call);
    /// - [`Error::InvalidArgument`] for 0 bytes, or for a capacity smaller than
    ///   the data in the pipe (`EBUSY`);
    /// - [`Error::PermissionDenied`] when the user's pipe buffers exceed
    ///   `/proc/sys/fs/pipe-user-pages-soft` or `-hard` (`EPERM`).
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html),
    /// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html)
    #[doc(alias = "F_SETPIPE_SZ")]
    pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
        set_capacity_fd(self.fd.as_fd(), bytes, &|| self.object())
    }

    /// `fcntl(F_DUPFD_CLOEXEC)`—a second handle on the same read end.
    ///
    /// # Errors
    /// [`Error::Io`] when out of file descriptors.
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    pub fn try_clone(&self) -> Result<PipeReader> {
        Ok(PipeReader {
            fd: dup(self.fd.as_fd(), &|| self.object())?,
        })
    }

    /// Hands this end to the child that `cmd` spawns, as its descriptor
    /// number `child_fd`, open across `exec` in the child only.
    ///
    /// In the child (after `fork`, before `exec`) the descriptor is moved to
    /// `child_fd` with `dup2(2)`, or, if it already has that number, its
    /// `FD_CLOEXEC` flag is cleared; in this process it stays close-on-exec,
    /// so no other child inherits it. `cmd` keeps the end open until `cmd`
    /// is dropped: drop it after spawning so that end-of-file and
    /// `EPIPE` work. When handing over several descriptors, pick `child_fd`
    /// numbers that are not the current numbers of the others. For the
    /// standard streams, [`Stdio::from`] does the same.
    ///
    /// ```
    /// use std::io::Write;
    /// use std::process::{Command, Stdio};
    ///
    /// let (reader, mut writer) = ipcx::pipe::pipe()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "cat <&5"]).stdout(Stdio::piped());
    /// reader.inherit_as(&mut cmd, 5)?;
    /// let child = cmd.spawn()?;
    /// drop(cmd); // the parent's copy of the read end
    /// writer.write_all(b"through fd 5")?;
    /// drop(writer);
    /// let out = child.wait_with_output()?;
    /// assert_eq!(out.stdout, b"through fd 5");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative `child_fd`. Failures in the
    /// child surface as the error of [`Command::spawn`].
    ///
    /// # References
    /// [dup2(2)](https://man7.org/linux/man-pages/man2/dup2.2.html),
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`FD_CLOEXEC`)
    pub fn inherit_as(self, cmd: &mut Command, child_fd: RawFd) -> Result<()> {
        inherit_as(cmd, self, child_fd)
    }
}

impl PipeWriter {
    fn object(&self) -> String {
        format!("pipe write end (fd {})", self.fd.as_raw_fd())
    }

    /// `write`—writes `msg` atomically: in one `write(2)` of at most
    /// [`PIPE_BUF`] bytes, never interleaved with other writers' data and
    /// never in part; blocks while the pipe has no room.
    ///
    /// ```
    /// let (reader, writer) = ipcx::pipe::pipe()?;
    /// writer.write_message(b"one whole message")?;
    /// let big = vec![0u8; ipcx::pipe::PIPE_BUF + 1];
    /// assert!(matches!(
    ///     writer.write_message(&big),
    ///     Err(ipcx::Error::MessageTooLarge { max: 4096, .. })
    /// ));
    /// # drop(reader);
    /// # Ok::<(), ipcx::Error>(())
    /// ```
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`] naming `PIPE_BUF` when `msg` is longer than
    ///   [`PIPE_BUF`] bytes (nothing is written);
    /// - [`Error::Disconnected`] when no reader is left (`EPIPE`; no
    ///   `SIGPIPE` is delivered);
    /// - [`Error::Io`] for other `write(2)` errors.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) (`PIPE_BUF`)
    pub fn write_message(&self, msg: &[u8]) -> Result<()> {
        write_message_fd(
            self.fd.as_fd(),
            msg,
            Wait::Block,
            &|| self.object(),
            "room in the pipe",
        )
    }

    /// `write`—as [`write_message`](Self::write_message), but fails at once
    /// instead of blocking.
    ///
    /// # Errors
    /// As [`write_message`](Self::write_message), plus [`Error::Full`] when
    /// the pipe has no room for the whole message now (nothing is written).
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) (`PIPE_BUF`)
    pub fn try_write_message(&self, msg: &[u8]) -> Result<()> {
        write_message_fd(
            self.fd.as_fd(),
            msg,
            Wait::NonBlocking,
            &|| self.object(),
            "room in the pipe",
        )
    }

    /// `write`—as [`write_message`](Self::write_message), waiting at most
    /// `timeout` for room.
    ///
    /// # Errors
    /// As [`write_message`](Self::write_message), plus [`Error::TimedOut`]
    /// when the reader did not make room within `timeout` (nothing is
    /// written).
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn write_message_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        write_message_fd(
            self.fd.as_fd(),
            msg,
            Wait::timeout(timeout),
            &|| self.object(),
            "the reader to make room in the pipe",
        )
    }

    /// `write`—writes as much of `buf` as fits now, without blocking;
    /// returns the number of bytes written.
    ///
    /// # Errors
    /// [`Error::Full`] when nothing fits; [`Error::Disconnected`] when no
    /// reader is left; [`Error::Io`] for other `write(2)` errors.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [pwritev2(2)](https://man7.org/linux/man-pages/man2/pwritev2.2.html) (`RWF_NOWAIT`)
    pub fn try_write(&self, buf: &[u8]) -> Result<usize> {
        write_fd(
            self.fd.as_fd(),
            buf,
            Wait::NonBlocking,
            &|| self.object(),
            "room in the pipe",
        )
    }

    /// `write`—waits at most `timeout` for room, then writes as much of `buf`
    /// as fits; returns the number of bytes written.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when no room appeared within `timeout`;
    /// [`Error::Disconnected`] when no reader is left; [`Error::Io`] for
    /// other errors.
    ///
    /// # References
    /// [write(2)](https://man7.org/linux/man-pages/man2/write.2.html),
    /// [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html)
    pub fn write_timeout(&self, buf: &[u8], timeout: Duration) -> Result<usize> {
        write_fd(
            self.fd.as_fd(),
            buf,
            Wait::timeout(timeout),
            &|| self.object(),
            "the reader to make room in the pipe",
        )
    }

    /// `F_GETPIPE_SZ`—the pipe's capacity in bytes; see
    /// [`PipeReader::capacity`].
    ///
    /// # Errors
    /// As [`PipeReader::capacity`].
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_GETPIPE_SZ")]
    pub fn capacity(&self) -> Result<usize> {
        capacity_fd(self.fd.as_fd(), &|| self.object())
    }

    /// `F_SETPIPE_SZ`—sets the pipe's capacity; see
    /// [`PipeReader::set_capacity`].
    ///
    /// # Errors
    /// As [`PipeReader::set_capacity`].
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    #[doc(alias = "F_SETPIPE_SZ")]
    pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
        set_capacity_fd(self.fd.as_fd(), bytes, &|| self.object())
    }

    /// `fcntl(F_DUPFD_CLOEXEC)`—a second handle on the same write end.
    ///
    /// # Errors
    /// [`Error::Io`] when out of file descriptors.
    ///
    /// # References
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    pub fn try_clone(&self) -> Result<PipeWriter> {
        Ok(PipeWriter {
            fd: dup(self.fd.as_fd(), &|| self.object())?,
        })
    }

    /// Hands this end to the child that `cmd` spawns, as its descriptor
    /// number `child_fd`; see [`PipeReader::inherit_as`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative `child_fd`.
    ///
    /// # References
    /// [dup2(2)](https://man7.org/linux/man-pages/man2/dup2.2.html),
    /// [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html)
    pub fn inherit_as(self, cmd: &mut Command, child_fd: RawFd) -> Result<()> {
        inherit_as(cmd, self, child_fd)
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(read_fd(
            self.fd.as_fd(),
            buf,
            Wait::Block,
            &|| self.object(),
            "data",
        )?)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(write_fd(
            self.fd.as_fd(),
            buf,
            Wait::Block,
            &|| self.object(),
            "room in the pipe",
        )?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

macro_rules! fd_conversions {
    ($t:ident) => {
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl From<OwnedFd> for $t {
            /// Takes a descriptor that must be the matching end of a pipe or
            /// FIFO (not checked; operations on anything else fail with
            /// [`Error::Io`]). Its `O_NONBLOCK` flag may be either way.
            fn from(fd: OwnedFd) -> Self {
                $t { fd }
            }
        }

        impl From<$t> for OwnedFd {
            fn from(end: $t) -> OwnedFd {
                end.fd
            }
        }

        impl From<$t> for Stdio {
            /// Makes the end a child's standard stream; the child's copy has
            /// no close-on-exec flag, this process's copy closes when the
            /// `Command` is dropped.
            fn from(end: $t) -> Stdio {
                Stdio::from(end.fd)
            }
        }
    };
}

fd_conversions!(PipeReader);
fd_conversions!(PipeWriter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_pipe_try_read_is_empty_and_eof_after_close() {
        let (r, w) = pipe().unwrap();
        let mut buf = [0u8; 8];
        assert!(matches!(r.try_read(&mut buf), Err(Error::Empty { .. })));
        w.write_message(b"abc").unwrap();
        assert_eq!(r.try_read(&mut buf).unwrap(), 3);
        drop(w);
        assert_eq!(r.try_read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn non_blocking_and_timed_forms_work_without_rwf_nowait() {
        sys::set_nowait_supported(false);
        let (r, w) = pipe().unwrap();
        let mut buf = [0u8; 8];
        assert!(matches!(r.try_read(&mut buf), Err(Error::Empty { .. })));
        assert!(matches!(
            r.read_timeout(&mut buf, Duration::from_millis(20)),
            Err(Error::TimedOut { .. })
        ));
        let page = vec![9u8; 3 * PIPE_BUF];
        // Without RWF_NOWAIT a non-blocking write takes at most PIPE_BUF bytes.
        assert_eq!(w.try_write(&page).unwrap(), PIPE_BUF);
        let mut written = PIPE_BUF;
        loop {
            match w.try_write(&page) {
                Ok(n) => written += n,
                Err(Error::Full { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(written, w.capacity().unwrap());
        assert!(matches!(
            w.write_message_timeout(b"x", Duration::from_millis(20)),
            Err(Error::TimedOut { .. })
        ));
        let mut sink = vec![0u8; PIPE_BUF];
        assert_eq!(r.try_read(&mut sink).unwrap(), PIPE_BUF);
        w.try_write_message(b"fits again").unwrap();
        sys::set_nowait_supported(true);
    }

    #[test]
    fn zero_capacity_is_invalid() {
        let (r, _w) = pipe().unwrap();
        assert!(matches!(
            r.set_capacity(0),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
