//! Simulated time: `SimTime` (an instant) and `SimDuration` (a span), integer milliseconds.
//!
//! Time is never a float in the model: golden traces must not move with rounding. Both types are
//! `u64` milliseconds since the scenario start; arithmetic that could overflow or go negative is
//! checked and panics with a message, because it can only come from a bug in the model.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time, in milliseconds since the scenario start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);

    pub const fn from_ms(ms: u64) -> Self {
        SimTime(ms)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimTime(s * 1000)
    }
    pub const fn as_ms(self) -> u64 {
        self.0
    }
    /// Whole seconds since the start (rounded down).
    pub const fn as_secs(self) -> u64 {
        self.0 / 1000
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    /// The span since `earlier`; panics if `earlier` is later (a model bug).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(earlier.0)
                .unwrap_or_else(|| panic!("time went backwards: {self} since {earlier}")),
        )
    }
    /// The instant `d` before this one, or the start if that is earlier.
    pub fn saturating_sub(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_sub(d.0))
    }
    /// The span since `earlier`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_ms(ms: u64) -> Self {
        SimDuration(ms)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1000)
    }
    /// Rounds a non-negative number of seconds to the nearest millisecond.
    pub fn from_secs_f64(s: f64) -> Self {
        assert!(s.is_finite() && s >= 0.0, "invalid duration {s} s");
        SimDuration((s * 1000.0).round() as u64)
    }
    pub const fn as_ms(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    pub fn min(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.min(other.0))
    }
    /// `self - other`, or zero if `other` is longer.
    pub fn saturating_sub(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_sub(other.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(
            self.0
                .checked_add(d.0)
                .unwrap_or_else(|| panic!("time overflow: {self} + {d}")),
        )
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(d.0).expect("duration overflow"))
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(d.0)
                .unwrap_or_else(|| panic!("negative duration: {self} - {d}")),
        )
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_is_exact_in_milliseconds() {
        let t = SimTime::from_secs(10) + SimDuration::from_ms(250);
        assert_eq!(t.as_ms(), 10_250);
        assert_eq!(t.since(SimTime::from_secs(10)), SimDuration::from_ms(250));
        assert_eq!(SimDuration::from_secs_f64(0.0105).as_ms(), 11);
        assert_eq!(t.to_string(), "t=10.250s");
    }

    #[test]
    #[should_panic(expected = "time went backwards")]
    fn since_a_later_instant_is_a_bug() {
        let _ = SimTime::from_secs(1).since(SimTime::from_secs(2));
    }
}
