//! Fitting a job model to a recorded run: Nelder-Mead (argmin) over a few model parameters,
//! minimising a documented loss between the recorded run and its replay in the twin.
//!
//! The loss is a sum of squared errors, each divided by the tolerance the project targets
//! (issue 5), so a loss of about 1 per term means "at the target":
//! throughput MAPE of 60-s means / 5 %, share of seconds <= 1.5 s difference / 2 points,
//! mean recovery error / 10 %, RMS per-failure recovery error / 30 s, mean lag error / 35 %,
//! median latency error / 2 %, mean CPU load error / 5 %, mean catch-up duration error / 2 s
//! (the mean, not the RMS: single recorded catch-ups are noisy), the mean peak 3-s CPU load
//! around processing resuming / 5 % (the level a saturated TaskManager reads; the mean over the
//! catch-up, used before, is lowered by the recorded ramps the twin's step does not have, and
//! held the twin's full-load CPU at 0.79 against a recorded 0.96-0.99) and the mean time from a failure to
//! processing resuming / 2 s (`catch_up`: how fast the backlog drains, which the held lag
//! metric and 60-s means hide, and how big it is); for a live recording (10-s means)
//! also the RMS error of the rescale and recovery durations / 1 s.
//! Every evaluation replays the same workload draw and seed (common random numbers), so the
//! fit is deterministic.

use argmin::core::{CostFunction, Executor, State};
use argmin::solver::neldermead::NelderMead;

use super::validate::{
    fidelity_bucketed, rel_err_pct, simulate_recorded_data, Fidelity, RecordedSetup,
};
use super::RecordedPolicy;
use crate::flink::{JobModel, JobModelSpec};
use crate::runfolder::RunData;
use crate::time::SimDuration;

/// One fitted parameter: its key in the model file and its bounds.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub key: &'static str,
    pub lower: f64,
    pub upper: f64,
}

/// The parameters `calibrate` fits. `capacity.scale` multiplies every operator's per-record
/// rate (divides `cost_us`); the others are model keys.
pub const PARAMS: &[Param] = &[
    Param {
        key: "capacity.scale",
        lower: 0.5,
        upper: 2.0,
    },
    Param {
        key: "latency.floor_ms",
        lower: 500.0,
        upper: 2000.0,
    },
    Param {
        key: "latency.jitter_ms",
        lower: 5.0,
        upper: 300.0,
    },
    Param {
        key: "kafka.fetch_lag_s",
        lower: 0.1,
        upper: 3.0,
    },
    Param {
        key: "restart.deploy_min_s",
        lower: 1.0,
        upper: 40.0,
    },
    Param {
        key: "checkpoint.duration_base_ms",
        lower: 100.0,
        upper: 10_000.0,
    },
    Param {
        key: "cpu_load.idle",
        lower: 0.0,
        upper: 0.5,
    },
    Param {
        key: "cpu_load.per_busy_subtask",
        lower: 0.05,
        upper: 1.5,
    },
    Param {
        key: "restart.source_lead_s",
        lower: 0.0,
        upper: 10.0,
    },
];

/// The parameters `calibrate` fits on a live recording of RateJob (`models/ratejob.toml`):
/// the per-record cost scale (work's cost beyond `--cost-us` is measured, not set) and the
/// deploy window of a restart (`restart.deploy_min_s`, moved with its width), which sets the
/// rescale and recovery durations. The latency, lag-metric, checkpoint and CPU parameters have
/// no signal in such a recording (no latency series; pendingRecords is read directly; the
/// state is a few counters; `work` sleeps), so they keep their sourced values.
pub const LIVE_PARAMS: &[Param] = &[
    Param {
        key: "capacity.scale",
        lower: 0.5,
        upper: 2.0,
    },
    Param {
        key: "restart.deploy_min_s",
        lower: 0.0,
        upper: 5.0,
    },
];

/// The parameters fitted for runs of `policy`.
pub fn params_for(policy: RecordedPolicy) -> &'static [Param] {
    if policy == RecordedPolicy::Live {
        LIVE_PARAMS
    } else {
        PARAMS
    }
}

/// Reads a parameter's current value from a model.
pub fn get(spec: &JobModelSpec, key: &str) -> f64 {
    match key {
        "capacity.scale" => 1.0,
        "latency.floor_ms" => spec.latency.floor_ms,
        "latency.jitter_ms" => spec.latency.jitter_ms,
        "kafka.fetch_lag_s" => spec.kafka.fetch_lag_s,
        "restart.deploy_min_s" => spec.restart.deploy_min_s,
        "checkpoint.duration_base_ms" => spec.checkpoint.duration_base_ms,
        "cpu_load.idle" => spec.cpu_load.idle,
        "cpu_load.per_busy_subtask" => spec.cpu_load.per_busy_subtask,
        "restart.source_lead_s" => spec.restart.source_lead_s.unwrap_or(0.0),
        other => panic!("unknown calibration parameter {other}"),
    }
}

/// Returns `base` with the parameters `params` set to `values` (in that order).
pub fn apply(base: &JobModelSpec, params: &[Param], values: &[f64]) -> JobModelSpec {
    let mut s = base.clone();
    for (p, &v) in params.iter().zip(values) {
        match p.key {
            "capacity.scale" => s.operators.iter_mut().for_each(|o| o.cost_us /= v),
            "latency.floor_ms" => s.latency.floor_ms = v,
            "latency.jitter_ms" => s.latency.jitter_ms = v,
            "kafka.fetch_lag_s" => s.kafka.fetch_lag_s = v,
            "restart.deploy_min_s" => {
                // Keep the deploy window's width while moving its start.
                let width = base.restart.deploy_max_s - base.restart.deploy_min_s;
                s.restart.deploy_min_s = v;
                s.restart.deploy_max_s = v + width;
            }
            "checkpoint.duration_base_ms" => s.checkpoint.duration_base_ms = v,
            "cpu_load.idle" => s.cpu_load.idle = v,
            "cpu_load.per_busy_subtask" => s.cpu_load.per_busy_subtask = v,
            // Capped by the deploy window, as the model file's check requires.
            "restart.source_lead_s" => {
                s.restart.source_lead_s = Some(v.clamp(0.0, s.restart.deploy_max_s))
            }
            other => panic!("unknown calibration parameter {other}"),
        }
    }
    s
}

/// The loss of one replay (see the module docs).
pub fn loss(f: &Fidelity) -> f64 {
    let sq = |x: Option<f64>, tol: f64| x.map(|v| (v / tol).powi(2)).unwrap_or(0.0);
    let rms_recovery = {
        let pairs: Vec<f64> = f
            .per_failure
            .iter()
            .filter_map(|(_, r, s)| Some(((*s)? - (*r)?) as f64))
            .collect();
        (!pairs.is_empty())
            .then(|| (pairs.iter().map(|d| d * d).sum::<f64>() / pairs.len() as f64).sqrt())
    };
    let cpu = rel_err_pct(f.simulated.cpu_load_mean, f.recorded.cpu_load_mean);
    let (rec_cpu, sim_cpu) = f.catch_up.cpu_peak_mean.unzip();
    let catch_up_cpu = rel_err_pct(sim_cpu, rec_cpu);
    sq(f.throughput_mape_pct, 5.0)
        + sq(f.catch_up.duration_mean_s.map(|(r, s)| s - r), 2.0)
        + sq(catch_up_cpu, 5.0)
        + sq(f.catch_up.resumed_mean_s.map(|(r, s)| s - r), 2.0)
        + sq(f.latency_share_diff_pts, 2.0)
        + sq(f.recovery_mean_error_pct, 10.0)
        + sq(rms_recovery, 30.0)
        + sq(f.lag_mean_error_pct, 35.0)
        + sq(f.latency_p50_error_pct, 2.0)
        + sq(cpu, 5.0)
        + sq(f.resume_rms_error_s, 1.0)
}

/// What a fit needs: the recorded run, the model to start from, the workload draw.
pub struct FitProblem {
    pub run: RunData,
    pub policy: RecordedPolicy,
    pub base: JobModel,
    pub workload_rps: Vec<f64>,
    pub seed: u64,
    /// A live recording's rescales and offered load (policy `Live`).
    pub live: Option<super::live::LiveRun>,
}

/// Seconds per mean for the throughput and lag errors: 60 for the 18-h Demeter runs, 10 for a
/// minutes-long live recording (a 150-s run has only 2-3 minute means).
pub fn bucket_s(policy: RecordedPolicy) -> i64 {
    if policy == RecordedPolicy::Live {
        10
    } else {
        60
    }
}

impl FitProblem {
    fn to_values(&self, unit: &[f64]) -> Vec<f64> {
        params_for(self.policy)
            .iter()
            .zip(unit)
            .map(|(p, u)| p.lower + u.clamp(0.0, 1.0) * (p.upper - p.lower))
            .collect()
    }

    fn to_unit(&self, values: &[f64]) -> Vec<f64> {
        params_for(self.policy)
            .iter()
            .zip(values)
            .map(|(p, v)| ((v - p.lower) / (p.upper - p.lower)).clamp(0.0, 1.0))
            .collect()
    }

    /// Replays the run with the parameters at `values`; returns the fidelity.
    pub fn evaluate(&self, values: &[f64]) -> Fidelity {
        let spec = apply(&self.base.spec, params_for(self.policy), values);
        let model = JobModel { spec };
        let (result, data) = simulate_recorded_data(RecordedSetup {
            run: self.run.clone(),
            policy: self.policy,
            model,
            workload_rps: self.workload_rps.clone(),
            seed: self.seed,
            tick: SimDuration::from_secs(1),
            live: self.live.clone(),
        });
        match &self.live {
            Some(live) => {
                let mut f = fidelity_bucketed(
                    &super::live::processed_run(&self.run, live),
                    &data,
                    bucket_s(self.policy),
                );
                f.resume_rms_error_s = super::live::resume_rms_error_s(
                    &super::live::timeline_rows(live, &self.run, &result),
                );
                f
            }
            None => fidelity_bucketed(&self.run, &data, bucket_s(self.policy)),
        }
    }

    /// The starting values (the base model's).
    pub fn initial(&self) -> Vec<f64> {
        params_for(self.policy)
            .iter()
            .map(|p| get(&self.base.spec, p.key))
            .collect()
    }
}

impl CostFunction for FitProblem {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, unit: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(loss(&self.evaluate(&self.to_values(unit))))
    }
}

/// The outcome of a fit.
#[derive(Debug)]
pub struct FitResult {
    pub initial: Vec<f64>,
    pub fitted: Vec<f64>,
    pub loss_initial: f64,
    pub loss_fitted: f64,
    pub evaluations: u64,
    pub before: Fidelity,
    pub after: Fidelity,
}

/// Runs Nelder-Mead from the base model for at most `max_iters` iterations.
pub fn fit(
    problem: FitProblem,
    max_iters: u64,
) -> Result<(FitResult, JobModelSpec), argmin::core::Error> {
    let initial = problem.initial();
    let start = problem.to_unit(&initial);
    // Initial simplex: the start and one step of 0.1 (of each parameter's range) per axis.
    let mut simplex = vec![start.clone()];
    for i in 0..start.len() {
        let mut v = start.clone();
        v[i] = if v[i] + 0.1 <= 1.0 {
            v[i] + 0.1
        } else {
            v[i] - 0.1
        };
        simplex.push(v);
    }
    let before = problem.evaluate(&initial);
    let loss_initial = loss(&before);
    let solver = NelderMead::new(simplex).with_sd_tolerance(1e-4)?;
    let res = Executor::new(problem, solver)
        .configure(|state| state.max_iters(max_iters))
        .run()?;
    let best_unit = res.state().get_best_param().cloned().unwrap_or(start);
    let evaluations = res
        .state()
        .get_func_counts()
        .get("cost_count")
        .copied()
        .unwrap_or(0);
    let problem = res
        .problem
        .problem
        .expect("the executor returns the problem");
    let mut fitted = problem.to_values(&best_unit);
    let mut after = problem.evaluate(&fitted);
    let mut loss_fitted = loss(&after);
    if loss_fitted > loss_initial {
        // Never report a fit worse than where it started.
        fitted = initial.clone();
        after = before.clone();
        loss_fitted = loss_initial;
    }
    let spec = apply(&problem.base.spec, params_for(problem.policy), &fitted);
    Ok((
        FitResult {
            initial,
            fitted,
            loss_initial,
            loss_fitted,
            evaluations,
            before,
            after,
        },
        spec,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ysb() -> JobModelSpec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ysb.toml");
        toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn every_fitted_parameter_reads_back_what_was_applied() {
        let base = ysb();
        for p in PARAMS.iter().chain(LIVE_PARAMS) {
            let v = p.lower + 0.37 * (p.upper - p.lower);
            let s = apply(&base, std::slice::from_ref(p), &[v]);
            if p.key == "capacity.scale" {
                let ratio = base.operators[0].cost_us / s.operators[0].cost_us;
                assert!((ratio - v).abs() < 1e-12, "{}", p.key);
            } else {
                assert!(
                    (get(&s, p.key) - v).abs() < 1e-12,
                    "{}: {}",
                    p.key,
                    get(&s, p.key)
                );
            }
        }
    }

    #[test]
    fn the_source_lead_stays_inside_the_deploy_window() {
        let base = ysb();
        let lead = PARAMS
            .iter()
            .find(|p| p.key == "restart.source_lead_s")
            .unwrap();
        let s = apply(&base, std::slice::from_ref(lead), &[lead.upper]);
        assert_eq!(s.restart.source_lead_s, Some(base.restart.deploy_max_s));
        let mut none = base.clone();
        none.restart.source_lead_s = None;
        assert_eq!(get(&none, "restart.source_lead_s"), 0.0);
    }
}
