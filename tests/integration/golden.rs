//! Golden traces: each shipped scenario's summary and a compact digest of its series, as
//! reviewed insta snapshots. A change in the model shows up here as a diff to review.

use std::fmt::Write;
use std::path::Path;

use demeter_sim::runfolder::{format_series, Series};
use demeter_sim::simulate::{execute, prepare, sha256_hex, Overrides};

fn digest(name: &str, s: &Series) -> String {
    let text = format_series(Path::new(name), s).unwrap();
    let n = s.points.len();
    let mean = s.points.iter().map(|p| p.1).sum::<f64>() / n.max(1) as f64;
    let max = s
        .points
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{name:<14} rows {n:>6}  mean {mean:>12.3}  max {max:>12.3}  sha256 {}",
        &sha256_hex(text.as_bytes())[..16]
    )
}

fn golden(file: &str) -> String {
    golden_with(file, None)
}

/// `file` run with `policy` (a preset name, as `--policy` gives it) instead of its own.
fn golden_with(file: &str, policy: Option<&str>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let scenario = demeter_sim::scenario::load(&path).unwrap();
    let overrides = Overrides {
        policy: policy.map(str::to_string),
        ..Overrides::default()
    };
    let result = execute(prepare(&scenario, &overrides).unwrap(), |_, _| {});
    let data = result.run_data();
    let mut summary = demeter_sim::report::summarize(&data);
    summary.run = match policy {
        Some(p) => format!("{file} --policy {p}"),
        None => file.to_string(),
    };
    let mut out = String::new();
    writeln!(out, "{}", serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    for (name, series) in data.all_series() {
        writeln!(out, "{}", digest(name, series)).unwrap();
    }
    let events: Vec<_> = result
        .twin
        .events()
        .iter()
        .filter(|e| !e.kind.starts_with("checkpoint"))
        .take(12)
        .map(|e| format!("{:>10.3} {:<24} {}", e.time.as_secs_f64(), e.kind, e.detail))
        .collect();
    writeln!(out, "first events:\n{}", events.join("\n")).unwrap();
    out
}

#[test]
fn golden_quick() {
    insta::assert_snapshot!("quick", golden("scenarios/quick.toml"));
}

#[test]
fn golden_ysb_failures() {
    insta::assert_snapshot!("ysb_failures", golden("scenarios/ysb_failures.toml"));
}

#[test]
fn golden_tsw_failures() {
    insta::assert_snapshot!("tsw_failures", golden("scenarios/tsw_failures.toml"));
}

/// The policies in the loop on the experiment's scenario: a changed decision, restart or
/// redeploy shows in the summary, the TaskManager digest and the first events.
#[test]
fn golden_ysb_failures_reactive35() {
    insta::assert_snapshot!(
        "ysb_failures_reactive35",
        golden_with("scenarios/ysb_failures.toml", Some("reactive35"))
    );
}

#[test]
fn golden_ysb_failures_operator35() {
    insta::assert_snapshot!(
        "ysb_failures_operator35",
        golden_with("scenarios/ysb_failures.toml", Some("operator35"))
    );
}
