//! Profiling runs in the twin: child simulations of candidate configurations reading the same
//! input stream as production, measured as the Demeter prototype measured them.

use crate::flink::failure::{
    Alignment, FailureKind, FailurePlan, FailureSchedule, InjectorClock, SecondFailover,
};
use crate::flink::{JobConfig, Twin};
use crate::policy::profile::{measure_recovery, ProfileResult, ProfileSpec};
use crate::runfolder::Series;
use crate::time::{SimDuration, SimTime};

fn mean_in(s: &Series, from: i64, to: i64) -> f64 {
    let pts = s.range(from, to);
    if pts.is_empty() {
        0.0
    } else {
        pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64
    }
}

/// Runs one profiling job of `config` as a child of `parent`, starting now.
pub fn run_profile(
    parent: &Twin,
    config: JobConfig,
    spec: &ProfileSpec,
    seed: u64,
) -> ProfileResult {
    run_profile_from(parent, parent.now(), config, spec, seed)
}

/// [`run_profile`] deployed at `at` of the parent's workload instead of now.
pub fn run_profile_from(
    parent: &Twin,
    at: SimTime,
    config: JobConfig,
    spec: &ProfileSpec,
    seed: u64,
) -> ProfileResult {
    let failure_at = spec.warmup + spec.measure;
    // The injector may wait for the next checkpoint and then the interval minus the alignment.
    let horizon = failure_at
        + config.checkpoint_interval
        + config.checkpoint_interval
        + spec.detect
        + spec.max_recovery
        + SimDuration::from_secs(5);
    let plan = FailurePlan {
        kind: FailureKind::NetworkDelay {
            duration: spec.failure_delay,
        },
        schedule: FailureSchedule::At(vec![SimTime::ZERO + failure_at]),
        alignment: Alignment::BeforeCheckpoint(InjectorClock {
            before: spec.align_before_checkpoint,
            interval: None,
        }),
        second_failover: SecondFailover::Model,
    };
    let mut child = parent.child_from(at, config.clone(), horizon, Some(plan), seed);
    child.advance_until(SimTime::ZERO + horizon);
    let start = child.start_epoch();
    let series = child.series();
    let w0 = start + (spec.warmup.as_ms() / 1000) as i64;
    let w1 = w0 + (spec.measure.as_ms() / 1000) as i64;
    let throughput_rps = mean_in(&series.throughput_rps, w0, w1);
    let latency_ms = mean_in(&series.latency_ms, w0, w1);
    let consumer_lag = mean_in(&series.consumer_lag, w0, w1);
    let started_at = at;
    let Some(&inj) = child.failures_injected().first() else {
        // The failure could not be injected (no completed checkpoint): nothing measured.
        return ProfileResult {
            config,
            started_at,
            finished_at: started_at + horizon,
            throughput_rps,
            latency_ms,
            consumer_lag,
            recovery_s: spec.cap.as_secs_f64(),
            recovered: false,
        };
    };
    let inj_epoch = start + inj.as_secs() as i64;
    // The prototype trains its detector on the measurement window's (throughput, lag) seconds
    // and reads them raw from the injection on (research/demeter.md §2.3).
    let sample = |t: i64| Some((series.throughput_rps.at(t)?, series.consumer_lag.at(t)?));
    let window: Vec<Option<(f64, f64)>> = (w0..w1).map(sample).collect();
    let post: Vec<Option<(f64, f64)>> = (inj_epoch..start + child.horizon().as_secs() as i64)
        .map(sample)
        .collect();
    let mut rng = crate::rng::stream(seed, "iftm");
    let (recovery_s, recovered) = measure_recovery(spec, &window, &post, &mut rng);
    let done_after = if recovered {
        recovery_s + spec.normal_streak_s as f64
    } else {
        spec.cap.as_secs_f64()
    };
    ProfileResult {
        config,
        started_at,
        finished_at: started_at + inj.since(SimTime::ZERO) + SimDuration::from_secs_f64(done_after),
        throughput_rps,
        latency_ms,
        consumer_lag,
        recovery_s,
        recovered,
    }
}
