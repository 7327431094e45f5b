//! Dense linear algebra for the small symmetric positive definite systems of the GPs: Cholesky
//! with a jitter schedule and triangular solves (row-major `ndarray`, no BLAS).

use ndarray::{Array1, Array2};

/// Jitter added to the diagonal on successive Cholesky attempts, relative to the mean diagonal
/// (gpytorch's `psd_safe_cholesky` idea: none first, then growing by factors of 10).
pub(crate) const JITTER_SCHEDULE: [f64; 8] = [0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4];

/// Smallest accepted pivot relative to the matrix's diagonal entry.
const PIVOT_REL_TOL: f64 = 1e-12;

/// Lower Cholesky factor of `a`, or `None` if a pivot is not positive and finite or is below
/// [`PIVOT_REL_TOL`] of its diagonal entry.
pub(crate) fn cholesky(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    // Row-major factor: row i's first i + 1 entries are its lower-triangular part.
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        let (above, row_i) = l.split_at_mut(i * n);
        let row_i = &mut row_i[..n];
        for j in 0..=i {
            let mut sum = a[[i, j]];
            let row_j = if j == i {
                &*row_i
            } else {
                &above[j * n..j * n + n]
            };
            for k in 0..j {
                sum -= row_i[k] * row_j[k];
            }
            if i == j {
                // A pivot that is only rounding noise of a singular matrix counts as failure.
                if !(sum > PIVOT_REL_TOL * a[[i, i]].abs() && sum > 0.0 && sum.is_finite()) {
                    return None;
                }
                row_i[i] = sum.sqrt();
            } else {
                row_i[j] = sum / row_j[j];
            }
        }
    }
    Array2::from_shape_vec((n, n), l).ok()
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

/// Columns of the right-hand side solved together by [`solve_lower`]: a block of rows this
/// wide stays in the L1 cache for a few dozen rows.
const SOLVE_BLOCK: usize = 64;

/// Solves `L X = B` for lower-triangular `L` (forward substitution). Every entry is
/// `(b_ij + (-l_i0) x_0j + (-l_i1) x_1j + ...) / l_ii` in that order, skipping `l_ik = 0`; the
/// columns are independent, so they are solved in blocks of [`SOLVE_BLOCK`] held row-major
/// in a scratch buffer. The result has `B`'s memory layout (as `B.clone()` would).
pub(crate) fn solve_lower(l: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let m = b.ncols();
    let mut x = b.clone();
    let l = lower_rows(l);
    let mut buf = vec![0.0; n * SOLVE_BLOCK.min(m)];
    for j0 in (0..m).step_by(SOLVE_BLOCK) {
        let w = SOLVE_BLOCK.min(m - j0);
        let block = &mut buf[..n * w];
        for (i, row) in block.chunks_exact_mut(w).enumerate() {
            for (jj, v) in row.iter_mut().enumerate() {
                *v = x[[i, j0 + jj]];
            }
        }
        forward_rows(&l, n, block, w);
        for (i, row) in block.chunks_exact(w).enumerate() {
            for (jj, v) in row.iter().enumerate() {
                x[[i, j0 + jj]] = *v;
            }
        }
    }
    x
}

/// `l` (n x n) as a row-major vector.
fn lower_rows(l: &Array2<f64>) -> Vec<f64> {
    l.as_slice()
        .map_or_else(|| l.iter().copied().collect(), <[f64]>::to_vec)
}

/// Forward substitution in place on `x`, `n` rows of `w` columns (row-major), with the
/// row-major `l`.
fn forward_rows(l: &[f64], n: usize, x: &mut [f64], w: usize) {
    for i in 0..n {
        let (done, rest) = x.split_at_mut(i * w);
        let row = &mut rest[..w];
        for k in 0..i {
            let lik = l[i * n + k];
            if lik != 0.0 {
                let alpha = -lik;
                for (y, v) in row.iter_mut().zip(&done[k * w..k * w + w]) {
                    *y += alpha * v;
                }
            }
        }
        let d = l[i * n + i];
        for y in row.iter_mut() {
            *y /= d;
        }
    }
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
    let linv = inverse_lower(l);
    linv.t().dot(&linv)
}

/// `L^{-1}`, equal entry for entry to `solve_lower(l, I)`: column j of the identity is zero
/// above row j, so those rows of the solution stay `+0` (`0 + (-l_ik) 0 = +0`, `+0 / l_ii =
/// +0` for the positive pivots of a Cholesky factor) and their terms are skipped. Row by
/// row: row i gets `(-l_ik) * row k` for k < i (only its first k + 1 entries, the rest being
/// zero), then is divided by `l_ii`.
fn inverse_lower(l: &Array2<f64>) -> Array2<f64> {
    let n = l.nrows();
    let rows = lower_rows(l);
    let mut x = vec![0.0; n * n];
    for i in 0..n {
        let (done, rest) = x.split_at_mut(i * n);
        let row = &mut rest[..n];
        row[i] = 1.0;
        for k in 0..i {
            let lik = rows[i * n + k];
            if lik != 0.0 {
                let alpha = -lik;
                for (y, v) in row[..=k].iter_mut().zip(&done[k * n..=k * n + k]) {
                    *y += alpha * v;
                }
            }
        }
        let d = rows[i * n + i];
        for y in row[..=i].iter_mut() {
            *y /= d;
        }
    }
    Array2::from_shape_fn((n, n), |(i, j)| x[i * n + j])
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

    /// The straightforward row-by-row forward substitution the blocked one must equal.
    fn solve_lower_reference(l: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        let mut x = b.clone();
        for i in 0..l.nrows() {
            for k in 0..i {
                let lik = l[[i, k]];
                if lik != 0.0 {
                    let (done, mut rest) = x.view_mut().split_at(ndarray::Axis(0), i);
                    rest.row_mut(0).scaled_add(-lik, &done.row(k));
                }
            }
            let d = l[[i, i]];
            x.row_mut(i).mapv_inplace(|v| v / d);
        }
        x
    }

    #[test]
    fn blocked_solves_equal_the_reference_bit_for_bit() {
        let n = 23;
        // A pseudo-random SPD matrix (some exact zeros off the diagonal).
        let mut state: u64 = 11;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let g = Array2::from_shape_fn(
            (n, n + 3),
            |(i, j)| if (i + j) % 7 == 0 { 0.0 } else { next() },
        );
        let a = g.dot(&g.t()) + Array2::<f64>::eye(n) * 0.1;
        let l = cholesky(&a).unwrap();
        let eye = Array2::<f64>::eye(n);
        let bits = |m: &Array2<f64>| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&inverse_lower(&l)),
            bits(&solve_lower_reference(&l, &eye))
        );
        // More columns than one block, in both memory orders.
        let b = Array2::from_shape_fn((n, 150), |_| next());
        let bf = b.t().to_owned().reversed_axes();
        assert_eq!(
            bits(&solve_lower(&l, &b)),
            bits(&solve_lower_reference(&l, &b))
        );
        let (x, r) = (solve_lower(&l, &bf), solve_lower_reference(&l, &bf));
        assert_eq!(bits(&x), bits(&r));
        assert_eq!(x.strides(), r.strides());
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
