//! Process orchestration and the measurement loops.

use std::os::fd::{AsFd, BorrowedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hdrhistogram::Histogram;

use crate::config::{Budget, Config};
use crate::control::{Control, Order, Reply};
use crate::link::Link;
use crate::mechs::{self, MechanismInfo};
use crate::report::{Entry, Machine, Parameters, Report, Scenario, Status};
use crate::stats::{self, LatencySummary, ThroughputSummary};

/// Progress of a run, reported before each measurement.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Measurements finished so far.
    pub done: usize,
    /// Measurements in the whole run.
    pub total: usize,
    /// What is being measured now, e.g. `pipe latency 64 B`.
    pub current: String,
}

/// Most iterations of one measurement, whatever the budget.
const MAX_ITERATIONS: u64 = 20_000_000;
/// Fewest measured iterations in duration mode.
const MIN_ITERATIONS: u64 = 20;
/// How long the peer may take to join a mechanism.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the benchmark described by `config`.
///
/// `spawn` returns a command that starts a peer process which calls
/// [`child_main`] (for the `ipcx` binary: `ipcx bench --child`); the engine
/// sets its standard input to the control socket. `progress` is called before
/// each measurement.
///
/// A mechanism that fails is recorded with status `error` and the run goes
/// on.
///
/// # Errors
/// Bad configuration (an unknown mechanism, no sizes), or a failure to start
/// peers at all.
pub fn run(
    config: &Config,
    spawn: &dyn Fn() -> Command,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<Report> {
    if config.sizes.is_empty() {
        bail!("no message sizes to measure");
    }
    let mut sizes = config.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let selected = mechs::select(&config.mechanisms, config.raw_baselines)?;
    let total: usize = selected
        .iter()
        .map(|m| sizes.len() * (usize::from(m.latency) + usize::from(m.throughput)))
        .sum();
    let started = Instant::now();
    let (machine, pin) = Pinning::setup(config.pin);
    let mut done = 0usize;
    // Each raw loop is measured right after its mechanism, so that a change
    // of load during the run does not skew the wrapper-versus-raw ratio; the
    // report keeps the selection's order.
    let mut order: Vec<usize> = Vec::with_capacity(selected.len());
    for (i, info) in selected.iter().enumerate() {
        if order.contains(&i) {
            continue;
        }
        order.push(i);
        if let Some(j) = info
            .raw
            .and_then(|r| selected.iter().position(|m| m.id == r))
        {
            if !order.contains(&j) {
                order.push(j);
            }
        }
    }
    let mut by_index: Vec<Vec<Entry>> = vec![Vec::new(); selected.len()];
    for &index in &order {
        let info = &selected[index];
        let mut cells = Vec::new();
        for scenario in [Scenario::Latency, Scenario::Throughput] {
            let wanted = match scenario {
                Scenario::Latency => info.latency,
                Scenario::Throughput => info.throughput,
            };
            if wanted {
                cells.extend(sizes.iter().map(|&s| (scenario, s)));
            }
        }
        let mut report_progress = |what: &str| {
            progress(Progress {
                done,
                total,
                current: format!("{} {what}", info.id),
            })
        };
        report_progress("");
        let results = if info.id == mechs::LIMIT_MEMCPY {
            cells
                .iter()
                .map(|&(scenario, size)| {
                    let r = memcpy(config, size);
                    entry(info, scenario, size, r)
                })
                .collect()
        } else {
            measure_mechanism(
                config,
                spawn,
                info,
                &cells,
                pin.child_cpu,
                &mut |s, size| report_progress(&format!("{s} {}", stats::format_size(size))),
            )
        };
        done += cells.len();
        by_index[index] = results;
    }
    let entries: Vec<Entry> = by_index.into_iter().flatten().collect();
    progress(Progress {
        done,
        total,
        current: "done".into(),
    });
    pin.restore();
    Ok(Report::build(
        machine,
        Parameters::from_config(config, &sizes),
        entries,
        started.elapsed(),
    ))
}

/// The result of one measurement.
enum Measured {
    Latency(LatencySummary),
    Throughput(ThroughputSummary),
}

fn entry(
    info: &MechanismInfo,
    scenario: Scenario,
    size: usize,
    r: Result<Measured, Outcome>,
) -> Entry {
    let mut e = Entry {
        mechanism: info.id.to_string(),
        label: info.label.to_string(),
        role: info.role,
        scenario,
        size: size as u64,
        status: Status::Ok,
        note: None,
        latency: None,
        throughput: None,
        ratio_to_limit: None,
        ratio_to_raw: None,
    };
    match r {
        Ok(Measured::Latency(l)) => e.latency = Some(l),
        Ok(Measured::Throughput(t)) => e.throughput = Some(t),
        Err(Outcome::NotApplicable(why)) => {
            e.status = Status::NotApplicable;
            e.note = Some(why);
        }
        Err(Outcome::Failed(why)) => {
            e.status = Status::Error;
            e.note = Some(why);
        }
    }
    e
}

/// Why a measurement has no numbers.
enum Outcome {
    NotApplicable(String),
    Failed(String),
}

/// `memcpy` between two buffers of `size` bytes, in this process.
fn memcpy(config: &Config, size: usize) -> Result<Measured, Outcome> {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    let mut batch = |n: u64| -> anyhow::Result<Duration> {
        let t = Instant::now();
        for _ in 0..n {
            dst.copy_from_slice(std::hint::black_box(&src));
            std::hint::black_box(&mut dst);
        }
        Ok(t.elapsed())
    };
    let count = calibrate(config, &mut batch).map_err(|e| Outcome::Failed(format!("{e:#}")))?;
    let elapsed = batch(count).map_err(|e| Outcome::Failed(format!("{e:#}")))?;
    Ok(Measured::Throughput(ThroughputSummary::new(
        count, size, elapsed,
    )))
}

/// Warms up with `batch` and returns how many iterations to measure.
fn calibrate(
    config: &Config,
    batch: &mut dyn FnMut(u64) -> anyhow::Result<Duration>,
) -> anyhow::Result<u64> {
    match (config.warmup(), config.budget) {
        (Budget::Iterations(w), Budget::Iterations(n)) => {
            batch(w)?;
            Ok(n.max(1))
        }
        (Budget::Duration(w), Budget::Duration(d)) => {
            let start = Instant::now();
            let mut n = 1u64;
            // The measured count comes from the mean time per iteration of
            // the warm-up batches after the first (which touches fresh pages
            // and wakes the peer). The mean, not the fastest batch: on a
            // loaded machine one lucky batch would otherwise make the
            // measurement run many times its budget.
            let mut first: Option<f64> = None;
            let (mut spent, mut iters) = (0.0f64, 0u64);
            loop {
                let took = batch(n)?.as_secs_f64();
                if first.is_none() {
                    first = Some(took / n as f64);
                } else {
                    spent += took;
                    iters += n;
                }
                if start.elapsed() >= w || n >= MAX_ITERATIONS {
                    break;
                }
                let per = if iters > 0 {
                    spent / iters as f64
                } else {
                    first.unwrap_or(f64::INFINITY)
                };
                // Aim the next batch at the rest of the warm-up, at most doubling.
                let rest = w.saturating_sub(start.elapsed()).as_secs_f64();
                n = ((rest / per.max(1e-9)) as u64).clamp(1, n * 2);
            }
            let per = if iters > 0 {
                spent / iters as f64
            } else {
                first.unwrap_or(f64::INFINITY)
            };
            let count = (d.as_secs_f64() / per.max(1e-9)).ceil() as u64;
            Ok(count.clamp(MIN_ITERATIONS, MAX_ITERATIONS))
        }
        _ => unreachable!("warm-up has the budget's kind"),
    }
}

/// Measures one mechanism in a fresh peer process.
fn measure_mechanism(
    config: &Config,
    spawn: &dyn Fn() -> Command,
    info: &MechanismInfo,
    cells: &[(Scenario, usize)],
    child_cpu: Option<usize>,
    progress: &mut dyn FnMut(Scenario, usize),
) -> Vec<Entry> {
    let driver = info
        .driver
        .expect("a driver for every process-pair mechanism");
    let mut results: Vec<Option<Result<Measured, Outcome>>> = cells
        .iter()
        .map(|&(_, size)| {
            driver
                .check_size(size)
                .err()
                .map(|why| Err(Outcome::NotApplicable(why)))
        })
        .collect();
    let max_size = cells
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|((_, s), _)| *s)
        .max();
    if let Some(max_size) = max_size {
        let mut session = Session::start(spawn, info, max_size, child_cpu);
        for (i, &(scenario, size)) in cells.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            progress(scenario, size);
            let r = match &mut session {
                Ok(s) => s.measure(config, scenario, size, driver.window(size)),
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            };
            results[i] = Some(r.map_err(|e| Outcome::Failed(format!("{e:#}"))));
            if results[i].as_ref().is_some_and(|r| r.is_err()) {
                // The link is in an unknown state: fail the rest of this mechanism.
                let why = match &results[i] {
                    Some(Err(Outcome::Failed(w))) => w.clone(),
                    _ => String::new(),
                };
                for r in results.iter_mut().skip(i + 1) {
                    if r.is_none() {
                        *r = Some(Err(Outcome::Failed(format!("not measured after: {why}"))));
                    }
                }
                break;
            }
        }
        if let Ok(s) = session {
            s.finish();
        }
    }
    cells
        .iter()
        .zip(results)
        .map(|(&(scenario, size), r)| {
            entry(
                info,
                scenario,
                size,
                r.unwrap_or(Err(Outcome::Failed("not run".into()))),
            )
        })
        .collect()
}

/// A peer process joined to one mechanism.
struct Session {
    child: Child,
    ctl: Control,
    link: Box<dyn Link>,
    watchdog: Watchdog,
    msg: Vec<u8>,
    buf: Vec<u8>,
}

impl Session {
    fn start(
        spawn: &dyn Fn() -> Command,
        info: &MechanismInfo,
        max_size: usize,
        cpu: Option<usize>,
    ) -> anyhow::Result<Session> {
        let driver = info.driver.expect("driver");
        let (mut ctl, theirs) = Control::pair()?;
        let mut cmd = spawn();
        cmd.stdin(Stdio::from(theirs)).stdout(Stdio::null());
        let child = cmd.spawn().context("starting the bench peer process")?;
        // The command holds our copy of the peer's end: close it, so that a
        // peer that dies shows up as a hang-up instead of silence.
        drop(cmd);
        let watchdog = Watchdog::new(child.id());
        let fail = |child: Child, e: anyhow::Error| -> anyhow::Error {
            reap(child);
            e
        };
        watchdog.arm(SETUP_TIMEOUT);
        let hello = Order::Hello {
            mechanism: info.id.to_string(),
            max_size,
            cpu,
        };
        if let Err(e) = ctl.send(&hello, &[]) {
            return Err(fail(child, e));
        }
        let setup = match driver.create(max_size) {
            Ok(s) => s,
            Err(e) => return Err(fail(child, e.context(format!("{}: setting up", info.id)))),
        };
        let fds: Vec<BorrowedFd<'_>> = setup.fds.iter().map(|f| f.as_fd()).collect();
        if let Err(e) = ctl.send(
            &Order::Setup {
                params: setup.params.clone(),
            },
            &fds,
        ) {
            return Err(fail(child, e));
        }
        drop(fds);
        drop(setup.fds);
        let link = match (setup.finish)() {
            Ok(l) => l,
            Err(e) => return Err(fail(child, e.context(format!("{}: setting up", info.id)))),
        };
        match ctl.recv::<Reply>(SETUP_TIMEOUT) {
            Ok((Reply::Ready { .. }, _)) => {}
            Ok((Reply::Failed { error }, _)) => {
                return Err(fail(child, anyhow::anyhow!("peer: {error}")))
            }
            Ok((other, _)) => {
                return Err(fail(child, anyhow::anyhow!("peer: unexpected {other:?}")))
            }
            Err(e) => return Err(fail(child, e)),
        }
        watchdog.disarm();
        Ok(Session {
            child,
            ctl,
            link,
            watchdog,
            msg: vec![0xa5; max_size],
            buf: vec![0; max_size],
        })
    }

    fn measure(
        &mut self,
        config: &Config,
        scenario: Scenario,
        size: usize,
        window: Option<u64>,
    ) -> anyhow::Result<Measured> {
        let latency = scenario == Scenario::Latency;
        let count = calibrate(config, &mut |n| self.batch(latency, size, n, window, None))?;
        if latency {
            let mut h = stats::new_histogram();
            self.batch(true, size, count, window, Some(&mut h))?;
            let summary = LatencySummary::from_histogram(&h).context("no samples")?;
            Ok(Measured::Latency(summary))
        } else {
            let elapsed = self.batch(false, size, count, window, None)?;
            Ok(Measured::Throughput(ThroughputSummary::new(
                count, size, elapsed,
            )))
        }
    }

    /// Runs `count` iterations of one scenario on both sides.
    fn batch(
        &mut self,
        latency: bool,
        size: usize,
        count: u64,
        window: Option<u64>,
        mut hist: Option<&mut Histogram<u64>>,
    ) -> anyhow::Result<Duration> {
        // Generous: 10 ms per iteration plus 20 s.
        self.watchdog.arm(
            Duration::from_secs(20)
                + Duration::from_millis(10).saturating_mul(count.min(1 << 20) as u32),
        );
        self.ctl.send(
            &Order::Run {
                latency,
                size,
                count,
                window: if latency { None } else { window },
            },
            &[],
        )?;
        let msg = &mut self.msg[..size];
        let buf = &mut self.buf[..size];
        let start = Instant::now();
        if latency {
            for i in 0..count {
                msg[0] = i as u8;
                let t = Instant::now();
                self.link.send(msg)?;
                self.link.recv(buf)?;
                if let Some(h) = hist.as_deref_mut() {
                    stats::record(h, t.elapsed());
                }
                if buf[0] != msg[0] {
                    bail!("round trip {i}: the echo carries the wrong message");
                }
            }
        } else {
            let mut credit = [0u8; 1];
            for i in 0..count {
                msg[0] = i as u8;
                self.link.send(msg)?;
                if let Some(w) = window {
                    if (i + 1) % w == 0 && i + 1 < count {
                        self.link.recv(&mut credit)?;
                    }
                }
            }
        }
        let reply = self.ctl.recv::<Reply>(Duration::from_secs(60));
        let elapsed = start.elapsed();
        self.watchdog.disarm();
        match reply? {
            (Reply::Done, _) => Ok(elapsed),
            (Reply::Failed { error }, _) => bail!("peer: {error}"),
            (other, _) => bail!("peer: unexpected {other:?}"),
        }
    }

    fn finish(mut self) {
        let _ = self.ctl.send(&Order::Exit, &[]);
        self.watchdog.arm(Duration::from_secs(10));
        let _ = self.child.wait();
        self.watchdog.disarm();
    }
}

fn reap(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the peer if a phase overruns its deadline (unblocking the parent
/// where the mechanism reports a dead peer), and gives up on the whole
/// process if even that does not help.
struct Watchdog {
    state: Arc<(Mutex<WatchState>, Condvar)>,
}

struct WatchState {
    deadline: Option<Instant>,
    quit: bool,
}

impl Watchdog {
    fn new(pid: u32) -> Watchdog {
        let state = Arc::new((
            Mutex::new(WatchState {
                deadline: None,
                quit: false,
            }),
            Condvar::new(),
        ));
        let s = state.clone();
        std::thread::spawn(move || {
            let (lock, cv) = &*s;
            let mut st = lock.lock().unwrap();
            let mut killed_at: Option<Instant> = None;
            loop {
                if st.quit {
                    return;
                }
                let now = Instant::now();
                match (st.deadline, killed_at) {
                    (Some(d), None) if now >= d => {
                        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                            let _ =
                                rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                        }
                        killed_at = Some(now);
                    }
                    (Some(_), Some(k)) if now >= k + Duration::from_secs(5) => {
                        eprintln!("ipcx bench: a measurement hung and its peer could not be stopped; giving up");
                        std::process::exit(1);
                    }
                    (None, _) => killed_at = None,
                    _ => {}
                }
                let wait = match (st.deadline, killed_at) {
                    (_, Some(k)) => (k + Duration::from_secs(5)).saturating_duration_since(now),
                    (Some(d), None) => d.saturating_duration_since(now),
                    (None, None) => Duration::from_secs(3600),
                };
                st = cv
                    .wait_timeout(st, wait.max(Duration::from_millis(1)))
                    .unwrap()
                    .0;
            }
        });
        Watchdog { state }
    }

    fn arm(&self, timeout: Duration) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().deadline = Some(Instant::now() + timeout);
        cv.notify_one();
    }

    fn disarm(&self) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().deadline = None;
        cv.notify_one();
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cv) = &*self.state;
        lock.lock().unwrap().quit = true;
        cv.notify_one();
    }
}

/// CPU pinning of the measuring process and its peers.
struct Pinning {
    original: Option<rustix::thread::CpuSet>,
    child_cpu: Option<usize>,
}

impl Pinning {
    fn setup(want: bool) -> (Machine, Pinning) {
        let online = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let allowed = rustix::thread::sched_getaffinity(None).ok();
        let cpus: Vec<usize> = allowed
            .as_ref()
            .map(|set| {
                (0..rustix::thread::CpuSet::MAX_CPU)
                    .filter(|&c| set.is_set(c))
                    .collect()
            })
            .unwrap_or_default();
        let kernel = rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned();
        let mut machine = Machine {
            cpus_allowed: cpus.len(),
            cpus_online: online,
            pinned: None,
            pinning_note: String::new(),
            kernel,
        };
        let mut pin = Pinning {
            original: None,
            child_cpu: None,
        };
        if !want {
            machine.pinning_note = "not pinned (pinning turned off)".into();
        } else if cpus.len() < 2 {
            machine.pinning_note = format!(
                "not pinned: only {} CPU allowed, so both processes share it",
                cpus.len()
            );
        } else {
            let (a, b) = (cpus[0], cpus[1]);
            let mut set = rustix::thread::CpuSet::new();
            set.set(a);
            match rustix::thread::sched_setaffinity(None, &set) {
                Ok(()) => {
                    pin.original = allowed;
                    pin.child_cpu = Some(b);
                    machine.pinned = Some(vec![a, b]);
                    machine.pinning_note = format!("measuring process on CPU {a}, peer on CPU {b}");
                }
                Err(e) => {
                    machine.pinning_note = format!("not pinned: sched_setaffinity failed: {e}")
                }
            }
        }
        (machine, pin)
    }

    fn restore(self) {
        if let Some(set) = self.original {
            let _ = rustix::thread::sched_setaffinity(None, &set);
        }
    }
}

/// The peer process's side: reads orders from the control socket on standard
/// input, joins the mechanism, and runs its half of every measurement. Call
/// it from the program that the `spawn` command of [`run`] starts.
///
/// # Errors
/// Any failure; it is also reported to the measuring process.
pub fn child_main() -> anyhow::Result<()> {
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("the bench control socket on standard input")?;
    let mut ctl = Control::from_fd(fd);
    // Die with the parent rather than linger blocked on a mechanism.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let result = child_session(&mut ctl);
    if let Err(e) = &result {
        let _ = ctl.send(
            &Reply::Failed {
                error: format!("{e:#}"),
            },
            &[],
        );
    }
    result
}

fn child_session(ctl: &mut Control) -> anyhow::Result<()> {
    let (hello, _) = ctl.recv::<Order>(SETUP_TIMEOUT)?;
    let Order::Hello {
        mechanism,
        max_size,
        cpu,
    } = hello
    else {
        bail!("bench peer: expected Hello, got {hello:?}");
    };
    let pinned = cpu.map(|c| {
        let mut set = rustix::thread::CpuSet::new();
        set.set(c);
        match rustix::thread::sched_setaffinity(None, &set) {
            Ok(()) => format!("CPU {c}"),
            Err(e) => format!("not pinned: {e}"),
        }
    });
    let info = mechs::find(&mechanism)
        .with_context(|| format!("bench peer: unknown mechanism {mechanism:?}"))?;
    let driver = info
        .driver
        .context("bench peer: this baseline runs in one process")?;
    let (setup, fds) = ctl.recv::<Order>(SETUP_TIMEOUT)?;
    let Order::Setup { params } = setup else {
        bail!("bench peer: expected Setup, got {setup:?}");
    };
    let mut link = driver.join(&params, fds, max_size)?;
    ctl.send(&Reply::Ready { pinned }, &[])?;
    let mut buf = vec![0u8; max_size];
    loop {
        let (order, _) = ctl.recv::<Order>(Duration::from_secs(600))?;
        match order {
            Order::Run {
                latency,
                size,
                count,
                window,
            } => {
                if size > max_size {
                    bail!("bench peer: size {size} above the announced {max_size}");
                }
                let buf = &mut buf[..size];
                for i in 0..count {
                    link.recv(buf)?;
                    if buf[0] != i as u8 {
                        bail!("message {i} arrived out of order or corrupted");
                    }
                    if latency {
                        link.send(buf)?;
                    } else if let Some(w) = window {
                        if (i + 1) % w == 0 && i + 1 < count {
                            link.send(&[0])?;
                        }
                    }
                }
                ctl.send(&Reply::Done, &[])?;
            }
            Order::Exit => return Ok(()),
            other => bail!("bench peer: unexpected {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_in_iterations_mode_is_exact() {
        let config = Config {
            budget: Budget::Iterations(50),
            ..Config::default()
        };
        let mut calls = Vec::new();
        let n = calibrate(&config, &mut |n| {
            calls.push(n);
            Ok(Duration::from_micros(n))
        })
        .unwrap();
        assert_eq!(n, 50);
        assert_eq!(calls, vec![5]);
    }

    #[test]
    fn calibration_in_duration_mode_aims_at_the_budget() {
        let config = Config {
            budget: Budget::Duration(Duration::from_millis(10)),
            ..Config::default()
        };
        // Each iteration "takes" 1 µs of real time.
        let n = calibrate(&config, &mut |n| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(n) {}
            Ok(t.elapsed())
        })
        .unwrap();
        assert!((2_000..=20_000).contains(&n), "{n}");
    }
}
