//! UDP sockets: thin over [`std::net::UdpSocket`], with datagram sizes
//! checked before the system call and `MSG_NOSIGNAL` sends.
//!
//! # Datagram size
//! One UDP datagram carries at most [`MAX_IPV4_PAYLOAD`] = 65,507 bytes over
//! IPv4 (65,535 minus a 20-byte IP header and an 8-byte UDP header) and
//! [`MAX_IPV6_PAYLOAD`] = 65,527 bytes over IPv6 (65,535 minus the 8-byte UDP
//! header; the 40-byte IPv6 header is outside the payload length). A larger
//! message is [`Error::MessageTooLarge`] naming that maximum, and nothing is
//! sent — never a partial datagram. A received datagram larger than the
//! buffer is [`Error::BufferTooSmall`] and stays queued.
//!
//! ```
//! use ipcx::socket::udp::UdpSocket;
//! let a = UdpSocket::bind("127.0.0.1:0")?;
//! let b = UdpSocket::bind("127.0.0.1:0")?;
//! a.send_to(b"ping", b.local_addr())?;
//! let mut buf = [0u8; 16];
//! let (n, from) = b.recv_from(&mut buf)?;
//! assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()));
//! assert!(a.send_to(&vec![0u8; 65_508], b.local_addr()).is_err());
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! [udp(7)](https://man7.org/linux/man-pages/man7/udp.7.html)

use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

use super::Wait;
use crate::error::{Error, Result};

/// Largest UDP payload over IPv4, in bytes: 65,535 − 20 (IP) − 8 (UDP).
pub const MAX_IPV4_PAYLOAD: usize = 65_507;

/// Largest UDP payload over IPv6 (without jumbograms), in bytes: 65,535 − 8 (UDP).
pub const MAX_IPV6_PAYLOAD: usize = 65_527;

/// A UDP socket, close-on-exec.
#[derive(Debug)]
pub struct UdpSocket {
    inner: std::net::UdpSocket,
    local: SocketAddr,
    object: String,
    peer: Option<SocketAddr>,
}

fn max_for(addr: &SocketAddr) -> (usize, &'static str) {
    match addr {
        SocketAddr::V4(_) => (
            MAX_IPV4_PAYLOAD,
            "UDP over IPv4: 65,535 minus 20 bytes of IP header and 8 of UDP header, see udp(7)",
        ),
        SocketAddr::V6(_) => (
            MAX_IPV6_PAYLOAD,
            "UDP over IPv6: 65,535 minus 8 bytes of UDP header, see udp(7)",
        ),
    }
}

impl UdpSocket {
    /// `socket` + `bind`—a UDP socket bound to the first address `addr`
    /// resolves to (port 0 picks a free port).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an address that does not resolve;
    /// [`Error::AddrInUse`]; [`Error::Io`] otherwise.
    ///
    /// # References
    /// [bind(2)](https://man7.org/linux/man-pages/man2/bind.2.html)
    pub fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<UdpSocket> {
        let text = format!("{addr:?}").trim_matches('"').to_string();
        let object = format!("udp socket {text}");
        let inner = std::net::UdpSocket::bind(addr).map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => Error::AddrInUse {
                object: object.clone(),
            },
            std::io::ErrorKind::InvalidInput => Error::InvalidArgument {
                object: object.clone(),
                reason: format!("cannot resolve the address: {e}"),
            },
            _ => Error::os(&object, "bind", e),
        })?;
        let local = inner
            .local_addr()
            .map_err(|e| Error::os(&object, "getsockname", e))?;
        Ok(UdpSocket {
            inner,
            local,
            object: format!("udp socket {local}"),
            peer: None,
        })
    }

    /// A UDP socket bound to an ephemeral port of the right family and
    /// connected to `addr`: [`send`](Self::send) goes there and only its
    /// datagrams are received.
    ///
    /// # Errors
    /// As [`bind`](Self::bind) and [`connect`](Self::connect).
    pub fn connect_to(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<UdpSocket> {
        let text = format!("{addr:?}").trim_matches('"').to_string();
        let target = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| Error::InvalidArgument {
                object: format!("udp socket {text}"),
                reason: "cannot resolve the address".into(),
            })?;
        let local: SocketAddr = match target {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
            SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
        };
        let mut s = UdpSocket::bind(local)?;
        s.connect(target)?;
        Ok(s)
    }

    /// `connect`—sets the default destination.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] for port 0 (it names no peer).
    /// - [`Error::Io`] if `connect(2)` fails.
    pub fn connect(&mut self, addr: SocketAddr) -> Result<()> {
        super::check_destination(&addr, &format!("udp socket {addr}"))?;
        self.inner
            .connect(addr)
            .map_err(|e| Error::os(format!("udp socket {addr}"), "connect", e))?;
        self.peer = Some(addr);
        self.object = format!("udp socket {addr}");
        Ok(())
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// How errors name this socket.
    pub fn name(&self) -> &str {
        &self.object
    }

    /// The largest datagram this socket can send to `to`, in bytes.
    pub fn max_datagram(to: &SocketAddr) -> usize {
        max_for(to).0
    }

    fn check(&self, msg: &[u8], to: &SocketAddr) -> Result<()> {
        let (max, why) = max_for(to);
        if msg.len() > max {
            return Err(Error::MessageTooLarge {
                object: format!("udp socket {to}"),
                len: msg.len(),
                max,
                limit_source: why.into(),
            });
        }
        Ok(())
    }

    fn send_wait(&self, msg: &[u8], to: Option<SocketAddr>, wait: Wait) -> Result<()> {
        let Some(dest) = to.or(self.peer) else {
            return Err(Error::InvalidArgument {
                object: self.object.clone(),
                reason: "send needs a connected socket; use send_to".into(),
            });
        };
        // The object's name is only needed for an error: build it there, not
        // on every send.
        let object = || format!("udp socket {dest}");
        if dest.port() == 0 {
            super::check_destination(&dest, &object())?;
        }
        self.check(msg, &dest)?;
        let fd = self.inner.as_fd();
        loop {
            let mut flags = SendFlags::NOSIGNAL;
            if !matches!(wait, Wait::Block) {
                flags |= SendFlags::DONTWAIT;
            }
            let res = match to {
                Some(a) => rustix::net::sendto(fd, msg, flags, &a),
                None => rustix::net::send(fd, msg, flags),
            };
            match res {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => super::wait_ready(fd, super::Dir::Send, wait, &object())?,
                Err(Errno::MSGSIZE) => {
                    let (max, why) = max_for(&dest);
                    return Err(Error::MessageTooLarge {
                        object: object(),
                        len: msg.len(),
                        max,
                        limit_source: why.into(),
                    });
                }
                Err(e) => return Err(super::send_error(fd, &object(), "sendto", e, msg.len())),
            }
        }
    }

    /// `sendto` with `MSG_NOSIGNAL`—sends one datagram to `to`, whole or not at all.
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`] over 65,507 (IPv4) / 65,527 (IPv6)
    ///   bytes, before the system call.
    /// - [`Error::InvalidArgument`] for port 0 (it names no peer).
    /// - [`Error::Disconnected`] when an earlier datagram was refused
    ///   (`ECONNREFUSED` from an ICMP port-unreachable).
    ///
    /// # References
    /// [sendto(2)](https://man7.org/linux/man-pages/man2/sendto.2.html)
    #[doc(alias = "sendto")]
    pub fn send_to(&self, msg: &[u8], to: SocketAddr) -> Result<()> {
        self.send_wait(msg, Some(to), Wait::Block)
    }

    /// Sends to `to` without waiting.
    ///
    /// # Errors
    /// [`Error::Full`]; otherwise as [`send_to`](Self::send_to).
    pub fn try_send_to(&self, msg: &[u8], to: SocketAddr) -> Result<()> {
        self.send_wait(msg, Some(to), Wait::Try)
    }

    /// `send` with `MSG_NOSIGNAL`—sends one datagram to the connected peer.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when not connected; otherwise as
    /// [`send_to`](Self::send_to).
    pub fn send(&self, msg: &[u8]) -> Result<()> {
        self.send_wait(msg, None, Wait::Block)
    }

    /// Sends to the connected peer, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`send`](Self::send).
    pub fn send_timeout(&self, msg: &[u8], timeout: Duration) -> Result<()> {
        self.send_wait(msg, None, Wait::timeout(timeout))
    }

    fn recv_wait(&self, buf: &mut [u8], wait: Wait) -> Result<(usize, SocketAddr)> {
        let fd = self.inner.as_fd();
        let len = super::peek_len(fd, wait, &self.object)?;
        if len > buf.len() {
            return Err(super::too_small(&self.object, len, buf.len()));
        }
        loop {
            match rustix::net::recvfrom(fd, &mut *buf, RecvFlags::empty()) {
                Ok((_, n, addr)) => {
                    let from = addr
                        .and_then(|a| SocketAddr::try_from(a).ok())
                        .unwrap_or(self.local);
                    return Ok((n, from));
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(super::recv_error(&self.object, "recvfrom", e)),
            }
        }
    }

    /// `recvfrom`—receives the next datagram and its sender.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when the datagram is longer than `buf` (it
    /// stays queued); [`Error::TimedOut`] after a read timeout.
    ///
    /// # References
    /// [recvfrom(2)](https://man7.org/linux/man-pages/man2/recvfrom.2.html)
    #[doc(alias = "recvfrom")]
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.recv_wait(buf, Wait::Block)
    }

    /// Receives without waiting.
    ///
    /// # Errors
    /// [`Error::Empty`]; otherwise as [`recv_from`](Self::recv_from).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        self.recv_wait(buf, Wait::Try)
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`]; otherwise as [`recv_from`](Self::recv_from).
    pub fn recv_from_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<(usize, SocketAddr)> {
        self.recv_wait(buf, Wait::timeout(timeout))
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_datagrams_are_refused_whole() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = a.send_to(&vec![7u8; 65_508], b.local_addr()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::MessageTooLarge {
                    len: 65_508,
                    max: 65_507,
                    ..
                }
            ),
            "{err:?}"
        );
        a.send_to(&vec![7u8; 65_507], b.local_addr()).unwrap();
        let mut small = [0u8; 10];
        assert!(matches!(
            b.recv_from(&mut small),
            Err(Error::BufferTooSmall { needed: 65_507, .. })
        ));
        let mut buf = vec![0u8; 65_536];
        assert_eq!(b.recv_from(&mut buf).unwrap().0, 65_507);
        assert!(matches!(
            b.try_recv_from(&mut buf),
            Err(Error::Empty { .. })
        ));
    }
}
