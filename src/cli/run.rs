//! `demeter-sim [run] SCENARIO`: simulate, write the run folder, print the summary.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::scenario::{self, parse_duration, Scenario};
use crate::simulate::{self, Overrides, RunResult};
use crate::time::SimTime;
use crate::workload::WorkloadSpec;

/// Arguments of `run` (also accepted with no subcommand).
#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: Option<PathBuf>,
    /// Run this policy instead of the scenario's (its parameters are then the defaults).
    #[arg(long)]
    pub policy: Option<String>,
    /// Master seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run folder to write (default: the scenario's [output] dir, else runs/<name>-<policy>-seed<seed>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the run folder if it exists (only if it holds an earlier run: a manifest.json).
    #[arg(long)]
    pub force: bool,
    /// Simulated duration, e.g. 3600, 90m, 18h (default: the scenario's).
    #[arg(long)]
    pub duration: Option<String>,
    /// Replay this raw `timestamp|value` trace as the workload (keeps the scenario's scale and noise).
    #[arg(long)]
    pub workload_trace: Option<PathBuf>,
    /// Skip the PNG plots.
    #[arg(long)]
    pub no_plots: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Check a summary field after the run, e.g. 'latency_le_1500ms_pct>=90' (repeatable);
    /// exit 1 if one fails (the run folder is written either way).
    #[arg(long, value_name = "FIELD<=VALUE")]
    pub expect: Vec<crate::report::expect::Expectation>,
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let Some(path) = &args.scenario else {
        bail!("no scenario given: demeter-sim run SCENARIO");
    };
    // An unknown field in --expect is a usage error: say so before simulating anything.
    let blank = crate::report::summarize(&crate::runfolder::RunData::default());
    crate::report::expect::check(&blank, &args.expect).map_err(anyhow::Error::msg)?;
    let scenario = scenario::load(path)?;
    let overrides = overrides(args, &scenario)?;
    let prepared = simulate::prepare(&scenario, &overrides)?;
    let out = output_dir(args, &scenario, &prepared.policy_name, prepared.seed);
    claim_output_dir(&out, args.force)?;

    let bar = progress_bar(args.quiet, prepared.setup.horizon);
    let result = simulate::execute(prepared, |now, _| {
        if let Some(b) = &bar {
            b.set_position(now.as_secs());
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let written = write_run_folder(&out, &scenario, &result, scenario.plots && !args.no_plots)?;
    let mut summary = result.summary();
    summary.run = out.display().to_string();
    if !args.quiet {
        println!(
            "{} | policy {} | seed {} | {}",
            scenario.name,
            result.policy_name,
            result.seed,
            out.display()
        );
        println!(
            "{}",
            crate::report::render_table(std::slice::from_ref(&summary))
        );
        let e = result.twin.energy();
        println!(
            "energy {:.0} J (nodes {}; WAN {:.0} J, {:.0} B)",
            e.energy_j,
            e.node_energy_j
                .iter()
                .map(|(c, j)| format!("{c} {j:.0} J"))
                .collect::<Vec<_>>()
                .join(", "),
            e.wan_energy_j,
            e.wan_bytes
        );
        println!(
            "restarts {}, reconfigurations {}, failures skipped {}, {} files written",
            result.twin.restarts(),
            result.twin.reconfigurations(),
            result.twin.failures_skipped(),
            written
        );
    }
    let failed =
        crate::report::expect::check(&summary, &args.expect).map_err(anyhow::Error::msg)?;
    if !failed.is_empty() {
        return Err(super::CheckFailed(failed.join("; ")).into());
    }
    Ok(())
}

fn overrides(args: &RunArgs, scenario: &Scenario) -> anyhow::Result<Overrides> {
    let duration = args
        .duration
        .as_deref()
        .map(|d| parse_duration(d).map_err(|e| anyhow::anyhow!("--duration: expected {e}")))
        .transpose()?;
    if duration.is_some_and(|d| d.is_zero()) {
        bail!("--duration: expected a duration > 0");
    }
    // A path on the command line is relative to the working directory, not the scenario.
    let workload = match &args.workload_trace {
        Some(p) => {
            let abs = std::path::absolute(p)
                .with_context(|| format!("--workload-trace: cannot resolve {}", p.display()))?;
            let (scale, noise) = scenario.workload.scale_and_noise();
            Some(WorkloadSpec::trace(abs, scale, noise))
        }
        None => None,
    };
    Ok(Overrides {
        policy: args.policy.clone(),
        seed: args.seed,
        duration,
        workload,
    })
}

fn output_dir(args: &RunArgs, scenario: &Scenario, policy: &str, seed: u64) -> PathBuf {
    if let Some(o) = &args.out {
        return o.clone();
    }
    if let Some(o) = &scenario.output_dir {
        return o.clone();
    }
    PathBuf::from("runs").join(format!("{}-{}-seed{}", scenario.name, policy, seed))
}

/// Makes sure writing into `dir` loses nothing the user did not ask to replace.
pub fn claim_output_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read output folder {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            if !force {
                bail!(
                    "output folder {} already exists; pass --force to replace it, or --out DIR",
                    dir.display()
                );
            }
            if !dir.join("manifest.json").exists() {
                bail!(
                    "output folder {} is not an earlier run folder (no manifest.json); refusing to replace it",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot replace {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(())
}

/// Writes the recorded-format files, the manifest, events, summary and plots; returns the count.
pub fn write_run_folder(
    dir: &Path,
    scenario: &Scenario,
    result: &RunResult,
    plots: bool,
) -> anyhow::Result<usize> {
    let data = result.run_data();
    crate::runfolder::write_run_folder(dir, &data)
        .with_context(|| format!("writing run folder {}", dir.display()))?;
    let extras = simulate::write_extras(dir, scenario, result)
        .with_context(|| format!("writing run folder {}", dir.display()))?;
    let summary = result.summary();
    let summary_path = dir.join("summary.json");
    std::fs::write(
        &summary_path,
        serde_json::to_string_pretty(&summary)? + "\n",
    )
    .with_context(|| format!("writing {}", summary_path.display()))?;
    let mut count = 6 + 2 + extras.len() + 1;
    if plots {
        let pngs = crate::plot::plot_run(&data, Some(result.workload_series()), dir)
            .with_context(|| format!("plotting into {}", dir.display()))?;
        count += pngs.len();
    }
    Ok(count)
}

fn progress_bar(quiet: bool, horizon: SimTime) -> Option<indicatif::ProgressBar> {
    if quiet {
        return None;
    }
    let bar = indicatif::ProgressBar::new(horizon.as_secs());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} simulated {pos}/{len} s [{bar:30}] {eta}",
        )
        .expect("static template"),
    );
    // The bar only shows after a while, so short runs print nothing extra.
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    Some(bar)
}
