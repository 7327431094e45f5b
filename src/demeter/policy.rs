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
use rand::{Rng, SeedableRng};

use super::bo::{self, GaussianProcess, Rgpe, Surrogate};
use super::decision::{
    chunk_members, filter_by_num_init, greater_than, known_outcomes, rescale_rule, Candidate,
    Choice, ChunkProfile, Chunking, Prediction, RuleParams, Why,
};
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
    /// The decision rules' thresholds (`recTimeConst` 180 s, constraint scaler 1.25,
    /// objective scaler 1.25, minimum improvement 5 %, the prototype's switch-when-worse).
    pub rules: RuleParams,
    /// Throughput chunk width, records/s (10 000).
    pub chunk_rps: f64,
    /// How long the analytics service takes to suggest profiling configurations (the
    /// recorded median is 590 s: its suggestion loop runs until its 600-s timeout).
    pub analytics_time: SimDuration,
    /// At most this many profiling jobs per NEHVI round. How many the analytics service
    /// returns before its suggestion loop times out is drawn: one, and each further one with
    /// probability `another_suggestion_p` (recorded rounds after the first with < 4 jobs: 91 of
    /// 1, 26 of 2, 2 of 3 over the 3 YSB runs -> 0.235; mean 1.25, the draw's 1.29 at a cap of 3).
    pub max_profiles_per_round: usize,
    pub another_suggestion_p: f64,
    /// At most this many in a Sobol round (no constraint model yet for the target chunk:
    /// the recorded first rounds profiled 6, 4 and 6 configurations, later ones up to 4).
    pub max_profiles_per_sobol_round: usize,
    /// Posterior samples for NEHVI and RGPE.
    pub samples: usize,
    /// Forecaster pre-training (`prepare_model.py`, §4.1): the dataset without its last
    /// `pretrain_trim_s` seconds, tiled to `pretrain_s` seconds, x (1 + N(0, `pretrain_noise`)).
    /// YSB/ADS: 1 600 s trimmed, 126 400 s, 1 %; TSW/CARS: 0, 129 600 s. 0 s: learn online only.
    pub pretrain_s: usize,
    pub pretrain_trim_s: usize,
    pub pretrain_noise: f64,
}

impl Default for DemeterParams {
    fn default() -> Self {
        DemeterParams {
            space: ConfigSpace::recorded_ysb(),
            warmup: SimDuration::from_secs(600),
            eval_interval: SimDuration::from_secs(600),
            poll: SimDuration::from_secs(60),
            avg_window: SimDuration::from_secs(60),
            rules: RuleParams::default(),
            chunk_rps: 10_000.0,
            analytics_time: SimDuration::from_secs(590),
            max_profiles_per_round: 3,
            another_suggestion_p: 0.235,
            max_profiles_per_sobol_round: 6,
            samples: 256,
            pretrain_s: 126_400,
            pretrain_trim_s: 1_600,
            pretrain_noise: 0.01,
        }
    }
}

/// Parameter keys accepted in `[policy.params]`.
pub const DEMETER_PARAMS: &[&str] = &[
    "min_scale_out",
    "analytics_time_s",
    "max_profiles_per_round",
    "another_suggestion_p",
    "max_profiles_per_sobol_round",
    "samples",
    "eval_interval_s",
    "warmup_s",
    "pretrain_s",
    "pretrain_trim_s",
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
        if let Some(x) = num("another_suggestion_p", 0.0, 1.0)? {
            p.another_suggestion_p = x;
        }
        if let Some(n) = num("max_profiles_per_sobol_round", 1.0, 20.0)? {
            p.max_profiles_per_sobol_round = n as usize;
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
        if let Some(s) = num("pretrain_s", 0.0, 1_000_000.0)? {
            p.pretrain_s = s as usize;
        }
        if let Some(s) = num("pretrain_trim_s", 0.0, 86_400.0)? {
            p.pretrain_trim_s = s as usize;
        }
        Ok(p)
    }
}

/// Constraint surrogates (latency, recovery).
type Surrogates = (
    Arc<dyn Surrogate + Send + Sync>,
    Arc<dyn Surrogate + Send + Sync>,
);

/// Surrogates keyed by (profiles seen, target model's profiles, support models' profiles),
/// and their predictions at every option once asked for.
#[derive(Clone)]
struct SurrogateCache {
    key: (usize, Vec<usize>, Vec<Vec<usize>>),
    model: Option<Surrogates>,
    at_options: Option<OptionPredictions>,
}

/// The constraint models' (mean, variance) at every option, latency then recovery: the
/// models change only with their profiles, so the per-minute evaluations pick from these.
/// One batch over all options gives each option the numbers a batch of any subset would:
/// the GP and RGPE predictions are computed point by point (kernel row, its own triangular
/// solve, dot products), whatever else is in the batch. One-point batches are still
/// predicted on their own, as before (no reliance on that for them).
type OptionPredictions = [(Array1<f64>, Array1<f64>); 2];

/// The cluster the prototype hands the optimiser (`cpuConst` = 50 cores, `memConst` =
/// 430 000 MB, `demeter.properties`, research/demeter.md §1): candidates must fit next to the
/// running configuration.
const CLUSTER_CORES: f64 = 50.0;
const CLUSTER_MEMORY_MB: f64 = 430_000.0;

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
#[derive(Clone)]
pub struct DemeterPolicy {
    params: DemeterParams,
    seed: u64,
    options: Vec<JobConfig>,
    forecaster: Forecaster,
    /// Offered-load seconds observed but not yet given to the forecaster.
    unseen_workload: Vec<f64>,
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
    /// Why the last redeploy `decide` returned was chosen (`Policy::explain`).
    last_why: Option<&'static str>,
    /// When rescale evaluations ran.
    pub evaluations: Vec<SimTime>,
    classifier: Option<(usize, LatencyClassifier, Vec<f64>)>,
    surrogate_cache: Option<SurrogateCache>,
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
            seed,
            forecaster: Forecaster::new(ForecastParams::default()),
            unseen_workload: Vec::new(),
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
            last_why: None,
            evaluations: Vec::new(),
            classifier: None,
            surrogate_cache: None,
        }
    }

    /// Record a finished profiling run (as `decide` does with the observation's profiles).
    pub fn add_profile(&mut self, p: &ProfileResult) {
        self.profiles.push(measured(p));
    }

    /// Feed offered-load seconds to the forecaster (as `decide` does every step).
    pub fn observe_workload(&mut self, rps: &[f64]) {
        self.unseen_workload.extend_from_slice(rps);
        self.sync_forecaster();
    }

    /// Give the forecaster the workload seconds it has not seen yet.
    fn sync_forecaster(&mut self) {
        if !self.unseen_workload.is_empty() {
            let batch = std::mem::take(&mut self.unseen_workload);
            self.forecaster.update(&batch);
        }
    }

    /// Forget fitted models, so the next evaluation fits them again (benchmarks).
    pub fn clear_model_cache(&mut self) {
        self.surrogate_cache = None;
        self.classifier = None;
    }

    /// Pre-train the forecaster on the dataset as the prototype does (`pretrain_*` params).
    pub fn pretrain_forecaster(&mut self, dataset_rps: &[f64]) {
        let series = pretraining_series(
            dataset_rps,
            self.params.pretrain_trim_s,
            self.params.pretrain_s,
            self.params.pretrain_noise,
            crate::rng::derive_seed(self.seed, "pretrain-noise"),
        );
        if !series.is_empty() {
            self.forecaster.pretrain(&series);
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

    /// Normalised latency `l_n` of every profile, and of the current window (§4.2).
    /// The prototype fits the regressor on the profiles and the current window together on
    /// every request. Here the profiles' `l_n` come from a fit on the profiles alone, refitted
    /// when a profile arrives (adding one row to 3N near-interpolating trees moves the other
    /// rows' predictions very little, and keeping them fixed lets the constraint GPs be
    /// reused between profiles); the current window's `l_n` comes from a fit on the profiles
    /// plus the current row, as in the prototype, so its measured latency counts. Without
    /// profiles the current latency is normal (`l_n` = 0), as the prototype's first requests.
    fn latency_classes(&mut self, current: &JobConfig, thr: f64, lat: f64) -> (Vec<f64>, f64) {
        if self.profiles.is_empty() {
            return (Vec::new(), 0.0);
        }
        let mut rows: Vec<(f64, f64, f64)> = self
            .profiles
            .iter()
            .map(|p| (p.config.scale_out as f64, p.throughput_rps, p.latency_ms))
            .collect();
        if self
            .classifier
            .as_ref()
            .is_none_or(|(n, _, _)| *n != self.profiles.len())
        {
            let mut clf = LatencyClassifier::new();
            clf.fit(&rows);
            let ln: Vec<f64> = self
                .profiles
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    clf.fitted_normalised(i).unwrap_or_else(|| {
                        clf.normalised(p.config.scale_out as f64, p.throughput_rps)
                    })
                })
                .collect();
            self.classifier = Some((self.profiles.len(), clf, ln));
        }
        rows.push((current.scale_out as f64, thr, lat));
        let mut with_current = LatencyClassifier::new();
        with_current.fit(&rows);
        let cur = with_current
            .fitted_normalised(rows.len() - 1)
            .unwrap_or_else(|| with_current.normalised(current.scale_out as f64, thr));
        let (_, _, ln) = self.classifier.as_ref().expect("just fitted");
        (ln.clone(), cur)
    }

    /// Chunks, the target chunk and the constraint models for a predicted rate (§4.4
    /// `_prepare_data`, `_get_target_model`): chunk edges from the lowest of all profiled,
    /// current and predicted rates; the target chunk is the first whose lower edge reaches
    /// `R*`; up to two support models from the chunks above it with at least 3 profiles; the
    /// target model needs 3 profiles (1 with support models) and is an RGPE ensemble when
    /// there are supports.
    fn prepare(&mut self, rate: f64, current_thr: f64, classes: &[f64]) -> Prepared {
        let profiles: Vec<ChunkProfile> = self
            .profiles
            .iter()
            .zip(classes)
            .map(|(p, l)| ChunkProfile {
                config_key: config_key(&p.config),
                throughput_rps: p.throughput_rps,
                bad: *l >= 0.5,
            })
            .collect();
        let rates = self
            .profiles
            .iter()
            .map(|p| p.throughput_rps)
            .chain([current_thr, rate]);
        let min = rates.clone().fold(f64::INFINITY, f64::min);
        let max = rates.fold(f64::NEG_INFINITY, f64::max);
        let chunking = Chunking::new(min, max, self.params.chunk_rps);
        let target = chunking.target(rate);
        let mut supports: Vec<Vec<usize>> = Vec::new();
        for k in target + 1..=chunking.last {
            if supports.len() == 2 {
                break;
            }
            let (lo, hi) = chunking.bounds(k);
            let m = chunk_members(&profiles, lo, hi);
            if m.len() >= 3 {
                supports.push(filter_by_num_init(&profiles, &m, 3));
            }
        }
        let (lo, hi) = chunking.bounds(target);
        let members = chunk_members(&profiles, lo, hi);
        let target_members = filter_by_num_init(&profiles, &members, 3);
        let needed = if supports.is_empty() { 3 } else { 1 };
        let model = if target_members.len() < needed {
            None
        } else {
            // The models change only when their profiles do.
            let key = (
                self.profiles.len(),
                target_members.clone(),
                supports.clone(),
            );
            match &self.surrogate_cache {
                Some(cache) if cache.key == key => cache.model.clone(),
                _ => {
                    let built = self.build_surrogates(&target_members, &supports, classes);
                    self.surrogate_cache = Some(SurrogateCache {
                        key,
                        model: built.clone(),
                        at_options: None,
                    });
                    built
                }
            }
        };
        Prepared {
            known: known_outcomes(&profiles, lo, hi),
            target_configs: target_members
                .iter()
                .map(|&i| self.profiles[i].config.clone())
                .collect(),
            model,
        }
    }

    fn build_surrogates(
        &mut self,
        target: &[usize],
        supports: &[Vec<usize>],
        classes: &[f64],
    ) -> Option<Surrogates> {
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
        for m in supports {
            if let Some((gl, gr, ..)) = fit(m, self) {
                supports_l.push(gl);
                supports_r.push(gr);
            }
        }
        let (gl, gr, x, yl, yr) = fit(target, self)?;
        if supports_l.is_empty() {
            return Some((Arc::new(gl), Arc::new(gr)));
        }
        let samples = self.params.samples;
        let rl = Rgpe::new(&gl, &x, &yl, supports_l, samples, &mut self.rng);
        let rr = Rgpe::new(&gr, &x, &yr, supports_r, samples, &mut self.rng);
        match (rl, rr) {
            (Ok(rl), Ok(rr)) => Some((Arc::new(rl), Arc::new(rr))),
            // RGPE refused (degenerate weights): the target GPs alone.
            _ => Some((Arc::new(gl), Arc::new(gr))),
        }
    }

    /// Pessimistic feasibility of each option under the constraint models.
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
        let [(ml, vl), (mr, vr)] = [lat.predict(&x), rec.predict(&x)];
        (0..options.len())
            .map(|i| self.pessimistic_ok(&[(ml[i], vl[i]), (mr[i], vr[i])]))
            .collect()
    }

    /// The rules' pessimistic check of one (mean, variance) pair per constraint model.
    fn pessimistic_ok(&self, [(ml, vl), (mr, vr)]: &[(f64, f64); 2]) -> bool {
        self.params.rules.pessimistic_ok(
            Prediction {
                mean: *ml,
                sd: vl.max(0.0).sqrt(),
            },
            Prediction {
                mean: *mr,
                sd: vr.max(0.0).sqrt(),
            },
        )
    }

    /// [`feasible`](Self::feasible) for the options at `indices` (into `self.options`) under
    /// the cached model, from its predictions at every option (computed on first use).
    /// `None` without a cached model.
    fn feasible_options(&mut self, indices: &[usize]) -> Option<Vec<bool>> {
        let cache = self.surrogate_cache.as_ref()?;
        if cache.at_options.is_none() {
            let (lat, rec) = cache.model.clone()?;
            let all: Vec<&JobConfig> = self.options.iter().collect();
            let x = self.matrix(&all);
            let at = [lat.predict(&x), rec.predict(&x)];
            self.surrogate_cache.as_mut()?.at_options = Some(at);
        }
        let [(ml, vl), (mr, vr)] = self.surrogate_cache.as_ref()?.at_options.as_ref()?;
        Some(
            indices
                .iter()
                .map(|&i| self.pessimistic_ok(&[(ml[i], vl[i]), (mr[i], vr[i])]))
                .collect(),
        )
    }

    /// One rescale evaluation (§4.4 `get_optimized_configs`): forecast, latency class,
    /// constraint models, then the rules of [`rescale_rule`]. Public for benchmarks.
    pub fn evaluate(&mut self, current: &JobConfig, thr: f64, lat: f64) -> Evaluation {
        let default = self.params.space.default.clone();
        let (classes, cur_l) = self.latency_classes(current, thr, lat);
        self.sync_forecaster();
        let rate = self.forecaster.target_rate();
        let prepared = self.prepare(rate, thr, &classes);
        let cur_bad = cur_l >= 0.5;
        let (cpu_c, mem_c) = ConfigSpace::resources(current);
        let is_default = same(current, &default);
        // Indices into `self.options` of the options that fit next to the current one.
        let options: Vec<usize> = (0..self.options.len())
            .filter(|&i| {
                let c = &self.options[i];
                cores(c) <= CLUSTER_CORES - cpu_c
                    && memory_mb(c) <= CLUSTER_MEMORY_MB - mem_c
                    && !same(c, current)
            })
            .collect();
        let mut cands: Vec<Candidate> = options
            .iter()
            .map(|&i| Candidate {
                cores: cores(&self.options[i]),
                memory_mb: memory_mb(&self.options[i]),
                feasible: false,
            })
            .collect();
        let mut cur = Candidate {
            cores: cpu_c,
            memory_mb: mem_c,
            feasible: false,
        };
        if let (false, Some((sl, sr))) = (cur_bad, &prepared.model) {
            let ok = match options.len() {
                2.. => self.feasible_options(&options),
                _ => None,
            }
            .unwrap_or_else(|| {
                let configs: Vec<&JobConfig> = options.iter().map(|&i| &self.options[i]).collect();
                self.feasible(sl.as_ref(), sr.as_ref(), &configs)
            });
            for (c, ok) in cands.iter_mut().zip(ok) {
                c.feasible = ok;
            }
            cur.feasible = self.feasible(sl.as_ref(), sr.as_ref(), &[current])[0];
        }
        let (choice, why, can_handle) = rescale_rule(
            &self.params.rules,
            cur_bad,
            prepared.model.is_some(),
            &cur,
            is_default,
            &cands,
        );
        let config = match choice {
            Choice::Current => current.clone(),
            Choice::Default => default,
            Choice::Candidate(i) => self.options[options[i]].clone(),
        };
        // Which profiling options the suggestion step may consider (`compare(GT)` against
        // the chosen configuration scaled by 0.25 when the current one can handle the load,
        // 0.75 when not or when latency is bad; no filter without a model).
        let ref_factor = match why {
            Why::ModelNotReady => None,
            _ if can_handle => Some(0.25),
            _ => Some(0.75),
        };
        Evaluation {
            config,
            why,
            ref_factor,
            r_star_rps: rate,
            current_l_n: cur_l,
            prepared,
        }
    }

    /// Profiling suggestions (§4.4 `get_suggestions`): options that fit the profiling budget
    /// next to the configuration the rescale rule chose ((50 cores, 430 000 MB) minus it,
    /// x 0.95^n with n the target model's profiles), are "greater" than it scaled by the rule's
    /// factor, are not profiled for the target chunk, and whose outcome is not known from
    /// other rates; ordered by Sobol points first, then by NEHVI; accepted while the round's
    /// cumulative resources fit the budget.
    pub fn suggest(&mut self, current: &JobConfig, thr: f64, lat: f64) -> Vec<JobConfig> {
        let eval = self.evaluate(current, thr, lat);
        let next = eval.config.clone();
        let profiled = &eval.prepared.target_configs;
        let (cpu_budget, mem_budget) = profiling_budget(&next, profiled.len());
        let next_res = ConfigSpace::resources(&next);
        let known = &eval.prepared.known;
        let owned: Vec<JobConfig> = self
            .options
            .iter()
            .filter(|c| {
                cores(c) <= cpu_budget
                    && memory_mb(c) <= mem_budget
                    && !same(c, &next)
                    && eval.ref_factor.is_none_or(|f| {
                        greater_than(
                            ConfigSpace::resources(c),
                            next_res,
                            f,
                            (cpu_budget, mem_budget),
                        )
                    })
                    && !profiled.iter().any(|p| same(p, c))
                    && !known.contains(&config_key(c))
            })
            .cloned()
            .collect();
        let candidates: Vec<&JobConfig> = owned.iter().collect();
        if candidates.is_empty() {
            return Vec::new();
        }
        // How many the analytics service returns this round: a Sobol round its design, a NEHVI
        // round one suggestion and more with `another_suggestion_p` each (its loop times out).
        let round_cap = round_cap(eval.prepared.model.is_none(), &self.params, &mut self.rng);
        let order: Vec<usize> = match eval.prepared.model.clone() {
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
            Some((sl, sr)) => {
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
                let observed: Vec<&JobConfig> = profiled.iter().collect();
                let ox = self.matrix(&observed);
                let reference = [
                    self.params.rules.reference_cores,
                    self.params.rules.reference_memory,
                ];
                let scores = bo::nehvi(
                    &x,
                    &[&objectives[0] as &dyn Surrogate, &objectives[1]],
                    &[
                        (sl.as_ref(), self.params.rules.latency_limit.ln_1p()),
                        (sr.as_ref(), self.params.rules.recovery_limit_s.ln()),
                    ],
                    &ox,
                    &reference,
                    self.params.samples,
                    &mut self.rng,
                )
                .unwrap_or_else(|_| vec![0.0; candidates.len()]);
                // Highest acquisition value first. The prototype takes Ax's next trial whatever
                // its value, so candidates with no expected improvement are still profiled
                // (after all others) rather than none at all.
                let mut idx: Vec<usize> = (0..candidates.len()).collect();
                idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                idx
            }
        };
        let (mut cpu_left, mut mem_left) = (cpu_budget, mem_budget);
        let mut out = Vec::new();
        for i in order {
            let c = candidates[i];
            if cores(c) <= cpu_left && memory_mb(c) <= mem_left {
                cpu_left -= cores(c);
                mem_left -= memory_mb(c);
                out.push(c.clone());
                if out.len() >= round_cap {
                    break;
                }
            }
        }
        out
    }
}

/// How many configurations a profiling round takes at most: a Sobol round its design
/// (`max_profiles_per_sobol_round`), a NEHVI round one and each further one with
/// `another_suggestion_p`, up to `max_profiles_per_round`.
fn round_cap(sobol: bool, params: &DemeterParams, rng: &mut impl Rng) -> usize {
    if sobol {
        return params.max_profiles_per_sobol_round;
    }
    let mut n = 1;
    while n < params.max_profiles_per_round && rng.random::<f64>() < params.another_suggestion_p {
        n += 1;
    }
    n
}

/// What one rescale evaluation found.
pub struct Evaluation {
    /// The configuration to run (the current one when nothing changes).
    pub config: JobConfig,
    pub why: Why,
    /// The suggestion step's `compare(GT)` factor (`None`: no filter).
    ref_factor: Option<f64>,
    /// The predicted rate `R*` (peak 60-s bin of the 600-s forecast x 1.10).
    pub r_star_rps: f64,
    /// The current window's normalised latency.
    pub current_l_n: f64,
    prepared: Prepared,
}

/// The target chunk's models and profiles.
struct Prepared {
    /// Configurations whose outcome at the target rate is known from other rates.
    known: Vec<u64>,
    /// The profiles the target model is fitted on (its "completed trials").
    target_configs: Vec<JobConfig>,
    model: Option<Surrogates>,
}

/// A key equal for equal configurations (the prototype's `config_name`).
fn config_key(c: &JobConfig) -> u64 {
    (c.scale_out as u64)
        | (c.task_slots as u64) << 8
        | ((c.cpu * 100.0).round() as u64) << 16
        | (c.memory_mb as u64) << 32
        | (c.checkpoint_interval.as_ms() / 1000) << 48
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

/// The prototype's pre-training series (`prepare_model.py`): `dataset` without its last
/// `trim_s` seconds, repeated to `len_s` seconds, each value x (1 + N(0, `noise`)), absolute.
/// Empty when `len_s` is 0 or nothing is left after trimming.
pub fn pretraining_series(
    dataset_rps: &[f64],
    trim_s: usize,
    len_s: usize,
    noise: f64,
    seed: u64,
) -> Vec<f64> {
    use rand_distr::{Distribution, Normal};
    let kept = &dataset_rps[..dataset_rps.len().saturating_sub(trim_s)];
    if kept.is_empty() || len_s == 0 {
        return Vec::new();
    }
    let mut rng = SimRng::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise.max(0.0)).expect("a finite, non-negative sd");
    (0..len_s)
        .map(|i| {
            let v = kept[i % kept.len()];
            (v + v * normal.sample(&mut rng)).abs()
        })
        .collect()
}

impl Policy for DemeterPolicy {
    fn name(&self) -> &str {
        "demeter"
    }
    fn wants_workload_history(&self) -> bool {
        self.params.pretrain_s > 0
    }
    fn pretrain(&mut self, offered_rps: &[f64]) {
        self.pretrain_forecaster(offered_rps);
    }
    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(10)
    }
    fn explain(&self, action: &Action) -> Option<&'static str> {
        match action {
            Action::Redeploy(_) => self.last_why,
            Action::Profile(_) => Some("the analytics service's suggestions"),
            _ => None,
        }
    }
    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        // The analytics service updates its models with the workload since its last request;
        // the seconds are buffered until the next forecast (the same data, fewer refits).
        self.unseen_workload
            .extend_from_slice(&obs.workload_rps_since_last);
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
            self.evaluations.push(now);
            let eval = self.evaluate(&obs.config, thr, lat);
            let (choice, why) = (eval.config, eval.why.as_str());
            if !same(&choice, &obs.config) {
                self.log.push((now, choice.clone(), why));
                self.last_why = Some(why);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::observation;

    #[test]
    fn profiling_rounds_take_mostly_one_suggestion_and_sobol_rounds_their_design() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let p = DemeterParams::default();
        assert_eq!(round_cap(true, &p, &mut rng), 6);
        let n = 20_000;
        let caps: Vec<usize> = (0..n).map(|_| round_cap(false, &p, &mut rng)).collect();
        assert!(caps.iter().all(|&c| (1..=3).contains(&c)));
        let share = |k: usize| caps.iter().filter(|&&c| c == k).count() as f64 / n as f64;
        // P(1) = 1 - 0.235, P(2) = 0.235 x 0.765, P(3) = 0.235^2 (capped at 3).
        assert!((share(1) - 0.765).abs() < 0.01, "{}", share(1));
        assert!((share(2) - 0.180).abs() < 0.01, "{}", share(2));
        assert!((share(3) - 0.055).abs() < 0.01, "{}", share(3));
        let never = DemeterParams {
            another_suggestion_p: 0.0,
            ..DemeterParams::default()
        };
        assert_eq!(round_cap(false, &never, &mut rng), 1);
        let always = DemeterParams {
            another_suggestion_p: 1.0,
            ..DemeterParams::default()
        };
        assert_eq!(round_cap(false, &always, &mut rng), 3);
        let t: toml::Table =
            toml::from_str("another_suggestion_p = 0.5\nmax_profiles_per_sobol_round = 4").unwrap();
        let q = DemeterParams::from_table(&t).unwrap();
        assert_eq!(
            (q.another_suggestion_p, q.max_profiles_per_sobol_round),
            (0.5, 4)
        );
        let bad: toml::Table = toml::from_str("another_suggestion_p = 1.5").unwrap();
        let e = DemeterParams::from_table(&bad).err().unwrap().to_string();
        assert!(e.contains("another_suggestion_p"), "{e}");
    }

    fn cfg(scale_out: u32, slots: u32, cpu: f64, memory_mb: u32, chk_s: u64) -> JobConfig {
        JobConfig {
            scale_out,
            task_slots: slots,
            cpu,
            memory_mb,
            checkpoint_interval: SimDuration::from_secs(chk_s),
            parallelism_overrides: vec![],
        }
    }

    fn profile(c: JobConfig, thr: f64, lat: f64, rec: f64) -> ProfileResult {
        ProfileResult {
            config: c,
            started_at: SimTime::ZERO,
            finished_at: SimTime::ZERO,
            throughput_rps: thr,
            latency_ms: lat,
            consumer_lag: 0.0,
            recovery_s: rec,
            recovered: rec < 360.0,
        }
    }

    fn no_profiling() -> DemeterParams {
        DemeterParams {
            // Keep the analytics service busy: no profiling rounds in these tests.
            analytics_time: SimDuration::from_secs(1_000_000),
            pretrain_s: 0,
            ..DemeterParams::default()
        }
    }

    #[test]
    fn evaluations_start_600_s_after_a_start_or_restart_then_every_60_s() {
        let mut p = DemeterPolicy::new(no_profiling(), 1);
        let mut obs = observation(0);
        obs.config = p.params.space.default.clone();
        obs.throughput_rps = Some(30_000.0);
        let step = |p: &mut DemeterPolicy, obs: &mut Observation, t: u64| {
            obs.time = SimTime::from_secs(t);
            obs.workload_rps_since_last = vec![30_000.0; 10];
            p.decide(obs);
        };
        for t in (0..=800).step_by(10) {
            step(&mut p, &mut obs, t);
        }
        let secs: Vec<u64> = p.evaluations.iter().map(|t| t.as_ms() / 1000).collect();
        assert_eq!(secs, vec![600, 660, 720, 780]);
        // A failure: the job restarts at 810..840 and runs again from 850.
        for t in (810..=840).step_by(10) {
            obs.job_state = JobState::Restarting;
            step(&mut p, &mut obs, t);
        }
        obs.job_state = JobState::Running;
        obs.running_since = SimTime::from_secs(850);
        for t in (850..=1600).step_by(10) {
            step(&mut p, &mut obs, t);
        }
        let secs: Vec<u64> = p.evaluations.iter().map(|t| t.as_ms() / 1000).collect();
        // Dwell of 600 s after the restart (850 s), then once a minute.
        assert_eq!(secs[4..], [1450, 1510, 1570]);
        // Without profiles nothing is modelled: the configuration is kept.
        assert!(p.log.is_empty());
    }

    /// Profiles of a YSB-like job: 24 x 1 core handles 60 K rec/s; 8 x 1 core saturates at
    /// 20 K rec/s with ~40-s latency.
    fn seeded(p: &mut DemeterPolicy) {
        let d = p.params.space.default.clone();
        p.add_profile(&profile(cfg(24, 2, 2.0, 2048, 10), 30_000.0, 1_100.0, 80.0));
        p.add_profile(&profile(cfg(16, 2, 2.0, 2048, 10), 30_000.0, 1_120.0, 85.0));
        p.add_profile(&profile(
            cfg(8, 1, 1.0, 2048, 10),
            20_000.0,
            40_000.0,
            360.0,
        ));
        p.add_profile(&profile(d, 31_000.0, 1_090.0, 75.0));
    }

    #[test]
    fn bad_current_latency_falls_back_to_the_default_configuration() {
        let mut p = DemeterPolicy::new(no_profiling(), 2);
        seeded(&mut p);
        // With few profiles 3N boosting rounds shrink every prediction towards the mean (as
        // in sklearn); 20 profiles give 60 rounds, enough to follow the rows.
        for k in 0..16 {
            let c = cfg(24, 1, 1.0, 1024 * (1 + k % 4), 10 + 20 * (k as u64 % 5));
            p.add_profile(&profile(c, 20_000.0 + 2_000.0 * k as f64, 1_100.0, 90.0));
        }
        p.observe_workload(&[30_000.0; 3_600]);
        let current = cfg(16, 2, 2.0, 2048, 10);
        // Its measured latency is 3 x the best profile's: class bad (>= 2.14 x). (At exactly a
        // profile's (scale-out, rate) the trees average the two rows, as sklearn's do.)
        let e = p.evaluate(&current, 32_000.0, 3_300.0);
        assert_eq!(e.why, Why::LatencyBad);
        assert!(same(&e.config, &p.params.space.default));
        assert!(e.current_l_n > 0.5);
        // The same configuration with a normal latency is not sent back.
        let e = p.evaluate(&current, 32_000.0, 1_150.0);
        assert_ne!(e.why, Why::LatencyBad);
        assert!(e.current_l_n < 0.5);
    }

    #[test]
    fn without_three_profiles_in_the_target_chunk_the_model_is_not_ready() {
        let mut p = DemeterPolicy::new(no_profiling(), 3);
        p.add_profile(&profile(cfg(24, 2, 2.0, 2048, 10), 30_000.0, 1_100.0, 80.0));
        p.add_profile(&profile(cfg(16, 2, 2.0, 2048, 10), 30_000.0, 1_120.0, 85.0));
        p.observe_workload(&[30_000.0; 3_600]);
        let d = p.params.space.default.clone();
        let e = p.evaluate(&d, 30_000.0, 1_100.0);
        assert_eq!(e.why, Why::ModelNotReady);
        assert!(same(&e.config, &d));
    }

    #[test]
    fn a_cheaper_configuration_is_chosen_only_if_its_pessimistic_predictions_pass() {
        // Profiled at the forecast rate with short recoveries: something cheaper than the
        // default is predicted to handle it.
        let mut p = DemeterPolicy::new(no_profiling(), 4);
        seeded(&mut p);
        p.observe_workload(&[25_000.0; 3_600]);
        let d = p.params.space.default.clone();
        let e = p.evaluate(&d, 25_000.0, 1_100.0);
        assert_eq!(e.why, Why::BetterCandidate, "{:?}", e.config);
        let (c, m) = ConfigSpace::resources(&e.config);
        assert!(c <= 24.0 && m < 98_304.0, "{:?}", e.config);
        // The same profiles with recoveries near the limit: (mean + sd) x 1.25 > 180 s
        // everywhere, so nothing is feasible and the default stays.
        let mut q = DemeterPolicy::new(no_profiling(), 4);
        let d = q.params.space.default.clone();
        q.add_profile(&profile(
            cfg(24, 2, 2.0, 2048, 10),
            30_000.0,
            1_100.0,
            150.0,
        ));
        q.add_profile(&profile(
            cfg(16, 2, 2.0, 2048, 10),
            30_000.0,
            1_120.0,
            155.0,
        ));
        q.add_profile(&profile(
            cfg(8, 1, 1.0, 2048, 10),
            20_000.0,
            40_000.0,
            360.0,
        ));
        q.add_profile(&profile(d.clone(), 31_000.0, 1_090.0, 150.0));
        q.observe_workload(&[25_000.0; 3_600]);
        let e = q.evaluate(&d, 25_000.0, 1_100.0);
        assert_eq!(e.why, Why::NoOtherValid);
        assert!(same(&e.config, &d));
    }

    #[test]
    fn pretraining_series_trims_tiles_and_adds_one_percent_noise() {
        let data: Vec<f64> = (0..1000).map(|i| 1000.0 + i as f64).collect();
        let s = pretraining_series(&data, 100, 2_500, 0.01, 42);
        assert_eq!(s.len(), 2_500);
        // Second 900 is the first of the second tile (the last 100 s were dropped).
        assert!((s[900] / 1000.0 - 1.0).abs() < 0.05, "{}", s[900]);
        assert!((s[899] / 1899.0 - 1.0).abs() < 0.05, "{}", s[899]);
        let rel: Vec<f64> = (0..2_500).map(|i| s[i] / data[i % 900] - 1.0).collect();
        let mean = rel.iter().sum::<f64>() / rel.len() as f64;
        let sd = (rel.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / rel.len() as f64).sqrt();
        assert!(
            mean.abs() < 0.002 && (sd - 0.01).abs() < 0.002,
            "{mean} {sd}"
        );
        assert_eq!(s, pretraining_series(&data, 100, 2_500, 0.01, 42));
        assert!(pretraining_series(&data, 1000, 10, 0.01, 1).is_empty());
        assert!(pretraining_series(&data, 0, 0, 0.01, 1).is_empty());
    }
}
