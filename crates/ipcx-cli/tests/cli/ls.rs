//! `ipcx ls`: leaks of the seed's C programs are listed (and checked against
//! `ipcs`, /dev/shm, /dev/mqueue and /proc/net/unix); live objects are alive.
//!
//! Every test scopes what it lists and removes with `--match` on its own
//! unique key or name, so objects of tests running concurrently are never
//! touched.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use ipcx::key::Key;
use serde_json::Value;

use crate::util::{ipcx, seed_c, unique};

/// `ipcx ls --json ARGS…`, parsed; checks the schema version.
pub fn ls_json(args: &[&str]) -> Value {
    let out = ipcx().arg("ls").arg("--json").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    v
}

/// The objects of `ipcx ls --json ARGS…`.
pub fn ls_objects(args: &[&str]) -> Vec<Value> {
    ls_json(args)["objects"].as_array().unwrap().clone()
}

/// A temporary directory outside /tmp (in cargo's target dir), for programs
/// that must stay reachable when a test mounts its own /tmp.
pub fn target_tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// Removes a System V object by key on drop (`ipcrm`), whatever the test did.
pub struct SysvGuard {
    flag: &'static str,
    key: Key,
}

impl SysvGuard {
    /// `flag` is `-Q`, `-M` or `-S`.
    pub fn new(flag: &'static str, key: Key) -> SysvGuard {
        SysvGuard { flag, key }
    }
}

impl Drop for SysvGuard {
    fn drop(&mut self) {
        let _ = Command::new("ipcrm")
            .args([self.flag, &self.key.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Creates `dir/name` (the seed's ftok file) such that its key (project 65)
/// is used by no System V object yet; returns the key.
pub fn fresh_key_file(dir: &Path, name: &str) -> Key {
    let used = ipcs_keys();
    for i in 0..50 {
        let path = dir.join(name);
        if i > 0 {
            // Another inode, another key.
            let _ = std::fs::rename(&path, dir.join(format!("{name}.{i}")));
        }
        std::fs::write(&path, b"").unwrap();
        let key = Key::from_path(&path, 65).unwrap();
        if !used.contains(&key.to_string()) {
            return key;
        }
    }
    panic!("no unused System V key found");
}

/// Every key `ipcs -a` shows.
fn ipcs_keys() -> Vec<String> {
    let out = Command::new("ipcs").arg("-a").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("0x"))
        .map(str::to_owned)
        .collect()
}

/// The fields of the `ipcs FLAG` line for `key`, if any.
pub fn ipcs_line(flag: &str, key: &Key) -> Option<Vec<String>> {
    let out = Command::new("ipcs").arg(flag).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some(key.to_string().as_str()))
}

/// `ipcx rm --stale --kind KIND --match PATTERN`; returns stdout.
pub fn rm_stale(kind: &str, pattern: &str) -> String {
    let out = ipcx()
        .args(["rm", "--stale", "--kind", kind, "--match", pattern])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A small C program that holds an object open until its stdin closes.
const HOLDER_C: &str = r#"
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv) {
    alarm(120); /* watchdog: never outlive a broken test */
    if (argc != 3) return 2;
    if (!strcmp(argv[1], "sysvshm")) {
        int id = shmget((key_t)strtoul(argv[2], 0, 16), 4096, IPC_CREAT | 0600);
        if (id < 0 || shmat(id, 0, 0) == (void *)-1) return 3;
    } else if (!strcmp(argv[1], "shm")) {
        int fd = shm_open(argv[2], O_CREAT | O_EXCL | O_RDWR, 0600);
        if (fd < 0 || ftruncate(fd, 8192) < 0) return 3;
        if (mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED) return 3;
        close(fd); /* only the mapping holds it */
    } else if (!strcmp(argv[1], "mq")) {
        mqd_t q = mq_open(argv[2], O_CREAT | O_EXCL | O_RDONLY, 0600, 0);
        if (q == (mqd_t)-1) return 3; /* held open until stdin closes */
    } else if (!strcmp(argv[1], "mqleak")) {
        struct mq_attr a = {0};
        a.mq_maxmsg = 4; a.mq_msgsize = 64;
        mqd_t q = mq_open(argv[2], O_CREAT | O_EXCL | O_WRONLY, 0600, &a);
        if (q == (mqd_t)-1) return 3;
        if (mq_send(q, "leak", 4, 0) < 0) return 3;
        return 0; /* exits without mq_unlink: a leak */
    } else return 2;
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {}
    return 0;
}
"#;

/// Compiles [`HOLDER_C`] into `dir`.
pub fn holder(dir: &Path) -> PathBuf {
    let src = dir.join("holder.c");
    std::fs::write(&src, HOLDER_C).unwrap();
    let out = dir.join("holder");
    let status = Command::new("cc")
        .args(["-w", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-lrt")
        .status()
        .unwrap();
    assert!(status.success(), "compiling holder.c");
    out
}

/// A running holder; closing its stdin ends it, also when a test fails.
pub struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Held {
    /// Starts `holder MODE ARG` and waits until it holds the object.
    pub fn start(holder: &Path, mode: &str, arg: &str) -> Held {
        let mut child = Command::new(holder)
            .args([mode, arg])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n", "holder {mode} {arg} failed");
        Held { child, stdin }
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes a /dev/shm file on drop.
pub struct ShmGuard(pub PathBuf);

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn seed_mq_sender_leak_is_listed_as_ipcs_shows_it_and_rm_stale_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let sender = seed_c(dir.path(), "mq_sender");
    let key = fresh_key_file(dir.path(), "progfile");
    let _guard = SysvGuard::new("-Q", key);
    let out = Command::new(&sender)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());

    let k = key.to_string();
    let objs = ls_objects(&["--kind", "sysvmq", "--match", &k]);
    assert_eq!(objs.len(), 1, "{objs:?}");
    let o = &objs[0];
    // ipcs -q: key msqid owner perms used-bytes messages
    let ipcs = ipcs_line("-q", &key).expect("ipcs shows the queue");
    assert_eq!(o["name"], k.as_str());
    assert_eq!(o["id"].as_u64().unwrap().to_string(), ipcs[1]);
    assert_eq!(o["owner"], ipcs[2].as_str());
    assert_eq!(format!("{:o}", o["mode"].as_u64().unwrap()), ipcs[3]);
    assert_eq!(o["size"].as_u64().unwrap().to_string(), ipcs[4]);
    assert_eq!(o["count"].as_u64().unwrap().to_string(), ipcs[5]);
    assert_eq!(
        (o["size"].as_u64(), o["count"].as_u64()),
        (Some(100), Some(1))
    );
    assert_eq!(o["last_pids"][0]["role"], "msgsnd");
    assert_eq!(o["stale"], true, "{o}");

    // The table lists it as stale too.
    let table = ipcx()
        .args(["ls", "--kind", "sysvmq", "--match", &k])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains(&k) && table.contains("STALE"), "{table}");

    let removed = rm_stale("sysvmq", &k);
    assert_eq!(removed.trim(), format!("removed sysvmq:{k}"));
    assert!(ipcs_line("-q", &key).is_none(), "queue still there");
}

#[test]
fn seed_shm_writer_leak_is_listed_as_ipcs_shows_it_and_rm_stale_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let writer = seed_c(dir.path(), "shm_writer");
    let key = fresh_key_file(dir.path(), "shmfile");
    let _guard = SysvGuard::new("-M", key);
    let out = Command::new(&writer)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());

    let k = key.to_string();
    let objs = ls_objects(&["--kind", "sysvshm", "--match", &k]);
    assert_eq!(objs.len(), 1, "{objs:?}");
    let o = &objs[0];
    // ipcs -m: key shmid owner perms bytes nattch
    let ipcs = ipcs_line("-m", &key).expect("ipcs shows the segment");
    assert_eq!(o["id"].as_u64().unwrap().to_string(), ipcs[1]);
    assert_eq!(o["owner"], ipcs[2].as_str());
    assert_eq!(format!("{:o}", o["mode"].as_u64().unwrap()), ipcs[3]);
    assert_eq!(o["size"].as_u64().unwrap().to_string(), ipcs[4]);
    assert_eq!(o["attached"].as_u64().unwrap().to_string(), ipcs[5]);
    assert_eq!(o["size"], 1024);
    assert_eq!(o["creator"]["source"], "kernel");
    assert_eq!(o["creator"]["alive"], false);
    assert_eq!(o["stale"], true, "{o}");

    let removed = rm_stale("sysvshm", &k);
    assert_eq!(removed.trim(), format!("removed sysvshm:{k}"));
    assert!(ipcs_line("-m", &key).is_none(), "segment still there");
}

#[test]
fn segment_attached_by_a_sleeping_child_is_alive_and_survives_rm_stale() {
    let dir = tempfile::tempdir().unwrap();
    let holder = holder(dir.path());
    let key = fresh_key_file(dir.path(), "segfile");
    let _guard = SysvGuard::new("-M", key);
    let k = key.to_string();
    let held = Held::start(&holder, "sysvshm", &k);

    let o = ls_objects(&["--kind", "sysvshm", "--match", &k])
        .pop()
        .unwrap();
    assert_eq!(o["alive"], true, "{o}");
    assert_eq!(o["attached"], 1);
    assert_eq!(o["users"], serde_json::json!([held.pid()]));
    assert_eq!(o["creator"]["pid"], held.pid());
    assert_eq!(o["creator"]["alive"], true);
    assert_eq!(ipcs_line("-m", &key).unwrap()[5], "1");

    assert_eq!(rm_stale("sysvshm", &k), "");
    assert!(
        ipcs_line("-m", &key).is_some(),
        "rm --stale removed a live segment"
    );

    // Once the holder is gone, the segment is stale.
    drop(held);
    let o = ls_objects(&["--kind", "sysvshm", "--match", &k])
        .pop()
        .unwrap();
    assert_eq!(o["stale"], true, "{o}");
    assert_eq!(
        rm_stale("sysvshm", &k).trim(),
        format!("removed sysvshm:{k}")
    );
}

#[test]
fn posix_shm_mapped_by_a_child_is_alive_and_matches_dev_shm() {
    let dir = tempfile::tempdir().unwrap();
    let holder = holder(dir.path());
    let name = unique("ipcx-ls-shm");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    let held = Held::start(&holder, "shm", &format!("/{name}"));

    let o = ls_objects(&["--kind", "shm", "--match", &name])
        .pop()
        .unwrap();
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(&path).unwrap();
    assert_eq!(o["name"], format!("/{name}"));
    assert_eq!(o["path"], path.to_str().unwrap());
    assert_eq!(o["size"], md.len());
    assert_eq!(o["id"], md.ino());
    assert_eq!(o["owner_uid"], md.uid());
    assert_eq!(o["mode"], md.mode() & 0o7777);
    assert_eq!(
        o["users"],
        serde_json::json!([held.pid()]),
        "found in /proc/PID/maps"
    );
    assert_eq!(o["alive"], true);

    assert_eq!(rm_stale("shm", &name), "");
    assert!(path.exists(), "rm --stale removed a mapped object");
    drop(held);
    assert_eq!(
        rm_stale("shm", &name).trim(),
        format!("removed shm:/{name}")
    );
    assert!(!path.exists());
}

#[test]
fn leaked_posix_queue_matches_dev_mqueue_and_rm_stale_removes_it() {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" /dev/mqueue ") && l.contains(" - mqueue "));
    if !mounted {
        eprintln!("skipped: /dev/mqueue is not mounted (mount -t mqueue none /dev/mqueue)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let holder = holder(dir.path());
    let name = unique("ipcx-ls-mq");
    let path = PathBuf::from(format!("/dev/mqueue/{name}"));
    let _guard = ShmGuard(path.clone());
    let status = Command::new(&holder)
        .args(["mqleak", &format!("/{name}")])
        .status()
        .unwrap();
    assert!(status.success());

    let o = ls_objects(&["--kind", "mq", "--match", &name])
        .pop()
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("QSIZE:4 "), "{text}");
    assert_eq!(o["size"], 4, "bytes queued, as QSIZE says");
    assert_eq!(o["mode"], 0o600);
    assert_eq!(o["stale"], true);
    assert_eq!(rm_stale("mq", &name).trim(), format!("removed mq:/{name}"));
    assert!(!path.exists());
}

#[test]
fn unix_sockets_match_proc_net_unix_and_a_left_over_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("ls.sock");
    let s = sock.to_str().unwrap().to_owned();
    let mut listener = Command::new("socat")
        .args([&format!("UNIX-LISTEN:{s}"), "STDOUT"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let proc_line = loop {
        let table = std::fs::read_to_string("/proc/net/unix").unwrap();
        if let Some(l) = table.lines().find(|l| l.ends_with(&format!(" {s}"))) {
            break l.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "socat never listened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let inode: u64 = proc_line
        .split_whitespace()
        .nth(6)
        .unwrap()
        .parse()
        .unwrap();

    let o = ls_objects(&["--kind", "unix", "--match", &s])
        .pop()
        .unwrap();
    assert_eq!(o["id"], inode, "inode as /proc/net/unix shows it");
    assert_eq!(o["socket"]["type"], "stream");
    assert_eq!(o["socket"]["state"], "listening");
    assert_eq!(o["users"], serde_json::json!([listener.id()]));
    assert_eq!(o["alive"], true);
    assert_eq!(rm_stale("unix", &s), "");
    assert!(sock.exists());

    // Killed, socat leaves its socket file behind.
    listener.kill().unwrap();
    listener.wait().unwrap();
    assert!(sock.exists());
    let o = ls_objects(&["--kind", "unix", "--match", &s])
        .pop()
        .unwrap();
    assert_eq!(o["socket"]["bound"], false);
    assert_eq!(o["stale"], true);
    assert_eq!(rm_stale("unix", &s).trim(), format!("removed unix:{s}"));
    assert!(!sock.exists());
}

#[test]
fn seed_fifo_writer_leaves_its_fifo_which_rm_stale_removes() {
    // fifo_writer always uses /tmp/myfifo; give it a private /tmp (a mount
    // namespace with a fresh tmpfs) so that concurrent tests never meet it.
    let dir = target_tempdir();
    let writer = seed_c(dir.path(), "fifo_writer");
    let ipcx_bin = assert_cmd::cargo::cargo_bin("ipcx");
    let script = r#"
        mount -t tmpfs ipcx-test /tmp || exit 77
        "$1" & w=$!
        echo "== writer $w"
        # Wait until the writer blocks in open(2), waiting for a reader.
        i=0
        while [ "$(cat /proc/$w/wchan 2>/dev/null)" != wait_for_partner ] && [ $i -lt 400 ]; do
            sleep 0.05; i=$((i+1))
        done
        echo "== during"
        "$2" ls --json --kind fifo --match /tmp/myfifo
        echo "== rm while blocked"
        "$2" rm --stale --kind fifo --match /tmp/myfifo
        if [ -p /tmp/myfifo ]; then echo survived; fi
        kill $w; wait $w
        echo "== rm"
        "$2" rm --stale --kind fifo --match /tmp/myfifo
        echo "== after"
        if [ -e /tmp/myfifo ]; then echo present; else echo gone; fi
    "#;
    let out = Command::new("timeout")
        .args([
            "60",
            "unshare",
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&writer)
        .arg(&ipcx_bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !stdout.contains("== during") {
        eprintln!(
            "skipped: cannot make a private /tmp here (unshare -m and mount need root): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let section = |from: &str, to: &str| -> String {
        stdout
            .split(from)
            .nth(1)
            .unwrap()
            .split(to)
            .next()
            .unwrap()
            .to_owned()
    };
    let writer_pid: u64 = section("== writer", "==").trim().parse().unwrap();
    let v: Value = serde_json::from_str(&section("== during", "== rm while blocked")).unwrap();
    let objs = v["objects"].as_array().unwrap();
    assert_eq!(objs.len(), 1, "{v}");
    assert_eq!(objs[0]["kind"], "fifo");
    assert_eq!(objs[0]["name"], "/tmp/myfifo");
    // The seed asks for 0666; the umask decides what it gets.
    assert_eq!(objs[0]["mode"].as_u64().unwrap() & 0o600, 0o600);
    // Blocked in open(2), the writer holds no descriptor yet; ipcx finds it
    // through /proc/PID/syscall, so the FIFO is alive and survives.
    assert_eq!(objs[0]["users"], serde_json::json!([writer_pid]), "{v}");
    assert_eq!(objs[0]["alive"], true);
    assert_eq!(
        section("== rm while blocked", "== rm\n").trim(),
        "survived",
        "{stdout}"
    );
    let rm = stdout.split("== rm\n").nth(1).unwrap();
    assert!(rm.contains("removed fifo:/tmp/myfifo"), "{stdout}");
    assert!(stdout.trim_end().ends_with("gone"), "{stdout}");
}

#[test]
fn ls_filters_by_kind_and_owner_and_rejects_unknown_kinds() {
    let name = unique("ipcx-ls-filter");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"x").unwrap();
    let me = rustix::process::getuid().as_raw().to_string();
    assert_eq!(ls_objects(&["--kind", "shm", "--match", &name]).len(), 1);
    assert_eq!(
        ls_objects(&["--kind", "sysvmq,mq", "--match", &name]).len(),
        0
    );
    assert_eq!(ls_objects(&["--owner", &me, "--match", &name]).len(), 1);
    assert_eq!(
        ls_objects(&["--owner", "4242424", "--match", &name]).len(),
        0
    );

    let table = ipcx().args(["ls", "--match", &name]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    for col in [
        "kind", "name/key", "id", "owner", "mode", "size", "users", "creator", "alive?", "age",
    ] {
        assert!(table.contains(col), "{col} missing: {table}");
    }
    assert!(
        table.contains(&format!("/{name}")) && table.contains("1 B"),
        "{table}"
    );

    let out = ipcx()
        .args(["ls", "--kind", "carrier-pigeon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("sysvmq") && err.contains("fifo"), "{err}");
}

#[test]
fn json_output_has_exactly_the_fields_of_the_documented_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ls-json-schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let name = unique("ipcx-ls-schema");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    let doc = ls_json(&["--match", &name]);

    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let required = |v: &Value| {
        let mut k: Vec<String> = v["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&doc), required(&schema));
    assert_eq!(
        doc["schema_version"],
        schema["properties"]["schema_version"]["const"]
    );
    let object = &doc["objects"][0];
    let object_schema = &schema["$defs"]["object"];
    assert_eq!(keys(object), required(object_schema));
    let mut props = keys(&object_schema["properties"]);
    props.sort();
    assert_eq!(keys(object), props, "every field is described");
    let kinds: Vec<&str> = object_schema["properties"]["kind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for k in ipcx::inventory::Kind::ALL {
        assert!(kinds.contains(&k.as_str()), "{k} not in the schema");
    }
}

#[test]
fn without_dev_mqueue_ls_says_how_to_mount_it_and_still_lists_open_queues() {
    let dir = target_tempdir();
    let holder = holder(dir.path());
    let name = unique("ipcx-ls-mqopen");
    let _guard = ShmGuard(PathBuf::from(format!("/dev/mqueue/{name}")));
    let held = Held::start(&holder, "mq", &format!("/{name}"));
    // A private mount namespace in which /dev/mqueue is not mounted.
    let out = Command::new("timeout")
        .args(["60", "unshare", "-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"umount /dev/mqueue 2>/dev/null; if mountpoint -q /dev/mqueue; then exit 77; fi; exec "$1" ls --json --kind mq --match "$2""#)
        .args(["sh"])
        .arg(assert_cmd::cargo::cargo_bin("ipcx"))
        .arg(&name)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "skipped: cannot hide /dev/mqueue in a private mount namespace here: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return;
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = v["notes"].to_string();
    assert!(notes.contains("/dev/mqueue is not mounted"), "{notes}");
    assert!(
        notes.contains("mount -t mqueue none /dev/mqueue"),
        "{notes}"
    );
    let objs = v["objects"].as_array().unwrap();
    assert_eq!(objs.len(), 1, "{v}");
    assert_eq!(objs[0]["name"], format!("/{name}"));
    assert_eq!(objs[0]["users"], serde_json::json!([held.pid()]));
    assert_eq!(objs[0]["mode"], 0o600);
    assert_eq!(objs[0]["alive"], true);
}

#[test]
fn semaphore_sets_are_listed_as_ipcs_shows_them() {
    let out = Command::new("ipcmk")
        .args(["-S", "3", "-p", "0640"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let id: i32 = text.split_whitespace().last().unwrap().parse().unwrap();
    struct Rmid(i32);
    impl Drop for Rmid {
        fn drop(&mut self) {
            let _ = Command::new("ipcrm")
                .args(["-s", &self.0.to_string()])
                .status();
        }
    }
    let _set = Rmid(id);
    let objs = ls_objects(&["--kind", "sysvsem"]);
    let o = objs.iter().find(|o| o["id"] == id).expect("listed");
    // ipcs -s: key semid owner perms nsems
    let out = Command::new("ipcs").arg("-s").output().unwrap();
    let ipcs = String::from_utf8(out.stdout).unwrap();
    let line: Vec<&str> = ipcs
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(1) == Some(&id.to_string().as_str()))
        .expect("ipcs shows the set");
    assert_eq!(o["key"], line[0]);
    assert_eq!(o["owner"], line[2]);
    assert_eq!(format!("{:o}", o["mode"].as_u64().unwrap()), line[3]);
    assert_eq!(o["count"].as_u64().unwrap().to_string(), line[4]);
    assert_eq!(o["count"], 3);
    // Never operated on: no semop pid, no creator record.
    assert_eq!(o["last_pids"], serde_json::json!([]));
    assert_eq!(o["stale"], true);
}

#[test]
fn a_ring_shows_its_consumer_and_once_killed_is_stale_and_removed() {
    let name = unique("ipcx-ls-ring");
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    let mut rx = crate::util::ipcx_std()
        .args(["recv", &format!("shm:/{name}"), "--timeout", "60s"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let pid = rx.id();
    let rx = Kill(&mut rx);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let o = loop {
        if let Some(o) = ls_objects(&["--kind", "ring", "--match", &name]).pop() {
            if o["ring"]["consumer"] == pid {
                break o;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ring never showed its consumer"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(o["name"], format!("/{name}"));
    assert_eq!(o["ring"]["consumer_alive"], true);
    assert_eq!(o["creator"]["pid"], pid);
    assert_eq!(o["alive"], true);
    assert_eq!(rm_stale("ring", &name), "");
    let table = ipcx()
        .args(["ls", "--kind", "ring", "--match", &name])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains(&format!("C {pid}")), "{table}");

    // kill -9: nobody removes the ring.
    drop(rx);
    assert!(path.exists());
    let o = ls_objects(&["--kind", "ring", "--match", &name])
        .pop()
        .unwrap();
    assert_eq!(o["ring"]["consumer_alive"], false, "{o}");
    assert_eq!(o["stale"], true, "{o}");
    assert_eq!(
        rm_stale("ring", &name).trim(),
        format!("removed ring:/{name}")
    );
    assert!(!path.exists());
}

#[test]
fn a_receiver_waiting_on_an_empty_queue_keeps_it_alive() {
    // A waiting msgrcv holds no descriptor and has set no lrpid yet; ipcx
    // finds it through /proc/PID/task/TID/syscall.
    let dir = tempfile::tempdir().unwrap();
    let key = fresh_key_file(dir.path(), "waitfile");
    let _guard = SysvGuard::new("-Q", key);
    let k = key.to_string();
    // Without --timeout the receiver blocks in msgrcv (timed receives poll
    // with IPC_NOWAIT and sleep in between). Killed on drop, also when the
    // test fails.
    struct Killed(Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut rx = Killed(
        crate::util::ipcx_std()
            .args(["recv", &format!("sysvmq:{k}"), "--create"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = rx.0.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let o = loop {
        if let Some(o) = ls_objects(&["--kind", "sysvmq", "--match", &k]).pop() {
            if o["users"] == serde_json::json!([pid]) {
                break o;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the waiting receiver was never seen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        o["last_pids"],
        serde_json::json!([]),
        "nothing received yet"
    );
    assert_eq!(o["alive"], true, "{o}");
    assert_eq!(rm_stale("sysvmq", &k), "");
    assert!(ipcs_line("-q", &key).is_some());
    // Killed, the receiver leaves its queue behind: stale.
    rx.0.kill().unwrap();
    rx.0.wait().unwrap();
    let o = ls_objects(&["--kind", "sysvmq", "--match", &k])
        .pop()
        .unwrap();
    assert_eq!(o["stale"], true, "{o}");
    assert_eq!(rm_stale("sysvmq", &k).trim(), format!("removed sysvmq:{k}"));
}

#[test]
fn a_file_name_that_is_not_utf8_does_not_break_ls_json() {
    use std::os::unix::ffi::OsStrExt;
    let name = unique("ipcx-ls-raw");
    let mut raw = format!("/dev/shm/{name}").into_bytes();
    raw.push(0xff);
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(&raw));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    let objects = ls_objects(&["--match", &name]);
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0]["name"], format!("/{name}\u{FFFD}"));
    assert_eq!(objects[0]["path"], format!("/dev/shm/{name}\u{FFFD}"));
}

#[test]
fn control_characters_in_a_name_are_escaped_in_the_table() {
    let name = format!("{}\n\u{1b}[31mX", unique("ipcx-ls-ctl"));
    let path = PathBuf::from(format!("/dev/shm/{name}"));
    let _guard = ShmGuard(path.clone());
    std::fs::write(&path, b"").unwrap();
    let out = ipcx()
        .args(["ls", "--kind", "shm", "--match", &name])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(!table.contains('\u{1b}'), "{table}");
    let line = table
        .lines()
        .find(|l| l.contains("ipcx-ls-ctl"))
        .expect("listed");
    assert!(line.contains("\\n\\u{1b}[31mX"), "{table}");
}

/// Runs `ipcx ARGS…` with a stdout whose reader is already closed.
fn with_closed_stdout(args: &[&str]) -> std::process::Output {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    crate::util::ipcx_std()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn ls_json_and_limits_json_into_a_closed_pipe_exit_0_quietly() {
    for args in [&["ls", "--json"][..], &["limits", "--json"], &["ls"]] {
        let out = with_closed_stdout(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn a_socket_bound_by_a_relative_path_is_alive_and_not_a_left_over_file() {
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    // /proc/net/unix shows the path as given to bind(2): relative to the
    // server's directory, not to the one ls runs in.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}.sock", unique("ipcx-ls-rel"));
    let _serve = Kill(
        crate::util::ipcx_std()
            .args(["serve", &format!("unix:{name}"), "--echo"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let file = dir.path().join(&name);
    let watchdog = std::time::Instant::now();
    while !file.exists() {
        assert!(watchdog.elapsed().as_secs() < 20, "serve did not bind");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Wait until the socket is in /proc/net/unix as well.
    let objects = loop {
        let o = ls_objects(&["--kind", "unix", "--match", &name]);
        if o.iter().any(|o| o["socket"]["bound"] == true) {
            break o;
        }
        assert!(watchdog.elapsed().as_secs() < 20, "not listed: {o:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0]["alive"], true);
    assert_eq!(objects[0]["path"], file.to_str().unwrap());
    let out = ipcx()
        .args([
            "rm",
            "--stale",
            "--dry-run",
            "--kind",
            "unix",
            "--match",
            &name,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("would remove"), "{text}");
    assert!(file.exists());
}
