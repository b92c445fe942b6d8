//! `ipcx lock NAME [--timeout D] -- COMMAND ARGS…`: runs a command while
//! holding a cross-process lock that is released if the holder dies — like
//! `flock(1)`, without a lock file.
//!
//! The lock is an ipcx robust mutex ([`ipcx::sync::Mutex::named`]) in the
//! POSIX shared memory object `/ipcx-lock.NAME` (one page, mode 0600).
//!
//! - **Exit status**: the command's; 128 + N when a signal N killed it; 1
//!   when ipcx itself fails (bad name, timeout, command not found).
//! - **Holder death**: if a holder is killed (even with `kill -9`), the next
//!   locker proceeds and says on stderr that the previous holder died.
//! - **Cleanup**: on release the holder removes `/ipcx-lock.NAME` while it
//!   still holds the lock. A process that was waiting on the removed object
//!   notices after locking (the name no longer refers to it) and starts over
//!   on the current object, so there is never more than one holder. If a
//!   holder was killed, the object stays until the next `ipcx lock NAME`
//!   run removes it (or `ipcx rm shm:/ipcx-lock.NAME`).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use anyhow::Context;
use ipcx::deadline::Deadline;
use ipcx::shm::posix::Segment;
use ipcx::sync::{Locked, Mutex, MutexGuard};

use crate::cli::LockArgs;

/// The POSIX shared memory object holding lock `name`.
pub fn object_name(name: &str) -> anyhow::Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let object = format!("/ipcx-lock.{bare}");
    ipcx::key::validate_posix_name(&object)
        .with_context(|| format!("ipcx lock: lock name {name:?}"))?;
    Ok(object)
}

/// Runs `ipcx lock`; returns the exit status.
pub fn run(args: LockArgs) -> anyhow::Result<i32> {
    let object = object_name(&args.name)?;
    let deadline = Deadline::after(args.timeout);
    loop {
        let current = Mutex::named(&object)?;
        if let Some(code) = attempt(&current, &object, deadline, &args)? {
            return Ok(code);
        }
        // The object was removed by its last holder while we waited: start
        // over on the one the name refers to now.
    }
}

/// Locks `current`; if it is still the object named `object`, runs the
/// command and returns its status, else returns `None`.
fn attempt(
    current: &Mutex<Segment>,
    object: &str,
    deadline: Deadline,
    args: &LockArgs,
) -> anyhow::Result<Option<i32>> {
    let locked = match deadline.remaining() {
        None => current.lock()?,
        Some(left) => current.lock_timeout(left).map_err(|e| match e {
            ipcx::Error::TimedOut { .. } => anyhow::anyhow!(
                "ipcx lock: lock {:?} is still held after {:?}",
                args.name,
                deadline.timeout()
            ),
            other => other.into(),
        })?,
    };
    let (guard, died) = match locked {
        Locked::Acquired(g) => (g, false),
        Locked::OwnerDied(g) => (g.consistent()?, true),
    };
    if !current.memory().is_linked()? {
        return Ok(None);
    }
    if died {
        eprintln!(
            "ipcx lock: the previous holder of lock {:?} died while holding it; the lock was recovered",
            args.name
        );
    }
    run_holding(guard, object, &args.command).map(Some)
}

/// Runs the command while `guard` holds the lock, then removes the lock
/// object (still holding it) and releases it.
fn run_holding(
    guard: MutexGuard<'_, Segment>,
    object: &str,
    command: &[String],
) -> anyhow::Result<i32> {
    let status = Command::new(&command[0])
        .args(&command[1..])
        .status()
        .with_context(|| format!("ipcx lock: running {:?}", command[0]));
    let _ = Mutex::remove_named(object);
    drop(guard);
    let status = status?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    })
}
