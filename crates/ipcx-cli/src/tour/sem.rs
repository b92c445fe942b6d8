//! Tour: the seed's semaphore section — "control access, prevent race
//! conditions". Several processes each add 1 to a shared counter 100,000
//! times: first with no lock (updates are lost when two processes read the
//! same value and both write it back plus one), then under a process-shared
//! POSIX semaphore (`sem_init(pshared = 1)` inside the segment, the seed's
//! fragment made complete), where the total must be exact.
//!
//! The counter lives in a memfd segment handed to each process as its
//! standard input (no name in /dev/shm, nothing to clean up).

use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use ipcx::sem::posix::UnnamedSemaphore;
use ipcx::shm::memfd::{Memfd, Seals};
use ipcx::shm::SharedMemory;

use super::{peer_command, wait_peer, Reporter, Scenario};

const PROCESSES: u64 = 4;
const INCREMENTS: u64 = 100_000;
const SIZE: usize = 4096;
/// Layout: counter (u64) at 0, start barrier (u32) at 8, semaphore at 64.
const COUNTER: usize = 0;
const BARRIER: usize = 8;
const SEM: usize = 64;

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            mechanism: "sem",
            title: "race: 4 processes x 100,000 increments, no lock",
            run: unlocked,
        },
        Scenario {
            mechanism: "sem",
            title: "4 processes x 100,000 increments under a semaphore",
            run: locked,
        },
    ]
}

fn run_counters(r: &mut Reporter, role: &str) -> anyhow::Result<u64> {
    let mut seg = Memfd::create("ipcx-tour-counter", SIZE)?;
    if role == "locked" {
        UnnamedSemaphore::init(&seg, SEM, 1)?;
    }
    seg.seal(Seals::SHRINK | Seals::GROW)?;
    let start = Instant::now();
    let mut children = Vec::new();
    for _ in 0..PROCESSES {
        let fd = seg.as_fd().try_clone_to_owned()?;
        let child = peer_command("sem", role, &[&INCREMENTS.to_string()])?
            .stdin(Stdio::from(fd))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting a counter process")?;
        children.push(child);
    }
    r.step(format!(
        "{PROCESSES} processes started, each adding 1 to the shared counter {INCREMENTS} times"
    ));
    for (i, child) in children.into_iter().enumerate() {
        wait_peer(
            child,
            &format!("counter process {i}"),
            Duration::from_secs(120),
        )?;
    }
    let total: u64 = seg.read_value(COUNTER)?;
    r.fact(
        "time",
        format!("{:.1} ms", start.elapsed().as_secs_f64() * 1e3),
    );
    Ok(total)
}

fn unlocked(r: &mut Reporter) -> anyhow::Result<()> {
    let total = run_counters(r, "unlocked")?;
    let expected = PROCESSES * INCREMENTS;
    let lost = expected.saturating_sub(total);
    r.fact("total", format!("{total} of {expected}"));
    r.fact("lost updates", lost.to_string());
    if lost == 0 {
        r.step("no update was lost this time (the race is real but did not show on this run)");
    } else {
        r.step(format!(
            "{lost} updates were lost: read-modify-write without a lock is a race"
        ));
    }
    Ok(())
}

fn locked(r: &mut Reporter) -> anyhow::Result<()> {
    let total = run_counters(r, "locked")?;
    let expected = PROCESSES * INCREMENTS;
    r.fact("total", format!("{total} of {expected}"));
    anyhow::ensure!(
        total == expected,
        "the counter is {total}, expected exactly {expected}"
    );
    r.step("exact: sem_wait / critical section / sem_post kept every update");
    Ok(())
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, args: &[String]) -> anyhow::Result<i32> {
    let n: u64 = args
        .first()
        .context("missing increment count")?
        .parse()
        .context("increment count")?;
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("taking the counter segment from stdin")?;
    let seg = Memfd::from_fd(fd, Some(SIZE), Seals::SHRINK | Seals::GROW)?;
    // Start together, so the processes really overlap.
    let barrier = seg.atomic_u32(BARRIER)?;
    barrier.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let wait_start = Instant::now();
    while u64::from(barrier.load(std::sync::atomic::Ordering::Acquire)) < PROCESSES
        && wait_start.elapsed() < Duration::from_secs(10)
    {
        std::hint::spin_loop();
    }
    let increment = || -> anyhow::Result<()> {
        let v: u64 = seg.read_value(COUNTER)?;
        seg.write_value(COUNTER, &(v + 1))?;
        Ok(())
    };
    match role {
        "unlocked" => {
            for _ in 0..n {
                increment()?;
            }
        }
        "locked" => {
            let sem = UnnamedSemaphore::open(&seg, SEM)?;
            for _ in 0..n {
                let _guard = sem.lock()?;
                increment()?;
            }
        }
        other => return Err(super::unknown_role("sem", other)),
    }
    Ok(0)
}
