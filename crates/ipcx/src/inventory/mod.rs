//! An inventory of the IPC objects on this machine: what `ipcx ls` lists and
//! `ipcx rm` removes.
//!
//! [`list`] gathers, in one pass, every object visible to the calling user:
//!
//! | kind | source |
//! |---|---|
//! | `sysvmq`, `sysvshm`, `sysvsem` | `/proc/sysvipc/{msg,shm,sem}` (all objects of the IPC namespace) |
//! | `shm`, `sem` | files under `/dev/shm` (`sem.NAME` files are named semaphores) |
//! | `ring` | `/dev/shm` files whose header is an ipcx ring's ([`crate::ring::inspect`]): capacity, producer and consumer pids |
//! | `mq` | `/dev/mqueue` when the mqueue file system is mounted there; otherwise only queues some process has open (found through `/proc/*/fd`) |
//! | `unix` | named sockets of `/proc/net/unix` (file system paths and `@abstract` names), plus socket files left behind without a bound socket under the scanned directories |
//! | `fifo` | named FIFOs under the scanned directories (default `/tmp`, `/var/tmp`, `/run`, `/dev/shm`, 4 levels deep) and FIFOs any process has open, wherever they are; anonymous pipes are not objects and are not listed |
//!
//! # Liveness
//!
//! An object is *stale* when its creator is dead (or unknown) and nobody has
//! it attached, open or mapped:
//! - objects ipcx creates record their creator as pid plus process start time
//!   in the `user.ipcx.creator` extended attribute ([`crate::creator`]), so a
//!   reused pid is not mistaken for the creator;
//! - System V segments: the kernel's creator pid (`cpid`, checked against the
//!   segment's change time so a reused pid does not count) and attach count
//!   (`nattch`); queues: the kernel keeps no creator, so the last `msgsnd` and
//!   `msgrcv` pids (`lspid`, `lrpid`) must all be dead; semaphore sets: the
//!   pids of the last `semop` on each semaphore (`semctl(GETPID)`) must all be
//!   dead; for both, a thread blocked in `msgsnd`/`msgrcv`/`semop` on the
//!   object now (`/proc/PID/task/TID/syscall`) is a user;
//! - FIFOs: besides open descriptors, a thread blocked in `openat` of the
//!   FIFO, waiting for its peer (the path read from `/proc/PID/mem`), is a
//!   user;
//! - file-backed objects: open descriptors in `/proc/*/fd` and shared
//!   mappings in `/proc/*/maps`, where this user may read them (a note in
//!   [`Inventory::notes`] says how many processes could not be inspected);
//! - rings: the producer and consumer recorded in the ring header (pid plus
//!   start time), besides the creator and the processes mapping it;
//! - bound Unix sockets exist only while a process holds them, so they are
//!   always alive; a socket file with no socket bound to it is stale. A
//!   socket bound by a relative path (as `/proc/net/unix` then shows it) is
//!   looked for from its holders' working directories (`/proc/PID/cwd`);
//!   where none is found, socket files ending in that relative path count as
//!   alive rather than left behind.
//!
//! # References
//! [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html),
//! [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//! [sem_overview(7)](https://man7.org/linux/man-pages/man7/sem_overview.7.html),
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html),
//! [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//! [proc_pid_fd(5)](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html),
//! [proc_pid_maps(5)](https://man7.org/linux/man-pages/man5/proc_pid_maps.5.html)

mod files;
mod procs;
mod remove;
mod sysv;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::sys::inventory::SysvTable;

pub use remove::{find, remove, Target, ACCEPTED_FORMS};

/// Version of the JSON document `ipcx ls --json` prints (the fields of
/// [`Object`]); raised only when a field changes meaning or disappears, not
/// when one is added.
pub const SCHEMA_VERSION: u32 = 1;

/// The kinds of IPC object the inventory knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// System V message queue.
    SysvMq,
    /// System V shared memory segment.
    SysvShm,
    /// System V semaphore set.
    SysvSem,
    /// POSIX shared memory object (`/dev/shm/NAME`).
    Shm,
    /// POSIX named semaphore (`/dev/shm/sem.NAME`).
    Sem,
    /// POSIX message queue.
    Mq,
    /// Unix domain socket (path or abstract name) or a socket file left behind.
    Unix,
    /// Named pipe.
    Fifo,
    /// ipcx ring in POSIX shared memory.
    Ring,
}

impl Kind {
    /// Every kind, in listing order.
    pub const ALL: [Kind; 9] = [
        Kind::SysvMq,
        Kind::SysvShm,
        Kind::SysvSem,
        Kind::Shm,
        Kind::Ring,
        Kind::Sem,
        Kind::Mq,
        Kind::Unix,
        Kind::Fifo,
    ];

    /// The word used on the command line and in JSON (`sysvmq`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SysvMq => "sysvmq",
            Kind::SysvShm => "sysvshm",
            Kind::SysvSem => "sysvsem",
            Kind::Shm => "shm",
            Kind::Sem => "sem",
            Kind::Mq => "mq",
            Kind::Unix => "unix",
            Kind::Fifo => "fifo",
            Kind::Ring => "ring",
        }
    }

    /// What it is, in words (`System V message queue`).
    pub fn describe(self) -> &'static str {
        match self {
            Kind::SysvMq => "System V message queue",
            Kind::SysvShm => "System V shared memory segment",
            Kind::SysvSem => "System V semaphore set",
            Kind::Shm => "POSIX shared memory object",
            Kind::Sem => "POSIX named semaphore",
            Kind::Mq => "POSIX message queue",
            Kind::Unix => "Unix socket",
            Kind::Fifo => "FIFO",
            Kind::Ring => "ipcx ring",
        }
    }

    fn sysv_table(self) -> Option<SysvTable> {
        match self {
            Kind::SysvMq => Some(SysvTable::Msg),
            Kind::SysvShm => Some(SysvTable::Shm),
            Kind::SysvSem => Some(SysvTable::Sem),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;

    /// Parses `sysvmq`, `sysvshm`, `sysvsem`, `shm`, `sem`, `mq`, `unix`,
    /// `fifo` or `ring`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] listing the accepted words.
    fn from_str(s: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::InvalidArgument {
                object: format!("kind {s:?}"),
                reason: "expected one of sysvmq, sysvshm, sysvsem, shm, ring, sem, mq, unix, fifo"
                    .into(),
            })
    }
}

/// The recorded or kernel-reported creator of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Creator {
    /// Its pid.
    pub pid: u32,
    /// Its start time in clock ticks after boot, when recorded (ipcx objects);
    /// `None` for a bare pid reported by the kernel.
    pub start_time: Option<u64>,
    /// `xattr` (the `user.ipcx.creator` attribute), `kernel` (System V
    /// `cpid`) or `ring` (the ring header).
    pub source: &'static str,
    /// Whether that process still runs (same pid and start time, or, for a
    /// kernel pid, a process that already ran when the object was made).
    pub alive: bool,
}

/// A pid the kernel recorded for the last operation on a System V object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastPid {
    /// The pid.
    pub pid: u32,
    /// The operation: `msgsnd`, `msgrcv`, `shmat/shmdt`, `semop`.
    pub role: &'static str,
    /// Whether a process with that pid runs and had started by the time of
    /// the operation.
    pub alive: bool,
}

/// Unix socket details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketInfo {
    /// `stream`, `dgram`, `seqpacket`; `unknown` for a socket file with no
    /// socket bound.
    #[serde(rename = "type")]
    pub socket_type: &'static str,
    /// `listening`, `unconnected`, `connecting`, `connected`,
    /// `disconnecting`; `unbound` for a socket file left behind.
    pub state: &'static str,
    /// Kernel sockets that carry this name (a listener and its accepted
    /// connections).
    pub sockets: u64,
    /// Whether a socket is bound to the name now.
    pub bound: bool,
}

/// ipcx ring details read from the ring's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RingSummary {
    /// Data capacity in bytes.
    pub capacity: u64,
    /// Layout version of the header.
    pub version: u32,
    /// The producer attached now, if any.
    pub producer: Option<u32>,
    /// Whether the producer still runs.
    pub producer_alive: bool,
    /// The consumer attached now, if any.
    pub consumer: Option<u32>,
    /// Whether the consumer still runs.
    pub consumer_alive: bool,
}

/// One IPC object: a row of `ipcx ls`, an element of `ipcx ls --json`.
///
/// Field names and meanings are the stable JSON schema version
/// [`SCHEMA_VERSION`], described in `docs/ls-json-schema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Object {
    /// What it is.
    pub kind: Kind,
    /// How it is named: the System V key as `0x%08x` (`IPC_PRIVATE` for key
    /// 0), the POSIX name with its slash (`/name`), the socket path or
    /// `@abstract` name, the FIFO path. Bytes of a file name that are not
    /// UTF-8 are replaced by U+FFFD, so two files can share a name; removal
    /// goes by [`Object::path`]. [`Object::describe`] and [`Object::spec`]
    /// escape control characters; this field keeps them.
    pub name: String,
    /// System V objects: the key as `0x%08x`; `None` otherwise.
    pub key: Option<String>,
    /// The kernel's number for it: the System V id, the socket's inode, the
    /// file's inode.
    pub id: Option<u64>,
    /// The file that represents it, if any (`/dev/shm/NAME`,
    /// `/dev/mqueue/NAME`, a socket or FIFO path). In JSON, bytes that are
    /// not UTF-8 are replaced by U+FFFD, as in [`Object::name`].
    #[serde(serialize_with = "lossy_path")]
    pub path: Option<PathBuf>,
    /// Owner uid.
    pub owner_uid: Option<u32>,
    /// Owner user name, from `/etc/passwd`.
    pub owner: Option<String>,
    /// Permission bits (`0o600`); printed in JSON as a number and in the
    /// table as octal.
    pub mode: Option<u32>,
    /// Bytes: segment or file size, bytes queued in a message queue.
    pub size: Option<u64>,
    /// Messages queued (`sysvmq`) or semaphores in the set (`sysvsem`).
    pub count: Option<u64>,
    /// System V segments: the kernel's attach count (`nattch`).
    pub attached: Option<u64>,
    /// Pids seen holding it open, attached or mapped, or blocked in
    /// `msgsnd`/`msgrcv`/`semop` on it (System V) or in `open` of it (FIFOs),
    /// as far as this user may look.
    pub users: Vec<u32>,
    /// Its creator, when recorded.
    pub creator: Option<Creator>,
    /// Pids of the last operations (System V).
    pub last_pids: Vec<LastPid>,
    /// Whether someone still uses it: `!stale`.
    pub alive: bool,
    /// The creator is dead or unknown and nobody has it attached, open or
    /// mapped: what `ls --stale` shows and `rm --stale` removes.
    pub stale: bool,
    /// Why it is alive or stale, in words.
    pub reason: String,
    /// When it was made (System V: last change time; files: birth time, or
    /// change time where the file system keeps no birth time; POSIX queues:
    /// modification time, the creation or last send or receive, as reading
    /// `/dev/mqueue/NAME` resets the change time), seconds since the epoch.
    pub created: Option<u64>,
    /// Seconds since [`Object::created`].
    pub age_seconds: Option<u64>,
    /// Unix socket details.
    pub socket: Option<SocketInfo>,
    /// ipcx ring details.
    pub ring: Option<RingSummary>,
    /// The listed file's birth time (statx), to recognise it again before
    /// removal: inode numbers are reused at once on tmpfs.
    #[serde(skip)]
    birth: Option<std::time::SystemTime>,
    /// The listed file's inode ([`Object::id`] is the socket's inode for a
    /// bound Unix socket), to recognise it again before removal.
    #[serde(skip)]
    file_ino: Option<u64>,
}

/// Serializes a path as a string, replacing bytes that are not UTF-8 (serde
/// refuses such a path, which would fail the whole document).
fn lossy_path<S: serde::Serializer>(
    path: &Option<PathBuf>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match path {
        Some(p) => s.serialize_some(&p.to_string_lossy()),
        None => s.serialize_none(),
    }
}

/// `text` with control characters (newline, escape, …) written as Rust
/// escapes (`\n`, `\u{1b}`), so a name cannot break a line of output or
/// send commands to the terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

impl Object {
    fn new(kind: Kind, name: String) -> Object {
        Object {
            kind,
            name,
            key: None,
            id: None,
            path: None,
            owner_uid: None,
            owner: None,
            mode: None,
            size: None,
            count: None,
            attached: None,
            users: Vec::new(),
            creator: None,
            last_pids: Vec::new(),
            alive: false,
            stale: true,
            reason: String::new(),
            created: None,
            age_seconds: None,
            socket: None,
            ring: None,
            birth: None,
            file_ino: None,
        }
    }

    fn set_liveness(&mut self, alive: bool, reason: impl Into<String>) {
        self.alive = alive;
        self.stale = !alive;
        self.reason = reason.into();
    }

    /// How `ipcx rm` names it: `sysvmq:0x4100c04d`, `sysvshm:id=32769` (for
    /// `IPC_PRIVATE`), `shm:/name`, `unix:/path`, `unix:@name`.
    pub fn spec(&self) -> String {
        match self.kind {
            Kind::SysvMq | Kind::SysvShm | Kind::SysvSem => match (self.key.as_deref(), self.id) {
                (Some("0x00000000"), Some(id)) | (None, Some(id)) => {
                    format!("{}:id={id}", self.kind)
                }
                _ => format!("{}:{}", self.kind, printable(&self.name)),
            },
            _ => format!("{}:{}", self.kind, printable(&self.name)),
        }
    }

    /// The object as a person names it: `System V message queue 0x4100c04d`.
    pub fn describe(&self) -> String {
        match (self.kind.sysv_table(), self.id) {
            (Some(_), Some(id)) => format!("{} {} (id {id})", self.kind.describe(), self.name),
            _ => format!("{} {}", self.kind.describe(), printable(&self.name)),
        }
    }
}

/// What [`list_with`] looks at.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directories searched (4 levels deep, one file system, no symbolic
    /// links followed) for socket files and FIFOs.
    pub scan_dirs: Vec<PathBuf>,
}

impl Default for Options {
    /// `/tmp`, `/var/tmp`, `/run` and `/dev/shm`, plus `$TMPDIR` when set.
    fn default() -> Options {
        let mut scan_dirs: Vec<PathBuf> = ["/tmp", "/var/tmp", "/run", "/dev/shm"]
            .into_iter()
            .map(PathBuf::from)
            .collect();
        if let Some(t) = std::env::var_os("TMPDIR").map(PathBuf::from) {
            if t.is_absolute() && !scan_dirs.contains(&t) {
                scan_dirs.push(t);
            }
        }
        Options { scan_dirs }
    }
}

/// Every IPC object found, with notes on what could not be seen.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The objects, sorted by kind and name.
    pub objects: Vec<Object>,
    /// What could not be listed or inspected, and why (for example
    /// `/dev/mqueue is not mounted …`).
    pub notes: Vec<String>,
}

/// Lists every IPC object visible to the calling user, with the default
/// [`Options`]. See the [module documentation](self) for sources and the
/// liveness rules.
///
/// Never fails: what cannot be read is reported in [`Inventory::notes`].
pub fn list() -> Inventory {
    list_with(&Options::default())
}

/// As [`list`], with explicit options.
pub fn list_with(opts: &Options) -> Inventory {
    let scan = procs::ProcScan::run();
    let pids = procs::PidCheck::new();
    let mut objects = Vec::new();
    let mut notes = Vec::new();
    for table in [SysvTable::Msg, SysvTable::Shm, SysvTable::Sem] {
        sysv::list(table, &scan, &pids, &mut objects, &mut notes);
    }
    files::list_dev_shm(&scan, &mut objects, &mut notes);
    files::list_mqueue(&scan, &mut objects, &mut notes);
    files::list_unix_and_fifos(&scan, &opts.scan_dirs, &mut objects, &mut notes);
    if scan.unreadable > 0 {
        notes.push(format!(
            "{} processes could not be inspected (their /proc/PID/fd or maps are not readable by this user); objects only they use may show as stale",
            scan.unreadable
        ));
    }
    let names = users::Names::load();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for o in &mut objects {
        o.owner = o.owner_uid.map(|u| names.name(u));
        o.age_seconds = o.created.map(|c| now.saturating_sub(c));
    }
    objects.sort_by(|a, b| {
        let rank = |k: Kind| Kind::ALL.iter().position(|&x| x == k);
        (rank(a.kind), &a.name, a.id).cmp(&(rank(b.kind), &b.name, b.id))
    });
    Inventory { objects, notes }
}

/// Which objects to keep: `ipcx ls`'s and `ipcx rm --stale`'s filters.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these kinds (all when empty).
    pub kinds: Vec<Kind>,
    /// Only objects owned by this uid.
    pub owner_uid: Option<u32>,
    /// Only objects whose name, key, path or id contains this text.
    pub pattern: Option<String>,
    /// Only stale objects.
    pub stale_only: bool,
}

impl Filter {
    /// Whether `o` passes.
    pub fn matches(&self, o: &Object) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&o.kind) {
            return false;
        }
        if self.owner_uid.is_some() && o.owner_uid != self.owner_uid {
            return false;
        }
        if self.stale_only && !o.stale {
            return false;
        }
        if let Some(p) = &self.pattern {
            let id = o.id.map(|i| i.to_string());
            let path = o.path.as_ref().map(|p| p.to_string_lossy().into_owned());
            let hit = o.name.contains(p.as_str())
                || o.key.as_deref().is_some_and(|k| k.contains(p.as_str()))
                || id.as_deref() == Some(p.as_str())
                || path.as_deref().is_some_and(|x| x.contains(p.as_str()));
            if !hit {
                return false;
            }
        }
        true
    }
}

impl Inventory {
    /// The objects that pass `filter`.
    pub fn filtered(&self, filter: &Filter) -> Vec<&Object> {
        self.objects.iter().filter(|o| filter.matches(o)).collect()
    }
}

/// Resolves a user name or a numeric uid, as `--owner` takes it.
///
/// # Errors
/// [`Error::NotFound`] when neither a number nor a user of `/etc/passwd`.
pub fn parse_owner(owner: &str) -> Result<u32> {
    if let Ok(uid) = owner.parse() {
        return Ok(uid);
    }
    users::Names::load()
        .uid(owner)
        .ok_or_else(|| Error::NotFound {
            object: format!("user {owner:?}"),
            syscall: "getpwnam",
        })
}

mod users {
    //! uid ↔ user name from `/etc/passwd`.

    use std::collections::HashMap;

    pub(super) struct Names(HashMap<u32, String>);

    impl Names {
        pub(super) fn load() -> Names {
            let text = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            let map = text
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let uid = f.nth(1)?.parse().ok()?;
                    Some((uid, name.to_owned()))
                })
                .collect();
            Names(map)
        }

        pub(super) fn name(&self, uid: u32) -> String {
            self.0.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
        }

        pub(super) fn uid(&self, name: &str) -> Option<u32> {
            self.0.iter().find(|(_, n)| *n == name).map(|(u, _)| *u)
        }
    }
}
