//! Results files of sweeps: one CSV row per run, a `#` header naming the sweep, shards, merging.
//!
//! ```text
//! # demeter-sim sweep: checkpoint_hpa
//! # sweep-sha256: 3f0c...
//! # version: 0.1.0
//! # runs: 36
//! # shard: 1/4                      (partial results only)
//! run,config.checkpoint_interval,seed,policy_name,latency_ms_mean,...
//! 0,10s,42,static,1198.3,...
//! ```
//!
//! Rows are in run-index order. Numbers use Rust's shortest round-trip form, missing values
//! are empty cells, and nothing depends on the machine, the thread count or the clock, so the
//! same sweep gives byte-identical files. Read them with e.g. `pandas.read_csv(f, comment="#")`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::Summary;
use crate::simulate::RunResult;

/// The metric columns after the run key, in order.
pub const METRIC_COLUMNS: [&str; 28] = [
    "policy_name",
    "latency_ms_mean",
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p99",
    "latency_le_1500ms_pct",
    "latency_le_2000ms_pct",
    "throughput_rps_mean",
    "consumer_lag_records_mean",
    "task_managers_mean",
    "task_slots_mean",
    "cpu_load_mean",
    "tm_hours",
    "core_hours",
    "memory_gb_hours",
    "reconfigurations",
    "restarts",
    "config_changes",
    "tm_level_changes",
    "failures_injected",
    "failures_scheduled",
    "recovery_s_mean",
    "recovery_s_p50",
    "recovery_s_max",
    "recoveries_over_180s",
    "recoveries_censored",
    "energy_j",
    "wan_bytes",
];

/// The numbers of one run: its section-6 summary and what the twin counted.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub index: u64,
    /// Run-key cells after `run` (e.g. the axis labels and the seed).
    pub key: Vec<String>,
    pub policy: String,
    pub summary: Summary,
    /// Restarts the policy caused (redeploys, in-place and reactive rescales).
    pub reconfigurations: u32,
    /// All job restarts (failures included).
    pub restarts: u32,
}

impl RunRow {
    pub fn new(index: u64, key: Vec<String>, result: &RunResult) -> RunRow {
        RunRow {
            index,
            key,
            policy: result.policy_name.clone(),
            summary: result.summary(),
            reconfigurations: result.twin.reconfigurations(),
            restarts: result.twin.restarts(),
        }
    }

    /// TaskManager-hours: mean registered TaskManagers x the window in hours.
    pub fn tm_hours(&self) -> Option<f64> {
        self.summary
            .task_managers_mean
            .map(|m| m * self.summary.window_s as f64 / 3600.0)
    }

    /// The metric cells, in [`METRIC_COLUMNS`] order.
    pub fn metric_cells(&self) -> Vec<String> {
        let s = &self.summary;
        let cells = vec![
            csv_field(&self.policy),
            opt(s.latency_ms_mean),
            opt(s.latency_ms_p50),
            opt(s.latency_ms_p95),
            opt(s.latency_ms_p99),
            opt(s.latency_le_1500ms_pct),
            opt(s.latency_le_2000ms_pct),
            opt(s.throughput_rps_mean),
            opt(s.consumer_lag_records_mean),
            opt(s.task_managers_mean),
            opt(s.task_slots_mean),
            opt(s.cpu_load_mean),
            opt(self.tm_hours()),
            s.core_hours.to_string(),
            s.memory_gb_hours.to_string(),
            self.reconfigurations.to_string(),
            self.restarts.to_string(),
            opt(s.config_changes),
            s.tm_level_changes.to_string(),
            s.failures_injected.to_string(),
            opt(s.failures_scheduled),
            opt(s.recovery_s_mean),
            opt(s.recovery_s_p50),
            opt(s.recovery_s_max),
            s.recoveries_over_180s.to_string(),
            s.recoveries_censored.to_string(),
            opt(s.energy_j),
            opt(s.wan_bytes),
        ];
        debug_assert_eq!(cells.len(), METRIC_COLUMNS.len());
        cells
    }

    fn line(&self) -> String {
        let mut cells = vec![self.index.to_string()];
        cells.extend(self.key.iter().map(|k| csv_field(k)));
        cells.extend(self.metric_cells());
        cells.join(",")
    }
}

fn opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(String::new, |v| v.to_string())
}

/// A CSV cell, quoted only when it must be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with('#') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// What the `#` lines of a results file say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultsHeader {
    pub name: String,
    /// See [`super::Sweep::hash`].
    pub hash: String,
    pub version: String,
    /// Runs in the whole sweep.
    pub runs: u64,
    /// `run`, then the other run-key columns.
    pub key_columns: Vec<String>,
    /// `(i, n)` for the partial results of shard `i` of `n`.
    pub shard: Option<(u64, u64)>,
}

impl ResultsHeader {
    fn comment_lines(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# demeter-sim sweep: {}", self.name);
        let _ = writeln!(out, "# sweep-sha256: {}", self.hash);
        let _ = writeln!(out, "# version: {}", self.version);
        let _ = writeln!(out, "# runs: {}", self.runs);
        if let Some((i, n)) = self.shard {
            let _ = writeln!(out, "# shard: {i}/{n}");
        }
        out
    }
}

fn column_line(key_columns: &[String]) -> String {
    key_columns
        .iter()
        .map(|c| csv_field(c))
        .chain(METRIC_COLUMNS.iter().map(|c| c.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The results file: header lines, the column line, then `rows` (which must be in index order).
pub fn write_results(header: &ResultsHeader, rows: &[RunRow]) -> String {
    debug_assert!(rows.windows(2).all(|w| w[0].index < w[1].index));
    let mut out = header.comment_lines();
    out.push_str(&rows_csv(&header.key_columns, rows));
    out
}

/// Plain CSV of `rows`: the column line (`key_columns`, starting with `run`, then the metric
/// columns) and one line per row, with no `#` header.
pub fn rows_csv(key_columns: &[String], rows: &[RunRow]) -> String {
    let mut out = column_line(key_columns);
    out.push('\n');
    for r in rows {
        debug_assert_eq!(r.key.len() + 1, key_columns.len());
        out.push_str(&r.line());
        out.push('\n');
    }
    out
}

/// A parsed results file (whole or one shard): its header and its rows as written.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub hash: String,
    pub version: String,
    pub runs: u64,
    pub shard: Option<(u64, u64)>,
    pub column_line: String,
    /// `(run index, the row's line)` in file order.
    pub rows: Vec<(u64, String)>,
}

/// Parses a results file; `file` names it in errors.
pub fn parse_part(file: &str, text: &str) -> Result<Part, String> {
    let err = |line: usize, m: String| format!("{file}: line {line}: {m}");
    let mut fields: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut column_line = None;
    for (n, l) in lines.by_ref() {
        if let Some(c) = l.strip_prefix("# ") {
            let Some((k, v)) = c.split_once(": ") else {
                return Err(err(
                    n,
                    format!("expected a `# key: value` header line, found {l:?}"),
                ));
            };
            if fields.insert(k, (n, v)).is_some() {
                return Err(err(n, format!("header `{k}` given twice")));
            }
        } else {
            column_line = Some((n, l));
            break;
        }
    }
    let need = |k: &str| {
        fields.get(k).map(|&(_, v)| v).ok_or_else(|| {
            format!(
                "{file}: not a demeter-sim sweep results file: expected a `# {k}: ...` header line"
            )
        })
    };
    let name = need("demeter-sim sweep")?.to_string();
    let hash = need("sweep-sha256")?.to_string();
    let version = need("version")?.to_string();
    need("runs")?;
    let (rn, runs) = fields["runs"];
    let runs: u64 = runs
        .parse()
        .map_err(|_| err(rn, format!("`runs`: expected a count, found {runs:?}")))?;
    let shard = match fields.get("shard") {
        None => None,
        Some(&(n, v)) => Some(parse_shard(v).map_err(|m| err(n, format!("`shard`: {m}")))?),
    };
    let Some((cn, column_line)) = column_line else {
        return Err(format!(
            "{file}: expected a column line after the header, found the end of the file"
        ));
    };
    if !column_line.starts_with("run,") {
        return Err(err(
            cn,
            format!("expected the column line `run,...`, found {column_line:?}"),
        ));
    }
    let mut rows = Vec::new();
    for (n, l) in lines {
        let first = l.split(',').next().unwrap_or("");
        let index: u64 = first.parse().map_err(|_| {
            err(
                n,
                format!("expected a row starting with its run index, found {l:?}"),
            )
        })?;
        rows.push((index, l.to_string()));
    }
    Ok(Part {
        name,
        hash,
        version,
        runs,
        shard,
        column_line: column_line.to_string(),
        rows,
    })
}

/// Parses `I/N` with `0 <= I < N`.
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("expected I/N with 0 <= I < N (e.g. 0/4), found {text:?}");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let i: u64 = i.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Joins the parts of one sweep (`(file, part)`) into the whole results file, byte-identical
/// to the unsharded run's. Every part must come from the same sweep (name, hash, version, run
/// count, columns) and be a shard of the same `N`; the shards `0..N` must each be given once,
/// each holding exactly its runs (`index % N == I`). A whole (unsharded) file counts as `0/1`.
pub fn merge(parts: &[(String, Part)]) -> Result<String, String> {
    let Some((first_file, first)) = parts.first() else {
        return Err("expected at least one results file to merge".into());
    };
    for (file, p) in &parts[1..] {
        for (what, a, b) in [
            ("sweep", &first.name, &p.name),
            ("sweep-sha256", &first.hash, &p.hash),
            ("version", &first.version, &p.version),
            ("column line", &first.column_line, &p.column_line),
        ] {
            if a != b {
                return Err(format!(
                    "mismatched parts: {file} has {what} {b:?} but {first_file} has {a:?}; all parts must come from the same sweep file, base scenario and demeter-sim version"
                ));
            }
        }
        if p.runs != first.runs {
            return Err(format!(
                "mismatched parts: {file} is from a sweep of {} runs but {first_file} of {}",
                p.runs, first.runs
            ));
        }
    }
    let n = first.shard.map_or(1, |s| s.1);
    let mut by_shard: BTreeMap<u64, &str> = BTreeMap::new();
    for (file, p) in parts {
        let (i, pn) = p.shard.unwrap_or((0, 1));
        if pn != n {
            return Err(format!(
                "mismatched parts: {file} is shard {i}/{pn} but {first_file} is a shard of {n}"
            ));
        }
        if let Some(other) = by_shard.insert(i, file) {
            return Err(format!(
                "overlapping parts: shard {i}/{n} given twice ({other} and {file})"
            ));
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !by_shard.contains_key(i))
        .map(|i| format!("{i}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "incomplete parts: shard(s) {} missing (run `demeter-sim sweep ... --shard I/{n}` for each)",
            missing.join(", ")
        ));
    }
    let mut rows: BTreeMap<u64, (&str, &str)> = BTreeMap::new();
    for (file, p) in parts {
        let (i, _) = p.shard.unwrap_or((0, 1));
        for (index, line) in &p.rows {
            if *index >= first.runs || index % n != i {
                return Err(format!(
                    "{file}: run {index} does not belong to shard {i}/{n} of a {}-run sweep",
                    first.runs
                ));
            }
            if let Some((other, _)) = rows.insert(*index, (file, line)) {
                return Err(format!(
                    "overlapping parts: run {index} appears in {other} and {file}"
                ));
            }
        }
    }
    if rows.len() as u64 != first.runs {
        let absent: Vec<String> = (0..first.runs)
            .filter(|i| !rows.contains_key(i))
            .take(10)
            .map(|i| i.to_string())
            .collect();
        return Err(format!(
            "incomplete parts: {} of {} runs missing (first: {}); was a shard interrupted?",
            first.runs - rows.len() as u64,
            first.runs,
            absent.join(", ")
        ));
    }
    let header = ResultsHeader {
        name: first.name.clone(),
        hash: first.hash.clone(),
        version: first.version.clone(),
        runs: first.runs,
        key_columns: vec![],
        shard: None,
    };
    let mut out = header.comment_lines();
    out.push_str(&first.column_line);
    out.push('\n');
    for (_, line) in rows.values() {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(shard: Option<(u64, u64)>) -> ResultsHeader {
        ResultsHeader {
            name: "t".into(),
            hash: "abc".into(),
            version: "0.1.0".into(),
            runs: 5,
            key_columns: vec!["run".into(), "a.b".into(), "seed".into()],
            shard,
        }
    }

    fn row(i: u64) -> RunRow {
        let mut summary = crate::report::summarize(&Default::default());
        summary.core_hours = i as f64 + 0.5;
        RunRow {
            index: i,
            key: vec![format!("v{i}"), "7".into()],
            policy: "static".into(),
            summary,
            reconfigurations: 0,
            restarts: 1,
        }
    }

    fn shard_text(i: u64, n: u64) -> String {
        let rows: Vec<RunRow> = (0..5).filter(|r| r % n == i).map(row).collect();
        write_results(&header(Some((i, n))), &rows)
    }

    #[test]
    fn shards_merge_to_the_whole_file_and_bad_sets_are_rejected() {
        let whole = write_results(&header(None), &(0..5).map(row).collect::<Vec<_>>());
        assert!(whole.starts_with("# demeter-sim sweep: t\n# sweep-sha256: abc\n"));
        let part = |i, n| (format!("p{i}"), parse_part("p", &shard_text(i, n)).unwrap());
        assert_eq!(merge(&[part(1, 2), part(0, 2)]).unwrap(), whole);
        assert_eq!(
            merge(&[("w".into(), parse_part("w", &whole).unwrap())]).unwrap(),
            whole
        );
        let e = merge(&[part(0, 2)]).unwrap_err();
        assert!(e.contains("incomplete") && e.contains("1/2"), "{e}");
        let e = merge(&[part(0, 2), part(0, 2), part(1, 2)]).unwrap_err();
        assert!(e.contains("overlapping"), "{e}");
        let e = merge(&[part(0, 2), part(1, 3)]).unwrap_err();
        assert!(e.contains("mismatched"), "{e}");
        let mut other = part(1, 2);
        other.1.hash = "def".into();
        let e = merge(&[part(0, 2), other]).unwrap_err();
        assert!(
            e.contains("mismatched") && e.contains("sweep-sha256"),
            "{e}"
        );
        // A truncated shard.
        let mut cut = part(1, 2);
        cut.1.rows.pop();
        let e = merge(&[part(0, 2), cut]).unwrap_err();
        assert!(e.contains("incomplete"), "{e}");
    }

    #[test]
    fn bad_files_and_shards() {
        assert!(parse_part("x", "a,b\n1,2\n")
            .unwrap_err()
            .contains("not a demeter-sim"));
        assert_eq!(parse_shard("1/4"), Ok((1, 4)));
        for bad in ["4/4", "1", "a/b", "0/0"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("#x"), "\"#x\"");
    }
}
