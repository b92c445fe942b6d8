//! POSIX message queues: `mq_open`, `mq_timedsend`, `mq_timedreceive`,
//! `mq_getattr`, `mq_unlink`.
//!
//! A queue is named `/NAME` (checked by
//! [`validate_posix_name`]), holds at most
//! `capacity` messages (`mq_maxmsg`) of at most `msgsize` bytes
//! (`mq_msgsize`), and hands out the oldest message of the highest priority
//! first. On Linux the queue descriptor is a file descriptor: the handle
//! implements [`AsFd`] and can be polled (readable: a message is queued;
//! writable: there is room).
//!
//! ```
//! use ipcx::mq::posix::MessageQueue;
//!
//! let name = format!("/ipcx-doc-{}", std::process::id());
//! let q = MessageQueue::builder(&name).capacity(4).msgsize(64).create()?;
//! q.send(b"low", 1)?;
//! q.send(b"high", 5)?;
//! let mut buf = [0u8; 64];
//! let (len, prio) = q.recv(&mut buf)?;
//! assert_eq!((&buf[..len], prio), (&b"high"[..], 5));
//! // Dropping `q` unlinks the queue: this handle created it.
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # Limits
//! Without `CAP_SYS_RESOURCE` a new queue's capacity is bounded by
//! `/proc/sys/fs/mqueue/msg_max` and its message size by `msgsize_max`; with
//! it (see [`has_cap_sys_resource`]) by the
//! kernel's hard limits [`HARD_MSGMAX`] and [`HARD_MSGSIZEMAX`]. Every user's
//! queues together may charge at most `RLIMIT_MSGQUEUE` bytes, privileged or
//! not; a queue charges about `capacity × (msgsize + 96)` bytes (see
//! [`queue_charge`]). All three are checked before `mq_open`; an `EMFILE` from
//! `mq_open` while the process can still open files is reported as the
//! `RLIMIT_MSGQUEUE` quota (taken by this user's other queues), not as "too
//! many open files".
//!
//! # References
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
//! [mq_open(3)](https://man7.org/linux/man-pages/man3/mq_open.3.html),
//! [mq_send(3)](https://man7.org/linux/man-pages/man3/mq_send.3.html),
//! [mq_receive(3)](https://man7.org/linux/man-pages/man3/mq_receive.3.html),
//! [mq_getattr(3)](https://man7.org/linux/man-pages/man3/mq_getattr.3.html),
//! [mq_unlink(3)](https://man7.org/linux/man-pages/man3/mq_unlink.3.html)

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::process::{getrlimit, Resource};

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::key::validate_posix_name;
use crate::limits::{read_number, ProcLimit, MQ_MSGSIZE_MAX, MQ_MSG_MAX, MQ_QUEUES_MAX};
use crate::mq::{has_cap_sys_resource, CreationMode};
use crate::sys::mqueue as sys;

/// The kernel's hard cap on a queue's capacity (`HARD_MSGMAX`), which even
/// `CAP_SYS_RESOURCE` cannot pass, in messages.
pub const HARD_MSGMAX: u64 = 65_536;
/// The kernel's hard cap on a queue's message size (`HARD_MSGSIZEMAX`), in
/// bytes (16 MiB).
pub const HARD_MSGSIZEMAX: u64 = 16 * 1024 * 1024;
/// Priorities are below this (`MQ_PRIO_MAX` on Linux, 32768).
pub const MQ_PRIO_MAX: u32 = 32_768;

/// Default capacity of a new queue, messages.
const MSG_DEFAULT: ProcLimit = ProcLimit {
    name: "msg_default",
    path: "/proc/sys/fs/mqueue/msg_default",
};
/// Default message size of a new queue, bytes.
const MSGSIZE_DEFAULT: ProcLimit = ProcLimit {
    name: "msgsize_default",
    path: "/proc/sys/fs/mqueue/msgsize_default",
};

/// Kernel bookkeeping per message and per priority level (64-bit `struct
/// msg_msg` and `struct posix_msg_tree_node`, 48 bytes each).
const PER_MESSAGE_OVERHEAD: u64 = 48;

/// The bytes a queue of `capacity` messages of `msgsize` bytes charges against
/// the owner's `RLIMIT_MSGQUEUE`, by the kernel's formula (`mqueue_get_inode`,
/// 64-bit): `capacity × 48 + min(capacity, MQ_PRIO_MAX) × 48 + capacity × msgsize`.
pub fn queue_charge(capacity: u64, msgsize: u64) -> u64 {
    capacity
        .saturating_mul(PER_MESSAGE_OVERHEAD)
        .saturating_add(capacity.min(u64::from(MQ_PRIO_MAX)) * PER_MESSAGE_OVERHEAD)
        .saturating_add(capacity.saturating_mul(msgsize))
}

/// A queue's attributes, from `mq_getattr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    /// Most messages the queue holds (`mq_maxmsg`).
    pub capacity: usize,
    /// Largest message in bytes (`mq_msgsize`).
    pub msgsize: usize,
    /// Messages queued now (`mq_curmsgs`).
    pub messages: usize,
    /// Whether the descriptor is non-blocking (`O_NONBLOCK` in `mq_flags`);
    /// ipcx opens blocking descriptors and gets non-blocking behaviour per
    /// call.
    pub nonblocking: bool,
}

/// Builds a [`MessageQueue`]: name, capacity, message size, mode, creation mode.
#[derive(Debug, Clone)]
pub struct Builder {
    name: String,
    capacity: Option<u64>,
    msgsize: Option<u64>,
    mode: u32,
}

impl Builder {
    /// Most messages the new queue holds (`mq_maxmsg`); default
    /// `/proc/sys/fs/mqueue/msg_default`. Ignored when opening.
    pub fn capacity(mut self, messages: u64) -> Self {
        self.capacity = Some(messages);
        self
    }

    /// Largest message of the new queue in bytes (`mq_msgsize`); default
    /// `/proc/sys/fs/mqueue/msgsize_default`. Ignored when opening.
    pub fn msgsize(mut self, bytes: u64) -> Self {
        self.msgsize = Some(bytes);
        self
    }

    /// Permission bits for a created queue (default `0o600`, owner only).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }

    /// `mq_open(O_CREAT | O_EXCL)`—creates a new queue, owned (unlinked on
    /// drop) by the returned handle.
    ///
    /// # Errors
    /// As [`Builder::build`] with [`CreationMode::CreateExclusive`].
    pub fn create(self) -> Result<MessageQueue> {
        self.build(CreationMode::CreateExclusive)
    }

    /// `mq_open`—opens an existing queue; the handle never unlinks it.
    ///
    /// # Errors
    /// As [`Builder::build`] with [`CreationMode::Open`].
    pub fn open(self) -> Result<MessageQueue> {
        self.build(CreationMode::Open)
    }

    /// Opens the queue, creating it if there is none (the capacity and size
    /// apply only if it is created).
    ///
    /// # Errors
    /// As [`Builder::build`] with [`CreationMode::OpenOrCreate`].
    pub fn open_or_create(self) -> Result<MessageQueue> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// `mq_open`—creates or opens the queue as `creation` says, read-write,
    /// close-on-exec.
    ///
    /// # Errors
    /// - [`Error::InvalidName`]: the name breaks the POSIX name rules.
    /// - [`Error::InvalidArgument`]: a capacity or message size of 0.
    /// - [`Error::LimitExceeded`] naming the limit, its value and source:
    ///   capacity over `msg_max` or size over `msgsize_max` (without
    ///   `CAP_SYS_RESOURCE`), over [`HARD_MSGMAX`] / [`HARD_MSGSIZEMAX`] (with
    ///   it), the queue's charge over `RLIMIT_MSGQUEUE` (alone, before the
    ///   call, or with the user's other queues, from `EMFILE`), or the system
    ///   holding `queues_max` queues (`ENOSPC`).
    /// - [`Error::AlreadyExists`] / [`Error::NotFound`]: as the creation mode
    ///   says.
    /// - [`Error::PermissionDenied`]: the queue's mode refuses the caller.
    ///
    /// # References
    /// [mq_open(3)](https://man7.org/linux/man-pages/man3/mq_open.3.html)
    #[doc(alias = "mq_open")]
    pub fn build(self, creation: CreationMode) -> Result<MessageQueue> {
        validate_posix_name(&self.name)?;
        let object = format!("POSIX message queue {}", self.name);
        let cname = CString::new(self.name.as_str()).map_err(|_| Error::InvalidName {
            name: self.name.clone(),
            reason: "a POSIX IPC name cannot contain a NUL byte".into(),
        })?;
        let base = libc::O_RDWR | libc::O_CLOEXEC;
        let (fd, owner) = match creation {
            CreationMode::Open => (open(&cname, base, &object)?, false),
            CreationMode::CreateExclusive => (self.create_fd(&cname, base, &object)?, true),
            CreationMode::OpenOrCreate => loop {
                match self.create_fd(&cname, base, &object) {
                    Ok(fd) => break (fd, true),
                    Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                match open(&cname, base, &object) {
                    Ok(fd) => break (fd, false),
                    // Unlinked between the two calls: try creating again.
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                }
            },
        };
        let attr = sys::mq_getattr(fd.as_fd()).map_err(|e| Error::os(&object, "mq_getattr", e))?;
        Ok(MessageQueue {
            fd,
            name: cname,
            object,
            owner,
            capacity: attr.maxmsg as usize,
            msgsize: attr.msgsize as usize,
        })
    }

    fn create_fd(&self, cname: &CString, base: i32, object: &str) -> Result<OwnedFd> {
        let capacity = match self.capacity {
            Some(c) => c,
            None => read_number(std::path::Path::new(MSG_DEFAULT.path)).unwrap_or(10),
        };
        let msgsize = match self.msgsize {
            Some(s) => s,
            None => read_number(std::path::Path::new(MSGSIZE_DEFAULT.path)).unwrap_or(8192),
        };
        check_attr(object, capacity, msgsize)?;
        let charge = queue_charge(capacity, msgsize);
        let rlimit = getrlimit(Resource::Msgqueue).current;
        if let Some(max) = rlimit {
            if charge > max {
                return Err(rlimit_exceeded(object, charge, max, false));
            }
        }
        sys::mq_open(
            cname,
            base | libc::O_CREAT | libc::O_EXCL,
            self.mode,
            Some((capacity as i64, msgsize as i64)),
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EMFILE) if can_open_files() => {
                rlimit_exceeded(object, charge, rlimit.unwrap_or(u64::MAX), true)
            }
            Some(libc::ENOSPC) => {
                let max = MQ_QUEUES_MAX.read().unwrap_or(0);
                Error::LimitExceeded {
                    object: object.to_owned(),
                    what: "number of POSIX message queues".into(),
                    requested: max + 1,
                    limit: MQ_QUEUES_MAX.name.into(),
                    max,
                    source_path: MQ_QUEUES_MAX.path.into(),
                }
            }
            // CapEff showed CAP_SYS_RESOURCE but the kernel did not honour
            // it (a user namespace): the /proc limits applied after all.
            Some(libc::EINVAL) => check_proc_limits(object, capacity, msgsize)
                .err()
                .unwrap_or_else(|| Error::os(object, "mq_open", e)),
            _ => Error::os(object, "mq_open", e),
        })
    }
}

/// Checks a new queue's capacity and message size against the limits that
/// apply to the caller.
fn check_attr(object: &str, capacity: u64, msgsize: u64) -> Result<()> {
    if capacity == 0 || msgsize == 0 {
        return Err(Error::InvalidArgument {
            object: object.to_owned(),
            reason: format!(
                "capacity ({capacity} messages) and msgsize ({msgsize} bytes) must both be at least 1"
            ),
        });
    }
    let exceeded = |what: &str, requested: u64, limit: &str, max: u64, source: &str| {
        exceeded(object, what, requested, limit, max, source)
    };
    let hard_source =
        "kernel constant; CAP_SYS_RESOURCE lifts the /proc/sys/fs/mqueue limit up to it";
    if has_cap_sys_resource() {
        if capacity > HARD_MSGMAX {
            return Err(exceeded(
                "capacity (messages)",
                capacity,
                "HARD_MSGMAX",
                HARD_MSGMAX,
                hard_source,
            ));
        }
        if msgsize > HARD_MSGSIZEMAX {
            return Err(exceeded(
                "message size (bytes)",
                msgsize,
                "HARD_MSGSIZEMAX",
                HARD_MSGSIZEMAX,
                hard_source,
            ));
        }
    } else {
        check_proc_limits(object, capacity, msgsize)?;
    }
    Ok(())
}

/// Checks against `/proc/sys/fs/mqueue/msg_max` and `msgsize_max`, the limits
/// of callers without `CAP_SYS_RESOURCE`.
fn check_proc_limits(object: &str, capacity: u64, msgsize: u64) -> Result<()> {
    let exceeded = |what: &str, requested: u64, limit: &str, max: u64, source: &str| {
        exceeded(object, what, requested, limit, max, source)
    };
    let max = MQ_MSG_MAX.read()?;
    if capacity > max {
        return Err(exceeded(
            "capacity (messages)",
            capacity,
            MQ_MSG_MAX.name,
            max,
            MQ_MSG_MAX.path,
        ));
    }
    let max = MQ_MSGSIZE_MAX.read()?;
    if msgsize > max {
        return Err(exceeded(
            "message size (bytes)",
            msgsize,
            MQ_MSGSIZE_MAX.name,
            max,
            MQ_MSGSIZE_MAX.path,
        ));
    }
    Ok(())
}

fn exceeded(
    object: &str,
    what: &str,
    requested: u64,
    limit: &str,
    max: u64,
    source: &str,
) -> Error {
    Error::LimitExceeded {
        object: object.to_owned(),
        what: what.to_owned(),
        requested,
        limit: limit.to_owned(),
        max,
        source_path: source.to_owned(),
    }
}

fn rlimit_exceeded(object: &str, charge: u64, max: u64, with_others: bool) -> Error {
    Error::LimitExceeded {
        object: object.to_owned(),
        what: if with_others {
            "memory charge (bytes, added to this user's other queues)".into()
        } else {
            "memory charge (bytes, capacity × (msgsize + overhead))".into()
        },
        requested: charge,
        limit: "RLIMIT_MSGQUEUE".into(),
        max,
        source_path: "getrlimit(2)".into(),
    }
}

/// Whether the process can still open a file: tells `mq_open`'s `EMFILE` for
/// the `RLIMIT_MSGQUEUE` quota apart from a full descriptor table.
fn can_open_files() -> bool {
    rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .is_ok()
}

fn open(cname: &CString, oflag: i32, object: &str) -> Result<OwnedFd> {
    sys::mq_open(cname, oflag, 0, None).map_err(|e| Error::os(object, "mq_open", e))
}

/// An absolute `CLOCK_REALTIME` time `left` from now, for `mq_timed*`.
fn realtime_after(left: Duration) -> libc::timespec {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    let mut sec = now
        .tv_sec
        .saturating_add(left.as_secs().min(i64::MAX as u64) as i64);
    let mut nsec = now.tv_nsec + i64::from(left.subsec_nanos());
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    }
}

/// A time already past, for the non-blocking forms: the kernel then fails at
/// once with `ETIMEDOUT` instead of waiting, without changing the
/// descriptor's `O_NONBLOCK` flag (which other handles of the same open file
/// would see).
const PAST: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 0,
};

/// A POSIX message queue, open for sending and receiving.
///
/// The handle that created the queue unlinks its name on drop unless
/// [`keep`](MessageQueue::keep) was called; the descriptor is always closed.
#[derive(Debug)]
pub struct MessageQueue {
    fd: OwnedFd,
    name: CString,
    object: String,
    owner: bool,
    capacity: usize,
    msgsize: usize,
}

impl MessageQueue {
    /// Starts building a queue named `name` (`/NAME`): mode `0o600`, the
    /// system's default capacity and message size.
    pub fn builder(name: impl Into<String>) -> Builder {
        Builder {
            name: name.into(),
            capacity: None,
            msgsize: None,
            mode: 0o600,
        }
    }

    /// The queue's name, with its leading slash.
    pub fn name(&self) -> &str {
        self.name.to_str().unwrap_or_default()
    }

    /// Whether this handle unlinks the queue on drop.
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Leaves the queue's name in place when this handle is dropped.
    pub fn keep(&mut self) {
        self.owner = false;
    }

    /// Most messages the queue holds (`mq_maxmsg`).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Largest message in bytes (`mq_msgsize`); also the smallest receive
    /// buffer the kernel accepts.
    pub fn msgsize(&self) -> usize {
        self.msgsize
    }

    /// `mq_getattr`—the queue's capacity, message size and messages queued.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails (it cannot for a live descriptor).
    ///
    /// # References
    /// [mq_getattr(3)](https://man7.org/linux/man-pages/man3/mq_getattr.3.html)
    #[doc(alias = "mq_getattr")]
    pub fn attributes(&self) -> Result<Attributes> {
        let a = sys::mq_getattr(self.fd.as_fd())
            .map_err(|e| Error::os(&self.object, "mq_getattr", e))?;
        Ok(Attributes {
            capacity: a.maxmsg as usize,
            msgsize: a.msgsize as usize,
            messages: a.curmsgs as usize,
            nonblocking: a.flags & i64::from(libc::O_NONBLOCK) != 0,
        })
    }

    /// `mq_send`—sends `data` with priority `prio` (0 to 32767, higher is
    /// received first), waiting while the queue is full.
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`]: `data` is over the queue's `mq_msgsize`.
    /// - [`Error::InvalidArgument`]: `prio` is [`MQ_PRIO_MAX`] or more.
    ///
    /// # References
    /// [mq_send(3)](https://man7.org/linux/man-pages/man3/mq_send.3.html)
    #[doc(alias = "mq_send")]
    pub fn send(&self, data: &[u8], prio: u32) -> Result<()> {
        self.send_deadline(data, prio, Deadline::NEVER)
    }

    /// `mq_timedsend` with a time already past—sends if there is room now.
    ///
    /// # Errors
    /// [`Error::Full`] when the queue is full (nothing was sent); else as
    /// [`send`](MessageQueue::send).
    pub fn try_send(&self, data: &[u8], prio: u32) -> Result<()> {
        self.send_deadline(data, prio, Deadline::now())
    }

    /// `mq_timedsend`—sends, waiting at most `timeout` for room. The absolute
    /// `CLOCK_REALTIME` time the call needs is computed from a monotonic
    /// deadline before every attempt, so neither `EINTR` nor a clock change
    /// stretches the wait.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when there was no room in time; else as
    /// [`send`](MessageQueue::send).
    ///
    /// # References
    /// [mq_send(3)](https://man7.org/linux/man-pages/man3/mq_send.3.html)
    #[doc(alias = "mq_timedsend")]
    pub fn send_timeout(&self, data: &[u8], prio: u32, timeout: Duration) -> Result<()> {
        self.send_deadline(data, prio, Deadline::after(Some(timeout)))
    }

    fn send_deadline(&self, data: &[u8], prio: u32, deadline: Deadline) -> Result<()> {
        if data.len() > self.msgsize {
            return Err(Error::MessageTooLarge {
                object: self.object.clone(),
                len: data.len(),
                max: self.msgsize,
                limit_source: "the queue's mq_msgsize".into(),
            });
        }
        if prio >= MQ_PRIO_MAX {
            return Err(Error::InvalidArgument {
                object: self.object.clone(),
                reason: format!("priority {prio} is over the largest, {}", MQ_PRIO_MAX - 1),
            });
        }
        loop {
            let ts = timespec_for(deadline);
            match sys::mq_timedsend(self.fd.as_fd(), data, prio, ts.as_ref()) {
                Ok(()) => return Ok(()),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) | Some(libc::ETIMEDOUT) | Some(libc::EAGAIN)
                        if !deadline.expired() => {}
                    Some(libc::EINTR) | Some(libc::ETIMEDOUT) | Some(libc::EAGAIN) => {
                        return Err(self.expired(deadline, "room in the queue", true))
                    }
                    _ => return Err(Error::os(&self.object, "mq_timedsend", e)),
                },
            }
        }
    }

    fn expired(&self, deadline: Deadline, waiting_for: &str, sending: bool) -> Error {
        let object = self.object.clone();
        if deadline.timeout() == Duration::ZERO {
            if sending {
                Error::Full { object }
            } else {
                Error::Empty { object }
            }
        } else {
            Error::TimedOut {
                object,
                waiting_for: waiting_for.into(),
                timeout: deadline.timeout(),
            }
        }
    }

    /// `mq_receive`—receives the oldest message of the highest priority into
    /// `buf`, waiting while the queue is empty. Returns its length and
    /// priority.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when `buf` is smaller than the queue's
    /// `mq_msgsize` (the kernel refuses such buffers whatever the next
    /// message's size; checked before the call, nothing is dequeued).
    ///
    /// # References
    /// [mq_receive(3)](https://man7.org/linux/man-pages/man3/mq_receive.3.html)
    #[doc(alias = "mq_receive")]
    pub fn recv(&self, buf: &mut [u8]) -> Result<(usize, u32)> {
        self.recv_deadline(buf, Deadline::NEVER)
    }

    /// `mq_timedreceive` with a time already past—receives if a message is
    /// queued now.
    ///
    /// # Errors
    /// [`Error::Empty`] when the queue is empty; else as
    /// [`recv`](MessageQueue::recv).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<(usize, u32)> {
        self.recv_deadline(buf, Deadline::now())
    }

    /// `mq_timedreceive`—receives, waiting at most `timeout` (the absolute
    /// time is recomputed from a monotonic deadline before every attempt).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when nothing arrived in time; else as
    /// [`recv`](MessageQueue::recv).
    ///
    /// # References
    /// [mq_receive(3)](https://man7.org/linux/man-pages/man3/mq_receive.3.html)
    #[doc(alias = "mq_timedreceive")]
    pub fn recv_timeout(&self, buf: &mut [u8], timeout: Duration) -> Result<(usize, u32)> {
        self.recv_deadline(buf, Deadline::after(Some(timeout)))
    }

    /// Receives into a new `Vec` of the message's exact length; returns the
    /// body and its priority. `timeout` `None` waits without limit.
    ///
    /// # Errors
    /// As [`recv_timeout`](MessageQueue::recv_timeout).
    pub fn recv_vec(&self, timeout: Option<Duration>) -> Result<(Vec<u8>, u32)> {
        let mut buf = vec![0u8; self.msgsize];
        let (len, prio) = self.recv_deadline(&mut buf, Deadline::after(timeout))?;
        buf.truncate(len);
        Ok((buf, prio))
    }

    fn recv_deadline(&self, buf: &mut [u8], deadline: Deadline) -> Result<(usize, u32)> {
        if buf.len() < self.msgsize {
            return Err(Error::BufferTooSmall {
                object: self.object.clone(),
                needed: self.msgsize,
                capacity: buf.len(),
            });
        }
        loop {
            let ts = timespec_for(deadline);
            match sys::mq_timedreceive(self.fd.as_fd(), buf, ts.as_ref()) {
                Ok(got) => return Ok(got),
                Err(e) => match e.raw_os_error() {
                    Some(libc::EINTR) | Some(libc::ETIMEDOUT) | Some(libc::EAGAIN)
                        if !deadline.expired() => {}
                    Some(libc::EINTR) | Some(libc::ETIMEDOUT) | Some(libc::EAGAIN) => {
                        return Err(self.expired(deadline, "a message", false))
                    }
                    _ => return Err(Error::os(&self.object, "mq_timedreceive", e)),
                },
            }
        }
    }

    /// `mq_unlink`—removes the queue's name now; open descriptors keep
    /// working until closed. Any handle may call it.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the name is gone already;
    /// [`Error::PermissionDenied`] without write permission on the mqueue
    /// directory.
    ///
    /// # References
    /// [mq_unlink(3)](https://man7.org/linux/man-pages/man3/mq_unlink.3.html)
    #[doc(alias = "mq_unlink")]
    pub fn unlink(mut self) -> Result<()> {
        self.owner = false;
        sys::mq_unlink(&self.name).map_err(|e| Error::os(&self.object, "mq_unlink", e))
    }

    /// `mq_unlink` by name, without opening the queue.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a bad name; else as
    /// [`unlink`](MessageQueue::unlink).
    pub fn unlink_name(name: &str) -> Result<()> {
        validate_posix_name(name)?;
        let object = format!("POSIX message queue {name}");
        let cname = CString::new(name).map_err(|_| Error::InvalidName {
            name: name.to_owned(),
            reason: "a POSIX IPC name cannot contain a NUL byte".into(),
        })?;
        sys::mq_unlink(&cname).map_err(|e| Error::os(object, "mq_unlink", e))
    }
}

/// The timeout argument for one attempt: none (block), a past time
/// (non-blocking), or the deadline on the realtime clock.
fn timespec_for(deadline: Deadline) -> Option<libc::timespec> {
    match deadline.remaining() {
        None => None,
        Some(Duration::ZERO) => Some(PAST),
        Some(left) => Some(realtime_after(left)),
    }
}

impl AsFd for MessageQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        if self.owner {
            let _ = sys::mq_unlink(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charge_follows_the_kernel_formula() {
        assert_eq!(queue_charge(10, 8192), 10 * 48 + 10 * 48 + 10 * 8192);
        assert_eq!(queue_charge(40_000, 1), 40_000 * 48 + 32_768 * 48 + 40_000);
        assert_eq!(queue_charge(u64::MAX, u64::MAX), u64::MAX);
    }
}
