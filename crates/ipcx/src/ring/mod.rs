//! A single-producer single-consumer ring of variable-size records in shared
//! memory: the fastest message path ipcx ships.
//!
//! A [`Ring`] lives in a POSIX shared memory object (`/dev/shm/NAME`, made by
//! [`RingBuilder::create`]) or in an anonymous, sealed memfd
//! ([`Ring::anonymous`]) whose descriptor is handed to the peer
//! ([`Ring::from_fd`]). One [`Producer`] and one [`Consumer`] may exist at a
//! time; each claims its side in the header, recording its pid and process
//! start time, so that the other side notices a normal close or a death
//! ([`Error::Disconnected`], after the records
//! committed before it have been delivered).
//!
//! ```
//! use ipcx::ring::Ring;
//! let ring = Ring::anonymous(4096)?;
//! let (mut tx, mut rx) = (ring.producer()?, ring.consumer()?);
//! // Zero-copy: write in place, commit; read in place, release on drop.
//! let mut grant = tx.reserve(5)?;
//! grant.copy_from_slice(b"hello");
//! grant.commit();
//! assert_eq!(&*rx.recv_borrowed()?, b"hello");
//! // Copying.
//! tx.send(b"world")?;
//! let mut buf = Vec::new();
//! rx.recv(&mut buf)?;
//! assert_eq!(buf, b"world");
//! assert!(matches!(rx.try_recv(&mut buf), Err(ipcx::Error::Empty { .. })));
//! drop(tx);
//! assert!(matches!(rx.recv(&mut buf), Err(ipcx::Error::Disconnected { .. })));
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # Layout and protocol
//! See the `layout`, `index` and `wait` source files: a 1024-byte versioned
//! header (checked on open: [`Error::VersionMismatch`],
//! [`Error::InvalidSize`]), head and tail on
//! separate 128-byte lines, records of an 8-byte header plus payload rounded
//! to 8 bytes, never split (a padding record fills the end when needed). A
//! record holds at most half the capacity less 8 bytes.
//!
//! # Untrusted peer
//! Each side keeps its own index locally and reads the other's once per
//! attempt; indices and lengths are checked with wrapping arithmetic, and any
//! inconsistency is [`Error::Corrupted`]. A memfd
//! ring is sealed against resizing; a named ring cannot be sealed, so a
//! process with write access to `/dev/shm/NAME` could still shrink it under
//! its peer (`SIGBUS`): give named rings mode 0600 (the default).
//!
//! # References
//! [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html)

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use crate::creator::ProcessId;
use crate::error::{Error, Result};

mod atomic;
mod claim;
mod consumer;
mod index;
mod layout;
#[cfg(all(test, loom))]
mod loom_tests;
mod producer;
mod region;
#[cfg(all(test, not(loom)))]
mod tests;
mod wait;

pub use consumer::{Consumer, Record};
pub use index::validate_image;
pub use producer::{Grant, Producer};

use region::Region;

/// Default data capacity of a ring, in bytes (64 KiB).
pub const DEFAULT_CAPACITY: usize = 64 * 1024;

/// Bytes of the ring header before the data area.
pub const HEADER_SIZE: usize = layout::HEADER_SIZE;

/// A shared-memory ring: make its [`Producer`] and [`Consumer`] from it.
///
/// Cloning is cheap (the ring is reference-counted); a named ring created by
/// this process is removed from `/dev/shm` when the last handle (ring,
/// producer or consumer) is dropped, unless [`keep`](Ring::keep) was called.
#[derive(Clone)]
pub struct Ring {
    region: Arc<Region>,
    wait: WaitStrategy,
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("object", &self.region.object)
            .field("capacity", &self.region.capacity)
            .field("wait", &self.wait)
            .finish()
    }
}

/// Builds a named ring in POSIX shared memory; ends in [`create`](Self::create),
/// [`open`](Self::open) or [`open_or_create`](Self::open_or_create).
#[derive(Debug, Clone)]
pub struct RingBuilder {
    name: String,
    capacity: usize,
    wait: WaitStrategy,
    mode: u32,
}

impl RingBuilder {
    /// Data capacity in bytes, rounded up to a power of two, at least 64
    /// (default [`DEFAULT_CAPACITY`]). Used only when creating.
    pub fn capacity(mut self, bytes: usize) -> Self {
        self.capacity = bytes;
        self
    }

    /// How handles made from the ring wait (default [`WaitStrategy::Adaptive`]).
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// Permission bits of a created object (default 0600).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// `shm_open(O_CREAT|O_EXCL)`—creates the ring; this process owns the
    /// name and removes it when the last handle goes.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a bad POSIX name; [`Error::AlreadyExists`]
    /// when the name is taken; [`Error::LimitExceeded`] for a capacity over
    /// 16 GiB; [`Error::NoSpace`] when `/dev/shm` is full;
    /// [`Error::PermissionDenied`] and [`Error::Io`] for other failures.
    ///
    /// # References
    /// [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
    /// [posix_fallocate(3)](https://man7.org/linux/man-pages/man3/posix_fallocate.3.html)
    #[doc(alias = "shm_open")]
    pub fn create(self) -> Result<Ring> {
        let region = Region::create_named(&self.name, self.capacity as u64, self.mode)?;
        Ok(Ring {
            region: Arc::new(region),
            wait: self.wait,
        })
    }

    /// `shm_open`—opens an existing ring and validates its header; never
    /// removes it.
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such object;
    /// [`Error::Corrupted`] when it is not an ipcx ring;
    /// [`Error::VersionMismatch`] for another layout version;
    /// [`Error::InvalidSize`] when its size or layout sizes are wrong.
    pub fn open(self) -> Result<Ring> {
        let region = Region::open_named(&self.name)?;
        Ok(Ring {
            region: Arc::new(region),
            wait: self.wait,
        })
    }

    /// Opens the ring, or creates it when it does not exist (then this
    /// process owns it).
    ///
    /// # Errors
    /// As [`create`](Self::create) and [`open`](Self::open).
    pub fn open_or_create(self) -> Result<Ring> {
        for _ in 0..16 {
            match self.clone().create() {
                Err(Error::AlreadyExists { .. }) => {}
                other => return other,
            }
            match self.clone().open() {
                Err(Error::NotFound { .. }) => {}
                other => return other,
            }
        }
        self.open()
    }
}

impl Ring {
    /// A builder for the named ring `name` (a POSIX name such as `/jobs`).
    pub fn builder(name: &str) -> RingBuilder {
        RingBuilder {
            name: name.to_owned(),
            capacity: DEFAULT_CAPACITY,
            wait: WaitStrategy::default(),
            mode: 0o600,
        }
    }

    /// `memfd_create`—an anonymous ring of `capacity` bytes (rounded up to a
    /// power of two, at least 64) in a memfd sealed against resizing. Hand
    /// [`as_fd`](Self::as_fd) to a peer (inheritance or `SCM_RIGHTS`), which
    /// opens it with [`from_fd`](Self::from_fd).
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] for a capacity over 16 GiB;
    /// [`Error::NoSpace`] when memory is short; [`Error::Io`] otherwise.
    ///
    /// # References
    /// [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html)
    #[doc(alias = "memfd_create")]
    pub fn anonymous(capacity: usize) -> Result<Ring> {
        Ok(Ring {
            region: Arc::new(Region::create_memfd(capacity as u64)?),
            wait: WaitStrategy::default(),
        })
    }

    /// Opens a ring from a descriptor of its memory (a memfd from
    /// [`anonymous`](Self::anonymous) or a shared memory object), validating
    /// the header.
    ///
    /// # Errors
    /// As [`RingBuilder::open`].
    pub fn from_fd(fd: OwnedFd) -> Result<Ring> {
        Ok(Ring {
            region: Arc::new(Region::open_fd(fd, None, "ring (fd)".into())?),
            wait: WaitStrategy::default(),
        })
    }

    /// An in-process ring on the heap (tests and the loom model).
    #[cfg(any(test, loom))]
    pub(crate) fn in_process(capacity: u64) -> Ring {
        Ring {
            region: Arc::new(Region::heap(capacity)),
            wait: WaitStrategy::Futex,
        }
    }

    /// Claims the producer side.
    ///
    /// # Errors
    /// [`Error::AddrInUse`] when a live process (this one included) holds the
    /// producer side; a side held by a dead process is taken over.
    /// [`Error::Corrupted`] when the header's indices make no sense.
    pub fn producer(&self) -> Result<Producer> {
        Producer::new(Arc::clone(&self.region), self.wait)
    }

    /// Claims the consumer side.
    ///
    /// # Errors
    /// As [`producer`](Self::producer).
    pub fn consumer(&self) -> Result<Consumer> {
        Consumer::new(Arc::clone(&self.region), self.wait)
    }

    /// Sets the wait strategy of handles made from now on.
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// Data capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.region.capacity as usize
    }

    /// Largest record payload in bytes (half the capacity less 8).
    pub fn max_record_len(&self) -> usize {
        index::max_payload(self.region.capacity) as usize
    }

    /// The POSIX shared memory name, for a named ring.
    pub fn name(&self) -> Option<&str> {
        self.region.name()
    }

    /// The descriptor of the ring's memory (memfd or shared memory object).
    pub fn as_fd(&self) -> Option<BorrowedFd<'_>> {
        self.region.fd()
    }

    /// Leaves the named object in `/dev/shm` when the handles go, instead of
    /// removing it (only the creator removes it in any case).
    pub fn keep(&self) {
        self.region
            .unlink_on_drop
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What [`inspect`] reads from a ring's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingInfo {
    /// Data capacity in bytes.
    pub capacity: u64,
    /// The process holding the producer side, if any.
    pub producer: Option<ProcessId>,
    /// The process holding the consumer side, if any.
    pub consumer: Option<ProcessId>,
    /// The process that created the ring, if recorded.
    pub creator: Option<ProcessId>,
    /// The header's layout version.
    pub version: u32,
}

/// Reads the header of the file at `path` (for example `/dev/shm/jobs`)
/// without mapping or claiming anything: `Ok(None)` when it is not an ipcx
/// ring (too short or another magic number).
///
/// Holders are reported as recorded; check [`ProcessId::is_alive`] to tell a
/// live holder from a dead one.
///
/// # Errors
/// [`Error::NotFound`], [`Error::PermissionDenied`] or [`Error::Io`] when the
/// file cannot be opened or read (symbolic links are not followed).
pub fn inspect(path: &Path) -> Result<Option<RingInfo>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let object = format!("ring {}", path.display());
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| Error::os(&object, "open", e))?;
    let mut buf = vec![0u8; layout::HEADER_SIZE];
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::os(&object, "read", e)),
        }
    }
    if got < layout::HEADER_SIZE {
        return Ok(None);
    }
    let Some(id) = layout::RawIdentity::from_bytes(&buf) else {
        return Ok(None);
    };
    if id.magic != layout::MAGIC {
        return Ok(None);
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let holder = |at: usize| {
        let (pid, state) = layout::split_claim(word(at));
        match state {
            layout::CLAIM_HELD => Some(ProcessId {
                pid,
                start_time: word(at + 8),
            }),
            layout::CLAIM_CLAIMING => Some(ProcessId { pid, start_time: 0 }),
            _ => None,
        }
    };
    Ok(Some(RingInfo {
        capacity: id.capacity,
        producer: holder(layout::OFF_PRODUCER),
        consumer: holder(layout::OFF_CONSUMER),
        creator: (id.creator_pid != 0).then_some(ProcessId {
            pid: id.creator_pid,
            start_time: id.creator_start,
        }),
        version: id.version,
    }))
}

/// How a blocked side of a ring waits for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WaitStrategy {
    /// Busy-spin on the shared index: lowest latency, burns a core while waiting.
    Spin,
    /// Sleep in `futex(2)` until woken; the other side only makes the wake
    /// call when this side is really waiting.
    Futex,
    /// Spin briefly, then sleep in `futex(2)`. The default.
    #[default]
    Adaptive,
}

impl WaitStrategy {
    /// The word used in endpoints and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitStrategy::Spin => "spin",
            WaitStrategy::Futex => "futex",
            WaitStrategy::Adaptive => "adaptive",
        }
    }
}

impl fmt::Display for WaitStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WaitStrategy {
    type Err = crate::Error;

    /// Parses `spin`, `futex` or `adaptive`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for any other word.
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "spin" => Ok(WaitStrategy::Spin),
            "futex" => Ok(WaitStrategy::Futex),
            "adaptive" => Ok(WaitStrategy::Adaptive),
            _ => Err(crate::Error::InvalidArgument {
                object: format!("wait strategy {s:?}"),
                reason: "expected spin, futex or adaptive".into(),
            }),
        }
    }
}
