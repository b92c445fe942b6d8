//! `ipcx serve ENDPOINT (--echo | --message TEXT)`: a multi-client server.
//!
//! Concurrency model: connection endpoints (`unix:`, `unix-seqpacket:`,
//! `tcp:`) get one thread per client, from a bounded pool of at most
//! [`MAX_CLIENTS`] live client threads; when all are busy, the accept loop
//! waits for one to finish (further clients queue in the kernel's listen
//! backlog). Datagram endpoints (`unix-dgram:`, `udp:`) are served by one
//! thread answering each datagram to its sender.
//!
//! - `--echo`: stream endpoints echo every byte as it arrives (transparent,
//!   no framing imposed); message endpoints echo each message.
//! - `--message TEXT`: sends TEXT to each client, then closes (the seed's
//!   `tcp_server`). Over TCP the server waits up to 200 ms for the client to
//!   hang up first, so that `TIME_WAIT` lands on the client's side and the
//!   server's port stays free for programs without `SO_REUSEADDR`.
//! - Binds loopback addresses only unless `--public`.
//! - `--allow-uid UID` (Unix connection endpoints): admits only peers whose
//!   kernel-reported uid (`SO_PEERCRED`) is UID; others are closed with a line
//!   on stderr.
//! - `--clients N`: stops accepting after N connections (admitted or
//!   refused; datagrams for datagram endpoints), waits for them, exits 0.
//! - `--timeout T`: exits 0 when no client arrives within T.
//! - A client that fails for any reason but hanging up is logged on stderr
//!   at once; when the server stops, it exits 1 if any client failed.
//!
//! The bound address is printed on stdout as one line (`listening on
//! ENDPOINT`, with the real port when port 0 was asked for).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::Context;
use ipcx::endpoint::UnixKind;
use ipcx::socket::tcp::{TcpListener, TcpStream};
use ipcx::socket::udp::UdpSocket;
use ipcx::socket::unix::{
    UnixDatagram, UnixListener, UnixSeqPacket, UnixSeqPacketListener, UnixStream,
};
use ipcx::socket::PeerCred;
use ipcx::{Endpoint, Error};

use crate::cli::ServeArgs;
use crate::transport::socket::{host_port, resolve, unix_addr};

/// Most client threads alive at once.
pub const MAX_CLIENTS: usize = 1024;

/// Stack size of a client thread; buffers live on the heap.
const CLIENT_STACK: usize = 128 * 1024;

/// How long `--message` waits for a TCP client to hang up first.
const HANGUP_GRACE: Duration = Duration::from_millis(200);

#[derive(Clone)]
enum Mode {
    Echo,
    Message(Arc<Vec<u8>>),
}

/// Counts live client threads and bounds them.
struct Pool {
    live: Mutex<usize>,
    changed: Condvar,
}

impl Pool {
    fn new() -> Arc<Pool> {
        Arc::new(Pool {
            live: Mutex::new(0),
            changed: Condvar::new(),
        })
    }

    fn acquire(&self) {
        let mut n = self.live.lock().unwrap_or_else(|p| p.into_inner());
        while *n >= MAX_CLIENTS {
            n = self.changed.wait(n).unwrap_or_else(|p| p.into_inner());
        }
        *n += 1;
    }

    fn release(&self) {
        let mut n = self.live.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        self.changed.notify_all();
    }

    fn wait_idle(&self) {
        let mut n = self.live.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            n = self.changed.wait(n).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Runs `ipcx serve`; returns the exit status.
pub fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let endpoint: Endpoint = args.endpoint.parse().context("ipcx serve")?;
    let what = format!("ipcx serve {endpoint}");
    let mode = match (&args.message, args.echo) {
        (Some(m), _) => Mode::Message(Arc::new(m.clone().into_bytes())),
        (None, true) => Mode::Echo,
        (None, false) => anyhow::bail!("{what}: say what to serve: --echo or --message TEXT"),
    };
    match &endpoint {
        Endpoint::Tcp { host, port } | Endpoint::Udp { host, port } => {
            if args.allow_uid.is_some() {
                anyhow::bail!(
                    "{what}: --allow-uid needs the kernel's peer credentials (SO_PEERCRED), which only Unix connection sockets have"
                );
            }
            if !args.public {
                for a in resolve(host, *port).context(what.clone())? {
                    if !a.ip().is_loopback() {
                        anyhow::bail!(
                            "{what}: {} is not a loopback address; pass --public to serve other hosts",
                            a.ip()
                        );
                    }
                }
            }
        }
        Endpoint::Unix {
            kind: UnixKind::Datagram,
            ..
        } if args.allow_uid.is_some() => anyhow::bail!(
            "{what}: --allow-uid needs a connection socket (unix: or unix-seqpacket:); datagrams carry no SO_PEERCRED"
        ),
        Endpoint::Unix { .. } => {}
        _ => anyhow::bail!("{what}: ipcx serve serves socket endpoints (unix:, unix-dgram:, unix-seqpacket:, tcp:, udp:)"),
    }
    match &endpoint {
        Endpoint::Tcp { host, port } => {
            let l = TcpListener::bind(host_port(host, *port).as_str()).context(what.clone())?;
            announce(&format!("tcp:{}", l.local_addr()));
            accept_loop(
                &args,
                &what,
                &mode,
                |t| accept(t, |t| l.accept_timeout(t), || l.accept()),
                |s: TcpStream, mode| serve_stream(&s, mode, true),
                |_| None,
            )
        }
        Endpoint::Unix {
            kind: UnixKind::Stream,
            path,
        } => {
            let l = UnixListener::bind(&unix_addr(path)?).context(what.clone())?;
            announce(&format!("unix:{}", l.local_addr()));
            accept_loop(
                &args,
                &what,
                &mode,
                |t| accept(t, |t| l.accept_timeout(t), || l.accept()),
                |s: UnixStream, mode| serve_stream(&s, mode, false),
                |s| Some(s.peer_cred()),
            )
        }
        Endpoint::Unix {
            kind: UnixKind::SeqPacket,
            path,
        } => {
            let l = UnixSeqPacketListener::bind(&unix_addr(path)?).context(what.clone())?;
            announce(&format!("unix-seqpacket:{}", l.local_addr()));
            accept_loop(
                &args,
                &what,
                &mode,
                |t| accept(t, |t| l.accept_timeout(t), || l.accept()),
                serve_seqpacket,
                |s| Some(s.peer_cred()),
            )
        }
        Endpoint::Unix {
            kind: UnixKind::Datagram,
            path,
        } => {
            let s = UnixDatagram::bind(&unix_addr(path)?).context(what.clone())?;
            announce(&format!("unix-dgram:{}", s.local_addr().expect("bound")));
            serve_unix_dgram(&s, &args, &mode, &what)
        }
        Endpoint::Udp { host, port } => {
            let s = UdpSocket::bind(host_port(host, *port).as_str()).context(what.clone())?;
            announce(&format!("udp:{}", s.local_addr()));
            serve_udp(&s, &args, &mode, &what)
        }
        _ => unreachable!("checked above"),
    }
}

fn announce(endpoint: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {endpoint}");
    let _ = out.flush();
}

fn accept<S>(
    timeout: Option<Duration>,
    timed: impl Fn(Duration) -> ipcx::Result<S>,
    blocking: impl Fn() -> ipcx::Result<S>,
) -> ipcx::Result<S> {
    match timeout {
        Some(t) => timed(t),
        None => blocking(),
    }
}

/// Accepts clients and serves each on its own thread from the pool.
fn accept_loop<S: Send + 'static>(
    args: &ServeArgs,
    what: &str,
    mode: &Mode,
    accept: impl Fn(Option<Duration>) -> ipcx::Result<S>,
    serve: fn(S, &Mode) -> ipcx::Result<()>,
    cred: impl Fn(&S) -> Option<PeerCred>,
) -> anyhow::Result<i32> {
    let pool = Pool::new();
    let mut accepted = 0u64;
    let failures = Arc::new(AtomicU64::new(0));
    loop {
        if args.clients.is_some_and(|n| accepted >= n) {
            break;
        }
        let conn = match accept(args.timeout) {
            Ok(c) => c,
            Err(Error::TimedOut { timeout, .. }) => {
                eprintln!("{what}: no client within {timeout:?}; stopping");
                break;
            }
            Err(e) => return Err(e).context(what.to_owned()),
        };
        accepted += 1;
        if let (Some(uid), Some(peer)) = (args.allow_uid, cred(&conn)) {
            if peer.uid != uid {
                eprintln!(
                    "{what}: refused a client with uid {} (pid {}, gid {}): only uid {uid} is allowed",
                    peer.uid, peer.pid, peer.gid
                );
                drop(conn);
                continue;
            }
        }
        pool.acquire();
        let (pool2, mode2, failures2, what2) = (
            pool.clone(),
            mode.clone(),
            failures.clone(),
            what.to_owned(),
        );
        let spawned = std::thread::Builder::new()
            .name("ipcx-serve-client".into())
            .stack_size(CLIENT_STACK)
            .spawn(move || {
                if let Err(e) = serve(conn, &mode2) {
                    if !matches!(e, Error::Disconnected { .. }) {
                        failures2.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{what2}: client: {e}");
                    }
                }
                pool2.release();
            });
        if let Err(e) = spawned {
            pool.release();
            eprintln!("{what}: cannot start a client thread: {e}");
        }
    }
    pool.wait_idle();
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        anyhow::bail!("{what}: {failed} client(s) failed (see above)");
    }
    Ok(0)
}

/// Echoes or answers one stream client.
fn serve_stream<S: crate::transport::socket::Stream>(
    s: &S,
    mode: &Mode,
    tcp: bool,
) -> ipcx::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    match mode {
        Mode::Echo => loop {
            let n = s.recv(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            s.send_all(&buf[..n])?;
        },
        Mode::Message(m) => {
            s.send_all(m)?;
            if tcp {
                // Let the client hang up first (it then holds TIME_WAIT).
                s.set_timeouts(Some(HANGUP_GRACE))?;
                while let Ok(n) = s.recv(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            }
            Ok(())
        }
    }
}

fn serve_seqpacket(s: UnixSeqPacket, mode: &Mode) -> ipcx::Result<()> {
    match mode {
        Mode::Echo => {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = loop {
                    match s.recv(&mut buf) {
                        Err(Error::BufferTooSmall { needed, .. }) => buf.resize(needed, 0),
                        other => break other?,
                    }
                };
                let Some(n) = n else { return Ok(()) };
                s.send(&buf[..n])?;
            }
        }
        Mode::Message(m) => {
            if m.is_empty() {
                return Ok(());
            }
            s.send(m)
        }
    }
}

fn serve_unix_dgram(
    s: &UnixDatagram,
    args: &ServeArgs,
    mode: &Mode,
    what: &str,
) -> anyhow::Result<i32> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut served = 0u64;
    while args.clients.is_none_or(|n| served < n) {
        let res = match args.timeout {
            Some(t) => s.recv_from_timeout(&mut buf, t),
            None => s.recv_from(&mut buf),
        };
        let (n, from) = match res {
            Ok(r) => r,
            Err(Error::BufferTooSmall { needed, .. }) => {
                buf.resize(needed, 0);
                continue;
            }
            Err(Error::TimedOut { timeout, .. }) => {
                eprintln!("{what}: no datagram within {timeout:?}; stopping");
                break;
            }
            Err(e) => return Err(e).context(what.to_owned()),
        };
        served += 1;
        let Some(from) = from else {
            eprintln!("{what}: a datagram from an unbound socket cannot be answered");
            continue;
        };
        let reply: &[u8] = match mode {
            Mode::Echo => &buf[..n],
            Mode::Message(m) => m,
        };
        if let Err(e) = s.send_to_timeout(reply, &from, Duration::from_secs(1)) {
            eprintln!("{what}: reply to {from}: {e}");
        }
    }
    Ok(0)
}

fn serve_udp(s: &UdpSocket, args: &ServeArgs, mode: &Mode, what: &str) -> anyhow::Result<i32> {
    let mut buf = vec![0u8; 65_536];
    let mut served = 0u64;
    while args.clients.is_none_or(|n| served < n) {
        let res = match args.timeout {
            Some(t) => s.recv_from_timeout(&mut buf, t),
            None => s.recv_from(&mut buf),
        };
        let (n, from) = match res {
            Ok(r) => r,
            Err(Error::TimedOut { timeout, .. }) => {
                eprintln!("{what}: no datagram within {timeout:?}; stopping");
                break;
            }
            Err(e) => return Err(e).context(what.to_owned()),
        };
        served += 1;
        let reply: &[u8] = match mode {
            Mode::Echo => &buf[..n],
            Mode::Message(m) => m,
        };
        if let Err(e) = s.send_to(reply, from) {
            eprintln!("{what}: reply to {from}: {e}");
        }
    }
    Ok(0)
}
