//! The recorded-trace loader: strict parsing of `timestamp|value` files into one rate per second.
//!
//! Format (the one the Demeter experiments and this project write):
//! - the first line is the header `timestamp|value` and is **required** (surrounding spaces,
//!   a UTF-8 byte-order mark and a trailing `\r` are tolerated);
//! - then one `timestamp|value` line per sample: `timestamp` an integer (epoch seconds),
//!   strictly ascending; `value` a finite number of records per second, `0 <= value <= 1e9`;
//! - `null` as a value means "no sample" (the recorded series use it) and, like a missing
//!   second, is filled by **holding the previous value**; the first sample must be a number;
//! - a gap between consecutive timestamps is filled by holding the previous value for the
//!   missing seconds; gaps longer than [`MAX_GAP_S`] are rejected (they mean a wrong file);
//! - empty lines are allowed only at the end of the file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::WorkloadError;
use super::MAX_RATE_RPS;

/// The longest run of missing seconds filled by holding the previous value.
pub const MAX_GAP_S: i64 = 3600;

/// The most seconds a trace may span (about 116 days), to keep memory bounded.
pub const MAX_TRACE_S: u64 = 10_000_000;

/// A recorded trace, one rate per second starting at `start_timestamp`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The path the trace was read from (as resolved by the caller).
    pub path: PathBuf,
    /// Epoch second of the first sample.
    pub start_timestamp: i64,
    /// One rate per second (records per second), gaps and `null`s filled.
    pub rates_rps: Vec<f64>,
    /// Number of data lines (excluding the header).
    pub rows: usize,
    /// Seconds that were filled by holding the previous value (gaps + `null`s).
    pub filled_s: u64,
    /// SHA-256 of the file's bytes, lower-case hex (provenance for fitted models).
    pub sha256_hex: String,
}

impl Trace {
    /// Seconds covered by the trace.
    pub fn duration_s(&self) -> u64 {
        self.rates_rps.len() as u64
    }
}

/// Read and parse a `timestamp|value` trace. Errors name `path` as given.
pub fn load_trace(path: &Path) -> Result<Trace, WorkloadError> {
    let bytes = std::fs::read(path).map_err(|source| WorkloadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| WorkloadError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let mut trace = parse_trace(text, path)?;
    trace.sha256_hex = format!("{:x}", Sha256::digest(&bytes));
    Ok(trace)
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

/// Parse the text of a trace; `path` only names the file in errors. `sha256_hex` is left empty.
pub fn parse_trace(text: &str, path: &Path) -> Result<Trace, WorkloadError> {
    let err = |line: usize, field: &'static str, found: &str, problem: &str, expected: &str| {
        WorkloadError::Parse {
            path: path.to_path_buf(),
            line,
            field,
            found: shorten(found),
            problem: problem.to_string(),
            expected: expected.to_string(),
        }
    };

    let lines: Vec<&str> = text.lines().collect();
    // Trailing empty lines are tolerated; count the meaningful ones.
    let last_non_empty = lines.iter().rposition(|l| !l.trim().is_empty());
    let Some(last) = last_non_empty else {
        return Err(err(
            1,
            "header",
            "",
            "is missing (the file is empty)",
            "the header line `timestamp|value`",
        ));
    };
    let header = lines[0].trim_start_matches('\u{feff}').trim();
    if header != "timestamp|value" {
        return Err(err(
            1,
            "header",
            header,
            "is not the trace header",
            "the header line `timestamp|value`",
        ));
    }

    let mut rates_rps: Vec<f64> = Vec::with_capacity(last);
    let mut start_timestamp: Option<i64> = None;
    let mut prev_ts: Option<i64> = None;
    let mut filled_s: u64 = 0;
    let mut rows = 0usize;

    for (idx, raw) in lines.iter().enumerate().take(last + 1).skip(1) {
        let line_no = idx + 1;
        let line = raw.trim();
        if line.is_empty() {
            return Err(err(
                line_no,
                "line",
                "",
                "is empty",
                "`timestamp|value`; empty lines are allowed only at the end",
            ));
        }
        let mut parts = line.split('|');
        let (Some(ts_text), Some(value_text), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(err(
                line_no,
                "line",
                line,
                "does not have exactly two `|`-separated fields",
                "`timestamp|value`",
            ));
        };
        let ts_text = ts_text.trim();
        let value_text = value_text.trim();
        let ts: i64 = ts_text.parse().map_err(|_| {
            err(
                line_no,
                "timestamp",
                ts_text,
                "is not an integer",
                "epoch seconds as an integer",
            )
        })?;
        let value: Option<f64> = if value_text == "null" {
            None
        } else {
            let v: f64 = value_text.parse().map_err(|_| {
                err(
                    line_no,
                    "value",
                    value_text,
                    "is not a number",
                    "records per second >= 0, or null",
                )
            })?;
            if !v.is_finite() {
                return Err(err(
                    line_no,
                    "value",
                    value_text,
                    "is not finite",
                    "records per second >= 0",
                ));
            }
            if v < 0.0 {
                return Err(err(
                    line_no,
                    "value",
                    value_text,
                    "is negative",
                    "records per second >= 0",
                ));
            }
            if v > MAX_RATE_RPS {
                return Err(err(
                    line_no,
                    "value",
                    value_text,
                    "is absurdly large",
                    "records per second <= 1e9",
                ));
            }
            Some(v)
        };

        match prev_ts {
            None => {
                let Some(v) = value else {
                    return Err(err(
                        line_no,
                        "value",
                        value_text,
                        "is null in the first sample (nothing to hold)",
                        "a number of records per second >= 0",
                    ));
                };
                start_timestamp = Some(ts);
                rates_rps.push(v);
            }
            Some(p) => {
                if ts <= p {
                    return Err(err(
                        line_no,
                        "timestamp",
                        ts_text,
                        &format!("is not after the previous timestamp {p}"),
                        "strictly ascending timestamps",
                    ));
                }
                // ts > p here; a difference beyond i64 is simply a too-long gap.
                let gap = ts.checked_sub(p).unwrap_or(i64::MAX);
                if gap > MAX_GAP_S {
                    return Err(err(
                        line_no,
                        "timestamp",
                        ts_text,
                        &format!("is {gap} s after the previous timestamp {p}"),
                        "gaps of at most 3600 s",
                    ));
                }
                let total = rates_rps.len() as u64 + gap as u64;
                if total > MAX_TRACE_S {
                    return Err(err(
                        line_no,
                        "timestamp",
                        ts_text,
                        &format!("makes the trace {total} s long"),
                        "a trace of at most 10000000 s",
                    ));
                }
                let held = *rates_rps.last().unwrap_or(&0.0);
                for _ in 1..gap {
                    rates_rps.push(held);
                }
                filled_s += (gap - 1) as u64;
                match value {
                    Some(v) => rates_rps.push(v),
                    None => {
                        rates_rps.push(held);
                        filled_s += 1;
                    }
                }
            }
        }
        prev_ts = Some(ts);
        rows += 1;
    }

    let Some(start_timestamp) = start_timestamp else {
        return Err(err(
            2,
            "line",
            "",
            "is missing (the file has only the header)",
            "at least one `timestamp|value` sample",
        ));
    };
    Ok(Trace {
        path: path.to_path_buf(),
        start_timestamp,
        rates_rps,
        rows,
        filled_s,
        sha256_hex: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Trace, WorkloadError> {
        parse_trace(text, Path::new("x.csv"))
    }

    fn msg(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_regular_trace() {
        let t = parse("timestamp|value\n100|5\n101|6.5\n102|0\n").unwrap();
        assert_eq!(t.start_timestamp, 100);
        assert_eq!(t.rates_rps, vec![5.0, 6.5, 0.0]);
        assert_eq!(t.rows, 3);
        assert_eq!(t.filled_s, 0);
    }

    #[test]
    fn tolerates_crlf_and_trailing_empty_lines() {
        let t = parse("\u{feff}timestamp|value\r\n1|2\r\n2|3\r\n\r\n\n").unwrap();
        assert_eq!(t.rates_rps, vec![2.0, 3.0]);
    }

    #[test]
    fn gaps_and_nulls_hold_the_previous_value() {
        let t = parse("timestamp|value\n10|1\n13|4\n14|null\n15|7\n").unwrap();
        assert_eq!(t.rates_rps, vec![1.0, 1.0, 1.0, 4.0, 4.0, 7.0]);
        assert_eq!(t.filled_s, 3);
        assert_eq!(t.rows, 4);
    }

    #[test]
    fn error_messages_name_file_line_field_and_expectation() {
        assert_eq!(
            msg("timestamp|value\n1|2\n2|abc\n"),
            "\"x.csv\" line 3: value \"abc\" is not a number (expected records per second >= 0, or null)"
        );
        assert_eq!(
            msg("timestamp|value\n1|-2\n"),
            "\"x.csv\" line 2: value \"-2\" is negative (expected records per second >= 0)"
        );
        assert_eq!(
            msg("timestamp|value\n1|NaN\n"),
            "\"x.csv\" line 2: value \"NaN\" is not finite (expected records per second >= 0)"
        );
        assert_eq!(
            msg("timestamp|value\n1|2e9\n"),
            "\"x.csv\" line 2: value \"2e9\" is absurdly large (expected records per second <= 1e9)"
        );
        assert_eq!(
            msg("timestamp|value\n5|2\n5|3\n"),
            "\"x.csv\" line 3: timestamp \"5\" is not after the previous timestamp 5 (expected strictly ascending timestamps)"
        );
        assert_eq!(
            msg("timestamp|value\n1.5|2\n"),
            "\"x.csv\" line 2: timestamp \"1.5\" is not an integer (expected epoch seconds as an integer)"
        );
        assert_eq!(
            msg("time,value\n1|2\n"),
            "\"x.csv\" line 1: header \"time,value\" is not the trace header (expected the header line `timestamp|value`)"
        );
        assert_eq!(
            msg("timestamp|value\n1|2|3\n"),
            "\"x.csv\" line 2: line \"1|2|3\" does not have exactly two `|`-separated fields (expected `timestamp|value`)"
        );
        assert!(msg("").contains("line 1: header"));
        assert!(msg("timestamp|value\n").contains("only the header"));
        assert!(msg("timestamp|value\n1|2\n\n3|4\n").contains("line 3: line \"\" is empty"));
        assert!(msg("timestamp|value\n1|null\n").contains("first sample"));
        assert!(msg("timestamp|value\n1|2\n5000|3\n").contains("gaps of at most 3600 s"));
        assert!(msg("timestamp|value\n1|2\n-1|3\n").contains("strictly ascending"));
        // Absurd timestamps never panic (no overflow).
        assert!(parse("timestamp|value\n-9223372036854775808|1\n9223372036854775807|2\n").is_err());
    }

    #[test]
    fn missing_file_names_the_resolved_path() {
        let e = load_trace(Path::new("/nonexistent/dir/t.csv")).unwrap_err();
        let m = e.to_string();
        assert!(
            m.starts_with("cannot read workload file \"/nonexistent/dir/t.csv\""),
            "{m}"
        );
    }
}
