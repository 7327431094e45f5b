//! The summary of the recorded Demeter traces reproduces the published trace summary
//! (research/demeter.md section 6). Skipped when the traces are not next to the repository.

use std::path::{Path, PathBuf};

use demeter_sim::report::{summarize, Summary};
use demeter_sim::runfolder::read_run_folder;

fn results_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/traces/demeter/results");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: recorded Demeter traces not found at {} (they live outside the repository)",
            dir.display()
        );
        None
    }
}

/// One row of the first table of section 6, as printed there.
struct Row {
    run: &'static str,
    lat_mean: f64,
    lat_p50: f64,
    lat_p95: f64,
    lat_p99: f64,
    le_1500_pct: f64,
    thr: f64,
    lag: f64,
    tms: f64,
    slots: f64,
    cpu_load: f64,
    core_h: f64,
    gb_h: f64,
    /// Demeter reconfigurations; `None` where the table shows a TaskManager-level count.
    reconf: Option<u32>,
    injected: u32,
    rec_mean: f64,
    rec_p50: f64,
    rec_max: f64,
    over_180: u32,
}

#[rustfmt::skip]
const SECTION_6: [Row; 11] = [
    Row { run: "1_baseline_CARS_24", lat_mean: 1328.0, lat_p50: 987.0, lat_p95: 1247.0, lat_p99: 9342.0, le_1500_pct: 98.2, thr: 59776.0, lag: 4730.0, tms: 24.0, slots: 24.0, cpu_load: 0.31, core_h: 432.0, gb_h: 1728.0, reconf: None, injected: 23, rec_mean: 109.0, rec_p50: 97.0, rec_max: 197.0, over_180: 2 },
    Row { run: "1_baseline_ADS_24_small", lat_mean: 1198.0, lat_p50: 1135.0, lat_p95: 1222.0, lat_p99: 1451.0, le_1500_pct: 99.0, thr: 43220.0, lag: 2839.0, tms: 24.0, slots: 24.0, cpu_load: 0.23, core_h: 432.0, gb_h: 1728.0, reconf: None, injected: 23, rec_mean: 96.0, rec_p50: 95.0, rec_max: 123.0, over_180: 0 },
    Row { run: "1_demeter_ADS_24_small_new", lat_mean: 1558.0, lat_p50: 1147.0, lat_p95: 1251.0, lat_p99: 17877.0, le_1500_pct: 97.5, thr: 44165.0, lag: 5388.0, tms: 18.7, slots: 22.4, cpu_load: 0.27, core_h: 395.0, gb_h: 1237.0, reconf: Some(41), injected: 21, rec_mean: 98.0, rec_p50: 96.0, rec_max: 123.0, over_180: 0 },
    Row { run: "2_demeter_ADS_24_small_new", lat_mean: 1808.0, lat_p50: 1167.0, lat_p95: 1290.0, lat_p99: 25344.0, le_1500_pct: 96.3, thr: 44068.0, lag: 5426.0, tms: 16.4, slots: 21.5, cpu_load: 0.36, core_h: 354.0, gb_h: 1086.0, reconf: Some(43), injected: 20, rec_mean: 100.0, rec_p50: 96.0, rec_max: 140.0, over_180: 0 },
    Row { run: "3_demeter_ADS_24_small_new", lat_mean: 4803.0, lat_p50: 1150.0, lat_p95: 20185.0, lat_p99: 96277.0, le_1500_pct: 91.6, thr: 44394.0, lag: 11654.0, tms: 14.3, slots: 15.2, cpu_load: 0.35, core_h: 308.0, gb_h: 790.0, reconf: Some(60), injected: 20, rec_mean: 109.0, rec_p50: 96.0, rec_max: 276.0, over_180: 1 },
    Row { run: "1_reactive35_ADS_24_small", lat_mean: 1421.0, lat_p50: 1160.0, lat_p95: 1468.0, lat_p99: 10252.0, le_1500_pct: 95.1, thr: 42372.0, lag: 6682.0, tms: 14.4, slots: 14.4, cpu_load: 0.34, core_h: 260.0, gb_h: 1040.0, reconf: None, injected: 23, rec_mean: 157.0, rec_p50: 165.0, rec_max: 266.0, over_180: 10 },
    Row { run: "2_reactive35_ADS_24_small", lat_mean: 1426.0, lat_p50: 1129.0, lat_p95: 1626.0, lat_p99: 11073.0, le_1500_pct: 94.8, thr: 42350.0, lag: 6264.0, tms: 14.6, slots: 14.6, cpu_load: 0.34, core_h: 263.0, gb_h: 1053.0, reconf: None, injected: 23, rec_mean: 165.0, rec_p50: 187.0, rec_max: 238.0, over_180: 12 },
    Row { run: "3_reactive35_ADS_24_small", lat_mean: 1416.0, lat_p50: 1110.0, lat_p95: 1269.0, lat_p99: 10774.0, le_1500_pct: 95.5, thr: 42424.0, lag: 5854.0, tms: 14.9, slots: 14.9, cpu_load: 0.34, core_h: 268.0, gb_h: 1070.0, reconf: None, injected: 23, rec_mean: 159.0, rec_p50: 162.0, rec_max: 220.0, over_180: 2 },
    Row { run: "1_operator35_ADS_24_small", lat_mean: 10246.0, lat_p50: 1443.0, lat_p95: 58525.0, lat_p99: 93434.0, le_1500_pct: 55.2, thr: 45832.0, lag: 38156.0, tms: 21.5, slots: 21.5, cpu_load: 0.28, core_h: 375.0, gb_h: 1501.0, reconf: None, injected: 22, rec_mean: 144.0, rec_p50: 96.0, rec_max: 355.0, over_180: 6 },
    Row { run: "2_operator35_ADS_24_small", lat_mean: 10699.0, lat_p50: 1306.0, lat_p95: 56844.0, lat_p99: 158860.0, le_1500_pct: 72.0, thr: 44884.0, lag: 38963.0, tms: 21.5, slots: 21.5, cpu_load: 0.27, core_h: 380.0, gb_h: 1521.0, reconf: None, injected: 20, rec_mean: 158.0, rec_p50: 96.0, rec_max: 487.0, over_180: 5 },
    Row { run: "3_operator35_ADS_24_small", lat_mean: 6576.0, lat_p50: 1199.0, lat_p95: 41573.0, lat_p99: 73543.0, le_1500_pct: 80.8, thr: 44777.0, lag: 25725.0, tms: 21.0, slots: 21.0, cpu_load: 0.28, core_h: 371.0, gb_h: 1485.0, reconf: None, injected: 20, rec_mean: 127.0, rec_p50: 96.0, rec_max: 414.0, over_180: 2 },
];

/// Within 1 % of the reference, or within half a unit of its last printed digit (the table is
/// rounded: 0.23 stands for anything in [0.225, 0.235)).
fn close(
    what: &str,
    run: &str,
    actual: Option<f64>,
    expected: f64,
    decimals: i32,
) -> Result<(), String> {
    let Some(a) = actual else {
        return Err(format!("{run} {what}: no value, expected {expected}"));
    };
    let tol = (0.01 * expected.abs()).max(0.5 * 10f64.powi(-decimals) + 1e-9);
    if (a - expected).abs() <= tol {
        Ok(())
    } else {
        Err(format!(
            "{run} {what}: {a} is not within {tol} of {expected}"
        ))
    }
}

fn within(
    what: &str,
    run: &str,
    actual: Option<f64>,
    expected: f64,
    tol: f64,
) -> Result<(), String> {
    match actual {
        Some(a) if (a - expected).abs() <= tol + 1e-9 => Ok(()),
        Some(a) => Err(format!(
            "{run} {what}: {a} is not within {tol} of {expected}"
        )),
        None => Err(format!("{run} {what}: no value, expected {expected}")),
    }
}

fn check_row(s: &Summary, r: &Row) -> Vec<String> {
    let run = r.run;
    let mut errors: Vec<String> = [
        close("latency mean", run, s.latency_ms_mean, r.lat_mean, 0),
        close("latency p50", run, s.latency_ms_p50, r.lat_p50, 0),
        close("latency p95", run, s.latency_ms_p95, r.lat_p95, 0),
        close("latency p99", run, s.latency_ms_p99, r.lat_p99, 0),
        within(
            "share <= 1.5 s",
            run,
            s.latency_le_1500ms_pct,
            r.le_1500_pct,
            0.1,
        ),
        close("throughput", run, s.throughput_rps_mean, r.thr, 0),
        close("consumer lag", run, s.consumer_lag_records_mean, r.lag, 0),
        close("TMs", run, s.task_managers_mean, r.tms, 1),
        close("slots", run, s.task_slots_mean, r.slots, 1),
        close("CPU load", run, s.cpu_load_mean, r.cpu_load, 2),
        close("core-h", run, Some(s.core_hours), r.core_h, 0),
        close("GB-h", run, Some(s.memory_gb_hours), r.gb_h, 0),
        // The reference prints whole seconds: 1 s tolerance plus the rounding.
        within("recovery mean", run, s.recovery_s_mean, r.rec_mean, 1.0),
        within("recovery p50", run, s.recovery_s_p50, r.rec_p50, 1.0),
        within("recovery max", run, s.recovery_s_max, r.rec_max, 1.0),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    let mut exact = |what: &str, a: Option<u32>, e: Option<u32>| {
        if a != e {
            errors.push(format!("{run} {what}: {a:?}, expected {e:?}"));
        }
    };
    exact(
        "injected failures",
        Some(s.failures_injected),
        Some(r.injected),
    );
    exact("scheduled failures", s.failures_scheduled, Some(23));
    exact(
        "failures over 180 s",
        Some(s.recoveries_over_180s),
        Some(r.over_180),
    );
    exact("censored recoveries", Some(s.recoveries_censored), Some(0));
    // Runs without Demeter keep their initial configuration all along.
    exact(
        "configuration changes",
        s.config_changes,
        Some(r.reconf.unwrap_or(0)),
    );
    errors
}

fn summarize_folder(results: &Path, run: &str) -> Summary {
    let dir = results.join(run);
    let data = read_run_folder(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    summarize(&data)
}

#[test]
fn recorded_runs_reproduce_every_row_of_the_section_6_trace_summary() {
    let Some(results) = results_dir() else { return };
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for row in &SECTION_6 {
        let mut s = summarize_folder(&results, row.run);
        errors.extend(check_row(&s, row));
        s.run = row.run.to_string();
        rows.push(s);
    }
    println!("{}", demeter_sim::report::render_markdown(&rows));
    assert!(
        errors.is_empty(),
        "{} mismatches:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn static_runs_use_432_core_hours_and_reproduce_the_pooled_table() {
    let Some(results) = results_dir() else { return };
    // Second table of section 6: Static YSB 431.9 core-h, 95.5 s recovery, 99.2 % <= 2 s;
    // Static TSW 431.9 core-h, 109.5 s, 98.5 %.
    for (run, rec_mean, le_2000) in [
        ("1_baseline_ADS_24_small", 95.5, 99.2),
        ("1_baseline_CARS_24", 109.5, 98.5),
    ] {
        let s = summarize_folder(&results, run);
        assert!(
            (s.core_hours - 431.9).abs() < 0.05,
            "{run}: {} core-h",
            s.core_hours
        );
        assert!(
            (s.memory_gb_hours - 4.0 * s.core_hours).abs() < 1e-6,
            "{run}: 4 GB per core"
        );
        let rec = s.recovery_s_mean.expect("recoveries");
        assert!((rec - rec_mean).abs() < 0.05, "{run}: recovery mean {rec}");
        let le = s.latency_le_2000ms_pct.expect("latency");
        assert!((le - le_2000).abs() <= 0.05, "{run}: {le} % <= 2 s");
        assert_eq!(
            s.tm_level_changes, 0,
            "{run}: Static never changes its TaskManagers"
        );
    }
}

#[test]
fn pooled_means_over_repetitions_match_the_second_section_6_table() {
    let Some(results) = results_dir() else { return };
    // (policy, runs, <= 2 s %, pooled recovery mean s, failures over 180 s / failures)
    let groups = [
        ("demeter", "_ADS_24_small_new", 95.4, 102.2, (1, 61)),
        ("reactive35", "_ADS_24_small", 95.7, 160.2, (24, 69)),
        ("operator35", "_ADS_24_small", 77.6, 143.0, (13, 62)),
    ];
    for (policy, suffix, le_2000, rec_mean, (over, total)) in groups {
        let rows: Vec<Summary> = (1..=3)
            .map(|rep| summarize_folder(&results, &format!("{rep}_{policy}{suffix}")))
            .collect();
        let share = rows
            .iter()
            .map(|s| s.latency_le_2000ms_pct.unwrap())
            .sum::<f64>()
            / 3.0;
        assert!((share - le_2000).abs() <= 0.1, "{policy}: {share} % <= 2 s");
        let recs: Vec<i64> = rows
            .iter()
            .flat_map(|s| s.recovery_s.iter().flatten().copied())
            .collect();
        let pooled = recs.iter().sum::<i64>() as f64 / recs.len() as f64;
        assert!(
            (pooled - rec_mean).abs() <= 0.1,
            "{policy}: pooled recovery {pooled}"
        );
        let n_over: u32 = rows.iter().map(|s| s.recoveries_over_180s).sum();
        assert_eq!((n_over, recs.len()), (over, total), "{policy}");
    }
}
