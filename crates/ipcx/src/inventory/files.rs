//! Objects that live as files: POSIX shared memory and named semaphores
//! (`/dev/shm`), POSIX message queues (`/dev/mqueue`), Unix sockets
//! (`/proc/net/unix` and socket files) and named FIFOs.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::procs::ProcScan;
use super::sysv::join;
use super::{Creator, Kind, Object, RingSummary, SocketInfo};

/// Where glibc keeps POSIX shared memory objects and named semaphores.
pub(crate) const SHM_DIR: &str = "/dev/shm";
/// Where the mqueue file system is conventionally mounted.
pub(crate) const MQUEUE_DIR: &str = "/dev/mqueue";

/// Birth time (statx) or, where the file system keeps none, change time,
/// in seconds since the epoch.
fn created(md: &fs::Metadata) -> Option<u64> {
    md.created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .or_else(|| u64::try_from(md.ctime()).ok())
}

/// Fills owner, mode, size, time and id from `md`.
fn fill(o: &mut Object, md: &fs::Metadata) {
    o.owner_uid = Some(md.uid());
    o.mode = Some(md.mode() & 0o7777);
    o.size = Some(md.size());
    o.created = created(md);
    o.id = Some(md.ino());
    o.birth = md.created().ok();
    o.file_ino = Some(md.ino());
}

/// Liveness of a file-backed object: its recorded creator, or a process
/// holding it open or mapped.
fn file_liveness(o: &mut Object, users: BTreeSet<u32>) {
    o.users = users.into_iter().collect();
    let creator_alive = o.creator.as_ref().is_some_and(|c| c.alive);
    if !o.users.is_empty() {
        o.set_liveness(true, format!("open or mapped by {}", join(&o.users)));
    } else if creator_alive {
        o.set_liveness(true, "creator running");
    } else if o.creator.is_some() {
        o.set_liveness(false, "creator dead and nobody has it open or mapped");
    } else {
        o.set_liveness(false, "no creator record and nobody has it open or mapped");
    }
}

/// A ring: its creator (from the header when no attribute was recorded),
/// its producer and consumer and whoever has it open or mapped.
fn ring_liveness(o: &mut Object, info: crate::ring::RingInfo, users: BTreeSet<u32>) {
    o.kind = Kind::Ring;
    if o.creator.is_none() {
        o.creator = info.creator.map(|id| Creator {
            pid: id.pid,
            start_time: Some(id.start_time),
            source: "ring",
            alive: id.is_alive(),
        });
    }
    let producer_alive = info.producer.is_some_and(|p| p.is_alive());
    let consumer_alive = info.consumer.is_some_and(|p| p.is_alive());
    o.ring = Some(RingSummary {
        capacity: info.capacity,
        version: info.version,
        producer: info.producer.map(|p| p.pid),
        producer_alive,
        consumer: info.consumer.map(|p| p.pid),
        consumer_alive,
    });
    let mut sides = Vec::new();
    if producer_alive {
        sides.push(format!("producer {}", info.producer.map_or(0, |p| p.pid)));
    }
    if consumer_alive {
        sides.push(format!("consumer {}", info.consumer.map_or(0, |p| p.pid)));
    }
    if sides.is_empty() {
        file_liveness(o, users);
    } else {
        o.users = users.into_iter().collect();
        o.set_liveness(true, format!("{} running", sides.join(" and ")));
    }
}

fn recorded_creator(path: &Path) -> Option<Creator> {
    crate::creator::read_creator(path).map(|id| Creator {
        pid: id.pid,
        start_time: Some(id.start_time),
        source: "xattr",
        alive: id.is_alive(),
    })
}

/// POSIX shared memory objects and named semaphores under `/dev/shm`.
pub(crate) fn list_dev_shm(scan: &ProcScan, out: &mut Vec<Object>, notes: &mut Vec<String>) {
    let entries = match fs::read_dir(SHM_DIR) {
        Ok(e) => e,
        Err(e) => {
            notes.push(format!(
                "{SHM_DIR}: {e}; POSIX shared memory and named semaphores not listed"
            ));
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(md) = entry.metadata() else { continue };
        if !md.file_type().is_file() {
            continue; // sockets and FIFOs in /dev/shm are found by the file scan
        }
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let (kind, name) = match file_name.strip_prefix("sem.") {
            Some(rest) => (Kind::Sem, format!("/{rest}")),
            None => (Kind::Shm, format!("/{file_name}")),
        };
        let mut o = Object::new(kind, name);
        fill(&mut o, &md);
        o.path = Some(path.clone());
        o.creator = recorded_creator(&path);
        let users = scan.users_of_path(&path.to_string_lossy());
        // An ipcx ring is a shm object whose header says so. Reading it
        // needs read permission; others' rings stay plain `shm` objects.
        let ring = match kind {
            Kind::Shm => crate::ring::inspect(&path).ok().flatten(),
            _ => None,
        };
        match ring {
            Some(info) => ring_liveness(&mut o, info, users),
            None => file_liveness(&mut o, users),
        }
        out.push(o);
    }
}

/// Whether the mqueue file system is mounted at `/dev/mqueue`.
pub(crate) fn mqueue_mounted() -> bool {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    text.lines().any(|l| {
        let f: Vec<&str> = l.split_ascii_whitespace().collect();
        f.len() > 4 && f[4] == MQUEUE_DIR && l.contains(" - mqueue ")
    })
}

/// POSIX message queues: from `/dev/mqueue` when mounted, else only those
/// some process has open.
pub(crate) fn list_mqueue(scan: &ProcScan, out: &mut Vec<Object>, notes: &mut Vec<String>) {
    let mut seen = HashSet::new();
    if mqueue_mounted() {
        match fs::read_dir(MQUEUE_DIR) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let Ok(md) = entry.metadata() else { continue };
                    let name = format!("/{}", entry.file_name().to_string_lossy());
                    let mut o = Object::new(Kind::Mq, name.clone());
                    fill(&mut o, &md);
                    // The mqueue file system keeps no birth time, and reading
                    // the file (below, and by every earlier listing) sets its
                    // change time to now; the modification time is the
                    // creation or the last mq_send/mq_receive.
                    o.created = u64::try_from(md.mtime()).ok();
                    // The file reads "QSIZE:N ...": bytes queued, which is
                    // more useful than the file's size.
                    if let Ok(text) = fs::read_to_string(entry.path()) {
                        if let Some(q) = text
                            .split_ascii_whitespace()
                            .find_map(|t| t.strip_prefix("QSIZE:"))
                            .and_then(|v| v.parse().ok())
                        {
                            o.size = Some(q);
                        }
                    }
                    o.path = Some(entry.path());
                    o.creator = recorded_creator(&entry.path());
                    let users = scan
                        .mq
                        .get(&name)
                        .map(|(_, p)| p.clone())
                        .unwrap_or_default();
                    file_liveness(&mut o, users);
                    seen.insert(name);
                    out.push(o);
                }
            }
            Err(e) => notes.push(format!("{MQUEUE_DIR}: {e}")),
        }
    } else {
        notes.push(format!(
            "{MQUEUE_DIR} is not mounted, so POSIX message queues that no process has open cannot be listed; mount it with: mkdir -p {MQUEUE_DIR} && mount -t mqueue none {MQUEUE_DIR}"
        ));
    }
    for (name, (fd, pids)) in &scan.mq {
        if seen.contains(name) {
            continue;
        }
        let mut o = Object::new(Kind::Mq, name.clone());
        o.owner_uid = Some(fd.uid);
        o.mode = Some(fd.mode);
        o.id = Some(fd.ino);
        file_liveness(&mut o, pids.clone());
        out.push(o);
    }
}

/// One line of `/proc/net/unix` with a name.
#[derive(Debug)]
struct UnixLine {
    inode: u64,
    listening: bool,
    socket_type: &'static str,
    state: &'static str,
    name: String,
}

/// Parses one record of `/proc/net/unix`
/// (`Num: RefCount Protocol Flags Type St Inode [Path]`, as the kernel
/// prints it with `%pK: %08X %08X %08X %04X %02X %5lu`, then a space and
/// the path, byte for byte). `None` when `line` is not such a record: the
/// header, or the continuation of a path that contains a newline.
fn unix_record(line: &str) -> Option<(UnixLine, bool)> {
    let mut rest = line;
    let mut f = [""; 6];
    for field in &mut f {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ')?;
        *field = &rest[..end];
        rest = &rest[end..];
    }
    let hex = |t: &str, len: Option<usize>| {
        !t.is_empty()
            && len.is_none_or(|l| t.len() == l)
            && t.bytes().all(|b| b.is_ascii_hexdigit())
    };
    let ok = f[0].strip_suffix(':').is_some_and(|a| hex(a, None))
        && f[1..4].iter().all(|t| hex(t, Some(8)))
        && hex(f[4], Some(4))
        && hex(f[5], Some(2));
    if !ok {
        return None;
    }
    rest = rest.trim_start_matches(' ');
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let inode = rest[..digits].parse().ok()?;
    rest = &rest[digits..];
    let named = !rest.is_empty();
    let name = if named {
        // Exactly one space separates the inode from the path, which may
        // itself contain (or start with) spaces.
        rest.strip_prefix(' ')?.to_owned()
    } else {
        String::new()
    };
    let flags = u32::from_str_radix(f[3], 16).unwrap_or(0);
    let socket_type = match u32::from_str_radix(f[4], 16).unwrap_or(0) {
        1 => "stream",
        2 => "dgram",
        5 => "seqpacket",
        _ => "other",
    };
    let listening = flags & 0x10000 != 0; // __SO_ACCEPTCON
    let state = match u32::from_str_radix(f[5], 16).unwrap_or(0) {
        _ if listening => "listening",
        1 => "unconnected",
        2 => "connecting",
        3 => "connected",
        4 => "disconnecting",
        _ => "unknown",
    };
    Some((
        UnixLine {
            inode,
            listening,
            socket_type,
            state,
            name,
        },
        named,
    ))
}

/// The named sockets of `/proc/net/unix`. Paths are bytes: those that are
/// not UTF-8 are decoded with U+FFFD (as file names are elsewhere, so they
/// still compare equal), and a line that is not a record continues the
/// previous record's path, which contained a newline.
fn unix_lines() -> std::io::Result<Vec<UnixLine>> {
    let bytes = fs::read("/proc/net/unix")?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out: Vec<UnixLine> = Vec::new();
    // Whether the last record read had a name (and so may continue).
    let mut last_named = false;
    // The file ends with a newline, which is not part of the last path.
    let text = text.strip_suffix('\n').unwrap_or(&text);
    for line in text.split('\n').skip(1) {
        match unix_record(line) {
            Some((record, named)) => {
                last_named = named;
                if named {
                    out.push(record);
                }
            }
            None if last_named => {
                if let Some(last) = out.last_mut() {
                    last.name.push('\n');
                    last.name.push_str(line);
                }
            }
            None => {}
        }
    }
    Ok(out)
}

/// Named Unix sockets (one object per name, listening socket first), then
/// socket files and FIFOs found under `scan_dirs` or held open.
pub(crate) fn list_unix_and_fifos(
    scan: &ProcScan,
    scan_dirs: &[PathBuf],
    out: &mut Vec<Object>,
    notes: &mut Vec<String>,
) {
    let mut bound: BTreeMap<String, Vec<UnixLine>> = BTreeMap::new();
    let mut unix_unreadable = false;
    match unix_lines() {
        Ok(lines) => {
            for l in lines {
                bound.entry(l.name.clone()).or_default().push(l);
            }
        }
        Err(e) => {
            unix_unreadable = true;
            notes.push(format!(
                "/proc/net/unix: {e}; bound Unix sockets not listed, and no socket file can be called stale"
            ));
        }
    }
    // Absolute files of sockets bound by relative paths, and relative
    // paths whose file could not be found.
    let mut bound_files: BTreeSet<PathBuf> = BTreeSet::new();
    let mut unresolved: Vec<String> = Vec::new();
    for (name, mut socks) in bound
        .iter_mut()
        .map(|(n, s)| (n.clone(), std::mem::take(s)))
    {
        socks.sort_by_key(|s| !s.listening);
        let first = &socks[0];
        let mut o = Object::new(Kind::Unix, name.clone());
        o.id = Some(first.inode);
        let mut users = BTreeSet::new();
        for s in &socks {
            if let Some(p) = scan.sockets.get(&s.inode) {
                users.extend(p);
            }
        }
        o.users = users.into_iter().collect();
        // A path bound relative to the binder's directory is shown as given;
        // look for its file from the holders' working directories, never
        // from ours.
        let file = if name.starts_with('@') {
            None
        } else if name.starts_with('/') {
            Some(PathBuf::from(&name))
        } else {
            let found = o.users.iter().find_map(|pid| {
                let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
                let p = cwd.join(&name);
                let md = fs::symlink_metadata(&p).ok()?;
                md.file_type().is_socket().then_some(p)
            });
            match &found {
                Some(p) => {
                    bound_files.insert(p.clone());
                }
                None => unresolved.push(name.clone()),
            }
            found
        };
        if let Some(file) = file {
            o.path = Some(file.clone());
            if let Ok(md) = fs::symlink_metadata(&file) {
                o.owner_uid = Some(md.uid());
                o.mode = Some(md.mode() & 0o7777);
                o.created = created(&md);
                if md.file_type().is_socket() {
                    o.birth = md.created().ok();
                    o.file_ino = Some(md.ino());
                }
            }
        }
        o.socket = Some(SocketInfo {
            socket_type: first.socket_type,
            state: first.state,
            sockets: socks.len() as u64,
            bound: true,
        });
        let who = if o.users.is_empty() {
            "by a process this user cannot inspect".to_owned()
        } else {
            format!("by {}", join(&o.users))
        };
        o.set_liveness(true, format!("socket bound in the kernel, held {who}"));
        out.push(o);
    }

    // Files: socket files without a bound socket are left-overs; FIFOs.
    let mut files: BTreeMap<PathBuf, fs::Metadata> = BTreeMap::new();
    for dir in scan_dirs {
        walk(dir, 0, &mut files);
    }
    for path in scan.fifos.keys() {
        if let Ok(md) = fs::symlink_metadata(path) {
            if md.file_type().is_fifo() {
                files.insert(PathBuf::from(path), md);
            }
        }
    }
    for (path, md) in files {
        let text = path.to_string_lossy().into_owned();
        if md.file_type().is_socket() {
            if bound.contains_key(&text) || bound_files.contains(&path) {
                continue;
            }
            let mut o = Object::new(Kind::Unix, text);
            fill(&mut o, &md);
            o.size = None;
            o.socket = Some(SocketInfo {
                socket_type: "unknown",
                state: "unbound",
                sockets: 0,
                bound: false,
            });
            match unresolved.iter().find(|rel| path.ends_with(rel.as_str())) {
                _ if unix_unreadable => o.set_liveness(
                    true,
                    "cannot tell whether a socket is bound to it (/proc/net/unix unreadable)",
                ),
                Some(rel) => o.set_liveness(
                    true,
                    format!("a socket is bound by the relative path {rel}, which may be this file"),
                ),
                None => o.set_liveness(
                    false,
                    "socket file with no socket bound to it (left behind)",
                ),
            }
            o.path = Some(path);
            out.push(o);
        } else if md.file_type().is_fifo() {
            let mut o = Object::new(Kind::Fifo, text.clone());
            fill(&mut o, &md);
            o.size = None;
            o.path = Some(path);
            let users = scan.fifos.get(&text).cloned().unwrap_or_default();
            file_liveness(&mut o, users);
            out.push(o);
        }
    }
}

/// Collects socket files and FIFOs under `dir`, at most 4 levels deep,
/// never following symbolic links or leaving the file system.
fn walk(dir: &Path, depth: usize, out: &mut BTreeMap<PathBuf, fs::Metadata>) {
    const MAX_DEPTH: usize = 4;
    const MAX_FILES: usize = 200_000;
    let Ok(top) = fs::symlink_metadata(dir) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten().take(MAX_FILES) {
        let Ok(md) = entry.metadata() else { continue };
        let ft = md.file_type();
        if ft.is_socket() || ft.is_fifo() {
            out.insert(entry.path(), md);
        } else if ft.is_dir() && depth + 1 < MAX_DEPTH && md.dev() == top.dev() {
            walk(&entry.path(), depth + 1, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unix_record;

    #[test]
    fn unix_records_keep_spaces_in_paths_and_reject_continuations() {
        let (r, named) =
            unix_record("0000000000000000: 00000002 00000000 00010000 0001 01   123 /tmp/a  b ")
                .unwrap();
        assert!(named && r.listening);
        assert_eq!((r.inode, r.name.as_str()), (123, "/tmp/a  b "));
        let (r, named) =
            unix_record("0000000000000000: 00000003 00000000 00000000 0001 03 98765").unwrap();
        assert!(!named);
        assert_eq!((r.inode, r.state), (98765, "connected"));
        assert!(unix_record("Num       RefCount Protocol Flags    Type St Inode Path").is_none());
        assert!(unix_record("x 1 2 3 4 5 6 7").is_none());
        assert!(unix_record("").is_none());
    }
}
