//! The per-stride autoregressive models that stand in for Demeter's `auto_arima` bank: an
//! ARIMA(p, d, 0) with constant (d = 1: drift) on the series sampled every `stride` seconds,
//! fitted by conditional least squares, the order `p` chosen by AIC, refitted online from
//! running sufficient statistics.
//!
//! The regression `w_t = c + sum_j phi_j w_{t - j s} + e_t` (with `w_t = v_t - v_{t-s}` the
//! differenced series on the stride grid) does not depend on the grid's phase, so every second
//! `t` contributes a sample (all phases of the grid pooled). Consecutive samples overlap, so the
//! effective sample size used by the AIC is `count / stride`. With `d = 0` the regression is
//! on the levels `w_t = v_t` instead. The Gram matrix of
//! `[1, w_{t-s}, ..., w_{t-P s}, w_t]` is kept for the largest order `P`, so an update costs
//! `O(P^2)` per new second and every order's fit is a small solve on a leading sub-matrix.

use super::smoothing::solve_dense;

/// One stride's model.
#[derive(Debug, Clone, PartialEq)]
pub struct StrideModel {
    /// Grid step in seconds.
    pub stride: usize,
    /// Largest AR order considered.
    pub max_order: usize,
    /// Whether the model differences the series (d = 1) or not (d = 0).
    pub differenced: bool,
    /// Gram matrix of `[1, lags.., target]`, row-major `(max_order + 2)^2`.
    gram: Vec<f64>,
    /// Samples accumulated.
    count: f64,
    /// `[c, phi_1, .., phi_p]` of the selected order, `None` until enough samples.
    coef: Option<Vec<f64>>,
}

impl StrideModel {
    /// An empty ARIMA(p, 1, 0) model.
    pub fn new(stride: usize, max_order: usize) -> Self {
        Self::with_differencing(stride, max_order, true)
    }

    /// An empty model, differenced (d = 1) or not (d = 0).
    pub fn with_differencing(stride: usize, max_order: usize, differenced: bool) -> Self {
        let d = max_order + 2;
        StrideModel {
            stride: stride.max(1),
            max_order,
            differenced,
            gram: vec![0.0; d * d],
            count: 0.0,
            coef: None,
        }
    }

    /// The earliest index `t` of `v` that can be a sample (all lags inside the series).
    pub fn first_sample(&self) -> usize {
        (self.max_order + usize::from(self.differenced)) * self.stride
    }

    /// The modelled value at index `t` (`t >= stride` when differenced).
    fn w(&self, v: &[f64], t: usize) -> f64 {
        if self.differenced {
            v[t] - v[t - self.stride]
        } else {
            v[t]
        }
    }

    /// Add the sample ending at index `t` of `v` (`t >= first_sample()`); samples touching a
    /// non-finite value are skipped.
    pub fn add(&mut self, v: &[f64], t: usize) {
        let s = self.stride;
        let d = self.max_order + 2;
        let mut x = [0.0f64; 16];
        debug_assert!(d <= 16);
        x[0] = 1.0;
        for (j, xj) in x.iter_mut().enumerate().take(self.max_order + 1).skip(1) {
            *xj = self.w(v, t - j * s);
        }
        x[d - 1] = self.w(v, t);
        let x = &x[..d];
        if !x.iter().all(|a| a.is_finite()) {
            return;
        }
        // The upper triangle, row by row (each entry its own running sum).
        for (r, row) in self.gram.chunks_exact_mut(d).enumerate() {
            let xr = x[r];
            for (g, xc) in row[r..].iter_mut().zip(&x[r..]) {
                *g += xr * xc;
            }
        }
        self.count += 1.0;
    }

    /// Effective number of independent samples (`count / stride`).
    pub fn effective_samples(&self) -> f64 {
        self.count / self.stride as f64
    }

    /// Re-select the order `p` and whether to include the constant (the drift when
    /// differenced) by AIC, and refit. Orders need at least `p + 3` effective samples.
    pub fn refit(&mut self) {
        let d = self.max_order + 2;
        let n = self.count;
        let n_eff = self.effective_samples();
        let g = |r: usize, c: usize| {
            if r <= c {
                self.gram[r * d + c]
            } else {
                self.gram[c * d + r]
            }
        };
        let yy = g(d - 1, d - 1);
        let mut best: Option<(f64, Vec<f64>)> = None;
        for p in 0..=self.max_order {
            if n_eff < (p + 3) as f64 {
                break;
            }
            for with_const in [false, true] {
                // Regressor columns of the Gram matrix: [1?, lag 1, .., lag p].
                let cols: Vec<usize> = (usize::from(!with_const)..=p).collect();
                let k = cols.len();
                let mut a = vec![0.0; k * k];
                let mut b = vec![0.0; k];
                let mut trace = 0.0;
                for (r, &cr) in cols.iter().enumerate() {
                    for (c, &cc) in cols.iter().enumerate() {
                        a[r * k + c] = g(cr, cc);
                    }
                    b[r] = g(cr, d - 1);
                    trace += g(cr, cr);
                }
                // A whisper of ridge (not on the constant) keeps collinear lags solvable.
                for (r, &cr) in cols.iter().enumerate() {
                    if cr > 0 {
                        a[r * k + r] += 1e-10 * trace / k as f64;
                    }
                }
                let rhs = b.clone();
                if k > 0 && solve_dense(&mut a, &mut b, k).is_none() {
                    continue;
                }
                let explained: f64 = b.iter().zip(&rhs).map(|(x, y)| x * y).sum();
                let rss = (yy - explained).max(1e-12 * yy).max(1e-300);
                let sigma2 = (rss / n).max(1e-300);
                let aic = n_eff * sigma2.ln() + 2.0 * k as f64;
                if best.as_ref().is_none_or(|(b_aic, _)| aic < *b_aic) {
                    let mut coef = vec![0.0; p + 1];
                    for (&c, v) in cols.iter().zip(&b) {
                        coef[c] = *v;
                    }
                    best = Some((aic, coef));
                }
            }
        }
        self.coef = best.map(|(_, c)| c);
    }

    /// The selected AR order, if fitted.
    pub fn order(&self) -> Option<usize> {
        self.coef.as_ref().map(|c| c.len() - 1)
    }

    /// Levels at `T + h * stride` for `h = 0..=steps` (`T` the last index of `v`), or `None`
    /// when the model is not fitted.
    pub fn forecast(&self, v: &[f64], steps: usize) -> Option<Vec<f64>> {
        let coef = self.coef.as_ref()?;
        let p = coef.len() - 1;
        let s = self.stride;
        let n = v.len();
        if n == 0 {
            return None;
        }
        let last = n - 1;
        // Past w_{T - j s}, j = 0..p-1 (most recent first); missing ones are 0 (differenced)
        // or the oldest available value.
        let need = if self.differenced { s as i64 } else { 0 };
        let mut hist: Vec<f64> = (0..p)
            .map(|j| {
                let t = last as i64 - (j * s) as i64;
                if t - need >= 0 {
                    self.w(v, t as usize)
                } else if self.differenced {
                    0.0
                } else {
                    v[0]
                }
            })
            .collect();
        let mut level = v[last];
        let mut out = Vec::with_capacity(steps + 1);
        out.push(level);
        for _ in 0..steps {
            let mut w = coef[0];
            for j in 0..p {
                w += coef[j + 1] * hist[j];
            }
            if !w.is_finite() {
                w = 0.0;
            }
            if p > 0 {
                hist.rotate_right(1);
                hist[0] = w;
            }
            if self.differenced {
                level += w;
            } else {
                level = w;
            }
            out.push(level);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_ar1_on_differences() {
        // w_t = 0.6 w_{t-1} + small deterministic excitation, stride 1.
        let mut v = vec![0.0, 0.0];
        let mut w = 0.0;
        let mut state: u64 = 7;
        for _ in 0..5000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let e = ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
            w = 0.6 * w + e;
            let last = *v.last().unwrap();
            v.push(last + w);
        }
        let mut m = StrideModel::new(1, 4);
        for t in m.first_sample()..v.len() {
            m.add(&v, t);
        }
        m.refit();
        let coef = m.coef.clone().unwrap();
        assert!(coef.len() >= 2);
        assert!((coef[1] - 0.6).abs() < 0.05, "{coef:?}");
    }

    #[test]
    fn constant_series_forecasts_constant() {
        let v = vec![5.0; 400];
        let mut m = StrideModel::new(30, 5);
        for t in m.first_sample()..v.len() {
            m.add(&v, t);
        }
        m.refit();
        let f = m.forecast(&v, 3).unwrap();
        assert!(f.iter().all(|x| (x - 5.0).abs() < 1e-9), "{f:?}");
    }
}
