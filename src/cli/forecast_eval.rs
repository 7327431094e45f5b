//! `demeter-sim forecast-eval TRACE`: back-test Demeter's workload forecaster and the
//! baselines (seasonal naive, last value) on a recorded `timestamp|value` trace.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::demeter_forecast::{evaluate_with, EvalSpec};
use crate::workload::load_trace;

/// Arguments of `forecast-eval`.
#[derive(clap::Args, Debug)]
pub struct ForecastEvalArgs {
    /// The recorded trace (`timestamp|value`, one row per second).
    pub trace: PathBuf,
    /// Multiply the trace by this factor (the Demeter experiments replay 3 x the dataset).
    #[arg(long, default_value_t = 3.0)]
    pub scale: f64,
    /// Forecast horizon in seconds (split into 10 bins).
    #[arg(long, default_value_t = 600)]
    pub horizon_s: usize,
    /// Seconds between decision points.
    #[arg(long, default_value_t = 600)]
    pub every_s: usize,
    /// Seconds of the trace used for pre-training before the first decision point.
    #[arg(long, default_value_t = 3600)]
    pub warmup_s: usize,
    /// The workload's season in seconds (21600 for the CARS/TSW trace). Without it
    /// seasonal-naive repeats the last HORIZON_S seconds and the model has no seasonal term.
    #[arg(long)]
    pub season_s: Option<usize>,
    /// Pre-train as Demeter's analytics service does (`prepare_model.py`, research/demeter.md
    /// §4.1): the scaled trace without its last PRETRAIN_TRIM_S seconds, tiled to PRETRAIN_S
    /// seconds with 1 % Gaussian noise (seed 42), before the trace is replayed from its start.
    #[arg(long)]
    pub pretrain: bool,
    /// Let the model find a season of 1-12 h itself (see `ForecastParams::auto_season_s`).
    #[arg(long)]
    pub auto_season: bool,
    /// The seasonal-naive baseline's season, if it differs from --season-s (e.g. 21600 for
    /// CARS/TSW while the model finds its own with --auto-season).
    #[arg(long)]
    pub naive_season_s: Option<usize>,
    /// Length of the tiled pre-training series (ADS/YSB: 126400; CARS/TSW: 129600).
    #[arg(long, default_value_t = 126_400)]
    pub pretrain_s: usize,
    /// Seconds dropped from the end of the trace before tiling (ADS/YSB: 1600; CARS/TSW: 0).
    #[arg(long, default_value_t = 1_600)]
    pub pretrain_trim_s: usize,
}

/// Load, scale, evaluate and print the table.
pub fn run(args: &ForecastEvalArgs) -> anyhow::Result<()> {
    if !(args.scale.is_finite() && args.scale > 0.0) {
        bail!("--scale must be a positive number, got {}", args.scale);
    }
    if args.pretrain && !(1..=1_000_000).contains(&args.pretrain_s) {
        bail!(
            "--pretrain-s must be between 1 and 1000000 seconds, got {}",
            args.pretrain_s
        );
    }
    if args.horizon_s == 0 || args.every_s == 0 {
        bail!("--horizon-s and --every-s must be positive");
    }
    let trace = load_trace(&args.trace)
        .with_context(|| format!("reading the trace \"{}\"", args.trace.display()))?;
    let rates: Vec<f64> = trace.rates_rps.iter().map(|v| v * args.scale).collect();
    if rates.len() < args.warmup_s + args.horizon_s {
        bail!(
            "the trace has {} s, fewer than --warmup-s {} + --horizon-s {}",
            rates.len(),
            args.warmup_s,
            args.horizon_s
        );
    }
    let mut spec = EvalSpec::new(args.warmup_s, args.every_s, args.horizon_s);
    spec.season_s = args.season_s;
    spec.naive_season_s = args.naive_season_s;
    if args.auto_season {
        spec.params.auto_season_s = Some((3_600, 43_200));
    }
    if args.pretrain {
        spec.pretrain_rps = crate::demeter::policy::pretraining_series(
            &rates,
            args.pretrain_trim_s,
            args.pretrain_s,
            0.01,
            42,
        );
    }
    let report = evaluate_with(&rates, &spec);
    println!(
        "{} ({} s, x{}):",
        args.trace.display(),
        rates.len(),
        args.scale
    );
    print!("{report}");
    Ok(())
}
