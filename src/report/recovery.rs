//! Lag-based recovery time per injected failure (research/demeter.md section 2.3).
//!
//! L = median consumer lag over the window, T = max(3 L, L + 3000 records). For an injection at
//! t_inj the search horizon ends at the earliest of t_inj + 900 s, the next injection and the end
//! of the window. Recovery is the first second t after the lag first exceeded T (at or after
//! t_inj) whose sample is <= T and such that every sample in [t, t + 30 s) is <= T; reported as
//! t - t_inj. Seconds without a lag sample neither break nor prove the hold. If no lag sample in
//! the horizon exceeds T the failure left no visible backlog: 0 s, unless the lag grew through
//! the horizon by more than the margin (a job that cannot keep up at all: its median, and so T,
//! is inflated by the growing backlog, and the failure's backlog hides in it), which is
//! censored instead. If the horizon holds no lag sample at all, or the lag does not settle
//! before the horizon ends, the failure is censored (`None`). These details reproduce the recovery columns of section 6 of the research notes.

use crate::runfolder::Series;

use super::stats::percentile;

/// Parameters of the recovery definition; [`Default`] is the one of section 2.3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecoveryParams {
    /// T = max(`threshold_factor` x L, L + `threshold_margin_records`).
    pub threshold_factor: f64,
    pub threshold_margin_records: f64,
    /// How long the lag must stay <= T.
    pub hold_s: i64,
    /// Recovery is censored this long after the injection.
    pub censor_s: i64,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        Self {
            threshold_factor: 3.0,
            threshold_margin_records: 3000.0,
            hold_s: 30,
            censor_s: 900,
        }
    }
}

impl RecoveryParams {
    /// T for a median lag of `median_lag` records.
    pub fn threshold(&self, median_lag: f64) -> f64 {
        (self.threshold_factor * median_lag).max(median_lag + self.threshold_margin_records)
    }
}

/// Recovery time in seconds for each injection in `failures` (ascending epoch seconds, all
/// inside `[from, to)`), from the consumer lag. `None` = censored (see the module docs).
pub fn recovery_times(
    lag: &Series,
    failures: &[i64],
    from: i64,
    to: i64,
    params: &RecoveryParams,
) -> Vec<Option<i64>> {
    let window = lag.range(from, to);
    let values: Vec<f64> = window.iter().map(|p| p.1).collect();
    let Some(median) = percentile(&values, 0.5) else {
        return vec![None; failures.len()];
    };
    let threshold = params.threshold(median);
    failures
        .iter()
        .enumerate()
        .map(|(i, &t_inj)| {
            let mut horizon = t_inj.saturating_add(params.censor_s).min(to);
            if let Some(&next) = failures.get(i + 1) {
                horizon = horizon.min(next);
            }
            recovery_one(window, t_inj, horizon, threshold, params)
        })
        .collect()
}

/// One failure: `window` is the lag inside the run window, ascending.
fn recovery_one(
    window: &[(i64, f64)],
    t_inj: i64,
    horizon: i64,
    threshold: f64,
    params: &RecoveryParams,
) -> Option<i64> {
    let hold_s = params.hold_s;
    let lo = window.partition_point(|p| p.0 < t_inj);
    let hi = window.partition_point(|p| p.0 < horizon);
    if lo >= hi {
        return None;
    }
    let Some(exceeded) = (lo..hi).find(|&k| window[k].1 > threshold) else {
        let grew = window[hi - 1].1 - window[lo].1;
        return (grew <= params.threshold_margin_records).then_some(0);
    };
    (exceeded..hi)
        .find(|&k| {
            let (t, v) = window[k];
            v <= threshold
                && window[k..]
                    .iter()
                    .take_while(|p| p.0 < t.saturating_add(hold_s))
                    .all(|p| p.1 <= threshold)
        })
        .map(|k| window[k].0 - t_inj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: &[(i64, f64)]) -> Series {
        Series {
            points: points.to_vec(),
        }
    }

    /// Lag 1000 everywhere (median L = 1000, T = max(3000, 4000) = 4000) except `bumps`.
    fn flat_with(len: i64, bumps: &[(i64, f64)], gaps: &[i64]) -> Series {
        let pts: Vec<(i64, f64)> = (0..len)
            .filter(|t| !gaps.contains(t))
            .map(|t| {
                let v = bumps.iter().find(|b| b.0 == t).map_or(1000.0, |b| b.1);
                (t, v)
            })
            .collect();
        series(&pts)
    }

    #[test]
    fn threshold_is_the_larger_of_three_times_and_plus_3000() {
        let p = RecoveryParams::default();
        assert_eq!(p.threshold(1000.0), 4000.0);
        assert_eq!(p.threshold(2000.0), 6000.0);
    }

    #[test]
    fn recovery_is_first_second_of_a_30_s_hold_below_threshold() {
        // Injection at 100; lag above T = 4000 over 110..=150, back to 1000 from 151.
        let bumps: Vec<(i64, f64)> = (110..=150).map(|t| (t, 9000.0)).collect();
        let lag = flat_with(1000, &bumps, &[]);
        let r = recovery_times(&lag, &[100], 0, 1000, &RecoveryParams::default());
        assert_eq!(r, vec![Some(51)]);
    }

    #[test]
    fn a_short_dip_inside_the_backlog_does_not_count_as_recovery() {
        // Above T over 110..=200 except a 10-s dip at 130..140 (< 30 s hold).
        let bumps: Vec<(i64, f64)> = (110..=200)
            .filter(|t| !(130..140).contains(t))
            .map(|t| (t, 9000.0))
            .collect();
        let lag = flat_with(1000, &bumps, &[]);
        let r = recovery_times(&lag, &[100], 0, 1000, &RecoveryParams::default());
        assert_eq!(r, vec![Some(101)]);
    }

    #[test]
    fn missing_samples_neither_break_nor_prove_the_hold() {
        // Above T over 110..=150; no samples at 151..=160; fine afterwards.
        let bumps: Vec<(i64, f64)> = (110..=150).map(|t| (t, 9000.0)).collect();
        let gaps: Vec<i64> = (151..=160).collect();
        let lag = flat_with(1000, &bumps, &gaps);
        let r = recovery_times(&lag, &[100], 0, 1000, &RecoveryParams::default());
        assert_eq!(r, vec![Some(61)]);
    }

    #[test]
    fn lag_that_never_exceeds_the_threshold_means_zero_recovery() {
        let lag = flat_with(1000, &[(120, 3999.0)], &[]);
        let r = recovery_times(&lag, &[100], 0, 1000, &RecoveryParams::default());
        assert_eq!(r, vec![Some(0)]);
    }

    #[test]
    fn lag_growing_below_an_inflated_threshold_is_censored_not_zero() {
        // A job that never keeps up: the lag climbs 100 records/s for 2 000 s, so the median
        // (~100 K) puts T at ~300 K; the early failure never crosses it, yet the lag grew by
        // 90 K through its horizon: censored, not "recovered in 0 s".
        let points: Vec<(i64, f64)> = (0..2000).map(|t| (t, 100.0 * t as f64)).collect();
        let lag = series(&points);
        let r = recovery_times(&lag, &[100], 0, 2000, &RecoveryParams::default());
        assert_eq!(r, vec![None]);
    }

    #[test]
    fn recovery_is_censored_at_the_next_injection_and_at_900_s() {
        // First injection at 100: backlog until 400, next injection at 300 -> censored.
        // Second at 300: backlog continues to 400 -> recovers at 401 (101 s).
        // Third at 1000: backlog until the end of the data -> censored at 900 s.
        let mut bumps: Vec<(i64, f64)> = (110..=400).map(|t| (t, 9000.0)).collect();
        bumps.extend((1010..2500).map(|t| (t, 9000.0)));
        let lag = flat_with(5000, &bumps, &[]);
        let r = recovery_times(&lag, &[100, 300, 1000], 0, 5000, &RecoveryParams::default());
        assert_eq!(r, vec![None, Some(101), None]);
    }

    #[test]
    fn failure_without_any_lag_sample_is_censored() {
        let gaps: Vec<i64> = (100..1000).collect();
        let lag = flat_with(1000, &[], &gaps);
        let r = recovery_times(&lag, &[100], 0, 1000, &RecoveryParams::default());
        assert_eq!(r, vec![None]);
    }

    #[test]
    fn median_and_threshold_use_the_window_only() {
        // Outside the window the lag is huge; inside it is 1000 -> T = 4000, so 5000 is a backlog.
        let mut pts: Vec<(i64, f64)> = (0..100).map(|t| (t, 1e9)).collect();
        pts.extend((100..1100).map(|t| {
            (
                t,
                if (210..220).contains(&t) {
                    5000.0
                } else {
                    1000.0
                },
            )
        }));
        let r = recovery_times(&series(&pts), &[200], 100, 1100, &RecoveryParams::default());
        assert_eq!(r, vec![Some(20)]);
    }
}
