//! System V semaphore sets: `semget`, `semop`/`semtimedop`, `semctl`.
//!
//! A [`SemaphoreSet`] holds `count` semaphores, each a value from 0 to
//! [`SEM_VALUE_MAX`] (32767). [`SemaphoreSet::op`] applies several
//! operations atomically: all or none. Every operation carries `SEM_UNDO`
//! unless [`SemOp::no_undo`] is used, so **a process that dies releases what
//! it held**: the kernel reverts its adjustments at exit. (POSIX semaphores
//! have no such safety net; see [`super::posix`].)
//!
//! ```
//! use ipcx::key::Key;
//! use ipcx::sem::sysv::{SemaphoreSet, SemOp};
//!
//! let set = SemaphoreSet::builder(Key::PRIVATE).count(2).values(&[1, 0]).create()?;
//! {
//!     let _held = set.lock(0)?; // wait (-1, SEM_UNDO) … post (+1) on drop
//!     assert_eq!(set.get(0)?, 0);
//! }
//! // Atomically take semaphore 0 and give semaphore 1.
//! set.op(&[SemOp::wait(0), SemOp::post(1)])?;
//! assert_eq!(set.get_all()?, vec![0, 1]);
//! assert!(!set.try_op(&[SemOp::wait(0)])?); // would block: IPC_NOWAIT
//! # Ok::<(), ipcx::Error>(())
//! ```
//!
//! Removal: the creator removes the set (`IPC_RMID`) on drop unless
//! [`SemaphoreSet::keep`] was called; openers never do. A process waiting
//! on a set that is removed gets [`Error::Removed`], and so does any later
//! operation through a handle of the removed set.
//!
//! # References
//! - [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html),
//!   [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html) (and
//!   `semtimedop`), [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
//! - [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html)

use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::shm::CreationMode;
use crate::sys::sem as sys;

/// Largest value of a System V semaphore (`SEMVMX`, 32767 on Linux).
pub const SEM_VALUE_MAX: i32 = 32767;

/// Where [`SEM_VALUE_MAX`] comes from, for error messages.
const SEMVMX_SOURCE: &str = "kernel constant SEMVMX, include/uapi/linux/sem.h";

/// Default mode of created sets: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

fn describe(key: Key, id: Option<i32>) -> String {
    match id {
        Some(id) => format!("System V semaphore set {key} (id {id})"),
        None => format!("System V semaphore set {key}"),
    }
}

/// One operation of [`SemaphoreSet::op`]: add `delta` to semaphore `num`
/// (negative: wait until the value allows it; zero: wait until it is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemOp {
    /// Semaphore index in the set.
    pub num: u16,
    /// Value to add (`sem_op`).
    pub delta: i16,
    undo: bool,
}

impl SemOp {
    /// Adds `delta` to semaphore `num`, with `SEM_UNDO`.
    pub fn add(num: u16, delta: i16) -> SemOp {
        SemOp {
            num,
            delta,
            undo: true,
        }
    }

    /// Takes one (`-1`, waits while the value is 0), with `SEM_UNDO`.
    pub fn wait(num: u16) -> SemOp {
        SemOp::add(num, -1)
    }

    /// Gives one back (`+1`), with `SEM_UNDO`.
    pub fn post(num: u16) -> SemOp {
        SemOp::add(num, 1)
    }

    /// Waits until semaphore `num` is zero (`sem_op = 0`).
    pub fn wait_zero(num: u16) -> SemOp {
        SemOp::add(num, 0)
    }

    /// Without `SEM_UNDO`: the change stays when this process dies (for
    /// signalling rather than locking).
    pub fn no_undo(mut self) -> SemOp {
        self.undo = false;
        self
    }

    /// Whether the operation carries `SEM_UNDO`.
    pub fn is_undo(&self) -> bool {
        self.undo
    }
}

/// Statistics of a set, from `semctl(IPC_STAT)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// The key (0 for `IPC_PRIVATE`).
    pub key: i32,
    /// Number of semaphores in the set.
    pub count: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Time of the last `semop`, seconds since the epoch (0: never).
    pub last_op_time: i64,
}

/// Builds a [`SemaphoreSet`]; see the [module documentation](self).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .create(), .open() or .open_or_create()"]
pub struct SemaphoreSetBuilder {
    key: Key,
    count: Option<usize>,
    mode: u32,
    values: Option<Vec<i32>>,
}

impl SemaphoreSetBuilder {
    /// Number of semaphores (default 1 when creating; when opening, checked
    /// against the set's real count if given).
    pub fn count(mut self, n: usize) -> Self {
        self.count = Some(n);
        self
    }

    /// Permission bits for a created set (default 0600).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Initial values for a created set (default all 0), one per semaphore,
    /// each 0 to [`SEM_VALUE_MAX`].
    pub fn values(mut self, values: &[i32]) -> Self {
        self.values = Some(values.to_vec());
        self
    }

    /// `semget(IPC_CREAT | IPC_EXCL)`—creates the set and sets its values.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: count 0, a count that does not match
    ///   the values, a negative value, mode over 0o777.
    /// - [`Error::LimitExceeded`]: a value over [`SEM_VALUE_MAX`], or more
    ///   semaphores than SEMMSL (`/proc/sys/kernel/sem`).
    /// - [`Error::AlreadyExists`]: a set with this key exists.
    /// - [`Error::NoSpace`]: SEMMNI or SEMMNS is exhausted.
    ///
    /// # References
    /// [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html)
    #[doc(alias = "semget")]
    pub fn create(self) -> Result<SemaphoreSet> {
        self.build(CreationMode::Create)
    }

    /// `semget` of an existing set.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`]: the key is `IPC_PRIVATE`, or the set
    ///   has another count than [`SemaphoreSetBuilder::count`].
    /// - [`Error::NotFound`]: no set with this key.
    /// - [`Error::PermissionDenied`]: its mode forbids access.
    ///
    /// # References
    /// [semget(2)](https://man7.org/linux/man-pages/man2/semget.2.html)
    #[doc(alias = "semget")]
    pub fn open(self) -> Result<SemaphoreSet> {
        self.build(CreationMode::Open)
    }

    /// Opens the set if it exists, else creates it (with the values). An
    /// opener that finds a set just created by another ipcx process waits
    /// (up to one second) until its creator has set the initial values.
    ///
    /// # Errors
    /// As [`SemaphoreSetBuilder::create`] and [`SemaphoreSetBuilder::open`].
    pub fn open_or_create(self) -> Result<SemaphoreSet> {
        self.build(CreationMode::OpenOrCreate)
    }

    /// Builds with an explicit [`CreationMode`].
    ///
    /// # Errors
    /// As [`SemaphoreSetBuilder::create`] and [`SemaphoreSetBuilder::open`].
    pub fn build(self, how: CreationMode) -> Result<SemaphoreSet> {
        let object = describe(self.key, None);
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
                if self.key.is_private() {
                    return self.do_create();
                }
                for _ in 0..100 {
                    match self.do_create() {
                        Err(Error::AlreadyExists { .. }) => {}
                        other => return other,
                    }
                    match self.do_open() {
                        Err(Error::NotFound { .. }) => {}
                        Ok(set) => {
                            set.wait_initialised();
                            return Ok(set);
                        }
                        other => return other,
                    }
                }
                self.do_open()
            }
        }
    }

    fn do_create(&self) -> Result<SemaphoreSet> {
        let object = describe(self.key, None);
        let count = self
            .count
            .or(self.values.as_ref().map(Vec::len))
            .unwrap_or(1);
        if count == 0 {
            return Err(Error::InvalidArgument {
                object,
                reason: "a semaphore set needs at least 1 semaphore".into(),
            });
        }
        let values = self.values.clone().unwrap_or_else(|| vec![0; count]);
        if values.len() != count {
            return Err(Error::InvalidArgument {
                object,
                reason: format!(
                    "{} initial values given for {count} semaphores",
                    values.len()
                ),
            });
        }
        for &v in &values {
            check_value(&object, v)?;
        }
        let [semmsl, ..] = crate::limits::read_sem()?;
        if count as u64 > semmsl {
            return Err(Error::LimitExceeded {
                object,
                what: "semaphores per set".into(),
                requested: count as u64,
                limit: "SEMMSL".into(),
                max: semmsl,
                source_path: "/proc/sys/kernel/sem (field 1)".into(),
            });
        }
        let flags = libc::IPC_CREAT | libc::IPC_EXCL | self.mode as i32;
        let id = sys::semget(self.key.raw(), count as i32, flags)
            .map_err(|e| Error::os(&object, "semget", e))?;
        let set = SemaphoreSet {
            key: self.key,
            id,
            count,
            owner: true,
        };
        if values.iter().any(|&v| v != 0) {
            let raw: Vec<u16> = values.iter().map(|&v| v as u16).collect();
            sys::setall(id, &raw).map_err(|e| set.err("semctl(SETALL)", e))?;
        }
        // Mark the set initialised: a semop that changes nothing sets
        // sem_otime, which openers racing with this creation wait for.
        sys::semop(id, [(0, 1, 0), (0, -1, 0)].into_iter(), Deadline::now())
            .map_err(|e| set.err("semop", e))?;
        Ok(set)
    }

    fn do_open(&self) -> Result<SemaphoreSet> {
        let object = describe(self.key, None);
        if self.key.is_private() {
            return Err(Error::InvalidArgument {
                object,
                reason: "IPC_PRIVATE (key 0) sets cannot be opened by key; a shared key was meant"
                    .into(),
            });
        }
        let id = sys::semget(self.key.raw(), 0, 0).map_err(|e| Error::os(&object, "semget", e))?;
        let object = describe(self.key, Some(id));
        let st = sys::sem_stat(id).map_err(|e| Error::os(&object, "semctl(IPC_STAT)", e))?;
        let count = st.nsems as usize;
        if let Some(want) = self.count {
            if want != count {
                return Err(Error::InvalidArgument {
                    object,
                    reason: format!("the set has {count} semaphores, {want} were expected"),
                });
            }
        }
        Ok(SemaphoreSet {
            key: self.key,
            id,
            count,
            owner: false,
        })
    }
}

/// SEMOPM (most operations per `semop`), read once from `/proc/sys/kernel/sem`.
fn semopm() -> Result<u64> {
    static SEMOPM: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    if let Some(v) = SEMOPM.get() {
        return Ok(*v);
    }
    let [_, _, v, _] = crate::limits::read_sem()?;
    Ok(*SEMOPM.get_or_init(|| v))
}

fn check_value(object: &str, v: i32) -> Result<()> {
    if v < 0 {
        return Err(Error::InvalidArgument {
            object: object.to_owned(),
            reason: format!("semaphore value {v} is negative"),
        });
    }
    if v > SEM_VALUE_MAX {
        return Err(Error::LimitExceeded {
            object: object.to_owned(),
            what: "semaphore value".into(),
            requested: v as u64,
            limit: "SEM_VALUE_MAX".into(),
            max: SEM_VALUE_MAX as u64,
            source_path: SEMVMX_SOURCE.into(),
        });
    }
    Ok(())
}

/// A System V semaphore set.
#[derive(Debug)]
pub struct SemaphoreSet {
    key: Key,
    id: i32,
    count: usize,
    owner: bool,
}

impl SemaphoreSet {
    /// Starts building a set for `key`, mode 0600, one semaphore at 0.
    pub fn builder(key: Key) -> SemaphoreSetBuilder {
        SemaphoreSetBuilder {
            key,
            count: None,
            mode: DEFAULT_MODE,
            values: None,
        }
    }

    /// Opens a set by id (as `ipcs -s` shows it, or as a parent passes an
    /// `IPC_PRIVATE` set to a child). Never removes it.
    ///
    /// # Errors
    /// [`Error::Removed`] when no set has this id (`EINVAL`/`EIDRM`);
    /// [`Error::PermissionDenied`] when its mode forbids access.
    pub fn open_id(id: i32) -> Result<SemaphoreSet> {
        let object = describe(Key::PRIVATE, Some(id));
        let st = sys::sem_stat(id).map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::EIDRM) => Error::Removed {
                object: object.clone(),
                syscall: "semctl(IPC_STAT)",
            },
            _ => Error::os(&object, "semctl(IPC_STAT)", e),
        })?;
        Ok(SemaphoreSet {
            key: Key::from_raw(st.key).unwrap_or(Key::PRIVATE),
            id,
            count: st.nsems as usize,
            owner: false,
        })
    }

    /// The key.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The set id (`semid`, as `ipcs -s` shows it).
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Number of semaphores.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether this handle created the set (and removes it on drop).
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// Leaves the set in place on drop.
    pub fn keep(&mut self) {
        self.owner = false;
    }

    fn object(&self) -> String {
        describe(self.key, Some(self.id))
    }

    /// Maps an errno of an operation on this set: `EIDRM`, and `EINVAL` for
    /// arguments already checked (the id no longer exists), are `Removed`.
    fn err(&self, syscall: &'static str, e: std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::EIDRM) | Some(libc::EINVAL) => Error::Removed {
                object: self.object(),
                syscall,
            },
            _ => Error::os(self.object(), syscall, e),
        }
    }

    /// Waits (up to one second) until a creator racing with us has set the
    /// initial values: ipcx creators end creation with a semop, which sets
    /// `sem_otime`. Sets made by other programs may never have been
    /// operated on; they are used as they are after the grace period.
    fn wait_initialised(&self) {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(1) {
            match sys::sem_stat(self.id) {
                Ok(st) if st.otime == 0 => std::thread::sleep(Duration::from_millis(1)),
                _ => return,
            }
        }
    }

    fn check_num(&self, num: usize) -> Result<()> {
        if num >= self.count {
            return Err(Error::InvalidArgument {
                object: self.object(),
                reason: format!(
                    "semaphore index {num} is out of range: the set has {} semaphores",
                    self.count
                ),
            });
        }
        Ok(())
    }

    /// `semctl(GETVAL)`—the value of semaphore `num`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an index out of range;
    /// [`Error::Removed`] when the set is gone.
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "GETVAL")]
    pub fn get(&self, num: usize) -> Result<i32> {
        self.check_num(num)?;
        sys::getval(self.id, num as i32).map_err(|e| self.err("semctl(GETVAL)", e))
    }

    /// `semctl(SETVAL)`—sets semaphore `num` (0 to [`SEM_VALUE_MAX`]); this
    /// clears every process's `SEM_UNDO` adjustment for it.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] over [`SEM_VALUE_MAX`], checked before the
    /// call; [`Error::InvalidArgument`] for a negative value or an index out
    /// of range; [`Error::Removed`] when the set is gone.
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "SETVAL")]
    pub fn set(&self, num: usize, value: i32) -> Result<()> {
        self.check_num(num)?;
        check_value(&self.object(), value)?;
        sys::setval(self.id, num as i32, value).map_err(|e| self.err("semctl(SETVAL)", e))
    }

    /// `semctl(GETALL)`—every value.
    ///
    /// # Errors
    /// [`Error::Removed`] when the set is gone.
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "GETALL")]
    pub fn get_all(&self) -> Result<Vec<u16>> {
        let mut v = vec![0u16; self.count];
        sys::getall(self.id, &mut v).map_err(|e| self.err("semctl(GETALL)", e))?;
        Ok(v)
    }

    /// `semctl(SETALL)`—sets every value (one per semaphore).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the number of values differs from
    /// the count; [`Error::LimitExceeded`] for a value over
    /// [`SEM_VALUE_MAX`]; [`Error::Removed`] when the set is gone.
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "SETALL")]
    pub fn set_all(&self, values: &[i32]) -> Result<()> {
        if values.len() != self.count {
            return Err(Error::InvalidArgument {
                object: self.object(),
                reason: format!(
                    "{} values given for {} semaphores",
                    values.len(),
                    self.count
                ),
            });
        }
        for &v in values {
            check_value(&self.object(), v)?;
        }
        let raw: Vec<u16> = values.iter().map(|&v| v as u16).collect();
        sys::setall(self.id, &raw).map_err(|e| self.err("semctl(SETALL)", e))
    }

    /// `semctl(GETPID)`—pid of the last process that operated on `num`.
    ///
    /// # Errors
    /// As [`SemaphoreSet::get`].
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "GETPID")]
    pub fn last_pid(&self, num: usize) -> Result<u32> {
        self.check_num(num)?;
        sys::getpid(self.id, num as i32)
            .map(|p| p as u32)
            .map_err(|e| self.err("semctl(GETPID)", e))
    }

    /// `semctl(GETNCNT)`—processes waiting for `num` to increase.
    ///
    /// # Errors
    /// As [`SemaphoreSet::get`].
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "GETNCNT")]
    pub fn waiting(&self, num: usize) -> Result<u32> {
        self.check_num(num)?;
        sys::getncnt(self.id, num as i32)
            .map(|p| p as u32)
            .map_err(|e| self.err("semctl(GETNCNT)", e))
    }

    /// `semctl(IPC_STAT)`.
    ///
    /// # Errors
    /// [`Error::Removed`] when the set is gone.
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "IPC_STAT")]
    pub fn stat(&self) -> Result<Stat> {
        let st = sys::sem_stat(self.id).map_err(|e| self.err("semctl(IPC_STAT)", e))?;
        Ok(Stat {
            key: st.key,
            count: st.nsems,
            mode: st.mode & 0o777,
            uid: st.uid,
            last_op_time: st.otime,
        })
    }

    fn check_ops(&self, ops: &[SemOp]) -> Result<()> {
        if ops.is_empty() {
            return Err(Error::InvalidArgument {
                object: self.object(),
                reason: "semop needs at least one operation".into(),
            });
        }
        let semopm = semopm()?;
        if ops.len() as u64 > semopm {
            return Err(Error::LimitExceeded {
                object: self.object(),
                what: "operations per semop".into(),
                requested: ops.len() as u64,
                limit: "SEMOPM".into(),
                max: semopm,
                source_path: "/proc/sys/kernel/sem (field 3)".into(),
            });
        }
        for op in ops {
            self.check_num(op.num as usize)?;
        }
        Ok(())
    }

    fn op_deadline(&self, ops: &[SemOp], deadline: Deadline) -> Result<bool> {
        self.check_ops(ops)?;
        let raw = ops.iter().map(|op| {
            let flg = if op.undo { libc::SEM_UNDO as i16 } else { 0 };
            (op.num, op.delta, flg)
        });
        match sys::semop(self.id, raw, deadline) {
            Ok(sys::OpOutcome::Done) => Ok(true),
            Ok(sys::OpOutcome::WouldBlock) => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) => Err(Error::LimitExceeded {
                object: self.object(),
                what: "semaphore value after the operation".into(),
                requested: SEM_VALUE_MAX as u64 + 1,
                limit: "SEM_VALUE_MAX".into(),
                max: SEM_VALUE_MAX as u64,
                source_path: SEMVMX_SOURCE.into(),
            }),
            Err(e) => Err(self.err("semop", e)),
        }
    }

    /// `semop`—applies all operations atomically, waiting as long as it
    /// takes; `EINTR` is retried.
    ///
    /// # Errors
    /// - [`Error::Removed`]: the set was removed, also while waiting (`EIDRM`).
    /// - [`Error::InvalidArgument`]: no operations or an index out of range.
    /// - [`Error::LimitExceeded`]: more operations than SEMOPM, or a result
    ///   over [`SEM_VALUE_MAX`] (`ERANGE`).
    ///
    /// # References
    /// [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)
    #[doc(alias = "semop")]
    pub fn op(&self, ops: &[SemOp]) -> Result<()> {
        self.op_deadline(ops, Deadline::NEVER).map(drop)
    }

    /// `semop` with `IPC_NOWAIT`: `Ok(false)` if it would have to wait
    /// (nothing was applied).
    ///
    /// # Errors
    /// As [`SemaphoreSet::op`].
    ///
    /// # References
    /// [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)
    #[doc(alias = "IPC_NOWAIT")]
    pub fn try_op(&self, ops: &[SemOp]) -> Result<bool> {
        self.op_deadline(ops, Deadline::now())
    }

    /// `semtimedop`—as [`SemaphoreSet::op`], giving up after `timeout`
    /// (`EINTR` retried against the same deadline).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when the time ran out (nothing was applied);
    /// otherwise as [`SemaphoreSet::op`].
    ///
    /// # References
    /// [semop(2)](https://man7.org/linux/man-pages/man2/semop.2.html)
    #[doc(alias = "semtimedop")]
    pub fn op_timeout(&self, ops: &[SemOp], timeout: Duration) -> Result<()> {
        // A zero timeout would turn into IPC_NOWAIT; that is the same thing.
        if self.op_deadline(ops, Deadline::after(Some(timeout)))? {
            Ok(())
        } else {
            Err(Error::TimedOut {
                object: self.object(),
                waiting_for: "the semaphore operations to become possible".into(),
                timeout,
            })
        }
    }

    /// Waits for semaphore `num` and takes one (`-1`, `SEM_UNDO`).
    ///
    /// # Errors
    /// As [`SemaphoreSet::op`].
    pub fn wait(&self, num: u16) -> Result<()> {
        self.op(&[SemOp::wait(num)])
    }

    /// Gives one back to semaphore `num` (`+1`, `SEM_UNDO`).
    ///
    /// # Errors
    /// As [`SemaphoreSet::op`].
    pub fn post(&self, num: u16) -> Result<()> {
        self.op(&[SemOp::post(num)])
    }

    /// Lock-style use: takes one from semaphore `num` and gives it back when
    /// the guard drops. With `SEM_UNDO`, the kernel gives it back if this
    /// process dies holding it.
    ///
    /// # Errors
    /// As [`SemaphoreSet::op`].
    pub fn lock(&self, num: u16) -> Result<SemGuard<'_>> {
        self.wait(num)?;
        Ok(SemGuard { set: self, num })
    }

    /// As [`SemaphoreSet::lock`], giving up after `timeout`.
    ///
    /// # Errors
    /// As [`SemaphoreSet::op_timeout`].
    pub fn lock_timeout(&self, num: u16, timeout: Duration) -> Result<SemGuard<'_>> {
        self.op_timeout(&[SemOp::wait(num)], timeout)?;
        Ok(SemGuard { set: self, num })
    }

    /// As [`SemaphoreSet::lock`] without waiting: `None` when taken.
    ///
    /// # Errors
    /// As [`SemaphoreSet::op`].
    pub fn try_lock(&self, num: u16) -> Result<Option<SemGuard<'_>>> {
        Ok(self
            .try_op(&[SemOp::wait(num)])?
            .then(|| SemGuard { set: self, num }))
    }

    /// `semctl(IPC_RMID)`—removes the set now; waiters get [`Error::Removed`].
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] when neither owner nor creator;
    /// [`Error::Removed`] when already gone.
    ///
    /// # References
    /// [semctl(2)](https://man7.org/linux/man-pages/man2/semctl.2.html)
    #[doc(alias = "IPC_RMID")]
    pub fn remove(&mut self) -> Result<()> {
        self.owner = false;
        sys::sem_rmid(self.id).map_err(|e| self.err("semctl(IPC_RMID)", e))
    }
}

impl Drop for SemaphoreSet {
    fn drop(&mut self) {
        if self.owner {
            let _ = sys::sem_rmid(self.id);
        }
    }
}

/// Holds one unit of a semaphore; gives it back on drop.
#[derive(Debug)]
#[must_use = "the semaphore is released as soon as the guard is dropped"]
pub struct SemGuard<'a> {
    set: &'a SemaphoreSet,
    num: u16,
}

impl Drop for SemGuard<'_> {
    fn drop(&mut self) {
        let _ = self.set.post(self.num);
    }
}
