//! `ipcx limits`: every value matches the file or call it cites.

use std::process::Command;

use serde_json::Value;

use crate::util::ipcx;

fn limits_json() -> Vec<Value> {
    let out = ipcx().args(["limits", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    v["limits"].as_array().unwrap().clone()
}

#[test]
fn limits_match_the_proc_files_they_cite() {
    let limits = limits_json();
    let mut checked = 0;
    for l in &limits {
        let source = l["source"].as_str().unwrap();
        if !source.starts_with("/proc/") {
            continue;
        }
        let text = std::fs::read_to_string(source).unwrap();
        let field = l["field"].as_u64().unwrap_or(0) as usize;
        let want: u64 = text.split_whitespace().nth(field).unwrap().parse().unwrap();
        assert_eq!(l["value"].as_u64(), Some(want), "{l}");
        assert!(!l["limits"].as_str().unwrap().is_empty());
        checked += 1;
    }
    let names: Vec<&str> = limits.iter().map(|l| l["name"].as_str().unwrap()).collect();
    for n in [
        "msgmax",
        "msgmnb",
        "msgmni",
        "shmmax",
        "shmall",
        "shmmni",
        "semmsl",
        "semmns",
        "semopm",
        "semmni",
        "msg_max",
        "msgsize_max",
        "queues_max",
        "msg_default",
        "msgsize_default",
        "pipe-max-size",
        "pipe-user-pages-soft",
        "rmem_max",
        "wmem_max",
        "rmem_default",
        "wmem_default",
        "PIPE_BUF",
        "SEM_VALUE_MAX",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(checked >= 20, "only {checked} limits read from /proc");
}

#[test]
fn rlimit_msgqueue_and_constants_match_prlimit_and_getconf() {
    let limits = limits_json();
    let get = |name: &str| limits.iter().find(|l| l["name"] == name).unwrap().clone();
    // prlimit(1) reports the limits of the process it runs in, inherited
    // from this test exactly as ipcx inherits them.
    let out = Command::new("prlimit")
        .args(["--msgqueue", "-o", "SOFT,HARD", "--noheadings"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 2, "{text}");
    for (name, want) in [
        ("RLIMIT_MSGQUEUE (soft)", fields[0]),
        ("RLIMIT_MSGQUEUE (hard)", fields[1]),
    ] {
        let l = get(name);
        assert_eq!(l["source"], "getrlimit(RLIMIT_MSGQUEUE)");
        match want {
            "unlimited" => assert_eq!(l["unlimited"], true, "{l}"),
            n => assert_eq!(l["value"].as_u64().unwrap().to_string(), n, "{l}"),
        }
    }
    let out = Command::new("getconf")
        .args(["PIPE_BUF", "/"])
        .output()
        .unwrap();
    let pipe_buf = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        get("PIPE_BUF")["value"].as_u64().unwrap().to_string(),
        pipe_buf.trim()
    );
    let out = Command::new("getconf")
        .arg("SEM_VALUE_MAX")
        .output()
        .unwrap();
    let svm = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        get("SEM_VALUE_MAX")["value"].as_u64().unwrap().to_string(),
        svm.trim()
    );
}

#[test]
fn the_table_names_each_limit_its_source_and_what_it_limits() {
    let out = ipcx().arg("limits").output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    for text in [
        "msgmax",
        "/proc/sys/kernel/msgmax",
        "largest System V message",
        "/proc/sys/kernel/sem (field 3)",
        "getrlimit(RLIMIT_MSGQUEUE)",
        "/proc/sys/net/core/rmem_max",
        "PIPE_BUF",
    ] {
        assert!(table.contains(text), "{text} missing:\n{table}");
    }
}
