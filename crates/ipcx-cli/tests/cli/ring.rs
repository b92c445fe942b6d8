//! `ipcx send` / `ipcx recv` over `shm:` ring endpoints, and the ring tour.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::util::{ipcx, ipcx_std, unique};

/// Removes a /dev/shm name on drop, also when a test fails.
struct ShmGuard(String);

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
    }
}

fn ring_name() -> (String, ShmGuard) {
    let name = format!("/{}", unique("ipcx-cli-ring"));
    (name.clone(), ShmGuard(name))
}

fn wait_for_file(path: &str) {
    let started = Instant::now();
    while !std::path::Path::new(path).exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "watchdog: {path}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Kills a background ipcx on drop.
struct Bg(std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn recv_creates_send_opens_lines_arrive_and_the_ring_is_removed() {
    for wait in ["spin", "futex", "adaptive"] {
        let (name, _g) = ring_name();
        let ep = format!("shm:{name}?capacity=4096&wait={wait}");
        let recv = ipcx_std()
            .args(["recv", &ep, "--count", "3", "--lines", "--timeout", "30s"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut recv = Bg(recv);
        wait_for_file(&format!("/dev/shm{name}"));
        ipcx()
            .args(["send", &ep, "--lines", "--timeout", "30s"])
            .write_stdin("alpha\nbeta\ngamma\n")
            .assert()
            .success();
        let out = recv.0.wait_with_output_ref();
        assert!(out.0.success(), "recv failed: {}", out.2);
        assert_eq!(out.1, "alpha\nbeta\ngamma\n", "wait={wait}");
        assert!(
            !std::path::Path::new(&format!("/dev/shm{name}")).exists(),
            "the creating receiver removes the ring"
        );
    }
}

trait WaitOutput {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String, String);
}

impl WaitOutput for std::process::Child {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String, String) {
        use std::io::Read;
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.try_wait().unwrap() {
                break s;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "watchdog");
            std::thread::sleep(Duration::from_millis(5));
        };
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(mut o) = self.stdout.take() {
            o.read_to_string(&mut out).unwrap();
        }
        if let Some(mut e) = self.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        (status, out, err)
    }
}

#[test]
fn a_creating_sender_waits_for_the_receiver_then_removes_the_ring() {
    let (name, _g) = ring_name();
    let ep = format!("shm:{name}");
    let send = ipcx_std()
        .args([
            "send",
            &ep,
            "--message",
            "hi",
            "--count",
            "2",
            "--timeout",
            "30s",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut send = Bg(send);
    wait_for_file(&format!("/dev/shm{name}"));
    ipcx()
        .args(["recv", &ep, "--count", "2", "--lines", "--timeout", "30s"])
        .assert()
        .success()
        .stdout("hi\nhi\n");
    let (status, _, err) = send.0.wait_with_output_ref();
    assert!(status.success(), "send failed: {err}");
    assert!(!std::path::Path::new(&format!("/dev/shm{name}")).exists());
}

#[test]
fn recv_until_the_sender_closes_reads_a_whole_stdin_record() {
    let (name, _g) = ring_name();
    let ep = format!("shm:{name}");
    let mut recv = Bg(ipcx_std()
        .args(["recv", &ep, "--timeout", "30s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    wait_for_file(&format!("/dev/shm{name}"));
    let mut send = ipcx_std()
        .args(["send", &ep])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    send.stdin
        .take()
        .unwrap()
        .write_all(b"one record\nwith two lines\n")
        .unwrap();
    assert!(send.wait().unwrap().success());
    let (status, out, err) = recv.0.wait_with_output_ref();
    assert!(status.success(), "{err}");
    assert_eq!(out, "one record\nwith two lines\n");
}

#[test]
fn recv_times_out_on_an_empty_ring() {
    let (name, _g) = ring_name();
    ipcx()
        .args(["recv", &format!("shm:{name}"), "--timeout", "50ms"])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("timed out").and(predicate::str::starts_with("ipcx: ")));
    assert!(!std::path::Path::new(&format!("/dev/shm{name}")).exists());
}

#[test]
fn a_bad_wait_strategy_is_one_line_naming_the_choices() {
    ipcx()
        .args(["send", "shm:/x?wait=sleepy", "--message", "m"])
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("spin, futex or adaptive"));
}

#[test]
fn a_record_over_half_the_capacity_is_refused_naming_the_limit() {
    let (name, _g) = ring_name();
    ipcx()
        .args([
            "send",
            &format!("shm:{name}?capacity=64"),
            "--message",
            &"x".repeat(100),
            "--keep",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("over the limit of 24 bytes"));
}

#[test]
fn tour_shm_moves_a_million_ring_messages_between_processes() {
    ipcx()
        .args(["tour", "shm"])
        .timeout(Duration::from_secs(300))
        .assert()
        .success()
        .stdout(
            predicate::str::contains("ring: 1,000,000 messages")
                .and(predicate::str::contains(
                    "received all 1000000 records in order",
                ))
                .and(predicate::str::contains("messages/s")),
        );
}

/// Sends `signal` (a `kill -s` name) to `child` and waits (watchdog) for it.
fn signal_and_wait(child: &mut Bg, signal: &str) -> std::process::ExitStatus {
    let pid = child.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-s", signal, &pid])
        .status()
        .unwrap()
        .success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "watchdog: ipcx did not exit after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigint_on_a_creating_recv_removes_the_ring_and_exits_130() {
    for wait in ["spin", "futex", "adaptive"] {
        let (name, _g) = ring_name();
        let path = format!("/dev/shm{name}");
        let ep = format!("shm:{name}?capacity=4096&wait={wait}");
        let mut recv = Bg(ipcx_std()
            .args(["recv", &ep, "--create"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap());
        // The ring is made and its removal registered in one section: once
        // the file exists, a signal is handled after the registration.
        wait_for_file(&path);
        let status = signal_and_wait(&mut recv, "INT");
        assert_eq!(status.code(), Some(130), "wait={wait}");
        assert!(
            !std::path::Path::new(&path).exists(),
            "wait={wait}: the ring was left behind"
        );
    }
}

#[test]
fn sigterm_on_a_creating_send_removes_the_ring_but_keep_leaves_it() {
    for keep in [false, true] {
        let (name, _g) = ring_name();
        let path = format!("/dev/shm{name}");
        let ep = format!("shm:{name}?capacity=4096");
        let mut args = vec!["send", ep.as_str(), "--message", "m"];
        if keep {
            // With --keep the sender returns at once; make it wait for room
            // instead: 100 messages of 2 KiB do not fit in 4 KiB.
            args.extend(["--count", "100", "--pad", "2000", "--keep"]);
        }
        // Without --keep, the creating sender waits for a receiver.
        let mut send = Bg(ipcx_std()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap());
        wait_for_file(&path);
        // Let it reach its wait (if the signal came earlier, the outcome is
        // the same: the section defers it past the registration).
        std::thread::sleep(Duration::from_millis(50));
        let status = signal_and_wait(&mut send, "TERM");
        assert_eq!(status.code(), Some(143), "keep={keep}");
        assert_eq!(std::path::Path::new(&path).exists(), keep, "keep={keep}");
    }
}

#[test]
fn a_capacity_over_64_mib_is_refused_and_nothing_is_created() {
    let (name, _g) = ring_name();
    ipcx()
        .args(["recv", &format!("shm:{name}?capacity=67108865"), "--create"])
        .timeout(Duration::from_secs(60))
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("67108864").and(predicate::str::starts_with("ipcx: ")));
    assert!(!std::path::Path::new(&format!("/dev/shm{name}")).exists());
}

#[test]
fn a_pad_over_the_record_limit_is_refused_before_allocating() {
    let (name, _g) = ring_name();
    // 1 TB of padding: refused at once, never allocated (the watchdog
    // catches an attempt to fill the memory).
    ipcx()
        .args([
            "send",
            &format!("shm:{name}?capacity=4096"),
            "--message",
            "m",
            "--pad",
            "1000000000000",
            "--keep",
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains("largest record of 2040 bytes"));
}

#[test]
fn sigint_during_the_ring_tour_removes_its_ring() {
    // The tour's ring lives for the length of a 1,000,000-message transfer;
    // try a few times in case a run ends before the ring is seen.
    for _ in 0..5 {
        let mut tour = Bg(ipcx_std()
            .args(["tour", "shm"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap());
        let path = format!("/dev/shm/ipcx-tour-ring-{}", tour.0.id());
        let _g = ShmGuard(path.trim_start_matches("/dev/shm").to_owned());
        let started = Instant::now();
        let seen = loop {
            if std::path::Path::new(&path).exists() {
                break true;
            }
            if tour.0.try_wait().unwrap().is_some() {
                break false;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "watchdog");
            std::thread::sleep(Duration::from_millis(1));
        };
        if !seen {
            continue;
        }
        let status = signal_and_wait(&mut tour, "INT");
        if status.code() == Some(0) {
            continue; // the tour finished before the signal came
        }
        assert_eq!(status.code(), Some(130));
        assert!(
            !std::path::Path::new(&path).exists(),
            "the tour's ring was left behind"
        );
        return;
    }
    panic!("the ring tour always finished before it could be interrupted");
}
