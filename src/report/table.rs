//! Rendering summaries: an aligned text table, Markdown, CSV and JSON, one row per run.

use std::fmt::Write as _;

use super::Summary;

/// Output formats of [`render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain text, for a terminal.
    Table,
    /// A GitHub-flavoured Markdown table, as in research/demeter.md section 6.
    Markdown,
    /// Comma-separated, one column per [`Summary`] field, full precision.
    Csv,
    /// A JSON array of [`Summary`] objects.
    Json,
}

/// Renders `rows` in `format`.
pub fn render(rows: &[Summary], format: Format) -> Result<String, serde_json::Error> {
    Ok(match format {
        Format::Table => render_table(rows),
        Format::Markdown => render_markdown(rows),
        Format::Csv => render_csv(rows),
        Format::Json => render_json(rows)?,
    })
}

const DASH: &str = "-";

/// `x` rounded to an integer (ties to even, as the section-6 tables) with thousands
/// separators: 43219.6 -> "43,220".
pub(crate) fn thousands(x: f64) -> String {
    let r = x.round_ties_even();
    let digits = format!("{}", r.abs() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if r < 0.0 {
        out.insert(0, '-');
    }
    out
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| DASH.to_string(), f)
}

fn fixed(decimals: usize) -> impl Fn(f64) -> String {
    move |x| format!("{x:.decimals$}")
}

/// Whole number, ties to even: 95.5 -> "96", 96.5 -> "96".
fn int(x: f64) -> String {
    format!("{}", x.round_ties_even() as i64)
}

/// Headers and right-alignment flags of the human tables (the columns of section 6).
const HEADERS: [&str; 19] = [
    "run",
    "lat mean ms",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "<=1.5 s %",
    "<=2 s %",
    "thr rec/s",
    "lag rec",
    "TMs",
    "slots",
    "CPU load",
    "core-h",
    "GB-h",
    "reconf",
    "inj",
    "rec mean/p50/max s",
    ">180 s",
    "energy kJ",
];

fn human_cells(s: &Summary) -> Vec<String> {
    // As in section 6: applied reconfigurations when the run has any, else "(n)" stable
    // TaskManager-level changes (Static, Reactive, DS2 keep their initial configuration).
    let reconf = match s.config_changes {
        Some(n) if n > 0 => n.to_string(),
        _ => format!("({})", s.tm_level_changes),
    };
    let inj = match s.failures_scheduled {
        Some(n) => format!("{}/{}", s.failures_injected, n),
        None => s.failures_injected.to_string(),
    };
    let rec = match (s.recovery_s_mean, s.recovery_s_p50, s.recovery_s_max) {
        (Some(m), Some(p), Some(x)) => format!("{}/{}/{}", int(m), int(p), int(x)),
        _ => DASH.to_string(),
    };
    let over = if s.recoveries_censored > 0 {
        format!(
            "{} ({} censored)",
            s.recoveries_over_180s, s.recoveries_censored
        )
    } else {
        s.recoveries_over_180s.to_string()
    };
    vec![
        s.run.clone(),
        opt(s.latency_ms_mean, thousands),
        opt(s.latency_ms_p50, thousands),
        opt(s.latency_ms_p95, thousands),
        opt(s.latency_ms_p99, thousands),
        opt(s.latency_le_1500ms_pct, fixed(1)),
        opt(s.latency_le_2000ms_pct, fixed(1)),
        opt(s.throughput_rps_mean, thousands),
        opt(s.consumer_lag_records_mean, thousands),
        opt(s.task_managers_mean, fixed(1)),
        opt(s.task_slots_mean, fixed(1)),
        opt(s.cpu_load_mean, fixed(2)),
        fixed(1)(s.core_hours),
        thousands(s.memory_gb_hours),
        reconf,
        inj,
        rec,
        over,
        // Nodes + WAN (report::energy); "-" for recorded runs without energy.json.
        opt(s.energy_j, |j| thousands(j / 1000.0)),
    ]
}

/// An aligned plain-text table: the run column left-aligned, numbers right-aligned.
pub fn render_table(rows: &[Summary]) -> String {
    let cells: Vec<Vec<String>> = rows.iter().map(human_cells).collect();
    aligned_text(&HEADERS, &cells)
}

/// Header, a rule of dashes and the rows, columns separated by two spaces: the first column
/// left-aligned, the others right-aligned (the summary and comparison tables).
pub fn aligned_text<H: AsRef<str>>(headers: &[H], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.as_ref().chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = row
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| {
                let pad = " ".repeat(w - c.chars().count());
                if i == 0 {
                    format!("{c}{pad}")
                } else {
                    format!("{pad}{c}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &mut headers.iter().map(AsRef::as_ref));
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    let _ = writeln!(out, "{}", rule.join("  "));
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A Markdown table with the headers of section 6.
pub fn render_markdown(rows: &[Summary]) -> String {
    let mut out = String::new();
    let headers: Vec<String> = HEADERS
        .iter()
        .map(|h| md_escape(&h.replace("<=", "≤")))
        .collect();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let align: Vec<&str> = (0..HEADERS.len())
        .map(|i| if i == 0 { ":--" } else { "--:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for s in rows {
        let cells: Vec<String> = human_cells(s).iter().map(|c| md_escape(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

const CSV_HEADERS: [&str; 30] = [
    "run",
    "start_epoch",
    "window_s",
    "latency_samples",
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
    "core_hours",
    "memory_gb_hours",
    "config_changes",
    "tm_level_changes",
    "failures_injected",
    "failures_scheduled",
    "recovery_s_mean",
    "recovery_s_p50",
    "recovery_s_max",
    "recoveries_over_180s",
    "recoveries_censored",
    "recovery_s",
    "energy_j",
    "wan_energy_j",
    "wan_bytes",
];

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_opt<T: std::fmt::Display>(x: Option<T>) -> String {
    x.map_or_else(String::new, |v| v.to_string())
}

/// CSV with one column per field (names as in [`Summary`]), full-precision numbers (Rust's
/// shortest round-trip form), empty cells for missing values, and `recovery_s` as the
/// per-failure recoveries joined by `;` (`censored` for a censored one).
pub fn render_csv(rows: &[Summary]) -> String {
    let mut out = CSV_HEADERS.join(",");
    out.push('\n');
    for s in rows {
        let recs: Vec<String> = s
            .recovery_s
            .iter()
            .map(|r| r.map_or_else(|| "censored".to_string(), |v| v.to_string()))
            .collect();
        let fields = [
            csv_field(&s.run),
            s.start_epoch.to_string(),
            s.window_s.to_string(),
            s.latency_samples.to_string(),
            csv_opt(s.latency_ms_mean),
            csv_opt(s.latency_ms_p50),
            csv_opt(s.latency_ms_p95),
            csv_opt(s.latency_ms_p99),
            csv_opt(s.latency_le_1500ms_pct),
            csv_opt(s.latency_le_2000ms_pct),
            csv_opt(s.throughput_rps_mean),
            csv_opt(s.consumer_lag_records_mean),
            csv_opt(s.task_managers_mean),
            csv_opt(s.task_slots_mean),
            csv_opt(s.cpu_load_mean),
            s.core_hours.to_string(),
            s.memory_gb_hours.to_string(),
            csv_opt(s.config_changes),
            s.tm_level_changes.to_string(),
            s.failures_injected.to_string(),
            csv_opt(s.failures_scheduled),
            csv_opt(s.recovery_s_mean),
            csv_opt(s.recovery_s_p50),
            csv_opt(s.recovery_s_max),
            s.recoveries_over_180s.to_string(),
            s.recoveries_censored.to_string(),
            recs.join(";"),
            csv_opt(s.energy_j),
            csv_opt(s.wan_energy_j),
            csv_opt(s.wan_bytes),
        ];
        debug_assert_eq!(fields.len(), CSV_HEADERS.len());
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A pretty-printed JSON array of the summaries (field names as in [`Summary`]).
pub fn render_json(rows: &[Summary]) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(rows)?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(run: &str) -> Summary {
        Summary {
            profiling_jobs: 0,
            profiling_core_hours: None,
            profiling_gb_hours: None,
            run: run.to_string(),
            start_epoch: 100,
            window_s: 64_800,
            latency_samples: 64_500,
            latency_ms_mean: Some(1198.03),
            latency_ms_p50: Some(1135.0),
            latency_ms_p95: Some(1222.3),
            latency_ms_p99: Some(1450.5),
            latency_le_1500ms_pct: Some(99.01),
            latency_le_2000ms_pct: Some(99.19),
            throughput_rps_mean: Some(43_220.04),
            consumer_lag_records_mean: Some(2_839.1),
            task_managers_mean: Some(24.0),
            task_slots_mean: Some(24.0),
            cpu_load_mean: Some(0.2312),
            core_hours: 431.93,
            memory_gb_hours: 1727.7,
            failures_injected: 2,
            failures_scheduled: Some(23),
            recovery_s: vec![Some(95), None],
            recovery_s_mean: Some(95.5),
            recovery_s_p50: Some(95.0),
            recovery_s_max: Some(123.0),
            recoveries_over_180s: 1,
            recoveries_censored: 1,
            config_changes: None,
            tm_level_changes: 0,
            energy_j: None,
            energy_j_by_class: None,
            wan_energy_j: None,
            wan_bytes: None,
        }
    }

    #[test]
    fn whole_numbers_round_ties_to_even() {
        assert_eq!(int(95.5), "96");
        assert_eq!(int(96.5), "96");
        assert_eq!(int(96.6), "97");
    }

    #[test]
    fn thousands_groups_digits_and_rounds() {
        assert_eq!(thousands(43_219.6), "43,220");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1_000.0), "1,000");
        assert_eq!(thousands(-1_234_567.0), "-1,234,567");
    }

    #[test]
    fn text_table_aligns_columns_and_shows_section_6_cells() {
        let mut b = sample("2_long_run_name");
        b.latency_ms_mean = None;
        b.config_changes = Some(41);
        let t = render_table(&[sample("a"), b]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("run              lat mean ms"), "{t}");
        assert!(lines[2].contains("1,198"), "{t}");
        assert!(lines[2].contains("(0)"), "{t}");
        assert!(lines[2].contains("2/23"), "{t}");
        assert!(lines[2].contains("96/95/123"), "{t}");
        assert!(lines[2].contains("1 (1 censored)"), "{t}");
        assert!(lines[3].contains(" 41 "), "{t}");
        assert!(lines[3].contains("96/95/123"), "ties round to even: {t}");
        // Every data row ends in the same column as the rule line.
        let width = lines[1].chars().count();
        assert!(lines[2..].iter().all(|l| l.chars().count() == width), "{t}");
    }

    #[test]
    fn markdown_has_one_row_per_run_and_right_aligned_numbers() {
        let m = render_markdown(&[sample("a"), sample("b")]);
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("| run | lat mean ms |"), "{m}");
        assert!(lines[0].contains("≤1.5 s %"), "{m}");
        assert!(lines[1].starts_with("|:--|--:|"), "{m}");
        assert!(lines[3].starts_with("| b | 1,198 | 1,135 |"), "{m}");
    }

    #[test]
    fn csv_has_full_precision_and_empty_cells_for_missing_values() {
        let mut s = sample("x,y");
        s.cpu_load_mean = None;
        let c = render_csv(&[s]);
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines[0].split(',').count(), 30);
        assert!(
            lines[0].ends_with(",recovery_s,energy_j,wan_energy_j,wan_bytes"),
            "{c}"
        );
        assert!(
            lines[1].starts_with("\"x,y\",100,64800,64500,1198.03,1135,"),
            "{c}"
        );
        assert!(!lines[1].contains("0.2312"), "{c}");
        assert!(lines[1].ends_with(",1,1,95;censored,,,"), "{c}");
        let mut e = sample("e");
        e.energy_j = Some(61_776.5);
        e.wan_energy_j = Some(120.0);
        e.wan_bytes = Some(7.5e6);
        let c = render_csv(&[e]);
        assert!(c.ends_with(",95;censored,61776.5,120,7500000\n"), "{c}");
    }

    #[test]
    fn energy_is_the_last_column_in_kj_and_a_dash_without_energy() {
        let mut e = sample("e");
        e.energy_j = Some(61_776.5);
        let t = render_table(&[sample("rec"), e.clone()]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].ends_with(">180 s  energy kJ"), "{t}");
        assert!(lines[2].ends_with(" -"), "{t}");
        assert!(lines[3].ends_with(" 62"), "{t}");
        let m = render_markdown(&[e]);
        assert!(m.lines().next().unwrap().ends_with("| energy kJ |"), "{m}");
    }

    #[test]
    fn json_round_trips() {
        let rows = vec![sample("a")];
        let j = render_json(&rows).unwrap();
        let back: Vec<Summary> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, rows);
    }
}
