//! Profiling runs (Demeter's parallel short jobs) as child simulations of the twin.

use demeter_sim::backend::{Backend, SimBackend};
use demeter_sim::flink::*;
use demeter_sim::policy::Action;
use demeter_sim::scenario::load_model;
use demeter_sim::time::{SimDuration, SimTime};

fn config(scale_out: u32, slots: u32, cpu: f64) -> JobConfig {
    JobConfig {
        scale_out,
        task_slots: slots,
        cpu,
        memory_mb: 4096,
        checkpoint_interval: SimDuration::from_secs(10),
        parallelism_overrides: vec![],
    }
}

#[test]
fn profiles_measure_throughput_latency_and_recovery_and_arrive_later() {
    let model =
        load_model(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ysb.toml"))
            .unwrap();
    let twin = Twin::new(TwinSetup {
        model,
        config: config(24, 1, 1.0),
        scheduler: SchedulerMode::Default,
        node_speed: 1.0,
        workload_rps: vec![40_000.0; 3600],
        tick: SimDuration::from_secs(1),
        horizon: SimTime::from_secs(3600),
        failures: None,
        seed: 5,
        start_epoch: 0,
    });
    let mut b = SimBackend::new(twin);
    b.advance_until(SimTime::from_secs(600)).unwrap();
    // Big enough, and far too small (4 subtasks at a quarter core each: ~11 K rec/s).
    b.apply(&Action::Profile(vec![
        config(24, 1, 1.0),
        config(4, 4, 1.0),
    ]))
    .unwrap();
    assert!(
        b.observe().unwrap().profiles.is_empty(),
        "results take minutes"
    );
    b.advance_until(SimTime::from_secs(1500)).unwrap();
    let done = b.observe().unwrap().profiles;
    assert_eq!(done.len(), 2);
    let (good, bad) = (&done[0], &done[1]);
    assert!(
        (good.throughput_rps / 40_000.0 - 1.0).abs() < 0.05,
        "{good:?}"
    );
    assert!(good.latency_ms < 1500.0 && good.recovered, "{good:?}");
    assert!((40.0..180.0).contains(&good.recovery_s), "{good:?}");
    assert!(bad.throughput_rps < 0.3 * 40_000.0, "{bad:?}");
    assert!(bad.latency_ms > 10_000.0, "{bad:?}");
    assert_eq!((bad.recovery_s, bad.recovered), (360.0, false));
    assert!(good.finished_at > good.started_at + SimDuration::from_secs(180));
    // The production job is untouched by its shadows.
    assert_eq!(b.twin().config().scale_out, 24);
    assert_eq!(b.twin().restarts(), 0);
    assert_eq!(b.profiles().len(), 2);
}
