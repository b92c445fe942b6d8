//! Helpers shared by the message-queue tests.

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Messages in the two-process tests.
pub const N_MESSAGES: usize = 100_000;

/// A deterministic pseudo-random pool of bytes the messages are cut from.
pub fn pool(max: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..max * 4)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn mix(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Message `i`: its body (1 to `max` bytes; message 0 is 1 byte, message 1 is
/// `max` bytes) and a small class (0..4) used as type or priority.
pub fn expected_body(pool: &[u8], i: usize, max: usize) -> (&[u8], u32) {
    let r = mix(i);
    let len = match i {
        0 => 1,
        1 => max,
        _ => 1 + (r % max as u64) as usize,
    };
    let start = ((r >> 20) % (pool.len() - max) as u64) as usize;
    (&pool[start..start + len], ((r >> 50) % 4) as u32)
}

/// Kills and reaps a child process when dropped (after a failed assertion).
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Joins a thread, failing the test if it does not finish in time (a watchdog
/// against deadlocks).
pub fn join_within<T>(handle: JoinHandle<T>, limit: Duration) -> T {
    wait_finished(&handle, limit);
    handle.join().unwrap()
}

/// Waits until a thread has finished (without joining it, so that its
/// `pthread_t` stays valid for a [`Signaller`]), failing the test if it does
/// not finish in time.
pub fn wait_finished<T>(handle: &JoinHandle<T>, limit: Duration) {
    let start = Instant::now();
    while !handle.is_finished() {
        assert!(
            start.elapsed() < limit,
            "thread did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// The signal used to interrupt blocked calls: a real-time signal no other
/// test uses, with a handler that does nothing and no `SA_RESTART`, so that
/// interrupted calls fail with `EINTR`.
fn test_signal() -> libc::c_int {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let sig = libc::SIGRTMIN() + 7;
    INSTALLED.call_once(|| {
        // SAFETY: installs a handler that does nothing (async-signal-safe) for
        // a signal nothing else in this test binary uses; sa is fully
        // initialised (zeroed, then handler and empty mask set).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(libc::sigaction(sig, &sa, std::ptr::null_mut()), 0);
        }
    });
    sig
}

/// Sends the test signal to a thread every millisecond until stopped.
pub struct Signaller {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU32>,
    handle: Option<JoinHandle<()>>,
}

impl Signaller {
    /// Starts signalling the thread of `target`. Stop it before joining
    /// `target`.
    pub fn start<T>(target: &JoinHandle<T>) -> Signaller {
        let sig = test_signal();
        let thread = target.as_pthread_t() as usize;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU32::new(0));
        let (s, n) = (stop.clone(), sent.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                // SAFETY: callers stop this signaller before joining the
                // target thread, so its pthread_t is live (a finished but
                // unjoined thread's pthread_t stays valid).
                if unsafe { libc::pthread_kill(thread as libc::pthread_t, sig) } == 0 {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        Signaller {
            stop,
            sent,
            handle: Some(handle),
        }
    }

    /// Stops and returns how many signals were delivered.
    pub fn stop(mut self) -> u32 {
        self.halt();
        self.sent.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Signaller {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Runs `on_expiry` if not dropped within `limit`: turns a hang into a
/// failure (for example by removing the queue a blocked receiver waits on).
pub struct Watchdog {
    done: Option<std::sync::mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog.
    pub fn start(limit: Duration, on_expiry: impl FnOnce() + Send + 'static) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: {limit:?} passed");
                on_expiry();
            }
        });
        Watchdog {
            done: Some(tx),
            handle: Some(handle),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
