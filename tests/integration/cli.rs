//! The binary as a user meets it: exit codes, messages on bad input, run folders.

use std::path::{Path, PathBuf};

use super::common::{root, run, stderr};

/// Writes a scenario into a temp dir next to copies of nothing: model paths point back into the repo.
fn scenario_with(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("s.toml");
    let models = root().join("models");
    std::fs::write(&p, body.replace("MODELS", &models.display().to_string())).unwrap();
    p
}

const GOOD: &str = r#"
[scenario]
name = "t"
seed = 1
duration = "5m"
[job]
model = "MODELS/ysb.toml"
[workload]
kind = "constant"
rate_rps = 20000.0
[config]
scale_out = 24
task_slots = 1
cpu = 1.0
memory_mb = 4096
checkpoint_interval = "10s"
"#;

fn assert_bad_input(body: &str, must_contain: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let p = scenario_with(dir.path(), body);
    let o = run(&["check", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for m in must_contain {
        assert!(err.contains(m), "expected {m:?} in: {err}");
    }
}

#[test]
fn check_accepts_the_shipped_scenarios() {
    for s in [
        "scenarios/quick.toml",
        "scenarios/ysb_failures.toml",
        "scenarios/tsw_failures.toml",
    ] {
        let o = run(&["check", s]);
        assert_eq!(o.status.code(), Some(0), "{s}: {}", stderr(&o));
    }
}

#[test]
fn malformed_toml_is_exit_2_naming_the_file() {
    assert_bad_input("[scenario\nname = 1", &["s.toml"]);
}

#[test]
fn unknown_key_is_rejected_with_its_name() {
    assert_bad_input(
        &GOOD.replace("cpu = 1.0", "cpu = 1.0\ncpus = 2"),
        &["s.toml", "cpus"],
    );
}

#[test]
fn wrong_type_is_rejected() {
    assert_bad_input(
        &GOOD.replace("scale_out = 24", "scale_out = \"many\""),
        &["s.toml", "scale_out"],
    );
}

#[test]
fn negative_and_absurd_values_are_rejected_with_the_key() {
    assert_bad_input(&GOOD.replace("cpu = 1.0", "cpu = -1.0"), &["config.cpu"]);
    assert_bad_input(
        &GOOD.replace("scale_out = 24", "scale_out = 100000"),
        &["config.scale_out"],
    );
    assert_bad_input(
        &GOOD.replace("duration = \"5m\"", "duration = \"-5m\""),
        &["scenario.duration"],
    );
    assert_bad_input(
        &GOOD.replace(
            "checkpoint_interval = \"10s\"",
            "checkpoint_interval = \"0s\"",
        ),
        &["config.checkpoint_interval"],
    );
    assert_bad_input(
        &GOOD.replace("seed = 1", "seed = 1\ntick = \"3ms\""),
        &["scenario.tick"],
    );
    let failures = "\n[failures]\nkind = \"network_delay\"\ndelay_duration = \"30s\"\nschedule = \"periodic\"\nevery = \"120s\"\n";
    assert_bad_input(
        &format!("{GOOD}{failures}injector_checkpoint_interval = \"10s\"\n"),
        &[
            "failures.injector_checkpoint_interval",
            "align_before_checkpoint",
        ],
    );
    assert_bad_input(
        &format!("{GOOD}{failures}align_before_checkpoint = \"5s\"\ninjector_checkpoint_interval = \"5s\"\n"),
        &["failures.injector_checkpoint_interval", "never find time"],
    );
    // YSB models the JVM heap ([capacity.gc]): Flink would not start a 512-MB TaskManager.
    assert_bad_input(
        &GOOD.replace("memory_mb = 4096", "memory_mb = 512"),
        &["config.memory_mb", "at least 982 MB", "ysb.toml"],
    );
}

#[test]
fn missing_model_file_names_the_path() {
    assert_bad_input(
        &GOOD.replace("MODELS/ysb.toml", "MODELS/nope.toml"),
        &["nope.toml", "job.model", "which is not a file"],
    );
}

#[test]
fn a_missing_run_folder_names_the_folder_and_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no_such_run");
    let out = dir.path().join("out");
    let o = run(&[
        "validate",
        missing.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("no_such_run"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn missing_and_corrupt_traces_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "timestamp|value\n1|10\n2|abc\n").unwrap();
    let body = GOOD.replace(
        "kind = \"constant\"\nrate_rps = 20000.0",
        &format!("kind = \"trace\"\npath = \"{}\"", bad.display()),
    );
    let p = scenario_with(dir.path(), &body);
    let o = run(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.csv") && stderr(&o).contains("abc"),
        "{}",
        stderr(&o)
    );

    let body = GOOD.replace(
        "kind = \"constant\"\nrate_rps = 20000.0",
        "kind = \"trace\"\npath = \"missing.csv\"",
    );
    let p = scenario_with(dir.path(), &body);
    let o = run(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));
}

#[test]
fn missing_scenario_and_unknown_policy_are_exit_2() {
    let o = run(&["run", "scenarios/none.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("none.toml"));
    let o = run(&["check", "scenarios/quick.toml"]);
    assert_eq!(o.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = run(&[
        "scenarios/quick.toml",
        "--policy",
        "nonsense",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nonsense"), "{}", stderr(&o));
}

#[test]
fn run_writes_the_recorded_format_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run(&[
        "scenarios/quick.toml",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for metric in [
        "latency",
        "throughput",
        "consumer_lag",
        "cpu_load",
        "task_managers",
        "task_slots",
    ] {
        let f = out.join(format!("data/static-{metric}-data.csv"));
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("timestamp|value\n"), "{}", f.display());
    }
    for f in [
        "manifest.json",
        "summary.json",
        "events.csv",
        "failures.csv",
        "configs.csv",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    // Static reports no evaluations.
    assert!(!out.join("evaluations.csv").exists());
    let configs = std::fs::read_to_string(out.join("configs.csv")).unwrap();
    assert!(
        configs.starts_with("timestamp|scaleOut|taskSlots|cpu|memory|chkInt\n"),
        "{configs}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("failures.csv"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    // A second run into the same folder must not silently replace it.
    let o = run(&[
        "scenarios/quick.toml",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    let o = run(&[
        "scenarios/quick.toml",
        "--quiet",
        "--force",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A folder that is not a run folder is never replaced.
    let other = dir.path().join("mine");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "keep me").unwrap();
    let o = run(&[
        "scenarios/quick.toml",
        "--quiet",
        "--force",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "keep me"
    );
    // And summarize reads it back.
    let o = run(&["summarize", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn workload_trace_and_duration_flags_replace_the_scenarios_values() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.csv");
    let mut text = String::from("timestamp|value\n");
    for s in 0..120 {
        text.push_str(&format!("{}|{}\n", 1_000 + s, 10_000 + 100 * s));
    }
    std::fs::write(&trace, text).unwrap();
    let out = dir.path().join("r");
    let o = run(&[
        "scenarios/quick.toml",
        "--quiet",
        "--duration",
        "2m",
        "--workload-trace",
        trace.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let workload = std::fs::read_to_string(out.join("workload.csv")).unwrap();
    assert_eq!(workload.lines().count(), 1 + 120);
    let o = run(&["scenarios/quick.toml", "--duration", "forever"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--duration"), "{}", stderr(&o));
}

#[test]
fn expectations_exit_1_when_they_fail_and_2_when_they_name_no_field() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let o = run(&[
        "scenarios/quick.toml",
        "--quiet",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
        "--expect",
        "failures_injected==1",
        "--expect",
        "latency_le_1500ms_pct>=50",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&[
        "summarize",
        out.to_str().unwrap(),
        "--expect",
        "recovery_s_mean<1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("recovery_s_mean < 1"), "{}", stderr(&o));
    let o = run(&["summarize", out.to_str().unwrap(), "--expect", "speed>=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown summary field"),
        "{}",
        stderr(&o)
    );
    let o = run(&["scenarios/quick.toml", "--expect", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
}

/// `evaluations.csv`: one row per vertex per control-loop run of operator35 / ds2, in time
/// order, epoch timestamps, and a scaling outcome exactly where the policy acted.
#[test]
fn run_writes_one_evaluation_row_per_vertex_per_policy_run() {
    let dir = tempfile::tempdir().unwrap();
    for policy in ["operator35", "ds2"] {
        let out = dir.path().join(policy);
        let o = run(&[
            "scenarios/quick.toml",
            "--quiet",
            "--policy",
            policy,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        let start = manifest["start_epoch"].as_i64().unwrap();
        let mut r = csv::Reader::from_path(out.join("evaluations.csv")).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header[..3], ["timestamp", "policy", "vertex"], "{header:?}");
        assert_eq!(header.last().unwrap(), "outcome");
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let (ts, vx, oc) = (col("timestamp"), col("vertex"), col("outcome"));
        // (timestamp, vertices in order, acted?)
        let mut runs: Vec<(i64, Vec<String>, bool)> = Vec::new();
        for rec in r.records() {
            let rec = rec.unwrap();
            assert_eq!(&rec[1], policy);
            let t: i64 = rec[ts].parse().unwrap();
            let acted = matches!(&rec[oc], "scale_up" | "scale_down");
            match runs.last_mut() {
                Some((lt, names, a)) if *lt == t => {
                    names.push(rec[vx].to_string());
                    *a |= acted;
                }
                last => {
                    assert!(last.is_none_or(|l| l.0 < t), "time order at {t}");
                    runs.push((t, vec![rec[vx].to_string()], acted));
                }
            }
        }
        // quick.toml: YSB (2 vertices), 20 min.
        assert!(runs.len() >= 10, "{policy}: {} runs", runs.len());
        for (t, names, _) in &runs {
            assert!(*t >= start && *t < start + 20 * 60, "{policy}: {t}");
            assert_eq!(names.len(), 2, "{policy} at {t}: {names:?}");
            assert_eq!(names, &runs[0].1, "{policy} at {t}");
        }
        if policy == "operator35" {
            // One sample per minute (§2.1), from 0 s to 1 140 s.
            assert_eq!(runs.len(), 20);
            assert!(runs.windows(2).all(|w| w[1].0 - w[0].0 == 60));
        }
        let decisions = csv::Reader::from_path(out.join("decisions.csv"))
            .unwrap()
            .records()
            .count();
        let acted = runs.iter().filter(|r| r.2).count();
        assert!(acted > 0, "{policy} never acted on quick.toml");
        assert_eq!(
            acted, decisions,
            "{policy}: one action per acting evaluation"
        );
    }
}
