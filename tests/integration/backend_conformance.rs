//! One conformance suite for every `Backend`: run against the twin always, and against a real
//! Flink job from `live.rs` (DEMETER_LIVE=1) when Java is available.

use demeter_sim::backend::Backend;
use demeter_sim::policy::{Action, JobState, Observation};
use demeter_sim::time::{SimDuration, SimTime};

/// Waits (advancing the backend) until an observation of the running job is available.
pub fn observe_running(b: &mut dyn Backend, within: SimDuration) -> Observation {
    let deadline = b.now() + within;
    loop {
        if let Ok(o) = b.observe() {
            if o.job_state == JobState::Running
                && o.vertices.iter().any(|v| v.records_in_per_s > 0.0)
            {
                return o;
            }
        }
        assert!(
            b.now() < deadline,
            "no observation of the running job within {within}"
        );
        let next = b.now() + SimDuration::from_secs(1);
        b.advance_until(next).unwrap();
    }
}

/// What every observation must satisfy, whatever the backend.
pub fn check_observation(o: &Observation) {
    assert!(!o.vertices.is_empty());
    assert!(o.vertices.iter().any(|v| v.is_source), "a source vertex");
    assert!(o.running_since <= o.time);
    assert!(o.task_slots_available <= o.task_slots_total);
    assert!(o.pending_records >= 0.0 && o.pending_records.is_finite());
    for (i, v) in o.vertices.iter().enumerate() {
        assert!(
            v.parallelism >= 1 && v.parallelism <= v.max_parallelism,
            "{v:?}"
        );
        assert_eq!(v.is_source, v.inputs.is_empty(), "{v:?}");
        assert!(
            v.inputs.iter().all(|&(u, _)| u < i),
            "topological order: {v:?}"
        );
        for x in [
            v.busy_time_ms_per_s,
            v.backpressured_time_ms_per_s,
            v.idle_time_ms_per_s,
        ] {
            assert!((0.0..=1000.0 + 1e-6).contains(&x), "{v:?}");
        }
        for x in [v.records_in_per_s, v.records_out_per_s, v.records_in_total] {
            assert!(x >= 0.0 && x.is_finite(), "{v:?}");
        }
    }
}

/// The contract: time moves forward to what was asked, observations are sane and monotone,
/// an in-place rescale of the last vertex by +1 shows up within `settle`.
pub fn conformance(b: &mut dyn Backend, settle: SimDuration) {
    let t0 = b.now();
    assert!(t0 < b.horizon());
    let target = t0 + SimDuration::from_secs(2);
    b.advance_until(target).unwrap();
    assert!(b.now() >= target);
    let o = observe_running(b, settle);
    check_observation(&o);
    let mut p: Vec<u32> = o.vertices.iter().map(|v| v.parallelism).collect();
    let last = p.len() - 1;
    p[last] += 1;
    b.apply(&Action::RescaleInPlace {
        parallelism: p.clone(),
    })
    .unwrap();
    let deadline = b.now() + settle;
    loop {
        let next = b.now() + SimDuration::from_secs(1);
        b.advance_until(next).unwrap();
        if let Ok(o2) = b.observe() {
            assert!(o2.time >= o.time);
            check_observation(&o2);
            if o2.job_state == JobState::Running
                && o2
                    .vertices
                    .iter()
                    .map(|v| v.parallelism)
                    .collect::<Vec<_>>()
                    == p
            {
                assert!(o2.running_since >= o.running_since);
                break;
            }
        }
        assert!(
            b.now() < deadline,
            "rescale to {p:?} not seen within {settle}"
        );
    }
}

#[test]
fn the_twin_conforms() {
    use demeter_sim::backend::SimBackend;
    use demeter_sim::flink::{SchedulerMode, Twin};
    let scenario =
        demeter_sim::scenario::load(std::path::Path::new("scenarios/quick.toml")).unwrap();
    let mut prepared = demeter_sim::simulate::prepare(&scenario, &Default::default()).unwrap();
    prepared.setup.scheduler = SchedulerMode::Adaptive;
    let mut b = SimBackend::new(Twin::new(prepared.setup));
    conformance(&mut b, SimDuration::from_secs(300));
    let _ = SimTime::ZERO;
}
