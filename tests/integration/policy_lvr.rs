//! `lvr` on `scenarios/lvr_step.toml`: the load steps from 30 K to 95 K rec/s on 8 one-slot
//! TaskManagers (~79 K rec/s); the rescaler must add TaskManagers, rescale the bottleneck in
//! place and bring latency back under its 1.5-s SLO, where Static falls behind for good.

use std::path::Path;

use demeter_sim::policy::Action;
use demeter_sim::runfolder::Series;
use demeter_sim::simulate::{execute, prepare, Overrides, RunResult};
use demeter_sim::time::SimTime;

fn run(policy: Option<&str>) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/lvr_step.toml");
    let scenario = demeter_sim::scenario::load(&path).unwrap();
    let overrides = Overrides {
        policy: policy.map(str::to_string),
        ..Overrides::default()
    };
    execute(prepare(&scenario, &overrides).unwrap(), |_, _| {})
}

/// Share of the seconds in [from_s, to_s) of the run with latency <= 1.5 s.
fn share_ok(r: &RunResult, from_s: i64, to_s: i64) -> f64 {
    let s: &Series = &r.twin.series().latency_ms;
    let e0 = r.twin.start_epoch();
    let v: Vec<f64> = s
        .points
        .iter()
        .filter(|(t, _)| (e0 + from_s..e0 + to_s).contains(t))
        .map(|p| p.1)
        .collect();
    v.iter().filter(|&&l| l <= 1500.0).count() as f64 / (to_s - from_s) as f64
}

#[test]
fn lvr_scales_out_after_the_step_and_meets_the_slo_again() {
    let r = run(None);
    assert_eq!(r.policy_name, "lvr");
    let step = SimTime::from_secs(600);
    // Nothing happens before the step; the first action adds TaskManagers, then rescales.
    assert!(
        r.decisions.iter().all(|d| d.time > step),
        "{:?}",
        r.decisions
    );
    assert!(
        r.decisions.iter().all(|d| d.refused.is_none()),
        "{:?}",
        r.decisions
    );
    assert!(
        matches!(r.decisions.first().map(|d| &d.action), Some(Action::SetTaskManagers(n)) if *n > 8),
        "{:?}",
        r.decisions
    );
    let rescales = r
        .decisions
        .iter()
        .filter(|d| matches!(d.action, Action::RescaleInPlace { .. }))
        .count();
    assert!((1..=8).contains(&rescales), "{rescales} rescales");
    // The source chain (the bottleneck) grew; it needs >= 10 subtasks for 95 K rec/s.
    let p = r.twin.parallelism();
    assert!(p[0] >= 10 && p[0] <= 24, "{p:?}");
    assert!(r.twin.task_managers_registered() >= p[0]);
    // Latency is back under the SLO for the last 20 minutes; Static never recovers.
    let ok = share_ok(&r, 1500, 2700);
    assert!(ok > 0.95, "lvr: {ok:.3} of the last 20 min <= 1.5 s");
    let st = run(Some("static"));
    let ok_st = share_ok(&st, 1500, 2700);
    assert!(ok_st < 0.1, "static: {ok_st:.3}");
}
