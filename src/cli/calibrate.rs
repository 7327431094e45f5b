//! `demeter-sim calibrate --model M --run RUN --workload W [--write]`: fit a job model to a
//! recorded run and print the fit; `--write` updates the model file in place.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::calibrate::fit::{self, FitProblem};
use crate::calibrate::RecordedPolicy;
use crate::runfolder::read_run_folder;

/// Arguments of `calibrate`.
#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// The job model to start from (and to update with --write).
    #[arg(long)]
    pub model: PathBuf,
    /// The recorded run folder to fit on.
    #[arg(long)]
    pub run: PathBuf,
    /// The recorded workload (`timestamp|value`) the run was driven by (a live run: default
    /// the offered load reconstructed from its vertices.csv).
    #[arg(long)]
    pub workload: Option<PathBuf>,
    #[command(flatten)]
    pub load: super::recorded_load::RecordedLoadArgs,
    /// Nelder-Mead iterations at most.
    #[arg(long, default_value_t = 150)]
    pub max_iters: u64,
    /// Write the fitted values and a [calibration] record into the model file.
    #[arg(long)]
    pub write: bool,
}

fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

pub fn run(args: &CalibrateArgs) -> anyhow::Result<()> {
    let model = crate::scenario::load_model(&args.model)?;
    let recorded = read_run_folder(&args.run)
        .with_context(|| format!("reading recorded run {}", args.run.display()))?;
    let policy = RecordedPolicy::from_run_name(&recorded.name).with_context(|| {
        format!(
            "{}: unknown run name {:?}",
            args.run.display(),
            recorded.name
        )
    })?;
    let live = (policy == RecordedPolicy::Live)
        .then(|| {
            crate::calibrate::live::read_live_run(
                &args.run,
                recorded.start_epoch,
                recorded.window_s,
            )
        })
        .transpose()?;
    let workload_path = match (&args.workload, &live) {
        (Some(w), _) => w.clone(),
        (None, Some(_)) => args.run.join("vertices.csv"),
        (None, None) => bail!(
            "{}: pass --workload (the recorded workload the run was driven by)",
            args.run.display()
        ),
    };
    let rates = args.load.rates(
        live.as_ref(),
        args.workload.is_some(),
        &workload_path,
        recorded.window_s,
    )?;
    let problem = FitProblem {
        run: recorded,
        policy,
        base: model,
        workload_rps: rates,
        seed: args.load.seed,
        live,
    };
    eprintln!(
        "fitting {} parameters on {} (each evaluation replays the whole run)...",
        fit::params_for(policy).len(),
        args.run.display()
    );
    let (result, fitted_spec) =
        fit::fit(problem, args.max_iters).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("| parameter | initial | fitted | bounds |\n|:--|--:|--:|:--|");
    let params = fit::params_for(policy);
    for (p, (a, b)) in params.iter().zip(result.initial.iter().zip(&result.fitted)) {
        println!(
            "| {} | {} | {} | [{}, {}] |",
            p.key,
            round_sig(*a, 4),
            round_sig(*b, 4),
            p.lower,
            p.upper
        );
    }
    println!(
        "\nloss {:.3} -> {:.3} after {} evaluations\n",
        result.loss_initial, result.loss_fitted, result.evaluations
    );
    let show = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into());
    println!("| error | before | after |\n|:--|--:|--:|");
    for (k, a, b) in [
        (
            "throughput MAPE %",
            result.before.throughput_mape_pct,
            result.after.throughput_mape_pct,
        ),
        (
            "<=1.5 s diff (points)",
            result.before.latency_share_diff_pts,
            result.after.latency_share_diff_pts,
        ),
        (
            "mean recovery error %",
            result.before.recovery_mean_error_pct,
            result.after.recovery_mean_error_pct,
        ),
        (
            "mean lag error %",
            result.before.lag_mean_error_pct,
            result.after.lag_mean_error_pct,
        ),
        (
            "median latency error %",
            result.before.latency_p50_error_pct,
            result.after.latency_p50_error_pct,
        ),
        (
            "rescale/recovery RMS error s",
            result.before.resume_rms_error_s,
            result.after.resume_rms_error_s,
        ),
    ] {
        println!("| {k} | {} | {} |", show(a), show(b));
    }
    if args.write {
        write_model(
            &args.model,
            &fitted_spec,
            &result,
            &args.run,
            &workload_path,
            args.load.seed,
        )?;
        println!("\nwrote {}", args.model.display());
    }
    Ok(())
}

/// Updates the fitted values in place, keeping the file's comments, and records the fit.
fn write_model(
    path: &Path,
    spec: &crate::flink::JobModelSpec,
    result: &fit::FitResult,
    run: &Path,
    workload: &Path,
    seed: u64,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{}: not valid TOML", path.display()))?;
    let set = |item: &mut toml_edit::Item, v: f64| {
        if let Some(value) = item.as_value_mut() {
            let decor = value.decor().clone();
            *value = toml_edit::Value::from(round_sig(v, 5));
            *value.decor_mut() = decor;
        }
    };
    if let Some(ops) = doc["operators"].as_array_of_tables_mut() {
        for (table, op) in ops.iter_mut().zip(&spec.operators) {
            set(&mut table["cost_us"], op.cost_us);
        }
    }
    for (section, key, v) in [
        ("latency", "floor_ms", spec.latency.floor_ms),
        ("latency", "jitter_ms", spec.latency.jitter_ms),
        ("kafka", "fetch_lag_s", spec.kafka.fetch_lag_s),
        ("restart", "deploy_min_s", spec.restart.deploy_min_s),
        ("restart", "deploy_max_s", spec.restart.deploy_max_s),
        (
            "checkpoint",
            "duration_base_ms",
            spec.checkpoint.duration_base_ms,
        ),
        ("cpu_load", "idle", spec.cpu_load.idle),
        (
            "cpu_load",
            "per_busy_subtask",
            spec.cpu_load.per_busy_subtask,
        ),
    ] {
        set(&mut doc[section][key], v);
    }
    let mut cal = toml_edit::Table::new();
    cal.decor_mut().set_prefix(
        "\n# Written by `demeter-sim calibrate --write`: the run this model was fitted on.\n",
    );
    cal["run"] = toml_edit::value(run.display().to_string());
    cal["workload"] = toml_edit::value(workload.display().to_string());
    cal["seed"] = toml_edit::value(seed as i64);
    cal["loss_before"] = toml_edit::value(round_sig(result.loss_initial, 5));
    cal["loss_after"] = toml_edit::value(round_sig(result.loss_fitted, 5));
    cal["evaluations"] = toml_edit::value(result.evaluations as i64);
    cal["tool_version"] = toml_edit::value(env!("CARGO_PKG_VERSION"));
    doc["calibration"] = toml_edit::Item::Table(cal);
    let out = doc.to_string();
    // The result must still be a valid model.
    let check: crate::flink::JobModelSpec = toml::from_str(&out)
        .with_context(|| format!("{}: the updated model does not parse", path.display()))?;
    crate::flink::JobModel::from_spec(check, &path.display().to_string())?;
    std::fs::write(path, out)?;
    Ok(())
}
