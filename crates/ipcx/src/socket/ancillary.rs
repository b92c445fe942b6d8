//! Passing file descriptors (`SCM_RIGHTS`) alongside bytes on Unix sockets.
//!
//! The sender lends descriptors ([`BorrowedFd`]); the kernel installs
//! duplicates in the receiver, which gets them as [`OwnedFd`]s the moment
//! `recvmsg` returns, close-on-exec (`MSG_CMSG_CLOEXEC`). The sender may
//! close its copies right after the send.
//!
//! # Truncated control messages
//! When the receiver cannot take every descriptor — it is at its
//! `RLIMIT_NOFILE`, or the sender sent more than the receive asked room for —
//! the kernel sets `MSG_CTRUNC` and closes the ones it could not install.
//! ipcx reports that as [`RecvFdsError::Truncated`], which still carries the
//! bytes received (in the caller's buffer, [`Truncated::len`]) and every
//! descriptor that did arrive, as `OwnedFd`s: dropping the error closes them,
//! so nothing leaks. Converted into [`Error`] it becomes
//! [`Error::ControlTruncated`] (the descriptors are closed).
//!
//! ```
//! use std::io::Read;
//! use std::os::fd::AsFd;
//! use ipcx::socket::unix::UnixStream;
//! let (a, b) = UnixStream::pair()?;
//! let (r, w) = rustix::pipe::pipe().unwrap();
//! rustix::io::write(&w, b"through the pipe").unwrap();
//! drop(w);
//! a.send_with_fds(b"x", &[r.as_fd()])?;
//! drop(r); // the receiver has its own copy now
//! let mut buf = [0u8; 1];
//! let got = b.recv_with_fds(&mut buf, 1)?;
//! assert_eq!((got.len, got.fds.len()), (1, 1));
//! let mut text = String::new();
//! std::fs::File::from(got.fds.into_iter().next().unwrap()).read_to_string(&mut text).unwrap();
//! assert_eq!(text, "through the pipe");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # References
//! [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html) (`SCM_RIGHTS`),
//! [cmsg(3)](https://man7.org/linux/man-pages/man3/cmsg.3.html),
//! [recvmsg(2)](https://man7.org/linux/man-pages/man2/recvmsg.2.html)

use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage,
};

use super::{recv_error, send_error, too_small, wait_ready, Dir, Wait};
use crate::error::{Error, Result};

/// Bytes of a `cmsghdr` (`CMSG_LEN(0)`) on this platform.
const HEADER_LEN: usize = std::mem::size_of::<libc::cmsghdr>();

/// The most descriptors one message can carry on Linux (`SCM_MAX_FD`).
pub const SCM_MAX_FD: usize = 253;

/// Bytes and descriptors received by one `recvmsg`.
#[derive(Debug)]
pub struct RecvFds {
    /// Bytes written at the start of the caller's buffer (0 at end of stream).
    pub len: usize,
    /// The descriptors that came with them, close-on-exec, in send order.
    pub fds: Vec<OwnedFd>,
}

/// A receive whose control message was truncated (`MSG_CTRUNC`).
#[derive(Debug)]
pub struct Truncated {
    /// The socket.
    pub object: String,
    /// Bytes of data received into the caller's buffer: the data is not lost.
    pub len: usize,
    /// The descriptors that did arrive (possibly none); dropping them closes them.
    pub fds: Vec<OwnedFd>,
    /// How many descriptors the receive had room for.
    pub max_fds: usize,
}

/// The error of [`recv_with_fds`](super::unix::UnixStream::recv_with_fds).
#[derive(Debug)]
pub enum RecvFdsError {
    /// `MSG_CTRUNC`: some descriptors were dropped by the kernel; the data and
    /// the descriptors that arrived are here.
    Truncated(Truncated),
    /// Any other failure (disconnected, timed out, buffer too small, …).
    Other(Error),
}

impl Truncated {
    fn detail(&self) -> String {
        let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        format!(
            "{} bytes and {} descriptor(s) arrived, the kernel dropped the rest; the receiver is \
             at its RLIMIT_NOFILE ({nofile}, getrlimit(2)) or the sender sent more than the {} \
             descriptor(s) the receive had room for",
            self.len,
            self.fds.len(),
            self.max_fds
        )
    }
}

impl fmt::Display for RecvFdsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvFdsError::Truncated(t) => write!(
                f,
                "{}: control message truncated (MSG_CTRUNC): {}",
                t.object,
                t.detail()
            ),
            RecvFdsError::Other(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RecvFdsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvFdsError::Truncated(_) => None,
            RecvFdsError::Other(e) => e.source(),
        }
    }
}

impl From<Error> for RecvFdsError {
    fn from(e: Error) -> Self {
        RecvFdsError::Other(e)
    }
}

impl From<RecvFdsError> for Error {
    /// [`RecvFdsError::Truncated`] becomes [`Error::ControlTruncated`],
    /// closing the descriptors that arrived.
    fn from(e: RecvFdsError) -> Self {
        match e {
            RecvFdsError::Truncated(t) => {
                let detail = format!("{}; they were closed", t.detail());
                Error::ControlTruncated {
                    object: t.object,
                    detail,
                }
            }
            RecvFdsError::Other(e) => e,
        }
    }
}

impl From<RecvFdsError> for std::io::Error {
    fn from(e: RecvFdsError) -> Self {
        Error::from(e).into()
    }
}

/// Checks a descriptor list against `SCM_MAX_FD` and a stream's need for at
/// least one data byte.
pub(crate) fn check_send(object: &str, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
    if fds.len() > SCM_MAX_FD {
        return Err(Error::LimitExceeded {
            object: object.to_owned(),
            what: "file descriptors in one message".into(),
            requested: fds.len() as u64,
            limit: "SCM_MAX_FD".into(),
            max: SCM_MAX_FD as u64,
            source_path: "include/net/scm.h, see unix(7)".into(),
        });
    }
    if data.is_empty() && !fds.is_empty() {
        return Err(Error::InvalidArgument {
            object: object.to_owned(),
            reason: "descriptors must travel with at least one byte of data".into(),
        });
    }
    Ok(())
}

/// `sendmsg(2)` with an `SCM_RIGHTS` control message and `MSG_NOSIGNAL`;
/// returns the data bytes sent (the descriptors go with the first byte).
pub(crate) fn sendmsg_fds(
    fd: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
    wait: Wait,
    object: &str,
) -> Result<usize> {
    check_send(object, data, fds)?;
    let mut space = vec![MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    loop {
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
            return Err(Error::InvalidArgument {
                object: object.to_owned(),
                reason: "the SCM_RIGHTS control message does not fit its buffer".into(),
            });
        }
        match rustix::net::sendmsg(fd, &[IoSlice::new(data)], &mut control, wait.send_flags()) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => wait_ready(fd, Dir::Send, wait, object)?,
            Err(e) => return Err(send_error(fd, object, "sendmsg", e, data.len())),
        }
    }
}

/// `recvmsg(2)` with `MSG_CMSG_CLOEXEC` and room for `max_fds` descriptors.
/// With `whole_message`, a datagram longer than `buf` is refused before it
/// is consumed (`BufferTooSmall`, the message stays queued).
pub(crate) fn recvmsg_fds(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
    wait: Wait,
    object: &str,
    whole_message: bool,
) -> Result<RecvFds, RecvFdsError> {
    let mut wait = wait;
    if whole_message {
        let len = super::peek_len(fd, wait, object)?;
        if len > buf.len() {
            return Err(too_small(object, len, buf.len()).into());
        }
        wait = Wait::Block;
    }
    let max_fds = max_fds.min(SCM_MAX_FD);
    // Room for exactly `max_fds` descriptors: the kernel installs as many as
    // `msg_controllen` holds (`CMSG_LEN`, not the padded `CMSG_SPACE`, which
    // would fit one more for an odd count), so the buffer handed over starts
    // aligned and is cut to that length.
    let control_len = HEADER_LEN + max_fds.max(1) * std::mem::size_of::<i32>();
    let align = std::mem::align_of::<usize>();
    let mut space = vec![MaybeUninit::<u8>::uninit(); control_len + align];
    let offset = space.as_ptr().align_offset(align).min(align);
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space[offset..offset + control_len]);
        let res = rustix::net::recvmsg(
            fd,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            wait.recv_flags() | RecvFlags::CMSG_CLOEXEC,
        );
        let msg = match res {
            Ok(msg) => msg,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                wait_ready(fd, Dir::Recv, wait, object)?;
                continue;
            }
            Err(e) => return Err(recv_error(object, "recvmsg", e).into()),
        };
        // Take ownership of every descriptor first, so that no return path
        // below can leak one.
        let mut fds = Vec::new();
        for cmsg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(iter) = cmsg {
                fds.extend(iter);
            }
        }
        if msg.flags.contains(ReturnFlags::CTRUNC) {
            return Err(RecvFdsError::Truncated(Truncated {
                object: object.to_owned(),
                len: msg.bytes.min(buf.len()),
                fds,
                max_fds,
            }));
        }
        return Ok(RecvFds {
            len: msg.bytes.min(buf.len()),
            fds,
        });
    }
}
