//! `ipcx limits`: every kernel limit that shapes IPC, its value here, where
//! the value comes from and what it limits.

use std::io::Write;

use comfy_table::{presets, Table};

use crate::cli::LimitsArgs;

/// The JSON document of `ipcx limits --json`.
#[derive(serde::Serialize)]
struct Document {
    schema_version: u32,
    limits: Vec<ipcx::limits::LimitInfo>,
}

/// Runs `ipcx limits`; returns the exit status.
pub fn run(args: LimitsArgs) -> anyhow::Result<i32> {
    let limits = ipcx::limits::all();
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = Document {
            schema_version: 1,
            limits,
        };
        // As an io::Error, so a closed stdout (EPIPE) is recognised and exits 0.
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(0);
    }
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY);
    t.set_header(["limit", "value", "source", "what it limits"]);
    for l in &limits {
        let value = match (&l.error, l.value) {
            (Some(e), _) => format!("unreadable: {e}"),
            (None, None) => "unlimited".to_owned(),
            (None, Some(v)) if l.unlimited => format!("{v} (no limit)"),
            (None, Some(v)) => format!("{v} {}", l.unit),
        };
        let source = match l.field {
            Some(i) => format!("{} (field {})", l.source, i + 1),
            None => l.source.to_owned(),
        };
        t.add_row([l.name.to_owned(), value, source, l.limits.to_owned()]);
    }
    writeln!(out, "{t}")?;
    Ok(0)
}
