//! The shipped Static scenarios land in the recorded runs' regime (research/demeter.md §6):
//! YSB Static recorded 96 s mean recovery, 99.0 % of seconds <= 1.5 s, 2.8 K mean lag.

use std::path::Path;

use demeter_sim::report::{summarize, Summary};
use demeter_sim::simulate::{execute, prepare, Overrides};

fn summary_of(file: &str) -> Summary {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let scenario = demeter_sim::scenario::load(&path).unwrap();
    let result = execute(
        prepare(&scenario, &Overrides::default()).unwrap(),
        |_, _| {},
    );
    summarize(&result.run_data())
}

#[test]
fn static_ysb_is_in_the_recorded_regime() {
    let s = summary_of("scenarios/ysb_failures.toml");
    let rec = s.recovery_s_mean.unwrap();
    assert!((60.0..=150.0).contains(&rec), "mean recovery {rec} s");
    assert!(
        s.latency_le_1500ms_pct.unwrap() >= 90.0,
        "{:?}",
        s.latency_le_1500ms_pct
    );
    let lag = s.consumer_lag_records_mean.unwrap();
    assert!(lag < 10_000.0, "mean lag {lag}");
    assert_eq!(s.failures_injected, 23);
    assert!((s.core_hours - 432.0).abs() < 2.0, "{}", s.core_hours);
    let thr = s.throughput_rps_mean.unwrap();
    assert!(
        (thr / 43_220.0 - 1.0).abs() < 0.05,
        "throughput {thr} vs recorded 43 220"
    );
}

#[test]
fn static_tsw_is_in_the_recorded_regime() {
    // TSW Static recorded: 109 s mean recovery, 98.2 % <= 1.5 s, 4.7 K mean lag.
    let s = summary_of("scenarios/tsw_failures.toml");
    let rec = s.recovery_s_mean.unwrap();
    assert!((60.0..=180.0).contains(&rec), "mean recovery {rec} s");
    assert!(
        s.latency_le_1500ms_pct.unwrap() >= 90.0,
        "{:?}",
        s.latency_le_1500ms_pct
    );
    assert!(s.consumer_lag_records_mean.unwrap() < 15_000.0);
}
