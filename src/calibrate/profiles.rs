//! Demeter's recorded profiling runs against the twin: each profile's configuration profiled
//! in the twin at the same moment of the same workload, measured as the prototype measured it
//! (`backend::profiling`), side by side with what the prototype stored in `profiles.csv`.
//!
//! The profiles are the traces' only evidence on configurations other than the production
//! job's: 1-4 slots, 1-4 cores and 1-4 GB per TaskManager, 4-24 subtasks. Where a profile
//! could not keep up, its 60-s mean throughput is that configuration's capacity, which is what
//! the model's CPU-per-slot, memory and contention terms predict.

use std::path::Path;

use crate::backend::profiling::run_profile_from;
use crate::flink::{JobConfig, JobModel, SchedulerMode, Twin, TwinSetup};
use crate::policy::profile::ProfileSpec;
use crate::report::stats;
use crate::runfolder::RunFolderError;
use crate::time::{SimDuration, SimTime};

/// Header of the prototype's `profiles.csv`.
pub const RECORDED_HEADER: &str =
    "expId,genType,jobName,scaleOut,chkInt,cpuVal,memVal,taskSlots,avgThr,avgLat,recTime,startTs,stopTs";

/// One row of the prototype's `profiles.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedProfile {
    pub config: JobConfig,
    /// Start and end of the 60-s measurement window (epoch s).
    pub start_epoch: i64,
    pub stop_epoch: i64,
    pub throughput_rps: f64,
    pub latency_ms: f64,
    /// Stored recovery time: 20 s + disturbance, 360 when not recovered; `None` when the
    /// prototype stored -1 (no failure measured).
    pub recovery_s: Option<f64>,
}

/// Parses the prototype's `profiles.csv` (comma-separated, header [`RECORDED_HEADER`]).
pub fn parse_recorded(path: &Path, text: &str) -> Result<Vec<RecordedProfile>, RunFolderError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |expected: &str| RunFolderError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            expected: expected.to_string(),
            found: line.to_string(),
        };
        if i == 0 {
            if line.trim() != RECORDED_HEADER {
                return Err(bad(&format!("the header {RECORDED_HEADER:?}")));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let row = || bad("13 comma-separated fields as in the header, numbers from scaleOut on");
        if f.len() != 13 {
            return Err(row());
        }
        let num = |k: usize| {
            f[k].parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(row)
        };
        let int = |k: usize| f[k].parse::<i64>().map_err(|_| row());
        let positive = |k: usize| -> Result<u32, RunFolderError> {
            u32::try_from(int(k)?)
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(row)
        };
        let interval_ms = int(4)?;
        let cpu = num(5)?;
        if interval_ms <= 0 || cpu <= 0.0 {
            return Err(row());
        }
        let recovery = num(10)?;
        out.push(RecordedProfile {
            config: JobConfig {
                scale_out: positive(3)?,
                task_slots: positive(7)?,
                cpu,
                memory_mb: positive(6)?,
                checkpoint_interval: SimDuration::from_ms(interval_ms as u64),
                parallelism_overrides: vec![],
            },
            throughput_rps: num(8)?,
            latency_ms: num(9)?,
            recovery_s: (recovery >= 0.0).then_some(recovery),
            start_epoch: int(11)?,
            stop_epoch: int(12)?,
        });
    }
    Ok(out)
}

/// A recorded profile and the twin's profile of the same configuration at the same time.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProfileComparison {
    pub start_epoch: i64,
    pub scale_out: u32,
    pub task_slots: u32,
    pub cpu: f64,
    pub memory_mb: u32,
    pub checkpoint_interval_s: f64,
    /// The offered load over the measurement window (mean rec/s).
    pub offered_rps: f64,
    pub recorded_throughput_rps: f64,
    pub simulated_throughput_rps: f64,
    pub recorded_latency_ms: f64,
    pub simulated_latency_ms: f64,
    pub recorded_recovery_s: Option<f64>,
    pub simulated_recovery_s: f64,
}

/// Profiles every recorded configuration in the twin: a production-less twin of `model` on
/// `workload_rps` (per second from `start_epoch`) is advanced to each profile's deployment
/// (`warmup` before its measurement window) and profiles from there. Profiles outside the
/// workload are skipped.
pub fn compare(
    model: &JobModel,
    workload_rps: &[f64],
    start_epoch: i64,
    profiles: &[RecordedProfile],
    seed: u64,
) -> Vec<ProfileComparison> {
    let spec = ProfileSpec::default();
    let warmup_s = (spec.warmup.as_ms() / 1000) as i64;
    let horizon_s = workload_rps.len() as u64;
    let parent = Twin::new(TwinSetup {
        model: model.clone(),
        config: JobConfig {
            scale_out: 1,
            task_slots: 1,
            cpu: 1.0,
            memory_mb: 4096,
            checkpoint_interval: SimDuration::from_secs(10),
            parallelism_overrides: vec![],
        },
        scheduler: SchedulerMode::Default,
        node_speed: 1.0,
        workload_rps: workload_rps.to_vec(),
        tick: SimDuration::from_secs(1),
        horizon: SimTime::from_secs(horizon_s.max(1)),
        failures: None,
        seed,
        start_epoch,
    });
    let mean = |from: i64, to: i64| {
        let (a, b) = (
            from.max(0) as usize,
            (to.max(0) as usize).min(workload_rps.len()),
        );
        (b > a).then(|| workload_rps[a..b].iter().sum::<f64>() / (b - a) as f64)
    };
    let mut out = Vec::new();
    for (k, p) in profiles.iter().enumerate() {
        let deploy_s = p.start_epoch - start_epoch - warmup_s;
        if deploy_s < 0 || deploy_s as u64 >= horizon_s {
            continue;
        }
        let Some(offered_rps) = mean(p.start_epoch - start_epoch, p.stop_epoch - start_epoch)
        else {
            continue;
        };
        let r = run_profile_from(
            &parent,
            SimTime::from_secs(deploy_s as u64),
            p.config.clone(),
            &spec,
            crate::rng::derive_seed(seed, &format!("profile {k}")),
        );
        let c = &p.config;
        out.push(ProfileComparison {
            start_epoch: p.start_epoch,
            scale_out: c.scale_out,
            task_slots: c.task_slots,
            cpu: c.cpu,
            memory_mb: c.memory_mb,
            checkpoint_interval_s: c.checkpoint_interval.as_secs_f64(),
            offered_rps,
            recorded_throughput_rps: p.throughput_rps,
            simulated_throughput_rps: r.throughput_rps,
            recorded_latency_ms: p.latency_ms,
            simulated_latency_ms: r.latency_ms,
            recorded_recovery_s: p.recovery_s,
            simulated_recovery_s: r.recovery_s,
        });
    }
    out
}

/// A profile whose 60-s mean throughput is below this share of the offered load did not keep
/// up: its throughput is its capacity.
pub const SHORT_OF_LOAD: f64 = 0.9;

/// Recovered profiles fall in steps of the Kafka metrics' 30-s sample window
/// (`metrics.sample.window.ms`): the restarted consumers' records-lag-max and
/// records-consumed-rate forget the catch-up one sample at a time. The recorded steps sit at
/// 84-101, 115-125, 148-158 ... s (docs/latency_tail.md, session 13); these are the upper ends of
/// the first and second, 30 s apart.
pub const RECOVERY_STEP_ENDS_S: [f64; 2] = [105.0, 135.0];

/// Which step a recovered profile's recovery falls in: 0 = first, 1 = second, 2 = later.
fn recovery_step(recovery_s: f64) -> usize {
    RECOVERY_STEP_ENDS_S
        .iter()
        .position(|&end| recovery_s < end)
        .unwrap_or(RECOVERY_STEP_ENDS_S.len())
}

/// How the twin's profiles compare with the recorded ones.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProfileSummary {
    pub profiles: usize,
    /// Profiles short of the load (< [`SHORT_OF_LOAD`] x offered), recorded / simulated / both.
    pub short_recorded: usize,
    pub short_simulated: usize,
    pub short_both: usize,
    /// Over the profiles short of the load on both sides: median simulated / recorded
    /// throughput (capacity).
    pub capacity_ratio_median: Option<f64>,
    /// Profiles with a stored recovery: not recovered (360) recorded / simulated / both.
    pub with_recovery: usize,
    pub unrecovered_recorded: usize,
    pub unrecovered_simulated: usize,
    pub unrecovered_both: usize,
    /// Over the profiles recovered on both sides: mean simulated - recorded recovery, and the
    /// mean absolute difference, s.
    pub recovery_bias_s: Option<f64>,
    pub recovery_mae_s: Option<f64>,
    /// Recovered profiles (each side on its own) in the first, second and later 30-s step
    /// ([`RECOVERY_STEP_ENDS_S`]), recorded / simulated.
    pub recovered_steps_recorded: [usize; 3],
    pub recovered_steps_simulated: [usize; 3],
}

/// Summarizes [`compare`]'s rows (`cap_s`: the stored value for "not recovered").
pub fn summarize(rows: &[ProfileComparison], cap_s: f64) -> ProfileSummary {
    let short = |thr: f64, r: &ProfileComparison| thr < SHORT_OF_LOAD * r.offered_rps;
    let both_short: Vec<&ProfileComparison> = rows
        .iter()
        .filter(|r| short(r.recorded_throughput_rps, r) && short(r.simulated_throughput_rps, r))
        .collect();
    let ratios: Vec<f64> = both_short
        .iter()
        .filter(|r| r.recorded_throughput_rps > 0.0)
        .map(|r| r.simulated_throughput_rps / r.recorded_throughput_rps)
        .collect();
    let with: Vec<(&ProfileComparison, f64)> = rows
        .iter()
        .filter_map(|r| r.recorded_recovery_s.map(|v| (r, v)))
        .collect();
    let lost = |v: f64| v >= cap_s;
    let differences: Vec<f64> = with
        .iter()
        .filter(|(r, v)| !lost(*v) && !lost(r.simulated_recovery_s))
        .map(|(r, v)| r.simulated_recovery_s - v)
        .collect();
    let absolute: Vec<f64> = differences.iter().map(|d| d.abs()).collect();
    let steps = |values: &mut dyn Iterator<Item = f64>| {
        let mut counts = [0; 3];
        values
            .filter(|v| !lost(*v))
            .for_each(|v| counts[recovery_step(v)] += 1);
        counts
    };
    ProfileSummary {
        profiles: rows.len(),
        short_recorded: rows
            .iter()
            .filter(|r| short(r.recorded_throughput_rps, r))
            .count(),
        short_simulated: rows
            .iter()
            .filter(|r| short(r.simulated_throughput_rps, r))
            .count(),
        short_both: both_short.len(),
        capacity_ratio_median: stats::percentile(&ratios, 0.5),
        with_recovery: with.len(),
        unrecovered_recorded: with.iter().filter(|(_, v)| lost(*v)).count(),
        unrecovered_simulated: with
            .iter()
            .filter(|(r, _)| lost(r.simulated_recovery_s))
            .count(),
        unrecovered_both: with
            .iter()
            .filter(|(r, v)| lost(*v) && lost(r.simulated_recovery_s))
            .count(),
        recovery_bias_s: stats::mean(&differences),
        recovery_mae_s: stats::mean(&absolute),
        recovered_steps_recorded: steps(&mut with.iter().map(|(_, v)| *v)),
        recovered_steps_simulated: steps(&mut with.iter().map(|(r, _)| r.simulated_recovery_s)),
    }
}

fn steps_text(counts: [usize; 3]) -> String {
    format!("{} - {} - {}", counts[0], counts[1], counts[2])
}

/// The report section: the summary and one row per profile.
pub fn render(rows: &[ProfileComparison], s: &ProfileSummary) -> String {
    let opt = |v: Option<f64>, d: usize| v.map_or_else(|| "–".to_string(), |x| format!("{x:.d$}"));
    let mut out = format!(
        "\n## Profiling runs (the prototype's profiles.csv vs the twin profiling the same configuration then)\n\n\
         | measure | recorded / simulated |\n|:--|--:|\n\
         | profiles | {} |\n\
         | short of the load (throughput < {SHORT_OF_LOAD} x offered), both sides: {} | {} / {} |\n\
         | capacity where both are short, median simulated / recorded | {} |\n\
         | not recovered (stored 360 s) of {} with a stored recovery, both sides: {} | {} / {} |\n\
         | recovery where both recovered, mean simulated - recorded / mean absolute difference, s | {} / {} |\n\
         | recovered in the Kafka metrics' first / second / later 30-s step (< {:.0} / < {:.0} / later s) | {} / {} |\n\n\
         | start (epoch s) | scale-out x slots | cpu | memory MB | chkInt s | offered rec/s | throughput rec / sim | latency ms rec / sim | recovery s rec / sim |\n\
         |--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        s.profiles,
        s.short_both,
        s.short_recorded,
        s.short_simulated,
        opt(s.capacity_ratio_median, 2),
        s.with_recovery,
        s.unrecovered_both,
        s.unrecovered_recorded,
        s.unrecovered_simulated,
        opt(s.recovery_bias_s, 0),
        opt(s.recovery_mae_s, 0),
        RECOVERY_STEP_ENDS_S[0],
        RECOVERY_STEP_ENDS_S[1],
        steps_text(s.recovered_steps_recorded),
        steps_text(s.recovered_steps_simulated),
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} x {} | {} | {} | {} | {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {} / {:.0} |\n",
            r.start_epoch,
            r.scale_out,
            r.task_slots,
            r.cpu,
            r.memory_mb,
            r.checkpoint_interval_s,
            r.offered_rps,
            r.recorded_throughput_rps,
            r.simulated_throughput_rps,
            r.recorded_latency_ms,
            r.simulated_latency_ms,
            opt(r.recorded_recovery_s, 0),
            r.simulated_recovery_s,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(rows: &[&str]) -> String {
        std::iter::once(RECORDED_HEADER)
            .chain(rows.iter().copied())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn parses_the_prototype_format_and_names_bad_lines() {
        let t = text(&[
            "1,ADS,profile6,4,90000,1,3072,4,6550.2,61206.3,360,1697072586,1697072646",
            "1,ADS,profile4,8,90000,1,2048,4,8946.4,7629.7,-1,1697072586,1697072646",
        ]);
        let p = parse_recorded(Path::new("profiles.csv"), &t).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].config.scale_out, 4);
        assert_eq!(p[0].config.task_slots, 4);
        assert_eq!(p[0].config.memory_mb, 3072);
        assert_eq!(p[0].config.checkpoint_interval, SimDuration::from_secs(90));
        assert_eq!(p[0].recovery_s, Some(360.0));
        assert_eq!(p[1].recovery_s, None, "-1: no failure measured");
        assert_eq!(
            (p[1].start_epoch, p[1].stop_epoch),
            (1697072586, 1697072646)
        );
        let e = parse_recorded(
            Path::new("profiles.csv"),
            &text(&["1,ADS,p,0,90000,1,3072,4,1,1,1,1,2"]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("profiles.csv") && e.contains("line 2"), "{e}");
        let e = parse_recorded(Path::new("p.csv"), "a,b\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("header"), "{e}");
    }

    fn row(
        offered: f64,
        rec_thr: f64,
        sim_thr: f64,
        rec: Option<f64>,
        sim: f64,
    ) -> ProfileComparison {
        ProfileComparison {
            start_epoch: 0,
            scale_out: 8,
            task_slots: 1,
            cpu: 1.0,
            memory_mb: 1024,
            checkpoint_interval_s: 10.0,
            offered_rps: offered,
            recorded_throughput_rps: rec_thr,
            simulated_throughput_rps: sim_thr,
            recorded_latency_ms: 1000.0,
            simulated_latency_ms: 1000.0,
            recorded_recovery_s: rec,
            simulated_recovery_s: sim,
        }
    }

    #[test]
    fn summary_counts_by_hand() {
        let rows = [
            row(100.0, 50.0, 60.0, Some(360.0), 360.0), // both short (ratio 1.2), both lost
            row(100.0, 99.0, 70.0, Some(100.0), 120.0), // sim short only; both recovered +20
            row(100.0, 80.0, 72.0, Some(90.0), 80.0),   // both short (0.9); both recovered -10
            row(100.0, 100.0, 100.0, None, 95.0),       // no stored recovery
        ];
        let s = summarize(&rows, 360.0);
        assert_eq!(
            (
                s.profiles,
                s.short_recorded,
                s.short_simulated,
                s.short_both
            ),
            (4, 2, 3, 2)
        );
        assert!(
            (s.capacity_ratio_median.unwrap() - 1.05).abs() < 1e-9,
            "{s:?}"
        );
        assert_eq!(s.with_recovery, 3);
        assert_eq!(
            (
                s.unrecovered_recorded,
                s.unrecovered_simulated,
                s.unrecovered_both
            ),
            (1, 1, 1)
        );
        assert_eq!(s.recovery_bias_s, Some(5.0));
        assert_eq!(s.recovery_mae_s, Some(15.0));
        // Recovered: recorded 100 (first), 90 (first); simulated 120 (second), 80 (first) and
        // 95 for the profile without a stored recovery, which is not counted.
        assert_eq!(s.recovered_steps_recorded, [2, 0, 0]);
        assert_eq!(s.recovered_steps_simulated, [1, 1, 0]);
    }

    #[test]
    fn recovery_steps_are_thirty_seconds_wide() {
        assert_eq!(recovery_step(88.0), 0);
        assert_eq!(recovery_step(104.9), 0);
        assert_eq!(recovery_step(105.0), 1);
        assert_eq!(recovery_step(125.0), 1);
        assert_eq!(recovery_step(135.0), 2);
        assert_eq!(recovery_step(215.0), 2);
        let text = render(&[], &summarize(&[], 360.0));
        assert!(text.contains("first / second / later 30-s step (< 105 / < 135 / later s) | 0 - 0 - 0 / 0 - 0 - 0 |"), "{text}");
    }
}
