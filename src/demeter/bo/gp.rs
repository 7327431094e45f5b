//! Exact GP regression with fixed per-point noise (BoTorch `FixedNoiseGP`, research/demeter.md
//! §4.4): Matern-5/2 ARD kernel times an output scale, constant mean, outputs standardised,
//! hyperparameters by maximum a posteriori (log marginal likelihood + Gamma priors) with
//! multi-start L-BFGS (argmin) on analytic gradients.
//!
//! Conventions: inputs live in [0, 1]^d (the priors assume it); `y` and `noise_var` are in the
//! caller's units (noise as variance, e.g. 0.01 for Demeter's SEM 0.1); predictions come back in
//! the same units and are of the latent function (no noise added). Internally
//! `y_std = (y - offset) / scale` and `noise_std = noise_var / scale^2`.

use super::linalg::{cholesky_jittered, inverse_from_cholesky, solve_lower, solve_lower_vec};
use super::{BoError, PosteriorBlocks, Surrogate};
use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Gamma};
use statrs::function::gamma::ln_gamma;
use std::cell::RefCell;

const SQRT5: f64 = 2.236_067_977_499_79;

/// A Gamma(concentration, rate) prior on a positive hyperparameter (gpytorch's `GammaPrior`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaPrior {
    pub concentration: f64,
    pub rate: f64,
}

impl GammaPrior {
    /// The density's maximum: (concentration - 1) / rate (for concentration >= 1).
    pub fn mode(&self) -> f64 {
        ((self.concentration - 1.0) / self.rate).max(1e-3)
    }

    /// ln p(v).
    pub fn ln_pdf(&self, v: f64) -> f64 {
        self.concentration * self.rate.ln() - ln_gamma(self.concentration)
            + (self.concentration - 1.0) * v.ln()
            - self.rate * v
    }

    /// d ln p(v) / d ln v (no Jacobian term: the prior is on v itself, as in gpytorch).
    fn dln_pdf_dlog(&self, v: f64) -> f64 {
        (self.concentration - 1.0) - self.rate * v
    }
}

/// BoTorch 0.6 default length-scale prior: Gamma(3, 6) (mean 0.5, mode 1/3).
pub const LENGTHSCALE_PRIOR: GammaPrior = GammaPrior {
    concentration: 3.0,
    rate: 6.0,
};

/// BoTorch 0.6 default output-scale prior: Gamma(2, 0.15) (mean 13.3, mode 6.67).
pub const OUTPUTSCALE_PRIOR: GammaPrior = GammaPrior {
    concentration: 2.0,
    rate: 0.15,
};

/// Search box for the optimiser, in log space: ln length scale and ln output scale. The priors
/// keep the optimum well inside; the box only stops line searches from overflowing.
const LN_LENGTHSCALE_BOUNDS: (f64, f64) = (-9.2, 9.2); // 1e-4 .. 1e4
const LN_OUTPUTSCALE_BOUNDS: (f64, f64) = (-13.8, 13.8); // 1e-6 .. 1e6
/// Quadratic penalty per unit (in log space) outside the search box.
const BOX_PENALTY: f64 = 100.0;
/// BoTorch `Standardize`: a standard deviation below this is replaced by 1.
const MIN_STD: f64 = 1e-8;

/// Kernel and mean hyperparameters, in standardised output units.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyperparameters {
    /// One length scale per input dimension (inputs in [0, 1]).
    pub lengthscales: Vec<f64>,
    /// Kernel variance (ScaleKernel output scale) of the standardised outputs.
    pub outputscale: f64,
    /// The constant mean of the standardised outputs.
    pub mean_constant: f64,
}

/// The affine output standardisation: `y_std = (y - offset) / scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputTransform {
    pub offset: f64,
    pub scale: f64,
}

impl OutputTransform {
    /// Mean and sample standard deviation (n - 1) of `y`, as BoTorch's `Standardize`. Fallback:
    /// scale 1 when there is one point or the standard deviation is below 1e-8 (constant y).
    pub fn from_data(y: &Array1<f64>) -> Self {
        let n = y.len();
        if n == 0 {
            return OutputTransform {
                offset: 0.0,
                scale: 1.0,
            };
        }
        let offset = y.sum() / n as f64;
        let scale = if n < 2 {
            1.0
        } else {
            let var = y.iter().map(|v| (v - offset).powi(2)).sum::<f64>() / (n - 1) as f64;
            let sd = var.sqrt();
            if sd >= MIN_STD {
                sd
            } else {
                1.0
            }
        };
        OutputTransform { offset, scale }
    }
}

/// Settings of the hyperparameter fit.
#[derive(Debug, Clone, PartialEq)]
pub struct GpConfig {
    /// Random starts drawn from the priors, in addition to the start at the prior modes.
    pub random_starts: usize,
    /// L-BFGS iterations per start.
    pub max_iters: u64,
    pub lengthscale_prior: GammaPrior,
    pub outputscale_prior: GammaPrior,
}

impl Default for GpConfig {
    fn default() -> Self {
        GpConfig {
            random_starts: 2,
            max_iters: 50,
            lengthscale_prior: LENGTHSCALE_PRIOR,
            outputscale_prior: OUTPUTSCALE_PRIOR,
        }
    }
}

/// A fitted (or explicitly parameterised) GP posterior.
#[derive(Debug, Clone)]
pub struct GaussianProcess {
    x: Array2<f64>,
    y_std: Array1<f64>,
    noise_std: Array1<f64>,
    hyper: Hyperparameters,
    transform: OutputTransform,
    /// Lower Cholesky factor of K = outputscale * R + diag(noise_std) + jitter * I.
    chol: Array2<f64>,
    /// K^{-1} (y_std - mean_constant).
    alpha: Array1<f64>,
    jitter: f64,
    ln_marginal_likelihood: f64,
}

/// The Matern-5/2 correlation at scaled distance r.
fn matern52(r: f64) -> f64 {
    (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * (-SQRT5 * r).exp()
}

/// `outputscale * R(a, b)`: the kernel between the rows of `a` and `b`.
fn kernel(a: &Array2<f64>, b: &Array2<f64>, lengthscales: &[f64], outputscale: f64) -> Array2<f64> {
    let inv: Vec<f64> = lengthscales.iter().map(|l| 1.0 / l).collect();
    let scale = |m: &Array2<f64>| {
        let mut s = m.clone();
        for mut row in s.rows_mut() {
            for (v, w) in row.iter_mut().zip(&inv) {
                *v *= w;
            }
        }
        s
    };
    let (sa, sb) = (scale(a), scale(b));
    let mut k = Array2::zeros((a.nrows(), b.nrows()));
    for (i, ra) in sa.rows().into_iter().enumerate() {
        for (j, rb) in sb.rows().into_iter().enumerate() {
            let r2: f64 = ra
                .iter()
                .zip(rb.iter())
                .map(|(p, q)| (p - q) * (p - q))
                .sum();
            k[[i, j]] = outputscale * matern52(r2.sqrt());
        }
    }
    k
}

fn validate(x: &Array2<f64>, y: &Array1<f64>, noise_var: &Array1<f64>) -> Result<(), BoError> {
    let n = x.nrows();
    if n == 0 {
        return Err(BoError::NoData);
    }
    if x.ncols() == 0 || y.len() != n || noise_var.len() != n {
        return Err(BoError::Shape(format!(
            "x is {}x{}, y has {}, noise_var has {} entries",
            n,
            x.ncols(),
            y.len(),
            noise_var.len()
        )));
    }
    if x.iter()
        .chain(y.iter())
        .chain(noise_var.iter())
        .any(|v| !v.is_finite())
    {
        return Err(BoError::NonFinite);
    }
    if noise_var.iter().any(|v| *v < 0.0) {
        return Err(BoError::NegativeNoise);
    }
    Ok(())
}

/// A cached evaluation: (theta, cost, gradient).
type Evaluation = (Vec<f64>, f64, Vec<f64>);

/// The negative log posterior of the hyperparameters (constant mean profiled out by its
/// generalised-least-squares value, which is its exact maximiser), with its gradient in
/// theta = (ln lengthscale_1..d, ln outputscale).
struct MapObjective<'a> {
    y: &'a Array1<f64>,
    noise: &'a Array1<f64>,
    /// Input dimension.
    d: usize,
    /// The squared differences (x_ak - x_bk)^2 of every pair, at `(a * n + b) * d + k`.
    sqdiff: Vec<f64>,
    config: &'a GpConfig,
    cache: RefCell<Option<Evaluation>>,
}

impl<'a> MapObjective<'a> {
    fn new(
        x: &Array2<f64>,
        y: &'a Array1<f64>,
        noise: &'a Array1<f64>,
        config: &'a GpConfig,
    ) -> Self {
        let (n, d) = x.dim();
        let mut sqdiff = Vec::with_capacity(n * n * d);
        for a in 0..n {
            for b in 0..n {
                sqdiff.extend((0..d).map(|k| (x[[a, k]] - x[[b, k]]).powi(2)));
            }
        }
        MapObjective {
            y,
            noise,
            d,
            sqdiff,
            config,
            cache: RefCell::new(None),
        }
    }

    fn bounds(&self, i: usize) -> (f64, f64) {
        if i < self.d {
            LN_LENGTHSCALE_BOUNDS
        } else {
            LN_OUTPUTSCALE_BOUNDS
        }
    }

    /// (cost, gradient), penalised outside the search box; `None` if K is not factorable.
    fn eval(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)> {
        if let Some((t, c, g)) = self.cache.borrow().as_ref() {
            if t.as_slice() == theta {
                return Some((*c, g.clone()));
            }
        }
        let clamped: Vec<f64> = theta
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (lo, hi) = self.bounds(i);
                t.clamp(lo, hi)
            })
            .collect();
        let (mut cost, mut grad) = self.eval_inside(&clamped)?;
        for i in 0..theta.len() {
            let excess = theta[i] - clamped[i];
            if excess != 0.0 {
                grad[i] = BOX_PENALTY * 2.0 * excess;
                cost += BOX_PENALTY * excess * excess;
            }
        }
        *self.cache.borrow_mut() = Some((theta.to_vec(), cost, grad.clone()));
        Some((cost, grad))
    }

    fn eval_inside(&self, theta: &[f64]) -> Option<(f64, Vec<f64>)> {
        let d = self.d;
        let n = self.y.len();
        let ls: Vec<f64> = theta[..d].iter().map(|t| t.exp()).collect();
        let s2 = theta[d].exp();
        let inv_ls2: Vec<f64> = ls.iter().map(|l| 1.0 / (l * l)).collect();
        // R and the derivative factor (5/3)(1 + sqrt5 r) exp(-sqrt5 r) per pair (row-major).
        let mut r_mat = vec![0.0; n * n];
        let mut dfac = vec![0.0; n * n];
        for a in 0..n {
            for b in 0..=a {
                let sq = &self.sqdiff[(a * n + b) * d..(a * n + b + 1) * d];
                let r2: f64 = sq.iter().zip(&inv_ls2).map(|(s, w)| s * w).sum();
                let r = r2.sqrt();
                let e = (-SQRT5 * r).exp();
                let rv = (1.0 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
                let dv = 5.0 / 3.0 * (1.0 + SQRT5 * r) * e;
                r_mat[a * n + b] = rv;
                r_mat[b * n + a] = rv;
                dfac[a * n + b] = dv;
                dfac[b * n + a] = dv;
            }
        }
        let mut k = Array2::from_shape_fn((n, n), |(a, b)| r_mat[a * n + b] * s2);
        for i in 0..n {
            k[[i, i]] += self.noise[i];
        }
        let (l, _) = cholesky_jittered(&k)?;
        let kinv = inverse_from_cholesky(&l);
        let ones_k = kinv.sum_axis(Axis(0));
        let mean = gls_mean(&ones_k, self.y);
        let resid = self.y.mapv(|v| v - mean);
        let alpha = kinv.dot(&resid);
        let ln_det_half: f64 = l.diag().iter().map(|v| v.ln()).sum();
        let lml = -0.5 * resid.dot(&alpha)
            - ln_det_half
            - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        let lp_prior = ls
            .iter()
            .map(|l| self.config.lengthscale_prior.ln_pdf(*l))
            .sum::<f64>()
            + self.config.outputscale_prior.ln_pdf(s2);
        // d lml / d theta_j = 1/2 sum_ab W_ab dK_ab/dtheta_j with W = alpha alpha^T - K^{-1}.
        let mut grad = vec![0.0; d + 1];
        let mut g_s2 = 0.0;
        let kinv = kinv.as_standard_layout();
        let (kinv, alpha) = (kinv.as_slice()?, alpha.as_slice()?);
        for a in 0..n {
            for b in 0..n {
                let ab = a * n + b;
                let w = alpha[a] * alpha[b] - kinv[ab];
                g_s2 += w * r_mat[ab];
                let wd = w * dfac[ab];
                for (g, sq) in grad[..d].iter_mut().zip(&self.sqdiff[ab * d..ab * d + d]) {
                    *g += wd * sq;
                }
            }
        }
        for kk in 0..d {
            grad[kk] = 0.5 * s2 * grad[kk] * inv_ls2[kk]
                + self.config.lengthscale_prior.dln_pdf_dlog(ls[kk]);
        }
        grad[d] = 0.5 * s2 * g_s2 + self.config.outputscale_prior.dln_pdf_dlog(s2);
        let cost = -(lml + lp_prior);
        if !cost.is_finite() || grad.iter().any(|g| !g.is_finite()) {
            return None;
        }
        Some((cost, grad.into_iter().map(|g| -g).collect()))
    }
}

/// Cost reported where K cannot be factored: large, so line searches back off.
const FAILED_COST: f64 = 1e12;

impl CostFunction for MapObjective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.eval(theta).map_or(FAILED_COST, |(c, _)| c))
    }
}

impl Gradient for MapObjective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self
            .eval(theta)
            .map_or_else(|| vec![0.0; theta.len()], |(_, g)| g))
    }
}

/// The GLS constant mean 1^T K^{-1} y / 1^T K^{-1} 1 given the column sums of K^{-1}.
fn gls_mean(kinv_ones: &Array1<f64>, y: &Array1<f64>) -> f64 {
    let den = kinv_ones.sum();
    if den.abs() > 0.0 && den.is_finite() {
        kinv_ones.dot(y) / den
    } else {
        0.0
    }
}

fn run_lbfgs(
    objective: &MapObjective<'_>,
    start: Vec<f64>,
    max_iters: u64,
) -> Option<(Vec<f64>, f64)> {
    let linesearch = MoreThuenteLineSearch::new();
    let solver = LBFGS::new(linesearch, 7)
        .with_tolerance_grad(1e-5)
        .ok()?
        .with_tolerance_cost(1e-9)
        .ok()?;
    let res = Executor::new(objective, solver)
        .configure(|state| state.param(start).max_iters(max_iters))
        .timer(false)
        .run()
        .ok()?;
    let state = res.state();
    let best = state.get_best_param()?.clone();
    let cost = state.get_best_cost();
    cost.is_finite().then_some((best, cost))
}

impl CostFunction for &MapObjective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, theta: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        (**self).cost(theta)
    }
}

impl Gradient for &MapObjective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, theta: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        (**self).gradient(theta)
    }
}

impl GaussianProcess {
    /// Fits with [`GpConfig::default`]: MAP hyperparameters from the prior modes plus two
    /// random starts drawn from the priors (seeded by `rng`), best posterior kept.
    pub fn fit<R: Rng + ?Sized>(
        x: &Array2<f64>,
        y: &Array1<f64>,
        noise_var: &Array1<f64>,
        rng: &mut R,
    ) -> Result<Self, BoError> {
        Self::fit_with_config(x, y, noise_var, &GpConfig::default(), rng)
    }

    /// Fits with explicit settings. Errors on empty, mis-shaped, non-finite or negative-noise
    /// input. Degenerate data are fitted, not refused: one point or constant `y` (scale 1, see
    /// [`OutputTransform::from_data`]) give a constant mean with the prior-driven variance;
    /// duplicate points are handled by the noise and, if needed, jitter.
    pub fn fit_with_config<R: Rng + ?Sized>(
        x: &Array2<f64>,
        y: &Array1<f64>,
        noise_var: &Array1<f64>,
        config: &GpConfig,
        rng: &mut R,
    ) -> Result<Self, BoError> {
        validate(x, y, noise_var)?;
        let d = x.ncols();
        let transform = OutputTransform::from_data(y);
        let y_std = y.mapv(|v| (v - transform.offset) / transform.scale);
        let noise_std = noise_var.mapv(|v| v / (transform.scale * transform.scale));
        let objective = MapObjective::new(x, &y_std, &noise_std, config);

        let mode_start: Vec<f64> = std::iter::repeat_n(config.lengthscale_prior.mode().ln(), d)
            .chain([config.outputscale_prior.mode().ln()])
            .collect();
        let mut starts = vec![mode_start.clone()];
        let ls_dist = gamma_dist(config.lengthscale_prior);
        let os_dist = gamma_dist(config.outputscale_prior);
        for _ in 0..config.random_starts {
            let mut s: Vec<f64> = (0..d)
                .map(|_| ls_dist.map_or(mode_start[0], |g| g.sample(rng).max(1e-3).ln()))
                .collect();
            s.push(os_dist.map_or(mode_start[d], |g| g.sample(rng).max(1e-3).ln()));
            starts.push(s);
        }

        let mut best: Option<(Vec<f64>, f64)> = None;
        for start in starts {
            let mut candidate = objective.eval(&start).map(|(c, _)| (start.clone(), c));
            if let Some((theta, cost)) = run_lbfgs(&objective, start, config.max_iters) {
                if candidate.as_ref().is_none_or(|(_, c)| cost < *c) {
                    candidate = Some((theta, cost));
                }
            }
            if let Some((theta, cost)) = candidate {
                if best.as_ref().is_none_or(|(_, c)| cost < *c) {
                    best = Some((theta, cost));
                }
            }
        }
        // Fallback when no start could be evaluated: the prior modes.
        let theta = best.map_or(mode_start, |(t, _)| t);
        let lengthscales = theta[..d]
            .iter()
            .map(|t| {
                t.clamp(LN_LENGTHSCALE_BOUNDS.0, LN_LENGTHSCALE_BOUNDS.1)
                    .exp()
            })
            .collect();
        let outputscale = theta[d]
            .clamp(LN_OUTPUTSCALE_BOUNDS.0, LN_OUTPUTSCALE_BOUNDS.1)
            .exp();
        Self::assemble(
            x,
            y_std,
            noise_std,
            lengthscales,
            outputscale,
            None,
            transform,
        )
    }

    /// A posterior with given hyperparameters (no fitting). `transform` `None` standardises from
    /// the data; pass a fitted model's transform to reproduce it exactly on other data.
    pub fn with_hyperparameters(
        x: &Array2<f64>,
        y: &Array1<f64>,
        noise_var: &Array1<f64>,
        hyper: &Hyperparameters,
        transform: Option<OutputTransform>,
    ) -> Result<Self, BoError> {
        validate(x, y, noise_var)?;
        if hyper.lengthscales.len() != x.ncols() {
            return Err(BoError::Shape(format!(
                "{} length scales for {} input dimensions",
                hyper.lengthscales.len(),
                x.ncols()
            )));
        }
        let positive = |v: f64| v > 0.0 && v.is_finite();
        if !hyper.lengthscales.iter().all(|l| positive(*l))
            || !positive(hyper.outputscale)
            || !hyper.mean_constant.is_finite()
        {
            return Err(BoError::Hyperparameters);
        }
        let transform = transform.unwrap_or_else(|| OutputTransform::from_data(y));
        if !positive(transform.scale) || !transform.offset.is_finite() {
            return Err(BoError::Hyperparameters);
        }
        let y_std = y.mapv(|v| (v - transform.offset) / transform.scale);
        let noise_std = noise_var.mapv(|v| v / (transform.scale * transform.scale));
        Self::assemble(
            x,
            y_std,
            noise_std,
            hyper.lengthscales.clone(),
            hyper.outputscale,
            Some(hyper.mean_constant),
            transform,
        )
    }

    fn assemble(
        x: &Array2<f64>,
        y_std: Array1<f64>,
        noise_std: Array1<f64>,
        lengthscales: Vec<f64>,
        outputscale: f64,
        mean_constant: Option<f64>,
        transform: OutputTransform,
    ) -> Result<Self, BoError> {
        let n = x.nrows();
        let mut k = kernel(x, x, &lengthscales, outputscale);
        for i in 0..n {
            k[[i, i]] += noise_std[i];
        }
        let (chol, jitter) = cholesky_jittered(&k).ok_or(BoError::NotPositiveDefinite)?;
        let mean_constant = mean_constant.unwrap_or_else(|| {
            let kinv = inverse_from_cholesky(&chol);
            gls_mean(&kinv.sum_axis(Axis(0)), &y_std)
        });
        let resid = y_std.mapv(|v| v - mean_constant);
        let half = solve_lower_vec(&chol, &resid);
        let alpha = super::linalg::solve_upper_t_vec(&chol, &half);
        let ln_marginal_likelihood = -0.5 * half.dot(&half)
            - chol.diag().iter().map(|v| v.ln()).sum::<f64>()
            - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
        Ok(GaussianProcess {
            x: x.clone(),
            y_std,
            noise_std,
            hyper: Hyperparameters {
                lengthscales,
                outputscale,
                mean_constant,
            },
            transform,
            chol,
            alpha,
            jitter,
            ln_marginal_likelihood,
        })
    }

    pub fn hyperparameters(&self) -> &Hyperparameters {
        &self.hyper
    }

    pub fn output_transform(&self) -> OutputTransform {
        self.transform
    }

    /// Training inputs.
    pub fn train_x(&self) -> &Array2<f64> {
        &self.x
    }

    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }

    /// Jitter added to K's diagonal (standardised units) to factor it; 0 normally.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// ln p(y_std | hyperparameters) of the standardised training outputs.
    pub fn ln_marginal_likelihood(&self) -> f64 {
        self.ln_marginal_likelihood
    }

    /// `v = L^{-1} k(X, x)` (n x m) and the prior variances at `x` are all predictions need.
    fn solve_cross(&self, x: &Array2<f64>) -> Array2<f64> {
        let k = kernel(&self.x, x, &self.hyper.lengthscales, self.hyper.outputscale);
        solve_lower(&self.chol, &k)
    }

    fn nan_pair(m: usize) -> (Array1<f64>, Array1<f64>) {
        (
            Array1::from_elem(m, f64::NAN),
            Array1::from_elem(m, f64::NAN),
        )
    }

    /// Closed-form leave-one-out predictions at the training points (Rasmussen & Williams
    /// eq. 5.12), same hyperparameters and standardisation: mean y_i - [K^{-1} r]_i /
    /// [K^{-1}]_ii and latent variance 1/[K^{-1}]_ii - noise_i (original units).
    pub fn loo_predict(&self) -> (Array1<f64>, Array1<f64>) {
        let kinv = inverse_from_cholesky(&self.chol);
        let t = self.transform;
        let n = self.x.nrows();
        let mut mean = Array1::zeros(n);
        let mut var = Array1::zeros(n);
        for i in 0..n {
            let kii = kinv[[i, i]];
            let m_std = self.y_std[i] - self.alpha[i] / kii;
            let v_std = (1.0 / kii - self.noise_std[i] - self.jitter).max(0.0);
            mean[i] = m_std * t.scale + t.offset;
            var[i] = v_std * t.scale * t.scale;
        }
        (mean, var)
    }
}

fn gamma_dist(prior: GammaPrior) -> Option<Gamma<f64>> {
    Gamma::new(prior.concentration, 1.0 / prior.rate).ok()
}

impl Surrogate for GaussianProcess {
    /// Posterior mean and latent variance; `NaN`s if `x` has the wrong number of columns.
    fn predict(&self, x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
        if x.ncols() != self.dim() {
            return Self::nan_pair(x.nrows());
        }
        let k = kernel(x, &self.x, &self.hyper.lengthscales, self.hyper.outputscale);
        let v = solve_lower(&self.chol, &k.t().to_owned());
        let t = self.transform;
        let mean = k
            .dot(&self.alpha)
            .mapv(|m| (m + self.hyper.mean_constant) * t.scale + t.offset);
        let var = v
            .map_axis(Axis(0), |col| {
                (self.hyper.outputscale - col.dot(&col)).max(0.0)
            })
            .mapv(|s| s * t.scale * t.scale);
        (mean, var)
    }

    fn covariance(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        if a.ncols() != self.dim() || b.ncols() != self.dim() {
            return Array2::from_elem((a.nrows(), b.nrows()), f64::NAN);
        }
        let s2 = self.transform.scale * self.transform.scale;
        let prior = kernel(a, b, &self.hyper.lengthscales, self.hyper.outputscale);
        let va = self.solve_cross(a);
        let vb = self.solve_cross(b);
        (prior - va.t().dot(&vb)).mapv(|v| v * s2)
    }

    fn sample_joint(&self, x: &Array2<f64>, n: usize, rng: &mut dyn RngCore) -> Array2<f64> {
        super::sample_mvn(self, x, n, rng)
    }

    /// One kernel block and one triangular solve per point set.
    fn blocks(&self, a: &Array2<f64>, b: &Array2<f64>) -> PosteriorBlocks {
        if a.ncols() != self.dim() || b.ncols() != self.dim() {
            let mut out = PosteriorBlocks::zeros(a.nrows(), b.nrows());
            for m in [&mut out.mean_a, &mut out.mean_b, &mut out.var_b] {
                m.fill(f64::NAN);
            }
            return out;
        }
        let (h, t) = (&self.hyper, self.transform);
        let s2 = t.scale * t.scale;
        let k_xa = kernel(&self.x, a, &h.lengthscales, h.outputscale);
        let k_xb = kernel(&self.x, b, &h.lengthscales, h.outputscale);
        let to_units = |m: f64| (m + h.mean_constant) * t.scale + t.offset;
        let mean_a = k_xa.t().dot(&self.alpha).mapv(to_units);
        let mean_b = k_xb.t().dot(&self.alpha).mapv(to_units);
        let va = solve_lower(&self.chol, &k_xa);
        let vb = solve_lower(&self.chol, &k_xb);
        let var_b = vb.map_axis(Axis(0), |col| (h.outputscale - col.dot(&col)).max(0.0) * s2);
        let cov_aa =
            (kernel(a, a, &h.lengthscales, h.outputscale) - va.t().dot(&va)).mapv(|v| v * s2);
        let cov_ab =
            (kernel(a, b, &h.lengthscales, h.outputscale) - va.t().dot(&vb)).mapv(|v| v * s2);
        PosteriorBlocks {
            mean_a,
            cov_aa,
            mean_b,
            var_b,
            cov_ab,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// x = (0, 0.5, 1), y = (-1, 0, 1) (mean 0, sd 1: standardisation is the identity), noise
    /// 0.01, length scale 0.5, output scale 1, mean 0. Matern-5/2 correlations at scaled
    /// distance r: k(0.5) = 0.8286491424, k(1) = 0.5239941088, k(1.5) = 0.2831632713,
    /// k(2) = 0.1386602191 (k(r) = (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)).
    fn hand_gp() -> GaussianProcess {
        let hyper = Hyperparameters {
            lengthscales: vec![0.5],
            outputscale: 1.0,
            mean_constant: 0.0,
        };
        GaussianProcess::with_hyperparameters(
            &array![[0.0], [0.5], [1.0]],
            &array![-1.0, 0.0, 1.0],
            &array![0.01, 0.01, 0.01],
            &hyper,
            None,
        )
        .unwrap()
    }

    #[test]
    fn posterior_matches_the_textbook_formulas_by_hand() {
        let gp = hand_gp();
        assert_eq!(
            gp.output_transform(),
            OutputTransform {
                offset: 0.0,
                scale: 1.0
            }
        );
        // K = [[1.01, k(1), k(2)], [k(1), 1.01, k(1)], [k(2), k(1), 1.01]]. By symmetry
        // alpha = K^{-1} y = (-a, 0, a) with a (1.01 - k(2)) = 1: a = 1.1476579220.
        let a = 1.0 / (1.01 - 0.138_660_219_1);
        assert!(close(gp.alpha[0], -a, 1e-9) && close(gp.alpha[1], 0.0, 1e-12));
        // At x* = 0.25: k* = (k(0.5), k(0.5), k(1.5)); mean = k*.alpha = a (k(1.5) - k(0.5)).
        // K^{-1} = [[1.40033317, -0.85759077, 0.25267525], [-0.85759077, 1.87994557,
        // -0.85759077], [0.25267525, -0.85759077, 1.40033317]]; var = 1 - k*^T K^{-1} k*.
        let (mean, var) = gp.predict(&array![[0.25], [2.0]]);
        assert!(close(
            mean[0],
            a * (0.283_163_271_3 - 0.828_649_142_4),
            1e-9
        ));
        assert!(close(mean[0], -0.626_031_179_9, 1e-9));
        assert!(close(var[0], 0.096_908_951_1, 1e-9), "{}", var[0]);
        // At x* = 2: k* = (k(4), k(3), k(2)) = (0.0047770845, 0.0277234219, 0.1386602191).
        assert!(
            close(mean[1], a * (0.138_660_219_1 - 0.004_777_084_5), 1e-8),
            "{}",
            mean[1]
        );
        assert!(close(var[1], 0.978_085_219_6, 1e-9), "{}", var[1]);
        // Closed-form LOO (R&W 5.12): mean y_i - alpha_i / Kinv_ii, variance 1/Kinv_ii - 0.01.
        let (loo_mean, loo_var) = gp.loo_predict();
        assert!(close(loo_mean[0], -1.0 + a / 1.400_333_17, 1e-7));
        assert!(close(loo_mean[0], -0.180_439_38, 1e-7) && close(loo_mean[1], 0.0, 1e-12));
        assert!(close(loo_var[0], 0.704_115_77, 1e-7) && close(loo_var[1], 0.521_930_29, 1e-7));
    }

    #[test]
    fn noiseless_posterior_interpolates_and_variance_grows_away_from_data() {
        let hyper = Hyperparameters {
            lengthscales: vec![0.3],
            outputscale: 2.0,
            mean_constant: 0.0,
        };
        let x = array![[0.1], [0.4], [0.7]];
        let y = array![3.0, -1.0, 2.0];
        let gp =
            GaussianProcess::with_hyperparameters(&x, &y, &Array1::zeros(3), &hyper, None).unwrap();
        let (mean, var) = gp.predict(&x);
        for i in 0..3 {
            assert!(close(mean[i], y[i], 1e-6), "{} vs {}", mean[i], y[i]);
            assert!(var[i] < 1e-6);
        }
        let far = array![[0.7], [0.8], [0.9], [1.2], [2.0], [5.0]];
        let (_, var) = gp.predict(&far);
        for w in var.windows(2) {
            assert!(w[1] > w[0], "{var}");
        }
        // Far away: the prior variance, outputscale x scale^2 (y sd = 2.6458: 2 x 7 = 14).
        let scale2 = gp.output_transform().scale.powi(2);
        assert!(close(var[5], 2.0 * scale2, 1e-6));
    }

    fn smooth_1d(n: usize) -> (Array2<f64>, Array1<f64>) {
        let x = Array::linspace(0.0, 1.0, n).insert_axis(Axis(1));
        let y = x.column(0).mapv(|v| (2.0 * std::f64::consts::PI * v).sin());
        (x, y)
    }

    #[test]
    fn fitted_lengthscale_is_sensible_on_a_smooth_function() {
        let (x, y) = smooth_1d(12);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let gp = GaussianProcess::fit(&x, &y, &Array1::from_elem(12, 1e-4), &mut rng).unwrap();
        let ls = gp.hyperparameters().lengthscales[0];
        // One period over [0, 1]: a length scale between about half a quarter period and one
        // period (the Gamma(3, 6) prior has its mode at 1/3).
        assert!((0.12..1.0).contains(&ls), "length scale {ls}");
        let xt = Array::linspace(0.03, 0.97, 20).insert_axis(Axis(1));
        let (mean, var) = gp.predict(&xt);
        for (i, m) in mean.iter().enumerate() {
            let truth = (2.0 * std::f64::consts::PI * xt[[i, 0]]).sin();
            assert!(
                (m - truth).abs() < 0.05,
                "x = {}: {m} vs {truth}",
                xt[[i, 0]]
            );
            assert!(var[i] < 0.01);
        }
    }

    #[test]
    fn ard_finds_the_irrelevant_dimension() {
        // y depends on x0 only: the length scale of x1 must come out longer.
        let pts = super::super::sobol(2, 20, 1).unwrap();
        let x = Array2::from_shape_fn((20, 2), |(i, j)| pts[i][j]);
        let y = x.column(0).mapv(|v| (3.0 * v).sin());
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let gp = GaussianProcess::fit(&x, &y, &Array1::from_elem(20, 1e-4), &mut rng).unwrap();
        let ls = &gp.hyperparameters().lengthscales;
        assert!(ls[1] > 2.0 * ls[0], "{ls:?}");
    }

    #[test]
    fn loo_equals_refitting_without_the_point() {
        let pts = super::super::sobol(2, 9, 1).unwrap();
        let x = Array2::from_shape_fn((9, 2), |(i, j)| pts[i][j]);
        let y = x.map_axis(Axis(1), |r| 5.0 + (4.0 * r[0]).cos() * r[1]);
        let noise = Array1::from_elem(9, 0.01);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let gp = GaussianProcess::fit(&x, &y, &noise, &mut rng).unwrap();
        let (loo_mean, loo_var) = gp.loo_predict();
        for i in 0..9 {
            let keep: Vec<usize> = (0..9).filter(|&j| j != i).collect();
            let refit = GaussianProcess::with_hyperparameters(
                &x.select(Axis(0), &keep),
                &y.select(Axis(0), &keep),
                &noise.select(Axis(0), &keep),
                gp.hyperparameters(),
                Some(gp.output_transform()),
            )
            .unwrap();
            let (m, v) = refit.predict(&x.select(Axis(0), &[i]));
            assert!(
                close(loo_mean[i], m[0], 1e-8),
                "{i}: {} vs {}",
                loo_mean[i],
                m[0]
            );
            assert!(
                close(loo_var[i], v[0], 1e-8),
                "{i}: {} vs {}",
                loo_var[i],
                v[0]
            );
        }
    }

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let pts = super::super::sobol(3, 10, 1).unwrap();
        let x = Array2::from_shape_fn((10, 3), |(i, j)| pts[i][j]);
        let y = x.map_axis(Axis(1), |r| r[0] * r[0] - r[1] + 0.3 * r[2]);
        let t = OutputTransform::from_data(&y);
        let y_std = y.mapv(|v| (v - t.offset) / t.scale);
        let noise = Array1::from_elem(10, 0.02);
        let config = GpConfig::default();
        let obj = MapObjective::new(&x, &y_std, &noise, &config);
        let theta = vec![-0.7, 0.1, -1.5, 0.4];
        let (_, grad) = obj.eval_inside(&theta).unwrap();
        for k in 0..4 {
            let h = 1e-6;
            let mut up = theta.clone();
            up[k] += h;
            let mut down = theta.clone();
            down[k] -= h;
            let fd =
                (obj.eval_inside(&up).unwrap().0 - obj.eval_inside(&down).unwrap().0) / (2.0 * h);
            assert!(
                close(fd, grad[k], 1e-5 * (1.0 + fd.abs())),
                "{k}: fd {fd} vs {}",
                grad[k]
            );
        }
    }

    #[test]
    fn degenerate_data_fall_back_without_panicking() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // One point: scale 1, the constant mean is the point.
        let gp = GaussianProcess::fit(&array![[0.5, 0.5]], &array![7.0], &array![0.01], &mut rng)
            .unwrap();
        let (m, v) = gp.predict(&array![[0.5, 0.5], [0.0, 1.0]]);
        assert!(close(m[0], 7.0, 1e-3) && m[1].is_finite() && v[1] > v[0]);
        // Constant y: predictions are that constant everywhere.
        let x = array![[0.1], [0.5], [0.9]];
        let gp =
            GaussianProcess::fit(&x, &array![2.0, 2.0, 2.0], &Array1::zeros(3), &mut rng).unwrap();
        let (m, v) = gp.predict(&array![[0.3], [0.7]]);
        assert!(m.iter().all(|v| close(*v, 2.0, 1e-9)) && v.iter().all(|v| v.is_finite()));
        // Duplicate points without noise, even with different values: jitter makes K
        // factorable and the duplicate's prediction is about the average.
        let x = array![[0.2], [0.2], [0.8]];
        let gp =
            GaussianProcess::fit(&x, &array![1.0, 2.0, 3.0], &Array1::zeros(3), &mut rng).unwrap();
        assert!(gp.jitter() > 0.0);
        let (m, _) = gp.predict(&array![[0.2]]);
        assert!(close(m[0], 1.5, 0.05), "{}", m[0]);
        // Errors, not panics.
        let e = Array1::<f64>::zeros(0);
        assert_eq!(
            GaussianProcess::fit(&Array2::zeros((0, 2)), &e, &e, &mut rng).unwrap_err(),
            BoError::NoData
        );
        assert!(GaussianProcess::fit(&x, &array![1.0], &array![0.0], &mut rng).is_err());
        let nan = array![1.0, f64::NAN, 3.0];
        assert_eq!(
            GaussianProcess::fit(&x, &nan, &Array1::zeros(3), &mut rng).unwrap_err(),
            BoError::NonFinite
        );
        let neg = array![0.0, -1.0, 0.0];
        assert_eq!(
            GaussianProcess::fit(&x, &array![1.0, 2.0, 3.0], &neg, &mut rng).unwrap_err(),
            BoError::NegativeNoise
        );
        // Predicting with the wrong number of columns gives NaN, not a panic.
        assert!(gp.predict(&array![[0.1, 0.2]]).0[0].is_nan());
    }

    #[test]
    fn same_seed_same_fit_and_samples() {
        let pts = super::super::sobol(5, 30, 1).unwrap();
        let x = Array2::from_shape_fn((30, 5), |(i, j)| pts[i][j]);
        let y = x.map_axis(Axis(1), |r| r.iter().map(|v| v * v).sum::<f64>().ln_1p());
        let noise = Array1::from_elem(30, 0.01);
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let gp = GaussianProcess::fit(&x, &y, &noise, &mut rng).unwrap();
            let s = gp.sample_joint(&x.slice(ndarray::s![..4, ..]).to_owned(), 3, &mut rng);
            (gp.hyperparameters().clone(), s)
        };
        assert_eq!(run(4), run(4));
    }

    #[test]
    fn shared_blocks_equal_predict_and_covariance() {
        let gp = hand_gp();
        let (a, b) = (array![[0.0], [0.3]], array![[0.25], [0.9], [2.0]]);
        let blocks = gp.blocks(&a, &b);
        let ((ma, _), (mb, vb)) = (gp.predict(&a), gp.predict(&b));
        let tol = |x: &Array2<f64>, y: &Array2<f64>| (x - y).iter().all(|d| d.abs() < 1e-12);
        assert!(tol(&blocks.cov_aa, &gp.covariance(&a, &a)));
        assert!(tol(&blocks.cov_ab, &gp.covariance(&a, &b)));
        for (x, y) in [
            (&blocks.mean_a, &ma),
            (&blocks.mean_b, &mb),
            (&blocks.var_b, &vb),
        ] {
            assert!((x - y).iter().all(|d| d.abs() < 1e-12));
        }
    }

    #[test]
    fn joint_samples_have_the_posterior_moments() {
        let gp = hand_gp();
        let xs = array![[0.25], [0.6], [1.5]];
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let n = 20_000;
        let s = gp.sample_joint(&xs, n, &mut rng);
        let (mean, _) = gp.predict(&xs);
        let cov = gp.covariance(&xs, &xs);
        let emp_mean = s.mean_axis(Axis(0)).unwrap();
        for i in 0..3 {
            assert!(close(emp_mean[i], mean[i], 0.02), "{emp_mean} vs {mean}");
            for j in 0..3 {
                let c = s
                    .rows()
                    .into_iter()
                    .map(|r| (r[i] - emp_mean[i]) * (r[j] - emp_mean[j]))
                    .sum::<f64>()
                    / (n - 1) as f64;
                assert!(
                    close(c, cov[[i, j]], 0.02),
                    "cov {i}{j}: {c} vs {}",
                    cov[[i, j]]
                );
            }
        }
    }
}
