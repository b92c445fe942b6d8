//! `ipcx bench`: latency and throughput of every mechanism, side by side with
//! the physical limits, as a table, JSON or CSV, and optionally an SVG chart.

use std::io::Write;
use std::process::Command;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ipcx_bench::{Budget, Config};

use crate::cli::BenchArgs;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Json,
    Csv,
}

/// A command that starts this executable as a bench peer.
pub fn peer_command() -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| "ipcx".into());
    let mut cmd = Command::new(exe);
    cmd.arg("bench").arg("--child");
    cmd
}

/// Registers [`ipcx_bench::remove_leftovers`] with the cleanup registry while
/// the returned guard lives: Ctrl-C ends the command without running the
/// measurement's destructors, so the FIFOs, queues, segments and semaphore
/// sets it made are removed then.
pub fn remove_leftovers_on_signal() -> crate::cleanup::Guard {
    let mut section = crate::cleanup::creating();
    let guard = section.on_signal(ipcx_bench::remove_leftovers);
    drop(section);
    guard
}

/// Builds the run's configuration from the command line.
fn config(args: &BenchArgs) -> anyhow::Result<Config> {
    let mut config = if args.quick {
        Config::quick()
    } else {
        Config::default()
    };
    if !args.mechanisms.is_empty() {
        config.mechanisms = args.mechanisms.clone();
    }
    if !args.sizes.is_empty() {
        config.sizes = args
            .sizes
            .iter()
            .map(|s| ipcx_bench::parse_size(s))
            .collect::<anyhow::Result<_>>()?;
    }
    if let Some(d) = args.duration {
        if d.is_zero() {
            bail!("--duration must be more than zero");
        }
        config.budget = Budget::Duration(d);
    }
    if let Some(n) = args.iterations {
        if n == 0 {
            bail!("--iterations must be at least 1");
        }
        config.budget = Budget::Iterations(n);
    }
    Ok(config)
}

fn format(args: &BenchArgs) -> anyhow::Result<Format> {
    if args.json {
        return Ok(Format::Json);
    }
    if args.csv {
        return Ok(Format::Csv);
    }
    match args.format.as_str() {
        "table" => Ok(Format::Table),
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        other => bail!("unknown --format {other:?}; expected table, json or csv"),
    }
}

/// Fails early, before a run of up to a minute, when the chart could not be
/// written to `path`: its directory is missing or it names a directory.
fn check_svg_path(path: &std::path::Path) -> anyhow::Result<()> {
    if path.is_dir() {
        bail!("--svg {}: is a directory", path.display());
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "--svg {}: no directory {}",
            path.display(),
            parent.display()
        );
    }
    Ok(())
}

/// Runs `ipcx bench`; returns the exit status (1 when a measurement failed).
pub fn run(args: BenchArgs) -> anyhow::Result<i32> {
    if args.child {
        ipcx_bench::child_main()?;
        return Ok(0);
    }
    let format = format(&args)?;
    let config = config(&args)?;
    if let Some(path) = &args.svg {
        check_svg_path(path)?;
    }
    let _cleanup = remove_leftovers_on_signal();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("valid progress template"),
    );
    let report = ipcx_bench::run(&config, &peer_command, &mut |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        bar.set_message(p.current);
    });
    bar.finish_and_clear();
    let report = report?;
    let text = match format {
        Format::Table => report.table(),
        Format::Json => report.to_json() + "\n",
        Format::Csv => report.to_csv(),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing the report")?;
    if let Some(path) = &args.svg {
        ipcx_bench::write_svg(&report, path)?;
        eprintln!("ipcx bench: wrote the chart to {}", path.display());
    }
    let errors = report.errors();
    if let Some(first) = errors.first() {
        eprintln!(
            "ipcx: {} measurement(s) failed; first: {} {} {} B: {}",
            errors.len(),
            first.mechanism,
            first.scenario,
            first.size,
            first.note.as_deref().unwrap_or("")
        );
        return Ok(1);
    }
    Ok(0)
}
