//! Process-shared robust pthread mutexes placed in shared memory:
//! `pthread_mutex_init` (`PTHREAD_PROCESS_SHARED`, `PTHREAD_MUTEX_ROBUST`),
//! `pthread_mutex_lock`/`trylock`/`clocklock`/`unlock`/`consistent`.

use std::io;
use std::time::Duration;

use crate::deadline::Deadline;
use crate::shm::Region;

extern "C" {
    /// glibc ≥ 2.30 `pthread_mutex_clocklock`.
    fn pthread_mutex_clocklock(
        mutex: *mut libc::pthread_mutex_t,
        clockid: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// Size of a `pthread_mutex_t`, in bytes.
pub(crate) const MUTEX_SIZE: usize = std::mem::size_of::<libc::pthread_mutex_t>();
/// Alignment of a `pthread_mutex_t`, in bytes.
pub(crate) const MUTEX_ALIGN: usize = std::mem::align_of::<libc::pthread_mutex_t>();

/// How a lock attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockOutcome {
    /// Locked.
    Acquired,
    /// Locked, but the previous owner died holding it (`EOWNERDEAD`).
    OwnerDied,
    /// Not locked: busy (try) or the deadline passed.
    WouldBlock,
}

/// The mutex at `offset`. Callers check placement first (`Region::check`);
/// asserted again here so the unsafe code below stands on its own.
fn mutex_at(r: &Region<'_>, offset: usize) -> *mut libc::pthread_mutex_t {
    assert!(
        offset
            .checked_add(MUTEX_SIZE)
            .is_some_and(|end| end <= r.len())
            && offset % MUTEX_ALIGN == 0
            && r.is_writable(),
        "mutex placement out of bounds, unaligned or read-only"
    );
    r.as_ptr().wrapping_add(offset).cast()
}

fn rc(code: libc::c_int) -> io::Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(code))
    }
}

/// Initialises a robust, process-shared mutex at `offset`.
pub(crate) fn mutex_init(r: Region<'_>, offset: usize) -> io::Result<()> {
    let m = mutex_at(&r, offset);
    // SAFETY: an all-zero pthread_mutexattr_t is valid storage for init.
    let mut attr: libc::pthread_mutexattr_t = unsafe { std::mem::zeroed() };
    // SAFETY: `attr` is valid, writable storage.
    rc(unsafe { libc::pthread_mutexattr_init(&mut attr) })?;
    // SAFETY: `attr` was initialised above and is destroyed below.
    let result = unsafe {
        rc(libc::pthread_mutexattr_setpshared(
            &mut attr,
            libc::PTHREAD_PROCESS_SHARED,
        ))
        .and_then(|()| {
            rc(libc::pthread_mutexattr_setrobust(
                &mut attr,
                libc::PTHREAD_MUTEX_ROBUST,
            ))
        })
        // `m` is in bounds, aligned and writable in a live shared mapping.
        .and_then(|()| rc(libc::pthread_mutex_init(m, &attr)))
    };
    // SAFETY: `attr` was initialised and is not used after this.
    unsafe { libc::pthread_mutexattr_destroy(&mut attr) };
    result
}

/// Locks the mutex at `offset`, waiting until `deadline` (`Deadline::now()`
/// is `pthread_mutex_trylock`; a timed wait uses `pthread_mutex_clocklock`
/// on `CLOCK_MONOTONIC`, the absolute time recomputed on every retry).
pub(crate) fn mutex_lock(
    r: Region<'_>,
    offset: usize,
    deadline: Deadline,
) -> io::Result<LockOutcome> {
    let m = mutex_at(&r, offset);
    loop {
        let code = match deadline.remaining() {
            // SAFETY: `m` is a mutex location in a live shared mapping. Its
            // bytes may be anything another process wrote; glibc operates on
            // them with atomics and futex calls on that same address, so bad
            // content gives an error or a wrong lock state, not a wild access.
            None => unsafe { libc::pthread_mutex_lock(m) },
            // SAFETY: as above.
            Some(Duration::ZERO) => unsafe { libc::pthread_mutex_trylock(m) },
            Some(left) => {
                let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
                let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
                let abs = now.saturating_add(left);
                let ts = libc::timespec {
                    tv_sec: abs.as_secs().min(i64::MAX as u64) as libc::time_t,
                    tv_nsec: libc::c_long::from(abs.subsec_nanos() as i32),
                };
                // SAFETY: as above; `ts` lives for the call.
                unsafe { pthread_mutex_clocklock(m, libc::CLOCK_MONOTONIC, &ts) }
            }
        };
        match code {
            0 => return Ok(LockOutcome::Acquired),
            libc::EOWNERDEAD => return Ok(LockOutcome::OwnerDied),
            libc::EBUSY | libc::ETIMEDOUT => return Ok(LockOutcome::WouldBlock),
            libc::EINTR if !deadline.expired() => continue,
            libc::EINTR => return Ok(LockOutcome::WouldBlock),
            other => return Err(io::Error::from_raw_os_error(other)),
        }
    }
}

/// Unlocks the mutex at `offset` (held by this thread).
pub(crate) fn mutex_unlock(r: Region<'_>, offset: usize) -> io::Result<()> {
    let m = mutex_at(&r, offset);
    // SAFETY: as for mutex_lock.
    rc(unsafe { libc::pthread_mutex_unlock(m) })
}

/// Marks the state protected by a mutex locked with `EOWNERDEAD` consistent.
pub(crate) fn mutex_consistent(r: Region<'_>, offset: usize) -> io::Result<()> {
    let m = mutex_at(&r, offset);
    // SAFETY: as for mutex_lock.
    rc(unsafe { libc::pthread_mutex_consistent(m) })
}
