//! Process-shared, robust locks in shared memory.
//!
//! [`Mutex`] is a pthread mutex with `PTHREAD_PROCESS_SHARED` and
//! `PTHREAD_MUTEX_ROBUST`, placed in a shared segment. When the process
//! holding it dies, the kernel and glibc hand it to the next locker with
//! `EOWNERDEAD`: ipcx returns [`Locked::OwnerDied`], whose guard lets the
//! caller check the protected data and either mark it consistent
//! ([`OwnerDiedGuard::consistent`], `pthread_mutex_consistent`) or drop the
//! guard, which leaves the mutex permanently unusable (every later lock is
//! [`Error::Corrupted`] naming `ENOTRECOVERABLE`).
//!
//! ```
//! use ipcx::shm::memfd::Memfd;
//! use ipcx::sync::{Locked, Mutex};
//! use std::time::Duration;
//!
//! let seg = Memfd::create("mutex-doc", 4096)?;
//! let m = Mutex::init(&seg, 0)?;
//! match m.lock()? {
//!     Locked::Acquired(_guard) => { /* critical section */ }
//!     Locked::OwnerDied(guard) => {
//!         // Repair the shared data here, then:
//!         let _guard = guard.consistent()?;
//!     }
//! }
//! let _g = m.lock_timeout(Duration::from_secs(1))?.recover()?;
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! [`Mutex::named`] makes or opens a mutex in its own POSIX shared memory
//! object; `ipcx lock NAME -- COMMAND` is built on it.
//!
//! # References
//! - [pthread_mutexattr_setrobust(3)](https://man7.org/linux/man-pages/man3/pthread_mutexattr_setrobust.3.html)
//! - [pthread_mutex_consistent(3)](https://man7.org/linux/man-pages/man3/pthread_mutex_consistent.3.html)
//! - [pthread_mutexattr_setpshared(3)](https://man7.org/linux/man-pages/man3/pthread_mutexattr_setpshared.3.html)
//! - [pthread_mutex_lock(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_lock.3p.html),
//!   [pthread_mutex_timedlock(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_timedlock.3p.html)
//!   (glibc's `pthread_mutex_clocklock` takes `CLOCK_MONOTONIC`)

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::shm::posix::Segment;
use crate::shm::SharedMemory;
use crate::sys::pthread as sys;

/// A robust, process-shared mutex at an offset inside a shared segment.
///
/// It occupies [`Mutex::SIZE`] bytes aligned to [`Mutex::ALIGN`]. One
/// process calls [`Mutex::init`] once; the others use [`Mutex::open`].
/// The mutex protects nothing by itself: it guards whatever data the
/// processes agree it guards (typically next to it in the same segment).
///
/// A lock is owned by the *thread* that took it; unlock happens when the
/// guard drops, on that same thread (guards are not `Send`).
#[derive(Debug)]
pub struct Mutex<M: SharedMemory> {
    mem: M,
    offset: usize,
}

/// The result of a successful lock.
#[derive(Debug)]
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub enum Locked<'a, M: SharedMemory> {
    /// Locked normally.
    Acquired(MutexGuard<'a, M>),
    /// Locked, but the previous holder died while holding it
    /// (`EOWNERDEAD`): the data it protects may be half-updated.
    OwnerDied(OwnerDiedGuard<'a, M>),
}

impl<'a, M: SharedMemory> Locked<'a, M> {
    /// Whether the previous holder died holding the lock.
    pub fn owner_died(&self) -> bool {
        matches!(self, Locked::OwnerDied(_))
    }

    /// The guard, marking the state consistent first if the previous owner
    /// died (for callers whose data cannot be half-updated).
    ///
    /// # Errors
    /// As [`OwnerDiedGuard::consistent`].
    pub fn recover(self) -> Result<MutexGuard<'a, M>> {
        match self {
            Locked::Acquired(g) => Ok(g),
            Locked::OwnerDied(g) => g.consistent(),
        }
    }
}

/// Holds the mutex; unlocks it on drop.
#[derive(Debug)]
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct MutexGuard<'a, M: SharedMemory> {
    mutex: &'a Mutex<M>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl<M: SharedMemory> Drop for MutexGuard<'_, M> {
    fn drop(&mut self) {
        let _ = sys::mutex_unlock(self.mutex.mem.region(), self.mutex.offset);
    }
}

/// Holds a mutex whose previous owner died. Call
/// [`OwnerDiedGuard::consistent`] once the protected data is repaired;
/// dropping this guard instead unlocks the mutex in the *not recoverable*
/// state, so that every later lock fails.
#[derive(Debug)]
#[must_use = "drop marks the mutex not recoverable; call .consistent() to keep it usable"]
pub struct OwnerDiedGuard<'a, M: SharedMemory> {
    mutex: &'a Mutex<M>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl<'a, M: SharedMemory> OwnerDiedGuard<'a, M> {
    /// `pthread_mutex_consistent`—declares the protected state consistent;
    /// the mutex works normally again.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails (it cannot for a mutex locked with
    /// `EOWNERDEAD` by this thread).
    ///
    /// # References
    /// [pthread_mutex_consistent(3)](https://man7.org/linux/man-pages/man3/pthread_mutex_consistent.3.html)
    #[doc(alias = "pthread_mutex_consistent")]
    pub fn consistent(self) -> Result<MutexGuard<'a, M>> {
        let mutex = self.mutex;
        std::mem::forget(self);
        sys::mutex_consistent(mutex.mem.region(), mutex.offset)
            .map_err(|e| Error::os(mutex.object(), "pthread_mutex_consistent", e))?;
        Ok(MutexGuard {
            mutex,
            _not_send: std::marker::PhantomData,
        })
    }
}

impl<M: SharedMemory> Drop for OwnerDiedGuard<'_, M> {
    fn drop(&mut self) {
        // Unlocking without pthread_mutex_consistent: ENOTRECOVERABLE from now on.
        let _ = sys::mutex_unlock(self.mutex.mem.region(), self.mutex.offset);
    }
}

impl<M: SharedMemory> Mutex<M> {
    /// Bytes the mutex occupies (`sizeof(pthread_mutex_t)`).
    pub const SIZE: usize = sys::MUTEX_SIZE;
    /// Required alignment of its offset.
    pub const ALIGN: usize = sys::MUTEX_ALIGN;

    fn place(mem: &M, offset: usize) -> Result<()> {
        mem.region()
            .check(&|| mem.describe(), offset, Self::SIZE, Self::ALIGN, true)
    }

    fn object(&self) -> String {
        format!(
            "robust mutex at offset {} of {}",
            self.offset,
            self.mem.describe()
        )
    }

    /// `pthread_mutex_init` with `PTHREAD_PROCESS_SHARED` and
    /// `PTHREAD_MUTEX_ROBUST` at `offset`. Do this once, before any other
    /// process uses it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the mutex does not fit at `offset` or
    /// it is unaligned; [`Error::PermissionDenied`] for a read-only mapping.
    ///
    /// # References
    /// [pthread_mutex_init(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_init.3p.html)
    #[doc(alias = "pthread_mutex_init")]
    pub fn init(mem: M, offset: usize) -> Result<Self> {
        Self::place(&mem, offset)?;
        let m = Mutex { mem, offset };
        sys::mutex_init(m.mem.region(), offset)
            .map_err(|e| Error::os(m.object(), "pthread_mutex_init", e))?;
        Ok(m)
    }

    /// Uses a mutex another process initialised at `offset`.
    ///
    /// # Errors
    /// As [`Mutex::init`] for the placement.
    pub fn open(mem: M, offset: usize) -> Result<Self> {
        Self::place(&mem, offset)?;
        Ok(Mutex { mem, offset })
    }

    /// The segment it lives in.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    fn lock_deadline(&self, deadline: Deadline) -> Result<Option<Locked<'_, M>>> {
        let outcome = sys::mutex_lock(self.mem.region(), self.offset, deadline).map_err(|e| {
            match e.raw_os_error() {
                Some(libc::ENOTRECOVERABLE) => Error::Corrupted {
                    object: self.object(),
                    detail: "ENOTRECOVERABLE: a holder died and the next one did not mark the state consistent; the mutex must be initialised again".into(),
                },
                Some(libc::EDEADLK) => Error::InvalidArgument {
                    object: self.object(),
                    reason: "this thread already holds the mutex (EDEADLK)".into(),
                },
                _ => Error::os(self.object(), "pthread_mutex_lock", e),
            }
        })?;
        let guard = |died: bool| {
            if died {
                Locked::OwnerDied(OwnerDiedGuard {
                    mutex: self,
                    _not_send: std::marker::PhantomData,
                })
            } else {
                Locked::Acquired(MutexGuard {
                    mutex: self,
                    _not_send: std::marker::PhantomData,
                })
            }
        };
        Ok(match outcome {
            sys::LockOutcome::Acquired => Some(guard(false)),
            sys::LockOutcome::OwnerDied => Some(guard(true)),
            sys::LockOutcome::WouldBlock => None,
        })
    }

    /// `pthread_mutex_lock`—waits as long as it takes.
    ///
    /// # Errors
    /// [`Error::Corrupted`] when the mutex is not recoverable
    /// (`ENOTRECOVERABLE`); [`Error::InvalidArgument`] when this thread
    /// already holds it (`EDEADLK`); [`Error::Io`] otherwise.
    ///
    /// # References
    /// [pthread_mutex_lock(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_lock.3p.html)
    #[doc(alias = "pthread_mutex_lock")]
    pub fn lock(&self) -> Result<Locked<'_, M>> {
        self.lock_deadline(Deadline::NEVER)?.ok_or_else(|| {
            Error::os(
                self.object(),
                "pthread_mutex_lock",
                std::io::Error::from_raw_os_error(libc::EAGAIN),
            )
        })
    }

    /// `pthread_mutex_trylock`: `None` when another holder has it.
    ///
    /// # Errors
    /// As [`Mutex::lock`].
    ///
    /// # References
    /// [pthread_mutex_trylock(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_trylock.3p.html)
    #[doc(alias = "pthread_mutex_trylock")]
    pub fn try_lock(&self) -> Result<Option<Locked<'_, M>>> {
        self.lock_deadline(Deadline::now())
    }

    /// `pthread_mutex_clocklock(CLOCK_MONOTONIC)`—as [`Mutex::lock`],
    /// giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when the time ran out; otherwise as [`Mutex::lock`].
    ///
    /// # References
    /// [pthread_mutex_timedlock(3p)](https://man7.org/linux/man-pages/man3/pthread_mutex_timedlock.3p.html)
    #[doc(alias = "pthread_mutex_timedlock")]
    #[doc(alias = "pthread_mutex_clocklock")]
    pub fn lock_timeout(&self, timeout: Duration) -> Result<Locked<'_, M>> {
        self.lock_deadline(Deadline::after(Some(timeout)))?
            .ok_or_else(|| Error::TimedOut {
                object: self.object(),
                waiting_for: "the holder to unlock".into(),
                timeout,
            })
    }
}

/// Layout of a named mutex object: a one-page POSIX shared memory object.
const NAMED_SIZE: usize = 4096;
/// Offset of the state word: 0 fresh, 1 being initialised, 2 ready.
const STATE_OFFSET: usize = 0;
/// Offset of the magic number and version.
const MAGIC_OFFSET: usize = 4;
const VERSION_OFFSET: usize = 8;
/// Offset of the pthread mutex.
const MUTEX_OFFSET: usize = 64;
const MAGIC: u32 = u32::from_le_bytes(*b"IPXL");
const VERSION: u32 = 1;
const READY: u32 = 2;
/// How long an opener waits for another process to finish initialising.
const INIT_GRACE: Duration = Duration::from_secs(5);

impl Mutex<Segment> {
    /// Opens the robust mutex in the POSIX shared memory object `name`
    /// (one page, mode 0600), creating and initialising it if needed. Any
    /// number of processes may call this at once: exactly one initialises.
    ///
    /// The object is **kept** when the handle drops: removing the name while
    /// another process waits on the mutex would let a newcomer create a
    /// second, independent mutex under the same name. Remove it with
    /// [`Mutex::remove_named`] (or `ipcx rm shm:NAME`) when no process uses it.
    ///
    /// # Errors
    /// - As [`crate::shm::posix::SegmentBuilder::open_or_create`] (bad
    ///   name, permissions, [`Error::InvalidSize`] for an object of another size).
    /// - [`Error::Corrupted`]: the object is not an ipcx mutex, or its
    ///   initialiser died half-way.
    /// - [`Error::VersionMismatch`]: made by an incompatible ipcx.
    pub fn named(name: &str) -> Result<Mutex<Segment>> {
        let mut seg = Segment::builder(name).size(NAMED_SIZE).open_or_create()?;
        seg.keep();
        let state = seg.atomic_u32(STATE_OFFSET)?;
        // Exactly one process moves the state from 0 to 1 and initialises.
        if state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
        {
            sys::mutex_init(seg.region(), MUTEX_OFFSET).map_err(|e| {
                Error::os(
                    format!("robust mutex in {}", seg.describe()),
                    "pthread_mutex_init",
                    e,
                )
            })?;
            seg.write_value(MAGIC_OFFSET, &MAGIC)?;
            seg.write_value(VERSION_OFFSET, &VERSION)?;
            // Release: the mutex bytes and header are visible to whoever
            // Acquire-loads READY.
            state.store(READY, Ordering::Release);
        } else {
            let start = Instant::now();
            loop {
                // Acquire: pairs with the initialiser's Release store.
                match state.load(Ordering::Acquire) {
                    READY => break,
                    1 if start.elapsed() < INIT_GRACE => {
                        std::thread::sleep(Duration::from_millis(1))
                    }
                    1 => {
                        return Err(Error::Corrupted {
                            object: seg.describe(),
                            detail: format!(
                                "the mutex was still being initialised after {INIT_GRACE:?}; its initialiser probably died (remove the object)"
                            ),
                        })
                    }
                    other => {
                        return Err(Error::Corrupted {
                            object: seg.describe(),
                            detail: format!("state word {other} is not an ipcx mutex state"),
                        })
                    }
                }
            }
            let magic: u32 = seg.read_value(MAGIC_OFFSET)?;
            if magic != MAGIC {
                return Err(Error::Corrupted {
                    object: seg.describe(),
                    detail: format!("magic {magic:#010x} is not an ipcx mutex"),
                });
            }
            let version: u32 = seg.read_value(VERSION_OFFSET)?;
            if version != VERSION {
                return Err(Error::VersionMismatch {
                    object: seg.describe(),
                    expected: VERSION,
                    found: version,
                });
            }
        }
        Mutex::open(seg, MUTEX_OFFSET)
    }

    /// `shm_unlink`—removes the object of a named mutex. Only do this when
    /// no process uses it (see [`Mutex::named`]).
    ///
    /// # Errors
    /// As [`crate::shm::posix::unlink`].
    pub fn remove_named(name: &str) -> Result<()> {
        crate::shm::posix::unlink(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::memfd::Memfd;

    #[test]
    fn dropping_owner_died_guard_is_not_recoverable_and_errors_are_typed() {
        let seg = Memfd::create("t", 4096).unwrap();
        let m = Mutex::init(&seg, 64).unwrap();
        assert!(matches!(
            Mutex::open(&seg, 4090),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            Mutex::open(&seg, 3),
            Err(Error::InvalidArgument { .. })
        ));
        // Simulate a dead owner: lock on a thread that exits holding it.
        std::thread::scope(|s| {
            s.spawn(|| {
                let g = m.lock().unwrap();
                std::mem::forget(g);
            });
        });
        let l = m.lock_timeout(Duration::from_secs(10)).unwrap();
        assert!(l.owner_died());
        drop(l);
        assert!(matches!(m.lock(), Err(Error::Corrupted { .. })));
    }

    #[test]
    fn timed_lock_times_out() {
        let seg = Memfd::create("t", 4096).unwrap();
        let m = Mutex::init(&seg, 0).unwrap();
        let _g = m.lock().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(matches!(
                    m.lock_timeout(Duration::from_millis(20)),
                    Err(Error::TimedOut { .. })
                ));
                assert!(m.try_lock().unwrap().is_none());
            });
        });
    }
}
