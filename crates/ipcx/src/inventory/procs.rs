//! One pass over `/proc/*/fd` and `/proc/*/maps`: which processes hold which
//! IPC objects open or mapped.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::FileTypeExt;

/// `f_type` of the mqueue file system (`MQUEUE_MAGIC`).
const MQUEUE_MAGIC: i64 = 0x1980_0202;

/// A POSIX message queue found through a process's descriptor.
#[derive(Debug, Clone)]
pub(crate) struct MqFd {
    pub uid: u32,
    pub mode: u32,
    pub ino: u64,
}

/// Who holds what, as far as this user may look.
#[derive(Debug, Default)]
pub(crate) struct ProcScan {
    /// Absolute path of an open file (as the `/proc/PID/fd` link shows it) → pids.
    pub fd_paths: HashMap<String, BTreeSet<u32>>,
    /// Socket inode → pids holding a descriptor for it.
    pub sockets: HashMap<u64, BTreeSet<u32>>,
    /// POSIX queues open in some process, by name → pids.
    pub mq: HashMap<String, (MqFd, BTreeSet<u32>)>,
    /// Named FIFOs open in some process, by path → pids.
    pub fifos: HashMap<String, BTreeSet<u32>>,
    /// Path of a shared file mapping (`/dev/shm/NAME`) → pids.
    pub mapped_paths: HashMap<String, BTreeSet<u32>>,
    /// System V segment id (the inode of a `/SYSV…` mapping) → pids.
    pub sysv_maps: HashMap<u64, BTreeSet<u32>>,
    /// System V queue id → pids blocked in `msgsnd`/`msgrcv` on it now.
    pub blocked_msg: HashMap<u64, BTreeSet<u32>>,
    /// System V semaphore set id → pids blocked in `semop`/`semtimedop` on it now.
    pub blocked_sem: HashMap<u64, BTreeSet<u32>>,
    /// Processes whose descriptors or mappings could not be read.
    pub unreadable: usize,
}

impl ProcScan {
    /// Scans every process under `/proc`.
    pub(crate) fn run() -> ProcScan {
        let mut scan = ProcScan::default();
        let Ok(dir) = fs::read_dir("/proc") else {
            return scan;
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let fd_ok = scan.scan_fds(pid);
            let maps_ok = scan.scan_maps(pid);
            scan.scan_syscalls(pid);
            if !(fd_ok && maps_ok) {
                // Kernel threads have empty tables but are readable; a
                // process that vanished meanwhile does not count either.
                if fs::metadata(format!("/proc/{pid}")).is_ok() {
                    scan.unreadable += 1;
                }
            }
        }
        scan
    }

    fn scan_fds(&mut self, pid: u32) -> bool {
        let dir = format!("/proc/{pid}/fd");
        let Ok(entries) = fs::read_dir(&dir) else {
            return false;
        };
        for entry in entries.flatten() {
            let link = entry.path();
            let Ok(target) = fs::read_link(&link) else {
                continue;
            };
            // A name that is not UTF-8 is compared as listed: with U+FFFD.
            let target = target.to_string_lossy();
            let target = target.as_ref();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
            {
                self.sockets.entry(inode).or_default().insert(pid);
                continue;
            }
            if !target.starts_with('/') {
                continue; // pipe:[N], anon_inode:…: anonymous objects
            }
            self.fd_paths
                .entry(target.to_owned())
                .or_default()
                .insert(pid);
            // A POSIX queue descriptor reads as "/NAME" (its path inside the
            // mqueue file system); tell it from a file in / by the fs type.
            let one_component = target.len() > 1 && !target[1..].contains('/');
            if one_component {
                if let Ok(fs) = rustix::fs::statfs(&link) {
                    #[allow(clippy::unnecessary_cast)]
                    if fs.f_type as i64 == MQUEUE_MAGIC {
                        if let Ok(md) = fs::metadata(&link) {
                            use std::os::unix::fs::MetadataExt;
                            let slot = self.mq.entry(target.to_owned()).or_insert_with(|| {
                                (
                                    MqFd {
                                        uid: md.uid(),
                                        mode: md.mode() & 0o7777,
                                        ino: md.ino(),
                                    },
                                    BTreeSet::new(),
                                )
                            });
                            slot.1.insert(pid);
                        }
                        continue;
                    }
                }
            }
            if is_candidate_fifo_path(target) {
                if let Ok(md) = fs::metadata(&link) {
                    if md.file_type().is_fifo() {
                        self.fifos.entry(target.to_owned()).or_default().insert(pid);
                    }
                }
            }
        }
        true
    }

    fn scan_maps(&mut self, pid: u32) -> bool {
        // Read as bytes: one mapped file whose name is not UTF-8 must not
        // hide every mapping of the process.
        let Ok(bytes) = fs::read(format!("/proc/{pid}/maps")) else {
            return false;
        };
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            // address perms offset dev inode, padding, then the path as is
            // (spaces kept; a newline is written as \012).
            let mut rest = line;
            let mut f = [""; 5];
            for field in &mut f {
                rest = rest.trim_start_matches(' ');
                let end = rest.find(' ').unwrap_or(rest.len());
                *field = &rest[..end];
                rest = &rest[end..];
            }
            let [_, perms, _, _, inode] = f;
            let path = rest.trim_start_matches(' ');
            if path.is_empty() || !perms.ends_with('s') {
                continue;
            }
            if path.starts_with("/dev/shm/") && path.contains("\\012") {
                // Either a newline or the four characters themselves.
                self.mapped_paths
                    .entry(path.replace("\\012", "\n"))
                    .or_default()
                    .insert(pid);
            }
            let path = path.to_owned();
            if let Some(rest) = path.strip_prefix("/SYSV") {
                if rest.len() >= 8 {
                    if let Ok(id) = inode.parse::<u64>() {
                        self.sysv_maps.entry(id).or_default().insert(pid);
                    }
                }
            } else if path.starts_with("/dev/shm/") && !path.ends_with(" (deleted)") {
                self.mapped_paths.entry(path).or_default().insert(pid);
            }
        }
        true
    }

    /// Threads blocked in a call that holds no descriptor yet:
    /// `/proc/PID/task/TID/syscall` names the call and its arguments. For
    /// `msgsnd`/`msgrcv`/`semop` the first is the queue or set id (a receiver
    /// waiting on an empty queue); for `openat` the second points to the path,
    /// which is a FIFO when the opener waits for its peer. Readable for the
    /// caller's own processes, or with `CAP_SYS_PTRACE`.
    fn scan_syscalls(&mut self, pid: u32) {
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        for task in tasks.flatten() {
            let Ok(text) = fs::read_to_string(task.path().join("syscall")) else {
                continue;
            };
            let mut f = text.split_ascii_whitespace();
            let (Some(nr), Some(arg0)) = (f.next(), f.next()) else {
                continue; // "running"
            };
            let (Ok(nr), Some(id)) = (
                nr.parse::<i64>(),
                arg0.strip_prefix("0x")
                    .and_then(|h| u64::from_str_radix(h, 16).ok()),
            ) else {
                continue;
            };
            #[allow(clippy::unnecessary_cast)]
            if nr == libc::SYS_openat as i64 {
                // A FIFO opener waits in open(2) for its peer, holding no
                // descriptor yet: read the path it is opening.
                let mut rest = text.split_ascii_whitespace().skip(2);
                if let Some(path) = rest
                    .next()
                    .and_then(|p| p.strip_prefix("0x"))
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .and_then(|ptr| opening_path(pid, id, ptr))
                {
                    if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
                        self.fifos.entry(path).or_default().insert(pid);
                    }
                }
                continue;
            }
            #[allow(clippy::unnecessary_cast)]
            let table = if nr == libc::SYS_msgrcv as i64 || nr == libc::SYS_msgsnd as i64 {
                &mut self.blocked_msg
            } else if nr == libc::SYS_semop as i64 || nr == libc::SYS_semtimedop as i64 {
                &mut self.blocked_sem
            } else {
                continue;
            };
            table.entry(id & 0xffff_ffff).or_default().insert(pid);
        }
    }

    /// Pids that have `path` open or mapped.
    pub(crate) fn users_of_path(&self, path: &str) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        if let Some(p) = self.fd_paths.get(path) {
            out.extend(p);
        }
        if let Some(p) = self.mapped_paths.get(path) {
            out.extend(p);
        }
        out
    }
}

/// The path a thread of `pid` blocked in `openat(dirfd, ptr, …)` is opening:
/// the string at `ptr` in its memory (`/proc/PID/mem`, readable where
/// `/proc/PID/syscall` is), made absolute with its working directory or
/// `dirfd`'s path.
fn opening_path(pid: u32, dirfd: u64, ptr: u64) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mem = fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = mem.read_at(&mut buf, ptr).ok()?;
    let end = buf[..n].iter().position(|&b| b == 0)?;
    let path = String::from_utf8_lossy(&buf[..end]);
    if path.starts_with('/') {
        return Some(path.into_owned());
    }
    let base = if dirfd as i32 == libc::AT_FDCWD {
        fs::read_link(format!("/proc/{pid}/cwd")).ok()?
    } else {
        fs::read_link(format!("/proc/{pid}/fd/{}", dirfd as i32)).ok()?
    };
    Some(base.join(path.as_ref()).to_string_lossy().into_owned())
}

/// Paths that might be named FIFOs worth a `stat`: not kernel pseudo files.
fn is_candidate_fifo_path(target: &str) -> bool {
    !(target.ends_with(" (deleted)")
        || target.starts_with("/proc/")
        || target.starts_with("/sys/")
        || (target.starts_with("/dev/") && !target.starts_with("/dev/shm/")))
}

/// Seconds since the epoch at which the system booted (`btime` of `/proc/stat`).
fn boot_time() -> Option<u64> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Liveness of bare pids the kernel recorded, with a guard against pid reuse.
#[derive(Debug)]
pub(crate) struct PidCheck {
    boot: Option<u64>,
    hz: u64,
}

impl PidCheck {
    pub(crate) fn new() -> PidCheck {
        PidCheck {
            boot: boot_time(),
            hz: rustix::param::clock_ticks_per_second().max(1),
        }
    }

    /// Whether a process with `pid` runs now and had already started at
    /// `not_after` (seconds since the epoch) if given: a process that started
    /// later cannot be the one the kernel recorded, so its pid was reused.
    pub(crate) fn alive(&self, pid: u32, not_after: Option<u64>) -> bool {
        if pid == 0 {
            return false;
        }
        let Some(id) = crate::creator::ProcessId::of(pid) else {
            return false;
        };
        if !id.is_alive() {
            return false;
        }
        match (not_after, self.boot) {
            (Some(t), Some(boot)) if t > 0 => {
                // One second of slack: /proc times are rounded differently.
                boot + id.start_time / self.hz <= t + 1
            }
            _ => true,
        }
    }
}
