//! `demeter-sim summarize DIR...`: reads run folders and prints the section-6 summary table.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::report::{self, Format};
use crate::runfolder::read_run_folder;

/// Output format of `summarize`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned text for a terminal.
    Table,
    /// A Markdown table.
    Markdown,
    /// CSV, one column per summary field.
    Csv,
    /// A JSON array of summaries.
    Json,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Self {
        match f {
            OutputFormat::Table => Format::Table,
            OutputFormat::Markdown => Format::Markdown,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
        }
    }
}

/// Summarize run folders (simulated or recorded) with the definitions of the Demeter trace
/// summary: one row per folder.
#[derive(clap::Args, Debug)]
pub struct SummarizeArgs {
    /// Run folders, each with data/<name>-<metric>-data.csv files.
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
    /// Check a summary field of every folder, e.g. 'recovery_s_mean<=150' (repeatable);
    /// exit 1 if one fails.
    #[arg(long, value_name = "FIELD<=VALUE")]
    pub expect: Vec<crate::report::expect::Expectation>,
}

/// The label of a folder in the table: its last path component (the whole path if it has none).
fn folder_label(dir: &std::path::Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// Reads and summarizes every folder, in the order given, and renders the table.
pub fn summaries_text(args: &SummarizeArgs) -> anyhow::Result<String> {
    Ok(summaries(args)?.0)
}

fn summaries(args: &SummarizeArgs) -> anyhow::Result<(String, Vec<report::Summary>)> {
    let mut rows = Vec::with_capacity(args.dirs.len());
    for dir in &args.dirs {
        let run = read_run_folder(dir).with_context(|| {
            format!(
                "cannot summarize run folder {}: fix or remove it and run again",
                dir.display()
            )
        })?;
        let mut summary = report::summarize(&run);
        if let Some(e) = report::energy::read(dir) {
            report::energy::attach(&mut summary, &e);
        }
        summary.run = folder_label(dir);
        rows.push(summary);
    }
    let text =
        report::render(&rows, args.format.into()).context("cannot render the summary as JSON")?;
    Ok((text, rows))
}

/// Runs `summarize`: prints the table on stdout, then checks the expectations.
pub fn run(args: &SummarizeArgs) -> anyhow::Result<()> {
    let (text, rows) = summaries(args)?;
    print!("{text}");
    let mut failed = Vec::new();
    for row in &rows {
        let f = report::expect::check(row, &args.expect).map_err(anyhow::Error::msg)?;
        failed.extend(f.into_iter().map(|m| format!("{}: {m}", row.run)));
    }
    if !failed.is_empty() {
        return Err(super::CheckFailed(failed.join("; ")).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runfolder::{write_run_folder, RunData, Series};
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: SummarizeArgs,
    }

    fn run_folder(dir: &std::path::Path, tms: f64) {
        let s = |v: f64| Series {
            points: (0..3600).map(|t| (t, v)).collect(),
        };
        let run = RunData {
            name: "sim".into(),
            start_epoch: 0,
            window_s: 3600,
            latency_ms: s(1000.0),
            throughput_rps: s(10.0),
            consumer_lag: s(5.0),
            cpu_load: s(0.5),
            task_managers: s(tms),
            task_slots: s(tms),
            ..RunData::default()
        };
        write_run_folder(dir, &run).unwrap();
    }

    #[test]
    fn one_row_per_folder_labelled_by_folder_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("run_a"), tmp.path().join("run_b"));
        run_folder(&a, 2.0);
        run_folder(&b, 6.0);
        let cli = Cli::try_parse_from([
            "x",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "csv",
        ])
        .unwrap();
        let text = summaries_text(&cli.args).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        // 2 TMs x 1 core (no configuration timeline) x 1 h = 2 core-h, 8 GB-h.
        assert!(lines[1].starts_with("run_a,0,3600,3600,1000,"), "{text}");
        assert!(lines[1].contains(",0.5,2,8,,0,0,,"), "{text}");
        assert!(lines[2].contains(",0.5,6,24,,0,0,,"), "{text}");
    }

    #[test]
    fn default_format_is_the_text_table_and_dirs_are_required() {
        let cli = Cli::try_parse_from(["x", "d"]).unwrap();
        assert_eq!(cli.args.format, OutputFormat::Table);
        assert!(Cli::try_parse_from(["x"]).is_err());
        assert!(Cli::try_parse_from(["x", "d", "--format", "xml"]).is_err());
    }

    #[test]
    fn a_broken_folder_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let good = tmp.path().join("good");
        run_folder(&good, 2.0);
        let bad = tmp.path().join("bad");
        let cli =
            Cli::try_parse_from(["x", good.to_str().unwrap(), bad.to_str().unwrap()]).unwrap();
        let e = summaries_text(&cli.args).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.starts_with(&format!("cannot summarize run folder {}", bad.display())),
            "{msg}"
        );
        assert!(msg.contains("bad/data"), "{msg}");
    }
}
