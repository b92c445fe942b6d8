//! Removing what the command made when it is interrupted.
//!
//! A named object the command made (a FIFO, a message queue, a socket file,
//! a shared-memory ring) is removed by its owner's `Drop` on every normal
//! exit path. Ctrl-C (`SIGINT`), `SIGTERM` and `SIGHUP` would end the
//! process without running any destructor and leave the object behind; this
//! registry closes that gap for the binary (the library never changes
//! signal dispositions).
//!
//! A transport makes the object inside a [`creating`] section and registers
//! its removal there, then keeps the returned [`Guard`] next to the owning
//! value; dropping the guard (the normal path, where the owner removes the
//! object itself) unregisters the action. A signal that arrives during the
//! section is handled when the section ends, so there is no moment where
//! the object exists and its removal is not registered:
//!
//! ```ignore
//! let mut section = cleanup::creating();
//! let fifo = Fifo::builder(path).create()?;                 // must not block
//! let _cleanup = section.remove_path_on_signal(path);       // a file
//! let _cleanup = section.on_signal(move || { let _ = mq_unlink(&name); }); // anything else
//! drop(section);
//! ```
//!
//! [`install`] (called once by `main`) starts a thread that waits for the
//! three signals with `signal_hook::iterator::Signals`; on the first one it
//! runs every registered action, then exits with status 128 + the signal
//! number (130 for `SIGINT`, 143 for `SIGTERM`, 129 for `SIGHUP`), as a
//! shell reports a process the signal killed.
//!
//! # References
//! [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html)

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// A removal action run when the command is interrupted.
type Action = Box<dyn FnOnce() + Send>;

/// The registered actions, by registration number.
struct Registry {
    next: u64,
    actions: Vec<(u64, Action)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next: 0,
    actions: Vec::new(),
});

/// The registry, also after a panic elsewhere held its lock.
fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps an action registered; dropping it unregisters the action without
/// running it.
#[must_use = "dropping the guard unregisters the action at once"]
#[derive(Debug)]
pub struct Guard {
    id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        registry().actions.retain(|(id, _)| *id != self.id);
    }
}

/// A section in which signal handling waits: make an object and register
/// its removal in it, so that a signal cannot end the command in between.
/// Keep it short and free of blocking calls (no waiting for a peer), and
/// drop no [`Guard`] while it lives (that would wait for the section).
#[must_use = "the section ends when this is dropped"]
pub struct Creating {
    reg: MutexGuard<'static, Registry>,
}

/// Starts a [`Creating`] section.
pub fn creating() -> Creating {
    Creating { reg: registry() }
}

impl Creating {
    /// Registers `action` to run if `SIGINT`, `SIGTERM` or `SIGHUP` ends the
    /// command while the returned guard lives. Actions run once, on the
    /// signal handling thread, in the order they were registered; they must
    /// not panic (ignore errors: the process is exiting) and must not
    /// register actions themselves.
    pub fn on_signal(&mut self, action: impl FnOnce() + Send + 'static) -> Guard {
        let id = self.reg.next;
        self.reg.next += 1;
        self.reg.actions.push((id, Box::new(action)));
        Guard { id }
    }

    /// Registers the removal of the file at `path` (a FIFO or a socket file
    /// the command made): on a signal it is unlinked only if the path still
    /// names the same file (device and inode, not a symbolic link), so a
    /// file someone else put there since is left alone. If the path cannot
    /// be examined now, nothing is registered.
    pub fn remove_path_on_signal(&mut self, path: &Path) -> Guard {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return self.on_signal(|| {});
        };
        let path: PathBuf = path.to_path_buf();
        let (dev, ino) = (meta.dev(), meta.ino());
        self.on_signal(move || {
            if let Ok(now) = std::fs::symlink_metadata(&path) {
                let same = now.dev() == dev && now.ino() == ino;
                if same && !now.file_type().is_symlink() && !now.is_dir() {
                    let _ = std::fs::remove_file(&path);
                }
            }
        })
    }
}

/// Runs every registered action once, then exits with `status`. The lock is
/// held until the process is gone, so the main thread cannot finish its own
/// cleanup (and exit with another status) halfway through.
fn run_all_and_exit(status: i32) -> ! {
    let mut reg = registry();
    for (_, action) in std::mem::take(&mut reg.actions) {
        // One failing action must not stop the others, nor the exit.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(action));
    }
    std::process::exit(status);
}

/// Starts handling `SIGINT`, `SIGTERM` and `SIGHUP`: on the first one, run
/// the registered actions and exit with status 128 + the signal number.
/// Called once, by `main` only.
///
/// # Errors
/// When the handlers cannot be installed or the thread cannot start.
pub fn install() -> anyhow::Result<()> {
    let mut signals =
        Signals::new([SIGINT, SIGTERM, SIGHUP]).context("installing signal handlers")?;
    std::thread::Builder::new()
        .name("ipcx-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                run_all_and_exit(128 + sig);
            }
        })
        .context("starting the signal handling thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(id: u64) -> bool {
        registry().actions.iter().any(|(i, _)| *i == id)
    }

    #[test]
    fn a_dropped_guard_unregisters_its_action_without_running_it() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let guard =
            creating().on_signal(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
        let id = guard.id;
        assert!(registered(id));
        drop(guard);
        assert!(!registered(id));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn remove_path_on_signal_spares_a_file_put_there_since() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("f");
        std::fs::write(&path, b"first").unwrap();
        let guard = creating().remove_path_on_signal(&path);
        let action = {
            let mut reg = registry();
            let at = reg
                .actions
                .iter()
                .position(|(i, _)| *i == guard.id)
                .unwrap();
            reg.actions.remove(at).1
        };
        // Replaced by another file (the first one moved away keeps its
        // inode in use): the action must leave both alone.
        std::fs::rename(&path, d.path().join("moved")).unwrap();
        std::fs::write(&path, b"second").unwrap();
        action();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read(d.path().join("moved")).unwrap(), b"first");
        drop(guard);
    }
}
