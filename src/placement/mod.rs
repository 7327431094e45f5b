//! Operator placement on edge (Raspberry Pi) + cloud sites behind a WAN: feasibility (slots,
//! memory, links), the design document's cost model computed from observed metrics only, and
//! exhaustive / greedy searches that run the twin to judge the cost model against the optimum.
//!
//! Units of placement are the job model's operators (per-operator, hence per-vertex placement:
//! every subtask of an operator runs on the same site; subtask-level placement is not modelled).
//! Sources stay on the site the scenario puts them (data is produced there) and sinks on the
//! scenario's default site (results are consumed in the cloud); everything in between may move.
//! Only "upstream-closed" placements are considered (edge_energy.md §A8: never edge -> cloud ->
//! edge): an operator may run at the edge only if all its inputs do.

pub mod cost_model;
pub mod search;

pub use cost_model::{recommend, CostModelParams, OperatorMetrics, Recommendation};
pub use search::{evaluate, search, Outcome, Strategy};

use crate::cluster::EdgeSetup;
use crate::flink::graph::JobGraph;
use crate::flink::model::JobModel;
use crate::flink::JobConfig;

/// Flink's `taskmanager.memory.managed.fraction` default (0.4): the share of a node's memory
/// that may hold operator state; a site's operators must keep their state within it.
pub const MANAGED_MEMORY_FRACTION: f64 = 0.4;

/// Why a placement is not feasible, in the scenario-error shape (expected / found).
#[derive(Clone, Debug, PartialEq)]
pub struct Infeasible {
    pub expected: String,
    pub found: String,
}

/// Slots, memory and links a placement needs, per site.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteUsage {
    pub slots: u32,
    pub state_mb: f64,
}

/// Slots (one per subtask without slot sharing, the largest parallelism with it) and state per
/// site for `edge.op_site`.
pub fn usage(edge: &EdgeSetup, model: &JobModel, config: &JobConfig) -> Vec<SiteUsage> {
    let chaining = edge.chaining.unwrap_or(model.spec.job.chaining);
    let graph = JobGraph::build_placed(model, chaining, Some(&edge.op_site));
    let max_par = model.spec.job.max_parallelism;
    let mut out = vec![
        SiteUsage {
            slots: 0,
            state_mb: 0.0
        };
        edge.sites.len().max(1)
    ];
    for (v, vx) in graph.vertices.iter().enumerate() {
        let s = edge.site_of_op(vx.operators[0]);
        let p = config.parallelism(v).clamp(1, max_par);
        let u = &mut out[s];
        u.slots = if edge.slot_sharing {
            u.slots.max(p)
        } else {
            u.slots + p
        };
        u.state_mb += vx.state_mb;
    }
    out
}

/// Checks that every site has the slots (= cores, as in the placement experiments) and the
/// memory for its operators, and that every job edge between two sites has a WAN link.
pub fn check_feasible(
    edge: &EdgeSetup,
    model: &JobModel,
    config: &JobConfig,
) -> Result<(), Infeasible> {
    let ops = &model.spec.operators;
    for (i, op) in ops.iter().enumerate() {
        for input in &op.inputs_or_previous(i, ops) {
            let (a, b) = (edge.site_of_op(*input), edge.site_of_op(i));
            if a != b && edge.link_between(a, b).is_none() {
                return Err(Infeasible {
                    expected: format!(
                        "a [[cluster.links]] entry between sites {:?} and {:?} (operator {:?} -> {:?})",
                        edge.sites[a].name, edge.sites[b].name, ops[*input].name, op.name
                    ),
                    found: "no link".into(),
                });
            }
        }
    }
    for (s, u) in usage(edge, model, config).iter().enumerate() {
        let site = &edge.sites[s];
        if u.slots > site.cores() {
            return Err(Infeasible {
                expected: format!(
                    "at most {} slots at site {:?} ({} x {} cores; one slot per core)",
                    site.cores(),
                    site.name,
                    site.nodes,
                    site.node_class.cores
                ),
                found: format!(
                    "{} subtasks (slot sharing {})",
                    u.slots,
                    if edge.slot_sharing { "on" } else { "off" }
                ),
            });
        }
        let mem = site.memory_mb() * MANAGED_MEMORY_FRACTION;
        if u.state_mb > mem {
            return Err(Infeasible {
                expected: format!(
                    "at most {mem:.0} MB of operator state at site {:?} (managed memory {} of {} MB)",
                    site.name,
                    MANAGED_MEMORY_FRACTION,
                    site.memory_mb()
                ),
                found: format!("{:.0} MB", u.state_mb),
            });
        }
    }
    Ok(())
}

/// Which operators may move, which are pinned, and the two sites of the decision.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementProblem {
    /// The site of the sources (the edge).
    pub edge_site: usize,
    /// The scenario's default site (the cloud).
    pub cloud_site: usize,
    /// Operators that may run on either site (not sources, not sinks), in model order.
    pub movable: Vec<usize>,
    /// Inputs of each operator (resolved).
    pub inputs: Vec<Vec<usize>>,
}

impl PlacementProblem {
    /// Reads the problem off a scenario's edge setup: sources' site = edge, sinks' site = cloud.
    pub fn new(edge: &EdgeSetup, model: &JobModel) -> Result<PlacementProblem, String> {
        use crate::flink::model::OperatorKind;
        let ops = &model.spec.operators;
        if edge.sites.len() < 2 {
            return Err("placement needs at least two [[cluster.sites]]".into());
        }
        let edge_site = edge.site_of_op(0);
        let sink = ops
            .iter()
            .position(|o| o.kind == OperatorKind::Sink)
            .unwrap_or(ops.len() - 1);
        let cloud_site = edge.site_of_op(sink);
        if edge_site == cloud_site {
            return Err(format!(
                "the source and the sink are both on site {:?}: put the source on the edge site",
                edge.sites[edge_site].name
            ));
        }
        let inputs = (0..ops.len())
            .map(|i| ops[i].inputs_or_previous(i, ops))
            .collect();
        let movable = ops
            .iter()
            .enumerate()
            .filter(|(_, o)| !matches!(o.kind, OperatorKind::Source | OperatorKind::Sink))
            .map(|(i, _)| i)
            .collect();
        Ok(PlacementProblem {
            edge_site,
            cloud_site,
            movable,
            inputs,
        })
    }

    /// The placement with the sources on the edge, `at_edge` operators on the edge and every
    /// other operator in the cloud.
    pub fn placement(&self, model: &JobModel, at_edge: &[usize]) -> Vec<usize> {
        use crate::flink::model::OperatorKind;
        model
            .spec
            .operators
            .iter()
            .enumerate()
            .map(|(i, o)| {
                if o.kind == OperatorKind::Source || at_edge.contains(&i) {
                    self.edge_site
                } else {
                    self.cloud_site
                }
            })
            .collect()
    }

    /// Whether `at_edge` is upstream-closed: every input of an edge operator is on the edge.
    pub fn is_closed(&self, model: &JobModel, at_edge: &[usize]) -> bool {
        use crate::flink::model::OperatorKind;
        let on_edge =
            |i: usize| model.spec.operators[i].kind == OperatorKind::Source || at_edge.contains(&i);
        at_edge
            .iter()
            .all(|&i| self.inputs[i].iter().all(|&u| on_edge(u)))
    }
}

/// Operator names placed on each site, for printing (`edge: a, b | cloud: c`).
pub fn describe(edge: &EdgeSetup, model: &JobModel, op_site: &[usize]) -> String {
    let mut parts = Vec::new();
    for (s, site) in edge.sites.iter().enumerate() {
        let names: Vec<&str> = model
            .spec
            .operators
            .iter()
            .enumerate()
            .filter(|(i, _)| op_site.get(*i).copied().unwrap_or(0) == s)
            .map(|(_, o)| o.name.as_str())
            .collect();
        if !names.is_empty() {
            parts.push(format!("{}: {}", site.name, names.join(", ")));
        }
    }
    parts.join(" | ")
}
