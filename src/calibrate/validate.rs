//! Validation: simulate a recorded run as it happened and report the distance per series.
//!
//! The twin gets the recorded workload (3 x the dataset with the generators' noise), the
//! recorded failure times and the configuration timeline the run went through, so what is
//! judged is the twin, not a policy. Errors are computed on 60-s means where the recorded
//! series are noisy per second (10-s means for a minutes-long live recording).

use std::collections::BTreeSet;

use crate::backend::SimBackend;
use crate::control;
use crate::flink::failure::{
    Alignment, FailureKind, FailurePlan, FailureSchedule, InjectorClock, SecondFailover,
};
use crate::flink::{JobConfig, JobModel, SchedulerMode, Twin, TwinSetup};
use crate::report::{self, Summary};
use crate::runfolder::{RunData, Series};
use crate::simulate::RunResult;
use crate::time::{SimDuration, SimTime};

use super::catch_up::{self, CatchUp, CatchUpErrors};
use super::replay::{timeline, RecordedPolicy, ReplayJob, ReplayPolicy};
use super::second_failover;

/// Everything needed to replay one recorded run.
pub struct RecordedSetup {
    pub run: RunData,
    pub policy: RecordedPolicy,
    pub model: JobModel,
    /// Offered load per second from the run's start (scaled, with noise).
    pub workload_rps: Vec<f64>,
    pub seed: u64,
    pub tick: SimDuration,
    /// A live recording's rescales and offered load (policy `Live` only).
    pub live: Option<super::live::LiveRun>,
}

/// The configuration the recorded run started with (research/demeter.md §3).
pub fn initial_config(run: &RunData, policy: RecordedPolicy) -> JobConfig {
    let mut c = JobConfig {
        scale_out: 24,
        task_slots: 1,
        cpu: 1.0,
        memory_mb: 4096,
        checkpoint_interval: SimDuration::from_secs(10),
        parallelism_overrides: vec![],
    };
    match policy {
        // The Reactive job YAML uses 20-s checkpoints (§3.2).
        RecordedPolicy::Reactive => c.checkpoint_interval = SimDuration::from_secs(20),
        RecordedPolicy::Demeter | RecordedPolicy::Live => {
            if let Some(first) = run.configs.first() {
                c.scale_out = first.scale_out;
                c.task_slots = first.task_slots;
                c.cpu = first.cpu;
                c.memory_mb = first.memory_mb;
                c.checkpoint_interval = SimDuration::from_ms(first.checkpoint_interval_ms);
            }
        }
        _ => {}
    }
    c
}

/// Simulates the recorded run; returns the result and the simulated run in the recorded
/// format. For a live recording the throughput series is the last vertex's records in per
/// second (see [`super::live::processed_run`]) and the lag series the source's whole backlog,
/// not the Kafka-metric models the Demeter traces need.
pub fn simulate_recorded_data(setup: RecordedSetup) -> (RunResult, RunData) {
    let live = setup.policy == RecordedPolicy::Live;
    let (result, processed, pending) = simulate_with_rates(setup);
    let mut data = result.run_data();
    if live {
        let series = |v: Vec<(u64, f64)>| Series {
            points: v
                .into_iter()
                .map(|(s, r)| (data.start_epoch + s as i64, r))
                .collect(),
        };
        data.throughput_rps = series(processed);
        // The live lag is the source's whole backlog, not Kafka's per-partition records-lag-max.
        data.consumer_lag = series(pending);
    }
    (result, data)
}

/// Simulates the recorded run with its failures and configuration timeline.
pub fn simulate_recorded(setup: RecordedSetup) -> RunResult {
    simulate_with_rates(setup).0
}

type PerSecond = Vec<(u64, f64)>;

fn simulate_with_rates(setup: RecordedSetup) -> (RunResult, PerSecond, PerSecond) {
    let run = &setup.run;
    let mut config = initial_config(run, setup.policy);
    if let Some(first) = setup.live.as_ref().and_then(|l| l.parallelism.first()) {
        config.parallelism_overrides = first.1.iter().map(|&p| Some(p)).collect();
    }
    let scheduler = match setup.policy {
        RecordedPolicy::Reactive => SchedulerMode::Reactive,
        RecordedPolicy::Live => SchedulerMode::Adaptive,
        _ => SchedulerMode::Default,
    };
    let in_window = run.failures_in_window();
    let failures: Vec<SimTime> = in_window
        .iter()
        .map(|&f| SimTime::from_secs((f - run.start_epoch) as u64))
        .collect();
    // The failures the recording shows failing twice, replayed as they happened.
    let second_failover = SecondFailover::Listed(if second_failover::applies(Some(setup.policy)) {
        second_failover::recorded(run, &in_window)
    } else {
        BTreeSet::new()
    });
    let failures_scheduled = failures.len();
    let horizon = SimTime::from_secs(run.window_s.max(1) as u64);
    let kind = match setup.policy {
        // `kill -9` of a TaskManager process: its tasks fail at once (connection reset).
        // failures.csv holds the second the backend saw the loss, and the job was already
        // restarting a second before (ds2-step-tm-kill events.csv: Restarting 101.0 s,
        // task_manager_lost 102.0 s), so the failure is detected at that second.
        RecordedPolicy::Live => FailureKind::TaskManagerCrash {
            detection: SimDuration::ZERO,
        },
        _ => FailureKind::NetworkDelay {
            duration: SimDuration::from_secs(30),
        },
    };
    // Demeter: Chaos Mesh NetworkChaos delay for 30 s (research/demeter.md §2.2). The recorded
    // injection times were aligned by the experiments' injector (5 s before the completion it
    // expected one interval after the last acknowledgement; the Reactive experiment's injector
    // computes with its properties' 10 s while the job runs 20 s, §3.2): the twin takes its
    // checkpoint where the recorded job's last one completed, so each failure replays the
    // recorded amount of work. The live recordings' failures are kills at a chosen second.
    let alignment = match setup.policy {
        RecordedPolicy::Live => Alignment::None,
        RecordedPolicy::Reactive => Alignment::Recorded(InjectorClock {
            interval: Some(SimDuration::from_secs(10)),
            ..InjectorClock::experiments()
        }),
        _ => Alignment::Recorded(InjectorClock::experiments()),
    };
    let plan = (!failures.is_empty()).then_some(FailurePlan {
        kind,
        schedule: FailureSchedule::At(failures),
        alignment,
        second_failover,
    });
    // What one source subtask sustains at full parallelism in this model (the operator
    // replays read their source parallelism off catch-up plateaus with it).
    let source_job = {
        let probe = Twin::new(TwinSetup {
            model: setup.model.clone(),
            config: config.clone(),
            scheduler,
            node_speed: 1.0,
            workload_rps: vec![0.0],
            tick: setup.tick,
            horizon: SimTime::from_secs(1),
            failures: None,
            seed: setup.seed,
            start_epoch: run.start_epoch,
        });
        ReplayJob {
            source_subtask_rps: probe.capacity_rps()[0] / probe.parallelism()[0].max(1) as f64,
            vertices: probe.parallelism().len(),
        }
    };
    let changes = match &setup.live {
        Some(live) => super::replay::live_timeline(live),
        None => timeline(run, setup.policy, &config, Some(source_job)),
    };
    let mut policy = ReplayPolicy::new(changes, scheduler, Some(config.checkpoint_interval));
    let mut twin = Twin::new(TwinSetup {
        model: setup.model,
        config,
        scheduler,
        node_speed: 1.0,
        workload_rps: setup.workload_rps,
        tick: setup.tick,
        horizon,
        failures: plan,
        seed: setup.seed,
        start_epoch: run.start_epoch,
    });
    // A live cluster's TaskManagers run whether or not the job's slots need them.
    if setup.policy == RecordedPolicy::Live {
        let tms = run
            .task_managers
            .range(run.start_epoch, run.start_epoch + run.window_s)
            .first()
            .map_or(1, |p| p.1.round().max(1.0) as u32);
        twin.set_task_managers(tms);
    }
    let mut backend = SimBackend::new(twin);
    let decisions = control::run(&mut backend, &mut policy, |_, _| {})
        .expect("the simulated backend never fails");
    let (twin, profiles) = backend.into_parts();
    let rates = policy.processed_rates().to_vec();
    let pending = policy.pending_records().to_vec();
    (
        RunResult {
            twin,
            profiles,
            failures_scheduled,
            decisions,
            evaluations: Vec::new(),
            seed: setup.seed,
            policy_name: run.name.clone(),
        },
        rates,
        pending,
    )
}

/// How far a simulated run is from the recorded one.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Fidelity {
    pub recorded: Summary,
    pub simulated: Summary,
    /// Seconds per mean of the throughput and lag errors (60, or 10 for a live recording).
    pub bucket_s: i64,
    /// Mean absolute percentage error of `bucket_s`-s mean throughput, %.
    pub throughput_mape_pct: Option<f64>,
    /// Relative error of the mean consumer lag, %.
    pub lag_mean_error_pct: Option<f64>,
    /// Mean absolute error of 60-s mean lag, records.
    pub lag_mae_records: Option<f64>,
    /// Share of seconds with latency <= 1.5 s, simulated minus recorded, points.
    pub latency_share_diff_pts: Option<f64>,
    /// Relative error of the median latency, %.
    pub latency_p50_error_pct: Option<f64>,
    /// Mean absolute difference of the TaskManager count per second.
    pub task_managers_mae: Option<f64>,
    /// Relative error of core-hours, %.
    pub core_hours_error_pct: f64,
    /// Relative error of mean recovery, %.
    pub recovery_mean_error_pct: Option<f64>,
    /// A live recording: RMS of simulated minus recorded time from each rescale request or
    /// TaskManager kill to the job running again, s (`live::timeline_rows`).
    pub resume_rms_error_s: Option<f64>,
    /// Per failure: (recorded injection epoch, recorded recovery s, simulated recovery s).
    pub per_failure: Vec<(i64, Option<i64>, Option<i64>)>,
    /// Per failure: the catch-up of the recording and of the replay (`catch_up`).
    pub catch_ups: Vec<(CatchUp, CatchUp)>,
    /// Their comparison.
    pub catch_up: CatchUpErrors,
    /// The failures (1-based) whose restarted job stopped again soon after resuming
    /// (`second_failover::recorded`), in the recording and in the replay.
    pub failed_twice: (Vec<usize>, Vec<usize>),
}

fn bucket_means(s: &Series, from: i64, to: i64, bucket_s: i64) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut bucket = from;
    let (mut sum, mut n) = (0.0, 0usize);
    for &(t, v) in s.range(from, to) {
        let b = from + (t - from) / bucket_s * bucket_s;
        if b != bucket {
            if n > 0 {
                out.push((bucket, sum / n as f64));
            }
            bucket = b;
            sum = 0.0;
            n = 0;
        }
        sum += v;
        n += 1;
    }
    if n > 0 {
        out.push((bucket, sum / n as f64));
    }
    out
}

/// Pairs the buckets both series have.
fn paired(a: &[(i64, f64)], b: &[(i64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push((a[i].1, b[j].1));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

pub(crate) fn rel_err_pct(sim: Option<f64>, rec: Option<f64>) -> Option<f64> {
    match (sim, rec) {
        (Some(s), Some(r)) if r != 0.0 => Some((s - r) / r * 100.0),
        _ => None,
    }
}

/// Compares a simulated run with the recorded one over the recorded window.
pub fn fidelity(recorded: &RunData, simulated: &RunData) -> Fidelity {
    fidelity_bucketed(recorded, simulated, 60)
}

/// [`fidelity`] with throughput and lag errors on `bucket_s`-s means (a 150-s live recording
/// has too few 60-s means).
pub fn fidelity_bucketed(recorded: &RunData, simulated: &RunData, bucket_s: i64) -> Fidelity {
    let minute_means = |s: &Series, from: i64, to: i64| bucket_means(s, from, to, bucket_s);
    let from = recorded.start_epoch;
    let to = recorded.start_epoch + recorded.window_s;
    let rec = report::summarize(recorded);
    let sim = report::summarize(simulated);
    let thr = paired(
        &minute_means(&simulated.throughput_rps, from, to),
        &minute_means(&recorded.throughput_rps, from, to),
    );
    let thr: Vec<(f64, f64)> = thr.into_iter().filter(|p| p.1 > 0.0).collect();
    let throughput_mape_pct = (!thr.is_empty()).then(|| {
        thr.iter().map(|(s, r)| ((s - r) / r).abs()).sum::<f64>() / thr.len() as f64 * 100.0
    });
    let lag = paired(
        &minute_means(&simulated.consumer_lag, from, to),
        &minute_means(&recorded.consumer_lag, from, to),
    );
    let lag_mae_records = (!lag.is_empty())
        .then(|| lag.iter().map(|(s, r)| (s - r).abs()).sum::<f64>() / lag.len() as f64);
    let tms = paired(
        simulated.task_managers.range(from, to),
        recorded.task_managers.range(from, to),
    );
    let task_managers_mae = (!tms.is_empty())
        .then(|| tms.iter().map(|(s, r)| (s - r).abs()).sum::<f64>() / tms.len() as f64);
    let in_window = recorded.failures_in_window();
    let per_failure = in_window
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            (
                f,
                rec.recovery_s.get(i).copied().flatten(),
                sim.recovery_s.get(i).copied().flatten(),
            )
        })
        .collect();
    let rec_catch_ups = catch_up::catch_ups(recorded);
    let sim_catch_ups = catch_up::catch_ups_at(simulated, &recorded.failures);
    let catch_up = catch_up::compare(&rec_catch_ups, &sim_catch_ups);
    let twice = |run: &RunData| {
        second_failover::recorded(run, &in_window)
            .into_iter()
            .map(|i| i + 1)
            .collect::<Vec<_>>()
    };
    let failed_twice = if second_failover::applies(RecordedPolicy::from_run_name(&recorded.name)) {
        (twice(recorded), twice(simulated))
    } else {
        (Vec::new(), Vec::new())
    };
    Fidelity {
        failed_twice,
        bucket_s,
        resume_rms_error_s: None,
        throughput_mape_pct,
        lag_mean_error_pct: rel_err_pct(
            sim.consumer_lag_records_mean,
            rec.consumer_lag_records_mean,
        ),
        lag_mae_records,
        latency_share_diff_pts: match (sim.latency_le_1500ms_pct, rec.latency_le_1500ms_pct) {
            (Some(s), Some(r)) => Some(s - r),
            _ => None,
        },
        latency_p50_error_pct: rel_err_pct(sim.latency_ms_p50, rec.latency_ms_p50),
        task_managers_mae,
        core_hours_error_pct: if rec.core_hours > 0.0 {
            (sim.core_hours - rec.core_hours) / rec.core_hours * 100.0
        } else {
            0.0
        },
        recovery_mean_error_pct: rel_err_pct(sim.recovery_s_mean, rec.recovery_s_mean),
        per_failure,
        catch_ups: rec_catch_ups.into_iter().zip(sim_catch_ups).collect(),
        catch_up,
        recorded: rec,
        simulated: sim,
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

/// The Markdown validation report.
pub fn render_report(title: &str, f: &Fidelity, plots: &[&str]) -> String {
    let mut out = format!("# Validation: {title}\n\n");
    out.push_str("## Summary, recorded vs simulated\n\n");
    let mut rec = f.recorded.clone();
    rec.run = "recorded".into();
    let mut sim = f.simulated.clone();
    sim.run = "simulated".into();
    out.push_str(&report::render_markdown(&[rec, sim]));
    out.push_str("\n## Per-series error\n\n| measure | value |\n|:--|--:|\n");
    let rows = [
        (
            format!("throughput MAPE ({}-s means), %", f.bucket_s),
            opt(f.throughput_mape_pct, 2),
        ),
        (
            "mean lag error, %".to_string(),
            opt(f.lag_mean_error_pct, 1),
        ),
        (
            format!("lag MAE ({}-s means), records", f.bucket_s),
            opt(f.lag_mae_records, 0),
        ),
        (
            "share of latency <= 1.5 s, sim - rec, points".to_string(),
            opt(f.latency_share_diff_pts, 2),
        ),
        (
            "median latency error, %".to_string(),
            opt(f.latency_p50_error_pct, 2),
        ),
        ("TaskManagers MAE".to_string(), opt(f.task_managers_mae, 3)),
        (
            "core-h error, %".to_string(),
            format!("{:.2}", f.core_hours_error_pct),
        ),
        (
            "mean recovery error, %".to_string(),
            opt(f.recovery_mean_error_pct, 1),
        ),
    ];
    let live_row = f.resume_rms_error_s.map(|v| {
        (
            "rescale/recovery duration RMS error, s".to_string(),
            format!("{v:.2}"),
        )
    });
    for (k, v) in rows.into_iter().chain(live_row) {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    let c = &f.catch_up;
    if c.paired > 0 {
        let pair = |v: Option<(f64, f64)>, d: usize| {
            v.map(|(r, s)| format!("{r:.d$} / {s:.d$}"))
                .unwrap_or_else(|| "–".into())
        };
        out.push_str(&format!(
            "\n## Catch-up after failures (`calibrate::catch_up`, {} failures with a recorded catch-up)\n\n\
             | measure | recorded / simulated |\n|:--|--:|\n\
             | catch-up (CPU load >= 0.25 above its level before), mean s | {} |\n\
             | catch-up duration RMS error, s | {} |\n\
             | failure to processing resumed, mean s | {} |\n\
             | Kafka metrics back before processing resumed, mean s | {} |\n\
             | CPU load while catching up, mean | {} |\n\
             | peak 3-s CPU load around resuming (-5..+30 s), mean | {} |\n\
             | latency-seconds above 1.5 s per failure (250 s), mean | {} |\n",
            c.paired,
            pair(c.duration_mean_s, 1),
            opt(c.duration_rms_s, 1),
            pair(c.resumed_mean_s, 1),
            pair(c.consumers_ahead_mean_s, 1),
            pair(c.cpu_mean, 2),
            pair(c.cpu_peak_mean, 2),
            pair(c.area_mean_s, 0),
        ));
    }
    out.push_str(
        "\n## Recovery per failure (s)\n\n\
         | # | injected (epoch s) | recorded | simulated | catch-up s, rec / sim | s > 1.5 s, rec / sim |\n\
         |--:|--:|--:|--:|--:|--:|\n",
    );
    for (i, (t, r, s)) in f.per_failure.iter().enumerate() {
        let show = |v: &Option<i64>| {
            v.map(|x| x.to_string())
                .unwrap_or_else(|| "censored".into())
        };
        let dash = |v: Option<i64>| v.map_or_else(|| "–".to_string(), |x| x.to_string());
        let (cu, over) = match f.catch_ups.get(i) {
            Some((a, b)) => (
                format!("{} / {}", dash(a.duration_s), dash(b.duration_s)),
                format!("{} / {}", a.seconds_over, b.seconds_over),
            ),
            None => ("–".into(), "–".into()),
        };
        out.push_str(&format!(
            "| {} | {t} | {} | {} | {cu} | {over} |\n",
            i + 1,
            show(r),
            show(s)
        ));
    }
    let (rec_twice, sim_twice) = &f.failed_twice;
    if !rec_twice.is_empty() || !sim_twice.is_empty() {
        let list = |v: &[usize]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(|i| format!("#{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        out.push_str(&format!(
            "\nFailed twice (the throughput stops again within 15 s of resuming, TaskManagers \
             registered; `calibrate::second_failover`): recorded {}, simulated {}.\n",
            list(rec_twice),
            list(sim_twice)
        ));
    }
    if !plots.is_empty() {
        out.push_str("\n## Overlays\n\n");
        for p in plots {
            out.push_str(&format!("![{p}]({p})\n"));
        }
    }
    out
}
