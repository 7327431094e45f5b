//! Per-vertex parallelism, capacity (records/s) and in-flight buffer sizes, from the
//! configuration and the slots.

use super::Twin;
use crate::flink::config::SchedulerMode;
use crate::flink::model::ShipStrategy;

/// Flink's network buffer defaults: 32 KiB segments, 2 exclusive buffers per channel, 8 floating
/// buffers per input gate (`taskmanager.memory.segment-size`, `...network.memory.buffers-per-channel`,
/// `...floating-buffers-per-gate`).
const SEGMENT_BYTES: f64 = 32_768.0;
const BUFFERS_PER_CHANNEL: f64 = 2.0;
const FLOATING_BUFFERS_PER_GATE: f64 = 8.0;

impl Twin {
    /// Recomputes the running parallelism, capacities and buffers from config and slots.
    pub(super) fn apply_parallelism(&mut self) {
        let max_par = self.setup.model.spec.job.max_parallelism;
        for v in 0..self.graph.len() {
            let p = match self.setup.scheduler {
                SchedulerMode::Reactive => self.slots_total().max(1),
                _ => self.config.parallelism(v),
            };
            self.parallelism[v] = p.clamp(1, max_par);
        }
        self.edge.lay_out(&self.graph, &self.parallelism);
        let spec = &self.setup.model.spec;
        let c = &spec.capacity;
        // Background GC (a small heap collects often) takes cores from the slots.
        self.gc_background_cores =
            c.gc.as_ref()
                .map_or(0.0, |gc| gc.background_cores(self.config.memory_mb as f64));
        let usable_per_slot = ((self.config.cpu - c.tm_overhead_cores - self.gc_background_cores)
            / self.config.task_slots as f64)
            .max(0.01);
        let slot_efficiency =
            (self.config.task_slots.max(1) as f64).powf(-c.slot_efficiency_exponent.unwrap_or(0.0));
        self.cpu_units_per_busy_subtask = usable_per_slot.min(c.max_cpu_per_subtask)
            / (c.reference_cpu_per_slot - c.tm_overhead_cores);
        let cpu_factor = self.cpu_units_per_busy_subtask * slot_efficiency;
        self.slot_budget = usable_per_slot / usable_per_slot.min(c.max_cpu_per_subtask);
        let memory_per_slot_mb = self.config.memory_mb as f64 / self.config.task_slots as f64;
        let memory_factor = if memory_per_slot_mb >= c.memory_working_set_mb {
            1.0
        } else {
            (memory_per_slot_mb / c.memory_working_set_mb).powf(c.memory_exponent)
        };
        for v in 0..self.graph.len() {
            let vx = &self.graph.vertices[v];
            let p = self.parallelism[v] as f64;
            // Records are spread over subtasks by Kafka partitions (sources) or key groups
            // (keyed inputs), whole units each: the subtasks holding ceil(N / p) units saturate
            // first, so the vertex sustains N / ceil(N / p) subtasks' worth (Flink assigns
            // partitions round-robin and key-group ranges evenly; records are assumed spread
            // evenly over partitions and key groups).
            let units = if vx.is_source {
                Some(spec.kafka.partitions.max(1))
            } else if vx
                .inputs
                .iter()
                .any(|&(_, ship)| ship == ShipStrategy::Hash)
            {
                Some(spec.job.max_parallelism.max(1))
            } else {
                None
            };
            let units = units.filter(|_| c.whole_unit_assignment);
            let useful = match units {
                Some(n) => {
                    let per_subtask_units = (n as f64 / p).ceil();
                    n as f64 / per_subtask_units
                }
                None if vx.is_source => p.min(spec.kafka.partitions as f64),
                None => p,
            };
            // Without whole-unit assignment the load is spread evenly (and a source's idle
            // subtasks beyond the partitions are not counted), as before the option existed.
            self.load_skew[v] = if units.is_some() { p / useful } else { 1.0 };
            let efficiency = 1.0 / (1.0 + c.scaling_contention * (p - 1.0));
            let per_subtask = 1e6 / vx.cost_us_per_record
                * cpu_factor
                * memory_factor
                * self.edge.vertex_speed[v]
                * efficiency;
            self.base_capacity_rps[v] = useful * per_subtask;
            self.per_subtask_rps[v] = per_subtask;
            // In-flight buffers: the receiving input gates plus the senders' subpartitions.
            let channels = vx
                .inputs
                .iter()
                .map(|&(u, ship)| match ship {
                    ShipStrategy::Forward => 1.0,
                    _ => self.parallelism[u] as f64,
                })
                .sum::<f64>();
            let buffers = 2.0 * p * (BUFFERS_PER_CHANNEL * channels + FLOATING_BUFFERS_PER_GATE);
            self.buffer_capacity[v] = if vx.inputs.is_empty() {
                0.0
            } else {
                buffers * SEGMENT_BYTES / spec.job.record_bytes
            };
        }
    }
}
