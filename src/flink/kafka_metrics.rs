//! Kafka client metric emulation: the windowed `records-consumed-rate` and `records-lag-max`.
//!
//! The Demeter experiments read throughput and lag from the Kafka consumer's own metrics
//! (research/demeter.md §2.4), which are `SampledStat`s: `metric_samples` samples of
//! `metric_sample_window_s` each (Kafka defaults `metrics.num.samples=2`,
//! `metrics.sample.window.ms=30000`). A sample older than samples x window is purged; a rate
//! divides the retained count by the elapsed time, stretched to at least (samples - 1) full
//! windows (Kafka's `Rate.windowSize`). This is what makes recorded lag hold its peak for up to a
//! minute and recorded throughput decay in 30-s steps after a catch-up.

use crate::time::SimTime;

#[derive(Clone, Copy, Debug)]
struct Sample {
    start_ms: u64,
    value: f64,
}

/// One Kafka `SampledStat`, combining samples by sum (for rates) or max.
#[derive(Clone, Debug)]
pub struct SampledStat {
    window_ms: u64,
    samples: usize,
    ring: Vec<Sample>,
    is_max: bool,
}

impl SampledStat {
    pub fn rate(window_s: f64, samples: u32) -> Self {
        Self::new(window_s, samples, false)
    }

    pub fn max(window_s: f64, samples: u32) -> Self {
        Self::new(window_s, samples, true)
    }

    fn new(window_s: f64, samples: u32, is_max: bool) -> Self {
        SampledStat {
            window_ms: (window_s * 1000.0).round().max(1.0) as u64,
            samples: samples.max(1) as usize,
            ring: Vec::with_capacity(samples as usize + 1),
            is_max,
        }
    }

    /// Records a value at `now` (a count for rates, an observation for max).
    pub fn record(&mut self, now: SimTime, value: f64) {
        let now_ms = now.as_ms();
        let need_new = match self.ring.last() {
            None => true,
            Some(s) => now_ms >= s.start_ms + self.window_ms,
        };
        if need_new {
            self.ring.push(Sample {
                start_ms: now_ms,
                value: if self.is_max { f64::NEG_INFINITY } else { 0.0 },
            });
            if self.ring.len() > self.samples {
                self.ring.remove(0);
            }
        }
        let s = self.ring.last_mut().expect("just pushed");
        if self.is_max {
            s.value = s.value.max(value);
        } else {
            s.value += value;
        }
    }

    fn purge(&mut self, now_ms: u64) {
        let horizon = self.samples as u64 * self.window_ms;
        self.ring
            .retain(|s| now_ms.saturating_sub(s.start_ms) < horizon);
    }

    /// The metric value at `now`: max over retained samples, or retained count per second.
    /// `None` when there is nothing retained (Kafka reports NaN for max, 0 for rate).
    pub fn measure(&mut self, now: SimTime) -> Option<f64> {
        let now_ms = now.as_ms();
        self.purge(now_ms);
        let oldest = self.ring.first()?;
        if self.is_max {
            let m = self
                .ring
                .iter()
                .map(|s| s.value)
                .fold(f64::NEG_INFINITY, f64::max);
            return m.is_finite().then_some(m);
        }
        let total: f64 = self.ring.iter().map(|s| s.value).sum();
        let mut elapsed_ms = now_ms - oldest.start_ms;
        let full_windows = elapsed_ms / self.window_ms;
        let min_full = self.samples as u64 - 1;
        if full_windows < min_full {
            elapsed_ms += (min_full - full_windows) * self.window_ms;
        }
        Some(total / (elapsed_ms.max(1) as f64 / 1000.0))
    }

    /// Forgets everything (a new consumer after a restart starts with empty metrics).
    pub fn reset(&mut self) {
        self.ring.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_secs(s)
    }

    #[test]
    fn rate_of_a_steady_stream_converges_to_the_rate() {
        let mut r = SampledStat::rate(30.0, 2);
        for s in 0..120 {
            r.record(t(s), 1000.0);
        }
        let v = r.measure(t(120)).unwrap();
        assert!((v - 1000.0).abs() < 40.0, "{v}");
    }

    #[test]
    fn a_young_rate_is_divided_by_at_least_one_full_window() {
        // Kafka's Rate.windowSize stretches elapsed time to (samples - 1) full windows.
        let mut r = SampledStat::rate(30.0, 2);
        r.record(t(0), 3000.0);
        assert_eq!(r.measure(t(10)), Some(3000.0 / 40.0));
    }

    #[test]
    fn max_holds_a_peak_until_its_sample_is_purged() {
        let mut m = SampledStat::max(30.0, 2);
        m.record(t(0), 80_000.0);
        for s in 1..100 {
            m.record(t(s), 700.0);
            let v = m.measure(t(s)).unwrap();
            if s < 60 {
                assert_eq!(v, 80_000.0, "at {s}");
            } else {
                assert_eq!(v, 700.0, "at {s}");
            }
        }
    }
}
