//! Synthetic offered-load shapes (constant, step, ramp, sine, spikes): pure functions of the
//! simulated second, evaluated at the start of each second (`t = s`).

use super::error::WorkloadError;
use super::MAX_RATE_RPS;

/// A synthetic load shape with validated parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// `rate_rps` at every second.
    Constant { rate_rps: f64 },
    /// `before_rps` for `s < at_s`, `after_rps` from `at_s` on.
    Step {
        before_rps: f64,
        after_rps: f64,
        at_s: u64,
    },
    /// `from_rps` up to `start_s`, linear to `to_rps` at `end_s`, `to_rps` after.
    Ramp {
        from_rps: f64,
        to_rps: f64,
        start_s: u64,
        end_s: u64,
    },
    /// `mean_rps + amplitude_rps * sin(2 pi (s - phase_s) / period_s)`: equals the mean and is
    /// rising at `s = phase_s`, peaks at `phase_s + period_s / 4`.
    Sine {
        mean_rps: f64,
        amplitude_rps: f64,
        period_s: f64,
        phase_s: f64,
    },
    /// `spike_rps` during `[start_s + k every_s, start_s + k every_s + duration_s)` for
    /// k = 0, 1, ...; `base_rps` otherwise (also before `start_s`). `spike_rps` is the rate
    /// during a spike, not an increment.
    Spikes {
        base_rps: f64,
        spike_rps: f64,
        every_s: u64,
        duration_s: u64,
        start_s: u64,
    },
}

pub(crate) fn check_rate(context: &str, key: &str, v: f64) -> Result<(), WorkloadError> {
    if v.is_finite() && (0.0..=MAX_RATE_RPS).contains(&v) {
        Ok(())
    } else {
        Err(WorkloadError::invalid(
            context,
            key,
            v,
            "a rate in records per second, 0 <= rate <= 1e9",
        ))
    }
}

impl Shape {
    /// Check parameters; `context` names the table in errors.
    pub fn validate(&self, context: &str) -> Result<(), WorkloadError> {
        match *self {
            Shape::Constant { rate_rps } => check_rate(context, "rate_rps", rate_rps),
            Shape::Step {
                before_rps,
                after_rps,
                ..
            } => {
                check_rate(context, "before_rps", before_rps)?;
                check_rate(context, "after_rps", after_rps)
            }
            Shape::Ramp {
                from_rps,
                to_rps,
                start_s,
                end_s,
            } => {
                check_rate(context, "from_rps", from_rps)?;
                check_rate(context, "to_rps", to_rps)?;
                if end_s <= start_s {
                    return Err(WorkloadError::invalid(
                        context,
                        "end_s",
                        end_s,
                        format!("end_s > start_s = {start_s}"),
                    ));
                }
                Ok(())
            }
            Shape::Sine {
                mean_rps,
                amplitude_rps,
                period_s,
                phase_s,
            } => {
                check_rate(context, "mean_rps", mean_rps)?;
                if !(amplitude_rps.is_finite() && (0.0..=mean_rps).contains(&amplitude_rps)) {
                    return Err(WorkloadError::invalid(
                        context,
                        "amplitude_rps",
                        amplitude_rps,
                        format!(
                            "0 <= amplitude_rps <= mean_rps = {mean_rps}, so the rate stays >= 0"
                        ),
                    ));
                }
                if !(period_s.is_finite() && period_s > 0.0) {
                    return Err(WorkloadError::invalid(
                        context,
                        "period_s",
                        period_s,
                        "a period in seconds > 0",
                    ));
                }
                if !phase_s.is_finite() {
                    return Err(WorkloadError::invalid(
                        context,
                        "phase_s",
                        phase_s,
                        "a finite phase in seconds",
                    ));
                }
                Ok(())
            }
            Shape::Spikes {
                base_rps,
                spike_rps,
                every_s,
                duration_s,
                ..
            } => {
                check_rate(context, "base_rps", base_rps)?;
                check_rate(context, "spike_rps", spike_rps)?;
                if every_s == 0 {
                    return Err(WorkloadError::invalid(
                        context,
                        "every_s",
                        every_s,
                        "a spike period in seconds > 0",
                    ));
                }
                if duration_s > every_s {
                    return Err(WorkloadError::invalid(
                        context,
                        "duration_s",
                        duration_s,
                        format!("0 <= duration_s <= every_s = {every_s}"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The rate at second `s` (no noise).
    pub fn rate_at(&self, s: u64) -> f64 {
        match *self {
            Shape::Constant { rate_rps } => rate_rps,
            Shape::Step {
                before_rps,
                after_rps,
                at_s,
            } => {
                if s < at_s {
                    before_rps
                } else {
                    after_rps
                }
            }
            Shape::Ramp {
                from_rps,
                to_rps,
                start_s,
                end_s,
            } => {
                if s <= start_s {
                    from_rps
                } else if s >= end_s {
                    to_rps
                } else {
                    let f = (s - start_s) as f64 / (end_s - start_s) as f64;
                    from_rps + (to_rps - from_rps) * f
                }
            }
            Shape::Sine {
                mean_rps,
                amplitude_rps,
                period_s,
                phase_s,
            } => {
                let x = std::f64::consts::TAU * (s as f64 - phase_s) / period_s;
                (mean_rps + amplitude_rps * x.sin()).max(0.0)
            }
            Shape::Spikes {
                base_rps,
                spike_rps,
                every_s,
                duration_s,
                start_s,
            } => {
                if s >= start_s && (s - start_s) % every_s < duration_s {
                    spike_rps
                } else {
                    base_rps
                }
            }
        }
    }

    /// Rates for seconds `0..duration_s`.
    pub fn materialise(&self, duration_s: u64) -> Vec<f64> {
        (0..duration_s).map(|s| self.rate_at(s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_and_step() {
        let c = Shape::Constant { rate_rps: 42.0 };
        assert_eq!(c.materialise(3), vec![42.0; 3]);
        let s = Shape::Step {
            before_rps: 10.0,
            after_rps: 20.0,
            at_s: 5,
        };
        assert_eq!(s.rate_at(0), 10.0);
        assert_eq!(s.rate_at(4), 10.0);
        assert_eq!(s.rate_at(5), 20.0);
        assert_eq!(s.rate_at(1000), 20.0);
    }

    #[test]
    fn ramp_values() {
        let r = Shape::Ramp {
            from_rps: 100.0,
            to_rps: 200.0,
            start_s: 10,
            end_s: 110,
        };
        assert_eq!(r.rate_at(0), 100.0);
        assert_eq!(r.rate_at(10), 100.0);
        assert_eq!(r.rate_at(60), 150.0);
        assert_eq!(r.rate_at(85), 175.0);
        assert_eq!(r.rate_at(110), 200.0);
        assert_eq!(r.rate_at(500), 200.0);
        // Downward ramps work too.
        let d = Shape::Ramp {
            from_rps: 200.0,
            to_rps: 0.0,
            start_s: 0,
            end_s: 4,
        };
        assert_eq!(d.materialise(6), vec![200.0, 150.0, 100.0, 50.0, 0.0, 0.0]);
    }

    #[test]
    fn sine_values() {
        let s = Shape::Sine {
            mean_rps: 1000.0,
            amplitude_rps: 500.0,
            period_s: 400.0,
            phase_s: 100.0,
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(s.rate_at(100), 1000.0));
        assert!(close(s.rate_at(200), 1500.0)); // phase + period/4: peak
        assert!(close(s.rate_at(300), 1000.0));
        assert!(close(s.rate_at(400), 500.0)); // trough
        assert!(close(s.rate_at(0), 500.0)); // = 400 - period
        assert!(close(s.rate_at(500), 1000.0));
    }

    #[test]
    fn spikes_values() {
        let s = Shape::Spikes {
            base_rps: 10.0,
            spike_rps: 50.0,
            every_s: 100,
            duration_s: 5,
            start_s: 20,
        };
        assert_eq!(s.rate_at(0), 10.0);
        assert_eq!(s.rate_at(19), 10.0);
        assert_eq!(s.rate_at(20), 50.0);
        assert_eq!(s.rate_at(24), 50.0);
        assert_eq!(s.rate_at(25), 10.0);
        assert_eq!(s.rate_at(119), 10.0);
        assert_eq!(s.rate_at(120), 50.0);
        assert_eq!(s.rate_at(124), 50.0);
        assert_eq!(s.rate_at(125), 10.0);
        let total: f64 = s.materialise(1000).iter().sum();
        // Spikes start at 20, 120, ..., 920: 10 spikes of 5 s.
        assert_eq!(total, 10.0 * 1000.0 + 40.0 * 50.0);
    }

    #[test]
    fn validation_names_key_and_expectation() {
        let e = Shape::Sine {
            mean_rps: 10.0,
            amplitude_rps: 20.0,
            period_s: 60.0,
            phase_s: 0.0,
        }
        .validate("[workload] kind = \"sine\"")
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "[workload] kind = \"sine\": amplitude_rps = 20 is invalid (expected 0 <= amplitude_rps <= mean_rps = 10, so the rate stays >= 0)"
        );
        assert!(Shape::Constant { rate_rps: -1.0 }.validate("c").is_err());
        assert!(Shape::Constant { rate_rps: f64::NAN }
            .validate("c")
            .is_err());
        assert!(Shape::Constant { rate_rps: 2e9 }.validate("c").is_err());
        assert!(Shape::Ramp {
            from_rps: 1.0,
            to_rps: 2.0,
            start_s: 5,
            end_s: 5
        }
        .validate("r")
        .is_err());
        assert!(Shape::Spikes {
            base_rps: 1.0,
            spike_rps: 2.0,
            every_s: 0,
            duration_s: 0,
            start_s: 0
        }
        .validate("s")
        .is_err());
        assert!(Shape::Spikes {
            base_rps: 1.0,
            spike_rps: 2.0,
            every_s: 10,
            duration_s: 11,
            start_s: 0
        }
        .validate("s")
        .is_err());
    }
}
