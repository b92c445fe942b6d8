//! `ipcx send` / `ipcx recv` for socket endpoints.
//!
//! - Stream endpoints (`unix:`, `tcp:`) carry raw bytes, like socat: `send`
//!   copies stdin (or `--message`, `--count` times) to the peer, half-closes
//!   its side, then copies whatever the peer sends back to stdout until the
//!   peer closes; `recv` copies everything from the peer to stdout until end
//!   of stream (`--count N`: at most N bytes).
//! - `recv` on a stream or seqpacket endpoint listens and accepts one client
//!   unless `--connect`; `send` connects unless `--listen`.
//! - Message endpoints (`unix-dgram:`, `unix-seqpacket:`, `udp:`): one
//!   message per send (all of stdin, or one per line with `--lines`, or
//!   `--message` `--count` times); `recv` prints each message (a newline
//!   after each with `--lines`) until `--count` messages or the peer closes
//!   (seqpacket). `recv` on `unix-dgram:` and `udp:` binds the address.
//! - `--timeout` bounds connecting, accepting and every wait for data.
//! - `--count 0` is refused before anything is bound or connected.
//! - A socket file this command binds is removed when it is done, also when
//!   `SIGINT`, `SIGTERM` or `SIGHUP` ends it (see [`crate::cleanup`]).

use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use ipcx::endpoint::{UnixKind, UnixPath};
use ipcx::socket::addr::UnixAddr;
use ipcx::socket::tcp::{TcpListener, TcpStream};
use ipcx::socket::udp::UdpSocket;
use ipcx::socket::unix::{
    UnixDatagram, UnixListener, UnixSeqPacket, UnixSeqPacketListener, UnixStream,
};
use ipcx::{Endpoint, Error};
use rustix::net::Shutdown;

use crate::cleanup;
use crate::cli::{RecvArgs, SendArgs};

/// A connected byte stream (Unix or TCP).
pub trait Stream: Send + Sync {
    /// Sends all of `buf`.
    fn send_all(&self, buf: &[u8]) -> ipcx::Result<()>;
    /// Receives some bytes; 0 at end of stream.
    fn recv(&self, buf: &mut [u8]) -> ipcx::Result<usize>;
    /// Half-closes the sending side.
    fn shutdown_write(&self) -> ipcx::Result<()>;
    /// Shuts down both directions (wakes a blocked receive with end of stream).
    fn shutdown_both(&self) -> ipcx::Result<()>;
    /// Bounds every blocking receive and send.
    fn set_timeouts(&self, t: Option<Duration>) -> ipcx::Result<()>;
}

/// [`Stream`] by the socket type's own methods of the same names.
macro_rules! impl_stream {
    ($t:ident) => {
        impl Stream for $t {
            fn send_all(&self, buf: &[u8]) -> ipcx::Result<()> {
                $t::send_all(self, buf)
            }
            fn recv(&self, buf: &mut [u8]) -> ipcx::Result<usize> {
                $t::recv(self, buf)
            }
            fn shutdown_write(&self) -> ipcx::Result<()> {
                self.shutdown(Shutdown::Write)
            }
            fn shutdown_both(&self) -> ipcx::Result<()> {
                self.shutdown(Shutdown::Both)
            }
            fn set_timeouts(&self, t: Option<Duration>) -> ipcx::Result<()> {
                self.set_read_timeout(t)?;
                self.set_write_timeout(t)
            }
        }
    };
}

impl_stream!(UnixStream);
impl_stream!(TcpStream);

/// A message socket with a peer (seqpacket, connected datagram, UDP).
trait Messages {
    fn send_msg(&self, msg: &[u8]) -> ipcx::Result<()>;
    /// The next message; `None` when the peer closed (seqpacket only).
    fn recv_msg(&self, buf: &mut Vec<u8>, timeout: Option<Duration>)
        -> ipcx::Result<Option<usize>>;
}

/// Receives into `buf`, growing it when the next message is larger.
fn grow_recv(
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> ipcx::Result<Option<usize>>,
) -> ipcx::Result<Option<usize>> {
    loop {
        match f(buf) {
            Err(Error::BufferTooSmall { needed, .. }) if needed > buf.len() => {
                buf.resize(needed, 0)
            }
            other => return other,
        }
    }
}

impl Messages for UnixSeqPacket {
    fn send_msg(&self, msg: &[u8]) -> ipcx::Result<()> {
        self.send(msg)
    }
    fn recv_msg(
        &self,
        buf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> ipcx::Result<Option<usize>> {
        grow_recv(buf, |b| match timeout {
            Some(t) => self.recv_timeout(b, t),
            None => self.recv(b),
        })
    }
}

impl Messages for UnixDatagram {
    fn send_msg(&self, msg: &[u8]) -> ipcx::Result<()> {
        self.send(msg)
    }
    fn recv_msg(
        &self,
        buf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> ipcx::Result<Option<usize>> {
        grow_recv(buf, |b| {
            match timeout {
                Some(t) => self.recv_timeout(b, t),
                None => self.recv(b),
            }
            .map(Some)
        })
    }
}

impl Messages for UdpSocket {
    fn send_msg(&self, msg: &[u8]) -> ipcx::Result<()> {
        self.send(msg)
    }
    fn recv_msg(
        &self,
        buf: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> ipcx::Result<Option<usize>> {
        grow_recv(buf, |b| {
            match timeout {
                Some(t) => self.recv_from_timeout(b, t),
                None => self.recv_from(b),
            }
            .map(|(n, _)| Some(n))
        })
    }
}

/// The Unix address of an endpoint.
pub fn unix_addr(path: &UnixPath) -> anyhow::Result<UnixAddr> {
    Ok(UnixAddr::from_endpoint(path)?)
}

/// Binds a Unix socket with `bind`, and registers the removal of its socket
/// file (for a path address) should a signal end the command while the
/// returned guard lives. Bind the guard first, so it outlives the socket.
pub fn bind_unix<T>(
    addr: &UnixAddr,
    bind: impl FnOnce(&UnixAddr) -> ipcx::Result<T>,
) -> ipcx::Result<(Option<cleanup::Guard>, T)> {
    let mut section = cleanup::creating();
    let sock = bind(addr)?;
    let guard = addr.as_path().map(|p| section.remove_path_on_signal(p));
    Ok((guard, sock))
}

/// `host:port` for std's resolver (IPv6 hosts in brackets).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn accept_unix(l: &UnixListener, timeout: Option<Duration>) -> ipcx::Result<UnixStream> {
    match timeout {
        Some(t) => l.accept_timeout(t),
        None => l.accept(),
    }
}

fn accept_tcp(l: &TcpListener, timeout: Option<Duration>) -> ipcx::Result<TcpStream> {
    match timeout {
        Some(t) => l.accept_timeout(t),
        None => l.accept(),
    }
}

/// Opens a stream endpoint: listens and accepts one client, or connects.
fn open_stream(
    endpoint: &Endpoint,
    listen: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<Box<dyn Stream>> {
    let s: Box<dyn Stream> = match endpoint {
        Endpoint::Unix {
            kind: UnixKind::Stream,
            path,
        } => {
            let addr = unix_addr(path)?;
            if listen {
                let (_cleanup, l) = bind_unix(&addr, UnixListener::bind)?;
                Box::new(accept_unix(&l, timeout)?)
            } else {
                Box::new(match timeout {
                    Some(t) => UnixStream::connect_timeout(&addr, t)?,
                    None => UnixStream::connect(&addr)?,
                })
            }
        }
        Endpoint::Tcp { host, port } => {
            let hp = host_port(host, *port);
            if listen {
                let l = TcpListener::bind(hp.as_str())?;
                Box::new(accept_tcp(&l, timeout)?)
            } else {
                Box::new(match timeout {
                    Some(t) => TcpStream::connect_timeout(hp.as_str(), t)?,
                    None => TcpStream::connect(hp.as_str())?,
                })
            }
        }
        _ => unreachable!("open_stream is called for stream endpoints"),
    };
    s.set_timeouts(timeout)?;
    Ok(s)
}

/// Opens a message endpoint for sending or receiving; the guard (bind it
/// first) removes a bound datagram socket's file on a signal.
fn open_messages(
    endpoint: &Endpoint,
    receiving: bool,
    listen: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<(Option<cleanup::Guard>, Box<dyn Messages>)> {
    let mut guard = None;
    let sock: Box<dyn Messages> = match endpoint {
        Endpoint::Unix {
            kind: UnixKind::SeqPacket,
            path,
        } => {
            let addr = unix_addr(path)?;
            if listen {
                let (_cleanup, l) = bind_unix(&addr, UnixSeqPacketListener::bind)?;
                let s = match timeout {
                    Some(t) => l.accept_timeout(t)?,
                    None => l.accept()?,
                };
                s.set_write_timeout(timeout)?;
                Box::new(s)
            } else {
                let s = match timeout {
                    Some(t) => UnixSeqPacket::connect_timeout(&addr, t)?,
                    None => UnixSeqPacket::connect(&addr)?,
                };
                s.set_write_timeout(timeout)?;
                Box::new(s)
            }
        }
        Endpoint::Unix {
            kind: UnixKind::Datagram,
            path,
        } => {
            let addr = unix_addr(path)?;
            if receiving {
                let (g, s) = bind_unix(&addr, UnixDatagram::bind)?;
                guard = g;
                Box::new(s)
            } else {
                let s = UnixDatagram::unbound()?;
                s.connect(&addr)?;
                Box::new(s)
            }
        }
        Endpoint::Udp { host, port } => {
            let hp = host_port(host, *port);
            if receiving {
                Box::new(UdpSocket::bind(hp.as_str())?)
            } else {
                Box::new(UdpSocket::connect_to(hp.as_str())?)
            }
        }
        _ => unreachable!("open_messages is called for message endpoints"),
    };
    Ok((guard, sock))
}

fn is_stream(endpoint: &Endpoint) -> bool {
    matches!(
        endpoint,
        Endpoint::Tcp { .. }
            | Endpoint::Unix {
                kind: UnixKind::Stream,
                ..
            }
    )
}

fn pad(mut msg: Vec<u8>, to: Option<usize>) -> Vec<u8> {
    if let Some(n) = to {
        if msg.len() < n {
            msg.resize(n, 0);
        }
    }
    msg
}

/// The messages `ipcx send` sends to a message endpoint.
fn outgoing_messages(args: &SendArgs) -> anyhow::Result<Vec<Vec<u8>>> {
    let count = args.count.unwrap_or(1) as usize;
    let mut out = Vec::new();
    if let Some(m) = &args.message {
        for _ in 0..count {
            out.push(pad(m.as_bytes().to_vec(), args.pad));
        }
        return Ok(out);
    }
    let mut input = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut input)
        .context("reading stdin")?;
    if args.lines {
        for line in input.split(|b| *b == b'\n') {
            out.push(pad(line.to_vec(), args.pad));
        }
        // A trailing newline does not start another message.
        if input.ends_with(b"\n") {
            out.pop();
        }
        if let Some(n) = args.count {
            out.truncate(n as usize);
        }
    } else {
        out.push(pad(input, args.pad));
    }
    Ok(out)
}

/// Sends stdin or `--message` to the endpoint.
pub fn send(endpoint: &Endpoint, args: &SendArgs) -> anyhow::Result<()> {
    let what = format!("ipcx send {endpoint}");
    if args.count == Some(0) {
        anyhow::bail!("{what}: --count 0 would send nothing; give N of 1 or more");
    }
    if is_stream(endpoint) {
        let s = open_stream(endpoint, args.listen, args.timeout).context(what.clone())?;
        let s = s.as_ref();
        // Print the peer's answer while sending: a peer that answers as it
        // reads (an echo server) would otherwise fill both socket buffers
        // and wait for us forever. Whichever side fails shuts the socket
        // down, so the other one ends too.
        let sending = AtomicBool::new(true);
        let (sent, printed) = std::thread::scope(|scope| {
            let printer = scope.spawn(|| {
                let printed = copy_to_stdout(s, None, &sending);
                if printed.is_err() {
                    let _ = s.shutdown_both();
                }
                printed
            });
            let sent = send_input(s, args);
            sending.store(false, Ordering::Release);
            match &sent {
                Ok(()) => {
                    let _ = s.shutdown_write();
                }
                Err(_) => {
                    let _ = s.shutdown_both();
                }
            }
            let printed = printer
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (sent, printed)
        });
        // A failed print (a closed stdout included) explains a send that
        // failed after it.
        printed.context(what.clone())?;
        sent.context(what)?;
        return Ok(());
    }
    if args.listen
        && !matches!(
            endpoint,
            Endpoint::Unix {
                kind: UnixKind::SeqPacket,
                ..
            }
        )
    {
        anyhow::bail!("{what}: --listen is for stream and seqpacket endpoints");
    }
    let messages = outgoing_messages(args)?;
    let (_cleanup, sock) =
        open_messages(endpoint, false, args.listen, args.timeout).context(what.clone())?;
    for m in &messages {
        sock.send_msg(m).context(what.clone())?;
    }
    Ok(())
}

/// Sends `--message` (`--count` times) or all of stdin on a stream.
fn send_input(s: &dyn Stream, args: &SendArgs) -> anyhow::Result<()> {
    if let Some(m) = &args.message {
        let msg = pad(m.as_bytes().to_vec(), args.pad);
        for _ in 0..args.count.unwrap_or(1) {
            s.send_all(&msg)?;
        }
        return Ok(());
    }
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading stdin"),
        };
        s.send_all(&buf[..n])?;
    }
}

/// Copies a stream to stdout until end of stream or `limit` bytes. While
/// `waiting` is set (the other direction is still sending), a receive
/// timeout is not an error: the peer may answer only once it has it all.
fn copy_to_stdout(s: &dyn Stream, limit: Option<u64>, waiting: &AtomicBool) -> anyhow::Result<u64> {
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let want = match limit {
            Some(l) if total >= l => break,
            Some(l) => ((l - total) as usize).min(buf.len()),
            None => buf.len(),
        };
        let n = match s.recv(&mut buf[..want]) {
            Err(Error::TimedOut { .. }) if waiting.load(Ordering::Acquire) => continue,
            other => other?,
        };
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        out.flush()?;
        total += n as u64;
    }
    Ok(total)
}

/// Receives from the endpoint to stdout.
pub fn recv(endpoint: &Endpoint, args: &RecvArgs) -> anyhow::Result<()> {
    let what = format!("ipcx recv {endpoint}");
    // Checked before binding or connecting: accepting a client only to hang
    // up on it would throw away what it sent.
    if args.count == Some(0) {
        anyhow::bail!("{what}: --count 0 would receive nothing; give N of 1 or more");
    }
    if is_stream(endpoint) {
        let s = open_stream(endpoint, !args.connect, args.timeout).context(what.clone())?;
        copy_to_stdout(s.as_ref(), args.count, &AtomicBool::new(false)).context(what)?;
        return Ok(());
    }
    let seqpacket = matches!(
        endpoint,
        Endpoint::Unix {
            kind: UnixKind::SeqPacket,
            ..
        }
    );
    if args.connect && !seqpacket {
        anyhow::bail!("{what}: --connect is for stream and seqpacket endpoints");
    }
    let (_cleanup, sock) = open_messages(endpoint, true, seqpacket && !args.connect, args.timeout)
        .context(what.clone())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = io::stdout().lock();
    let mut got = 0u64;
    while args.count.is_none_or(|c| got < c) {
        let Some(n) = sock
            .recv_msg(&mut buf, args.timeout)
            .context(what.clone())?
        else {
            break;
        };
        out.write_all(&buf[..n])?;
        if args.lines {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        got += 1;
    }
    Ok(())
}

/// Resolves `host:port` to the addresses a server would bind.
pub fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<std::net::SocketAddr>> {
    Ok(host_port(host, port)
        .to_socket_addrs()
        .with_context(|| format!("resolving {host}"))?
        .collect())
}
