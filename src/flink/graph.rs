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
}

/// Vertices in topological order (a source first; inputs always precede their consumers).
#[derive(Clone, Debug, PartialEq)]
pub struct JobGraph {
    pub vertices: Vec<Vertex>,
    /// For each vertex, the downstream vertices it feeds.
    pub outputs: Vec<Vec<usize>>,
    /// The vertex whose latency histogram the latency metric reads.
    pub latency_vertex: usize,
}

impl JobGraph {
    /// Builds the vertex graph of `model`, chaining when the model says so.
    pub fn build(model: &JobModel) -> JobGraph {
        let ops = &model.spec.operators;
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
            let chain_into = model.spec.job.chaining
                && inputs[i].len() == 1
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
