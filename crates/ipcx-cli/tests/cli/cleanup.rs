//! `SIGINT`, `SIGTERM` and `SIGHUP` end a waiting `ipcx` with status
//! 128 + N and remove what its `--create` made (FIFOs, message queues), but
//! never what it only opened or was told to `--keep`.

use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::{ipcx_std, unique};

/// Watchdog for every wait: generous, never a timing assertion.
const WATCHDOG: Duration = Duration::from_secs(60);

/// A child that is killed and reaped if the test fails before it ends.
struct Reap(Option<Child>);

impl Reap {
    fn spawn(cmd: &mut Command) -> Reap {
        Reap(Some(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        ))
    }

    fn pid(&self) -> u32 {
        self.0.as_ref().unwrap().id()
    }

    /// Sends `signal` (a `kill -s` name) and waits (watchdog) for the exit;
    /// returns the status and stderr.
    fn signal_and_wait(mut self, signal: &str) -> (ExitStatus, String) {
        let pid = self.pid().to_string();
        assert!(Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap()
            .success());
        let mut child = self.0.take().unwrap();
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > WATCHDOG {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ipcx did not exit after SIG{signal}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        (status, err)
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Removes a file when dropped, also when the test fails.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits (watchdog) until process `pid` is blocked in one of the system
/// calls `nrs`, as `/proc/PID/syscall` shows: past creating its object and
/// registering its removal, waiting for the peer.
fn wait_blocked(pid: u32, nrs: &[libc::c_long]) {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let nr = text.split_whitespace().next().and_then(|n| n.parse().ok());
        if nr.is_some_and(|nr| nrs.contains(&nr)) {
            return;
        }
        assert!(
            start.elapsed() < WATCHDOG,
            "process {pid} never blocked in {nrs:?} (last: {text})"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waiting for the FIFO's peer to open it: `ppoll` (reader) or the writer's
/// retry sleep.
const FIFO_WAIT: &[libc::c_long] = &[
    libc::SYS_ppoll,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
];

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Asserts the process exited with `code` (not killed by the signal), with
/// nothing on stderr.
fn assert_exit(status: ExitStatus, err: &str, code: i32) {
    assert_eq!(status.signal(), None, "killed by the signal, not handled");
    assert_eq!(status.code(), Some(code), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn sigint_on_recv_fifo_create_removes_the_fifo_and_exits_130() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("f");
    let _rm = RemoveOnDrop(path.clone());
    let child =
        Reap::spawn(ipcx_std().args(["recv", &format!("fifo:{}", path.display()), "--create"]));
    wait_blocked(child.pid(), FIFO_WAIT);
    assert!(is_fifo(&path));
    let (status, err) = child.signal_and_wait("INT");
    assert_exit(status, &err, 130);
    assert!(!path.exists(), "the FIFO was left behind");
}

#[test]
fn sigterm_and_sighup_on_send_fifo_create_remove_the_fifo_and_exit_128_plus_n() {
    let d = tempfile::tempdir().unwrap();
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let path = d.path().join(signal);
        let _rm = RemoveOnDrop(path.clone());
        let ep = format!("fifo:{}", path.display());
        let child = Reap::spawn(ipcx_std().args(["send", &ep, "--create", "-m", "x"]));
        wait_blocked(child.pid(), FIFO_WAIT);
        assert!(is_fifo(&path));
        let (status, err) = child.signal_and_wait(signal);
        assert_exit(status, &err, code);
        assert!(!path.exists(), "SIG{signal}: the FIFO was left behind");
    }
}

#[test]
fn sigint_leaves_a_fifo_that_was_kept_or_only_opened() {
    let d = tempfile::tempdir().unwrap();
    let kept = d.path().join("kept");
    let _rm = RemoveOnDrop(kept.clone());
    let ep = format!("fifo:{}", kept.display());
    let child = Reap::spawn(ipcx_std().args(["recv", &ep, "--create", "--keep"]));
    wait_blocked(child.pid(), FIFO_WAIT);
    let (status, err) = child.signal_and_wait("INT");
    assert_exit(status, &err, 130);
    assert!(is_fifo(&kept), "--keep must leave the FIFO");

    // Now it exists: a plain recv only opens it, and must not remove it.
    let child = Reap::spawn(ipcx_std().args(["recv", &ep]));
    wait_blocked(child.pid(), FIFO_WAIT);
    let (status, err) = child.signal_and_wait("INT");
    assert_exit(status, &err, 130);
    assert!(is_fifo(&kept), "an opener removed the FIFO");
}

/// Removes a POSIX queue when dropped.
struct PosixName(String);

impl Drop for PosixName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/mqueue/{}", &self.0[1..]));
    }
}

#[test]
fn sigint_on_recv_mq_create_removes_the_queue_and_exits_130() {
    let q = PosixName(format!("/{}", unique("ipcx-cli-sigint")));
    let file = PathBuf::from(format!("/dev/mqueue/{}", &q.0[1..]));
    let child = Reap::spawn(ipcx_std().args(["recv", &format!("mq:{}", q.0), "--create"]));
    wait_blocked(child.pid(), &[libc::SYS_mq_timedreceive]);
    assert!(file.exists());
    let (status, err) = child.signal_and_wait("INT");
    assert_exit(status, &err, 130);
    assert!(!file.exists(), "the queue was left behind");
}

/// `ipcs -q` keys, as printed (`0x…`).
fn sysv_queue_keys() -> Vec<String> {
    let out = Command::new("ipcs").arg("-q").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Removes a System V queue by key when dropped.
struct SysvKey(String);

impl Drop for SysvKey {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm")
            .args(["-Q", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn sigterm_on_recv_sysvmq_create_removes_the_queue_and_exits_143() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("progfile");
    std::fs::write(&file, b"").unwrap();
    let key = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&file).unwrap();
        let k = (0x53 << 24) | (((m.dev() as u32) & 0xff) << 16) | ((m.ino() as u32) & 0xffff);
        format!("0x{k:08x}")
    };
    let _rm = SysvKey(key.clone());
    let child = Reap::spawn(ipcx_std().current_dir(d.path()).args([
        "recv",
        "sysvmq:progfile@83",
        "--create",
    ]));
    wait_blocked(child.pid(), &[libc::SYS_msgrcv]);
    assert!(sysv_queue_keys().contains(&key));
    let (status, err) = child.signal_and_wait("TERM");
    assert_exit(status, &err, 143);
    assert!(
        !sysv_queue_keys().contains(&key),
        "the queue was left behind"
    );
}

/// A POSIX queue's `QSIZE` (bytes of messages in it), from /dev/mqueue.
fn qsize(file: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let field = text
        .split_whitespace()
        .find_map(|f| f.strip_prefix("QSIZE:"))?;
    field.parse().ok()
}

#[test]
fn sigint_on_send_mq_create_removes_the_queue_until_a_message_is_in_it() {
    // Before any message: `send --lines` waits for stdin, the queue goes.
    let q = PosixName(format!("/{}", unique("ipcx-cli-sigint-send")));
    let file = PathBuf::from(format!("/dev/mqueue/{}", &q.0[1..]));
    let mut cmd = ipcx_std();
    cmd.args(["send", &format!("mq:{}", q.0), "--create", "--lines"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = Reap(Some(cmd.spawn().unwrap()));
    let mut stdin = child.0.as_mut().unwrap().stdin.take().unwrap();
    wait_blocked(child.pid(), &[libc::SYS_read]);
    assert!(file.exists());
    let (status, err) = child.signal_and_wait("INT");
    assert_exit(status, &err, 130);
    assert!(!file.exists(), "the empty queue was left behind");
    drop(stdin);

    // After one message: the queue holds it, and stays.
    let mut child = Reap(Some(cmd.spawn().unwrap()));
    stdin = child.0.as_mut().unwrap().stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"kept\n").unwrap();
    let start = Instant::now();
    while qsize(&file) != Some(4) {
        assert!(start.elapsed() < WATCHDOG, "the message never arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_blocked(child.pid(), &[libc::SYS_read]);
    let (status, err) = child.signal_and_wait("INT");
    assert_exit(status, &err, 130);
    assert_eq!(
        qsize(&file),
        Some(4),
        "the queue with a message was removed"
    );
}
