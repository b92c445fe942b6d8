//! The catalog: every measured mechanism and baseline, with its driver.

use serde::{Deserialize, Serialize};

use crate::link::Driver;
use crate::raw;
use crate::wired;

/// What an entry of the catalog is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An ipcx mechanism.
    Mechanism,
    /// A physical limit: cache-line ping-pong, futex ping-pong, memcpy.
    Limit,
    /// A raw libc loop doing the same system calls as an ipcx mechanism
    /// (hidden from the tables; shown as each mechanism's cost vs raw).
    Raw,
}

/// One entry of the catalog.
pub struct MechanismInfo {
    /// The id used with `--mechanisms` and in reports, e.g. `unix-dgram`.
    pub id: &'static str,
    /// A one-line description.
    pub label: &'static str,
    /// Mechanism, limit or raw baseline.
    pub role: Role,
    /// Whether data travels through shared memory (for the seed's conclusions).
    pub shared_memory: bool,
    /// Measured in the latency (ping-pong) scenario.
    pub latency: bool,
    /// Measured in the throughput (streaming) scenario.
    pub throughput: bool,
    /// The raw baseline of the same system calls, for ipcx mechanisms.
    pub raw: Option<&'static str>,
    pub(crate) driver: Option<&'static dyn Driver>,
}

impl std::fmt::Debug for MechanismInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MechanismInfo")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

const fn limit(
    id: &'static str,
    label: &'static str,
    latency: bool,
    driver: Option<&'static dyn Driver>,
) -> MechanismInfo {
    MechanismInfo {
        id,
        label,
        role: Role::Limit,
        shared_memory: true,
        latency,
        throughput: !latency,
        raw: None,
        driver,
    }
}

const fn raw(
    id: &'static str,
    label: &'static str,
    shm: bool,
    driver: &'static dyn Driver,
) -> MechanismInfo {
    MechanismInfo {
        id,
        label,
        role: Role::Raw,
        shared_memory: shm,
        latency: true,
        throughput: true,
        raw: None,
        driver: Some(driver),
    }
}

const fn mech(
    id: &'static str,
    label: &'static str,
    shm: bool,
    raw: Option<&'static str>,
    driver: &'static dyn Driver,
) -> MechanismInfo {
    MechanismInfo {
        id,
        label,
        role: Role::Mechanism,
        shared_memory: shm,
        latency: true,
        throughput: true,
        raw,
        driver: Some(driver),
    }
}

/// The ring configuration the typed channel is compared with (the channel's
/// default wait strategy).
pub const CHANNEL_RING: &str = "ring-adaptive";

/// Id of the cache-line ping-pong baseline (the latency limit).
pub const LIMIT_SPIN: &str = "limit-spin";
/// Id of the raw futex ping-pong baseline.
pub const LIMIT_FUTEX: &str = "limit-futex";
/// Id of the memcpy bandwidth baseline (the throughput limit).
pub const LIMIT_MEMCPY: &str = "limit-memcpy";

static CATALOG: &[MechanismInfo] = &[
    limit(
        LIMIT_SPIN,
        "cache-line ping-pong, busy-wait on one shared atomic (latency limit)",
        true,
        Some(&raw::Turn { futex: false }),
    ),
    limit(
        LIMIT_FUTEX,
        "raw futex ping-pong on one shared atomic",
        true,
        Some(&raw::Turn { futex: true }),
    ),
    limit(
        LIMIT_MEMCPY,
        "memcpy bandwidth in one process (throughput limit)",
        false,
        None,
    ),
    mech(
        "pipe",
        "anonymous pipes (ipcx::pipe)",
        false,
        Some("raw-pipe"),
        &wired::Pipe,
    ),
    mech(
        "fifo",
        "named pipes (ipcx::fifo)",
        false,
        Some("raw-fifo"),
        &wired::Fifo,
    ),
    mech(
        "sysvmq",
        "System V message queue (ipcx::mq::sysv)",
        false,
        Some("raw-sysvmq"),
        &wired::SysvMq,
    ),
    mech(
        "mq",
        "POSIX message queues (ipcx::mq::posix)",
        false,
        Some("raw-mq"),
        &wired::PosixMq,
    ),
    mech(
        "unix",
        "Unix stream socket (ipcx::socket::unix)",
        false,
        Some("raw-unix"),
        &wired::UnixStream,
    ),
    mech(
        "unix-dgram",
        "Unix datagram socket (ipcx::socket::unix)",
        false,
        Some("raw-unix-dgram"),
        &wired::UnixDatagram,
    ),
    mech(
        "unix-seqpacket",
        "Unix seqpacket socket (ipcx::socket::unix)",
        false,
        Some("raw-unix-seqpacket"),
        &wired::UnixSeqPacket,
    ),
    mech(
        "tcp",
        "TCP over loopback (ipcx::socket::tcp)",
        false,
        Some("raw-tcp"),
        &wired::Tcp,
    ),
    mech(
        "udp",
        "UDP over loopback (ipcx::socket::udp)",
        false,
        Some("raw-udp"),
        &wired::Udp,
    ),
    mech(
        "sysvshm",
        "System V shared memory + System V semaphores (ipcx::shm::sysv, ipcx::sem::sysv)",
        true,
        Some("raw-sysvshm"),
        &wired::SysvShm,
    ),
    mech(
        "posixshm",
        "POSIX shared memory + unnamed POSIX semaphores (ipcx::shm::posix, ipcx::sem::posix)",
        true,
        Some("raw-posixshm"),
        &wired::PosixShm,
    ),
    mech(
        "ring-spin",
        "ipcx ring, busy-wait (ipcx::ring, WaitStrategy::Spin)",
        true,
        None,
        &wired::RingDriver(ipcx::ring::WaitStrategy::Spin),
    ),
    mech(
        "ring-futex",
        "ipcx ring, futex wait (ipcx::ring, WaitStrategy::Futex)",
        true,
        None,
        &wired::RingDriver(ipcx::ring::WaitStrategy::Futex),
    ),
    mech(
        "ring-adaptive",
        "ipcx ring, spin then futex (ipcx::ring, WaitStrategy::Adaptive)",
        true,
        None,
        &wired::RingDriver(ipcx::ring::WaitStrategy::Adaptive),
    ),
    mech(
        "channel",
        "typed channel over the ring (ipcx::channel, adaptive wait)",
        true,
        None,
        &wired::Channel,
    ),
    raw("raw-pipe", "pipe2 + read/write", false, &raw::RawPipe),
    raw(
        "raw-fifo",
        "mkfifo + open + read/write",
        false,
        &raw::RawFifo,
    ),
    raw(
        "raw-sysvmq",
        "msgget + msgsnd/msgrcv",
        false,
        &raw::RawSysvMq,
    ),
    raw("raw-mq", "mq_open + mq_send/mq_receive", false, &raw::RawMq),
    raw(
        "raw-unix",
        "socketpair(SOCK_STREAM) + send/recv",
        false,
        &raw::RawUnix(raw::UnixKind::Stream),
    ),
    raw(
        "raw-unix-dgram",
        "socketpair(SOCK_DGRAM) + send/recv",
        false,
        &raw::RawUnix(raw::UnixKind::Dgram),
    ),
    raw(
        "raw-unix-seqpacket",
        "socketpair(SOCK_SEQPACKET) + send/recv",
        false,
        &raw::RawUnix(raw::UnixKind::SeqPacket),
    ),
    raw(
        "raw-tcp",
        "TCP loopback, TCP_NODELAY, send/recv",
        false,
        &raw::RawTcp,
    ),
    raw("raw-udp", "UDP loopback, send/recv", false, &raw::RawUdp),
    raw(
        "raw-sysvshm",
        "shmget/shmat + semop handshake",
        true,
        &raw::RawSysvShm,
    ),
    raw(
        "raw-posixshm",
        "shm_open/mmap + sem_wait/sem_post handshake",
        true,
        &raw::RawPosixShm,
    ),
];

/// Every mechanism and baseline, in report order.
pub fn catalog() -> &'static [MechanismInfo] {
    CATALOG
}

/// Looks an id up.
pub(crate) fn find(id: &str) -> Option<&'static MechanismInfo> {
    CATALOG.iter().find(|m| m.id == id)
}

/// Group names accepted by `--mechanisms`, with their members' id prefixes.
const GROUPS: &[(&str, &[&str])] = &[
    ("all", &[]),
    ("ring", &["ring-spin", "ring-futex", "ring-adaptive"]),
    (
        "sockets",
        &["unix", "unix-dgram", "unix-seqpacket", "tcp", "udp"],
    ),
    (
        "shm",
        &[
            "sysvshm",
            "posixshm",
            "ring-spin",
            "ring-futex",
            "ring-adaptive",
            "channel",
        ],
    ),
    ("queues", &["sysvmq", "mq"]),
    ("limits", &[]),
    ("raw", &[]),
];

/// Resolves `--mechanisms` words into catalog entries, in catalog order. An
/// empty list selects every mechanism. Limits are always included; the raw
/// baseline of each selected mechanism is included when `raw` is set.
pub(crate) fn select(
    words: &[String],
    with_raw: bool,
) -> anyhow::Result<Vec<&'static MechanismInfo>> {
    let mut wanted: Vec<&str> = Vec::new();
    let mut all_raw = false;
    for w in words {
        let w = w.trim();
        if w.is_empty() {
            anyhow::bail!("--mechanisms: an empty mechanism name (a stray comma or \"\")");
        }
        if let Some((_, members)) = GROUPS.iter().find(|(g, _)| *g == w) {
            match w {
                "all" => wanted.extend(
                    CATALOG
                        .iter()
                        .filter(|m| m.role == Role::Mechanism)
                        .map(|m| m.id),
                ),
                "raw" => all_raw = true,
                "limits" => {}
                _ => wanted.extend(members.iter().copied().filter(|id| find(id).is_some())),
            }
            continue;
        }
        match find(w) {
            Some(m) => wanted.push(m.id),
            None => {
                let ids: Vec<&str> = CATALOG
                    .iter()
                    .filter(|m| m.role != Role::Limit)
                    .map(|m| m.id)
                    .collect();
                anyhow::bail!(
                    "unknown mechanism {w:?}; expected one of {} or a group ({})",
                    ids.join(", "),
                    GROUPS.iter().map(|g| g.0).collect::<Vec<_>>().join(", ")
                );
            }
        }
    }
    if words.is_empty() {
        wanted.extend(
            CATALOG
                .iter()
                .filter(|m| m.role == Role::Mechanism)
                .map(|m| m.id),
        );
    }
    if all_raw {
        wanted.extend(CATALOG.iter().filter(|m| m.role == Role::Raw).map(|m| m.id));
    }
    if with_raw {
        let raws: Vec<&str> = wanted
            .iter()
            .filter_map(|id| find(id).and_then(|m| m.raw))
            .collect();
        wanted.extend(raws);
    }
    Ok(CATALOG
        .iter()
        .filter(|m| m.role == Role::Limit || wanted.contains(&m.id))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_raw_links_resolve() {
        for (i, m) in CATALOG.iter().enumerate() {
            assert!(
                CATALOG[..i].iter().all(|o| o.id != m.id),
                "duplicate {}",
                m.id
            );
            if let Some(r) = m.raw {
                assert_eq!(find(r).map(|x| x.role), Some(Role::Raw), "{}", m.id);
            }
            assert!(m.latency || m.throughput);
            assert!(m.driver.is_some() || m.id == LIMIT_MEMCPY);
        }
    }

    #[test]
    fn selection_always_has_the_limits() {
        let sel = select(&["raw-pipe".into()], false).unwrap();
        let ids: Vec<_> = sel.iter().map(|m| m.id).collect();
        assert!(
            ids.contains(&LIMIT_SPIN) && ids.contains(&LIMIT_FUTEX) && ids.contains(&LIMIT_MEMCPY)
        );
        assert!(ids.contains(&"raw-pipe"));
        assert!(!ids.contains(&"raw-fifo"));
    }

    #[test]
    fn unknown_mechanism_is_an_error_listing_the_choices() {
        let err = select(&["carrier-pigeon".into()], true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("carrier-pigeon") && err.contains("raw-pipe"),
            "{err}"
        );
    }

    #[test]
    fn empty_mechanism_name_is_an_error() {
        assert!(select(&["".into()], true).is_err());
        assert!(select(&["pipe".into(), " ".into()], true).is_err());
        assert!(select(&[], true).unwrap().iter().any(|m| m.id == "pipe"));
    }
}
