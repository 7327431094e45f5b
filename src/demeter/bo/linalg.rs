//! Dense linear algebra for the small symmetric positive definite systems of the GPs: Cholesky
//! with a jitter schedule and triangular solves (row-major `ndarray`, no BLAS).

use ndarray::{Array1, Array2, Axis};

/// Jitter added to the diagonal on successive Cholesky attempts, relative to the mean diagonal
/// (gpytorch's `psd_safe_cholesky` idea: none first, then growing by factors of 10).
pub(crate) const JITTER_SCHEDULE: [f64; 8] = [0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4];

/// Smallest accepted pivot relative to the matrix's diagonal entry.
const PIVOT_REL_TOL: f64 = 1e-12;

/// Lower Cholesky factor of `a`, or `None` if a pivot is not positive and finite or is below
/// [`PIVOT_REL_TOL`] of its diagonal entry.
pub(crate) fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[[i, j]];
            for k in 0..j {
                sum -= l[[i, k]] * l[[j, k]];
            }
            if i == j {
                // A pivot that is only rounding noise of a singular matrix counts as failure.
                if !(sum > PIVOT_REL_TOL * a[[i, i]].abs() && sum > 0.0 && sum.is_finite()) {
                    return None;
                }
                l[[i, i]] = sum.sqrt();
            } else {
                l[[i, j]] = sum / l[[j, j]];
            }
        }
    }
    Some(l)
}

/// Cholesky of `a + jitter * mean(diag(a)) * I` for the first jitter of [`JITTER_SCHEDULE`] that
/// works. Returns the factor and the absolute jitter added, or `None` if every attempt failed.
pub(crate) fn cholesky_jittered(a: &Array2<f64>) -> Option<(Array2<f64>, f64)> {
    let n = a.nrows();
    if n == 0 {
        return Some((Array2::zeros((0, 0)), 0.0));
    }
    let mean_diag = a.diag().iter().map(|v| v.abs()).sum::<f64>() / n as f64;
    let scale = if mean_diag > 0.0 && mean_diag.is_finite() {
        mean_diag
    } else {
        1.0
    };
    for rel in JITTER_SCHEDULE {
        let jitter = rel * scale;
        let mut b = a.clone();
        for i in 0..n {
            b[[i, i]] += jitter;
        }
        if let Some(l) = cholesky(&b) {
            return Some((l, jitter));
        }
    }
    None
}

/// Solves `L X = B` for lower-triangular `L` (forward substitution, all columns of `B` at once).
pub(crate) fn solve_lower(l: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let mut x = b.clone();
    for i in 0..n {
        for k in 0..i {
            let lik = l[[i, k]];
            if lik != 0.0 {
                let (done, mut rest) = x.view_mut().split_at(Axis(0), i);
                rest.row_mut(0).scaled_add(-lik, &done.row(k));
            }
        }
        let d = l[[i, i]];
        x.row_mut(i).mapv_inplace(|v| v / d);
    }
    x
}

/// Solves `L x = b` for one right-hand side.
pub(crate) fn solve_lower_vec(l: &Array2<f64>, b: &Array1<f64>) -> Array1<f64> {
    let n = l.nrows();
    let mut x = b.clone();
    for i in 0..n {
        let mut sum = x[i];
        for k in 0..i {
            sum -= l[[i, k]] * x[k];
        }
        x[i] = sum / l[[i, i]];
    }
    x
}

/// Solves `L^T x = b` for one right-hand side (back substitution).
pub(crate) fn solve_upper_t_vec(l: &Array2<f64>, b: &Array1<f64>) -> Array1<f64> {
    let n = l.nrows();
    let mut x = b.clone();
    for i in (0..n).rev() {
        let mut sum = x[i];
        for k in (i + 1)..n {
            sum -= l[[k, i]] * x[k];
        }
        x[i] = sum / l[[i, i]];
    }
    x
}

/// `A^{-1}` from the Cholesky factor of `A`: `L^{-T} L^{-1}`.
pub(crate) fn inverse_from_cholesky(l: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let linv = solve_lower(l, &Array2::eye(n));
    linv.t().dot(&linv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cholesky_of_a_hand_example() {
        // [[4, 2], [2, 5]] = L L^T with L = [[2, 0], [1, 2]].
        let a = array![[4.0, 2.0], [2.0, 5.0]];
        let l = cholesky(&a).unwrap();
        assert_eq!(l, array![[2.0, 0.0], [1.0, 2.0]]);
        let x = solve_upper_t_vec(&l, &solve_lower_vec(&l, &array![8.0, 9.0]));
        // A^{-1} [8, 9] = [1.375, 1.25]: 4*1.375 + 2*1.25 = 8, 2*1.375 + 5*1.25 = 9.
        assert!((x[0] - 1.375).abs() < 1e-12 && (x[1] - 1.25).abs() < 1e-12);
        let inv = inverse_from_cholesky(&l);
        let id = a.dot(&inv);
        assert!((id[[0, 0]] - 1.0).abs() < 1e-12 && id[[0, 1]].abs() < 1e-12);
    }

    #[test]
    fn singular_matrices_get_jitter() {
        let a = array![[1.0, 1.0], [1.0, 1.0]];
        assert!(cholesky(&a).is_none());
        let (_, jitter) = cholesky_jittered(&a).unwrap();
        assert!(jitter > 0.0 && jitter <= 1e-4);
        let nan = array![[f64::NAN]];
        assert!(cholesky_jittered(&nan).is_none());
    }
}
