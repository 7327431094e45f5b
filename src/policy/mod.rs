//! Policies: the `Policy` trait (observation in, actions out), what they observe and how they act.
//!
//! A policy sees only what a real Flink deployment would show it ([`Observation`]: REST and
//! Prometheus metrics, job state, the configuration) and acts only through [`Action`]s, so the
//! same object runs against the twin and against a live cluster.

pub mod ds2;
pub mod flink_autoscaler;
pub mod iftm;
mod lvr;
mod observation;
mod params;
pub mod placement;
pub mod profile;
mod reactive;
mod static_policy;
#[cfg(test)]
pub(crate) mod testing;

pub use ds2::{Ds2, Ds2Params};
pub use flink_autoscaler::{AutoscalerParams, FlinkAutoscaler};
pub use lvr::{LatencyStatistic, LvrParams, LvrPolicy, LVR_PARAMS};
pub use observation::{JobState, Observation, VertexObservation};
pub use reactive::{CpuSample, Hpa, HpaParams, ReactivePolicy, REACTIVE_PARAMS};
pub use static_policy::StaticPolicy;

use crate::flink::JobConfig;
use crate::scenario::PolicySpec;
use crate::time::{SimDuration, SimTime};

/// What a policy may ask the backend to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Stop with a savepoint and redeploy with a new configuration (the operator's savepoint
    /// upgrade; Demeter, DS2 as run in the experiments).
    Redeploy(JobConfig),
    /// Set per-vertex parallelism in place through the adaptive scheduler (restart from the
    /// latest checkpoint).
    RescaleInPlace { parallelism: Vec<u32> },
    /// Set the TaskManager replica count (an HPA on the TaskManager deployment).
    SetTaskManagers(u32),
    /// Launch profiling runs of these configurations in parallel, beside the production job
    /// (Demeter); results arrive in later observations' `profiles`.
    Profile(Vec<JobConfig>),
    /// Edge placement: the site index of every operator of the job model. Flink needs a
    /// restart for it (the custom scheduler places subtasks when the job is scheduled): the
    /// backend restarts the job from its latest checkpoint with the new placement.
    SetPlacement { op_site: Vec<usize> },
}

/// How a policy needs the job deployed (e.g. reactive mode, its checkpoint interval).
/// `None` keeps the scenario's value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeploymentHints {
    pub scheduler: Option<crate::flink::SchedulerMode>,
    pub checkpoint_interval: Option<SimDuration>,
}

/// One vertex at one policy evaluation: what the policy measured and why it acted or not
/// (`evaluations.csv`). NaN = not measured at this evaluation (e.g. still warming up).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub time: SimTime,
    pub vertex: String,
    pub parallelism: u32,
    /// Busy fraction 0..1: the window's mean LOAD (flink-autoscaler) or the busy time over
    /// the window (ds2).
    pub busy: f64,
    pub true_processing_rate_rps: f64,
    /// Target (arrival) data rate, without the catch-up rate.
    pub target_data_rate_rps: f64,
    pub catch_up_rate_rps: f64,
    /// The flink-autoscaler's scale-up / scale-down rate thresholds (NaN for ds2).
    pub scale_up_threshold_rps: f64,
    pub scale_down_threshold_rps: f64,
    /// What this evaluation computed for the vertex, before the gates.
    pub proposed_parallelism: u32,
    /// The parallelism the policy asked for (= current if it did not act on this vertex).
    pub new_parallelism: u32,
    /// Why: e.g. within_bounds, scale_up, scale_down, blocked_grace_period, stabilizing,
    /// warm_up, filtered (see README, "What a run prints and writes").
    pub outcome: &'static str,
}

impl Evaluation {
    /// Rows for an invocation that did not evaluate (no measurements): one per vertex.
    pub fn not_evaluated(obs: &Observation, outcome: &'static str) -> Vec<Evaluation> {
        obs.vertices
            .iter()
            .map(|v| Evaluation {
                time: obs.time,
                vertex: v.name.clone(),
                parallelism: v.parallelism,
                busy: f64::NAN,
                true_processing_rate_rps: f64::NAN,
                target_data_rate_rps: f64::NAN,
                catch_up_rate_rps: f64::NAN,
                scale_up_threshold_rps: f64::NAN,
                scale_down_threshold_rps: f64::NAN,
                proposed_parallelism: v.parallelism,
                new_parallelism: v.parallelism,
                outcome,
            })
            .collect()
    }
}

/// A control policy. Pure: no I/O, no wall clock; randomness only from its own stream.
pub trait Policy: Send {
    /// The name it was built under (a policy name or preset).
    fn name(&self) -> &str;
    /// How often the control loop asks it to decide.
    fn interval(&self) -> SimDuration;
    /// Looks at the job and returns what to change (often nothing).
    fn decide(&mut self, observation: &Observation) -> Vec<Action>;
    /// The backend refused `action` (bounds, rate limit, dry run, REST error), `why` says
    /// why: nothing changed, so a policy that waits for the restart its action causes must
    /// stop waiting. Default: ignored.
    fn refused(&mut self, _action: &Action, _why: &str) {}
    /// Why the last `decide` returned `action`, in a few words (written to `decisions.csv`).
    /// Default: no reason given.
    fn explain(&self, _action: &Action) -> Option<&'static str> {
        None
    }
    /// The per-vertex evaluations made since the last call, oldest first (the control loop
    /// calls it after every `decide`). Default: none (the policy does not report them).
    fn take_evaluations(&mut self) -> Vec<Evaluation> {
        Vec::new()
    }
    /// How the job must be deployed for this policy (default: as the scenario says).
    fn deployment(&self) -> DeploymentHints {
        DeploymentHints::default()
    }
    /// Static facts of the deployment, given once before the run: the job model and the
    /// cluster's sites and placement (what the operator deploying the job knows). Default:
    /// ignored.
    fn attach(
        &mut self,
        _model: &crate::flink::model::JobModel,
        _edge: &crate::cluster::EdgeSetup,
    ) {
    }
    /// Whether the policy pre-trains on the workload's history before the run (Demeter's
    /// forecaster, research/demeter.md §4.1). Default: no.
    fn wants_workload_history(&self) -> bool {
        false
    }
    /// The offered load without generator noise (per second, one dataset length), given once
    /// before the run when [`Policy::wants_workload_history`] is true.
    fn pretrain(&mut self, _offered_rps: &[f64]) {}
}

/// A policy name the registry does not know, or parameters it rejects.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown policy {name:?}: expected one of {known}")]
    Unknown { name: String, known: String },
    #[error("policy {policy:?}: parameter `{key}`: {message}")]
    Param {
        policy: String,
        key: String,
        message: String,
    },
}

/// Names accepted wherever a policy name is (policies and presets).
pub const POLICY_NAMES: &[&str] = &[
    "static",
    "reactive",
    "reactive35",
    "ds2",
    "flink-autoscaler",
    "operator35",
    "lvr",
    "demeter",
    "placement",
];

/// Builds a policy from its name and parameters.
pub fn build(spec: &PolicySpec, seed: u64) -> Result<Box<dyn Policy>, PolicyError> {
    let _ = seed;
    match spec.name.as_str() {
        "static" => {
            reject_unknown("static", &spec.params, &[])?;
            Ok(Box::new(StaticPolicy::new()))
        }
        "reactive" | "reactive35" => {
            let base = if spec.name == "reactive35" {
                HpaParams::reactive35()
            } else {
                HpaParams::default()
            };
            let params = HpaParams::from_table(&spec.name, base, &spec.params)?;
            Ok(Box::new(ReactivePolicy::new(&spec.name, params)))
        }
        "lvr" => Ok(Box::new(LvrPolicy::new(LvrParams::from_table(
            "lvr",
            &spec.params,
        )?))),
        "ds2" => Ok(Box::new(Ds2::new(
            "ds2",
            Ds2Params::from_params("ds2", &spec.params)?,
        ))),
        name @ ("flink-autoscaler" | "operator35") => Ok(Box::new(FlinkAutoscaler::new(
            name,
            AutoscalerParams::from_params(name, &spec.params)?,
        ))),
        "demeter" => Ok(Box::new(crate::demeter::DemeterPolicy::new(
            crate::demeter::DemeterParams::from_table(&spec.params)?,
            seed,
        ))),
        "placement" => Ok(Box::new(placement::PlacementPolicy::new(
            placement::PlacementParams::from_table(&spec.params)?,
        ))),
        other => Err(PolicyError::Unknown {
            name: other.to_string(),
            known: POLICY_NAMES.join(", "),
        }),
    }
}

/// Fails on any parameter key not in `known`.
pub fn reject_unknown(
    policy: &str,
    params: &toml::Table,
    known: &[&str],
) -> Result<(), PolicyError> {
    for key in params.keys() {
        if !known.contains(&key.as_str()) {
            return Err(PolicyError::Param {
                policy: policy.to_string(),
                key: key.clone(),
                message: if known.is_empty() {
                    "this policy takes no parameters".into()
                } else {
                    format!("unknown parameter; expected one of {}", known.join(", "))
                },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_params_are_rejected() {
        let spec = PolicySpec {
            name: "magic".into(),
            params: toml::Table::new(),
        };
        let e = build(&spec, 1).err().unwrap().to_string();
        assert!(e.contains("magic") && e.contains("static"), "{e}");
        let mut params = toml::Table::new();
        params.insert("target".into(), toml::Value::Float(0.5));
        let spec = PolicySpec {
            name: "static".into(),
            params,
        };
        let e = build(&spec, 1).err().unwrap().to_string();
        assert!(e.contains("`target`"), "{e}");
    }
}
