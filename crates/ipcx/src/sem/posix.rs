//! POSIX semaphores: named ([`NamedSemaphore`], `sem_open`) and unnamed
//! process-shared ones living inside a shared segment
//! ([`UnnamedSemaphore`], `sem_init(pshared = 1)`).
//!
//! Both offer [`wait`](NamedSemaphore::wait) (retrying `EINTR`),
//! [`try_wait`](NamedSemaphore::try_wait),
//! [`wait_timeout`](NamedSemaphore::wait_timeout) (on `CLOCK_MONOTONIC`
//! through `sem_clockwait`, the absolute time recomputed from one monotonic
//! deadline on every retry), [`post`](NamedSemaphore::post),
//! [`value`](NamedSemaphore::value), and an RAII guard for lock-style use
//! ([`lock`](NamedSemaphore::lock)).
//!
//! # A POSIX semaphore is not released when its holder dies
//! Unlike System V semaphores with `SEM_UNDO` ([`super::sysv`]) and robust
//! mutexes ([`crate::sync::Mutex`]), the kernel keeps no record of who took
//! a POSIX semaphore: if a process dies between `wait` and `post`, the unit
//! it took is lost and every other waiter waits for ever. Use
//! [`wait_timeout`](NamedSemaphore::wait_timeout) wherever the holder may
//! die, or choose a mechanism that recovers.
//!
//! ```
//! use ipcx::sem::posix::{NamedSemaphore, UnnamedSemaphore};
//! use ipcx::shm::memfd::Memfd;
//! use std::time::Duration;
//!
//! let name = format!("/ipcx-doc-sem-{}", std::process::id());
//! let sem = NamedSemaphore::builder(&name).value(1).create()?; // mode 0600, O_EXCL
//! {
//!     let _held = sem.lock()?;
//!     assert!(sem.wait_timeout(Duration::from_millis(10)).is_err()); // TimedOut
//! }
//! assert_eq!(sem.value()?, 1);
//!
//! // An unnamed semaphore inside anonymous shared memory (inherited by children).
//! let seg = Memfd::create("sem-doc", 4096)?;
//! let unnamed = UnnamedSemaphore::init(&seg, 0, 0)?;
//! unnamed.post()?;
//! assert!(unnamed.try_wait()?);
//! assert!(!unnamed.try_wait()?);
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! # References
//! - [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html)
//! - [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html),
//!   [sem_close(3)](https://man7.org/linux/man-pages/man3/sem_close.3.html),
//!   [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html)
//! - [sem_init(3)](https://man7.org/linux/man-pages/man3/sem_init.3.html),
//!   [sem_destroy(3)](https://man7.org/linux/man-pages/man3/sem_destroy.3.html)
//! - [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
//!   (`sem_trywait`, `sem_timedwait`, `sem_clockwait`),
//!   [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html),
//!   [sem_getvalue(3)](https://man7.org/linux/man-pages/man3/sem_getvalue.3.html)

use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::key::validate_posix_name;
use crate::shm::{CreationMode, SharedMemory};
use crate::sys::sem as sys;

/// Largest value of a POSIX semaphore on Linux (`SEM_VALUE_MAX` = `INT_MAX`).
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// Default mode of created named semaphores: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// Longest name after the slash: glibc stores `/NAME` as `/dev/shm/sem.NAME`,
/// and the file name is bounded by `NAME_MAX` (255).
pub const NAME_MAX: usize = 251;

fn describe(name: &str) -> String {
    format!("POSIX semaphore {name}")
}

fn check_value(object: &str, value: u32) -> Result<()> {
    if value > SEM_VALUE_MAX {
        return Err(Error::LimitExceeded {
            object: object.to_owned(),
            what: "semaphore value".into(),
            requested: u64::from(value),
            limit: "SEM_VALUE_MAX".into(),
            max: u64::from(SEM_VALUE_MAX),
            source_path: "<limits.h> SEM_VALUE_MAX (INT_MAX on Linux)".into(),
        });
    }
    Ok(())
}

fn timed_out(object: String, timeout: Duration) -> Error {
    Error::TimedOut {
        object,
        waiting_for: "the semaphore to be posted".into(),
        timeout,
    }
}

fn post_err(object: String, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::EOVERFLOW) {
        return Error::LimitExceeded {
            object,
            what: "semaphore value after sem_post".into(),
            requested: u64::from(SEM_VALUE_MAX) + 1,
            limit: "SEM_VALUE_MAX".into(),
            max: u64::from(SEM_VALUE_MAX),
            source_path: "<limits.h> SEM_VALUE_MAX (INT_MAX on Linux)".into(),
        };
    }
    Error::os(object, "sem_post", e)
}

/// Something a [`SemaphoreGuard`] can give back to.
trait Post {
    fn post_unit(&self) -> Result<()>;
}

/// Holds one unit of a POSIX semaphore and posts it back on drop.
///
/// If the process dies while holding it, the unit is **not** given back
/// (see the [module documentation](self)).
#[must_use = "the semaphore is posted as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    sem: &'a dyn Post,
}

impl std::fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SemaphoreGuard")
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let _ = self.sem.post_unit();
    }
}

/// Builds a [`NamedSemaphore`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .create(), .open() or .open_or_create()"]
pub struct NamedSemaphoreBuilder {
    name: String,
    mode: u32,
    value: u32,
}

impl NamedSemaphoreBuilder {
    /// Permission bits for a created semaphore (default 0600), set exactly
    /// (not narrowed by the umask).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Initial value of a created semaphore (default 0).
    pub fn value(mut self, value: u32) -> Self {
        self.value = value;
        self
    }

    /// `sem_open(O_CREAT | O_EXCL)`—creates the semaphore; the caller
    /// unlinks it on drop unless kept.
    ///
    /// # Errors
    /// - [`Error::InvalidName`]: POSIX name rules, or over [`NAME_MAX`] bytes.
    /// - [`Error::LimitExceeded`]: value over [`SEM_VALUE_MAX`], checked first.
    /// - [`Error::InvalidArgument`]: mode over 0o777.
    /// - [`Error::AlreadyExists`]: the name is taken.
    ///
    /// # References
    /// [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html)
    #[doc(alias = "sem_open")]
    pub fn create(self) -> Result<NamedSemaphore> {
        self.build(CreationMode::Create)
    }

    /// `sem_open`—opens an existing semaphore; never unlinks it.
    ///
    /// # Errors
    /// [`Error::InvalidName`] as for create; [`Error::NotFound`];
    /// [`Error::PermissionDenied`].
    ///
    /// # References
    /// [sem_open(3)](https://man7.org/linux/man-pages/man3/sem_open.3.html)
    #[doc(alias = "sem_open")]
    pub fn open(self) -> Result<NamedSemaphore> {
        self.build(CreationMode::Open)
    }

    /// Opens the semaphore if it exists, else creates it.
    ///
    /// # Errors
    /// As [`NamedSemaphoreBuilder::create`] and [`NamedSemaphoreBuilder::open`].
    pub fn open_or_create(self) -> Result<NamedSemaphore> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// Builds with an explicit [`CreationMode`].
    ///
    /// # Errors
    /// As [`NamedSemaphoreBuilder::create`] and [`NamedSemaphoreBuilder::open`].
    pub fn build(self, how: CreationMode) -> Result<NamedSemaphore> {
        validate_posix_name(&self.name)?;
        if self.name.len() - 1 > NAME_MAX {
            return Err(Error::InvalidName {
                name: self.name.clone(),
                reason: format!(
                    "{} bytes after '/', over {NAME_MAX} (glibc adds the prefix \"sem.\" under /dev/shm)",
                    self.name.len() - 1
                ),
            });
        }
        let object = describe(&self.name);
        check_value(&object, self.value)?;
        if self.mode > 0o777 {
            return Err(Error::InvalidArgument {
                object,
                reason: format!("mode {:o} is over 0o777", self.mode),
            });
        }
        match how {
            CreationMode::Create => self.do_create(),
            CreationMode::Open => self.do_open(),
            CreationMode::OpenOrCreate => {
                for _ in 0..100 {
                    match self.do_create() {
                        Err(Error::AlreadyExists { .. }) => {}
                        other => return other,
                    }
                    match self.do_open() {
                        Err(Error::NotFound { .. }) => {}
                        other => return other,
                    }
                }
                self.do_open()
            }
        }
    }

    fn do_create(&self) -> Result<NamedSemaphore> {
        let object = describe(&self.name);
        let sem = sys::NamedSem::open(
            &self.name,
            libc::O_CREAT | libc::O_EXCL,
            self.mode,
            self.value,
        )
        .map_err(|e| Error::os(&object, "sem_open", e))?;
        let path = sem_path(&self.name);
        // Set the mode exactly and record the creator on the file glibc
        // made (opened without following symlinks).
        let mut identity = None;
        if let Ok(fd) = rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            let _ = rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(self.mode));
            crate::creator::record_creator(&fd);
            identity = rustix::fs::fstat(&fd).ok().map(|st| (st.st_dev, st.st_ino));
        }
        Ok(NamedSemaphore {
            name: self.name.clone(),
            sem,
            owner: true,
            identity,
        })
    }

    fn do_open(&self) -> Result<NamedSemaphore> {
        let sem = sys::NamedSem::open(&self.name, 0, 0, 0)
            .map_err(|e| Error::os(describe(&self.name), "sem_open", e))?;
        Ok(NamedSemaphore {
            name: self.name.clone(),
            sem,
            owner: false,
            identity: None,
        })
    }
}

fn sem_path(name: &str) -> String {
    format!("/dev/shm/sem.{}", name.trim_start_matches('/'))
}

/// A named POSIX semaphore (`sem_open`), closed on drop; the creator also
/// unlinks the name on drop unless [`NamedSemaphore::keep`] was called.
#[derive(Debug)]
pub struct NamedSemaphore {
    name: String,
    sem: sys::NamedSem,
    owner: bool,
    identity: Option<(u64, u64)>,
}

impl NamedSemaphore {
    /// Starts building a named semaphore (`/NAME`, mode 0600, value 0).
    pub fn builder(name: &str) -> NamedSemaphoreBuilder {
        NamedSemaphoreBuilder {
            name: name.to_owned(),
            mode: DEFAULT_MODE,
            value: 0,
        }
    }

    /// The name, with its leading slash.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this handle created the semaphore.
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Leaves the name in place on drop.
    pub fn keep(&mut self) {
        self.owner = false;
    }

    /// `sem_unlink`—removes the name now; open handles keep working.
    ///
    /// # Errors
    /// [`Error::NotFound`] when already gone.
    ///
    /// # References
    /// [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html)
    #[doc(alias = "sem_unlink")]
    pub fn unlink(&mut self) -> Result<()> {
        self.owner = false;
        sys::sem_unlink(&self.name).map_err(|e| Error::os(describe(&self.name), "sem_unlink", e))
    }

    /// `sem_wait`—waits until the value is positive and decrements it;
    /// `EINTR` is retried.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails otherwise.
    ///
    /// # References
    /// [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
    #[doc(alias = "sem_wait")]
    pub fn wait(&self) -> Result<()> {
        self.sem
            .wait(Deadline::NEVER)
            .map(drop)
            .map_err(|e| Error::os(describe(&self.name), "sem_wait", e))
    }

    /// `sem_trywait`—decrements if positive; `Ok(false)` if it is 0.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails otherwise.
    ///
    /// # References
    /// [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
    #[doc(alias = "sem_trywait")]
    pub fn try_wait(&self) -> Result<bool> {
        self.sem
            .wait(Deadline::now())
            .map_err(|e| Error::os(describe(&self.name), "sem_trywait", e))
    }

    /// `sem_clockwait(CLOCK_MONOTONIC)`—as [`NamedSemaphore::wait`], giving
    /// up after `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when the time ran out.
    ///
    /// # References
    /// [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
    #[doc(alias = "sem_timedwait")]
    #[doc(alias = "sem_clockwait")]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        let ok = self
            .sem
            .wait(Deadline::after(Some(timeout)))
            .map_err(|e| Error::os(describe(&self.name), "sem_clockwait", e))?;
        if ok {
            Ok(())
        } else {
            Err(timed_out(describe(&self.name), timeout))
        }
    }

    /// `sem_post`—increments the value, waking one waiter.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] when the value is already [`SEM_VALUE_MAX`].
    ///
    /// # References
    /// [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html)
    #[doc(alias = "sem_post")]
    pub fn post(&self) -> Result<()> {
        self.sem
            .post()
            .map_err(|e| post_err(describe(&self.name), e))
    }

    /// `sem_getvalue`—the current value (a snapshot).
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails.
    ///
    /// # References
    /// [sem_getvalue(3)](https://man7.org/linux/man-pages/man3/sem_getvalue.3.html)
    #[doc(alias = "sem_getvalue")]
    pub fn value(&self) -> Result<i32> {
        self.sem
            .value()
            .map_err(|e| Error::os(describe(&self.name), "sem_getvalue", e))
    }

    /// Waits and returns a guard that posts on drop.
    ///
    /// # Errors
    /// As [`NamedSemaphore::wait`].
    pub fn lock(&self) -> Result<SemaphoreGuard<'_>> {
        self.wait()?;
        Ok(SemaphoreGuard { sem: self })
    }

    /// As [`NamedSemaphore::lock`], giving up after `timeout`.
    ///
    /// # Errors
    /// As [`NamedSemaphore::wait_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard<'_>> {
        self.wait_timeout(timeout)?;
        Ok(SemaphoreGuard { sem: self })
    }
}

impl Post for NamedSemaphore {
    fn post_unit(&self) -> Result<()> {
        self.post()
    }
}

impl Drop for NamedSemaphore {
    fn drop(&mut self) {
        if self.owner {
            let now = rustix::fs::lstat(sem_path(&self.name))
                .ok()
                .map(|st| (st.st_dev, st.st_ino));
            if self.identity.is_none() || now == self.identity {
                let _ = sys::sem_unlink(&self.name);
            }
        }
    }
}

/// `sem_unlink`—removes a named semaphore without opening it.
///
/// # Errors
/// [`Error::InvalidName`] for a bad name; [`Error::NotFound`] when absent.
///
/// # References
/// [sem_unlink(3)](https://man7.org/linux/man-pages/man3/sem_unlink.3.html)
#[doc(alias = "sem_unlink")]
pub fn unlink(name: &str) -> Result<()> {
    validate_posix_name(name)?;
    sys::sem_unlink(name).map_err(|e| Error::os(describe(name), "sem_unlink", e))
}

/// An unnamed, process-shared POSIX semaphore (`sem_init` with
/// `pshared = 1`) at an offset inside a shared segment: a
/// [`crate::shm::posix::Segment`], a [`crate::shm::memfd::Memfd`] or a
/// System V segment (or a reference or `Arc` to one).
///
/// It occupies [`UnnamedSemaphore::SIZE`] bytes aligned to
/// [`UnnamedSemaphore::ALIGN`]. One process calls
/// [`UnnamedSemaphore::init`]; the others attach with
/// [`UnnamedSemaphore::open`] after the segment is mapped. Dropping a handle
/// does nothing to the semaphore (it lives as long as the memory).
#[derive(Debug)]
pub struct UnnamedSemaphore<M: SharedMemory> {
    mem: M,
    offset: usize,
}

impl<M: SharedMemory> UnnamedSemaphore<M> {
    /// Bytes a semaphore occupies (`sizeof(sem_t)`).
    pub const SIZE: usize = sys::SEM_T_SIZE;
    /// Required alignment of its offset (`alignof(sem_t)`).
    pub const ALIGN: usize = sys::SEM_T_ALIGN;

    fn place(mem: &M, offset: usize) -> Result<()> {
        mem.region()
            .check(&|| mem.describe(), offset, Self::SIZE, Self::ALIGN, true)
    }

    fn object(&self) -> String {
        format!(
            "POSIX semaphore at offset {} of {}",
            self.offset,
            self.mem.describe()
        )
    }

    /// `sem_init(pshared = 1)`—makes a semaphore with `value` at `offset`.
    /// Do this once, before other processes use it; initialising a semaphore
    /// that others are waiting on loses their wake-ups.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the semaphore does not fit at
    /// `offset` or `offset` is unaligned; [`Error::PermissionDenied`] for a
    /// read-only mapping; [`Error::LimitExceeded`] for a value over
    /// [`SEM_VALUE_MAX`].
    ///
    /// # References
    /// [sem_init(3)](https://man7.org/linux/man-pages/man3/sem_init.3.html)
    #[doc(alias = "sem_init")]
    pub fn init(mem: M, offset: usize, value: u32) -> Result<Self> {
        Self::place(&mem, offset)?;
        let s = UnnamedSemaphore { mem, offset };
        check_value(&s.object(), value)?;
        sys::unnamed_init(s.mem.region(), offset, value)
            .map_err(|e| Error::os(s.object(), "sem_init", e))?;
        Ok(s)
    }

    /// Uses the semaphore another process initialised at `offset`.
    ///
    /// # Errors
    /// As [`UnnamedSemaphore::init`] for the placement.
    pub fn open(mem: M, offset: usize) -> Result<Self> {
        Self::place(&mem, offset)?;
        Ok(UnnamedSemaphore { mem, offset })
    }

    /// The segment it lives in.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// `sem_wait`, retrying `EINTR`.
    ///
    /// # Errors
    /// [`Error::Io`] (`EINVAL`) when the bytes are not a semaphore.
    ///
    /// # References
    /// [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
    #[doc(alias = "sem_wait")]
    pub fn wait(&self) -> Result<()> {
        sys::unnamed_wait(self.mem.region(), self.offset, Deadline::NEVER)
            .map(drop)
            .map_err(|e| Error::os(self.object(), "sem_wait", e))
    }

    /// `sem_trywait`: `Ok(false)` when the value is 0.
    ///
    /// # Errors
    /// As [`UnnamedSemaphore::wait`].
    ///
    /// # References
    /// [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
    #[doc(alias = "sem_trywait")]
    pub fn try_wait(&self) -> Result<bool> {
        sys::unnamed_wait(self.mem.region(), self.offset, Deadline::now())
            .map_err(|e| Error::os(self.object(), "sem_trywait", e))
    }

    /// `sem_clockwait(CLOCK_MONOTONIC)`, giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when the time ran out.
    ///
    /// # References
    /// [sem_wait(3)](https://man7.org/linux/man-pages/man3/sem_wait.3.html)
    #[doc(alias = "sem_timedwait")]
    #[doc(alias = "sem_clockwait")]
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        let ok = sys::unnamed_wait(
            self.mem.region(),
            self.offset,
            Deadline::after(Some(timeout)),
        )
        .map_err(|e| Error::os(self.object(), "sem_clockwait", e))?;
        if ok {
            Ok(())
        } else {
            Err(timed_out(self.object(), timeout))
        }
    }

    /// `sem_post`.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] at [`SEM_VALUE_MAX`].
    ///
    /// # References
    /// [sem_post(3)](https://man7.org/linux/man-pages/man3/sem_post.3.html)
    #[doc(alias = "sem_post")]
    pub fn post(&self) -> Result<()> {
        sys::unnamed_post(self.mem.region(), self.offset).map_err(|e| post_err(self.object(), e))
    }

    /// `sem_getvalue`.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails.
    ///
    /// # References
    /// [sem_getvalue(3)](https://man7.org/linux/man-pages/man3/sem_getvalue.3.html)
    #[doc(alias = "sem_getvalue")]
    pub fn value(&self) -> Result<i32> {
        sys::unnamed_value(self.mem.region(), self.offset)
            .map_err(|e| Error::os(self.object(), "sem_getvalue", e))
    }

    /// Waits and returns a guard that posts on drop.
    ///
    /// # Errors
    /// As [`UnnamedSemaphore::wait`].
    pub fn lock(&self) -> Result<SemaphoreGuard<'_>> {
        self.wait()?;
        Ok(SemaphoreGuard { sem: self })
    }

    /// As [`UnnamedSemaphore::lock`], giving up after `timeout`.
    ///
    /// # Errors
    /// As [`UnnamedSemaphore::wait_timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard<'_>> {
        self.wait_timeout(timeout)?;
        Ok(SemaphoreGuard { sem: self })
    }

    /// `sem_destroy`—ends the semaphore; nobody may use it afterwards.
    ///
    /// # Errors
    /// [`Error::Io`] if the call fails.
    ///
    /// # References
    /// [sem_destroy(3)](https://man7.org/linux/man-pages/man3/sem_destroy.3.html)
    #[doc(alias = "sem_destroy")]
    pub fn destroy(self) -> Result<()> {
        sys::unnamed_destroy(self.mem.region(), self.offset)
            .map_err(|e| Error::os(self.object(), "sem_destroy", e))
    }
}

impl<M: SharedMemory> Post for UnnamedSemaphore<M> {
    fn post_unit(&self) -> Result<()> {
        self.post()
    }
}
