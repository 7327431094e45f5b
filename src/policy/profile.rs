//! Profiling runs: short parallel copies of the job at candidate configurations, as Demeter
//! launches them, and what a backend reports back (research/demeter.md §2.3, §3.4).
//!
//! A profiling job reads the live input stream from the latest offset, warms up, is measured
//! for 60 s, then gets the same checkpoint-aligned network-delay failure as production and its
//! recovery is measured as the prototype measured it: the IFTM detector ([`super::iftm`]) is
//! trained on the (throughput, lag) seconds of the measurement window; from the heartbeat
//! timeout (20 s after the injection) on, every second without both metrics or found anomalous
//! extends the disturbance, and once more than 15 consecutive normal seconds follow (the 17th
//! normal second returns), the disturbance ends where that streak began; recovery = 20 s +
//! disturbance, or the cap (360 s) if none ended within 340 s.

use crate::flink::JobConfig;
use crate::policy::iftm::Iftm;
use crate::rng::SimRng;
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
    /// Consecutive normal seconds that end a disturbance: `AnomalyDetector.measure` returns at
    /// the normal second after 16 (`TOLERANCE` = 15 < history), so 17.
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
            normal_streak_s: 17,
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

/// The recovery measurement of the module docs. `window` holds the measurement window's
/// seconds (the detector's training data), `post` one entry per second from the injection on
/// (`None` = no sample); the detector's population is drawn from `rng`. Returns (recovery
/// seconds, recovered).
pub fn measure_recovery(
    spec: &ProfileSpec,
    window: &[Option<(f64, f64)>],
    post: &[Option<(f64, f64)>],
    rng: &mut SimRng,
) -> (f64, bool) {
    let mut detector = Iftm::train(rng, window);
    let detect = spec.detect.as_ms() / 1000;
    let limit = detect + spec.max_recovery.as_ms() / 1000;
    let mut streak_start = None;
    let mut streak = 0;
    for t in detect..limit.min(post.len() as u64) {
        let normal = match post[t as usize] {
            Some((thr, lag)) => detector.is_normal(thr, lag),
            None => false,
        };
        if normal {
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
    use rand::SeedableRng;

    fn window(f: impl Fn(usize) -> (f64, f64)) -> Vec<Option<(f64, f64)>> {
        (0..60)
            .map(|i| {
                let wobble = ((i * 7919) % 11) as f64 - 5.0;
                let (thr, lag) = f(i);
                Some((thr + 4.0 * wobble, lag + 2.0 * wobble))
            })
            .collect()
    }

    fn rng() -> SimRng {
        SimRng::seed_from_u64(11)
    }

    #[test]
    fn recovery_ends_at_the_start_of_a_long_normal_streak() {
        let spec = ProfileSpec::default();
        let pre = window(|_| (1000.0, 100.0));
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
        assert_eq!(
            measure_recovery(&spec, &pre, &post, &mut rng()),
            (90.0, true)
        );
        // A normal streak of 16 s interrupted does not count.
        post[106] = Some((5000.0, 90_000.0));
        assert_eq!(
            measure_recovery(&spec, &pre, &post, &mut rng()),
            (107.0, true)
        );
        // Never normal: the cap.
        let never = vec![Some((0.0, 1e9)); 400];
        assert_eq!(
            measure_recovery(&spec, &pre, &never, &mut rng()),
            (360.0, false)
        );
    }

    #[test]
    fn a_job_falling_behind_does_not_recover() {
        let spec = ProfileSpec::default();
        // Lag +100 records/s at 1 000 rec/s before the failure, and on after it.
        let pre = window(|i| (1000.0, 100.0 * i as f64));
        let behind: Vec<Option<(f64, f64)>> = (0..400)
            .map(|t| Some((1000.0, 6_000.0 + 100.0 * (t + 60) as f64)))
            .collect();
        assert_eq!(
            measure_recovery(&spec, &pre, &behind, &mut rng()),
            (360.0, false)
        );
    }

    #[test]
    fn a_catch_up_within_the_wide_thresholds_counts_as_recovered() {
        let spec = ProfileSpec::default();
        let pre = window(|_| (26_000.0, 800.0));
        // Metrics back 45 s after the injection, throughput ramping over the Kafka window to a
        // catch-up plateau 20 % above the load while a few thousand records of lag drain.
        let post: Vec<Option<(f64, f64)>> = (0..400)
            .map(|t| match t {
                0..=44 => None,
                45..=74 => Some((31_200.0 * (t - 44) as f64 / 30.0, 4_000.0)),
                75..=200 => Some((31_200.0, 3_000.0)),
                _ => Some((26_000.0, 800.0)),
            })
            .collect();
        let (rec, ok) = measure_recovery(&spec, &pre, &post, &mut rng());
        assert!(ok);
        // Normal once the ramp is within the thresholds, long before the plateau ends.
        assert!(rec > 45.0 && rec < 75.0, "{rec}");
    }
}
