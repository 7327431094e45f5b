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
}

/// Load, scale, evaluate and print the table.
pub fn run(args: &ForecastEvalArgs) -> anyhow::Result<()> {
    if !(args.scale.is_finite() && args.scale > 0.0) {
        bail!("--scale must be a positive number, got {}", args.scale);
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
