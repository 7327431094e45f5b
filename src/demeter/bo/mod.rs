//! Bayesian-optimisation mathematics of Demeter (research/demeter.md §4.4): Sobol points, exact
//! GPs with fixed noise, the ranking-weighted GP ensemble (RGPE), exact hypervolumes and a
//! sample-based noisy expected hypervolume improvement (qNEHVI with q = 1).
//!
//! Everything is deterministic given the `rng` passed in; nothing reads a clock or a global
//! RNG. Objectives are minimised and constraints are `value <= bound`.

mod gp;
mod hypervolume;
mod linalg;
mod nehvi;
mod rgpe;
mod sobol;

pub use gp::{
    GammaPrior, GaussianProcess, GpConfig, Hyperparameters, OutputTransform, LENGTHSCALE_PRIOR,
    OUTPUTSCALE_PRIOR,
};
pub use hypervolume::{hypervolume, hypervolume_improvement, pareto_front};
pub use nehvi::nehvi;
pub use rgpe::{Rgpe, RgpeConfig};
pub use sobol::{sobol, sobol_shifted, SOBOL_MAX_DIM};

use ndarray::{Array1, Array2};
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

/// Errors of the BO building blocks. Degenerate but valid data (one point, duplicates,
/// constant outputs) are not errors: see each function's documented fallback.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoError {
    #[error("no training points")]
    NoData,
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("non-finite value in the inputs, outputs or noise")]
    NonFinite,
    #[error("negative noise variance")]
    NegativeNoise,
    #[error("hyperparameters must be positive and finite")]
    Hyperparameters,
    #[error("kernel matrix not positive definite even with jitter")]
    NotPositiveDefinite,
    #[error("Sobol dimension {dim} outside 1..={max}")]
    SobolDimension { dim: usize, max: usize },
    #[error("Sobol indices {skip}..{skip}+{n} exceed 2^32")]
    SobolLength { skip: usize, n: usize },
    #[error("{0}")]
    Argument(String),
}

/// A posterior over one outcome: what the acquisition needs from a GP or an ensemble. Values
/// are of the latent function (no observation noise), in the outcome's units.
pub trait Surrogate {
    /// Posterior means and variances at the rows of `x`.
    fn predict(&self, x: &Array2<f64>) -> (Array1<f64>, Array1<f64>);

    /// Posterior cross-covariance between the rows of `a` and those of `b`.
    fn covariance(&self, a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64>;

    /// `n` joint posterior draws at the rows of `x` (n x points).
    fn sample_joint(&self, x: &Array2<f64>, n: usize, rng: &mut dyn RngCore) -> Array2<f64> {
        sample_mvn(self, x, n, rng)
    }

    /// The posterior blocks the acquisition needs for observed points `a` and candidates `b`
    /// (the same numbers as `predict` and `covariance`; implementations may share work).
    fn blocks(&self, a: &Array2<f64>, b: &Array2<f64>) -> PosteriorBlocks {
        let (mean_a, _) = self.predict(a);
        let (mean_b, var_b) = self.predict(b);
        PosteriorBlocks {
            mean_a,
            cov_aa: self.covariance(a, a),
            mean_b,
            var_b,
            cov_ab: self.covariance(a, b),
        }
    }
}

/// Posterior means and covariances of one outcome at two point sets `a` (observed) and `b`
/// (candidates): only the variances are kept within `b`.
#[derive(Debug, Clone)]
pub struct PosteriorBlocks {
    pub mean_a: Array1<f64>,
    pub cov_aa: Array2<f64>,
    pub mean_b: Array1<f64>,
    pub var_b: Array1<f64>,
    pub cov_ab: Array2<f64>,
}

impl PosteriorBlocks {
    /// `sum w_i blocks_i` for means and `sum w_i^2 blocks_i` for (co)variances: the blocks of an
    /// ensemble of independent posteriors with weights `w_i`.
    pub(crate) fn accumulate(&mut self, other: &PosteriorBlocks, w: f64) {
        self.mean_a.scaled_add(w, &other.mean_a);
        self.mean_b.scaled_add(w, &other.mean_b);
        self.cov_aa.scaled_add(w * w, &other.cov_aa);
        self.var_b.scaled_add(w * w, &other.var_b);
        self.cov_ab.scaled_add(w * w, &other.cov_ab);
    }

    pub(crate) fn zeros(na: usize, nb: usize) -> Self {
        PosteriorBlocks {
            mean_a: Array1::zeros(na),
            cov_aa: Array2::zeros((na, na)),
            mean_b: Array1::zeros(nb),
            var_b: Array1::zeros(nb),
            cov_ab: Array2::zeros((na, nb)),
        }
    }
}

/// Draws from N(mean, cov) of `surrogate` at `x` through a jittered Cholesky factor. Fallback if
/// the covariance cannot be factored even with jitter: independent draws from the marginals.
/// Normals are drawn row by row (sample-major) from `rng`.
pub(crate) fn sample_mvn<S: Surrogate + ?Sized>(
    surrogate: &S,
    x: &Array2<f64>,
    n: usize,
    rng: &mut dyn RngCore,
) -> Array2<f64> {
    let m = x.nrows();
    let (mean, var) = surrogate.predict(x);
    let mut cov = surrogate.covariance(x, x);
    // Symmetrise against rounding.
    for i in 0..m {
        for j in 0..i {
            let v = 0.5 * (cov[[i, j]] + cov[[j, i]]);
            cov[[i, j]] = v;
            cov[[j, i]] = v;
        }
    }
    let factor = linalg::cholesky_jittered(&cov)
        .map(|(l, _)| l)
        .unwrap_or_else(|| Array2::from_diag(&var.mapv(|v| v.max(0.0).sqrt())));
    let z = standard_normals(n, m, rng);
    let mut out = z.dot(&factor.t());
    for mut row in out.rows_mut() {
        row += &mean;
    }
    out
}

/// An `rows x cols` matrix of standard normals, filled row by row.
pub(crate) fn standard_normals(rows: usize, cols: usize, rng: &mut dyn RngCore) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || StandardNormal.sample(&mut *rng))
}
