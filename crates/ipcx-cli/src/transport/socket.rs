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

use std::io::{self, Read, Write};
use std::net::ToSocketAddrs;
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

use crate::cli::{RecvArgs, SendArgs};

/// A connected byte stream (Unix or TCP).
pub trait Stream {
    /// Sends all of `buf`.
    fn send_all(&self, buf: &[u8]) -> ipcx::Result<()>;
    /// Receives some bytes; 0 at end of stream.
    fn recv(&self, buf: &mut [u8]) -> ipcx::Result<usize>;
    /// Half-closes the sending side.
    fn shutdown_write(&self) -> ipcx::Result<()>;
    /// Bounds every blocking receive and send.
    fn set_timeouts(&self, t: Option<Duration>) -> ipcx::Result<()>;
}

impl Stream for UnixStream {
    fn send_all(&self, buf: &[u8]) -> ipcx::Result<()> {
        UnixStream::send_all(self, buf)
    }
    fn recv(&self, buf: &mut [u8]) -> ipcx::Result<usize> {
        UnixStream::recv(self, buf)
    }
    fn shutdown_write(&self) -> ipcx::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    fn set_timeouts(&self, t: Option<Duration>) -> ipcx::Result<()> {
        self.set_read_timeout(t)?;
        self.set_write_timeout(t)
    }
}

impl Stream for TcpStream {
    fn send_all(&self, buf: &[u8]) -> ipcx::Result<()> {
        TcpStream::send_all(self, buf)
    }
    fn recv(&self, buf: &mut [u8]) -> ipcx::Result<usize> {
        TcpStream::recv(self, buf)
    }
    fn shutdown_write(&self) -> ipcx::Result<()> {
        self.shutdown(Shutdown::Write)
    }
    fn set_timeouts(&self, t: Option<Duration>) -> ipcx::Result<()> {
        self.set_read_timeout(t)?;
        self.set_write_timeout(t)
    }
}

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
                let l = UnixListener::bind(&addr)?;
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

/// Opens a message endpoint for sending or receiving.
fn open_messages(
    endpoint: &Endpoint,
    receiving: bool,
    listen: bool,
    timeout: Option<Duration>,
) -> anyhow::Result<Box<dyn Messages>> {
    Ok(match endpoint {
        Endpoint::Unix {
            kind: UnixKind::SeqPacket,
            path,
        } => {
            let addr = unix_addr(path)?;
            if listen {
                let l = UnixSeqPacketListener::bind(&addr)?;
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
                Box::new(UnixDatagram::bind(&addr)?)
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
    })
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
    if is_stream(endpoint) {
        let s = open_stream(endpoint, args.listen, args.timeout).context(what.clone())?;
        if let Some(m) = &args.message {
            let msg = pad(m.as_bytes().to_vec(), args.pad);
            for _ in 0..args.count.unwrap_or(1) {
                s.send_all(&msg).context(what.clone())?;
            }
        } else {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e).context("reading stdin"),
                };
                s.send_all(&buf[..n]).context(what.clone())?;
            }
        }
        // Half-close, then print the peer's answer (if any) until it closes.
        let _ = s.shutdown_write();
        copy_to_stdout(s.as_ref(), None).context(what)?;
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
    let sock = open_messages(endpoint, false, args.listen, args.timeout).context(what.clone())?;
    for m in &messages {
        sock.send_msg(m).context(what.clone())?;
    }
    Ok(())
}

/// Copies a stream to stdout until end of stream or `limit` bytes.
fn copy_to_stdout(s: &dyn Stream, limit: Option<u64>) -> anyhow::Result<u64> {
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let want = match limit {
            Some(l) if total >= l => break,
            Some(l) => ((l - total) as usize).min(buf.len()),
            None => buf.len(),
        };
        let n = s.recv(&mut buf[..want])?;
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
    if is_stream(endpoint) {
        let s = open_stream(endpoint, !args.connect, args.timeout).context(what.clone())?;
        copy_to_stdout(s.as_ref(), args.count).context(what)?;
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
    let sock = open_messages(endpoint, true, seqpacket && !args.connect, args.timeout)
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
