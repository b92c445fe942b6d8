//! The seed's semaphore fragment made complete and correct: several processes
//! add 1 to a shared counter under a process-shared POSIX semaphore
//! (`sem_init(pshared = 1)` inside shared memory; lock, critical section,
//! unlock), and the total is exact.
//!
//! The counter and the semaphore live in a memfd segment that the parent
//! hands to each child as its standard input, so nothing is left behind in
//! /dev/shm whatever happens.
//!
//! `cargo run --example sem_counter -- [PROCESSES] [INCREMENTS]`

use std::os::fd::AsFd;
use std::process::{Command, Stdio};

use ipcx::sem::posix::UnnamedSemaphore;
use ipcx::shm::memfd::{Memfd, Seals};
use ipcx::shm::SharedMemory;

const SIZE: usize = 4096;
const COUNTER: usize = 0;
const SEM: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(args[2].parse()?);
    }
    let processes: u64 = args.get(1).map_or(Ok(4), |s| s.parse())?;
    let increments: u64 = args.get(2).map_or(Ok(100_000), |s| s.parse())?;

    let mut seg = Memfd::create("sem-counter", SIZE)?;
    UnnamedSemaphore::init(&seg, SEM, 1)?;
    seg.seal(Seals::SHRINK | Seals::GROW)?;
    let mut children = Vec::new();
    for _ in 0..processes {
        let fd = seg.as_fd().try_clone_to_owned()?;
        children.push(
            Command::new(std::env::current_exe()?)
                .args(["--child", &increments.to_string()])
                .stdin(Stdio::from(fd))
                .spawn()?,
        );
    }
    for mut c in children {
        let status = c.wait()?;
        if !status.success() {
            return Err(format!("a counter process failed: {status}").into());
        }
    }
    let total: u64 = seg.read_value(COUNTER)?;
    println!(
        "{processes} processes x {increments} increments = {total} (expected {})",
        processes * increments
    );
    if total != processes * increments {
        return Err("updates were lost".into());
    }
    Ok(())
}

fn child(increments: u64) -> Result<(), Box<dyn std::error::Error>> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    // Trust the size only because it is sealed.
    let seg = Memfd::from_fd(fd, Some(SIZE), Seals::SHRINK | Seals::GROW)?;
    let sem = UnnamedSemaphore::open(&seg, SEM)?;
    for _ in 0..increments {
        let _locked = sem.lock()?; // sem_wait … sem_post on drop
        let v: u64 = seg.read_value(COUNTER)?;
        seg.write_value(COUNTER, &(v + 1))?;
    }
    Ok(())
}
