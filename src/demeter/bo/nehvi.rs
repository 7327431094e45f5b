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
use super::{standard_normals, BoError, PosteriorBlocks, Surrogate};
use ndarray::{Array1, Array2, Axis};
use rand::{Rng, RngCore};
use std::borrow::Cow;

/// Row `s` of `m` as a slice (borrowed for the standard layouts produced here).
fn row(m: &Array2<f64>, s: usize) -> Cow<'_, [f64]> {
    let r = m.row(s);
    match r.to_slice() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(r.to_vec()),
    }
}

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
        let PosteriorBlocks {
            mean_a: mu_o,
            cov_aa: mut cov_oo,
            mean_b: mu_c,
            var_b: var_c,
            cov_ab: cov_oc,
        } = s.blocks(observed, candidates);
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
            .unwrap_or_else(|| Array2::from_diag(&cov_oo.diag().mapv(|v| v.max(1e-300).sqrt())));
        let b = solve_lower(&l_oo, &cov_oc);
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
                let (c0, c1) = (row(&obj[0].1, s), row(&obj[1].1, s));
                let con_rows: Vec<Cow<[f64]>> = con.iter().map(|(_, f_c)| row(f_c, s)).collect();
                for (j, acc) in total.iter_mut().enumerate() {
                    if con_rows.iter().zip(&bounds).all(|(f, b)| f[j] <= *b) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demeter::bo::{hypervolume_improvement, GaussianProcess};
    use ndarray::{array, ArrayView1};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// A hand-made posterior: mean `f(x)`, standard deviation `sd`, independent across distinct
    /// points (covariance sd^2 where two rows are equal).
    struct Table {
        f: fn(ArrayView1<f64>) -> f64,
        sd: f64,
    }

    impl Surrogate for Table {
        fn predict(&self, x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
            (
                x.map_axis(Axis(1), self.f),
                Array1::from_elem(x.nrows(), self.sd * self.sd),
            )
        }
        fn covariance(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
            Array2::from_shape_fn((a.nrows(), b.nrows()), |(i, j)| {
                if a.row(i) == b.row(j) {
                    self.sd * self.sd
                } else {
                    0.0
                }
            })
        }
    }

    // Points are 1-D codes: observed 0, 1, 2 sit at objectives (1, 3), (2, 2), (3, 1); the
    // candidates 10 -> (1, 1), 11 -> (2.5, 2.5), 12 -> (1, 1) but infeasible, 13 -> (0, 3.5).
    fn obj0(x: ArrayView1<f64>) -> f64 {
        [1.0, 2.0, 3.0, 1.0, 2.5, 1.0, 0.0][code(x)]
    }
    fn obj1(x: ArrayView1<f64>) -> f64 {
        [3.0, 2.0, 1.0, 1.0, 2.5, 1.0, 3.5][code(x)]
    }
    fn con(x: ArrayView1<f64>) -> f64 {
        [0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 0.0][code(x)]
    }
    fn code(x: ArrayView1<f64>) -> usize {
        let c = x[0] as usize;
        if c >= 10 {
            c - 7
        } else {
            c
        }
    }

    #[test]
    fn nearly_noiseless_nehvi_is_the_hand_computed_improvement() {
        let (o0, o1, c) = (
            Table { f: obj0, sd: 1e-9 },
            Table { f: obj1, sd: 1e-9 },
            Table { f: con, sd: 1e-9 },
        );
        let observed = array![[0.0], [1.0], [2.0]];
        let candidates = array![[10.0], [11.0], [12.0], [13.0]];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let v = nehvi(
            &candidates,
            &[&o0, &o1],
            &[(&c, 1.0)],
            &observed,
            &[4.0, 4.0],
            16,
            &mut rng,
        )
        .unwrap();
        // Front (1,3), (2,2), (3,1), reference (4,4): (1,1) adds 9 - 6 = 3; (2.5,2.5) is
        // dominated; the infeasible copy of (1,1) adds nothing; (0,3.5) adds 0.5.
        let expected = [3.0, 0.0, 0.0, 0.5];
        for (a, b) in v.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{v:?}");
        }
        assert_eq!(v[2], 0.0);
        // Without observed points the front is empty: (1,1) gains its whole box, 9.
        let v = nehvi(
            &candidates,
            &[&o0, &o1],
            &[],
            &Array2::zeros((0, 1)),
            &[4.0, 4.0],
            4,
            &mut rng,
        )
        .unwrap();
        assert!((v[0] - 9.0).abs() < 1e-6 && (v[2] - 9.0).abs() < 1e-6);
    }

    #[test]
    fn three_objectives_use_the_general_improvement() {
        let third = |x: ArrayView1<f64>| [2.0, 1.0, 3.0, 0.5, 2.0, 1.0, 1.0][code(x)];
        let (o0, o1, o2) = (
            Table { f: obj0, sd: 1e-9 },
            Table { f: obj1, sd: 1e-9 },
            Table { f: third, sd: 1e-9 },
        );
        let observed = array![[0.0], [1.0], [2.0]];
        let candidates = array![[10.0], [11.0], [13.0]];
        let r = [4.0, 4.0, 4.0];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let v = nehvi(
            &candidates,
            &[&o0, &o1, &o2],
            &[],
            &observed,
            &r,
            8,
            &mut rng,
        )
        .unwrap();
        let front = vec![
            vec![1.0, 3.0, 2.0],
            vec![2.0, 2.0, 1.0],
            vec![3.0, 1.0, 3.0],
        ];
        for (j, p) in [[1.0, 1.0, 0.5], [2.5, 2.5, 2.0], [0.0, 3.5, 1.0]]
            .iter()
            .enumerate()
        {
            let hvi = hypervolume_improvement(p, &front, &r);
            assert!((v[j] - hvi).abs() < 1e-6, "{j}: {} vs {hvi}", v[j]);
        }
    }

    /// GPs on five observed configurations; objectives increase with x0 + x1 (the cheap corner
    /// is best), a constraint is violated where x2 > 0.5.
    fn gp_problem() -> (
        Array2<f64>,
        GaussianProcess,
        GaussianProcess,
        GaussianProcess,
    ) {
        let x = array![
            [0.5, 0.5, 0.2],
            [0.7, 0.3, 0.2],
            [0.3, 0.7, 0.2],
            [0.9, 0.9, 0.2],
            [0.6, 0.6, 0.2]
        ];
        let o0 = x.map_axis(Axis(1), |r| r[0] + 0.5 * r[1]);
        let o1 = x.map_axis(Axis(1), |r| 0.5 * r[0] + r[1]);
        let noise = Array1::from_elem(5, 1e-4);
        let hyper = crate::demeter::bo::Hyperparameters {
            lengthscales: vec![0.8, 0.8, 0.8],
            outputscale: 1.0,
            mean_constant: 0.0,
        };
        let fit = |y: &Array1<f64>| {
            GaussianProcess::with_hyperparameters(&x, y, &noise, &hyper, None).unwrap()
        };
        let c = GaussianProcess::with_hyperparameters(
            &array![
                [0.5, 0.5, 0.1],
                [0.5, 0.5, 0.3],
                [0.5, 0.5, 0.9],
                [0.2, 0.2, 0.95]
            ],
            &array![0.0, 0.0, 10.0, 10.0],
            &Array1::from_elem(4, 1e-4),
            &hyper,
            None,
        )
        .unwrap();
        (x.clone(), fit(&o0), fit(&o1), c)
    }

    #[test]
    fn dominating_candidates_rank_first_and_infeasible_ones_get_zero() {
        let (observed, g0, g1, c) = gp_problem();
        // 0: dominates the front (cheaper on both), 1: dominated, 2: the dominating
        // configuration but where the constraint model is sure it fails (mean 10, bound 1).
        let candidates = array![[0.2, 0.2, 0.2], [0.95, 0.95, 0.2], [0.2, 0.2, 0.95]];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let v = nehvi(
            &candidates,
            &[&g0, &g1],
            &[(&c, 1.0)],
            &observed,
            &[3.0, 3.0],
            512,
            &mut rng,
        )
        .unwrap();
        assert!(v[0] > 0.1, "{v:?}");
        assert!(v[0] > 10.0 * v[1], "{v:?}");
        assert_eq!(v[2], 0.0, "{v:?}");
        // Same seed, same numbers; the rng is the only source of randomness.
        let again = nehvi(
            &candidates,
            &[&g0, &g1],
            &[(&c, 1.0)],
            &observed,
            &[3.0, 3.0],
            512,
            &mut ChaCha8Rng::seed_from_u64(3),
        )
        .unwrap();
        assert_eq!(v, again);
    }

    #[test]
    fn bad_arguments_are_errors() {
        let (observed, g0, g1, _) = gp_problem();
        let cand = array![[0.1, 0.1, 0.1]];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(nehvi(&cand, &[&g0, &g1], &[], &observed, &[1.0], 8, &mut rng).is_err());
        assert!(nehvi(&cand, &[&g0, &g1], &[], &observed, &[1.0, 1.0], 0, &mut rng).is_err());
        assert!(nehvi(&cand, &[], &[], &observed, &[], 8, &mut rng).is_err());
        let nan = [f64::NAN, 1.0];
        assert!(nehvi(&cand, &[&g0, &g1], &[], &observed, &nan, 8, &mut rng).is_err());
        let wrong = array![[0.1, 0.1]];
        assert!(nehvi(
            &wrong,
            &[&g0, &g1],
            &[],
            &observed,
            &[1.0, 1.0],
            8,
            &mut rng
        )
        .is_err());
        let none = Array2::zeros((0, 3));
        assert!(
            nehvi(&none, &[&g0, &g1], &[], &observed, &[1.0, 1.0], 8, &mut rng)
                .unwrap()
                .is_empty()
        );
    }
}
