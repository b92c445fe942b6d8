//! `ipcx lock NAME [--timeout D] -- COMMAND ARGS…`: runs a command while
//! holding a cross-process lock that is released if the holder dies — like
//! `flock(1)`, without a lock file.
//!
//! The lock is an ipcx robust mutex ([`ipcx::sync::Mutex::named`]) in the
//! POSIX shared memory object `/ipcx-lock.NAME` (one page, mode 0600).
//!
//! - **Exit status**: the command's; 128 + N when a signal N killed it;
//!   127 when the command is not found, 126 when it cannot be run (as
//!   `env(1)`); 1 when ipcx itself fails (bad name, timeout).
//! - **Holder death**: if a holder is killed (even with `kill -9`), the next
//!   locker proceeds and says on stderr that the previous holder died. The
//!   killed holder's command may still be running (nothing kills it): the
//!   holder records the command's pid and start time in the lock object, and
//!   the next locker waits, holding the lock, until that command has ended
//!   (within `--timeout`), so two commands never run under the lock at once.
//!   (A holder killed between starting the command and recording it, a
//!   window of microseconds, leaves no record.)
//! - **Cleanup**: on release the holder removes `/ipcx-lock.NAME` while it
//!   still holds the lock. A process that was waiting on the removed object
//!   notices after locking (the name no longer refers to it) and starts over
//!   on the current object, so there is never more than one holder. If a
//!   holder was killed, the object stays until the next `ipcx lock NAME`
//!   run removes it (or `ipcx rm shm:/ipcx-lock.NAME`).

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use ipcx::creator::ProcessId;
use ipcx::deadline::Deadline;
use ipcx::shm::posix::Segment;
use ipcx::shm::SharedMemory;
use ipcx::sync::{Locked, Mutex, MutexGuard};

use crate::cli::LockArgs;

/// Prefix of the lock object's name.
const PREFIX: &str = "ipcx-lock.";

/// Longest lock name: the object `/ipcx-lock.NAME` has at most 255 bytes
/// after its slash (`NAME_MAX`).
const NAME_MAX: usize = 255 - PREFIX.len();

/// Where the holder records its command (pid, then start time) in the lock
/// object, after the mutex: a holder killed while its command runs leaves
/// the command running, and the next holder waits for it to end.
const COMMAND_PID_OFFSET: usize = 128;
const COMMAND_START_OFFSET: usize = 136;

/// The POSIX shared memory object holding lock `name`.
pub fn object_name(name: &str) -> anyhow::Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() {
        anyhow::bail!("ipcx lock: lock name {name:?} is empty");
    }
    if bare.len() > NAME_MAX {
        anyhow::bail!(
            "ipcx lock: lock name of {} bytes is over the limit of {NAME_MAX} bytes (NAME_MAX 255 minus the prefix {PREFIX:?})",
            bare.len()
        );
    }
    let object = format!("/{PREFIX}{bare}");
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
    wait_for_orphan(current.memory(), deadline, &args.name)?;
    run_holding(guard, current.memory(), object, &args.command).map(Some)
}

/// The command a dead holder left running, if it still runs.
fn recorded_command(seg: &Segment) -> anyhow::Result<Option<ProcessId>> {
    let pid: u32 = seg.read_value(COMMAND_PID_OFFSET)?;
    let start_time: u64 = seg.read_value(COMMAND_START_OFFSET)?;
    let id = ProcessId { pid, start_time };
    // A start time of 0 would match any process that reuses the pid.
    Ok((pid != 0 && start_time != 0 && id.is_alive()).then_some(id))
}

/// Waits (holding the lock) until the command of a holder that died has
/// ended too, so that two commands never run under the lock at once.
fn wait_for_orphan(seg: &Segment, deadline: Deadline, name: &str) -> anyhow::Result<()> {
    let Some(orphan) = recorded_command(seg)? else {
        return Ok(());
    };
    eprintln!("ipcx lock: waiting for the previous holder's command (pid {orphan}) to end");
    while orphan.is_alive() {
        if deadline.expired() {
            anyhow::bail!(
                "ipcx lock: lock {name:?} is still held after {:?}: the command of a holder that died (pid {orphan}) still runs",
                deadline.timeout()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Records (or with `None` clears) the command running under the lock.
fn record_command(seg: &Segment, id: Option<ProcessId>) -> anyhow::Result<()> {
    let id = id.unwrap_or(ProcessId {
        pid: 0,
        start_time: 0,
    });
    seg.write_value(COMMAND_START_OFFSET, &id.start_time)?;
    seg.write_value(COMMAND_PID_OFFSET, &id.pid)?;
    Ok(())
}

/// Runs the command while `guard` holds the lock, then removes the lock
/// object (still holding it) and releases it.
fn run_holding(
    guard: MutexGuard<'_, Segment>,
    seg: &Segment,
    object: &str,
    command: &[String],
) -> anyhow::Result<i32> {
    let code = match Command::new(&command[0]).args(&command[1..]).spawn() {
        Ok(mut child) => {
            record_command(seg, ProcessId::of(child.id()))?;
            let status = child.wait();
            record_command(seg, None)?;
            match status {
                Ok(status) => match (status.code(), status.signal()) {
                    (Some(code), _) => code,
                    (None, Some(sig)) => 128 + sig,
                    (None, None) => 1,
                },
                Err(e) => {
                    eprintln!("ipcx: ipcx lock: waiting for {:?}: {e}", command[0]);
                    1
                }
            }
        }
        // As env(1), nice(1) and timeout(1): 127 for a command that is not
        // found, 126 for one that cannot run.
        Err(e) => {
            eprintln!("ipcx: ipcx lock: running {:?}: {e}", command[0]);
            if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            }
        }
    };
    let _ = Mutex::remove_named(object);
    drop(guard);
    Ok(code)
}
