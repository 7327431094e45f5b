//! Placement strategies and their evaluation in the twin: the cost model (metrics only), an
//! exhaustive search over upstream-closed placements (small jobs), a greedy search that adds
//! one operator at a time while the twin says it helps (large jobs), and the two baselines.
//!
//! Every candidate is judged by running the twin on the scenario with that placement for a
//! warm-up plus a measurement window under the static policy: sink throughput first (higher
//! is better, ties within 0.5 %), then WAN bytes, then energy (lower is better).

use crate::backend::{Backend, SimBackend};
use crate::flink::Twin;
use crate::scenario::Scenario;
use crate::simulate::{prepare, Overrides};
use crate::time::{SimDuration, SimTime};

use super::cost_model::{metrics_from_observation, recommend, CostModelParams, Explanation};
use super::{check_feasible, describe, usage, PlacementProblem};

/// How to choose a placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// The design document's cost model on metrics of a sources-only-edge run.
    CostModel,
    /// Every upstream-closed placement, each run in the twin (up to 16 movable operators).
    Exhaustive,
    /// Start from sources-only-edge, add the operator that helps most, until none helps.
    Greedy,
    /// Everything in the cloud; the raw input crosses the WAN into the cloud's Kafka.
    AllCloud,
    /// Sources at the edge, everything else in the cloud (the cost model's baseline).
    SourcesOnlyEdge,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::CostModel => "cost-model",
            Strategy::Exhaustive => "exhaustive",
            Strategy::Greedy => "greedy",
            Strategy::AllCloud => "all-cloud",
            Strategy::SourcesOnlyEdge => "sources-only-edge",
        }
    }
    pub const ALL: [Strategy; 5] = [
        Strategy::AllCloud,
        Strategy::SourcesOnlyEdge,
        Strategy::CostModel,
        Strategy::Greedy,
        Strategy::Exhaustive,
    ];
}

/// What one placement achieved in the twin's measurement window.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub strategy: String,
    /// Site index per operator.
    pub op_site: Vec<usize>,
    pub placement: String,
    pub sink_rps: f64,
    pub source_rps: f64,
    pub latency_ms_mean: Option<f64>,
    pub wan_bytes_per_s: f64,
    /// Busy cores on the cloud site (server cores used).
    pub cloud_cores_busy: f64,
    pub edge_slots: u32,
    pub power_w: f64,
    pub energy_j: f64,
    /// Placements the strategy ran in the twin to decide.
    pub evaluations: u32,
}

/// Runs the scenario with `op_site` (and, for all-cloud, the input produced at `ingest_site`)
/// for `warmup + measure` and reports the measurement window.
pub fn evaluate(
    scenario: &Scenario,
    op_site: &[usize],
    ingest_site: Option<usize>,
    warmup: SimDuration,
    measure: SimDuration,
) -> Result<Outcome, String> {
    let mut edge = scenario.edge.clone();
    edge.op_site = op_site.to_vec();
    edge.op_plan.clear();
    edge.ingest_site = ingest_site;
    check_feasible(&edge, &scenario.model, &scenario.config)
        .map_err(|e| format!("infeasible: expected {}, found {}", e.expected, e.found))?;
    let cloud = op_site.last().copied().unwrap_or(0);
    let edge_slots: u32 = usage(&edge, &scenario.model, &scenario.config)
        .iter()
        .enumerate()
        .filter(|(s, _)| *s != cloud)
        .map(|(_, u)| u.slots)
        .sum();
    let overrides = Overrides {
        policy: Some("static".into()),
        duration: Some(warmup + measure),
        ..Overrides::default()
    };
    let prepared = prepare(scenario, &overrides).map_err(|e| e.to_string())?;
    let placement = describe(&edge, &scenario.model, op_site);
    let mut twin = Twin::with_edge(prepared.setup, edge);
    let t0 = SimTime::ZERO + warmup;
    twin.advance_until(t0);
    let (sink0, src0, e0, wan0, busy0) = snapshot(&twin, cloud);
    twin.advance_until(t0 + measure);
    let (sink1, src1, e1, wan1, busy1) = snapshot(&twin, cloud);
    let secs = measure.as_secs_f64();
    let from = twin.start_epoch() + (warmup.as_ms() / 1000) as i64;
    let lat: Vec<f64> = twin
        .series()
        .latency_ms
        .points
        .iter()
        .filter(|p| p.0 >= from)
        .map(|p| p.1)
        .collect();
    Ok(Outcome {
        strategy: String::new(),
        op_site: op_site.to_vec(),
        placement,
        sink_rps: (sink1 - sink0) / secs,
        source_rps: (src1 - src0) / secs,
        latency_ms_mean: (!lat.is_empty()).then(|| lat.iter().sum::<f64>() / lat.len() as f64),
        wan_bytes_per_s: (wan1 - wan0) / secs,
        cloud_cores_busy: (busy1 - busy0) / secs,
        edge_slots,
        power_w: (e1 - e0) / secs,
        energy_j: e1 - e0,
        evaluations: 1,
    })
}

fn snapshot(t: &Twin, cloud: usize) -> (f64, f64, f64, f64, f64) {
    let e = t.energy();
    (
        t.sink_records_total(),
        t.records_consumed_total(),
        e.energy_j,
        e.wan_bytes,
        t.edge().busy_core_s_total(cloud),
    )
}

/// Orders outcomes: more sink throughput (beyond 0.5 %), then fewer WAN bytes, then energy.
pub fn better(a: &Outcome, b: &Outcome) -> bool {
    let tol = 0.005 * a.sink_rps.max(b.sink_rps);
    if (a.sink_rps - b.sink_rps).abs() > tol {
        return a.sink_rps > b.sink_rps;
    }
    if (a.wan_bytes_per_s - b.wan_bytes_per_s).abs() > 1e-6 * a.wan_bytes_per_s.max(1.0) {
        return a.wan_bytes_per_s < b.wan_bytes_per_s;
    }
    a.energy_j < b.energy_j
}

/// A strategy's pick with the cost model's reasons (cost model only).
#[derive(Clone, Debug)]
pub struct Choice {
    pub outcome: Outcome,
    pub explanations: Vec<Explanation>,
}

/// Windows of a placement evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Windows {
    pub warmup: SimDuration,
    pub measure: SimDuration,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            warmup: SimDuration::from_secs(60),
            measure: SimDuration::from_secs(120),
        }
    }
}

/// Chooses a placement with `strategy` and evaluates it.
pub fn search(scenario: &Scenario, strategy: Strategy, w: Windows) -> Result<Choice, String> {
    let problem = PlacementProblem::new(&scenario.edge, &scenario.model)?;
    let model = &scenario.model;
    let eval = |at_edge: &[usize]| {
        evaluate(
            scenario,
            &problem.placement(model, at_edge),
            None,
            w.warmup,
            w.measure,
        )
    };
    let mut explanations = Vec::new();
    let mut outcome = match strategy {
        Strategy::SourcesOnlyEdge => eval(&[])?,
        Strategy::AllCloud => {
            let all = vec![problem.cloud_site; model.spec.operators.len()];
            evaluate(scenario, &all, Some(problem.edge_site), w.warmup, w.measure)?
        }
        Strategy::CostModel => {
            let (params, metrics) = baseline_metrics(scenario, &problem, w)?;
            let r = recommend(&metrics, &params);
            explanations = r.explanations;
            let mut o = eval(&r.at_edge)?;
            o.evaluations = 2; // the baseline run and the check of the pick
            o
        }
        Strategy::Exhaustive => {
            if problem.movable.len() > 16 {
                return Err(format!(
                    "{} movable operators: exhaustive search is for <= 16, use greedy",
                    problem.movable.len()
                ));
            }
            let mut best: Option<Outcome> = None;
            let mut n = 0;
            for mask in 0u32..(1u32 << problem.movable.len()) {
                let at_edge: Vec<usize> = problem
                    .movable
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| mask & (1 << k) != 0)
                    .map(|(_, &i)| i)
                    .collect();
                if !problem.is_closed(model, &at_edge) {
                    continue;
                }
                let Ok(o) = eval(&at_edge) else { continue };
                n += 1;
                if best.as_ref().is_none_or(|b| better(&o, b)) {
                    best = Some(o);
                }
            }
            let mut o = best.ok_or("no feasible placement")?;
            o.evaluations = n;
            o
        }
        Strategy::Greedy => {
            let mut at_edge: Vec<usize> = Vec::new();
            let mut cur = eval(&at_edge)?;
            let mut n = 1;
            loop {
                let mut step: Option<(Outcome, usize)> = None;
                for &i in &problem.movable {
                    if at_edge.contains(&i) {
                        continue;
                    }
                    let mut cand = at_edge.clone();
                    cand.push(i);
                    if !problem.is_closed(model, &cand) {
                        continue;
                    }
                    let Ok(o) = eval(&cand) else { continue };
                    n += 1;
                    let base = step.as_ref().map(|s| &s.0).unwrap_or(&cur);
                    if better(&o, base) {
                        step = Some((o, i));
                    }
                }
                match step {
                    Some((o, i)) => {
                        at_edge.push(i);
                        cur = o;
                    }
                    None => break,
                }
            }
            cur.evaluations = n;
            cur
        }
    };
    outcome.strategy = strategy.name().to_string();
    Ok(Choice {
        outcome,
        explanations,
    })
}

/// Step (1) of the design document: run with only the sources at the edge, observe as Flink
/// would show it, and turn the observation into the cost model's inputs.
fn baseline_metrics(
    scenario: &Scenario,
    problem: &PlacementProblem,
    w: Windows,
) -> Result<(CostModelParams, Vec<super::OperatorMetrics>), String> {
    let op_site = problem.placement(&scenario.model, &[]);
    let mut edge = scenario.edge.clone();
    edge.op_site = op_site;
    edge.op_plan.clear();
    let overrides = Overrides {
        policy: Some("static".into()),
        duration: Some(w.warmup + w.measure),
        ..Overrides::default()
    };
    let prepared = prepare(scenario, &overrides).map_err(|e| e.to_string())?;
    let twin = Twin::with_edge(prepared.setup, edge.clone());
    let graph = twin.graph().clone();
    let mut backend = SimBackend::new(twin);
    backend
        .advance_until(SimTime::ZERO + w.warmup + w.measure)
        .map_err(|e| e.to_string())?;
    let obs = backend.observe().map_err(|e| e.to_string())?;
    let mut metrics = metrics_from_observation(&obs, &graph, &scenario.model);
    // The sources ran on edge cores: scale their busy time to the cloud core the cost model
    // reasons in (it divides by the speed ratio again for the edge CPU it predicts).
    let ratio = edge.sites[problem.edge_site].node_class.speed
        / edge.sites[problem.cloud_site].node_class.speed;
    for (v, m) in metrics.iter_mut().enumerate() {
        if edge.site_of_op(graph.vertices[v].operators[0]) == problem.edge_site {
            m.busy_time_ms_per_s *= ratio;
        }
    }
    // Offered load (Kafka's produced records, a broker metric) over what the sources read.
    let span = w.warmup + w.measure;
    let offered: f64 = backend
        .twin()
        .workload_history()
        .iter()
        .take((span.as_ms() / 1000) as usize)
        .sum::<f64>()
        / span.as_secs_f64();
    let read = obs.source_records_in_total / span.as_secs_f64();
    let site = &edge.sites[problem.edge_site];
    let cloud = &edge.sites[problem.cloud_site];
    let used = usage(&edge, &scenario.model, &scenario.config)[problem.edge_site].slots;
    Ok((
        CostModelParams {
            edge_speed_ratio: site.node_class.speed / cloud.node_class.speed,
            edge_cores: site.cores(),
            edge_slots_used: used,
            u_max: 0.75, // edge_energy.md §A8: 0.7-0.8
            demand_scale: if read > 0.0 {
                (offered / read).max(1.0)
            } else {
                1.0
            },
            slot_sharing: edge.slot_sharing,
        },
        metrics,
    ))
}
