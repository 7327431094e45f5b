//! Exact hypervolume, hypervolume improvement and Pareto fronts for minimisation.
//!
//! The hypervolume of a point set P with respect to a reference point r is the Lebesgue measure
//! of { z : z <= r and p <= z for some p in P } (all objectives minimised). Points that are not
//! strictly better than r in every objective add nothing. Algorithms: a sort-and-sweep in 2-D;
//! in m >= 3 dimensions, HSO-style slicing along the last objective (While et al. 2006): sort by
//! the last objective, and sum slab depth x the (m-1)-dimensional hypervolume of the points
//! below the slab. Exact; O(n^(m-1) log n), ample for Demeter's fronts (tens of points, 2-4
//! objectives).

use std::cmp::Ordering;

/// Hypervolume of `points` (minimisation) with respect to `reference`, in any number of
/// objectives >= 1 (exact; 2 to 4 is the intended range).
///
/// Returns `NaN` if a point's length differs from the reference's. Points with a `NaN`
/// coordinate or not strictly below the reference in every objective contribute nothing.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let m = reference.len();
    if m == 0 || points.iter().any(|p| p.len() != m) {
        return f64::NAN;
    }
    let inside: Vec<&[f64]> = points
        .iter()
        .map(Vec::as_slice)
        .filter(|p| strictly_below(p, reference))
        .collect();
    hv_recursive(inside, reference)
}

/// Hypervolume gained by adding `point` to `front`: `HV(front + point) - HV(front)`, computed as
/// the volume of the box [point, reference] minus the part of it the front already dominates.
/// `NaN` on a length mismatch.
pub fn hypervolume_improvement(point: &[f64], front: &[Vec<f64>], reference: &[f64]) -> f64 {
    let m = reference.len();
    if point.len() != m || front.iter().any(|p| p.len() != m) {
        return f64::NAN;
    }
    if !strictly_below(point, reference) {
        return 0.0;
    }
    let box_volume: f64 = point.iter().zip(reference).map(|(p, r)| r - p).product();
    let clipped: Vec<Vec<f64>> = front
        .iter()
        .filter(|q| strictly_below(q, reference))
        .map(|q| q.iter().zip(point).map(|(a, b)| a.max(*b)).collect())
        .collect();
    let covered = hv_recursive(clipped.iter().map(Vec::as_slice).collect(), reference);
    (box_volume - covered).max(0.0)
}

/// Indices (ascending) of the non-dominated points for minimisation. Of identical points only
/// the first is kept; points with a `NaN` or a length other than the first point's are left out.
pub fn pareto_front(points: &[Vec<f64>]) -> Vec<usize> {
    let Some(m) = points.first().map(Vec::len) else {
        return Vec::new();
    };
    let valid = |p: &Vec<f64>| p.len() == m && p.iter().all(|v| !v.is_nan());
    (0..points.len())
        .filter(|&i| {
            let p = &points[i];
            valid(p)
                && points
                    .iter()
                    .enumerate()
                    .all(|(j, q)| j == i || !valid(q) || !(dominates(q, p) || (j < i && q == p)))
        })
        .collect()
}

/// `a` weakly better everywhere and strictly better somewhere (minimisation).
pub(crate) fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

pub(crate) fn strictly_below(p: &[f64], reference: &[f64]) -> bool {
    p.iter().zip(reference).all(|(v, r)| v < r)
}

/// Hypervolume of points that are all strictly below the reference.
fn hv_recursive(mut pts: Vec<&[f64]>, reference: &[f64]) -> f64 {
    let m = reference.len();
    if pts.is_empty() {
        return 0.0;
    }
    match m {
        1 => {
            let best = pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
            reference[0] - best
        }
        2 => {
            pts.sort_by(|a, b| cmp_f64(a[0], b[0]).then(cmp_f64(a[1], b[1])));
            let mut area = 0.0;
            let mut best_y = reference[1];
            for (i, p) in pts.iter().enumerate() {
                best_y = best_y.min(p[1]);
                let next_x = pts.get(i + 1).map_or(reference[0], |q| q[0]);
                area += (next_x - p[0]) * (reference[1] - best_y);
            }
            area
        }
        _ => {
            pts.sort_by(|a, b| cmp_f64(a[m - 1], b[m - 1]));
            let mut volume = 0.0;
            for i in 0..pts.len() {
                let next = pts.get(i + 1).map_or(reference[m - 1], |q| q[m - 1]);
                let depth = next - pts[i][m - 1];
                if depth > 0.0 {
                    let slice: Vec<&[f64]> = pts[..=i].iter().map(|p| &p[..m - 1]).collect();
                    volume += depth * hv_recursive(slice, &reference[..m - 1]);
                }
            }
            volume
        }
    }
}

fn cmp_f64(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// A 2-objective Pareto staircase prepared for many hypervolume-improvement queries: the
/// non-dominated points strictly below the reference, sorted by the first objective (ascending,
/// so the second is strictly descending).
#[derive(Debug, Clone, Default)]
pub(crate) struct Staircase2 {
    pts: Vec<[f64; 2]>,
}

impl Staircase2 {
    pub(crate) fn new(points: impl Iterator<Item = [f64; 2]>, reference: [f64; 2]) -> Self {
        let mut pts: Vec<[f64; 2]> = points
            .filter(|p| p[0] < reference[0] && p[1] < reference[1])
            .collect();
        pts.sort_by(|a, b| cmp_f64(a[0], b[0]).then(cmp_f64(a[1], b[1])));
        let mut stairs: Vec<[f64; 2]> = Vec::with_capacity(pts.len());
        for p in pts {
            if stairs.last().is_none_or(|last| p[1] < last[1]) {
                stairs.push(p);
            }
        }
        Staircase2 { pts: stairs }
    }

    /// Hypervolume improvement of `p` (same value as [`hypervolume_improvement`]).
    pub(crate) fn improvement(&self, p: [f64; 2], reference: [f64; 2]) -> f64 {
        if !(p[0] < reference[0] && p[1] < reference[1]) {
            return 0.0;
        }
        // Stairs before `after` have x <= p.x; the last of them has the lowest y of those: if it
        // is also <= p.y, p is dominated. Earlier stairs clip to zero width.
        let after = self.pts.partition_point(|q| q[0] <= p[0]);
        if after > 0 && self.pts[after - 1][1] <= p[1] {
            return 0.0;
        }
        let first = after.saturating_sub(1);
        let box_area = (reference[0] - p[0]) * (reference[1] - p[1]);
        // The front clipped to the box [p, r] keeps its order (x ascending, y descending), so
        // the 2-D sweep applies without sorting.
        let mut covered = 0.0;
        let n = self.pts.len();
        for i in first..n {
            let q = self.pts[i];
            let (qx, qy) = (q[0].max(p[0]), q[1].max(p[1]));
            let next_x = if i + 1 < n {
                self.pts[i + 1][0].max(p[0])
            } else {
                reference[0]
            };
            covered += (next_x - qx) * (reference[1] - qy);
        }
        (box_area - covered).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(points: &[&[f64]]) -> Vec<Vec<f64>> {
        points.iter().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn two_d_by_hand() {
        // Reference (4, 4); points (1, 3), (2, 2), (3, 1): a staircase of three 1-wide columns
        // of heights 1, 2, 3 -> 1 + 2 + 3 = 6.
        let pts = v(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0]]);
        assert_eq!(hypervolume(&pts, &[4.0, 4.0]), 6.0);
        // A dominated point (3, 3) and a point outside the reference (5, 0) change nothing.
        let more = v(&[
            &[1.0, 3.0],
            &[2.0, 2.0],
            &[3.0, 1.0],
            &[3.0, 3.0],
            &[5.0, 0.0],
        ]);
        assert_eq!(hypervolume(&more, &[4.0, 4.0]), 6.0);
        // Improvement of (1, 1): its box is 3 x 3 = 9, of which 6 is covered -> 3.
        assert_eq!(hypervolume_improvement(&[1.0, 1.0], &pts, &[4.0, 4.0]), 3.0);
        // (2.5, 2.5) is dominated by (2, 2): no improvement. (0, 3.5): its box [0,4]x[3.5,4]
        // (area 2) is covered by (1, 3) on [1,4]x[3.5,4] (1.5) -> 0.5.
        assert_eq!(hypervolume_improvement(&[2.5, 2.5], &pts, &[4.0, 4.0]), 0.0);
        assert_eq!(hypervolume_improvement(&[0.0, 3.5], &pts, &[4.0, 4.0]), 0.5);
        assert_eq!(hypervolume(&[], &[1.0, 1.0]), 0.0);
        assert!(hypervolume(&v(&[&[1.0]]), &[2.0, 2.0]).is_nan());
    }

    #[test]
    fn staircase_matches_the_general_improvement() {
        let pts = v(&[&[1.0, 3.0], &[2.0, 2.0], &[3.0, 1.0], &[2.5, 2.5]]);
        let r = [4.0, 4.0];
        let stairs = Staircase2::new(pts.iter().map(|p| [p[0], p[1]]), r);
        for p in [
            [1.0, 1.0],
            [2.5, 2.5],
            [0.0, 3.5],
            [1.5, 0.5],
            [4.0, 0.0],
            [2.0, 2.0],
            [1.0, 3.5],
            [1.0, 2.5],
            [3.5, 0.5],
            [5.0, 5.0],
        ] {
            let a = stairs.improvement(p, r);
            let b = hypervolume_improvement(&p, &pts, &r);
            assert!((a - b).abs() < 1e-12, "{p:?}: {a} vs {b}");
        }
    }

    #[test]
    fn three_d_by_hand() {
        // Reference (2, 2, 2). One point (1, 1, 1): unit cube -> 1.
        assert_eq!(hypervolume(&v(&[&[1.0, 1.0, 1.0]]), &[2.0, 2.0, 2.0]), 1.0);
        // (0, 1, 1), (1, 0, 1), (1, 1, 0): three 2x1x1 boxes; pairwise overlaps are unit cubes
        // and the triple overlap is the unit cube [1,2]^3: 3*2 - 3*1 + 1 = 4.
        let pts = v(&[&[0.0, 1.0, 1.0], &[1.0, 0.0, 1.0], &[1.0, 1.0, 0.0]]);
        assert_eq!(hypervolume(&pts, &[2.0, 2.0, 2.0]), 4.0);
        // Adding the origin covers the whole 2x2x2 box: improvement 8 - 4 = 4.
        assert_eq!(
            hypervolume_improvement(&[0.0, 0.0, 0.0], &pts, &[2.0, 2.0, 2.0]),
            4.0
        );
        // (0.5, 0.5, 1.5): box 1.5 x 1.5 x 0.5 = 1.125; inside it the front covers
        // [0.5,2]x[1,2]x[1.5,2] (0.75) and [1,2]x[0.5,2]x[1.5,2] (0.75), overlapping in
        // [1,2]x[1,2]x[1.5,2] (0.5, also the third point's part): 1.125 - 1.0 = 0.125.
        let hvi = hypervolume_improvement(&[0.5, 0.5, 1.5], &pts, &[2.0, 2.0, 2.0]);
        assert!((hvi - 0.125).abs() < 1e-12, "{hvi}");
        let with: Vec<Vec<f64>> = pts.iter().cloned().chain([vec![0.5, 0.5, 1.5]]).collect();
        let diff = hypervolume(&with, &[2.0, 2.0, 2.0]) - hypervolume(&pts, &[2.0, 2.0, 2.0]);
        assert!((diff - 0.125).abs() < 1e-12);
    }

    #[test]
    fn four_d_inclusion_exclusion() {
        // Two points in 4-D with reference 0: volumes 1*2*3*4 = 24 and 2*1*4*3 = 24, overlap
        // min-wise 1*1*3*3 = 9 -> 39.
        let pts = v(&[&[-1.0, -2.0, -3.0, -4.0], &[-2.0, -1.0, -4.0, -3.0]]);
        assert_eq!(hypervolume(&pts, &[0.0; 4]), 39.0);
    }

    #[test]
    fn pareto_front_by_hand() {
        let pts = v(&[
            &[1.0, 5.0], // 0: front
            &[2.0, 3.0], // 1: front
            &[3.0, 3.0], // 2: dominated by 1
            &[4.0, 1.0], // 3: front
            &[2.0, 3.0], // 4: duplicate of 1
            &[5.0, 5.0], // 5: dominated
            &[f64::NAN, 0.0],
        ]);
        assert_eq!(pareto_front(&pts), vec![0, 1, 3]);
        assert!(pareto_front(&[]).is_empty());
    }
}
