//! Typed channels, [`Sender<T>`] and [`Receiver<T>`], over any
//! [`Endpoint`], with the same semantics everywhere:
//! bounded; `send` / `try_send` (full) / `send_timeout`; `recv` / `try_recv`
//! (empty) / `recv_timeout`; disconnected when the other end is gone, after
//! everything it sent has been received; a failed send hands the message
//! back. Messages are encoded with [postcard](https://docs.rs/postcard).
//!
//! ```
//! use ipcx::channel;
//! let (mut tx, mut rx) = channel::ring::<(u32, String)>(4096)?;
//! tx.send((7, "seven".into())).unwrap();
//! assert_eq!(rx.recv().unwrap(), (7, "seven".to_string()));
//! assert!(matches!(rx.try_recv(), Err(channel::TryRecvError::Empty)));
//! drop(tx);
//! assert!(matches!(rx.recv(), Err(channel::RecvError::Disconnected)));
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # Flavors
//! The flavors are private; each endpoint kind maps to one (crossbeam style):
//! - `ring`: `shm:/NAME` and [`ring()`]: the message is serialised straight into
//!   the reserved ring space; the receiver copies each record into a reused
//!   private buffer and decodes that (the producer is untrusted and could
//!   change shared bytes while they are decoded); no allocation per message. Largest message: half the ring capacity less 8 bytes.
//! - `pipe`: [`pipe()`] only (an anonymous pipe has no name to open): one atomic
//!   `write(2)` per message of a 4-byte length and the encoding; at most
//!   `PIPE_BUF` − 4 bytes. Disconnected: end of file / `EPIPE`.
//! - `fifo`: `fifo:PATH`, framed as a pipe; the receiver creates the FIFO if
//!   missing (and removes what it created); the sender's open waits for a reader.
//! - `posix-mq`: `mq:/NAME`, one queue message each with a 1-byte tag; at most
//!   `mq_msgsize` − 1 bytes. Queues have no notion of a closed peer: a sender
//!   says goodbye with a tag-only message when dropped (best effort, 100 ms),
//!   and cannot learn that the receiver is gone.
//! - `sysv-mq`: `sysvmq:KEY`, as `posix-mq` (message type from `?type=N`,
//!   default 1); a removed queue (`EIDRM`) is Disconnected for both ends.
//! - `seqpacket`: `unix-seqpacket:…`; the receiver listens and accepts one
//!   sender on first use, the sender connects; one datagram each.
//! - `unix-dgram`: `unix-dgram:…`; the receiver binds, the sender connects
//!   (so the receiver must exist first); one tagged datagram each, at most
//!   half the sender's `SO_SNDBUF` less 1 byte. Like the queues, datagrams
//!   have no connection: the sender says goodbye with a tag-only datagram when
//!   dropped (a killed sender cannot), while the sender learns that the
//!   receiver is gone (`ECONNREFUSED`).
//! - `stream`: `unix:…` and `tcp:HOST:PORT`; listening and connecting as
//!   `seqpacket`; 4-byte length-prefixed frames of at most 16 MiB. A frame the
//!   socket takes only in part counts as sent: its tail waits in the sender
//!   (one frame at most) and goes first on the next send or on drop (up to
//!   100 ms), so the stream never carries half a message.
//!
//! `udp:` and `sysvshm:` have no channel flavor
//! ([`Error::Unsupported`]): UDP may drop and
//! reorder, and a bare segment has no queue.
//!
//! # Sizes
//! A message whose encoding exceeds the transport's native limit is refused
//! with [`Error::MessageTooLarge`] naming the
//! limit (inside [`SendError::Other`] and friends); it is never split.
//!
//! # References
//! [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html),
//! [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html),
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
//! [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
//! [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//! [tcp(7)](https://man7.org/linux/man-pages/man7/tcp.7.html),
//! [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//! [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html)

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::deadline::Deadline;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::ring::{Consumer, Producer, Ring};

mod error;
mod flavors;

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};

/// The sending half of a channel of `T`.
pub struct Sender<T> {
    flavor: TxFlavor,
    _msg: PhantomData<fn(T)>,
}

/// The receiving half of a channel of `T`.
pub struct Receiver<T> {
    flavor: RxFlavor,
    _msg: PhantomData<fn() -> T>,
}

enum TxFlavor {
    Ring(Producer),
    /// Any other transport; `Vec` is the reused encode buffer.
    Bytes(flavors::Tx, Vec<u8>),
}

enum RxFlavor {
    /// `Vec` is the reused private copy of each record (see `recv_until`).
    Ring(Consumer, Vec<u8>),
    /// Any other transport; `Vec` is the reused receive buffer.
    Bytes(flavors::Rx, Vec<u8>),
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let TxFlavor::Bytes(tx, _) = &mut self.flavor {
            tx.close();
        }
    }
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flavor {
            TxFlavor::Ring(p) => f.debug_tuple("Sender").field(p).finish(),
            TxFlavor::Bytes(..) => f.debug_tuple("Sender").finish_non_exhaustive(),
        }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flavor {
            RxFlavor::Ring(c, _) => f.debug_tuple("Receiver").field(c).finish(),
            RxFlavor::Bytes(..) => f.debug_tuple("Receiver").finish_non_exhaustive(),
        }
    }
}

/// An in-process channel over an anonymous ring of `capacity` bytes; the
/// ring's memfd can also be handed to another process (see
/// [`Ring::anonymous`]).
///
/// # Errors
/// As [`Ring::anonymous`].
pub fn ring<T: Serialize + DeserializeOwned>(capacity: usize) -> Result<(Sender<T>, Receiver<T>)> {
    let ring = Ring::anonymous(capacity)?;
    Ok((
        Sender::from_producer(ring.producer()?),
        Receiver::from_consumer(ring.consumer()?),
    ))
}

/// An in-process channel over an anonymous pipe (see the `pipe` flavor).
///
/// # Errors
/// As [`pipe::pipe`](crate::pipe::pipe).
pub fn pipe<T: Serialize + DeserializeOwned>() -> Result<(Sender<T>, Receiver<T>)> {
    let (r, w) = crate::pipe::pipe()?;
    Ok((
        Sender::bytes(flavors::Tx::Pipe(w)),
        Receiver::bytes(flavors::Rx::Pipe(
            r,
            flavors::Frames::new(crate::pipe::PIPE_BUF),
        )),
    ))
}

fn unix_addr(path: &crate::endpoint::UnixPath) -> Result<crate::socket::addr::UnixAddr> {
    crate::socket::addr::UnixAddr::from_endpoint(path)
}

fn open_tx(endpoint: &Endpoint) -> Result<flavors::Tx> {
    use crate::endpoint::UnixKind;
    use flavors::Tx;
    Ok(match endpoint {
        Endpoint::Fifo { path } => {
            let fifo = crate::fifo::Fifo::builder(path.clone()).open_or_create()?;
            let w = fifo.open_writer(None)?;
            Tx::Fifo(w, fifo.is_owner().then_some(fifo))
        }
        Endpoint::PosixMq {
            name,
            capacity,
            msgsize,
            prio,
        } => {
            let mut b = crate::mq::posix::MessageQueue::builder(name.clone());
            if let Some(c) = capacity {
                b = b.capacity(*c);
            }
            if let Some(m) = msgsize {
                b = b.msgsize(*m);
            }
            Tx::PosixMq(b.open_or_create()?, prio.unwrap_or(0))
        }
        Endpoint::SysvMq { key, mtype } => {
            let mtype = mtype.unwrap_or(1);
            if mtype <= 0 {
                return Err(Error::InvalidArgument {
                    object: format!("endpoint {endpoint}"),
                    reason: "a sender needs a positive message type".into(),
                });
            }
            let q = crate::mq::sysv::MessageQueue::builder(key.resolve()?).open_or_create()?;
            Tx::SysvMq(q, mtype)
        }
        Endpoint::Unix {
            kind: UnixKind::SeqPacket,
            path,
        } => {
            let s = crate::socket::unix::UnixSeqPacket::connect(&unix_addr(path)?)?;
            let sndbuf = rustix::net::sockopt::socket_send_buffer_size(&s).map_err(|e| {
                Error::os(format!("endpoint {endpoint}"), "getsockopt(SO_SNDBUF)", e)
            })?;
            Tx::SeqPacket(s, (sndbuf / 2).saturating_sub(1))
        }
        Endpoint::Unix {
            kind: UnixKind::Datagram,
            path,
        } => {
            let s = crate::socket::unix::UnixDatagram::unbound()?;
            s.connect(&unix_addr(path)?)?;
            let sndbuf = rustix::net::sockopt::socket_send_buffer_size(&s).map_err(|e| {
                Error::os(format!("endpoint {endpoint}"), "getsockopt(SO_SNDBUF)", e)
            })?;
            let max = (sndbuf / 2).min(flavors::DGRAM_RECV_MAX).saturating_sub(1);
            Tx::UnixDgram(s, max)
        }
        Endpoint::Unix {
            kind: UnixKind::Stream,
            path,
        } => Tx::UnixStream(
            crate::socket::unix::UnixStream::connect(&unix_addr(path)?)?,
            Vec::new(),
        ),
        Endpoint::Tcp { host, port } => Tx::Tcp(
            crate::socket::tcp::TcpStream::connect((host.as_str(), *port))?,
            Vec::new(),
        ),
        _ => return Err(unsupported(endpoint)),
    })
}

fn open_rx(endpoint: &Endpoint) -> Result<flavors::Rx> {
    use crate::endpoint::UnixKind;
    use flavors::{Frames, Lazy, Rx, STREAM_FRAME_MAX};
    Ok(match endpoint {
        Endpoint::Fifo { path } => {
            let fifo = crate::fifo::Fifo::builder(path.clone()).open_or_create()?;
            let r = fifo.try_open_reader()?;
            Rx::Fifo(
                r,
                Frames::new(crate::pipe::PIPE_BUF),
                fifo.is_owner().then_some(fifo),
            )
        }
        Endpoint::PosixMq {
            name,
            capacity,
            msgsize,
            ..
        } => {
            let mut b = crate::mq::posix::MessageQueue::builder(name.clone());
            if let Some(c) = capacity {
                b = b.capacity(*c);
            }
            if let Some(m) = msgsize {
                b = b.msgsize(*m);
            }
            Rx::PosixMq(b.open_or_create()?, false)
        }
        Endpoint::SysvMq { key, mtype } => {
            let q = crate::mq::sysv::MessageQueue::builder(key.resolve()?).open_or_create()?;
            Rx::SysvMq(q, crate::mq::sysv::TypeSelector::from_msgtyp(*mtype), false)
        }
        Endpoint::Unix {
            kind: UnixKind::SeqPacket,
            path,
        } => Rx::SeqPacket(Lazy::Listening(
            crate::socket::unix::UnixSeqPacketListener::bind(&unix_addr(path)?)?,
        )),
        Endpoint::Unix {
            kind: UnixKind::Datagram,
            path,
        } => Rx::UnixDgram(
            crate::socket::unix::UnixDatagram::bind(&unix_addr(path)?)?,
            false,
        ),
        Endpoint::Unix {
            kind: UnixKind::Stream,
            path,
        } => Rx::UnixStream(
            Lazy::Listening(crate::socket::unix::UnixListener::bind(&unix_addr(path)?)?),
            Frames::new(STREAM_FRAME_MAX),
        ),
        Endpoint::Tcp { host, port } => Rx::Tcp(
            Lazy::Listening(crate::socket::tcp::TcpListener::bind((
                host.as_str(),
                *port,
            ))?),
            Frames::new(STREAM_FRAME_MAX),
        ),
        _ => return Err(unsupported(endpoint)),
    })
}

fn unsupported(endpoint: &Endpoint) -> Error {
    Error::unsupported(
        format!("channel over {}", endpoint.scheme()),
        "this endpoint kind has no channel flavor in this build",
    )
}

fn ring_of(endpoint: &Endpoint) -> Result<Option<Ring>> {
    match endpoint {
        Endpoint::Shm {
            name,
            capacity,
            wait,
        } => {
            let mut b = Ring::builder(name);
            if let Some(c) = capacity {
                b = b.capacity(usize::try_from(*c).unwrap_or(usize::MAX));
            }
            if let Some(w) = wait {
                b = b.wait(*w);
            }
            Ok(Some(b.open_or_create()?))
        }
        _ => Ok(None),
    }
}

impl<T: Serialize> Sender<T> {
    /// Opens the sending end of `endpoint`. For `shm:/NAME` the ring is
    /// opened, or created when missing (then this process removes it when
    /// both its handles are gone).
    ///
    /// # Errors
    /// The endpoint's open errors (see [`RingBuilder::open`](crate::ring::RingBuilder::open));
    /// [`Error::Unsupported`] for an endpoint kind without a channel flavor.
    pub fn open(endpoint: &Endpoint) -> Result<Sender<T>> {
        if let Some(ring) = ring_of(endpoint)? {
            return Ok(Sender::from_producer(ring.producer()?));
        }
        Ok(Sender::bytes(open_tx(endpoint)?))
    }

    fn bytes(tx: flavors::Tx) -> Sender<T> {
        Sender {
            flavor: TxFlavor::Bytes(tx, Vec::new()),
            _msg: PhantomData,
        }
    }

    /// A sender over a ring's producer.
    pub fn from_producer(producer: Producer) -> Sender<T> {
        Sender {
            flavor: TxFlavor::Ring(producer),
            _msg: PhantomData,
        }
    }

    fn send_until(&mut self, msg: &T, deadline: Deadline) -> Result<()> {
        match &mut self.flavor {
            TxFlavor::Ring(p) => {
                let len = postcard::experimental::serialized_size(msg).map_err(|e| {
                    Error::InvalidArgument {
                        object: "channel message".into(),
                        reason: format!("cannot be encoded: {e}"),
                    }
                })?;
                let mut grant = p.reserve_with_deadline(len, deadline)?;
                let written = postcard::to_slice(msg, &mut grant)
                    .map_err(|e| Error::InvalidArgument {
                        object: "channel message".into(),
                        reason: format!("cannot be encoded: {e}"),
                    })?
                    .len();
                grant.commit_len(written);
                Ok(())
            }
            TxFlavor::Bytes(tx, buf) => {
                let prefix = tx.prefix();
                buf.clear();
                buf.resize(prefix, 0);
                let mut frame = postcard::to_extend(msg, std::mem::take(buf)).map_err(|e| {
                    Error::InvalidArgument {
                        object: "channel message".into(),
                        reason: format!("cannot be encoded: {e}"),
                    }
                })?;
                let len = frame.len() - prefix;
                let (max, source) = tx.limit();
                let r = if len > max {
                    Err(Error::MessageTooLarge {
                        object: "channel".into(),
                        len,
                        max,
                        limit_source: source,
                    })
                } else {
                    tx.fill_prefix(&mut frame, len);
                    tx.send(&frame, deadline)
                };
                *buf = frame;
                r
            }
        }
    }

    /// Sends `msg`, waiting while the channel is full.
    ///
    /// # Errors
    /// [`SendError::Disconnected`] when the receiver is gone;
    /// [`SendError::Other`] with [`Error::MessageTooLarge`] (naming the
    /// limit) or the transport's error. The message comes back in both.
    pub fn send(&mut self, msg: T) -> Result<(), SendError<T>> {
        match self.send_until(&msg, Deadline::NEVER) {
            Ok(()) => Ok(()),
            Err(Error::Disconnected { .. }) => Err(SendError::Disconnected(msg)),
            Err(e) => Err(SendError::Other(msg, e)),
        }
    }

    /// Sends `msg` if there is room now.
    ///
    /// # Errors
    /// [`TrySendError::Full`] when there is no room; otherwise as
    /// [`send`](Self::send).
    pub fn try_send(&mut self, msg: T) -> Result<(), TrySendError<T>> {
        match self.send_until(&msg, Deadline::now()) {
            Ok(()) => Ok(()),
            Err(Error::Full { .. }) => Err(TrySendError::Full(msg)),
            Err(Error::Disconnected { .. }) => Err(TrySendError::Disconnected(msg)),
            Err(e) => Err(TrySendError::Other(msg, e)),
        }
    }

    /// Sends `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`SendTimeoutError::Timeout`] when no room came in time; otherwise as
    /// [`send`](Self::send).
    pub fn send_timeout(&mut self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        match self.send_until(&msg, Deadline::after(Some(timeout))) {
            Ok(()) => Ok(()),
            Err(Error::TimedOut { .. }) | Err(Error::Full { .. }) => {
                Err(SendTimeoutError::Timeout(msg))
            }
            Err(Error::Disconnected { .. }) => Err(SendTimeoutError::Disconnected(msg)),
            Err(e) => Err(SendTimeoutError::Other(msg, e)),
        }
    }

    /// Largest encoded message this sender's transport carries, in bytes.
    pub fn max_message_len(&self) -> usize {
        match &self.flavor {
            TxFlavor::Ring(p) => p.max_record_len(),
            TxFlavor::Bytes(tx, _) => tx.limit().0,
        }
    }
}

impl<T: DeserializeOwned> Receiver<T> {
    /// Opens the receiving end of `endpoint`. For `shm:/NAME` the ring is
    /// opened, or created when missing (then this process removes it when
    /// both its handles are gone).
    ///
    /// # Errors
    /// As [`Sender::open`].
    pub fn open(endpoint: &Endpoint) -> Result<Receiver<T>> {
        if let Some(ring) = ring_of(endpoint)? {
            return Ok(Receiver::from_consumer(ring.consumer()?));
        }
        Ok(Receiver::bytes(open_rx(endpoint)?))
    }

    fn bytes(rx: flavors::Rx) -> Receiver<T> {
        Receiver {
            flavor: RxFlavor::Bytes(rx, Vec::new()),
            _msg: PhantomData,
        }
    }

    /// A receiver over a ring's consumer.
    pub fn from_consumer(consumer: Consumer) -> Receiver<T> {
        Receiver {
            flavor: RxFlavor::Ring(consumer, Vec::new()),
            _msg: PhantomData,
        }
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<T> {
        match &mut self.flavor {
            RxFlavor::Ring(c, buf) => {
                // Decode a private copy, never the shared bytes: the producer
                // may change them while they are read, and a decoder reads
                // some bytes twice (a string is checked as UTF-8, then
                // copied), so decoding in place could yield a `String` that
                // is not UTF-8. The buffer is reused: no allocation once it
                // has grown to the largest message.
                let rec = c.recv_with_deadline(deadline)?;
                buf.clear();
                buf.extend_from_slice(&rec);
                drop(rec);
                postcard::from_bytes(buf).map_err(|e| Error::Corrupted {
                    object: "channel".into(),
                    detail: format!("a message of {} bytes does not decode: {e}", buf.len()),
                })
            }
            RxFlavor::Bytes(rx, buf) => {
                rx.recv(buf, deadline)?;
                postcard::from_bytes(buf).map_err(|e| Error::Corrupted {
                    object: "channel".into(),
                    detail: format!("a message of {} bytes does not decode: {e}", buf.len()),
                })
            }
        }
    }

    /// Receives a message, waiting while the channel is empty.
    ///
    /// # Errors
    /// [`RecvError::Disconnected`] when the sender is gone and everything it
    /// sent was received; [`RecvError::Other`] with [`Error::Corrupted`] for a
    /// message that does not decode as `T`, or the transport's error.
    pub fn recv(&mut self) -> Result<T, RecvError> {
        match self.recv_until(Deadline::NEVER) {
            Ok(m) => Ok(m),
            Err(Error::Disconnected { .. }) => Err(RecvError::Disconnected),
            Err(e) => Err(RecvError::Other(e)),
        }
    }

    /// Receives a message if one is there now.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`] when none is; otherwise as [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.recv_until(Deadline::now()) {
            Ok(m) => Ok(m),
            Err(Error::Empty { .. }) => Err(TryRecvError::Empty),
            Err(Error::Disconnected { .. }) => Err(TryRecvError::Disconnected),
            Err(e) => Err(TryRecvError::Other(e)),
        }
    }

    /// Receives a message, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] when none came in time; otherwise as
    /// [`recv`](Self::recv).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        match self.recv_until(Deadline::after(Some(timeout))) {
            Ok(m) => Ok(m),
            Err(Error::TimedOut { .. }) | Err(Error::Empty { .. }) => {
                Err(RecvTimeoutError::Timeout)
            }
            Err(Error::Disconnected { .. }) => Err(RecvTimeoutError::Disconnected),
            Err(e) => Err(RecvTimeoutError::Other(e)),
        }
    }
}
