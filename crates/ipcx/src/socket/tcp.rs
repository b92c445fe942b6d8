//! TCP streams and listeners: thin over [`std::net`], plus what it lacks for
//! IPC use.
//!
//! - Listeners set `SO_REUSEADDR` explicitly, so a restarted server binds
//!   its port at once even while old connections sit in `TIME_WAIT` (the
//!   seed's `tcp_server.c` fails there).
//! - Streams turn on `TCP_NODELAY`: a small message goes out at once instead
//!   of waiting for Nagle's algorithm (messages, not bulk transfers).
//! - Every send passes `MSG_NOSIGNAL`: a closed peer is
//!   [`Error::Disconnected`], never `SIGPIPE`.
//! - Every socket is close-on-exec; blocking calls have `try_*` and
//!   `*_timeout` forms.
//!
//! ```
//! use ipcx::socket::tcp::{TcpListener, TcpStream};
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let client = TcpStream::connect(listener.local_addr())?;
//! let server = listener.accept()?;
//! server.send_all(b"Hello Client!")?;
//! let mut buf = [0u8; 32];
//! let n = client.recv(&mut buf)?;
//! assert_eq!(&buf[..n], b"Hello Client!");
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! [tcp(7)](https://man7.org/linux/man-pages/man7/tcp.7.html),
//! [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html)

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{AddressFamily, Shutdown, SocketFlags, SocketType};

use super::Wait;
use crate::deadline::{poll_fd, Deadline};
use crate::error::{Error, Result};
use crate::frame::{FrameReader, FrameWriter};

fn describe(addr: &str) -> String {
    format!("tcp socket {addr}")
}

fn resolve(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<Vec<SocketAddr>> {
    let text = format!("{addr:?}").trim_matches('"').to_string();
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Error::InvalidArgument {
            object: describe(&text),
            reason: format!("cannot resolve the address: {e}"),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::InvalidArgument {
            object: describe(&text),
            reason: "the name resolves to no address".into(),
        });
    }
    Ok(addrs)
}

fn family(addr: &SocketAddr) -> AddressFamily {
    match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    }
}

/// A listening TCP socket with `SO_REUSEADDR`; accepted streams have
/// `TCP_NODELAY` on.
#[derive(Debug)]
pub struct TcpListener {
    inner: std::net::TcpListener,
    local: SocketAddr,
    object: String,
}

impl TcpListener {
    /// `socket` + `SO_REUSEADDR` + `bind` + `listen` (backlog 128) on the
    /// first address `addr` resolves to that binds. Port 0 picks a free
    /// port; see [`local_addr`](Self::local_addr).
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for an address that does not resolve.
    /// - [`Error::AddrInUse`] when another socket listens on the port.
    /// - [`Error::PermissionDenied`] for a privileged port; [`Error::Io`] otherwise.
    ///
    /// # References
    /// [bind(2)](https://man7.org/linux/man-pages/man2/bind.2.html),
    /// [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html) (`SO_REUSEADDR`)
    pub fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<TcpListener> {
        let mut last = None;
        for a in resolve(addr)? {
            match Self::bind_one(a) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn bind_one(addr: SocketAddr) -> Result<TcpListener> {
        let object = describe(&addr.to_string());
        let fd = rustix::net::socket_with(
            family(&addr),
            SocketType::STREAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )
        .map_err(|e| Error::os(&object, "socket", e))?;
        rustix::net::sockopt::set_socket_reuseaddr(&fd, true)
            .map_err(|e| Error::os(&object, "setsockopt(SO_REUSEADDR)", e))?;
        rustix::net::bind(&fd, &addr).map_err(|e| Error::os(&object, "bind", e))?;
        rustix::net::listen(&fd, 128).map_err(|e| Error::os(&object, "listen", e))?;
        let inner = std::net::TcpListener::from(fd);
        let local = inner
            .local_addr()
            .map_err(|e| Error::os(&object, "getsockname", e))?;
        Ok(TcpListener {
            inner,
            local,
            object: describe(&local.to_string()),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// How errors name this socket.
    pub fn name(&self) -> &str {
        &self.object
    }

    fn accept_wait(&self, wait: Wait) -> Result<(TcpStream, SocketAddr)> {
        loop {
            match rustix::net::acceptfrom_with(&self.inner, SocketFlags::CLOEXEC) {
                Ok((fd, _)) => {
                    let s = std::net::TcpStream::from(fd);
                    let peer = s
                        .peer_addr()
                        .map_err(|e| Error::os(&self.object, "getpeername", e))?;
                    return Ok((TcpStream::from_std(s, peer)?, peer));
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
                    match poll_fd(&self.inner, rustix::event::PollFlags::IN, deadline) {
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

    /// `accept4`—waits for a connection; the stream is close-on-exec with
    /// `TCP_NODELAY` on. Returns it and the client's address.
    ///
    /// # Errors
    /// [`Error::Io`] for a failed `accept4` (for example `EMFILE`).
    ///
    /// # References
    /// [accept(2)](https://man7.org/linux/man-pages/man2/accept.2.html)
    #[doc(alias = "accept4")]
    pub fn accept(&self) -> Result<TcpStream> {
        self.accept_wait(Wait::Block).map(|r| r.0)
    }

    /// Accepts a pending connection without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`] when none is pending; otherwise as [`accept`](Self::accept).
    pub fn try_accept(&self) -> Result<TcpStream> {
        self.accept_wait(Wait::Try).map(|r| r.0)
    }

    /// Waits at most `timeout` for a connection.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`accept`](Self::accept).
    pub fn accept_timeout(&self, timeout: Duration) -> Result<TcpStream> {
        self.accept_wait(Wait::timeout(timeout)).map(|r| r.0)
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// A connected TCP stream with `TCP_NODELAY` on and `MSG_NOSIGNAL` sends.
/// `&TcpStream` implements [`io::Read`] and [`io::Write`].
///
/// # SIGPIPE
/// Writing to a connection the peer closed is [`Error::Disconnected`]
/// (`BrokenPipe` through `Write`), never a signal.
#[derive(Debug)]
pub struct TcpStream {
    inner: std::net::TcpStream,
    peer: SocketAddr,
    object: String,
}

fn connect_error(object: &str, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Error::Disconnected {
            object: object.to_owned(),
            reason: "nobody is listening (connect: connection refused)".into(),
        },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::TimedOut {
            object: object.to_owned(),
            waiting_for: "the connection to be established".into(),
            timeout: Duration::ZERO,
        },
        _ => Error::os(object, "connect", e),
    }
}

impl TcpStream {
    fn from_std(inner: std::net::TcpStream, peer: SocketAddr) -> Result<TcpStream> {
        let object = describe(&peer.to_string());
        inner
            .set_nodelay(true)
            .map_err(|e| Error::os(&object, "setsockopt(TCP_NODELAY)", e))?;
        Ok(TcpStream {
            inner,
            peer,
            object,
        })
    }

    /// `connect`—connects to the first address `addr` resolves to that
    /// accepts, and turns on `TCP_NODELAY`. The socket is close-on-exec.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for an address that does not resolve.
    /// - [`Error::Disconnected`] when nobody listens (`ECONNREFUSED`).
    /// - [`Error::Io`] otherwise (unreachable network, …).
    ///
    /// # References
    /// [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html)
    pub fn connect(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr)? {
            match std::net::TcpStream::connect(a) {
                Ok(s) => return TcpStream::from_std(s, a),
                Err(e) => last = Some(connect_error(&describe(&a.to_string()), e)),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Connects, giving up on each address after `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when no address answered in time; otherwise as
    /// [`connect`](Self::connect).
    pub fn connect_timeout(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        timeout: Duration,
    ) -> Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr)? {
            match std::net::TcpStream::connect_timeout(&a, timeout) {
                Ok(s) => return TcpStream::from_std(s, a),
                Err(e) => {
                    let mut err = connect_error(&describe(&a.to_string()), e);
                    if let Error::TimedOut { timeout: t, .. } = &mut err {
                        *t = timeout;
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The local address.
    ///
    /// # Errors
    /// [`Error::Io`] if `getsockname` fails.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.inner
            .local_addr()
            .map_err(|e| Error::os(&self.object, "getsockname", e))
    }

    /// How errors name this socket (`tcp socket 127.0.0.1:8080`).
    pub fn name(&self) -> &str {
        &self.object
    }

    /// `send` with `MSG_NOSIGNAL`—sends some of `buf`; returns the bytes sent.
    ///
    /// # Errors
    /// [`Error::Disconnected`] when the peer closed or reset the connection;
    /// [`Error::TimedOut`] after a write timeout.
    ///
    /// # References
    /// [send(2)](https://man7.org/linux/man-pages/man2/send.2.html)
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        super::send(self.inner.as_fd(), buf, Wait::Block, &self.object)
    }

    /// Sends without waiting.
    ///
    /// # Errors
    /// [`Error::Full`]; otherwise as [`send`](Self::send).
    pub fn try_send(&self, buf: &[u8]) -> Result<usize> {
        super::send(self.inner.as_fd(), buf, Wait::Try, &self.object)
    }

    /// Sends, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`send`](Self::send).
    pub fn send_timeout(&self, buf: &[u8], timeout: Duration) -> Result<usize> {
        super::send(
            self.inner.as_fd(),
            buf,
            Wait::timeout(timeout),
            &self.object,
        )
    }

    /// Sends all of `buf`.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_all(&self, buf: &[u8]) -> Result<()> {
        super::send_all(self.inner.as_fd(), buf, Wait::Block, &self.object)
    }

    /// `recv`—receives up to `buf.len()` bytes; 0 at end of stream.
    ///
    /// # Errors
    /// [`Error::Disconnected`] for a reset connection; [`Error::TimedOut`]
    /// after a read timeout.
    ///
    /// # References
    /// [recv(2)](https://man7.org/linux/man-pages/man2/recv.2.html)
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        super::recv(self.inner.as_fd(), buf, Wait::Block, &self.object)
    }

    /// Receives without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`]; otherwise as [`recv`](Self::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<usize> {
        super::recv(self.inner.as_fd(), buf, Wait::Try, &self.object)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`recv`](Self::recv).
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        super::recv(
            self.inner.as_fd(),
            buf,
            Wait::timeout(timeout),
            &self.object,
        )
    }

    /// `shutdown`—closes one or both directions.
    ///
    /// # Errors
    /// [`Error::Io`] if the socket is not connected.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        rustix::net::shutdown(&self.inner, how).map_err(|e| Error::os(&self.object, "shutdown", e))
    }

    /// Sets `SO_RCVTIMEO` for blocking receives; `None` waits forever.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        super::set_timeout(self.inner.as_fd(), super::Dir::Recv, timeout, &self.object)
    }

    /// Sets `SO_SNDTIMEO` for blocking sends; `None` waits forever.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a zero duration.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        super::set_timeout(self.inner.as_fd(), super::Dir::Send, timeout, &self.object)
    }

    /// A frame reader and writer over this stream (see [`crate::frame`]).
    pub fn frames(&self, max: usize) -> (FrameReader<&TcpStream>, FrameWriter<&TcpStream>) {
        (
            FrameReader::new(self, max).with_name(self.object.clone()),
            FrameWriter::new(self, max).with_name(self.object.clone()),
        )
    }
}

impl io::Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(TcpStream::recv(self, buf)?)
    }
}

impl io::Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(TcpStream::send(self, buf)?)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl From<TcpStream> for OwnedFd {
    fn from(s: TcpStream) -> OwnedFd {
        s.inner.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_sets_reuseaddr_and_streams_nodelay() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(rustix::net::sockopt::socket_reuseaddr(&l).unwrap());
        let c = TcpStream::connect(l.local_addr()).unwrap();
        let s = l.accept_timeout(Duration::from_secs(10)).unwrap();
        assert!(rustix::net::sockopt::tcp_nodelay(&c).unwrap());
        assert!(rustix::net::sockopt::tcp_nodelay(&s).unwrap());
        drop(c);
        // The first send after the peer closed may still succeed (RST comes
        // back); one of the next must fail, and never with SIGPIPE.
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = s.send(b"x") {
                err = Some(e);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(matches!(err, Some(Error::Disconnected { .. })), "{err:?}");
    }
}
