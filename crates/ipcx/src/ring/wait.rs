//! How a blocked side waits, and how the other side wakes it.
//!
//! The sleeping side announces itself before it sleeps, so the fast path of
//! the other side makes no system call:
//!
//! ```text
//! sleeper                                  waker
//! seq = word.seq.load()                    publish index (Release)
//! word.sleeping = 1                        fence(SeqCst)
//! fence(SeqCst)                            if word.sleeping != 0:
//! re-check the index; ready → return           word.seq += 1
//! FUTEX_WAIT(word.seq, seq, slice)             FUTEX_WAKE(word.seq)
//! word.sleeping = 0
//! ```
//!
//! The two SeqCst fences order "announce, then re-check" against "publish,
//! then look": either the sleeper's re-check sees the new index, or the waker
//! sees the flag and bumps `seq`, which makes a later `FUTEX_WAIT` return at
//! once (its expected value is stale). Sleeps are cut into slices of
//! [`CHECK_INTERVAL`] so that a peer's death is noticed even if no wake comes.

use std::time::{Duration, Instant};

use super::atomic::{fence, spin_hint, Ordering};
use super::layout::WaitWord;
use super::WaitStrategy;
use crate::deadline::Deadline;

/// How often a blocked side checks that its peer still lives.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_millis(20);

/// Busy-wait rounds of the adaptive strategy before it sleeps.
const ADAPTIVE_SPINS: u32 = 4_000;

/// Spin rounds between two looks at the clock.
const CLOCK_EVERY: u32 = 256;

/// Why a blocking wait ended without its condition.
pub(crate) enum Stop {
    /// The deadline passed.
    TimedOut,
    /// The peer closed or died (and the condition is still false).
    PeerGone(String),
}

/// Polls `attempt` until it yields a value, waiting with `strategy` on
/// `word` in between. `peer_gone(expensive)` says whether the peer closed
/// (cheap: the claim word) or died (expensive: `/proc`, only every
/// [`CHECK_INTERVAL`]); after it says so, `attempt` runs once more so that
/// everything committed before the end is still delivered.
pub(crate) fn block<R, E>(
    strategy: WaitStrategy,
    word: &WaitWord,
    deadline: Deadline,
    mut attempt: impl FnMut() -> Result<Option<R>, E>,
    mut peer_gone: impl FnMut(bool) -> Option<String>,
) -> Result<Result<R, Stop>, E> {
    let mut spins: u32 = 0;
    let mut last_check = Instant::now();
    loop {
        if let Some(r) = attempt()? {
            return Ok(Ok(r));
        }
        let sleep = match strategy {
            WaitStrategy::Spin => false,
            WaitStrategy::Futex => true,
            WaitStrategy::Adaptive => spins >= ADAPTIVE_SPINS,
        };
        if sleep || spins % CLOCK_EVERY == 0 {
            if deadline.expired() {
                return Ok(Err(Stop::TimedOut));
            }
            let expensive = last_check.elapsed() >= CHECK_INTERVAL;
            if expensive {
                last_check = Instant::now();
            }
            if let Some(why) = peer_gone(expensive) {
                return Ok(match attempt()? {
                    Some(r) => Ok(r),
                    None => Err(Stop::PeerGone(why)),
                });
            }
        }
        if !sleep {
            spins = spins.wrapping_add(1);
            spin_hint();
            continue;
        }
        // Announce, re-check, sleep (see the module documentation).
        let seq = word.seq.load(Ordering::Acquire);
        word.sleeping.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if let Some(r) = attempt()? {
            word.sleeping.store(0, Ordering::Relaxed);
            return Ok(Ok(r));
        }
        let slice = deadline
            .remaining()
            .map_or(CHECK_INTERVAL, |left| left.min(CHECK_INTERVAL));
        sleep_on(word, seq, slice);
        word.sleeping.store(0, Ordering::Relaxed);
    }
}

/// Wakes the side sleeping on `word`, if it announced that it sleeps. Call
/// right after publishing an index with a Release store.
#[inline]
pub(crate) fn wake(word: &WaitWord) {
    fence(Ordering::SeqCst);
    if word.sleeping.load(Ordering::Relaxed) != 0 {
        wake_now(word);
    }
}

/// Bumps the sequence and wakes unconditionally (closing a side).
pub(crate) fn wake_now(word: &WaitWord) {
    word.seq.fetch_add(1, Ordering::Release);
    #[cfg(not(loom))]
    {
        let _ = crate::sys::futex::wake(&word.seq, 1);
    }
    #[cfg(loom)]
    {
        let _guard = word.model.0.lock().unwrap();
        word.model.1.notify_all();
    }
}

#[cfg(not(loom))]
fn sleep_on(word: &WaitWord, seq: u32, slice: Duration) {
    // Errors other than EAGAIN/EINTR/ETIMEDOUT (EFAULT, ENOSYS) cannot happen
    // for a mapped, aligned word; if they did, the loop degrades to polling
    // at the slice length rather than failing the call.
    if crate::sys::futex::wait(&word.seq, seq, Some(slice)).is_err() {
        std::thread::sleep(Duration::from_micros(50));
    }
}

#[cfg(loom)]
fn sleep_on(word: &WaitWord, seq: u32, _slice: Duration) {
    // A faithful futex model without timeouts: a lost wake-up is a deadlock
    // that loom reports.
    let guard = word.model.0.lock().unwrap();
    if word.seq.load(Ordering::Acquire) == seq {
        let _guard = word.model.1.wait(guard).unwrap();
    }
}
