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
    let record = FitRecord {
        run,
        workload,
        seed,
        loss_before: result.loss_initial,
        loss_after: result.loss_fitted,
        evaluations: result.evaluations,
    };
    let out = updated_model_text(&text, spec, &record)
        .with_context(|| format!("{}: cannot update the model", path.display()))?;
    // The result must still be a valid model.
    let check: crate::flink::JobModelSpec = toml::from_str(&out)
        .with_context(|| format!("{}: the updated model does not parse", path.display()))?;
    crate::flink::JobModel::from_spec(check, &path.display().to_string())?;
    std::fs::write(path, out)?;
    Ok(())
}

/// What `[calibration]` records about a fit.
struct FitRecord<'a> {
    run: &'a Path,
    workload: &'a Path,
    seed: u64,
    loss_before: f64,
    loss_after: f64,
    evaluations: u64,
}

const CALIBRATION_HEADER: &str =
    "# Written by `demeter-sim calibrate --write`: the run this model was fitted on.\n";

/// The model file's text with the fitted values of `spec` and a `[calibration]` table for
/// `record`; every comment stays where it was (a comment above an existing `[calibration]`
/// belongs to the key before it and is kept).
fn updated_model_text(
    text: &str,
    spec: &crate::flink::JobModelSpec,
    record: &FitRecord,
) -> anyhow::Result<String> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("not valid TOML")?;
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
    // The source's lead is optional in a model: written where it is, added where it is not.
    if let Some(v) = spec.restart.source_lead_s {
        let item = &mut doc["restart"]["source_lead_s"];
        if item.is_none() {
            *item = toml_edit::value(round_sig(v, 5));
        } else {
            set(item, v);
        }
    }
    // toml_edit keeps the comment lines above a table header as that table's prefix: reuse an
    // existing record's prefix (it holds the previous key's trailing comments and the header
    // line), else write the header line.
    let prefix = doc
        .get("calibration")
        .and_then(|item| item.as_table())
        .and_then(|t| t.decor().prefix())
        .and_then(|p| p.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("\n{CALIBRATION_HEADER}"));
    let mut cal = toml_edit::Table::new();
    cal.decor_mut().set_prefix(prefix);
    cal["run"] = toml_edit::value(record.run.display().to_string());
    cal["workload"] = toml_edit::value(record.workload.display().to_string());
    cal["seed"] = toml_edit::value(record.seed as i64);
    cal["loss_before"] = toml_edit::value(round_sig(record.loss_before, 5));
    cal["loss_after"] = toml_edit::value(round_sig(record.loss_after, 5));
    cal["evaluations"] = toml_edit::value(record.evaluations as i64);
    cal["tool_version"] = toml_edit::value(env!("CARGO_PKG_VERSION"));
    doc["calibration"] = toml_edit::Item::Table(cal);
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(text: &str) -> crate::flink::JobModelSpec {
        toml::from_str(text).unwrap()
    }

    fn model_text(name: &str) -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("models")
                .join(name),
        )
        .unwrap()
    }

    fn some_record() -> FitRecord<'static> {
        FitRecord {
            run: Path::new("r"),
            workload: Path::new("w"),
            seed: 1,
            loss_before: 2.0,
            loss_after: 1.0,
            evaluations: 3,
        }
    }

    #[test]
    fn writing_a_fit_keeps_every_comment_and_replaces_the_record() {
        let text = model_text("ysb.toml");
        // A comment line continuing the last fitted key, right above the record.
        let text = text.replace(
            "\n\n# Written by",
            "\n                                  # a continuation of the key above\n\n# Written by",
        );
        assert!(text.contains("# a continuation of the key above"));
        let mut spec = spec_of(&text);
        spec.cpu_load.idle = 0.05;
        let record = FitRecord {
            run: Path::new("runs/x"),
            workload: Path::new("w.csv"),
            seed: 7,
            loss_before: 1.23456789,
            loss_after: 0.5,
            evaluations: 9,
        };
        let once = updated_model_text(&text, &spec, &record).unwrap();
        let twice = updated_model_text(&once, &spec, &record).unwrap();
        assert_eq!(once, twice, "writing the same fit again changes nothing");
        let comments = |t: &str| {
            t.lines()
                .filter_map(|l| l.find('#').map(|i| l[i..].to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(comments(&once), comments(&text));
        assert_eq!(once.lines().filter(|l| *l == "[calibration]").count(), 1);
        let back = spec_of(&once);
        assert_eq!(back.cpu_load.idle, 0.05);
        assert!(once.contains("loss_before = 1.2346"));
        assert!(once.contains("seed = 7"));
    }

    #[test]
    fn a_fitted_source_lead_is_added_to_a_model_without_one() {
        // tsw.toml without its fitted lead.
        let text: String = model_text("tsw.toml")
            .lines()
            .filter(|l| !l.starts_with("source_lead_s"))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut spec = spec_of(&text);
        assert_eq!(spec.restart.source_lead_s, None);
        spec.restart.source_lead_s = Some(1.25);
        let record = some_record();
        let out = updated_model_text(&text, &spec, &record).unwrap();
        assert_eq!(spec_of(&out).restart.source_lead_s, Some(1.25));
        // Written again, it is updated in place, not added twice.
        spec.restart.source_lead_s = Some(2.5);
        let again = updated_model_text(&out, &spec, &record).unwrap();
        assert_eq!(spec_of(&again).restart.source_lead_s, Some(2.5));
        let keys = again
            .lines()
            .filter(|l| l.starts_with("source_lead_s"))
            .count();
        assert_eq!(keys, 1);
    }

    #[test]
    fn a_model_without_a_record_gets_one_with_its_header() {
        let text = model_text("ysb.toml");
        let cut = text.find("\n# Written by").unwrap();
        let bare = &text[..cut];
        let spec = spec_of(bare);
        let record = some_record();
        let out = updated_model_text(bare, &spec, &record).unwrap();
        assert!(out.contains(CALIBRATION_HEADER));
        assert_eq!(out.lines().filter(|l| *l == "[calibration]").count(), 1);
    }
}
