//! The twin's mechanisms, one test each, driven through the library on the shipped YSB model.

use demeter_sim::flink::*;
use demeter_sim::scenario::load_model;
use demeter_sim::time::{SimDuration, SimTime};

fn ysb() -> JobModel {
    load_model(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ysb.toml")).unwrap()
}

/// The shipped model without `slot_sharing_cpu`, for tests that check rates against
/// `Twin::capacity_rps` (each vertex's uncontended capacity); slot sharing has its own test.
fn ysb_unshared() -> JobModel {
    let mut m = ysb();
    m.spec.capacity.slot_sharing_cpu = false;
    m
}

fn static_config(scale_out: u32, interval_s: u64) -> JobConfig {
    JobConfig {
        scale_out,
        task_slots: 1,
        cpu: 1.0,
        memory_mb: 4096,
        checkpoint_interval: SimDuration::from_secs(interval_s),
        parallelism_overrides: vec![],
    }
}

fn setup(
    model: JobModel,
    config: JobConfig,
    rate_rps: f64,
    secs: u64,
    failures: Option<FailurePlan>,
) -> TwinSetup {
    TwinSetup {
        model,
        config,
        scheduler: SchedulerMode::Default,
        node_speed: 1.0,
        workload_rps: vec![rate_rps; secs as usize],
        tick: SimDuration::from_secs(1),
        horizon: SimTime::from_secs(secs),
        failures,
        seed: 1,
        start_epoch: 0,
    }
}

fn one_delay_at(t_s: u64) -> FailurePlan {
    FailurePlan {
        kind: FailureKind::NetworkDelay {
            duration: SimDuration::from_secs(30),
        },
        schedule: FailureSchedule::At(vec![SimTime::from_secs(t_s)]),
        alignment: Alignment::None,
        second_failover: SecondFailover::Model,
    }
}

/// A twin of `s` in reactive mode.
fn reactive(mut s: TwinSetup) -> Twin {
    s.scheduler = SchedulerMode::Reactive;
    Twin::new(s)
}

/// The true backlog (Kafka pending records), sampled every second.
fn pending_by_second(twin: &mut Twin, secs: u64) -> Vec<f64> {
    let mut out = vec![];
    for s in 1..=secs {
        twin.advance_until(SimTime::from_secs(s));
        out.push(twin.pending_records());
    }
    out
}

#[test]
fn failure_replays_since_last_checkpoint_and_drains_at_capacity_minus_rate() {
    let rate = 40_000.0;
    // Without the source's lead (its own test below), nothing is read until the job resumes.
    let mut model = ysb_unshared();
    model.spec.restart.source_lead_s = None;
    let mut twin = Twin::new(setup(
        model,
        static_config(24, 10),
        rate,
        400,
        Some(one_delay_at(205)),
    ));
    let capacity = twin.capacity_rps()[0];
    let pending = pending_by_second(&mut twin, 400);
    let events = twin.events().to_vec();
    let lost = events
        .iter()
        .find(|e| e.kind == "task_manager_lost")
        .unwrap()
        .time;
    let resumed = events
        .iter()
        .filter(|e| e.kind == "job_running")
        .nth(1)
        .unwrap()
        .time;
    // The last checkpoint before the failure was triggered at 200 s: the failover rewinds the
    // source to it, so at resume the backlog is the input from 200 s until resume.
    let at_resume = pending[resumed.as_secs() as usize - 1];
    let expected = rate * (resumed.as_secs_f64() - 200.0);
    assert!(
        (at_resume - expected).abs() / expected < 0.05,
        "backlog {at_resume} vs {expected}"
    );
    assert!(
        lost.as_secs_f64() >= 205.0 + 15.0 && lost.as_secs_f64() <= 205.0 + 20.0,
        "detected at {lost}"
    );
    // Drain speed just after resume: capacity - rate (less the checkpoint overhead while snapshotting).
    let r = resumed.as_secs() as usize;
    let drained_per_s = (pending[r + 1] - pending[r + 6]) / 5.0;
    let expected_drain = capacity - rate;
    assert!(
        (drained_per_s - expected_drain).abs() / expected_drain < 0.05,
        "drains {drained_per_s}/s vs capacity - rate = {expected_drain}/s"
    );
    assert!(pending[399] < 1.0, "backlog left: {}", pending[399]);
}

#[test]
fn longer_checkpoint_interval_lengthens_recovery() {
    let rate = 50_000.0;
    let recovery = |interval_s: u64| {
        let mut twin = Twin::new(setup(
            ysb(),
            static_config(24, interval_s),
            rate,
            900,
            Some(one_delay_at(305)),
        ));
        let capacity = twin.capacity_rps()[0];
        let pending = pending_by_second(&mut twin, 900);
        let resumed = twin
            .events()
            .iter()
            .filter(|e| e.kind == "job_running")
            .nth(1)
            .unwrap()
            .time;
        // Seconds from injection until the backlog is drained.
        let drained = (resumed.as_secs() as usize..900)
            .find(|&s| pending[s] < 1000.0)
            .unwrap();
        (drained as f64 - 305.0, capacity)
    };
    let (short, capacity) = recovery(10);
    let (long, _) = recovery(90);
    // The last completed checkpoint is at 300 s with a 10-s interval and at 270 s with a 90-s
    // one: 30 s more input to replay, drained at capacity - rate.
    let expected_extra = 30.0 * rate / (capacity - rate);
    assert!(
        (long - short - expected_extra).abs() < 0.3 * expected_extra + 2.0,
        "10 s interval: {short} s, 90 s interval: {long} s, expected {expected_extra:.1} s more"
    );
}

#[test]
fn under_provisioned_configuration_makes_lag_grow() {
    let mut twin = Twin::new(setup(
        ysb_unshared(),
        static_config(4, 10),
        50_000.0,
        600,
        None,
    ));
    let capacity = twin.capacity_rps()[0];
    assert!(
        capacity < 50_000.0,
        "4 subtasks should not keep up: {capacity}"
    );
    let pending = pending_by_second(&mut twin, 600);
    let growth = (pending[599] - pending[299]) / 300.0;
    assert!(
        (growth - (50_000.0 - capacity)).abs() / (50_000.0 - capacity) < 0.05,
        "{growth}"
    );
    let lag_metric = twin.consumer_lag().unwrap();
    assert!(lag_metric > 10_000.0, "{lag_metric}");
}

#[test]
fn backpressure_from_a_slow_window_caps_the_source() {
    // Make the window vertex the bottleneck by raising its per-record cost 80-fold.
    let mut model = ysb_unshared();
    let window = model
        .spec
        .operators
        .iter_mut()
        .find(|o| o.name.starts_with("Window"))
        .unwrap();
    window.cost_us *= 80.0;
    let mut twin = Twin::new(setup(model, static_config(24, 10), 60_000.0, 600, None));
    let caps = twin.capacity_rps().to_vec();
    let window_limit = caps[1] / 0.3333; // source records per second the window can take
    assert!(
        window_limit < caps[0],
        "window must be the bottleneck: {caps:?}"
    );
    // First the in-flight buffers in front of the window fill (~250 s at this excess); then
    // the source is throttled.
    twin.advance_until(SimTime::from_secs(400));
    let pending_400 = twin.pending_records();
    twin.advance_until(SimTime::from_secs(500));
    let sec = twin.last_second();
    assert!(
        (sec[0].records_in - window_limit).abs() / window_limit < 0.03,
        "source reads {} vs {window_limit}",
        sec[0].records_in
    );
    assert!(
        sec[0].backpressured_ms > 100.0,
        "source back-pressured {} ms/s",
        sec[0].backpressured_ms
    );
    assert!(
        sec[1].busy_ms > 950.0,
        "window busy {} ms/s per subtask",
        sec[1].busy_ms
    );
    // What the window cannot take stays in Kafka: the backlog grows at the arrival rate minus
    // what the throttled source reads (the window limit less the checkpoints' overhead).
    let growth = (twin.pending_records() - pending_400) / 100.0;
    let expected = 60_000.0 - sec[0].records_in;
    assert!(
        (growth - expected).abs() / expected < 0.05,
        "backlog grows {growth}/s vs {expected}/s"
    );
}

/// Settled CPU load of `config` at `rate_rps` (mean of seconds 300-600).
fn settled_cpu_load(model: JobModel, config: JobConfig, rate_rps: f64) -> f64 {
    let mut twin = Twin::new(setup(model, config, rate_rps, 600, None));
    let mut loads = Vec::new();
    for t in 301..=600 {
        twin.advance_until(SimTime::from_secs(t));
        loads.push(twin.cpu_load().expect("TaskManagers registered"));
    }
    loads.iter().sum::<f64>() / loads.len() as f64
}

#[test]
fn reported_cpu_follows_the_records_processed_not_the_busy_time() {
    // Same load on 24 one-slot TaskManagers with 1 and with 2 cores: a 2-core subtask is busy
    // for less of the second but keeps both cores busy meanwhile, so the cores in use above
    // idle are the same (recorded: 102-122 us CPU per record in 1-slot TaskManagers with 1, 2
    // or 3 cores, tools/analysis/cpu_by_config.py). Before the mapping the 2-core TaskManagers
    // reported half. The idle JVM's background is cores too, the same on either.
    let model = ysb();
    let idle = model.spec.cpu_load.idle;
    let one_core = settled_cpu_load(model.clone(), static_config(24, 10), 30_000.0);
    let mut two = static_config(24, 10);
    two.cpu = 2.0;
    let two_cores = settled_cpu_load(model.clone(), two, 30_000.0);
    let used = |load: f64, tms: f64, cpu: f64| (load * cpu - idle) * tms;
    assert!(
        (used(two_cores, 24.0, 2.0) / used(one_core, 24.0, 1.0) - 1.0).abs() < 0.02,
        "1 core {one_core:.3}, 2 cores {two_cores:.3}"
    );
    // Two slots in one TaskManager cost 2^e the CPU per record (`slot_efficiency_exponent`):
    // 12 TaskManagers x 2 slots x 2 cores against 24 x 1 x 1.
    let e = model.spec.capacity.slot_efficiency_exponent.unwrap_or(0.0);
    let mut shared = static_config(24, 10);
    shared.task_slots = 2;
    shared.cpu = 2.0;
    let shared_load = settled_cpu_load(model, shared, 30_000.0);
    let ratio = used(shared_load, 12.0, 2.0) / used(one_core, 24.0, 1.0);
    assert!(
        (ratio - 2f64.powf(e)).abs() < 0.03,
        "CPU per record x {ratio:.3}, expected 2^{e} = {:.3}",
        2f64.powf(e)
    );
}

#[test]
fn a_small_heap_costs_background_cores_in_cpu_load_and_capacity() {
    // `[capacity.gc]`: a 1-GB TaskManager (154-MB JVM heap) spends cores_heap_mb / 154 cores on
    // GC whatever its load, beyond what a 4-GB one (the reference) does. Recorded: 0.09-0.20
    // more cores at 2-5 K rec/s per TaskManager, 0.85 of a 3-GB one's rate saturated.
    let model = ysb();
    let gc = model.spec.capacity.gc.clone().expect("ysb models GC");
    let extra = gc.cores_heap_mb / 153.6 - gc.cores_heap_mb / 1587.2;
    assert!((gc.background_cores(1024.0) - extra).abs() < 1e-9);
    assert_eq!(gc.background_cores(4096.0), 0.0);
    let mut small = static_config(16, 10);
    small.memory_mb = 1024;
    let big = static_config(16, 10);
    let load_small = settled_cpu_load(model.clone(), small.clone(), 30_000.0);
    let load_big = settled_cpu_load(model.clone(), big.clone(), 30_000.0);
    assert!(
        (load_small - load_big - extra).abs() < 0.01,
        "1 GB {load_small:.3}, 4 GB {load_big:.3}, expected +{extra:.3}"
    );
    // The cores GC takes are the slots' cores: a 1-core subtask keeps (1 - o - extra) / (1 - o).
    let o = model.spec.capacity.tm_overhead_cores;
    let cap = |config: JobConfig| {
        Twin::new(setup(model.clone(), config, 1000.0, 10, None)).capacity_rps()[0]
    };
    let ratio = cap(small) / cap(big);
    assert!(
        (ratio - (1.0 - o - extra) / (1.0 - o)).abs() < 1e-9,
        "capacity 1 GB / 4 GB {ratio:.3}"
    );
}

#[test]
fn capacity_follows_cpu_memory_node_speed_and_sublinear_scaling() {
    let cap = |config: JobConfig, speed: f64| {
        let mut s = setup(ysb(), config, 1000.0, 10, None);
        s.node_speed = speed;
        Twin::new(s).capacity_rps()[0]
    };
    let base = cap(static_config(24, 10), 1.0);
    // Half a core per slot halves a subtask's rate, and two slots in one TaskManager cost
    // 2^-e of that again (`slot_efficiency_exponent`).
    let e = ysb().spec.capacity.slot_efficiency_exponent.unwrap_or(0.0);
    assert!(e > 0.0);
    let mut two_slots = static_config(24, 10);
    two_slots.task_slots = 2;
    assert!((cap(two_slots, 1.0) / base - 0.5 * 2f64.powf(-e)).abs() < 1e-9);
    // A Raspberry Pi core is 0.3 of a server core.
    assert!((cap(static_config(24, 10), 0.3) / base - 0.3).abs() < 1e-9);
    // Below the working set, memory per slot costs throughput.
    let mut small = static_config(24, 10);
    small.memory_mb = 1024;
    small.task_slots = 8;
    small.cpu = 8.0;
    let mut roomy = small.clone();
    roomy.memory_mb = 8 * 4096;
    assert!(cap(small, 1.0) < cap(roomy, 1.0));
    // Each TaskManager loses `tm_overhead_cores` to its JVM and clients: a 2-core,
    // 1-slot TaskManager gives its subtask (2 - o) / (1 - o) of a 1-core one's rate.
    let o = ysb().spec.capacity.tm_overhead_cores;
    assert!(o > 0.0);
    let mut two_cores = static_config(24, 10);
    two_cores.cpu = 2.0;
    let expected = (2.0 - o) / (1.0 - o);
    assert!((cap(two_cores, 1.0) / base - expected).abs() < 1e-9);
    // Doubling parallelism less than doubles capacity.
    let c12 = cap(static_config(12, 10), 1.0);
    assert!(base < 2.0 * c12 && base > 1.8 * c12, "{base} vs {c12}");
}

#[test]
fn chaining_fuses_operators_and_weights_costs_by_selectivity() {
    let model = ysb();
    let graph = JobGraph::build(&model);
    assert_eq!(
        graph.len(),
        2,
        "{:?}",
        graph.vertices.iter().map(|v| &v.name).collect::<Vec<_>>()
    );
    let source = &graph.vertices[0];
    assert!(source.name.starts_with("Source: DeserializeBolt -> filter"));
    // Source chain: deserialize + filter at full rate, the rest on the 1/3 that pass the
    // filter, plus serialization (network_cost_us / 2) of what leaves the chain.
    let ops = &model.spec.operators;
    let sel = ops[1].selectivity;
    let expected = ops[0].cost_us
        + ops[1].cost_us
        + sel * (ops[2].cost_us + ops[3].cost_us + ops[4].cost_us)
        + sel * model.spec.job.network_cost_us / 2.0;
    assert!(
        (source.cost_us_per_record - expected).abs() < 1e-9,
        "{} vs {expected}",
        source.cost_us_per_record
    );
    let mut unchained = model.clone();
    unchained.spec.job.chaining = false;
    assert_eq!(
        JobGraph::build(&unchained).len(),
        model.spec.operators.len()
    );
}

#[test]
fn task_manager_crash_restarts_after_a_replacement_registers() {
    let plan = FailurePlan {
        kind: FailureKind::TaskManagerCrash {
            detection: SimDuration::from_ms(400),
        },
        schedule: FailureSchedule::At(vec![SimTime::from_secs(100)]),
        alignment: Alignment::None,
        second_failover: SecondFailover::Model,
    };
    let model = ysb();
    let deploy = (
        model.spec.restart.deploy_min_s,
        model.spec.restart.deploy_max_s,
    );
    let mut twin = Twin::new(setup(
        model,
        static_config(24, 10),
        30_000.0,
        300,
        Some(plan),
    ));
    twin.advance_until(SimTime::from_secs(300));
    let kinds: Vec<(&str, u64)> = twin
        .events()
        .iter()
        .filter(|e| !e.kind.starts_with("checkpoint"))
        .map(|e| (e.kind, e.time.as_ms()))
        .collect();
    let restart = kinds.iter().find(|k| k.0 == "job_restarting").unwrap().1;
    let registered = kinds
        .iter()
        .find(|k| k.0 == "task_managers_registered")
        .unwrap()
        .1;
    let resumed = kinds
        .iter()
        .filter(|k| k.0 == "job_running")
        .nth(1)
        .unwrap()
        .1;
    assert_eq!(restart, 100_400);
    assert_eq!(registered, 100_400 + 15_000, "replacement after tm_start_s");
    assert!(
        resumed >= registered + (deploy.0 * 1000.0) as u64
            && resumed <= registered + (deploy.1 * 1000.0) as u64,
        "{kinds:?}"
    );
}

#[test]
fn node_loss_removes_its_task_managers_until_it_returns() {
    let plan = FailurePlan {
        kind: FailureKind::NodeLoss {
            task_managers: 4,
            down_for: SimDuration::from_secs(120),
        },
        schedule: FailureSchedule::At(vec![SimTime::from_secs(100)]),
        alignment: Alignment::None,
        second_failover: SecondFailover::Model,
    };
    let mut twin = Twin::new(setup(
        ysb(),
        static_config(24, 10),
        30_000.0,
        400,
        Some(plan),
    ));
    twin.advance_until(SimTime::from_secs(150));
    assert_eq!(twin.task_managers_registered(), 20);
    assert_eq!(
        twin.status(),
        JobStatus::Restarting,
        "the default scheduler waits for all 24 slots"
    );
    twin.advance_until(SimTime::from_secs(400));
    assert_eq!(twin.task_managers_registered(), 24);
    assert_eq!(twin.status(), JobStatus::Running);
}

#[test]
fn redeploy_stops_with_savepoint_without_replay_and_applies_the_new_config() {
    let mut twin = Twin::new(setup(ysb(), static_config(24, 10), 30_000.0, 400, None));
    twin.advance_until(SimTime::from_secs(100));
    let consumed = twin.records_consumed_total();
    let mut next = static_config(12, 30);
    next.task_slots = 2;
    next.cpu = 2.0;
    twin.redeploy(next.clone()).unwrap();
    assert!(
        twin.redeploy(next.clone()).is_err(),
        "one redeploy at a time"
    );
    twin.advance_until(SimTime::from_secs(200));
    assert_eq!(twin.config(), &next);
    assert_eq!(twin.task_managers_registered(), 6);
    let ev: Vec<_> = twin
        .events()
        .iter()
        .filter(|e| !e.kind.starts_with("checkpoint"))
        .collect();
    let sp = ev
        .iter()
        .find(|e| e.kind == "savepoint_completed")
        .unwrap()
        .time;
    let up = ev
        .iter()
        .filter(|e| e.kind == "job_running")
        .nth(1)
        .unwrap()
        .time;
    let downtime = up.since(sp).as_secs_f64();
    assert!(
        (25.0..=55.0).contains(&downtime),
        "redeploy downtime {downtime} s (recorded 25-55 s)"
    );
    assert!(
        twin.records_consumed_total() >= consumed,
        "a savepoint never rewinds"
    );
    assert_eq!(twin.reconfigurations(), 1);
}

/// Seconds from the savepoint to the new TaskManagers registering, for a redeploy from
/// `from` to `to`.
fn redeploy_start_s(from: JobConfig, to: JobConfig) -> f64 {
    let mut twin = Twin::new(setup(ysb(), from, 30_000.0, 300, None));
    twin.advance_until(SimTime::from_secs(100));
    twin.redeploy(to).unwrap();
    twin.advance_until(SimTime::from_secs(300));
    let at = |kind: &str| {
        twin.events()
            .iter()
            .find(|e| e.kind == kind && e.time >= SimTime::from_secs(100))
            .unwrap()
            .time
    };
    at("task_managers_registered")
        .since(at("savepoint_completed"))
        .as_secs_f64()
}

#[test]
fn redeploy_start_grows_with_task_managers_and_shrinks_with_cores() {
    // models/ysb.toml [T-REDEPLOY]: jm_start_s + 22.7 / cpu + 0.74 x (TMs before + after), to
    // the millisecond.
    let r = ysb().spec.restart;
    let (core_s, per_tm) = (
        r.redeploy_start_core_s.unwrap(),
        r.redeploy_per_tm_s.unwrap(),
    );
    let big = redeploy_start_s(static_config(24, 10), static_config(24, 10));
    assert!(
        (big - (r.jm_start_s + core_s + per_tm * 48.0)).abs() < 1e-6,
        "{big}"
    );
    let mut three_core = static_config(6, 10);
    three_core.task_slots = 1;
    three_core.cpu = 3.0;
    let small = redeploy_start_s(static_config(12, 10), three_core);
    assert!(
        (small - (r.jm_start_s + core_s / 3.0 + per_tm * 18.0)).abs() < 0.002,
        "{small}"
    );
    // Recorded lag-equivalent outages: ~67 s (operator, 24 one-core TMs), ~23 s (Demeter,
    // ~5 three-core TMs); the start is that minus the savepoint and the deployment.
    assert!(big > 2.0 * small, "{big} vs {small}");
}

#[test]
fn in_place_rescale_needs_the_adaptive_scheduler_and_replays_from_the_checkpoint() {
    let mut s = setup(ysb(), static_config(24, 10), 30_000.0, 300, None);
    s.scheduler = SchedulerMode::Adaptive;
    let mut twin = Twin::new(s);
    twin.advance_until(SimTime::from_secs(105));
    twin.rescale_in_place(vec![12, 6]).unwrap();
    assert_eq!(twin.status(), JobStatus::Restarting);
    twin.advance_until(SimTime::from_secs(300));
    assert_eq!(twin.parallelism(), &[12, 6]);
    let replay = twin
        .events()
        .iter()
        .find(|e| e.kind == "job_restarting")
        .unwrap()
        .detail
        .clone();
    assert!(replay.contains("replaying"), "{replay}");
    let mut d = Twin::new(setup(ysb(), static_config(24, 10), 30_000.0, 300, None));
    d.advance_until(SimTime::from_secs(50));
    assert!(d.rescale_in_place(vec![12, 6]).is_err());
}

#[test]
fn reactive_mode_restarts_on_every_task_manager_change() {
    let mut twin = reactive(setup(
        ysb(),
        static_config(24, 20),
        30_000.0,
        600,
        Some(one_delay_at(200)),
    ));
    twin.advance_until(SimTime::from_secs(100));
    twin.set_task_managers(16);
    twin.advance_until(SimTime::from_secs(190));
    assert_eq!(twin.parallelism()[0], 16);
    let restarts_before = twin.restarts();
    twin.advance_until(SimTime::from_secs(600));
    // The failure costs two restarts: down to 15 slots, then back up when the TM returns.
    assert_eq!(
        twin.restarts() - restarts_before,
        2,
        "{:?}",
        twin.events()
            .iter()
            .filter(|e| e.kind == "job_running")
            .collect::<Vec<_>>()
    );
    assert_eq!(twin.parallelism()[0], 16);
}

/// (time of a `job_restarting` event, time the job ran again) for every restart, in ms.
fn restart_windows(twin: &Twin) -> Vec<(u64, u64)> {
    let mut out = vec![];
    let mut open = None;
    for e in twin.events() {
        match e.kind {
            "job_restarting" => open = Some(e.time.as_ms()),
            "job_running" => {
                if let Some(t) = open.take() {
                    out.push((t, e.time.as_ms()));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn restarts_onto_task_managers_that_ran_the_job_deploy_warm() {
    let model = ysb();
    let r = model.spec.restart.clone();
    let warm_ms = (r.deploy_warm_s.expect("ysb.toml sets deploy_warm_s") * 1000.0) as u64;
    let cold_ms = (
        (r.deploy_min_s * 1000.0) as u64,
        (r.deploy_max_s * 1000.0) as u64,
    );
    // 24 TaskManagers in reactive mode, 30 K rec/s, one network delay at 300 s.
    let with_delay = |model| {
        reactive(setup(
            model,
            static_config(24, 20),
            30_000.0,
            600,
            Some(one_delay_at(300)),
        ))
    };
    let mut twin = with_delay(model);
    // A scale-down at 100 restarts at once (reactive stabilisation 0) and deploys warm; the
    // scale-up at 150 restarts when the pods register, with new JVMs: cold.
    twin.advance_until(SimTime::from_secs(100));
    twin.set_task_managers(16);
    twin.advance_until(SimTime::from_secs(150));
    twin.set_task_managers(20);
    twin.advance_until(SimTime::from_secs(600));
    let w = restart_windows(&twin);
    // Scale-down, scale-up, and the failure: down onto the 19 survivors, up when it returns.
    assert_eq!(w.len(), 4, "{w:?}");
    // (+ the restore of YSB's small window state, well under 0.1 s)
    let about = |d: u64, want: u64| d >= want && d < want + 100;
    assert_eq!(w[0].0, 100_000, "{w:?}");
    assert!(about(w[0].1 - w[0].0, warm_ms), "{w:?}");
    let up = w[1].1 - w[1].0;
    assert!(up >= cold_ms.0 && up <= cold_ms.1, "{w:?}");
    let delay_ms = (r.restart_delay_s * 1000.0) as u64;
    assert!(
        about(w[2].1 - w[2].0, delay_ms + warm_ms),
        "failover onto the survivors: {w:?}"
    );
    // The cut-off TaskManager kept its JVM (`reactive_rejoin_warm`): adding it back is warm.
    assert!(
        about(w[3].1 - w[3].0, warm_ms),
        "back from the delay: {w:?}"
    );
    assert_eq!(twin.parallelism()[0], 20);

    // Without `reactive_rejoin_warm` the returning TaskManager counts as a new one: cold.
    let mut model = ysb();
    model.spec.restart.reactive_rejoin_warm = false;
    let mut twin = with_delay(model);
    twin.advance_until(SimTime::from_secs(600));
    let w = restart_windows(&twin);
    assert_eq!(w.len(), 2, "{w:?}");
    let back = w[1].1 - w[1].0;
    assert!(back >= cold_ms.0 && back <= cold_ms.1, "{w:?}");

    // Without `deploy_warm_s` every restart takes the cold window.
    let mut model = ysb();
    model.spec.restart.deploy_warm_s = None;
    let mut twin = reactive(setup(model, static_config(24, 20), 30_000.0, 200, None));
    twin.advance_until(SimTime::from_secs(100));
    twin.set_task_managers(16);
    twin.advance_until(SimTime::from_secs(200));
    let w = restart_windows(&twin);
    let d = w[0].1 - w[0].0;
    assert!(d >= cold_ms.0 && d <= cold_ms.1, "{w:?}");
}

/// Seconds from each `failure_injected` to the next `task_managers_registered`.
fn rejoin_after_s(twin: &Twin) -> Vec<u64> {
    let mut out = vec![];
    let mut injected = None;
    for e in twin.events() {
        match e.kind {
            "failure_injected" => injected = Some(e.time.as_ms()),
            "task_managers_registered" => {
                if let Some(t) = injected.take() {
                    out.push((e.time.as_ms() - t) / 1000);
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_reactive_deployment_takes_some_cut_off_task_managers_back_late() {
    let model = ysb();
    let r = model.spec.restart.clone();
    let q = r.reactive_rejoin_late_fraction.expect("ysb.toml sets it");
    let late_s = r.reactive_rejoin_late_s.unwrap() as u64;
    let plan = || FailurePlan {
        kind: FailureKind::NetworkDelay {
            duration: SimDuration::from_secs(30),
        },
        schedule: FailureSchedule::At((1..=60).map(|k| SimTime::from_secs(300 * k)).collect()),
        alignment: Alignment::None,
        second_failover: SecondFailover::Model,
    };
    let mut twin = reactive(setup(
        model.clone(),
        static_config(24, 20),
        30_000.0,
        18_300,
        Some(plan()),
    ));
    twin.advance_until(SimTime::from_secs(18_300));
    let back = rejoin_after_s(&twin);
    assert_eq!(back.len(), 60, "{back:?}");
    assert!(
        back.iter().all(|&b| b == 30 || b == 30 + late_s),
        "{back:?}"
    );
    let late = back.iter().filter(|&&b| b > 30).count() as f64 / 60.0;
    // A binomial share of 60 draws: within 3 standard deviations of q.
    let sd = (q * (1.0 - q) / 60.0).sqrt();
    assert!((late - q).abs() < 3.0 * sd, "{late} late, expected {q}");
    // The default scheduler (Static): every one back when its delay ends.
    let mut twin = Twin::new(setup(
        model,
        static_config(24, 20),
        30_000.0,
        18_300,
        Some(plan()),
    ));
    twin.advance_until(SimTime::from_secs(18_300));
    assert!(rejoin_after_s(&twin).iter().all(|&b| b == 30));
}

#[test]
fn checkpoints_time_out_under_heavy_backpressure() {
    let mut model = ysb();
    model.spec.checkpoint.timeout_s = 1.5;
    model.spec.checkpoint.duration_base_ms = 2000.0;
    let mut twin = Twin::new(setup(model, static_config(24, 10), 10_000.0, 60, None));
    twin.advance_until(SimTime::from_secs(60));
    assert!(twin.events().iter().any(|e| e.kind == "checkpoint_failed"));
    assert!(twin.last_checkpoint().is_none());
}

#[test]
fn sub_second_ticks_agree_with_one_second_ticks() {
    let run = |tick_ms: u64| {
        let mut s = setup(
            ysb(),
            static_config(24, 10),
            40_000.0,
            600,
            Some(one_delay_at(305)),
        );
        s.tick = SimDuration::from_ms(tick_ms);
        let mut twin = Twin::new(s);
        twin.advance_until(SimTime::from_secs(600));
        let lat = &twin.series().latency_ms.points;
        let above = lat.iter().filter(|p| p.1 > 1500.0).count();
        (twin.records_consumed_total(), above, lat.len())
    };
    let (consumed_1s, above_1s, n_1s) = run(1000);
    for tick in [100, 10] {
        let (consumed, above, n) = run(tick);
        assert!(
            (consumed / consumed_1s - 1.0).abs() < 0.001,
            "tick {tick} ms: {consumed} vs {consumed_1s}"
        );
        assert!(
            above.abs_diff(above_1s) <= 2,
            "tick {tick} ms: {above} vs {above_1s} s above 1.5 s"
        );
        assert!(n.abs_diff(n_1s) <= 1);
    }
}

#[test]
fn kafka_partitions_cap_the_useful_source_parallelism() {
    let cap =
        |p: u32| Twin::new(setup(ysb(), static_config(p, 10), 1000.0, 10, None)).capacity_rps()[0];
    let per_subtask_48 = cap(48) / 24.0; // only 24 of 48 source subtasks have a partition
    let per_subtask_24 = cap(24) / 24.0;
    assert!(
        per_subtask_48 < per_subtask_24,
        "more subtasks, more contention, no more partitions"
    );
    assert!(cap(48) < cap(24));
}

#[test]
fn a_failover_aborts_a_savepoint_in_flight_and_a_new_redeploy_is_accepted() {
    let mut model = ysb();
    model.spec.restart.savepoint_base_s = 30.0;
    let mut twin = Twin::new(setup(
        model,
        static_config(24, 10),
        30_000.0,
        600,
        Some(one_delay_at(100)),
    ));
    twin.advance_until(SimTime::from_secs(101));
    twin.redeploy(static_config(12, 10)).unwrap();
    // The TaskManager is declared lost ~15-20 s later, before the 30-s savepoint completes.
    twin.advance_until(SimTime::from_secs(200));
    assert!(twin.events().iter().any(|e| e.kind == "savepoint_aborted"));
    assert_eq!(twin.config().scale_out, 24);
    twin.redeploy(static_config(12, 10)).unwrap();
    twin.advance_until(SimTime::from_secs(400));
    assert_eq!(twin.config().scale_out, 12);
}

#[test]
fn observations_report_source_busy_time_with_the_versions_artefact() {
    use demeter_sim::backend::{Backend, SimBackend};
    let observe = |fraction: f64| {
        let mut model = ysb();
        model.spec.metrics.source_busy_reported_fraction = fraction;
        let mut b = SimBackend::new(Twin::new(setup(
            model,
            static_config(24, 10),
            40_000.0,
            60,
            None,
        )));
        b.advance_until(SimTime::from_secs(30)).unwrap();
        b.observe().unwrap()
    };
    let (full, half) = (observe(1.0), observe(0.5));
    let (a, b) = (&full.vertices[0], &half.vertices[0]);
    assert!((b.busy_time_ms_per_s - a.busy_time_ms_per_s / 2.0).abs() < 1e-9);
    assert!(
        (b.idle_time_ms_per_s - (a.idle_time_ms_per_s + a.busy_time_ms_per_s / 2.0)).abs() < 1e-9
    );
    assert_eq!(
        a.records_in_per_s, b.records_in_per_s,
        "only the metric changes, not the job"
    );
    assert_eq!(
        full.vertices[1].busy_time_ms_per_s,
        half.vertices[1].busy_time_ms_per_s
    );
}

#[test]
fn whole_unit_assignment_caps_a_source_at_partitions_over_the_busiest_subtask() {
    // 24 partitions over 16 subtasks: 8 subtasks read 2 partitions and saturate first, so the
    // source sustains 12 subtasks' worth; the busiest subtask is 1.33x the mean.
    let even = Twin::new(setup(ysb(), static_config(16, 10), 10_000.0, 60, None));
    let mut model = ysb();
    model.spec.capacity.whole_unit_assignment = true;
    let mut whole = Twin::new(setup(model, static_config(16, 10), 10_000.0, 60, None));
    let (c_even, c_whole) = (even.capacity_rps()[0], whole.capacity_rps()[0]);
    assert!(
        (c_whole / c_even - 12.0 / 16.0).abs() < 1e-9,
        "{c_whole} vs {c_even}"
    );
    whole.advance_until(SimTime::from_secs(60));
    let sec = &whole.last_second()[0];
    assert!(sec.busy_ms > 0.0);
    assert!(
        (sec.busy_max_ms / sec.busy_ms - 16.0 / 12.0).abs() < 1e-6,
        "max {} vs mean {}",
        sec.busy_max_ms,
        sec.busy_ms
    );
    // At a divisor of 24 nothing changes.
    let mut model = ysb();
    model.spec.capacity.whole_unit_assignment = true;
    let at_12 = Twin::new(setup(model, static_config(12, 10), 10_000.0, 60, None));
    let even_12 = Twin::new(setup(ysb(), static_config(12, 10), 10_000.0, 60, None));
    assert_eq!(at_12.capacity_rps()[0], even_12.capacity_rps()[0]);
}

#[test]
fn a_task_manager_overhead_of_a_whole_slot_is_an_error_naming_the_key() {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/ysb.toml"),
    )
    .unwrap();
    let bad = src.replace("tm_overhead_cores = 0.27", "tm_overhead_cores = 1.0");
    assert_ne!(bad, src, "the YSB model sets tm_overhead_cores = 0.27");
    let dir = std::env::temp_dir().join(format!("demeter-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ysb.toml");
    std::fs::write(&path, bad).unwrap();
    let e = load_model(&path).unwrap_err().to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(e.contains("capacity.tm_overhead_cores"), "{e}");
}

#[test]
fn slot_sharing_slows_the_sources_beside_a_busy_window_and_nothing_at_static() {
    let model = |shared: bool| {
        let mut m = ysb();
        m.spec.capacity.slot_sharing_cpu = shared;
        m
    };
    let config = |window: u32| JobConfig {
        parallelism_overrides: vec![Some(24), Some(window)],
        ..static_config(24, 10)
    };
    // Source 24, window 1 at 110 K rec/s: slot 0 runs a source subtask (~0.57 of a core) and
    // the only window subtask (~0.9): the window keeps its fair half, the source subtask beside
    // it what is left, and all 24 source subtasks go at its pace (partitions are bound).
    let run = |shared: bool, window: u32, rate: f64| {
        let mut twin = Twin::new(setup(model(shared), config(window), rate, 180, None));
        let pending = pending_by_second(&mut twin, 180);
        (pending[179], twin.last_second()[1].busy_ms)
    };
    let (alone, alone_busy) = run(false, 1, 110_000.0);
    let (shared, shared_busy) = run(true, 1, 110_000.0);
    assert!(
        alone < 50_000.0,
        "without sharing the job keeps up: {alone}"
    );
    assert!(
        shared > 1_000_000.0,
        "with sharing it falls behind: {shared}"
    );
    assert!(
        shared_busy > alone_busy,
        "the window's wall-clock busy time grows when it shares a core: {shared_busy} vs {alone_busy}"
    );
    // Every vertex at 24 at 40 K rec/s (Static): a slot's two subtasks need ~0.3 of a core.
    let (a, _) = run(false, 24, 40_000.0);
    let (b, _) = run(true, 24, 40_000.0);
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

/// The recorded latency metric (`[latency.reservoir]` in ysb.toml): after a failure, a new job
/// attempt reads 0 while its tasks deploy (empty reservoirs), and the p95 stays above 1.5 s for
/// ~10 s (watermark) + the reservoir's event-time span after the backlog is gone, because the
/// samples are taken when the window fires. Without the reservoir the metric falls with the
/// backlog.
#[test]
fn latency_reservoir_reads_zero_while_deploying_and_keeps_the_tail_after_the_backlog() {
    let run = |model: JobModel| {
        let mut twin = Twin::new(setup(
            model,
            static_config(24, 10),
            40_000.0,
            400,
            Some(one_delay_at(100)),
        ));
        let mut by_second = vec![];
        for s in 1..=400 {
            twin.advance_until(SimTime::from_secs(s));
            by_second.push((twin.latency_ms(), twin.pending_records(), twin.status()));
        }
        by_second
    };
    let with = run(ysb());
    let mut spec = ysb().spec.clone();
    spec.latency.reservoir = None;
    let without = run(JobModel::from_spec(spec, "ysb.toml").unwrap());
    // Zeros: deployed but not processing yet; the recorded runs show 5-8 per failure.
    let zeros = with
        .iter()
        .filter(|(l, _, st)| *l == Some(0.0) && *st != JobStatus::Running)
        .count();
    assert!((3..=10).contains(&zeros), "{zeros} zero seconds");
    assert!(without.iter().all(|(l, _, _)| *l != Some(0.0)));
    // The backlog is gone (below one second of input) at `drained`.
    let drained = (120..400)
        .find(|&s| with[s].2 == JobStatus::Running && with[s].1 < 40_000.0)
        .expect("recovered");
    let high_after = |series: &[(Option<f64>, f64, JobStatus)]| {
        (drained..400)
            .take_while(|&s| series[s].0.is_some_and(|l| l > 1500.0))
            .count()
    };
    let tail = high_after(&with);
    // 10 s watermark + ~1 s slide + the newest 500 of a campaign's 10-s window (165 campaigns
    // at 40 K x 1/3 views/s: ~6 s), less what the delay of those records already fell.
    assert!((8..=20).contains(&tail), "tail {tail} s");
    assert!(high_after(&without) <= 2, "{}", high_after(&without));
    // Before the failure both read floor + jitter.
    let mean = |series: &[(Option<f64>, f64, JobStatus)]| {
        series[30..90].iter().map(|x| x.0.unwrap()).sum::<f64>() / 60.0
    };
    assert!((mean(&with) - mean(&without)).abs() < 50.0);
}

/// `[restart.second_failover]`: a listed failure's restarted job stops `after_resume_s` after
/// it resumed and resumes `outage_s` after that, from its latest checkpoint; an empty list
/// means none, and reactive mode draws none from the model.
#[test]
fn second_failover_stops_the_resumed_job_again() {
    let sf = ysb()
        .spec
        .restart
        .second_failover
        .clone()
        .expect("the shipped model has [restart.second_failover]");
    let with = |which: SecondFailover| FailurePlan {
        second_failover: which,
        ..one_delay_at(205)
    };
    let run = |plan: FailurePlan, scheduler: SchedulerMode, p: Option<f64>| {
        let mut model = ysb();
        if let (Some(p), Some(s)) = (p, model.spec.restart.second_failover.as_mut()) {
            s.probability = p;
        }
        let mut s = setup(model, static_config(24, 10), 40_000.0, 600, Some(plan));
        s.scheduler = scheduler;
        let mut twin = Twin::new(s);
        twin.advance_until(SimTime::from_secs(600));
        twin.events().to_vec()
    };
    let times = |events: &[demeter_sim::flink::twin::EventRecord], kind: &str| {
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.time.as_secs_f64())
            .collect::<Vec<_>>()
    };
    let listed = run(
        with(SecondFailover::Listed([0].into())),
        SchedulerMode::Default,
        None,
    );
    let running = times(&listed, "job_running");
    let repeated = times(&listed, "failure_repeated");
    assert_eq!(
        running.len(),
        3,
        "start, after the failure, after the second failover"
    );
    assert_eq!(repeated.len(), 1);
    assert!(
        (repeated[0] - running[1] - sf.after_resume_s).abs() < 0.01,
        "second failure {} s after resuming at {}",
        repeated[0],
        running[1]
    );
    assert!(
        (running[2] - repeated[0] - sf.outage_s).abs() < 0.01,
        "resumed {} s after the second failure",
        running[2] - repeated[0]
    );
    let none = run(
        with(SecondFailover::Listed(Default::default())),
        SchedulerMode::Default,
        None,
    );
    assert!(times(&none, "failure_repeated").is_empty());
    // Drawn from the model: always at probability 1, never in reactive mode.
    let drawn = run(
        with(SecondFailover::Model),
        SchedulerMode::Default,
        Some(1.0),
    );
    assert_eq!(times(&drawn, "failure_repeated").len(), 1);
    let reactive = run(
        with(SecondFailover::Model),
        SchedulerMode::Reactive,
        Some(1.0),
    );
    assert!(times(&reactive, "failure_repeated").is_empty());
}

/// `[capacity] slot_efficiency_exponent`: a TaskManager with n slots does n^-e of what its
/// cores would do in one-slot TaskManagers; one-slot configurations do not move.
#[test]
fn slot_efficiency_scales_multi_slot_capacity_only() {
    let capacity = |exponent: Option<f64>, slots: u32| {
        let mut model = ysb_unshared();
        model.spec.capacity.slot_efficiency_exponent = exponent;
        let config = JobConfig {
            task_slots: slots,
            ..static_config(8, 10)
        };
        Twin::new(setup(model, config, 1_000.0, 10, None)).capacity_rps()[0]
    };
    for slots in [1, 2, 4] {
        let ratio = capacity(Some(0.45), slots) / capacity(None, slots);
        let expected = (slots as f64).powf(-0.45);
        assert!(
            (ratio - expected).abs() < 1e-9,
            "{slots} slots: {ratio} vs {expected}"
        );
    }
    let mut spec = ysb().spec;
    spec.capacity.slot_efficiency_exponent = Some(-0.1);
    let e = JobModel::from_spec(spec, "m.toml").unwrap_err().to_string();
    assert!(e.contains("capacity.slot_efficiency_exponent"), "{e}");
}

/// `[restart] source_lead_s`: after a failover the source reads (and its Kafka consumers report)
/// that long before the job resumes, while the rest of the job processes nothing; a model
/// without it reports nothing until the job runs again, and the resume itself does not move.
#[test]
fn a_failed_over_source_reads_ahead_of_the_restoring_job() {
    let lead_s = ysb()
        .spec
        .restart
        .source_lead_s
        .expect("the shipped YSB model has [restart] source_lead_s");
    let run = |lead: Option<f64>| {
        let mut model = ysb();
        model.spec.restart.source_lead_s = lead;
        model.spec.restart.second_failover = None;
        let mut twin = Twin::new(setup(
            model,
            static_config(24, 10),
            40_000.0,
            400,
            Some(one_delay_at(205)),
        ));
        let mut pending = vec![];
        for s in 1..=400 {
            twin.advance_until(SimTime::from_secs(s));
            pending.push((twin.status(), twin.pending_records()));
        }
        let resumed = twin
            .events()
            .iter()
            .filter(|e| e.kind == "job_running")
            .map(|e| e.time.as_secs_f64())
            .nth(1)
            .expect("the job resumed after the failure");
        let restarted = twin
            .events()
            .iter()
            .find(|e| e.kind == "job_restarting")
            .expect("the failure restarted the job")
            .time
            .as_secs_f64();
        (twin.series().clone(), resumed, restarted, pending)
    };
    let (with, resumed, restarted, pending_with) = run(Some(lead_s));
    let (without, resumed_without, _, pending_without) = run(None);
    assert_eq!(resumed, resumed_without, "processing resumes when it did");
    // The first throughput sample after the outage (epoch = second index here).
    let first_after = |s: &demeter_sim::flink::twin::TwinSeries| {
        s.throughput_rps
            .points
            .iter()
            .map(|p| p.0 as f64)
            .find(|&t| t > restarted)
            .unwrap()
    };
    let (w, wo) = (first_after(&with), first_after(&without));
    assert!(
        wo >= resumed - 1.0,
        "no lead: metrics from the resume ({wo} vs {resumed})"
    );
    assert!(
        w < resumed - 1.0 && w >= resumed - lead_s - 1.0,
        "lead: metrics {lead_s} s before the resume at {resumed}, got {w}"
    );
    // The latency metric still reads the restoring job (0 or nothing) during the lead.
    let lat = with.latency_ms.range(w as i64, resumed as i64 - 1);
    assert!(lat.iter().all(|p| p.1 == 0.0), "{lat:?}");
    // By the resume the source has taken part of the backlog: less pending than without.
    let at = resumed as usize - 1;
    assert!(
        pending_with[at].1 < pending_without[at].1 - 40_000.0,
        "pending at resume {} vs {}",
        pending_with[at].1,
        pending_without[at].1
    );
    assert_ne!(pending_with[at].0, JobStatus::Running);
}

/// After a failover the source reads ahead while the window vertex restores, and what it read
/// waits in the window's input buffers. YSB's `LatencyAfter` subtracts `fire - latencyBefore`,
/// that wait included, so no latency sample is older than a replayed record was when the source
/// read it. Seed 43 of `scenarios/ysb_failures.toml` (Static) has a failure whose resumed window
/// vertex took in little in its first second while its input buffers held the lead's reads:
/// counting that queue at that rate read 165 s (the recorded Static run's maximum is 61 s, and
/// every backlog there is under 60 s old even when a failure fails twice).
#[test]
fn the_wait_in_front_of_the_window_is_not_in_ysb_latency() {
    use demeter_sim::simulate::{execute, prepare, Overrides};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ysb_failures.toml");
    let scenario = demeter_sim::scenario::load(&path).unwrap();
    let o = Overrides {
        policy: Some("static".into()),
        seed: Some(43),
        ..Overrides::default()
    };
    let run = execute(prepare(&scenario, &o).unwrap(), |_, _| {});
    let max_ms = run
        .twin
        .series()
        .latency_ms
        .points
        .iter()
        .map(|p| p.1)
        .fold(0.0, f64::max);
    assert!(
        (30_000.0..90_000.0).contains(&max_ms),
        "max latency {max_ms:.0} ms"
    );
}

fn event_times(twin: &Twin, kind: &str) -> Vec<f64> {
    twin.events()
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.time.as_secs_f64())
        .collect()
}

/// A checkpoint in flight when a TaskManager is cut off cannot complete: that TaskManager's
/// acknowledgement is held by the delay until the failover aborts the checkpoint, so the job
/// restores the one before.
#[test]
fn a_checkpoint_in_flight_at_a_network_delay_does_not_complete() {
    let run = |failures: Option<FailurePlan>| {
        let mut model = ysb();
        model.spec.restart.second_failover = None;
        let mut twin = Twin::new(setup(model, static_config(24, 10), 40_000.0, 400, failures));
        twin.advance_until(SimTime::from_secs(400));
        twin
    };
    let calm = run(None);
    let trigger = event_times(&calm, "checkpoint_triggered")
        .into_iter()
        .find(|&t| t > 200.0)
        .unwrap();
    let done = event_times(&calm, "checkpoint_completed")
        .into_iter()
        .find(|&t| t > trigger)
        .unwrap();
    assert!(
        done - trigger > 0.5,
        "the checkpoint takes {}",
        done - trigger
    );
    // The delay starts 0.3 s after the trigger, while the checkpoint is in flight.
    let at = SimTime::ZERO + SimDuration::from_secs_f64(trigger + 0.3);
    let plan = FailurePlan {
        schedule: FailureSchedule::At(vec![at]),
        ..one_delay_at(0)
    };
    let failed = run(Some(plan));
    let restarted = event_times(&failed, "job_restarting")[0];
    let completed = event_times(&failed, "checkpoint_completed");
    assert!(
        !completed.iter().any(|&t| t > trigger && t < restarted),
        "completed after the delay began: {completed:?}"
    );
    // Without the delay it would have completed before the failover.
    assert!(done < restarted);
}

/// The experiments' injector aligns a failure `before` ahead of the next checkpoint's
/// completion: when that is further away it sleeps; when it is closer it polls until the next
/// checkpoint completes and then waits interval - before (dos-group/demeter `Graph.java`).
#[test]
fn an_aligned_failure_lands_five_seconds_before_the_next_completion() {
    let run = |due: f64| {
        let mut model = ysb();
        model.spec.restart.second_failover = None;
        let plan = FailurePlan {
            schedule: FailureSchedule::At(vec![
                SimTime::ZERO + SimDuration::from_secs_f64(due.min(1e6)),
            ]),
            alignment: Alignment::BeforeCheckpoint(InjectorClock::experiments()),
            ..one_delay_at(0)
        };
        let mut twin = Twin::new(setup(
            model,
            static_config(24, 10),
            40_000.0,
            400,
            Some(plan),
        ));
        twin.advance_until(SimTime::from_secs(400));
        twin
    };
    let calm = run(1e9);
    let ack = event_times(&calm, "checkpoint_completed")
        .into_iter()
        .find(|&t| t > 200.0)
        .unwrap();
    let next_ack = event_times(&calm, "checkpoint_completed")
        .into_iter()
        .find(|&t| t > ack)
        .unwrap();
    // Due 2 s after an acknowledgement: 10 - 2 - 5 = 3 s later, i.e. 5 s after it.
    let early = event_times(&run(ack + 2.0), "failure_injected")[0];
    assert!(
        (early - (ack + 5.0)).abs() < 1e-6,
        "{early} vs {}",
        ack + 5.0
    );
    // Due 7 s after it (3 s before the next completion): 5 s after the next one.
    let late = event_times(&run(ack + 7.0), "failure_injected")[0];
    assert!(
        (late - (next_ack + 5.0)).abs() < 1e-6,
        "{late} vs {}",
        next_ack + 5.0
    );
}

/// The Reactive experiment's injector computed with its properties' 10 s while the job ran 20-s
/// checkpoints (research/demeter.md §3.2): wait = 10 - (now - ack) - 5, so the failure lands 5 s
/// after an acknowledgement, 15 s before the next completion.
#[test]
fn an_injector_with_its_own_interval_lands_five_seconds_after_an_ack() {
    let run = |due: f64, interval: Option<u64>| {
        let mut model = ysb();
        model.spec.restart.second_failover = None;
        let plan = FailurePlan {
            schedule: FailureSchedule::At(vec![SimTime::ZERO + SimDuration::from_secs_f64(due)]),
            alignment: Alignment::BeforeCheckpoint(InjectorClock {
                interval: interval.map(SimDuration::from_secs),
                ..InjectorClock::experiments()
            }),
            ..one_delay_at(0)
        };
        let mut twin = Twin::new(setup(
            model,
            static_config(24, 20),
            40_000.0,
            400,
            Some(plan),
        ));
        twin.advance_until(SimTime::from_secs(400));
        twin
    };
    let acks = event_times(&run(1e6, None), "checkpoint_completed");
    let ack = acks.iter().copied().find(|&t| t > 200.0).unwrap();
    let next_ack = acks.iter().copied().find(|&t| t > ack).unwrap();
    // Due 1 s after an acknowledgement.
    let own = event_times(&run(ack + 1.0, None), "failure_injected")[0];
    assert!(
        (own - (next_ack - 5.0)).abs() < 1e-6,
        "{own} vs {}",
        next_ack - 5.0
    );
    let properties = event_times(&run(ack + 1.0, Some(10)), "failure_injected")[0];
    assert!(
        (properties - (ack + 5.0)).abs() < 1e-6,
        "{properties} vs {}",
        ack + 5.0
    );
}

/// A replay's recorded injections were aligned by the injector: the twin takes its checkpoint
/// where the recorded job's last one completed (interval - 5 s before the injection), whatever
/// its own checkpoint phase, so each failover replays the recorded amount of work.
#[test]
fn a_replayed_injection_finds_the_recorded_checkpoint_phase() {
    let dues = [600.0, 1213.4, 1827.9];
    let run = |alignment: Alignment| {
        let mut model = ysb();
        model.spec.restart.second_failover = None;
        let plan = FailurePlan {
            schedule: FailureSchedule::At(
                dues.iter()
                    .map(|&d| SimTime::ZERO + SimDuration::from_secs_f64(d))
                    .collect(),
            ),
            alignment,
            ..one_delay_at(0)
        };
        let mut twin = Twin::new(setup(
            model,
            static_config(24, 30),
            40_000.0,
            2_100,
            Some(plan),
        ));
        twin.advance_until(SimTime::from_secs(2_100));
        twin
    };
    let last_ack_before = |twin: &Twin, t: f64| {
        event_times(twin, "checkpoint_completed")
            .into_iter()
            .filter(|&a| a <= t)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let replayed = run(Alignment::Recorded(InjectorClock::experiments()));
    let own_phase = run(Alignment::None);
    let injected = event_times(&replayed, "failure_injected");
    assert_eq!(injected.len(), 3);
    let mut own_offsets = Vec::new();
    for (&due, &at) in dues.iter().zip(&injected) {
        assert!((at - due).abs() < 1e-6, "injected when due: {at} vs {due}");
        let since = at - last_ack_before(&replayed, at);
        // 25 s, up to the checkpoint's alignment and upload beyond its base duration.
        assert!(
            (24.5..25.5).contains(&since),
            "last ack {since} s before {at}"
        );
        own_offsets.push(at - last_ack_before(&own_phase, at));
    }
    assert!(
        own_offsets.iter().any(|s| !(24.5..25.5).contains(s)),
        "the twin's own phase happens to match: {own_offsets:?}"
    );
}
