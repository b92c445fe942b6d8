//! `futex(2)` wait and wake on a 32-bit word in shared memory.
//!
//! The ring's two sides live in different processes, so these calls use the
//! shared (non-`FUTEX_PRIVATE_FLAG`) form: the kernel keys the wait queue by
//! the physical page, not by the address space.
//!
//! # References
//! [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html)

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use rustix::thread::futex;

/// `FUTEX_WAIT`—sleeps while `*word == expected`, at most `timeout`.
///
/// Returns `Ok(())` when woken, when the word no longer held `expected`
/// (`EAGAIN`), when interrupted by a signal (`EINTR`) or when the timeout
/// passed (`ETIMEDOUT`): the caller re-checks its condition in every case.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<()> {
    let ts = timeout.map(|d| rustix::thread::futex::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    match futex::wait(word, futex::Flags::empty(), expected, ts.as_ref()) {
        Ok(())
        | Err(rustix::io::Errno::AGAIN)
        | Err(rustix::io::Errno::INTR)
        | Err(rustix::io::Errno::TIMEDOUT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `FUTEX_WAKE`—wakes at most `n` waiters sleeping on `word`; returns how many woke.
pub(crate) fn wake(word: &AtomicU32, n: u32) -> io::Result<usize> {
    Ok(futex::wake(word, futex::Flags::empty(), n)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    #[test]
    fn wait_returns_when_value_differs_and_wake_releases_a_sleeper() {
        let word = Arc::new(AtomicU32::new(5));
        // Value differs: returns at once.
        wait(&word, 4, None).unwrap();
        let w2 = word.clone();
        let t = std::thread::spawn(move || {
            while w2.load(Ordering::Acquire) == 5 {
                wait(&w2, 5, Some(Duration::from_secs(5))).unwrap();
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        word.store(6, Ordering::Release);
        wake(&word, 1).unwrap();
        t.join().unwrap();
        // Timeout passes without a waker.
        wait(&word, 6, Some(Duration::from_millis(5))).unwrap();
    }
}
