//! `ipcx send` / `ipcx recv` with `mq:` and `sysvmq:` endpoints, interop with
//! the seed's C programs and util-linux, bad input, and `ipcx tour mq`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use predicates::prelude::*;

use crate::util::{ipcx, ipcx_std, seed_c, unique};

/// A temp dir holding `progfile`, whose `ftok(progfile, 65)` queue is removed
/// (with `ipcrm -Q`) when this is dropped, whatever happened.
struct SeedDir {
    dir: tempfile::TempDir,
    key: String,
}

impl SeedDir {
    fn new() -> SeedDir {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("progfile");
        std::fs::write(&file, b"").unwrap();
        let key = ftok(&file, 65);
        SeedDir { dir, key }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `ipcs -q` columns of our queue, if it exists.
    fn ipcs_row(&self) -> Option<Vec<String>> {
        let out = Command::new("ipcs").arg("-q").output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .find(|cols| cols.first() == Some(&self.key))
    }
}

impl Drop for SeedDir {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm")
            .args(["-Q", &self.key])
            .stderr(Stdio::null())
            .status();
    }
}

/// glibc's `ftok` formula, as ipcs prints it (`0x4100c04d`).
fn ftok(path: &Path, proj: u32) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    let key = (proj << 24) | (((m.dev() as u32) & 0xff) << 16) | ((m.ino() as u32) & 0xffff);
    format!("0x{key:08x}")
}

/// Removes a POSIX queue when dropped.
struct PosixName(String);

impl PosixName {
    fn new(prefix: &str) -> PosixName {
        PosixName(format!("/{}", unique(prefix)))
    }
}

impl Drop for PosixName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/mqueue/{}", &self.0[1..]));
    }
}

/// Asserts a failed run printed exactly one `ipcx: …` line containing `needle`.
fn one_line_error(assert: assert_cmd::assert::Assert, needle: &str) {
    let out = assert.failure().code(1).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ipcx: "), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn c_sender_then_ipcx_recv_prints_the_text() {
    let seed = SeedDir::new();
    let sender = seed_c(seed.path(), "mq_sender");
    let out = Command::new(&sender)
        .current_dir(seed.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Message Sent!\n");
    ipcx()
        .current_dir(seed.path())
        .args(["recv", "sysvmq:progfile@65", "--timeout", "10s"])
        .assert()
        .success()
        .stdout("Hello Message Queue!");
    // The C sender made the queue; ipcx only opened it, and leaves it.
    assert!(seed.ipcs_row().is_some());
}

#[test]
fn ipcx_send_then_c_receiver_prints_the_text() {
    let seed = SeedDir::new();
    let receiver = seed_c(seed.path(), "mq_receiver");
    ipcx()
        .current_dir(seed.path())
        .args([
            "send",
            "sysvmq:progfile@65?type=1",
            "--create",
            "--pad",
            "100",
            "--message",
            "Hello Message Queue!",
        ])
        .assert()
        .success();
    let row = seed.ipcs_row().expect("queue in ipcs -q");
    assert_eq!(
        (row[3].as_str(), row[4].as_str(), row[5].as_str()),
        ("600", "100", "1")
    );
    let out = Command::new(&receiver)
        .current_dir(seed.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Received: Hello Message Queue!\n"
    );
    // The C receiver removed the queue.
    assert!(seed.ipcs_row().is_none());
}

#[test]
fn ipcs_shows_key_and_mode_and_ipcrm_removes_it() {
    let seed = SeedDir::new();
    ipcx()
        .current_dir(seed.path())
        .args(["send", "sysvmq:progfile@65", "--create", "-m", "x"])
        .assert()
        .success();
    let row = seed.ipcs_row().expect("queue in ipcs -q");
    assert_eq!(row[0], seed.key);
    assert_eq!(row[3], "600");
    assert!(Command::new("ipcrm")
        .args(["-q", &row[1]])
        .status()
        .unwrap()
        .success());
    assert!(seed.ipcs_row().is_none());
    one_line_error(
        ipcx()
            .current_dir(seed.path())
            .args(["recv", "sysvmq:progfile@65", "--timeout", "1s"])
            .assert(),
        "not found",
    );
}

#[test]
fn sysvmq_round_trip_with_types_lines_and_verbose() {
    let seed = SeedDir::new();
    ipcx()
        .current_dir(seed.path())
        .args(["send", "sysvmq:progfile@65?type=7", "--create", "--lines"])
        .write_stdin("alpha\nbeta\n")
        .assert()
        .success();
    ipcx()
        .current_dir(seed.path())
        .args(["send", "sysvmq:progfile@65?type=2", "-m", "two"])
        .assert()
        .success();
    // Lowest type up to 7 first: the type-2 message.
    ipcx()
        .current_dir(seed.path())
        .args([
            "recv",
            "sysvmq:progfile@65?type=-7",
            "--count",
            "3",
            "--lines",
            "--verbose",
            "--timeout",
            "10s",
        ])
        .assert()
        .success()
        .stdout("[type 2] two\n[type 7] alpha\n[type 7] beta\n");
}

#[test]
fn sysvmq_raw_keeps_bytes_after_a_nul() {
    let seed = SeedDir::new();
    ipcx()
        .current_dir(seed.path())
        .args([
            "send",
            "sysvmq:progfile@65",
            "--create",
            "--pad",
            "6",
            "-m",
            "ab",
        ])
        .assert()
        .success();
    ipcx()
        .current_dir(seed.path())
        .args(["recv", "sysvmq:progfile@65", "--raw", "--timeout", "10s"])
        .assert()
        .success()
        .stdout(&b"ab\0\0\0\0"[..]);
}

#[test]
fn posix_priorities_come_out_highest_first() {
    let q = PosixName::new("ipcx-cli-prio");
    for (text, prio) in [("one", 1), ("five", 5), ("three", 3)] {
        ipcx()
            .args([
                "send",
                &format!("mq:{}?capacity=4&msgsize=64&prio={prio}", q.0),
                "--create",
                "-m",
                text,
            ])
            .assert()
            .success();
    }
    ipcx()
        .args([
            "recv",
            &format!("mq:{}", q.0),
            "--count",
            "3",
            "--lines",
            "--verbose",
            "--timeout",
            "10s",
        ])
        .assert()
        .success()
        .stdout("[prio 5] five\n[prio 3] three\n[prio 1] one\n");
}

#[test]
fn recv_create_removes_the_queue_it_created() {
    let q = PosixName::new("ipcx-cli-own");
    one_line_error(
        ipcx()
            .args([
                "recv",
                &format!("mq:{}", q.0),
                "--create",
                "--timeout",
                "50ms",
            ])
            .assert(),
        "timed out after 50ms waiting for a message",
    );
    assert!(!Path::new(&format!("/dev/mqueue/{}", &q.0[1..])).exists());
}

#[test]
fn bad_input_is_one_line_each() {
    let seed = SeedDir::new();
    let empty = tempfile::tempdir().unwrap();
    // ftok on a missing file.
    one_line_error(
        ipcx()
            .current_dir(empty.path())
            .args(["recv", "sysvmq:progfile@65"])
            .assert(),
        "progfile: not found",
    );
    // Type 0 on send.
    one_line_error(
        ipcx()
            .current_dir(seed.path())
            .args(["send", "sysvmq:progfile@65?type=0", "-m", "x"])
            .assert(),
        "type=0",
    );
    // A message over msgmax.
    let msgmax = std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap();
    let over = msgmax.trim().parse::<usize>().unwrap() + 1;
    one_line_error(
        ipcx()
            .current_dir(seed.path())
            .args(["send", "sysvmq:progfile@65", "--create"])
            .write_stdin(vec![b'x'; over])
            .assert(),
        "/proc/sys/kernel/msgmax",
    );
    // POSIX names: no slash, two slashes, too long.
    let long = format!("mq:/{}", "n".repeat(300));
    for (endpoint, needle) in [
        ("mq:noslash", "must start with '/'"),
        ("mq:/two/slashes", "exactly one '/'"),
        (long.as_str(), "NAME_MAX"),
    ] {
        one_line_error(
            ipcx()
                .args(["send", endpoint, "--create", "-m", "x"])
                .assert(),
            needle,
        );
    }
    // Capacity over msg_max (or over HARD_MSGMAX with CAP_SYS_RESOURCE).
    let q = PosixName::new("ipcx-cli-cap");
    one_line_error(
        ipcx()
            .args([
                "send",
                &format!("mq:{}?capacity=70000", q.0),
                "--create",
                "-m",
                "x",
            ])
            .assert(),
        "capacity (messages) of 70000 exceeds",
    );
    // A receive timeout on an empty queue.
    ipcx()
        .current_dir(seed.path())
        .args(["send", "sysvmq:progfile@65?type=9", "-m", "other type"])
        .assert()
        .success();
    one_line_error(
        ipcx()
            .current_dir(seed.path())
            .args(["recv", "sysvmq:progfile@65?type=1", "--timeout", "100ms"])
            .assert(),
        "timed out after 100ms",
    );
    // A message longer than --pad.
    one_line_error(
        ipcx()
            .current_dir(seed.path())
            .args(["send", "sysvmq:progfile@65", "--pad", "2", "-m", "abc"])
            .assert(),
        "longer than --pad 2",
    );
}

/// Waits (at most 20 s) until process `pid` is blocked in system call `nr`,
/// as `/proc/PID/syscall` shows.
fn wait_in_syscall(pid: u32, nr: libc::c_long) {
    for _ in 0..2000 {
        let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if text.split_whitespace().next() == Some(&nr.to_string()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("process {pid} never blocked in system call {nr}");
}

#[test]
fn queue_removed_while_recv_waits_is_reported() {
    let seed = SeedDir::new();
    ipcx()
        .current_dir(seed.path())
        .args(["send", "sysvmq:progfile@65?type=9", "--create", "-m", "x"])
        .assert()
        .success();
    let mut child = ipcx_std()
        .current_dir(seed.path())
        .args(["recv", "sysvmq:progfile@65?type=1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_in_syscall(child.id(), libc::SYS_msgrcv);
    assert!(Command::new("ipcrm")
        .args(["-Q", &seed.key])
        .status()
        .unwrap()
        .success());
    // Watchdog: the receiver must wake; kill it if it does not.
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if waited > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ipcx recv did not wake after the queue was removed");
        }
        std::thread::sleep(Duration::from_millis(10));
        waited += Duration::from_millis(10);
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("removed while in use"), "{err}");
}

#[test]
fn tour_mq_passes() {
    ipcx()
        .args(["tour", "mq"])
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .stdout(predicate::str::contains("Received: Hello Message Queue!"))
        .stdout(predicate::str::contains("2 passed, 0 failed"));
}

#[test]
fn send_create_keeps_the_queue_only_once_a_message_is_in_it() {
    let q = PosixName::new("ipcx-cli-keep");
    let path = format!("/dev/mqueue/{}", &q.0[1..]);
    let endpoint = format!("mq:{}?capacity=2&msgsize=100", q.0);
    one_line_error(
        ipcx()
            .args(["send", &endpoint, "--create"])
            .write_stdin(vec![b'x'; 101])
            .assert(),
        "over the limit of 100 bytes (the queue's mq_msgsize)",
    );
    assert!(!Path::new(&path).exists());
    ipcx()
        .args(["send", &endpoint, "--create", "-m", "kept"])
        .assert()
        .success();
    assert!(Path::new(&path).exists());
    ipcx()
        .args(["recv", &format!("mq:{}", q.0), "--timeout", "10s"])
        .assert()
        .success()
        .stdout("kept");
}
