//! Edge placement and energy: the placement experiments' shape, the cost model against the
//! exhaustive optimum on the Nexmark models, consolidation energy, link outages, placement
//! changes through the backend, scenario errors, and golden snapshots of the edge scenarios.

use std::fmt::Write;
use std::path::Path;

use demeter_sim::backend::{Backend, SimBackend};
use demeter_sim::flink::Twin;
use demeter_sim::placement::search::{search, Windows};
use demeter_sim::placement::{evaluate, PlacementProblem, Strategy};
use demeter_sim::policy::Action;
use demeter_sim::scenario::Scenario;
use demeter_sim::simulate::{execute, prepare, Overrides};
use demeter_sim::time::{SimDuration, SimTime};

fn scenario(file: &str) -> Scenario {
    demeter_sim::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// Sink rec/s with the filter on the edge (Pi) and on the server.
fn filter_placements(file: &str) -> (f64, f64, f64, f64) {
    let s = scenario(file);
    let p = PlacementProblem::new(&s.edge, &s.model).unwrap();
    let w = (SimDuration::from_secs(60), SimDuration::from_secs(120));
    let pi = evaluate(&s, &p.placement(&s.model, &p.movable), None, w.0, w.1).unwrap();
    let server = evaluate(&s, &p.placement(&s.model, &[]), None, w.0, w.1).unwrap();
    (
        pi.sink_rps,
        server.sink_rps,
        pi.source_rps,
        server.source_rps,
    )
}

#[test]
fn at_100_kbit_the_pi_filter_is_link_bound_for_both_selectivities() {
    // 100 000 bit/s / 8 / 32 B = 390.6 rec/s: the experiments saw 390-400 at the sink.
    for (file, s) in [
        ("scenarios/edge_filter_100kbit.toml", 0.3),
        ("scenarios/edge_filter_100kbit_s70.toml", 0.7),
    ] {
        let (pi, server, src_pi, _) = filter_placements(file);
        assert!((pi - 390.625).abs() < 2.0, "{file}: filter on the Pi {pi}");
        assert!(
            (server - s * 390.625).abs() < 2.0,
            "{file}: filter on the server {server}"
        );
        // Sources back-pressured to 395 / s (observed 1 217-1 289 at 0.3, 553-584 at 0.7).
        assert!(
            (src_pi - 390.625 / s).abs() < 5.0,
            "{file}: source {src_pi}"
        );
    }
}

#[test]
fn at_500_mbit_placement_hardly_matters() {
    let (pi, server, _, _) = filter_placements("scenarios/edge_filter_500mbit.toml");
    assert!(
        (pi - 1500.0).abs() < 1.0 && (server - 1500.0).abs() < 1.0,
        "{pi} {server}"
    );
}

#[test]
fn cost_model_is_within_10_pct_of_the_exhaustive_optimum_on_nexmark() {
    for q in ["q1", "q2", "q3", "q5", "q8"] {
        let s = scenario(&format!("scenarios/edge_nexmark_{q}.toml"));
        let w = Windows::default();
        let cm = search(&s, Strategy::CostModel, w).unwrap();
        let ex = search(&s, Strategy::Exhaustive, w).unwrap();
        let ratio = cm.outcome.sink_rps / ex.outcome.sink_rps;
        assert!(
            ratio >= 0.9,
            "{q}: cost model {} vs optimum {}",
            cm.outcome.sink_rps,
            ex.outcome.sink_rps
        );
        // Every vertex gets an explanation; the offloaded ones are stateless reducers.
        assert_eq!(cm.explanations.len(), s.model.spec.operators.len());
        for e in cm.explanations.iter().filter(|e| e.offload) {
            assert!(
                e.reason.starts_with("source") || e.reason.starts_with("stateless"),
                "{q}: {e:?}"
            );
        }
        // ... and offloading beats shipping the raw stream.
        let base = search(&s, Strategy::SourcesOnlyEdge, w).unwrap();
        assert!(cm.outcome.sink_rps > base.outcome.sink_rps, "{q}");
    }
}

#[test]
fn greedy_matches_exhaustive_on_the_small_jobs() {
    for q in ["q3", "q8"] {
        let s = scenario(&format!("scenarios/edge_nexmark_{q}.toml"));
        let g = search(&s, Strategy::Greedy, Windows::default()).unwrap();
        let e = search(&s, Strategy::Exhaustive, Windows::default()).unwrap();
        assert_eq!(g.outcome.op_site, e.outcome.op_site, "{q}");
        assert!(g.outcome.evaluations <= e.outcome.evaluations + 1);
    }
}

#[test]
fn consolidating_onto_fewer_servers_lowers_energy_at_equal_throughput() {
    // quick.toml: 24 one-core TaskManagers. Spread: one per server (24 nodes powered);
    // consolidated: packed on ceil(24 / 16) = 2 servers.
    let mut energy = Vec::new();
    let mut thr = Vec::new();
    for nodes in [None, Some(8), Some(24)] {
        let mut s = scenario("scenarios/quick.toml");
        s.edge.node_count = nodes;
        s.failures = None;
        let o = Overrides {
            duration: Some(SimDuration::from_secs(300)),
            ..Overrides::default()
        };
        let r = execute(prepare(&s, &o).unwrap(), |_, _| {});
        let sum = r.summary();
        energy.push(sum.energy_j.unwrap());
        thr.push(sum.throughput_rps_mean.unwrap());
    }
    assert!(energy[0] < energy[1] && energy[1] < energy[2], "{energy:?}");
    assert!((thr[0] - thr[2]).abs() < 1e-9, "{thr:?}");
    // 2 servers idle at 100 W each for 300 s is the floor: 60 kJ.
    assert!(
        energy[0] > 60_000.0 && energy[0] < 2.0 * 250.0 * 300.0,
        "{energy:?}"
    );
}

#[test]
fn pi_energy_follows_the_linear_model() {
    // The 100-kbit run: one Pi (2.7 W idle, 6.4 W max) + one server; energy over 10 min
    // lies between all-idle and all-busy.
    let s = scenario("scenarios/edge_filter_100kbit.toml");
    let r = execute(prepare(&s, &Overrides::default()).unwrap(), |_, _| {});
    let e = r.twin.energy();
    let pi = e.node_energy_j["rpi4b"];
    assert!((2.7 * 600.0..=6.4 * 600.0).contains(&pi), "{pi}");
    let server = e.node_energy_j["server"];
    assert!(
        (100.0 * 600.0..=250.0 * 600.0).contains(&server),
        "{server}"
    );
    // 12 500 B/s for 600 s at 2 uJ/bit.
    assert!((e.wan_bytes - 7.5e6).abs() < 1e4, "{}", e.wan_bytes);
    assert!((e.wan_energy_j - 7.5e6 * 8.0 * 2e-6).abs() < 1.0);
    assert!((e.energy_j - (pi + server + e.wan_energy_j)).abs() < 1e-6);
}

#[test]
fn a_link_outage_backpressures_and_a_long_one_restarts_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let text = super::common::scenario_text("edge_filter_500mbit.toml");
    let with = |down: &str| {
        format!("{text}\n[failures]\nkind = \"link_outage\"\nlink = \"wan\"\nschedule = \"list\"\nat = [\"120s\"]\ndown_for = \"{down}\"\n")
    };
    // Short (10 s < 50-s heartbeat timeout): backpressure only, no restart.
    let p = dir.path().join("short.toml");
    std::fs::write(&p, with("10s")).unwrap();
    let s = demeter_sim::scenario::load(&p).unwrap();
    let r = execute(prepare(&s, &Overrides::default()).unwrap(), |_, _| {});
    let kinds: Vec<&str> = r.twin.events().iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&"link_up") && !kinds.contains(&"job_restarting"),
        "{kinds:?}"
    );
    // Long (120 s): TaskManagers beyond the link are lost, the job resumes after the link.
    let p = dir.path().join("long.toml");
    std::fs::write(&p, with("120s")).unwrap();
    let s = demeter_sim::scenario::load(&p).unwrap();
    let r = execute(prepare(&s, &Overrides::default()).unwrap(), |_, _| {});
    let ev = r.twin.events();
    let restart = ev.iter().find(|e| e.kind == "job_restarting").unwrap();
    let running = ev
        .iter()
        .filter(|e| e.kind == "job_running")
        .nth(1)
        .unwrap();
    assert!(restart.time < SimTime::from_secs(240), "{restart:?}");
    assert!(running.time >= SimTime::from_secs(240), "{running:?}");
}

#[test]
fn a_placement_change_goes_through_the_backend_with_a_restart() {
    let s = scenario("scenarios/edge_filter_100kbit.toml");
    let p = PlacementProblem::new(&s.edge, &s.model).unwrap();
    let mut edge = s.edge.clone();
    edge.op_site = p.placement(&s.model, &[]); // filter on the server
    let prepared = prepare(&s, &Overrides::default()).unwrap();
    let mut b = SimBackend::new(Twin::with_edge(prepared.setup, edge));
    b.advance_until(SimTime::from_secs(120)).unwrap();
    let before = b.twin().sink_records_total();
    b.apply(&Action::SetPlacement {
        op_site: p.placement(&s.model, &p.movable),
    })
    .unwrap();
    b.advance_until(SimTime::from_secs(300)).unwrap();
    let mid = b.twin().sink_records_total();
    b.advance_until(SimTime::from_secs(400)).unwrap();
    let after = (b.twin().sink_records_total() - mid) / 100.0;
    assert!(before / 120.0 < 120.0, "{}", before / 120.0);
    assert!((after - 390.625).abs() < 3.0, "{after}");
    let kinds: Vec<&str> = b.twin().events().iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"placement_changed") && kinds.contains(&"job_restarting"));
    assert_eq!(b.twin().reconfigurations(), 1);
    // Refused on a homogeneous scenario.
    let q = scenario("scenarios/quick.toml");
    let mut b = SimBackend::new(Twin::new(prepare(&q, &Overrides::default()).unwrap().setup));
    assert!(b.apply(&Action::SetPlacement { op_site: vec![0] }).is_err());
}

#[test]
fn bad_edge_input_names_the_file_key_and_expectation() {
    let cases = [
        (
            "\"EventsFilter\" = \"edge\"",
            "\"EventsFilter\" = \"moon\"",
            "placement.operators",
        ),
        (
            "\"EventsFilter\" = \"edge\"",
            "\"Filter\" = \"edge\"",
            "placement.operators",
        ),
        (
            "between = [\"edge\", \"cloud\"]",
            "between = [\"edge\", \"mars\"]",
            "cluster.links[0].between",
        ),
        (
            "bandwidth_bps = 100000.0",
            "bandwidth_bps = -1.0",
            "cluster.links[0].bandwidth_bps",
        ),
        (
            "node_class = \"rpi4b\"",
            "node_class = \"rpi5\"",
            "cluster.sites[0].node_class",
        ),
        ("scale_out = 2 ", "scale_out = 3 ", "placement"),
    ];
    for (from, to, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let text = super::common::scenario_text("edge_filter_100kbit.toml");
        assert!(text.contains(from), "{from}");
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text.replace(from, to)).unwrap();
        let e = demeter_sim::scenario::load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains(key), "{to}: {e}");
    }
}

/// Sink and source rec/s over 120 s after a 60-s warm-up, with the scenario's own placement.
fn own_placement_rates(s: &Scenario) -> (f64, f64) {
    let prepared = prepare(s, &Overrides::default()).unwrap();
    let mut t = Twin::with_edge(prepared.setup, s.edge.clone());
    t.advance_until(SimTime::from_secs(60));
    let (k0, r0) = (t.sink_records_total(), t.records_consumed_total());
    t.advance_until(SimTime::from_secs(180));
    (
        (t.sink_records_total() - k0) / 120.0,
        (t.records_consumed_total() - r0) / 120.0,
    )
}

#[test]
fn a_filter_split_over_pi_and_server_shares_the_link_by_partitioning() {
    // Forward edges: half the raw records and half the filtered ones cross 100 kbit/s:
    // X (0.5 + 0.5 s) = 390.6 -> sink = 390.6 x 2s / (1 + s) = 180.3 at s = 0.3.
    let s = scenario("scenarios/edge_filter_split_100kbit.toml");
    let (sink, src) = own_placement_rates(&s);
    let want = 390.625 * 2.0 * 0.3 / 1.3;
    assert!((sink - want).abs() < 3.0, "sink {sink} want {want}");
    assert!((src - want / 0.3).abs() < 10.0, "source {src}");
    // Two crossing parts on one link, each half of its job edge.
    let t = Twin::with_edge(
        prepare(&s, &Overrides::default()).unwrap().setup,
        s.edge.clone(),
    );
    let parts: Vec<f64> = t.edge().cross.iter().map(|c| c.fraction).collect();
    assert_eq!(parts, vec![0.5, 0.5]);
    assert_eq!(t.edge().subtask_site[1], vec![0, 1]);
}

#[test]
fn a_vertex_on_pi_and_server_runs_at_parallelism_times_its_slowest_subtask() {
    let base = scenario("scenarios/edge_filter_500mbit.toml");
    let cap = |edge: &demeter_sim::cluster::EdgeSetup| {
        let t = Twin::with_edge(
            prepare(&base, &Overrides::default()).unwrap().setup,
            edge.clone(),
        );
        t.capacity_rps()[1]
    };
    let p = PlacementProblem::new(&base.edge, &base.model).unwrap();
    let mut pi = base.edge.clone();
    pi.op_site = p.placement(&base.model, &p.movable);
    let mut server = base.edge.clone();
    server.op_site = p.placement(&base.model, &[]);
    let mut split = server.clone();
    split.op_plan = vec![
        None,
        Some(demeter_sim::cluster::SubtaskPlan::Spread(vec![
            (0, 1),
            (1, 1),
        ])),
        None,
    ];
    let (c_pi, c_server, c_split) = (cap(&pi), cap(&server), cap(&split));
    assert!((c_pi / c_server - 0.3).abs() < 1e-9, "{c_pi} {c_server}");
    assert_eq!(c_split, c_pi);
    // A list that names one site for every subtask is the per-operator shorthand.
    let text = super::common::scenario_text("edge_filter_100kbit.toml");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("list.toml");
    std::fs::write(
        &f,
        text.replace(
            "\"EventsFilter\" = \"edge\"",
            "\"EventsFilter\" = [\"edge\", \"edge\"]",
        ),
    )
    .unwrap();
    let a = demeter_sim::scenario::load(&f).unwrap();
    let b = scenario("scenarios/edge_filter_100kbit.toml");
    assert_eq!(a.edge, b.edge);
}

#[test]
fn impossible_subtask_placements_name_the_operator_key() {
    let text = super::common::scenario_text("edge_filter_split_100kbit.toml");
    let filter = "\"EventsFilter\" = [\"edge\", \"cloud\"]";
    let cases = [
        // Wrong length for parallelism 2.
        (
            filter,
            "\"EventsFilter\" = [\"edge\"]",
            "placement.operators.\"EventsFilter\"",
            "one per subtask",
        ),
        // The Pi site has one node (index 0).
        (
            filter,
            "\"EventsFilter\" = [\"edge:1\", \"cloud\"]",
            "placement.operators.\"EventsFilter\"[0]",
            "node index",
        ),
        (
            filter,
            "\"EventsFilter\" = [\"edge\", \"moon\"]",
            "placement.operators.\"EventsFilter\"[1]",
            "site name",
        ),
        (
            filter,
            "\"EventsFilter\" = { spread = { edge = 0 } }",
            "placement.operators.\"EventsFilter\".spread.edge",
            "weight",
        ),
        (
            filter,
            "\"EventsFilter\" = 3",
            "placement.operators.\"EventsFilter\"",
            "spread",
        ),
    ];
    for (from, to, key, what) in cases {
        assert!(text.contains(from), "{from}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text.replace(from, to)).unwrap();
        let e = demeter_sim::scenario::load(&p).unwrap_err().to_string();
        assert!(
            e.contains("bad.toml") && e.contains(&format!("`{key}`")) && e.contains(what),
            "{to}: {e}"
        );
    }
    // 3 sources + 2 filter subtasks on a 4-core Pi without slot sharing: no slot for the
    // filter's second Pi subtask.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    let bad = text
        .replace("scale_out = 2 ", "scale_out = 3 ")
        .replace(filter, "\"EventsFilter\" = [\"edge\", \"edge\", \"cloud\"]");
    std::fs::write(&p, bad).unwrap();
    let e = demeter_sim::scenario::load(&p).unwrap_err().to_string();
    assert!(
        e.contains("`placement.operators.\"EventsFilter\"`")
            && e.contains("subtask 1")
            && e.contains("4 slots"),
        "{e}"
    );
}

#[test]
fn keyed_state_per_subtask_must_fit_the_node_it_is_pinned_to() {
    // q3's join holds 200 MB per subtask; a Pi node has 0.4 x 4 096 = 1 638 MB managed
    // memory. Inflate the state so one subtask fits a Pi and two do not.
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let model = std::fs::read_to_string(Path::new(root).join("models/nexmark_q3.toml"))
        .unwrap()
        .replace("state_mb = 200.0", "state_mb = 1000.0");
    std::fs::write(dir.path().join("q3.toml"), model).unwrap();
    let text = std::fs::read_to_string(Path::new(root).join("scenarios/edge_nexmark_q3.toml"))
        .unwrap()
        .replace("../models/nexmark_q3.toml", "q3.toml")
        .replace("../models/", &format!("{root}/models/"));
    assert!(text.contains("[placement.operators]"), "{text}");
    let with = |join: &str| {
        let p = dir.path().join("s.toml");
        std::fs::write(
            &p,
            text.replace(
                "[placement.operators]",
                &format!("[placement.operators]\n\"join\" = {join}"),
            ),
        )
        .unwrap();
        demeter_sim::scenario::load(&p)
    };
    // One join subtask on each Pi: fits. Both on Pi node 0: the second does not.
    let ok = with("[\"edge:0\", \"edge:1\"]");
    assert!(ok.is_ok(), "{:?}", ok.err());
    let e = with("[\"edge:0\", \"edge:0\"]").unwrap_err().to_string();
    assert!(
        e.contains("`placement.operators.\"join\"[1]`") && e.contains("MB"),
        "{e}"
    );
}

fn golden(file: &str) -> String {
    let s = scenario(file);
    let r = execute(prepare(&s, &Overrides::default()).unwrap(), |_, _| {});
    let mut summary = r.summary();
    summary.run = file.to_string();
    let mut out = String::new();
    writeln!(out, "{}", serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    let e = r.twin.energy();
    writeln!(out, "idle_energy_j {:.3}", e.idle_energy_j).unwrap();
    writeln!(out, "sink_records {:.3}", r.twin.sink_records_total()).unwrap();
    for ev in r
        .twin
        .events()
        .iter()
        .filter(|e| !e.kind.starts_with("checkpoint"))
        .take(8)
    {
        writeln!(
            out,
            "{:>10.3} {:<24} {}",
            ev.time.as_secs_f64(),
            ev.kind,
            ev.detail
        )
        .unwrap();
    }
    out
}

#[test]
fn golden_edge_filter_100kbit() {
    insta::assert_snapshot!(
        "edge_filter_100kbit",
        golden("scenarios/edge_filter_100kbit.toml")
    );
}

#[test]
fn golden_edge_nexmark_q3() {
    insta::assert_snapshot!("edge_nexmark_q3", golden("scenarios/edge_nexmark_q3.toml"));
}

/// Runs a scenario's policy by hand (observe, decide, apply every interval) for `secs`
/// seconds; returns the sink total at every second and the policy's actions with their times.
fn run_policy(s: &Scenario, secs: u64) -> (Vec<f64>, Vec<(u64, Action)>) {
    let prepared = prepare(s, &Overrides::default()).unwrap();
    let mut policy = prepared.policy;
    let mut b = SimBackend::new(Twin::with_edge(prepared.setup, s.edge.clone()));
    let every = policy.interval().as_ms() / 1000;
    let mut sink = vec![0.0];
    let mut actions = Vec::new();
    for t in 1..=secs {
        b.advance_until(SimTime::from_secs(t)).unwrap();
        sink.push(b.twin().sink_records_total());
        if t % every == 0 {
            let obs = b.observe().unwrap();
            for a in policy.decide(&obs) {
                b.apply(&a).unwrap();
                actions.push((t, a));
            }
        }
    }
    (sink, actions)
}

#[test]
fn the_placement_policy_moves_the_filter_to_the_pi_when_the_wan_is_the_bottleneck() {
    let s = scenario("scenarios/edge_placement_policy.toml");
    let (sink, actions) = run_policy(&s, 400);
    // One move, after the 60-s warm-up: the filter (operator 1) to the edge (site 0).
    assert_eq!(actions.len(), 1, "{actions:?}");
    let (t, a) = &actions[0];
    assert_eq!(*t, 60);
    assert_eq!(
        a,
        &Action::SetPlacement {
            op_site: vec![0, 0, 1]
        }
    );
    // Before: 0.3 x 390.6 = 117 rec/s at the sink; after the restart: 390.6.
    let before = (sink[60] - sink[30]) / 30.0;
    let after = (sink[400] - sink[200]) / 200.0;
    assert!((before - 117.2).abs() < 3.0, "{before}");
    assert!((after - 390.6).abs() < 3.0, "{after}");
}

#[test]
fn the_placement_policy_restart_is_charged_downtime_and_replay() {
    let s = scenario("scenarios/edge_placement_policy.toml");
    let r = execute(prepare(&s, &Overrides::default()).unwrap(), |_, _| {});
    let ev = r.twin.events();
    let changed = ev
        .iter()
        .position(|e| e.kind == "placement_changed")
        .unwrap();
    let restart = &ev[changed + 1];
    assert_eq!(restart.kind, "job_restarting", "{:?}", &ev[changed..]);
    // Checkpoints every 30 s, the move at 60 s: the records read since the last one replay.
    assert!(
        restart.detail.starts_with("Placement: replaying"),
        "{restart:?}"
    );
    let running = ev[changed..]
        .iter()
        .find(|e| e.kind == "job_running")
        .unwrap();
    assert!(running.time > restart.time, "downtime {running:?}");
    assert_eq!(r.twin.reconfigurations(), 1);
    assert_eq!(r.twin.restarts(), 1);
}

#[test]
fn the_placement_policy_leaves_the_placement_when_the_wan_is_not_the_bottleneck() {
    // The same deployment at 500 Mbit/s: nothing is back-pressured, nothing moves.
    let dir = tempfile::tempdir().unwrap();
    let text = super::common::scenario_text("edge_placement_policy.toml")
        .replace("bandwidth_bps = 100000.0", "bandwidth_bps = 500000000.0");
    let p = dir.path().join("fast.toml");
    std::fs::write(&p, text).unwrap();
    let s = demeter_sim::scenario::load(&p).unwrap();
    let (sink, actions) = run_policy(&s, 300);
    assert!(actions.is_empty(), "{actions:?}");
    let rate = (sink[300] - sink[100]) / 200.0;
    assert!((rate - 1500.0).abs() < 2.0, "{rate}");
}

#[test]
fn check_prints_the_node_and_slot_of_every_subtask() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_demeter-sim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "scenarios/edge_filter_split_100kbit.toml"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    // No slot sharing: the Pi's 4 slots hold 2 source + 1 filter subtasks.
    assert!(
        out.contains("  Source: SourceBid: 1/2 edge:0 slot 0, 2/2 edge:0 slot 1\n"),
        "{out}"
    );
    assert!(
        out.contains("  EventsFilter: 1/2 edge:0 slot 2, 2/2 cloud:0 slot 0\n"),
        "{out}"
    );
    assert!(
        out.contains("  Sink: DummyLatencySink: 1/2 cloud:0 slot 1, 2/2 cloud:0 slot 2\n"),
        "{out}"
    );
}

#[test]
fn a_spread_join_gets_half_of_each_hash_input_across_the_link() {
    // q3: filters in the cloud (p = 2), join spread over edge and cloud (1 + 1 subtasks).
    // keyBy is all-to-all: half of each filter's records go to the Pi subtask; the join ->
    // sink edge is forward: the Pi subtask's half crosses back.
    let text = super::common::scenario_text("edge_nexmark_q3.toml").replace(
        "[placement.operators]",
        "[placement.operators]\n\"join\" = { spread = { edge = 1, cloud = 1 } }",
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("spread.toml");
    std::fs::write(&p, text).unwrap();
    let s = demeter_sim::scenario::load(&p).unwrap();
    let t = Twin::with_edge(
        prepare(&s, &Overrides::default()).unwrap().setup,
        s.edge.clone(),
    );
    let g = t.graph();
    let join = g.vertices.iter().position(|v| v.name == "join").unwrap();
    assert_eq!(t.edge().subtask_site[join], vec![0, 1]);
    let into: Vec<f64> = t
        .edge()
        .cross
        .iter()
        .filter(|c| c.to == join)
        .map(|c| c.fraction)
        .collect();
    assert_eq!(into, vec![0.5, 0.5], "{:?}", t.edge().cross);
    let out: Vec<f64> = t
        .edge()
        .cross
        .iter()
        .filter(|c| c.from == join)
        .map(|c| c.fraction)
        .collect();
    assert_eq!(out, vec![0.5]);
    // The join's speed is the Pi's: its capacity is 2 x a Pi subtask's.
    assert!((t.edge().vertex_speed[join] - 0.3).abs() < 1e-12);
}
