//! `lvr`: the latency-violation rescaler of research/autoscalers.md §5, made well defined for Flink.
//!
//! Every `evaluation_period_s` the policy reads the job's latency metric (the mean of per-subtask
//! p95, as the experiments recorded it), takes a statistic over the last `window_s` and counts
//! consecutive evaluations above `slo_ms`. After `consecutive_violations` in a row it rescales
//! the `top_k` vertices that contribute most to latency:
//!
//! - continuous vertices: p' = max(p + 1, ceil(lambda_in / (headroom x mu_ch))), where
//!   mu_ch = (records processed per second / busy fraction) / p is the per-channel capacity from
//!   busy time, and lambda_in the vertex's input rate (for a source: the rate it read plus the
//!   growth of the Kafka backlog, i.e. the offered rate);
//! - window vertices: p' = p + `window_increment`;
//! - then p' is clamped to [p, min(ceil(growth_cap x p), max parallelism, cap)], where a
//!   source's cap is its partition count and every vertex's cap is the slots of
//!   `max_task_managers` TaskManagers (one slot-sharing group: the job needs max p' slots).
//!
//! **Latency contribution.** §5 prefers per-operator sojourn time; Flink exposes no per-vertex
//! queueing time, but it does expose how full each vertex's input queue is: `inPoolUsage` for
//! vertices fed over the network (records wait there in proportion to the fill), and for a
//! source, whose input queue is Kafka, the share of time it is busy reading (a source busy
//! ~100 % of the time cannot read faster, so its backlog, and the latency, grows). Both are
//! fractions in [0, 1]; ties go to the lower vertex index. Back-pressured vertices upstream of
//! a bottleneck show low busy time, so the bottleneck ranks first. A vertex whose contribution
//! is below `min_contribution` does not add latency and is left alone even if it is in the top
//! k (without this, k = 2 on YSB's two vertices would grow the idle window vertex by +2 at
//! every trigger and make it, not the bottleneck, decide how many TaskManagers are needed).
//!
//! **Actions.** Rescales go through the adaptive scheduler (`Action::RescaleInPlace`, one
//! restart from the latest checkpoint for all changed vertices; `deployment()` asks for
//! `SchedulerMode::Adaptive`). When the new parallelism needs more slots than the TaskManagers
//! give, the policy first asks for ceil(slots / slots per TaskManager) TaskManagers
//! (`Action::SetTaskManagers`, the "node add" of §5) and applies the rescale once they have
//! registered (or after `provisioning_timeout_s`, leaving the scheduler to wait), so the job
//! keeps running while the pods start. §5's "mean node CPU > 0.85" overload rule is not used:
//! with one-core, one-slot TaskManagers a TaskManager's CPU is its subtasks' busy time, which
//! the parallelism rule already reads. Scale-down is off (§5's default).
//!
//! **Cool-down.** No evaluation (and the violation counter resets) while the job is not
//! running, for `cooldown_s` after an action, and for `restart_grace_s` after the job last
//! started running (any restart, failures included): §5's max(60 s, last restart + 30 s).

use std::collections::VecDeque;

use super::params::ParamReader;
use super::{reject_unknown, Action, DeploymentHints, JobState, Observation, Policy, PolicyError};
use crate::flink::SchedulerMode;
use crate::time::{SimDuration, SimTime};

/// Parameter keys `lvr` accepts in `[policy.params]`.
pub const LVR_PARAMS: &[&str] = &[
    "evaluation_period_s",
    "window_s",
    "latency_statistic",
    "slo_ms",
    "consecutive_violations",
    "top_k",
    "min_contribution",
    "headroom",
    "window_increment",
    "growth_cap",
    "cooldown_s",
    "restart_grace_s",
    "max_task_managers",
    "include_sources",
    "provisioning_timeout_s",
];

/// How the latency samples of the window are summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyStatistic {
    /// Nearest-rank 99th percentile of the window's samples.
    P99,
    Mean,
}

/// LVR's parameters; defaults from research/autoscalers.md §5 unless stated.
#[derive(Clone, Debug, PartialEq)]
pub struct LvrParams {
    /// Δ, 10 s (§5: aligned with the metric reporter interval).
    pub evaluation_period_s: u64,
    /// w, 30 s (§5).
    pub window_s: u64,
    /// p99 (§5; mean also allowed). One sample per evaluation: p99 of 3 samples is their max.
    pub latency_statistic: LatencyStatistic,
    /// SLO on the job's latency metric. §5's fallback is 1 s, below YSB's 1.135 s floor; the
    /// default is the experiments' threshold, 1.5 s (research/demeter.md §6, "<= 1.5 s %").
    pub slo_ms: f64,
    /// K, 3 (§5).
    pub consecutive_violations: u32,
    /// k, 2 (§5).
    pub top_k: u32,
    /// Contribution a vertex needs to be rescaled: 0.1, the upper bound of Flink's "OK"
    /// back-pressure level (web UI: OK <= 10 %, LOW <= 50 %, HIGH above).
    pub min_contribution: f64,
    /// h, 1.0 (§5: the literal thesis rule; 0.8-0.9 recommended).
    pub headroom: f64,
    /// +2 channels per triggering for window vertices (§5).
    pub window_increment: u32,
    /// x2 per action (§5).
    pub growth_cap: f64,
    /// 60 s after an action (§5).
    pub cooldown_s: u64,
    /// 30 s after the job last started running (§5: "last observed restart + 30 s").
    pub restart_grace_s: u64,
    /// Node maximum: 24 TaskManagers, the experiments' cluster limit (research/demeter.md §3.2).
    pub max_task_managers: u32,
    /// Sources are rescaled too, capped at their partitions (§5's option). On by default: with
    /// chaining YSB's source vertex holds the parsing and the Redis join.
    pub include_sources: bool,
    /// How long a rescale waits for new TaskManagers to register before it is applied anyway:
    /// twice §5's 60-s node provisioning delay.
    pub provisioning_timeout_s: u64,
}

impl Default for LvrParams {
    fn default() -> Self {
        LvrParams {
            evaluation_period_s: 10,
            window_s: 30,
            latency_statistic: LatencyStatistic::P99,
            slo_ms: 1500.0,
            consecutive_violations: 3,
            top_k: 2,
            min_contribution: 0.1,
            headroom: 1.0,
            window_increment: 2,
            growth_cap: 2.0,
            cooldown_s: 60,
            restart_grace_s: 30,
            max_task_managers: 24,
            include_sources: true,
            provisioning_timeout_s: 120,
        }
    }
}

impl LvrParams {
    /// Defaults with the keys of `params` applied; unknown keys and bad values are errors.
    pub fn from_table(policy: &str, params: &toml::Table) -> Result<Self, PolicyError> {
        reject_unknown(policy, params, LVR_PARAMS)?;
        let r = ParamReader { policy, params };
        let mut p = LvrParams::default();
        if let Some(v) = r.opt_u64_at_least("evaluation_period_s", 1)? {
            p.evaluation_period_s = v;
        }
        if let Some(v) = r.opt_u64_at_least("window_s", 1)? {
            p.window_s = v;
        }
        match params.get("latency_statistic") {
            None => {}
            Some(toml::Value::String(s)) if s == "p99" => {
                p.latency_statistic = LatencyStatistic::P99
            }
            Some(toml::Value::String(s)) if s == "mean" => {
                p.latency_statistic = LatencyStatistic::Mean
            }
            Some(v) => {
                return Err(r.err(
                    "latency_statistic",
                    format!("expected \"p99\" or \"mean\", found {v}"),
                ))
            }
        }
        if let Some(v) = r.opt_f64_above("slo_ms", 0.0, None)? {
            p.slo_ms = v;
        }
        if let Some(v) = r.opt_u32_at_least("consecutive_violations", 1)? {
            p.consecutive_violations = v;
        }
        if let Some(v) = r.opt_u32_at_least("top_k", 1)? {
            p.top_k = v;
        }
        if let Some(v) = r.opt_f64_above("min_contribution", -1.0, Some(1.0))? {
            p.min_contribution = v.max(0.0);
        }
        if let Some(v) = r.opt_f64_above("headroom", 0.0, Some(1.0))? {
            p.headroom = v;
        }
        if let Some(v) = r.opt_u32_at_least("window_increment", 1)? {
            p.window_increment = v;
        }
        if let Some(v) = r.opt_f64_above("growth_cap", 1.0, None)? {
            p.growth_cap = v;
        }
        if let Some(v) = r.opt_u64_at_least("cooldown_s", 0)? {
            p.cooldown_s = v;
        }
        if let Some(v) = r.opt_u64_at_least("restart_grace_s", 0)? {
            p.restart_grace_s = v;
        }
        if let Some(v) = r.opt_u32_at_least("max_task_managers", 1)? {
            p.max_task_managers = v;
        }
        match params.get("include_sources") {
            None => {}
            Some(toml::Value::Boolean(b)) => p.include_sources = *b,
            Some(v) => {
                return Err(r.err(
                    "include_sources",
                    format!("expected true or false, found {v}"),
                ))
            }
        }
        if let Some(v) = r.opt_u64_at_least("provisioning_timeout_s", 0)? {
            p.provisioning_timeout_s = v;
        }
        Ok(p)
    }
}

/// A rescale waiting for its TaskManagers.
#[derive(Clone, Debug, PartialEq)]
struct PendingRescale {
    parallelism: Vec<u32>,
    slots: u32,
    since: SimTime,
}

/// The latency-violation rescaler.
pub struct LvrPolicy {
    params: LvrParams,
    /// (time, latency metric) of the evaluations inside the window.
    latency: VecDeque<(SimTime, f64)>,
    violations: u32,
    last_action: Option<SimTime>,
    /// TaskManagers this policy asked for (starts at what the deployment runs).
    task_managers: Option<u32>,
    pending: Option<PendingRescale>,
    /// (time, Kafka backlog, running_since) at the previous evaluation.
    previous_backlog: Option<(SimTime, f64, SimTime)>,
}

impl LvrPolicy {
    pub fn new(params: LvrParams) -> Self {
        LvrPolicy {
            params,
            latency: VecDeque::new(),
            violations: 0,
            last_action: None,
            task_managers: None,
            pending: None,
            previous_backlog: None,
        }
    }

    pub fn params(&self) -> &LvrParams {
        &self.params
    }

    /// The statistic over the samples in (now - w, now], if any.
    fn statistic(&self) -> Option<f64> {
        if self.latency.is_empty() {
            return None;
        }
        let mut v: Vec<f64> = self.latency.iter().map(|&(_, l)| l).collect();
        Some(match self.params.latency_statistic {
            LatencyStatistic::Mean => v.iter().sum::<f64>() / v.len() as f64,
            LatencyStatistic::P99 => {
                v.sort_by(f64::total_cmp);
                let rank = (0.99 * v.len() as f64).ceil() as usize;
                v[rank.clamp(1, v.len()) - 1]
            }
        })
    }

    fn in_cooldown(&self, obs: &Observation) -> bool {
        let p = &self.params;
        let after_action = self
            .last_action
            .is_some_and(|t| obs.time < t + SimDuration::from_secs(p.cooldown_s));
        let after_restart =
            obs.time < obs.running_since + SimDuration::from_secs(p.restart_grace_s);
        after_action || after_restart
    }

    /// Growth of the Kafka backlog per second since the previous evaluation (0 if unknown or
    /// if the job restarted in between: a rewind adds replay, not offered load).
    fn backlog_growth_rps(&self, obs: &Observation) -> f64 {
        match self.previous_backlog {
            Some((t, backlog, since)) if since == obs.running_since && obs.time > t => {
                (obs.pending_records - backlog) / obs.time.since(t).as_secs_f64()
            }
            _ => 0.0,
        }
    }

    /// The new per-vertex parallelism, or `None` if no eligible vertex can grow.
    pub fn plan(&self, obs: &Observation) -> Option<Vec<u32>> {
        let p = &self.params;
        let slots_per_tm = obs.config.task_slots.max(1);
        let max_slots = p.max_task_managers.saturating_mul(slots_per_tm);
        let cap = |v: &super::VertexObservation| {
            let mut c = v.max_parallelism.min(max_slots);
            if v.is_source {
                c = c.min(obs.source_partitions.max(1));
            }
            c
        };
        let contribution = |v: &super::VertexObservation| {
            if v.is_source {
                (v.busy_time_ms_per_s / 1000.0).clamp(0.0, 1.0)
            } else {
                v.in_pool_usage.clamp(0.0, 1.0)
            }
        };
        let mut eligible: Vec<usize> = (0..obs.vertices.len())
            .filter(|&i| {
                let v = &obs.vertices[i];
                (p.include_sources || !v.is_source)
                    && v.parallelism < cap(v)
                    && contribution(v) >= p.min_contribution
            })
            .collect();
        // Largest contribution first; ties by vertex index (the sort is stable).
        eligible.sort_by(|&a, &b| {
            contribution(&obs.vertices[b]).total_cmp(&contribution(&obs.vertices[a]))
        });
        let growth = self.backlog_growth_rps(obs);
        let mut new: Vec<u32> = obs.vertices.iter().map(|v| v.parallelism).collect();
        for &i in eligible.iter().take(p.top_k as usize) {
            let v = &obs.vertices[i];
            let cur = v.parallelism.max(1);
            let wanted = if v.is_window {
                cur + p.window_increment
            } else {
                let busy = v.busy_time_ms_per_s / 1000.0;
                let lambda_in = if v.is_source {
                    (v.records_in_per_s + growth).max(0.0)
                } else {
                    v.records_in_per_s
                };
                if busy > 0.01 && v.records_in_per_s > 0.0 {
                    let per_channel = v.records_in_per_s / busy / cur as f64;
                    let by_rate = (lambda_in / (p.headroom * per_channel)).ceil();
                    (cur + 1).max(by_rate.min(u32::MAX as f64) as u32)
                } else {
                    cur + 1
                }
            };
            let upper = ((p.growth_cap * cur as f64).ceil() as u32).min(cap(v));
            new[i] = wanted.clamp(cur, upper.max(cur));
        }
        let changed = new
            .iter()
            .zip(&obs.vertices)
            .any(|(&n, v)| n != v.parallelism);
        changed.then_some(new)
    }
}

impl Policy for LvrPolicy {
    fn name(&self) -> &str {
        "lvr"
    }

    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(self.params.evaluation_period_s)
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        let window = SimDuration::from_secs(self.params.window_s);
        if let Some(l) = obs.latency_ms {
            self.latency.push_back((obs.time, l));
        }
        while self
            .latency
            .front()
            .is_some_and(|&(t, _)| t + window <= obs.time)
        {
            self.latency.pop_front();
        }
        let growth_known = obs.job_state == JobState::Running;
        let actions = self.decide_inner(obs);
        self.previous_backlog =
            growth_known.then_some((obs.time, obs.pending_records, obs.running_since));
        actions
    }

    fn deployment(&self) -> DeploymentHints {
        DeploymentHints {
            scheduler: Some(SchedulerMode::Adaptive),
            checkpoint_interval: None,
        }
    }
}

impl LvrPolicy {
    fn decide_inner(&mut self, obs: &Observation) -> Vec<Action> {
        let tms = *self
            .task_managers
            .get_or_insert_with(|| obs.config.task_managers().max(obs.task_managers));
        if let Some(pending) = &self.pending {
            let timeout = SimDuration::from_secs(self.params.provisioning_timeout_s);
            let ready =
                obs.task_slots_total >= pending.slots || obs.time >= pending.since + timeout;
            if obs.job_state == JobState::Running && ready {
                let parallelism = self.pending.take().expect("checked").parallelism;
                self.last_action = Some(obs.time);
                self.violations = 0;
                return vec![Action::RescaleInPlace { parallelism }];
            }
            return Vec::new();
        }
        if obs.job_state != JobState::Running || self.in_cooldown(obs) {
            self.violations = 0;
            return Vec::new();
        }
        let Some(stat) = self.statistic() else {
            self.violations = 0;
            return Vec::new();
        };
        if stat > self.params.slo_ms {
            self.violations += 1;
        } else {
            self.violations = 0;
        }
        if self.violations < self.params.consecutive_violations {
            return Vec::new();
        }
        self.violations = 0;
        let Some(parallelism) = self.plan(obs) else {
            return Vec::new();
        };
        self.last_action = Some(obs.time);
        let slots = parallelism.iter().copied().max().unwrap_or(1);
        let needed_tms = slots.div_ceil(obs.config.task_slots.max(1));
        if needed_tms > tms {
            self.task_managers = Some(needed_tms);
            self.pending = Some(PendingRescale {
                parallelism,
                slots,
                since: obs.time,
            });
            return vec![Action::SetTaskManagers(needed_tms)];
        }
        vec![Action::RescaleInPlace { parallelism }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::{observation, vertex};

    /// A job with a source (p 4, 4 000 rec/s while 100 % busy: 1 000 rec/s per channel) and a
    /// window vertex (p 4), on 10 one-slot TaskManagers, latency `latency_ms`.
    fn obs(t: u64, latency_ms: f64, backlog: f64) -> Observation {
        let mut o = observation(t);
        o.latency_ms = Some(latency_ms);
        o.pending_records = backlog;
        o.vertices = vec![
            vertex("Source", 4, true, false, 4000.0, 1.0, 0.0),
            vertex("Window", 4, false, true, 1300.0, 0.4, 0.1),
        ];
        o
    }

    fn run(p: &mut LvrPolicy, steps: &[(u64, f64)]) -> Vec<(u64, Vec<Action>)> {
        steps
            .iter()
            .map(|&(t, l)| (t, p.decide(&obs(t, l, 0.0))))
            .filter(|(_, a)| !a.is_empty())
            .collect()
    }

    #[test]
    fn acts_after_exactly_three_consecutive_violations() {
        let mut p = LvrPolicy::new(LvrParams::default());
        // Evaluations start after the 30-s restart grace; the window holds 3 samples.
        let acted = run(&mut p, &[(30, 1200.0), (40, 1200.0), (50, 1200.0)]);
        assert!(acted.is_empty());
        // Violations at 60 and 70 (the window's p99 = max is above 1.5 s): only 2.
        let acted = run(&mut p, &[(60, 2000.0), (70, 2000.0)]);
        assert!(acted.is_empty());
        // The third, at 80.
        let acted = run(&mut p, &[(80, 2000.0)]);
        assert_eq!(acted.len(), 1, "{acted:?}");
        // Source: busy 100 % at 4 000 rec/s -> 1 000 per channel, no backlog growth ->
        // max(4 + 1, ceil(4 000 / 1 000)) = 5; window: 4 + 2 = 6. 10 slots suffice.
        assert_eq!(
            acted[0].1,
            vec![Action::RescaleInPlace {
                parallelism: vec![5, 6]
            }]
        );
    }

    #[test]
    fn a_broken_streak_starts_over() {
        let mut p = LvrPolicy::new(LvrParams {
            latency_statistic: LatencyStatistic::Mean,
            window_s: 10,
            ..LvrParams::default()
        });
        let acted = run(
            &mut p,
            &[
                (30, 2000.0),
                (40, 2000.0),
                (50, 1000.0),
                (60, 2000.0),
                (70, 2000.0),
            ],
        );
        assert!(acted.is_empty(), "{acted:?}");
        let acted = run(&mut p, &[(80, 2000.0)]);
        assert_eq!(acted.len(), 1);
    }

    #[test]
    fn backlog_growth_sets_the_source_and_the_cap_limits_it() {
        let mut p = LvrPolicy::new(LvrParams::default());
        p.decide(&obs(30, 2000.0, 0.0));
        p.decide(&obs(40, 2000.0, 10_000.0));
        // Backlog +20 000 in 10 s: offered 4 000 + 2 000 = 6 000 rec/s -> ceil(6 000 / 1 000) = 6.
        let a = p.decide(&obs(50, 2000.0, 30_000.0));
        assert_eq!(
            a,
            vec![Action::RescaleInPlace {
                parallelism: vec![6, 6]
            }]
        );
        // Offered 4 000 + 10 000 = 14 000 -> 14, capped at 2 x 4 = 8.
        let mut p = LvrPolicy::new(LvrParams::default());
        p.decide(&obs(30, 2000.0, 0.0));
        p.decide(&obs(40, 2000.0, 0.0));
        let a = p.decide(&obs(50, 2000.0, 100_000.0));
        assert_eq!(
            a,
            vec![Action::RescaleInPlace {
                parallelism: vec![8, 6]
            }]
        );
    }

    #[test]
    fn caps_partitions_max_parallelism_and_ranking() {
        let p = LvrPolicy::new(LvrParams {
            top_k: 1,
            ..LvrParams::default()
        });
        let mut o = obs(50, 2000.0, 0.0);
        // The source (busy 1.0) outranks the window (inPoolUsage 0.1).
        assert_eq!(p.plan(&o), Some(vec![5, 4]));
        // At its partition count the source is not eligible: the window is next.
        o.source_partitions = 4;
        assert_eq!(p.plan(&o), Some(vec![4, 6]));
        // The window's max parallelism 5 caps +2 at 5.
        o.vertices[1].max_parallelism = 5;
        assert_eq!(p.plan(&o), Some(vec![4, 5]));
        // Nothing can grow: no plan.
        o.vertices[1].max_parallelism = 4;
        assert_eq!(p.plan(&o), None);
        // A full input buffer downstream outranks a half-busy source.
        let mut o = obs(50, 2000.0, 0.0);
        o.vertices[0].busy_time_ms_per_s = 500.0;
        o.vertices[1].in_pool_usage = 0.9;
        assert_eq!(p.plan(&o), Some(vec![4, 6]));
    }

    #[test]
    fn cool_down_and_restart_grace() {
        let mut p = LvrPolicy::new(LvrParams::default());
        let acted = run(&mut p, &[(30, 2000.0), (40, 2000.0), (50, 2000.0)]);
        assert_eq!(acted.len(), 1);
        assert_eq!(acted[0].0, 50);
        // Cool-down until 110: violations at 60..100 do not count; 110, 120, 130 do.
        let steps: Vec<(u64, f64)> = (6..=13).map(|i| (i * 10, 2000.0)).collect();
        let acted = run(&mut p, &steps);
        assert_eq!(acted.len(), 1, "{acted:?}");
        assert_eq!(acted[0].0, 130);
        // After a restart (job running since 200) nothing is evaluated before 230.
        let mut p = LvrPolicy::new(LvrParams::default());
        let mut acted = Vec::new();
        for t in (200..=260).step_by(10) {
            let mut o = obs(t, 2000.0, 0.0);
            o.running_since = SimTime::from_secs(200);
            if !p.decide(&o).is_empty() {
                acted.push(t);
            }
        }
        assert_eq!(acted, vec![250]);
        // While restarting: nothing, and the streak resets.
        let mut p = LvrPolicy::new(LvrParams::default());
        run(&mut p, &[(30, 2000.0), (40, 2000.0)]);
        let mut o = obs(50, 2000.0, 0.0);
        o.job_state = JobState::Restarting;
        o.latency_ms = None;
        assert!(p.decide(&o).is_empty());
        assert!(run(&mut p, &[(60, 2000.0), (70, 2000.0)]).is_empty());
    }

    #[test]
    fn adds_task_managers_first_and_rescales_once_they_registered() {
        let mut p = LvrPolicy::new(LvrParams::default());
        let mut o = obs(30, 2000.0, 0.0);
        o.task_managers = 4;
        o.task_slots_total = 4;
        o.config.scale_out = 4;
        let mut at = |t: u64, slots: u32| {
            o.time = SimTime::from_secs(t);
            o.task_managers = slots;
            o.task_slots_total = slots;
            p.decide(&o)
        };
        assert!(at(30, 4).is_empty());
        assert!(at(40, 4).is_empty());
        // Plan [5, 6] needs 6 slots: ask for 6 TaskManagers first.
        assert_eq!(at(50, 4), vec![Action::SetTaskManagers(6)]);
        assert!(at(60, 4).is_empty());
        assert!(at(70, 5).is_empty());
        assert_eq!(
            at(80, 6),
            vec![Action::RescaleInPlace {
                parallelism: vec![5, 6]
            }]
        );
    }

    #[test]
    fn vertices_that_add_no_latency_are_left_alone() {
        let p = LvrPolicy::new(LvrParams::default());
        let mut o = obs(50, 2000.0, 0.0);
        // The window's input buffers are 5 % full: below 0.1, only the source grows.
        o.vertices[1].in_pool_usage = 0.05;
        assert_eq!(p.plan(&o), Some(vec![5, 4]));
        // An idle source too: nothing to do.
        o.vertices[0].busy_time_ms_per_s = 50.0;
        assert_eq!(p.plan(&o), None);
    }

    #[test]
    fn the_node_maximum_shrinks_the_plan() {
        let p = LvrPolicy::new(LvrParams {
            max_task_managers: 5,
            ..LvrParams::default()
        });
        assert_eq!(p.plan(&obs(50, 2000.0, 0.0)), Some(vec![5, 5]));
    }

    #[test]
    fn params_parse_and_reject() {
        let mut t = toml::Table::new();
        t.insert(
            "latency_statistic".into(),
            toml::Value::String("mean".into()),
        );
        t.insert("headroom".into(), toml::Value::Float(0.8));
        let p = LvrParams::from_table("lvr", &t).unwrap();
        assert_eq!(p.latency_statistic, LatencyStatistic::Mean);
        assert_eq!(p.headroom, 0.8);
        t.insert(
            "latency_statistic".into(),
            toml::Value::String("p50".into()),
        );
        assert!(LvrParams::from_table("lvr", &t).is_err());
        let mut t = toml::Table::new();
        t.insert("growth_cap".into(), toml::Value::Float(1.0));
        assert!(LvrParams::from_table("lvr", &t).is_err());
        let mut t = toml::Table::new();
        t.insert("k".into(), toml::Value::Integer(3));
        let e = LvrParams::from_table("lvr", &t).unwrap_err().to_string();
        assert!(e.contains("`k`"), "{e}");
    }
}
