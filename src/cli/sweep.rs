//! `demeter-sim sweep SWEEP.toml`: run a parameter sweep (axes x seeds) in parallel into one CSV.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;

use super::run::{claim_output_dir, write_run_folder};
use crate::sweep::{self, RunRow, RunSpec, Sweep};

/// Arguments of `sweep`.
#[derive(clap::Args, Debug)]
pub struct SweepArgs {
    /// The sweep file (TOML): a base scenario, [[axis]] tables and seeds.
    pub sweep: PathBuf,
    /// Output folder (default: sweeps/<sweep name>); results in results.csv, or
    /// results.shard-I-of-N.csv with --shard.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only the runs with index % N == I and write partial results (join them with `merge`).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Also write each run's folder, as `run` would (without plots), to OUT/runs/<index>.
    #[arg(long)]
    pub keep_runs: bool,
    /// Replace earlier results of this command.
    #[arg(long)]
    pub force: bool,
    /// List the runs (index, run key) and exit without running them.
    #[arg(long)]
    pub list: bool,
    /// No progress bar, no summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `manifest.json` of a sweep folder.
#[derive(Serialize)]
struct SweepManifest<'a> {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
    sweep: String,
    sweep_sha256: &'a str,
    name: &'a str,
    scenario: String,
    runs: u64,
    axes: Vec<AxisManifest<'a>>,
    seeds: String,
}

#[derive(Serialize)]
struct AxisManifest<'a> {
    key: &'a str,
    values: &'a [String],
}

pub fn run(args: &SweepArgs) -> anyhow::Result<()> {
    let sweep = Sweep::load(&args.sweep)?;
    let shard = args
        .shard
        .as_deref()
        .map(|s| sweep::parse_shard(s).map_err(|e| anyhow!("--shard: {e}")))
        .transpose()?;
    let pool = sweep::thread_pool(args.jobs).map_err(|e| anyhow!(e))?;
    let all = sweep.expand()?;
    let runs: Vec<RunSpec> = match shard {
        Some((i, n)) => all.into_iter().filter(|r| r.index % n == i).collect(),
        None => all,
    };
    if args.list {
        print!("{}", list_text(&sweep, &runs));
        return Ok(());
    }

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("sweeps").join(&sweep.name));
    let results_path = match shard {
        None => {
            claim_output_dir(&out, args.force)?;
            write_manifest(&out, &sweep)?;
            out.join("results.csv")
        }
        Some((i, n)) => {
            // Shards may share a folder: claim only this shard's file.
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let p = out.join(format!("results.shard-{i}-of-{n}.csv"));
            claim_results_file(&p, args.force)?;
            p
        }
    };
    let runs_dir = out.join("runs");
    let width = sweep.total_runs().saturating_sub(1).to_string().len();

    let bar = progress_bar(args.quiet, runs.len() as u64);
    let rows: Vec<RunRow> = sweep::run_parallel(&pool, &runs, |spec| {
        let result = sweep::execute_run(spec)
            .map_err(|e| anyhow!("{}: run {}: {e}", sweep.path.display(), spec.index))?;
        if args.keep_runs {
            let dir = runs_dir.join(format!("{:0width$}", spec.index));
            claim_output_dir(&dir, args.force)?;
            write_run_folder(&dir, &spec.scenario, &result, false)?;
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
        Ok::<_, anyhow::Error>(RunRow::new(spec.index, key_cells(spec), &result))
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut header = sweep.header();
    header.shard = shard;
    let text = sweep::write_results(&header, &rows);
    std::fs::write(&results_path, text)
        .with_context(|| format!("cannot write {}", results_path.display()))?;
    if !args.quiet {
        let what = match shard {
            Some((i, n)) => format!(
                "shard {i}/{n}: {} of {} runs",
                rows.len(),
                sweep.total_runs()
            ),
            None => format!("{} runs", rows.len()),
        };
        println!("sweep {} | {what} | {}", sweep.name, results_path.display());
    }
    Ok(())
}

/// The run-key cells after `run`: the axis labels, then the seed.
pub fn key_cells(spec: &RunSpec) -> Vec<String> {
    let mut k = spec.labels.clone();
    k.push(spec.seed.to_string());
    k
}

fn list_text(sweep: &Sweep, runs: &[RunSpec]) -> String {
    let mut out = sweep.key_columns().join("\t");
    out.push('\n');
    for r in runs {
        let mut cells = vec![r.index.to_string()];
        cells.extend(key_cells(r));
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    out
}

fn write_manifest(dir: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    let seeds = match &sweep.seeds {
        sweep::Seeds::Count(n) => format!("scenario.seed + 0..{n}"),
        sweep::Seeds::List(l) => format!("{l:?}"),
    };
    let m = SweepManifest {
        tool: "demeter-sim",
        version: env!("CARGO_PKG_VERSION"),
        command: "sweep",
        sweep: sweep.path.display().to_string(),
        sweep_sha256: &sweep.hash,
        name: &sweep.name,
        scenario: sweep.scenario_path.display().to_string(),
        runs: sweep.total_runs(),
        axes: sweep
            .axes
            .iter()
            .map(|a| AxisManifest {
                key: &a.key,
                values: &a.labels,
            })
            .collect(),
        seeds,
    };
    let p = dir.join("manifest.json");
    std::fs::write(&p, serde_json::to_string_pretty(&m)? + "\n")
        .with_context(|| format!("cannot write {}", p.display()))
}

/// A results file may be replaced only with `--force`, and only if it is one.
pub fn claim_results_file(path: &Path, force: bool) -> anyhow::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    if !force {
        bail!(
            "{} already exists; pass --force to replace it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if sweep::parse_part(&path.display().to_string(), &text).is_err() {
        bail!(
            "{} is not a sweep results file; refusing to replace it",
            path.display()
        );
    }
    Ok(())
}

pub(crate) fn progress_bar(quiet: bool, len: u64) -> Option<indicatif::ProgressBar> {
    if quiet {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} runs [{bar:30}] {eta}")
            .expect("static template"),
    );
    // stderr only, and hidden when stderr is not a terminal.
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    Some(bar)
}
