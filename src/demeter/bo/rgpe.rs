//! Ranking-weighted GP ensemble (RGPE; Feurer, Letham & Bakshy 2018) as Demeter uses it
//! (research/demeter.md §4.4): support GPs fitted on neighbouring throughput chunks plus the
//! target GP, weighted by how often each has the lowest ranking loss on the target points.
//!
//! Weights, per outcome:
//! * no supports: the target alone (weight 1);
//! * fewer than 2 target points: the supports only, uniformly;
//! * fewer than 3 target points: all models uniformly;
//! * otherwise draw `n_samples` joint posterior samples of each support at the target points
//!   and, for the target, samples of its closed-form leave-one-out predictions (independent per
//!   point, as in Feurer et al.; the BoTorch tutorial instead compares each LOO model's held-out
//!   prediction with its in-sample ones); score each sample by the ranking loss (ordered pairs
//!   whose order disagrees with the observations); a support is kept with probability
//!   p_keep = (share of samples where it has a strictly lower loss than the target)
//!   x (1 - n_target / 20); a model's weight is the share of samples in which it has the lowest
//!   loss among the kept models, ties split evenly.
//!
//! The ensemble's mean is sum w_i mu_i and its covariance sum w_i^2 Sigma_i.

use super::gp::GaussianProcess;
use super::{BoError, PosteriorBlocks, Surrogate};
use ndarray::{Array1, Array2};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, StandardNormal};

/// Settings of the RGPE weighting.
#[derive(Debug, Clone, PartialEq)]
pub struct RgpeConfig {
    /// Posterior samples per model (Demeter: 1024).
    pub n_samples: usize,
    /// Weight-dilution prevention: drop supports at random as described in the module docs.
    pub prune: bool,
    /// Target points at which supports are always dropped (p_keep factor 1 - n/horizon): 20.
    pub prune_horizon: f64,
}

impl Default for RgpeConfig {
    fn default() -> Self {
        RgpeConfig {
            n_samples: 1024,
            prune: true,
            prune_horizon: 20.0,
        }
    }
}

/// The weighted ensemble of support GPs and the target GP for one outcome.
#[derive(Debug, Clone)]
pub struct Rgpe {
    /// Supports in the order given, then the target.
    models: Vec<GaussianProcess>,
    weights: Vec<f64>,
}

impl Rgpe {
    /// RGPE with Demeter's settings (`n_samples` samples, pruning on).
    ///
    /// `target` must be the GP fitted on (`target_x`, `target_y`) (its leave-one-out
    /// predictions are used); for fewer than 2 target points it is given no weight, so any
    /// placeholder fit on those points will do.
    pub fn new<R: Rng>(
        target: &GaussianProcess,
        target_x: &Array2<f64>,
        target_y: &Array1<f64>,
        supports: Vec<GaussianProcess>,
        n_samples: usize,
        rng: &mut R,
    ) -> Result<Self, BoError> {
        let config = RgpeConfig {
            n_samples,
            ..RgpeConfig::default()
        };
        Self::with_config(target, target_x, target_y, supports, &config, rng)
    }

    /// RGPE with explicit settings.
    pub fn with_config<R: Rng>(
        target: &GaussianProcess,
        target_x: &Array2<f64>,
        target_y: &Array1<f64>,
        supports: Vec<GaussianProcess>,
        config: &RgpeConfig,
        rng: &mut R,
    ) -> Result<Self, BoError> {
        let n_t = target_x.nrows();
        if target_y.len() != n_t {
            return Err(BoError::Shape(format!(
                "{} target points but {} target outputs",
                n_t,
                target_y.len()
            )));
        }
        let d = target.dim();
        if n_t > 0 && target_x.ncols() != d {
            return Err(BoError::Shape(format!(
                "target points have {} columns, the target GP {}",
                target_x.ncols(),
                d
            )));
        }
        if let Some(bad) = supports.iter().find(|s| s.dim() != d) {
            return Err(BoError::Shape(format!(
                "a support GP has {} input dimensions, the target GP {}",
                bad.dim(),
                d
            )));
        }
        let n_supports = supports.len();
        let weights = if n_supports == 0 {
            vec![1.0]
        } else if n_t < 2 {
            let mut w = vec![1.0 / n_supports as f64; n_supports];
            w.push(0.0);
            w
        } else if n_t < 3 {
            vec![1.0 / (n_supports + 1) as f64; n_supports + 1]
        } else {
            if target.train_x().nrows() != n_t {
                return Err(BoError::Argument(format!(
                    "the target GP has {} training points, expected the {} target points",
                    target.train_x().nrows(),
                    n_t
                )));
            }
            ranking_weights(target, target_x, target_y, &supports, config, rng)
        };
        let mut models = supports;
        models.push(target.clone());
        Ok(Rgpe { models, weights })
    }

    /// Weights of the supports (in the order given) followed by the target's; they sum to 1.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The weight of the target GP.
    pub fn target_weight(&self) -> f64 {
        self.weights.last().copied().unwrap_or(0.0)
    }

    fn active(&self) -> impl Iterator<Item = (&GaussianProcess, f64)> {
        self.models
            .iter()
            .zip(self.weights.iter().copied())
            .filter(|(_, w)| *w > 0.0)
    }
}

/// Ranking loss of one sample: ordered pairs (j, k) whose order under `f` differs from `y`.
fn ranking_loss(f: &[f64], y: &[f64]) -> u32 {
    let mut loss = 0;
    for j in 0..f.len() {
        for k in (j + 1)..f.len() {
            // Both orders of the pair at once.
            loss += u32::from((f[j] < f[k]) != (y[j] < y[k]));
            loss += u32::from((f[k] < f[j]) != (y[k] < y[j]));
        }
    }
    loss
}

fn ranking_weights<R: Rng>(
    target: &GaussianProcess,
    target_x: &Array2<f64>,
    target_y: &Array1<f64>,
    supports: &[GaussianProcess],
    config: &RgpeConfig,
    rng: &mut R,
) -> Vec<f64> {
    let n_samples = config.n_samples.max(1);
    let n_t = target_x.nrows();
    let y = target_y.to_vec();
    let mut losses: Vec<Vec<u32>> = Vec::with_capacity(supports.len() + 1);
    for support in supports {
        let samples = support.sample_joint(target_x, n_samples, rng as &mut dyn RngCore);
        losses.push(
            samples
                .rows()
                .into_iter()
                .map(|row| match row.as_slice() {
                    Some(f) => ranking_loss(f, &y),
                    None => ranking_loss(&row.to_vec(), &y),
                })
                .collect(),
        );
    }
    let (loo_mean, loo_var) = target.loo_predict();
    let loo_sd = loo_var.mapv(f64::sqrt);
    let target_losses: Vec<u32> = (0..n_samples)
        .map(|_| {
            let f: Vec<f64> = (0..n_t)
                .map(|i| {
                    let z: f64 = StandardNormal.sample(rng);
                    loo_mean[i] + loo_sd[i] * z
                })
                .collect();
            ranking_loss(&f, &y)
        })
        .collect();
    losses.push(target_losses);

    let n_models = losses.len();
    let target_idx = n_models - 1;
    let mut kept = vec![true; n_models];
    if config.prune {
        let factor = (1.0 - n_t as f64 / config.prune_horizon).clamp(0.0, 1.0);
        for (i, keep) in kept.iter_mut().enumerate().take(target_idx) {
            let beats = (0..n_samples)
                .filter(|&s| losses[i][s] < losses[target_idx][s])
                .count() as f64
                / n_samples as f64;
            let p_keep = beats * factor;
            let u: f64 = rng.random();
            *keep = u < p_keep;
        }
    }
    let mut weights = vec![0.0; n_models];
    for s in 0..n_samples {
        let sample: Vec<Option<u32>> = losses
            .iter()
            .zip(&kept)
            .map(|(l, k)| k.then_some(l[s]))
            .collect();
        let best = sample.iter().flatten().min().copied();
        let n_winners = sample.iter().filter(|l| **l == best).count();
        for (w, l) in weights.iter_mut().zip(&sample) {
            if *l == best {
                *w += 1.0 / n_winners as f64;
            }
        }
    }
    weights.iter_mut().for_each(|w| *w /= n_samples as f64);
    weights
}

impl Surrogate for Rgpe {
    fn predict(&self, x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
        let mut mean = Array1::zeros(x.nrows());
        let mut var = Array1::zeros(x.nrows());
        for (model, w) in self.active() {
            let (m, v) = model.predict(x);
            mean.scaled_add(w, &m);
            var.scaled_add(w * w, &v);
        }
        (mean, var)
    }

    fn covariance(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let mut cov = Array2::zeros((a.nrows(), b.nrows()));
        for (model, w) in self.active() {
            cov.scaled_add(w * w, &model.covariance(a, b));
        }
        cov
    }

    fn blocks(&self, a: &Array2<f64>, b: &Array2<f64>) -> PosteriorBlocks {
        let mut out = PosteriorBlocks::zeros(a.nrows(), b.nrows());
        for (model, w) in self.active() {
            out.accumulate(&model.blocks(a, b), w);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array, Axis};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn truth(x: f64) -> f64 {
        (6.0 * x).sin() + x
    }

    fn gp_on(xs: &[f64], f: fn(f64) -> f64, noise: f64, seed: u64) -> GaussianProcess {
        let x = Array::from_vec(xs.to_vec()).insert_axis(Axis(1));
        let y = x.column(0).mapv(f);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        GaussianProcess::fit(&x, &y, &Array1::from_elem(xs.len(), noise), &mut rng).unwrap()
    }

    fn dense() -> Vec<f64> {
        (0..25).map(|i| i as f64 / 24.0).collect()
    }

    fn target(xs: &[f64]) -> (GaussianProcess, Array2<f64>, Array1<f64>) {
        let gp = gp_on(xs, truth, 1e-4, 7);
        let x = Array::from_vec(xs.to_vec()).insert_axis(Axis(1));
        let y = x.column(0).mapv(truth);
        (gp, x, y)
    }

    fn sums_to_one(w: &[f64]) -> bool {
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-12
    }

    #[test]
    fn a_support_identical_to_the_truth_takes_the_weight() {
        let good = gp_on(&dense(), truth, 1e-6, 1);
        let reversed = gp_on(&dense(), |x| -truth(x), 1e-6, 2);
        let (gp, x, y) = target(&[0.05, 0.3, 0.45, 0.7, 0.95]);
        let config = RgpeConfig {
            prune: false,
            ..RgpeConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let rgpe = Rgpe::with_config(
            &gp,
            &x,
            &y,
            vec![good.clone(), reversed.clone()],
            &config,
            &mut rng,
        )
        .unwrap();
        let w = rgpe.weights();
        assert!(sums_to_one(w), "{w:?}");
        assert!(w[0] > 0.8, "{w:?}");
        assert!(w[1] < 0.01, "{w:?}");
        // Its predictions then follow the good support.
        let (m, _) = rgpe.predict(&array![[0.2], [0.6]]);
        assert!(
            (m[0] - truth(0.2)).abs() < 0.25 && (m[1] - truth(0.6)).abs() < 0.25,
            "{m}"
        );
        // With Demeter's pruning (p_keep = share beating the target x (1 - 5/20)) the good
        // support survives on this seed and still dominates; weights still sum to 1.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let pruned = Rgpe::new(&gp, &x, &y, vec![good, reversed], 1024, &mut rng).unwrap();
        assert!(sums_to_one(pruned.weights()));
        assert!(pruned.weights()[0] > 0.8, "{:?}", pruned.weights());
    }

    #[test]
    fn few_target_points_give_uniform_or_support_only_weights() {
        let s1 = gp_on(&dense(), truth, 1e-6, 1);
        let s2 = gp_on(&dense(), |x| x * x, 1e-6, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (gp2, x2, y2) = target(&[0.2, 0.8]);
        let r = Rgpe::new(&gp2, &x2, &y2, vec![s1.clone(), s2.clone()], 64, &mut rng).unwrap();
        assert_eq!(r.weights(), &[1.0 / 3.0; 3]);
        let (gp1, x1, y1) = target(&[0.5]);
        let r = Rgpe::new(&gp1, &x1, &y1, vec![s1.clone(), s2.clone()], 64, &mut rng).unwrap();
        assert_eq!(r.weights(), &[0.5, 0.5, 0.0]);
        assert_eq!(r.target_weight(), 0.0);
        // No supports: the target alone, whatever the number of points.
        let r = Rgpe::new(&gp2, &x2, &y2, vec![], 64, &mut rng).unwrap();
        assert_eq!(r.weights(), &[1.0]);
        // Mean = sum w mu, variance = sum w^2 var.
        let r = Rgpe::new(&gp1, &x1, &y1, vec![s1.clone(), s2.clone()], 64, &mut rng).unwrap();
        let xt = array![[0.1], [0.9]];
        let (m, v) = r.predict(&xt);
        let ((m1, v1), (m2, v2)) = (s1.predict(&xt), s2.predict(&xt));
        for i in 0..2 {
            assert!((m[i] - 0.5 * (m1[i] + m2[i])).abs() < 1e-12);
            assert!((v[i] - 0.25 * (v1[i] + v2[i])).abs() < 1e-12);
        }
        let c = r.covariance(&xt, &xt);
        assert!((c[[0, 0]] - v[0]).abs() < 1e-12);
    }

    #[test]
    fn ranking_weights_sum_to_one_and_are_seeded() {
        let s1 = gp_on(&dense(), |x| (3.0 * x).cos(), 1e-4, 1);
        let s2 = gp_on(&dense(), |x| x, 1e-4, 2);
        let (gp, x, y) = target(&[0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.1]);
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Rgpe::new(&gp, &x, &y, vec![s1.clone(), s2.clone()], 256, &mut rng)
                .unwrap()
                .weights()
                .to_vec()
        };
        let w = run(9);
        assert!(sums_to_one(&w), "{w:?}");
        assert_eq!(w, run(9));
        // Mismatched shapes are errors.
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert!(Rgpe::new(&gp, &x, &array![1.0], vec![], 8, &mut rng).is_err());
    }

    #[test]
    fn ranking_loss_counts_disagreeing_ordered_pairs() {
        assert_eq!(ranking_loss(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 0);
        // Reversed: all 6 ordered pairs disagree.
        assert_eq!(ranking_loss(&[3.0, 2.0, 1.0], &[10.0, 20.0, 30.0]), 6);
        // One swapped pair (0, 1): counted in both orders.
        assert_eq!(ranking_loss(&[2.0, 1.0, 3.0], &[10.0, 20.0, 30.0]), 2);
    }
}
