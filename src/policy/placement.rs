//! `placement`: the design document's edge-placement cost model (placement::cost_model,
//! edge_energy.md §A1, §A8) as an online policy. It looks only at what Flink shows (busy and
//! back-pressured time, records in/out counters, the generators' offered load) plus what the
//! operator deploying the job knows statically (the job's operators and record sizes — Flink's
//! `numBytesOut / numRecordsOut` — and the sites of the cluster, given once through
//! [`Policy::attach`]). When the WAN is the bottleneck — a vertex that sends across a link is
//! back-pressured while its receiver on the other side is mostly idle — it computes the cost
//! model's recommendation from the observed metrics and, if it differs from the current
//! placement, applies it with `Action::SetPlacement` (a job restart from the latest checkpoint
//! in the twin: downtime + replay). Otherwise it leaves the placement alone.

use super::params::ParamReader;
use super::{reject_unknown, Action, JobState, Observation, Policy, PolicyError};
use crate::cluster::EdgeSetup;
use crate::flink::graph::JobGraph;
use crate::flink::model::JobModel;
use crate::placement::cost_model::{metrics_from_observation, recommend, CostModelParams};
use crate::placement::{check_feasible, usage, PlacementProblem};
use crate::time::SimDuration;

/// Parameter names of `[policy.params]` for `placement`.
pub const PLACEMENT_PARAMS: &[&str] = &[
    "interval_s",
    "warm_up_s",
    "u_max",
    "backpressure_ms",
    "receiver_busy_ms",
];

/// Parameters of the placement policy.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementParams {
    /// How often it decides (s).
    pub interval_s: u64,
    /// Seconds of RUNNING before it trusts the counters (after the start and every restart);
    /// DS2 uses warm-up windows for the same reason.
    pub warm_up_s: u64,
    /// Edge CPU ceiling of the cost model (edge_energy.md §A8: 0.7-0.8).
    pub u_max: f64,
    /// A WAN sender counts as held back when back-pressured at least this many ms per s
    /// (Flink's backPressuredTimeMsPerSecond; 500 = half of the time) [ASSUMED].
    pub backpressure_ms: f64,
    /// ... while its receiver across the link is busy less than this many ms per s [ASSUMED].
    pub receiver_busy_ms: f64,
}

impl Default for PlacementParams {
    fn default() -> Self {
        PlacementParams {
            interval_s: 30,
            warm_up_s: 60,
            u_max: 0.75,
            backpressure_ms: 500.0,
            receiver_busy_ms: 500.0,
        }
    }
}

impl PlacementParams {
    pub fn from_table(params: &toml::Table) -> Result<Self, PolicyError> {
        reject_unknown("placement", params, PLACEMENT_PARAMS)?;
        let d = PlacementParams::default();
        let r = ParamReader {
            policy: "placement",
            params,
        };
        let p = PlacementParams {
            interval_s: r.f64_in("interval_s", d.interval_s as f64, 1.0..=86_400.0)? as u64,
            warm_up_s: r.f64_in("warm_up_s", d.warm_up_s as f64, 0.0..=86_400.0)? as u64,
            u_max: r.f64_in("u_max", d.u_max, 0.01..=1.0)?,
            backpressure_ms: r.f64_in("backpressure_ms", d.backpressure_ms, 0.0..=1000.0)?,
            receiver_busy_ms: r.f64_in("receiver_busy_ms", d.receiver_busy_ms, 0.0..=1000.0)?,
        };
        Ok(p)
    }
}

/// What the policy knows about the deployment (static: the job and the cluster's sites).
struct Deployment {
    model: JobModel,
    edge: EdgeSetup,
    problem: PlacementProblem,
}

/// The cost model as an online placement policy.
pub struct PlacementPolicy {
    params: PlacementParams,
    deployment: Option<Deployment>,
    /// Offered load per second since the start (the generators' `/workload` endpoint).
    offered: Vec<f64>,
    /// Why the last decision did or did not move anything (for tests and logs).
    pub last_reason: String,
}

impl PlacementPolicy {
    pub fn new(params: PlacementParams) -> Self {
        PlacementPolicy {
            params,
            deployment: None,
            offered: Vec::new(),
            last_reason: "no decision yet".into(),
        }
    }

    fn graph(d: &Deployment) -> JobGraph {
        let chaining = d.edge.chaining.unwrap_or(d.model.spec.job.chaining);
        JobGraph::build_placed(&d.model, chaining, Some(&d.edge.chain_keys()))
    }

    /// The WAN-bound crossing edge, if any: (sender, receiver) vertex names.
    fn wan_bottleneck(
        &self,
        d: &Deployment,
        graph: &JobGraph,
        obs: &Observation,
        elapsed_s: f64,
    ) -> Option<(String, String)> {
        let site = |v: usize| d.edge.site_of_op(graph.vertices[v].operators[0]);
        for (u, outs) in graph.outputs.iter().enumerate() {
            for &c in outs {
                if site(u) == site(c) {
                    continue;
                }
                let (s, r) = (&obs.vertices[u], &obs.vertices[c]);
                let bp = s.backpressured_time_ms_total / elapsed_s;
                let busy = r.busy_time_ms_total / elapsed_s;
                if bp >= self.params.backpressure_ms && busy < self.params.receiver_busy_ms {
                    return Some((s.name.clone(), r.name.clone()));
                }
            }
        }
        None
    }
}

impl Policy for PlacementPolicy {
    fn name(&self) -> &str {
        "placement"
    }

    fn interval(&self) -> SimDuration {
        SimDuration::from_secs(self.params.interval_s)
    }

    fn attach(&mut self, model: &JobModel, edge: &EdgeSetup) {
        self.deployment = PlacementProblem::new(edge, model)
            .ok()
            .map(|problem| Deployment {
                model: model.clone(),
                edge: edge.clone(),
                problem,
            });
        if self.deployment.is_none() {
            self.last_reason =
                "no edge and cloud sites (or source and sink on one site): nothing to place".into();
        }
    }

    fn decide(&mut self, obs: &Observation) -> Vec<Action> {
        self.offered.extend_from_slice(&obs.workload_rps_since_last);
        let Some(d) = &self.deployment else {
            return Vec::new();
        };
        let elapsed_s = obs.time.saturating_since(obs.running_since).as_secs_f64();
        if obs.job_state != JobState::Running || elapsed_s < self.params.warm_up_s.max(1) as f64 {
            self.last_reason = "waiting for the job to run through its warm-up".into();
            return Vec::new();
        }
        let graph = Self::graph(d);
        if obs.vertices.len() != graph.len() {
            self.last_reason = "the observed vertices do not match the deployed job".into();
            return Vec::new();
        }
        let Some((from, to)) = self.wan_bottleneck(d, &graph, obs, elapsed_s) else {
            self.last_reason = "the WAN is not the bottleneck: placement left as it is".into();
            return Vec::new();
        };
        // Cost model inputs from the counters since the job started running. Vertices that
        // run at the edge were observed on edge cores: their busy time is scaled to the cloud
        // core the cost model reasons in.
        let edge_site = d.problem.edge_site;
        let cloud_site = d.problem.cloud_site;
        let ratio =
            d.edge.sites[edge_site].node_class.speed / d.edge.sites[cloud_site].node_class.speed;
        let mut metrics = metrics_from_observation(obs, &graph, &d.model);
        for (v, m) in metrics.iter_mut().enumerate() {
            if d.edge.site_of_op(graph.vertices[v].operators[0]) == edge_site {
                m.busy_time_ms_per_s *= ratio;
            }
        }
        let n = (elapsed_s as usize).min(self.offered.len());
        let offered = self.offered[self.offered.len() - n..].iter().sum::<f64>() / n.max(1) as f64;
        // Records the sources read since the job started running.
        let read = metrics
            .iter()
            .filter(|m| m.is_source)
            .map(|m| m.records_in_per_s)
            .sum::<f64>();
        let mut sources_only = d.edge.clone();
        sources_only.op_site = d.problem.placement(&d.model, &[]);
        sources_only.op_plan.clear();
        let params = CostModelParams {
            edge_speed_ratio: ratio,
            edge_cores: d.edge.sites[edge_site].cores(),
            edge_slots_used: usage(&sources_only, &d.model, &obs.config)[edge_site].slots,
            u_max: self.params.u_max,
            demand_scale: if read > 0.0 {
                (offered / read).max(1.0)
            } else {
                1.0
            },
            slot_sharing: d.edge.slot_sharing,
        };
        let r = recommend(&metrics, &params);
        let target = d.problem.placement(&d.model, &r.at_edge);
        if target == d.edge.op_site {
            self.last_reason = format!(
                "WAN-bound ({from} -> {to}) but the cost model keeps the current placement"
            );
            return Vec::new();
        }
        let mut next = d.edge.clone();
        next.op_site = target.clone();
        next.op_plan.clear();
        if let Err(e) = check_feasible(&next, &d.model, &obs.config) {
            self.last_reason = format!(
                "the cost model's placement does not fit: expected {}, found {}",
                e.expected, e.found
            );
            return Vec::new();
        }
        let moved: Vec<&str> = d
            .model
            .spec
            .operators
            .iter()
            .enumerate()
            .filter(|(i, _)| d.edge.site_of_op(*i) != target[*i])
            .map(|(_, o)| o.name.as_str())
            .collect();
        self.last_reason = format!(
            "WAN-bound ({from} -> {to}): moving {} ({})",
            moved.join(", "),
            r.explanations
                .iter()
                .filter(|e| e.offload)
                .map(|e| format!("{}: {}", e.vertex, e.reason))
                .collect::<Vec<_>>()
                .join("; ")
        );
        if let Some(d) = &mut self.deployment {
            d.edge = next;
        }
        vec![Action::SetPlacement { op_site: target }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        let mut t = toml::Table::new();
        t.insert("u_max".into(), toml::Value::Float(2.0));
        let e = PlacementParams::from_table(&t).unwrap_err().to_string();
        assert!(e.contains("`u_max`") && e.contains("0.01..=1"), "{e}");
        let mut t = toml::Table::new();
        t.insert("speed".into(), toml::Value::Float(2.0));
        assert!(PlacementParams::from_table(&t).is_err());
        let mut t = toml::Table::new();
        t.insert("interval_s".into(), toml::Value::Integer(10));
        assert_eq!(PlacementParams::from_table(&t).unwrap().interval_s, 10);
    }

    #[test]
    fn without_sites_it_does_nothing() {
        let mut p = PlacementPolicy::new(PlacementParams::default());
        let model = crate::scenario::load_model(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/placement_filter.toml"
        )))
        .unwrap();
        p.attach(&model, &EdgeSetup::default());
        assert!(p
            .decide(&super::super::testing::observation(600))
            .is_empty());
        assert!(p.last_reason.contains("no edge"), "{}", p.last_reason);
    }
}
