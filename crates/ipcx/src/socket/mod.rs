//! Sockets: Unix (stream, datagram, seqpacket; file-system and abstract
//! addresses), file-descriptor passing, peer credentials, TCP and UDP.
//!
//! | module | what |
//! |---|---|
//! | [`addr`] | [`UnixAddr`](addr::UnixAddr): a path (≤ 107 bytes) or an abstract name, never truncated |
//! | [`unix`] | [`UnixStream`](unix::UnixStream), [`UnixSeqPacket`](unix::UnixSeqPacket), [`UnixDatagram`](unix::UnixDatagram) and their listeners |
//! | [`ancillary`] | `SCM_RIGHTS`: received descriptors and the `MSG_CTRUNC` error that carries them |
//! | [`tcp`] | [`TcpStream`](tcp::TcpStream), [`TcpListener`](tcp::TcpListener): `SO_REUSEADDR`, `TCP_NODELAY`, `MSG_NOSIGNAL` |
//! | [`udp`] | [`UdpSocket`](udp::UdpSocket): size-checked datagrams (65,507 bytes over IPv4, 65,527 over IPv6) |
//!
//! Every socket is close-on-exec from creation (`SOCK_CLOEXEC`, `accept4`
//! with `SOCK_CLOEXEC`, `MSG_CMSG_CLOEXEC` for received descriptors), and
//! every send passes `MSG_NOSIGNAL`, so a closed peer is
//! [`Error::Disconnected`], never a death by `SIGPIPE`.
//!
//! # Messages over streams
//! Stream sockets carry bytes; [`crate::frame`] restores message boundaries
//! over them (`&UnixStream` and `&TcpStream` implement `Read` and `Write`,
//! and both have a `frames(max)` helper). Datagram and seqpacket sockets
//! keep boundaries natively: one send is one message.
//!
//! ```
//! use ipcx::socket::unix::UnixStream;
//! let (a, b) = UnixStream::pair()?;
//! let (_, mut tx) = a.frames(1024);
//! let (mut rx, _) = b.frames(1024);
//! tx.send(b"hello")?;
//! assert_eq!(rx.recv()?, Some(&b"hello"[..]));
//! // The peer's credentials, as the kernel recorded them.
//! assert_eq!(b.peer_cred().pid, std::process::id() as i32);
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html),
//! [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//! [tcp(7)](https://man7.org/linux/man-pages/man7/tcp.7.html),
//! [udp(7)](https://man7.org/linux/man-pages/man7/udp.7.html)

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use rustix::event::PollFlags;
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

use crate::deadline::{poll_fd, Deadline};
use crate::error::{Error, Result};

pub mod addr;
pub mod ancillary;
pub mod tcp;
pub mod udp;
pub mod unix;

/// The credentials of a connected Unix-socket peer (`SO_PEERCRED`), as the
/// kernel recorded them when the connection was made (`connect(2)`,
/// `socketpair(2)`); the peer cannot forge them.
#[doc(alias = "SO_PEERCRED")]
#[doc(alias = "ucred")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCred {
    /// Process id of the peer at connect time; 0 when the peer lives in a
    /// pid namespace the caller cannot see.
    pub pid: i32,
    /// Effective user id of the peer at connect time.
    pub uid: u32,
    /// Effective group id of the peer at connect time.
    pub gid: u32,
}

impl PeerCred {
    /// `getsockopt(SO_PEERCRED)`—reads the credentials of the peer of a
    /// connected Unix socket.
    ///
    /// # Errors
    /// [`Error::Io`] if `fd` is not a connected Unix socket.
    ///
    /// # References
    /// [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
    /// [getsockopt(2)](https://man7.org/linux/man-pages/man2/getsockopt.2.html)
    pub fn of(fd: impl AsFd, object: &str) -> Result<PeerCred> {
        let (pid, uid, gid) = crate::sys::socket::peer_cred(fd)
            .map_err(|e| Error::os(object, "getsockopt(SO_PEERCRED)", e))?;
        Ok(PeerCred { pid, uid, gid })
    }
}

/// How a call waits when the socket is not ready.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Wait {
    /// Block (the socket's own `SO_RCVTIMEO`/`SO_SNDTIMEO`, if set, still apply).
    Block,
    /// Do not wait: `Full` / `Empty` when not ready.
    Try,
    /// Wait until the deadline: `TimedOut` after it.
    Until(Deadline),
}

impl Wait {
    pub(crate) fn timeout(t: Duration) -> Wait {
        Wait::Until(Deadline::after(Some(t)))
    }

    fn send_flags(self) -> SendFlags {
        match self {
            Wait::Block => SendFlags::NOSIGNAL,
            Wait::Try | Wait::Until(_) => SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
        }
    }

    fn recv_flags(self) -> RecvFlags {
        match self {
            Wait::Block => RecvFlags::empty(),
            Wait::Try | Wait::Until(_) => RecvFlags::DONTWAIT,
        }
    }
}

/// Direction of a wait, for error messages and poll flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Send,
    Recv,
}

/// Called after `EAGAIN`: waits for readiness as `wait` says, or returns the
/// error that ends the call.
pub(crate) fn wait_ready(fd: BorrowedFd<'_>, dir: Dir, wait: Wait, object: &str) -> Result<()> {
    let (flags, what) = match dir {
        Dir::Send => (PollFlags::OUT, "room to send"),
        Dir::Recv => (PollFlags::IN, "data to receive"),
    };
    match wait {
        Wait::Try => Err(match dir {
            Dir::Send => Error::Full {
                object: object.to_owned(),
            },
            Dir::Recv => Error::Empty {
                object: object.to_owned(),
            },
        }),
        Wait::Until(deadline) => match poll_fd(fd, flags, deadline) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::TimedOut {
                object: object.to_owned(),
                waiting_for: what.into(),
                timeout: deadline.timeout(),
            }),
            Err(e) => Err(Error::os(object, "poll", e)),
        },
        Wait::Block => {
            // A blocking socket only says EAGAIN when its SO_RCVTIMEO /
            // SO_SNDTIMEO expired.
            let id = match dir {
                Dir::Send => rustix::net::sockopt::Timeout::Send,
                Dir::Recv => rustix::net::sockopt::Timeout::Recv,
            };
            let timeout = rustix::net::sockopt::socket_timeout(fd, id)
                .ok()
                .flatten()
                .unwrap_or_default();
            Err(Error::TimedOut {
                object: object.to_owned(),
                waiting_for: format!("{what} (the socket's timeout)"),
                timeout,
            })
        }
    }
}

/// Maps a send error: a gone peer is `Disconnected`, an oversized datagram
/// `MessageTooLarge`.
pub(crate) fn send_error(
    fd: BorrowedFd<'_>,
    object: &str,
    syscall: &'static str,
    e: Errno,
    len: usize,
) -> Error {
    match e {
        Errno::PIPE | Errno::CONNRESET | Errno::NOTCONN | Errno::CONNREFUSED => {
            Error::Disconnected {
                object: object.to_owned(),
                reason: format!("the peer is gone ({syscall}: {})", io_text(e)),
            }
        }
        Errno::MSGSIZE => {
            let sndbuf = rustix::net::sockopt::socket_send_buffer_size(fd).unwrap_or(0);
            Error::MessageTooLarge {
                object: object.to_owned(),
                len,
                max: sndbuf.saturating_sub(32),
                limit_source: "the socket's send buffer SO_SNDBUF minus 32 bytes of overhead (socket(7), /proc/sys/net/core/wmem_default)".into(),
            }
        }
        _ => Error::os(object, syscall, std::io::Error::from(e)),
    }
}

/// Maps a receive error: a reset connection is `Disconnected`.
pub(crate) fn recv_error(object: &str, syscall: &'static str, e: Errno) -> Error {
    match e {
        Errno::CONNRESET | Errno::PIPE | Errno::NOTCONN => Error::Disconnected {
            object: object.to_owned(),
            reason: format!("the peer is gone ({syscall}: {})", io_text(e)),
        },
        _ => Error::os(object, syscall, std::io::Error::from(e)),
    }
}

fn io_text(e: Errno) -> String {
    std::io::Error::from(e).to_string()
}

/// `send(2)` with `MSG_NOSIGNAL`, retrying `EINTR`; may send part of `buf`
/// on a stream socket. Returns the bytes sent.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8], wait: Wait, object: &str) -> Result<usize> {
    loop {
        match rustix::net::send(fd, buf, wait.send_flags()) {
            Ok(n) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => wait_ready(fd, Dir::Send, wait, object)?,
            Err(e) => return Err(send_error(fd, object, "send", e, buf.len())),
        }
    }
}

/// Sends all of `buf` on a stream socket.
pub(crate) fn send_all(fd: BorrowedFd<'_>, mut buf: &[u8], wait: Wait, object: &str) -> Result<()> {
    while !buf.is_empty() {
        let n = send(fd, buf, wait, object)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// `recv(2)` retrying `EINTR`; returns the bytes received (0: end of stream).
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], wait: Wait, object: &str) -> Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *buf, wait.recv_flags()) {
            Ok((_, n)) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => wait_ready(fd, Dir::Recv, wait, object)?,
            Err(e) => return Err(recv_error(object, "recv", e)),
        }
    }
}

/// Waits for the next message on a datagram or seqpacket socket and returns
/// its full length without consuming it (`MSG_PEEK | MSG_TRUNC`), so that a
/// message longer than the caller's buffer stays queued.
pub(crate) fn peek_len(fd: BorrowedFd<'_>, wait: Wait, object: &str) -> Result<usize> {
    let mut probe = [0u8; 1];
    loop {
        match rustix::net::recv(
            fd,
            &mut probe[..],
            wait.recv_flags() | RecvFlags::PEEK | RecvFlags::TRUNC,
        ) {
            Ok((_, n)) => return Ok(n),
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => wait_ready(fd, Dir::Recv, wait, object)?,
            Err(e) => return Err(recv_error(object, "recv", e)),
        }
    }
}

/// The error for a message longer than the receive buffer (the message
/// stays queued).
pub(crate) fn too_small(object: &str, needed: usize, capacity: usize) -> Error {
    Error::BufferTooSmall {
        object: object.to_owned(),
        needed,
        capacity,
    }
}

/// Receives one whole message (datagram or seqpacket) into `buf`; a message
/// longer than `buf` is [`Error::BufferTooSmall`] and stays queued.
pub(crate) fn recv_message(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    wait: Wait,
    object: &str,
) -> Result<usize> {
    let len = peek_len(fd, wait, object)?;
    if len > buf.len() {
        return Err(too_small(object, len, buf.len()));
    }
    // The message is queued: this does not block.
    recv(fd, buf, Wait::Block, object)
}

/// Sets `SO_RCVTIMEO` / `SO_SNDTIMEO`.
pub(crate) fn set_timeout(
    fd: BorrowedFd<'_>,
    dir: Dir,
    timeout: Option<Duration>,
    object: &str,
) -> Result<()> {
    if timeout == Some(Duration::ZERO) {
        return Err(Error::InvalidArgument {
            object: object.to_owned(),
            reason: "a zero timeout would mean \"no timeout\" to the kernel; use the try_* form for a non-blocking call".into(),
        });
    }
    let id = match dir {
        Dir::Send => rustix::net::sockopt::Timeout::Send,
        Dir::Recv => rustix::net::sockopt::Timeout::Recv,
    };
    rustix::net::sockopt::set_socket_timeout(fd, id, timeout)
        .map_err(|e| Error::os(object, "setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)", e))
}
