//! The ipcx mechanisms, each driven through its public API the way a user
//! would: one process creates (and owns) the objects, the other opens them.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use ipcx::key::Key;
use serde_json::json;

use crate::handshake::{self, Region, Sems, ShmSem};
use crate::link::{expect_len, param_i64, param_str, ready, take_fd, unique, Driver, Link, Setup};
use crate::raw;

/// How long a side waits for its peer to open its end.
const OPEN_TIMEOUT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Byte streams: pipes, FIFOs, Unix and TCP streams.

/// A link over a byte stream (or a pair of one-way streams): `write_all`
/// and `read_exact`.
struct IoLink<R, W> {
    rx: R,
    tx: W,
    _keep: Box<dyn std::any::Any>,
}

impl<R: Read, W: Write> Link for IoLink<R, W> {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        self.tx.write_all(msg)?;
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        self.rx.read_exact(buf)?;
        Ok(())
    }
}

/// `ipcx::pipe`: one anonymous pipe per direction, the child's ends passed
/// over the control socket.
pub(crate) struct Pipe;

impl Driver for Pipe {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let (a_r, a_w) = ipcx::pipe::pipe()?;
        let (b_r, b_w) = ipcx::pipe::pipe()?;
        Ok(Setup {
            params: json!({}),
            fds: vec![OwnedFd::from(a_r), OwnedFd::from(b_w)],
            finish: ready(IoLink {
                rx: b_r,
                tx: a_w,
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
        let rx = ipcx::pipe::PipeReader::from(take_fd(&mut fds, "pipe read end")?);
        let tx = ipcx::pipe::PipeWriter::from(take_fd(&mut fds, "pipe write end")?);
        Ok(Box::new(IoLink {
            rx,
            tx,
            _keep: Box::new(()),
        }))
    }
}

/// `ipcx::fifo`: two FIFOs in a private directory, created (and removed) by
/// the parent.
pub(crate) struct Fifo;

impl Driver for Fifo {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let dir = raw::TempDir::new("ipcx-bench-fifo")?;
        let a = ipcx::fifo::Fifo::builder(dir.0.join("a")).create()?;
        let b = ipcx::fifo::Fifo::builder(dir.0.join("b")).create()?;
        let params = json!({
            "a": a.path().display().to_string(),
            "b": b.path().display().to_string(),
        });
        Ok(Setup {
            params,
            fds: vec![],
            finish: Box::new(move || {
                // The writer's open waits for the child's reader; the reader
                // opens at once (a blocking reader open would wait for data).
                let tx = a.open_writer(Some(OPEN_TIMEOUT))?;
                let rx = ipcx::fifo::FifoReader::try_open(b.path())?;
                Ok(Box::new(IoLink {
                    rx,
                    tx,
                    _keep: Box::new((a, b, dir)),
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
        let rx = ipcx::fifo::FifoReader::try_open(param_str(p, "a")?)?;
        let tx = ipcx::fifo::FifoWriter::open(param_str(p, "b")?, Some(OPEN_TIMEOUT))?;
        Ok(Box::new(IoLink {
            rx,
            tx,
            _keep: Box::new(()),
        }))
    }
}

/// A Unix stream address unique to this run, in the abstract namespace.
fn abstract_addr(prefix: &str) -> anyhow::Result<(String, ipcx::socket::addr::UnixAddr)> {
    let name = unique(prefix);
    let addr = ipcx::socket::addr::UnixAddr::new_abstract_name(&name)?;
    Ok((name, addr))
}

/// `ipcx::socket::unix::UnixStream` through a listener and `connect`.
pub(crate) struct UnixStream;

/// One shared stream used as a reader and a writer at once (the two sides
/// of a ping-pong hold clones of the same `Arc`).
struct ArcIo<T>(Arc<T>);

impl<T> Read for ArcIo<T>
where
    for<'a> &'a T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl<T> Write for ArcIo<T>
where
    for<'a> &'a T: Write,
{
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn unix_stream_link(
    s: ipcx::socket::unix::UnixStream,
    keep: Box<dyn std::any::Any>,
) -> Box<dyn Link> {
    raw::grow_buffers(&s);
    let s = Arc::new(s);
    Box::new(IoLink {
        rx: ArcIo(s.clone()),
        tx: ArcIo(s),
        _keep: keep,
    })
}

impl Driver for UnixStream {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let (name, addr) = abstract_addr("ipcx-bench-unix")?;
        let listener = ipcx::socket::unix::UnixListener::bind(&addr)?;
        Ok(Setup {
            params: json!({ "name": name }),
            fds: vec![],
            finish: Box::new(move || {
                let s = listener.accept_timeout(OPEN_TIMEOUT)?;
                Ok(unix_stream_link(s, Box::new(listener)))
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let addr = ipcx::socket::addr::UnixAddr::new_abstract_name(param_str(p, "name")?)?;
        let s = ipcx::socket::unix::UnixStream::connect(&addr)?;
        Ok(unix_stream_link(s, Box::new(())))
    }
}

/// `ipcx::socket::unix::UnixSeqPacket` through a listener and `connect`.
pub(crate) struct UnixSeqPacket;

/// The connection and what must outlive it (the listener).
struct SeqPacketLink(
    ipcx::socket::unix::UnixSeqPacket,
    #[allow(dead_code)] Box<dyn std::any::Any>,
);

impl Link for SeqPacketLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        Ok(self.0.send(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        match self.0.recv(buf)? {
            Some(n) => expect_len("seqpacket recv", n, buf.len()),
            None => bail!("the peer closed the connection"),
        }
    }
}

impl Driver for UnixSeqPacket {
    fn check_size(&self, size: usize) -> Result<(), String> {
        raw::check_unix_record(size)
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let (name, addr) = abstract_addr("ipcx-bench-seqpacket")?;
        let listener = ipcx::socket::unix::UnixSeqPacketListener::bind(&addr)?;
        Ok(Setup {
            params: json!({ "name": name }),
            fds: vec![],
            finish: Box::new(move || {
                let s = listener.accept_timeout(OPEN_TIMEOUT)?;
                raw::grow_buffers(&s);
                Ok(Box::new(SeqPacketLink(s, Box::new(listener))) as Box<dyn Link>)
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let addr = ipcx::socket::addr::UnixAddr::new_abstract_name(param_str(p, "name")?)?;
        let s = ipcx::socket::unix::UnixSeqPacket::connect(&addr)?;
        raw::grow_buffers(&s);
        Ok(Box::new(SeqPacketLink(s, Box::new(()))))
    }
}

/// `ipcx::socket::unix::UnixDatagram`: each side binds an abstract address
/// and connects to the other's (the child announces its address with a
/// first datagram).
pub(crate) struct UnixDatagram;

struct DgramLink(ipcx::socket::unix::UnixDatagram);

impl Link for DgramLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        Ok(self.0.send(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let n = self.0.recv(buf)?;
        expect_len("datagram recv", n, buf.len())
    }
}

impl Driver for UnixDatagram {
    fn check_size(&self, size: usize) -> Result<(), String> {
        raw::check_unix_record(size)
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let (name, addr) = abstract_addr("ipcx-bench-dgram")?;
        let sock = ipcx::socket::unix::UnixDatagram::bind(&addr)?;
        raw::grow_buffers(&sock);
        Ok(Setup {
            params: json!({ "name": name }),
            fds: vec![],
            finish: Box::new(move || {
                let mut hello = [0u8; 1];
                let (_, from) = sock.recv_from_timeout(&mut hello, OPEN_TIMEOUT)?;
                let from = from.context("the bench peer's datagram socket has no address")?;
                sock.connect(&from)?;
                Ok(Box::new(DgramLink(sock)) as Box<dyn Link>)
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let parent = ipcx::socket::addr::UnixAddr::new_abstract_name(param_str(p, "name")?)?;
        let (_, mine) = abstract_addr("ipcx-bench-dgram-peer")?;
        let sock = ipcx::socket::unix::UnixDatagram::bind(&mine)?;
        raw::grow_buffers(&sock);
        sock.connect(&parent)?;
        sock.send(&[0])?;
        Ok(Box::new(DgramLink(sock)))
    }
}

/// `ipcx::socket::tcp` over loopback (`TCP_NODELAY` is ipcx's default).
pub(crate) struct Tcp;

fn tcp_link(s: ipcx::socket::tcp::TcpStream, keep: Box<dyn std::any::Any>) -> Box<dyn Link> {
    let s = Arc::new(s);
    Box::new(IoLink {
        rx: ArcIo(s.clone()),
        tx: ArcIo(s),
        _keep: keep,
    })
}

impl Driver for Tcp {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let listener = ipcx::socket::tcp::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr().port();
        Ok(Setup {
            params: json!({ "port": port }),
            fds: vec![],
            finish: Box::new(move || {
                let s = listener.accept_timeout(OPEN_TIMEOUT)?;
                Ok(tcp_link(s, Box::new(listener)))
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let port = param_i64(p, "port")? as u16;
        let s = ipcx::socket::tcp::TcpStream::connect(("127.0.0.1", port))?;
        Ok(tcp_link(s, Box::new(())))
    }
}

/// `ipcx::socket::udp` over loopback, both sockets connected; the child
/// announces its address with a first datagram.
pub(crate) struct Udp;

struct UdpLink(ipcx::socket::udp::UdpSocket);

impl Link for UdpLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        Ok(self.0.send(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let (n, _) = self.0.recv_from(buf)?;
        expect_len("UDP recv", n, buf.len())
    }
}

impl Driver for Udp {
    fn check_size(&self, size: usize) -> Result<(), String> {
        raw::check_udp(size)
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let mut sock = ipcx::socket::udp::UdpSocket::bind("127.0.0.1:0")?;
        raw::grow_buffers(&sock);
        let port = sock.local_addr().port();
        Ok(Setup {
            params: json!({ "port": port }),
            fds: vec![],
            finish: Box::new(move || {
                let mut hello = [0u8; 1];
                let (_, from) = sock.recv_from_timeout(&mut hello, OPEN_TIMEOUT)?;
                sock.connect(from)?;
                Ok(Box::new(UdpLink(sock)) as Box<dyn Link>)
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let port = param_i64(p, "port")? as u16;
        let sock = ipcx::socket::udp::UdpSocket::connect_to(("127.0.0.1", port))?;
        raw::grow_buffers(&sock);
        // Announce this socket's address (loopback does not drop it: the
        // parent's receive buffer is empty).
        sock.send(&[0])?;
        Ok(Box::new(UdpLink(sock)))
    }

    fn window(&self, size: usize) -> Option<u64> {
        raw::udp_window(size)
    }
}

// ---------------------------------------------------------------------------
// Message queues.

/// `ipcx::mq::sysv`: one private queue; type 1 goes to the child, type 2 to
/// the parent.
pub(crate) struct SysvMq;

struct SysvMqLink {
    q: ipcx::mq::sysv::MessageQueue,
    parent: bool,
    /// Lists the parent's queue for removal on Ctrl-C.
    _track: Option<crate::link::SysvTrack>,
}

impl Link for SysvMqLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        Ok(self.q.send(if self.parent { 1 } else { 2 }, msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let t = if self.parent { 2 } else { 1 };
        let r = self.q.recv(ipcx::mq::sysv::TypeSelector::Exactly(t), buf)?;
        expect_len("msgrcv", r.len, buf.len())
    }
}

impl Driver for SysvMq {
    fn check_size(&self, size: usize) -> Result<(), String> {
        raw::check_proc_limit(size, ipcx::limits::MSGMAX)
    }

    fn create(&self, _max: usize) -> anyhow::Result<Setup> {
        let q = ipcx::mq::sysv::MessageQueue::builder(Key::PRIVATE).create()?;
        let track = crate::link::SysvTrack::new(crate::link::SysvKind::Msg, q.id());
        Ok(Setup {
            params: json!({ "id": q.id() }),
            fds: vec![],
            finish: ready(SysvMqLink {
                q,
                parent: true,
                _track: Some(track),
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let q = ipcx::mq::sysv::MessageQueue::open_id(param_i64(p, "id")? as i32)?;
        Ok(Box::new(SysvMqLink {
            q,
            parent: false,
            _track: None,
        }))
    }
}

/// `ipcx::mq::posix`: two named queues, one per direction.
pub(crate) struct PosixMq;

struct PosixMqLink {
    tx: ipcx::mq::posix::MessageQueue,
    rx: ipcx::mq::posix::MessageQueue,
    buf: Vec<u8>,
}

impl Link for PosixMqLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        Ok(self.tx.send(msg, 0)?)
    }
    fn recv(&mut self, out: &mut [u8]) -> anyhow::Result<()> {
        let (n, _) = self.rx.recv(&mut self.buf)?;
        expect_len("mq_receive", n, out.len())?;
        out.copy_from_slice(&self.buf[..n]);
        Ok(())
    }
}

impl Driver for PosixMq {
    fn check_size(&self, size: usize) -> Result<(), String> {
        raw::check_proc_limit(size, ipcx::limits::MQ_MSGSIZE_MAX)
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let base = format!("/{}", unique("ipcx-bench-mq"));
        let (a, b) = (format!("{base}-a"), format!("{base}-b"));
        let depth = raw::mq_depth() as u64;
        let make = |name: &str| {
            ipcx::mq::posix::MessageQueue::builder(name)
                .capacity(depth)
                .msgsize(max as u64)
                .create()
        };
        let tx = make(&a)?;
        let rx = make(&b)?;
        Ok(Setup {
            params: json!({ "a": a, "b": b }),
            fds: vec![],
            finish: ready(PosixMqLink {
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
        let rx = ipcx::mq::posix::MessageQueue::builder(param_str(p, "a")?).open()?;
        let tx = ipcx::mq::posix::MessageQueue::builder(param_str(p, "b")?).open()?;
        Ok(Box::new(PosixMqLink {
            tx,
            rx,
            buf: vec![0; max],
        }))
    }
}

// ---------------------------------------------------------------------------
// Shared memory with a semaphore handshake.

struct ShmRegion<M>(M);

impl<M: ipcx::shm::SharedMemory> Region for ShmRegion<M> {
    fn write(&mut self, offset: usize, data: &[u8]) -> anyhow::Result<()> {
        Ok(self.0.write_bytes(offset, data)?)
    }
    fn read(&self, offset: usize, out: &mut [u8]) -> anyhow::Result<()> {
        Ok(self.0.read_bytes(offset, out)?)
    }
}

/// `ipcx::shm::sysv` plus an `ipcx::sem::sysv` set of four semaphores.
pub(crate) struct SysvShm;

struct SysvSems(ipcx::sem::sysv::SemaphoreSet);

impl Sems for SysvSems {
    fn wait(&mut self, i: usize) -> anyhow::Result<()> {
        // Without SEM_UNDO: one side posts what the other takes, so undo
        // adjustments would only pile up.
        Ok(self
            .0
            .op(&[ipcx::sem::sysv::SemOp::wait(i as u16).no_undo()])?)
    }
    fn post(&mut self, i: usize) -> anyhow::Result<()> {
        Ok(self
            .0
            .op(&[ipcx::sem::sysv::SemOp::post(i as u16).no_undo()])?)
    }
}

impl Driver for SysvShm {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let seg = ipcx::shm::sysv::Segment::builder(Key::PRIVATE)
            .size(2 * max)
            .create()?;
        let values: Vec<i32> = handshake::INITIAL.iter().map(|&v| v as i32).collect();
        let sems = ipcx::sem::sysv::SemaphoreSet::builder(Key::PRIVATE)
            .count(4)
            .values(&values)
            .create()?;
        let params = json!({ "shm": seg.id(), "sem": sems.id() });
        let track = (
            crate::link::SysvTrack::new(crate::link::SysvKind::Shm, seg.id()),
            crate::link::SysvTrack::new(crate::link::SysvKind::Sem, sems.id()),
        );
        Ok(Setup {
            params,
            fds: vec![],
            finish: ready(ShmSem {
                region: ShmRegion(seg),
                sems: SysvSems(sems),
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
        let seg =
            ipcx::shm::sysv::Segment::attach_id(param_i64(p, "shm")? as i32, Some(2 * max), false)?;
        let sems = ipcx::sem::sysv::SemaphoreSet::open_id(param_i64(p, "sem")? as i32)?;
        Ok(Box::new(ShmSem {
            region: ShmRegion(seg),
            sems: SysvSems(sems),
            parent: false,
            base: 0,
            max,
            _keep: Box::new(()),
        }))
    }
}

/// `ipcx::shm::posix` with four unnamed process-shared POSIX semaphores
/// (`ipcx::sem::posix::UnnamedSemaphore`) at the start of the segment.
pub(crate) struct PosixShm;

type Seg = Arc<ipcx::shm::posix::Segment>;

struct PosixSems(Vec<ipcx::sem::posix::UnnamedSemaphore<Seg>>);

impl Sems for PosixSems {
    fn wait(&mut self, i: usize) -> anyhow::Result<()> {
        Ok(self.0[i].wait()?)
    }
    fn post(&mut self, i: usize) -> anyhow::Result<()> {
        Ok(self.0[i].post()?)
    }
}

const SEM_AREA: usize = 4096;

fn sem_offset(i: usize) -> usize {
    i * 64
}

impl Driver for PosixShm {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let name = format!("/{}", unique("ipcx-bench-shm"));
        let seg: Seg = Arc::new(
            ipcx::shm::posix::Segment::builder(&name)
                .size(SEM_AREA + 2 * max)
                .create()?,
        );
        let sems = handshake::INITIAL
            .iter()
            .enumerate()
            .map(|(i, &v)| ipcx::sem::posix::UnnamedSemaphore::init(seg.clone(), sem_offset(i), v))
            .collect::<ipcx::Result<Vec<_>>>()?;
        Ok(Setup {
            params: json!({ "name": name }),
            fds: vec![],
            finish: ready(ShmSem {
                region: ShmRegion(seg),
                sems: PosixSems(sems),
                parent: true,
                base: SEM_AREA,
                max,
                _keep: Box::new(()),
            }),
        })
    }

    fn join(
        &self,
        p: &serde_json::Value,
        _fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let seg: Seg = Arc::new(ipcx::shm::posix::Segment::builder(param_str(p, "name")?).open()?);
        let sems = (0..4)
            .map(|i| ipcx::sem::posix::UnnamedSemaphore::open(seg.clone(), sem_offset(i)))
            .collect::<ipcx::Result<Vec<_>>>()?;
        Ok(Box::new(ShmSem {
            region: ShmRegion(seg),
            sems: PosixSems(sems),
            parent: false,
            base: SEM_AREA,
            max,
            _keep: Box::new(()),
        }))
    }
}

// ---------------------------------------------------------------------------
// The ipcx ring and the typed channel over it.

/// Ring capacity for records of up to `max` bytes (a record holds at most
/// half the capacity less 8 bytes), at least the default 64 KiB.
fn ring_capacity(max: usize) -> usize {
    (2 * max + 16)
        .next_power_of_two()
        .max(ipcx::ring::DEFAULT_CAPACITY)
}

/// Two anonymous rings (memfd), one per direction; the child's descriptors
/// are passed over the control socket.
fn ring_pair(max: usize) -> anyhow::Result<(ipcx::ring::Ring, ipcx::ring::Ring, Vec<OwnedFd>)> {
    let a = ipcx::ring::Ring::anonymous(ring_capacity(max))?;
    let b = ipcx::ring::Ring::anonymous(ring_capacity(max))?;
    let fds = vec![
        a.as_fd()
            .context("anonymous ring without a descriptor")?
            .try_clone_to_owned()?,
        b.as_fd()
            .context("anonymous ring without a descriptor")?
            .try_clone_to_owned()?,
    ];
    Ok((a, b, fds))
}

/// `ipcx::ring` Producer/Consumer with one wait strategy. Receives through
/// the borrowed (zero-copy) record, copied into the caller's buffer.
pub(crate) struct RingDriver(pub ipcx::ring::WaitStrategy);

struct RingLink {
    tx: ipcx::ring::Producer,
    rx: ipcx::ring::Consumer,
}

impl Link for RingLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        Ok(self.tx.send(msg)?)
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let rec = self.rx.recv_borrowed()?;
        expect_len("ring recv", rec.len(), buf.len())?;
        buf.copy_from_slice(&rec);
        Ok(())
    }
}

fn ring_ends(
    tx_ring: &ipcx::ring::Ring,
    rx_ring: &ipcx::ring::Ring,
    wait: ipcx::ring::WaitStrategy,
) -> anyhow::Result<(ipcx::ring::Producer, ipcx::ring::Consumer)> {
    let mut tx = tx_ring.producer()?;
    let mut rx = rx_ring.consumer()?;
    tx.set_wait_strategy(wait);
    rx.set_wait_strategy(wait);
    Ok((tx, rx))
}

fn child_rings(fds: Vec<OwnedFd>) -> anyhow::Result<(ipcx::ring::Ring, ipcx::ring::Ring)> {
    let mut fds = fds.into_iter();
    let a = ipcx::ring::Ring::from_fd(take_fd(&mut fds, "ring a")?)?;
    let b = ipcx::ring::Ring::from_fd(take_fd(&mut fds, "ring b")?)?;
    Ok((a, b))
}

impl Driver for RingDriver {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        let (a, b, fds) = ring_pair(max)?;
        let (tx, rx) = ring_ends(&a, &b, self.0)?;
        Ok(Setup {
            params: json!({}),
            fds,
            finish: ready(RingLink { tx, rx }),
        })
    }

    fn join(
        &self,
        _p: &serde_json::Value,
        fds: Vec<OwnedFd>,
        _max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let (a, b) = child_rings(fds)?;
        let (tx, rx) = ring_ends(&b, &a, self.0)?;
        Ok(Box::new(RingLink { tx, rx }))
    }
}

/// A message of the typed-channel scenario on the sending side: the bytes,
/// encoded as one postcard byte string. Shared so that sending allocates
/// nothing (the channel drops its clone once encoded).
struct OutBytes(Arc<Vec<u8>>);

impl serde::Serialize for OutBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// The receiving side's message: an owned byte string.
struct InBytes(Vec<u8>);

impl<'de> serde::Deserialize<'de> for InBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = InBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<InBytes, E> {
                Ok(InBytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<InBytes, E> {
                Ok(InBytes(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// `ipcx::channel::{Sender, Receiver}` of byte strings over two rings with
/// the default (adaptive) wait strategy.
pub(crate) struct Channel;

struct ChannelLink {
    tx: ipcx::channel::Sender<OutBytes>,
    rx: ipcx::channel::Receiver<InBytes>,
    out: Arc<Vec<u8>>,
}

impl ChannelLink {
    fn new(tx: ipcx::ring::Producer, rx: ipcx::ring::Consumer, max: usize) -> ChannelLink {
        ChannelLink {
            tx: ipcx::channel::Sender::from_producer(tx),
            rx: ipcx::channel::Receiver::from_consumer(rx),
            out: Arc::new(Vec::with_capacity(max)),
        }
    }
}

impl Link for ChannelLink {
    fn send(&mut self, msg: &[u8]) -> anyhow::Result<()> {
        let out = Arc::get_mut(&mut self.out).context("the last message is still held")?;
        out.clear();
        out.extend_from_slice(msg);
        self.tx
            .send(OutBytes(self.out.clone()))
            .map_err(|e| anyhow::anyhow!("channel send: {e}"))
    }
    fn recv(&mut self, buf: &mut [u8]) -> anyhow::Result<()> {
        let m = self
            .rx
            .recv()
            .map_err(|e| anyhow::anyhow!("channel recv: {e}"))?;
        expect_len("channel recv", m.0.len(), buf.len())?;
        buf.copy_from_slice(&m.0);
        Ok(())
    }
}

impl Driver for Channel {
    fn check_size(&self, _size: usize) -> Result<(), String> {
        Ok(())
    }

    fn create(&self, max: usize) -> anyhow::Result<Setup> {
        // Room for the postcard length prefix.
        let (a, b, fds) = ring_pair(max + 16)?;
        let (tx, rx) = ring_ends(&a, &b, ipcx::ring::WaitStrategy::default())?;
        Ok(Setup {
            params: json!({}),
            fds,
            finish: ready(ChannelLink::new(tx, rx, max)),
        })
    }

    fn join(
        &self,
        _p: &serde_json::Value,
        fds: Vec<OwnedFd>,
        max: usize,
    ) -> anyhow::Result<Box<dyn Link>> {
        let (a, b) = child_rings(fds)?;
        let (tx, rx) = ring_ends(&b, &a, ipcx::ring::WaitStrategy::default())?;
        Ok(Box::new(ChannelLink::new(tx, rx, max)))
    }
}
