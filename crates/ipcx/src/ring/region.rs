//! The memory a ring lives in: a shared mapping of a POSIX shared memory
//! object or a memfd, or (for the loom model and in-process tests) plain heap
//! memory, seen through the same typed pointers.
//!
//! The backing is the only part that knows how the memory was obtained; a
//! different segment type (for example `shm::posix::Segment`) plugs in here.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::AtomicBool;

use super::atomic::{AtomicU64, Ordering};
use super::layout::*;
use crate::creator::ProcessId;
use crate::error::{Error, Result};
use crate::sys::mman::Mapping;

/// Where the ring's bytes come from.
enum Backing {
    /// A `MAP_SHARED` mapping of `fd`.
    Mapped {
        map: Mapping,
        fd: OwnedFd,
        /// The POSIX shared memory name, when named.
        name: Option<String>,
    },
    /// Heap memory: the loom model and in-process rings.
    #[cfg_attr(not(any(loom, test)), allow(dead_code))]
    Heap(Box<HeapParts>),
}

/// The header pieces and data of a heap ring, each a real Rust value so that
/// loom's atomics (which cannot be conjured from raw bytes) work.
struct HeapParts {
    identity: Identity,
    producer: Claim,
    consumer: Claim,
    tail: AtomicU64,
    head: AtomicU64,
    data_wait: WaitWord,
    space_wait: WaitWord,
    data: Box<[std::cell::UnsafeCell<u64>]>,
}

/// A ring's memory and typed views of its header.
pub(crate) struct Region {
    backing: Backing,
    base: *const u8,
    data: *mut u8,
    /// Data capacity in bytes, validated; the shared field is never re-read.
    pub(crate) capacity: u64,
    /// How errors name the ring (`ring /jobs`, `ring memfd`).
    pub(crate) object: String,
    /// Remove the shared memory name when the last handle goes.
    pub(crate) unlink_on_drop: AtomicBool,
}

// SAFETY: the region owns its memory (mapping or boxes); everything other
// threads touch through it is atomic or synchronised by the index protocol
// (the data bytes between head and tail belong to exactly one side at a time).
unsafe impl Send for Region {}
// SAFETY: as for Send; `&Region` hands out shared references to atomics and
// raw data pointers only.
unsafe impl Sync for Region {}

/// Rounds a requested capacity up to the power of two the ring uses.
pub(crate) fn normalize_capacity(object: &str, requested: u64) -> Result<u64> {
    let cap = requested.max(MIN_CAPACITY).checked_next_power_of_two();
    match cap {
        Some(c) if c <= MAX_CAPACITY => Ok(c),
        _ => Err(Error::LimitExceeded {
            object: object.to_owned(),
            what: "ring capacity".into(),
            requested,
            limit: "ipcx ring maximum capacity".into(),
            max: MAX_CAPACITY,
            source_path: "ipcx::ring (16 GiB)".into(),
        }),
    }
}

fn io_err(object: &str, syscall: &'static str, e: impl Into<std::io::Error>) -> Error {
    Error::os(object, syscall, e)
}

impl Region {
    /// Views `map` (of `fd`, `size` bytes) as a ring; when `init`, writes a
    /// fresh header for `capacity` first.
    fn from_mapping(
        map: Mapping,
        fd: OwnedFd,
        name: Option<String>,
        object: String,
        init: Option<u64>,
        unlink: bool,
    ) -> Result<Region> {
        #[cfg(loom)]
        {
            let _ = (map, fd, name, init, unlink);
            Err(Error::unsupported(
                object,
                "shared rings under the loom model",
            ))
        }
        #[cfg(not(loom))]
        {
            debug_assert!(map.is_writable(), "a ring is mapped read-write");
            let base = map.as_ptr() as *const u8;
            // SAFETY: the mapping is at least HEADER_SIZE bytes (checked by
            // the callers), so the data area starts inside it.
            let data = unsafe { map.as_ptr().add(HEADER_SIZE) };
            let mut region = Region {
                backing: Backing::Mapped { map, fd, name },
                base,
                data,
                capacity: 0,
                object,
                unlink_on_drop: AtomicBool::new(unlink),
            };
            match init {
                Some(cap) => {
                    region.capacity = cap;
                    region.init_identity(cap);
                }
                None => {
                    let size = match &region.backing {
                        Backing::Mapped { map, .. } => map.len() as u64,
                        Backing::Heap(_) => unreachable!(),
                    };
                    let raw = RawIdentity::load(region.identity());
                    region.capacity = raw.validate(&region.object, Some(size))?;
                }
            }
            Ok(region)
        }
    }

    /// A heap ring of `capacity` bytes (a power of two), for in-process use.
    #[cfg_attr(not(any(loom, test)), allow(dead_code))]
    pub(crate) fn heap(capacity: u64) -> Region {
        let words = (capacity / 8) as usize;
        let data: Box<[std::cell::UnsafeCell<u64>]> =
            (0..words).map(|_| std::cell::UnsafeCell::new(0)).collect();
        let claim = || Claim {
            state: AtomicU64::new(0),
            start_time: AtomicU64::new(0),
        };
        #[cfg(not(loom))]
        let word = || WaitWord {
            seq: super::atomic::AtomicU32::new(0),
            sleeping: super::atomic::AtomicU32::new(0),
        };
        #[cfg(loom)]
        let word = WaitWord::new;
        let parts = Box::new(HeapParts {
            identity: Identity {
                magic: AtomicU64::new(0),
                version: super::atomic::AtomicU32::new(0),
                header_size: super::atomic::AtomicU32::new(0),
                capacity: AtomicU64::new(0),
                record_header: super::atomic::AtomicU32::new(0),
                line: super::atomic::AtomicU32::new(0),
                creator_pid: super::atomic::AtomicU32::new(0),
                _reserved: super::atomic::AtomicU32::new(0),
                creator_start: AtomicU64::new(0),
            },
            producer: claim(),
            consumer: claim(),
            tail: AtomicU64::new(0),
            head: AtomicU64::new(0),
            data_wait: word(),
            space_wait: word(),
            data,
        });
        let data = parts.data.as_ptr() as *mut u8;
        let region = Region {
            base: std::ptr::null(),
            data,
            backing: Backing::Heap(parts),
            capacity,
            object: "ring (in-process)".into(),
            unlink_on_drop: AtomicBool::new(false),
        };
        region.init_identity(capacity);
        region
    }

    fn init_identity(&self, cap: u64) {
        use Ordering::{Relaxed, Release};
        let id = self.identity();
        let me = ProcessId::current();
        id.version.store(VERSION, Relaxed);
        id.header_size.store(HEADER_SIZE as u32, Relaxed);
        id.capacity.store(cap, Relaxed);
        id.record_header.store(RECORD_HEADER as u32, Relaxed);
        id.line.store(LINE as u32, Relaxed);
        id.creator_pid.store(me.pid, Relaxed);
        id.creator_start.store(me.start_time, Relaxed);
        // Release: an opener that sees the magic (Acquire) sees the fields above.
        id.magic.store(MAGIC, Release);
    }

    /// Creates a named ring in POSIX shared memory (`O_CREAT|O_EXCL`, `mode`).
    pub(crate) fn create_named(name: &str, capacity: u64, mode: u32) -> Result<Region> {
        let object = format!("ring {name}");
        crate::key::validate_posix_name(name)?;
        let cap = normalize_capacity(&object, capacity)?;
        let fd = rustix::shm::open(
            name,
            rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR,
            rustix::fs::Mode::from_raw_mode(mode),
        )
        .map_err(|e| io_err(&object, "shm_open", e))?;
        // From here on, failure removes the name again.
        let cleanup = Unlink(Some(name.to_owned()));
        // An inherited umask may have narrowed the mode; set it exactly.
        rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(mode))
            .map_err(|e| io_err(&object, "fchmod", e))?;
        crate::creator::record_creator(&fd);
        let size = HEADER_SIZE as u64 + cap;
        allocate(&fd, size, &object)?;
        let map = Mapping::map_shared(&fd, size as usize, true)
            .map_err(|e| io_err(&object, "mmap", e))?;
        let region = Region::from_mapping(map, fd, Some(name.to_owned()), object, Some(cap), true)?;
        std::mem::forget(cleanup);
        Ok(region)
    }

    /// Opens an existing named ring, waiting up to a second for a creator
    /// that is still writing the header.
    pub(crate) fn open_named(name: &str) -> Result<Region> {
        let object = format!("ring {name}");
        crate::key::validate_posix_name(name)?;
        let fd = rustix::shm::open(name, rustix::shm::OFlags::RDWR, rustix::fs::Mode::empty())
            .map_err(|e| io_err(&object, "shm_open", e))?;
        Region::open_fd(fd, Some(name.to_owned()), object)
    }

    /// Creates an anonymous ring in a sealed memfd.
    pub(crate) fn create_memfd(capacity: u64) -> Result<Region> {
        let object = "ring memfd".to_owned();
        let cap = normalize_capacity(&object, capacity)?;
        let fd = rustix::fs::memfd_create(
            "ipcx-ring",
            rustix::fs::MemfdFlags::CLOEXEC | rustix::fs::MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| io_err(&object, "memfd_create", e))?;
        let size = HEADER_SIZE as u64 + cap;
        allocate(&fd, size, &object)?;
        // The size can no longer change: no peer can provoke a SIGBUS.
        rustix::fs::fcntl_add_seals(
            &fd,
            rustix::fs::SealFlags::SHRINK
                | rustix::fs::SealFlags::GROW
                | rustix::fs::SealFlags::SEAL,
        )
        .map_err(|e| io_err(&object, "fcntl(F_ADD_SEALS)", e))?;
        let map = Mapping::map_shared(&fd, size as usize, true)
            .map_err(|e| io_err(&object, "mmap", e))?;
        Region::from_mapping(map, fd, None, object, Some(cap), false)
    }

    /// Opens a ring from a file descriptor (a memfd handed over by a peer, or
    /// an opened shared memory object).
    pub(crate) fn open_fd(fd: OwnedFd, name: Option<String>, object: String) -> Result<Region> {
        let started = std::time::Instant::now();
        loop {
            let st = rustix::fs::fstat(&fd).map_err(|e| io_err(&object, "fstat", e))?;
            let size = st.st_size as u64;
            let initializing = size < HEADER_SIZE as u64;
            if !initializing {
                if size > HEADER_SIZE as u64 + MAX_CAPACITY {
                    return Err(Error::InvalidSize {
                        object,
                        expected: format!("at most {} bytes", HEADER_SIZE as u64 + MAX_CAPACITY),
                        actual: size,
                    });
                }
                let map = Mapping::map_shared(&fd, size as usize, true)
                    .map_err(|e| io_err(&object, "mmap", e))?;
                // SAFETY: the mapping is at least HEADER_SIZE bytes; offset 0
                // is 8-aligned (page-aligned) and holds an u64.
                let magic = unsafe {
                    (*(map.as_ptr() as *const std::sync::atomic::AtomicU64))
                        .load(std::sync::atomic::Ordering::Acquire)
                };
                if magic != 0 || started.elapsed() > std::time::Duration::from_secs(1) {
                    return Region::from_mapping(map, fd, name, object, None, false);
                }
            } else if started.elapsed() > std::time::Duration::from_secs(1) {
                return Err(Error::InvalidSize {
                    object,
                    expected: format!("at least {HEADER_SIZE} bytes"),
                    actual: size,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// The file descriptor of a shared ring.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.backing {
            Backing::Mapped { fd, .. } => Some(fd.as_fd()),
            Backing::Heap(_) => None,
        }
    }

    /// The POSIX shared memory name, when named.
    pub(crate) fn name(&self) -> Option<&str> {
        match &self.backing {
            Backing::Mapped { name, .. } => name.as_deref(),
            Backing::Heap(_) => None,
        }
    }

    fn at<T>(&self, offset: usize) -> &T {
        // SAFETY: `base` is the start of a live mapping of at least
        // HEADER_SIZE bytes, page-aligned; every offset used is a layout
        // constant below HEADER_SIZE, aligned for T (128-byte lines), and the
        // bytes there are atomics (valid for any bit pattern; zero-filled at
        // creation). The reference lives no longer than `self`, which owns
        // the mapping.
        unsafe { &*(self.base.add(offset) as *const T) }
    }

    pub(crate) fn identity(&self) -> &Identity {
        match &self.backing {
            Backing::Heap(p) => &p.identity,
            Backing::Mapped { .. } => self.at(0),
        }
    }

    pub(crate) fn claim(&self, producer: bool) -> &Claim {
        match (&self.backing, producer) {
            (Backing::Heap(p), true) => &p.producer,
            (Backing::Heap(p), false) => &p.consumer,
            (Backing::Mapped { .. }, true) => self.at(OFF_PRODUCER),
            (Backing::Mapped { .. }, false) => self.at(OFF_CONSUMER),
        }
    }

    pub(crate) fn tail(&self) -> &AtomicU64 {
        match &self.backing {
            Backing::Heap(p) => &p.tail,
            Backing::Mapped { .. } => self.at(OFF_TAIL),
        }
    }

    pub(crate) fn head(&self) -> &AtomicU64 {
        match &self.backing {
            Backing::Heap(p) => &p.head,
            Backing::Mapped { .. } => self.at(OFF_HEAD),
        }
    }

    /// The word the consumer sleeps on (waiting for data).
    pub(crate) fn data_wait(&self) -> &WaitWord {
        match &self.backing {
            Backing::Heap(p) => &p.data_wait,
            Backing::Mapped { .. } => self.at(OFF_DATA_WAIT),
        }
    }

    /// The word the producer sleeps on (waiting for space).
    pub(crate) fn space_wait(&self) -> &WaitWord {
        match &self.backing {
            Backing::Heap(p) => &p.space_wait,
            Backing::Mapped { .. } => self.at(OFF_SPACE_WAIT),
        }
    }

    /// Start of the data area (`capacity` bytes, 8-aligned).
    pub(crate) fn data(&self) -> *mut u8 {
        self.data
    }

    /// Reads the 8-byte record header word at `pos` (8-aligned, `< capacity`).
    #[inline]
    pub(crate) fn word_at(&self, pos: u64) -> u64 {
        debug_assert!(pos % ALIGN == 0 && pos < self.capacity);
        // SAFETY: pos < capacity and 8-aligned (callers derive it from their
        // own index masked by capacity - 1, or 0), so the 8 bytes lie in the
        // data area, which is 8-aligned. A volatile read: the other process
        // may write these bytes; whatever value is read is validated.
        u64::from_le(unsafe { (self.data.add(pos as usize) as *const u64).read_volatile() })
    }

    /// Writes a record header word at `pos` (8-aligned, `< capacity`).
    #[inline]
    pub(crate) fn set_word(&self, pos: u64, word: u64) {
        debug_assert!(pos % ALIGN == 0 && pos < self.capacity);
        // SAFETY: as for word_at; the producer owns the bytes between tail
        // and head + capacity, which is where it writes.
        unsafe { (self.data.add(pos as usize) as *mut u64).write_volatile(word.to_le()) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self
            .unlink_on_drop
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            if let Some(name) = self.name() {
                let _ = rustix::shm::unlink(name);
            }
        }
    }
}

/// Removes a shared memory name on drop (creation error paths).
struct Unlink(Option<String>);

impl Drop for Unlink {
    fn drop(&mut self) {
        if let Some(name) = self.0.take() {
            let _ = rustix::shm::unlink(name.as_str());
        }
    }
}

/// Gives `fd` `size` bytes of real memory (`fallocate`), so that a full
/// `/dev/shm` is an error now rather than a `SIGBUS` later; falls back to
/// `ftruncate` where `fallocate` is not supported.
fn allocate(fd: &OwnedFd, size: u64, object: &str) -> Result<()> {
    match rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) | Err(rustix::io::Errno::NOSYS) => {
            rustix::fs::ftruncate(fd, size).map_err(|e| io_err(object, "ftruncate", e))
        }
        Err(e) => Err(io_err(object, "fallocate", e)),
    }
}
