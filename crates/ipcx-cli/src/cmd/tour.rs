//! `ipcx tour [MECHANISM…]`.

use std::time::Instant;

use comfy_table::Table;

use crate::cli::TourArgs;
use crate::tour::{Reporter, MODULES};

/// Runs the tour; exit status 1 if any scenario failed.
pub fn run(args: TourArgs) -> anyhow::Result<i32> {
    for name in &args.mechanisms {
        if !MODULES.iter().any(|m| m.name == name) {
            let names: Vec<_> = MODULES.iter().map(|m| m.name).collect();
            anyhow::bail!(
                "ipcx tour: unknown mechanism {name:?}; expected one of {}",
                names.join(", ")
            );
        }
    }
    let mut rows = Vec::new();
    for module in MODULES {
        if !args.mechanisms.is_empty() && !args.mechanisms.iter().any(|n| n == module.name) {
            continue;
        }
        let scenarios = (module.scenarios)();
        if scenarios.is_empty() {
            // Several modules may share a name (shm: System V segments and
            // the ring); only a name with no scenarios at all is an error.
            let others_have_some = MODULES
                .iter()
                .any(|m| m.name == module.name && !(m.scenarios)().is_empty());
            if !args.mechanisms.is_empty() && !others_have_some {
                anyhow::bail!(
                    "ipcx tour {}: this mechanism's scenarios are not built yet",
                    module.name
                );
            }
            continue;
        }
        for scenario in scenarios {
            println!("== {}: {}", scenario.mechanism, scenario.title);
            let mut reporter = Reporter::new();
            let start = Instant::now();
            let result = (scenario.run)(&mut reporter);
            let elapsed = start.elapsed();
            let verdict = match &result {
                Ok(()) => "passed".to_string(),
                Err(e) => format!("FAILED: {e:#}"),
            };
            println!("  => {verdict} ({:.1} ms)\n", elapsed.as_secs_f64() * 1e3);
            let facts: Vec<String> = reporter
                .facts
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            rows.push((
                scenario.mechanism,
                scenario.title,
                result.is_ok(),
                elapsed,
                facts.join("; "),
            ));
        }
    }
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(vec!["mechanism", "scenario", "result", "time", "measured"]);
    for (mech, title, ok, elapsed, facts) in &rows {
        table.add_row(vec![
            mech.to_string(),
            title.to_string(),
            if *ok {
                "passed".into()
            } else {
                "FAILED".into()
            },
            format!("{:.1} ms", elapsed.as_secs_f64() * 1e3),
            facts.clone(),
        ]);
    }
    println!("{table}");
    if args.mechanisms.is_empty() && !crate::tour::conclusions::run()? {
        rows.push((
            "bench",
            "seed conclusions",
            false,
            std::time::Duration::ZERO,
            String::new(),
        ));
    }
    let failed = rows.iter().filter(|r| !r.2).count();
    println!("{} passed, {} failed", rows.len() - failed, failed);
    Ok(if failed == 0 { 0 } else { 1 })
}
