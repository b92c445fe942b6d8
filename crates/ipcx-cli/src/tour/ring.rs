//! Tour scenarios for the ipcx ring: the seed's "shared memory is fastest but
//! needs synchronisation", done safely. One process produces 1,000,000
//! sequence-numbered, checksummed records through a shared-memory ring; this
//! process consumes and verifies every one.

use std::time::{Duration, Instant};

use anyhow::Context;
use ipcx::ring::Ring;

use super::{peer_command, wait_peer, Reporter, Scenario};

/// Records moved by the scenario.
const COUNT: u64 = 1_000_000;
/// Record size in bytes.
const RECORD: usize = 32;

/// The scenarios of this mechanism.
pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        mechanism: "shm",
        title: "ring: 1,000,000 messages between two processes through a shared-memory ring",
        run: million_messages,
    }]
}

/// FNV-1a over the first 24 bytes of a record.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn fill(seq: u64, rec: &mut [u8]) {
    rec[..8].copy_from_slice(&seq.to_le_bytes());
    rec[8..16].copy_from_slice(&(seq ^ 0x5555_5555_5555_5555).to_le_bytes());
    rec[16..24].copy_from_slice(&seq.rotate_left(17).to_le_bytes());
    let sum = checksum(&rec[..24]);
    rec[24..32].copy_from_slice(&sum.to_le_bytes());
}

fn million_messages(r: &mut Reporter) -> anyhow::Result<()> {
    let name = format!("/ipcx-tour-ring-{}", std::process::id());
    // Made and its removal registered in one section: Ctrl-C during the
    // transfer must not leave /dev/shm/ipcx-tour-ring-PID behind.
    let mut section = crate::cleanup::creating();
    let ring = Ring::builder(&name).capacity(256 * 1024).create()?;
    let _cleanup = section.remove_path_on_signal(std::path::Path::new(&format!("/dev/shm{name}")));
    drop(section);
    r.step(format!(
        "created ring shm:{name} ({} bytes of data, wait strategy {})",
        ring.capacity(),
        ipcx::ring::WaitStrategy::default()
    ));
    let mut rx = ring.consumer()?;
    let child = peer_command("ring", "produce", &[&name, &COUNT.to_string()])?
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("starting the producer process")?;
    r.step(format!(
        "producer process {} sends {COUNT} records of {RECORD} bytes",
        child.id()
    ));
    let started = Instant::now();
    let mut total = 0u64;
    for seq in 0..COUNT {
        let rec = rx
            .recv_borrowed_timeout(Duration::from_secs(30))
            .with_context(|| format!("receiving record {seq}"))?;
        anyhow::ensure!(rec.len() == RECORD, "record {seq} has {} bytes", rec.len());
        let got = u64::from_le_bytes(rec[..8].try_into()?);
        anyhow::ensure!(got == seq, "expected record {seq}, got {got}");
        let sum = u64::from_le_bytes(rec[24..32].try_into()?);
        anyhow::ensure!(
            sum == checksum(&rec[..24]),
            "record {seq}: checksum mismatch"
        );
        total = total.wrapping_add(sum);
    }
    let elapsed = started.elapsed();
    let out = wait_peer(child, "the producer", Duration::from_secs(60))?;
    let theirs: u64 = out
        .trim()
        .parse()
        .context("reading the producer's checksum")?;
    anyhow::ensure!(
        theirs == total,
        "checksum of all records differs: producer {theirs}, consumer {total}"
    );
    r.step(format!(
        "received all {COUNT} records in order, every checksum right; sum of checksums {total:#x} matches the producer's"
    ));
    r.fact(
        "messages/s",
        format!("{:.0}", COUNT as f64 / elapsed.as_secs_f64()),
    );
    Ok(())
}

/// Runs one peer role of these scenarios.
pub fn peer(role: &str, args: &[String]) -> anyhow::Result<i32> {
    match (role, args) {
        ("produce", [name, count]) => {
            let count: u64 = count.parse()?;
            let ring = Ring::builder(name).open()?;
            let mut tx = ring.producer()?;
            let mut total = 0u64;
            for seq in 0..count {
                let mut g = tx.reserve(RECORD)?;
                fill(seq, &mut g);
                total = total.wrapping_add(u64::from_le_bytes(g[24..32].try_into()?));
                g.commit();
            }
            println!("{total}");
            Ok(0)
        }
        _ => Err(super::unknown_role("ring", role)),
    }
}
