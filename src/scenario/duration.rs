//! Durations as people write them in scenario files and flags: `64800`, `2700s`, `500ms`, `90m`, `18h`, `1d`.

use crate::time::SimDuration;

/// Parses a duration; a bare number means seconds. Returns what was expected on error.
pub fn parse_duration(text: &str) -> Result<SimDuration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("a duration like \"10s\", \"500ms\", \"90m\" or \"18h\", found {text:?}")
    })?;
    let factor_ms = match unit.trim() {
        "" | "s" => 1000.0,
        "ms" => 1.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        other => {
            return Err(format!(
                "a duration unit ms, s, m, h or d, found {other:?} in {text:?}"
            ))
        }
    };
    let ms = value * factor_ms;
    if !ms.is_finite() || !(0.0..=1e13).contains(&ms) {
        return Err(format!(
            "a duration between 0 and ~300 years, found {text:?}"
        ));
    }
    Ok(SimDuration::from_ms(ms.round() as u64))
}

/// A duration in a TOML file: a string with a unit, or a number of seconds.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(f64),
    Text(String),
}

impl DurationValue {
    pub fn parse(&self) -> Result<SimDuration, String> {
        match self {
            DurationValue::Seconds(s) => parse_duration(&s.to_string()),
            DurationValue::Text(t) => parse_duration(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("18h").unwrap().as_ms(), 64_800_000);
        assert_eq!(parse_duration("2700s").unwrap().as_ms(), 2_700_000);
        assert_eq!(parse_duration("2700").unwrap().as_ms(), 2_700_000);
        assert_eq!(parse_duration("10ms").unwrap().as_ms(), 10);
        assert_eq!(parse_duration("1.5m").unwrap().as_ms(), 90_000);
        assert!(parse_duration("-1s").unwrap_err().contains("duration"));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unit"));
        assert!(parse_duration("").is_err());
    }
}
