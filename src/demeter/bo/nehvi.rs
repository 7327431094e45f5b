//! Sample-based noisy expected hypervolume improvement of single candidates (qNEHVI with q = 1,
//! Daulton, Balandat & Bakshy 2021), with outcome constraints as feasibility indicators.
//!
//! For each posterior sample s (outcomes independent, as Demeter's one-GP-per-outcome models):
//! 1. draw the outcomes at the observed points jointly: f_s(X_obs);
//! 2. the sampled front P_s = Pareto front of the objective vectors of the observed points
//!    whose sampled constraints are all satisfied (the noisy baseline: no observed value is
//!    trusted, its posterior sample is);
//! 3. for each candidate x draw f_s(x) jointly with f_s(X_obs), i.e. from
//!    N(mu_x + Sigma_xO Sigma_OO^{-1} (f_s(X_obs) - mu_O), sigma_x^2 - Sigma_xO Sigma_OO^{-1} Sigma_Ox);
//! 4. improvement HVI(f_s(x) | P_s, r) if every sampled constraint at x holds, else 0.
//!
//! NEHVI(x) is the mean over samples. This is qNEHVI's Monte-Carlo estimator for q = 1: the
//! joint posterior over (X_obs, x) per candidate, the HV improvement over the front of the
//! sampled baseline, averaged. As BoTorch's fixed base samples, the normals of the observed
//! points and the one normal per sample and outcome for the candidate's conditional part are
//! shared by all candidates (common random numbers: candidates are compared on the same draws).
//! Differences from BoTorch: constraints are hard indicators (BoTorch smooths them with a
//! sigmoid, eta = 1e-3) and normals are pseudo-random rather than scrambled Sobol.

use super::hypervolume::{hypervolume_improvement, pareto_front, Staircase2};
use super::linalg::{cholesky_jittered, solve_lower};
use super::{standard_normals, BoError, Surrogate};
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, RngCore};

/// Samples processed at once (bounds memory at chunk x candidates x outcomes).
const CHUNK: usize = 64;

/// The joint posterior of one outcome at the observed points and, conditionally, at each
/// candidate: f(X_obs) = mu_o + L z_o, f(x_j) = mu_c[j] + (z_o . B[:, j]) + sd_c[j] z_c with
/// L the Cholesky factor of Sigma_OO and B = L^{-1} Sigma_OC.
struct Conditional {
    mu_o: Array1<f64>,
    l_oo: Array2<f64>,
    mu_c: Array1<f64>,
    b: Array2<f64>,
    sd_c: Array1<f64>,
}

impl Conditional {
    fn new(s: &dyn Surrogate, observed: &Array2<f64>, candidates: &Array2<f64>) -> Self {
        let (mu_c, var_c) = s.predict(candidates);
        if observed.nrows() == 0 {
            return Conditional {
                mu_o: Array1::zeros(0),
                l_oo: Array2::zeros((0, 0)),
                mu_c,
                b: Array2::zeros((0, candidates.nrows())),
                sd_c: var_c.mapv(|v| v.max(0.0).sqrt()),
            };
        }
        let (mu_o, var_o) = s.predict(observed);
        let mut cov_oo = s.covariance(observed, observed);
        let n = cov_oo.nrows();
        for i in 0..n {
            for j in 0..i {
                let v = 0.5 * (cov_oo[[i, j]] + cov_oo[[j, i]]);
                cov_oo[[i, j]] = v;
                cov_oo[[j, i]] = v;
            }
        }
        // Fallback if even the jittered factorisation fails: independent observed points.
        let l_oo = cholesky_jittered(&cov_oo)
            .map(|(l, _)| l)
            .unwrap_or_else(|| Array2::from_diag(&var_o.mapv(|v| v.max(1e-300).sqrt())));
        let b = solve_lower(&l_oo, &s.covariance(observed, candidates));
        let explained = b.map_axis(Axis(0), |col| col.dot(&col));
        let sd_c = (&var_c - &explained).mapv(|v| v.max(0.0).sqrt());
        Conditional {
            mu_o,
            l_oo,
            mu_c,
            b,
            sd_c,
        }
    }

    /// (samples at the observed points: c x n_obs, at the candidates: c x n_cand).
    fn draw(&self, c: usize, rng: &mut dyn RngCore) -> (Array2<f64>, Array2<f64>) {
        let z_o = standard_normals(c, self.mu_o.len(), rng);
        let z_c = standard_normals(c, 1, rng);
        let mut f_o = z_o.dot(&self.l_oo.t());
        for mut row in f_o.rows_mut() {
            row += &self.mu_o;
        }
        let mut f_c = z_o.dot(&self.b);
        for (s, mut row) in f_c.rows_mut().into_iter().enumerate() {
            row += &self.mu_c;
            row.scaled_add(z_c[[s, 0]], &self.sd_c);
        }
        (f_o, f_c)
    }
}

/// Noisy expected hypervolume improvement of each candidate (rows of `candidates`), for
/// minimised `objectives` with the given `reference` point and constraints
/// `value <= bound`, averaged over `n_samples` posterior samples. See the module docs.
///
/// Deterministic given `rng`. No observed points: the front is empty and NEHVI is the expected
/// feasible dominated volume. Errors if there are no objectives, the reference has another
/// length or is not finite, `n_samples` is 0, or the candidates and observed points differ in
/// columns.
pub fn nehvi<R: Rng>(
    candidates: &Array2<f64>,
    objectives: &[&dyn Surrogate],
    constraints: &[(&dyn Surrogate, f64)],
    observed_x: &Array2<f64>,
    reference: &[f64],
    n_samples: usize,
    rng: &mut R,
) -> Result<Vec<f64>, BoError> {
    let m = objectives.len();
    if m == 0 || reference.len() != m {
        return Err(BoError::Argument(format!(
            "{} objectives with a {}-dimensional reference point",
            m,
            reference.len()
        )));
    }
    if reference.iter().any(|r| !r.is_finite()) {
        return Err(BoError::NonFinite);
    }
    if n_samples == 0 {
        return Err(BoError::Argument("n_samples must be at least 1".into()));
    }
    if candidates.nrows() > 0 && observed_x.nrows() > 0 && candidates.ncols() != observed_x.ncols()
    {
        return Err(BoError::Shape(format!(
            "candidates have {} columns, observed points {}",
            candidates.ncols(),
            observed_x.ncols()
        )));
    }
    let n_cand = candidates.nrows();
    if n_cand == 0 {
        return Ok(Vec::new());
    }
    let n_obs = observed_x.nrows();
    let rng: &mut dyn RngCore = rng;
    let outcomes: Vec<Conditional> = objectives
        .iter()
        .copied()
        .chain(constraints.iter().map(|(s, _)| *s))
        .map(|s| Conditional::new(s, observed_x, candidates))
        .collect();
    let bounds: Vec<f64> = constraints.iter().map(|(_, b)| *b).collect();

    let mut total = vec![0.0; n_cand];
    let mut done = 0;
    while done < n_samples {
        let c = CHUNK.min(n_samples - done);
        let draws: Vec<(Array2<f64>, Array2<f64>)> =
            outcomes.iter().map(|o| o.draw(c, &mut *rng)).collect();
        let (obj, con) = draws.split_at(m);
        for s in 0..c {
            let feasible_obs = |j: usize| {
                con.iter()
                    .zip(&bounds)
                    .all(|((f_o, _), b)| f_o[[s, j]] <= *b)
            };
            let feasible_cand = |j: usize| {
                con.iter()
                    .zip(&bounds)
                    .all(|((_, f_c), b)| f_c[[s, j]] <= *b)
            };
            if m == 2 {
                let r = [reference[0], reference[1]];
                let stairs = Staircase2::new(
                    (0..n_obs)
                        .filter(|&j| feasible_obs(j))
                        .map(|j| [obj[0].0[[s, j]], obj[1].0[[s, j]]]),
                    r,
                );
                let (c0, c1) = (obj[0].1.row(s), obj[1].1.row(s));
                for (j, acc) in total.iter_mut().enumerate() {
                    if feasible_cand(j) {
                        *acc += stairs.improvement([c0[j], c1[j]], r);
                    }
                }
            } else {
                let pts: Vec<Vec<f64>> = (0..n_obs)
                    .filter(|&j| feasible_obs(j))
                    .map(|j| obj.iter().map(|(f_o, _)| f_o[[s, j]]).collect())
                    .collect();
                let front: Vec<Vec<f64>> = pareto_front(&pts)
                    .into_iter()
                    .map(|i| pts[i].clone())
                    .collect();
                for (j, acc) in total.iter_mut().enumerate() {
                    if feasible_cand(j) {
                        let p: Vec<f64> = obj.iter().map(|(_, f_c)| f_c[[s, j]]).collect();
                        let hvi = hypervolume_improvement(&p, &front, reference);
                        if hvi.is_finite() {
                            *acc += hvi;
                        }
                    }
                }
            }
        }
        done += c;
    }
    Ok(total.into_iter().map(|t| t / n_samples as f64).collect())
}
