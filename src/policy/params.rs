//! Typed readers for `[policy.params]`: every policy's parameters go through them, so an error
//! names the policy, the key and what was expected.

use super::PolicyError;
use crate::scenario::parse_duration;
use crate::time::SimDuration;

/// Reads typed values out of `[policy.params]`; errors name the policy and the key.
pub(crate) struct ParamReader<'a> {
    pub policy: &'a str,
    pub params: &'a toml::Table,
}

impl ParamReader<'_> {
    /// An error for `key` of this policy (for checks the typed readers do not cover).
    pub fn err(&self, key: &str, message: String) -> PolicyError {
        PolicyError::Param {
            policy: self.policy.to_string(),
            key: key.to_string(),
            message,
        }
    }

    /// A number (integer or float) in `range`, or `default` if absent.
    pub fn f64_in(
        &self,
        key: &str,
        default: f64,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<f64, PolicyError> {
        let v = match self.params.get(key) {
            None => return Ok(default),
            Some(toml::Value::Float(f)) => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(other) => {
                return Err(self.err(key, format!("expected a number, found {other}")));
            }
        };
        if v.is_finite() && range.contains(&v) {
            Ok(v)
        } else {
            Err(self.err(
                key,
                format!(
                    "expected a number in {}..={}, found {v}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    /// A whole number in `range`, or `default` if absent.
    pub fn u32_in(
        &self,
        key: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32, PolicyError> {
        match self.params.get(key) {
            None => Ok(default),
            Some(toml::Value::Integer(i))
                if u32::try_from(*i).is_ok_and(|u| range.contains(&u)) =>
            {
                Ok(*i as u32)
            }
            Some(other) => Err(self.err(
                key,
                format!(
                    "expected a whole number in {}..={}, found {other}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// An optional whole number >= 1.
    pub fn opt_u32(&self, key: &str, default: Option<u32>) -> Result<Option<u32>, PolicyError> {
        if self.params.contains_key(key) {
            self.u32_in(key, 1, 1..=u32::MAX).map(Some)
        } else {
            Ok(default)
        }
    }

    /// A duration: a string with a unit ("90s", "5m", "1h") or a number of seconds.
    pub fn duration(&self, key: &str, default: SimDuration) -> Result<SimDuration, PolicyError> {
        match self.params.get(key) {
            None => Ok(default),
            Some(toml::Value::String(s)) => parse_duration(s).map_err(|e| self.err(key, e)),
            Some(toml::Value::Integer(i)) if *i >= 0 => Ok(SimDuration::from_secs(*i as u64)),
            Some(toml::Value::Float(f)) if f.is_finite() && *f >= 0.0 => {
                Ok(SimDuration::from_secs_f64(*f))
            }
            Some(other) => Err(self.err(
                key,
                format!("expected a duration like \"90s\" or \"5m\", found {other}"),
            )),
        }
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, PolicyError> {
        match self.params.get(key) {
            None => Ok(default),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(other) => Err(self.err(key, format!("expected true or false, found {other}"))),
        }
    }

    /// One of `choices` (index into it), or `default` if absent.
    pub fn choice(
        &self,
        key: &str,
        default: usize,
        choices: &[&str],
    ) -> Result<usize, PolicyError> {
        match self.params.get(key) {
            None => Ok(default),
            Some(toml::Value::String(s)) => choices.iter().position(|c| c == s).ok_or_else(|| {
                self.err(
                    key,
                    format!("expected one of {}, found {s:?}", choices.join(", ")),
                )
            }),
            Some(other) => Err(self.err(
                key,
                format!("expected one of {}, found {other}", choices.join(", ")),
            )),
        }
    }

    /// A whole number >= `min`, if present.
    pub fn opt_u64_at_least(&self, key: &str, min: u64) -> Result<Option<u64>, PolicyError> {
        match self.params.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) if *i >= 0 && *i as u64 >= min => Ok(Some(*i as u64)),
            Some(v) => Err(self.err(key, format!("expected an integer >= {min}, found {v}"))),
        }
    }

    /// A whole number >= `min` that fits 32 bits, if present.
    pub fn opt_u32_at_least(&self, key: &str, min: u32) -> Result<Option<u32>, PolicyError> {
        self.opt_u64_at_least(key, min as u64)?
            .map(|v| u32::try_from(v).map_err(|_| self.err(key, format!("{v} is too large"))))
            .transpose()
    }

    /// A number > `above` (and <= `at_most` if given), if present; integers are accepted.
    pub fn opt_f64_above(
        &self,
        key: &str,
        above: f64,
        at_most: Option<f64>,
    ) -> Result<Option<f64>, PolicyError> {
        let v = match self.params.get(key) {
            None => return Ok(None),
            Some(toml::Value::Float(f)) => *f,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(v) => return Err(self.err(key, format!("expected a number, found {v}"))),
        };
        if v.is_finite() && v > above && at_most.is_none_or(|m| v <= m) {
            return Ok(Some(v));
        }
        let range = match at_most {
            Some(m) => format!("in ({above}, {m}]"),
            None => format!("> {above}"),
        };
        Err(self.err(key, format!("expected a number {range}, found {v}")))
    }
}
