//! The engine run end to end between two real processes, with the
//! `ipcx-bench-peer` program as the peer.

use std::process::Command;

use ipcx_bench::{Budget, Config, Role, Scenario, Status};

fn peer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ipcx-bench-peer"))
}

fn config(mechanisms: &[&str]) -> Config {
    Config {
        mechanisms: mechanisms.iter().map(|m| m.to_string()).collect(),
        sizes: vec![64, 4096],
        budget: Budget::Iterations(50),
        pin: true,
        raw_baselines: true,
    }
}

#[test]
fn scenarios_run_between_two_processes_with_their_baselines() {
    let mut seen = Vec::new();
    let report = ipcx_bench::run(&config(&["pipe", "ring-spin"]), &peer, &mut |p| {
        seen.push((p.done, p.total))
    })
    .unwrap();
    let ids: Vec<&str> = report
        .entries
        .iter()
        .map(|e| e.mechanism.as_str())
        .collect();
    for id in [
        "limit-spin",
        "limit-futex",
        "limit-memcpy",
        "pipe",
        "raw-pipe",
        "ring-spin",
    ] {
        assert!(ids.contains(&id), "{id} missing: {ids:?}");
    }
    for e in &report.entries {
        assert_eq!(e.status, Status::Ok, "{e:?}");
        match e.scenario {
            Scenario::Latency => assert_eq!(e.latency.unwrap().samples, 50, "{e:?}"),
            Scenario::Throughput => assert_eq!(e.throughput.unwrap().messages, 50, "{e:?}"),
        }
    }
    // Raw baselines are measured but hidden; ratios are derived.
    let pipe = report.get("pipe", Scenario::Latency, 64).unwrap();
    assert!(pipe.ratio_to_raw.is_some() && pipe.ratio_to_limit.is_some());
    assert_eq!(
        report.get("raw-pipe", Scenario::Latency, 64).unwrap().role,
        Role::Raw
    );
    // Progress runs from 0 to the total, never backwards.
    let total = seen[0].1;
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{seen:?}");
    assert_eq!(seen.last().unwrap().0, total);
    assert_eq!(total, report.entries.len());
}

#[test]
fn a_peer_that_cannot_start_is_an_error_entry_and_the_run_goes_on() {
    let report = ipcx_bench::run(
        &config(&["pipe"]),
        &|| Command::new("/nonexistent/ipcx-peer"),
        &mut |_| {},
    )
    .unwrap();
    let pipe = report.get("pipe", Scenario::Latency, 64).unwrap();
    assert_eq!(pipe.status, Status::Error);
    assert!(
        pipe.note
            .as_deref()
            .unwrap()
            .contains("starting the bench peer"),
        "{pipe:?}"
    );
    // memcpy needs no peer.
    let memcpy = report
        .get("limit-memcpy", Scenario::Throughput, 64)
        .unwrap();
    assert_eq!(memcpy.status, Status::Ok);
    assert!(!report.errors().is_empty());
}

#[test]
fn a_peer_that_exits_at_once_is_reported_not_waited_for() {
    let report =
        ipcx_bench::run(&config(&["pipe"]), &|| Command::new("true"), &mut |_| {}).unwrap();
    let pipe = report.get("pipe", Scenario::Throughput, 4096).unwrap();
    assert_eq!(pipe.status, Status::Error, "{pipe:?}");
}
