//! Compact fitted workload models ("periodic-histospline-ar1"): fitting one from a recorded
//! trace, the model TOML (written with provenance comments, read strictly), and materialising
//! per-second rates from it.
//!
//! The form, for simulated second `s`:
//! `rate(s) = max(0, spline(s mod period_s) + residual(s))`.
//! - `spline` is a periodic Catmull-Rom curve through `period_s / knot_step_s` knots, knot `j`
//!   sitting at the centre of bin `[j knot_step_s, (j+1) knot_step_s)`. The knot values are
//!   solved (a small dense linear system) so that the curve's mean over every bin equals the
//!   trace's mean over that bin ("histospline": mean-preserving, hence exact hourly means
//!   when bins divide hours, exact overall mean), and evaluated at the middle of each second.
//! - `residual` is an AR(1) process `x_{k+1} = phi x_k + sigma_rps N(0, 1)` on a grid of
//!   `step_s` seconds (stationary start), interpolated to seconds (Catmull-Rom, so the path
//!   is smooth); then its mean over every knot bin is removed with a smooth bump `∝ u(1-u)`
//!   (zero at the bin edges, so the path stays continuous). It adds the trace's within-bin
//!   variability (its standard deviation and, approximately, its correlation over `step_s`)
//!   without moving bin means; the fit report compares trace and simulation.
//!   `phi` is the Yule-Walker estimate on the trace residual sampled every `step_s`;
//!   `sigma_rps` is calibrated by simulation (seeds 0..8, pooled; the path is linear in it) so
//!   the simulated, bin-demeaned residual has the trace residual's standard deviation.
//!   (Removing bin means lowers the simulated autocorrelation somewhat; the fit report shows
//!   both values.)

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use super::error::WorkloadError;
use super::trace::{load_trace, MAX_TRACE_S};
use super::MAX_RATE_RPS;

/// The value of `[shape] form` this code reads and writes.
pub const MODEL_FORM: &str = "periodic-histospline-ar1";
/// The most knots a model may have (the fit solves a dense knots x knots system).
pub const MAX_KNOTS: usize = 1000;
/// Seeds `0..CALIBRATION_SEEDS` of the simulations that calibrate `sigma_rps` during a fit.
pub const CALIBRATION_SEEDS: u64 = 8;
/// Seed of the simulation whose statistics the fit report records (not a calibration seed).
pub const VALIDATION_SEED: u64 = 8;

/// Options of a fit (the flags of `demeter-sim fit-workload`).
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Period of the model in seconds; `None` = the trace's whole length.
    pub period_s: Option<u64>,
    /// Width of a knot bin in seconds; must divide the period.
    pub knot_step_s: u64,
    /// Grid step of the AR(1) residual in seconds.
    pub ar_step_s: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            period_s: None,
            knot_step_s: 1800,
            ar_step_s: 60,
        }
    }
}

/// A fitted workload model: the content of a model TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedModel {
    pub provenance: Provenance,
    pub shape: SplineShape,
    pub residual: Ar1Residual,
    pub fit: FitReport,
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// File name (no directories) of the fitted trace.
    pub source_file: String,
    /// SHA-256 of the trace file's bytes, lower-case hex.
    pub source_sha256: String,
    /// Data lines in the trace file.
    pub source_rows: u64,
    /// Seconds spanned by the trace after filling gaps.
    pub source_seconds: u64,
    /// Seconds filled by holding the previous value (gaps, `null`s).
    pub source_filled_s: u64,
    /// The command that (re)produces the file, without `--out`.
    pub fit_command: String,
}

/// The deterministic part: a periodic mean-preserving Catmull-Rom spline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplineShape {
    /// Always [`MODEL_FORM`].
    pub form: String,
    pub period_s: u64,
    pub knot_step_s: u64,
    /// `period_s / knot_step_s` values, records per second.
    pub knots_rps: Vec<f64>,
}

/// The stochastic part: an AR(1) residual on a `step_s` grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ar1Residual {
    pub step_s: u64,
    pub phi: f64,
    pub sigma_rps: f64,
}

/// Accuracy of a fit, measured on the trace it was fitted to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitReport {
    pub trace_mean_rps: f64,
    pub model_mean_rps: f64,
    pub mean_error_pct: f64,
    pub trace_peak_rps: f64,
    pub model_peak_rps: f64,
    pub trace_peak_60s_rps: f64,
    pub model_peak_60s_rps: f64,
    pub peak_60s_error_pct: f64,
    pub mape_60s_pct: f64,
    pub hours_compared: u64,
    pub hourly_mean_max_abs_error_pct: f64,
    pub hourly_mean_mean_abs_error_pct: f64,
    pub trace_residual_std_rps: f64,
    pub trace_residual_autocorr_step: f64,
    pub trace_per_second_change_std_rps: f64,
    pub sigma_yule_walker_rps: f64,
    pub simulated_residual_std_rps: f64,
    pub simulated_residual_autocorr_step: f64,
    pub simulated_per_second_change_std_rps: f64,
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    let r = (x * f).round() / f;
    if r == 0.0 {
        0.0 // no "-0.0" in files
    } else {
        r
    }
}

/// Catmull-Rom weights of p0..p3 at parameter `u` in [0, 1) (the curve runs from p1 to p2).
fn cr_weights(u: f64) -> [f64; 4] {
    let u2 = u * u;
    let u3 = u2 * u;
    [
        0.5 * (-u + 2.0 * u2 - u3),
        0.5 * (2.0 - 5.0 * u2 + 3.0 * u3),
        0.5 * (u + 4.0 * u2 - 3.0 * u3),
        0.5 * (-u2 + u3),
    ]
}

/// Knot indices and weights of the spline at the middle of second `tp` of the period.
fn knot_basis(tp: u64, knot_step_s: u64, knots: usize) -> ([usize; 4], [f64; 4]) {
    let x = (tp as f64 + 0.5) / knot_step_s as f64 - 0.5;
    let i = x.floor();
    let w = cr_weights(x - i);
    let i = i as i64;
    let m = knots as i64;
    let idx = [
        (i - 1).rem_euclid(m) as usize,
        i.rem_euclid(m) as usize,
        (i + 1).rem_euclid(m) as usize,
        (i + 2).rem_euclid(m) as usize,
    ];
    (idx, w)
}

impl SplineShape {
    /// The spline's value at every second of one period.
    pub fn one_period_rps(&self) -> Vec<f64> {
        let m = self.knots_rps.len();
        (0..self.period_s)
            .map(|tp| {
                let (idx, w) = knot_basis(tp, self.knot_step_s, m);
                (0..4).map(|j| w[j] * self.knots_rps[idx[j]]).sum()
            })
            .collect()
    }
}

fn std_dev(x: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

/// Lag-1 autocorrelation (centred, Yule-Walker normalisation); 0 for constant series.
fn autocorr1(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let den: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    if den <= 0.0 {
        return 0.0;
    }
    let num: f64 = x.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
    num / den
}

fn diffs(x: &[f64]) -> Vec<f64> {
    x.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Means over consecutive full windows of `w` seconds (a trailing partial window is dropped).
fn window_means(x: &[f64], w: usize) -> Vec<f64> {
    x.chunks_exact(w)
        .map(|c| c.iter().sum::<f64>() / w as f64)
        .collect()
}

/// Solve `a x = b` (a is n x n, row-major) by Gaussian elimination with partial pivoting.
fn solve_dense(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return None;
    }
    for c in 0..n {
        let p = (c..n).max_by(|&r, &s| a[r * n + c].abs().total_cmp(&a[s * n + c].abs()))?;
        if a[p * n + c].abs() <= 1e-12 * scale {
            return None;
        }
        if p != c {
            for k in 0..n {
                a.swap(p * n + k, c * n + k);
            }
            b.swap(p, c);
        }
        for r in (c + 1)..n {
            let f = a[r * n + c] / a[c * n + c];
            if f != 0.0 {
                for k in c..n {
                    a[r * n + k] -= f * a[c * n + k];
                }
                b[r] -= f * b[c];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = ((r + 1)..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    Some(x)
}

impl Ar1Residual {
    /// A residual path of `len` seconds, drawn from `rng`, with zero mean over every bin of
    /// `bin_s` seconds (bins aligned at second 0; the last one may be partial).
    pub fn sample_path(&self, len: u64, bin_s: u64, rng: &mut impl Rng) -> Vec<f64> {
        let len = len as usize;
        let step = self.step_s.max(1) as usize;
        // Node k + 1 sits at second k * step; one extra node on each side for Catmull-Rom.
        let nodes = len / step + 4;
        let stationary_sd = if self.phi.abs() < 1.0 {
            self.sigma_rps / (1.0 - self.phi * self.phi).sqrt()
        } else {
            self.sigma_rps
        };
        let mut a = Vec::with_capacity(nodes);
        let z: f64 = rng.sample(StandardNormal);
        let mut x = stationary_sd * z;
        a.push(x);
        for _ in 1..nodes {
            let z: f64 = rng.sample(StandardNormal);
            x = self.phi * x + self.sigma_rps * z;
            a.push(x);
        }
        let mut r: Vec<f64> = (0..len)
            .map(|s| {
                let k = s / step;
                let w = cr_weights((s % step) as f64 / step as f64);
                w[0] * a[k] + w[1] * a[k + 1] + w[2] * a[k + 2] + w[3] * a[k + 3]
            })
            .collect();
        remove_bin_means(&mut r, bin_s.max(1) as usize);
        r
    }
}

/// Subtract from each bin its mean times a bump `u(1-u)` normalised to mean 1 over the bin:
/// afterwards every bin has mean 0 (up to rounding) and the path is unchanged at bin edges.
fn remove_bin_means(r: &mut [f64], bin: usize) {
    for chunk in r.chunks_mut(bin) {
        let l = chunk.len() as f64;
        let mean = chunk.iter().sum::<f64>() / l;
        let g: Vec<f64> = (0..chunk.len())
            .map(|i| {
                let u = (i as f64 + 0.5) / l;
                u * (1.0 - u)
            })
            .collect();
        let g_mean = g.iter().sum::<f64>() / l;
        for (v, gi) in chunk.iter_mut().zip(&g) {
            *v -= mean * gi / g_mean;
        }
    }
}

/// Fit the spline and the AR(1) residual to per-second rates. Returns the three parts of a
/// model without provenance.
pub fn fit_rates(
    rates_rps: &[f64],
    opts: &FitOptions,
) -> Result<(SplineShape, Ar1Residual, FitReport), WorkloadError> {
    let ctx = "fit-workload";
    let n = rates_rps.len() as u64;
    let period_s = opts.period_s.unwrap_or(n);
    if period_s == 0 || period_s > n {
        return Err(WorkloadError::invalid(
            ctx,
            "period_s",
            period_s,
            format!("0 < period_s <= the trace length, {n} s"),
        ));
    }
    let knot_step_s = opts.knot_step_s;
    if knot_step_s == 0 || period_s % knot_step_s != 0 {
        return Err(WorkloadError::invalid(
            ctx,
            "knot_step_s",
            knot_step_s,
            format!("a divisor of period_s = {period_s}"),
        ));
    }
    let m = (period_s / knot_step_s) as usize;
    if m > MAX_KNOTS {
        return Err(WorkloadError::invalid(
            ctx,
            "knot_step_s",
            knot_step_s,
            format!(
                "at most {MAX_KNOTS} knots per period, i.e. knot_step_s >= period_s / {MAX_KNOTS}"
            ),
        ));
    }
    let ar_step_s = opts.ar_step_s;
    if ar_step_s == 0 || ar_step_s.saturating_mul(3) > n {
        return Err(WorkloadError::invalid(
            ctx,
            "ar_step_s",
            ar_step_s,
            format!("0 < ar_step_s <= a third of the trace length, {n} s"),
        ));
    }

    // Histospline: for each bin b, sum over the trace seconds in b (mod period) of the spline
    // equals the trace sum there.
    let mut a = vec![0.0; m * m];
    let mut b = vec![0.0; m];
    for (t, v) in rates_rps.iter().enumerate() {
        let tp = t as u64 % period_s;
        let bin = (tp / knot_step_s) as usize;
        let (idx, w) = knot_basis(tp, knot_step_s, m);
        for j in 0..4 {
            a[bin * m + idx[j]] += w[j];
        }
        b[bin] += v;
    }
    let knots = solve_dense(a, b).ok_or_else(|| {
        WorkloadError::invalid(
            ctx,
            "knot_step_s",
            knot_step_s,
            "a knot grid whose mean-preserving system is solvable (try another knot_step_s)",
        )
    })?;
    let shape = SplineShape {
        form: MODEL_FORM.to_string(),
        period_s,
        knot_step_s,
        knots_rps: knots.iter().map(|k| round_to(*k, 1)).collect(),
    };

    // Deterministic part over the trace and its errors.
    let period = shape.one_period_rps();
    let det: Vec<f64> = (0..rates_rps.len())
        .map(|t| period[t % period.len()])
        .collect();
    let nf = rates_rps.len() as f64;
    let trace_mean = rates_rps.iter().sum::<f64>() / nf;
    let model_mean = det.iter().sum::<f64>() / nf;
    let pct = |model: f64, trace: f64| {
        if trace != 0.0 {
            100.0 * (model - trace) / trace
        } else {
            0.0
        }
    };
    let max_of = |x: &[f64]| x.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v));
    let tm = window_means(rates_rps, 60);
    let mm = window_means(&det, 60);
    let (trace_peak_60s, model_peak_60s) = if tm.is_empty() {
        (trace_mean, model_mean)
    } else {
        (max_of(&tm), max_of(&mm))
    };
    let rel: Vec<f64> = tm
        .iter()
        .zip(&mm)
        .filter(|(t, _)| **t > 0.0)
        .map(|(t, m)| ((m - t) / t).abs())
        .collect();
    let mape_60s = if rel.is_empty() {
        0.0
    } else {
        100.0 * rel.iter().sum::<f64>() / rel.len() as f64
    };
    let th = window_means(rates_rps, 3600);
    let mh = window_means(&det, 3600);
    let hourly: Vec<f64> = th
        .iter()
        .zip(&mh)
        .filter(|(t, _)| **t > 0.0)
        .map(|(t, m)| 100.0 * ((m - t) / t).abs())
        .collect();
    let hourly_max = hourly.iter().fold(0.0f64, |m, v| m.max(*v));
    let hourly_mean = if hourly.is_empty() {
        0.0
    } else {
        hourly.iter().sum::<f64>() / hourly.len() as f64
    };

    // Residual statistics and the AR(1) fit.
    let resid: Vec<f64> = rates_rps.iter().zip(&det).map(|(v, d)| v - d).collect();
    let resid_std = std_dev(&resid);
    let sampled: Vec<f64> = resid.iter().step_by(ar_step_s as usize).copied().collect();
    let trace_ac = autocorr1(&sampled);
    let phi_yw = trace_ac.clamp(-0.999, 0.999);
    let sigma_yw = std_dev(&sampled) * (1.0 - phi_yw * phi_yw).sqrt();
    let phi = round_to(phi_yw, 4);
    let pooled_var = |probe: &Ar1Residual| -> f64 {
        (0..CALIBRATION_SEEDS)
            .map(|seed| {
                let path = probe.sample_path(n, knot_step_s, &mut ChaCha8Rng::seed_from_u64(seed));
                let sd = std_dev(&path);
                sd * sd
            })
            .sum::<f64>()
            / CALIBRATION_SEEDS as f64
    };
    let mut residual = Ar1Residual {
        step_s: ar_step_s,
        phi,
        sigma_rps: 1.0,
    };
    // The path's variance is proportional to sigma^2: one pooled pass calibrates it.
    let calib_var = pooled_var(&residual);
    let calib_std = calib_var.sqrt();
    residual.sigma_rps = if calib_std > 0.0 {
        resid_std / calib_std
    } else {
        0.0
    };
    residual.sigma_rps = round_to(residual.sigma_rps, 1);

    let sim = residual.sample_path(
        n,
        knot_step_s,
        &mut ChaCha8Rng::seed_from_u64(VALIDATION_SEED),
    );
    let sim_sampled: Vec<f64> = sim.iter().step_by(ar_step_s as usize).copied().collect();
    let sim_rates: Vec<f64> = det
        .iter()
        .zip(&sim)
        .map(|(d, r)| (d + r).max(0.0))
        .collect();

    let fit = FitReport {
        trace_mean_rps: round_to(trace_mean, 1),
        model_mean_rps: round_to(model_mean, 1),
        mean_error_pct: round_to(pct(model_mean, trace_mean), 3),
        trace_peak_rps: round_to(max_of(rates_rps), 1),
        model_peak_rps: round_to(max_of(&det), 1),
        trace_peak_60s_rps: round_to(trace_peak_60s, 1),
        model_peak_60s_rps: round_to(model_peak_60s, 1),
        peak_60s_error_pct: round_to(pct(model_peak_60s, trace_peak_60s), 3),
        mape_60s_pct: round_to(mape_60s, 3),
        hours_compared: th.len() as u64,
        hourly_mean_max_abs_error_pct: round_to(hourly_max, 3),
        hourly_mean_mean_abs_error_pct: round_to(hourly_mean, 3),
        trace_residual_std_rps: round_to(resid_std, 1),
        trace_residual_autocorr_step: round_to(autocorr1(&sampled), 4),
        trace_per_second_change_std_rps: round_to(std_dev(&diffs(rates_rps)), 2),
        sigma_yule_walker_rps: round_to(sigma_yw, 1),
        simulated_residual_std_rps: round_to(std_dev(&sim), 1),
        simulated_residual_autocorr_step: round_to(autocorr1(&sim_sampled), 4),
        simulated_per_second_change_std_rps: round_to(std_dev(&diffs(&sim_rates)), 2),
    };
    Ok((shape, residual, fit))
}

fn quote(s: &str) -> String {
    // TOML basic string: escape backslash and quote; control characters as \u escapes.
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Fit a recorded `timestamp|value` trace. The provenance records `path` as given (put it
/// relative to where the command is run if the file is to be committed).
pub fn fit_trace(path: &Path, opts: &FitOptions) -> Result<FittedModel, WorkloadError> {
    let trace = load_trace(path)?;
    let (shape, residual, fit) = fit_rates(&trace.rates_rps, opts)?;
    let source_file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let fit_command = format!(
        "demeter-sim fit-workload {} --period-s {} --knot-step-s {} --ar-step-s {}",
        path.display(),
        shape.period_s,
        shape.knot_step_s,
        residual.step_s
    );
    Ok(FittedModel {
        provenance: Provenance {
            source_file,
            source_sha256: trace.sha256_hex.clone(),
            source_rows: trace.rows as u64,
            source_seconds: trace.duration_s(),
            source_filled_s: trace.filled_s,
            fit_command,
        },
        shape,
        residual,
        fit,
    })
}

/// Read and validate a model TOML file. Errors name `path` as given.
pub fn load_model(path: &Path) -> Result<FittedModel, WorkloadError> {
    let text = std::fs::read_to_string(path).map_err(|source| WorkloadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    FittedModel::from_toml_str(&text, path)
}

impl FittedModel {
    /// Parse and validate model TOML; `path` only names the file in errors.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<FittedModel, WorkloadError> {
        let model: FittedModel = toml::from_str(text).map_err(|e| WorkloadError::Model {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        model.validate(&format!("\"{}\"", path.display()))?;
        Ok(model)
    }

    /// Check the model's parameters; `context` names the file in errors.
    pub fn validate(&self, context: &str) -> Result<(), WorkloadError> {
        let s = &self.shape;
        if s.form != MODEL_FORM {
            return Err(WorkloadError::invalid(
                context,
                "shape.form",
                quote(&s.form),
                format!("\"{MODEL_FORM}\""),
            ));
        }
        if s.period_s == 0 || s.period_s > MAX_TRACE_S {
            return Err(WorkloadError::invalid(
                context,
                "shape.period_s",
                s.period_s,
                format!("0 < period_s <= {MAX_TRACE_S}"),
            ));
        }
        if s.knot_step_s == 0 || s.period_s % s.knot_step_s != 0 {
            return Err(WorkloadError::invalid(
                context,
                "shape.knot_step_s",
                s.knot_step_s,
                format!("a divisor of period_s = {}", s.period_s),
            ));
        }
        let m = s.period_s / s.knot_step_s;
        if s.knots_rps.len() as u64 != m || s.knots_rps.len() > MAX_KNOTS {
            return Err(WorkloadError::invalid(
                context,
                "shape.knots_rps",
                format!("{} values", s.knots_rps.len()),
                format!("period_s / knot_step_s = {m} values, at most {MAX_KNOTS}"),
            ));
        }
        if let Some((i, k)) = s
            .knots_rps
            .iter()
            .enumerate()
            .find(|(_, k)| !(k.is_finite() && k.abs() <= MAX_RATE_RPS))
        {
            return Err(WorkloadError::invalid(
                context,
                format!("shape.knots_rps[{i}]"),
                k,
                "a finite rate, |rate| <= 1e9",
            ));
        }
        let r = &self.residual;
        if r.step_s == 0 {
            return Err(WorkloadError::invalid(
                context,
                "residual.step_s",
                r.step_s,
                "a grid step in seconds > 0",
            ));
        }
        if !(r.phi.is_finite() && r.phi.abs() < 1.0) {
            return Err(WorkloadError::invalid(
                context,
                "residual.phi",
                r.phi,
                "-1 < phi < 1 (a stationary AR(1))",
            ));
        }
        if !(r.sigma_rps.is_finite() && (0.0..=MAX_RATE_RPS).contains(&r.sigma_rps)) {
            return Err(WorkloadError::invalid(
                context,
                "residual.sigma_rps",
                r.sigma_rps,
                "0 <= sigma_rps <= 1e9",
            ));
        }
        Ok(())
    }

    /// Per-second rates for `duration_s` seconds: the spline (wrapping around its period),
    /// plus the AR(1) residual drawn from `rng` when `with_residual`, clamped at 0.
    pub fn materialise(
        &self,
        duration_s: u64,
        with_residual: bool,
        rng: &mut impl Rng,
    ) -> Vec<f64> {
        let period = self.shape.one_period_rps();
        let p = period.len();
        if with_residual {
            let r = self
                .residual
                .sample_path(duration_s, self.shape.knot_step_s, rng);
            r.iter()
                .enumerate()
                .map(|(s, r)| (period[s % p] + r).max(0.0))
                .collect()
        } else {
            (0..duration_s as usize)
                .map(|s| period[s % p].max(0.0))
                .collect()
        }
    }

    /// The model as TOML with a comment on every number saying where it came from.
    /// `from_toml_str(to_toml_string())` gives back an equal model.
    pub fn to_toml_string(&self) -> String {
        let p = &self.provenance;
        let s = &self.shape;
        let r = &self.residual;
        let f = &self.fit;
        let mut o = String::new();
        o.push_str(
            "# demeter-sim workload model: a compact fit of a recorded `timestamp|value` trace.\n\
             # Written by `demeter-sim fit-workload` (src/workload/model.rs); refit it, do not edit it.\n\
             #\n\
             # Form \"periodic-histospline-ar1\": the rate at simulated second s is\n\
             #   max(0, spline(s mod period_s) + residual(s)), then x scale and x (1 + U(-noise, +noise)).\n\
             # spline: periodic Catmull-Rom curve through knots_rps; knot j sits at the centre of the bin\n\
             #   [j*knot_step_s, (j+1)*knot_step_s). The knot values were solved so that the curve's mean over\n\
             #   every bin equals the trace's mean over that bin (all periods of the trace pooled).\n\
             # residual: AR(1) x[k+1] = phi*x[k] + sigma_rps*N(0,1) on a grid of step_s seconds, Catmull-Rom\n\
             #   interpolated, minus its mean over every knot bin (as a smooth bump), so it adds the trace's\n\
             #   within-bin variability without moving the bin means.\n\n",
        );
        o.push_str("[provenance]\n");
        o.push_str(&format!(
            "source_file = {}  # the fitted trace (not in this repository)\n",
            quote(&p.source_file)
        ));
        o.push_str(&format!(
            "source_sha256 = {}  # SHA-256 of the trace file's bytes\n",
            quote(&p.source_sha256)
        ));
        o.push_str(&format!(
            "source_rows = {}  # data lines in the trace file\n",
            p.source_rows
        ));
        o.push_str(&format!(
            "source_seconds = {}  # seconds the trace spans after filling gaps\n",
            p.source_seconds
        ));
        o.push_str(&format!(
            "source_filled_s = {}  # seconds filled by holding the previous value\n",
            p.source_filled_s
        ));
        o.push_str(&format!(
            "fit_command = {}  # run from the repository root, plus --out FILE\n\n",
            quote(&p.fit_command)
        ));

        o.push_str("[shape]\n");
        o.push_str(&format!("form = {}\n", quote(&s.form)));
        o.push_str(&format!(
            "period_s = {}  # --period-s: the model repeats with this period\n",
            s.period_s
        ));
        o.push_str(&format!(
            "knot_step_s = {}  # --knot-step-s: width of a knot bin\n",
            s.knot_step_s
        ));
        o.push_str(&format!(
            "# {} knots, records per second, solved by the mean-preserving fit, rounded to 0.1;\n\
             # knot j is centred at second (j + 0.5) * {} of the period; 6 per line.\n",
            s.knots_rps.len(),
            s.knot_step_s
        ));
        o.push_str("knots_rps = [\n");
        for chunk in s.knots_rps.chunks(6) {
            let line: Vec<String> = chunk.iter().map(|k| format!("{k:.1}")).collect();
            o.push_str(&format!("  {},\n", line.join(", ")));
        }
        o.push_str("]\n\n");

        o.push_str("[residual]\n");
        o.push_str(&format!(
            "step_s = {}  # --ar-step-s: AR(1) grid step, Catmull-Rom interpolated between nodes\n",
            r.step_s
        ));
        o.push_str(&format!(
            "phi = {:.4}  # Yule-Walker: lag-1 autocorrelation of the trace residual sampled every step_s (fit.trace_residual_autocorr_step), rounded to 1e-4\n",
            r.phi
        ));
        o.push_str(&format!(
            "sigma_rps = {:.1}  # innovation s.d., calibrated so simulated residuals (seeds 0..{}, pooled) have the trace residual's s.d. (fit.trace_residual_std_rps); rounded to 0.1\n\n",
            r.sigma_rps, CALIBRATION_SEEDS
        ));

        o.push_str(&format!(
            "[fit]\n\
             # Accuracy measured by the fit on the source trace. Deterministic part = the spline alone,\n\
             # compared second by second over the whole trace. Windows are consecutive and full\n\
             # (a trailing partial minute or hour is left out). \"simulated\" = a residual path drawn with\n\
             # seed {VALIDATION_SEED} over the trace length.\n"
        ));
        let lines: [(&str, String, &str); 19] = [
            (
                "trace_mean_rps",
                format!("{:.1}", f.trace_mean_rps),
                "mean of the trace",
            ),
            (
                "model_mean_rps",
                format!("{:.1}", f.model_mean_rps),
                "mean of the spline over the trace's seconds",
            ),
            (
                "mean_error_pct",
                format!("{:.3}", f.mean_error_pct),
                "100 (model - trace) / trace",
            ),
            (
                "trace_peak_rps",
                format!("{:.1}", f.trace_peak_rps),
                "largest per-second value of the trace",
            ),
            (
                "model_peak_rps",
                format!("{:.1}", f.model_peak_rps),
                "largest per-second value of the spline",
            ),
            (
                "trace_peak_60s_rps",
                format!("{:.1}", f.trace_peak_60s_rps),
                "largest 60-s mean of the trace",
            ),
            (
                "model_peak_60s_rps",
                format!("{:.1}", f.model_peak_60s_rps),
                "largest 60-s mean of the spline",
            ),
            (
                "peak_60s_error_pct",
                format!("{:.3}", f.peak_60s_error_pct),
                "100 (model - trace) / trace of the two above",
            ),
            (
                "mape_60s_pct",
                format!("{:.3}", f.mape_60s_pct),
                "mean over minutes of 100 |model - trace| / trace, 60-s means",
            ),
            (
                "hours_compared",
                format!("{}", f.hours_compared),
                "full hours in the trace",
            ),
            (
                "hourly_mean_max_abs_error_pct",
                format!("{:.3}", f.hourly_mean_max_abs_error_pct),
                "largest 100 |model - trace| / trace over hourly means",
            ),
            (
                "hourly_mean_mean_abs_error_pct",
                format!("{:.3}", f.hourly_mean_mean_abs_error_pct),
                "average of the same over hours",
            ),
            (
                "trace_residual_std_rps",
                format!("{:.1}", f.trace_residual_std_rps),
                "s.d. of trace - spline, per second",
            ),
            (
                "trace_residual_autocorr_step",
                format!("{:.4}", f.trace_residual_autocorr_step),
                "lag-1 autocorrelation of that residual sampled every step_s",
            ),
            (
                "trace_per_second_change_std_rps",
                format!("{:.2}", f.trace_per_second_change_std_rps),
                "s.d. of the trace's second-to-second change",
            ),
            (
                "sigma_yule_walker_rps",
                format!("{:.1}", f.sigma_yule_walker_rps),
                "plain Yule-Walker innovation s.d. (before calibration), for reference",
            ),
            (
                "simulated_residual_std_rps",
                format!("{:.1}", f.simulated_residual_std_rps),
                "s.d. of a simulated residual (compare trace_residual_std_rps)",
            ),
            (
                "simulated_residual_autocorr_step",
                format!("{:.4}", f.simulated_residual_autocorr_step),
                "its lag-1 autocorrelation every step_s (compare trace_residual_autocorr_step)",
            ),
            (
                "simulated_per_second_change_std_rps",
                format!("{:.2}", f.simulated_per_second_change_std_rps),
                "s.d. of the second-to-second change of max(0, spline + simulated residual)",
            ),
        ];
        for (key, value, why) in lines {
            o.push_str(&format!("{key} = {value}  # {why}\n"));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted(rates: &[f64], opts: &FitOptions) -> FittedModel {
        let (shape, residual, fit) = fit_rates(rates, opts).unwrap();
        FittedModel {
            provenance: Provenance {
                source_file: "synthetic \"x\".csv".into(),
                source_sha256: "00".into(),
                source_rows: rates.len() as u64,
                source_seconds: rates.len() as u64,
                source_filled_s: 0,
                fit_command: "demeter-sim fit-workload x.csv".into(),
            },
            shape,
            residual,
            fit,
        }
    }

    #[test]
    fn cr_weights_interpolate_and_sum_to_one() {
        for u in [0.0, 0.25, 0.5, 0.9] {
            let w = cr_weights(u);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(cr_weights(0.0), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn constant_trace_fits_exactly() {
        let rates = vec![500.0; 7200];
        let m = fitted(
            &rates,
            &FitOptions {
                period_s: Some(3600),
                knot_step_s: 600,
                ar_step_s: 60,
            },
        );
        assert_eq!(m.shape.knots_rps, vec![500.0; 6]);
        assert_eq!(m.fit.mean_error_pct, 0.0);
        assert_eq!(m.fit.mape_60s_pct, 0.0);
        assert_eq!(m.residual.sigma_rps, 0.0);
        assert_eq!(m.fit.hours_compared, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let w = m.materialise(10_000, true, &mut rng);
        assert!(w.iter().all(|v| (v - 500.0).abs() < 1e-9));
    }

    #[test]
    fn periodic_shape_is_recovered_and_bin_means_are_preserved() {
        // A smooth daily-like cycle of 6000 s repeated 3 times, plus a deterministic wiggle.
        let rates: Vec<f64> = (0..18_000)
            .map(|t| {
                let x = std::f64::consts::TAU * t as f64 / 6000.0;
                1000.0 + 400.0 * x.sin() + 30.0 * (t as f64 / 37.0).sin()
            })
            .collect();
        let opts = FitOptions {
            period_s: Some(6000),
            knot_step_s: 300,
            ar_step_s: 30,
        };
        let m = fitted(&rates, &opts);
        assert_eq!(m.shape.knots_rps.len(), 20);
        assert!(m.fit.mean_error_pct.abs() < 0.01, "{:?}", m.fit);
        assert!(m.fit.hourly_mean_max_abs_error_pct < 0.1, "{:?}", m.fit);
        assert!(m.fit.mape_60s_pct < 3.0, "{:?}", m.fit);
        // Bin means of a materialised path (with residual) equal the spline's bin means.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let with = m.materialise(6000, true, &mut rng);
        let without = m.materialise(6000, false, &mut rng);
        for (a, b) in window_means(&with, 300)
            .iter()
            .zip(window_means(&without, 300))
        {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn materialise_is_deterministic_per_seed() {
        let rates: Vec<f64> = (0..7200).map(|t| 100.0 + (t % 97) as f64).collect();
        let m = fitted(&rates, &FitOptions::default_for_test());
        let a = m.materialise(5000, true, &mut ChaCha8Rng::seed_from_u64(1));
        let b = m.materialise(5000, true, &mut ChaCha8Rng::seed_from_u64(1));
        let c = m.materialise(5000, true, &mut ChaCha8Rng::seed_from_u64(2));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|v| *v >= 0.0 && v.is_finite()));
    }

    impl FitOptions {
        fn default_for_test() -> Self {
            FitOptions {
                period_s: None,
                knot_step_s: 600,
                ar_step_s: 60,
            }
        }
    }

    #[test]
    fn toml_round_trips_exactly() {
        let rates: Vec<f64> = (0..7200)
            .map(|t| 100.0 + 50.0 * (t as f64 / 500.0).sin())
            .collect();
        let m = fitted(&rates, &FitOptions::default_for_test());
        let text = m.to_toml_string();
        let back = FittedModel::from_toml_str(&text, Path::new("m.toml")).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_toml_string(), text);
    }

    #[test]
    fn bad_models_are_rejected_with_the_key() {
        let rates: Vec<f64> = (0..7200).map(|t| 100.0 + (t % 60) as f64).collect();
        let text = fitted(&rates, &FitOptions::default_for_test()).to_toml_string();
        let path = Path::new("m.toml");
        let e = FittedModel::from_toml_str(&text.replace("phi = ", "phi = 1.5 #"), path)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("\"m.toml\": residual.phi = 1.5 is invalid"),
            "{e}"
        );
        let e = FittedModel::from_toml_str(&text.replace("[fit]", "[fit]\nextra = 1"), path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"m.toml\": not a valid workload model") && e.contains("extra"),
            "{e}"
        );
        let e = FittedModel::from_toml_str(
            &text.replace("knot_step_s = 600", "knot_step_s = 700"),
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("shape.knot_step_s = 700"), "{e}");
        assert!(FittedModel::from_toml_str("not toml", path).is_err());
    }

    #[test]
    fn fit_options_are_validated() {
        let rates = vec![1.0; 1001];
        let bad = |period_s, knot_step_s, ar_step_s| {
            fit_rates(
                &rates,
                &FitOptions {
                    period_s,
                    knot_step_s,
                    ar_step_s,
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(bad(Some(2000), 100, 10).contains("period_s = 2000"));
        assert!(bad(Some(1000), 300, 10).contains("knot_step_s = 300"));
        assert!(bad(Some(1000), 100, 400).contains("ar_step_s = 400"));
        assert!(bad(Some(1000), 0, 10).contains("knot_step_s = 0"));
        assert!(bad(Some(1000), 100, 0).contains("ar_step_s = 0"));
        assert!(bad(None, 1, 10).contains("at most 1000 knots"));
    }
}
