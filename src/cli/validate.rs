//! `demeter-sim validate RECORDED_RUN --out DIR`: replay a recorded run in the twin and report
//! how far the twin is from it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::calibrate::{
    fidelity_bucketed, render_report, simulate_recorded_data, RecordedPolicy, RecordedSetup,
};
use crate::runfolder::{read_run_folder, write_run_folder};
use crate::time::SimDuration;

/// Arguments of `validate`.
#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Recorded run folders (e.g. ../shared/traces/demeter/results/1_baseline_ADS_24_small);
    /// with several, each gets DIR/<run>/ and DIR/fidelity.md holds the table of all.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Where to write the simulated run folder(s) and report(s).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace DIR if it holds an earlier run.
    #[arg(long)]
    pub force: bool,
    /// Job model (default: models/ysb.toml for *_ADS_* runs, models/tsw.toml for *_CARS_*,
    /// models/ratejob.toml for a live recording).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Workload trace (default: the run's dataset in ../../datasets/ next to the run folder; a
    /// live recording: the offered load reconstructed from its vertices.csv).
    #[arg(long)]
    pub workload: Option<PathBuf>,
    #[command(flatten)]
    pub load: super::recorded_load::RecordedLoadArgs,
    /// Skip the overlay plots.
    #[arg(long)]
    pub no_plots: bool,
}

/// Which job a recorded run folder ran, from its name.
fn job_of(run: &Path) -> Option<(&'static str, &'static str)> {
    let name = run.file_name()?.to_string_lossy().to_string();
    if name.contains("_ADS_") {
        Some(("models/ysb.toml", "ADS_3D_1S_4_sub_30K_max.csv"))
    } else if name.contains("_CARS_") {
        Some(("models/tsw.toml", "CARS_3D_1S_4_sub_35K_max.csv"))
    } else {
        None
    }
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    if args.runs.len() == 1 {
        let text = validate_one(args, &args.runs[0], &args.out)?;
        println!("{text}");
        return Ok(());
    }
    super::run::claim_output_dir(&args.out, args.force)?;
    // Marks the folder as demeter-sim's, so --force may replace it later.
    let manifest = serde_json::json!({
        "tool": "demeter-sim validate",
        "version": env!("CARGO_PKG_VERSION"),
        "runs": args.runs.iter().map(|r| r.display().to_string()).collect::<Vec<_>>(),
    });
    std::fs::write(
        args.out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    let mut rows = Vec::new();
    for run in &args.runs {
        let name = run
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .with_context(|| format!("{}: not a run folder name", run.display()))?;
        eprintln!("validating {name}");
        validate_one(args, run, &args.out.join(&name))?;
        let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
            args.out.join(&name).join("fidelity.json"),
        )?)?;
        rows.push((name, f));
    }
    let text = fidelity_table(&rows);
    std::fs::write(args.out.join("fidelity.md"), &text)?;
    println!("{text}");
    Ok(())
}

/// The fidelity table over several validated runs (Markdown).
fn fidelity_table(rows: &[(String, serde_json::Value)]) -> String {
    let num = |v: &serde_json::Value, k: &str, d: usize| {
        v.get(k)
            .and_then(|x| x.as_f64())
            .map(|x| format!("{x:.d$}"))
            .unwrap_or_else(|| "–".into())
    };
    let mut out = String::from(
        "| run | throughput MAPE % | core-h error % | <=1.5 s sim - rec (points) | mean lag error % | mean recovery error % | TaskManagers MAE |\n|:--|--:|--:|--:|--:|--:|--:|\n",
    );
    for (name, f) in rows {
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {} |\n",
            num(f, "throughput_mape_pct", 1),
            num(f, "core_hours_error_pct", 1),
            num(f, "latency_share_diff_pts", 1),
            num(f, "lag_mean_error_pct", 0),
            num(f, "recovery_mean_error_pct", 0),
            num(f, "task_managers_mae", 2),
        ));
    }
    out
}

/// Validates one recorded run into `out`; returns the Markdown report.
fn validate_one(args: &ValidateArgs, run_dir: &Path, out: &Path) -> anyhow::Result<String> {
    let recorded = read_run_folder(run_dir)
        .with_context(|| format!("reading recorded run {}", run_dir.display()))?;
    let policy = RecordedPolicy::from_run_name(&recorded.name).with_context(|| {
        format!(
            "{}: unknown run name {:?}; expected baseline, reactive, operator, demeter or live",
            run_dir.display(),
            recorded.name
        )
    })?;
    let job = job_of(run_dir);
    let live = (policy == RecordedPolicy::Live)
        .then(|| {
            crate::calibrate::live::read_live_run(run_dir, recorded.start_epoch, recorded.window_s)
        })
        .transpose()?;
    let job = if live.is_some() {
        Some(("models/ratejob.toml", ""))
    } else {
        job
    };
    let model_path = match (&args.model, job) {
        (Some(m), _) => m.clone(),
        (None, Some((m, _))) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(m),
        (None, None) => bail!("cannot tell the job of {}: pass --model", run_dir.display()),
    };
    let workload_path = match (&args.workload, job) {
        (Some(w), _) => w.clone(),
        // A live run's offered load is reconstructed from its vertices.csv.
        (None, Some(_)) if live.is_some() => run_dir.join("vertices.csv"),
        (None, Some((_, w))) => run_dir.join("../../datasets").join(w),
        (None, None) => bail!(
            "cannot tell the workload of {}: pass --workload",
            run_dir.display()
        ),
    };
    let model = crate::scenario::load_model(&model_path)?;
    let partitions = model.spec.kafka.partitions;
    let rates = args.load.rates(
        live.as_ref(),
        args.workload.is_some(),
        &workload_path,
        recorded.window_s,
    )?;
    // A Demeter run's own profiling runs (the prototype's profiles.csv), profiled again in the
    // twin at the same moments.
    let profiles_path = run_dir.join("profiles.csv");
    let recorded_profiles = match (policy, std::fs::read_to_string(&profiles_path)) {
        (RecordedPolicy::Demeter, Ok(text)) => {
            crate::calibrate::profiles::parse_recorded(&profiles_path, &text)?
        }
        _ => Vec::new(),
    };
    let profile_rows = crate::calibrate::profiles::compare(
        &model,
        &rates,
        recorded.start_epoch,
        &recorded_profiles,
        args.load.seed,
    );
    super::run::claim_output_dir(out, args.force)?;
    let (result, simulated) = simulate_recorded_data(RecordedSetup {
        run: recorded.clone(),
        policy,
        model,
        workload_rps: rates,
        seed: args.load.seed,
        tick: SimDuration::from_secs(1),
        live: live.clone(),
    });
    write_run_folder(out, &simulated)?;
    crate::simulate::write_events(out, &result)?;
    crate::simulate::write_decisions(out, &result)?;
    let manifest = serde_json::json!({
        "tool": "demeter-sim validate",
        "version": env!("CARGO_PKG_VERSION"),
        "recorded_run": run_dir.display().to_string(),
        "model": model_path.display().to_string(),
        "workload": workload_path.display().to_string(),
        "scale": args.load.scale,
        "noise": args.load.noise,
        "seed": args.load.seed,
        "start_epoch": simulated.start_epoch,
        "window_s": simulated.window_s,
        "scheduled_failures": result.failures_scheduled,
    });
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    let bucket = crate::calibrate::fit::bucket_s(policy);
    // A live run is judged on its processed throughput (see `live::processed_run`); the raw
    // recorded series' error is reported beside it.
    let raw = live
        .as_ref()
        .map(|_| fidelity_bucketed(&recorded, &simulated, bucket).throughput_mape_pct);
    let recorded = match &live {
        Some(l) => crate::calibrate::live::processed_run(&recorded, l),
        None => recorded,
    };
    let mut f = fidelity_bucketed(&recorded, &simulated, bucket);
    if let Some(l) = &live {
        f.resume_rms_error_s = crate::calibrate::live::resume_rms_error_s(
            &crate::calibrate::live::timeline_rows(l, &recorded, &result),
        );
    }
    std::fs::write(
        out.join("fidelity.json"),
        serde_json::to_string_pretty(&f)? + "\n",
    )?;
    let mut plots = Vec::new();
    if !args.no_plots {
        for (file, label, a, b) in [
            (
                "overlay_throughput.png",
                "throughput (records/s)",
                &recorded.throughput_rps,
                &simulated.throughput_rps,
            ),
            (
                "overlay_lag.png",
                "consumer lag (records)",
                &recorded.consumer_lag,
                &simulated.consumer_lag,
            ),
            (
                "overlay_latency.png",
                "latency (ms)",
                &recorded.latency_ms,
                &simulated.latency_ms,
            ),
            (
                "overlay_task_managers.png",
                "TaskManagers",
                &recorded.task_managers,
                &simulated.task_managers,
            ),
        ] {
            crate::plot::plot_overlay(
                &format!("{}: recorded vs simulated", recorded.name),
                label,
                ("recorded", a),
                ("simulated", b),
                recorded.start_epoch,
                &out.join(file),
            )?;
            plots.push(file);
        }
    }
    let title = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut text = render_report(&title, &f, &plots);
    if live.is_none() {
        // Where the replay misses: shortly after restarts or once settled.
        use crate::calibrate::phases;
        let restarts = phases::restarts(&recorded);
        text.push_str(&phases::render(
            &phases::phases(&recorded, &restarts, partitions),
            &phases::phases(&simulated, &restarts, partitions),
        ));
    }
    text.push_str(&crate::calibrate::cpu_by_config::render(
        &crate::calibrate::cpu_by_config::compare(&recorded, &simulated),
    ));
    if !profile_rows.is_empty() {
        let cap_s = crate::policy::profile::ProfileSpec::default()
            .cap
            .as_secs_f64();
        let summary = crate::calibrate::profiles::summarize(&profile_rows, cap_s);
        text.push_str(&crate::calibrate::profiles::render(&profile_rows, &summary));
        if !args.no_plots {
            plot_profiles(&title, &profile_rows, out)?;
            text.push_str(
                "\n![profiles_recovery.png](profiles_recovery.png)\n\
                 ![profiles_throughput.png](profiles_throughput.png)\n",
            );
        }
        std::fs::write(
            out.join("profiles_compared.json"),
            serde_json::to_string_pretty(&serde_json::json!({
                "summary": summary,
                "profiles": profile_rows,
            }))? + "\n",
        )?;
    }
    if let Some(raw) = raw {
        text.push_str(&format!(
            "\nThroughput is the last vertex's records in per second (recorded: vertices.csv). \
             Against the recorded source-out series instead, MAPE ({bucket}-s means): {} %.\n",
            raw.map(|x| format!("{x:.1}")).unwrap_or_else(|| "–".into())
        ));
        if let Some(l) = &live {
            text.push_str(&live_timeline_report(l, &recorded, &result));
        }
    }
    std::fs::write(out.join("report.md"), &text)?;
    Ok(text)
}

/// Rescale and recovery timeline of a live recording, recorded vs simulated (Markdown).
fn live_timeline_report(
    live: &crate::calibrate::live::LiveRun,
    run: &crate::runfolder::RunData,
    result: &crate::simulate::RunResult,
) -> String {
    let show = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "–".into());
    let mut out = String::from(
        "\n## Rescales and recovery (s from the request or the kill to the job running again)\n\n\
         | at (s) | what | recorded | simulated | sim - rec |\n|--:|:--|--:|--:|--:|\n",
    );
    for r in crate::calibrate::live::timeline_rows(live, run, result) {
        let diff = match (r.recorded_s, r.simulated_s) {
            (Some(a), Some(b)) => format!("{:+.1}", b - a),
            _ => "–".into(),
        };
        out.push_str(&format!(
            "| {:.1} | {} | {} | {} | {diff} |\n",
            r.at_s,
            r.what,
            show(r.recorded_s),
            show(r.simulated_s)
        ));
    }
    out
}

/// The profiling runs' scatter plots: recovery by checkpoint interval and throughput by slots
/// per TaskManager, recorded against simulated.
fn plot_profiles(
    title: &str,
    rows: &[crate::calibrate::profiles::ProfileComparison],
    out: &Path,
) -> Result<(), crate::plot::PlotError> {
    use crate::plot::{plot_scatter, ScatterGroup};
    use std::collections::BTreeMap;
    let mut by_chk: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    let mut by_slots: BTreeMap<u32, Vec<(f64, f64)>> = BTreeMap::new();
    for r in rows {
        if let Some(rec) = r.recorded_recovery_s {
            by_chk
                .entry(r.checkpoint_interval_s.round() as u64)
                .or_default()
                .push((rec, r.simulated_recovery_s));
        }
        by_slots
            .entry(r.task_slots)
            .or_default()
            .push((r.recorded_throughput_rps, r.simulated_throughput_rps));
    }
    let groups = |m: Vec<(String, Vec<(f64, f64)>)>| {
        m.into_iter()
            .map(|(label, points)| ScatterGroup { label, points })
            .collect::<Vec<_>>()
    };
    plot_scatter(
        &format!("{title}: profile recovery"),
        "recovery (s; 360 = not recovered)",
        &groups(
            by_chk
                .into_iter()
                .map(|(c, p)| (format!("{c}-s checkpoints"), p))
                .collect(),
        ),
        &out.join("profiles_recovery.png"),
    )?;
    plot_scatter(
        &format!("{title}: profile throughput"),
        "throughput (records/s)",
        &groups(
            by_slots
                .into_iter()
                .map(|(n, p)| {
                    (
                        format!("{n} slot{} per TM", if n == 1 { "" } else { "s" }),
                        p,
                    )
                })
                .collect(),
        ),
        &out.join("profiles_throughput.png"),
    )
}
