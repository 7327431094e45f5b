//! Run summaries: the per-run table of research/demeter.md section 6 and its renderings.
//!
//! [`summarize`] turns a [`RunData`] (simulated or recorded) into a [`Summary`] with exactly the
//! definitions of section 6: the window is `[start_epoch, start_epoch + window_s)`, every
//! statistic is over the samples inside it (seconds without a sample are left out), resources
//! follow [`resources::core_and_gb_hours`] and recovery follows [`recovery`].

pub mod energy;
pub mod expect;
pub mod recovery;
pub mod resources;
pub mod stats;
pub mod table;

use serde::{Deserialize, Serialize};

use crate::runfolder::{RunData, Series};

pub use recovery::{recovery_times, RecoveryParams};
pub use table::{render, render_csv, render_json, render_markdown, render_table, Format};

/// Latency limits of the two "share of seconds" columns, ms.
pub const LATENCY_LIMIT_1500_MS: f64 = 1500.0;
pub const LATENCY_LIMIT_2000_MS: f64 = 2000.0;
/// The recovery-time constraint of the Demeter experiments (`recTimeConst`), s.
pub const RECOVERY_LIMIT_S: i64 = 180;

/// One row of the section-6 table. Statistics of an empty selection are `None`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Row label: the run's `<name>` from [`summarize`]; the CLI puts the folder name here.
    pub run: String,
    pub start_epoch: i64,
    pub window_s: i64,
    /// Seconds in the window with a latency sample.
    pub latency_samples: u64,
    pub latency_ms_mean: Option<f64>,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    pub latency_ms_p99: Option<f64>,
    /// Share of latency samples <= 1500 ms, percent.
    pub latency_le_1500ms_pct: Option<f64>,
    /// Share of latency samples <= 2000 ms, percent.
    pub latency_le_2000ms_pct: Option<f64>,
    pub throughput_rps_mean: Option<f64>,
    pub consumer_lag_records_mean: Option<f64>,
    pub task_managers_mean: Option<f64>,
    pub task_slots_mean: Option<f64>,
    /// Mean TaskManager JVM CPU load, 0..1.
    pub cpu_load_mean: Option<f64>,
    pub core_hours: f64,
    pub memory_gb_hours: f64,
    /// Failures injected inside the window.
    pub failures_injected: u32,
    /// Failures the schedule planned inside the window, when known.
    pub failures_scheduled: Option<u32>,
    /// Recovery time per injected failure, in injection order; `None` = censored.
    pub recovery_s: Vec<Option<i64>>,
    /// Mean / median (linear interpolation) / max of the recovered failures.
    pub recovery_s_mean: Option<f64>,
    pub recovery_s_p50: Option<f64>,
    pub recovery_s_max: Option<f64>,
    /// Failures that took longer than 180 s: recovered after more than 180 s, or censored
    /// more than 180 s after the injection.
    pub recoveries_over_180s: u32,
    /// Failures whose recovery was censored.
    pub recoveries_censored: u32,
    /// Configuration changes applied inside the window (configuration timeline); `None` when
    /// the run has no timeline.
    pub config_changes: Option<u32>,
    /// Changes between TaskManager levels held >= 180 s (see
    /// [`resources::tm_level_changes`]); a proxy for runs without a configuration timeline.
    pub tm_level_changes: u32,
    /// Profiling jobs (Demeter): count and TaskManager core-hours / GB-hours over their
    /// lifetimes (JobManagers excluded, as for production); `None` when the run has none.
    #[serde(default)]
    pub profiling_jobs: u32,
    #[serde(default)]
    pub profiling_core_hours: Option<f64>,
    #[serde(default)]
    pub profiling_gb_hours: Option<f64>,
    /// Energy of the run (nodes + WAN), J; `None` when the run folder has no `energy.json`
    /// (recorded runs). Absent fields keep older summaries and snapshots unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j: Option<f64>,
    /// Node energy per node class, J.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_j_by_class: Option<std::collections::BTreeMap<String, f64>>,
    /// WAN energy (per-bit + link base power), J.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan_energy_j: Option<f64>,
    /// Payload bytes carried over WAN links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wan_bytes: Option<f64>,
}

/// Core-hours and GB-hours of the profiling jobs' TaskManagers over their lifetimes.
fn profiling_hours(run: &RunData) -> (f64, f64) {
    let mut core_s = 0.0;
    let mut gb_s = 0.0;
    for p in &run.profiling {
        let tms = p.config.scale_out.div_ceil(p.config.task_slots.max(1)) as f64;
        let life_s = (p.stop_epoch - p.start_epoch).max(0) as f64;
        core_s += tms * p.config.cpu * life_s;
        gb_s += tms * p.config.memory_mb as f64 / 1024.0 * life_s;
    }
    (core_s / 3600.0, gb_s / 3600.0)
}

fn values_in(series: &Series, from: i64, to: i64) -> Vec<f64> {
    series.range(from, to).iter().map(|p| p.1).collect()
}

/// Summarizes one run with the definitions of research/demeter.md section 6.
pub fn summarize(run: &RunData) -> Summary {
    let from = run.start_epoch;
    let to = run.start_epoch.saturating_add(run.window_s.max(0));

    let latency = values_in(&run.latency_ms, from, to);
    let mut latency_sorted = latency.clone();
    latency_sorted.sort_by(f64::total_cmp);
    let pct =
        |q: f64| (!latency_sorted.is_empty()).then(|| stats::percentile_sorted(&latency_sorted, q));

    let failures: Vec<i64> = run
        .failures
        .iter()
        .copied()
        .filter(|t| (from..to).contains(t))
        .collect();
    let recovery_s = recovery_times(
        &run.consumer_lag,
        &failures,
        from,
        to,
        &RecoveryParams::default(),
    );
    let recovered: Vec<f64> = recovery_s.iter().flatten().map(|&r| r as f64).collect();
    let censor_s = RecoveryParams::default().censor_s;
    let recoveries_over_180s = recovery_s
        .iter()
        .zip(&failures)
        .enumerate()
        .filter(|(i, (r, &t_inj))| match r {
            Some(r) => *r > RECOVERY_LIMIT_S,
            None => {
                // Censored: certainly over the limit if the horizon reached past it.
                let mut horizon = t_inj.saturating_add(censor_s).min(to);
                if let Some(&next) = failures.get(i + 1) {
                    horizon = horizon.min(next);
                }
                horizon - t_inj > RECOVERY_LIMIT_S
            }
        })
        .count();
    let (core_hours, memory_gb_hours) =
        resources::core_and_gb_hours(&run.task_managers, &run.configs, from, to);

    Summary {
        run: run.name.clone(),
        start_epoch: run.start_epoch,
        window_s: run.window_s,
        latency_samples: latency.len() as u64,
        latency_ms_mean: stats::mean(&latency),
        latency_ms_p50: pct(0.50),
        latency_ms_p95: pct(0.95),
        latency_ms_p99: pct(0.99),
        latency_le_1500ms_pct: stats::share_at_most_pct(&latency, LATENCY_LIMIT_1500_MS),
        latency_le_2000ms_pct: stats::share_at_most_pct(&latency, LATENCY_LIMIT_2000_MS),
        throughput_rps_mean: stats::mean(&values_in(&run.throughput_rps, from, to)),
        consumer_lag_records_mean: stats::mean(&values_in(&run.consumer_lag, from, to)),
        task_managers_mean: stats::mean(&values_in(&run.task_managers, from, to)),
        task_slots_mean: stats::mean(&values_in(&run.task_slots, from, to)),
        cpu_load_mean: stats::mean(&values_in(&run.cpu_load, from, to)),
        core_hours,
        memory_gb_hours,
        failures_injected: u32::try_from(failures.len()).unwrap_or(u32::MAX),
        failures_scheduled: run.scheduled_failures,
        recovery_s_mean: stats::mean(&recovered),
        recovery_s_p50: stats::percentile(&recovered, 0.5),
        recovery_s_max: recovered.iter().copied().reduce(f64::max),
        recoveries_over_180s: u32::try_from(recoveries_over_180s).unwrap_or(u32::MAX),
        recoveries_censored: u32::try_from(recovery_s.iter().filter(|r| r.is_none()).count())
            .unwrap_or(u32::MAX),
        recovery_s,
        config_changes: resources::config_changes(&run.configs, from, to),
        tm_level_changes: resources::tm_level_changes(&run.task_managers, from, to),
        profiling_jobs: run.profiling.len() as u32,
        profiling_core_hours: (!run.profiling.is_empty()).then(|| profiling_hours(run).0),
        profiling_gb_hours: (!run.profiling.is_empty()).then(|| profiling_hours(run).1),
        energy_j: None,
        energy_j_by_class: None,
        wan_energy_j: None,
        wan_bytes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::ConfigRow;

    fn series(points: Vec<(i64, f64)>) -> Series {
        Series { points }
    }

    /// A 2-hour run starting at 1000 with samples outside the window that must be ignored.
    fn small_run() -> RunData {
        let (start, len) = (1000, 7200);
        let every = |f: &dyn Fn(i64) -> f64| {
            series((start - 10..start + len + 10).map(|t| (t, f(t))).collect())
        };
        // Latency 1000 ms, 3000 ms for 72 s (1 %), missing for 100 s, 1e9 outside the window.
        let latency = series(
            (start - 10..start + len + 10)
                .filter(|t| !(start + 5000..start + 5100).contains(t))
                .map(|t| {
                    let inside = (start..start + len).contains(&t);
                    let v = if !inside {
                        1e9
                    } else if (start + 100..start + 172).contains(&t) {
                        3000.0
                    } else {
                        1000.0
                    };
                    (t, v)
                })
                .collect(),
        );
        // Lag 1000 (T = 4000) with a backlog 3610..=3659 after the injection at 3600.
        let lag = every(&|t| {
            if (start + 3610..start + 3660).contains(&t) {
                50_000.0
            } else {
                1000.0
            }
        });
        RunData {
            profiling: vec![],
            name: "small".into(),
            start_epoch: start,
            window_s: len,
            latency_ms: latency,
            throughput_rps: every(&|_| 100.0),
            consumer_lag: lag,
            cpu_load: every(&|_| 0.5),
            task_managers: every(&|_| 4.0),
            task_slots: every(&|_| 8.0),
            // One injection before the window (ignored), one inside.
            failures: vec![start - 5, start + 3600],
            configs: vec![
                ConfigRow {
                    timestamp: start - 1,
                    scale_out: 8,
                    task_slots: 2,
                    cpu: 2.0,
                    memory_mb: 2048,
                    checkpoint_interval_ms: 10_000,
                },
                ConfigRow {
                    timestamp: start + 3600,
                    scale_out: 8,
                    task_slots: 2,
                    cpu: 1.0,
                    memory_mb: 8192,
                    checkpoint_interval_ms: 30_000,
                },
            ],
            scheduled_failures: Some(1),
        }
    }

    #[test]
    fn summary_uses_only_the_window_and_section_6_definitions() {
        let s = summarize(&small_run());
        assert_eq!(s.run, "small");
        assert_eq!(s.latency_samples, 7100);
        let mean = (7028.0 * 1000.0 + 72.0 * 3000.0) / 7100.0;
        assert!((s.latency_ms_mean.unwrap() - mean).abs() < 1e-9);
        assert_eq!(s.latency_ms_p50, Some(1000.0));
        // 72 of 7100 samples at 3000: p99 position 7099 x 0.99 = 7028.01 lies just inside them.
        assert_eq!(s.latency_ms_p99, Some(3000.0));
        let share = 100.0 * 7028.0 / 7100.0;
        assert!((s.latency_le_1500ms_pct.unwrap() - share).abs() < 1e-9);
        assert_eq!(s.throughput_rps_mean, Some(100.0));
        assert_eq!(s.task_managers_mean, Some(4.0));
        assert_eq!(s.task_slots_mean, Some(8.0));
        assert_eq!(s.cpu_load_mean, Some(0.5));
        // 4 TMs x (1 h x 2 cores + 1 h x 1 core) = 12 core-h; 4 x (1 h x 2 GB + 1 h x 8 GB) = 40 GB-h.
        assert!((s.core_hours - 12.0).abs() < 1e-9, "{}", s.core_hours);
        assert!(
            (s.memory_gb_hours - 40.0).abs() < 1e-9,
            "{}",
            s.memory_gb_hours
        );
        assert_eq!((s.failures_injected, s.failures_scheduled), (1, Some(1)));
        assert_eq!(s.recovery_s, vec![Some(60)]);
        assert_eq!(s.recovery_s_mean, Some(60.0));
        assert_eq!(s.recoveries_over_180s, 0);
        assert_eq!(s.config_changes, Some(1));
        assert_eq!(s.tm_level_changes, 0);
    }

    #[test]
    fn empty_run_summarizes_to_missing_values_not_a_panic() {
        let s = summarize(&RunData::default());
        assert_eq!(s.latency_samples, 0);
        assert_eq!(s.latency_ms_mean, None);
        assert_eq!(s.recovery_s_mean, None);
        assert_eq!(s.core_hours, 0.0);
        assert_eq!(s.config_changes, None);
    }

    #[test]
    fn censored_recovery_counts_as_over_180_s_only_when_the_horizon_passed_180_s() {
        let mut run = small_run();
        // Backlog never clears after the injection at +3600 (ends at the window end, 3600 s later).
        run.consumer_lag = series(
            (1000..8200)
                .map(|t| (t, if t >= 4610 { 50_000.0 } else { 1000.0 }))
                .collect(),
        );
        let s = summarize(&run);
        assert_eq!(s.recovery_s, vec![None]);
        assert_eq!((s.recoveries_censored, s.recoveries_over_180s), (1, 1));
        assert_eq!(s.recovery_s_mean, None);

        // A second injection 100 s later censors the first before 180 s.
        run.failures = vec![4600, 4700];
        let s = summarize(&run);
        assert_eq!(s.recovery_s, vec![None, None]);
        assert_eq!((s.recoveries_censored, s.recoveries_over_180s), (2, 1));
    }
}
