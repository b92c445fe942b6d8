//! # ipcx: Linux inter-process communication, safe and fast
//!
//! ipcx gives safe, leak-free access to the six Linux IPC mechanisms — pipes,
//! named pipes (FIFOs), message queues, shared memory, semaphores and sockets —
//! with one error type ([`Error`]) that names the object, the system call and,
//! for limits, the limit's value and where it comes from.
//!
//! Every module follows the same rules:
//! - whoever creates a named object owns it and removes it on drop, unless told
//!   to keep it; openers never remove;
//! - objects are created with mode 0600 and `O_EXCL`, never following a
//!   symlink; every file descriptor is close-on-exec from birth;
//! - writes to a closed peer are errors ([`Error::Disconnected`]), never a
//!   death by `SIGPIPE`; the library never changes signal dispositions;
//! - blocking calls retry `EINTR` against a monotonic deadline and have
//!   non-blocking (`try_*`) and timed (`*_timeout`) forms;
//! - limits are checked before the system call, so an error says which limit
//!   (for example `/proc/sys/kernel/msgmax`) instead of a bare `EINVAL`.
//!
//! ## A tour, from hello-world to the advanced parts
//!
//! ### 1. A pipe
//!
//! [`pipe::pipe`] returns the two ends; they implement `Read` and `Write`,
//! and can be handed to a child process (`Stdio::from(end)`).
//! [`write_message`](pipe::PipeWriter::write_message) is one atomic write of
//! at most [`PIPE_BUF`](pipe::PIPE_BUF) bytes, never interleaved with other
//! writers; a longer message is refused, not split.
//!
//! ```
//! use std::io::Read;
//! let (mut reader, writer) = ipcx::pipe::pipe()?;
//! writer.write_message(b"Hello from parent!")?;
//! drop(writer);
//! let mut text = String::new();
//! reader.read_to_string(&mut text)?;
//! assert_eq!(text, "Hello from parent!");
//!
//! let (_r, w) = ipcx::pipe::pipe()?;
//! let too_big = vec![0u8; ipcx::pipe::PIPE_BUF + 1];
//! assert!(matches!(w.write_message(&too_big), Err(ipcx::Error::MessageTooLarge { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ### 2. Errors that name their cause
//!
//! Writing to a pipe whose reader is gone is [`Error::Disconnected`] (and
//! [`std::io::ErrorKind::BrokenPipe`] through `io::Write`), never a signal:
//!
//! ```
//! let (reader, writer) = ipcx::pipe::pipe()?;
//! drop(reader);
//! let err = writer.write_message(b"anyone?").unwrap_err();
//! assert!(matches!(err, ipcx::Error::Disconnected { .. }));
//! let io: std::io::Error = err.into();
//! assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! ### 3. Message queues with priorities
//!
//! A POSIX queue ([`mq::posix`]) delivers the highest priority first; a System
//! V queue ([`mq::sysv`]) selects by message type. The creator removes the
//! queue when it is dropped.
//!
//! ```
//! use ipcx::mq::posix::MessageQueue;
//! let name = format!("/ipcx-doc-{}", std::process::id());
//! let q = MessageQueue::builder(&name).capacity(4).msgsize(64).create()?;
//! for (text, prio) in [("low", 1), ("high", 5), ("mid", 3)] {
//!     q.send(text.as_bytes(), prio)?;
//! }
//! let mut buf = [0u8; 64];
//! let (len, prio) = q.recv(&mut buf)?;
//! assert_eq!((&buf[..len], prio), (&b"high"[..], 5));
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! ### 4. Shared memory and a lock
//!
//! Segments ([`shm::posix`], [`shm::memfd`], [`shm::sysv`]) are read and
//! written through bounds-checked copies ([`shm::SharedMemory`]); a size that
//! does not match the object is an error before mapping, never a `SIGBUS`.
//! Semaphores ([`sem::sysv`], [`sem::posix`]) and the robust mutex
//! ([`sync::Mutex`]) guard what the processes share.
//!
//! ```
//! use ipcx::shm::{memfd::Memfd, SharedMemory};
//! use ipcx::sem::sysv::SemaphoreSet;
//! let seg = Memfd::create("doc", 4096)?;
//! let lock = SemaphoreSet::builder(ipcx::key::Key::PRIVATE).values(&[1]).create()?;
//! {
//!     let _held = lock.lock(0)?; // SEM_UNDO: released even if this process dies
//!     seg.write_bytes(0, b"Shared Memory Example")?;
//! }
//! let mut buf = [0u8; 21];
//! seg.read_bytes(0, &mut buf)?;
//! assert_eq!(&buf, b"Shared Memory Example");
//! assert!(seg.read_bytes(4090, &mut buf).is_err()); // out of bounds: an error, not a crash
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! ### 5. Sockets and passing file descriptors
//!
//! [`socket::unix`] has stream, datagram and seqpacket sockets; a connected
//! peer's credentials are captured at connect time, and open file descriptors
//! travel with `SCM_RIGHTS`.
//!
//! ```
//! use std::io::Read;
//! use std::os::fd::AsFd;
//! use ipcx::socket::unix::UnixStream;
//! let (a, b) = UnixStream::pair()?;
//! assert_eq!(b.peer_cred().pid, std::process::id() as i32);
//! let (mut r, w) = ipcx::pipe::pipe()?;
//! a.send_with_fds(b"a pipe for you", &[w.as_fd()])?;
//! drop(w);
//! let mut buf = [0u8; 64];
//! let got = b.recv_with_fds(&mut buf, 1).map_err(ipcx::Error::from)?;
//! assert_eq!(&buf[..got.len], b"a pipe for you");
//! let passed = ipcx::pipe::PipeWriter::from(got.fds.into_iter().next().unwrap());
//! passed.write_message(b"through the passed end")?;
//! drop(passed);
//! let mut text = String::new();
//! r.read_to_string(&mut text)?;
//! assert_eq!(text, "through the passed end");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ### 6. One grammar for every mechanism
//!
//! [`Endpoint`] parses the text the `ipcx` command takes (`fifo:PATH`,
//! `mq:/NAME?capacity=8`, `sysvmq:progfile@65`, `unix:@name`,
//! `tcp:127.0.0.1:8080`, …) and prints it back.
//!
//! ```
//! let e: ipcx::Endpoint = "mq:/jobs?capacity=8&prio=3".parse()?;
//! assert_eq!(e.to_string(), "mq:/jobs?capacity=8&prio=3");
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! ### 7. Typed channels over any endpoint
//!
//! [`channel::Sender<T>`] and [`channel::Receiver<T>`] carry any `serde`
//! type over an endpoint, with the same semantics everywhere: `send` waits
//! for room, `try_recv` says [`Empty`](channel::TryRecvError::Empty), and a
//! send that fails hands the message back. Over a `shm:` ring (the fastest
//! path) the opener that finds no ring creates it, and removes it when its
//! handles go; a message larger than the transport carries (here half the
//! 4096-byte ring less 8 bytes) is [`Error::MessageTooLarge`].
//!
//! ```
//! use ipcx::channel::{Receiver, SendError, Sender, TryRecvError};
//! let ep: ipcx::Endpoint = format!("shm:/ipcx-doc-ch-{}?capacity=4096", std::process::id()).parse()?;
//! let mut tx: Sender<(u32, String)> = Sender::open(&ep)?; // creates the ring
//! let mut rx: Receiver<(u32, String)> = Receiver::open(&ep)?; // opens it
//! tx.send((1, "one".into())).unwrap();
//! assert_eq!(rx.recv().unwrap(), (1, "one".to_string()));
//! assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
//!
//! let big = (2, "x".repeat(3000));
//! match tx.send(big) {
//!     Err(SendError::Other(back, ipcx::Error::MessageTooLarge { max, .. })) => {
//!         assert_eq!(max, 2040);
//!         assert_eq!(back.1.len(), 3000); // the message comes back
//!     }
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), ipcx::Error>(())
//! ```
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

pub mod channel;
pub mod creator;
pub mod deadline;
pub mod endpoint;
pub mod error;
pub mod fifo;
pub mod frame;
pub mod inventory;
pub mod key;
pub mod limits;
pub mod mq;
pub mod pipe;
#[allow(unsafe_code)]
pub mod ring;
pub mod sem;
pub mod shm;
pub mod socket;
pub mod sync;
#[allow(unsafe_code)]
mod sys;

pub use endpoint::Endpoint;
pub use error::{Error, Result};

/// How a builder reaches a named object — FIFO, message queue, shared memory
/// segment, semaphore — in every module (iceoryx2 style).
///
/// Whoever creates an object owns it and removes it when the handle is
/// dropped, unless told to keep it; a handle that opened an existing object
/// never removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CreationMode {
    /// Create a new object; fail with [`Error::AlreadyExists`] if the name or
    /// key is taken (`O_CREAT | O_EXCL`, `IPC_CREAT | IPC_EXCL`). The handle
    /// owns the object. The default.
    #[default]
    Create,
    /// Open an existing object; fail with [`Error::NotFound`] if there is
    /// none. The handle never removes it.
    Open,
    /// Open the object if it exists, else create it; the handle owns it only
    /// if it created it.
    OpenOrCreate,
}

/// One round of [`CreationMode::OpenOrCreate`]: `create`, and if the object
/// exists (`AlreadyExists`), `open`. `None` when the object was removed
/// between the two calls (`NotFound` from `open`), so the caller tries
/// again; otherwise the result, with `true` if this round created the object.
fn open_or_create_round<T>(
    create: &mut impl FnMut() -> Result<T>,
    open: &mut impl FnMut() -> Result<T>,
) -> Option<Result<(T, bool)>> {
    match create() {
        Ok(t) => return Some(Ok((t, true))),
        Err(Error::AlreadyExists { .. }) => {}
        Err(e) => return Some(Err(e)),
    }
    match open() {
        Ok(t) => Some(Ok((t, false))),
        Err(Error::NotFound { .. }) => None,
        Err(e) => Some(Err(e)),
    }
}

/// [`CreationMode::OpenOrCreate`] by `create` (exclusive) and `open`: repeats
/// create-then-open until one of them settles the race with other processes.
/// Returns the handle and whether this call created the object.
pub(crate) fn open_or_create<T>(
    mut create: impl FnMut() -> Result<T>,
    mut open: impl FnMut() -> Result<T>,
) -> Result<(T, bool)> {
    loop {
        if let Some(res) = open_or_create_round(&mut create, &mut open) {
            return res;
        }
    }
}

/// As [`open_or_create`], but gives up the race after `rounds` rounds and
/// returns what a last `open` gives.
pub(crate) fn open_or_create_bounded<T>(
    rounds: usize,
    mut create: impl FnMut() -> Result<T>,
    mut open: impl FnMut() -> Result<T>,
) -> Result<T> {
    for _ in 0..rounds {
        if let Some(res) = open_or_create_round(&mut create, &mut open) {
            return res.map(|(t, _)| t);
        }
    }
    open()
}
