//! `ipcx bench`: every mechanism runs, the outputs have their documented
//! shapes, bad input is a one-line error. No timing assertions.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::util::ipcx;

/// Every mechanism and baseline `ipcx bench` knows.
const ALL: &[&str] = &[
    "limit-spin",
    "limit-futex",
    "limit-memcpy",
    "pipe",
    "fifo",
    "sysvmq",
    "mq",
    "unix",
    "unix-dgram",
    "unix-seqpacket",
    "tcp",
    "udp",
    "sysvshm",
    "posixshm",
    "ring-spin",
    "ring-futex",
    "ring-adaptive",
    "channel",
    "raw-pipe",
    "raw-fifo",
    "raw-sysvmq",
    "raw-mq",
    "raw-unix",
    "raw-unix-dgram",
    "raw-unix-seqpacket",
    "raw-tcp",
    "raw-udp",
    "raw-sysvshm",
    "raw-posixshm",
];

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bench-json-schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/bench-json-schema.json");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// Validates `v` against the subset of JSON Schema the bench schema uses
/// (type, const, enum, required, properties, additionalProperties: false,
/// items, minimum, oneOf, $ref to #/$defs); returns every violation.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        return validate(root, &root["$defs"][name], v, at, errors);
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = options
            .iter()
            .filter(|o| {
                let mut e = Vec::new();
                validate(root, o, v, at, &mut e);
                e.is_empty()
            })
            .count();
        if ok != 1 {
            errors.push(format!("{at}: matches {ok} of the oneOf choices"));
        }
        return;
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            errors.push(format!("{at}: expected {c}, got {v}"));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if !choices.contains(v) {
            errors.push(format!("{at}: {v} is not one of {choices:?}"));
        }
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type in schema at {at}"),
        };
        let matches = |ty: &str| match ty {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            other => panic!("unknown type {other}"),
        };
        if !types.iter().any(|t| matches(t)) {
            errors.push(format!("{at}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            errors.push(format!("{at}: {n} is below the minimum {min}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let req = req.as_str().unwrap();
            if !obj.contains_key(req) {
                errors.push(format!("{at}: missing {req}"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(root, s, val, &format!("{at}.{k}"), errors),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected property {k}"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            validate(root, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

fn assert_valid(report: &Value) {
    let schema = schema();
    let mut errors = Vec::new();
    validate(&schema, &schema, report, "$", &mut errors);
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}

fn run_json(args: &[&str]) -> Value {
    let out = ipcx()
        .arg("bench")
        .args(args)
        .arg("--json")
        .timeout(Duration::from_secs(240))
        .output()
        .expect("running ipcx bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ipcx bench {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("ipcx bench --json prints JSON")
}

fn entry<'a>(report: &'a Value, mechanism: &str, scenario: &str, size: u64) -> &'a Value {
    report["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["mechanism"] == mechanism && e["scenario"] == scenario && e["size"] == size)
        .unwrap_or_else(|| panic!("no entry {mechanism} {scenario} {size}"))
}

#[test]
fn every_mechanism_runs_a_tiny_bench_and_the_json_matches_the_schema() {
    let report = run_json(&[
        "--mechanisms",
        "all,raw",
        "--sizes",
        "64,4KiB",
        "--iterations",
        "200",
    ]);
    assert_valid(&report);
    let entries = report["entries"].as_array().unwrap();
    let failed: Vec<String> = entries
        .iter()
        .filter(|e| e["status"] != "ok")
        .map(|e| {
            format!(
                "{} {} {}: {}",
                e["mechanism"], e["scenario"], e["size"], e["note"]
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "measurements not ok:\n{}",
        failed.join("\n")
    );
    for id in ALL {
        let measured: Vec<&Value> = entries.iter().filter(|e| e["mechanism"] == *id).collect();
        assert!(!measured.is_empty(), "{id} was not measured");
        for e in measured {
            if e["scenario"] == "latency" {
                assert_eq!(e["latency"]["samples"], 200, "{id}: {e}");
            } else {
                assert_eq!(e["throughput"]["messages"], 200, "{id}: {e}");
            }
        }
    }
    // Every ipcx mechanism is compared with the latency limit and, for the
    // kernel mechanisms, with its raw loop.
    let pipe = entry(&report, "pipe", "latency", 64);
    assert!(pipe["ratio_to_limit"].as_f64().unwrap() > 0.0);
    assert!(pipe["ratio_to_raw"].as_f64().unwrap() > 0.0);
    assert_eq!(report["conclusions"].as_array().unwrap().len(), 2);
    assert!(
        report["conclusions"][1]["held"].is_boolean(),
        "{}",
        report["conclusions"]
    );
}

#[test]
fn sizes_a_mechanism_cannot_carry_are_na_with_the_limit() {
    let report = run_json(&[
        "--mechanisms",
        "sysvmq,udp",
        "--sizes",
        "64,64KiB",
        "--iterations",
        "20",
    ]);
    assert_valid(&report);
    let mq = entry(&report, "sysvmq", "latency", 65536);
    assert_eq!(mq["status"], "n/a");
    assert!(mq["note"].as_str().unwrap().contains("msgmax"), "{mq}");
    let udp = entry(&report, "udp", "throughput", 65536);
    assert_eq!(udp["status"], "n/a");
    assert!(udp["note"].as_str().unwrap().contains("65507"), "{udp}");
    assert_eq!(entry(&report, "udp", "latency", 64)["status"], "ok");

    // The schema check itself catches a report that breaks the schema.
    let schema = schema();
    for mutate in [
        (|r: &mut Value| r["entries"][0]["status"] = "maybe".into()) as fn(&mut Value),
        |r| {
            r["machine"].as_object_mut().unwrap().remove("kernel");
        },
        |r| r["entries"][0]["size"] = (-1).into(),
        |r| r["schema_version"] = 2.into(),
        |r| r["parameters"]["extra"] = true.into(),
    ] {
        let mut bad = report.clone();
        mutate(&mut bad);
        let mut errors = Vec::new();
        validate(&schema, &schema, &bad, "$", &mut errors);
        assert!(
            !errors.is_empty(),
            "a broken report passed the schema check"
        );
    }
}

#[test]
fn table_lists_limits_and_mechanisms_with_ratios() {
    let out = ipcx()
        .args([
            "bench",
            "--mechanisms",
            "pipe,ring-adaptive",
            "--sizes",
            "64",
            "--iterations",
            "100",
        ])
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "Round-trip latency",
        "One-way throughput",
        "limit-spin (limit)",
        "limit-memcpy (limit)",
        "pipe",
        "ring-adaptive",
        "×",
        "The seed's conclusions",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn csv_has_a_header_and_one_line_per_entry() {
    let out = ipcx()
        .args([
            "bench",
            "--mechanisms",
            "pipe",
            "--sizes",
            "64",
            "--iterations",
            "50",
            "--csv",
        ])
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("mechanism,role,scenario,size,status"),
        "{text}"
    );
    let cols = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == cols), "{text}");
    // limits (spin, futex, memcpy) + pipe (2) + raw-pipe (2)
    assert_eq!(lines.len() - 1, 7, "{text}");
    assert!(text.contains("\npipe,mechanism,latency,64,ok,"), "{text}");
}

#[test]
fn svg_option_writes_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("chart.svg");
    ipcx()
        .args([
            "bench",
            "--mechanisms",
            "pipe,unix",
            "--sizes",
            "64,4KiB",
            "--iterations",
            "50",
            "--svg",
        ])
        .arg(&svg)
        .timeout(Duration::from_secs(120))
        .assert()
        .success();
    let text = std::fs::read_to_string(&svg).expect("the chart was written");
    assert!(text.starts_with("<svg"), "{}", &text[..text.len().min(200)]);
    assert!(text.contains("</svg>"));
    for id in ["pipe", "unix", "limit-spin", "limit-memcpy"] {
        assert!(text.contains(id), "{id} missing from the chart");
    }
}

#[test]
fn bad_input_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().to_str().unwrap().to_owned();
    let missing = format!("{here}/no/such/dir/chart.svg");
    for (args, needle) in [
        // An empty name used to select every mechanism (a minute-long run).
        (vec!["--mechanisms", ""], "empty mechanism name"),
        (vec!["--mechanisms", "pipe,"], "empty mechanism name"),
        // An unwritable chart used to fail only after the whole run.
        (vec!["--svg", &missing], "no directory"),
        (vec!["--svg", &here], "is a directory"),
        (vec!["--mechanisms", "carrier-pigeon"], "unknown mechanism"),
        (vec!["--sizes", "0"], "at least 1 byte"),
        (vec!["--sizes", "12parsecs"], "unknown size unit"),
        (vec!["--format", "xml"], "unknown --format"),
        (vec!["--iterations", "0"], "at least 1"),
    ] {
        let out = ipcx()
            .arg("bench")
            .args(&args)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("ipcx: ") && stderr.contains(needle),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Ctrl-C during a measurement removes the named objects it made (here the
/// FIFO directory, made in `TMPDIR`), which used to be left behind.
#[test]
fn sigint_during_a_run_leaves_nothing_behind() {
    use std::process::{Command, Stdio};
    use std::time::Instant;

    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Reap(
        crate::util::ipcx_std()
            .args([
                "bench",
                "--mechanisms",
                "fifo",
                "--sizes",
                "64",
                "--duration",
                "3s",
            ])
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let watchdog = Duration::from_secs(120);
    let start = Instant::now();
    let made = |p: &Path| std::fs::read_dir(p).unwrap().count();
    while made(tmp.path()) == 0 {
        assert!(
            start.elapsed() < watchdog,
            "the FIFO measurement never started"
        );
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "ipcx bench ended early"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = child.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-s", "INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < watchdog,
            "ipcx bench did not exit after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
