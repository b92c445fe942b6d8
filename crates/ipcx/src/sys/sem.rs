//! Semaphore system calls: System V `semget`/`semop`/`semtimedop`/`semctl`
//! and POSIX `sem_open`/`sem_close`/`sem_unlink`/`sem_init`/`sem_destroy`/
//! `sem_wait`/`sem_trywait`/`sem_clockwait`/`sem_post`/`sem_getvalue`.

use std::ffi::CString;
use std::io;
use std::ptr::NonNull;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::shm::Region;

extern "C" {
    /// glibc's `semtimedop(2)` wrapper (not in the libc crate for gnu).
    fn semtimedop(
        semid: libc::c_int,
        sops: *mut libc::sembuf,
        nsops: libc::size_t,
        timeout: *const libc::timespec,
    ) -> libc::c_int;

    /// glibc ≥ 2.30 `sem_clockwait(3)`.
    fn sem_clockwait(
        sem: *mut libc::sem_t,
        clockid: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// `union semun` of semctl(2).
#[repr(C)]
#[derive(Clone, Copy)]
union Semun {
    val: libc::c_int,
    buf: *mut libc::semid_ds,
    array: *mut libc::c_ushort,
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

// ---------------------------------------------------------------------------
// System V semaphore sets.

/// `semget(key, nsems, flags)`: the set id.
pub(crate) fn semget(key: i32, nsems: i32, flags: i32) -> io::Result<i32> {
    // SAFETY: plain integers; no memory of ours is touched.
    check(unsafe { libc::semget(key, nsems, flags) })
}

/// One operation of `semop`: (semaphore index, delta, flags).
pub(crate) type RawOp = (u16, i16, i16);

/// Result of a semaphore operation that may wait.
pub(crate) enum OpOutcome {
    /// Done.
    Done,
    /// `IPC_NOWAIT` and it would block, or the deadline passed.
    WouldBlock,
}

/// `semop`/`semtimedop`, retrying `EINTR` against `deadline`. With an
/// expired deadline (`Deadline::now()`) the operations carry `IPC_NOWAIT`.
pub(crate) fn semop(
    id: i32,
    ops: impl ExactSizeIterator<Item = RawOp>,
    deadline: Deadline,
) -> io::Result<OpOutcome> {
    let nowait = deadline.remaining() == Some(Duration::ZERO);
    let to_sembuf = |(num, op, flg): RawOp| libc::sembuf {
        sem_num: num,
        sem_op: op,
        sem_flg: flg | if nowait { libc::IPC_NOWAIT as i16 } else { 0 },
    };
    // No allocation for the common short operation lists.
    const INLINE: usize = 8;
    let mut inline = [libc::sembuf {
        sem_num: 0,
        sem_op: 0,
        sem_flg: 0,
    }; INLINE];
    let mut heap = Vec::new();
    let n = ops.len();
    let sops: &mut [libc::sembuf] = if n <= INLINE {
        for (slot, op) in inline.iter_mut().zip(ops) {
            *slot = to_sembuf(op);
        }
        &mut inline[..n]
    } else {
        heap.extend(ops.map(to_sembuf));
        &mut heap[..]
    };
    loop {
        let rc = match deadline.remaining() {
            None => {
                // SAFETY: `sops` is a valid array of `sops.len()` sembufs.
                unsafe { libc::semop(id, sops.as_mut_ptr(), sops.len()) }
            }
            Some(left) => {
                let ts = timespec(left);
                // SAFETY: `sops` is a valid array of `sops.len()` sembufs and
                // `ts` a valid timespec, both alive for the call.
                unsafe { semtimedop(id, sops.as_mut_ptr(), sops.len(), &ts) }
            }
        };
        if rc == 0 {
            return Ok(OpOutcome::Done);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) if !deadline.expired() => continue,
            Some(libc::EINTR) | Some(libc::EAGAIN) => return Ok(OpOutcome::WouldBlock),
            _ => return Err(err),
        }
    }
}

/// `semctl(id, num, GETVAL)`.
pub(crate) fn getval(id: i32, num: i32) -> io::Result<i32> {
    // SAFETY: GETVAL takes no fourth argument.
    check(unsafe { libc::semctl(id, num, libc::GETVAL) })
}

/// `semctl(id, num, GETPID)`.
pub(crate) fn getpid(id: i32, num: i32) -> io::Result<i32> {
    // SAFETY: GETPID takes no fourth argument.
    check(unsafe { libc::semctl(id, num, libc::GETPID) })
}

/// `semctl(id, num, GETNCNT)`.
pub(crate) fn getncnt(id: i32, num: i32) -> io::Result<i32> {
    // SAFETY: GETNCNT takes no fourth argument.
    check(unsafe { libc::semctl(id, num, libc::GETNCNT) })
}

/// `semctl(id, num, SETVAL, value)`.
pub(crate) fn setval(id: i32, num: i32, value: i32) -> io::Result<()> {
    let arg = Semun { val: value };
    // SAFETY: SETVAL reads `arg.val` from the semun passed by value.
    check(unsafe { libc::semctl(id, num, libc::SETVAL, arg) }).map(drop)
}

/// `semctl(id, 0, GETALL, array)`; `values.len()` must be the set's size.
pub(crate) fn getall(id: i32, values: &mut [u16]) -> io::Result<()> {
    let arg = Semun {
        array: values.as_mut_ptr(),
    };
    // SAFETY: GETALL writes nsems values; callers pass a slice of exactly
    // the set's nsems (read from IPC_STAT), valid and writable for the call.
    check(unsafe { libc::semctl(id, 0, libc::GETALL, arg) }).map(drop)
}

/// `semctl(id, 0, SETALL, array)`; `values.len()` must be the set's size.
pub(crate) fn setall(id: i32, values: &[u16]) -> io::Result<()> {
    let mut copy = values.to_vec();
    let arg = Semun {
        array: copy.as_mut_ptr(),
    };
    // SAFETY: SETALL reads nsems values from `copy`, which holds exactly the
    // set's nsems values and lives for the call.
    check(unsafe { libc::semctl(id, 0, libc::SETALL, arg) }).map(drop)
}

/// What `semctl(IPC_STAT)` reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SemStat {
    pub(crate) key: i32,
    pub(crate) nsems: u64,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) otime: i64,
}

/// `semctl(id, 0, IPC_STAT)`.
pub(crate) fn sem_stat(id: i32) -> io::Result<SemStat> {
    // SAFETY: semid_ds is plain old data; all-zero is a valid value.
    let mut ds: libc::semid_ds = unsafe { std::mem::zeroed() };
    let arg = Semun { buf: &mut ds };
    // SAFETY: IPC_STAT fills the semid_ds `arg.buf` points to, valid and
    // writable for the call.
    check(unsafe { libc::semctl(id, 0, libc::IPC_STAT, arg) })?;
    Ok(SemStat {
        key: ds.sem_perm.__key,
        nsems: ds.sem_nsems as u64,
        mode: u32::from(ds.sem_perm.mode),
        uid: ds.sem_perm.uid,
        otime: ds.sem_otime as i64,
    })
}

/// `semctl(id, 0, IPC_RMID)`: removes the set at once, waking waiters with
/// `EIDRM`.
pub(crate) fn sem_rmid(id: i32) -> io::Result<()> {
    // SAFETY: IPC_RMID takes no fourth argument.
    check(unsafe { libc::semctl(id, 0, libc::IPC_RMID) }).map(drop)
}

// ---------------------------------------------------------------------------
// POSIX semaphores.

/// Waits on `sem` until acquired, `deadline` passes (returns `false`) or an
/// error other than `EINTR`. `Deadline::now()` is `sem_trywait`.
///
/// # Safety
/// `sem` must point to a semaphore initialised by `sem_init(pshared = 1)` or
/// returned by `sem_open`, valid for the whole call.
unsafe fn wait_raw(sem: *mut libc::sem_t, deadline: Deadline) -> io::Result<bool> {
    loop {
        let rc = match deadline.remaining() {
            // SAFETY: `sem` is valid (this function's contract).
            None => unsafe { libc::sem_wait(sem) },
            Some(Duration::ZERO) => {
                // SAFETY: as above.
                unsafe { libc::sem_trywait(sem) }
            }
            Some(left) => {
                let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
                let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
                // Recomputed on every retry from the monotonic deadline.
                let abs = timespec(now.saturating_add(left));
                // SAFETY: `sem` is valid (contract); `abs` lives for the call.
                unsafe { sem_clockwait(sem, libc::CLOCK_MONOTONIC, &abs) }
            }
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) if !deadline.expired() => continue,
            Some(libc::EINTR) | Some(libc::EAGAIN) | Some(libc::ETIMEDOUT) => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// # Safety
/// As for [`wait_raw`].
unsafe fn post_raw(sem: *mut libc::sem_t) -> io::Result<()> {
    // SAFETY: `sem` is valid (contract).
    check(unsafe { libc::sem_post(sem) }).map(drop)
}

/// # Safety
/// As for [`wait_raw`].
unsafe fn value_raw(sem: *mut libc::sem_t) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    // SAFETY: `sem` is valid (contract); `v` is writable.
    check(unsafe { libc::sem_getvalue(sem, &mut v) })?;
    Ok(v)
}

/// A named semaphore from `sem_open`, closed (`sem_close`) on drop.
#[derive(Debug)]
pub(crate) struct NamedSem {
    sem: NonNull<libc::sem_t>,
}

// SAFETY: a sem_t from sem_open is a process-shared object meant to be used
// from any thread; all operations on it are thread-safe libc calls.
unsafe impl Send for NamedSem {}
// SAFETY: as for Send.
unsafe impl Sync for NamedSem {}

impl NamedSem {
    /// `sem_open(name, flags, mode, value)`; `flags` has `O_CREAT`/`O_EXCL`
    /// or neither.
    pub(crate) fn open(name: &str, flags: i32, mode: u32, value: u32) -> io::Result<NamedSem> {
        let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: `c` is NUL-terminated and lives for the call; with O_CREAT
        // the variadic mode (promoted to unsigned int) and value follow.
        let p = unsafe { libc::sem_open(c.as_ptr(), flags, mode as libc::c_uint, value) };
        if p == libc::SEM_FAILED {
            return Err(io::Error::last_os_error());
        }
        NonNull::new(p)
            .map(|sem| NamedSem { sem })
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
    }

    pub(crate) fn wait(&self, deadline: Deadline) -> io::Result<bool> {
        // SAFETY: `sem` came from sem_open and stays valid until Drop.
        unsafe { wait_raw(self.sem.as_ptr(), deadline) }
    }

    pub(crate) fn post(&self) -> io::Result<()> {
        // SAFETY: as for wait.
        unsafe { post_raw(self.sem.as_ptr()) }
    }

    pub(crate) fn value(&self) -> io::Result<i32> {
        // SAFETY: as for wait.
        unsafe { value_raw(self.sem.as_ptr()) }
    }
}

impl Drop for NamedSem {
    fn drop(&mut self) {
        // SAFETY: `sem` came from sem_open and is closed exactly once, here.
        let _ = unsafe { libc::sem_close(self.sem.as_ptr()) };
    }
}

/// `sem_unlink(name)`.
pub(crate) fn sem_unlink(name: &str) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is NUL-terminated and lives for the call.
    check(unsafe { libc::sem_unlink(c.as_ptr()) }).map(drop)
}

/// Size of a `sem_t`, in bytes.
pub(crate) const SEM_T_SIZE: usize = std::mem::size_of::<libc::sem_t>();
/// Alignment of a `sem_t`, in bytes.
pub(crate) const SEM_T_ALIGN: usize = std::mem::align_of::<libc::sem_t>();

/// The `sem_t` at `offset` in a region. Callers check bounds, alignment and
/// writability first (`Region::check`); asserted again here.
fn sem_at(r: &Region<'_>, offset: usize) -> *mut libc::sem_t {
    assert!(
        offset
            .checked_add(SEM_T_SIZE)
            .is_some_and(|end| end <= r.len())
            && offset % SEM_T_ALIGN == 0
            && r.is_writable(),
        "semaphore placement out of bounds, unaligned or read-only"
    );
    r.as_ptr().wrapping_add(offset).cast()
}

/// `sem_init(sem, pshared = 1, value)` at `offset` in a shared region.
pub(crate) fn unnamed_init(r: Region<'_>, offset: usize, value: u32) -> io::Result<()> {
    let p = sem_at(&r, offset);
    // SAFETY: `p` is in bounds, aligned and writable in a live shared
    // mapping (sem_at); pshared = 1 because other processes map it too.
    check(unsafe { libc::sem_init(p, 1, value) }).map(drop)
}

/// Waits on the unnamed semaphore at `offset`.
pub(crate) fn unnamed_wait(r: Region<'_>, offset: usize, deadline: Deadline) -> io::Result<bool> {
    let p = sem_at(&r, offset);
    // SAFETY: `p` is a valid sem_t location in a live mapping (sem_at). The
    // bytes may be anything another process wrote; glibc's sem_t is a
    // counter operated on with atomics and futexes, so any content gives a
    // wrong value or an error, never a wild memory access.
    unsafe { wait_raw(p, deadline) }
}

/// Posts the unnamed semaphore at `offset`.
pub(crate) fn unnamed_post(r: Region<'_>, offset: usize) -> io::Result<()> {
    let p = sem_at(&r, offset);
    // SAFETY: as for unnamed_wait.
    unsafe { post_raw(p) }
}

/// Value of the unnamed semaphore at `offset`.
pub(crate) fn unnamed_value(r: Region<'_>, offset: usize) -> io::Result<i32> {
    let p = sem_at(&r, offset);
    // SAFETY: as for unnamed_wait.
    unsafe { value_raw(p) }
}

/// `sem_destroy` of the unnamed semaphore at `offset`.
pub(crate) fn unnamed_destroy(r: Region<'_>, offset: usize) -> io::Result<()> {
    let p = sem_at(&r, offset);
    // SAFETY: as for unnamed_wait; on Linux sem_destroy only checks the
    // pointer.
    check(unsafe { libc::sem_destroy(p) }).map(drop)
}
