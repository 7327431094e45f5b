//! The twin loop closed on a real Flink recording: `traces/live/ds2-step-tm-kill` (RateJob on
//! Flink 1.20, DS2 rescaling `work` 1 -> 3 -> 1 -> 3 -> 1 in place, a TaskManager killed at
//! ~101 s) replayed with the calibrated `models/ratejob.toml`.

use std::path::{Path, PathBuf};
use std::process::Command;

use demeter_sim::calibrate::fit::bucket_s;
use demeter_sim::calibrate::live::{processed_run, read_live_run, timeline_rows, TimelineRow};
use demeter_sim::calibrate::{fidelity_bucketed, simulate_recorded_data, Fidelity};
use demeter_sim::calibrate::{RecordedPolicy, RecordedSetup};
use demeter_sim::flink::JobModel;
use demeter_sim::runfolder::read_run_folder;
use demeter_sim::time::SimDuration;

use super::common::root;

fn recording() -> PathBuf {
    root().join("traces/live/ds2-step-tm-kill")
}

/// Replays the recording with `model`; returns the fidelity (throughput on 10-s means of the
/// last vertex's records in) and the rescale/recovery rows.
fn replay(model: JobModel) -> (Fidelity, Vec<TimelineRow>) {
    let dir = recording();
    let run = read_run_folder(&dir).unwrap();
    assert_eq!(run.name, "live");
    let live = read_live_run(&dir, run.start_epoch, run.window_s).unwrap();
    let (result, simulated) = simulate_recorded_data(RecordedSetup {
        run: run.clone(),
        policy: RecordedPolicy::Live,
        model,
        workload_rps: live.offered_rps.clone(),
        seed: 42,
        tick: SimDuration::from_secs(1),
        live: Some(live.clone()),
    });
    let rows = timeline_rows(&live, &run, &result);
    let f = fidelity_bucketed(
        &processed_run(&run, &live),
        &simulated,
        bucket_s(RecordedPolicy::Live),
    );
    (f, rows)
}

fn ratejob() -> JobModel {
    demeter_sim::scenario::load_model(&root().join("models/ratejob.toml")).unwrap()
}

#[test]
fn the_calibrated_twin_reproduces_the_live_recording() {
    let (f, rows) = replay(ratejob());
    // Issue 6: throughput within 10 %.
    let mape = f.throughput_mape_pct.unwrap();
    assert!(mape <= 10.0, "throughput MAPE {mape:.2} % (10-s means)");
    // The four recorded in-place rescales and the TaskManager kill, in order, each within
    // 2 s of the recorded time from request (or kill) to running again.
    let what: Vec<&str> = rows.iter().map(|r| r.what.as_str()).collect();
    assert_eq!(
        what,
        [
            "rescale in place to [1, 3]",
            "rescale in place to [1, 1]",
            "rescale in place to [1, 3]",
            "rescale in place to [1, 1]",
            "TaskManager killed",
        ],
        "{rows:?}"
    );
    for r in &rows {
        let (rec, sim) = (r.recorded_s.unwrap(), r.simulated_s.unwrap());
        assert!(
            (sim - rec).abs() <= 2.0,
            "{} at {:.1} s: recorded {rec:.1} s, simulated {sim:.1} s",
            r.what,
            r.at_s
        );
    }
    // The backlog the rate step built is of the recorded size (pendingRecords).
    let lag = f.lag_mean_error_pct.unwrap();
    assert!(lag.abs() <= 35.0, "mean lag error {lag:.1} %");
}

#[test]
fn the_fidelity_measure_rejects_a_wrong_model() {
    // The same replay with `work` twice as expensive (half the capacity) must miss the target:
    // the throughput check above can fail.
    let mut model = ratejob();
    for op in &mut model.spec.operators {
        if op.name == "work" {
            op.cost_us *= 2.0;
        }
    }
    let (f, _) = replay(model);
    let mape = f.throughput_mape_pct.unwrap();
    assert!(mape > 10.0, "throughput MAPE {mape:.2} %");
}

#[test]
fn validate_cli_writes_the_live_report() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("v");
    let o = Command::new(env!("CARGO_BIN_EXE_demeter-sim"))
        .args(["validate", recording().to_str().unwrap(), "--no-plots"])
        .args(["--out", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("throughput MAPE (10-s means)"), "{report}");
    assert!(
        report.contains("| 102.0 | TaskManager killed |"),
        "{report}"
    );
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fidelity.json")).unwrap()).unwrap();
    assert!(f["throughput_mape_pct"].as_f64().unwrap() <= 10.0, "{f}");
    assert!(Path::new(&dir.join("data/live-throughput-data.csv")).exists());
}
