//! `demeter-sim fit-workload TRACE --out FILE`: fit a compact workload model to a recorded
//! `timestamp|value` trace, print its accuracy, and write the model TOML.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::workload::{fit_trace, FitOptions};

/// Arguments of `fit-workload`.
#[derive(clap::Args, Debug)]
pub struct FitWorkloadArgs {
    /// The recorded trace (`timestamp|value`, one row per second).
    pub trace: PathBuf,
    /// Where to write the model TOML.
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite `--out` if it exists.
    #[arg(long)]
    pub force: bool,
    /// Period of the model in seconds [default: the trace's length]. The TSW (CARS) trace
    /// repeats every 21600 s.
    #[arg(long)]
    pub period_s: Option<u64>,
    /// Width of a knot bin in seconds; must divide the period.
    #[arg(long, default_value_t = 1800)]
    pub knot_step_s: u64,
    /// Grid step of the AR(1) residual in seconds.
    #[arg(long, default_value_t = 60)]
    pub ar_step_s: u64,
}

/// Fit, print the fit errors, write the model file (refusing to overwrite without `--force`).
pub fn run(args: &FitWorkloadArgs) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        bail!(
            "\"{}\" already exists; pass --force to overwrite it",
            args.out.display()
        );
    }
    let opts = FitOptions {
        period_s: args.period_s,
        knot_step_s: args.knot_step_s,
        ar_step_s: args.ar_step_s,
    };
    let model = fit_trace(&args.trace, &opts)?;
    let f = &model.fit;
    println!(
        "fitted {} ({} rows, {} s): {} knots every {} s over a {} s period, AR(1) every {} s",
        model.provenance.source_file,
        model.provenance.source_rows,
        model.provenance.source_seconds,
        model.shape.knots_rps.len(),
        model.shape.knot_step_s,
        model.shape.period_s,
        model.residual.step_s
    );
    println!(
        "  mean:            trace {:.1} rps, model {:.1} rps ({:+.3} %)",
        f.trace_mean_rps, f.model_mean_rps, f.mean_error_pct
    );
    println!(
        "  peak 60-s mean:  trace {:.1} rps, model {:.1} rps ({:+.3} %)",
        f.trace_peak_60s_rps, f.model_peak_60s_rps, f.peak_60s_error_pct
    );
    println!("  MAPE of 60-s means: {:.3} %", f.mape_60s_pct);
    println!(
        "  hourly means ({} h): max |error| {:.3} %, mean |error| {:.3} %",
        f.hours_compared, f.hourly_mean_max_abs_error_pct, f.hourly_mean_mean_abs_error_pct
    );
    println!(
        "  residual: phi {:.4}, sigma {:.1} rps; s.d. trace {:.1} / simulated {:.1} rps; \
         per-second change s.d. trace {:.2} / simulated {:.2} rps",
        model.residual.phi,
        model.residual.sigma_rps,
        f.trace_residual_std_rps,
        f.simulated_residual_std_rps,
        f.trace_per_second_change_std_rps,
        f.simulated_per_second_change_std_rps
    );

    let text = model.to_toml_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if args.force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(&args.out) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "\"{}\" already exists; pass --force to overwrite it",
            args.out.display()
        ),
        other => other.with_context(|| format!("cannot create \"{}\"", args.out.display()))?,
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write \"{}\"", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.csv");
        let mut text = String::from("timestamp|value\n");
        for t in 0..3600 {
            text.push_str(&format!("{}|{}\n", t, 100 + t % 50));
        }
        std::fs::write(&trace, text).unwrap();
        let out = dir.path().join("m.toml");
        let mut args = FitWorkloadArgs {
            trace,
            out: out.clone(),
            force: false,
            period_s: None,
            knot_step_s: 600,
            ar_step_s: 60,
        };
        run(&args).unwrap();
        let first = std::fs::read_to_string(&out).unwrap();
        let e = run(&args).unwrap_err().to_string();
        assert!(e.contains("already exists; pass --force"), "{e}");
        args.force = true;
        run(&args).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), first);
    }
}
