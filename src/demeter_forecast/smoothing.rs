//! The pre-processing filters of Demeter's workload forecaster (§4.1): gap interpolation,
//! Savitzky-Golay smoothing, the centred exponential-window rolling mean and the centred
//! moving average.
//!
//! Edge handling (documented differences from pandas/scipy):
//! - [`savgol_filter`] behaves like `scipy.signal.savgol_filter(mode="interp")`: the first and
//!   last half-windows are the values of the polynomial fitted to the first/last full window.
//! - [`centred_exp_mean`] and [`centred_moving_average`] renormalise the truncated window at the
//!   edges instead of producing `NaN` (pandas' default `min_periods = window`), so the newest
//!   seconds are smoothed rather than held.

/// Fill `NaN`/infinite values by linear interpolation between the finite neighbours; leading
/// gaps take the first finite value, trailing gaps hold the last one. An all-missing series
/// becomes zeros.
pub fn interpolate_gaps(values: &mut [f64]) {
    let mut last: Option<usize> = None;
    let n = values.len();
    let mut i = 0;
    while i < n {
        if values[i].is_finite() {
            if let Some(l) = last {
                if i > l + 1 {
                    let (a, b) = (values[l], values[i]);
                    let span = (i - l) as f64;
                    for (j, v) in values.iter_mut().enumerate().take(i).skip(l + 1) {
                        *v = a + (b - a) * (j - l) as f64 / span;
                    }
                }
            } else {
                let first = values[i];
                values[..i].iter_mut().for_each(|v| *v = first);
            }
            last = Some(i);
        }
        i += 1;
    }
    match last {
        Some(l) => {
            let hold = values[l];
            values[l + 1..].iter_mut().for_each(|v| *v = hold);
        }
        None => values.iter_mut().for_each(|v| *v = 0.0),
    }
}

/// Solve the small dense system `a x = b` (row-major `n x n`) by Gaussian elimination with
/// partial pivoting. Returns `None` when the matrix is (numerically) singular.
pub(crate) fn solve_dense(a: &mut [f64], b: &mut [f64], n: usize) -> Option<()> {
    for col in 0..n {
        let mut piv = col;
        for r in col + 1..n {
            if a[r * n + col].abs() > a[piv * n + col].abs() {
                piv = r;
            }
        }
        if a[piv * n + col].is_nan() || a[piv * n + col].abs() <= 1e-300 {
            return None;
        }
        if piv != col {
            for c in 0..n {
                a.swap(col * n + c, piv * n + c);
            }
            b.swap(col, piv);
        }
        let d = a[col * n + col];
        for r in col + 1..n {
            let f = a[r * n + col] / d;
            if f != 0.0 {
                for c in col..n {
                    a[r * n + c] -= f * a[col * n + c];
                }
                b[r] -= f * b[col];
            }
        }
    }
    for col in (0..n).rev() {
        let mut s = b[col];
        for c in col + 1..n {
            s -= a[col * n + c] * b[c];
        }
        b[col] = s / a[col * n + col];
    }
    Some(())
}

/// Savitzky-Golay weights for a window of `window` (odd) samples and polynomial order `order`,
/// evaluating the least-squares polynomial at offset `at` from the window centre
/// (`at = 0` is the ordinary smoothing filter; `-(window/2)..=window/2` are the edge fits).
/// The weights apply to the samples in window order (oldest first).
///
/// # Panics
/// If `window` is even or `order >= window`.
pub fn savgol_weights(window: usize, order: usize, at: i64) -> Vec<f64> {
    assert!(window % 2 == 1, "the Savitzky-Golay window must be odd");
    assert!(
        order < window,
        "the polynomial order must be below the window"
    );
    let half = (window / 2) as i64;
    let scale = half.max(1) as f64;
    let k = order + 1;
    // Normal matrix of the Vandermonde basis on x = j / half (scaled for conditioning).
    let mut ata = vec![0.0; k * k];
    for j in -half..=half {
        let x = j as f64 / scale;
        let mut powers = vec![1.0; k];
        for p in 1..k {
            powers[p] = powers[p - 1] * x;
        }
        for r in 0..k {
            for c in 0..k {
                ata[r * k + c] += powers[r] * powers[c];
            }
        }
    }
    let x0 = at as f64 / scale;
    let mut rhs: Vec<f64> = (0..k).map(|p| x0.powi(p as i32)).collect();
    solve_dense(&mut ata, &mut rhs, k).expect("the Savitzky-Golay normal matrix is regular");
    (-half..=half)
        .map(|j| {
            let x = j as f64 / scale;
            let mut acc = 0.0;
            let mut pw = 1.0;
            for v in &rhs {
                acc += v * pw;
                pw *= x;
            }
            acc
        })
        .collect()
}

/// The Savitzky-Golay filter of `x` (window odd, `order < window`), with scipy's `interp` edges.
/// A series shorter than the window is filtered with the largest odd window that fits (and
/// the order lowered if needed); fewer than 3 samples are returned unchanged.
pub fn savgol_filter(x: &[f64], window: usize, order: usize) -> Vec<f64> {
    let n = x.len();
    let mut window = window.min(if n % 2 == 1 { n } else { n.saturating_sub(1) });
    if window % 2 == 0 {
        window = window.saturating_sub(1);
    }
    if window < 3 {
        return x.to_vec();
    }
    let order = order.min(window - 1);
    let half = window / 2;
    let centre = savgol_weights(window, order, 0);
    let mut out = vec![0.0; n];
    for i in half..n - half {
        out[i] = dot(&centre, &x[i - half..=i + half]);
    }
    for i in 0..half {
        let w = savgol_weights(window, order, i as i64 - half as i64);
        out[i] = dot(&w, &x[..window]);
        let w = savgol_weights(window, order, (half - i) as i64);
        out[n - 1 - i] = dot(&w, &x[n - window..]);
    }
    out
}

/// The edge-aware Savitzky-Golay value at index `i` of `x` (same result as
/// `savgol_filter(x, ..)[i]` for `x.len() >= window`), used to recompute only a tail.
pub(crate) fn savgol_at(x: &[f64], i: usize, window: usize, order: usize, centre: &[f64]) -> f64 {
    let n = x.len();
    let half = window / 2;
    if n < window {
        return savgol_filter(x, window, order)[i];
    }
    if i >= half && i + half < n {
        dot(centre, &x[i - half..=i + half])
    } else if i < half {
        dot(
            &savgol_weights(window, order, i as i64 - half as i64),
            &x[..window],
        )
    } else {
        let from_end = n - 1 - i;
        dot(
            &savgol_weights(window, order, (half - from_end) as i64),
            &x[n - window..],
        )
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Weights of the centred exponential window of `window` samples (scipy's
/// `windows.exponential(window, tau=tau)`, pandas `rolling(window, win_type="exponential",
/// center=True)`): the window of output `i` covers inputs `i - window/2 ..= i + (window-1)/2`
/// with weight `exp(-|n - (window-1)/2| / tau)` for the `n`-th of them. Returned as
/// `(first offset, weights)`.
pub fn exp_window(window: usize, tau: f64) -> (i64, Vec<f64>) {
    let window = window.max(1);
    let first = -((window / 2) as i64);
    let mid = (window as f64 - 1.0) / 2.0;
    let w = (0..window)
        .map(|n| (-(n as f64 - mid).abs() / tau).exp())
        .collect();
    (first, w)
}

/// The centred weighted rolling mean of `x` with the window `(first offset, weights)`; at the
/// edges the truncated window is renormalised.
pub fn centred_weighted_mean(x: &[f64], first: i64, weights: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| weighted_mean_at(x, i, first, weights))
        .collect()
}

pub(crate) fn weighted_mean_at(x: &[f64], i: usize, first: i64, weights: &[f64]) -> f64 {
    let n = x.len() as i64;
    let (mut s, mut ws) = (0.0, 0.0);
    for (k, w) in weights.iter().enumerate() {
        let j = i as i64 + first + k as i64;
        if (0..n).contains(&j) {
            s += w * x[j as usize];
            ws += w;
        }
    }
    if ws > 0.0 {
        s / ws
    } else {
        x[i]
    }
}

/// The centred exponential-window rolling mean (§4.1: window 60, pandas' default `tau = 1`).
pub fn centred_exp_mean(x: &[f64], window: usize, tau: f64) -> Vec<f64> {
    let (first, w) = exp_window(window, tau);
    centred_weighted_mean(x, first, &w)
}

/// The centred moving average of `window` samples (pandas `rolling(window, center=True)`:
/// inputs `i - window/2 ..= i + (window-1)/2`), truncated and renormalised at the edges.
pub fn centred_moving_average(x: &[f64], window: usize) -> Vec<f64> {
    let window = window.max(1);
    let n = x.len();
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + x[i];
    }
    let back = window / 2;
    let fwd = (window - 1) / 2;
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(back);
            let hi = (i + fwd + 1).min(n);
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savgol_five_point_quadratic_coefficients() {
        let w = savgol_weights(5, 2, 0);
        let expected = [-3.0, 12.0, 17.0, 12.0, -3.0].map(|v| v / 35.0);
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
    }

    #[test]
    fn savgol_51_3_preserves_a_cubic_everywhere() {
        let x: Vec<f64> = (0..200)
            .map(|i| {
                let t = i as f64 * 0.1 - 7.0;
                3.0 - 2.0 * t + 0.5 * t * t - 0.07 * t * t * t
            })
            .collect();
        let y = savgol_filter(&x, 51, 3);
        for (i, (a, b)) in x.iter().zip(&y).enumerate() {
            assert!((a - b).abs() < 1e-8 * a.abs().max(1.0), "i={i}: {a} vs {b}");
        }
        for i in [0, 10, 30, 100, 180, 199] {
            let centre = savgol_weights(51, 3, 0);
            assert!((savgol_at(&x, i, 51, 3, &centre) - y[i]).abs() < 1e-9);
        }
    }

    #[test]
    fn savgol_weights_sum_to_one() {
        for at in -25..=25 {
            let s: f64 = savgol_weights(51, 3, at).iter().sum();
            assert!((s - 1.0).abs() < 1e-10);
        }
    }

    #[test]
    fn interpolation_fills_gaps_linearly_and_holds_edges() {
        let mut x = [f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN];
        interpolate_gaps(&mut x);
        assert_eq!(x, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
    }

    #[test]
    fn smoothers_keep_constants_and_lines_in_the_interior() {
        let c = vec![7.0; 300];
        assert!(centred_exp_mean(&c, 60, 1.0)
            .iter()
            .all(|v| (v - 7.0).abs() < 1e-12));
        assert!(centred_moving_average(&c, 120)
            .iter()
            .all(|v| (v - 7.0).abs() < 1e-12));
        let line: Vec<f64> = (0..300).map(|i| i as f64).collect();
        let ma = centred_moving_average(&line, 120);
        // window i-60 ..= i+59 has mean i - 0.5
        assert!((ma[150] - 149.5).abs() < 1e-9);
        let (first, w) = exp_window(60, 1.0);
        assert_eq!(first, -30);
        assert_eq!(w.len(), 60);
        assert!((w[29] - w[30]).abs() < 1e-15 && (w[29] - (-0.5f64).exp()).abs() < 1e-15);
    }
}
