//! `ipcx lock NAME -- COMMAND`: exit status, mutual exclusion, recovery after
//! kill -9, timeouts, and cleanup.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::util::{ipcx, ipcx_std, unique};

fn object(name: &str) -> PathBuf {
    PathBuf::from(format!("/dev/shm/ipcx-lock.{name}"))
}

/// Removes the lock object on drop, also when the test fails.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(object(&self.0));
    }
}

#[test]
fn returns_the_command_status_and_leaves_nothing_behind() {
    let name = unique("lk");
    let _c = Cleanup(name.clone());
    ipcx()
        .args(["lock", &name, "--", "sh", "-c", "exit 7"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(7);
    ipcx()
        .args(["lock", &name, "--", "sh", "-c", "kill -TERM $$"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(128 + 15);
    ipcx()
        .args(["lock", &name, "--", "echo", "hi"])
        .assert()
        .success()
        .stdout("hi\n");
    assert!(
        !object(&name).exists(),
        "the last holder removes the object"
    );
}

#[test]
fn holders_exclude_each_other() {
    let name = unique("lk");
    let _c = Cleanup(name.clone());
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let script = format!(
        "echo start >> {0}; sleep 0.05; echo end >> {0}",
        log.display()
    );
    let children: Vec<_> = (0..4)
        .map(|_| {
            ipcx_std()
                .args(["lock", &name, "--timeout", "60s", "--", "sh", "-c", &script])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8);
    for pair in lines.chunks(2) {
        assert_eq!(pair, ["start", "end"], "interleaved: {text}");
    }
}

#[test]
fn a_holder_killed_with_sigkill_releases_it_and_the_next_one_is_told() {
    let name = unique("lk");
    let _c = Cleanup(name.clone());
    let mut holder = ipcx_std()
        .args(["lock", &name, "--", "sh", "-c", "echo $$; sleep 60"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let shell_pid: i32 = line.trim().parse().expect("holder's command pid");
    holder.kill().unwrap(); // SIGKILL to ipcx, which holds the lock
    holder.wait().unwrap();
    // Its command is an orphan now; end it too.
    let _ = std::process::Command::new("kill")
        .args(["-9", &shell_pid.to_string()])
        .status();
    // The watchdog timeout only prevents a hang; no time bound is asserted.
    ipcx()
        .args(["lock", &name, "--timeout", "20s", "--", "echo", "next"])
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .stdout("next\n")
        .stderr(predicates::str::contains("died while holding it"));
    assert!(!object(&name).exists());
}

#[test]
fn a_timeout_gives_up_with_status_1() {
    let name = unique("lk");
    let _c = Cleanup(name.clone());
    let mut holder = ipcx_std()
        .args(["lock", &name, "--", "sh", "-c", "echo held; sleep 5"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    ipcx()
        .args(["lock", &name, "--timeout", "100ms", "--", "echo", "no"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicates::str::contains("still held"));
    assert!(holder.wait().unwrap().success());
}

#[test]
fn a_bad_lock_name_is_an_error() {
    ipcx()
        .args(["lock", "a/b", "--", "true"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("invalid name"));
}
