//! Operator placement on edge (Raspberry Pi) + cloud sites behind a WAN: feasibility (slots,
//! memory, links), the design document's cost model computed from observed metrics only, and
//! exhaustive / greedy searches that run the twin to judge the cost model against the optimum.
//!
//! Scenarios may place every subtask (`[placement.operators]` lists and spread rules, see
//! `cluster::SubtaskPlan`); [`assign_slots`] gives each subtask a node and a slot and refuses
//! what does not fit. The searches and the cost model move whole operators (every subtask of
//! an operator on one site), as the design document's cost model does. Sources stay on the site the scenario puts them (data is produced there) and sinks on the
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

/// Why a placement is not feasible, in the scenario-error shape (key / expected / found).
#[derive(Clone, Debug, PartialEq)]
pub struct Infeasible {
    /// The scenario key to fix (`placement.operators."name"`, or `placement`).
    pub key: String,
    pub expected: String,
    pub found: String,
}

/// Slots and state a placement needs, per site.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteUsage {
    pub slots: u32,
    pub state_mb: f64,
}

/// Where one subtask runs: site, node of the site, slot of the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotAssignment {
    pub site: usize,
    pub node: u32,
    pub slot: u32,
}

/// One vertex's subtasks and where each runs.
#[derive(Clone, Debug, PartialEq)]
pub struct VertexSlots {
    pub vertex: String,
    /// The operator whose `[placement.operators]` entry places the vertex (errors name it).
    pub operator: String,
    pub subtasks: Vec<SlotAssignment>,
}

fn graph_of(edge: &EdgeSetup, model: &JobModel) -> JobGraph {
    let chaining = edge.chaining.unwrap_or(model.spec.job.chaining);
    JobGraph::build_placed(model, chaining, Some(&edge.chain_keys()))
}

/// Slots (one per subtask without slot sharing; with it, per node the most subtasks of any one
/// vertex) and keyed state (per subtask) per site, counted from the subtasks' sites.
pub fn usage(edge: &EdgeSetup, model: &JobModel, config: &JobConfig) -> Vec<SiteUsage> {
    let graph = graph_of(edge, model);
    let max_par = model.spec.job.max_parallelism;
    let mut out = vec![
        SiteUsage {
            slots: 0,
            state_mb: 0.0
        };
        edge.sites.len().max(1)
    ];
    for (v, vx) in graph.vertices.iter().enumerate() {
        let p = config.parallelism(v).clamp(1, max_par);
        let mut here = vec![0u32; out.len()];
        for st in edge.subtasks_of_op(vx.operators[0], p) {
            here[st.site.min(out.len() - 1)] += 1;
        }
        for (s, n) in here.into_iter().enumerate() {
            let u = &mut out[s];
            u.slots = if edge.slot_sharing {
                u.slots.max(n)
            } else {
                u.slots + n
            };
            u.state_mb += vx.state_mb * n as f64;
        }
    }
    out
}

/// Assigns every subtask a node and a slot, vertex by vertex in topological order: a subtask
/// with a node named goes there, any other to the first node of its site with a free slot
/// (slots = cores, one subtask per slot as in the placement experiments; with slot sharing a
/// slot holds one subtask of each vertex) whose managed memory (`MANAGED_MEMORY_FRACTION` of
/// the node's) still holds the subtask's keyed state.
pub fn assign_slots(
    edge: &EdgeSetup,
    model: &JobModel,
    config: &JobConfig,
) -> Result<Vec<VertexSlots>, Infeasible> {
    let graph = graph_of(edge, model);
    let max_par = model.spec.job.max_parallelism;
    let ops = &model.spec.operators;
    // Per site, per node: slots taken (no sharing) and state held.
    let mut taken: Vec<Vec<u32>> = edge
        .sites
        .iter()
        .map(|s| vec![0; s.nodes as usize])
        .collect();
    let mut state: Vec<Vec<f64>> = edge
        .sites
        .iter()
        .map(|s| vec![0.0; s.nodes as usize])
        .collect();
    let mut out = Vec::new();
    for (v, vx) in graph.vertices.iter().enumerate() {
        let op = vx.operators[0];
        let key = if edge.plan_of_op(op).is_some() || edge.op_site.get(op).is_some() {
            format!("placement.operators.{:?}", ops[op].name)
        } else {
            "placement".to_string()
        };
        let p = config.parallelism(v).clamp(1, max_par);
        // With slot sharing: subtasks of this vertex per node (one per slot).
        let mut mine: Vec<Vec<u32>> = edge
            .sites
            .iter()
            .map(|s| vec![0; s.nodes as usize])
            .collect();
        let mut subtasks = Vec::new();
        for (i, st) in edge.subtasks_of_op(op, p).into_iter().enumerate() {
            let site = &edge.sites[st.site];
            let cores = site.node_class.cores;
            let mem = site.node_class.memory_mb as f64 * MANAGED_MEMORY_FRACTION;
            let used = |n: usize, taken: &Vec<Vec<u32>>, mine: &Vec<Vec<u32>>| {
                if edge.slot_sharing {
                    mine[st.site][n]
                } else {
                    taken[st.site][n]
                }
            };
            let fits = |n: usize| {
                used(n, &taken, &mine) < cores && state[st.site][n] + vx.state_mb <= mem + 1e-9
            };
            let node = match st.node {
                Some(n) => n as usize,
                None => match (0..site.nodes as usize).find(|&n| fits(n)) {
                    Some(n) => n,
                    None => {
                        return Err(Infeasible {
                            key,
                            expected: format!(
                                "room for subtask {i} of {:?} at site {:?}: {} node(s) x {} slots (one per core) and {:.0} MB managed memory each ({} of {} MB); slot sharing {}",
                                vx.name,
                                site.name,
                                site.nodes,
                                cores,
                                mem,
                                MANAGED_MEMORY_FRACTION,
                                site.node_class.memory_mb,
                                if edge.slot_sharing { "on" } else { "off" }
                            ),
                            found: format!(
                                "every node full ({} subtasks of {:?} at parallelism {p}; {:.0} MB state each)",
                                i + 1,
                                vx.name,
                                vx.state_mb
                            ),
                        })
                    }
                },
            };
            if !fits(node) {
                return Err(Infeasible {
                    key: format!("{key}[{i}]"),
                    expected: format!(
                        "a free slot and {:.0} MB of managed memory on node {node} of site {:?} ({} slots, {:.0} MB)",
                        vx.state_mb, site.name, cores, mem
                    ),
                    found: format!(
                        "{} slots taken, {:.0} MB of state",
                        used(node, &taken, &mine),
                        state[st.site][node]
                    ),
                });
            }
            let slot = used(node, &taken, &mine);
            if edge.slot_sharing {
                mine[st.site][node] += 1;
                taken[st.site][node] = taken[st.site][node].max(mine[st.site][node]);
            } else {
                taken[st.site][node] += 1;
            }
            state[st.site][node] += vx.state_mb;
            subtasks.push(SlotAssignment {
                site: st.site,
                node: node as u32,
                slot,
            });
        }
        out.push(VertexSlots {
            vertex: vx.name.clone(),
            operator: ops[op].name.clone(),
            subtasks,
        });
    }
    // Every pair of sites that exchanges records needs a link.
    for (c, vx) in graph.vertices.iter().enumerate() {
        for &(u, ship) in &vx.inputs {
            let up: Vec<usize> = out[u].subtasks.iter().map(|a| a.site).collect();
            let down: Vec<usize> = out[c].subtasks.iter().map(|a| a.site).collect();
            for (a, b, _, _) in crate::flink::edge::traffic_pairs(&up, &down, ship) {
                if a != b && edge.link_between(a, b).is_none() {
                    return Err(Infeasible {
                        key: format!("placement.operators.{:?}", out[c].operator),
                        expected: format!(
                            "a [[cluster.links]] entry between sites {:?} and {:?} ({:?} -> {:?})",
                            edge.sites[a].name, edge.sites[b].name, out[u].vertex, vx.name
                        ),
                        found: "no link".into(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// One line per vertex: `  <vertex> (i/n) -> site/node/slot, ...`.
pub fn describe_slots(edge: &EdgeSetup, slots: &[VertexSlots]) -> String {
    let mut out = String::new();
    for v in slots {
        let n = v.subtasks.len();
        let parts: Vec<String> = v
            .subtasks
            .iter()
            .enumerate()
            .map(|(i, a)| {
                format!(
                    "{}/{n} {}:{} slot {}",
                    i + 1,
                    edge.sites[a.site].name,
                    a.node,
                    a.slot
                )
            })
            .collect();
        out.push_str(&format!("  {}: {}\n", v.vertex, parts.join(", ")));
    }
    out
}

/// Checks that every subtask gets a slot (= a core, as in the placement experiments) and the
/// managed memory for its state on a node of its site, and that every pair of sites that
/// exchanges records has a WAN link.
pub fn check_feasible(
    edge: &EdgeSetup,
    model: &JobModel,
    config: &JobConfig,
) -> Result<(), Infeasible> {
    assign_slots(edge, model, config).map(|_| ())
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
