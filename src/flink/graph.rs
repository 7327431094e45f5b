//! The job graph: operators fused into vertices (Flink tasks) by chaining, and the edges between them.
//!
//! A vertex is what Flink schedules and reports metrics for (busy time, records in/out); its
//! per-record cost is the sum of its chained operators' costs weighted by how many records reach
//! each of them, plus (de)serialization on network edges.

use super::model::{JobModel, OperatorKind, ShipStrategy};

/// One Flink job vertex: a chain of operators.
#[derive(Clone, Debug, PartialEq)]
pub struct Vertex {
    /// Flink-style name: the chained operator names joined by " -> ".
    pub name: String,
    /// Indices into the model's operator list, in chain order.
    pub operators: Vec<usize>,
    /// Upstream vertices and how records reach this vertex from each.
    pub inputs: Vec<(usize, ShipStrategy)>,
    /// CPU time per input record of this vertex at the reference resources (µs).
    pub cost_us_per_record: f64,
    /// Output records per input record of the whole chain.
    pub selectivity: f64,
    pub is_source: bool,
    pub is_window: bool,
    /// Window residence of a record passing through this vertex (ms).
    pub window_residence_ms: f64,
    /// Keyed state per subtask (MB).
    pub state_mb: f64,
    /// Serialized bytes of one output record (the last chained operator's `out_record_bytes`,
    /// else the job's `record_bytes`): what an edge leaving this vertex puts on a WAN link.
    pub out_record_bytes: f64,
    /// Bytes of an input record of a source vertex (the job's `record_bytes`).
    pub in_record_bytes: f64,
}

/// Vertices in topological order (a source first; inputs always precede their consumers).
#[derive(Clone, Debug, PartialEq)]
pub struct JobGraph {
    pub vertices: Vec<Vertex>,
    /// For each vertex, the downstream vertices it feeds.
    pub outputs: Vec<Vec<usize>>,
    /// The vertex whose latency histogram the latency metric reads.
    pub latency_vertex: usize,
    /// For each operator of the model, the vertex it was chained into.
    pub vertex_of_op: Vec<usize>,
}

impl JobGraph {
    /// Builds the vertex graph of `model`, chaining when the model says so.
    pub fn build(model: &JobModel) -> JobGraph {
        Self::build_placed(model, model.spec.job.chaining, None)
    }

    /// Builds the vertex graph with chaining switched on or off and, for edge placement, the
    /// site of every operator (`op_site[i]`): operators on different sites are never chained
    /// (Flink chains only within one slot-sharing group, i.e. one TaskManager).
    pub fn build_placed(model: &JobModel, chaining: bool, op_site: Option<&[usize]>) -> JobGraph {
        let ops = &model.spec.operators;
        let site = |i: usize| op_site.and_then(|s| s.get(i).copied()).unwrap_or(0);
        let bytes = |i: usize| {
            ops[i]
                .out_record_bytes
                .unwrap_or(model.spec.job.record_bytes)
        };
        // Resolve each operator's inputs (default: the previous operator).
        let inputs: Vec<Vec<usize>> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                if op.kind == OperatorKind::Source {
                    vec![]
                } else if op.inputs.is_empty() {
                    vec![i - 1]
                } else {
                    op.inputs
                        .iter()
                        .map(|n| ops.iter().position(|o| &o.name == n).expect("validated"))
                        .collect()
                }
            })
            .collect();
        let consumers = |i: usize| inputs.iter().filter(|ins| ins.contains(&i)).count();

        let mut vertex_of = vec![usize::MAX; ops.len()];
        let mut vertices: Vec<Vertex> = Vec::new();
        let net = model.spec.job.network_cost_us;
        for (i, op) in ops.iter().enumerate() {
            let chain_into = chaining
                && inputs[i].len() == 1
                && site(inputs[i][0]) == site(i)
                && op.ship == ShipStrategy::Forward
                && consumers(inputs[i][0]) == 1
                && op.kind != OperatorKind::Source;
            if chain_into {
                let v = vertex_of[inputs[i][0]];
                let vx = &mut vertices[v];
                // Records reaching this operator per vertex input record.
                let reach = vx.selectivity;
                vx.cost_us_per_record += op.cost_us * reach;
                vx.selectivity *= op.selectivity;
                vx.operators.push(i);
                vx.name = format!("{} -> {}", vx.name, op.name);
                vx.is_window |= op.kind == OperatorKind::Window;
                vx.window_residence_ms += op.window_residence_ms;
                vx.state_mb += op.state_mb;
                vx.out_record_bytes = bytes(i);
                vertex_of[i] = v;
            } else {
                let vin: Vec<(usize, ShipStrategy)> =
                    inputs[i].iter().map(|&u| (vertex_of[u], op.ship)).collect();
                // Deserialization of each input record that came over the network.
                let deser = if vin.is_empty() { 0.0 } else { net / 2.0 };
                vertex_of[i] = vertices.len();
                vertices.push(Vertex {
                    name: op.name.clone(),
                    operators: vec![i],
                    inputs: vin,
                    cost_us_per_record: op.cost_us + deser,
                    selectivity: op.selectivity,
                    is_source: op.kind == OperatorKind::Source,
                    is_window: op.kind == OperatorKind::Window,
                    window_residence_ms: op.window_residence_ms,
                    state_mb: op.state_mb,
                    out_record_bytes: bytes(i),
                    in_record_bytes: model.spec.job.record_bytes,
                });
            }
        }
        let mut outputs = vec![Vec::new(); vertices.len()];
        for (v, vx) in vertices.iter().enumerate() {
            for &(u, _) in &vx.inputs {
                outputs[u].push(v);
            }
        }
        // Serialization of each output record a vertex sends over the network.
        for (v, outs) in outputs.iter().enumerate() {
            if !outs.is_empty() {
                let vx = &mut vertices[v];
                vx.cost_us_per_record += net / 2.0 * vx.selectivity;
            }
        }
        let latency_op = ops
            .iter()
            .position(|o| o.name == model.spec.latency.measured_at)
            .expect("validated");
        JobGraph {
            latency_vertex: vertex_of[latency_op],
            vertex_of_op: vertex_of,
            vertices,
            outputs,
        }
    }

    pub fn len(&self) -> usize {
        self.vertices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vertices.is_empty()
    }
}
