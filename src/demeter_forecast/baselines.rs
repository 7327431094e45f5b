//! The reference forecasters the model is judged against: last value and seasonal naive.

/// Hold the last observation for `horizon_s` seconds (0 for an empty history).
pub fn last_value(history_rps: &[f64], horizon_s: usize) -> Vec<f64> {
    vec![history_rps.last().copied().unwrap_or(0.0); horizon_s]
}

/// The value one season earlier: second `k` ahead is `history[n - season + (k mod season)]`
/// (so a season shorter than the horizon repeats the last season). `None` when the history is
/// shorter than one season or the season is 0.
pub fn seasonal_naive(history_rps: &[f64], season_s: usize, horizon_s: usize) -> Option<Vec<f64>> {
    let n = history_rps.len();
    if season_s == 0 || n < season_s {
        return None;
    }
    Some(
        (0..horizon_s)
            .map(|k| history_rps[n - season_s + (k % season_s)])
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines() {
        let h: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(last_value(&h, 3), vec![9.0; 3]);
        assert_eq!(
            seasonal_naive(&h, 4, 6).unwrap(),
            vec![6.0, 7.0, 8.0, 9.0, 6.0, 7.0]
        );
        assert_eq!(seasonal_naive(&h, 11, 2), None);
    }
}
