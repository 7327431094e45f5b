//! The DS2 policy (Kalavri et al., OSDI 2018) as published, and the `[policy.params]` reader
//! that the DS2 and operator-autoscaler policies share.
//!
//! One evaluation (research/autoscalers.md §1.2): per vertex, the true processing and output
//! rates are the records in/out of a policy window divided by the useful (busy) time of that
//! window, computed from Flink's accumulated counters; one pass over the graph in topological
//! order, starting from the sources' target rate (the arrival rate: rate of records read plus
//! rate of change of `pendingRecords`), gives every vertex its optimal parallelism
//! `ceil(x * (1 + f))` with `x = target input / per-instance capacity`, and passes the estimated
//! output at the *unrounded* optimum `x` downstream. The scaling manager (§1.3) ignores
//! `warm_up_windows` windows after every (re)start, needs `activation_windows` evaluations
//! before acting, and reconfigures iff some vertex grows or some vertex shrinks by >= 2. A
//! decision is applied by stop-with-savepoint and redeploy with per-vertex parallelism.

use super::params::ParamReader;
use super::{Action, Evaluation, JobState, Observation, Policy, PolicyError};
use crate::time::{SimDuration, SimTime};

// ----- parameters ------------------------------------------------------------------------

/// How the last `activation_windows` decisions are combined (research/autoscalers.md §1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// The latest decision (what `manager.rs` does).
    Latest,
    /// Per vertex, the largest of the kept decisions.
    Max,
    /// Per vertex, the median (upper median for an even count) of the kept decisions.
    Median,
}

/// DS2's parameters, keys of `[policy.params]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ds2Params {
    /// `policy_interval`: the window over which rates are measured and the policy invoked.
    /// Default 10 s: the Flink patch's `policy.windowSize` and the `ds2.toml` example
    /// (autoscalers.md §1.1, §1.3).
    pub policy_interval: SimDuration,
    /// `warm_up_windows`: windows ignored after every (re)start. Default 2: the `ds2.toml`
    /// example `warm_up_time = 2` (§1.3).
    pub warm_up_windows: u32,
    /// `activation_windows`: evaluations needed since the last (re)start before acting.
    /// Default 1: `manager.rs` `activation_time` (§1.3).
    pub activation_windows: u32,
    /// `scaling_factor`: deliberate over-provisioning f in `ceil(x (1 + f))`. Default 0 (§1.3).
    pub scaling_factor: f64,
    /// `aggregation`: "latest" | "max" | "median" over the kept decisions. Default "latest",
    /// as the code does (§1.3).
    pub aggregation: Aggregation,
    /// `rescale_sources`: whether sources are rescaled too (capped by partitions). Default
    /// false: DS2 never rescales sources (§1.2 step 1).
    pub rescale_sources: bool,
    /// `max_parallelism`: an upper bound for every vertex besides key groups and partitions
    /// (e.g. the cluster's slots). Default: none.
    pub max_parallelism: Option<u32>,
}

impl Default for Ds2Params {
    fn default() -> Self {
        Ds2Params {
            policy_interval: SimDuration::from_secs(10),
            warm_up_windows: 2,
            activation_windows: 1,
            scaling_factor: 0.0,
            aggregation: Aggregation::Latest,
            rescale_sources: false,
            max_parallelism: None,
        }
    }
}

const DS2_KEYS: &[&str] = &[
    "policy_interval",
    "warm_up_windows",
    "activation_windows",
    "scaling_factor",
    "aggregation",
    "rescale_sources",
    "max_parallelism",
];

impl Ds2Params {
    /// Reads `[policy.params]`; unknown keys are rejected.
    pub fn from_params(policy: &str, params: &toml::Table) -> Result<Ds2Params, PolicyError> {
        super::reject_unknown(policy, params, DS2_KEYS)?;
        let r = ParamReader { policy, params };
        let d = Ds2Params::default();
        let policy_interval = r.duration("policy_interval", d.policy_interval)?;
        if policy_interval.as_ms() < 1000 {
            return Err(PolicyError::Param {
                policy: policy.into(),
                key: "policy_interval".into(),
                message: "expected at least 1 s".into(),
            });
        }
        Ok(Ds2Params {
            policy_interval,
            warm_up_windows: r.u32_in("warm_up_windows", d.warm_up_windows, 0..=10_000)?,
            activation_windows: r.u32_in("activation_windows", d.activation_windows, 1..=10_000)?,
            scaling_factor: r.f64_in("scaling_factor", d.scaling_factor, 0.0..=100.0)?,
            aggregation: match r.choice("aggregation", 0, &["latest", "max", "median"])? {
                0 => Aggregation::Latest,
                1 => Aggregation::Max,
                _ => Aggregation::Median,
            },
            rescale_sources: r.bool("rescale_sources", d.rescale_sources)?,
            max_parallelism: r.opt_u32("max_parallelism", d.max_parallelism)?,
        })
    }
}

// ----- the model (one evaluation) --------------------------------------------------------

/// What DS2 knows about one vertex for one window.
#[derive(Clone, Debug, PartialEq)]
pub struct Ds2Vertex {
    pub parallelism: u32,
    pub is_source: bool,
    /// Upstream vertex indices.
    pub inputs: Vec<usize>,
    /// Records in / out over the window, summed over subtasks.
    pub records_in: f64,
    pub records_out: f64,
    /// Useful (busy) time over the window, seconds, averaged over subtasks.
    pub busy_s: f64,
    /// Largest parallelism allowed (key groups, source partitions, configured bound).
    pub max_parallelism: u32,
}

impl Ds2Vertex {
    /// True processing rate of the whole operator, records/s at 100 % useful time.
    pub fn true_processing_rate_rps(&self) -> f64 {
        self.records_in / self.busy_s
    }
    /// True output rate of the whole operator, records/s at 100 % useful time.
    pub fn true_output_rate_rps(&self) -> f64 {
        self.records_out / self.busy_s
    }
}

/// One vertex's result of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Ds2Estimate {
    /// Target input rate T (records/s).
    pub target_input_rps: f64,
    /// Unrounded optimal parallelism x (`None` if the window had no input or no busy time).
    pub optimum: Option<f64>,
    /// Estimated output at the optimum (records/s), the input of the next level; NaN when
    /// unknown (input expected but not measured), which keeps every vertex below as it is.
    pub estimated_output_rps: f64,
    /// The new parallelism (current for sources unless rescaled).
    pub parallelism: u32,
}

/// Vertex indices in topological order (Kahn; ties by smallest index, so deterministic).
pub fn topological_order(inputs: &[Vec<usize>]) -> Vec<usize> {
    let n = inputs.len();
    let mut missing: Vec<usize> = inputs.iter().map(Vec::len).collect();
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while order.len() < n {
        let Some(v) = (0..n).find(|&v| !done[v] && missing[v] == 0) else {
            panic!("the job graph has a cycle: {inputs:?}");
        };
        done[v] = true;
        order.push(v);
        for (w, ins) in inputs.iter().enumerate() {
            missing[w] -= ins.iter().filter(|&&u| u == v).count();
        }
    }
    order
}

/// DS2's policy (autoscalers.md §1.2): one pass in topological order from the sources'
/// target rate. `source_target_rps[v]` is the target input rate of source `v` (ignored for
/// other vertices); `f` the over-provisioning factor.
pub fn ds2_evaluate(
    vertices: &[Ds2Vertex],
    source_target_rps: &[f64],
    f: f64,
    rescale_sources: bool,
) -> Vec<Ds2Estimate> {
    let inputs: Vec<Vec<usize>> = vertices.iter().map(|v| v.inputs.clone()).collect();
    let mut out: Vec<Option<Ds2Estimate>> = vec![None; vertices.len()];
    for v in topological_order(&inputs) {
        let vx = &vertices[v];
        // Each downstream edge receives the whole estimated output of its upstream (§1.2.2).
        let target = if vx.is_source {
            source_target_rps.get(v).copied().unwrap_or(0.0).max(0.0)
        } else {
            vx.inputs
                .iter()
                .map(|&u| out[u].as_ref().expect("topological").estimated_output_rps)
                .sum()
        };
        let p = vx.parallelism.max(1) as f64;
        let measurable = vx.records_in > 0.0 && vx.busy_s > 0.0;
        let (optimum, estimated_output) = if target.is_nan() {
            (None, f64::NAN) // an upstream's output is unknown
        } else if measurable {
            let capacity_per_instance = vx.true_processing_rate_rps() / p;
            let x = target / capacity_per_instance;
            // Ô = TO · x / p: linear scaling at the unrounded optimum (§1.2.4).
            (Some(x), vx.true_output_rate_rps() * x / p)
        } else if vx.records_in > 0.0 {
            // No busy time in the window (a source back-pressured all the time, ~0 ms/s
            // busy on a live Flink): the capacity is unknown, but TO · x / p = T · out / in,
            // the output at the target still follows from the selectivity.
            (None, target * vx.records_out / vx.records_in)
        } else if target > 0.0 {
            // Input expected but none measured (a stale counter): the output is unknown and
            // every vertex downstream keeps its parallelism (never scale on missing data).
            (None, f64::NAN)
        } else {
            (None, 0.0)
        };
        let rescale = !vx.is_source || rescale_sources;
        let parallelism = match optimum {
            Some(x) if rescale => {
                let pi = (x * (1.0 + f) - 1e-9).ceil();
                (pi.max(1.0).min(vx.max_parallelism.max(1) as f64)) as u32
            }
            _ => vx.parallelism,
        };
        out[v] = Some(Ds2Estimate {
            target_input_rps: target,
            optimum,
            estimated_output_rps: estimated_output,
            parallelism,
        });
    }
    out.into_iter().map(|e| e.expect("visited")).collect()
}

/// DS2's change filter (§1.3): act iff some vertex grows, or some vertex shrinks by >= 2.
pub fn ds2_should_reconfigure(current: &[u32], proposed: &[u32]) -> bool {
    current
        .iter()
        .zip(proposed)
        .any(|(&c, &p)| p > c || c >= p + 2)
}

fn aggregate(decisions: &[Vec<u32>], how: Aggregation) -> Vec<u32> {
    let last = decisions.last().expect("at least one decision").clone();
    match how {
        Aggregation::Latest => last,
        Aggregation::Max => (0..last.len())
            .map(|v| decisions.iter().map(|d| d[v]).max().unwrap_or(last[v]))
            .collect(),
        Aggregation::Median => (0..last.len())
            .map(|v| {
                let mut xs: Vec<u32> = decisions.iter().map(|d| d[v]).collect();
                xs.sort_unstable();
                xs[xs.len() / 2]
            })
            .collect(),
    }
}

// ----- the scaling manager ---------------------------------------------------------------

/// Counters at the start of the current window.
#[derive(Clone, Debug)]
struct Sample {
    time: SimTime,
    running_since: SimTime,
    records_in: Vec<f64>,
    records_out: Vec<f64>,
    busy_ms: Vec<f64>,
    pending_records: f64,
}

impl Sample {
    fn of(obs: &Observation) -> Sample {
        Sample {
            time: obs.time,
            running_since: obs.running_since,
            records_in: obs.vertices.iter().map(|v| v.records_in_total).collect(),
            records_out: obs.vertices.iter().map(|v| v.records_out_total).collect(),
            busy_ms: obs.vertices.iter().map(|v| v.busy_time_ms_total).collect(),
            pending_records: obs.pending_records,
        }
    }
}

/// How long DS2 waits for the job to restart after asking for a redeploy before it assumes
/// the request was lost and measures again.
const REDEPLOY_WAIT: SimDuration = SimDuration::from_secs(600);

/// DS2 with its scaling manager, driving Flink by stop-with-savepoint and redeploy.
pub struct Ds2 {
    name: String,
    params: Ds2Params,
    window_start: Option<Sample>,
    /// Complete windows measured since the job last started running.
    windows: u32,
    /// Decisions since the job last started running (the last `activation_windows`).
    decisions: Vec<Vec<u32>>,
    /// After a redeploy request: the RUNNING timestamp it was issued under and when.
    awaiting_restart: Option<(SimTime, SimTime)>,
    /// The last evaluation, for tests and logs.
    last_estimates: Vec<Ds2Estimate>,
    /// Rows for `evaluations.csv` since the last `take_evaluations`.
    evaluations: Vec<Evaluation>,
}

impl Ds2 {
    pub fn new(name: &str, params: Ds2Params) -> Ds2 {
        Ds2 {
            name: name.to_string(),
            params,
            window_start: None,
            windows: 0,
            decisions: Vec::new(),
            awaiting_restart: None,
            last_estimates: Vec::new(),
            evaluations: Vec::new(),
        }
    }

    pub fn params(&self) -> &Ds2Params {
        &self.params
    }

    /// The most recent evaluation (empty before the first one).
    pub fn last_estimates(&self) -> &[Ds2Estimate] {
        &self.last_estimates
    }

    fn reset(&mut self) {
        self.window_start = None;
        self.windows = 0;
        self.decisions.clear();
    }
}

impl Policy for Ds2 {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> SimDuration {
        self.params.policy_interval
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        if obs.job_state != JobState::Running {
            self.reset();
            self.evaluations
                .extend(Evaluation::not_evaluated(obs, "not_running"));
            return Vec::new();
        }
        if let Some((since, at)) = self.awaiting_restart {
            if obs.running_since == since && obs.time < at + REDEPLOY_WAIT {
                self.evaluations
                    .extend(Evaluation::not_evaluated(obs, "awaiting_restart"));
                return Vec::new();
            }
            self.awaiting_restart = None;
        }
        // Flink's counters reset with every restart: a window must lie within one run, and
        // every (re)start begins a new warm-up (the manager wipes its metrics, §1.3).
        let start = match self.window_start.take() {
            Some(s) if s.running_since == obs.running_since && s.time < obs.time => s,
            _ => {
                self.reset();
                self.window_start = Some(Sample::of(obs));
                self.evaluations
                    .extend(Evaluation::not_evaluated(obs, "warm_up"));
                return Vec::new();
            }
        };
        self.window_start = Some(Sample::of(obs));
        self.windows += 1;
        if self.windows <= self.params.warm_up_windows {
            self.evaluations
                .extend(Evaluation::not_evaluated(obs, "warm_up"));
            return Vec::new();
        }
        let window_s = obs.time.since(start.time).as_secs_f64();
        let cap = self.params.max_parallelism.unwrap_or(u32::MAX);
        let vertices: Vec<Ds2Vertex> = obs
            .vertices
            .iter()
            .enumerate()
            .map(|(v, vx)| Ds2Vertex {
                parallelism: vx.parallelism,
                is_source: vx.is_source,
                inputs: vx.inputs.iter().map(|&(u, _)| u).collect(),
                records_in: (vx.records_in_total - start.records_in[v]).max(0.0),
                records_out: (vx.records_out_total - start.records_out[v]).max(0.0),
                busy_s: (vx.busy_time_ms_total - start.busy_ms[v]).max(0.0) / 1000.0,
                max_parallelism: if vx.is_source {
                    obs.source_partitions.max(1).min(cap)
                } else {
                    vx.max_parallelism.max(1).min(cap)
                },
            })
            .collect();
        // The arrival rate: records read plus the growth of the backlog (§1.1: the source
        // target rate comes from outside the dataflow; here Kafka shows it).
        let source_target: Vec<f64> = vertices
            .iter()
            .map(|vx| {
                if vx.is_source {
                    ((vx.records_in + obs.pending_records - start.pending_records) / window_s)
                        .max(0.0)
                } else {
                    0.0
                }
            })
            .collect();
        let estimates = ds2_evaluate(
            &vertices,
            &source_target,
            self.params.scaling_factor,
            self.params.rescale_sources,
        );
        let proposed: Vec<u32> = estimates.iter().map(|e| e.parallelism).collect();
        // The rows for `evaluations.csv`; `new_parallelism` and `outcome` are set below.
        let mut rows: Vec<Evaluation> = obs
            .vertices
            .iter()
            .zip(&vertices)
            .zip(&estimates)
            .map(|((vx, dv), e)| Evaluation {
                time: obs.time,
                vertex: vx.name.clone(),
                parallelism: vx.parallelism,
                busy: if window_s > 0.0 {
                    dv.busy_s / window_s
                } else {
                    f64::NAN
                },
                true_processing_rate_rps: dv.true_processing_rate_rps(),
                target_data_rate_rps: e.target_input_rps,
                catch_up_rate_rps: f64::NAN, // DS2 has no catch-up term
                scale_up_threshold_rps: f64::NAN,
                scale_down_threshold_rps: f64::NAN,
                proposed_parallelism: e.parallelism,
                new_parallelism: vx.parallelism,
                outcome: "activating",
            })
            .collect();
        self.last_estimates = estimates;
        self.decisions.push(proposed);
        let keep = self.params.activation_windows as usize;
        if self.decisions.len() > keep {
            self.decisions.remove(0);
        }
        if self.decisions.len() < keep {
            self.evaluations.append(&mut rows);
            return Vec::new();
        }
        let decision = aggregate(&self.decisions, self.params.aggregation);
        let current: Vec<u32> = obs.vertices.iter().map(|v| v.parallelism).collect();
        let act = ds2_should_reconfigure(&current, &decision);
        for ((row, &c), &d) in rows.iter_mut().zip(&current).zip(&decision) {
            row.outcome = match (act, d.cmp(&c)) {
                (_, std::cmp::Ordering::Equal) => "unchanged",
                // The whole decision differs too little from the running one (DS2's rule).
                (false, _) => "filtered",
                (true, std::cmp::Ordering::Greater) => "scale_up",
                (true, std::cmp::Ordering::Less) => "scale_down",
            };
            if act {
                row.new_parallelism = d;
            }
        }
        self.evaluations.append(&mut rows);
        if !act {
            return Vec::new();
        }
        let mut config = obs.config.clone();
        config.parallelism_overrides = decision.into_iter().map(Some).collect();
        self.awaiting_restart = Some((obs.running_since, obs.time));
        self.reset();
        vec![Action::Redeploy(config)]
    }

    /// A refused redeploy causes no restart: measure again from the next window.
    fn refused(&mut self, _action: &Action, _why: &str) {
        self.awaiting_restart = None;
    }

    fn take_evaluations(&mut self) -> Vec<Evaluation> {
        std::mem::take(&mut self.evaluations)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Hand-built observations for the policies' unit tests.
    use crate::flink::JobConfig;
    use crate::policy::{JobState, Observation, VertexObservation};
    use crate::time::{SimDuration, SimTime};

    /// A vertex: name, parallelism, source?, inputs (index, hash?).
    pub fn vertex(
        name: &str,
        parallelism: u32,
        is_source: bool,
        inputs: &[(usize, bool)],
    ) -> VertexObservation {
        VertexObservation {
            name: name.into(),
            parallelism,
            max_parallelism: 128,
            is_source,
            is_window: false,
            inputs: inputs.to_vec(),
            busy_time_ms_per_s: 0.0,
            busy_time_max_ms_per_s: 0.0,
            backpressured_time_ms_per_s: 0.0,
            idle_time_ms_per_s: 1000.0,
            records_in_per_s: 0.0,
            records_out_per_s: 0.0,
            records_in_total: 0.0,
            records_out_total: 0.0,
            busy_time_ms_total: 0.0,
            backpressured_time_ms_total: 0.0,
            in_pool_usage: 0.0,
        }
    }

    /// A running job at `t_s` seconds that started running at `since_s`.
    pub fn observation(t_s: u64, since_s: u64, vertices: Vec<VertexObservation>) -> Observation {
        let max_p = vertices.iter().map(|v| v.parallelism).max().unwrap_or(1);
        Observation {
            profiles: vec![],
            time: SimTime::from_secs(t_s),
            job_state: JobState::Running,
            running_since: SimTime::from_secs(since_s),
            restarts: 0,
            config: JobConfig {
                scale_out: max_p,
                task_slots: 1,
                cpu: 1.0,
                memory_mb: 4096,
                checkpoint_interval: SimDuration::from_secs(10),
                parallelism_overrides: vec![],
            },
            vertices,
            task_managers: max_p,
            task_slots_total: max_p,
            task_slots_available: 0,
            pending_records: 0.0,
            source_partitions: 24,
            source_records_in_total: 0.0,
            throughput_rps: None,
            consumer_lag: None,
            latency_ms: None,
            cpu_load: None,
            last_checkpoint: None,
            workload_rps_since_last: vec![],
        }
    }

    /// Advances every vertex's counters as if it ran `secs` seconds at the given per-second
    /// rates: `(records in/s, records out/s, busy fraction, back-pressured fraction)`.
    pub fn run_for(obs: &mut Observation, secs: u64, rates: &[(f64, f64, f64, f64)]) {
        obs.time += SimDuration::from_secs(secs);
        let s = secs as f64;
        for (v, &(rin, rout, busy, bp)) in obs.vertices.iter_mut().zip(rates) {
            v.records_in_total += rin * s;
            v.records_out_total += rout * s;
            v.busy_time_ms_total += busy * 1000.0 * s;
            v.backpressured_time_ms_total += bp * 1000.0 * s;
            v.records_in_per_s = rin;
            v.records_out_per_s = rout;
            v.busy_time_ms_per_s = busy * 1000.0;
            v.busy_time_max_ms_per_s = busy * 1000.0;
            v.backpressured_time_ms_per_s = bp * 1000.0;
            v.idle_time_ms_per_s = (1.0 - busy - bp) * 1000.0;
        }
        obs.source_records_in_total += rates[0].0 * s;
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    fn chain(p: [u32; 3]) -> Observation {
        observation(
            0,
            0,
            vec![
                vertex("source", p[0], true, &[]),
                vertex("map", p[1], false, &[(0, false)]),
                vertex("sink", p[2], false, &[(1, true)]),
            ],
        )
    }

    fn params(warm_up: u32, activation: u32) -> Ds2Params {
        Ds2Params {
            warm_up_windows: warm_up,
            activation_windows: activation,
            ..Ds2Params::default()
        }
    }

    fn overrides(actions: &[Action]) -> Vec<u32> {
        match actions {
            [Action::Redeploy(c)] => c.parallelism_overrides.iter().map(|p| p.unwrap()).collect(),
            other => panic!("expected one redeploy, got {other:?}"),
        }
    }

    /// Source p=4 reads 10 000 rec/s (all that arrives) at 50 % busy, emits 5 000/s;
    /// map p=2 is saturated: 100 % busy at 5 000 in/s (2 500 per instance), 5 000 out;
    /// sink p=1 takes 5 000/s at 25 % busy (20 000/s capacity).
    /// Optimum: map x = 5 000 / 2 500 = 2 -> no change; sink x = 5 000 / 20 000 -> 1.
    #[test]
    fn evaluation_is_hand_checkable() {
        let vs = vec![
            Ds2Vertex {
                parallelism: 4,
                is_source: true,
                inputs: vec![],
                records_in: 100_000.0,
                records_out: 50_000.0,
                busy_s: 5.0,
                max_parallelism: 24,
            },
            Ds2Vertex {
                parallelism: 2,
                is_source: false,
                inputs: vec![0],
                records_in: 50_000.0,
                records_out: 50_000.0,
                busy_s: 10.0,
                max_parallelism: 128,
            },
            Ds2Vertex {
                parallelism: 1,
                is_source: false,
                inputs: vec![1],
                records_in: 50_000.0,
                records_out: 0.0,
                busy_s: 2.5,
                max_parallelism: 128,
            },
        ];
        // Target 20 000 rec/s: the map needs 10 000 / 2 500 = 4, the sink 10 000 / 20 000.
        let e = ds2_evaluate(&vs, &[20_000.0, 0.0, 0.0], 0.0, false);
        assert_eq!(e[0].parallelism, 4, "sources are not rescaled");
        assert!((e[0].estimated_output_rps - 10_000.0).abs() < 1e-6);
        assert!((e[1].optimum.unwrap() - 4.0).abs() < 1e-9);
        assert_eq!(e[1].parallelism, 4);
        assert!((e[2].optimum.unwrap() - 0.5).abs() < 1e-9);
        assert_eq!(e[2].parallelism, 1);
        // Over-provisioning f = 0.3: ceil(4 x 1.3) = 6, ceil(0.5 x 1.3) = 1.
        let e = ds2_evaluate(&vs, &[20_000.0, 0.0, 0.0], 0.3, false);
        assert_eq!((e[1].parallelism, e[2].parallelism), (6, 1));
        // Rescaled sources: 100 000 / 5 / 4 = 5 000 per instance -> 40 000 / 5 000 = 8; the
        // map then gets 20 000 -> 8.
        let e = ds2_evaluate(&vs, &[40_000.0, 0.0, 0.0], 0.0, true);
        assert_eq!(e[0].parallelism, 8);
        assert_eq!(e[1].parallelism, 8);
    }

    /// A linear chain where an upstream bottleneck hides demand: the map (p=1) is saturated at
    /// 4 000 rec/s, so the sink sees only 4 000/s (busy 0.4 at p=1 -> 10 000/s capacity), the
    /// source reads only what the map lets through (4 000/s) and the backlog grows 8 000/s:
    /// arrival 12 000/s. One pass: map x = 12 000 / 4 000 = 3; its output at x is
    /// 3 x 4 000 = 12 000; sink x = 12 000 / 10 000 = 1.2 -> 2. One decision reaches the
    /// optimum (3, 2), although the sink looked under-utilised.
    #[test]
    fn one_step_to_the_optimum_of_a_chain_even_behind_a_bottleneck() {
        let mut p = Ds2::new("ds2", params(0, 1));
        let mut obs = chain([4, 1, 1]);
        assert!(p.decide(&obs).is_empty(), "the first sample opens a window");
        // Source: 4 000 in/s, 50 % back-pressured, 10 % busy; map: 4 000 in/out, busy 1.0;
        // sink: 4 000 in, busy 0.4. Backlog +8 000/s.
        let rates = [
            (4_000.0, 4_000.0, 0.1, 0.5),
            (4_000.0, 4_000.0, 1.0, 0.0),
            (4_000.0, 0.0, 0.4, 0.0),
        ];
        run_for(&mut obs, 10, &rates);
        obs.pending_records += 80_000.0;
        let a = p.decide(&obs);
        assert_eq!(overrides(&a), vec![4, 3, 2]);
        let e = p.last_estimates();
        assert!((e[0].target_input_rps - 12_000.0).abs() < 1e-6);
        assert!((e[1].optimum.unwrap() - 3.0).abs() < 1e-9);
        assert!((e[2].target_input_rps - 12_000.0).abs() < 1e-6);
        assert!((e[2].optimum.unwrap() - 1.2).abs() < 1e-9);

        // After the redeploy at (4, 3, 2), the job keeps up: nothing more to do.
        let mut obs = chain([4, 3, 2]);
        obs.time = SimTime::from_secs(100);
        obs.running_since = SimTime::from_secs(90);
        assert!(p.decide(&obs).is_empty());
        let rates = [
            (12_000.0, 12_000.0, 0.3, 0.0),
            (12_000.0, 12_000.0, 1.0, 0.0),
            (12_000.0, 0.0, 0.6, 0.0),
        ];
        run_for(&mut obs, 10, &rates);
        assert!(p.decide(&obs).is_empty(), "converged in one step");
        assert_eq!(p.last_estimates()[1].parallelism, 3);
        assert_eq!(p.last_estimates()[2].parallelism, 2);
    }

    /// Measured on the live Flink (DS2 step, 35 s): the source back-pressured all the time
    /// reports busy 0 ms/s. Its output at the target still follows from its selectivity, so
    /// the saturated `work` vertex (p=3, busy 1.0, 3 400/s in) is sized for the arrival
    /// rate (2 500/s read + backlog growth 1 300/s = 3 800/s -> x = 3.35 -> 4), not dropped
    /// to 1 for a zero estimated output as before.
    #[test]
    fn a_source_with_no_busy_time_still_passes_its_output_on() {
        let mut p = Ds2::new("ds2", params(0, 1));
        let mut obs = chain([1, 3, 1]);
        assert!(p.decide(&obs).is_empty());
        let rates = [
            (3_400.0, 3_400.0, 0.0, 1.0),
            (3_400.0, 3_400.0, 1.0, 0.0),
            (3_400.0, 0.0, 0.3, 0.0),
        ];
        run_for(&mut obs, 10, &rates);
        obs.pending_records += 4_000.0;
        let a = p.decide(&obs);
        let e = p.last_estimates();
        assert!(e[0].optimum.is_none(), "no busy time: capacity unknown");
        assert!((e[0].estimated_output_rps - 3_800.0).abs() < 1e-6);
        assert_eq!(overrides(&a), vec![1, 4, 1]);
    }

    /// A stale counter (no records read although the backlog grew): the source's output is
    /// unknown and nothing downstream is resized on it.
    #[test]
    fn an_unmeasured_source_output_keeps_the_graph_as_it_is() {
        let mut p = Ds2::new("ds2", params(0, 1));
        let mut obs = chain([1, 3, 2]);
        assert!(p.decide(&obs).is_empty());
        let rates = [
            (0.0, 0.0, 0.0, 1.0),
            (900.0, 900.0, 1.0, 0.0),
            (900.0, 0.0, 0.1, 0.0),
        ];
        run_for(&mut obs, 10, &rates);
        obs.pending_records += 20_000.0;
        assert!(p.decide(&obs).is_empty(), "{:?}", p.last_estimates());
        let e = p.last_estimates();
        assert!(e[1].target_input_rps.is_nan() && e[2].target_input_rps.is_nan());
        assert_eq!((e[1].parallelism, e[2].parallelism), (3, 2));
    }

    #[test]
    fn the_filter_ignores_a_shrink_by_one() {
        assert!(!ds2_should_reconfigure(&[4, 3, 2], &[4, 2, 2]));
        assert!(!ds2_should_reconfigure(&[4, 3, 2], &[4, 3, 2]));
        assert!(
            ds2_should_reconfigure(&[4, 3, 2], &[4, 1, 2]),
            "shrink by 2"
        );
        assert!(ds2_should_reconfigure(&[4, 3, 2], &[4, 2, 3]), "one grows");

        // Through the policy: the map at p=4 needs exactly 3 -> -1 -> no action.
        let mut p = Ds2::new("ds2", params(0, 1));
        let mut obs = chain([4, 4, 1]);
        p.decide(&obs);
        let rates = [
            (6_000.0, 6_000.0, 0.2, 0.0),
            (6_000.0, 6_000.0, 0.75, 0.0),
            (6_000.0, 0.0, 0.6, 0.0),
        ];
        run_for(&mut obs, 10, &rates);
        assert!(p.decide(&obs).is_empty());
        assert_eq!(p.last_estimates()[1].parallelism, 3);
        // At busy 0.5 the map needs 2: shrink by 2 -> act.
        let rates = [
            (6_000.0, 6_000.0, 0.2, 0.0),
            (6_000.0, 6_000.0, 0.5, 0.0),
            (6_000.0, 0.0, 0.6, 0.0),
        ];
        run_for(&mut obs, 10, &rates);
        assert_eq!(overrides(&p.decide(&obs)), vec![4, 2, 1]);
    }

    #[test]
    fn warm_up_and_activation_gate_decisions() {
        // Warm-up 2, activation 2: windows 1-2 ignored, windows 3 and 4 evaluated, act at 4.
        let mut p = Ds2::new("ds2", params(2, 2));
        let mut obs = chain([4, 1, 1]);
        let rates = [
            (4_000.0, 4_000.0, 0.1, 0.5),
            (4_000.0, 4_000.0, 1.0, 0.0),
            (4_000.0, 0.0, 0.4, 0.0),
        ];
        assert!(p.decide(&obs).is_empty());
        for window in 1..=3 {
            run_for(&mut obs, 10, &rates);
            obs.pending_records += 80_000.0;
            assert!(p.decide(&obs).is_empty(), "window {window}");
        }
        assert!(!p.last_estimates().is_empty(), "window 3 was evaluated");
        run_for(&mut obs, 10, &rates);
        obs.pending_records += 80_000.0;
        assert_eq!(overrides(&p.decide(&obs)), vec![4, 3, 2]);

        // A restart (new RUNNING timestamp) begins a new warm-up.
        let mut p = Ds2::new("ds2", params(1, 1));
        let mut obs = chain([4, 1, 1]);
        p.decide(&obs);
        run_for(&mut obs, 10, &rates);
        assert!(p.decide(&obs).is_empty(), "warm-up window");
        obs.running_since = obs.time;
        for v in &mut obs.vertices {
            v.records_in_total = 0.0;
            v.records_out_total = 0.0;
            v.busy_time_ms_total = 0.0;
        }
        assert!(p.decide(&obs).is_empty(), "restart: new first sample");
        run_for(&mut obs, 10, &rates);
        assert!(p.decide(&obs).is_empty(), "warm-up again");
        run_for(&mut obs, 10, &rates);
        obs.pending_records += 80_000.0;
        assert_eq!(overrides(&p.decide(&obs)), vec![4, 3, 2]);
    }

    #[test]
    fn aggregation_modes() {
        let d = vec![vec![1, 5], vec![3, 2], vec![2, 4]];
        assert_eq!(aggregate(&d, Aggregation::Latest), vec![2, 4]);
        assert_eq!(aggregate(&d, Aggregation::Max), vec![3, 5]);
        assert_eq!(aggregate(&d, Aggregation::Median), vec![2, 4]);
    }

    #[test]
    fn parameters_are_read_and_checked() {
        let t: toml::Table = toml::from_str(
            "policy_interval = \"30s\"\nwarm_up_windows = 3\nscaling_factor = 0.2\naggregation = \"max\"",
        )
        .unwrap();
        let p = Ds2Params::from_params("ds2", &t).unwrap();
        assert_eq!(p.policy_interval, SimDuration::from_secs(30));
        assert_eq!(p.warm_up_windows, 3);
        assert_eq!(p.aggregation, Aggregation::Max);
        let t: toml::Table = toml::from_str("warmup = 3").unwrap();
        let e = Ds2Params::from_params("ds2", &t).unwrap_err().to_string();
        assert!(e.contains("`warmup`"), "{e}");
        let t: toml::Table = toml::from_str("scaling_factor = \"x\"").unwrap();
        assert!(Ds2Params::from_params("ds2", &t).is_err());
    }

    #[test]
    fn topological_order_handles_joins() {
        // 0 -> 2, 1 -> 2, 2 -> 3, listed out of order.
        let order = topological_order(&[vec![], vec![3], vec![0, 3], vec![]]);
        assert_eq!(order, vec![0, 3, 1, 2]);
    }
}
