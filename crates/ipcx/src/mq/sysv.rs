//! System V message queues: `msgget`, `msgsnd`, `msgrcv`, `msgctl`.
//!
//! A queue is found by a [`Key`] and holds typed messages: each message has a
//! type (`mtype`, a positive number) and a body of up to `msgmax` bytes
//! (`/proc/sys/kernel/msgmax`); the queue as a whole holds at most
//! `msg_qbytes` bytes (default `msgmnb`). Receivers pick messages by type with
//! a [`TypeSelector`].
//!
//! ```
//! use ipcx::key::Key;
//! use ipcx::mq::sysv::{MessageQueue, TypeSelector};
//!
//! // A private queue: only reachable through this handle (and its id).
//! let q = MessageQueue::builder(Key::PRIVATE).create()?;
//! q.send(2, b"second type")?;
//! q.send(1, b"first type")?;
//! let mut buf = [0u8; 64];
//! let m = q.recv(TypeSelector::LowestUpTo(5), &mut buf)?;
//! assert_eq!((&buf[..m.len], m.mtype), (&b"first type"[..], 1));
//! // Dropping `q` removes the queue: this handle created it.
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # Timed operations
//! System V has no timed `msgsnd`/`msgrcv`. The `*_timeout` forms retry with
//! `IPC_NOWAIT`, sleeping between attempts with an exponential backoff from
//! 50 µs up to 2 ms (never past the deadline). They honour the timeout without
//! spinning a core and without touching signal dispositions; the price is
//! latency: a message arriving during a sleep is picked up at the end of it,
//! up to 2 ms late once the wait has lasted a few milliseconds. Calls without a
//! timeout block in the kernel and wake at once.
//!
//! # Removal
//! The handle that created a queue removes it (`IPC_RMID`) when dropped, unless
//! [`MessageQueue::keep`] was called; openers never remove it but may call
//! [`MessageQueue::remove`] explicitly. A receiver blocked on a queue that is
//! removed wakes with [`Error::Removed`].
//!
//! # References
//! [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
//! [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html),
//! [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html),
//! [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html)

use std::io;
use std::time::{Duration, SystemTime};

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::limits::{MSGMAX, MSGMNB, MSGMNI};
use crate::mq::{has_cap_sys_resource, CreationMode};
use crate::sys::msg as sys;

/// First sleep of the timed forms' backoff.
const BACKOFF_MIN: Duration = Duration::from_micros(50);
/// `MSG_COPY` (Linux): copy the message at index `msgtyp` without removing it.
const MSG_COPY: i32 = 0o40000;
/// Longest sleep of the timed forms' backoff: the worst added wake-up latency.
const BACKOFF_MAX: Duration = Duration::from_millis(2);

/// Which message `msgrcv` takes (its `msgtyp` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeSelector {
    /// The first message of any type (`msgtyp` = 0).
    Any,
    /// The first message of exactly this type (`msgtyp` > 0); must be positive.
    Exactly(i64),
    /// The first message of the lowest type that is ≤ this bound (`msgtyp` < 0,
    /// passed as its negative); must be positive.
    LowestUpTo(i64),
}

impl TypeSelector {
    /// The selector an endpoint's `type=N` means: positive N is exactly N,
    /// negative N is the lowest type ≤ |N|, none is any.
    pub fn from_msgtyp(msgtyp: Option<i64>) -> TypeSelector {
        match msgtyp {
            None | Some(0) => TypeSelector::Any,
            Some(n) if n > 0 => TypeSelector::Exactly(n),
            Some(n) => TypeSelector::LowestUpTo(n.saturating_neg()),
        }
    }

    fn msgtyp(self, object: &str) -> Result<i64> {
        let bad = |n: i64| Error::InvalidArgument {
            object: object.to_owned(),
            reason: format!("type selector {n} must be positive (message types are 1 or more)"),
        };
        match self {
            TypeSelector::Any => Ok(0),
            TypeSelector::Exactly(n) if n > 0 => Ok(n),
            TypeSelector::LowestUpTo(n) if n > 0 => Ok(-n),
            TypeSelector::Exactly(n) | TypeSelector::LowestUpTo(n) => Err(bad(n)),
        }
    }
}

/// A received message: its length in bytes (at the start of the buffer) and
/// its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The message type (`mtype`), 1 or more.
    pub mtype: i64,
}

/// A message laid out as the kernel wants it (`struct msgbuf`: a `long`
/// type, then the body), for sending and receiving without copying:
/// [`send_buf`](MessageQueue::send_buf) and
/// [`recv_buf`](MessageQueue::recv_buf) pass it to the kernel as is, where
/// [`send`](MessageQueue::send) and [`recv`](MessageQueue::recv) copy through a
/// per-thread buffer.
///
/// ```
/// use ipcx::key::Key;
/// use ipcx::mq::sysv::{MessageQueue, MsgBuf, TypeSelector};
///
/// let q = MessageQueue::builder(Key::PRIVATE).create()?;
/// let mut msg = MsgBuf::with_capacity(64);
/// msg.body_mut()[..5].copy_from_slice(b"hello");
/// msg.set_len(5)?;
/// msg.set_mtype(3);
/// q.send_buf(&msg)?;
/// let mut got = MsgBuf::with_capacity(64);
/// q.recv_buf(TypeSelector::Any, &mut got)?;
/// assert_eq!((got.body(), got.mtype()), (&b"hello"[..], 3));
/// # Ok::<(), ipcx::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MsgBuf {
    words: Vec<libc::c_long>,
    len: usize,
    capacity: usize,
}

impl MsgBuf {
    /// An empty message of type 1 with room for `capacity` body bytes.
    pub fn with_capacity(capacity: usize) -> MsgBuf {
        let mut words = vec![0; 1 + capacity.div_ceil(sys::HEADER)];
        words[0] = 1;
        MsgBuf {
            words,
            len: 0,
            capacity,
        }
    }

    /// Body bytes this buffer holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The body's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &sys::bytes(&self.words)[sys::HEADER..sys::HEADER + self.len]
    }

    /// All `capacity` body bytes, to write a message in place before
    /// [`set_len`](MsgBuf::set_len).
    pub fn body_mut(&mut self) -> &mut [u8] {
        let cap = self.capacity;
        &mut sys::bytes_mut(&mut self.words)[sys::HEADER..sys::HEADER + cap]
    }

    /// Sets the body's length in bytes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `len` is over the capacity.
    pub fn set_len(&mut self, len: usize) -> Result<()> {
        if len > self.capacity {
            return Err(Error::InvalidArgument {
                object: "System V message buffer".into(),
                reason: format!(
                    "length {len} is over the capacity of {} bytes",
                    self.capacity
                ),
            });
        }
        self.len = len;
        Ok(())
    }

    /// The message type (`mtype`).
    pub fn mtype(&self) -> i64 {
        #[allow(clippy::useless_conversion)] // c_long is i32 on 32-bit targets
        i64::from(self.words[0])
    }

    /// Sets the message type; [`send_buf`](MessageQueue::send_buf) checks it
    /// is 1 or more.
    pub fn set_mtype(&mut self, mtype: i64) {
        self.words[0] = mtype as libc::c_long;
    }
}

/// The state of a queue, from `msgctl(IPC_STAT)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The queue's key ([`Key::PRIVATE`] for a private queue).
    pub key: Key,
    /// The queue id (`msqid`), as `ipcs -q` shows it.
    pub id: i32,
    /// Messages queued (`msg_qnum`).
    pub messages: u64,
    /// Bytes queued, message bodies only (`__msg_cbytes`).
    pub bytes: u64,
    /// Most bytes the queue holds (`msg_qbytes`).
    pub max_bytes: u64,
    /// Pid of the last `msgsnd`, `None` before the first.
    pub last_sender: Option<u32>,
    /// Pid of the last `msgrcv`, `None` before the first.
    pub last_receiver: Option<u32>,
    /// Time of the last `msgsnd`.
    pub last_send: Option<SystemTime>,
    /// Time of the last `msgrcv`.
    pub last_receive: Option<SystemTime>,
    /// Time of the creation or last `IPC_SET`.
    pub last_change: Option<SystemTime>,
    /// Permission bits (for example `0o600`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Creator uid (System V keeps the creator's uid, not its pid).
    pub creator_uid: u32,
    /// Creator gid.
    pub creator_gid: u32,
}

fn time(secs: i64) -> Option<SystemTime> {
    (secs > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64))
}

fn pid(p: i32) -> Option<u32> {
    (p > 0).then_some(p as u32)
}

/// Builds a [`MessageQueue`]: key, mode, creation mode, size.
#[derive(Debug, Clone)]
pub struct Builder {
    key: Key,
    mode: u32,
    max_bytes: Option<u64>,
}

impl Builder {
    /// Permission bits for a created queue (default `0o600`, owner only).
    /// Ignored when opening.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }

    /// Sets the queue's size in bytes (`msg_qbytes`) after creating it, as
    /// [`MessageQueue::set_max_bytes`]; ignored when opening an existing queue.
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// `msgget(key, IPC_CREAT | IPC_EXCL | mode)`—creates a new queue, owned
    /// by the returned handle.
    ///
    /// # Errors
    /// As [`Builder::build`] with [`CreationMode::CreateExclusive`].
    pub fn create(self) -> Result<MessageQueue> {
        self.build(CreationMode::CreateExclusive)
    }

    /// `msgget(key, 0)`—opens an existing queue; the handle never removes it.
    ///
    /// # Errors
    /// As [`Builder::build`] with [`CreationMode::Open`].
    pub fn open(self) -> Result<MessageQueue> {
        self.build(CreationMode::Open)
    }

    /// Opens the queue, creating it if there is none.
    ///
    /// # Errors
    /// As [`Builder::build`] with [`CreationMode::OpenOrCreate`].
    pub fn open_or_create(self) -> Result<MessageQueue> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// `msgget`—creates or opens the queue as `creation` says.
    ///
    /// # Errors
    /// - [`Error::AlreadyExists`]: exclusive creation and the key is taken.
    /// - [`Error::NotFound`]: opening and no queue has the key.
    /// - [`Error::InvalidArgument`]: opening [`Key::PRIVATE`], which names no
    ///   existing queue.
    /// - [`Error::PermissionDenied`]: the queue's mode refuses the caller.
    /// - [`Error::LimitExceeded`]: the system has `msgmni` queues already
    ///   (`/proc/sys/kernel/msgmni`), or `max_bytes` is over `msgmnb` (as
    ///   [`MessageQueue::set_max_bytes`]; the new queue is removed again).
    ///
    /// # References
    /// [msgget(2)](https://man7.org/linux/man-pages/man2/msgget.2.html)
    #[doc(alias = "msgget")]
    pub fn build(self, creation: CreationMode) -> Result<MessageQueue> {
        let key = self.key;
        let object = describe(key, None);
        let create_flags = libc::IPC_CREAT | libc::IPC_EXCL | self.mode as i32;
        let (id, owner) = match creation {
            CreationMode::CreateExclusive => (msgget(key, create_flags, &object)?, true),
            CreationMode::Open => {
                if key.is_private() {
                    return Err(Error::InvalidArgument {
                        object,
                        reason: "IPC_PRIVATE names no existing queue; create it instead".into(),
                    });
                }
                (msgget(key, 0, &object)?, false)
            }
            CreationMode::OpenOrCreate => loop {
                match msgget(key, create_flags, &object) {
                    Ok(id) => break (id, true),
                    Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                match msgget(key, 0, &object) {
                    Ok(id) => break (id, false),
                    // Removed between the two calls: try creating again.
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                }
            },
        };
        let q = MessageQueue {
            id,
            key,
            owner,
            object: describe(key, Some(id)),
            msgmax: std::sync::atomic::AtomicUsize::new(read_msgmax()),
        };
        if owner {
            if let Some(bytes) = self.max_bytes {
                q.set_max_bytes(bytes)?;
            }
        }
        Ok(q)
    }
}

fn describe(key: Key, id: Option<i32>) -> String {
    let key = if key.is_private() {
        "IPC_PRIVATE".to_owned()
    } else {
        key.to_string()
    };
    match id {
        Some(id) => format!("System V message queue {key} (id {id})"),
        None => format!("System V message queue {key}"),
    }
}

fn read_msgmax() -> usize {
    MSGMAX.read().map_or(8192, |v| v as usize)
}

fn msgget(key: Key, flags: i32, object: &str) -> Result<i32> {
    sys::msgget(key.raw(), flags).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOSPC) => {
            let max = MSGMNI.read().unwrap_or(0);
            Error::LimitExceeded {
                object: object.to_owned(),
                what: "number of System V message queues".into(),
                requested: max + 1,
                limit: MSGMNI.name.into(),
                max,
                source_path: MSGMNI.path.into(),
            }
        }
        _ => Error::os(object, "msgget", e),
    })
}

/// A System V message queue.
///
/// The handle that created the queue removes it on drop unless
/// [`keep`](MessageQueue::keep) was called. Handles are `Send` and `Sync`:
/// several threads may send and receive at once.
#[derive(Debug)]
pub struct MessageQueue {
    id: i32,
    key: Key,
    owner: bool,
    object: String,
    /// `msgmax` as last read, refreshed when a message seems to break it.
    msgmax: std::sync::atomic::AtomicUsize,
}

impl MessageQueue {
    /// Starts building a queue with `key`: mode `0o600`, size `msgmnb`.
    pub fn builder(key: Key) -> Builder {
        Builder {
            key,
            mode: 0o600,
            max_bytes: None,
        }
    }

    /// Opens a queue by its id (as `ipcs -q` shows it) rather than its key;
    /// the handle never removes it.
    ///
    /// # Errors
    /// [`Error::Removed`] when no queue has this id (it is checked with
    /// `IPC_STAT`); [`Error::PermissionDenied`] when the caller may not read it.
    pub fn open_id(id: i32) -> Result<MessageQueue> {
        let object = format!("System V message queue id {id}");
        let st = sys::msgctl_stat(id).map_err(|e| map_ctl(&object, "msgctl(IPC_STAT)", e))?;
        let key = if st.key == 0 {
            Key::PRIVATE
        } else {
            Key::from_raw(st.key)?
        };
        Ok(MessageQueue {
            id,
            key,
            owner: false,
            object: describe(key, Some(id)),
            msgmax: std::sync::atomic::AtomicUsize::new(read_msgmax()),
        })
    }

    /// The queue id (`msqid`).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key the queue was made or opened with.
    pub fn key(&self) -> Key {
        self.key
    }

    /// Whether this handle removes the queue on drop.
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Leaves the queue in place when this handle is dropped.
    pub fn keep(&mut self) {
        self.owner = false;
    }

    /// The largest message this queue accepts now, in bytes: `msgmax`
    /// (`/proc/sys/kernel/msgmax`), read when the handle was made.
    pub fn max_message_size(&self) -> usize {
        self.msgmax.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `msgsnd`—sends a message of type `mtype`, waiting while the queue is
    /// full.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: `mtype` is not 1 or more.
    /// - [`Error::MessageTooLarge`]: `data` is over `msgmax`
    ///   (`/proc/sys/kernel/msgmax`) or over the queue's `msg_qbytes` (a
    ///   message that could never fit).
    /// - [`Error::Removed`]: the queue was removed.
    /// - [`Error::PermissionDenied`]: no write permission.
    ///
    /// # References
    /// [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html)
    #[doc(alias = "msgsnd")]
    pub fn send(&self, mtype: i64, data: &[u8]) -> Result<()> {
        self.send_deadline(mtype, data, Deadline::NEVER)
    }

    /// `msgsnd(IPC_NOWAIT)`—sends a message if there is room now.
    ///
    /// # Errors
    /// [`Error::Full`] when the queue has no room (nothing was sent); else as
    /// [`send`](MessageQueue::send).
    pub fn try_send(&self, mtype: i64, data: &[u8]) -> Result<()> {
        self.send_deadline(mtype, data, Deadline::now())
    }

    /// Sends a message, waiting at most `timeout` for room (see the module
    /// docs: retries with `IPC_NOWAIT` and a bounded backoff).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when there was no room in time (nothing was sent);
    /// else as [`send`](MessageQueue::send).
    pub fn send_timeout(&self, mtype: i64, data: &[u8], timeout: Duration) -> Result<()> {
        self.send_deadline(mtype, data, Deadline::after(Some(timeout)))
    }

    fn check_send(&self, mtype: i64, len: usize) -> Result<()> {
        if mtype < 1 || libc::c_long::try_from(mtype).is_err() {
            return Err(Error::InvalidArgument {
                object: self.object.clone(),
                reason: format!(
                    "message type {mtype} is invalid: msgsnd needs a type of 1 or more"
                ),
            });
        }
        if len > self.max_message_size() {
            // The limit may have been raised since it was read.
            let max = read_msgmax();
            self.msgmax.store(max, std::sync::atomic::Ordering::Relaxed);
            if len > max {
                return Err(self.too_large(len, max));
            }
        }
        Ok(())
    }

    fn too_large(&self, len: usize, max: usize) -> Error {
        Error::MessageTooLarge {
            object: self.object.clone(),
            len,
            max,
            limit_source: format!("{} ({})", MSGMAX.name, MSGMAX.path),
        }
    }

    fn send_deadline(&self, mtype: i64, data: &[u8], deadline: Deadline) -> Result<()> {
        self.send_core(mtype, data.len(), deadline, |flags| {
            sys::msgsnd(self.id, mtype, data, flags)
        })
    }

    /// The send loop around one-attempt `msgsnd` calls made by `attempt`
    /// (given the flags), for a message of `mtype` and `len` body bytes.
    fn send_core(
        &self,
        mtype: i64,
        len: usize,
        deadline: Deadline,
        mut attempt: impl FnMut(i32) -> io::Result<()>,
    ) -> Result<()> {
        self.check_send(mtype, len)?;
        let blocking = deadline == Deadline::NEVER;
        let mut backoff = BACKOFF_MIN;
        // The first attempt never blocks: when the queue is full, a message
        // larger than msg_qbytes (which could never fit) is reported instead
        // of waited for.
        let mut checked_qbytes = false;
        loop {
            let flags = if blocking && checked_qbytes {
                0
            } else {
                libc::IPC_NOWAIT
            };
            let err = match attempt(flags) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            match err.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    if !checked_qbytes {
                        checked_qbytes = true;
                        let st = self.stat()?;
                        if len as u64 > st.max_bytes {
                            return Err(Error::MessageTooLarge {
                                object: self.object.clone(),
                                len,
                                max: st.max_bytes as usize,
                                limit_source: "the queue's msg_qbytes (msgctl IPC_STAT)".into(),
                            });
                        }
                    }
                    if blocking {
                        continue;
                    }
                    if deadline.expired() {
                        return Err(if deadline.timeout() == Duration::ZERO {
                            Error::Full {
                                object: self.object.clone(),
                            }
                        } else {
                            Error::TimedOut {
                                object: self.object.clone(),
                                waiting_for: "room in the queue".into(),
                                timeout: deadline.timeout(),
                            }
                        });
                    }
                    if err.raw_os_error() == Some(libc::EAGAIN) {
                        sleep_backoff(&mut backoff, deadline);
                    }
                }
                Some(libc::EINVAL) => {
                    let max = read_msgmax();
                    self.msgmax.store(max, std::sync::atomic::Ordering::Relaxed);
                    if len > max {
                        return Err(self.too_large(len, max));
                    }
                    return Err(self.removed("msgsnd"));
                }
                _ => return Err(Error::os(&self.object, "msgsnd", err)),
            }
        }
    }

    fn removed(&self, syscall: &'static str) -> Error {
        Error::Removed {
            object: self.object.clone(),
            syscall,
        }
    }

    /// `msgrcv`—receives the first message `selector` picks into `buf`,
    /// waiting while there is none. Returns its length and type.
    ///
    /// A message longer than `buf` stays queued and the call fails (no
    /// `MSG_NOERROR`); use [`recv_truncate`](MessageQueue::recv_truncate) to
    /// take it cut short instead.
    ///
    /// # Errors
    /// - [`Error::BufferTooSmall`]: the message is longer than `buf`; the
    ///   message stays queued. `needed` is its length, learned with
    ///   `MSG_COPY` where the kernel has it (`CONFIG_CHECKPOINT_RESTORE`),
    ///   else `buf.len() + 1` ("at least").
    /// - [`Error::InvalidArgument`]: a selector bound of 0 or less.
    /// - [`Error::Removed`]: the queue was removed, also while waiting.
    /// - [`Error::PermissionDenied`]: no read permission.
    ///
    /// # References
    /// [msgop(2)](https://man7.org/linux/man-pages/man2/msgop.2.html)
    #[doc(alias = "msgrcv")]
    pub fn recv(&self, selector: TypeSelector, buf: &mut [u8]) -> Result<Received> {
        self.recv_deadline(selector, buf, Deadline::NEVER, 0)
    }

    /// `msgrcv(IPC_NOWAIT)`—receives a message if one is queued now.
    ///
    /// # Errors
    /// [`Error::Empty`] when no message matches; else as
    /// [`recv`](MessageQueue::recv).
    pub fn try_recv(&self, selector: TypeSelector, buf: &mut [u8]) -> Result<Received> {
        self.recv_deadline(selector, buf, Deadline::now(), 0)
    }

    /// Receives a message, waiting at most `timeout` (see the module docs:
    /// retries with `IPC_NOWAIT` and a bounded backoff, so a message may be
    /// picked up up to 2 ms after it arrives).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when no message matched in time; else as
    /// [`recv`](MessageQueue::recv).
    pub fn recv_timeout(
        &self,
        selector: TypeSelector,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Received> {
        self.recv_deadline(selector, buf, Deadline::after(Some(timeout)), 0)
    }

    /// `msgrcv(MSG_NOERROR)`—receives a message, cutting it to `buf.len()`
    /// bytes if it is longer (the rest is lost: the kernel does not report
    /// that it cut). `timeout` as in [`recv_timeout`](MessageQueue::recv_timeout),
    /// `None` waits without limit.
    ///
    /// # Errors
    /// As [`recv_timeout`](MessageQueue::recv_timeout), without
    /// [`Error::BufferTooSmall`].
    pub fn recv_truncate(
        &self,
        selector: TypeSelector,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> Result<Received> {
        self.recv_deadline(selector, buf, Deadline::after(timeout), libc::MSG_NOERROR)
    }

    /// Receives a message into a new `Vec` of its exact length (a buffer of
    /// [`max_message_size`](MessageQueue::max_message_size) bytes is used);
    /// returns the body and the type.
    ///
    /// # Errors
    /// As [`recv_timeout`](MessageQueue::recv_timeout) (`timeout` `None`
    /// waits without limit).
    pub fn recv_vec(
        &self,
        selector: TypeSelector,
        timeout: Option<Duration>,
    ) -> Result<(Vec<u8>, i64)> {
        let mut buf = vec![0u8; self.max_message_size()];
        let m = self.recv_deadline(selector, &mut buf, Deadline::after(timeout), 0)?;
        buf.truncate(m.len);
        Ok((buf, m.mtype))
    }

    /// `msgsnd`—sends a [`MsgBuf`] as it is, without copying; waits while
    /// the queue is full.
    ///
    /// # Errors
    /// As [`send`](MessageQueue::send).
    #[doc(alias = "msgsnd")]
    pub fn send_buf(&self, msg: &MsgBuf) -> Result<()> {
        self.send_buf_deadline(msg, Deadline::NEVER)
    }

    /// `msgsnd(IPC_NOWAIT)` of a [`MsgBuf`].
    ///
    /// # Errors
    /// As [`try_send`](MessageQueue::try_send).
    pub fn try_send_buf(&self, msg: &MsgBuf) -> Result<()> {
        self.send_buf_deadline(msg, Deadline::now())
    }

    /// Sends a [`MsgBuf`], waiting at most `timeout` for room.
    ///
    /// # Errors
    /// As [`send_timeout`](MessageQueue::send_timeout).
    pub fn send_buf_timeout(&self, msg: &MsgBuf, timeout: Duration) -> Result<()> {
        self.send_buf_deadline(msg, Deadline::after(Some(timeout)))
    }

    fn send_buf_deadline(&self, msg: &MsgBuf, deadline: Deadline) -> Result<()> {
        self.send_core(msg.mtype(), msg.len, deadline, |flags| {
            sys::msgsnd_raw(self.id, &msg.words, msg.len, flags)
        })
    }

    /// `msgrcv`—receives straight into a [`MsgBuf`] (body, length and type),
    /// without copying; waits while no message matches.
    ///
    /// # Errors
    /// As [`recv`](MessageQueue::recv); a message longer than the buffer's
    /// capacity is [`Error::BufferTooSmall`] and stays queued.
    #[doc(alias = "msgrcv")]
    pub fn recv_buf(&self, selector: TypeSelector, msg: &mut MsgBuf) -> Result<()> {
        self.recv_buf_deadline(selector, msg, Deadline::NEVER)
    }

    /// `msgrcv(IPC_NOWAIT)` into a [`MsgBuf`].
    ///
    /// # Errors
    /// As [`try_recv`](MessageQueue::try_recv).
    pub fn try_recv_buf(&self, selector: TypeSelector, msg: &mut MsgBuf) -> Result<()> {
        self.recv_buf_deadline(selector, msg, Deadline::now())
    }

    /// Receives into a [`MsgBuf`], waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`recv_timeout`](MessageQueue::recv_timeout).
    pub fn recv_buf_timeout(
        &self,
        selector: TypeSelector,
        msg: &mut MsgBuf,
        timeout: Duration,
    ) -> Result<()> {
        self.recv_buf_deadline(selector, msg, Deadline::after(Some(timeout)))
    }

    fn recv_buf_deadline(
        &self,
        selector: TypeSelector,
        msg: &mut MsgBuf,
        deadline: Deadline,
    ) -> Result<()> {
        let cap = msg.capacity.min(isize::MAX as usize);
        let words = &mut msg.words;
        let got = self.recv_core(selector, cap, deadline, 0, |msgtyp, flags| {
            sys::msgrcv_raw(self.id, words, cap, msgtyp, flags)
        })?;
        msg.len = got.len;
        Ok(())
    }

    fn recv_deadline(
        &self,
        selector: TypeSelector,
        buf: &mut [u8],
        deadline: Deadline,
        extra_flags: i32,
    ) -> Result<Received> {
        // msgrcv takes a size_t but rejects sizes over LONG_MAX; a buffer that
        // large cannot exist, this only keeps the cast honest.
        let cap = buf.len().min(isize::MAX as usize);
        let buf = &mut buf[..cap];
        self.recv_core(selector, cap, deadline, extra_flags, |msgtyp, flags| {
            sys::msgrcv(self.id, buf, msgtyp, flags)
        })
    }

    /// The receive loop around one-attempt `msgrcv` calls made by `attempt`
    /// (given msgtyp and flags) into a buffer of `cap` body bytes.
    fn recv_core(
        &self,
        selector: TypeSelector,
        cap: usize,
        deadline: Deadline,
        extra_flags: i32,
        mut attempt: impl FnMut(i64, i32) -> io::Result<(usize, i64)>,
    ) -> Result<Received> {
        let msgtyp = selector.msgtyp(&self.object)?;
        let blocking = deadline == Deadline::NEVER;
        let flags = extra_flags | if blocking { 0 } else { libc::IPC_NOWAIT };
        let mut backoff = BACKOFF_MIN;
        loop {
            match attempt(msgtyp, flags) {
                Ok((len, mtype)) => return Ok(Received { len, mtype }),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) if blocking || !deadline.expired() => {}
                    Some(libc::ENOMSG) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                        if deadline.remaining() == Some(Duration::ZERO) {
                            return Err(if deadline.timeout() == Duration::ZERO {
                                Error::Empty {
                                    object: self.object.clone(),
                                }
                            } else {
                                Error::TimedOut {
                                    object: self.object.clone(),
                                    waiting_for: "a message".into(),
                                    timeout: deadline.timeout(),
                                }
                            });
                        }
                        sleep_backoff(&mut backoff, deadline);
                    }
                    Some(libc::E2BIG) => {
                        let needed = self.peek_len(msgtyp).unwrap_or(0).max(cap + 1);
                        return Err(Error::BufferTooSmall {
                            object: self.object.clone(),
                            needed,
                            capacity: cap,
                        });
                    }
                    // EIDRM while waiting; EINVAL once the id names no queue.
                    Some(libc::EIDRM) | Some(libc::EINVAL) => return Err(self.removed("msgrcv")),
                    _ => return Err(Error::os(&self.object, "msgrcv", e)),
                },
            }
        }
    }

    /// The length of the message `msgtyp` selects, learned without taking it
    /// (`MSG_COPY` copies the message at an index; needs a kernel with
    /// `CONFIG_CHECKPOINT_RESTORE`). `None` when it cannot be learned.
    fn peek_len(&self, msgtyp: i64) -> Option<usize> {
        // Scanning is for error reports only: bound the work.
        const MAX_SCAN: u64 = 4096;
        let st = self.stat().ok()?;
        // Every queued message fitted in msg_qbytes when it was sent.
        let mut scratch = vec![0u8; usize::try_from(st.max_bytes.min(64 << 20)).ok()?];
        let flags = libc::IPC_NOWAIT | MSG_COPY;
        let mut best: Option<(i64, usize)> = None;
        for index in 0..st.messages.min(MAX_SCAN) {
            let (len, mtype) = sys::msgrcv(self.id, &mut scratch, index as i64, flags).ok()?;
            match msgtyp {
                0 => return Some(len),
                n if n > 0 && mtype == n => return Some(len),
                n if n < 0 && mtype <= -n && best.is_none_or(|(t, _)| mtype < t) => {
                    best = Some((mtype, len));
                }
                _ => {}
            }
        }
        best.map(|(_, len)| len)
    }

    /// `msgctl(IPC_STAT)`—the queue's state: messages and bytes queued, size,
    /// last sender and receiver, owner and mode.
    ///
    /// # Errors
    /// [`Error::Removed`] when the queue is gone; [`Error::PermissionDenied`]
    /// without read permission.
    ///
    /// # References
    /// [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html)
    #[doc(alias = "IPC_STAT")]
    pub fn stat(&self) -> Result<Stats> {
        let st =
            sys::msgctl_stat(self.id).map_err(|e| map_ctl(&self.object, "msgctl(IPC_STAT)", e))?;
        Ok(Stats {
            key: if st.key == 0 {
                Key::PRIVATE
            } else {
                Key::from_raw(st.key).unwrap_or(self.key)
            },
            id: self.id,
            messages: st.qnum,
            bytes: st.cbytes,
            max_bytes: st.qbytes,
            last_sender: pid(st.lspid),
            last_receiver: pid(st.lrpid),
            last_send: time(st.stime),
            last_receive: time(st.rtime),
            last_change: time(st.ctime),
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            creator_uid: st.cuid,
            creator_gid: st.cgid,
        })
    }

    /// `msgctl(IPC_SET)`—sets the most bytes the queue holds (`msg_qbytes`).
    ///
    /// Going over `msgmnb` (`/proc/sys/kernel/msgmnb`) needs
    /// `CAP_SYS_RESOURCE`; with it (see [`has_cap_sys_resource`]) any size is
    /// passed to the kernel.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: `bytes` is 0.
    /// - [`Error::LimitExceeded`] naming `msgmnb`, its value and source: over
    ///   `msgmnb` without `CAP_SYS_RESOURCE` (checked before the call).
    /// - [`Error::PermissionDenied`]: the caller neither owns nor created the
    ///   queue.
    /// - [`Error::Removed`]: the queue is gone.
    #[doc(alias = "msg_qbytes")]
    pub fn set_max_bytes(&self, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Err(Error::InvalidArgument {
                object: self.object.clone(),
                reason: "a queue size (msg_qbytes) of 0 bytes could hold no message".into(),
            });
        }
        let mnb = MSGMNB.read()?;
        let capable = has_cap_sys_resource();
        if bytes > mnb && !capable {
            return Err(msgmnb_exceeded(&self.object, bytes, mnb));
        }
        sys::msgctl_set_qbytes(self.id, bytes).map_err(|e| {
            if e.raw_os_error() == Some(libc::EPERM) && bytes > mnb {
                msgmnb_exceeded(&self.object, bytes, mnb)
            } else {
                map_ctl(&self.object, "msgctl(IPC_SET)", e)
            }
        })
    }

    /// `msgctl(IPC_RMID)`—removes the queue now; waiting senders and
    /// receivers wake with [`Error::Removed`]. Any handle may call it (the
    /// kernel allows the owner, the creator and privileged callers).
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] for other callers; [`Error::Removed`] when
    /// it is gone already.
    #[doc(alias = "IPC_RMID")]
    pub fn remove(mut self) -> Result<()> {
        self.owner = false;
        sys::msgctl_rmid(self.id).map_err(|e| map_ctl(&self.object, "msgctl(IPC_RMID)", e))
    }
}

fn msgmnb_exceeded(object: &str, bytes: u64, mnb: u64) -> Error {
    Error::LimitExceeded {
        object: object.to_owned(),
        what: "queue size (msg_qbytes, bytes)".into(),
        requested: bytes,
        limit: format!("{} (without CAP_SYS_RESOURCE)", MSGMNB.name),
        max: mnb,
        source_path: MSGMNB.path.into(),
    }
}

fn map_ctl(object: &str, syscall: &'static str, e: io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::EIDRM) => Error::Removed {
            object: object.to_owned(),
            syscall,
        },
        _ => Error::os(object, syscall, e),
    }
}

/// Sleeps for the current backoff (never past the deadline) and doubles it.
fn sleep_backoff(backoff: &mut Duration, deadline: Deadline) {
    let nap = match deadline.remaining() {
        Some(left) => (*backoff).min(left),
        None => *backoff,
    };
    std::thread::sleep(nap);
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        if self.owner {
            let _ = sys::msgctl_rmid(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_map_to_msgtyp() {
        assert_eq!(TypeSelector::Any.msgtyp("q").unwrap(), 0);
        assert_eq!(TypeSelector::Exactly(3).msgtyp("q").unwrap(), 3);
        assert_eq!(TypeSelector::LowestUpTo(3).msgtyp("q").unwrap(), -3);
        assert!(TypeSelector::Exactly(0).msgtyp("q").is_err());
        assert!(TypeSelector::LowestUpTo(-1).msgtyp("q").is_err());
        assert_eq!(
            TypeSelector::from_msgtyp(Some(-4)),
            TypeSelector::LowestUpTo(4)
        );
        assert_eq!(TypeSelector::from_msgtyp(None), TypeSelector::Any);
    }
}
