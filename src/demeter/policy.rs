//! The Demeter policy: forecast the workload, model latency class and recovery time per
//! configuration from profiling runs (GPs with RGPE transfer across throughput chunks), profile
//! the configurations NEHVI suggests, and switch to the cheapest configuration that is predicted
//! to handle the forecast (research/demeter.md §2.5, §3.4, §4).
//!
//! Objectives (total cores, total memory) are exact functions of a configuration, so they are
//! computed, not modelled (the prototype's GPs on them converge to the same values); the two
//! constraints (latency class and recovery time) are modelled, log-scaled as in §4.4.

use std::sync::Arc;

use ndarray::{Array1, Array2};
use rand::SeedableRng;

use super::bo::{self, GaussianProcess, Rgpe, Surrogate};
use super::space::{profiling_budget, ConfigSpace};
use crate::demeter_forecast::{ForecastParams, Forecaster, LatencyClassifier};
use crate::flink::JobConfig;
use crate::policy::profile::ProfileResult;
use crate::policy::{Action, JobState, Observation, Policy, PolicyError};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// Demeter's parameters (defaults: the prototype's, research/demeter.md §2.5, §4).
#[derive(Clone, Debug)]
pub struct DemeterParams {
    pub space: ConfigSpace,
    /// The PROFILE loop waits this long once, and no rescale happens before it (600 s).
    pub warmup: SimDuration,
    /// `evalInt`: minimum time since the job started, last reconfiguration or failure (600 s).
    pub eval_interval: SimDuration,
    /// Re-evaluation period once due (~60 s).
    pub poll: SimDuration,
    /// `avgWindow` (60 s).
    pub avg_window: SimDuration,
    /// `recTimeConst` (180 s).
    pub recovery_limit_s: f64,
    /// Constraint scaler: pessimistic value (mean + sd) x 1.25.
    pub constraint_scaler: f64,
    /// Keep the current configuration unless the best is better by more than this (0.05).
    pub min_improvement: f64,
    /// Throughput chunk width, records/s (10 000).
    pub chunk_rps: f64,
    /// How long the analytics service takes to suggest profiling configurations (the
    /// recorded median is 590 s: its suggestion loop runs until its 600-s timeout).
    pub analytics_time: SimDuration,
    /// At most this many profiling jobs per round (recorded rounds: mostly 1-2, up to 6).
    pub max_profiles_per_round: usize,
    /// Posterior samples for NEHVI and RGPE.
    pub samples: usize,
}

impl Default for DemeterParams {
    fn default() -> Self {
        DemeterParams {
            space: ConfigSpace::recorded_ysb(),
            warmup: SimDuration::from_secs(600),
            eval_interval: SimDuration::from_secs(600),
            poll: SimDuration::from_secs(60),
            avg_window: SimDuration::from_secs(60),
            recovery_limit_s: 180.0,
            constraint_scaler: 1.25,
            min_improvement: 0.05,
            chunk_rps: 10_000.0,
            analytics_time: SimDuration::from_secs(590),
            max_profiles_per_round: 3,
            samples: 256,
        }
    }
}

/// Parameter keys accepted in `[policy.params]`.
pub const DEMETER_PARAMS: &[&str] = &[
    "min_scale_out",
    "analytics_time_s",
    "max_profiles_per_round",
    "samples",
    "eval_interval_s",
    "warmup_s",
];

impl DemeterParams {
    pub fn from_table(table: &toml::Table) -> Result<Self, PolicyError> {
        crate::policy::reject_unknown("demeter", table, DEMETER_PARAMS)?;
        let mut p = DemeterParams::default();
        let num = |key: &str, lo: f64, hi: f64| -> Result<Option<f64>, PolicyError> {
            match table.get(key) {
                None => Ok(None),
                Some(v) => {
                    let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
                    match x {
                        Some(x) if x >= lo && x <= hi => Ok(Some(x)),
                        _ => Err(PolicyError::Param {
                            policy: "demeter".into(),
                            key: key.into(),
                            message: format!("expected a number in [{lo}, {hi}], found {v}"),
                        }),
                    }
                }
            }
        };
        if let Some(m) = num("min_scale_out", 1.0, 24.0)? {
            p.space.scale_outs = (1..=6).map(|k| 4 * k).filter(|&s| s as f64 >= m).collect();
        }
        if let Some(s) = num("analytics_time_s", 0.0, 3600.0)? {
            p.analytics_time = SimDuration::from_secs_f64(s);
        }
        if let Some(n) = num("max_profiles_per_round", 1.0, 20.0)? {
            p.max_profiles_per_round = n as usize;
        }
        if let Some(n) = num("samples", 16.0, 4096.0)? {
            p.samples = n as usize;
        }
        if let Some(s) = num("eval_interval_s", 60.0, 86_400.0)? {
            p.eval_interval = SimDuration::from_secs_f64(s);
        }
        if let Some(s) = num("warmup_s", 0.0, 86_400.0)? {
            p.warmup = SimDuration::from_secs_f64(s);
        }
        Ok(p)
    }
}

/// Constraint surrogates (latency, recovery) and the number of target points.
type Surrogates = (
    Arc<dyn Surrogate + Send + Sync>,
    Arc<dyn Surrogate + Send + Sync>,
    usize,
);

/// Latency and recovery GPs on the same points, with those points and both outcomes.
type Fitted = (
    GaussianProcess,
    GaussianProcess,
    Array2<f64>,
    Array1<f64>,
    Array1<f64>,
);

/// A measured configuration.
#[derive(Clone, Debug)]
struct Measured {
    config: JobConfig,
    throughput_rps: f64,
    latency_ms: f64,
    recovery_s: f64,
}

/// The Demeter policy.
pub struct DemeterPolicy {
    params: DemeterParams,
    options: Vec<JobConfig>,
    forecaster: Forecaster,
    rng: SimRng,
    profiles: Vec<Measured>,
    /// (throughput, latency) samples of the production job over the averaging window.
    window: Vec<(SimTime, f64, f64)>,
    last_change: SimTime,
    last_running_since: SimTime,
    last_eval: Option<SimTime>,
    /// Suggestions waiting for the analytics service's answer time.
    pending_round: Option<(SimTime, Vec<JobConfig>)>,
    /// Profiles launched and not yet reported.
    in_flight: usize,
    next_round_at: SimTime,
    /// Decisions taken (time, chosen config, reason), for tests and logs.
    pub log: Vec<(SimTime, JobConfig, &'static str)>,
    classifier: Option<(usize, LatencyClassifier, Vec<f64>)>,
    surrogate_cache: Option<((usize, i64, u64), Option<Surrogates>)>,
}

fn cores(c: &JobConfig) -> f64 {
    ConfigSpace::resources(c).0
}
fn memory_mb(c: &JobConfig) -> f64 {
    ConfigSpace::resources(c).1
}
fn same(a: &JobConfig, b: &JobConfig) -> bool {
    a.scale_out == b.scale_out
        && a.task_slots == b.task_slots
        && a.cpu == b.cpu
        && a.memory_mb == b.memory_mb
        && a.checkpoint_interval == b.checkpoint_interval
}

impl DemeterPolicy {
    pub fn new(params: DemeterParams, seed: u64) -> Self {
        let options = params.space.options();
        DemeterPolicy {
            forecaster: Forecaster::new(ForecastParams::default()),
            rng: SimRng::seed_from_u64(seed),
            options,
            profiles: Vec::new(),
            window: Vec::new(),
            last_change: SimTime::ZERO,
            last_running_since: SimTime::ZERO,
            last_eval: None,
            pending_round: None,
            in_flight: 0,
            next_round_at: SimTime::ZERO + params.warmup,
            params,
            log: Vec::new(),
            classifier: None,
            surrogate_cache: None,
        }
    }

    fn encode(&self, c: &JobConfig) -> [f64; 5] {
        self.params.space.encode(c)
    }

    fn matrix(&self, configs: &[&JobConfig]) -> Array2<f64> {
        let mut m = Array2::zeros((configs.len(), 5));
        for (i, c) in configs.iter().enumerate() {
            for (j, v) in self.encode(c).iter().enumerate() {
                m[[i, j]] = *v;
            }
        }
        m
    }

    /// Chunk index of a throughput (edges from `base` in `chunk_rps` steps).
    fn chunk(&self, base: f64, rate: f64) -> i64 {
        ((rate - base) / self.params.chunk_rps).floor() as i64
    }

    /// Normalised latency of every profile and of the current window (§4.2).
    /// The classifier is fitted on the profiles only and refitted when a profile arrives (the
    /// prototype also adds the current window; with ~60 profiles that row barely moves the
    /// fit, and refitting 3N trees every minute would dominate the run time).
    fn latency_classes(
        &mut self,
        current: Option<(&JobConfig, f64, f64)>,
    ) -> (Vec<f64>, Option<f64>) {
        if self.profiles.is_empty() {
            return (Vec::new(), None);
        }
        if self
            .classifier
            .as_ref()
            .is_none_or(|(n, _, _)| *n != self.profiles.len())
        {
            let rows: Vec<(f64, f64, f64)> = self
                .profiles
                .iter()
                .map(|p| (p.config.scale_out as f64, p.throughput_rps, p.latency_ms))
                .collect();
            let mut clf = LatencyClassifier::new();
            clf.fit(&rows);
            let ln: Vec<f64> = self
                .profiles
                .iter()
                .map(|p| clf.normalised(p.config.scale_out as f64, p.throughput_rps))
                .collect();
            self.classifier = Some((self.profiles.len(), clf, ln));
        }
        let (_, clf, ln) = self.classifier.as_ref().expect("just fitted");
        let cur = current.map(|(c, thr, _)| clf.normalised(c.scale_out as f64, thr));
        (ln.clone(), cur)
    }

    /// Profiles assigned to the chunk of `rate` (§4.4): in the chunk, or good latency at a
    /// higher rate, or bad latency at a lower rate; one per configuration, closest first.
    fn chunk_members(&self, base: f64, chunk: i64, classes: &[f64]) -> Vec<usize> {
        let lo = base + chunk as f64 * self.params.chunk_rps;
        let hi = lo + self.params.chunk_rps;
        let mut members: Vec<(f64, usize)> = Vec::new();
        for (i, p) in self.profiles.iter().enumerate() {
            let bad = classes.get(i).is_some_and(|l| *l >= 0.5);
            let inside = p.throughput_rps >= lo && p.throughput_rps < hi;
            let dist = if inside {
                0.0
            } else if p.throughput_rps >= hi && !bad {
                p.throughput_rps - hi
            } else if p.throughput_rps < lo && bad {
                lo - p.throughput_rps
            } else {
                continue;
            };
            members.push((dist, i));
        }
        members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut out: Vec<usize> = Vec::new();
        for (_, i) in members {
            if !out
                .iter()
                .any(|&j| same(&self.profiles[j].config, &self.profiles[i].config))
            {
                out.push(i);
            }
        }
        out
    }

    /// Constraint surrogates (latency ln(1 + l_n), recovery ln(rec)) for the target chunk, with
    /// RGPE over up to two support chunks above it; `None` while in the Sobol phase.
    fn surrogates(&mut self, rate: f64, classes: &[f64]) -> Option<Surrogates> {
        if self.profiles.is_empty() {
            return None;
        }
        let base = self
            .profiles
            .iter()
            .map(|p| p.throughput_rps)
            .fold(rate, f64::min);
        let target = self.chunk(base, rate);
        // The models change only when a profile arrives or the target chunk moves.
        let key = (self.profiles.len(), target, base.to_bits());
        if let Some((k, cached)) = &self.surrogate_cache {
            if *k == key {
                return cached.clone();
            }
        }
        let built = self.build_surrogates(base, target, classes);
        self.surrogate_cache = Some((key, built.clone()));
        built
    }

    fn build_surrogates(&mut self, base: f64, target: i64, classes: &[f64]) -> Option<Surrogates> {
        let fit = |members: &[usize], this: &mut Self| -> Option<Fitted> {
            let configs: Vec<&JobConfig> =
                members.iter().map(|&i| &this.profiles[i].config).collect();
            let x = this.matrix(&configs);
            let yl = Array1::from_iter(members.iter().map(|&i| (1.0 + classes[i]).ln()));
            let yr = Array1::from_iter(
                members
                    .iter()
                    .map(|&i| this.profiles[i].recovery_s.max(1.0).ln()),
            );
            // Fixed observation noise, SEM 0.1 (§4.4).
            let noise = Array1::from_elem(members.len(), 0.01);
            let gl = GaussianProcess::fit(&x, &yl, &noise, &mut this.rng).ok()?;
            let gr = GaussianProcess::fit(&x, &yr, &noise, &mut this.rng).ok()?;
            Some((gl, gr, x, yl, yr))
        };
        let mut supports_l = Vec::new();
        let mut supports_r = Vec::new();
        for k in 1..=2 {
            let m = self.chunk_members(base, target + k, classes);
            if m.len() >= 3 {
                if let Some((gl, gr, ..)) = fit(&m, self) {
                    supports_l.push(gl);
                    supports_r.push(gr);
                }
            }
        }
        let members = self.chunk_members(base, target, classes);
        let needed = if supports_l.is_empty() { 3 } else { 1 };
        if members.len() < needed {
            return None;
        }
        let (gl, gr, x, yl, yr) = fit(&members, self)?;
        let n = members.len();
        if supports_l.is_empty() {
            return Some((Arc::new(gl), Arc::new(gr), n));
        }
        let samples = self.params.samples;
        let rl = Rgpe::new(&gl, &x, &yl, supports_l, samples, &mut self.rng);
        let rr = Rgpe::new(&gr, &x, &yr, supports_r, samples, &mut self.rng);
        match (rl, rr) {
            (Ok(rl), Ok(rr)) => Some((Arc::new(rl), Arc::new(rr), n)),
            // RGPE refused (degenerate weights): the target GPs alone.
            _ => Some((Arc::new(gl), Arc::new(gr), n)),
        }
    }

    /// Pessimistic feasibility of each option: (latency l_n, recovery s) inflated.
    fn feasible(
        &self,
        lat: &dyn Surrogate,
        rec: &dyn Surrogate,
        options: &[&JobConfig],
    ) -> Vec<bool> {
        if options.is_empty() {
            return Vec::new();
        }
        let x = self.matrix(options);
        let (ml, vl) = lat.predict(&x);
        let (mr, vr) = rec.predict(&x);
        let k = self.params.constraint_scaler;
        (0..options.len())
            .map(|i| {
                let l_n = ((ml[i] + vl[i].max(0.0).sqrt()).exp() - 1.0) * k;
                let r = (mr[i] + vr[i].max(0.0).sqrt()).exp() * k;
                l_n <= 0.5 && r <= self.params.recovery_limit_s
            })
            .collect()
    }

    /// Ranking score: sum of log objectives over their reference points (lower is better).
    fn score(c: &JobConfig) -> f64 {
        // Reference points ln(72) cores and ln(98 304) MB (§4.4).
        cores(c).ln() / 72f64.ln() + memory_mb(c).ln() / 98_304f64.ln()
    }

    /// The rescale decision (§4.4 `get_optimized_configs`).
    fn choose(&mut self, current: &JobConfig, thr: f64, lat: f64) -> (JobConfig, &'static str) {
        let default = self.params.space.default.clone();
        let (classes, cur_class) = self.latency_classes(Some((current, thr, lat)));
        if cur_class.is_some_and(|l| l >= 0.5) {
            return (default, "latency bad: default configuration");
        }
        let rate = self.forecaster.target_rate().max(thr);
        let Some((sl, sr, _)) = self.surrogates(rate, &classes) else {
            return (current.clone(), "model not ready (Sobol phase)");
        };
        let (cpu_c, mem_c) = ConfigSpace::resources(current);
        let options: Vec<&JobConfig> = self
            .options
            .iter()
            .filter(|c| cores(c) <= 50.0 - cpu_c && memory_mb(c) <= 430_000.0 - mem_c)
            .collect();
        let ok = self.feasible(sl.as_ref(), sr.as_ref(), &options);
        let mut survivors: Vec<&JobConfig> = options
            .iter()
            .zip(&ok)
            .filter(|(_, f)| **f)
            .map(|(c, _)| *c)
            .collect();
        // Drop the cheapest (risky) survivors: an objective below max(1.25 x min, 25th pct).
        if survivors.len() > 4 {
            let cut = |vals: Vec<f64>| {
                let mut v = vals;
                v.sort_by(f64::total_cmp);
                (1.25 * v[0]).max(v[v.len() / 4])
            };
            let cpu_cut = cut(survivors.iter().map(|c| cores(c)).collect());
            let mem_cut = cut(survivors.iter().map(|c| memory_mb(c)).collect());
            survivors.retain(|c| cores(c) >= cpu_cut && memory_mb(c) >= mem_cut);
        }
        let best = survivors
            .iter()
            .min_by(|a, b| Self::score(a).total_cmp(&Self::score(b)))
            .map(|c| (*c).clone());
        let current_ok =
            same(current, &default) || self.feasible(sl.as_ref(), sr.as_ref(), &[current])[0];
        match (current_ok, best) {
            (true, None) => (current.clone(), "no better candidate"),
            (true, Some(b)) => {
                if Self::score(&b) < Self::score(current) * (1.0 - self.params.min_improvement) {
                    (b, "cheaper candidate handles the forecast")
                } else {
                    (current.clone(), "current is within 5 % of the best")
                }
            }
            (false, Some(b)) => (b, "current cannot handle the forecast"),
            (false, None) => (default, "nothing handles the forecast: default"),
        }
    }

    /// Profiling suggestions (§4.4 `get_suggestions`): Sobol points first, then NEHVI.
    fn suggest(&mut self, current: &JobConfig, thr: f64, lat: f64) -> Vec<JobConfig> {
        let (classes, cur_class) = self.latency_classes(Some((current, thr, lat)));
        let rate = self.forecaster.target_rate().max(thr);
        let base = self
            .profiles
            .iter()
            .map(|p| p.throughput_rps)
            .fold(rate, f64::min);
        let chunk = self.chunk(base, rate);
        let in_chunk = self.chunk_members(base, chunk, &classes);
        let (mut cpu_budget, mut mem_budget) = profiling_budget(current, in_chunk.len());
        let can_handle = cur_class.is_some_and(|l| l < 0.5);
        let floor = if can_handle { 0.25 } else { 0.75 };
        let (cpu_c, mem_c) = ConfigSpace::resources(current);
        let profiled = |c: &JobConfig| in_chunk.iter().any(|&i| same(&self.profiles[i].config, c));
        let owned: Vec<JobConfig> = self
            .options
            .iter()
            .filter(|c| {
                cores(c) <= cpu_budget
                    && memory_mb(c) <= mem_budget
                    && cores(c) >= floor * cpu_c
                    && memory_mb(c) >= floor * mem_c
                    && !profiled(c)
            })
            .cloned()
            .collect();
        let candidates: Vec<&JobConfig> = owned.iter().collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        let model = self.surrogates(rate, &classes);
        let order: Vec<usize> = match model {
            None => {
                // Sobol phase: the nearest candidate to each Sobol point, in sequence order.
                let pts = bo::sobol(5, 64, 1 + self.profiles.len()).unwrap_or_default();
                let x = self.matrix(&candidates);
                let mut order = Vec::new();
                for p in pts {
                    let nearest = (0..candidates.len())
                        .min_by(|&a, &b| {
                            let da: f64 = (0..5).map(|j| (x[[a, j]] - p[j]).powi(2)).sum();
                            let db: f64 = (0..5).map(|j| (x[[b, j]] - p[j]).powi(2)).sum();
                            da.total_cmp(&db).then(a.cmp(&b))
                        })
                        .expect("candidates is not empty");
                    if !order.contains(&nearest) {
                        order.push(nearest);
                    }
                }
                order
            }
            Some((sl, sr, _)) => {
                let x = self.matrix(&candidates);
                let objectives = [
                    Exact {
                        space: self.params.space.clone(),
                        memory: false,
                    },
                    Exact {
                        space: self.params.space.clone(),
                        memory: true,
                    },
                ];
                let observed: Vec<&JobConfig> =
                    in_chunk.iter().map(|&i| &self.profiles[i].config).collect();
                let ox = self.matrix(&observed);
                let reference = [72f64.ln() * 1.1, 98_304f64.ln() * 1.1];
                let scores = bo::nehvi(
                    &x,
                    &[&objectives[0] as &dyn Surrogate, &objectives[1]],
                    &[
                        (sl.as_ref(), 0.5f64.ln_1p()),
                        (sr.as_ref(), self.params.recovery_limit_s.ln()),
                    ],
                    &ox,
                    &reference,
                    self.params.samples,
                    &mut self.rng,
                )
                .unwrap_or_else(|_| vec![0.0; candidates.len()]);
                let mut idx: Vec<usize> = (0..candidates.len()).collect();
                idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                idx.into_iter().filter(|&i| scores[i] > 0.0).collect()
            }
        };
        let mut out = Vec::new();
        for i in order {
            let c = candidates[i];
            if cores(c) <= cpu_budget && memory_mb(c) <= mem_budget {
                cpu_budget -= cores(c);
                mem_budget -= memory_mb(c);
                out.push(c.clone());
                if out.len() >= self.params.max_profiles_per_round {
                    break;
                }
            }
        }
        out
    }
}

/// An exactly known objective (log total cores or log total memory) as a zero-variance
/// surrogate over the encoded space, so NEHVI can treat objectives and constraints alike.
struct Exact {
    space: ConfigSpace,
    memory: bool,
}

impl Exact {
    fn value(&self, row: &[f64]) -> f64 {
        let span = |xs: &[f64], u: f64| {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            lo + u * (hi - lo)
        };
        let cpus = self.space.cpus.clone();
        let mems: Vec<f64> = self.space.memories_mb.iter().map(|&m| m as f64).collect();
        let sos: Vec<f64> = self.space.scale_outs.iter().map(|&m| m as f64).collect();
        let sls: Vec<f64> = self.space.task_slots.iter().map(|&m| m as f64).collect();
        let so = span(&sos, row[3]).round();
        let slots = span(&sls, row[4]).round().max(1.0);
        let tms = (so / slots).ceil();
        if self.memory {
            (tms * span(&mems, row[2])).ln()
        } else {
            (tms * span(&cpus, row[1])).ln()
        }
    }
}

impl Surrogate for Exact {
    fn predict(&self, x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
        let mean = Array1::from_iter(x.rows().into_iter().map(|r| self.value(&r.to_vec())));
        (mean, Array1::zeros(x.nrows()))
    }
    fn covariance(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        Array2::zeros((a.nrows(), b.nrows()))
    }
}

impl Policy for DemeterPolicy {
    fn name(&self) -> &str {
        "demeter"
    }
    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(10)
    }
    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        self.forecaster.update(&obs.workload_rps_since_last);
        for p in &obs.profiles {
            self.in_flight = self.in_flight.saturating_sub(1);
            self.profiles.push(measured(p));
        }
        let now = obs.time;
        if obs.job_state != JobState::Running {
            self.last_change = now;
            self.window.clear();
            return Vec::new();
        }
        if obs.running_since > self.last_running_since {
            self.last_running_since = obs.running_since;
            self.last_change = self.last_change.max(obs.running_since);
            self.window.clear();
        }
        if let (Some(thr), Some(lat)) = (obs.throughput_rps, obs.latency_ms) {
            self.window.push((now, thr, lat));
        }
        let from = SimTime::from_ms(now.as_ms().saturating_sub(self.params.avg_window.as_ms()));
        self.window.retain(|w| w.0 > from);
        if self.window.is_empty() {
            return Vec::new();
        }
        let n = self.window.len() as f64;
        let thr = self.window.iter().map(|w| w.1).sum::<f64>() / n;
        let lat = self.window.iter().map(|w| w.2).sum::<f64>() / n;
        let mut actions = Vec::new();

        // PROFILE loop: ask the analytics service, launch its suggestions when it answers.
        if let Some((ready, configs)) = self.pending_round.take() {
            if now >= ready {
                if !configs.is_empty() {
                    self.in_flight += configs.len();
                    actions.push(Action::Profile(configs));
                }
            } else {
                self.pending_round = Some((ready, configs));
            }
        } else if self.in_flight == 0 && now >= self.next_round_at {
            let configs = self.suggest(&obs.config, thr, lat);
            self.pending_round = Some((now + self.params.analytics_time, configs));
            self.next_round_at = now + self.params.analytics_time;
        }

        // OPTIMIZE loop: evaluate once the dwell time has passed, then every poll period.
        let due = now >= SimTime::ZERO + self.params.warmup
            && now.saturating_since(self.last_change) >= self.params.eval_interval
            && self
                .last_eval
                .is_none_or(|t| now.saturating_since(t) >= self.params.poll);
        if due {
            self.last_eval = Some(now);
            let (choice, why) = self.choose(&obs.config, thr, lat);
            if !same(&choice, &obs.config) {
                self.log.push((now, choice.clone(), why));
                self.last_change = now;
                actions.push(Action::Redeploy(choice));
            }
        }
        actions
    }
}

fn measured(p: &ProfileResult) -> Measured {
    Measured {
        config: p.config.clone(),
        throughput_rps: p.throughput_rps,
        latency_ms: p.latency_ms,
        recovery_s: p.recovery_s,
    }
}
