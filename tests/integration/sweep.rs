//! `sweep` and `merge`: expansion order, overrides, errors, thread-count independence, shards.

use std::path::{Path, PathBuf};
use std::process::Output;

use demeter_sim::flink::failure::FailureSchedule;
use demeter_sim::sweep::Sweep;
use demeter_sim::time::SimDuration;

use super::common::{root, run, stderr};

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

fn bad(o: &Output, must_contain: &[&str]) {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {e}");
    assert!(!e.contains("panicked"), "{e}");
    for m in must_contain {
        assert!(e.contains(m), "expected {m:?} in: {e}");
    }
}

/// Writes a sweep file over the shipped quick scenario (6 simulated minutes, a failure every
/// 2 minutes) into `dir`; `body` holds the axes.
fn sweep_file(dir: &Path, name: &str, seeds: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    let quick = root().join("scenarios/quick.toml");
    std::fs::write(
        &p,
        format!(
            "[sweep]\nscenario = {:?}\nseeds = {seeds}\n\n[set]\n\"scenario.duration\" = \"6m\"\nfailures.every = \"120s\"\n\n{body}",
            quick.display().to_string()
        ),
    )
    .unwrap();
    p
}

const TWO_AXES: &str = r#"
[[axis]]
key = "config.checkpoint_interval"
values = ["10s", "30s"]

[[axis]]
key = "workload.rate_rps"
values = [30000.0, 45000.0, 60000.0]
"#;

#[test]
fn expansion_order_run_keys_and_nested_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let p = sweep_file(dir.path(), "s.toml", "2", TWO_AXES);
    let sweep = Sweep::load(&p).unwrap();
    assert_eq!(sweep.name, "s");
    assert_eq!(sweep.total_runs(), 12);
    assert_eq!(
        sweep.key_columns(),
        [
            "run",
            "config.checkpoint_interval",
            "workload.rate_rps",
            "seed"
        ]
    );
    let runs = sweep.expand().unwrap();
    // First axis slowest, seeds fastest; seeds are the scenario's (7) + 0, 1.
    let keys: Vec<(u64, Vec<String>, u64)> = runs
        .iter()
        .map(|r| (r.index, r.labels.clone(), r.seed))
        .collect();
    let k = |i: u64, a: &str, b: &str, s: u64| (i, vec![a.to_string(), b.to_string()], s);
    assert_eq!(
        keys,
        vec![
            k(0, "10s", "30000.0", 7),
            k(1, "10s", "30000.0", 8),
            k(2, "10s", "45000.0", 7),
            k(3, "10s", "45000.0", 8),
            k(4, "10s", "60000.0", 7),
            k(5, "10s", "60000.0", 8),
            k(6, "30s", "30000.0", 7),
            k(7, "30s", "30000.0", 8),
            k(8, "30s", "45000.0", 7),
            k(9, "30s", "45000.0", 8),
            k(10, "30s", "60000.0", 7),
            k(11, "30s", "60000.0", 8),
        ]
    );
    assert_eq!(runs[3].positions, vec![0, 1]);
    // [set] (quoted and nested forms) and the axes reach the checked scenario.
    let s = &runs[8].scenario;
    assert_eq!(s.duration, SimDuration::from_secs(360));
    assert_eq!(s.config.checkpoint_interval, SimDuration::from_secs(30));
    match &s.failures.as_ref().unwrap().schedule {
        FailureSchedule::Periodic { every } => assert_eq!(*every, SimDuration::from_secs(120)),
        other => panic!("{other:?}"),
    }
    match &s.workload {
        demeter_sim::workload::WorkloadSpec::Constant { rate_rps, .. } => {
            assert_eq!(*rate_rps, 45_000.0)
        }
        other => panic!("{other:?}"),
    }
    // Untouched keys keep the base scenario's values.
    assert_eq!(s.config.scale_out, 24);
    assert_eq!(s.name, "quick");

    // An explicit seed list.
    let p = sweep_file(dir.path(), "l.toml", "[5, 3]", TWO_AXES);
    let runs = Sweep::load(&p).unwrap().expand().unwrap();
    assert_eq!(
        runs.iter().take(3).map(|r| r.seed).collect::<Vec<_>>(),
        [5, 3, 5]
    );
}

#[test]
fn changing_the_policy_drops_the_base_scenarios_params() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.toml");
    let quick = std::fs::read_to_string(root().join("scenarios/quick.toml")).unwrap();
    let models = root().join("models").display().to_string();
    std::fs::write(
        &base,
        quick.replace("../models", &models)
            + "\n[policy]\nname = \"static\"\nparams = { old = 1 }\n",
    )
    .unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(
        &p,
        "[sweep]\nscenario = \"base.toml\"\n[[axis]]\nkey = \"policy.name\"\nvalues = [\"static\", \"other\"]\n[[axis]]\nkey = \"policy.params.new\"\nvalues = [2]\n",
    )
    .unwrap();
    let sweep = Sweep::load(&p).unwrap();
    let same = sweep.table(&[0, 0]).unwrap();
    assert_eq!(same["policy"]["params"]["old"].as_integer(), Some(1));
    let other = sweep.table(&[1, 0]).unwrap();
    assert!(other["policy"]["params"].get("old").is_none(), "{other:?}");
    assert_eq!(other["policy"]["params"]["new"].as_integer(), Some(2));
}

#[test]
fn bad_axes_are_exit_2_naming_the_sweep_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str]); 6] = [
        (
            "[[axis]]\nkey = \"config.chekpoint_interval\"\nvalues = [\"10s\"]\n",
            &["bad.toml", "config.chekpoint_interval", "unknown field"],
        ),
        (
            "[[axis]]\nkey = \"policy.params.target\"\nvalues = [0.5]\n",
            &["bad.toml", "policy.params.target", "`target`"],
        ),
        (
            "[[axis]]\nkey = \"config.cpu.cores\"\nvalues = [2]\n",
            &["bad.toml", "config.cpu.cores", "not a table"],
        ),
        (
            "[[axis]]\nkey = \"config.scale_out\"\nvalues = [24, \"many\"]\n",
            &["bad.toml", "config.scale_out", "many"],
        ),
        (
            "[[axis]]\nkey = \"config.scale_out\"\nvalues = []\n",
            &["bad.toml", "config.scale_out", "at least one value"],
        ),
        (
            "[[axis]]\nkey = \"config\"\nvalues = [1]\n[[axis]]\nkey = \"config.cpu\"\nvalues = [1.0]\n",
            &["bad.toml", "overlaps"],
        ),
    ];
    for (body, must) in cases {
        let p = sweep_file(dir.path(), "bad.toml", "1", body);
        let out = dir.path().join("out");
        let o = run(&["sweep", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        bad(&o, must);
        assert!(!out.exists(), "nothing may be written on bad input");
    }
    let p = sweep_file(dir.path(), "bad.toml", "0", TWO_AXES);
    bad(
        &run(&["sweep", p.to_str().unwrap()]),
        &["bad.toml", "sweep.seeds"],
    );
    let p = sweep_file(
        dir.path(),
        "bad.toml",
        "1",
        "[[axis]]\nkey = \"x\"\nvals = [1]\n",
    );
    bad(&run(&["sweep", p.to_str().unwrap()]), &["bad.toml", "vals"]);
    let p = sweep_file(dir.path(), "ok.toml", "1", TWO_AXES);
    bad(
        &run(&["sweep", p.to_str().unwrap(), "--shard", "2/2"]),
        &["--shard", "I/N"],
    );
}

fn sweep_into(file: &Path, out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&run(&args));
    let name = match extra.iter().position(|a| *a == "--shard") {
        Some(i) => format!("results.shard-{}.csv", extra[i + 1].replace('/', "-of-")),
        None => "results.csv".into(),
    };
    std::fs::read_to_string(out.join(name)).unwrap()
}

const SMALL: &str = r#"
[[axis]]
key = "config.checkpoint_interval"
values = ["10s", "60s"]
"#;

#[test]
fn one_and_two_threads_give_the_same_csv_and_shards_merge_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = sweep_file(d, "s.toml", "2", SMALL);
    let one = sweep_into(&p, &d.join("j1"), &["--jobs", "1"]);
    let two = sweep_into(&p, &d.join("j2"), &["--jobs", "2"]);
    assert_eq!(one, two);
    let lines: Vec<&str> = one.lines().collect();
    assert!(lines[0].starts_with("# demeter-sim sweep: s"), "{one}");
    assert!(lines[1].starts_with("# sweep-sha256: "), "{one}");
    assert_eq!(lines[3], "# runs: 4");
    assert!(
        lines[4].starts_with(
            "run,config.checkpoint_interval,seed,policy_name,latency_ms_mean,latency_ms_p50,"
        ),
        "{}",
        lines[4]
    );
    assert!(lines[5].starts_with("0,10s,7,static,"), "{}", lines[5]);
    assert!(lines[8].starts_with("3,60s,8,static,"), "{}", lines[8]);
    assert_eq!(lines.len(), 9);
    // Failures happened, so the recovery columns are filled.
    let cols: Vec<&str> = lines[4].split(',').collect();
    let inj = cols.iter().position(|c| *c == "failures_injected").unwrap();
    assert_eq!(lines[5].split(',').nth(inj), Some("2"));

    // Three shards (runs 0,3 / 1 / 2), merged in any order: byte-identical.
    let parts: Vec<PathBuf> = (0..3)
        .map(|i| {
            let text = sweep_into(&p, &d.join("shards"), &["--shard", &format!("{i}/3")]);
            assert!(text.contains(&format!("# shard: {i}/3\n")), "{text}");
            d.join("shards").join(format!("results.shard-{i}-of-3.csv"))
        })
        .collect();
    let merged = d.join("merged.csv");
    let ps = |idx: &[usize]| -> Vec<String> {
        idx.iter()
            .map(|&i| parts[i].to_str().unwrap().to_string())
            .collect()
    };
    let merge = |out: &Path, idx: &[usize], extra: &[&str]| {
        let mut a = vec!["merge".to_string(), out.to_str().unwrap().to_string()];
        a.extend(ps(idx));
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&a)
    };
    ok(&merge(&merged, &[2, 0, 1], &[]));
    assert_eq!(std::fs::read_to_string(&merged).unwrap(), one);

    // Never silently overwritten.
    bad(
        &merge(&merged, &[2, 0, 1], &[]),
        &["already exists", "--force"],
    );
    ok(&merge(&merged, &[0, 1, 2], &["--force"]));
    // Incomplete, overlapping.
    bad(
        &merge(&d.join("m2.csv"), &[0, 2], &[]),
        &["incomplete", "1/3"],
    );
    bad(
        &merge(&d.join("m3.csv"), &[0, 1, 1, 2], &[]),
        &["overlapping"],
    );
    // A shard of another sweep (different seeds: another hash).
    let q = sweep_file(d, "s.toml", "[7, 9]", SMALL);
    let other = sweep_into(&q, &d.join("other"), &["--shard", "1/3"]);
    assert!(other.contains("# shard: 1/3"));
    let o = run(&[
        "merge",
        d.join("m4.csv").to_str().unwrap(),
        parts[0].to_str().unwrap(),
        d.join("other/results.shard-1-of-3.csv").to_str().unwrap(),
        parts[2].to_str().unwrap(),
    ]);
    bad(&o, &["mismatched", "sweep-sha256"]);
    // A truncated shard.
    let cut = d.join("cut.csv");
    let text = std::fs::read_to_string(&parts[0]).unwrap();
    let keep: Vec<&str> = text.lines().take(text.lines().count() - 1).collect();
    std::fs::write(&cut, keep.join("\n") + "\n").unwrap();
    let o = run(&[
        "merge",
        d.join("m5.csv").to_str().unwrap(),
        cut.to_str().unwrap(),
        parts[1].to_str().unwrap(),
        parts[2].to_str().unwrap(),
    ]);
    bad(&o, &["incomplete", "runs missing"]);
    assert!(!d.join("m2.csv").exists() && !d.join("m5.csv").exists());
}

#[test]
fn keep_runs_writes_run_folders_and_results_are_never_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = sweep_file(d, "s.toml", "1", SMALL);
    let out = d.join("out");
    let csv = sweep_into(&p, &out, &["--keep-runs"]);
    for i in ["0", "1"] {
        let r = out.join("runs").join(i);
        assert!(r.join("manifest.json").exists(), "{}", r.display());
        assert!(r.join("data/static-latency-data.csv").exists());
    }
    // The kept run folders summarize to the same numbers as the CSV.
    let o = run(&[
        "summarize",
        out.join("runs/1").to_str().unwrap(),
        "--format",
        "csv",
    ]);
    ok(&o);
    let summary = String::from_utf8_lossy(&o.stdout).to_string();
    let latency_mean = csv.lines().nth(6).unwrap().split(',').nth(4).unwrap();
    assert!(
        summary.contains(latency_mean),
        "{latency_mean} in {summary}"
    );

    bad(
        &run(&["sweep", p.to_str().unwrap(), "--out", out.to_str().unwrap()]),
        &["already exists", "--force"],
    );
    let again = sweep_into(&p, &out, &["--force"]);
    assert_eq!(again, csv);
    assert!(!out.join("runs").exists());
    // A folder that holds something else is not replaced, even with --force.
    let mine = d.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    bad(
        &run(&[
            "sweep",
            p.to_str().unwrap(),
            "--out",
            mine.to_str().unwrap(),
            "--force",
        ]),
        &["refusing"],
    );
    assert!(mine.join("notes.txt").exists());
}

#[test]
fn the_example_sweep_parses_and_expands_when_its_policy_exists() {
    let p = root().join("scenarios/sweep_checkpoint_hpa.toml");
    let sweep = Sweep::load(&p).unwrap();
    assert_eq!(sweep.name, "checkpoint_hpa");
    assert_eq!(sweep.total_runs(), 60);
    assert_eq!(
        sweep.key_columns(),
        [
            "run",
            "config.checkpoint_interval",
            "policy.params.target_utilization",
            "seed"
        ]
    );
    let t = sweep.table(&[1, 0]).unwrap();
    assert_eq!(t["policy"]["name"].as_str(), Some("reactive"));
    assert_eq!(t["config"]["checkpoint_interval"].as_str(), Some("30s"));
    assert_eq!(
        t["policy"]["params"]["target_utilization"].as_float(),
        Some(0.35)
    );
    if demeter_sim::policy::POLICY_NAMES.contains(&"reactive") {
        let runs = sweep.expand().unwrap();
        assert_eq!(runs.len(), 60);
        assert_eq!(runs[59].seed, 44);
        assert_eq!(
            runs[3].scenario.config.checkpoint_interval,
            SimDuration::from_secs(10)
        );
    } else {
        // Until the HPA policy lands the sweep is rejected before running, naming the policy.
        let e = sweep.expand().unwrap_err().to_string();
        assert!(
            e.contains("sweep_checkpoint_hpa.toml") && e.contains("reactive"),
            "{e}"
        );
        eprintln!("reactive policy not registered yet: expansion of the example sweep skipped");
    }
}
