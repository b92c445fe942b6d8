//! Statistics: latency percentiles from an HDR histogram, throughput, and
//! human-readable units.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Round-trip latency percentiles of one measurement, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Round trips measured.
    pub samples: u64,
    /// Fastest round trip, ns.
    pub min_ns: u64,
    /// Median round trip, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// Slowest round trip, ns.
    pub max_ns: u64,
    /// Arithmetic mean, ns.
    pub mean_ns: f64,
}

/// A histogram of round-trip times in nanoseconds, 3 significant digits,
/// from 1 ns to 100 s.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Records one duration (saturating at the histogram's top).
pub(crate) fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
    h.saturating_record(ns);
}

impl LatencySummary {
    /// Summarises a histogram of nanoseconds; `None` when it is empty.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        Some(LatencySummary {
            samples: h.len(),
            min_ns: h.min(),
            p50_ns: h.value_at_quantile(0.50),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
            mean_ns: h.mean(),
        })
    }
}

/// One-way throughput of one measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThroughputSummary {
    /// Messages delivered.
    pub messages: u64,
    /// Payload bytes delivered.
    pub bytes: u64,
    /// Wall time from the first send to the receiver's confirmation, ns.
    pub elapsed_ns: u64,
    /// Payload bytes per second.
    pub bytes_per_sec: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
}

impl ThroughputSummary {
    /// `messages` messages of `size` bytes delivered in `elapsed`.
    pub fn new(messages: u64, size: usize, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let bytes = messages.saturating_mul(size as u64);
        ThroughputSummary {
            messages,
            bytes,
            elapsed_ns: u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            bytes_per_sec: bytes as f64 / secs,
            messages_per_sec: messages as f64 / secs,
        }
    }
}

/// Formats nanoseconds with a unit chosen for 3 significant digits:
/// `850 ns`, `12.3 µs`, `1.20 ms`, `2.50 s`.
pub fn format_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        sig3(ns / 1e3, "µs")
    } else if ns < 1e9 {
        sig3(ns / 1e6, "ms")
    } else {
        sig3(ns / 1e9, "s")
    }
}

/// Formats bytes per second in binary units: `512 MiB/s`, `3.21 GiB/s`.
pub fn format_bytes_per_sec(bps: f64) -> String {
    const K: f64 = 1024.0;
    if bps < K * K {
        sig3(bps / K, "KiB/s")
    } else if bps < K * K * K {
        sig3(bps / (K * K), "MiB/s")
    } else {
        sig3(bps / (K * K * K), "GiB/s")
    }
}

/// Formats a message size: `64 B`, `4 KiB`, `1 MiB`, `1000 B`.
pub fn format_size(size: usize) -> String {
    if size >= 1 << 20 && size % (1 << 20) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1 << 10 && size % (1 << 10) == 0 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

fn sig3(v: f64, unit: &str) -> String {
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = new_histogram();
        for ns in 1..=1000u64 {
            record(&mut h, Duration::from_nanos(ns * 1000));
        }
        let s = LatencySummary::from_histogram(&h).unwrap();
        assert_eq!(s.samples, 1000);
        // 3 significant digits: values are exact to within 0.1 %.
        let close = |a: u64, b: u64| (a as f64 - b as f64).abs() <= b as f64 * 0.001 + 1.0;
        assert!(close(s.p50_ns, 500_000), "{s:?}");
        assert!(close(s.p99_ns, 990_000), "{s:?}");
        assert!(close(s.p999_ns, 999_000), "{s:?}");
        assert!(close(s.max_ns, 1_000_000), "{s:?}");
        assert!(close(s.min_ns, 1000), "{s:?}");
        assert!((s.mean_ns - 500_500.0).abs() < 600.0, "{s:?}");
    }

    #[test]
    fn empty_histogram_has_no_summary() {
        assert!(LatencySummary::from_histogram(&new_histogram()).is_none());
    }

    #[test]
    fn throughput_divides_bytes_by_time() {
        let t = ThroughputSummary::new(1000, 1 << 20, Duration::from_millis(500));
        assert_eq!(t.bytes, 1000 << 20);
        assert!((t.bytes_per_sec - 2.0 * 1000.0 * 1048576.0).abs() < 1.0);
        assert!((t.messages_per_sec - 2000.0).abs() < 1e-6);
        assert_eq!(t.elapsed_ns, 500_000_000);
    }

    #[test]
    fn units_read_well() {
        assert_eq!(format_ns(850.0), "850 ns");
        assert_eq!(format_ns(12_345.0), "12.3 µs");
        assert_eq!(format_ns(1_200_000.0), "1.20 ms");
        assert_eq!(format_ns(2.5e9), "2.50 s");
        assert_eq!(format_bytes_per_sec(512.0 * 1048576.0), "512 MiB/s");
        assert_eq!(format_bytes_per_sec(3.21 * 1073741824.0), "3.21 GiB/s");
        assert_eq!(format_size(64), "64 B");
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(1 << 20), "1 MiB");
        assert_eq!(format_size(1000), "1000 B");
    }
}
