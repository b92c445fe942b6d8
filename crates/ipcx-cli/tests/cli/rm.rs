//! `ipcx rm`: by name, key or id; in-use objects refused unless `--force`;
//! `--stale` and `--dry-run`; bad input and other users' objects.

use std::path::PathBuf;
use std::process::Command;

use crate::ls::{fresh_key_file, holder, ipcs_line, ls_objects, Held, ShmGuard, SysvGuard};
use crate::util::{ipcx, unique};

/// Runs `ipcx rm ARGS…`: (exit code, stdout, stderr).
fn rm(args: &[&str]) -> (i32, String, String) {
    let out = ipcx().arg("rm").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn unknown_object_spec_is_a_one_line_error_listing_the_accepted_forms() {
    let (code, out, err) = rm(&["pigeon:/coop"]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("ipcx: object \"pigeon:/coop\""), "{err}");
    for form in [
        "sysvmq:KEY",
        "sysvmq:id=N",
        "shm:/NAME",
        "mq:/NAME",
        "unix:PATH",
    ] {
        assert!(err.contains(form), "{form} missing: {err}");
    }
}

#[test]
fn a_typo_among_several_objects_removes_nothing() {
    let name = unique("ipcx-rm-typo");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    let (code, _, err) = rm(&[&format!("shm:/{name}"), "shm:no-slash"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no-slash"), "{err}");
    assert!(path.exists());
}

#[test]
fn a_key_that_does_not_exist_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let key = fresh_key_file(dir.path(), "nokey");
    for kind in ["sysvmq", "sysvshm", "sysvsem"] {
        let (code, _, err) = rm(&[&format!("{kind}:{key}")]);
        assert_eq!(code, 1);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&key.to_string()) && err.contains("not found"),
            "{err}"
        );
    }
    let (code, _, err) = rm(&[&format!("shm:/{}", unique("ipcx-rm-none"))]);
    assert_eq!(code, 1);
    assert!(
        err.contains("POSIX shared memory object") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn an_object_in_use_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let holder = holder(dir.path());
    let key = fresh_key_file(dir.path(), "busy");
    let _guard = SysvGuard::new("-M", key);
    let held = Held::start(&holder, "sysvshm", &key.to_string());
    let spec = format!("sysvshm:{key}");

    let (code, out, err) = rm(&[&spec]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("in use") && err.contains(&held.pid().to_string()),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(ipcs_line("-m", &key).is_some());

    // Removing by id, forced: the name goes, the holder keeps its mapping.
    let id = ipcs_line("-m", &key).unwrap()[1].clone();
    let (code, out, err) = rm(&["--force", "--kind", "sysvshm", &id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("removed {spec}"));
    assert!(ipcs_line("-m", &key).is_none());
}

#[test]
fn dry_run_prints_exactly_what_ls_stale_shows_and_removes_nothing() {
    let tag = unique("ipcx-rm-dry");
    let mut guards = Vec::new();
    for i in 0..3 {
        let path = PathBuf::from(format!("/dev/shm/{tag}-{i}"));
        std::fs::write(&path, b"").unwrap();
        guards.push(ShmGuard(path));
    }
    let listed: Vec<String> = ls_objects(&["--stale", "--kind", "shm", "--match", &tag])
        .iter()
        .map(|o| format!("shm:{}", o["name"].as_str().unwrap()))
        .collect();
    assert_eq!(listed.len(), 3);
    let (code, out, err) = rm(&["--stale", "--dry-run", "--kind", "shm", "--match", &tag]);
    assert_eq!(code, 0, "{err}");
    let would: Vec<String> = out
        .lines()
        .map(|l| {
            l.strip_prefix("would remove ")
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(would, listed);
    assert!(guards.iter().all(|g| g.0.exists()));
    let (code, out, _) = rm(&["--stale", "--kind", "shm", "--match", &tag]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(guards.iter().all(|g| !g.0.exists()));
}

#[test]
fn exit_status_is_non_zero_when_any_removal_fails() {
    let name = unique("ipcx-rm-partial");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    let missing = format!("mq:/{}", unique("ipcx-rm-missing"));
    let (code, out, err) = rm(&[&format!("shm:/{name}"), &missing]);
    assert_eq!(code, 1);
    assert_eq!(out.trim(), format!("removed shm:/{name}"));
    assert!(err.contains("not found"), "{err}");
    assert!(!path.exists());
}

/// `setpriv` to uid/gid 65534 with no groups, if this machine allows it.
fn as_nobody() -> Option<Command> {
    if !rustix::process::getuid().is_root() {
        eprintln!("skipped: needs root to run a command as another user (uid 65534)");
        return None;
    }
    let probe = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        eprintln!("skipped: setpriv cannot switch to uid 65534 here");
        return None;
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    cmd.arg(assert_cmd::cargo::cargo_bin("ipcx"));
    Some(cmd)
}

#[test]
fn removing_another_users_object_is_a_clear_permission_error() {
    let Some(_) = as_nobody() else { return };
    // A System V queue of root, mode 0600.
    let out = Command::new("ipcmk")
        .args(["-Q", "-p", "0600"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let id: i32 = text.split_whitespace().last().unwrap().parse().unwrap();
    struct Rmid(i32);
    impl Drop for Rmid {
        fn drop(&mut self) {
            let _ = Command::new("ipcrm")
                .args(["-q", &self.0.to_string()])
                .status();
        }
    }
    let _q = Rmid(id);
    let out = as_nobody()
        .unwrap()
        .args(["rm", &format!("sysvmq:id={id}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("System V message queue")
            && err.contains(&format!("id {id}"))
            && err.contains("permission denied"),
        "{err}"
    );

    // A root-owned POSIX shm object in the sticky /dev/shm.
    let name = unique("ipcx-rm-perm");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = as_nobody()
        .unwrap()
        .args(["rm", &format!("shm:/{name}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("POSIX shared memory object /{name}"))
            && err.contains("permission denied"),
        "{err}"
    );
    assert!(path.exists());
}

#[test]
fn rm_stale_removes_the_listed_file_and_not_another_with_the_same_lossy_name() {
    use std::os::unix::ffi::OsStrExt;
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: chown to another owner needs root");
        return;
    }
    // nobody's stale "/dev/shm/NAME\xff" is shown as "/NAME\u{FFFD}"; root's
    // "/dev/shm/NAME\u{FFFD}" is not listed by `--owner 65534`.
    let name = unique("ipcx-rm-lossy");
    let mut raw = format!("/dev/shm/{name}").into_bytes();
    raw.push(0xff);
    let listed = PathBuf::from(std::ffi::OsStr::from_bytes(&raw));
    let twin = PathBuf::from(format!("/dev/shm/{name}\u{FFFD}"));
    let _g1 = ShmGuard(listed.clone());
    let _g2 = ShmGuard(twin.clone());
    std::fs::write(&listed, b"").unwrap();
    std::fs::write(&twin, b"").unwrap();
    rustix::fs::chown(&listed, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
    let (code, out, err) = rm(&["--stale", "--owner", "65534", "--match", &name]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!listed.exists(), "the listed file was removed: {out}");
    assert!(
        twin.exists(),
        "a file that was not listed was removed: {out}"
    );
}

#[test]
fn an_object_named_twice_is_removed_once_and_rm_succeeds() {
    let name = unique("ipcx-rm-twice");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    let spec = format!("shm:/{name}");
    let (code, out, err) = rm(&[&spec, &spec, "--stale", "--kind", "shm", "--match", &name]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), format!("removed {spec}"));
    assert!(!path.exists());
}
