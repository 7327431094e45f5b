//! End-of-second bookkeeping and the emulated metrics: latency (and the vertices on its path),
//! Kafka consumer rate and lag, JVM CPU load.

use rand_distr::Distribution;

use super::{JobStatus, Twin, VertexSecond};
use crate::flink::graph::JobGraph;
use crate::time::SimTime;

impl Twin {
    pub(super) fn end_of_second(&mut self) {
        let epoch = self.setup.start_epoch + self.now.as_secs() as i64 - 1;
        self.last_second = std::mem::replace(
            &mut self.second_acc,
            vec![VertexSecond::default(); self.graph.len()],
        );
        let running = self.status == JobStatus::Running;
        if running {
            for (t, l) in self.totals.iter_mut().zip(&self.last_second) {
                t.busy_ms += l.busy_ms;
                t.backpressured_ms += l.backpressured_ms;
                t.idle_ms += l.idle_ms;
                t.records_in += l.records_in;
                t.records_out += l.records_out;
            }
        }
        self.edge.end_of_second(epoch);
        let workload = self.rate_at(SimTime::from_secs(self.now.as_secs() - 1));
        self.series.workload_rps.points.push((epoch, workload));
        let tms = (self.tm_registered + self.tm_leaving) as f64;
        self.series.task_managers.points.push((epoch, tms));
        self.series
            .task_slots
            .points
            .push((epoch, tms * self.config.task_slots as f64));
        if running {
            let latency = self.latency_now();
            self.last_latency_ms = Some(latency);
            self.last_throughput_rps = self.rate_stat.measure(self.now);
            self.last_lag = self.lag_stat.measure(self.now);
            self.series.latency_ms.points.push((epoch, latency));
            self.push_kafka_metrics(epoch, self.last_throughput_rps, self.last_lag);
        } else {
            // Deployed tasks whose histograms hold no sample yet report 0 (recorded after
            // every restart); otherwise the job has no metrics.
            let deployed = self.deploying_since.is_some_and(|t| t < self.now);
            let empty = (deployed && self.reservoir.is_some()).then_some(0.0);
            self.last_latency_ms = empty;
            if let Some(v) = empty {
                self.series.latency_ms.points.push((epoch, v));
            }
            self.last_throughput_rps = None;
            self.last_lag = None;
            if self.consumers_started {
                // A leading source's consumers report before the job runs.
                let (rate, lag) = (
                    self.rate_stat.measure(self.now),
                    self.lag_stat.measure(self.now),
                );
                self.push_kafka_metrics(epoch, rate, lag);
            }
        }
        if self.tm_registered > 0 {
            let cpu = self.cpu_load_now();
            self.last_cpu_load = Some(cpu);
            self.series.cpu_load.points.push((epoch, cpu));
        } else {
            self.last_cpu_load = None;
        }
    }

    /// Writes the Kafka consumer metrics of second `epoch` into the run's series.
    fn push_kafka_metrics(&mut self, epoch: i64, rate: Option<f64>, lag: Option<f64>) {
        if let Some(v) = rate {
            self.series.throughput_rps.points.push((epoch, v));
        }
        if let Some(v) = lag {
            self.series.consumer_lag.points.push((epoch, v));
        }
    }

    /// The latency metric as the experiments measured it: floor + time the record at the head
    /// of Kafka waited + time in in-flight buffers up to the measuring operator (+ window
    /// residence unless the job subtracts it), with per-second jitter.
    fn latency_now(&mut self) -> f64 {
        let head_ms = self.arrival_ms(self.consumed);
        let head_wait_ms = (self.now.as_ms() as f64 - head_ms).max(0.0);
        let buffer_ms = self.buffer_ms_now();
        let floor_ms = self.setup.model.spec.latency.floor_ms;
        let noise = self.jitter.sample(&mut self.rng_metrics);
        let Some(r) = self.reservoir.as_mut() else {
            return (floor_ms + head_wait_ms + buffer_ms + noise).max(0.0);
        };
        self.extra_latency_ms = buffer_ms;
        match r.p95_delay_ms(head_ms, self.now.as_ms() as f64, buffer_ms) {
            Some(delay_ms) => (floor_ms + delay_ms.max(0.0) + noise).max(0.0),
            None => 0.0,
        }
    }

    /// Time (ms) a record read now spends in in-flight buffers up to the measuring operator
    /// (+ window residence unless the job subtracts it, + WAN latency). A job that subtracts the
    /// window residence (YSB: `LatencyAfter` takes off `fire - latencyBefore`) also takes off
    /// the wait in the window vertex's input buffers, so that queue does not count.
    fn buffer_ms_now(&self) -> f64 {
        let spec = &self.setup.model.spec.latency;
        let mut buffer_ms = 0.0;
        for v in 0..self.graph.len() {
            if !self.on_latency_path[v] {
                continue;
            }
            let rate = self.last_second[v].records_in;
            let subtracted = spec.excludes_window_residence && self.graph.vertices[v].is_window;
            if self.queued[v] > 0.0 && rate > 0.0 && !subtracted {
                buffer_ms += self.queued[v] / rate * 1000.0;
            }
            if !spec.excludes_window_residence {
                buffer_ms += self.graph.vertices[v].window_residence_ms;
            }
            if self.edge.has_crossings() || self.edge.ingest.is_some() {
                buffer_ms += self.edge.latency_into_ms(v);
            }
        }
        buffer_ms
    }

    /// Mean JVM CPU load over TaskManagers: the JVM's background cores plus the busy subtasks',
    /// as a share of each TaskManager's cores (`Status.JVM.CPU.Load` is the process's CPU time
    /// over the processors the container gives it, so a JVM's background reads half as much
    /// on two cores).
    fn cpu_load_now(&self) -> f64 {
        let spec = &self.setup.model.spec.cpu_load;
        let busy_subtasks: f64 = (0..self.graph.len())
            .map(|v| self.last_second[v].on_cpu_ms / 1000.0)
            .zip(self.parallelism.iter())
            .map(|(b, &p)| b * p as f64)
            .sum();
        let cores = self.tm_registered as f64 * self.config.cpu;
        ((spec.idle + self.gc_background_cores) / self.config.cpu
            + spec.per_busy_subtask * busy_subtasks / cores)
            .clamp(0.0, 1.0)
    }
}

/// Vertices whose in-flight buffers a record passes before the latency is measured.
pub(super) fn latency_path(graph: &JobGraph) -> Vec<bool> {
    let mut on = vec![false; graph.len()];
    let mut stack = vec![graph.latency_vertex];
    while let Some(v) = stack.pop() {
        if !on[v] {
            on[v] = true;
            stack.extend(graph.vertices[v].inputs.iter().map(|&(u, _)| u));
        }
    }
    on
}
