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
//!   the reserved ring space and deserialised from the borrowed record; no
//!   allocation per message. Largest message: half the ring capacity less 8 bytes.
//!
//! Other endpoint kinds return [`Error::Unsupported`]
//! until their flavor is built.
//!
//! # Sizes
//! A message whose encoding exceeds the transport's native limit is refused
//! with [`Error::MessageTooLarge`] naming the
//! limit (inside [`SendError::Other`] and friends); it is never split.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::deadline::Deadline;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::ring::{Consumer, Producer, Ring};

mod error;

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
}

enum RxFlavor {
    Ring(Consumer),
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flavor {
            TxFlavor::Ring(p) => f.debug_tuple("Sender").field(p).finish(),
        }
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flavor {
            RxFlavor::Ring(c) => f.debug_tuple("Receiver").field(c).finish(),
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
        Err(unsupported(endpoint))
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
        Err(unsupported(endpoint))
    }

    /// A receiver over a ring's consumer.
    pub fn from_consumer(consumer: Consumer) -> Receiver<T> {
        Receiver {
            flavor: RxFlavor::Ring(consumer),
            _msg: PhantomData,
        }
    }

    fn recv_until(&mut self, deadline: Deadline) -> Result<T> {
        match &mut self.flavor {
            RxFlavor::Ring(c) => {
                let object = "channel";
                let rec = c.recv_with_deadline(deadline)?;
                postcard::from_bytes(&rec).map_err(|e| Error::Corrupted {
                    object: object.into(),
                    detail: format!("a message of {} bytes does not decode: {e}", rec.len()),
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
