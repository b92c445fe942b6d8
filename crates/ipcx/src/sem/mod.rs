//! Semaphores: System V sets ([`sysv`]) and POSIX semaphores ([`posix`]).
//!
//! Which one to pick:
//! - [`sysv::SemaphoreSet`]: several counters changed atomically together;
//!   with `SEM_UNDO` (the default) the kernel undoes what a dead process
//!   held, so a crash does not leave a lock taken.
//! - [`posix::NamedSemaphore`] / [`posix::UnnamedSemaphore`]: faster
//!   (no system call when uncontended), but **not released when the holder
//!   dies**; wait with a timeout where that matters.
//! - For mutual exclusion that survives a crash and tells the next holder,
//!   see [`crate::sync::Mutex`].
//!
//! # References
//! [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
//! [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html)

pub mod posix;
pub mod sysv;
