//! The fluid tick: Kafka arrivals, what the source reads, capacity and backpressure through
//! the vertices (reverse pass for room, forward pass for records), and when a Kafka position arrived.

use super::{JobStatus, Twin};
use crate::flink::colocation;
use crate::time::{SimDuration, SimTime};

impl Twin {
    pub(super) fn rate_at(&self, t: SimTime) -> f64 {
        let s = t.as_secs() as usize;
        self.setup.workload_rps.get(s).copied().unwrap_or(0.0)
    }

    /// One fluid step of length `dt` within a single second.
    pub(super) fn step(&mut self, dt: SimDuration) {
        let dt_s = dt.as_secs_f64();
        let arriving = self.rate_at(self.now) * dt_s;
        self.produced += arriving;
        let end_ms = self.now.as_ms() + dt.as_ms();
        self.arrivals.push_back((end_ms, self.produced));
        if let Some(r) = self.reservoir.as_mut() {
            if end_ms % 1000 == 0 {
                r.arrival_boundary(end_ms as f64, self.produced);
            }
        }
        let consumed_before = self.consumed;

        let n = self.graph.len();
        // Scratch buffers live in the twin so the hot loop does not allocate.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(4 * n, 0.0);
        let (max_process, rest) = scratch.split_at_mut(n);
        let (accept, rest) = rest.split_at_mut(n);
        let (inflow, processed) = rest.split_at_mut(n);
        let leading = self.source_leading();
        if leading && !self.consumers_started {
            // The restarted source tasks create new Kafka consumers, whose metrics start empty.
            self.consumers_started = true;
            self.rate_stat.reset();
            self.lag_stat.reset();
        }
        let running = self.status == JobStatus::Running || leading;
        if running {
            let checkpointing = self.pending_checkpoint.is_some();
            let overhead = if checkpointing {
                1.0 - self.setup.model.spec.checkpoint.overhead_fraction
            } else {
                1.0
            };
            let reachable = if self.tm_registered == 0 {
                0.0
            } else {
                1.0 - self.tm_unreachable as f64 / self.tm_registered as f64
            };
            let cores_per_subtask = (self.config.cpu / self.config.task_slots as f64)
                .min(self.setup.model.spec.capacity.max_cpu_per_subtask);
            // Subtasks sharing a slot share its cores, as they used them in the last tick.
            let mut slot_shares = std::mem::take(&mut self.slot_shares);
            let shared = self.setup.model.spec.capacity.slot_sharing_cpu;
            if shared {
                colocation::shares_into(
                    &self.parallelism,
                    &self.slot_demand,
                    self.slot_budget,
                    &mut slot_shares,
                );
            }
            let shares = &slot_shares;
            let share = |v: usize| {
                if shared {
                    shares[v].capacity_factor
                } else {
                    1.0
                }
            };
            let busy_factor = |v: usize| {
                if shared {
                    shares[v].mean_busy_factor
                } else {
                    1.0
                }
            };
            // Reverse pass: how much each vertex may process given downstream room.
            for v in (0..n).rev() {
                let cap = self.base_capacity_rps[v] * share(v) * overhead * reachable * dt_s;
                let room = if self.edge.has_crossings() {
                    let mut room = f64::INFINITY;
                    for (k, &c) in self.graph.outputs[v].iter().enumerate() {
                        room = room.min(self.edge.admit(v, k, accept[c], dt_s));
                    }
                    room
                } else {
                    self.graph.outputs[v]
                        .iter()
                        .map(|&c| accept[c])
                        .fold(f64::INFINITY, f64::min)
                };
                let sel = self.graph.vertices[v].selectivity;
                let by_room = if sel > 0.0 { room / sel } else { f64::INFINITY };
                max_process[v] = cap.min(by_room).max(0.0);
                if leading && !self.graph.vertices[v].is_source {
                    // Still restoring: what the source reads waits in this vertex's buffers.
                    max_process[v] = 0.0;
                }
                if v == 0 && self.edge.ingest.is_some() {
                    max_process[v] = max_process[v].min(self.edge.ingest_cap(dt_s));
                }
                accept[v] = (self.buffer_capacity[v] - self.queued[v]).max(0.0) + max_process[v];
            }
            // Forward pass: move records.
            for v in 0..n {
                let available = if self.graph.vertices[v].is_source {
                    self.produced - self.consumed
                } else {
                    self.queued[v] + inflow[v]
                };
                let done = available.min(max_process[v]).max(0.0);
                if self.graph.vertices[v].is_source {
                    self.consumed += done;
                    self.edge.ingested(done);
                } else {
                    self.queued[v] = available - done;
                }
                processed[v] = done;
                let out = done * self.graph.vertices[v].selectivity;
                let cap = self.base_capacity_rps[v] * share(v) * overhead * reachable * dt_s;
                if self.edge.has_crossings() {
                    let wanted = available.min(cap) * self.graph.vertices[v].selectivity;
                    for (k, &c) in self.graph.outputs[v].iter().enumerate() {
                        inflow[c] += self.edge.send(v, k, out, wanted);
                    }
                } else {
                    for &c in &self.graph.outputs[v] {
                        inflow[c] += out;
                    }
                }
                if self.graph.outputs[v].is_empty() {
                    self.sink_total += done;
                }
                let acc = &mut self.second_acc[v];
                acc.records_in += done;
                acc.records_out += out;
                let dt_ms = dt_s * 1000.0;
                if cap > 0.0 {
                    // `cap` is what the hottest (whole-unit assignment) or slowest (edge
                    // placement) subtask allows: its busy fraction is the max reported.
                    let busy_max = (done / cap).min(1.0);
                    // The load, spread over the subtasks' units, is `load_skew` times less;
                    // subtasks in less contended slots take less wall-clock time for it.
                    let busy = busy_max / self.load_skew[v] * busy_factor(v);
                    self.edge.add_busy(v, busy, cores_per_subtask, dt_s);
                    let want = available.min(cap);
                    let bp = ((want - done) / cap).clamp(0.0, 1.0 - busy_max) / self.load_skew[v]
                        * busy_factor(v);
                    // Reported busy time is the mean over subtasks: faster subtasks on faster
                    // nodes are busy for less of the second than the slowest one.
                    let busy_mean = busy * self.edge.busy_mean[v];
                    acc.busy_ms += busy_mean * dt_ms;
                    // A busy subtask keeps the cores its slot gives it busy, in reference slots
                    // (YSB: 2.37 in a 2-core slot, 0.5 in a 1-core TaskManager with 2 slots).
                    acc.on_cpu_ms += busy_mean / busy_factor(v)
                        * share(v)
                        * self.cpu_units_per_busy_subtask
                        * dt_ms;
                    acc.busy_max_ms += busy_max * dt_ms;
                    acc.backpressured_ms += bp * dt_ms;
                    acc.idle_ms += (1.0 - busy_mean - bp) * dt_ms;
                } else {
                    acc.idle_ms += dt_ms;
                }
            }
            if shared {
                for (v, &done) in processed.iter().enumerate() {
                    let full = self.parallelism[v] as f64 * self.per_subtask_rps[v] * dt_s;
                    self.slot_demand[v] = if full > 0.0 { done / full } else { 0.0 };
                }
            }
            self.slot_shares = slot_shares;
            let read = processed[0];
            if let Some(r) = self.reservoir.as_mut() {
                let t0 = self.now.as_ms() as f64;
                r.read(
                    consumed_before,
                    self.consumed,
                    t0,
                    end_ms as f64,
                    self.extra_latency_ms,
                );
            }
            self.rate_stat.record(self.now + dt, read);
            let partitions = self.effective_partitions() as f64;
            let per_partition_lag = self.pending_records() / partitions
                + self.setup.model.spec.kafka.fetch_lag_s * read / dt_s / partitions;
            self.lag_stat.record(self.now + dt, per_partition_lag);
        } else {
            self.slot_demand.iter_mut().for_each(|d| *d = 0.0);
        }
        self.scratch = scratch;
        self.edge.end_tick(dt_s);
        let nodes = self.homogeneous_nodes();
        self.edge.charge_tick(dt_s, nodes);
        self.trim_arrivals();
    }

    /// A failed-over attempt whose source reads ahead of the restoring rest of the job.
    fn source_leading(&self) -> bool {
        self.status != JobStatus::Running && self.source_reads_from.is_some_and(|t| self.now >= t)
    }

    /// Partitions each source subtask reads from, summed: the lag metric is per partition.
    fn effective_partitions(&self) -> u32 {
        self.setup.model.spec.kafka.partitions.max(1)
    }

    fn trim_arrivals(&mut self) {
        let mut keep_from = self.consumed;
        if let Some(c) = self.completed {
            keep_from = keep_from.min(c.offset);
        }
        if let Some(p) = self.pending_checkpoint {
            keep_from = keep_from.min(p.offset);
        }
        if let Some(o) = self.redeploy_offset {
            keep_from = keep_from.min(o);
        }
        while self.arrivals.len() > 2 && self.arrivals[1].1 <= keep_from {
            self.arrivals.pop_front();
        }
        if self.reservoir.is_some() {
            let keep_ms = self.arrival_ms(keep_from);
            if let Some(r) = self.reservoir.as_mut() {
                r.trim(keep_ms);
            }
        }
    }

    /// When the record at Kafka position `offset` arrived (ms), interpolated within a tick.
    pub(super) fn arrival_ms(&self, offset: f64) -> f64 {
        let i = self.arrivals.partition_point(|&(_, cum)| cum < offset);
        if i >= self.arrivals.len() {
            return self.now.as_ms() as f64;
        }
        if i == 0 {
            return self.arrivals[0].0 as f64;
        }
        let (t0, c0) = self.arrivals[i - 1];
        let (t1, c1) = self.arrivals[i];
        if c1 <= c0 {
            return t1 as f64;
        }
        t0 as f64 + (t1 - t0) as f64 * (offset - c0) / (c1 - c0)
    }
}
