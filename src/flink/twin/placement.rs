//! Edge placement: a new site per operator (a rescheduling restart), the per-vertex state rebuilt
//! for it, and the powered nodes of a homogeneous cluster.

use super::metrics::latency_path;
use super::{JobStatus, RestartCause, Twin, VertexSecond};
use crate::flink::edge::EdgeState;
use crate::flink::graph::JobGraph;

impl Twin {
    /// Changes the site of every operator (all its subtasks; per-subtask plans are dropped).
    /// In Flink a new placement needs the job rescheduled (the flink-placement custom
    /// scheduler places subtasks when the job is scheduled; edge_energy.md §A1: "else restart
    /// with the new placement"): the job restarts from its latest completed checkpoint —
    /// downtime (restart delay, deployment, state restore) plus the replay of everything read
    /// since that checkpoint. TaskManagers stay. Refused without sites, while not running, or
    /// for a placement that names unknown sites.
    pub fn set_placement(&mut self, op_site: Vec<usize>) -> Result<(), String> {
        if !self.edge.setup.is_heterogeneous() {
            return Err("placement needs [[cluster.sites]] in the scenario".into());
        }
        if self.status != JobStatus::Running {
            return Err(format!("job is {:?}, not running", self.status));
        }
        if self.pending_redeploy.is_some() {
            return Err("a redeploy is in progress".into());
        }
        let ops = self.setup.model.spec.operators.len();
        let sites = self.edge.setup.sites.len();
        if op_site.len() != ops || op_site.iter().any(|&s| s >= sites) {
            return Err(format!(
                "expected {ops} site indices < {sites}, got {op_site:?}"
            ));
        }
        self.rebuild_for_placement(op_site);
        self.reconfigurations += 1;
        self.restart(RestartCause::Placement);
        Ok(())
    }

    /// Rebuilds the graph and every per-vertex array for a new placement (during a redeploy).
    fn rebuild_for_placement(&mut self, op_site: Vec<usize>) {
        let mut setup = self.edge.setup.clone();
        setup.op_site = op_site;
        setup.op_plan.clear();
        let chaining = setup.chaining.unwrap_or(self.setup.model.spec.job.chaining);
        let graph = JobGraph::build_placed(&self.setup.model, chaining, Some(&setup.chain_keys()));
        let totals = self.edge.totals.clone();
        let power = std::mem::take(&mut self.edge.power_w);
        let link_up = self.edge.link_up.clone();
        self.edge = EdgeState::new(setup, &graph, self.setup.node_speed);
        self.edge.totals = totals;
        self.edge.power_w = power;
        self.edge.link_up = link_up;
        let n = graph.len();
        if n != self.graph.len() {
            // Per-vertex overrides no longer name the same vertices.
            self.config.parallelism_overrides.clear();
        }
        self.on_latency_path = latency_path(&graph);
        self.graph = graph;
        self.parallelism = vec![0; n];
        self.queued = vec![0.0; n];
        self.buffer_capacity = vec![0.0; n];
        self.base_capacity_rps = vec![0.0; n];
        self.load_skew = vec![1.0; n];
        self.per_subtask_rps = vec![0.0; n];
        self.slot_demand = vec![0.0; n];
        self.second_acc = vec![VertexSecond::default(); n];
        self.totals = vec![VertexSecond::default(); n];
        self.last_second = vec![VertexSecond::default(); n];
        let text = self
            .edge
            .setup
            .op_site
            .iter()
            .map(|&s| self.edge.setup.sites[s].name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.log("placement_changed", text);
        self.apply_parallelism();
    }

    /// Powered nodes of the homogeneous twin: enough for the TaskManagers' cores, at least
    /// the scenario's `node_count`.
    pub(super) fn homogeneous_nodes(&self) -> u32 {
        let tms = self.tm_registered.max(self.tm_target) as f64;
        let cores = self.edge.setup.energy_node.cores.max(1) as f64;
        let needed = (tms * self.config.cpu / cores).ceil() as u32;
        needed.max(self.edge.setup.node_count.unwrap_or(0))
    }
}
