//! The end of a full tour: a quick measurement that checks the seed's
//! conclusions ("shared memory is the fastest IPC", "FIFOs are slower than
//! shared memory") on this machine.

use std::time::Duration;

use ipcx_bench::{Budget, Config};

/// The mechanisms the check measures: the seed's six plus the ipcx ring.
const MECHANISMS: &[&str] = &[
    "pipe",
    "fifo",
    "sysvmq",
    "mq",
    "unix",
    "tcp",
    "sysvshm",
    "posixshm",
    "ring-adaptive",
];

/// Runs the quick measurement and prints which conclusions held; returns
/// whether the measurement itself succeeded (a conclusion that does not hold
/// is reported, not a failure).
pub fn run() -> anyhow::Result<bool> {
    println!("== bench: checking the seed's conclusions with a quick measurement");
    let config = Config {
        mechanisms: MECHANISMS.iter().map(|m| m.to_string()).collect(),
        sizes: vec![64, 64 << 10],
        budget: Budget::Duration(Duration::from_millis(20)),
        pin: true,
        raw_baselines: false,
    };
    let cleanup = crate::cmd::bench::remove_leftovers_on_signal();
    let report = ipcx_bench::run(&config, &crate::cmd::bench::peer_command, &mut |_| {});
    drop(cleanup);
    let report = report?;
    println!("    {}", report.machine.pinning_note);
    let mut rows: Vec<(String, Option<u64>, Option<f64>)> = MECHANISMS
        .iter()
        .map(|m| {
            let lat = report
                .get(m, ipcx_bench::Scenario::Latency, 64)
                .and_then(|e| e.latency)
                .map(|l| l.p50_ns);
            let thr = report
                .get(m, ipcx_bench::Scenario::Throughput, 64 << 10)
                .and_then(|e| e.throughput)
                .map(|t| t.bytes_per_sec);
            (m.to_string(), lat, thr)
        })
        .collect();
    rows.sort_by_key(|r| r.1.unwrap_or(u64::MAX));
    println!(
        "    {:<15} {:>16} {:>22}",
        "mechanism", "64 B round trip", "64 KiB throughput"
    );
    for (m, lat, thr) in &rows {
        println!(
            "    {:<15} {:>16} {:>22}",
            m,
            lat.map(|v| ipcx_bench::format_ns(v as f64))
                .unwrap_or_else(|| "n/a".into()),
            thr.map(ipcx_bench::format_bytes_per_sec)
                .unwrap_or_else(|| "n/a".into()),
        );
    }
    for c in &report.conclusions {
        let verdict = match c.held {
            Some(true) => "held",
            Some(false) => "did NOT hold",
            None => "could not be checked",
        };
        println!("    \"{}\": {verdict} — {}", c.claim, c.evidence);
    }
    let errors = report.errors();
    for e in &errors {
        println!(
            "    measurement failed: {} {} {} B: {}",
            e.mechanism,
            e.scenario,
            e.size,
            e.note.as_deref().unwrap_or("")
        );
    }
    Ok(errors.is_empty())
}
