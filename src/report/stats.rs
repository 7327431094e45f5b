//! Plain statistics over samples: mean, percentile (linear interpolation), shares.

/// Arithmetic mean; `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(values.iter().sum::<f64>() / values.len() as f64)
    }
}

/// The `q`-quantile (`0 <= q <= 1`) of `values` by linear interpolation between the closest
/// ranks of the sorted values: position h = (n - 1) q, result x[floor h] + (h - floor h)
/// (x[floor h + 1] - x[floor h]). This is NumPy's and pandas' default ("type 7"); the median of
/// an even count is the mean of the two middle values. `None` for no values; NaN is ignored.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(percentile_sorted(&v, q))
}

/// [`percentile`] on values already sorted ascending and non-empty.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Share of `values` that are `<= limit`, in percent; `None` for no values.
pub fn share_at_most_pct(values: &[f64], limit: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.iter().filter(|&&x| x <= limit).count();
    Some(100.0 * n as f64 / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_between_closest_ranks() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 1.0), Some(4.0));
        // h = 3 * 0.95 = 2.85 -> 3 + 0.85 * (4 - 3)
        let p95 = percentile(&v, 0.95).unwrap();
        assert!((p95 - 3.85).abs() < 1e-12, "{p95}");
    }

    #[test]
    fn percentile_of_odd_count_is_the_middle_value() {
        assert_eq!(percentile(&[5.0, 1.0, 9.0], 0.5), Some(5.0));
    }

    #[test]
    fn statistics_of_nothing_are_none() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(mean(&[]), None);
        assert_eq!(share_at_most_pct(&[], 1.0), None);
    }

    #[test]
    fn share_counts_values_equal_to_the_limit() {
        assert_eq!(
            share_at_most_pct(&[1500.0, 1500.1, 10.0, 2000.0], 1500.0),
            Some(50.0)
        );
    }
}
