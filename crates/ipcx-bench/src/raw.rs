//! Baselines written directly on libc, without ipcx: the physical limits
//! (cache-line and futex ping-pong over a shared `memfd` mapping) and a raw
//! loop for each kernel mechanism doing the same system calls as the ipcx
//! wrapper, so that the report can show what the wrapper costs.
//!
//! This is the only module of the bench crate with `unsafe` code; every block
//! names the invariant it relies on.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use crate::handshake::{self, Region, Sems, ShmSem};
use crate::link::{expect_len, param_i64, param_str, ready, take_fd, unique, Driver, Link, Setup};

/// How long a waiting side tolerates silence before declaring the peer gone.
const PEER_SILENCE: Duration = Duration::from_secs(20);

fn errno(what: &str) -> anyhow::Error {
    anyhow::Error::new(io::Error::last_os_error()).context(what.to_string())
}

/// Takes ownership of a descriptor a libc call just returned.
fn owned(fd: RawFd, what: &str) -> anyhow::Result<OwnedFd> {
    if fd < 0 {
        return Err(errno(what));
    }
    // SAFETY: `fd` was just returned by a successful system call that creates
    // a new descriptor, so nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

// ---------------------------------------------------------------------------
// Shared memory mapped from a descriptor.

/// A `MAP_SHARED` read-write mapping of a whole descriptor.
pub(crate) struct Mapped {
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapped {
    /// Maps `len` bytes of `fd` from offset 0.
    pub(crate) fn map(fd: impl AsFd, len: usize) -> anyhow::Result<Mapped> {
        // SAFETY: a fresh mapping chosen by the kernel (addr NULL) aliases no
        // Rust object; the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_fd().as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno("mmap"));
        }
        let ptr = NonNull::new(p.cast::<u8>()).context("mmap returned NULL")?;
        Ok(Mapped { ptr, len })
    }

    /// A fresh `memfd` of `len` bytes, mapped.
    pub(crate) fn memfd(len: usize) -> anyhow::Result<(Mapped, OwnedFd)> {
        let fd = rustix::fs::memfd_create("ipcx-bench", rustix::fs::MemfdFlags::CLOEXEC)
            .context("memfd_create")?;
        rustix::fs::ftruncate(&fd, len as u64).context("ftruncate of the memfd")?;
        Ok((Mapped::map(&fd, len)?, fd))
    }

    /// The `u32` atomic at `offset` (4-byte aligned, inside the mapping).
    fn atomic(&self, offset: usize) -> &AtomicU32 {
        assert!(offset % 4 == 0 && offset + 4 <= self.len);
        // SAFETY: the offset is aligned and in bounds (checked above); the
        // mapping is page-aligned and lives as long as `self`; the other
        // process accesses this word only atomically.
        unsafe { &*self.ptr.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    fn ptr_at(&self, offset: usize) -> *mut u8 {
        assert!(offset <= self.len);
        // SAFETY: in bounds of the mapping (checked above).
        unsafe { self.ptr.as_ptr().add(offset) }
    }
}

impl Region for Mapped {
    fn write(&mut self, offset: usize, data: &[u8]) -> anyhow::Result<()> {
        assert!(offset + data.len() <= self.len);
        // SAFETY: in bounds (checked above); the handshake protocol gives this
        // side exclusive use of the buffer while it writes.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr_at(offset), data.len()) };
        Ok(())
    }

    fn read(&self, offset: usize, out: &mut [u8]) -> anyhow::Result<()> {
        assert!(offset + out.len() <= self.len);
        // SAFETY: in bounds (checked above); the protocol guarantees the
        // writer has finished and will not write again until released.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr_at(offset), out.as_mut_ptr(), out.len()) };
        Ok(())
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping this value owns; no reference
        // into it outlives `self` (all borrows are tied to `&self`).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

// ---------------------------------------------------------------------------
// Physical limits: one shared atomic, busy-wait or futex.

const DATA_OFFSET: usize = 4096;

fn turn_len(max: usize) -> usize {
    DATA_OFFSET + 2 * max.div_ceil(4096) * 4096
}

/// Ping-pong over one shared `u32`: the sender copies its message into its
/// buffer and stores the next turn number; the receiver waits until the turn
/// number is the one it expects, then copies the message out. Only valid for
/// strictly alternating traffic (the latency scenario).
pub(crate) struct TurnLink {
    map: Mapped,
    parent: bool,
    seq: u32,
    futex: bool,
    max: usize,
}

impl TurnLink {
    fn out_offset(&self) -> usize {
        DATA_OFFSET + if self.parent { 0 } else { self.max }
    }
    fn in_offset(&self) -> usize {
        DATA_OFFSET + if self.parent { self.max } else { 0 }
    }
}

impl Link for TurnLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        let off = self.out_offset();
        self.map.write(off, msg)?;
        self.seq = self.seq.wrapping_add(1);
        let turn = self.map.atomic(0);
        // Release: publishes the message bytes to the reader's Acquire load.
        turn.store(self.seq, Ordering::Release);
        if self.futex {
            rustix::thread::futex::wake(turn, rustix::thread::futex::Flags::empty(), 1)
                .context("futex(FUTEX_WAKE)")?;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let want = self.seq;
        let turn = self.map.atomic(0);
        let mut spins = 0u32;
        let mut since: Option<Instant> = None;
        loop {
            // Acquire: pairs with the writer's Release store of the turn.
            let now = turn.load(Ordering::Acquire);
            if now == want {
                break;
            }
            if self.futex {
                let timeout = rustix::time::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                };
                match rustix::thread::futex::wait(
                    turn,
                    rustix::thread::futex::Flags::empty(),
                    now,
                    Some(&timeout),
                ) {
                    Ok(())
                    | Err(rustix::io::Errno::AGAIN)
                    | Err(rustix::io::Errno::INTR)
                    | Err(rustix::io::Errno::TIMEDOUT) => {}
                    Err(e) => return Err(e).context("futex(FUTEX_WAIT)"),
                }
            } else {
                std::hint::spin_loop();
            }
            spins = spins.wrapping_add(1);
            if spins % (1 << 16) == 0 {
                let start = *since.get_or_insert_with(Instant::now);
                if start.elapsed() > PEER_SILENCE {
                    bail!("the peer stopped answering (turn {now}, expected {want})");
                }
            }
        }
        let off = self.in_offset();
        self.map.read(off, buf)?;
        Ok(())
    }
}

/// The cache-line (busy-wait) or futex ping-pong baseline.
pub(crate) struct Turn {
    pub futex: bool,
}

impl Driver for Turn {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let (map, fd) = Mapped::memfd(turn_len(max))?;
        Ok(Setup {
            params: json!({}),
            fds: vec![fd],
            finish: ready(TurnLink {
                map,
                parent: true,
                seq: 0,
                futex: self.futex,
                max,
            }),
        })
    }

    fn join(
        &self,
        _params: &serde_json::Value,
        fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let fd = take_fd(&mut fds.into_iter(), "the shared memfd")?;
        Ok(Box::new(TurnLink {
            map: Mapped::map(&fd, turn_len(max))?,
            parent: false,
            seq: 0,
            futex: self.futex,
            max,
        }))
    }
}

// ---------------------------------------------------------------------------
// Descriptor-based mechanisms: pipes, FIFOs, sockets.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Io {
    /// `read`/`write` on a byte stream.
    Stream,
    /// `send(MSG_NOSIGNAL)`/`recv` on a stream socket.
    SocketStream,
    /// `send(MSG_NOSIGNAL)`/`recv` of whole datagrams or records.
    Datagram,
}

/// A two-way link over one or two descriptors using plain libc calls.
pub(crate) struct FdLink {
    tx: OwnedFd,
    rx: Option<OwnedFd>,
    io: Io,
    _keep: Box<dyn std::any::Any>,
}

impl FdLink {
    fn rx_fd(&self) -> RawFd {
        self.rx.as_ref().unwrap_or(&self.tx).as_raw_fd()
    }
}

impl Link for FdLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        let fd = self.tx.as_raw_fd();
        let mut done = 0;
        while done < msg.len() {
            let rest = &msg[done..];
            // SAFETY: `rest` is a valid readable buffer of `rest.len()` bytes
            // and `fd` is open for the duration of the call.
            let n = unsafe {
                match self.io {
                    Io::Stream => libc::write(fd, rest.as_ptr().cast(), rest.len()),
                    _ => libc::send(fd, rest.as_ptr().cast(), rest.len(), libc::MSG_NOSIGNAL),
                }
            };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(errno("write"));
            }
            if self.io == Io::Datagram && n as usize != rest.len() {
                bail!("send: short datagram ({n} of {} bytes)", rest.len());
            }
            done += n as usize;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let fd = self.rx_fd();
        let mut done = 0;
        loop {
            let rest = &mut buf[done..];
            // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes
            // and `fd` is open for the duration of the call. Datagrams are
            // received with one spare byte of room via MSG_TRUNC's length.
            let n = unsafe {
                match self.io {
                    Io::Stream => libc::read(fd, rest.as_mut_ptr().cast(), rest.len()),
                    Io::SocketStream => libc::recv(fd, rest.as_mut_ptr().cast(), rest.len(), 0),
                    Io::Datagram => {
                        libc::recv(fd, rest.as_mut_ptr().cast(), rest.len(), libc::MSG_TRUNC)
                    }
                }
            };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(errno("read"));
            }
            if n == 0 && !buf.is_empty() {
                bail!("the peer closed its end");
            }
            if self.io == Io::Datagram {
                return expect_len("recv", n as usize, buf.len());
            }
            done += n as usize;
            if done == buf.len() {
                return Ok(());
            }
        }
    }
}

fn pipe() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(errno("pipe2"));
    }
    Ok((owned(fds[0], "pipe2")?, owned(fds[1], "pipe2")?))
}

/// Raw anonymous pipes, one per direction.
pub(crate) struct RawPipe;

impl Driver for RawPipe {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let (a_r, a_w) = pipe()?;
        let (b_r, b_w) = pipe()?;
        Ok(Setup {
            params: json!({}),
            fds: vec![a_r, b_w],
            finish: ready(FdLink {
                tx: a_w,
                rx: Some(b_r),
                io: Io::Stream,
                _keep: Box::new(()),
            }),
        })
    }

    fn join(
        &self,
        _p: &serde_json::Value,
        fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let mut fds = fds.into_iter();
        let rx = take_fd(&mut fds, "pipe read end")?;
        let tx = take_fd(&mut fds, "pipe write end")?;
        Ok(Box::new(FdLink {
            tx,
            rx: Some(rx),
            io: Io::Stream,
            _keep: Box::new(()),
        }))
    }
}

/// Removes a directory tree when dropped.
pub(crate) struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(prefix: &str) -> anyhow::Result<TempDir> {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mkfifo(path: &std::path::Path) -> anyhow::Result<()> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())?;
    // SAFETY: `c` is a NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } < 0 {
        return Err(errno("mkfifo"));
    }
    Ok(())
}

fn open(path: &str, flags: libc::c_int) -> anyhow::Result<OwnedFd> {
    let c = CString::new(path)?;
    // SAFETY: `c` is a NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOFOLLOW) };
    owned(fd, &format!("open {path}"))
}

/// Raw FIFOs, one per direction, in a private temporary directory.
pub(crate) struct RawFifo;

impl Driver for RawFifo {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let dir = TempDir::new("ipcx-bench-fifo")?;
        let a = dir.0.join("a");
        let b = dir.0.join("b");
        mkfifo(&a)?;
        mkfifo(&b)?;
        let (a, b) = (a.display().to_string(), b.display().to_string());
        Ok(Setup {
            params: json!({ "a": a, "b": b }),
            fds: vec![],
            finish: Box::new(move || {
                let tx = open(&a, libc::O_WRONLY)?;
                let rx = open(&b, libc::O_RDONLY)?;
                Ok(Box::new(FdLink {
                    tx,
                    rx: Some(rx),
                    io: Io::Stream,
                    _keep: Box::new(dir),
                }) as Box<dyn Link>)
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let rx = open(param_str(p, "a")?, libc::O_RDONLY)?;
        let tx = open(param_str(p, "b")?, libc::O_WRONLY)?;
        Ok(Box::new(FdLink {
            tx,
            rx: Some(rx),
            io: Io::Stream,
            _keep: Box::new(()),
        }))
    }
}

/// The kind of a raw Unix socket pair.
#[derive(Clone, Copy)]
pub(crate) enum UnixKind {
    Stream,
    Dgram,
    SeqPacket,
}

/// Largest Unix datagram the default send buffer takes, with headroom.
pub(crate) fn unix_dgram_limit() -> Result<(), (usize, String)> {
    let wmem = ipcx::limits::read_number(std::path::Path::new("/proc/sys/net/core/wmem_max"))
        .unwrap_or(212_992) as usize;
    Err((
        wmem.saturating_sub(1024),
        format!("limit SO_SNDBUF ≤ wmem_max = {wmem} B (/proc/sys/net/core/wmem_max)"),
    ))
}

/// Checks a Unix datagram or seqpacket size against the send buffer.
pub(crate) fn check_unix_record(size: usize) -> Result<(), String> {
    match unix_dgram_limit() {
        Err((max, why)) if size > max => Err(why),
        _ => Ok(()),
    }
}

/// Raises a socket's send and receive buffers to the system maximum (best effort).
pub(crate) fn grow_buffers(fd: impl AsFd) {
    let wmem = ipcx::limits::read_number(std::path::Path::new("/proc/sys/net/core/wmem_max"))
        .unwrap_or(212_992) as usize;
    let rmem = ipcx::limits::read_number(std::path::Path::new("/proc/sys/net/core/rmem_max"))
        .unwrap_or(212_992) as usize;
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(&fd, wmem);
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&fd, rmem);
}

/// Raw Unix socket pairs.
pub(crate) struct RawUnix(pub UnixKind);

impl Driver for RawUnix {
    fn check_size(&self, size: usize) -> Result<(), String> {
        match self.0 {
            UnixKind::Stream => Ok(()),
            _ => check_unix_record(size),
        }
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let ty = match self.0 {
            UnixKind::Stream => libc::SOCK_STREAM,
            UnixKind::Dgram => libc::SOCK_DGRAM,
            UnixKind::SeqPacket => libc::SOCK_SEQPACKET,
        };
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        if unsafe { libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) }
            < 0
        {
            return Err(errno("socketpair"));
        }
        let (a, b) = (owned(fds[0], "socketpair")?, owned(fds[1], "socketpair")?);
        grow_buffers(&a);
        grow_buffers(&b);
        let io = self.io();
        Ok(Setup {
            params: json!({}),
            fds: vec![b],
            finish: ready(FdLink {
                tx: a,
                rx: None,
                io,
                _keep: Box::new(()),
            }),
        })
    }

    fn join(
        &self,
        _p: &serde_json::Value,
        fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let tx = take_fd(&mut fds.into_iter(), "socket")?;
        Ok(Box::new(FdLink {
            tx,
            rx: None,
            io: self.io(),
            _keep: Box::new(()),
        }))
    }
}

impl RawUnix {
    fn io(&self) -> Io {
        match self.0 {
            UnixKind::Stream => Io::SocketStream,
            _ => Io::Datagram,
        }
    }
}

/// Raw TCP over loopback with `TCP_NODELAY`.
pub(crate) struct RawTcp;

impl Driver for RawTcp {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        Ok(Setup {
            params: json!({ "port": port }),
            fds: vec![],
            finish: Box::new(move || {
                let (s, _) = listener.accept().context("accept")?;
                s.set_nodelay(true)?;
                Ok(Box::new(FdLink {
                    tx: OwnedFd::from(s),
                    rx: None,
                    io: Io::SocketStream,
                    _keep: Box::new(()),
                }) as Box<dyn Link>)
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let port = param_i64(p, "port")?;
        let s = std::net::TcpStream::connect(("127.0.0.1", port as u16)).context("connect")?;
        s.set_nodelay(true)?;
        Ok(Box::new(FdLink {
            tx: OwnedFd::from(s),
            rx: None,
            io: Io::SocketStream,
            _keep: Box::new(()),
        }))
    }
}

/// Largest UDP payload over IPv4.
pub(crate) const UDP_MAX: usize = 65_507;

/// Checks a UDP payload size.
pub(crate) fn check_udp(size: usize) -> Result<(), String> {
    if size > UDP_MAX {
        Err(format!("limit {UDP_MAX} B (largest IPv4 UDP payload)"))
    } else {
        Ok(())
    }
}

/// Messages in flight before the UDP sender waits for a credit: a quarter of
/// what the receive buffer holds.
pub(crate) fn udp_window(size: usize) -> Option<u64> {
    let rmem = ipcx::limits::read_number(std::path::Path::new("/proc/sys/net/core/rmem_max"))
        .unwrap_or(212_992) as usize;
    // Each datagram costs its payload plus about 1 KiB of kernel bookkeeping.
    Some(((rmem / (size + 1024)) / 4).clamp(1, 64) as u64)
}

/// Raw UDP over loopback: two connected sockets.
pub(crate) struct RawUdp;

impl Driver for RawUdp {
    fn check_size(&self, size: usize) -> Result<(), String> {
        check_udp(size)
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let a = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let b = std::net::UdpSocket::bind("127.0.0.1:0")?;
        a.connect(b.local_addr()?)?;
        b.connect(a.local_addr()?)?;
        grow_buffers(&a);
        grow_buffers(&b);
        Ok(Setup {
            params: json!({}),
            fds: vec![OwnedFd::from(b)],
            finish: ready(FdLink {
                tx: OwnedFd::from(a),
                rx: None,
                io: Io::Datagram,
                _keep: Box::new(()),
            }),
        })
    }

    fn join(
        &self,
        _p: &serde_json::Value,
        fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let tx = take_fd(&mut fds.into_iter(), "UDP socket")?;
        Ok(Box::new(FdLink {
            tx,
            rx: None,
            io: Io::Datagram,
            _keep: Box::new(()),
        }))
    }

    fn window(&self, size: usize) -> Option<u64> {
        udp_window(size)
    }
}

// ---------------------------------------------------------------------------
// System V message queue.

/// Reads a limit as a size check.
pub(crate) fn check_proc_limit(size: usize, limit: ipcx::limits::ProcLimit) -> Result<(), String> {
    match limit.read() {
        Ok(max) if size as u64 > max => {
            Err(format!("limit {} = {max} B ({})", limit.name, limit.path))
        }
        _ => Ok(()),
    }
}

struct SysvMqOwner(libc::c_int, #[allow(dead_code)] crate::link::SysvTrack);

/// `IPC_RMID` of a System V object, ignoring errors (see
/// [`crate::link::remove_leftovers`]).
pub(crate) fn remove_sysv(kind: crate::link::SysvKind, id: libc::c_int) {
    use crate::link::SysvKind;
    // SAFETY: IPC_RMID takes no buffer.
    unsafe {
        match kind {
            SysvKind::Msg => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            SysvKind::Shm => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            SysvKind::Sem => libc::semctl(id, 0, libc::IPC_RMID),
        };
    }
}

impl Drop for SysvMqOwner {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID takes no buffer.
        unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

/// One System V queue; the parent sends type 1 and receives type 2.
pub(crate) struct SysvMqLink {
    id: libc::c_int,
    parent: bool,
    buf: Vec<u8>,
    _owner: Option<SysvMqOwner>,
}

const LONG: usize = std::mem::size_of::<libc::c_long>();

impl Link for SysvMqLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        let mtype: libc::c_long = if self.parent { 1 } else { 2 };
        self.buf[..LONG].copy_from_slice(&mtype.to_ne_bytes());
        self.buf[LONG..LONG + msg.len()].copy_from_slice(msg);
        loop {
            // SAFETY: `buf` starts with a c_long type followed by at least
            // `msg.len()` bytes of body, as msgsnd requires.
            let r = unsafe { libc::msgsnd(self.id, self.buf.as_ptr().cast(), msg.len(), 0) };
            if r == 0 {
                return Ok(());
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(errno("msgsnd"));
            }
        }
    }

    fn recv(&mut self, out: &mut [u8]) -> anyhow::Result<()> {
        let mtype: libc::c_long = if self.parent { 2 } else { 1 };
        let room = self.buf.len() - LONG;
        loop {
            // SAFETY: `buf` holds a c_long followed by `room` bytes.
            let n = unsafe { libc::msgrcv(self.id, self.buf.as_mut_ptr().cast(), room, mtype, 0) };
            if n >= 0 {
                expect_len("msgrcv", n as usize, out.len())?;
                out.copy_from_slice(&self.buf[LONG..LONG + out.len()]);
                return Ok(());
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(errno("msgrcv"));
            }
        }
    }
}

/// Raw System V message queue.
pub(crate) struct RawSysvMq;

impl Driver for RawSysvMq {
    fn check_size(&self, size: usize) -> Result<(), String> {
        check_proc_limit(size, ipcx::limits::MSGMAX)
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        // SAFETY: msgget takes no pointers.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
        if id < 0 {
            return Err(errno("msgget"));
        }
        Ok(Setup {
            params: json!({ "id": id }),
            fds: vec![],
            finish: ready(SysvMqLink {
                id,
                parent: true,
                buf: vec![0; LONG + max],
                _owner: Some(SysvMqOwner(
                    id,
                    crate::link::SysvTrack::new(crate::link::SysvKind::Msg, id),
                )),
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        Ok(Box::new(SysvMqLink {
            id: param_i64(p, "id")? as libc::c_int,
            parent: false,
            buf: vec![0; LONG + max],
            _owner: None,
        }))
    }
}

// ---------------------------------------------------------------------------
// POSIX message queues.

struct Mqd {
    mqd: libc::mqd_t,
    unlink: Option<CString>,
}

impl Mqd {
    fn open(name: &str, create: Option<(i64, i64)>) -> anyhow::Result<Mqd> {
        let c = CString::new(name)?;
        let mqd = match create {
            Some((maxmsg, msgsize)) => {
                // SAFETY: mq_attr is plain data; zeroed is a valid value.
                let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
                attr.mq_maxmsg = maxmsg;
                attr.mq_msgsize = msgsize;
                // SAFETY: `c` is NUL-terminated; `attr` is a valid mq_attr
                // that outlives the call.
                unsafe {
                    libc::mq_open(
                        c.as_ptr(),
                        libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                        0o600 as libc::mode_t,
                        &mut attr as *mut libc::mq_attr,
                    )
                }
            }
            // SAFETY: `c` is NUL-terminated.
            None => unsafe { libc::mq_open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) },
        };
        if mqd < 0 {
            return Err(errno(&format!("mq_open {name}")));
        }
        Ok(Mqd {
            mqd,
            unlink: create.map(|_| c),
        })
    }
}

impl Drop for Mqd {
    fn drop(&mut self) {
        // SAFETY: closes the descriptor this value owns; unlinks the name it created.
        unsafe {
            libc::mq_close(self.mqd);
            if let Some(name) = &self.unlink {
                libc::mq_unlink(name.as_ptr());
            }
        }
    }
}

/// Two POSIX queues, one per direction.
pub(crate) struct MqLink {
    tx: Mqd,
    rx: Mqd,
    buf: Vec<u8>,
}

impl Link for MqLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        loop {
            // SAFETY: `msg` is a readable buffer of `msg.len()` bytes.
            let r = unsafe { libc::mq_send(self.tx.mqd, msg.as_ptr().cast(), msg.len(), 0) };
            if r == 0 {
                return Ok(());
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(errno("mq_send"));
            }
        }
    }

    fn recv(&mut self, out: &mut [u8]) -> anyhow::Result<()> {
        loop {
            // SAFETY: `buf` is writable for `buf.len()` bytes (the queue's
            // msgsize); a NULL priority pointer is allowed.
            let n = unsafe {
                libc::mq_receive(
                    self.rx.mqd,
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                expect_len("mq_receive", n as usize, out.len())?;
                out.copy_from_slice(&self.buf[..out.len()]);
                return Ok(());
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(errno("mq_receive"));
            }
        }
    }
}

/// Queue depth used by the POSIX queue scenarios (at most `msg_max`).
pub(crate) fn mq_depth() -> i64 {
    ipcx::limits::MQ_MSG_MAX.read().unwrap_or(10).min(10) as i64
}

/// Raw POSIX message queues.
pub(crate) struct RawMq;

impl Driver for RawMq {
    fn check_size(&self, size: usize) -> Result<(), String> {
        check_proc_limit(size, ipcx::limits::MQ_MSGSIZE_MAX)
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let base = format!("/{}", unique("ipcx-bench-rawmq"));
        let (a, b) = (format!("{base}-a"), format!("{base}-b"));
        let tx = Mqd::open(&a, Some((mq_depth(), max as i64)))?;
        let rx = Mqd::open(&b, Some((mq_depth(), max as i64)))?;
        Ok(Setup {
            params: json!({ "a": a, "b": b }),
            fds: vec![],
            finish: ready(MqLink {
                tx,
                rx,
                buf: vec![0; max],
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let rx = Mqd::open(param_str(p, "a")?, None)?;
        let tx = Mqd::open(param_str(p, "b")?, None)?;
        Ok(Box::new(MqLink {
            tx,
            rx,
            buf: vec![0; max],
        }))
    }
}

// ---------------------------------------------------------------------------
// System V shared memory with System V semaphores.

struct SysvShm {
    ptr: NonNull<u8>,
    len: usize,
    owner: Option<(libc::c_int, libc::c_int)>,
}

impl Region for SysvShm {
    fn write(&mut self, offset: usize, data: &[u8]) -> anyhow::Result<()> {
        assert!(offset + data.len() <= self.len);
        // SAFETY: in bounds of the attached segment (checked); the handshake
        // gives this side exclusive use of the buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len())
        }
        Ok(())
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> anyhow::Result<()> {
        assert!(offset + out.len() <= self.len);
        // SAFETY: as in `write`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.ptr.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            )
        }
        Ok(())
    }
}

impl Drop for SysvShm {
    fn drop(&mut self) {
        // SAFETY: detaches the segment this value attached; removes the
        // segment and semaphore set it created (IPC_RMID takes no buffer).
        unsafe {
            libc::shmdt(self.ptr.as_ptr().cast());
            if let Some((shm, sem)) = self.owner {
                libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut());
                libc::semctl(sem, 0, libc::IPC_RMID);
            }
        }
    }
}

fn shmat(
    id: libc::c_int,
    len: usize,
    owner: Option<(libc::c_int, libc::c_int)>,
) -> anyhow::Result<SysvShm> {
    // SAFETY: attach at an address the kernel chooses; checked against -1.
    let p = unsafe { libc::shmat(id, std::ptr::null(), 0) };
    if p as isize == -1 {
        return Err(errno("shmat"));
    }
    Ok(SysvShm {
        ptr: NonNull::new(p.cast()).context("shmat returned NULL")?,
        len,
        owner,
    })
}

struct SysvSems(libc::c_int);

impl Sems for SysvSems {
    fn wait(&mut self, i: usize) -> anyhow::Result<()> {
        self.op(i, -1)
    }
    fn post(&mut self, i: usize) -> anyhow::Result<()> {
        self.op(i, 1)
    }
}

impl SysvSems {
    fn op(&self, i: usize, delta: libc::c_short) -> anyhow::Result<()> {
        let mut op = libc::sembuf {
            sem_num: i as libc::c_ushort,
            sem_op: delta,
            sem_flg: 0,
        };
        loop {
            // SAFETY: `op` is one valid sembuf.
            if unsafe { libc::semop(self.0, &mut op, 1) } == 0 {
                return Ok(());
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(errno("semop"));
            }
        }
    }
}

/// Raw System V shared memory plus a System V semaphore set.
pub(crate) struct RawSysvShm;

impl Driver for RawSysvShm {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let len = 2 * max;
        // SAFETY: shmget and semget take no pointers.
        let shm = unsafe { libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600) };
        if shm < 0 {
            return Err(errno("shmget"));
        }
        // SAFETY: as above.
        let sem = unsafe { libc::semget(libc::IPC_PRIVATE, 4, libc::IPC_CREAT | 0o600) };
        if sem < 0 {
            let e = errno("semget");
            // SAFETY: IPC_RMID takes no buffer.
            unsafe { libc::shmctl(shm, libc::IPC_RMID, std::ptr::null_mut()) };
            return Err(e);
        }
        let track = (
            crate::link::SysvTrack::new(crate::link::SysvKind::Shm, shm),
            crate::link::SysvTrack::new(crate::link::SysvKind::Sem, sem),
        );
        let region = shmat(shm, len, Some((shm, sem)))?;
        for (i, v) in handshake::INITIAL.iter().enumerate() {
            // SAFETY: SETVAL takes an int (the `val` member of union semun).
            if unsafe { libc::semctl(sem, i as libc::c_int, libc::SETVAL, *v as libc::c_int) } < 0 {
                return Err(errno("semctl SETVAL"));
            }
        }
        Ok(Setup {
            params: json!({ "shm": shm, "sem": sem }),
            fds: vec![],
            finish: ready(ShmSem {
                region,
                sems: SysvSems(sem),
                parent: true,
                base: 0,
                max,
                _keep: Box::new(track),
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let shm = param_i64(p, "shm")? as libc::c_int;
        let sem = param_i64(p, "sem")? as libc::c_int;
        Ok(Box::new(ShmSem {
            region: shmat(shm, 2 * max, None)?,
            sems: SysvSems(sem),
            parent: false,
            base: 0,
            max,
            _keep: Box::new(()),
        }))
    }
}

// ---------------------------------------------------------------------------
// POSIX shared memory with unnamed process-shared POSIX semaphores inside it.

const SEM_STRIDE: usize = 64;

struct PosixSems<'a> {
    map: &'a Mapped,
}

struct PosixShmSems {
    map: std::rc::Rc<Mapped>,
}

impl Sems for PosixShmSems {
    fn wait(&mut self, i: usize) -> anyhow::Result<()> {
        let s = PosixSems { map: &self.map }.sem(i);
        loop {
            // SAFETY: `s` points at a sem_t initialised by sem_init(pshared=1)
            // inside the live mapping.
            if unsafe { libc::sem_wait(s) } == 0 {
                return Ok(());
            }
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return Err(errno("sem_wait"));
            }
        }
    }
    fn post(&mut self, i: usize) -> anyhow::Result<()> {
        let s = PosixSems { map: &self.map }.sem(i);
        // SAFETY: as in `wait`.
        if unsafe { libc::sem_post(s) } < 0 {
            return Err(errno("sem_post"));
        }
        Ok(())
    }
}

impl PosixSems<'_> {
    fn sem(&self, i: usize) -> *mut libc::sem_t {
        self.map.ptr_at(i * SEM_STRIDE).cast()
    }
}

/// The mapping (kept alive by the `Rc`), its base pointer and length.
struct RcRegion(#[allow(dead_code)] std::rc::Rc<Mapped>, *mut u8, usize);

impl Region for RcRegion {
    fn write(&mut self, offset: usize, data: &[u8]) -> anyhow::Result<()> {
        assert!(offset + data.len() <= self.2);
        // SAFETY: in bounds of the live mapping (`self.0` keeps it alive);
        // the handshake gives this side exclusive use of the buffer.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.1.add(offset), data.len()) };
        Ok(())
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> anyhow::Result<()> {
        assert!(offset + out.len() <= self.2);
        // SAFETY: as in `write`.
        unsafe { std::ptr::copy_nonoverlapping(self.1.add(offset), out.as_mut_ptr(), out.len()) };
        Ok(())
    }
}

struct ShmName(CString);

impl Drop for ShmName {
    fn drop(&mut self) {
        // SAFETY: NUL-terminated name of the object this value created.
        unsafe { libc::shm_unlink(self.0.as_ptr()) };
    }
}

fn posix_shm_link(
    map: Mapped,
    parent: bool,
    max: usize,
    keep: Box<dyn std::any::Any>,
) -> Box<dyn Link> {
    let map = std::rc::Rc::new(map);
    let (ptr, len) = (map.ptr.as_ptr(), map.len);
    Box::new(ShmSem {
        region: RcRegion(map.clone(), ptr, len),
        sems: PosixShmSems { map },
        parent,
        base: DATA_OFFSET,
        max,
        _keep: keep,
    })
}

/// Raw POSIX shared memory with POSIX semaphores.
pub(crate) struct RawPosixShm;

impl Driver for RawPosixShm {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let name = format!("/{}", unique("ipcx-bench-rawshm"));
        let c = CString::new(name.clone())?;
        // SAFETY: `c` is NUL-terminated.
        let fd = unsafe {
            libc::shm_open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o600,
            )
        };
        let fd = owned(fd, "shm_open")?;
        let guard = ShmName(c);
        let len = DATA_OFFSET + 2 * max;
        rustix::fs::ftruncate(&fd, len as u64).context("ftruncate")?;
        let map = Mapped::map(&fd, len)?;
        for (i, v) in handshake::INITIAL.iter().enumerate() {
            let s = PosixSems { map: &map }.sem(i);
            // SAFETY: `s` is inside the mapping with room for a sem_t (64-byte
            // stride) and is initialised once, before the child maps it.
            if unsafe { libc::sem_init(s, 1, *v) } < 0 {
                return Err(errno("sem_init"));
            }
        }
        Ok(Setup {
            params: json!({ "name": name }),
            fds: vec![],
            finish: Box::new(move || Ok(posix_shm_link(map, true, max, Box::new(guard)))),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let c = CString::new(param_str(p, "name")?)?;
        // SAFETY: `c` is NUL-terminated.
        let fd = unsafe {
            libc::shm_open(
                c.as_ptr(),
                libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0,
            )
        };
        let fd = owned(fd, "shm_open")?;
        let map = Mapped::map(&fd, DATA_OFFSET + 2 * max)?;
        Ok(posix_shm_link(map, false, max, Box::new(())))
    }
}
