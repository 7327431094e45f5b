//! The Demeter prototype's recovery detector, reimplemented: an IFTM ensemble of online ARIMA
//! identity functions with complete-history thresholds, trained on a profile's 60-s window and
//! then asked, second by second, whether the metrics after its failure look normal again.
//!
//! What the prototype runs (dos-group/demeter `optimizer/.../modeling/AnomalyDetector.java`,
//! on the IFTM library): `AutoMLAnomalyDetection(ArimaMultiBreeding(50, 4, 200,
//! CompleteHistoryThresholdBreedingPart(5.0)), 1000, false)`, trained on the (throughput, lag)
//! seconds of the profile's measurement window. With 60 training samples the AutoML search
//! (every 1 000) never runs, so every prediction is the equal-weight vote of the initial random
//! population of 50 models; a second is anomalous when more than half of them say so. Each model:
//!
//! - identity function: online ARIMA by online Newton steps (Liu et al., AAAI 2016) over both
//!   metrics at once, with `d` ~ U{1..4} differences and `mk` ~ U{2..200} autoregressive terms
//!   on the d-th differences, weights initialised U(-0.5, 0.5), learning rate 0.5 / mk and the
//!   inverse Hessian started at (0.5 / mk) I; its prediction is the next value from the samples
//!   it was *trained* on, and predicting does not train it, so after the window the prediction is
//!   one fixed point;
//! - error: Euclidean distance between the sample and that prediction (raw records and rec/s);
//! - threshold: mean + sigma x standard deviation (n - 1) of its training errors, sigma ~
//!   U(0, 5); the first training error is the distance of the first sample from 0, which is what
//!   makes the thresholds wide (about a third of the throughput at sigma 2.5).
//!
//! The prototype draws the population from an unseeded `java.util.Random`; the twin draws it
//! from the profile's seed, so a run is reproducible and two profiles still differ as the
//! prototype's did. A model whose error or threshold is not finite makes the prototype discard
//! the whole population (the vote is "normal" and fresh untrained models follow, which call every
//! later sample anomalous); [`Iftm::is_normal`] does the same.

use rand::Rng;

use crate::rng::SimRng;

/// Models in the population (`numPopulation`).
pub const POPULATION: usize = 50;
/// Largest number of differences (`maxD`).
pub const MAX_D: usize = 4;
/// Largest number of autoregressive terms (`maxMK`).
pub const MAX_MK: usize = 200;
/// Largest threshold factor (`CompleteHistoryThresholdBreedingPart(5.0)`).
pub const MAX_SIGMA: f64 = 5.0;

/// Metrics per sample: throughput and consumer lag.
const DIM: usize = 2;

/// One online ARIMA model (the library's `EfficientModelONSmulti`) with its threshold.
#[derive(Clone, Debug)]
struct Model {
    d: usize,
    mk: usize,
    rate: f64,
    /// AR weights on the d-th differences, lag 0 first.
    weights: Vec<f64>,
    /// Inverse of the ONS matrix, only its active top-left block (`active` x `active`, row-major
    /// with stride `stride`); beyond it the matrix is still its initial diagonal.
    inv: Vec<f64>,
    stride: usize,
    /// The last `mk` samples with their differences: `history[k][g]` = g-th difference.
    history: Vec<[[f64; DIM]; MAX_D + 1]>,
    sigma: f64,
    /// Training errors: count, mean and Welford's sum of squares.
    errors: usize,
    error_mean: f64,
    error_m2: f64,
}

impl Model {
    fn random(rng: &mut SimRng, max_train: usize) -> Model {
        let d = rng.random_range(1..=MAX_D);
        let mk = rng.random_range(2..=MAX_MK);
        let sigma = MAX_SIGMA * rng.random::<f64>();
        let weights = (0..mk).map(|_| rng.random::<f64>() - 0.5).collect();
        Model::new(d, mk, weights, sigma, max_train)
    }

    /// An untrained model with `d` differences, `mk` AR weights and threshold factor `sigma`.
    fn new(d: usize, mk: usize, weights: Vec<f64>, sigma: f64, max_train: usize) -> Model {
        // initRate(mk) = 0.5 min(1 / mk, 4 g D) with D = sqrt(2 mk), g = 2 sqrt(mk) D: 0.5 / mk.
        let rate = 0.5 / mk as f64;
        // A = I / (rate^2 D^2), so its inverse is rate^2 2 mk = 0.5 / mk on the diagonal.
        let initial_inv = rate * rate * 2.0 * mk as f64;
        // Only the lags that have samples carry gradient, so the active block never exceeds
        // the training length.
        let stride = mk.min(max_train).max(1);
        let mut inv = vec![0.0; stride * stride];
        for i in 0..stride {
            inv[i * stride + i] = initial_inv;
        }
        Model {
            d,
            mk,
            rate,
            weights,
            inv,
            stride,
            history: Vec::new(),
            sigma,
            errors: 0,
            error_mean: 0.0,
            error_m2: 0.0,
        }
    }

    /// The d-th difference `lag` samples back, if there is one.
    fn diff_at(&self, lag: usize) -> Option<&[f64; DIM]> {
        let n = self.history.len();
        (lag < n).then(|| &self.history[n - 1 - lag][self.d])
    }

    fn predict(&self) -> [f64; DIM] {
        let mut x = [0.0; DIM];
        for lag in 0..self.mk.min(self.history.len()) {
            let diff = self.diff_at(lag).expect("lag within history");
            for j in 0..DIM {
                x[j] += self.weights[lag] * diff[j];
            }
        }
        if let Some(last) = self.history.last() {
            for level in last.iter().take(self.d) {
                for j in 0..DIM {
                    x[j] += level[j];
                }
            }
        }
        x
    }

    fn train(&mut self, value: [f64; DIM]) {
        let prediction = self.predict();
        self.add_error(distance(&value, &prediction));
        self.update(&prediction, &value);
        self.push(value);
    }

    fn add_error(&mut self, e: f64) {
        // CompleteHistoryAvgStd: running mean and sample standard deviation.
        self.errors += 1;
        let previous = self.error_mean;
        self.error_mean += (e - previous) / self.errors as f64;
        self.error_m2 += (e - self.error_mean) * (e - previous);
    }

    fn threshold(&self) -> f64 {
        let sd = if self.errors > 1 {
            (self.error_m2 / (self.errors - 1) as f64).sqrt()
        } else {
            0.0
        };
        self.error_mean + self.sigma * sd
    }

    /// One online Newton step (Sherman-Morrison on the inverse), as `EfficientModelONSmulti`.
    fn update(&mut self, prediction: &[f64; DIM], value: &[f64; DIM]) {
        let active = self.mk.min(self.history.len()).min(self.stride);
        if active == 0 {
            return;
        }
        let grad: Vec<f64> = (0..active)
            .map(|lag| {
                let diff = self.diff_at(lag).expect("lag within history");
                (0..DIM)
                    .map(|j| -2.0 * (value[j] - prediction[j]) * diff[j])
                    .sum()
            })
            .collect();
        let s = self.stride;
        // v = inv g; b = 1 + g' v; inv -= v v' / b; the new inv g is v / b.
        let v: Vec<f64> = (0..active)
            .map(|i| {
                let row = &self.inv[i * s..i * s + active];
                row.iter().zip(&grad).map(|(a, g)| a * g).sum()
            })
            .collect();
        let b = 1.0 + grad.iter().zip(&v).map(|(g, v)| g * v).sum::<f64>();
        for i in 0..active {
            let vi = v[i] / b;
            let row = &mut self.inv[i * s..i * s + active];
            for (a, vj) in row.iter_mut().zip(&v) {
                *a -= vi * vj;
            }
        }
        for (w, vi) in self.weights.iter_mut().zip(&v) {
            *w -= vi / b / self.rate;
        }
    }

    fn push(&mut self, value: [f64; DIM]) {
        let mut entry = [[0.0; DIM]; MAX_D + 1];
        entry[0] = value;
        if let Some(previous) = self.history.last() {
            for g in 1..=self.d {
                for j in 0..DIM {
                    entry[g][j] = entry[g - 1][j] - previous[g - 1][j];
                }
            }
        }
        if self.history.len() == self.mk {
            self.history.remove(0);
        }
        self.history.push(entry);
    }
}

fn distance(a: &[f64; DIM], b: &[f64; DIM]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// A trained detector: each model's fixed prediction and threshold.
#[derive(Clone, Debug)]
pub struct Iftm {
    predictions: Vec<[f64; DIM]>,
    thresholds: Vec<f64>,
    /// Set once a model produced a non-finite error or threshold (the prototype then replaces
    /// the population by untrained models).
    broken: bool,
}

impl Iftm {
    /// Draws the population from `rng` and trains it on `samples` (throughput, lag), skipping
    /// seconds without both values as the prototype does.
    pub fn train(rng: &mut SimRng, samples: &[Option<(f64, f64)>]) -> Iftm {
        let values: Vec<[f64; DIM]> = samples
            .iter()
            .flatten()
            .filter(|(t, l)| t.is_finite() && l.is_finite())
            .map(|&(t, l)| [t, l])
            .collect();
        let mut models: Vec<Model> = (0..POPULATION)
            .map(|_| Model::random(rng, values.len()))
            .collect();
        for model in &mut models {
            for v in &values {
                model.train(*v);
            }
        }
        Iftm {
            predictions: models.iter().map(Model::predict).collect(),
            thresholds: models.iter().map(Model::threshold).collect(),
            broken: false,
        }
    }

    /// Whether the sample is normal: at most half of the models find it beyond their threshold.
    pub fn is_normal(&mut self, throughput: f64, lag: f64) -> bool {
        if self.broken {
            return false;
        }
        let value = [throughput, lag];
        let mut anomalous = 0;
        for (p, t) in self.predictions.iter().zip(&self.thresholds) {
            let e = distance(&value, p);
            if !e.is_finite() || !t.is_finite() {
                self.broken = true;
                return true;
            }
            if e > *t {
                anomalous += 1;
            }
        }
        // countIsAnomaly (each model weighs 1 / 50) > 0.5.
        2 * anomalous <= POPULATION
    }

    /// The median over the models of their threshold.
    #[cfg(test)]
    fn median_threshold(&self) -> f64 {
        let mut t = self.thresholds.clone();
        t.sort_by(f64::total_cmp);
        t.get(t.len() / 2).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn steady(n: usize, thr: f64, lag: f64) -> Vec<Option<(f64, f64)>> {
        (0..n)
            .map(|i| {
                let wobble = ((i * 7919) % 13) as f64 - 6.0;
                Some((thr + 20.0 * wobble, lag + 10.0 * wobble))
            })
            .collect()
    }

    #[test]
    fn a_model_extrapolates_what_it_was_trained_on() {
        let mut rng = SimRng::seed_from_u64(1);
        let mut m = Model::random(&mut rng, 60);
        // A constant series: every difference is 0 after the first step, so the prediction is
        // the last value whatever the weights.
        for _ in 0..60 {
            m.train([1000.0, 50.0]);
        }
        let p = m.predict();
        assert!(
            (p[0] - 1000.0).abs() < 1e-9 && (p[1] - 50.0).abs() < 1e-9,
            "{p:?}"
        );
        // The first error is the distance of the first sample from 0; the others are 0.
        let first = (1000.0f64.powi(2) + 50.0f64.powi(2)).sqrt();
        assert!((m.error_mean - first / 60.0).abs() < 1e-9);
        let sd = (first * first * (1.0 / 60.0) * (59.0 / 59.0)).sqrt();
        assert!((m.threshold() - (first / 60.0 + m.sigma * sd)).abs() < 1e-6 * first);
    }

    #[test]
    fn one_online_newton_step_by_hand() {
        // d = 1, mk = 2: rate 0.25, inverse Hessian starts at 0.25 I.
        let mut m = Model::new(1, 2, vec![0.1, -0.2], 1.5, 3);
        let (x0, x1, x2) = ([10.0, 1.0], [12.0, 1.0], [13.0, 2.0]);
        m.train(x0); // predicts 0: error |x0|, nothing to learn from
        m.train(x1); // predicts x0; the only difference so far is 0: no step
        assert_eq!(m.weights, vec![0.1, -0.2]);
        m.train(x2);
        // Third prediction: x1 + 0.1 (x1 - x0) = (12.2, 1); error (0.8, 1).
        // Gradient -2 e . diff = (-3.2, 0); v = 0.25 g = (-0.8, 0); b = 1 + g.v = 3.56;
        // w0 -= v0 / b / rate.
        let b = 1.0 + 3.2 * 0.8;
        assert!(
            (m.weights[0] - (0.1 + 0.8 / b / 0.25)).abs() < 1e-12,
            "{:?}",
            m.weights
        );
        assert_eq!(m.weights[1], -0.2);
        assert!((m.inv[0] - (0.25 - 0.64 / b)).abs() < 1e-12);
        // The fixed prediction after the window: the last two samples' differences (mk = 2).
        let p = m.predict();
        let w0 = m.weights[0];
        assert!(
            (p[0] - (13.0 + w0 * 1.0 - 0.2 * 2.0)).abs() < 1e-12,
            "{p:?}"
        );
        assert!((p[1] - (2.0 + w0 * 1.0)).abs() < 1e-12, "{p:?}");
        // Threshold: mean + 1.5 sample sd of the three training errors.
        let errors = [101.0f64.sqrt(), 2.0, (0.64f64 + 1.0).sqrt()];
        let mean = errors.iter().sum::<f64>() / 3.0;
        let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((m.threshold() - (mean + 1.5 * sd)).abs() < 1e-9);
    }

    #[test]
    fn the_thresholds_are_wide_and_the_vote_reads_them() {
        let mut rng = SimRng::seed_from_u64(7);
        let mut det = Iftm::train(&mut rng, &steady(60, 26_000.0, 800.0));
        // About a third of the throughput at the median model (sigma ~2.5 over a first error of
        // ~26 000 among 60).
        let t = det.median_threshold();
        assert!(t > 0.15 * 26_000.0 && t < 0.6 * 26_000.0, "{t}");
        assert!(det.is_normal(26_000.0, 800.0));
        // A catch-up plateau 20 % above the load is normal to this detector ...
        assert!(det.is_normal(31_200.0, 2_000.0));
        // ... a job that is still down, or a lag of 60 K records, is not.
        assert!(!det.is_normal(0.0, 800.0));
        assert!(!det.is_normal(26_000.0, 60_000.0));
    }

    #[test]
    fn the_population_is_reproducible_from_the_seed() {
        let samples = steady(60, 10_000.0, 300.0);
        let a = Iftm::train(&mut SimRng::seed_from_u64(3), &samples);
        let b = Iftm::train(&mut SimRng::seed_from_u64(3), &samples);
        let c = Iftm::train(&mut SimRng::seed_from_u64(4), &samples);
        assert_eq!(a.thresholds, b.thresholds);
        assert_ne!(a.thresholds, c.thresholds);
    }

    #[test]
    fn missing_seconds_are_skipped_in_training() {
        let mut with_gaps = steady(60, 10_000.0, 300.0);
        with_gaps.insert(10, None);
        with_gaps.insert(30, Some((f64::NAN, 1.0)));
        let a = Iftm::train(&mut SimRng::seed_from_u64(5), &with_gaps);
        let b = Iftm::train(&mut SimRng::seed_from_u64(5), &steady(60, 10_000.0, 300.0));
        assert_eq!(a.thresholds, b.thresholds);
    }

    #[test]
    fn a_non_finite_error_breaks_the_population() {
        let mut det = Iftm::train(&mut SimRng::seed_from_u64(9), &steady(60, 5_000.0, 100.0));
        assert!(det.is_normal(f64::INFINITY, 0.0));
        assert!(!det.is_normal(5_000.0, 100.0));
    }
}
