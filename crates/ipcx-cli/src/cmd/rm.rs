//! `ipcx rm`: remove IPC objects by kind and name, key or id, or every stale
//! object (`--stale`, exactly what `ipcx ls --stale` shows with the same filters).

use ipcx::inventory::{self, Kind, Object, Target};

use crate::cli::RmArgs;

/// Runs `ipcx rm`; returns the exit status: 0 when everything named was
/// removed (or would be, with `--dry-run`), 1 when anything failed.
pub fn run(args: RmArgs) -> anyhow::Result<i32> {
    if args.objects.is_empty() && !args.stale {
        anyhow::bail!(
            "nothing to remove: name objects ({}) or use --stale",
            inventory::ACCEPTED_FORMS
        );
    }
    // Parse everything first: a typo removes nothing.
    let sysv_kind = match args.kind.as_slice() {
        [one] => Some(one.parse::<Kind>()?)
            .filter(|k| matches!(k, Kind::SysvMq | Kind::SysvShm | Kind::SysvSem)),
        _ => None,
    };
    let targets = args
        .objects
        .iter()
        .map(|s| {
            s.parse::<Target>().map(|t| match t {
                Target::SysvId { kind: None, id } => Target::SysvId {
                    kind: sysv_kind,
                    id,
                },
                t => t,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let filter = super::ls::filter(
        &args.kind,
        args.owner.as_deref(),
        args.pattern.as_deref(),
        true,
    )?;

    let inv = inventory::list();
    let mut chosen: Vec<Object> = Vec::new();
    let mut failed = 0;
    // The same object may be named twice (`32768 sysvmq:id=32768`, or
    // also matched by --stale): it is removed once.
    let same = |a: &Object, b: &Object| a.kind == b.kind && a.id == b.id && a.path == b.path;
    for t in &targets {
        match inventory::find(&inv, t) {
            Ok(o) if chosen.iter().any(|c| same(c, &o)) => {}
            Ok(o) => chosen.push(o),
            Err(e) => {
                eprintln!("ipcx: {e}");
                failed += 1;
            }
        }
    }
    if args.stale {
        for o in inv.filtered(&filter) {
            if !chosen.iter().any(|c| same(c, o)) {
                chosen.push(o.clone());
            }
        }
    }
    for o in &chosen {
        if args.dry_run {
            if o.alive && !args.force {
                eprintln!(
                    "ipcx: {}: in use: {}; would not be removed without --force",
                    o.describe(),
                    o.reason
                );
                failed += 1;
            } else {
                println!("would remove {} ({})", o.spec(), o.reason);
            }
            continue;
        }
        match inventory::remove(o, args.force) {
            Ok(()) => println!("removed {}", o.spec()),
            Err(e @ ipcx::Error::InUse { .. }) => {
                eprintln!("ipcx: {e}; --force removes it anyway");
                failed += 1;
            }
            Err(e) => {
                eprintln!("ipcx: {e}");
                failed += 1;
            }
        }
    }
    if args.stale && chosen.is_empty() {
        eprintln!("no stale IPC objects");
    }
    Ok(if failed > 0 { 1 } else { 0 })
}
