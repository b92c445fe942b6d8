//! Child processes for the cross-process tests of shared memory, semaphores
//! and robust mutexes: the `it` binary runs itself again with
//! `IPCX_IT_ROLE` set, and the ignored test `child::child_entry` plays the
//! role.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ipcx::shm::SharedMemory;

const ROLE_VAR: &str = "IPCX_IT_ROLE";
const ARGS_VAR: &str = "IPCX_IT_ARGS";

/// Increments per counter process.
pub const INCREMENTS: u64 = 100_000;
/// Counter processes per lock kind.
pub const PROCESSES: u64 = 4;

/// A child process, killed (SIGKILL) and reaped on drop.
pub struct Peer {
    child: Child,
    lines: Option<mpsc::Receiver<String>>,
}

/// Starts this test binary as a child playing `role`.
pub fn spawn(role: &str, args: &[&str]) -> Peer {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child::child_entry",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(ROLE_VAR, role)
        .env(ARGS_VAR, args.join("\u{1f}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning the test binary as a child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Peer {
        child,
        lines: Some(rx),
    }
}

impl Peer {
    /// Waits (watchdog: 30 s) until the child prints `READY`.
    pub fn wait_ready(&mut self) {
        let rx = self.lines.as_ref().expect("stdout reader");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.trim() == "READY" => return,
                Ok(_) => {}
                Err(e) => panic!("child never said READY: {e:?}"),
            }
        }
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaping the child");
    }

    /// Waits for the child to exit (watchdog: kills it after `timeout`).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("child did not finish within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Removes a POSIX shared memory name on drop (for objects made by children
/// or kept on purpose), also when the test fails.
pub struct UnlinkShm(pub String);

impl Drop for UnlinkShm {
    fn drop(&mut self) {
        let _ = ipcx::shm::posix::unlink(&self.0);
    }
}

/// Removes a named POSIX semaphore on drop.
pub struct UnlinkSem(pub String);

impl Drop for UnlinkSem {
    fn drop(&mut self) {
        let _ = ipcx::sem::posix::unlink(&self.0);
    }
}

/// One unprotected read-modify-write of the counter at offset 0.
pub fn increment(seg: &impl SharedMemory) {
    let v: u64 = seg.read_value(0).expect("read counter");
    seg.write_value(0, &(v + 1)).expect("write counter");
}

/// Offsets inside the counter segment.
pub const UNNAMED_SEM_OFFSET: usize = 64;
pub const MUTEX_OFFSET: usize = 128;

/// Runs `PROCESSES` children of `role` with `args` and waits for all.
pub fn run_counters(role: &str, args: &[&str]) {
    let mut peers: Vec<Peer> = (0..PROCESSES).map(|_| spawn(role, args)).collect();
    for p in &mut peers {
        let status = p.wait(Duration::from_secs(300));
        assert!(status.success(), "counter child failed: {status}");
    }
}

#[test]
#[ignore = "child process entry; run by the cross-process tests"]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let args: Vec<String> = std::env::var(ARGS_VAR)
        .unwrap_or_default()
        .split('\u{1f}')
        .map(str::to_owned)
        .collect();
    match role.as_str() {
        "sysv-count" => crate::sem_sysv::count_child(&args),
        "sysv-hold" => crate::sem_sysv::hold_child(&args),
        "posix-named-count" => crate::sem_posix::named_count_child(&args),
        "posix-unnamed-count" => crate::sem_posix::unnamed_count_child(&args),
        "posix-hold" => crate::sem_posix::hold_child(&args),
        "mutex-count" => crate::sync::count_child(&args),
        "mutex-hold" => crate::sync::hold_child(&args),
        other => panic!("unknown child role {other:?}"),
    }
}

/// Tells the parent the child holds its lock, then waits to be killed.
pub fn ready_and_wait() -> ! {
    println!("READY");
    std::thread::sleep(Duration::from_secs(120));
    panic!("the parent did not kill this child");
}
