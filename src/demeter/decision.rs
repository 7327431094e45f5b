//! Demeter's decision rules as pure functions, so they can be tested on hand-made profiles and
//! predictions: throughput chunks and their members, the pessimistic constraint filter,
//! dropping the cheapest survivors, the combined objective, the rescale rule and which
//! configurations may be profiled (research/demeter.md §4.4; the prototype's analytics service,
//! `optimization/handler.py` and `optimization/models/optimizer.py`, paraphrased).

/// A constraint prediction in the modelled (log) space: `ln(1 + l_n)` for latency, `ln(s)`
/// for recovery.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub mean: f64,
    pub sd: f64,
}

/// The thresholds and factors of the rules (defaults: the analytics service's settings, §4).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleParams {
    /// `l_n` limit of the latency constraint (`ConstraintModel.latency` = 0.5).
    pub latency_limit: f64,
    /// `recTimeConst` (180 s).
    pub recovery_limit_s: f64,
    /// Constraint scaler: the pessimistic value (mean + sd) is multiplied by it (1.25).
    pub constraint_scaler: f64,
    /// Objective scaler: survivors cheaper than max(scaler x min, (scaler - 1) quantile) on any
    /// objective are dropped (1.25).
    pub objective_scaler: f64,
    /// Keep the current configuration when the best is better by at most this share (0.05).
    pub min_improvement: f64,
    /// The prototype switches to the best candidate whenever it is not a <= 5 % improvement,
    /// including when it ranks worse than the current configuration (`optimizer.py`: keep only
    /// if `best < current and diff <= 5 %`). `false` keeps the current one in that case.
    pub switch_when_worse: bool,
    /// Objective reference points (the ranking divides each log objective by them).
    pub reference_cores: f64,
    pub reference_memory: f64,
}

/// The reference point of a log objective with maximum `max_value`: the prototype's
/// `max(1.1 v, v + max|N(0, 0.1)|)` over 10^5 draws, v = ln(max_value); the expected maximum
/// of 10^5 half-normal draws is 4.42 sd, so the additive term is 0.442.
pub fn objective_reference(max_value: f64) -> f64 {
    let v = max_value.ln();
    (1.1 * v).max(v + 0.442)
}

impl Default for RuleParams {
    fn default() -> Self {
        RuleParams {
            latency_limit: 0.5,
            recovery_limit_s: 180.0,
            constraint_scaler: 1.25,
            objective_scaler: 1.25,
            min_improvement: 0.05,
            switch_when_worse: true,
            // Largest configuration of the space: 24 / 1 slot x 3 cores, x 4096 MB (§4.4).
            reference_cores: objective_reference(72.0),
            reference_memory: objective_reference(98_304.0),
        }
    }
}

impl RuleParams {
    /// The pessimistic constraint check (`filter_by_constraints`): (mean + sd) in the log
    /// space, back-transformed and multiplied by the constraint scaler, within the limits
    /// (with the defaults: `l_n <= 0.4` and recovery <= 144 s).
    pub fn pessimistic_ok(&self, latency: Prediction, recovery: Prediction) -> bool {
        let l_n = (latency.mean + latency.sd).exp_m1() * self.constraint_scaler;
        let rec_s = (recovery.mean + recovery.sd).exp() * self.constraint_scaler;
        l_n <= self.latency_limit && rec_s <= self.recovery_limit_s
    }

    /// The combined objective the candidates are ranked by (lower is better):
    /// sum of log objective / reference point.
    pub fn combined_objective(&self, cores: f64, memory_mb: f64) -> f64 {
        cores.ln() / self.reference_cores + memory_mb.ln() / self.reference_memory
    }
}

/// numpy's linear-interpolation quantile of sorted values.
fn quantile_linear(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Which of the feasible candidates (cores, memory MB) survive "drop the cheapest"
/// (`sort_by_objective_values`): with more than one candidate, a candidate is kept when on
/// every objective its log value is at least max(ln(scaler x min), the (scaler - 1) quantile
/// of the log values), i.e. it is not among the cheapest, riskiest options.
pub fn not_too_cheap(costs: &[(f64, f64)], objective_scaler: f64) -> Vec<bool> {
    if costs.len() <= 1 {
        return vec![true; costs.len()];
    }
    let cut = |vals: Vec<f64>| {
        let mut v = vals;
        v.sort_by(f64::total_cmp);
        (v[0] + objective_scaler.ln()).max(quantile_linear(&v, objective_scaler - 1.0))
    };
    let cpu_cut = cut(costs.iter().map(|c| c.0.ln()).collect());
    let mem_cut = cut(costs.iter().map(|c| c.1.ln()).collect());
    costs
        .iter()
        .map(|c| c.0.ln() >= cpu_cut && c.1.ln() >= mem_cut)
        .collect()
}

/// A configuration as the rescale rule sees it: its resources and whether its pessimistic
/// predictions pass the constraints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub cores: f64,
    pub memory_mb: f64,
    pub feasible: bool,
}

/// What the rescale rule chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Current,
    Default,
    /// Index into the candidates.
    Candidate(usize),
}

/// Why (the prototype's log reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    LatencyBad,
    ModelNotReady,
    NoOtherValid,
    WithinImprovement,
    BetterCandidate,
    CannotHandleSwitch,
    CannotHandleDefault,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::LatencyBad => "latency bad: default configuration",
            Why::ModelNotReady => "model not ready (Sobol phase)",
            Why::NoOtherValid => "no other valid configuration",
            Why::WithinImprovement => "current is within 5 % of the best",
            Why::BetterCandidate => "current is no longer the most efficient",
            Why::CannotHandleSwitch => "current cannot handle the forecast: best candidate",
            Why::CannotHandleDefault => "nothing handles the forecast: default",
        }
    }
}

/// The rescale rule (`get_optimized_configs`), on the current configuration and the candidates
/// (admissible options that fit the cluster next to it, the current one excluded):
/// 1. current latency class bad -> default; 2. no model yet -> keep; 3. the current one "can
///    handle" the forecast if it passes the pessimistic filter or is the default; the best
///    candidate is the lowest combined objective among the feasible ones that are not too
///    cheap. If current can handle: keep it when there is no best or the best is better by at
///    most `min_improvement`, else switch; if not: switch to the best, else to the default.
///
/// Also returns whether the current one could handle the forecast.
pub fn rescale_rule(
    p: &RuleParams,
    current_bad_latency: bool,
    model_ready: bool,
    current: &Candidate,
    current_is_default: bool,
    candidates: &[Candidate],
) -> (Choice, Why, bool) {
    if current_bad_latency {
        return (Choice::Default, Why::LatencyBad, false);
    }
    if !model_ready {
        return (Choice::Current, Why::ModelNotReady, true);
    }
    let can_handle = current.feasible || current_is_default;
    let feasible: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].feasible)
        .collect();
    let costs: Vec<(f64, f64)> = feasible
        .iter()
        .map(|&i| (candidates[i].cores, candidates[i].memory_mb))
        .collect();
    let keep = not_too_cheap(&costs, p.objective_scaler);
    let score = |c: &Candidate| p.combined_objective(c.cores, c.memory_mb);
    let best = feasible
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(&i, _)| i)
        .min_by(|&a, &b| {
            score(&candidates[a])
                .total_cmp(&score(&candidates[b]))
                .then(a.cmp(&b))
        });
    match (can_handle, best) {
        (true, None) => (Choice::Current, Why::NoOtherValid, true),
        (true, Some(b)) => {
            let best_obj = score(&candidates[b]);
            let curr_obj = score(current);
            let diff = (best_obj - curr_obj).abs() / curr_obj.abs();
            let keep_current = if p.switch_when_worse {
                best_obj < curr_obj && diff <= p.min_improvement
            } else {
                best_obj >= curr_obj || diff <= p.min_improvement
            };
            if keep_current {
                (Choice::Current, Why::WithinImprovement, true)
            } else {
                (Choice::Candidate(b), Why::BetterCandidate, true)
            }
        }
        (false, Some(b)) => (Choice::Candidate(b), Why::CannotHandleSwitch, false),
        (false, None) => (Choice::Default, Why::CannotHandleDefault, false),
    }
}

/// Throughput chunks: edges from `base` (the minimum of all profiled, current and predicted
/// rates, truncated to an integer as the prototype's pydantic field does) in `width` steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chunking {
    pub base_rps: f64,
    pub width_rps: f64,
    /// Index of the last chunk (the edges reach past the maximum rate + one width).
    pub last: i64,
}

impl Chunking {
    pub fn new(min_rps: f64, max_rps: f64, width_rps: f64) -> Self {
        let base_rps = min_rps.trunc();
        let last = ((max_rps.trunc() - base_rps) / width_rps).ceil().max(0.0) as i64;
        Chunking {
            base_rps,
            width_rps,
            last,
        }
    }

    /// `[lo, hi]` of chunk `k`.
    pub fn bounds(&self, k: i64) -> (f64, f64) {
        let lo = self.base_rps + k as f64 * self.width_rps;
        (lo, lo + self.width_rps)
    }

    /// The target chunk: the first whose lower edge is at least `R*`.
    pub fn target(&self, r_star: f64) -> i64 {
        ((r_star - self.base_rps) / self.width_rps).ceil().max(0.0) as i64
    }
}

/// A profile as the chunking sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChunkProfile {
    /// Profiles with equal keys are the same configuration.
    pub config_key: u64,
    pub throughput_rps: f64,
    pub bad: bool,
}

/// A profile assigned to a chunk, and whether it was measured inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub index: usize,
    pub direct: bool,
}

/// The profiles of chunk `[lo, hi]`: measured inside it, or good latency at a higher rate, or
/// bad latency at a lower rate; one per configuration, the one closest to `hi` first.
pub fn chunk_members(profiles: &[ChunkProfile], lo: f64, hi: f64) -> Vec<Member> {
    let mut tagged: Vec<(f64, Member)> = Vec::new();
    for (index, p) in profiles.iter().enumerate() {
        let r = p.throughput_rps;
        let direct = lo <= r && r <= hi;
        if direct || (r > hi && !p.bad) || (r < lo && p.bad) {
            tagged.push(((r - hi).abs(), Member { index, direct }));
        }
    }
    tagged.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.index.cmp(&b.1.index)));
    let mut out: Vec<Member> = Vec::new();
    for (_, m) in tagged {
        let key = profiles[m.index].config_key;
        if !out.iter().any(|o| profiles[o.index].config_key == key) {
            out.push(m);
        }
    }
    out
}

/// The profiles a model is fitted on (`_filter_by_num_init`): only the direct ones when there
/// are at least `num_init` of them and they include both latency classes, else all members.
pub fn filter_by_num_init(
    profiles: &[ChunkProfile],
    members: &[Member],
    num_init: usize,
) -> Vec<usize> {
    let direct: Vec<&Member> = members.iter().filter(|m| m.direct).collect();
    let good = direct.iter().any(|m| !profiles[m.index].bad);
    let bad = direct.iter().any(|m| profiles[m.index].bad);
    if direct.len() >= num_init && good && bad {
        direct.iter().map(|m| m.index).collect()
    } else {
        members.iter().map(|m| m.index).collect()
    }
}

/// Configurations not worth profiling for the target chunk `[lo, hi]`: bad latency at a rate
/// at most `lo` (bottlenecked already at lower rates) or good latency at a rate at least `hi`
/// (stable at higher rates). Returns their config keys.
pub fn known_outcomes(profiles: &[ChunkProfile], lo: f64, hi: f64) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for p in profiles {
        let known = (p.throughput_rps <= lo && p.bad) || (p.throughput_rps >= hi && !p.bad);
        if known && !out.contains(&p.config_key) {
            out.push(p.config_key);
        }
    }
    out
}

/// Whether a configuration is "greater" than a reference scaled by `factor`
/// (`ConfigurationModel.compare(GT)`): more cores, or more memory, or a larger sum of both
/// shares of the profiling budget (`max_cores`, `max_memory_mb`).
pub fn greater_than(
    (cores, memory_mb): (f64, f64),
    (ref_cores, ref_memory_mb): (f64, f64),
    factor: f64,
    (max_cores, max_memory_mb): (f64, f64),
) -> bool {
    let (oc, om) = (cores / max_cores, memory_mb / max_memory_mb);
    let (rc, rm) = (
        ref_cores / max_cores * factor,
        ref_memory_mb / max_memory_mb * factor,
    );
    oc > rc || om > rm || oc + om > rc + rm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(cores: f64, memory_gb: f64, feasible: bool) -> Candidate {
        Candidate {
            cores,
            memory_mb: memory_gb * 1024.0,
            feasible,
        }
    }

    fn pred(v: f64, sd: f64) -> Prediction {
        Prediction { mean: v, sd }
    }

    #[test]
    fn pessimistic_filter_is_mean_plus_sd_times_1_25() {
        let p = RuleParams::default();
        let good_lat = pred(0.0f64.ln_1p(), 0.0);
        // Recovery: 144 s x 1.25 = 180 s passes, 145 s does not.
        assert!(p.pessimistic_ok(good_lat, pred(144f64.ln(), 0.0)));
        assert!(!p.pessimistic_ok(good_lat, pred(145f64.ln(), 0.0)));
        // The sd counts: mean 100 s, sd ln(1.5): pessimistic 150 x 1.25 = 187.5 > 180.
        assert!(p.pessimistic_ok(good_lat, pred(100f64.ln(), 0.0)));
        assert!(!p.pessimistic_ok(good_lat, pred(100f64.ln(), 1.5f64.ln())));
        // Latency: l_n 0.4 x 1.25 = 0.5 passes, 0.41 does not.
        let rec = pred(60f64.ln(), 0.0);
        assert!(p.pessimistic_ok(pred(0.4f64.ln_1p(), 0.0), rec));
        assert!(!p.pessimistic_ok(pred(0.41f64.ln_1p(), 0.0), rec));
    }

    #[test]
    fn drop_cheapest_uses_the_larger_of_1_25_min_and_the_quartile() {
        // Cores 4, 8, 12, 16, 24 with 1 GB per core: the linear 25 % quantile of the logs is
        // ln 8 (and of memory ln 8 GB), above ln(1.25 x 4): only the cheapest is dropped.
        let costs: Vec<(f64, f64)> = [4.0, 8.0, 12.0, 16.0, 24.0]
            .iter()
            .map(|&c| (c, c * 1024.0))
            .collect();
        assert_eq!(
            not_too_cheap(&costs, 1.25),
            vec![false, true, true, true, true]
        );
        // Two candidates within 25 % of each other: 1.25 x the cheaper is above both, so
        // both are dropped (and the rule then finds no other valid configuration).
        let two = [(10.0, 10_240.0), (12.0, 12_288.0)];
        assert_eq!(not_too_cheap(&two, 1.25), vec![false, false]);
        // One candidate is never dropped.
        assert_eq!(not_too_cheap(&[(4.0, 1024.0)], 1.25), vec![true]);
        // Each objective cuts on its own: cores >= 1.25 x 16 = 20 and memory >= the quartile
        // (8 GB) leave only the last one.
        let mixed = [
            (24.0, 1024.0),
            (16.0, 16_384.0),
            (16.0, 16_384.0),
            (20.0, 20_480.0),
        ];
        assert_eq!(not_too_cheap(&mixed, 1.25), vec![false, false, false, true]);
    }

    #[test]
    fn chooses_the_cheapest_feasible_candidate_that_is_not_too_cheap() {
        let p = RuleParams::default();
        let current = cand(24.0, 96.0, true);
        let cands = [
            cand(4.0, 4.0, true),   // cheapest: dropped (below 1.25 x min on both)
            cand(6.0, 12.0, false), // infeasible (pessimistic recovery too long)
            cand(8.0, 8.0, true),   // chosen
            cand(12.0, 12.0, true), // feasible, dearer
            cand(16.0, 32.0, true), // feasible, dearer
            cand(20.0, 40.0, true), // feasible, dearer
        ];
        let (choice, why, can) = rescale_rule(&p, false, true, &current, true, &cands);
        assert_eq!(
            (choice, why, can),
            (Choice::Candidate(2), Why::BetterCandidate, true)
        );
        // Without the cheapest-drop it would have been candidate 0.
        let only_cheap = [cand(4.0, 4.0, true)];
        assert_eq!(
            rescale_rule(&p, false, true, &current, true, &only_cheap).0,
            Choice::Candidate(0)
        );
    }

    #[test]
    fn five_percent_improvement_rule_and_the_switch_when_worse_quirk() {
        let p = RuleParams::default();
        let current = cand(16.0, 16.0, true);
        let s_cur = p.combined_objective(16.0, 16.0 * 1024.0);
        // A candidate 3 % better on the combined objective: keep the current one.
        // Find a memory that gives exactly 0.97 x s_cur with 16 cores.
        let target = 0.97 * s_cur;
        let mem = ((target - 16f64.ln() / p.reference_cores) * p.reference_memory).exp();
        let slightly = [Candidate {
            cores: 16.0,
            memory_mb: mem,
            feasible: true,
        }];
        assert_eq!(
            rescale_rule(&p, false, true, &current, false, &slightly).1,
            Why::WithinImprovement
        );
        // 6 % better: switch.
        let mem6 = ((0.94 * s_cur - 16f64.ln() / p.reference_cores) * p.reference_memory).exp();
        let better = [Candidate {
            cores: 16.0,
            memory_mb: mem6,
            feasible: true,
        }];
        assert_eq!(
            rescale_rule(&p, false, true, &current, false, &better).0,
            Choice::Candidate(0)
        );
        // The best ranks worse than the current one: the prototype switches anyway.
        let worse = [cand(20.0, 20.0, true)];
        assert_eq!(
            rescale_rule(&p, false, true, &current, false, &worse).0,
            Choice::Candidate(0)
        );
        let strict = RuleParams {
            switch_when_worse: false,
            ..RuleParams::default()
        };
        assert_eq!(
            rescale_rule(&strict, false, true, &current, false, &worse).0,
            Choice::Current
        );
    }

    #[test]
    fn bad_latency_falls_back_to_default_and_no_model_keeps_current() {
        let p = RuleParams::default();
        let current = cand(8.0, 8.0, true);
        let cands = [cand(4.0, 4.0, true)];
        assert_eq!(
            rescale_rule(&p, true, true, &current, false, &cands),
            (Choice::Default, Why::LatencyBad, false)
        );
        assert_eq!(
            rescale_rule(&p, false, false, &current, false, &cands),
            (Choice::Current, Why::ModelNotReady, true)
        );
    }

    #[test]
    fn a_current_configuration_that_cannot_handle_the_forecast_is_left() {
        let p = RuleParams::default();
        let weak = cand(8.0, 8.0, false);
        // A feasible (dearer) candidate: switch to it, whatever its objective.
        let cands = [cand(4.0, 4.0, false), cand(16.0, 16.0, true)];
        assert_eq!(
            rescale_rule(&p, false, true, &weak, false, &cands),
            (Choice::Candidate(1), Why::CannotHandleSwitch, false)
        );
        // Nothing feasible: the default.
        let none = [cand(4.0, 4.0, false)];
        assert_eq!(
            rescale_rule(&p, false, true, &weak, false, &none),
            (Choice::Default, Why::CannotHandleDefault, false)
        );
        // The default itself always "can handle" it: with nothing feasible it stays.
        assert_eq!(
            rescale_rule(&p, false, true, &cand(24.0, 96.0, false), true, &none),
            (Choice::Current, Why::NoOtherValid, true)
        );
    }

    #[test]
    fn target_chunk_is_the_first_whose_lower_edge_reaches_r_star() {
        let c = Chunking::new(20_400.7, 61_000.0, 10_000.0);
        assert_eq!(c.base_rps, 20_400.0);
        assert_eq!(c.last, 5);
        assert_eq!(c.target(20_400.0), 0);
        assert_eq!(c.target(20_401.0), 1);
        assert_eq!(c.target(45_000.0), 3);
        assert_eq!(c.bounds(3), (50_400.0, 60_400.0));
    }

    #[test]
    fn chunk_members_direct_good_above_bad_below_one_per_config() {
        let prof = |k: u64, r: f64, bad: bool| ChunkProfile {
            config_key: k,
            throughput_rps: r,
            bad,
        };
        let profiles = [
            prof(1, 35_000.0, false), // direct
            prof(2, 55_000.0, false), // good at a higher rate: member
            prof(3, 55_000.0, true),  // bad at a higher rate: not
            prof(4, 20_000.0, true),  // bad at a lower rate: member
            prof(5, 20_000.0, false), // good at a lower rate: not
            prof(1, 39_000.0, true),  // same config as #0, closer to hi: replaces it
        ];
        let m = chunk_members(&profiles, 30_000.0, 40_000.0);
        let idx: Vec<(usize, bool)> = m.iter().map(|m| (m.index, m.direct)).collect();
        assert_eq!(idx, vec![(5, true), (1, false), (3, false)]);
        // Only direct ones once there are 3 of them with both classes.
        let more = [
            prof(1, 31_000.0, false),
            prof(2, 32_000.0, true),
            prof(3, 33_000.0, false),
            prof(4, 60_000.0, false),
        ];
        let m = chunk_members(&more, 30_000.0, 40_000.0);
        assert_eq!(filter_by_num_init(&more, &m, 3), vec![2, 1, 0]);
        // Without a bad one among the direct fits: all members.
        let uniform = [
            prof(1, 31_000.0, false),
            prof(2, 32_000.0, false),
            prof(3, 33_000.0, false),
            prof(4, 60_000.0, false),
        ];
        let m = chunk_members(&uniform, 30_000.0, 40_000.0);
        assert_eq!(filter_by_num_init(&uniform, &m, 3).len(), 4);
        // Known outcomes: bad at <= lo, good at >= hi.
        assert_eq!(known_outcomes(&profiles, 30_000.0, 40_000.0), vec![2, 4]);
    }

    #[test]
    fn greater_than_is_an_or_of_cores_memory_and_their_sum() {
        let max = (26.0, 331_696.0);
        let reference = (24.0, 98_304.0);
        // 0.25 x the default: 6 cores, 24 GB.
        assert!(greater_than((8.0, 8192.0), reference, 0.25, max)); // more cores
        assert!(greater_than((4.0, 32_768.0), reference, 0.25, max)); // more memory
        assert!(!greater_than((4.0, 8192.0), reference, 0.25, max)); // smaller on both
        assert!(!greater_than((12.0, 49_152.0), reference, 0.75, max));
    }
}
