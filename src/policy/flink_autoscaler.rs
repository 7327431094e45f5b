//! The Flink Kubernetes operator's autoscaler (module `flink-autoscaler`) and its presets
//! `flink-autoscaler` (upstream defaults) and `operator35` (the Demeter experiments' settings).
//!
//! Follows research/autoscalers.md §2: one metric sample per control-loop run while the job
//! is RUNNING; the history is cleared when the RUNNING timestamp is newer than the oldest
//! sample; nothing is decided until `stabilization_interval` after the start plus a full
//! `metrics_window` of samples (§2.1). Per window (§2.4): LOAD = busy time, target data rate
//! TDR = rate(records in) + rate(lag) at the sources, propagated downstream by output ratios;
//! catch-up rate = lag / `catch_up_duration`; true processing rate from busy time (or the
//! sources' observed rate while catching up); scale-up / scale-down thresholds from the
//! utilisation bounds (0 / 1 in backlog mode). Per vertex (§2.5): target capacity at the target
//! utilisation with restart capacity, scale factor clamped by the max factors, vertex
//! min/max parallelism, key-group/partition alignment, the scale-down interval with the
//! sliding-window max (or the operator 1.6 scale-up grace period). A rescale happens only if
//! some vertex is outside its bounds, and then changes every vertex whose parallelism moves;
//! it is applied in place (adaptive scheduler) or by savepoint redeploy.
//!
//! Not modelled (all off by default upstream, §2.8): restart-time tracking, ineffective-scaling
//! detection, observed scalability, memory tuning and GC/heap vetoes, excluded periods,
//! quotas and the cluster-capacity check.

use super::ds2::topological_order;
use super::params::ParamReader;
use super::{Action, DeploymentHints, Evaluation, JobState, Observation, Policy, PolicyError};
use crate::flink::SchedulerMode;
use crate::time::{SimDuration, SimTime};

/// How a decision reaches the job (§2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyMode {
    /// `PUT /jobs/:id/resource-requirements` with the adaptive scheduler (restart from the
    /// latest checkpoint); the operator's default since Flink 1.18.
    InPlace,
    /// Stop with a savepoint and redeploy with `pipeline.jobvertex-parallelism-overrides`
    /// (Flink 1.17 in the experiments, research/demeter.md §3.3).
    Redeploy,
}

/// Key-group / partition alignment (§2.5 step 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlignmentMode {
    /// Only divisors of the key groups / partitions (release <= 1.15 default); may block.
    EvenlySpread,
    /// Also any parallelism that lowers the per-subtask key groups / partitions.
    MaximizeUtilisation,
    /// No alignment.
    Off,
    /// Operator 1.4-1.6 (`flink-kubernetes-operator-autoscaler` module, `JobVertexScaler.scale`):
    /// every vertex, N = its key groups; scan upward from p' while p <= N / 2 for a divisor of
    /// N, otherwise keep p' (so 13..23 stay as computed with N = 24); never blocks.
    UpToHalf,
}

/// The autoscaler's parameters: keys of `[policy.params]`, named after the
/// `job.autoscaler.*` options with units. Defaults: research/autoscalers.md §2.8.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerParams {
    /// `interval`: control-loop period, one metric sample per run.
    /// Default 60 s: `kubernetes.operator.reconcile.interval` (§2.1).
    pub interval: SimDuration,
    /// `metrics_window`: `metrics.window`, default 15 min (§2.8).
    pub metrics_window: SimDuration,
    /// `stabilization_interval`: `stabilization.interval`, default 5 min (§2.8).
    pub stabilization_interval: SimDuration,
    /// `utilization_target`: `utilization.target`, default 0.7 (§2.8).
    pub utilization_target: f64,
    /// `utilization_boundary`: `target.utilization.boundary`, default 0.3 (§2.8); bounds are
    /// target +- boundary unless `utilization_max` / `utilization_min` are set.
    pub utilization_boundary: f64,
    /// `utilization_max`, `utilization_min`: `utilization.max` / `.min`, default unset (§2.8).
    pub utilization_max: Option<f64>,
    pub utilization_min: Option<f64>,
    /// `scale_down_interval`: `scale-down.interval`, default 1 h; 0 = scale down at once (§2.5).
    pub scale_down_interval: SimDuration,
    /// `scale_up_grace_period`: operator <= 1.9 `scale-up.grace-period` (no scale-down of a
    /// vertex within this time after it was scaled up; replaced by the scale-down interval,
    /// §6 FLINK-36018). Default 0 = off (upstream); `operator35` uses 1 h.
    pub scale_up_grace_period: SimDuration,
    /// `scale_down_max_factor`: `scale-down.max-factor`, default 0.6 (§2.8).
    pub scale_down_max_factor: f64,
    /// `scale_up_max_factor`: `scale-up.max-factor`, default 100 000 (§2.8).
    pub scale_up_max_factor: f64,
    /// `vertex_min_parallelism` / `vertex_max_parallelism`: default 1 / 200 (§2.8).
    pub vertex_min_parallelism: u32,
    pub vertex_max_parallelism: u32,
    /// `pipeline_max_parallelism`: the job's `pipeline.max-parallelism` (key groups), when it
    /// differs from what the job reports. Default: as observed.
    pub pipeline_max_parallelism: Option<u32>,
    /// `catch_up_duration`: `catch-up.duration`, default 30 min; 0 disables backlog scaling.
    pub catch_up_duration: SimDuration,
    /// `restart_time`: `restart.time`, default 5 min (§2.6).
    pub restart_time: SimDuration,
    /// `backlog_lag_threshold`: `backlog-processing.lag-threshold`, default 5 min (§2.4).
    pub backlog_lag_threshold: SimDuration,
    /// `observed_tpr`: use the observed true processing rate for sources when busy time
    /// overestimates it (FLINK-33306, operator 1.7); off in `operator35` (operator 1.6).
    pub observed_tpr: bool,
    /// `observed_tpr_lag_threshold`: `observed-true-processing-rate.lag-threshold`, 30 s (§2.3).
    pub observed_tpr_lag_threshold: SimDuration,
    /// `observed_tpr_switch_threshold`: `...switch-threshold`, default 0.15 (§2.4).
    pub observed_tpr_switch_threshold: f64,
    /// `observed_tpr_min_observations`: `...min-observations`, default 2 (§2.3).
    pub observed_tpr_min_observations: u32,
    /// `alignment`: "evenly_spread" (default, release <= 1.15 `EVENLY_SPREAD`, §2.5),
    /// "maximize_utilisation", "off" or "up_to_half" (operator 1.4-1.6; `operator35`).
    pub alignment: AlignmentMode,
    /// `busy_time_aggregator`: `metrics.busy-time.aggregator`, "max" (default since operator
    /// 1.4, FLINK-30652: a skewed vertex looks as busy as its hottest subtask) or "avg".
    pub busy_time_max: bool,
    /// `apply`: "in_place" (default: `job.upgrade.inplace-scaling.enabled` = true, §2.7; the job
    /// is then deployed with the adaptive scheduler) or "redeploy".
    pub apply: ApplyMode,
}

impl Default for AutoscalerParams {
    /// The upstream defaults (preset `flink-autoscaler`).
    fn default() -> Self {
        AutoscalerParams {
            interval: SimDuration::from_secs(60),
            metrics_window: SimDuration::from_secs(15 * 60),
            stabilization_interval: SimDuration::from_secs(5 * 60),
            utilization_target: 0.7,
            utilization_boundary: 0.3,
            utilization_max: None,
            utilization_min: None,
            scale_down_interval: SimDuration::from_secs(3600),
            scale_up_grace_period: SimDuration::ZERO,
            scale_down_max_factor: 0.6,
            scale_up_max_factor: 100_000.0,
            vertex_min_parallelism: 1,
            vertex_max_parallelism: 200,
            pipeline_max_parallelism: None,
            catch_up_duration: SimDuration::from_secs(30 * 60),
            restart_time: SimDuration::from_secs(5 * 60),
            backlog_lag_threshold: SimDuration::from_secs(5 * 60),
            observed_tpr: true,
            observed_tpr_lag_threshold: SimDuration::from_secs(30),
            observed_tpr_switch_threshold: 0.15,
            observed_tpr_min_observations: 2,
            alignment: AlignmentMode::EvenlySpread,
            busy_time_max: true,
            apply: ApplyMode::InPlace,
        }
    }
}

/// Preset names this module answers to.
pub const PRESETS: &[&str] = &["flink-autoscaler", "operator35"];

impl AutoscalerParams {
    /// The preset's parameters, or `None` for an unknown name.
    ///
    /// `operator35` = the Demeter experiments (research/demeter.md §3.3): target 0.35,
    /// boundary 0.15, window 1 min, stabilisation 2 min, restart 1 min, catch-up 5 min,
    /// `pipeline.max-parallelism` 24, every decision a savepoint redeploy (Flink 1.17), and
    /// operator 1.6 behaviour for scale-down: no scale-down interval (it came with
    /// FLINK-36018), the 1-h `scale-up.grace-period` instead [operator 1.6 default, not
    /// re-verified in research/demeter.md §8].
    pub fn preset(name: &str) -> Option<AutoscalerParams> {
        match name {
            "flink-autoscaler" => Some(AutoscalerParams::default()),
            "operator35" => Some(AutoscalerParams {
                metrics_window: SimDuration::from_secs(60),
                stabilization_interval: SimDuration::from_secs(120),
                utilization_target: 0.35,
                utilization_boundary: 0.15,
                restart_time: SimDuration::from_secs(60),
                catch_up_duration: SimDuration::from_secs(300),
                pipeline_max_parallelism: Some(24),
                scale_down_interval: SimDuration::ZERO,
                scale_up_grace_period: SimDuration::from_secs(3600),
                // Operator 1.6 predates the observed-TPR fix (FLINK-33306, merged 2023-10-18).
                observed_tpr: false,
                // Operator 1.6's key-group adjustment (JobVertexScaler.scale in the
                // flink-kubernetes-operator-autoscaler module): divisors only up to N / 2.
                alignment: AlignmentMode::UpToHalf,
                apply: ApplyMode::Redeploy,
                ..AutoscalerParams::default()
            }),
            _ => None,
        }
    }

    /// The preset `name` with `[policy.params]` on top; unknown keys are rejected.
    pub fn from_params(name: &str, params: &toml::Table) -> Result<AutoscalerParams, PolicyError> {
        super::reject_unknown(name, params, AUTOSCALER_KEYS)?;
        let d = AutoscalerParams::preset(name).unwrap_or_default();
        let r = ParamReader {
            policy: name,
            params,
        };
        let interval = r.duration("interval", d.interval)?;
        if interval.as_ms() < 1000 {
            return Err(PolicyError::Param {
                policy: name.into(),
                key: "interval".into(),
                message: "expected at least 1 s".into(),
            });
        }
        let opt_f64 = |key: &str, dflt: Option<f64>| -> Result<Option<f64>, PolicyError> {
            if params.contains_key(key) {
                r.f64_in(key, 0.0, 0.0..=1.0).map(Some)
            } else {
                Ok(dflt)
            }
        };
        let p = AutoscalerParams {
            interval,
            metrics_window: r.duration("metrics_window", d.metrics_window)?,
            stabilization_interval: r
                .duration("stabilization_interval", d.stabilization_interval)?,
            utilization_target: r.f64_in("utilization_target", d.utilization_target, 0.0..=1.0)?,
            utilization_boundary: r.f64_in(
                "utilization_boundary",
                d.utilization_boundary,
                0.0..=1.0,
            )?,
            utilization_max: opt_f64("utilization_max", d.utilization_max)?,
            utilization_min: opt_f64("utilization_min", d.utilization_min)?,
            scale_down_interval: r.duration("scale_down_interval", d.scale_down_interval)?,
            scale_up_grace_period: r.duration("scale_up_grace_period", d.scale_up_grace_period)?,
            scale_down_max_factor: r.f64_in(
                "scale_down_max_factor",
                d.scale_down_max_factor,
                0.0..=1.0,
            )?,
            scale_up_max_factor: r.f64_in(
                "scale_up_max_factor",
                d.scale_up_max_factor,
                0.0..=1e9,
            )?,
            vertex_min_parallelism: r.u32_in(
                "vertex_min_parallelism",
                d.vertex_min_parallelism,
                1..=1_000_000,
            )?,
            vertex_max_parallelism: r.u32_in(
                "vertex_max_parallelism",
                d.vertex_max_parallelism,
                1..=1_000_000,
            )?,
            pipeline_max_parallelism: r
                .opt_u32("pipeline_max_parallelism", d.pipeline_max_parallelism)?,
            catch_up_duration: r.duration("catch_up_duration", d.catch_up_duration)?,
            restart_time: r.duration("restart_time", d.restart_time)?,
            backlog_lag_threshold: r.duration("backlog_lag_threshold", d.backlog_lag_threshold)?,
            observed_tpr: r.bool("observed_tpr", d.observed_tpr)?,
            observed_tpr_lag_threshold: r
                .duration("observed_tpr_lag_threshold", d.observed_tpr_lag_threshold)?,
            observed_tpr_switch_threshold: r.f64_in(
                "observed_tpr_switch_threshold",
                d.observed_tpr_switch_threshold,
                0.0..=1e6,
            )?,
            observed_tpr_min_observations: r.u32_in(
                "observed_tpr_min_observations",
                d.observed_tpr_min_observations,
                1..=10_000,
            )?,
            alignment: match r.choice(
                "alignment",
                d.alignment as usize,
                &["evenly_spread", "maximize_utilisation", "off", "up_to_half"],
            )? {
                0 => AlignmentMode::EvenlySpread,
                1 => AlignmentMode::MaximizeUtilisation,
                2 => AlignmentMode::Off,
                _ => AlignmentMode::UpToHalf,
            },
            busy_time_max: r.choice(
                "busy_time_aggregator",
                if d.busy_time_max { 0 } else { 1 },
                &["max", "avg"],
            )? == 0,
            apply: match r.choice("apply", d.apply as usize, &["in_place", "redeploy"])? {
                0 => ApplyMode::InPlace,
                _ => ApplyMode::Redeploy,
            },
        };
        if p.vertex_min_parallelism > p.vertex_max_parallelism {
            return Err(PolicyError::Param {
                policy: name.into(),
                key: "vertex_min_parallelism".into(),
                message: "must not exceed vertex_max_parallelism".into(),
            });
        }
        Ok(p)
    }

    /// Upper and lower utilisation bounds (§2.4); (1, 0) in backlog mode.
    pub fn utilization_bounds(&self, backlog: bool) -> (f64, f64) {
        if backlog {
            return (1.0, 0.0);
        }
        let up = self
            .utilization_max
            .unwrap_or(self.utilization_target + self.utilization_boundary);
        let low = self
            .utilization_min
            .unwrap_or(self.utilization_target - self.utilization_boundary);
        (up.clamp(0.0, 1.0), low.clamp(0.0, 1.0))
    }
}

const AUTOSCALER_KEYS: &[&str] = &[
    "interval",
    "metrics_window",
    "stabilization_interval",
    "utilization_target",
    "utilization_boundary",
    "utilization_max",
    "utilization_min",
    "scale_down_interval",
    "scale_up_grace_period",
    "scale_down_max_factor",
    "scale_up_max_factor",
    "vertex_min_parallelism",
    "vertex_max_parallelism",
    "pipeline_max_parallelism",
    "catch_up_duration",
    "restart_time",
    "backlog_lag_threshold",
    "observed_tpr",
    "observed_tpr_lag_threshold",
    "observed_tpr_switch_threshold",
    "observed_tpr_min_observations",
    "alignment",
    "busy_time_aggregator",
    "apply",
];

// ----- samples and window evaluation ----------------------------------------------------

/// One vertex in one metric sample (§2.3).
#[derive(Clone, Debug, PartialEq)]
struct VertexSample {
    /// LOAD = busyTimeMsPerSecond / 1000, aggregated over subtasks by `busy_time_aggregator`.
    load: f64,
    /// Accumulated records in / out since the job started running.
    records_in: f64,
    records_out: f64,
    /// numRecordsInPerSecond, summed over subtasks.
    records_in_per_s: f64,
    /// OBSERVED_TPR (sources only; NaN = unavailable, +inf = no input).
    observed_tpr: f64,
}

#[derive(Clone, Debug, PartialEq)]
struct Sample {
    time: SimTime,
    /// Σ pendingRecords.
    lag: f64,
    vertices: Vec<VertexSample>,
}

/// One vertex's evaluated metrics (§2.4).
#[derive(Clone, Debug, PartialEq)]
pub struct VertexEvaluation {
    pub parallelism: u32,
    /// The window's mean LOAD (busy fraction); NaN if unmeasured.
    pub busy: f64,
    pub target_data_rate_rps: f64,
    pub catch_up_rate_rps: f64,
    pub true_processing_rate_rps: f64,
    pub scale_up_rate_threshold_rps: f64,
    pub scale_down_rate_threshold_rps: f64,
    /// Capacity needed at the target utilisation, with restart capacity.
    pub target_capacity_rps: f64,
    pub outside_bounds: bool,
}

/// Mean of the finite values; NaN if there are none.
fn mean_finite(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0u32);
    for x in xs.filter(|x| x.is_finite()) {
        sum += x;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// C(u, withRestart) = round(CUR + [TDR · restart / catch-up] + TDR / u), u = 0 -> +inf (§2.4).
fn capacity(p: &AutoscalerParams, tdr: f64, cur: f64, utilization: f64, with_restart: bool) -> f64 {
    let u = utilization.clamp(0.0, 1.0);
    if u == 0.0 {
        return f64::INFINITY;
    }
    let catch_up_s = p.catch_up_duration.as_secs_f64();
    let restart = if with_restart && catch_up_s > 0.0 {
        tdr * p.restart_time.as_secs_f64() / catch_up_s
    } else {
        0.0
    };
    (cur + restart + tdr / u).round()
}

/// The graph facts the evaluation needs, from the latest observation.
struct Topology {
    parallelism: Vec<u32>,
    is_source: Vec<bool>,
    inputs: Vec<Vec<usize>>,
    outputs_count: Vec<usize>,
}

impl Topology {
    fn of(obs: &Observation) -> Topology {
        let n = obs.vertices.len();
        let inputs: Vec<Vec<usize>> = obs
            .vertices
            .iter()
            .map(|v| v.inputs.iter().map(|&(u, _)| u).collect())
            .collect();
        let mut outputs_count = vec![0; n];
        for ins in &inputs {
            for &u in ins {
                outputs_count[u] += 1;
            }
        }
        Topology {
            parallelism: obs.vertices.iter().map(|v| v.parallelism).collect(),
            is_source: obs.vertices.iter().map(|v| v.is_source).collect(),
            inputs,
            outputs_count,
        }
    }
}

/// Evaluates the window `samples` (oldest first, >= 2) (§2.4). Returns per-vertex metrics
/// and whether the job is in backlog mode.
fn evaluate(
    p: &AutoscalerParams,
    topo: &Topology,
    samples: &[Sample],
) -> (Vec<VertexEvaluation>, bool) {
    let first = &samples[0];
    let last = samples.last().expect("two samples");
    let n = topo.parallelism.len();
    let dt = last.time.since(first.time).as_secs_f64();
    let rate = |a: f64, b: f64| if dt > 0.0 { (b - a) / dt } else { 0.0 };
    let rate_in: Vec<f64> = (0..n)
        .map(|v| rate(first.vertices[v].records_in, last.vertices[v].records_in))
        .collect();
    let rate_out: Vec<f64> = (0..n)
        .map(|v| rate(first.vertices[v].records_out, last.vertices[v].records_out))
        .collect();
    let lag_rate = rate(first.lag, last.lag);
    let lag = last.lag;
    // The job reports one Σ pendingRecords: it belongs to the first source.
    let lag_source = topo.is_source.iter().position(|&s| s);

    let backlog = topo.is_source.iter().enumerate().any(|(v, &s)| {
        s && Some(v) == lag_source && {
            let r = rate_in[v];
            let secs = if r > 0.0 { lag / r } else { f64::INFINITY };
            lag > 0.0 && secs > p.backlog_lag_threshold.as_secs_f64()
        }
    });

    let catch_up_s = p.catch_up_duration.as_secs_f64();
    let mut tdr = vec![0.0; n];
    let mut cur = vec![0.0; n];
    for v in topological_order(&topo.inputs) {
        if topo.is_source[v] {
            let own_lag = Some(v) == lag_source;
            let lr = if own_lag { lag_rate } else { 0.0 };
            tdr[v] = (rate_in[v] + lr).max(0.0);
            cur[v] = if own_lag && catch_up_s > 0.0 {
                lag / catch_up_s
            } else {
                0.0
            };
            continue;
        }
        let ins = &topo.inputs[v];
        for &u in ins {
            let edge_rate = if ins.len() == 1 {
                rate_in[v]
            } else if ins
                .iter()
                .filter(|&&w| w != u)
                .all(|&w| topo.outputs_count[w] == 1)
            {
                rate_in[v]
                    - ins
                        .iter()
                        .filter(|&&w| w != u)
                        .map(|&w| rate_out[w])
                        .sum::<f64>()
            } else {
                rate_out[u]
            };
            let ratio = if rate_in[u] > 0.0 {
                edge_rate / rate_in[u]
            } else {
                0.0
            };
            tdr[v] += tdr[u] * ratio;
            cur[v] += cur[u] * ratio;
        }
    }

    let (u_up, u_low) = p.utilization_bounds(backlog);
    let evals = (0..n)
        .map(|v| {
            let busy = mean_finite(samples.iter().map(|s| s.vertices[v].load));
            let gauge = mean_finite(samples.iter().map(|s| s.vertices[v].records_in_per_s));
            let in_rate = if gauge > 0.0 { gauge } else { rate_in[v] };
            let tpr_busy = if in_rate <= 0.0 || busy <= 0.0 {
                f64::INFINITY
            } else if busy.is_nan() {
                f64::NAN
            } else {
                in_rate / busy
            };
            let tpr = if topo.is_source[v] {
                let xs: Vec<f64> = samples.iter().map(|s| s.vertices[v].observed_tpr).collect();
                let finite = mean_finite(xs.iter().copied());
                let observed = if finite.is_finite() {
                    finite
                } else if xs.contains(&f64::INFINITY) {
                    f64::INFINITY
                } else {
                    f64::NAN
                };
                if observed.is_nan() || !p.observed_tpr {
                    tpr_busy
                } else if !tpr_busy.is_finite()
                    || tpr_busy > observed * (1.0 + p.observed_tpr_switch_threshold)
                {
                    // Busy time unusable, or it overestimates the observed rate (§2.4).
                    observed
                } else {
                    tpr_busy
                }
            } else {
                tpr_busy
            };
            let up = capacity(p, tdr[v], cur[v], u_up, false);
            let down = capacity(p, tdr[v], cur[v], u_low, true);
            VertexEvaluation {
                parallelism: topo.parallelism[v],
                busy,
                target_data_rate_rps: tdr[v],
                catch_up_rate_rps: cur[v],
                true_processing_rate_rps: tpr,
                scale_up_rate_threshold_rps: up,
                scale_down_rate_threshold_rps: down,
                target_capacity_rps: capacity(p, tdr[v], cur[v], p.utilization_target, true),
                outside_bounds: tpr < up || tpr > down,
            }
        })
        .collect();
    (evals, backlog)
}

/// `JobVertexScaler.scale` (§2.5 steps 3-5): `ceil(factor · p)` within the vertex bounds,
/// then aligned to the key groups or source partitions `n_align` (0 = no alignment).
pub fn scale_parallelism(
    current: u32,
    factor: f64,
    lower: u32,
    upper: u32,
    max_parallelism: u32,
    n_align: u32,
    mode: AlignmentMode,
) -> u32 {
    let raw = (factor * current as f64 - 1e-9)
        .ceil()
        .clamp(0.0, u32::MAX as f64) as u32;
    let upper_bound = max_parallelism.min(upper);
    let p = raw.max(lower).min(upper_bound).max(1);
    if n_align == 0 || mode == AlignmentMode::Off || p == current {
        return p;
    }
    let n = n_align;
    if mode == AlignmentMode::UpToHalf {
        return (p..=(n / 2).min(upper_bound))
            .find(|q| n % q == 0)
            .unwrap_or(p);
    }
    let bound = n.min(upper_bound);
    let up = p > current;
    // Phase 1: upward from p (for a scale-down not past the current parallelism).
    let phase1_to = if up { bound } else { current.min(bound) };
    for q in p..=phase1_to {
        if n % q == 0 || (mode == AlignmentMode::MaximizeUtilisation && n / q < n / p) {
            return q;
        }
    }
    // Phase 2: downward to where the per-subtask share jumps, snapped to a divisor.
    let mut q = p;
    while q > 0 {
        if n / q > n / p {
            if n % q != 0 {
                q += 1;
            }
            break;
        }
        q -= 1;
    }
    let q = q.max(lower);
    if (up && q <= current) || (!up && q >= current) {
        return current; // blocked (ScalingLimited)
    }
    q
}

/// Pending scale-down of one vertex (`DelayedScaleDown`, §2.5 step 7).
#[derive(Clone, Debug, PartialEq)]
struct DelayedScaleDown {
    first_trigger: SimTime,
    /// (time, recommended parallelism, outside bounds).
    recommendations: Vec<(SimTime, u32, bool)>,
}

/// The operator autoscaler as a policy.
pub struct FlinkAutoscaler {
    name: String,
    params: AutoscalerParams,
    samples: Vec<Sample>,
    delayed: Vec<Option<DelayedScaleDown>>,
    last_scale_up: Vec<Option<SimTime>>,
    awaiting_restart: Option<(SimTime, SimTime)>,
    /// `last_scale_up` before the last requested rescale, restored if it is refused.
    scale_up_before_request: Vec<Option<SimTime>>,
    last_evaluation: Vec<VertexEvaluation>,
    /// Rows for `evaluations.csv` since the last `take_evaluations`.
    evaluations: Vec<Evaluation>,
}

/// How long to wait for a requested restart before measuring again (a refused request).
const RESTART_WAIT: SimDuration = SimDuration::from_secs(600);

impl FlinkAutoscaler {
    pub fn new(name: &str, params: AutoscalerParams) -> FlinkAutoscaler {
        FlinkAutoscaler {
            name: name.to_string(),
            params,
            samples: Vec::new(),
            delayed: Vec::new(),
            last_scale_up: Vec::new(),
            awaiting_restart: None,
            scale_up_before_request: Vec::new(),
            last_evaluation: Vec::new(),
            evaluations: Vec::new(),
        }
    }

    pub fn params(&self) -> &AutoscalerParams {
        &self.params
    }

    /// The most recent window evaluation (empty until a window was full).
    pub fn last_evaluation(&self) -> &[VertexEvaluation] {
        &self.last_evaluation
    }

    fn sample(&self, obs: &Observation) -> Sample {
        let threshold_s = self.params.observed_tpr_lag_threshold.as_secs_f64();
        let min_obs = self.params.observed_tpr_min_observations as usize;
        let vertices = obs
            .vertices
            .iter()
            .enumerate()
            .map(|(v, vx)| {
                let observed_tpr = if !vx.is_source {
                    f64::NAN
                } else {
                    let input = vx.records_in_per_s;
                    let bp = vx.backpressured_time_ms_per_s / 1000.0;
                    if input <= 0.0 {
                        f64::INFINITY
                    } else if obs.pending_records >= threshold_s * input && bp < 1.0 {
                        input / (1.0 - bp)
                    } else {
                        let prev: Vec<f64> = self
                            .samples
                            .iter()
                            .map(|s| s.vertices[v].observed_tpr)
                            .filter(|x| x.is_finite())
                            .collect();
                        if prev.len() >= min_obs {
                            prev.iter().sum::<f64>() / prev.len() as f64
                        } else {
                            f64::NAN
                        }
                    }
                };
                VertexSample {
                    load: if self.params.busy_time_max {
                        vx.busy_time_max_ms_per_s / 1000.0
                    } else {
                        vx.busy_time_ms_per_s / 1000.0
                    },
                    records_in: vx.records_in_total,
                    records_out: vx.records_out_total,
                    records_in_per_s: vx.records_in_per_s,
                    observed_tpr,
                }
            })
            .collect();
        Sample {
            time: obs.time,
            lag: obs.pending_records,
            vertices,
        }
    }

    /// Whether the scale-up grace period blocks a scale-down of `v` at `now` (as in `gate`).
    fn grace_blocks(&self, v: usize, now: SimTime) -> bool {
        let grace = self.params.scale_up_grace_period;
        !grace.is_zero() && self.last_scale_up[v].is_some_and(|t| now < t + grace)
    }

    fn log_not_evaluated(&mut self, obs: &Observation, outcome: &'static str) {
        self.evaluations
            .extend(Evaluation::not_evaluated(obs, outcome));
    }

    /// One row per vertex of a full evaluation: `proposals` before the gates, `held` why the
    /// gate kept a vertex, `changes` what passed it, `rescale` whether the policy acts.
    fn log_evaluated(
        &mut self,
        obs: &Observation,
        evals: &[VertexEvaluation],
        proposals: &[Option<(u32, bool)>],
        held: &[&'static str],
        changes: &[(usize, u32, bool)],
        rescale: bool,
    ) {
        for (v, (e, vx)) in evals.iter().zip(&obs.vertices).enumerate() {
            let current = vx.parallelism;
            let change = changes.iter().find(|c| c.0 == v).map(|c| c.1);
            let (new, outcome) = match change {
                Some(c) if rescale => (
                    c,
                    if c > current {
                        "scale_up"
                    } else {
                        "scale_down"
                    },
                ),
                // A change within its bounds, and no vertex outside them: nothing happens.
                Some(_) => (current, "filtered"),
                None => (current, held[v]),
            };
            self.evaluations.push(Evaluation {
                time: obs.time,
                vertex: vx.name.clone(),
                parallelism: current,
                busy: e.busy,
                true_processing_rate_rps: e.true_processing_rate_rps,
                target_data_rate_rps: e.target_data_rate_rps,
                catch_up_rate_rps: e.catch_up_rate_rps,
                scale_up_threshold_rps: e.scale_up_rate_threshold_rps,
                scale_down_threshold_rps: e.scale_down_rate_threshold_rps,
                proposed_parallelism: proposals[v].map_or(current, |p| p.0),
                new_parallelism: new,
                outcome,
            });
        }
    }

    /// Per-vertex gates (§2.5 step 7): returns the parallelism to apply, if any, and its
    /// outside-bounds flag.
    fn gate(
        &mut self,
        v: usize,
        now: SimTime,
        current: u32,
        proposed: u32,
        outside: bool,
    ) -> Option<(u32, bool)> {
        if proposed == current {
            self.delayed[v] = None;
            return None;
        }
        if proposed > current {
            self.delayed[v] = None;
            return Some((proposed, outside));
        }
        let grace = self.params.scale_up_grace_period;
        if !grace.is_zero() && self.last_scale_up[v].is_some_and(|t| now < t + grace) {
            return None;
        }
        let interval = self.params.scale_down_interval;
        if interval.is_zero() {
            return Some((proposed, outside));
        }
        let d = self.delayed[v].get_or_insert(DelayedScaleDown {
            first_trigger: now,
            recommendations: Vec::new(),
        });
        d.recommendations.push((now, proposed, outside));
        let window_start_ms = now.as_ms().saturating_sub(interval.as_ms());
        d.recommendations
            .retain(|&(t, _, _)| t.as_ms() >= window_start_ms);
        if d.first_trigger.as_ms() > window_start_ms {
            return None; // never scale down within the interval after the first trigger
        }
        // The largest recommendation within the last interval (latest wins ties).
        d.recommendations
            .iter()
            .rev()
            .max_by_key(|&&(_, p, _)| p)
            .map(|&(_, p, o)| (p, o))
    }
}

impl Policy for FlinkAutoscaler {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> SimDuration {
        self.params.interval
    }

    fn deployment(&self) -> DeploymentHints {
        DeploymentHints {
            scheduler: (self.params.apply == ApplyMode::InPlace).then_some(SchedulerMode::Adaptive),
            checkpoint_interval: None,
        }
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        let n = obs.vertices.len();
        self.delayed.resize(n, None);
        self.last_scale_up.resize(n, None);
        // Gate: RUNNING, else the evaluation state is dropped (§2.1).
        if obs.job_state != JobState::Running {
            self.samples.clear();
            self.log_not_evaluated(obs, "not_running");
            return Vec::new();
        }
        if let Some((since, at)) = self.awaiting_restart {
            if obs.running_since == since && obs.time < at + RESTART_WAIT {
                self.log_not_evaluated(obs, "awaiting_restart");
                return Vec::new();
            }
            self.awaiting_restart = None;
        }
        // Restart detection: a RUNNING timestamp newer than the oldest sample clears history.
        if self
            .samples
            .first()
            .is_some_and(|s| obs.running_since > s.time)
        {
            self.samples.clear();
        }
        let sample = self.sample(obs);
        self.samples.push(sample);
        let stable = obs.running_since + self.params.stabilization_interval;
        let Some(first_stable) = self.samples.iter().find(|s| s.time >= stable) else {
            self.log_not_evaluated(obs, "stabilizing");
            return Vec::new();
        };
        if obs.time < first_stable.time + self.params.metrics_window {
            self.log_not_evaluated(obs, "warm_up");
            return Vec::new();
        }
        let window_start_ms = obs
            .time
            .as_ms()
            .saturating_sub(self.params.metrics_window.as_ms());
        self.samples.retain(|s| s.time.as_ms() >= window_start_ms);
        if self.samples.len() < 2 {
            self.log_not_evaluated(obs, "warm_up");
            return Vec::new();
        }
        let topo = Topology::of(obs);
        let (evals, _backlog) = evaluate(&self.params, &topo, &self.samples);
        let p = self.params.clone();
        let mut proposals = Vec::with_capacity(n);
        for (v, e) in evals.iter().enumerate() {
            let vx = &obs.vertices[v];
            let current = vx.parallelism;
            let tpr = e.true_processing_rate_rps;
            let target = e.target_capacity_rps;
            if tpr.is_nan() || target.is_nan() {
                proposals.push(None);
                continue;
            }
            let factor =
                (target / tpr).clamp(1.0 - p.scale_down_max_factor, 1.0 + p.scale_up_max_factor);
            let key_groups = p
                .pipeline_max_parallelism
                .unwrap_or(vx.max_parallelism)
                .max(1);
            let n_align = if p.alignment == AlignmentMode::UpToHalf {
                // Operator 1.6: every vertex, N = MAX_PARALLELISM (sources capped by their
                // partitions, FLINK-31326).
                if vx.is_source && obs.source_partitions > 0 {
                    key_groups.min(obs.source_partitions)
                } else {
                    key_groups
                }
            } else if vx.is_source && obs.source_partitions > 0 {
                obs.source_partitions
            } else if vx.inputs.iter().any(|&(_, hash)| hash) {
                key_groups
            } else {
                0
            };
            let proposed = scale_parallelism(
                current,
                factor,
                current.min(p.vertex_min_parallelism),
                current.max(p.vertex_max_parallelism),
                key_groups,
                n_align,
                p.alignment,
            );
            proposals.push(Some((proposed, e.outside_bounds)));
        }
        let mut changes = Vec::new();
        // Per vertex, why the gate let nothing through (for `evaluations.csv`).
        let mut held: Vec<&'static str> = vec!["no_metrics"; n];
        for (v, prop) in proposals.iter().enumerate() {
            let current = obs.vertices[v].parallelism;
            if let Some((proposed, outside)) = *prop {
                let grace_before = self.grace_blocks(v, obs.time);
                if let Some(c) = self.gate(v, obs.time, current, proposed, outside) {
                    changes.push((v, c.0, c.1));
                } else {
                    held[v] = if proposed == current {
                        if outside {
                            "limited" // outside its bounds, but the limits keep it as it is
                        } else {
                            "within_bounds"
                        }
                    } else if grace_before {
                        "blocked_grace_period"
                    } else {
                        "delayed_scale_down"
                    };
                }
            }
        }
        // Rescale only if some change is outside its bounds (§2.5 step 8).
        let rescale = changes.iter().any(|&(_, _, outside)| outside);
        self.log_evaluated(obs, &evals, &proposals, &held, &changes, rescale);
        self.last_evaluation = evals;
        if !rescale {
            return Vec::new();
        }
        let mut parallelism: Vec<u32> = obs.vertices.iter().map(|v| v.parallelism).collect();
        self.scale_up_before_request = self.last_scale_up.clone();
        for &(v, new, _) in &changes {
            if new > parallelism[v] {
                self.last_scale_up[v] = Some(obs.time);
            }
            parallelism[v] = new;
        }
        self.delayed.iter_mut().for_each(|d| *d = None);
        self.awaiting_restart = Some((obs.running_since, obs.time));
        match p.apply {
            ApplyMode::InPlace => vec![Action::RescaleInPlace { parallelism }],
            ApplyMode::Redeploy => {
                let mut config = obs.config.clone();
                config.parallelism_overrides = parallelism.into_iter().map(Some).collect();
                vec![Action::Redeploy(config)]
            }
        }
    }

    /// A refused rescale (e.g. the live backend's bounds leave the parallelism as it is) is
    /// not recorded in the scaling history: no restart to wait for, no scale-up grace period.
    /// The metric window is kept, so the next evaluation comes one interval later.
    fn refused(&mut self, _action: &Action, _why: &str) {
        self.awaiting_restart = None;
        self.last_scale_up = std::mem::take(&mut self.scale_up_before_request);
    }

    fn take_evaluations(&mut self) -> Vec<Evaluation> {
        std::mem::take(&mut self.evaluations)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ds2::test_support::*;
    use super::*;

    /// §2.9's job: a source (p=4) feeding a map (p=4) by rebalance.
    fn job(map_parallelism: u32) -> Observation {
        observation(
            0,
            0,
            vec![
                vertex("source", 4, true, &[]),
                vertex("map", map_parallelism, false, &[(0, false)]),
            ],
        )
    }

    fn defaults_now() -> AutoscalerParams {
        AutoscalerParams {
            stabilization_interval: SimDuration::ZERO,
            metrics_window: SimDuration::from_secs(60),
            ..AutoscalerParams::default()
        }
    }

    /// Runs `a` for `steps` control-loop periods of 60 s at the given rates; returns the
    /// actions of the last decision.
    fn drive(
        a: &mut FlinkAutoscaler,
        obs: &mut Observation,
        steps: u32,
        rates: &[(f64, f64, f64, f64)],
        lag_growth_rps: f64,
    ) -> Vec<Action> {
        let mut last = Vec::new();
        for _ in 0..steps {
            run_for(obs, 60, rates);
            obs.pending_records += lag_growth_rps * 60.0;
            last = a.decide(obs);
        }
        last
    }

    /// Takes the first sample with the gauges already at `rates`.
    fn start(a: &mut FlinkAutoscaler, obs: &mut Observation, rates: &[(f64, f64, f64, f64)]) {
        run_for(obs, 0, rates);
        assert!(a.decide(obs).is_empty());
    }

    fn new_parallelism(actions: &[Action]) -> Vec<u32> {
        match actions {
            [Action::RescaleInPlace { parallelism }] => parallelism.clone(),
            [Action::Redeploy(c)] => c.parallelism_overrides.iter().map(|p| p.unwrap()).collect(),
            other => panic!("expected one rescale, got {other:?}"),
        }
    }

    /// §2.9: source arrival 10 000 rec/s, no lag, map busy 0.8 at 10 000 rec/s in:
    /// TPR 12 500 within (10 000, 26 667) -> no action.
    #[test]
    fn worked_example_inside_the_bounds_does_nothing() {
        let mut a = FlinkAutoscaler::new("flink-autoscaler", defaults_now());
        let mut obs = job(4);
        let rates = [
            (10_000.0, 10_000.0, 0.5, 0.0),
            (10_000.0, 10_000.0, 0.8, 0.0),
        ];
        start(&mut a, &mut obs, &rates);
        let acts = drive(&mut a, &mut obs, 1, &rates, 0.0);
        assert!(acts.is_empty(), "{acts:?}");
        let e = &a.last_evaluation()[1];
        assert!((e.true_processing_rate_rps - 12_500.0).abs() < 1e-6);
        assert!((e.scale_up_rate_threshold_rps - 10_000.0).abs() < 1e-6);
        assert!((e.scale_down_rate_threshold_rps - 26_667.0).abs() < 1e-6);
        assert!(!e.outside_bounds);
    }

    /// operator35 (target 0.35 +- 0.15, restart 60 s, catch-up 300 s): arrival 10 000 rec/s,
    /// no lag, both vertices busy 0.3 -> TPR 33 333 within (10 000 / 0.5 = 20 000,
    /// 10 000 x 60 / 300 + 10 000 / 0.2 = 52 000); the rows say so, one per vertex.
    #[test]
    fn operator35_within_bounds_logs_the_thresholds() {
        let p = AutoscalerParams::preset("operator35").unwrap();
        let mut a = FlinkAutoscaler::new("operator35", p);
        let mut obs = job(4);
        let rates = [
            (10_000.0, 10_000.0, 0.3, 0.0),
            (10_000.0, 10_000.0, 0.3, 0.0),
        ];
        let outcomes = |a: &mut FlinkAutoscaler| -> Vec<&'static str> {
            a.take_evaluations().iter().map(|e| e.outcome).collect()
        };
        // Stabilisation 2 min, then a 1-min window: samples at 0 and 60 s stabilise, 120 s
        // warms up, 180 s evaluates.
        start(&mut a, &mut obs, &rates);
        assert_eq!(outcomes(&mut a), ["stabilizing"; 2]);
        assert!(drive(&mut a, &mut obs, 1, &rates, 0.0).is_empty());
        assert_eq!(outcomes(&mut a), ["stabilizing"; 2]);
        assert!(drive(&mut a, &mut obs, 1, &rates, 0.0).is_empty());
        assert_eq!(outcomes(&mut a), ["warm_up"; 2]);
        assert!(drive(&mut a, &mut obs, 1, &rates, 0.0).is_empty());
        let rows = a.take_evaluations();
        assert_eq!(rows.len(), 2, "{rows:?}");
        for (r, name) in rows.iter().zip(["source", "map"]) {
            assert_eq!(r.vertex, name);
            assert_eq!(r.time, SimTime::from_secs(180));
            assert_eq!(r.outcome, "within_bounds", "{r:?}");
            assert!((r.busy - 0.3).abs() < 1e-9, "{r:?}");
            assert!((r.true_processing_rate_rps - 10_000.0 / 0.3).abs() < 1e-6);
            assert!((r.target_data_rate_rps - 10_000.0).abs() < 1e-6);
            assert_eq!(r.catch_up_rate_rps, 0.0);
            assert_eq!(r.scale_up_threshold_rps, 20_000.0);
            assert_eq!(r.scale_down_threshold_rps, 52_000.0);
            assert_eq!((r.parallelism, r.proposed_parallelism), (4, 4));
            assert_eq!(r.new_parallelism, 4);
        }
        assert!(a.take_evaluations().is_empty(), "handed over once");
    }

    /// §2.9: busy 1.0 at 10 000 rec/s in, lag growing 2 000 rec/s -> TDR 12 000 > TPR 10 000;
    /// target = 12 000 / 0.7 + 2 000 + L / 1 800 -> s ~ 1.91 -> ceil(7.66) = 8, a divisor of
    /// the 128 key groups (the map is behind a keyBy here).
    #[test]
    fn worked_example_scales_the_map_to_eight() {
        let (mut a, mut obs, rates) = saturated_keyed_map();
        let acts = drive(&mut a, &mut obs, 1, &rates, 2_000.0);
        let e = &a.last_evaluation()[1];
        assert!((e.target_data_rate_rps - 12_000.0).abs() < 1e-6);
        assert!((e.true_processing_rate_rps - 10_000.0).abs() < 1e-6);
        assert!(e.outside_bounds);
        // round(L/1800 + 12 000 x 300/1800 + 12 000/0.7) with L = 121 800.
        let l = 1_800.0 + 120_000.0;
        let expected = (l / 1800.0 + 2_000.0 + 12_000.0 / 0.7_f64).round();
        assert!((e.target_capacity_rps - expected).abs() < 1e-6);
        assert_eq!(new_parallelism(&acts)[1], 8);
        // The source (24 partitions): TPR 25 000 (busy 0.4) within its bounds; its target
        // 19 211 / 25 000 x 4 = 3.07 -> 4: unchanged.
        assert_eq!(new_parallelism(&acts)[0], 4);
    }

    /// Per vertex (records in/s, records out/s, busy, back-pressured) of a source and a map.
    type TwoRates = [(f64, f64, f64, f64); 2];

    /// §2.9's saturated keyed map (busy 1.0 at 10 000 rec/s, lag 1 800 growing 2 000 rec/s),
    /// one window in: the autoscaler and its observation just before the first decision.
    fn saturated_keyed_map() -> (FlinkAutoscaler, Observation, TwoRates) {
        let mut a = FlinkAutoscaler::new("flink-autoscaler", defaults_now());
        let mut obs = observation(
            0,
            0,
            vec![
                vertex("source", 4, true, &[]),
                vertex("map", 4, false, &[(0, true)]),
            ],
        );
        obs.pending_records = 1_800.0;
        let rates = [
            (10_000.0, 10_000.0, 0.4, 0.0),
            (10_000.0, 10_000.0, 1.0, 0.0),
        ];
        start(&mut a, &mut obs, &rates);
        (a, obs, rates)
    }

    /// A refused rescale (live bounds left the parallelism as it was) leaves no restart to
    /// wait for: the next period decides again (it waited 600 s for a restart that never came,
    /// and the live flink-autoscaler step then missed its scale-down).
    #[test]
    fn a_refused_rescale_is_decided_again_next_period() {
        // Applied (no restart seen yet): the next period waits.
        let (mut a, mut obs, rates) = saturated_keyed_map();
        let acts = drive(&mut a, &mut obs, 1, &rates, 2_000.0);
        assert_eq!(new_parallelism(&acts)[1], 8);
        assert!(drive(&mut a, &mut obs, 1, &rates, 2_000.0).is_empty());
        // Refused: decided again one period later.
        let (mut b, mut obs, rates) = saturated_keyed_map();
        let acts = drive(&mut b, &mut obs, 1, &rates, 2_000.0);
        b.refused(&acts[0], "parallelism is the current one (after bounds)");
        let again = drive(&mut b, &mut obs, 1, &rates, 2_000.0);
        assert_eq!(new_parallelism(&again)[1], 8, "{again:?}");
    }

    #[test]
    fn nothing_before_stabilisation_and_a_full_window() {
        // Stabilisation 5 min, window 15 min (defaults): the first decision needs a sample at
        // >= 300 s plus 900 s of samples -> at 1 200 s with a 60-s loop.
        let mut a = FlinkAutoscaler::new("flink-autoscaler", AutoscalerParams::default());
        let mut obs = job(1);
        let rates = [
            (10_000.0, 10_000.0, 0.5, 0.0),
            (10_000.0, 10_000.0, 1.0, 0.0),
        ];
        start(&mut a, &mut obs, &rates);
        for minute in 1..20 {
            let acts = drive(&mut a, &mut obs, 1, &rates, 1_000.0);
            assert!(acts.is_empty(), "acted at minute {minute}");
        }
        assert!(a.last_evaluation().is_empty());
        let acts = drive(&mut a, &mut obs, 1, &rates, 1_000.0);
        assert_eq!(obs.time, SimTime::from_secs(1200));
        assert!(!acts.is_empty(), "full window at 1 200 s");

        // A restart (newer RUNNING timestamp) clears the history: the wait starts again.
        let mut a = FlinkAutoscaler::new("flink-autoscaler", AutoscalerParams::default());
        let mut obs = job(1);
        start(&mut a, &mut obs, &rates);
        for _ in 0..15 {
            drive(&mut a, &mut obs, 1, &rates, 1_000.0);
        }
        obs.running_since = obs.time;
        for minute in 1..20 {
            let acts = drive(&mut a, &mut obs, 1, &rates, 1_000.0);
            assert!(acts.is_empty(), "acted {minute} min after the restart");
        }
        assert!(!drive(&mut a, &mut obs, 1, &rates, 1_000.0).is_empty());

        // Not RUNNING: history dropped.
        let mut a = FlinkAutoscaler::new("x", defaults_now());
        let mut obs = job(1);
        start(&mut a, &mut obs, &rates);
        obs.job_state = JobState::Restarting;
        drive(&mut a, &mut obs, 1, &rates, 0.0);
        obs.job_state = JobState::Running;
        assert!(
            drive(&mut a, &mut obs, 1, &rates, 0.0).is_empty(),
            "one sample only"
        );
    }

    /// Over-provisioned map (p=8, busy 0.1 at 10 000 rec/s: TPR 100 000 > down threshold
    /// 26 667): target round(10 000 x 300/1 800 + 10 000/0.7) = 15 952 -> s = 0.16, clamped
    /// to 0.4 -> ceil(3.2) = 4 (not keyed: no alignment). The source (busy 0.5, TPR 20 000)
    /// stays at ceil(4 x 0.80) = 4.
    const IDLE: [(f64, f64, f64, f64); 2] = [
        (10_000.0, 10_000.0, 0.5, 0.0),
        (10_000.0, 10_000.0, 0.1, 0.0),
    ];
    /// Busy 0.6 for a minute: windows averaging it with an idle sample see busy 0.35 ->
    /// TPR 28 571 (still > 26 667, outside) -> s = 0.558 -> ceil(4.47) = 5.
    const BUSIER: [(f64, f64, f64, f64); 2] = [
        (10_000.0, 10_000.0, 0.5, 0.0),
        (10_000.0, 10_000.0, 0.6, 0.0),
    ];

    fn with_interval(secs: u64) -> FlinkAutoscaler {
        FlinkAutoscaler::new(
            "x",
            AutoscalerParams {
                scale_down_interval: SimDuration::from_secs(secs),
                ..defaults_now()
            },
        )
    }

    #[test]
    fn scale_down_waits_for_the_interval_and_takes_the_window_max() {
        let mut a = with_interval(600);
        let mut obs = job(8);
        start(&mut a, &mut obs, &IDLE);
        // First trigger at 60 s (recommends 4); a busier minute at 300 s recommends 5 at 300
        // and 360 s; nothing happens before 660 s, then the window max (5) is applied.
        for _ in 0..4 {
            assert!(drive(&mut a, &mut obs, 1, &IDLE, 0.0).is_empty());
        }
        assert!(drive(&mut a, &mut obs, 1, &BUSIER, 0.0).is_empty());
        for _ in 0..5 {
            assert!(drive(&mut a, &mut obs, 1, &IDLE, 0.0).is_empty());
        }
        assert_eq!(obs.time, SimTime::from_secs(600));
        assert_eq!(
            a.delayed[1].as_ref().unwrap().first_trigger,
            SimTime::from_secs(60)
        );
        let acts = drive(&mut a, &mut obs, 1, &IDLE, 0.0);
        assert_eq!(new_parallelism(&acts), vec![4, 5]);

        // Zero interval: at once.
        let mut a = with_interval(0);
        let mut obs = job(8);
        start(&mut a, &mut obs, &IDLE);
        let acts = drive(&mut a, &mut obs, 1, &IDLE, 0.0);
        assert_eq!(new_parallelism(&acts), vec![4, 4]);
    }

    #[test]
    fn a_recommendation_of_the_current_parallelism_cancels_a_pending_scale_down() {
        let mut a = with_interval(600);
        let mut obs = job(8);
        start(&mut a, &mut obs, &IDLE);
        drive(&mut a, &mut obs, 5, &IDLE, 0.0); // triggered at 60 s
                                                // Two minutes at busy 0.6: at 420 s the window sees 0.6 -> TPR 16 667, in bounds,
                                                // s = 0.957 -> 8 = current: the pending scale-down is cancelled.
        drive(
            &mut a,
            &mut obs,
            2,
            &[IDLE[0], (10_000.0, 10_000.0, 0.6, 0.0)],
            0.0,
        );
        assert!(a.delayed[1].is_none());
        // Idle again from 480 s: a new interval starts; nothing at 660 s, the scale-down at
        // 1 080 s (to 5: the 480-s window still averaged in the busy minute).
        for _ in 0..10 {
            assert!(drive(&mut a, &mut obs, 1, &IDLE, 0.0).is_empty());
        }
        assert_eq!(obs.time, SimTime::from_secs(1020));
        assert_eq!(
            new_parallelism(&drive(&mut a, &mut obs, 1, &IDLE, 0.0)),
            vec![4, 5]
        );
    }

    #[test]
    fn the_grace_period_blocks_scale_down_after_a_scale_up() {
        let mut params = defaults_now();
        params.scale_down_interval = SimDuration::ZERO;
        params.scale_up_grace_period = SimDuration::from_secs(3600);
        let mut a = FlinkAutoscaler::new("x", params);
        let mut obs = job(4);
        let hot = [
            (10_000.0, 10_000.0, 0.5, 0.0),
            (10_000.0, 10_000.0, 1.0, 0.0),
        ];
        start(&mut a, &mut obs, &hot);
        let acts = drive(&mut a, &mut obs, 1, &hot, 2_000.0);
        assert_eq!(new_parallelism(&acts)[1], 8);
        // Restarted at p=8 and now idle: no scale-down for an hour after the scale-up.
        obs.vertices[1].parallelism = 8;
        obs.running_since = obs.time;
        // Scaled up at 60 s: blocked through 3 600 s, allowed at 3 660 s.
        let rows = a.take_evaluations();
        let last: Vec<_> = rows[rows.len() - 2..].iter().map(|e| e.outcome).collect();
        assert_eq!(last, ["within_bounds", "scale_up"]);
        for _ in 0..59 {
            assert!(drive(&mut a, &mut obs, 1, &IDLE, 0.0).is_empty());
        }
        let rows = a.take_evaluations();
        let map = rows.last().unwrap();
        assert_eq!(
            (map.vertex.as_str(), map.outcome),
            ("map", "blocked_grace_period")
        );
        assert!(
            map.proposed_parallelism < 8 && map.new_parallelism == 8,
            "{map:?}"
        );
        assert_eq!(obs.time, SimTime::from_secs(3600));
        assert_eq!(
            new_parallelism(&drive(&mut a, &mut obs, 1, &IDLE, 0.0)),
            vec![4, 4]
        );
    }

    #[test]
    fn alignment_to_divisors() {
        use AlignmentMode::*;
        // Scale-up 5 -> 7 with 24 key groups: first divisor upwards is 8.
        assert_eq!(scale_parallelism(5, 1.4, 1, 200, 24, 24, EvenlySpread), 8);
        // Scale-up to 13..23 -> 24.
        assert_eq!(scale_parallelism(12, 1.5, 1, 200, 24, 24, EvenlySpread), 24);
        // Scale-down 24 -> 13 is blocked (the first divisor at or above 13 is 24 itself).
        assert_eq!(
            scale_parallelism(24, 0.54, 1, 200, 24, 24, EvenlySpread),
            24
        );
        // Scale-down 24 -> 10 -> 12.
        assert_eq!(scale_parallelism(24, 0.4, 1, 200, 24, 24, EvenlySpread), 12);
        // 128 key groups: 7 -> 8.
        assert_eq!(
            scale_parallelism(4, 1.75, 1, 200, 128, 128, EvenlySpread),
            8
        );
        // Maximize utilisation: from 10 (2 key groups each), 11 does not lower the share
        // (24/11 = 2) and 12 divides 24 -> 12.
        assert_eq!(
            scale_parallelism(4, 2.5, 1, 200, 24, 24, MaximizeUtilisation),
            12
        );
        // 30 key groups, upper bound 7, raw 7: no divisor in 7..=7; downward, the share jumps
        // from 4 (at 7) to 5 at 6, a divisor -> 6.
        assert_eq!(scale_parallelism(4, 1.75, 1, 7, 200, 30, EvenlySpread), 6);
        // Off: raw.
        assert_eq!(scale_parallelism(24, 0.54, 1, 200, 24, 24, Off), 13);
        // Operator 1.6: divisors only up to N / 2 = 12, otherwise as computed, never blocked.
        assert_eq!(scale_parallelism(5, 1.4, 1, 200, 24, 24, UpToHalf), 8);
        assert_eq!(scale_parallelism(12, 1.5, 1, 200, 24, 24, UpToHalf), 18);
        assert_eq!(scale_parallelism(24, 0.54, 1, 200, 24, 24, UpToHalf), 13);
        assert_eq!(scale_parallelism(24, 0.4, 1, 200, 24, 24, UpToHalf), 12);
        assert_eq!(scale_parallelism(12, 0.9, 1, 200, 24, 24, UpToHalf), 12);
        // Max factor clamp is applied by the caller; bounds here: upper 200, key groups 24.
        assert_eq!(
            scale_parallelism(12, 10.0, 1, 200, 24, 24, EvenlySpread),
            24
        );
    }

    #[test]
    fn presets_and_parameters() {
        let t = toml::Table::new();
        let o = AutoscalerParams::from_params("operator35", &t).unwrap();
        let (up, low) = o.utilization_bounds(false);
        assert!((up - 0.5).abs() < 1e-12 && (low - 0.2).abs() < 1e-12);
        assert_eq!(o.apply, ApplyMode::Redeploy);
        assert_eq!(o.pipeline_max_parallelism, Some(24));
        assert_eq!(o.metrics_window, SimDuration::from_secs(60));
        let u = AutoscalerParams::from_params("flink-autoscaler", &t).unwrap();
        assert_eq!(u, AutoscalerParams::default());
        let (up, low) = u.utilization_bounds(false);
        assert!((up - 1.0).abs() < 1e-12 && (low - 0.4).abs() < 1e-12);
        assert_eq!(u.utilization_bounds(true), (1.0, 0.0));
        let t: toml::Table =
            toml::from_str("utilization_target = 0.5\napply = \"redeploy\"").unwrap();
        let p = AutoscalerParams::from_params("flink-autoscaler", &t).unwrap();
        assert_eq!((p.utilization_target, p.apply), (0.5, ApplyMode::Redeploy));
        let t: toml::Table = toml::from_str("target = 0.5").unwrap();
        assert!(AutoscalerParams::from_params("operator35", &t)
            .unwrap_err()
            .to_string()
            .contains("`target`"));
        let t: toml::Table = toml::from_str("apply = \"sideways\"").unwrap();
        assert!(AutoscalerParams::from_params("operator35", &t).is_err());
    }

    #[test]
    fn backlog_mode_widens_the_bounds() {
        // Lag of 10 minutes of input -> backlog: up bound 1, low bound 0 (never "too fast").
        let mut a = FlinkAutoscaler::new("x", defaults_now());
        let mut obs = job(8);
        obs.pending_records = 6_000_000.0;
        start(&mut a, &mut obs, &IDLE);
        drive(&mut a, &mut obs, 1, &IDLE, 0.0);
        let e = &a.last_evaluation()[1];
        assert_eq!(e.scale_down_rate_threshold_rps, f64::INFINITY);
    }
}
