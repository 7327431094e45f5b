//! `compare`: run folders per policy and seed, the policy table, bad policy lists.

use super::common::{run, stderr};

#[test]
fn compare_writes_run_folders_the_table_and_the_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let args = |out: &str, jobs: &'static str| {
        vec![
            "compare".to_string(),
            "scenarios/quick.toml".into(),
            "--policies".into(),
            "static".into(),
            "--seeds".into(),
            "2".into(),
            "--seed".into(),
            "100".into(),
            "--duration".into(),
            "11m".into(),
            "--no-plots".into(),
            "--jobs".into(),
            jobs.into(),
            "--out".into(),
            out.to_string(),
        ]
    };
    let a = args(out.to_str().unwrap(), "2");
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        stdout.contains("quick | policies static | seeds 100..=101"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lat mean ms") && stdout.contains("core-h vs static"),
        "{stdout}"
    );

    // Run folders as `run` writes them, one per policy and seed, without PNGs.
    for seed in ["seed100", "seed101"] {
        let r = out.join("static").join(seed);
        for f in [
            "manifest.json",
            "summary.json",
            "events.csv",
            "data/static-latency-data.csv",
        ] {
            assert!(r.join(f).exists(), "{}", r.join(f).display());
        }
        assert!(!r.join("overview.png").exists());
        let manifest = std::fs::read_to_string(r.join("manifest.json")).unwrap();
        assert!(
            manifest.contains(&format!("\"seed\": {}", &seed[4..])),
            "{manifest}"
        );
    }
    // The table: one row per policy, mean ± s.d. over two seeds, one failure each (at 10 min).
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(md.starts_with("# compare: quick\n"), "{md}");
    assert!(md.contains("sample standard deviation"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| static |")).unwrap();
    assert!(row.starts_with("| static | 2 | "), "{row}");
    assert!(row.contains(" ± "), "{row}");
    assert!(row.contains("| 1.00 | 1.00 |"), "{row}");
    assert!(row.contains("| 0/2 |"), "{row}");
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    assert!(
        csv.starts_with("policy,runs,latency_ms_mean_mean,latency_ms_mean_sd,"),
        "{csv}"
    );
    assert!(
        csv.lines().nth(1).unwrap().starts_with("static,2,"),
        "{csv}"
    );
    // Energy: the last table column (kJ) and the last CSV columns, the mean of the runs'.
    let header = md.lines().find(|l| l.starts_with("| policy |")).unwrap();
    assert!(header.ends_with("| reconf | energy kJ |"), "{header}");
    let cols: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(
        &cols[cols.len() - 4..],
        [
            "energy_j_mean",
            "energy_j_sd",
            "wan_energy_j_mean",
            "wan_energy_j_sd"
        ]
    );
    let vals: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let energy_mean: f64 = vals[cols.len() - 4].parse().unwrap();
    let runs = std::fs::read_to_string(out.join("compare-runs.csv")).unwrap();
    let rcols: Vec<&str> = runs.lines().next().unwrap().split(',').collect();
    let k = rcols.iter().position(|c| *c == "energy_j").unwrap();
    let per_run: Vec<f64> = runs
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(k).unwrap().parse().unwrap())
        .collect();
    assert_eq!(per_run.len(), 2);
    assert!(
        (energy_mean - (per_run[0] + per_run[1]) / 2.0).abs() < 1e-6 * energy_mean,
        "{energy_mean} {per_run:?}"
    );
    // 11 min of quick.toml: at least 2 servers idling at 100 W.
    assert!(energy_mean > 2.0 * 100.0 * 660.0, "{energy_mean}");
    assert!(out.join("compare-energy_j.png").exists());
    assert!(runs.contains("\n0,static,100,static,"), "{runs}");
    assert!(runs.contains("\n1,static,101,static,"), "{runs}");
    for chart in ["tm_hours", "latency_le_1500ms_pct", "recovery_s_mean"] {
        assert!(out.join(format!("compare-{chart}.png")).exists(), "{chart}");
    }

    // One thread gives the same files.
    let out1 = dir.path().join("cmp1");
    let a = args(out1.to_str().unwrap(), "1");
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in [
        "compare.md",
        "compare.csv",
        "compare-runs.csv",
        "static/seed101/events.csv",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(out1.join(f)).unwrap(),
            "{f}"
        );
    }

    // An existing comparison is not replaced without --force.
    let a = args(out.to_str().unwrap(), "2");
    let o = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
}

#[test]
fn unknown_or_repeated_policies_fail_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    for (list, must) in [
        ("static,magic", vec!["magic", "expected one of", "static"]),
        ("static,static", vec!["given twice"]),
    ] {
        let o = run(&[
            "compare",
            "scenarios/quick.toml",
            "--policies",
            list,
            "--out",
            out.to_str().unwrap(),
        ]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        for m in must {
            assert!(e.contains(m), "{m:?} in {e}");
        }
        assert!(!out.exists(), "nothing may be written for {list}");
    }
    let o = run(&[
        "compare",
        "scenarios/quick.toml",
        "--policies",
        "static",
        "--seeds",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--seeds"), "{}", stderr(&o));
}
