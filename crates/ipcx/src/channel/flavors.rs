//! The byte-moving flavors under [`Sender`](super::Sender) and
//! [`Receiver`](super::Receiver), other than the ring (which serialises in
//! place and lives in `mod.rs`).
//!
//! Every flavor maps the three forms of an operation onto one [`Deadline`]:
//! no deadline → the blocking call, an expired one → the non-blocking call
//! (`Full` / `Empty`), otherwise the timed call (`TimedOut`).

use std::io::Read;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::fifo::{Fifo, FifoReader, FifoWriter};
use crate::mq::posix::MessageQueue as PosixMq;
use crate::mq::sysv::{MessageQueue as SysvMq, TypeSelector};
use crate::pipe::{PipeReader, PipeWriter, PIPE_BUF};
use crate::socket::tcp::{TcpListener, TcpStream};
use crate::socket::unix::{
    UnixDatagram, UnixListener, UnixSeqPacket, UnixSeqPacketListener, UnixStream,
};

/// Largest frame on a stream socket, in bytes (16 MiB): a limit of the
/// channel's framing, not of the kernel.
pub(crate) const STREAM_FRAME_MAX: usize = 16 << 20;
pub(crate) const STREAM_FRAME_SOURCE: &str = "the channel's 16 MiB frame limit on stream sockets";

/// Receive buffer of the message-oriented sockets, in bytes: the default
/// `SO_SNDBUF` (`/proc/sys/net/core/wmem_default`), which bounds a sender's
/// datagram (senders are limited to half their `SO_SNDBUF`, see [`Tx::limit`]).
pub(crate) const DGRAM_RECV_MAX: usize = 212_992;

/// Length prefix of a frame on a byte stream.
pub(crate) const FRAME_HEADER: usize = 4;

/// First byte of a message on queues (which have no notion of a closed peer).
pub(crate) const TAG_DATA: u8 = 0;
/// A sender's goodbye on queues.
pub(crate) const TAG_CLOSE: u8 = 1;

/// The blocking, non-blocking or timed form of a call, by deadline (a macro
/// rather than [`by_deadline`] where the forms borrow the same value mutably).
macro_rules! forms {
    ($d:expr, $block:expr, $now:expr, |$t:ident| $timed:expr $(,)?) => {
        match $d.remaining() {
            None => $block,
            Some(Duration::ZERO) => $now,
            Some($t) => $timed,
        }
    };
}

/// Runs the blocking, non-blocking or timed form of a call.
fn by_deadline<R>(
    deadline: Deadline,
    block: impl FnOnce() -> Result<R>,
    now: impl FnOnce() -> Result<R>,
    timed: impl FnOnce(Duration) -> Result<R>,
) -> Result<R> {
    match deadline.remaining() {
        None => block(),
        Some(Duration::ZERO) => now(),
        Some(t) => timed(t),
    }
}

/// How an encoded message leaves: one whole message per call; nothing is
/// sent when the call fails with `Full` or `TimedOut`.
pub(crate) enum Tx {
    /// A pipe: one atomic `write(2)` of a length-prefixed frame (≤ `PIPE_BUF`).
    Pipe(PipeWriter),
    /// A FIFO: as a pipe; `_fifo` keeps a created FIFO's name until drop.
    Fifo(FifoWriter, #[allow(dead_code)] Option<Fifo>),
    /// A POSIX message queue: one message each, tagged.
    PosixMq(PosixMq, u32),
    /// A System V message queue: one message each, tagged.
    SysvMq(SysvMq, i64),
    /// A connected `SOCK_SEQPACKET` socket: one tagged message each (a tag,
    /// so that no message is empty); the limit is half of `SO_SNDBUF`.
    SeqPacket(UnixSeqPacket, usize),
    /// A connected `SOCK_DGRAM` Unix socket: one tagged datagram each, a
    /// goodbye on drop (as the queues); the limit is half of `SO_SNDBUF`.
    UnixDgram(UnixDatagram, usize),
    /// A Unix stream socket: length-prefixed frames; the `Vec` holds the
    /// unsent tail of the last frame (see [`stream_send`]).
    UnixStream(UnixStream, Vec<u8>),
    /// A TCP connection: as a Unix stream.
    Tcp(TcpStream, Vec<u8>),
}

impl Tx {
    /// Bytes before the payload that the flavor needs in the encode buffer.
    pub(crate) fn prefix(&self) -> usize {
        match self {
            Tx::Pipe(_) | Tx::Fifo(..) | Tx::UnixStream(..) | Tx::Tcp(..) => FRAME_HEADER,
            Tx::PosixMq(..) | Tx::SysvMq(..) | Tx::SeqPacket(..) | Tx::UnixDgram(..) => 1,
        }
    }

    /// Largest payload (encoded message) in bytes, and where that limit comes from.
    pub(crate) fn limit(&self) -> (usize, String) {
        match self {
            Tx::Pipe(_) | Tx::Fifo(..) => (
                PIPE_BUF - FRAME_HEADER,
                "PIPE_BUF (4096 bytes, the largest atomic pipe write) less the 4-byte frame header"
                    .into(),
            ),
            Tx::PosixMq(q, _) => (
                q.msgsize().saturating_sub(1),
                format!("the queue's mq_msgsize of {} bytes less a 1-byte tag", q.msgsize()),
            ),
            Tx::SysvMq(q, _) => (
                q.max_message_size().saturating_sub(1),
                format!(
                    "the queue's largest message of {} bytes (msg_qbytes and /proc/sys/kernel/msgmax) less a 1-byte tag",
                    q.max_message_size()
                ),
            ),
            Tx::SeqPacket(_, max) | Tx::UnixDgram(_, max) => (
                *max,
                format!(
                    "half the socket's SO_SNDBUF of {} bytes less a 1-byte tag",
                    (*max + 1) * 2
                ),
            ),
            Tx::UnixStream(..) | Tx::Tcp(..) => (STREAM_FRAME_MAX, STREAM_FRAME_SOURCE.into()),
        }
    }

    /// Sends `frame` (prefix included, already filled in by [`fill_prefix`](Self::fill_prefix)).
    pub(crate) fn send(&mut self, frame: &[u8], deadline: Deadline) -> Result<()> {
        match self {
            Tx::Pipe(w) => forms!(
                deadline,
                w.write_message(frame),
                w.try_write_message(frame),
                |t| w.write_message_timeout(frame, t),
            ),
            Tx::Fifo(w, _) => forms!(
                deadline,
                w.write_message(frame),
                match w.write_message_timeout(frame, Duration::ZERO) {
                    Err(Error::TimedOut { object, .. }) => Err(Error::Full { object }),
                    other => other,
                },
                |t| w.write_message_timeout(frame, t),
            ),
            Tx::PosixMq(q, prio) => {
                let prio = *prio;
                forms!(
                    deadline,
                    q.send(frame, prio),
                    q.try_send(frame, prio),
                    |t| q.send_timeout(frame, prio, t),
                )
            }
            Tx::SysvMq(q, mtype) => {
                let mtype = *mtype;
                forms!(
                    deadline,
                    q.send(mtype, frame),
                    q.try_send(mtype, frame),
                    |t| q.send_timeout(mtype, frame, t),
                )
                .map_err(removed_is_disconnected)
            }
            Tx::SeqPacket(s, _) => forms!(deadline, s.send(frame), s.try_send(frame), |t| s
                .send_timeout(frame, t),),
            Tx::UnixDgram(s, _) => forms!(deadline, s.send(frame), s.try_send(frame), |t| s
                .send_timeout(frame, t),),
            Tx::UnixStream(s, pending) => stream_send(frame, deadline, pending, |b| {
                forms!(deadline, s.send(b), s.try_send(b), |t| s.send_timeout(b, t))
            }),
            Tx::Tcp(s, pending) => {
                // TCP learns of a closed peer only from the reset that answers
                // data sent after the close; look for its FIN first.
                let gone =
                    crate::deadline::poll_fd(&*s, rustix::event::PollFlags::RDHUP, Deadline::now());
                if let Ok(Some(ev)) = gone {
                    use rustix::event::PollFlags as P;
                    if ev.intersects(P::RDHUP | P::HUP | P::ERR) {
                        return Err(Error::Disconnected {
                            object: format!("channel over TCP ({})", s.name()),
                            reason: "the receiver closed the connection".into(),
                        });
                    }
                }
                stream_send(frame, deadline, pending, |b| {
                    forms!(deadline, s.send(b), s.try_send(b), |t| s.send_timeout(b, t))
                })
            }
        }
    }

    /// Writes the prefix of a frame whose payload is `payload_len` bytes.
    pub(crate) fn fill_prefix(&self, frame: &mut [u8], payload_len: usize) {
        match self.prefix() {
            FRAME_HEADER => frame[..4].copy_from_slice(&(payload_len as u32).to_le_bytes()),
            1 => frame[0] = TAG_DATA,
            _ => {}
        }
    }

    /// Tells a queue's receiver that this sender is gone (best effort).
    pub(crate) fn close(&mut self) {
        let bye = [TAG_CLOSE];
        let deadline = Deadline::after(Some(Duration::from_millis(100)));
        match self {
            Tx::PosixMq(..) | Tx::SysvMq(..) | Tx::UnixDgram(..) => {
                let _ = self.send(&bye, deadline);
            }
            // Finish a started frame, so the receiver does not see half a message.
            Tx::UnixStream(s, pending) => {
                let _ = stream_send(&[], deadline, pending, |b| {
                    s.send_timeout(b, Duration::from_millis(100))
                });
            }
            Tx::Tcp(s, pending) => {
                let _ = stream_send(&[], deadline, pending, |b| {
                    s.send_timeout(b, Duration::from_millis(100))
                });
            }
            _ => {}
        }
    }
}

fn removed_is_disconnected(e: Error) -> Error {
    match e {
        Error::Removed { object, syscall } => Error::Disconnected {
            object,
            reason: format!("the queue was removed ({syscall}: EIDRM)"),
        },
        other => other,
    }
}

/// Sends a frame on a stream without ever leaving half of it behind a
/// failure: first the unsent tail of the previous frame goes (a `Full` or
/// `TimedOut` there refuses the new message, nothing of it sent), then the
/// new frame; whatever of it the socket does not take now is kept in
/// `pending` (reused, so no allocation in steady state) and the message
/// counts as sent. A frame is thus buffered in user space at most once.
fn stream_send(
    frame: &[u8],
    deadline: Deadline,
    pending: &mut Vec<u8>,
    mut send: impl FnMut(&[u8]) -> Result<usize>,
) -> Result<()> {
    let timed = deadline.remaining().is_some_and(|t| t > Duration::ZERO);
    let full_is_timeout = |e: Error| match e {
        Error::Full { object } if timed => Error::TimedOut {
            object,
            waiting_for: "room in the socket buffer".into(),
            timeout: deadline.timeout(),
        },
        other => other,
    };
    while !pending.is_empty() {
        let n = send(pending).map_err(full_is_timeout)?;
        pending.drain(..n);
    }
    if frame.is_empty() {
        return Ok(());
    }
    let n = send(frame).map_err(full_is_timeout)?;
    pending.extend_from_slice(&frame[n..]);
    Ok(())
}

/// How encoded messages arrive.
pub(crate) enum Rx {
    /// A pipe's read end, framed.
    Pipe(PipeReader, Frames),
    /// A FIFO's read end, framed; the [`Fifo`] keeps a created FIFO's name until drop.
    Fifo(FifoReader, Frames, #[allow(dead_code)] Option<Fifo>),
    /// A POSIX message queue; `bool`: the sender said goodbye.
    PosixMq(PosixMq, bool),
    /// A System V message queue (type selector); `bool`: the sender said goodbye.
    SysvMq(SysvMq, TypeSelector, bool),
    /// A `SOCK_SEQPACKET` listener, accepted on first use.
    SeqPacket(Lazy<UnixSeqPacketListener, UnixSeqPacket>),
    /// A bound `SOCK_DGRAM` Unix socket; `bool`: the sender said goodbye.
    UnixDgram(UnixDatagram, bool),
    /// A Unix stream listener, accepted on first use; framed.
    UnixStream(Lazy<UnixListener, UnixStream>, Frames),
    /// A TCP listener, accepted on first use; framed.
    Tcp(Lazy<TcpListener, TcpStream>, Frames),
}

/// A listener whose one connection is accepted when first needed.
pub(crate) enum Lazy<L, C> {
    Listening(L),
    Connected(C),
}

macro_rules! accept_lazily {
    ($lazy:expr, $deadline:expr) => {{
        if let Lazy::Listening(l) = $lazy {
            let c = by_deadline(
                $deadline,
                || l.accept(),
                || l.try_accept(),
                |t| l.accept_timeout(t),
            )?;
            *$lazy = Lazy::Connected(c);
        }
        match $lazy {
            Lazy::Connected(c) => c,
            Lazy::Listening(_) => unreachable!("accepted above"),
        }
    }};
}

/// Reassembles length-prefixed frames from a byte stream, in a buffer reused
/// across messages.
pub(crate) struct Frames {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max: usize,
}

impl Frames {
    pub(crate) fn new(max: usize) -> Frames {
        Frames {
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
            max,
        }
    }

    /// A complete frame's payload range, if buffered.
    fn complete(&self, object: &str) -> Result<Option<(usize, usize)>> {
        let have = self.end - self.start;
        if have < FRAME_HEADER {
            return Ok(None);
        }
        let mut h = [0u8; 4];
        h.copy_from_slice(&self.buf[self.start..self.start + 4]);
        let len = u32::from_le_bytes(h) as usize;
        if len > self.max {
            return Err(Error::Corrupted {
                object: object.to_owned(),
                detail: format!("a frame claims {len} bytes, over the limit of {}", self.max),
            });
        }
        if have < FRAME_HEADER + len {
            return Ok(None);
        }
        Ok(Some((self.start + FRAME_HEADER, len)))
    }

    /// Receives one frame into `out`, reading through `read` (which returns
    /// 0 at end of stream).
    fn recv(
        &mut self,
        out: &mut Vec<u8>,
        object: &str,
        mut read: impl FnMut(&mut [u8], bool) -> Result<usize>,
    ) -> Result<()> {
        let mut first = true;
        loop {
            if let Some((at, len)) = self.complete(object)? {
                out.clear();
                out.extend_from_slice(&self.buf[at..at + len]);
                self.start = at + len;
                return Ok(());
            }
            // Make room: move what is buffered to the front, grow for a big frame.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let want = (self.buf.len() * 2)
                    .min(self.max + FRAME_HEADER)
                    .max(self.end + 1);
                self.buf.resize(want, 0);
            }
            // Only the first read of a message honours the caller's form; the
            // rest of a started frame is waited for.
            let n = read(&mut self.buf[self.end..], first)?;
            first = false;
            if n == 0 {
                return Err(if self.end == self.start {
                    Error::Disconnected {
                        object: object.to_owned(),
                        reason: "the sender closed its end".into(),
                    }
                } else {
                    Error::Corrupted {
                        object: object.to_owned(),
                        detail: "the stream ended inside a message".into(),
                    }
                });
            }
            self.end += n;
        }
    }
}

impl Rx {
    /// Receives one encoded message (payload only) into `out`.
    pub(crate) fn recv(&mut self, out: &mut Vec<u8>, deadline: Deadline) -> Result<()> {
        match self {
            Rx::Pipe(r, frames) => {
                let object = "channel over a pipe";
                frames.recv(out, object, |b, first| {
                    if first {
                        forms!(
                            deadline,
                            (&*r).read(b).map_err(io_err(object)),
                            r.try_read(b),
                            |t| { r.read_timeout(b, t) }
                        )
                    } else {
                        (&*r).read(b).map_err(io_err(object))
                    }
                })
            }
            Rx::Fifo(r, frames, _) => {
                let object = "channel over a FIFO";
                frames.recv(out, object, |b, first| {
                    if first {
                        forms!(
                            deadline,
                            r.read(b).map_err(io_err(object)),
                            r.try_read(b),
                            |t| { r.read_timeout(b, t) }
                        )
                    } else {
                        r.read(b).map_err(io_err(object))
                    }
                })
            }
            Rx::PosixMq(q, closed) => {
                if *closed {
                    return Err(goodbye("POSIX message queue"));
                }
                out.resize(q.msgsize(), 0);
                let r = forms!(deadline, q.recv(out), q.try_recv(out), |t| q
                    .recv_timeout(out, t),);
                let (n, _) = r?;
                out.truncate(n);
                untag(out, closed, "POSIX message queue")
            }
            Rx::SysvMq(q, sel, closed) => {
                if *closed {
                    return Err(goodbye("System V message queue"));
                }
                let sel = *sel;
                out.resize(q.max_message_size(), 0);
                let r = forms!(deadline, q.recv(sel, out), q.try_recv(sel, out), |t| q
                    .recv_timeout(sel, out, t),)
                .map_err(removed_is_disconnected)?;
                out.truncate(r.len);
                untag(out, closed, "System V message queue")
            }
            Rx::SeqPacket(lazy) => {
                let s = accept_lazily!(lazy, deadline);
                out.resize(DGRAM_RECV_MAX, 0);
                let n = forms!(deadline, s.recv(out), s.try_recv(out), |t| s
                    .recv_timeout(out, t),)?;
                match n {
                    Some(n) => {
                        out.truncate(n);
                        let mut closed = false;
                        untag(out, &mut closed, "Unix seqpacket socket")
                    }
                    None => Err(Error::Disconnected {
                        object: "channel over a Unix seqpacket socket".into(),
                        reason: "the sender closed its end".into(),
                    }),
                }
            }
            Rx::UnixDgram(s, closed) => {
                if *closed {
                    return Err(goodbye("Unix datagram socket"));
                }
                out.resize(DGRAM_RECV_MAX, 0);
                let n = forms!(deadline, s.recv(out), s.try_recv(out), |t| s
                    .recv_timeout(out, t),)?;
                out.truncate(n);
                untag(out, closed, "Unix datagram socket")
            }
            Rx::UnixStream(lazy, frames) => {
                let s = accept_lazily!(lazy, deadline);
                frames.recv(out, "channel over a Unix stream socket", |b, first| {
                    if first {
                        forms!(deadline, s.recv(b), s.try_recv(b), |t| s.recv_timeout(b, t))
                    } else {
                        s.recv(b)
                    }
                })
            }
            Rx::Tcp(lazy, frames) => {
                let s = accept_lazily!(lazy, deadline);
                frames.recv(out, "channel over TCP", |b, first| {
                    if first {
                        forms!(deadline, s.recv(b), s.try_recv(b), |t| s.recv_timeout(b, t))
                    } else {
                        s.recv(b)
                    }
                })
            }
        }
    }
}

fn io_err(object: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::os(object, "read", e)
}

fn goodbye(what: &str) -> Error {
    Error::Disconnected {
        object: format!("channel over a {what}"),
        reason: "the sender closed its end".into(),
    }
}

/// Strips the tag of a queue message; a goodbye becomes Disconnected.
fn untag(out: &mut Vec<u8>, closed: &mut bool, what: &str) -> Result<()> {
    match out.first() {
        Some(&TAG_DATA) => {
            out.remove(0);
            Ok(())
        }
        Some(&TAG_CLOSE) if out.len() == 1 => {
            *closed = true;
            Err(goodbye(what))
        }
        _ => Err(Error::Corrupted {
            object: format!("channel over a {what}"),
            detail: "a message without the channel's tag byte".into(),
        }),
    }
}
