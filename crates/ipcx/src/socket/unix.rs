//! Unix domain sockets: stream, seqpacket and datagram sockets, their
//! listeners, and socketpairs.
//!
//! - [`UnixStream`] / [`UnixListener`]: `SOCK_STREAM`, a byte stream (use
//!   [`UnixStream::frames`] for messages).
//! - [`UnixSeqPacket`] / [`UnixSeqPacketListener`]: `SOCK_SEQPACKET`,
//!   connected, reliable, ordered, message boundaries kept.
//! - [`UnixDatagram`]: `SOCK_DGRAM`, reliable on Linux, boundaries kept,
//!   bound or unbound, connected or not.
//!
//! Every socket is created with `SOCK_CLOEXEC`; every send uses
//! `MSG_NOSIGNAL` (a closed peer is [`Error::Disconnected`], never
//! `SIGPIPE`). Connected sockets record the peer's [`PeerCred`]
//! (`SO_PEERCRED`) when the connection is made.
//!
//! # Binding a path
//! - A socket file left behind by a dead process (connecting to it is
//!   refused, `ECONNREFUSED`) is removed and the bind retried: stale files
//!   never block a restart.
//! - A path where a live socket accepts connections is
//!   [`Error::AddrInUse`]; the live server is not disturbed (the probe is one
//!   connection attempt it sees as a client that closes at once).
//! - A path holding anything that is not a socket (a regular file, a
//!   directory, a FIFO) is never removed: [`Error::AlreadyExists`].
//! - The socket file gets mode 0600 by default (`BindOptions::mode`), set
//!   right after `bind(2)`; until then it has the mode the process umask
//!   gives it. Put sockets in a directory only the owner can enter when that
//!   window matters.
//! - The file appears at `bind(2)`, and `listen(2)` follows at once; a
//!   client connecting in that instant is refused (`Disconnected`), so
//!   clients that race a starting server should retry.
//! - The socket that bound a path removes it when dropped, if the path still
//!   holds the same socket file (same device and inode) — unless
//!   [`keep`](UnixListener::keep) was called. Abstract names vanish with
//!   the last socket bound to them.
//!
//! # References
//! [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//! [socket(2)](https://man7.org/linux/man-pages/man2/socket.2.html),
//! [bind(2)](https://man7.org/linux/man-pages/man2/bind.2.html),
//! [accept(2)](https://man7.org/linux/man-pages/man2/accept.2.html),
//! [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html),
//! [socketpair(2)](https://man7.org/linux/man-pages/man2/socketpair.2.html)

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{AddressFamily, Shutdown, SocketAddrUnix, SocketFlags, SocketType};

use super::addr::UnixAddr;
use super::ancillary::{self, RecvFds, RecvFdsError};
use super::{PeerCred, Wait};
use crate::deadline::{poll_fd, Deadline};
use crate::error::{Error, Result};
use crate::frame::{FrameReader, FrameWriter};

/// Options for binding a Unix socket to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindOptions {
    /// Permission bits of the socket file (file-system paths only); connecting
    /// needs write permission. Default `0o600`: owner only.
    pub mode: u32,
    /// Pending connections the kernel queues for `accept` (`listen(2)`'s
    /// backlog; capped by `/proc/sys/net/core/somaxconn`). Default 128.
    pub backlog: i32,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            mode: 0o600,
            backlog: 128,
        }
    }
}

fn kind_name(ty: SocketType) -> &'static str {
    if ty == SocketType::DGRAM {
        "unix-dgram socket"
    } else if ty == SocketType::SEQPACKET {
        "unix-seqpacket socket"
    } else {
        "unix socket"
    }
}

fn object_of(ty: SocketType, addr: &UnixAddr) -> String {
    addr.describe(kind_name(ty))
}

fn new_socket(ty: SocketType, flags: SocketFlags, object: &str) -> Result<OwnedFd> {
    rustix::net::socket_with(AddressFamily::UNIX, ty, SocketFlags::CLOEXEC | flags, None)
        .map_err(|e| Error::os(object, "socket", e))
}

fn pair(ty: SocketType) -> Result<(OwnedFd, OwnedFd)> {
    rustix::net::socketpair(AddressFamily::UNIX, ty, SocketFlags::CLOEXEC, None)
        .map_err(|e| Error::os(format!("{} pair", kind_name(ty)), "socketpair", e))
}

/// A socket file this process bound; removed on drop if it is still ours.
#[derive(Debug)]
struct BoundPath {
    path: PathBuf,
    dev: u64,
    ino: u64,
    keep: bool,
}

impl Drop for BoundPath {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if meta.file_type().is_socket() && meta.dev() == self.dev && meta.ino() == self.ino {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Whether a live socket answers at `sa`: only a refused connection
/// (`ECONNREFUSED`) proves the file stale.
fn is_live(ty: SocketType, sa: &SocketAddrUnix) -> bool {
    let Ok(probe) = rustix::net::socket_with(
        AddressFamily::UNIX,
        ty,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    ) else {
        return true;
    };
    loop {
        match rustix::net::connect(&probe, sa) {
            Err(Errno::INTR) => continue,
            Err(Errno::CONNREFUSED) | Err(Errno::NOENT) => return false,
            _ => return true,
        }
    }
}

/// Binds `fd` to `addr`, reclaiming a stale socket file, and sets its mode.
fn bind(
    fd: BorrowedFd<'_>,
    ty: SocketType,
    addr: &UnixAddr,
    opts: &BindOptions,
    object: &str,
) -> Result<Option<BoundPath>> {
    let sa = addr.to_sockaddr()?;
    let mut reclaimed = false;
    loop {
        match rustix::net::bind(fd, &sa) {
            Ok(()) => break,
            Err(Errno::ADDRINUSE) => {
                let Some(path) = addr.as_path() else {
                    return Err(Error::AddrInUse {
                        object: object.to_owned(),
                    });
                };
                if reclaimed {
                    return Err(Error::AddrInUse {
                        object: object.to_owned(),
                    });
                }
                let meta = match std::fs::symlink_metadata(path) {
                    Ok(m) => m,
                    // Removed meanwhile: try again.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        reclaimed = true;
                        continue;
                    }
                    Err(e) => return Err(Error::os(object, "lstat", e)),
                };
                if !meta.file_type().is_socket() {
                    return Err(Error::AlreadyExists {
                        object: format!(
                            "{object} (the path holds a {} that is not a socket; it is left alone)",
                            file_kind(&meta)
                        ),
                        syscall: "bind",
                    });
                }
                if is_live(ty, &sa) {
                    return Err(Error::AddrInUse {
                        object: object.to_owned(),
                    });
                }
                // Stale: remove it if it is still the file we examined.
                if let Ok(again) = std::fs::symlink_metadata(path) {
                    if again.dev() == meta.dev() && again.ino() == meta.ino() {
                        let _ = std::fs::remove_file(path);
                    }
                }
                reclaimed = true;
            }
            Err(e) => return Err(Error::os(object, "bind", e)),
        }
    }
    let Some(path) = addr.as_path() else {
        return Ok(None);
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::os(object, "lstat", e))?;
    let bound = BoundPath {
        path: path.to_owned(),
        dev: meta.dev(),
        ino: meta.ino(),
        keep: false,
    };
    if meta.file_type().is_socket() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(opts.mode & 0o7777))
            .map_err(|e| Error::os(object, "chmod", e))?;
    }
    Ok(Some(bound))
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_symlink() {
        "symbolic link"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_file() {
        "regular file"
    } else {
        "file"
    }
}

fn connect_error(object: &str, e: Errno) -> Error {
    match e {
        Errno::CONNREFUSED => Error::Disconnected {
            object: object.to_owned(),
            reason: "nobody is listening (connect: connection refused; the socket file is stale)"
                .into(),
        },
        Errno::PROTOTYPE => Error::InvalidArgument {
            object: object.to_owned(),
            reason: "the socket there is of another type (stream, seqpacket or datagram)".into(),
        },
        Errno::NOENT => Error::NotFound {
            object: object.to_owned(),
            syscall: "connect",
        },
        _ => Error::os(object, "connect", io::Error::from(e)),
    }
}

/// Creates a socket of type `ty` and connects it to `addr`, waiting as long
/// as `wait` allows while the listener's backlog is full.
fn connect(ty: SocketType, addr: &UnixAddr, wait: Wait) -> Result<OwnedFd> {
    let object = object_of(ty, addr);
    let sa = addr.to_sockaddr()?;
    let blocking = matches!(wait, Wait::Block);
    let flags = if blocking {
        SocketFlags::empty()
    } else {
        SocketFlags::NONBLOCK
    };
    let fd = new_socket(ty, flags, &object)?;
    loop {
        match rustix::net::connect(&fd, &sa) {
            Ok(()) => break,
            Err(Errno::INTR) => {}
            // The listener's backlog is full: retry until the deadline.
            Err(Errno::AGAIN) => match wait {
                Wait::Block => {}
                Wait::Try => {
                    return Err(Error::Full {
                        object: format!("{object} (its listen backlog)"),
                    })
                }
                Wait::Until(d) => {
                    if d.expired() {
                        return Err(Error::TimedOut {
                            object,
                            waiting_for: "room in the listener's backlog".into(),
                            timeout: d.timeout(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            },
            Err(e) => return Err(connect_error(&object, e)),
        }
    }
    if !blocking {
        rustix::io::ioctl_fionbio(&fd, false)
            .map_err(|e| Error::os(&object, "ioctl(FIONBIO)", e))?;
    }
    Ok(fd)
}

/// A listening socket (stream or seqpacket); its fd is non-blocking so that
/// waits go through `poll` with a deadline.
#[derive(Debug)]
struct Listener {
    fd: OwnedFd,
    addr: UnixAddr,
    object: String,
    bound: Option<BoundPath>,
}

impl Listener {
    fn bind(ty: SocketType, addr: &UnixAddr, opts: &BindOptions) -> Result<Listener> {
        let object = object_of(ty, addr);
        let fd = new_socket(ty, SocketFlags::NONBLOCK, &object)?;
        let bound = bind(fd.as_fd(), ty, addr, opts, &object)?;
        rustix::net::listen(&fd, opts.backlog).map_err(|e| Error::os(&object, "listen", e))?;
        Ok(Listener {
            fd,
            addr: addr.clone(),
            object,
            bound,
        })
    }

    fn accept(&self, wait: Wait) -> Result<(OwnedFd, PeerCred)> {
        loop {
            match rustix::net::accept_with(&self.fd, SocketFlags::CLOEXEC) {
                Ok(fd) => {
                    let cred = PeerCred::of(&fd, &self.object)?;
                    return Ok((fd, cred));
                }
                Err(Errno::INTR) | Err(Errno::CONNABORTED) => {}
                Err(Errno::AGAIN) => {
                    let deadline = match wait {
                        Wait::Block => Deadline::NEVER,
                        Wait::Until(d) => d,
                        Wait::Try => {
                            return Err(Error::Empty {
                                object: format!("{} (no pending connection)", self.object),
                            })
                        }
                    };
                    match poll_fd(&self.fd, rustix::event::PollFlags::IN, deadline) {
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            return Err(Error::TimedOut {
                                object: self.object.clone(),
                                waiting_for: "a client to connect".into(),
                                timeout: deadline.timeout(),
                            })
                        }
                        Err(e) => return Err(Error::os(&self.object, "poll", e)),
                    }
                }
                Err(e) => return Err(Error::os(&self.object, "accept4", e)),
            }
        }
    }

    fn keep(&mut self) {
        if let Some(b) = &mut self.bound {
            b.keep = true;
        }
    }
}

macro_rules! listener_type {
    ($(#[$doc:meta])* $name:ident, $conn:ident, $ty:expr, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            inner: Listener,
        }

        impl $name {
            #[doc = concat!("`socket` + `bind` + `listen`—listens for ", $kind, " connections at `addr`, with [`BindOptions::default`] (mode 0600, backlog 128).")]
            ///
            /// # Errors
            /// - [`Error::PathTooLong`] / [`Error::InvalidName`] for a bad
            ///   address, before any system call.
            /// - [`Error::AddrInUse`] when a live socket holds the address.
            /// - [`Error::AlreadyExists`] when the path holds something that
            ///   is not a socket (it is left alone).
            /// - [`Error::NotFound`] / [`Error::PermissionDenied`] for a
            ///   missing or forbidden directory; [`Error::Io`] otherwise.
            ///
            /// # References
            /// [bind(2)](https://man7.org/linux/man-pages/man2/bind.2.html),
            /// [listen(2)](https://man7.org/linux/man-pages/man2/listen.2.html)
            #[doc(alias = "listen")]
            pub fn bind(addr: &UnixAddr) -> Result<Self> {
                Self::bind_with(addr, &BindOptions::default())
            }

            /// Like [`bind`](Self::bind), with explicit options.
            ///
            /// # Errors
            /// As [`bind`](Self::bind).
            pub fn bind_with(addr: &UnixAddr, opts: &BindOptions) -> Result<Self> {
                Ok($name {
                    inner: Listener::bind($ty, addr, opts)?,
                })
            }

            /// `accept4`—waits for the next connection; the new socket is
            /// close-on-exec and carries the peer's credentials.
            ///
            /// # Errors
            /// [`Error::Io`] for a failed `accept4` (for example `EMFILE`
            /// at the descriptor limit).
            ///
            /// # References
            /// [accept(2)](https://man7.org/linux/man-pages/man2/accept.2.html)
            #[doc(alias = "accept4")]
            pub fn accept(&self) -> Result<$conn> {
                self.accept_wait(Wait::Block)
            }

            /// Accepts a pending connection without waiting.
            ///
            /// # Errors
            /// [`Error::Empty`] when no connection is pending; otherwise as
            /// [`accept`](Self::accept).
            pub fn try_accept(&self) -> Result<$conn> {
                self.accept_wait(Wait::Try)
            }

            /// Waits at most `timeout` for a connection.
            ///
            /// # Errors
            /// [`Error::TimedOut`] when no client connected in time;
            /// otherwise as [`accept`](Self::accept).
            pub fn accept_timeout(&self, timeout: Duration) -> Result<$conn> {
                self.accept_wait(Wait::timeout(timeout))
            }

            fn accept_wait(&self, wait: Wait) -> Result<$conn> {
                let (fd, peer) = self.inner.accept(wait)?;
                Ok($conn {
                    fd,
                    object: self.inner.object.clone(),
                    peer,
                })
            }

            /// The address this listener is bound to.
            pub fn local_addr(&self) -> &UnixAddr {
                &self.inner.addr
            }

            /// Keeps the socket file when this listener is dropped (by
            /// default the listener that bound a path removes it).
            pub fn keep(mut self) -> Self {
                self.inner.keep();
                self
            }

            /// How errors name this socket (`unix socket /run/x.sock`).
            pub fn name(&self) -> &str {
                &self.inner.object
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.fd.as_fd()
            }
        }
    };
}

listener_type!(
    /// A listening `SOCK_STREAM` Unix socket; [`accept`](Self::accept) gives
    /// [`UnixStream`]s. Removes the socket file it bound on drop.
    UnixListener,
    UnixStream,
    SocketType::STREAM,
    "stream"
);

listener_type!(
    /// A listening `SOCK_SEQPACKET` Unix socket; [`accept`](Self::accept)
    /// gives [`UnixSeqPacket`]s. Removes the socket file it bound on drop.
    UnixSeqPacketListener,
    UnixSeqPacket,
    SocketType::SEQPACKET,
    "seqpacket"
);

/// Methods shared by connected stream and seqpacket sockets.
macro_rules! connected_common {
    ($name:ident, $ty:expr) => {
        impl $name {
            /// `connect`—connects to a listener at `addr`, waiting while its
            /// backlog is full; records the listener's credentials.
            ///
            /// # Errors
            /// - [`Error::PathTooLong`] / [`Error::InvalidName`] for a bad
            ///   address, before any system call.
            /// - [`Error::NotFound`] when no socket exists at the path.
            /// - [`Error::Disconnected`] when nobody listens (a stale file).
            /// - [`Error::InvalidArgument`] for a socket of another type.
            /// - [`Error::PermissionDenied`], or [`Error::Io`] otherwise.
            ///
            /// # References
            /// [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html)
            pub fn connect(addr: &UnixAddr) -> Result<$name> {
                Self::connect_wait(addr, Wait::Block)
            }

            /// Connects, waiting at most `timeout` while the listener's
            /// backlog is full.
            ///
            /// # Errors
            /// [`Error::TimedOut`] when the backlog stayed full; otherwise as
            /// [`connect`](Self::connect).
            pub fn connect_timeout(addr: &UnixAddr, timeout: Duration) -> Result<$name> {
                Self::connect_wait(addr, Wait::timeout(timeout))
            }

            fn connect_wait(addr: &UnixAddr, wait: Wait) -> Result<$name> {
                let fd = connect($ty, addr, wait)?;
                let object = object_of($ty, addr);
                let peer = PeerCred::of(&fd, &object)?;
                Ok($name { fd, object, peer })
            }

            /// `socketpair`—two connected sockets, close-on-exec.
            ///
            /// # Errors
            /// [`Error::Io`] if the kernel refuses (for example `EMFILE`).
            ///
            /// # References
            /// [socketpair(2)](https://man7.org/linux/man-pages/man2/socketpair.2.html)
            #[doc(alias = "socketpair")]
            pub fn pair() -> Result<($name, $name)> {
                let (a, b) = pair($ty)?;
                let object = format!("{} pair", kind_name($ty));
                let pa = PeerCred::of(&a, &object)?;
                let pb = PeerCred::of(&b, &object)?;
                Ok((
                    $name {
                        fd: a,
                        object: object.clone(),
                        peer: pa,
                    },
                    $name {
                        fd: b,
                        object,
                        peer: pb,
                    },
                ))
            }

            /// The peer's credentials (`SO_PEERCRED`) as the kernel recorded
            /// them when the connection was made.
            #[doc(alias = "SO_PEERCRED")]
            pub fn peer_cred(&self) -> PeerCred {
                self.peer
            }

            /// `shutdown`—closes one or both directions; the peer reads end of
            /// stream after a write shutdown.
            ///
            /// # Errors
            /// [`Error::Io`] if the socket is not connected.
            ///
            /// # References
            /// [shutdown(2)](https://man7.org/linux/man-pages/man2/shutdown.2.html)
            pub fn shutdown(&self, how: Shutdown) -> Result<()> {
                rustix::net::shutdown(&self.fd, how)
                    .map_err(|e| Error::os(&self.object, "shutdown", e))
            }

            /// Sets `SO_RCVTIMEO`: blocking receives (and `Read`) give
            /// [`Error::TimedOut`] after `timeout`; `None` waits forever.
            ///
            /// # Errors
            /// [`Error::InvalidArgument`] for a zero duration.
            pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
                super::set_timeout(self.fd.as_fd(), super::Dir::Recv, timeout, &self.object)
            }

            /// Sets `SO_SNDTIMEO`: blocking sends (and `Write`) give
            /// [`Error::TimedOut`] after `timeout`; `None` waits forever.
            ///
            /// # Errors
            /// [`Error::InvalidArgument`] for a zero duration.
            pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
                super::set_timeout(self.fd.as_fd(), super::Dir::Send, timeout, &self.object)
            }

            /// `sendmsg` with `SCM_RIGHTS`—sends `data` (at least one byte)
            /// and duplicates of `fds` in one message; the caller keeps its
            /// descriptors and may close them right away. Returns the data
            /// bytes sent (the descriptors travel with the first byte).
            ///
            /// # Errors
            /// - [`Error::LimitExceeded`] for more than
            ///   [`SCM_MAX_FD`](ancillary::SCM_MAX_FD) descriptors, and
            ///   [`Error::InvalidArgument`] for descriptors with no data,
            ///   before any system call.
            /// - [`Error::Disconnected`] when the peer is gone.
            ///
            /// # References
            /// [sendmsg(2)](https://man7.org/linux/man-pages/man2/sendmsg.2.html),
            /// [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
            #[doc(alias = "SCM_RIGHTS")]
            #[doc(alias = "sendmsg")]
            pub fn send_with_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<usize> {
                ancillary::sendmsg_fds(self.fd.as_fd(), data, fds, Wait::Block, &self.object)
            }

            /// How errors name this socket.
            pub fn name(&self) -> &str {
                &self.object
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl From<$name> for OwnedFd {
            fn from(s: $name) -> OwnedFd {
                s.fd
            }
        }
    };
}

/// A connected `SOCK_STREAM` Unix socket: a reliable byte stream in both
/// directions. `&UnixStream` implements [`io::Read`] and [`io::Write`];
/// [`frames`](Self::frames) carries messages over it.
///
/// # SIGPIPE
/// Sends use `MSG_NOSIGNAL`: writing to a closed peer is
/// [`Error::Disconnected`] (`io::ErrorKind::BrokenPipe` through `Write`).
#[derive(Debug)]
pub struct UnixStream {
    fd: OwnedFd,
    object: String,
    peer: PeerCred,
}

connected_common!(UnixStream, SocketType::STREAM);

impl UnixStream {
    /// `send` with `MSG_NOSIGNAL`—sends some of `buf`, blocking until at
    /// least one byte fits; returns the bytes sent.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the peer is gone; [`Error::TimedOut`]
    /// after a [`set_write_timeout`](Self::set_write_timeout).
    ///
    /// # References
    /// [send(2)](https://man7.org/linux/man-pages/man2/send.2.html)
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        super::send(self.fd.as_fd(), buf, Wait::Block, &self.object)
    }

    /// Sends without waiting (`MSG_DONTWAIT`).
    ///
    /// # Errors
    /// [`Error::Full`] when the socket buffer is full; otherwise as [`send`](Self::send).
    pub fn try_send(&self, buf: &[u8]) -> Result<usize> {
        super::send(self.fd.as_fd(), buf, Wait::Try, &self.object)
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`send`](Self::send).
    pub fn send_timeout(&self, buf: &[u8], timeout: Duration) -> Result<usize> {
        super::send(self.fd.as_fd(), buf, Wait::timeout(timeout), &self.object)
    }

    /// Sends all of `buf`, retrying partial sends.
    ///
    /// # Errors
    /// As [`send`](Self::send); some bytes may have been sent before the error.
    pub fn send_all(&self, buf: &[u8]) -> Result<()> {
        super::send_all(self.fd.as_fd(), buf, Wait::Block, &self.object)
    }

    /// `recv`—receives up to `buf.len()` bytes, blocking until some arrive;
    /// 0 means the peer closed its side (end of stream).
    ///
    /// # Errors
    /// [`Error::Disconnected`] for a reset connection; [`Error::TimedOut`]
    /// after a [`set_read_timeout`](Self::set_read_timeout).
    ///
    /// # References
    /// [recv(2)](https://man7.org/linux/man-pages/man2/recv.2.html)
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        super::recv(self.fd.as_fd(), buf, Wait::Block, &self.object)
    }

    /// Receives without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`] when nothing is there; otherwise as [`recv`](Self::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<usize> {
        super::recv(self.fd.as_fd(), buf, Wait::Try, &self.object)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`recv`](Self::recv).
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        super::recv(self.fd.as_fd(), buf, Wait::timeout(timeout), &self.object)
    }

    /// `recvmsg` with `MSG_CMSG_CLOEXEC`—receives bytes and up to `max_fds`
    /// descriptors (at most [`SCM_MAX_FD`](ancillary::SCM_MAX_FD)).
    ///
    /// # Errors
    /// - [`RecvFdsError::Truncated`] (`MSG_CTRUNC`) with the data length and
    ///   every descriptor that arrived; dropping it closes them.
    /// - [`RecvFdsError::Other`] with [`Error::Disconnected`] and the like.
    ///
    /// # References
    /// [recvmsg(2)](https://man7.org/linux/man-pages/man2/recvmsg.2.html)
    #[doc(alias = "recvmsg")]
    pub fn recv_with_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<RecvFds, RecvFdsError> {
        ancillary::recvmsg_fds(
            self.fd.as_fd(),
            buf,
            max_fds,
            Wait::Block,
            &self.object,
            false,
        )
    }

    /// Like [`recv_with_fds`](Self::recv_with_fds), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] inside [`RecvFdsError::Other`]; otherwise as
    /// [`recv_with_fds`](Self::recv_with_fds).
    pub fn recv_with_fds_timeout(
        &self,
        buf: &mut [u8],
        max_fds: usize,
        timeout: Duration,
    ) -> Result<RecvFds, RecvFdsError> {
        ancillary::recvmsg_fds(
            self.fd.as_fd(),
            buf,
            max_fds,
            Wait::timeout(timeout),
            &self.object,
            false,
        )
    }

    /// A frame reader and writer over this stream (see [`crate::frame`]);
    /// frames over `max` bytes are refused before allocation.
    pub fn frames(&self, max: usize) -> (FrameReader<&UnixStream>, FrameWriter<&UnixStream>) {
        (
            FrameReader::new(self, max).with_name(self.object.clone()),
            FrameWriter::new(self, max).with_name(self.object.clone()),
        )
    }
}

impl io::Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(UnixStream::recv(self, buf)?)
    }
}

impl io::Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(UnixStream::send(self, buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connected `SOCK_SEQPACKET` Unix socket: reliable, ordered messages
/// with their boundaries kept.
///
/// Zero-length messages are refused on send, because a receiver cannot tell
/// one from the peer closing its side (both read as 0 bytes).
#[derive(Debug)]
pub struct UnixSeqPacket {
    fd: OwnedFd,
    object: String,
    peer: PeerCred,
}

connected_common!(UnixSeqPacket, SocketType::SEQPACKET);

impl UnixSeqPacket {
    fn check_len(&self, msg: &[u8]) -> Result<()> {
        if msg.is_empty() {
            return Err(Error::InvalidArgument {
                object: self.object.clone(),
                reason: "a seqpacket message cannot be empty: the receiver would read it as end of stream".into(),
            });
        }
        Ok(())
    }

    fn send_wait(&self, msg: &[u8], wait: Wait) -> Result<()> {
        self.check_len(msg)?;
        super::send(self.fd.as_fd(), msg, wait, &self.object).map(|_| ())
    }

    /// `send` with `MSG_NOSIGNAL`—sends `msg` as one message, blocking while
    /// the peer's queue is full.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for an empty message.
    /// - [`Error::MessageTooLarge`] for a message over the socket's send
    ///   buffer (`SO_SNDBUF` minus overhead).
    /// - [`Error::Disconnected`] when the peer is gone.
    ///
    /// # References
    /// [send(2)](https://man7.org/linux/man-pages/man2/send.2.html)
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        self.send_wait(msg, Wait::Block)
    }

    /// Sends without waiting.
    ///
    /// # Errors
    /// [`Error::Full`] when the queue is full; otherwise as [`send`](Self::send).
    pub fn try_send(&self, msg: &[u8]) -> Result<()> {
        self.send_wait(msg, Wait::Try)
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`send`](Self::send).
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        self.send_wait(msg, Wait::timeout(timeout))
    }

    fn recv_wait(&self, buf: &mut [u8], wait: Wait) -> Result<Option<usize>> {
        let n = super::recv_message(self.fd.as_fd(), buf, wait, &self.object)?;
        Ok((n > 0).then_some(n))
    }

    /// `recv`—receives the next message into `buf`; `None` when the peer
    /// closed its side.
    ///
    /// # Errors
    /// - [`Error::BufferTooSmall`] when the message is longer than `buf`;
    ///   it stays queued (nothing is truncated).
    /// - [`Error::Disconnected`] for a reset connection.
    ///
    /// # References
    /// [recv(2)](https://man7.org/linux/man-pages/man2/recv.2.html)
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.recv_wait(buf, Wait::Block)
    }

    /// Receives without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`]; otherwise as [`recv`](Self::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        self.recv_wait(buf, Wait::Try)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`recv`](Self::recv).
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<Option<usize>> {
        self.recv_wait(buf, Wait::timeout(timeout))
    }

    /// Receives one message and up to `max_fds` descriptors
    /// (`MSG_CMSG_CLOEXEC`); `len` 0 means the peer closed its side.
    ///
    /// # Errors
    /// As [`UnixStream::recv_with_fds`], plus [`Error::BufferTooSmall`]
    /// (message left queued) when it is longer than `buf`.
    pub fn recv_with_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<RecvFds, RecvFdsError> {
        ancillary::recvmsg_fds(
            self.fd.as_fd(),
            buf,
            max_fds,
            Wait::Block,
            &self.object,
            true,
        )
    }
}

/// A `SOCK_DGRAM` Unix socket: messages with their boundaries kept (and, on
/// Linux, reliable and ordered). Bound sockets remove their socket file on
/// drop; unbound ones can send but cannot be answered.
#[derive(Debug)]
pub struct UnixDatagram {
    fd: OwnedFd,
    object: String,
    local: Option<UnixAddr>,
    bound: Option<BoundPath>,
}

impl UnixDatagram {
    /// `socket` + `bind`—a datagram socket bound to `addr` (mode 0600).
    ///
    /// # Errors
    /// As [`UnixListener::bind`].
    pub fn bind(addr: &UnixAddr) -> Result<UnixDatagram> {
        Self::bind_with(addr, &BindOptions::default())
    }

    /// Like [`bind`](Self::bind), with explicit options (the backlog is unused).
    ///
    /// # Errors
    /// As [`UnixListener::bind`].
    pub fn bind_with(addr: &UnixAddr, opts: &BindOptions) -> Result<UnixDatagram> {
        let object = object_of(SocketType::DGRAM, addr);
        let fd = new_socket(SocketType::DGRAM, SocketFlags::empty(), &object)?;
        let bound = bind(fd.as_fd(), SocketType::DGRAM, addr, opts, &object)?;
        Ok(UnixDatagram {
            fd,
            object,
            local: Some(addr.clone()),
            bound,
        })
    }

    /// An unbound datagram socket (it can send; nobody can send to it).
    ///
    /// # Errors
    /// [`Error::Io`] if `socket(2)` fails.
    pub fn unbound() -> Result<UnixDatagram> {
        let object = "unix-dgram socket (unbound)".to_string();
        let fd = new_socket(SocketType::DGRAM, SocketFlags::empty(), &object)?;
        Ok(UnixDatagram {
            fd,
            object,
            local: None,
            bound: None,
        })
    }

    /// `socketpair(SOCK_DGRAM)`—two connected datagram sockets.
    ///
    /// # Errors
    /// [`Error::Io`] if the kernel refuses.
    pub fn pair() -> Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = pair(SocketType::DGRAM)?;
        let mk = |fd| UnixDatagram {
            fd,
            object: "unix-dgram socket pair".into(),
            local: None,
            bound: None,
        };
        Ok((mk(a), mk(b)))
    }

    /// `connect`—sets the default destination for [`send`](Self::send) and
    /// receives only from it.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no socket is at the path;
    /// [`Error::Disconnected`] when nobody is bound there (a stale file).
    pub fn connect(&self, addr: &UnixAddr) -> Result<()> {
        let sa = addr.to_sockaddr()?;
        let object = object_of(SocketType::DGRAM, addr);
        loop {
            match rustix::net::connect(&self.fd, &sa) {
                Ok(()) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(e) => return Err(connect_error(&object, e)),
            }
        }
    }

    /// The address this socket is bound to, if any.
    pub fn local_addr(&self) -> Option<&UnixAddr> {
        self.local.as_ref()
    }

    /// Keeps the socket file when this socket is dropped.
    pub fn keep(mut self) -> Self {
        if let Some(b) = &mut self.bound {
            b.keep = true;
        }
        self
    }

    /// How errors name this socket.
    pub fn name(&self) -> &str {
        &self.object
    }

    /// `send` with `MSG_NOSIGNAL`—sends one message to the connected peer,
    /// whole or not at all.
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`] over `SO_SNDBUF` minus overhead.
    /// - [`Error::Disconnected`] when the peer is gone.
    ///
    /// # References
    /// [send(2)](https://man7.org/linux/man-pages/man2/send.2.html)
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        super::send(self.fd.as_fd(), msg, Wait::Block, &self.object).map(|_| ())
    }

    /// Sends without waiting.
    ///
    /// # Errors
    /// [`Error::Full`] when the receiver's queue is full; otherwise as [`send`](Self::send).
    pub fn try_send(&self, msg: &[u8]) -> Result<()> {
        super::send(self.fd.as_fd(), msg, Wait::Try, &self.object).map(|_| ())
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`send`](Self::send).
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        super::send(self.fd.as_fd(), msg, Wait::timeout(timeout), &self.object).map(|_| ())
    }

    fn send_to_wait(&self, msg: &[u8], addr: &UnixAddr, wait: Wait) -> Result<()> {
        let sa = addr.to_sockaddr()?;
        let object = object_of(SocketType::DGRAM, addr);
        loop {
            let flags = match wait {
                Wait::Block => rustix::net::SendFlags::NOSIGNAL,
                _ => rustix::net::SendFlags::NOSIGNAL | rustix::net::SendFlags::DONTWAIT,
            };
            match rustix::net::sendto(&self.fd, msg, flags, &sa) {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => match wait {
                    Wait::Block => {}
                    Wait::Try => return Err(Error::Full { object }),
                    Wait::Until(d) => {
                        if d.expired() {
                            return Err(Error::TimedOut {
                                object,
                                waiting_for: "room in the receiver's queue".into(),
                                timeout: d.timeout(),
                            });
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                },
                Err(Errno::NOENT) => {
                    return Err(Error::NotFound {
                        object,
                        syscall: "sendto",
                    })
                }
                Err(Errno::CONNREFUSED) => {
                    return Err(Error::Disconnected {
                        object,
                        reason: "nobody is bound there (sendto: connection refused)".into(),
                    })
                }
                Err(e) => {
                    return Err(super::send_error(
                        self.fd.as_fd(),
                        &object,
                        "sendto",
                        e,
                        msg.len(),
                    ))
                }
            }
        }
    }

    /// `sendto` with `MSG_NOSIGNAL`—sends one message to `addr`.
    ///
    /// # Errors
    /// [`Error::NotFound`] (no socket at the path), [`Error::Disconnected`]
    /// (nobody bound there), [`Error::MessageTooLarge`].
    ///
    /// # References
    /// [sendto(2)](https://man7.org/linux/man-pages/man2/sendto.2.html)
    #[doc(alias = "sendto")]
    pub fn send_to(&self, msg: &[u8], addr: &UnixAddr) -> Result<()> {
        self.send_to_wait(msg, addr, Wait::Block)
    }

    /// Sends to `addr` without waiting.
    ///
    /// # Errors
    /// [`Error::Full`]; otherwise as [`send_to`](Self::send_to).
    pub fn try_send_to(&self, msg: &[u8], addr: &UnixAddr) -> Result<()> {
        self.send_to_wait(msg, addr, Wait::Try)
    }

    /// Sends to `addr`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`send_to`](Self::send_to).
    pub fn send_to_timeout(&self, msg: &[u8], addr: &UnixAddr, timeout: Duration) -> Result<()> {
        self.send_to_wait(msg, addr, Wait::timeout(timeout))
    }

    fn recv_from_wait(&self, buf: &mut [u8], wait: Wait) -> Result<(usize, Option<UnixAddr>)> {
        let len = super::peek_len(self.fd.as_fd(), wait, &self.object)?;
        if len > buf.len() {
            return Err(super::too_small(&self.object, len, buf.len()));
        }
        loop {
            match rustix::net::recvfrom(&self.fd, &mut *buf, rustix::net::RecvFlags::empty()) {
                Ok((_, n, addr)) => {
                    let from = addr
                        .and_then(|a| SocketAddrUnix::try_from(a).ok())
                        .and_then(|a| UnixAddr::from_sockaddr(&a));
                    return Ok((n, from));
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(super::recv_error(&self.object, "recvfrom", e)),
            }
        }
    }

    /// `recv`—receives the next message into `buf`, returning its length.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when the message is longer than `buf` (it
    /// stays queued); [`Error::TimedOut`] after a read timeout.
    ///
    /// # References
    /// [recv(2)](https://man7.org/linux/man-pages/man2/recv.2.html)
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_from_wait(buf, Wait::Block).map(|r| r.0)
    }

    /// Receives without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`]; otherwise as [`recv`](Self::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_from_wait(buf, Wait::Try).map(|r| r.0)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`recv`](Self::recv).
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        self.recv_from_wait(buf, Wait::timeout(timeout))
            .map(|r| r.0)
    }

    /// `recvfrom`—receives the next message and the sender's address
    /// (`None` for an unbound sender, which cannot be answered).
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    ///
    /// # References
    /// [recvfrom(2)](https://man7.org/linux/man-pages/man2/recvfrom.2.html)
    #[doc(alias = "recvfrom")]
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, Option<UnixAddr>)> {
        self.recv_from_wait(buf, Wait::Block)
    }

    /// Like [`recv_from`](Self::recv_from), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`recv`](Self::recv).
    pub fn recv_from_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(usize, Option<UnixAddr>)> {
        self.recv_from_wait(buf, Wait::timeout(timeout))
    }

    /// Sends one message with `SCM_RIGHTS` descriptors to the connected peer.
    ///
    /// # Errors
    /// As [`UnixStream::send_with_fds`].
    pub fn send_with_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
        ancillary::sendmsg_fds(self.fd.as_fd(), data, fds, Wait::Block, &self.object).map(|_| ())
    }

    /// Receives one message and up to `max_fds` descriptors.
    ///
    /// # Errors
    /// As [`UnixSeqPacket::recv_with_fds`].
    pub fn recv_with_fds(&self, buf: &mut [u8], max_fds: usize) -> Result<RecvFds, RecvFdsError> {
        ancillary::recvmsg_fds(
            self.fd.as_fd(),
            buf,
            max_fds,
            Wait::Block,
            &self.object,
            true,
        )
    }

    /// Sets `SO_RCVTIMEO` for blocking receives; `None` waits forever.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        super::set_timeout(self.fd.as_fd(), super::Dir::Recv, timeout, &self.object)
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Whether a socket file exists at `path` (without following a symlink).
pub fn is_socket_file(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_pair_carries_bytes_and_credentials() {
        let (a, b) = UnixStream::pair().unwrap();
        a.send_all(b"hello").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.recv(&mut buf).unwrap(), 5);
        assert_eq!(b.peer_cred().pid, std::process::id() as i32);
        assert!(matches!(b.try_recv(&mut buf), Err(Error::Empty { .. })));
        drop(a);
        assert_eq!(b.recv(&mut buf).unwrap(), 0);
        assert!(matches!(b.send(b"x"), Err(Error::Disconnected { .. })));
    }

    #[test]
    fn seqpacket_keeps_boundaries_and_never_truncates() {
        let (a, b) = UnixSeqPacket::pair().unwrap();
        a.send(b"one").unwrap();
        a.send(b"three").unwrap();
        let mut small = [0u8; 4];
        assert_eq!(b.recv(&mut small).unwrap(), Some(3));
        assert!(matches!(
            b.recv(&mut small),
            Err(Error::BufferTooSmall {
                needed: 5,
                capacity: 4,
                ..
            })
        ));
        let mut big = [0u8; 8];
        assert_eq!(b.recv(&mut big).unwrap(), Some(5));
        assert!(a.send(b"").is_err());
        drop(a);
        assert_eq!(b.recv(&mut big).unwrap(), None);
    }

    #[test]
    fn datagram_timeout_is_typed() {
        let (_a, b) = UnixDatagram::pair().unwrap();
        let mut buf = [0u8; 4];
        assert!(matches!(
            b.recv_timeout(&mut buf, Duration::from_millis(5)),
            Err(Error::TimedOut { .. })
        ));
    }
}
