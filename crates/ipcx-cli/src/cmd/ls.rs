//! `ipcx ls`: one table (or JSON document) of every IPC object visible to
//! the user; see [`ipcx::inventory`] for the sources and the liveness rules.

use std::io::Write;
use std::time::Duration;

use comfy_table::{presets, Table};
use ipcx::inventory::{self, Filter, Kind, Object};

use crate::cli::LsArgs;

/// Builds the filter shared by `ls` and `rm --stale`.
pub fn filter(
    kinds: &[String],
    owner: Option<&str>,
    pattern: Option<&str>,
    stale_only: bool,
) -> anyhow::Result<Filter> {
    let kinds = kinds
        .iter()
        .map(|k| k.parse::<Kind>())
        .collect::<Result<Vec<_>, _>>()?;
    let owner_uid = owner.map(inventory::parse_owner).transpose()?;
    Ok(Filter {
        kinds,
        owner_uid,
        pattern: pattern.map(str::to_owned),
        stale_only,
    })
}

/// The JSON document of `ipcx ls --json` (schema in docs/ls-json-schema.json).
#[derive(serde::Serialize)]
struct Document<'a> {
    schema_version: u32,
    objects: Vec<&'a Object>,
    notes: &'a [String],
}

/// Runs `ipcx ls`; returns the exit status.
pub fn run(args: LsArgs) -> anyhow::Result<i32> {
    let filter = filter(
        &args.kind,
        args.owner.as_deref(),
        args.pattern.as_deref(),
        args.stale,
    )?;
    let inv = inventory::list();
    let objects = inv.filtered(&filter);
    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = Document {
            schema_version: inventory::SCHEMA_VERSION,
            objects,
            notes: &inv.notes,
        };
        // As an io::Error, so a closed stdout (EPIPE) is recognised and exits 0.
        serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        if objects.is_empty() {
            writeln!(
                out,
                "no IPC objects{}",
                if args.stale { " are stale" } else { "" }
            )?;
        } else {
            writeln!(out, "{}", table(&objects))?;
        }
        out.flush()?;
        for note in &inv.notes {
            eprintln!("note: {note}");
        }
    }
    Ok(0)
}

/// The table of objects.
fn table(objects: &[&Object]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_BORDERS_ONLY);
    t.set_header([
        "kind", "name/key", "id", "owner", "mode", "size", "users", "creator", "alive?", "age",
    ]);
    for o in objects {
        t.add_row([
            o.kind.to_string(),
            name_cell(o),
            o.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
            o.owner.clone().unwrap_or_else(|| "-".into()),
            o.mode
                .map(|m| format!("{m:04o}"))
                .unwrap_or_else(|| "-".into()),
            size_cell(o),
            users_cell(o),
            creator_cell(o),
            if o.alive {
                "yes".into()
            } else {
                "STALE".into()
            },
            o.age_seconds
                .map(|s| humantime::format_duration(Duration::from_secs(s)).to_string())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

fn name_cell(o: &Object) -> String {
    let name = inventory::printable(&o.name);
    match (&o.socket, &o.ring) {
        (Some(s), _) => format!("{name} ({} {})", s.socket_type, s.state),
        (_, Some(r)) => format!("{name} (ring, {} B)", r.capacity),
        _ => name.into_owned(),
    }
}

fn size_cell(o: &Object) -> String {
    match o.kind {
        Kind::SysvMq => format!("{} msgs, {} B", o.count.unwrap_or(0), o.size.unwrap_or(0)),
        Kind::SysvSem => format!("{} sems", o.count.unwrap_or(0)),
        _ => o
            .size
            .map(|s| format!("{s} B"))
            .unwrap_or_else(|| "-".into()),
    }
}

fn pid_list(pids: &[u32]) -> String {
    let mut text = pids
        .iter()
        .take(3)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if pids.len() > 3 {
        text.push_str(&format!(" +{}", pids.len() - 3));
    }
    text
}

fn users_cell(o: &Object) -> String {
    if let Some(r) = &o.ring {
        let side = |p: Option<u32>, alive: bool| match p {
            Some(p) if alive => p.to_string(),
            Some(p) => format!("{p}(dead)"),
            None => "-".into(),
        };
        return format!(
            "P {} C {}",
            side(r.producer, r.producer_alive),
            side(r.consumer, r.consumer_alive)
        );
    }
    let pids = pid_list(&o.users);
    match o.attached {
        Some(n) if pids.is_empty() => format!("{n} att"),
        Some(n) => format!("{n} att: {pids}"),
        None if pids.is_empty() => "-".into(),
        None => pids,
    }
}

fn creator_cell(o: &Object) -> String {
    if let Some(c) = &o.creator {
        return if c.alive {
            c.pid.to_string()
        } else {
            format!("{} (dead)", c.pid)
        };
    }
    if o.last_pids.is_empty() {
        return "-".into();
    }
    o.last_pids
        .iter()
        .map(|l| {
            format!(
                "{} {}{}",
                l.role,
                l.pid,
                if l.alive { "" } else { " (dead)" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
