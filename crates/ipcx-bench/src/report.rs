//! The report of a run: entries, derived ratios, performance targets, the
//! seed's conclusions, and their renderings as a table, JSON and CSV.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use comfy_table::{presets, Cell, CellAlignment, Table};
use serde::{Deserialize, Serialize};

use crate::config::{Budget, Config};
use crate::mechs::{self, Role, LIMIT_FUTEX, LIMIT_MEMCPY, LIMIT_SPIN};
use crate::stats::{
    format_bytes_per_sec, format_ns, format_size, LatencySummary, ThroughputSummary,
};

/// Version of the JSON layout (`docs/bench-json-schema.json`).
pub const SCHEMA_VERSION: u32 = 1;

/// Which scenario an entry measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Ping-pong round trips between two processes.
    Latency,
    /// A one-way stream from one process to the other.
    Throughput,
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scenario::Latency => "latency",
            Scenario::Throughput => "throughput",
        })
    }
}

/// Whether an entry has numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Measured.
    #[serde(rename = "ok")]
    Ok,
    /// The mechanism cannot carry this size; `note` names the limit.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// The measurement failed; `note` says why.
    #[serde(rename = "error")]
    Error,
}

/// One measurement: a mechanism, a scenario and a message size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Catalog id, e.g. `pipe`, `raw-pipe`, `limit-spin`.
    pub mechanism: String,
    /// One-line description.
    pub label: String,
    /// Mechanism, limit or raw baseline.
    pub role: Role,
    /// Latency or throughput.
    pub scenario: Scenario,
    /// Message size, bytes.
    pub size: u64,
    /// Measured, not applicable, or failed.
    pub status: Status,
    /// The limit (n/a) or the error.
    pub note: Option<String>,
    /// Round-trip percentiles (latency entries).
    pub latency: Option<LatencySummary>,
    /// Rates (throughput entries).
    pub throughput: Option<ThroughputSummary>,
    /// Latency: p50 divided by the cache-line ping-pong's p50 at the same size
    /// (≥ 1; lower is better). Throughput: bytes/s divided by memcpy's bytes/s
    /// at the same size (≤ 1 in practice; higher is better).
    pub ratio_to_limit: Option<f64>,
    /// Cost of the ipcx wrapper against the raw libc loop of the same system
    /// calls at the same size: latency p50 ratio, or raw bytes/s divided by
    /// ipcx bytes/s (1.0 = no overhead; lower is better).
    pub ratio_to_raw: Option<f64>,
}

/// The machine the run measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// CPUs the kernel has online.
    pub cpus_online: usize,
    /// CPUs this process may run on.
    pub cpus_allowed: usize,
    /// `[measuring CPU, peer CPU]` when pinned.
    pub pinned: Option<Vec<usize>>,
    /// How the processes were placed, in words.
    pub pinning_note: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
}

/// The run's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Message sizes, bytes.
    pub sizes: Vec<u64>,
    /// Measuring time per entry, ms (duration budgets).
    pub duration_ms: Option<f64>,
    /// Iterations per entry (iteration budgets).
    pub iterations: Option<u64>,
    /// Warm-up per entry: ms (duration budgets) or iterations.
    pub warmup: String,
    /// The `--mechanisms` words (empty: all).
    pub mechanisms: Vec<String>,
}

impl Parameters {
    pub(crate) fn from_config(config: &Config, sizes: &[usize]) -> Parameters {
        let (duration_ms, iterations) = match config.budget {
            Budget::Duration(d) => (Some(d.as_secs_f64() * 1e3), None),
            Budget::Iterations(n) => (None, Some(n)),
        };
        let warmup = match config.warmup() {
            Budget::Duration(d) => format!("{} ms", d.as_millis()),
            Budget::Iterations(n) => iterations_text(n),
        };
        Parameters {
            sizes: sizes.iter().map(|&s| s as u64).collect(),
            duration_ms,
            iterations,
            warmup,
            mechanisms: config.mechanisms.clone(),
        }
    }
}

/// A performance target of the project, checked against this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// What is compared, e.g. `ring-spin round trip vs cache-line ping-pong`.
    pub name: String,
    /// The measured ratio, when both sides were measured.
    pub measured: Option<f64>,
    /// The bound.
    pub goal: f64,
    /// `at_most` or `at_least`.
    pub comparison: String,
    /// Whether the bound held (`None` when not measured).
    pub met: Option<bool>,
}

/// One of the seed's conclusions, checked against this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conclusion {
    /// The claim, as the seed makes it.
    pub claim: String,
    /// Whether it held here (`None` when the run did not measure enough).
    pub held: Option<bool>,
    /// The numbers behind the verdict.
    pub evidence: String,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Version of ipcx-bench that measured.
    pub ipcx_version: String,
    /// The machine.
    pub machine: Machine,
    /// The parameters.
    pub parameters: Parameters,
    /// Wall time of the whole run, ms.
    pub elapsed_ms: f64,
    /// One entry per mechanism, scenario and size.
    pub entries: Vec<Entry>,
    /// The project's performance targets.
    pub targets: Vec<Target>,
    /// The seed's conclusions.
    pub conclusions: Vec<Conclusion>,
}

type Key<'a> = (&'a str, Scenario, u64);

/// `1 iteration`, `200 iterations`.
fn iterations_text(n: u64) -> String {
    if n == 1 {
        "1 iteration".into()
    } else {
        format!("{n} iterations")
    }
}

impl Parameters {
    /// The budget in words: `150 ms per measurement` (sub-millisecond
    /// durations in µs or ns rather than `0 ms`) or `1 iteration per
    /// measurement`.
    pub(crate) fn budget_text(&self) -> String {
        match (self.duration_ms, self.iterations) {
            (Some(ms), _) if ms >= 1.0 && ms.fract() == 0.0 => {
                format!("{ms:.0} ms per measurement")
            }
            (Some(ms), _) => format!("{} per measurement", format_ns(ms * 1e6)),
            (_, Some(n)) => format!("{} per measurement", iterations_text(n)),
            _ => String::new(),
        }
    }
}

impl Report {
    /// Assembles a report and derives ratios, targets and conclusions.
    pub(crate) fn build(
        machine: Machine,
        parameters: Parameters,
        mut entries: Vec<Entry>,
        elapsed: Duration,
    ) -> Report {
        derive_ratios(&mut entries);
        let mut r = Report {
            schema_version: SCHEMA_VERSION,
            ipcx_version: env!("CARGO_PKG_VERSION").to_string(),
            machine,
            parameters,
            elapsed_ms: elapsed.as_secs_f64() * 1e3,
            entries,
            targets: Vec::new(),
            conclusions: Vec::new(),
        };
        r.targets = r.derive_targets();
        r.conclusions = r.derive_conclusions();
        r
    }

    /// Finds one entry.
    pub fn get(&self, mechanism: &str, scenario: Scenario, size: u64) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.mechanism == mechanism && e.scenario == scenario && e.size == size)
    }

    fn p50(&self, mechanism: &str, size: u64) -> Option<f64> {
        self.get(mechanism, Scenario::Latency, size)
            .and_then(|e| e.latency)
            .map(|l| l.p50_ns as f64)
    }

    fn bps(&self, mechanism: &str, size: u64) -> Option<f64> {
        self.get(mechanism, Scenario::Throughput, size)
            .and_then(|e| e.throughput)
            .map(|t| t.bytes_per_sec)
    }

    fn smallest(&self) -> u64 {
        self.parameters.sizes.iter().copied().min().unwrap_or(64)
    }

    fn largest(&self) -> u64 {
        self.parameters.sizes.iter().copied().max().unwrap_or(64)
    }

    /// Entries that failed.
    pub fn errors(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.status == Status::Error)
            .collect()
    }

    fn derive_targets(&self) -> Vec<Target> {
        let s = self.smallest();
        let l = self.largest();
        let mut t = Vec::new();
        let mut add = |name: String, measured: Option<f64>, goal: f64, at_most: bool| {
            t.push(Target {
                name,
                measured,
                goal,
                comparison: if at_most { "at_most" } else { "at_least" }.into(),
                met: measured.map(|m| if at_most { m <= goal } else { m >= goal }),
            })
        };
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let has = |id: &str| self.entries.iter().any(|e| e.mechanism == id);
        let size = format_size(s as usize);
        if has("ring-spin") {
            add(
                format!("ring-spin round trip p50 vs cache-line ping-pong ({size})"),
                ratio(self.p50("ring-spin", s), self.p50(LIMIT_SPIN, s)),
                1.5,
                true,
            );
        }
        if has("ring-futex") {
            add(
                format!("ring-futex round trip p50 vs raw futex ping-pong ({size})"),
                ratio(self.p50("ring-futex", s), self.p50(LIMIT_FUTEX, s)),
                1.2,
                true,
            );
        }
        if has("channel") {
            let base = mechs::CHANNEL_RING;
            add(
                format!("channel round trip p50 vs {base} ({size})"),
                ratio(self.p50("channel", s), self.p50(base, s)),
                1.2,
                true,
            );
        }
        let rings = ["ring-spin", "ring-futex", "ring-adaptive"];
        if rings.iter().any(|r| has(r)) {
            let best = rings
                .iter()
                .filter_map(|r| self.bps(r, l).map(|b| (r, b)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            add(
                format!(
                    "ring throughput vs memcpy ({}, best wait strategy{})",
                    format_size(l as usize),
                    best.map(|b| format!(": {}", b.0)).unwrap_or_default()
                ),
                ratio(best.map(|b| b.1), self.bps(LIMIT_MEMCPY, l)),
                0.5,
                false,
            );
        }
        for m in mechs::catalog()
            .iter()
            .filter(|m| m.role == Role::Mechanism)
        {
            let (Some(raw), true) = (m.raw, has(m.id)) else {
                continue;
            };
            add(
                format!("{} round trip p50 vs {raw} ({size})", m.id),
                ratio(self.p50(m.id, s), self.p50(raw, s)),
                1.05,
                true,
            );
        }
        t
    }

    fn derive_conclusions(&self) -> Vec<Conclusion> {
        let s = self.smallest();
        let shm = |id: &str| mechs::find(id).is_some_and(|m| m.shared_memory);
        let mechanisms: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.role == Role::Mechanism && e.status == Status::Ok)
            .collect();
        let lat: Vec<(&str, f64)> = mechanisms
            .iter()
            .filter(|e| e.size == s)
            .filter_map(|e| e.latency.map(|l| (e.mechanism.as_str(), l.p50_ns as f64)))
            .collect();
        // Throughput compared at the largest size every shared-memory and
        // FIFO entry carried.
        let tsize = self
            .parameters
            .sizes
            .iter()
            .copied()
            .filter(|&z| {
                mechanisms
                    .iter()
                    .any(|e| e.size == z && e.throughput.is_some())
            })
            .max()
            .unwrap_or(s);
        let thr: Vec<(&str, f64)> = mechanisms
            .iter()
            .filter(|e| e.size == tsize)
            .filter_map(|e| {
                e.throughput
                    .map(|t| (e.mechanism.as_str(), t.bytes_per_sec))
            })
            .collect();
        let fastest_lat = lat.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let fastest_thr = thr.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        let best_non_shm_lat = lat
            .iter()
            .filter(|x| !shm(x.0))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let best_non_shm_thr = thr
            .iter()
            .filter(|x| !shm(x.0))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let best_shm_lat = lat
            .iter()
            .filter(|x| shm(x.0))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let best_shm_thr = thr
            .iter()
            .filter(|x| shm(x.0))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let (ss, ts) = (format_size(s as usize), format_size(tsize as usize));

        let mut out = Vec::new();
        let claim1 = "Shared memory is the fastest IPC".to_string();
        let both_kinds = best_shm_lat.is_some() && best_shm_thr.is_some();
        out.push(match (fastest_lat, fastest_thr, best_non_shm_lat, best_non_shm_thr) {
            (Some(fl), Some(ft), Some(nl), Some(nt)) if both_kinds => Conclusion {
                claim: claim1,
                held: Some(shm(fl.0) && shm(ft.0)),
                evidence: format!(
                    "lowest {ss} round trip: {} {} (best without shared memory: {} {}); highest {ts} throughput: {} {} (best without shared memory: {} {})",
                    fl.0,
                    format_ns(fl.1),
                    nl.0,
                    format_ns(nl.1),
                    ft.0,
                    format_bytes_per_sec(ft.1),
                    nt.0,
                    format_bytes_per_sec(nt.1)
                ),
            },
            _ => Conclusion {
                claim: claim1,
                held: None,
                evidence: "not measured: needs shared-memory and other mechanisms in one run".into(),
            },
        });
        let claim2 = "FIFOs are slower than shared memory".to_string();
        let fifo_lat = lat.iter().find(|x| x.0 == "fifo");
        let fifo_thr = thr.iter().find(|x| x.0 == "fifo");
        out.push(match (fifo_lat, fifo_thr, best_shm_lat, best_shm_thr) {
            (Some(fl), Some(ft), Some(sl), Some(st)) => Conclusion {
                claim: claim2,
                held: Some(fl.1 > sl.1 && ft.1 < st.1),
                evidence: format!(
                    "{ss} round trip: fifo {} vs {} {} ({:.1}×); {ts} throughput: fifo {} vs {} {} ({:.1}×)",
                    format_ns(fl.1),
                    sl.0,
                    format_ns(sl.1),
                    fl.1 / sl.1,
                    format_bytes_per_sec(ft.1),
                    st.0,
                    format_bytes_per_sec(st.1),
                    st.1 / ft.1
                ),
            },
            _ => Conclusion {
                claim: claim2.clone(),
                held: None,
                evidence: "not measured: needs fifo and a shared-memory mechanism in one run".into(),
            },
        });
        // The seed's own shared-memory pattern, for the record.
        let seed_lat = lat.iter().find(|x| x.0 == "sysvshm");
        let seed_thr = thr.iter().find(|x| x.0 == "sysvshm");
        if let (Some(c), Some(fl), Some(sl)) = (out.last_mut(), fifo_lat, seed_lat) {
            if c.held.is_some() {
                let _ = write!(
                    c.evidence,
                    "; against the seed's own pattern (sysvshm: System V shared memory with a semaphore handshake) fifo is {} in round trip ({} vs {})",
                    if fl.1 > sl.1 { "slower" } else { "faster" },
                    format_ns(fl.1),
                    format_ns(sl.1)
                );
                if let (Some(ft), Some(st)) = (fifo_thr, seed_thr) {
                    let _ = write!(
                        c.evidence,
                        " and {} in throughput ({} vs {})",
                        if ft.1 < st.1 { "slower" } else { "faster" },
                        format_bytes_per_sec(ft.1),
                        format_bytes_per_sec(st.1)
                    );
                }
            }
        }
        out
    }

    /// The report as pretty JSON (see `docs/bench-json-schema.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// The report as CSV: a header line and one line per entry.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "mechanism,role,scenario,size,status,note,samples,p50_ns,p99_ns,p999_ns,max_ns,mean_ns,messages,bytes,elapsed_ns,bytes_per_sec,messages_per_sec,ratio_to_limit,ratio_to_raw\n",
        );
        for e in &self.entries {
            let opt = |v: Option<String>| v.unwrap_or_default();
            let l = e.latency;
            let t = e.throughput;
            let fields = [
                csv_field(&e.mechanism),
                format!("{:?}", e.role).to_lowercase(),
                e.scenario.to_string(),
                e.size.to_string(),
                serde_json::to_value(e.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                csv_field(e.note.as_deref().unwrap_or("")),
                opt(l.map(|l| l.samples.to_string())),
                opt(l.map(|l| l.p50_ns.to_string())),
                opt(l.map(|l| l.p99_ns.to_string())),
                opt(l.map(|l| l.p999_ns.to_string())),
                opt(l.map(|l| l.max_ns.to_string())),
                opt(l.map(|l| format!("{:.1}", l.mean_ns))),
                opt(t.map(|t| t.messages.to_string())),
                opt(t.map(|t| t.bytes.to_string())),
                opt(t.map(|t| t.elapsed_ns.to_string())),
                opt(t.map(|t| format!("{:.0}", t.bytes_per_sec))),
                opt(t.map(|t| format!("{:.1}", t.messages_per_sec))),
                opt(e.ratio_to_limit.map(|r| format!("{r:.4}"))),
                opt(e.ratio_to_raw.map(|r| format!("{r:.4}"))),
            ];
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// The human report: latency and throughput tables sorted fastest first
    /// with each mechanism's ratio to the physical limit, then the targets and
    /// the seed's conclusions.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let budget = self.parameters.budget_text();
        let _ = writeln!(
            out,
            "ipcx bench: {} of {} CPUs allowed, {}; {budget} after a warm-up of {}; kernel {}; run took {:.1} s",
            self.machine.cpus_allowed,
            self.machine.cpus_online,
            self.machine.pinning_note,
            self.parameters.warmup,
            self.machine.kernel,
            self.elapsed_ms / 1e3
        );
        let sizes = &self.parameters.sizes;
        let s0 = self.smallest();
        let visible = |e: &&Entry| e.role != Role::Raw;

        // Latency.
        let ids = self.sorted_ids(
            Scenario::Latency,
            s0,
            |e| e.latency.map(|l| l.p50_ns as f64),
            false,
        );
        if !ids.is_empty() {
            let _ = writeln!(
                out,
                "\nRound-trip latency (ping-pong between two processes): p50 and ×limit (cache-line ping-pong), fastest first"
            );
            let mut t = new_table();
            let mut header = vec!["mechanism".to_string()];
            header.extend(
                sizes
                    .iter()
                    .map(|&z| format!("p50 {}", format_size(z as usize))),
            );
            let z0 = format_size(s0 as usize);
            header.extend([
                format!("p99 {z0}"),
                format!("p99.9 {z0}"),
                format!("max {z0}"),
                format!("vs raw {z0}"),
            ]);
            t.set_header(header);
            for id in &ids {
                let mut row = vec![Cell::new(self.display_name(id))];
                for &z in sizes {
                    row.push(right(match self.get(id, Scenario::Latency, z) {
                        Some(e) => match (e.latency, e.ratio_to_limit) {
                            (Some(l), Some(r)) if e.mechanism != LIMIT_SPIN => {
                                format!("{} ×{}", format_ns(l.p50_ns as f64), ratio_text(r))
                            }
                            (Some(l), _) => format_ns(l.p50_ns as f64),
                            _ => status_text(e),
                        },
                        None => String::new(),
                    }));
                }
                let e0 = self.get(id, Scenario::Latency, s0);
                let l0 = e0.and_then(|e| e.latency);
                for v in [
                    l0.map(|l| l.p99_ns),
                    l0.map(|l| l.p999_ns),
                    l0.map(|l| l.max_ns),
                ] {
                    row.push(right(v.map(|v| format_ns(v as f64)).unwrap_or_default()));
                }
                row.push(right(
                    e0.and_then(|e| e.ratio_to_raw)
                        .map(|r| format!("{r:.2}×"))
                        .unwrap_or_default(),
                ));
                t.add_row(row);
            }
            let _ = writeln!(out, "{t}");
        }

        // Throughput.
        let big = *sizes.iter().max().unwrap_or(&s0);
        let ids = self.sorted_ids(
            Scenario::Throughput,
            big,
            |e| e.throughput.map(|t| -t.bytes_per_sec),
            true,
        );
        if !ids.is_empty() {
            let _ = writeln!(
                out,
                "\nOne-way throughput (streaming between two processes): payload rate and % of memcpy bandwidth, fastest first"
            );
            let mut t = new_table();
            let mut header = vec!["mechanism".to_string()];
            header.extend(sizes.iter().map(|&z| format_size(z as usize)));
            header.push("vs raw (largest carried)".into());
            t.set_header(header);
            for id in &ids {
                let mut row = vec![Cell::new(self.display_name(id))];
                let mut raw_ratio = None;
                for &z in sizes {
                    row.push(right(match self.get(id, Scenario::Throughput, z) {
                        Some(e) => {
                            if e.ratio_to_raw.is_some() {
                                raw_ratio = e.ratio_to_raw;
                            }
                            match (e.throughput, e.ratio_to_limit) {
                                (Some(tp), Some(r)) if e.mechanism != LIMIT_MEMCPY => {
                                    format!(
                                        "{} {:.0}%",
                                        format_bytes_per_sec(tp.bytes_per_sec),
                                        r * 100.0
                                    )
                                }
                                (Some(tp), _) => format_bytes_per_sec(tp.bytes_per_sec),
                                _ => status_text(e),
                            }
                        }
                        None => String::new(),
                    }));
                }
                row.push(right(
                    raw_ratio.map(|r| format!("{r:.2}×")).unwrap_or_default(),
                ));
                t.add_row(row);
            }
            let _ = writeln!(out, "{t}");
        }

        let notes: Vec<String> = self
            .entries
            .iter()
            .filter(visible)
            .filter(|e| e.status != Status::Ok)
            .map(|e| {
                format!(
                    "  {} {} {}: {}",
                    e.mechanism,
                    e.scenario,
                    format_size(e.size as usize),
                    e.note.as_deref().unwrap_or("")
                )
            })
            .collect();
        let raw_errors: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.role == Role::Raw && e.status == Status::Error)
            .map(|e| {
                format!(
                    "  {} {} {}: {}",
                    e.mechanism,
                    e.scenario,
                    format_size(e.size as usize),
                    e.note.as_deref().unwrap_or("")
                )
            })
            .collect();
        if !notes.is_empty() || !raw_errors.is_empty() {
            let _ = writeln!(out, "\nNot measured:");
            for n in notes.iter().chain(&raw_errors) {
                let _ = writeln!(out, "{n}");
            }
        }

        if !self.targets.is_empty() {
            let _ = writeln!(out, "\nPerformance targets:");
            let mut t = new_table();
            t.set_header(vec!["target", "measured", "goal", "verdict"]);
            for g in &self.targets {
                let cmp = if g.comparison == "at_most" {
                    "≤"
                } else {
                    "≥"
                };
                t.add_row(vec![
                    Cell::new(&g.name),
                    right(
                        g.measured
                            .map(|m| format!("{m:.2}"))
                            .unwrap_or_else(|| "—".into()),
                    ),
                    right(format!("{cmp} {}", g.goal)),
                    Cell::new(match g.met {
                        Some(true) => "met",
                        Some(false) => "MISSED",
                        None => "not measured",
                    }),
                ]);
            }
            let _ = writeln!(out, "{t}");
        }
        let _ = writeln!(out, "\nThe seed's conclusions on this machine:");
        for c in &self.conclusions {
            let verdict = match c.held {
                Some(true) => "held",
                Some(false) => "did NOT hold",
                None => "not checked",
            };
            let _ = writeln!(out, "  \"{}\": {verdict} — {}", c.claim, c.evidence);
        }
        out
    }

    fn display_name(&self, id: &str) -> String {
        match mechs::find(id).map(|m| m.role) {
            Some(Role::Limit) => format!("{id} (limit)"),
            _ => id.to_string(),
        }
    }

    /// Ids of visible entries of a scenario, sorted by `key` at `size`
    /// (ascending), entries without a value last; `fallback_any_size` sorts
    /// those by their best value at any size.
    fn sorted_ids(
        &self,
        scenario: Scenario,
        size: u64,
        key: impl Fn(&Entry) -> Option<f64>,
        fallback_any_size: bool,
    ) -> Vec<String> {
        let mut ids: Vec<(String, (u8, f64))> = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.role != Role::Raw && e.scenario == scenario)
        {
            if ids.iter().any(|(id, _)| *id == e.mechanism) {
                continue;
            }
            let at_size = self.get(&e.mechanism, scenario, size).and_then(&key);
            let k = match at_size {
                Some(v) => (0, v),
                None if fallback_any_size => {
                    let best = self
                        .entries
                        .iter()
                        .filter(|x| x.mechanism == e.mechanism && x.scenario == scenario)
                        .filter_map(&key)
                        .fold(f64::INFINITY, f64::min);
                    (1, best)
                }
                None => (2, 0.0),
            };
            ids.push((e.mechanism.clone(), k));
        }
        ids.sort_by(|a, b| a.1 .0.cmp(&b.1 .0).then(a.1 .1.total_cmp(&b.1 .1)));
        ids.into_iter().map(|x| x.0).collect()
    }
}

fn derive_ratios(entries: &mut [Entry]) {
    let mut p50: HashMap<Key<'_>, f64> = HashMap::new();
    let mut bps: HashMap<Key<'_>, f64> = HashMap::new();
    for e in entries.iter() {
        if let Some(l) = e.latency {
            p50.insert((e.mechanism.as_str(), e.scenario, e.size), l.p50_ns as f64);
        }
        if let Some(t) = e.throughput {
            bps.insert((e.mechanism.as_str(), e.scenario, e.size), t.bytes_per_sec);
        }
    }
    let mut ratios = Vec::with_capacity(entries.len());
    for e in entries.iter() {
        let raw = mechs::find(&e.mechanism).and_then(|m| m.raw);
        let (to_limit, to_raw) = match (e.latency, e.throughput) {
            (Some(l), _) => {
                let v = l.p50_ns as f64;
                let lim = p50.get(&(LIMIT_SPIN, Scenario::Latency, e.size));
                let r = raw.and_then(|r| p50.get(&(r, Scenario::Latency, e.size)));
                (
                    lim.filter(|x| **x > 0.0).map(|x| v / x),
                    r.filter(|x| **x > 0.0).map(|x| v / x),
                )
            }
            (None, Some(t)) => {
                let v = t.bytes_per_sec;
                let lim = bps.get(&(LIMIT_MEMCPY, Scenario::Throughput, e.size));
                let r = raw.and_then(|r| bps.get(&(r, Scenario::Throughput, e.size)));
                (
                    lim.filter(|x| **x > 0.0).map(|x| v / x),
                    r.filter(|_| v > 0.0).map(|x| x / v),
                )
            }
            _ => (None, None),
        };
        ratios.push((to_limit, to_raw));
    }
    for (e, (a, b)) in entries.iter_mut().zip(ratios) {
        e.ratio_to_limit = a;
        e.ratio_to_raw = b;
    }
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY);
    t
}

fn right(text: impl Into<String>) -> Cell {
    Cell::new(text.into()).set_alignment(CellAlignment::Right)
}

fn ratio_text(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else if r >= 10.0 {
        format!("{r:.1}")
    } else {
        format!("{r:.2}")
    }
}

fn status_text(e: &Entry) -> String {
    match e.status {
        Status::Ok => String::new(),
        Status::NotApplicable => "n/a".into(),
        Status::Error => "error".into(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn lat(id: &str, role: Role, size: u64, p50: u64) -> Entry {
        Entry {
            mechanism: id.into(),
            label: String::new(),
            role,
            scenario: Scenario::Latency,
            size,
            status: Status::Ok,
            note: None,
            latency: Some(LatencySummary {
                samples: 100,
                min_ns: p50 / 2,
                p50_ns: p50,
                p99_ns: p50 * 2,
                p999_ns: p50 * 3,
                max_ns: p50 * 10,
                mean_ns: p50 as f64,
            }),
            throughput: None,
            ratio_to_limit: None,
            ratio_to_raw: None,
        }
    }

    pub(crate) fn thr(id: &str, role: Role, size: u64, bps: f64) -> Entry {
        let secs = 0.1;
        Entry {
            scenario: Scenario::Throughput,
            latency: None,
            throughput: Some(ThroughputSummary::new(
                (bps * secs / size as f64) as u64,
                size as usize,
                Duration::from_secs_f64(secs),
            )),
            ..lat(id, role, size, 1)
        }
    }

    pub(crate) fn na(id: &str, scenario: Scenario, size: u64, why: &str) -> Entry {
        Entry {
            scenario,
            status: Status::NotApplicable,
            note: Some(why.into()),
            latency: None,
            ..lat(id, Role::Mechanism, size, 1)
        }
    }

    pub(crate) fn sample() -> Report {
        let m = Machine {
            cpus_online: 2,
            cpus_allowed: 2,
            pinned: Some(vec![0, 1]),
            pinning_note: "measuring process on CPU 0, peer on CPU 1".into(),
            kernel: "6.1".into(),
        };
        let p = Parameters {
            sizes: vec![64, 65536],
            duration_ms: Some(10.0),
            iterations: None,
            warmup: "2 ms".into(),
            mechanisms: vec![],
        };
        let e = vec![
            lat(LIMIT_SPIN, Role::Limit, 64, 200),
            lat(LIMIT_SPIN, Role::Limit, 65536, 10_000),
            thr(LIMIT_MEMCPY, Role::Limit, 64, 20e9),
            thr(LIMIT_MEMCPY, Role::Limit, 65536, 10e9),
            lat("fifo", Role::Mechanism, 64, 10_000),
            lat("fifo", Role::Mechanism, 65536, 40_000),
            thr("fifo", Role::Mechanism, 64, 0.1e9),
            thr("fifo", Role::Mechanism, 65536, 2e9),
            lat("raw-fifo", Role::Raw, 64, 9_000),
            lat("raw-fifo", Role::Raw, 65536, 40_000),
            thr("raw-fifo", Role::Raw, 64, 0.1e9),
            thr("raw-fifo", Role::Raw, 65536, 2.2e9),
            lat("sysvshm", Role::Mechanism, 64, 5_000),
            lat("sysvshm", Role::Mechanism, 65536, 20_000),
            thr("sysvshm", Role::Mechanism, 64, 0.05e9),
            thr("sysvshm", Role::Mechanism, 65536, 4e9),
            lat("sysvmq", Role::Mechanism, 64, 7_000),
            na(
                "sysvmq",
                Scenario::Latency,
                65536,
                "limit msgmax = 8192 B (/proc/sys/kernel/msgmax)",
            ),
            thr("sysvmq", Role::Mechanism, 64, 0.2e9),
            na(
                "sysvmq",
                Scenario::Throughput,
                65536,
                "limit msgmax = 8192 B (/proc/sys/kernel/msgmax)",
            ),
        ];
        Report::build(m, p, e, Duration::from_secs(1))
    }

    #[test]
    fn ratios_compare_with_the_limit_and_the_raw_loop() {
        let r = sample();
        let f = r.get("fifo", Scenario::Latency, 64).unwrap();
        assert_eq!(f.ratio_to_limit, Some(50.0));
        assert!((f.ratio_to_raw.unwrap() - 10_000.0 / 9_000.0).abs() < 1e-9);
        let f = r.get("fifo", Scenario::Throughput, 65536).unwrap();
        assert!((f.ratio_to_limit.unwrap() - 0.2).abs() < 0.01, "{f:?}");
        assert!((f.ratio_to_raw.unwrap() - 1.1).abs() < 0.01, "{f:?}");
        let na = r.get("sysvmq", Scenario::Latency, 65536).unwrap();
        assert_eq!(na.ratio_to_limit, None);
    }

    #[test]
    fn conclusions_are_judged_from_the_numbers() {
        let r = sample();
        assert_eq!(r.conclusions.len(), 2);
        // sysvshm is fastest in latency and throughput at 64 KiB.
        assert_eq!(r.conclusions[0].held, Some(true), "{:?}", r.conclusions[0]);
        assert!(r.conclusions[0].evidence.contains("sysvshm"));
        assert_eq!(r.conclusions[1].held, Some(true), "{:?}", r.conclusions[1]);
        assert!(
            r.conclusions[1].evidence.contains("fifo 10.0 µs"),
            "{}",
            r.conclusions[1].evidence
        );
    }

    #[test]
    fn a_conclusion_that_fails_is_reported_as_not_holding() {
        let mut r = sample();
        for e in &mut r.entries {
            if e.mechanism == "fifo" && e.scenario == Scenario::Latency {
                e.latency.as_mut().unwrap().p50_ns = 100;
            }
        }
        let c = r.derive_conclusions();
        assert_eq!(c[0].held, Some(false));
        assert_eq!(c[1].held, Some(false));
    }

    #[test]
    fn kernel_wrapper_targets_use_the_raw_loop() {
        let r = sample();
        let t = r
            .targets
            .iter()
            .find(|t| t.name.starts_with("fifo "))
            .unwrap();
        assert_eq!(t.met, Some(false));
        assert!((t.measured.unwrap() - 1.111).abs() < 0.01);
    }

    #[test]
    fn table_is_sorted_fastest_first_and_marks_na() {
        let text = sample().table();
        let lat = text.split("One-way throughput").next().unwrap();
        let spin = lat.find("limit-spin (limit)").unwrap();
        let shm = lat.find("sysvshm").unwrap();
        let mq = lat.find("sysvmq").unwrap();
        let fifo = lat.find("fifo").unwrap();
        assert!(spin < shm && shm < mq && mq < fifo, "{text}");
        assert!(text.contains("n/a"));
        assert!(text.contains("limit msgmax = 8192 B"));
        let tables = text.split("Performance targets").next().unwrap();
        assert!(
            !tables.contains("raw-fifo"),
            "raw baselines are hidden: {text}"
        );
        assert!(text.contains("×25.0"), "ratio to the limit: {text}");
        let thr = text.split("One-way throughput").nth(1).unwrap();
        assert!(thr.find("sysvshm").unwrap() < thr.find("fifo").unwrap());
        assert!(thr.find("fifo").unwrap() < thr.find("sysvmq").unwrap());
    }

    #[test]
    fn csv_has_one_line_per_entry_and_quotes_notes() {
        let r = sample();
        let csv = r.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), r.entries.len() + 1);
        let cols = lines[0].split(',').count();
        assert_eq!(cols, 19);
        assert!(csv.contains(
            "sysvmq,mechanism,latency,65536,n/a,limit msgmax = 8192 B (/proc/sys/kernel/msgmax)"
        ));
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn json_round_trips() {
        let r = sample();
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["entries"][17]["status"], "n/a");
    }

    #[test]
    fn budget_text_is_exact_for_tiny_budgets() {
        let mut p = sample().parameters;
        assert_eq!(p.budget_text(), "10 ms per measurement");
        p.duration_ms = Some(0.25);
        assert_eq!(p.budget_text(), "250 µs per measurement");
        p.duration_ms = Some(1e-6);
        assert_eq!(p.budget_text(), "1 ns per measurement");
        p.duration_ms = None;
        p.iterations = Some(1);
        assert_eq!(p.budget_text(), "1 iteration per measurement");
        p.iterations = Some(200);
        assert_eq!(p.budget_text(), "200 iterations per measurement");
    }
}
