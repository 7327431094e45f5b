//! `reactive` / `reactive35`: Flink reactive mode scaled by a Kubernetes HPA on TaskManager CPU.
//!
//! The policy is the HPA of research/autoscalers.md §3.2 (autoscaling/v2, no `behavior` block,
//! kube-controller-manager defaults) acting on the TaskManager Deployment; Flink's reactive mode
//! (§3.1) does the rest: every replica change restarts the job from its latest checkpoint at
//! parallelism = available slots. The HPA's algorithm follows Kubernetes'
//! `replica_calculator.go` (`GetResourceReplicas`) and `horizontal.go`
//! (`normalizeDesiredReplicas`, `convertDesiredReplicasWithRules`):
//!
//! 1. utilisation u = mean CPU usage / request of the pods that have a metric, as
//!    metrics-server serves it: scraped every `metric_resolution_s`, each scrape the mean over
//!    the interval before it, visible `metrics_lag_s` after the scrape; ratio r = u / target;
//! 2. no missing pods: |r - 1| <= tolerance -> keep, else desired = ceil(r x pods with metrics);
//! 3. missing pods (started or lost since the sample): they count as 100 % of their request
//!    when scaling down and 0 % when scaling up; if that flips the direction or lands inside
//!    the tolerance, keep; desired = ceil(r' x all pods);
//! 4. scale-down stabilisation: the applied value is the maximum recommendation of the last
//!    `downscale_stabilization_s` (scale-up is immediate);
//! 5. clamp to [min_replicas, min(max_replicas, max(2 x current, 4))].
//!
//! What the HPA sees here is what Kubernetes would: the TaskManagers' mean CPU (`cpu_load`,
//! JVM CPU load of a 1-core container = usage / request) and the registered TaskManagers; a
//! job restart does not remove pod metrics (the TaskManager JVMs keep running), so the only
//! missing metrics are pods not registered throughout the scrape interval (starting, or lost
//! to a failure): Kubernetes has no metric for a pod that is not running yet and ignores a new
//! pod's sample until a full metric window after it became ready.

use std::collections::VecDeque;

use super::params::ParamReader;
use super::{reject_unknown, Action, DeploymentHints, Observation, Policy, PolicyError};
use crate::flink::SchedulerMode;
use crate::time::{SimDuration, SimTime};

/// Parameter keys `reactive` and its presets accept in `[policy.params]`.
pub const REACTIVE_PARAMS: &[&str] = &[
    "sync_period_s",
    "target_utilization",
    "tolerance",
    "downscale_stabilization_s",
    "min_replicas",
    "max_replicas",
    "metric_resolution_s",
    "metrics_lag_s",
    "checkpoint_interval_s",
];

/// The HPA's settings. Defaults are Kubernetes' (research/autoscalers.md §3.2).
#[derive(Clone, Debug, PartialEq)]
pub struct HpaParams {
    /// `--horizontal-pod-autoscaler-sync-period`, default 15 s: the policy's interval.
    pub sync_period_s: u64,
    /// `averageUtilization` of CPU as a fraction of the request; Kubernetes' default when an
    /// HPA names no metric is 80 % (autoscalers.md §3.2).
    pub target_utilization: f64,
    /// `--horizontal-pod-autoscaler-tolerance`, default 0.1.
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization`, default 300 s.
    pub downscale_stabilization_s: u64,
    /// `minReplicas`, Kubernetes default 1.
    pub min_replicas: u32,
    /// `maxReplicas` (required by Kubernetes; 24 as in the experiments' HPA, research/demeter.md
    /// §3.2, and the Phoebe/aws-samples setups of autoscalers.md §3.2).
    pub max_replicas: u32,
    /// metrics-server's `--metric-resolution`: it scrapes every 60 s by default
    /// (kubernetes-sigs/metrics-server `options.go`, `MetricResolution: 60 * time.Second`) and
    /// serves the CPU rate over the interval between two scrapes. The recorded Reactive runs'
    /// TaskManager changes come in 60-s steps (traces 1_reactive35_ADS_24_small: 350, 410,
    /// 470, 530 s ...), consistent with 60 s.
    pub metric_resolution_s: u64,
    /// Delay between a scrape and the HPA seeing it: cAdvisor's CPU counters are read on its
    /// ~10-15 s housekeeping and the HPA reads at its next sync; one sync period, 15 s
    /// (autoscalers.md §3.2: "metric lag (metrics-server windows + 15 s sync)").
    pub metrics_lag_s: u64,
    /// Checkpoint interval the job is deployed with; `None` keeps the scenario's.
    pub checkpoint_interval_s: Option<u64>,
}

impl Default for HpaParams {
    fn default() -> Self {
        HpaParams {
            sync_period_s: 15,
            target_utilization: 0.8,
            tolerance: 0.1,
            downscale_stabilization_s: 300,
            min_replicas: 1,
            max_replicas: 24,
            metric_resolution_s: 60,
            metrics_lag_s: 15,
            checkpoint_interval_s: None,
        }
    }
}

impl HpaParams {
    /// The experiments' Reactive setup (research/demeter.md §3.2): HPA at 35 % CPU, 1-24
    /// TaskManagers, no `behavior` block, the job's checkpoint interval 20 s.
    pub fn reactive35() -> Self {
        HpaParams {
            target_utilization: 0.35,
            min_replicas: 1,
            max_replicas: 24,
            checkpoint_interval_s: Some(20),
            ..HpaParams::default()
        }
    }

    /// `base` with the keys of `params` applied; unknown keys and bad values are errors.
    pub fn from_table(
        policy: &str,
        base: HpaParams,
        params: &toml::Table,
    ) -> Result<Self, PolicyError> {
        reject_unknown(policy, params, REACTIVE_PARAMS)?;
        let r = ParamReader { policy, params };
        let mut p = base;
        if let Some(v) = r.opt_u64_at_least("sync_period_s", 1)? {
            p.sync_period_s = v;
        }
        if let Some(v) = r.opt_f64_above("target_utilization", 0.0, None)? {
            p.target_utilization = v;
        }
        if let Some(v) = r.opt_f64_above("tolerance", -1.0, Some(1.0))? {
            p.tolerance = v;
        }
        if let Some(v) = r.opt_u64_at_least("downscale_stabilization_s", 0)? {
            p.downscale_stabilization_s = v;
        }
        if let Some(v) = r.opt_u32_at_least("min_replicas", 1)? {
            p.min_replicas = v;
        }
        if let Some(v) = r.opt_u32_at_least("max_replicas", 1)? {
            p.max_replicas = v;
        }
        if let Some(v) = r.opt_u64_at_least("metric_resolution_s", 1)? {
            p.metric_resolution_s = v;
        }
        if let Some(v) = r.opt_u64_at_least("metrics_lag_s", 0)? {
            p.metrics_lag_s = v;
        }
        if let Some(v) = r.opt_u64_at_least("checkpoint_interval_s", 1)? {
            p.checkpoint_interval_s = Some(v);
        }
        if p.tolerance < 0.0 {
            return Err(r.err("tolerance", "expected a value in [0, 1)".into()));
        }
        if p.min_replicas > p.max_replicas {
            return Err(r.err(
                "min_replicas",
                format!(
                    "min_replicas {} exceeds max_replicas {}",
                    p.min_replicas, p.max_replicas
                ),
            ));
        }
        Ok(p)
    }
}

/// CPU as the metrics pipeline shows it: one observation, or one scrape interval's mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuSample {
    pub time: SimTime,
    /// Mean CPU usage / request over the pods that reported (None: no pod reported).
    pub utilization: Option<f64>,
    /// Pods that reported (registered TaskManagers; for an interval, those registered
    /// throughout it).
    pub pods_with_metrics: u32,
}

/// Kubernetes' HPA replica calculation and normalisation, without I/O.
#[derive(Clone, Debug)]
pub struct Hpa {
    params: HpaParams,
    /// (time, unclamped recommendation) for the scale-down stabilisation window.
    recommendations: VecDeque<(SimTime, u32)>,
}

impl Hpa {
    pub fn new(params: HpaParams) -> Self {
        Hpa {
            params,
            recommendations: VecDeque::new(),
        }
    }

    pub fn params(&self) -> &HpaParams {
        &self.params
    }

    /// `GetResourceReplicas`: the replica count the metric asks for, or `None` when no pod
    /// reported a metric (the HPA then does not scale).
    pub fn metric_replicas(&self, current: u32, sample: &CpuSample) -> Option<u32> {
        let u = sample.utilization?;
        let with = sample.pods_with_metrics.min(current);
        if with == 0 {
            return None;
        }
        let target = self.params.target_utilization;
        let tol = self.params.tolerance;
        let ratio = u / target;
        let missing = current - with;
        if missing == 0 {
            if (1.0 - ratio).abs() <= tol {
                return Some(current);
            }
            return Some(ceil_u32(ratio * with as f64));
        }
        // Missing pods: 100 % of their request on a scale-down, 0 % on a scale-up.
        let fill = if ratio < 1.0 {
            1.0
        } else if ratio > 1.0 {
            0.0
        } else {
            target
        };
        let all = current as f64;
        let new_ratio = (u * with as f64 + fill * missing as f64) / (target * all);
        if (1.0 - new_ratio).abs() <= tol
            || (ratio < 1.0 && new_ratio > 1.0)
            || (ratio > 1.0 && new_ratio < 1.0)
        {
            return Some(current);
        }
        let new = ceil_u32(new_ratio * all);
        if (new_ratio < 1.0 && new > current) || (new_ratio > 1.0 && new < current) {
            return Some(current);
        }
        Some(new)
    }

    /// One sync: the replica count to set given the current one and the (lagged) sample.
    pub fn desired(&mut self, now: SimTime, current: u32, sample: Option<&CpuSample>) -> u32 {
        let p = &self.params;
        if current > p.max_replicas {
            return p.max_replicas;
        }
        if current < p.min_replicas {
            return p.min_replicas;
        }
        let Some(rec) = sample.and_then(|s| self.metric_replicas(current, s)) else {
            return current;
        };
        // `stabilizeRecommendation`: max over the window, this recommendation included.
        let window = SimDuration::from_secs(p.downscale_stabilization_s);
        while self
            .recommendations
            .front()
            .is_some_and(|&(t, _)| t + window <= now)
        {
            self.recommendations.pop_front();
        }
        let stabilized = self
            .recommendations
            .iter()
            .map(|&(_, r)| r)
            .fold(rec, u32::max);
        self.recommendations.push_back((now, rec));
        // `convertDesiredReplicasWithRules`: scale-up limit max(2 x current, 4).
        let up_limit = (2 * current).max(4).min(p.max_replicas);
        stabilized.clamp(p.min_replicas, up_limit.max(p.min_replicas))
    }
}

fn ceil_u32(x: f64) -> u32 {
    x.ceil().clamp(0.0, u32::MAX as f64) as u32
}

/// Flink reactive mode + HPA: the policy object.
pub struct ReactivePolicy {
    name: String,
    hpa: Hpa,
    /// The Deployment's replica count (`scale.spec.replicas`) as this HPA last set it.
    replicas: Option<u32>,
    /// Recent observations' CPU, oldest first, for the scrape intervals.
    history: VecDeque<CpuSample>,
}

impl ReactivePolicy {
    pub fn new(name: &str, params: HpaParams) -> Self {
        ReactivePolicy {
            name: name.to_string(),
            hpa: Hpa::new(params),
            replicas: None,
            history: VecDeque::new(),
        }
    }

    /// What metrics-server serves at `now`: the newest scrape at least `metrics_lag_s` old,
    /// i.e. the mean CPU of the observations in the scrape interval before it.
    fn served_sample(&mut self, now: SimTime) -> Option<CpuSample> {
        let p = &self.hpa.params;
        let res_ms = p.metric_resolution_s.max(1) * 1000;
        let visible_ms = now.as_ms().checked_sub(p.metrics_lag_s * 1000)?;
        let scrape_ms = visible_ms / res_ms * res_ms;
        let from_ms = scrape_ms.checked_sub(res_ms)?;
        // Observations before this interval are never needed again.
        while self
            .history
            .front()
            .is_some_and(|s| s.time.as_ms() <= from_ms)
        {
            self.history.pop_front();
        }
        let interval = self.history.iter().filter(|s| s.time.as_ms() <= scrape_ms);
        let (mut sum, mut n, mut pods) = (0.0, 0u32, u32::MAX);
        for s in interval {
            pods = pods.min(s.pods_with_metrics);
            if let Some(u) = s.utilization {
                sum += u;
                n += 1;
            }
        }
        (pods != u32::MAX).then(|| CpuSample {
            time: SimTime::from_ms(scrape_ms),
            utilization: (n > 0).then(|| sum / n as f64),
            pods_with_metrics: pods,
        })
    }
}

impl Policy for ReactivePolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(self.hpa.params.sync_period_s)
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        self.history.push_back(CpuSample {
            time: obs.time,
            utilization: obs.cpu_load,
            pods_with_metrics: obs.task_managers,
        });
        // The Deployment starts with the replicas the configuration asks for.
        let current = *self
            .replicas
            .get_or_insert_with(|| obs.config.task_managers());
        let sample = self.served_sample(obs.time);
        let desired = self.hpa.desired(obs.time, current, sample.as_ref());
        if desired == current {
            return Vec::new();
        }
        self.replicas = Some(desired);
        vec![Action::SetTaskManagers(desired)]
    }

    fn deployment(&self) -> DeploymentHints {
        DeploymentHints {
            scheduler: Some(SchedulerMode::Reactive),
            checkpoint_interval: self
                .hpa
                .params
                .checkpoint_interval_s
                .map(SimDuration::from_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::observation;

    fn at(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    fn sample(t: u64, u: f64, pods: u32) -> CpuSample {
        CpuSample {
            time: at(t),
            utilization: Some(u),
            pods_with_metrics: pods,
        }
    }

    fn hpa35() -> Hpa {
        Hpa::new(HpaParams::reactive35())
    }

    #[test]
    fn formula_scales_up_and_caps_at_max() {
        let h = hpa35();
        // 24 TMs at 70 % CPU, target 35 %: ratio 2 -> 48 recommended ...
        assert_eq!(h.metric_replicas(24, &sample(0, 0.70, 24)), Some(48));
        // ... and capped at maxReplicas 24.
        let mut h = hpa35();
        assert_eq!(h.desired(at(0), 24, Some(&sample(0, 0.70, 24))), 24);
        // 10 TMs at 70 %: 20 (scale-up limit max(2 x 10, 4) = 20).
        let mut h = hpa35();
        assert_eq!(h.desired(at(0), 10, Some(&sample(0, 0.70, 10))), 20);
        // 6 TMs at 100 %: ceil(6 x 2.857) = 18, limited to 2 x 6 = 12.
        let mut h = hpa35();
        assert_eq!(h.desired(at(0), 6, Some(&sample(0, 1.0, 6))), 12);
    }

    #[test]
    fn inside_tolerance_nothing_changes() {
        let h = hpa35();
        // 38 %: ratio 1.086, |1 - r| <= 0.1.
        assert_eq!(h.metric_replicas(20, &sample(0, 0.38, 20)), Some(20));
        // 32 %: ratio 0.914.
        assert_eq!(h.metric_replicas(20, &sample(0, 0.32, 20)), Some(20));
        // 40 %: ratio 1.143 -> ceil(20 x 1.143) = 23.
        assert_eq!(h.metric_replicas(20, &sample(0, 0.40, 20)), Some(23));
    }

    #[test]
    fn scale_down_waits_for_the_window_and_takes_its_maximum() {
        let mut h = hpa35();
        // t = 0: 20 TMs at 35 % -> keep 20 (recommendation 20).
        assert_eq!(h.desired(at(0), 20, Some(&sample(0, 0.35, 20))), 20);
        // t = 100: 15 % -> ceil(20 x 0.4286) = 9 recommended; the window still holds 20.
        assert_eq!(h.desired(at(100), 20, Some(&sample(100, 0.15, 20))), 20);
        // t = 200: 22 % -> ceil(20 x 0.6286) = 13 recommended; max(20, 9, 13) = 20.
        assert_eq!(h.desired(at(200), 20, Some(&sample(200, 0.22, 20))), 20);
        // t = 299: the 20 of t = 0 is still inside (0 + 300 > 299).
        assert_eq!(h.desired(at(299), 20, Some(&sample(299, 0.15, 20))), 20);
        // t = 300: it left; max(9, 13, 9, 9) = 13, not the latest 9.
        assert_eq!(h.desired(at(300), 20, Some(&sample(300, 0.15, 20))), 13);
        // t = 499, 13 TMs at 10 %: ceil(13 x 0.2857) = 4, but t = 200's 13 is still inside.
        assert_eq!(h.desired(at(499), 13, Some(&sample(499, 0.10, 13))), 13);
        // t = 500: it left; max(9, 9, 4, 4) = 9.
        assert_eq!(h.desired(at(500), 13, Some(&sample(500, 0.10, 13))), 9);
    }

    #[test]
    fn scale_up_is_immediate() {
        let mut h = hpa35();
        // A low recommendation (ceil(10 x 0.457) = 5) is held back by the window ...
        assert_eq!(h.desired(at(0), 10, Some(&sample(0, 0.35, 10))), 10);
        assert_eq!(h.desired(at(15), 10, Some(&sample(15, 0.16, 10))), 10);
        // ... but a high one applies at the next sync.
        assert_eq!(h.desired(at(30), 10, Some(&sample(30, 0.70, 10))), 20);
    }

    #[test]
    fn min_and_max_clamp() {
        let mut p = HpaParams::reactive35();
        p.min_replicas = 4;
        p.max_replicas = 10;
        p.downscale_stabilization_s = 0;
        let mut h = Hpa::new(p);
        // 6 TMs at 7 %: ceil(6 x 0.2) = 2 -> clamped to 4.
        assert_eq!(h.desired(at(0), 6, Some(&sample(0, 0.07, 6))), 4);
        // 8 TMs at 70 %: 16 -> clamped to 10.
        assert_eq!(h.desired(at(15), 8, Some(&sample(15, 0.70, 8))), 10);
        // Outside [min, max] already: pulled in without looking at metrics.
        assert_eq!(h.desired(at(30), 12, None), 10);
        assert_eq!(h.desired(at(45), 2, None), 4);
    }

    #[test]
    fn missing_pods_follow_the_kubernetes_rules() {
        let h = hpa35();
        // Scale-down, 1 of 24 pods missing, counted at 100 %: (23 x 0.21 + 1) / (0.35 x 24)
        // = 0.694 -> ceil(0.694 x 24) = 17 (without the missing pod: ceil(23 x 0.6) = 14).
        assert_eq!(h.metric_replicas(24, &sample(0, 0.21, 23)), Some(17));
        // Scale-down whose correction lands inside the tolerance: keep.
        // (20 x 0.30 + 4 x 1.0) / (0.35 x 24) = 1.19 flips direction -> keep.
        assert_eq!(h.metric_replicas(24, &sample(0, 0.30, 20)), Some(24));
        // Scale-up with missing pods at 0 %: (20 x 0.71) / (0.35 x 24) = 1.690 -> 41.
        assert_eq!(h.metric_replicas(24, &sample(0, 0.71, 20)), Some(41));
        // Scale-up that the zeros flip: (12 x 0.42) / (0.35 x 24) = 0.6 -> keep.
        assert_eq!(h.metric_replicas(24, &sample(0, 0.42, 12)), Some(24));
        // No pod reported: no recommendation.
        let none = CpuSample {
            time: at(0),
            utilization: None,
            pods_with_metrics: 0,
        };
        assert_eq!(h.metric_replicas(24, &none), None);
        // More reporting pods than replicas (scaled down since the sample): they are gone.
        assert_eq!(h.metric_replicas(10, &sample(0, 0.70, 20)), Some(20));
    }

    #[test]
    fn the_policy_acts_on_scraped_lagged_cpu() {
        let mut p = ReactivePolicy::new("reactive35", HpaParams::reactive35());
        let mut o = observation(0);
        o.task_managers = 10;
        o.config.scale_out = 10;
        let mut at = |t: u64, cpu: f64| {
            o.time = at(t);
            o.cpu_load = Some(cpu);
            p.decide(&o)
        };
        // 35 % until t = 45, 69 % from t = 60. The scrape at 60 s covers (0, 60] and is
        // visible from 75 s (lag 15 s): nothing before.
        for t in [0, 15, 30, 45, 60] {
            assert!(
                at(t, if t < 60 { 0.35 } else { 0.69 }).is_empty(),
                "t = {t}"
            );
        }
        // t = 75: mean of 15, 30, 45, 60 = (3 x 0.35 + 0.69) / 4 = 0.435 -> ratio 1.243
        // -> ceil(12.43) = 13.
        assert_eq!(at(75, 0.69), vec![Action::SetTaskManagers(13)]);
        // t = 90: the same scrape, now with 3 of 13 pods missing (0 % on a scale-up):
        // 0.435 x 10 / (0.35 x 13) = 0.956 flips the direction -> keep 13.
        assert!(at(90, 0.69).is_empty());
        assert!(at(105, 0.69).is_empty());
        // t = 135: the scrape at 120 s: 69 % over (60, 120] on the 10 pods registered
        // throughout -> 0.69 x 10 / (0.35 x 13) = 1.516 -> ceil(1.516 x 13) = 20.
        assert!(at(120, 0.69).is_empty());
        assert_eq!(at(135, 0.69), vec![Action::SetTaskManagers(20)]);
    }

    #[test]
    fn reactive35_is_deployed_in_reactive_mode_with_20s_checkpoints() {
        let p = ReactivePolicy::new("reactive35", HpaParams::reactive35());
        assert_eq!(
            p.deployment(),
            DeploymentHints {
                scheduler: Some(SchedulerMode::Reactive),
                checkpoint_interval: Some(SimDuration::from_secs(20)),
            }
        );
        assert_eq!(p.interval(), SimDuration::from_secs(15));
        let p = ReactivePolicy::new("reactive", HpaParams::default());
        assert_eq!(p.deployment().checkpoint_interval, None);
    }

    #[test]
    fn params_override_presets_and_reject_unknown_keys() {
        let mut t = toml::Table::new();
        t.insert("target_utilization".into(), toml::Value::Float(0.5));
        t.insert("max_replicas".into(), toml::Value::Integer(12));
        let p = HpaParams::from_table("reactive35", HpaParams::reactive35(), &t).unwrap();
        assert_eq!(p.target_utilization, 0.5);
        assert_eq!(p.max_replicas, 12);
        assert_eq!(p.checkpoint_interval_s, Some(20));
        t.insert("target".into(), toml::Value::Float(0.5));
        let e = HpaParams::from_table("reactive", HpaParams::default(), &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`target`"), "{e}");
        let mut t = toml::Table::new();
        t.insert("min_replicas".into(), toml::Value::Integer(30));
        let e = HpaParams::from_table("reactive", HpaParams::default(), &t)
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds"), "{e}");
        let mut t = toml::Table::new();
        t.insert("target_utilization".into(), toml::Value::String("x".into()));
        assert!(HpaParams::from_table("reactive", HpaParams::default(), &t).is_err());
    }
}
