//! The operator autoscaler through the library: `operator35` on the Demeter YSB experiment
//! (research/demeter.md §3.3, §6) and the upstream preset rescaling in place.

use std::path::Path;

use demeter_sim::policy::Action;
use demeter_sim::report::{summarize, Summary};
use demeter_sim::scenario::Scenario;
use demeter_sim::simulate::{execute, prepare, Overrides, RunResult};

fn scenario(file: &str) -> Scenario {
    demeter_sim::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

fn run(s: &Scenario, policy: Option<&str>) -> RunResult {
    let overrides = Overrides {
        policy: policy.map(Into::into),
        ..Overrides::default()
    };
    execute(prepare(s, &overrides).unwrap(), |_, _| {})
}

/// Recorded (3 runs): mean 21.3 TMs, 75-92 % of the time at 24, 21-34 TM-level changes,
/// every decision a savepoint redeploy; <= 1.5 s 69 % vs Static 99 %; mean lag 26-39 K vs
/// Static 2.8 K; recovery 143 s vs 96 s. The recording also holds TaskManager levels that
/// do not divide the 24 key groups (14, 19, 22, 23 for 650-1,900 s each), which operator 1.6's
/// key-group adjustment (divisors only up to N / 2) allows and later releases' do not.
///
/// The twin reproduces the cadence after the start (a redeploy every ~4 min: 24 -> 13/12 ->
/// 12 -> ...), redeploys only, more lag and worse latency than Static, and parallelism at
/// non-divisors of 24. It does NOT reproduce the share at 24 TaskManagers (twin ~16.5 TMs on
/// average) nor the size of the lag (twin ~4 K): in the recording some vertex other than the
/// source stays at 24 while the source churns near saturation; the traces do not say which
/// (no per-vertex parallelism was recorded). Issue 3's notes carry the analysis.
#[test]
fn operator35_on_ysb_failures_redeploys_after_every_stabilisation() {
    let s = scenario("scenarios/ysb_failures.toml");
    let static_run = run(&s, None);
    let op = run(&s, Some("operator35"));
    assert_eq!(op.policy_name, "operator35");
    let st: Summary = summarize(&static_run.run_data());
    let o: Summary = summarize(&op.run_data());

    assert!(!op.decisions.is_empty());
    let mut non_divisor = false;
    for d in &op.decisions {
        let Action::Redeploy(c) = &d.action else {
            panic!("not a redeploy: {d:?}");
        };
        assert!(d.refused.is_none(), "{d:?}");
        non_divisor |= c
            .parallelism_overrides
            .iter()
            .flatten()
            .any(|&p| p > 12 && 24 % p != 0);
    }
    assert!(
        non_divisor,
        "no parallelism in 13..23 other than 24: {:?}",
        op.decisions
    );
    // One decision per 3-4 min at most: stabilisation 2 min + window 1 min after each restart;
    // the first four come at that pace, as recorded (154, 369, 583, 798 s).
    for w in op.decisions.windows(2) {
        let gap = w[1].time.as_secs_f64() - w[0].time.as_secs_f64();
        assert!(gap >= 180.0, "decisions {gap} s apart");
    }
    let first: Vec<f64> = op
        .decisions
        .iter()
        .take(4)
        .map(|d| d.time.as_secs_f64())
        .collect();
    assert!(first.windows(2).all(|w| w[1] - w[0] <= 300.0), "{first:?}");
    let tms = o.task_managers_mean.unwrap();
    assert!((12.0..24.0).contains(&tms), "mean TMs {tms}");
    assert!(o.core_hours < st.core_hours);

    let (lag_o, lag_s) = (
        o.consumer_lag_records_mean.unwrap(),
        st.consumer_lag_records_mean.unwrap(),
    );
    assert!(lag_o > 1.2 * lag_s, "lag {lag_o} vs static {lag_s}");
    let (le_o, le_s) = (
        o.latency_le_1500ms_pct.unwrap(),
        st.latency_le_1500ms_pct.unwrap(),
    );
    assert!(le_o < le_s, "<= 1.5 s: {le_o} % vs static {le_s} %");
    assert!(o.latency_ms_p99.unwrap() > 3.0 * st.latency_ms_p99.unwrap());
    let rec = o.recovery_s_mean.unwrap();
    assert!((60.0..=200.0).contains(&rec), "recovery {rec} s");
}

/// The upstream preset with short windows rescales in place (adaptive scheduler, restart from
/// the latest checkpoint) when a step overloads the job, and the job then keeps up.
#[test]
fn flink_autoscaler_rescales_in_place_after_a_step() {
    let mut s = scenario("scenarios/ds2_step.toml");
    s.policy.name = "flink-autoscaler".into();
    s.policy.params = toml::from_str(
        "metrics_window = \"2m\"\nstabilization_interval = \"1m\"\nscale_down_interval = \"1h\"",
    )
    .unwrap();
    let r = execute(prepare(&s, &Overrides::default()).unwrap(), |_, _| {});
    assert!(!r.decisions.is_empty());
    for d in &r.decisions {
        assert!(
            matches!(d.action, Action::RescaleInPlace { .. }),
            "{:?}",
            d.action
        );
        assert!(d.refused.is_none(), "{d:?}");
    }
    // After the step (600 s) the source chain gets enough capacity for 100 K rec/s at the
    // 0.7 target, capped by the 24 partitions.
    let after: Vec<_> = r
        .decisions
        .iter()
        .filter(|d| d.time.as_secs() >= 600)
        .collect();
    assert!(!after.is_empty());
    let cap = r.twin.capacity_rps()[0];
    assert!(cap >= 100_000.0, "source chain capacity {cap}");
    let lag = r.twin.pending_records();
    assert!(lag < 100_000.0, "backlog at the end {lag}");
}
