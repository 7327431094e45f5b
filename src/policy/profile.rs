//! Profiling runs: short parallel copies of the job at candidate configurations, as Demeter
//! launches them, and what a backend reports back (research/demeter.md §2.3, §3.4).
//!
//! A profiling job reads the live input stream from the latest offset, warms up, is measured
//! for 60 s, then gets the same checkpoint-aligned network-delay failure as production and its
//! recovery is measured: detection after the heartbeat timeout (20 s), then the disturbance
//! lasts until more than 15 consecutive "normal" seconds follow; recovery = 20 s + disturbance,
//! or the cap (360 s) if not recovered within 340 s. The prototype classes seconds normal with
//! an IFTM anomaly detector trained on the 60 s before the failure; the twin uses a documented
//! equivalent on the same inputs: a second is normal when it has samples, its throughput is
//! within 3 standard deviations (at least 5 % of the mean) of the pre-failure mean, and its lag
//! is at most max(3 x, + 3 000) the pre-failure median lag. A job whose lag was already growing
//! before the failure (by more than 2 % of its throughput per second: it does not keep up) has
//! no normal to return to and is stored as not recovered.

use crate::flink::JobConfig;
use crate::time::{SimDuration, SimTime};

/// How a profiling run is timed (defaults: the prototype's).
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileSpec {
    /// Deployment and warm-up before measuring (the prototype waits 120 s).
    pub warmup: SimDuration,
    /// The averaging window (`avgWindow` = 60 s).
    pub measure: SimDuration,
    /// Network delay injected after the window (Chaos Mesh, 30 s), aligned 5 s before the next
    /// checkpoint completes.
    pub failure_delay: SimDuration,
    pub align_before_checkpoint: SimDuration,
    /// The detector starts after the heartbeat timeout (`timeout` = 20 s).
    pub detect: SimDuration,
    /// Recovery is searched for at most this long after detection (2 x 180 - 20 = 340 s).
    pub max_recovery: SimDuration,
    /// Stored when not recovered (360 s).
    pub cap: SimDuration,
    /// Consecutive normal seconds that end a disturbance (more than 15).
    pub normal_streak_s: u64,
}

impl Default for ProfileSpec {
    fn default() -> Self {
        ProfileSpec {
            warmup: SimDuration::from_secs(120),
            measure: SimDuration::from_secs(60),
            failure_delay: SimDuration::from_secs(30),
            align_before_checkpoint: SimDuration::from_secs(5),
            detect: SimDuration::from_secs(20),
            max_recovery: SimDuration::from_secs(340),
            cap: SimDuration::from_secs(360),
            normal_streak_s: 16,
        }
    }
}

/// What one profiling run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileResult {
    pub config: JobConfig,
    pub started_at: SimTime,
    pub finished_at: SimTime,
    /// Means over the 60-s window (nulls ignored).
    pub throughput_rps: f64,
    pub latency_ms: f64,
    pub consumer_lag: f64,
    /// Recovery time in seconds (the cap when not recovered).
    pub recovery_s: f64,
    pub recovered: bool,
}

/// The recovery rule of the module docs, on per-second samples from the injection on.
/// `pre` holds the (throughput, lag) seconds before the failure; `post` one entry per second
/// after the injection (`None` = no sample). Returns (recovery seconds, recovered).
pub fn measure_recovery(
    spec: &ProfileSpec,
    pre: &[(f64, f64)],
    post: &[Option<(f64, f64)>],
) -> (f64, bool) {
    let n = pre.len().max(1) as f64;
    let mean = pre.iter().map(|p| p.0).sum::<f64>() / n;
    let sd = (pre.iter().map(|p| (p.0 - mean).powi(2)).sum::<f64>() / n).sqrt();
    let band = (3.0 * sd).max(0.05 * mean);
    let mut lags: Vec<f64> = pre.iter().map(|p| p.1).collect();
    lags.sort_by(f64::total_cmp);
    let median_lag = lags.get(lags.len() / 2).copied().unwrap_or(0.0);
    let lag_limit = (3.0 * median_lag).max(median_lag + 3000.0);
    // Least-squares slope of the pre-failure lag (records per second).
    let slope = {
        let tm = (pre.len() as f64 - 1.0) / 2.0;
        let lm = pre.iter().map(|p| p.1).sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (i, p) in pre.iter().enumerate() {
            sxy += (i as f64 - tm) * (p.1 - lm);
            sxx += (i as f64 - tm).powi(2);
        }
        if sxx > 0.0 {
            sxy / sxx
        } else {
            0.0
        }
    };
    if slope > 0.02 * mean.max(1.0) {
        return (spec.cap.as_secs_f64(), false);
    }
    let normal = |s: &Option<(f64, f64)>| match s {
        Some((thr, lag)) => (thr - mean).abs() <= band && *lag <= lag_limit,
        None => false,
    };
    let detect = spec.detect.as_ms() / 1000;
    let limit = detect + spec.max_recovery.as_ms() / 1000;
    let mut streak_start = None;
    let mut streak = 0;
    for t in detect..limit.min(post.len() as u64) {
        if normal(&post[t as usize]) {
            if streak == 0 {
                streak_start = Some(t);
            }
            streak += 1;
            if streak >= spec.normal_streak_s {
                // Recovery = detection time + disturbance up to the start of the normal streak.
                return (streak_start.unwrap() as f64, true);
            }
        } else {
            streak = 0;
        }
    }
    (spec.cap.as_secs_f64(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_ends_at_the_start_of_a_long_normal_streak() {
        let spec = ProfileSpec::default();
        let pre = vec![(1000.0, 100.0); 60];
        let mut post = vec![None; 400];
        for (t, p) in post.iter_mut().enumerate() {
            *p = if t < 50 {
                None
            } else if t < 90 {
                Some((2500.0, 50_000.0))
            } else {
                Some((1000.0, 120.0))
            };
        }
        assert_eq!(measure_recovery(&spec, &pre, &post), (90.0, true));
        // A normal streak of 15 s interrupted does not count.
        post[100] = Some((5000.0, 90_000.0));
        assert_eq!(measure_recovery(&spec, &pre, &post), (101.0, true));
        // Never normal: the cap.
        let never = vec![Some((0.0, 1e9)); 400];
        assert_eq!(measure_recovery(&spec, &pre, &never), (360.0, false));
        // A job already falling behind (lag +100/s at 1 000 rec/s) never recovers.
        let pre: Vec<(f64, f64)> = (0..60).map(|i| (1000.0, 100.0 * i as f64)).collect();
        let calm = vec![Some((1000.0, 100.0)); 400];
        assert_eq!(measure_recovery(&spec, &pre, &calm), (360.0, false));
        // Lag growing by 1 % of the rate is noise, not falling behind.
        let pre: Vec<(f64, f64)> = (0..60).map(|i| (1000.0, 10.0 * i as f64)).collect();
        assert_eq!(measure_recovery(&spec, &pre, &calm), (20.0, true));
    }
}
