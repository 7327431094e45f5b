//! The command line: clap definitions, the only place that prints and picks exit codes.
//!
//! Exit codes: 0 success, 1 a requested check failed, 2 bad input or any other error.

pub mod calibrate;
pub mod check;
pub mod compare;
pub mod fit_workload;
pub mod forecast_eval;
pub mod live;
pub mod merge;
pub mod place;
mod recorded_load;
pub mod run;
pub mod summarize;
pub mod sweep;
pub mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// demeter-sim: a deterministic digital twin of Apache Flink jobs under autoscaling policies.
#[derive(Parser, Debug)]
#[command(name = "demeter-sim", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand: run this scenario (same as `demeter-sim run SCENARIO`).
    #[command(flatten)]
    pub run: run::RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Simulate a scenario and write a run folder.
    Run(run::RunArgs),
    /// Validate a scenario (and the files it names) without running it.
    Check(check::CheckArgs),
    /// Print the summary table of simulated or recorded run folders.
    Summarize(summarize::SummarizeArgs),
    /// Fit a compact workload model to a recorded `timestamp|value` trace.
    FitWorkload(fit_workload::FitWorkloadArgs),
    /// Replay a recorded run in the twin and report how far the twin is from it.
    Validate(validate::ValidateArgs),
    /// Fit a job model's parameters to a recorded run.
    Calibrate(calibrate::CalibrateArgs),
    /// Run several policies on one scenario and seeds; print and write the comparison table.
    Compare(compare::CompareArgs),
    /// Run a parameter sweep (axes x seeds) in parallel into one results CSV.
    Sweep(sweep::SweepArgs),
    /// Join the shard results of a sweep into the whole results CSV.
    Merge(merge::MergeArgs),
    /// Choose operator placements on edge + cloud sites and compare them in the twin.
    Place(place::PlaceArgs),
    /// Drive a real Flink job with a policy through the REST API (wall clock).
    Live(Box<live::LiveArgs>),
    /// Back-test Demeter's workload forecaster against baselines on a recorded trace.
    ForecastEval(forecast_eval::ForecastEvalArgs),
}

/// An error that maps to exit code 1: the command ran, but a check it was asked for failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckFailed(pub String);

/// Parses the arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Summarize(args)) => summarize::run(args),
        Some(Command::FitWorkload(args)) => fit_workload::run(args),
        Some(Command::Validate(args)) => validate::run(args),
        Some(Command::Calibrate(args)) => calibrate::run(args),
        Some(Command::Compare(args)) => compare::run(args),
        Some(Command::Sweep(args)) => sweep::run(args),
        Some(Command::Merge(args)) => merge::run(args),
        Some(Command::Place(args)) => place::run(args),
        Some(Command::Live(args)) => live::run(args),
        Some(Command::ForecastEval(args)) => forecast_eval::run(args),
        None if cli.run.scenario.is_some() => run::run(&cli.run),
        None => {
            eprintln!("error: no scenario given\n\nUsage: demeter-sim [run] SCENARIO [OPTIONS]\n       demeter-sim --help");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<CheckFailed>().is_some() => {
            eprintln!("check failed: {}", error_text(&e));
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the message before
/// it already ends with (our error types name their I/O cause in their own message).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_text;

    #[derive(Debug, thiserror::Error)]
    #[error("data.csv: {source}")]
    struct NamesItsCause {
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(NamesItsCause { source: io }).context("reading run r1");
        assert_eq!(error_text(&e), "reading run r1: data.csv: no such file");
    }

    #[test]
    fn a_cause_not_in_the_message_is_kept() {
        let e = anyhow::anyhow!("bad value").context("scenario.toml: key job.model");
        assert_eq!(error_text(&e), "scenario.toml: key job.model: bad value");
    }
}
