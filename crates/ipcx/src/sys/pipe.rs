//! Raw calls behind [`crate::pipe`] and [`crate::fifo`]: `pipe2`, reads and
//! writes (plain and `RWF_NOWAIT`), pipe capacity, `O_NONBLOCK`, writes that
//! cannot raise `SIGPIPE`, and placing a descriptor at a fixed number in a
//! child process.
//!
//! # Writes without `SIGPIPE`
//!
//! `write(2)` to a pipe with no reader raises `SIGPIPE` on the calling thread
//! (the kernel sends it thread-directed) and fails with `EPIPE`. Unlike
//! `send(2)` there is no `MSG_NOSIGNAL` for pipes, and a library must not
//! change the process-wide disposition. [`write`] therefore blocks `SIGPIPE`
//! in the calling thread's signal mask for the duration of the call
//! (`pthread_sigmask`), and when the write failed with `EPIPE` it takes the
//! signal it caused off the pending set with a zero-timeout `sigtimedwait`,
//! before unblocking. A `SIGPIPE` that was already pending before the write
//! (the caller had it blocked) is left alone. Cost: two `rt_sigprocmask`
//! calls per write, plus one `rt_sigpending` when the caller blocks `SIGPIPE`
//! itself.
//!
//! # References
//! [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html),
//! [pthread_sigmask(3)](https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html),
//! [sigtimedwait(2)](https://man7.org/linux/man-pages/man2/sigtimedwait.2.html),
//! [preadv2(2)](https://man7.org/linux/man-pages/man2/preadv2.2.html)

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::OFlags;
use rustix::io::{Errno, ReadWriteFlags};
use rustix::pipe::PipeFlags;

/// `pipe2(O_CLOEXEC)`: a new pipe, (read end, write end), both close-on-exec.
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd), Errno> {
    rustix::pipe::pipe_with(PipeFlags::CLOEXEC)
}

/// Whether `preadv2`/`pwritev2` with `RWF_NOWAIT` work on pipes here (Linux
/// 5.x and later); cleared the first time the kernel says otherwise.
static NOWAIT_SUPPORTED: AtomicBool = AtomicBool::new(true);

/// Whether [`read_nowait`] and [`write`] with `nowait` may be used.
pub(crate) fn nowait_supported() -> bool {
    NOWAIT_SUPPORTED.load(Ordering::Relaxed)
}

/// Makes the callers use their fallback (as on a kernel without
/// `RWF_NOWAIT`), or stops doing so.
#[cfg(test)]
pub(crate) fn set_nowait_supported(on: bool) {
    NOWAIT_SUPPORTED.store(on, Ordering::Relaxed);
}

/// Turns the errnos of a kernel without `RWF_NOWAIT` for this file into
/// `EOPNOTSUPP`: the caller then waits with `poll` and makes a plain call.
/// `EOPNOTSUPP` (the file does not support it) and `ENOSYS` (no
/// `preadv2`, before Linux 4.6) are remembered; `EINVAL` (an unknown flag,
/// before Linux 4.14, but also other invalid requests) is not.
fn nowait_result(r: Result<usize, Errno>) -> Result<usize, Errno> {
    match r {
        Err(Errno::OPNOTSUPP) | Err(Errno::NOSYS) => {
            NOWAIT_SUPPORTED.store(false, Ordering::Relaxed);
            Err(Errno::OPNOTSUPP)
        }
        Err(Errno::INVAL) => Err(Errno::OPNOTSUPP),
        other => other,
    }
}

/// `read(2)`: blocks if the descriptor is blocking and the pipe is empty.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    rustix::io::read(fd, buf)
}

/// `preadv2(RWF_NOWAIT)` at the current position: never blocks, whatever
/// the descriptor's `O_NONBLOCK` flag; `EAGAIN` when nothing is there;
/// `EOPNOTSUPP` when the kernel cannot do it (see [`nowait_supported`]).
pub(crate) fn read_nowait(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut bufs = [IoSliceMut::new(buf)];
    nowait_result(rustix::io::preadv2(
        fd,
        &mut bufs,
        u64::MAX,
        ReadWriteFlags::NOWAIT,
    ))
}

/// `write(2)` (or `pwritev2(RWF_NOWAIT)` when `nowait`) with `SIGPIPE`
/// blocked on this thread, so that a write with no reader fails with `EPIPE`
/// and never kills the process; see the module documentation.
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8], nowait: bool) -> Result<usize, Errno> {
    let guard = SigpipeGuard::block();
    let r = if nowait {
        nowait_result(rustix::io::pwritev2(
            fd,
            &[IoSlice::new(buf)],
            u64::MAX,
            ReadWriteFlags::NOWAIT,
        ))
    } else {
        rustix::io::write(fd, buf)
    };
    if r == Err(Errno::PIPE) {
        guard.consume_own_signal();
    }
    drop(guard);
    r
}

/// `SIGPIPE` blocked on the calling thread while it lives.
struct SigpipeGuard {
    set: libc::sigset_t,
    was_blocked: bool,
    was_pending: bool,
}

/// A signal set holding only `SIGPIPE`.
fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the whole set it is given; the pointer
    // is valid for writes of one sigset_t.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: the set was initialised just above; SIGPIPE is a valid signal
    // number, so sigaddset cannot fail.
    unsafe { libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE) };
    // SAFETY: initialised by sigemptyset above.
    unsafe { set.assume_init() }
}

impl SigpipeGuard {
    fn block() -> SigpipeGuard {
        let set = sigpipe_set();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `set` is an initialised sigset_t and `old` is valid for
        // writing one; SIG_BLOCK only adds SIGPIPE to this thread's mask.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
        debug_assert_eq!(rc, 0, "pthread_sigmask(SIG_BLOCK)");
        // SAFETY: pthread_sigmask succeeded (it fails only for a bad `how`),
        // so it filled in the old mask.
        let old = unsafe { old.assume_init() };
        // SAFETY: `old` is an initialised sigset_t.
        let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
        let was_pending = was_blocked && sigpipe_pending();
        SigpipeGuard {
            set,
            was_blocked,
            was_pending,
        }
    }

    /// Takes the `SIGPIPE` this thread's write just raised off the pending
    /// set, unless one was pending before (it then belongs to the caller).
    fn consume_own_signal(&self) {
        if self.was_pending {
            return;
        }
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: `set` is an initialised sigset_t holding only SIGPIPE,
            // which is blocked on this thread (the guard blocked it); a null
            // siginfo pointer is allowed; `zero` is a valid timespec.
            let rc = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &zero) };
            if rc >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return;
            }
        }
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        if !self.was_blocked {
            // SAFETY: `set` is an initialised sigset_t; SIG_UNBLOCK removes
            // only SIGPIPE, which this guard added, from the thread's mask.
            let rc = unsafe {
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.set, std::ptr::null_mut())
            };
            debug_assert_eq!(rc, 0, "pthread_sigmask(SIG_UNBLOCK)");
        }
    }
}

/// Whether `SIGPIPE` is pending for this thread or the process.
pub(crate) fn sigpipe_pending() -> bool {
    let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: the pointer is valid for writing one sigset_t.
    let rc = unsafe { libc::sigpending(pending.as_mut_ptr()) };
    if rc != 0 {
        return false;
    }
    // SAFETY: sigpending succeeded and filled the set in.
    let pending = unsafe { pending.assume_init() };
    // SAFETY: `pending` is an initialised sigset_t.
    unsafe { libc::sigismember(&pending, libc::SIGPIPE) == 1 }
}

/// `fcntl(F_GETPIPE_SZ)`: the pipe's capacity in bytes.
pub(crate) fn pipe_size(fd: BorrowedFd<'_>) -> Result<usize, Errno> {
    rustix::pipe::fcntl_getpipe_size(fd)
}

/// `fcntl(F_SETPIPE_SZ)`: sets the capacity, returns the capacity granted.
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, bytes: usize) -> Result<usize, Errno> {
    rustix::pipe::fcntl_setpipe_size(fd, bytes)
}

/// `fcntl(F_SETFL)`: sets or clears `O_NONBLOCK` on the open file description.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>, on: bool) -> Result<(), Errno> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let new = if on {
        flags | OFlags::NONBLOCK
    } else {
        flags - OFlags::NONBLOCK
    };
    if new != flags {
        rustix::fs::fcntl_setfl(fd, new)?;
    }
    Ok(())
}

/// `fcntl(F_DUPFD_CLOEXEC)`: a second descriptor for the same open file.
pub(crate) fn dup_cloexec(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    rustix::io::fcntl_dupfd_cloexec(fd, 0)
}

/// Arranges for `fd` to be descriptor number `target` in the child that
/// `cmd` spawns, without close-on-exec there; the parent's descriptor keeps
/// `FD_CLOEXEC`. `cmd` owns `fd` until it is dropped.
pub(crate) fn inherit_as(cmd: &mut Command, fd: OwnedFd, target: RawFd) {
    let source = fd.as_raw_fd();
    let hook = move || -> io::Result<()> {
        // Keep the descriptor open until the Command is dropped.
        let _held = &fd;
        if source == target {
            // SAFETY: `source` is open in the child: fork copied it from the
            // parent, where `fd` (owned by this closure) keeps it open.
            // F_GETFD only reads descriptor flags; async-signal-safe.
            let flags = unsafe { libc::fcntl(source, libc::F_GETFD) };
            if flags < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: as above; F_SETFD changes only this descriptor's flags
            // in the child process, which is about to exec.
            let rc = unsafe { libc::fcntl(source, libc::F_SETFD, flags & !libc::FD_CLOEXEC) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        } else {
            // SAFETY: `source` is open (see above) and `target` is a
            // non-negative descriptor number chosen by the caller; dup2 is
            // async-signal-safe and the new descriptor has no FD_CLOEXEC.
            // Whatever `target` held in the child is replaced, which is what
            // the caller asked for.
            let rc = unsafe { libc::dup2(source, target) };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec, where only
    // async-signal-safe calls are allowed: it calls fcntl or dup2 and reads
    // errno, and allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(hook);
    }
}
