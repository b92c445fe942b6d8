//! The shared-memory ring across processes: header validation on open, a
//! hostile peer, kill -9 of the producer, `inspect`, and a property test of
//! the header/record validator.
//!
//! Second processes are this test binary started again with
//! `IPCX_RING_CHILD=ROLE:ARGS…` running only [`child_process_entry_point`].

use std::os::unix::fs::FileExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipcx::ring::{self, Ring, WaitStrategy, HEADER_SIZE};
use ipcx::Error;

use crate::util::unique;

/// Removes a /dev/shm name on drop, also when a test fails.
struct ShmGuard(String);

impl Drop for ShmGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm{}", self.0));
    }
}

fn shm_name(prefix: &str) -> (String, ShmGuard) {
    let name = format!("/{}", unique(prefix));
    (name.clone(), ShmGuard(name))
}

/// Kills a child on drop, so that no test leaves one running.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(role: &str) -> ChildGuard {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args([
            "--exact",
            "ring::child_process_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("IPCX_RING_CHILD", role)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    ChildGuard(child)
}

fn run_child(role: &str) {
    let mut g = spawn_child(role);
    let status = g.0.wait().unwrap();
    assert!(status.success(), "child {role} failed: {status}");
}

/// Not a test of its own: the body of the second process in the tests
/// below. Does nothing unless started by them with `IPCX_RING_CHILD`.
#[test]
fn child_process_entry_point() {
    let Ok(role) = std::env::var("IPCX_RING_CHILD") else {
        return;
    };
    let parts: Vec<&str> = role.split(':').collect();
    match parts[0] {
        // Writes little-endian u64 values at byte offsets of the segment file,
        // as a hostile process would: hostile:NAME:OFFSET=VALUE,…
        "hostile" => {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(format!("/dev/shm{}", parts[1]))
                .unwrap();
            for pair in parts[2].split(',') {
                let (off, val) = pair.split_once('=').unwrap();
                let off: u64 = off.parse().unwrap();
                let val: u64 = val.parse().unwrap();
                file.write_all_at(&val.to_le_bytes(), off).unwrap();
            }
        }
        // Garbage over the whole header after line 0: garbage:NAME:SEED
        "garbage" => {
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(parts[2].parse().unwrap());
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/dev/shm{}", parts[1]))
                .unwrap();
            let mut bytes = vec![0u8; HEADER_SIZE - 128];
            rng.fill(&mut bytes[..]);
            // Leave the claims alone so the parent's consumer keeps its slot.
            bytes[0..256].fill(0);
            file.write_all_at(&bytes, 128).unwrap();
        }
        // Sends COUNT sequence-numbered, checksummed records: producer:NAME:COUNT:WAIT
        "producer" => {
            let wait: WaitStrategy = parts[3].parse().unwrap();
            let ring = Ring::builder(parts[1]).wait(wait).open().unwrap();
            let mut tx = ring.producer().unwrap();
            let count: u64 = parts[2].parse().unwrap();
            for seq in 0..count {
                let mut g = tx.reserve(record_len(seq)).unwrap();
                fill_record(seq, &mut g);
                g.commit();
            }
        }
        // Holds the consumer side and blocks forever: consumer:NAME
        "consumer" => {
            let ring = Ring::builder(parts[1]).open().unwrap();
            let _rx = ring.consumer().unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        other => panic!("unknown child role {other}"),
    }
    std::process::exit(0);
}

fn record_len(seq: u64) -> usize {
    16 + (seq % 7) as usize * 8
}

fn checksum(seq: u64) -> u64 {
    seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5_5A5A_A5A5_5A5A
}

fn fill_record(seq: u64, buf: &mut [u8]) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    let sum = checksum(seq).to_le_bytes();
    for (i, b) in buf[8..].iter_mut().enumerate() {
        *b = sum[i % 8];
    }
}

fn check_record(seq: u64, buf: &[u8]) {
    assert_eq!(buf.len(), record_len(seq), "length of record {seq}");
    let mut want = vec![0u8; buf.len()];
    fill_record(seq, &mut want);
    assert_eq!(buf, &want[..], "content of record {seq}");
}

// Byte offsets in the header (see ring/layout.rs).
const OFF_TAIL: u64 = 384;

fn corrupted<T: std::fmt::Debug>(r: ipcx::Result<T>) -> bool {
    matches!(r, Err(Error::Corrupted { .. }))
}

#[test]
fn hostile_process_writes_are_reported_as_corrupted_and_the_consumer_survives() {
    let (name, _guard) = shm_name("ipcx-ring-hostile");
    let ring = Ring::builder(&name).capacity(4096).create().unwrap();
    let mut rx = ring.consumer().unwrap();
    let mut buf = Vec::new();
    let data = HEADER_SIZE as u64;
    let attacks: Vec<(&str, String)> = vec![
        ("tail near u64::MAX", format!("{OFF_TAIL}={}", u64::MAX - 7)),
        ("tail out of range", format!("{OFF_TAIL}={}", 4096 + 8)),
        ("tail not 8-aligned", format!("{OFF_TAIL}=3")),
        (
            "record length 2^31",
            format!(
                "{data}={},{OFF_TAIL}=16",
                (0x4441_5441u64 << 32) | (1 << 31)
            ),
        ),
        (
            "record longer than what was committed",
            format!("{data}={},{OFF_TAIL}=16", (0x4441_5441u64 << 32) | 100),
        ),
        (
            "unknown record kind",
            format!("{data}={},{OFF_TAIL}=16", 0xdead_beef_0000_0008u64),
        ),
        (
            "padding at offset 0",
            format!("{data}={},{OFF_TAIL}=16", (0x5041_4444u64 << 32) | 4088),
        ),
        (
            "garbage record word",
            format!("{data}={},{OFF_TAIL}=8", u64::MAX),
        ),
    ];
    for (what, writes) in &attacks {
        run_child(&format!("hostile:{name}:{writes}"));
        let started = Instant::now();
        assert!(corrupted(rx.try_recv(&mut buf)), "{what}: try_recv");
        assert!(
            corrupted(rx.recv_timeout(&mut buf, Duration::from_secs(5))),
            "{what}: recv_timeout"
        );
        assert!(corrupted(rx.try_recv_borrowed()), "{what}: borrowed");
        assert!(started.elapsed() < Duration::from_secs(60), "watchdog");
    }
    for seed in 0..8u64 {
        run_child(&format!("garbage:{name}:{seed}"));
        // Garbage may happen to read as empty; anything else must be Corrupted.
        match rx.try_recv(&mut buf) {
            Err(Error::Corrupted { .. }) | Err(Error::Empty { .. }) => {}
            other => panic!("garbage seed {seed}: {other:?}"),
        }
    }
    // Undo the damage (head = tail = 0, wait words and claims of line 5/6
    // zero): the same consumer works again.
    run_child(&format!("hostile:{name}:{OFF_TAIL}=0,512=0,640=0,768=0"));
    let mut tx = ring.producer().unwrap();
    tx.send(b"still alive").unwrap();
    rx.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap();
    assert_eq!(buf, b"still alive");
}

#[test]
fn hostile_consumer_index_is_reported_to_the_producer() {
    let (name, _guard) = shm_name("ipcx-ring-hostile-head");
    let ring = Ring::builder(&name).capacity(64).create().unwrap();
    let mut tx = ring.producer().unwrap();
    // Fill the ring so the producer must re-read head.
    tx.send(&[1; 24]).unwrap();
    tx.send(&[2; 24]).unwrap();
    run_child(&format!("hostile:{name}:512={}", u64::MAX - 15));
    assert!(corrupted(tx.try_send(&[3; 24])));
    assert!(corrupted(tx.send_timeout(&[3; 24], Duration::from_secs(5))));
}

#[test]
fn open_validates_magic_version_and_sizes() {
    let (name, _guard) = shm_name("ipcx-ring-validate");
    let path = format!("/dev/shm{name}");
    let ring = Ring::builder(&name).capacity(4096).create().unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut id = [0u8; 48];
    file.read_exact_at(&mut id, 0).unwrap();
    // Version 2.
    file.write_all_at(&2u32.to_le_bytes(), 8).unwrap();
    assert!(matches!(
        Ring::builder(&name).open(),
        Err(Error::VersionMismatch {
            expected: 1,
            found: 2,
            ..
        })
    ));
    file.write_all_at(&id, 0).unwrap();
    // Capacity that disagrees with the file size.
    file.write_all_at(&8192u64.to_le_bytes(), 16).unwrap();
    assert!(matches!(
        Ring::builder(&name).open(),
        Err(Error::InvalidSize { .. })
    ));
    // Record header size from another layout.
    file.write_all_at(&id, 0).unwrap();
    file.write_all_at(&16u32.to_le_bytes(), 24).unwrap();
    assert!(matches!(
        Ring::builder(&name).open(),
        Err(Error::InvalidSize { .. })
    ));
    // Not a ring at all.
    file.write_all_at(&[0x55; 48], 0).unwrap();
    assert!(matches!(
        Ring::builder(&name).open(),
        Err(Error::Corrupted { .. })
    ));
    assert_eq!(ring::inspect(std::path::Path::new(&path)).unwrap(), None);
    file.write_all_at(&id, 0).unwrap();
    Ring::builder(&name).open().unwrap();
    // A truncated object.
    file.set_len(100).unwrap();
    assert!(matches!(
        Ring::builder(&name).open(),
        Err(Error::InvalidSize { .. })
    ));
    drop(ring);
}

#[test]
fn creator_removes_the_name_and_openers_do_not() {
    let (name, _guard) = shm_name("ipcx-ring-owner");
    let path = format!("/dev/shm{name}");
    let ring = Ring::builder(&name).capacity(128).create().unwrap();
    assert!(matches!(
        Ring::builder(&name).create(),
        Err(Error::AlreadyExists { .. })
    ));
    let opened = Ring::builder(&name).open().unwrap();
    drop(opened);
    assert!(std::path::Path::new(&path).exists());
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    drop(ring);
    assert!(!std::path::Path::new(&path).exists());
    assert!(matches!(
        Ring::builder(&name).open(),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn inspect_reports_capacity_holders_and_creator_without_claiming() {
    let (name, _guard) = shm_name("ipcx-ring-inspect");
    let path = format!("/dev/shm{name}");
    let ring = Ring::builder(&name).capacity(1000).create().unwrap();
    let _tx = ring.producer().unwrap();
    let info = ring::inspect(std::path::Path::new(&path)).unwrap().unwrap();
    let me = ipcx::creator::ProcessId::current();
    assert_eq!(info.capacity, 1024);
    assert_eq!(info.version, 1);
    assert_eq!(info.producer, Some(me));
    assert_eq!(info.consumer, None);
    assert_eq!(info.creator, Some(me));
    // Inspecting claimed nothing.
    ring.consumer().unwrap();
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), vec![7u8; 2048]).unwrap();
    assert_eq!(ring::inspect(other.path()).unwrap(), None);
}

#[test]
fn a_producer_slot_held_by_a_dead_process_is_taken_over() {
    let (name, _guard) = shm_name("ipcx-ring-takeover");
    let ring = Ring::builder(&name).capacity(1024).create().unwrap();
    let mut rx = ring.consumer().unwrap();
    // The child sends 3 records and exits without running destructors.
    run_child(&format!("producer:{name}:3:spin"));
    let mut buf = Vec::new();
    for seq in 0..3 {
        rx.recv_timeout(&mut buf, Duration::from_secs(10)).unwrap();
        check_record(seq, &buf);
    }
    // The child's claim is dead (or closed): a new producer may take it.
    let mut tx = ring.producer().unwrap();
    tx.send(b"new producer").unwrap();
    rx.recv_timeout(&mut buf, Duration::from_secs(10)).unwrap();
    assert_eq!(buf, b"new producer");
}

#[test]
fn blocked_producer_sees_the_consumer_die() {
    let (name, _guard) = shm_name("ipcx-ring-consumer-death");
    let ring = Ring::builder(&name)
        .capacity(64)
        .wait(WaitStrategy::Futex)
        .create()
        .unwrap();
    let mut tx = ring.producer().unwrap();
    let mut child = spawn_child(&format!("consumer:{name}"));
    // Wait until the child holds the consumer side.
    let path = format!("/dev/shm{name}");
    let started = Instant::now();
    while ring::inspect(std::path::Path::new(&path))
        .unwrap()
        .unwrap()
        .consumer
        .is_none()
    {
        assert!(started.elapsed() < Duration::from_secs(30), "watchdog");
        std::thread::sleep(Duration::from_millis(5));
    }
    tx.send(&[0; 24]).unwrap();
    tx.send(&[0; 24]).unwrap();
    child.0.kill().unwrap();
    let r = tx.send_timeout(&[0; 24], Duration::from_secs(30));
    assert!(matches!(r, Err(Error::Disconnected { .. })), "{r:?}");
}

/// Kill -9 of the producer during a 1,000,000-record transfer, 50 times at
/// random moments: the consumer always ends with Disconnected (never a hang:
/// a 30 s watchdog per round), every record before is intact and in order.
#[test]
fn kill_9_of_the_producer_mid_transfer_always_ends_in_disconnected() {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut max_detect = Duration::ZERO;
    let waits = [
        WaitStrategy::Adaptive,
        WaitStrategy::Futex,
        WaitStrategy::Spin,
    ];
    for round in 0..50 {
        let wait = waits[round % waits.len()];
        let (name, _guard) = shm_name("ipcx-ring-kill");
        let ring = Ring::builder(&name)
            .capacity(16 * 1024)
            .wait(wait)
            .create()
            .unwrap();
        let mut rx = ring.consumer().unwrap();
        let mut child = spawn_child(&format!("producer:{name}:1000000:{wait}"));
        // Kill after a random number of received records: the ring holds
        // fewer than 1,000 of them, so the child is always mid-transfer.
        let kill_at: u64 = rng.gen_range(1..20_000);
        let mut buf = Vec::new();
        let mut seq = 0u64;
        let mut killed_at = None;
        loop {
            match rx.recv_timeout(&mut buf, Duration::from_secs(30)) {
                Ok(_) => {
                    check_record(seq, &buf);
                    seq += 1;
                    if seq == kill_at {
                        child.0.kill().unwrap();
                        killed_at = Some(Instant::now());
                    }
                }
                Err(Error::Disconnected { .. }) => break,
                Err(e) => panic!("round {round} ({wait}) after {seq} records: {e}"),
            }
        }
        let killed_at = killed_at.expect("the producer was killed mid-transfer");
        assert!(seq < 1_000_000, "the transfer was cut short");
        max_detect = max_detect.max(killed_at.elapsed());
    }
    eprintln!("kill -9: slowest detection of the producer's death took {max_detect:?}");
}

mod validator {
    use ipcx::ring::validate_image;
    use proptest::prelude::*;

    fn valid_identity(capacity: u64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"IPCXRING");
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&1024u32.to_le_bytes());
        b.extend_from_slice(&capacity.to_le_bytes());
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&128u32.to_le_bytes());
        b.resize(48, 0);
        b
    }

    proptest! {
        /// Arbitrary bytes anywhere: the validator answers, never panics.
        #[test]
        fn arbitrary_images_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
            let _ = validate_image(&bytes);
        }

        /// A valid identity with arbitrary indices and records: an answer,
        /// and a record count no larger than the capacity allows.
        #[test]
        fn arbitrary_indices_and_records_are_checked(
            cap_shift in 6u32..9,
            rest in proptest::collection::vec(any::<u8>(), 1024 - 48),
            head in prop_oneof![any::<u64>(), 0u64..600],
            tail in prop_oneof![any::<u64>(), 0u64..600],
            words in proptest::collection::vec(
                prop_oneof![any::<u64>(), (0u64..300).prop_map(|l| (0x4441_5441u64 << 32) | l),
                            (0u64..300).prop_map(|l| (0x5041_4444u64 << 32) | l)], 8..32),
        ) {
            let cap = 1u64 << cap_shift;
            let mut img = valid_identity(cap);
            img.extend_from_slice(&rest);
            img[384..392].copy_from_slice(&tail.to_le_bytes());
            img[512..520].copy_from_slice(&(head & !7).to_le_bytes());
            let mut data = vec![0u8; cap as usize];
            for (i, w) in words.iter().enumerate() {
                let at = (i * 8) % cap as usize;
                data[at..at + 8].copy_from_slice(&w.to_le_bytes());
            }
            img.extend_from_slice(&data);
            if let Ok(n) = validate_image(&img) {
                prop_assert!(n as u64 <= cap / 8);
            }
        }
    }
}
