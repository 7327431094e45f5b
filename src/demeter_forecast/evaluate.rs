//! Back-testing the forecaster and the baselines on a recorded trace: MAE/MAPE per second and
//! of the peak 60-s bin (what the decisions use), and how often `R*` under-predicts.

use std::fmt;

use super::baselines::{last_value, seasonal_naive};
use super::forecaster::{peak_bin_mean, ForecastParams, Forecaster};

/// What to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSpec {
    /// Seconds of the trace used for pre-training before the first decision point.
    pub warmup_s: usize,
    /// Seconds between decision points.
    pub every_s: usize,
    /// Forecast horizon in seconds (the bins and buffer come from `params`).
    pub horizon_s: usize,
    /// The workload's season in seconds, for seasonal-naive and the seasonal model. `None`:
    /// seasonal-naive repeats the last `horizon_s` seconds and only the §4.1 model runs.
    pub season_s: Option<usize>,
    /// The model's parameters (its `season_s` and `horizon_s` are overridden by the above).
    pub params: ForecastParams,
    /// History before the trace (per second, oldest first), e.g. the prototype's tiled
    /// pre-training series (§4.1). The models are pre-trained on it followed by the warm-up,
    /// and the baselines see it as past. Empty: none.
    pub pretrain_rps: Vec<f64>,
    /// The season of the seasonal-naive baseline when it differs from the model's (e.g. the
    /// model finds its season itself, `params.auto_season_s`). `None`: `season_s`.
    pub naive_season_s: Option<usize>,
}

impl EvalSpec {
    /// The spec with Demeter's default parameters.
    pub fn new(warmup_s: usize, every_s: usize, horizon_s: usize) -> Self {
        EvalSpec {
            warmup_s,
            every_s,
            horizon_s,
            season_s: None,
            params: ForecastParams::default(),
            pretrain_rps: Vec::new(),
            naive_season_s: None,
        }
    }
}

/// The scores of one forecasting method over all decision points.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodScore {
    /// Method name (`model`, `model-4.1`, `seasonal-naive`, `last-value`).
    pub name: String,
    /// Decision points scored.
    pub points: usize,
    /// Decision points where the method had to fall back (seasonal-naive before one season of
    /// history: last `horizon_s` seconds repeated).
    pub fallbacks: usize,
    /// Mean absolute error per forecast second (records/s).
    pub mae_rps: f64,
    /// Mean absolute percentage error per forecast second (%).
    pub mape_pct: f64,
    /// Mean absolute error of the peak bin mean (records/s).
    pub peak_mae_rps: f64,
    /// Mean absolute percentage error of the peak bin mean (%).
    pub peak_mape_pct: f64,
    /// Share of decision points where `R*` = peak bin x buffer is below the realised peak bin.
    pub under_share: f64,
    /// Mean of `R*` / realised peak bin (over-provisioning when above 1).
    pub mean_rstar_ratio: f64,
}

/// The evaluation of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastReport {
    /// Length of the trace in seconds.
    pub trace_s: usize,
    /// The spec evaluated (bins/buffer in `spec.params`).
    pub spec: EvalSpec,
    /// Number of decision points.
    pub decision_points: usize,
    /// The model first, then the baselines.
    pub methods: Vec<MethodScore>,
    /// Seconds of history before the trace the models were pre-trained on.
    pub pretrained_s: usize,
}

impl ForecastReport {
    /// The scores of the method called `name`.
    pub fn method(&self, name: &str) -> Option<&MethodScore> {
        self.methods.iter().find(|m| m.name == name)
    }
}

impl fmt::Display for ForecastReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.spec;
        writeln!(
            f,
            "{} decision points every {} s after {} s of pre-training, horizon {} s in {} bins, \
             buffer {:.2}, season {}",
            self.decision_points,
            s.every_s,
            s.warmup_s + self.pretrained_s,
            s.horizon_s,
            s.params.bins,
            s.params.buffer,
            match (s.season_s, s.params.auto_season_s, s.naive_season_s) {
                (Some(p), ..) => format!("{p} s"),
                (None, Some((lo, hi)), naive) => format!(
                    "found by the model in {lo}..{hi} s; seasonal-naive {}",
                    naive.map_or(format!("= last {} s repeated", s.horizon_s), |p| format!(
                        "season {p} s"
                    ))
                ),
                (None, None, Some(p)) => format!("none in the model; seasonal-naive {p} s"),
                (None, None, None) =>
                    format!("none (seasonal-naive = last {} s repeated)", s.horizon_s),
            }
        )?;
        writeln!(
            f,
            "{:<16} {:>9} {:>8} {:>12} {:>11} {:>9} {:>11} {:>9}",
            "method",
            "MAE rps",
            "MAPE %",
            "peak MAE",
            "peak MAPE %",
            "R*<peak",
            "R*/peak",
            "fallback"
        )?;
        for m in &self.methods {
            writeln!(
                f,
                "{:<16} {:>9.1} {:>8.2} {:>12.1} {:>11.2} {:>8.1}% {:>11.3} {:>9}",
                m.name,
                m.mae_rps,
                m.mape_pct,
                m.peak_mae_rps,
                m.peak_mape_pct,
                100.0 * m.under_share,
                m.mean_rstar_ratio,
                m.fallbacks
            )?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Acc {
    points: usize,
    fallbacks: usize,
    abs: f64,
    pct: f64,
    seconds: usize,
    peak_abs: f64,
    peak_pct: f64,
    under: usize,
    ratio: f64,
}

impl Acc {
    fn add(&mut self, forecast: &[f64], actual: &[f64], bins: usize, buffer: f64) {
        for (p, a) in forecast.iter().zip(actual) {
            self.abs += (p - a).abs();
            self.pct += (p - a).abs() / a.abs().max(1e-9);
        }
        self.seconds += actual.len();
        let fp = peak_bin_mean(forecast, bins);
        let ap = peak_bin_mean(actual, bins);
        self.peak_abs += (fp - ap).abs();
        self.peak_pct += (fp - ap).abs() / ap.abs().max(1e-9);
        if fp * buffer < ap {
            self.under += 1;
        }
        self.ratio += fp * buffer / ap.abs().max(1e-9);
        self.points += 1;
    }

    fn score(&self, name: &str) -> MethodScore {
        let n = self.points.max(1) as f64;
        let secs = self.seconds.max(1) as f64;
        MethodScore {
            name: name.to_string(),
            points: self.points,
            fallbacks: self.fallbacks,
            mae_rps: self.abs / secs,
            mape_pct: 100.0 * self.pct / secs,
            peak_mae_rps: self.peak_abs / n,
            peak_mape_pct: 100.0 * self.peak_pct / n,
            under_share: self.under as f64 / n,
            mean_rstar_ratio: self.ratio / n,
        }
    }
}

/// Evaluate with Demeter's default parameters and no season (seasonal-naive = the last
/// `horizon_s` seconds repeated).
pub fn evaluate(
    trace_rps: &[f64],
    warmup_s: usize,
    every_s: usize,
    horizon_s: usize,
) -> ForecastReport {
    evaluate_with(trace_rps, &EvalSpec::new(warmup_s, every_s, horizon_s))
}

/// Back-test on `trace_rps`: pre-train on the first `warmup_s` seconds, then at every decision
/// point `t = warmup_s + i * every_s` (while `t + horizon_s` fits in the trace) update the
/// model with the seconds since the previous point, forecast `horizon_s` seconds and score
/// against `trace_rps[t..t + horizon_s]`. Methods: `model` (with the season when one is
/// given), `model-4.1` (only when a season is given: the same model without it), then
/// `seasonal-naive` and `last-value`.
pub fn evaluate_with(trace_rps: &[f64], spec: &EvalSpec) -> ForecastReport {
    let horizon = spec.horizon_s.max(1);
    let every = spec.every_s.max(1);
    let warmup = spec.warmup_s.clamp(1, trace_rps.len().max(1));
    let mut params = spec.params.clone();
    params.horizon_s = horizon;
    let bins = params.bins;
    let buffer = params.buffer;
    let mut models: Vec<(String, Forecaster, Acc)> = Vec::new();
    let mut seasonal = params.clone();
    seasonal.season_s = spec.season_s;
    models.push(("model".into(), Forecaster::new(seasonal), Acc::default()));
    if spec.season_s.is_some() || params.auto_season_s.is_some() {
        let mut plain = params.clone();
        plain.season_s = None;
        plain.auto_season_s = None;
        models.push(("model-4.1".into(), Forecaster::new(plain), Acc::default()));
    }
    let warm = &trace_rps[..warmup.min(trace_rps.len())];
    let before = spec.pretrain_rps.len();
    let mut first: Vec<f64> = spec.pretrain_rps.clone();
    first.extend_from_slice(warm);
    for (_, m, _) in &mut models {
        m.pretrain(&first);
    }
    // The baselines' past: the pre-training history, then the trace.
    let mut past: Vec<f64> = spec.pretrain_rps.clone();
    past.extend_from_slice(trace_rps);
    let season = spec.naive_season_s.or(spec.season_s).unwrap_or(horizon);
    let mut naive = Acc::default();
    let mut last = Acc::default();
    let mut points = 0;
    let mut prev = warm.len();
    let mut t = warmup;
    while t + horizon <= trace_rps.len() {
        let history = &past[..before + t];
        let actual = &trace_rps[t..t + horizon];
        for (_, m, acc) in &mut models {
            m.update(&trace_rps[prev..t]);
            acc.add(&m.forecast(horizon), actual, bins, buffer);
        }
        prev = t;
        match seasonal_naive(history, season, horizon) {
            Some(f) => naive.add(&f, actual, bins, buffer),
            None => {
                let f = seasonal_naive(history, horizon.min(history.len()), horizon)
                    .unwrap_or_else(|| last_value(history, horizon));
                naive.add(&f, actual, bins, buffer);
                naive.fallbacks += 1;
            }
        }
        last.add(&last_value(history, horizon), actual, bins, buffer);
        points += 1;
        t += every;
    }
    let mut methods: Vec<MethodScore> = models.iter().map(|(n, _, a)| a.score(n)).collect();
    methods.push(naive.score("seasonal-naive"));
    methods.push(last.score("last-value"));
    ForecastReport {
        trace_s: trace_rps.len(),
        spec: EvalSpec {
            warmup_s: warmup,
            every_s: every,
            horizon_s: horizon,
            season_s: spec.season_s,
            params,
            pretrain_rps: Vec::new(),
            naive_season_s: spec.naive_season_s,
        },
        decision_points: points,
        methods,
        pretrained_s: before,
    }
}
