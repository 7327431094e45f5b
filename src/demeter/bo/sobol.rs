//! Sobol low-discrepancy points (Joe & Kuo 2008 direction numbers, Gray-code order), optionally
//! with a seeded random digital shift.
//!
//! Direction numbers: `new-joe-kuo-6.21201` (S. Joe, F. Y. Kuo, "Constructing Sobol sequences
//! with better two-dimensional projections", SIAM J. Sci. Comput. 30, 2008), dimensions 2..=32;
//! dimension 1 is van der Corput. Points are generated as in Joe & Kuo's reference `sobol.cc`
//! and SciPy's `Sobol(scramble=False)`: point 0 is the origin, point i is the XOR of the direction
//! numbers selected by the bits of the Gray code of i.

use super::BoError;
use rand::Rng;

/// Dimensions supported by [`sobol`].
pub const SOBOL_MAX_DIM: usize = 32;

/// Bits of precision: points are multiples of 2^-32; at most 2^32 points per sequence.
const BITS: usize = 32;

/// (degree s, coefficient a, initial direction numbers m_1..m_s) for dimensions 2..=32.
const JOE_KUO: [(u32, u32, &[u32]); SOBOL_MAX_DIM - 1] = [
    (1, 0, &[1]),
    (2, 1, &[1, 3]),
    (3, 1, &[1, 3, 1]),
    (3, 2, &[1, 1, 1]),
    (4, 1, &[1, 1, 3, 3]),
    (4, 4, &[1, 3, 5, 13]),
    (5, 2, &[1, 1, 5, 5, 17]),
    (5, 4, &[1, 1, 5, 5, 5]),
    (5, 7, &[1, 1, 7, 11, 19]),
    (5, 11, &[1, 1, 5, 1, 1]),
    (5, 13, &[1, 1, 1, 3, 11]),
    (5, 14, &[1, 3, 5, 5, 31]),
    (6, 1, &[1, 3, 3, 9, 7, 49]),
    (6, 13, &[1, 1, 1, 15, 21, 21]),
    (6, 16, &[1, 3, 1, 13, 27, 49]),
    (6, 19, &[1, 1, 1, 15, 7, 5]),
    (6, 22, &[1, 3, 1, 15, 13, 25]),
    (6, 25, &[1, 1, 5, 5, 19, 61]),
    (7, 1, &[1, 3, 7, 11, 23, 15, 103]),
    (7, 4, &[1, 3, 7, 13, 13, 15, 69]),
    (7, 7, &[1, 1, 3, 13, 7, 35, 63]),
    (7, 8, &[1, 3, 5, 9, 1, 25, 53]),
    (7, 14, &[1, 3, 1, 13, 9, 35, 107]),
    (7, 19, &[1, 3, 1, 5, 27, 61, 31]),
    (7, 21, &[1, 1, 5, 11, 19, 41, 61]),
    (7, 28, &[1, 3, 5, 3, 3, 13, 69]),
    (7, 31, &[1, 1, 7, 13, 1, 19, 1]),
    (7, 32, &[1, 3, 7, 5, 13, 19, 59]),
    (7, 37, &[1, 1, 3, 9, 25, 29, 41]),
    (7, 41, &[1, 3, 5, 13, 23, 1, 55]),
    (7, 42, &[1, 3, 7, 3, 13, 59, 17]),
];

/// The 32 direction numbers V_1..V_32 (scaled by 2^32) of dimension `dim` (0-based).
fn directions(dim: usize) -> [u32; BITS] {
    let mut v = [0u32; BITS];
    if dim == 0 {
        for (i, vi) in v.iter_mut().enumerate() {
            *vi = 1u32 << (BITS - 1 - i);
        }
        return v;
    }
    let (s, a, m) = JOE_KUO[dim - 1];
    let s = s as usize;
    for i in 0..s.min(BITS) {
        v[i] = m[i] << (BITS - 1 - i);
    }
    for i in s..BITS {
        let mut x = v[i - s] ^ (v[i - s] >> s);
        for k in 1..s {
            if (a >> (s - 1 - k)) & 1 == 1 {
                x ^= v[i - k];
            }
        }
        v[i] = x;
    }
    v
}

fn check(dim: usize, n: usize, skip: usize) -> Result<(), BoError> {
    if dim == 0 || dim > SOBOL_MAX_DIM {
        return Err(BoError::SobolDimension {
            dim,
            max: SOBOL_MAX_DIM,
        });
    }
    if (skip as u128) + (n as u128) > (1u128 << BITS) {
        return Err(BoError::SobolLength { skip, n });
    }
    Ok(())
}

/// The Sobol points with indices `skip..skip + n` in [0, 1)^dim (index 0 is the origin).
///
/// Errors if `dim` is 0 or above [`SOBOL_MAX_DIM`], or if `skip + n > 2^32`.
pub fn sobol(dim: usize, n: usize, skip: usize) -> Result<Vec<Vec<f64>>, BoError> {
    check(dim, n, skip)?;
    Ok(sobol_words(dim, n, skip, &vec![0; dim])
        .into_iter()
        .map(|w| w.into_iter().map(to_unit).collect())
        .collect())
}

/// Like [`sobol`], with a random digital shift (one 32-bit XOR mask per dimension drawn from
/// `rng`): still a (t, s)-sequence with the same equidistribution, but no longer through the
/// origin. Deterministic given the rng.
pub fn sobol_shifted<R: Rng + ?Sized>(
    dim: usize,
    n: usize,
    skip: usize,
    rng: &mut R,
) -> Result<Vec<Vec<f64>>, BoError> {
    check(dim, n, skip)?;
    let shift: Vec<u32> = (0..dim).map(|_| rng.random::<u32>()).collect();
    Ok(sobol_words(dim, n, skip, &shift)
        .into_iter()
        .map(|w| w.into_iter().map(to_unit).collect())
        .collect())
}

fn to_unit(word: u32) -> f64 {
    f64::from(word) / (1u64 << BITS) as f64
}

fn sobol_words(dim: usize, n: usize, skip: usize, shift: &[u32]) -> Vec<Vec<u32>> {
    let dirs: Vec<[u32; BITS]> = (0..dim).map(directions).collect();
    // The point at `skip` directly from the Gray code of its index.
    let gray = (skip as u64) ^ ((skip as u64) >> 1);
    let mut x: Vec<u32> = dirs
        .iter()
        .map(|v| {
            (0..BITS)
                .filter(|bit| (gray >> bit) & 1 == 1)
                .fold(0u32, |acc, bit| acc ^ v[bit])
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for i in skip..skip + n {
        out.push(x.iter().zip(shift).map(|(a, b)| a ^ b).collect());
        // Next point: flip the direction number of the lowest zero bit of i.
        let c = (!(i as u64)).trailing_zeros() as usize;
        if c < BITS {
            for (xj, v) in x.iter_mut().zip(&dirs) {
                *xj ^= v[c];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn first_points_match_the_published_sequence() {
        // SciPy `qmc.Sobol(d=2, scramble=False).random(8)` and Joe & Kuo's sobol.cc.
        let expected = [
            [0.0, 0.0],
            [0.5, 0.5],
            [0.75, 0.25],
            [0.25, 0.75],
            [0.375, 0.375],
            [0.875, 0.875],
            [0.625, 0.125],
            [0.125, 0.625],
        ];
        let pts = sobol(2, 8, 0).unwrap();
        for (p, e) in pts.iter().zip(expected) {
            assert_eq!(p.as_slice(), e.as_slice());
        }
        // Dimension 3 (s = 2, a = 1, m = 1, 3): V = 0.5, 0.75, 0.375 (V3 = V1 ^ V1/4 ^ V2), Gray
        // order flips V1, V2, V1, V3, V1, V2, V1: 0, .5, .25, .75, .625, .125, .875, .375.
        let d3: Vec<f64> = sobol(3, 8, 0).unwrap().iter().map(|p| p[2]).collect();
        assert_eq!(d3, [0.0, 0.5, 0.25, 0.75, 0.625, 0.125, 0.875, 0.375]);
    }

    #[test]
    fn skip_equals_generating_and_dropping() {
        let all = sobol(7, 100, 0).unwrap();
        let tail = sobol(7, 37, 63).unwrap();
        assert_eq!(&all[63..], tail.as_slice());
    }

    #[test]
    fn every_dimension_is_a_permutation_of_a_grid() {
        // The first 2^k points of each 1-D projection are exactly the multiples of 2^-k.
        let pts = sobol(SOBOL_MAX_DIM, 64, 0).unwrap();
        for d in 0..SOBOL_MAX_DIM {
            let mut col: Vec<u64> = pts.iter().map(|p| (p[d] * 64.0) as u64).collect();
            col.sort_unstable();
            assert_eq!(col, (0..64).collect::<Vec<u64>>(), "dimension {}", d + 1);
        }
    }

    /// L2-star discrepancy (Warnock's formula).
    fn l2_star_discrepancy(pts: &[Vec<f64>]) -> f64 {
        let n = pts.len() as f64;
        let d = pts[0].len() as i32;
        let term1 = 3f64.powi(-d);
        let term2: f64 = pts
            .iter()
            .map(|p| p.iter().map(|x| (1.0 - x * x) / 2.0).product::<f64>())
            .sum::<f64>()
            * 2.0
            / n;
        let mut term3 = 0.0;
        for a in pts {
            for b in pts {
                term3 += a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| 1.0 - x.max(*y))
                    .product::<f64>();
            }
        }
        (term1 - term2 + term3 / (n * n)).sqrt()
    }

    #[test]
    fn lower_discrepancy_than_uniform_random() {
        let sob = sobol(5, 256, 0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let uni: Vec<Vec<f64>> = (0..256)
            .map(|_| (0..5).map(|_| rng.random::<f64>()).collect())
            .collect();
        let (ds, du) = (l2_star_discrepancy(&sob), l2_star_discrepancy(&uni));
        assert!(ds < 0.5 * du, "sobol {ds} vs uniform {du}");
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let shifted = sobol_shifted(5, 256, 0, &mut rng).unwrap();
        assert!(l2_star_discrepancy(&shifted) < 0.5 * du);
    }

    #[test]
    fn bad_arguments_are_errors_and_shift_is_seeded() {
        assert!(sobol(0, 4, 0).is_err());
        assert!(sobol(SOBOL_MAX_DIM + 1, 4, 0).is_err());
        assert!(sobol(2, 2, usize::MAX - 1).is_err());
        assert!(sobol(3, 0, 0).unwrap().is_empty());
        let a = sobol_shifted(3, 5, 0, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
        let b = sobol_shifted(3, 5, 0, &mut ChaCha8Rng::seed_from_u64(9)).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().flatten().all(|v| (0.0..1.0).contains(v)));
    }
}
