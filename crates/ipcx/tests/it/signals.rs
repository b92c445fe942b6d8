//! Helpers to interrupt blocking calls with signals (EINTR tests). The test
//! process installs a no-op SIGUSR1 handler without SA_RESTART, so blocked
//! system calls return EINTR; the library itself never changes dispositions.

use std::os::unix::thread::JoinHandleExt;
use std::sync::Once;
use std::time::{Duration, Instant};

extern "C" fn noop(_: libc::c_int) {}

/// Installs the no-op SIGUSR1 handler (once per process).
pub fn install_noop_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: an all-zero sigaction is a valid value to fill in.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = noop as *const () as usize;
        sa.sa_flags = 0; // no SA_RESTART: blocked calls see EINTR
                         // SAFETY: `sa` is fully initialised, the handler is async-signal-safe
                         // (it does nothing), and the old action is not needed.
        let rc = unsafe { libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) };
        assert_eq!(rc, 0, "sigaction");
    });
}

fn signal_thread(t: libc::pthread_t) {
    // SAFETY: `t` is a live thread of this process (its JoinHandle is held
    // by the caller and not yet joined); SIGUSR1 has a no-op handler.
    unsafe { libc::pthread_kill(t, libc::SIGUSR1) };
}

/// Runs `f` on a thread while signalling it every 10 ms; returns its result
/// and how long it took.
pub fn while_signalled<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> (T, Duration) {
    let start = Instant::now();
    let h = std::thread::spawn(f);
    while !h.is_finished() {
        assert!(start.elapsed() < Duration::from_secs(30), "watchdog");
        signal_thread(h.as_pthread_t());
        std::thread::sleep(Duration::from_millis(10));
    }
    let res = h.join().unwrap();
    (res, start.elapsed())
}

/// Signals a running thread every 10 ms for `how_long`.
pub fn pester<T>(h: &std::thread::JoinHandle<T>, how_long: Duration) {
    let start = Instant::now();
    while start.elapsed() < how_long && !h.is_finished() {
        signal_thread(h.as_pthread_t());
        std::thread::sleep(Duration::from_millis(10));
    }
}
