//! The job's configuration: Demeter's five knobs plus per-vertex parallelism and the scheduler.

use crate::time::SimDuration;

/// Which Flink scheduler runs the job; decides how it reacts to TaskManager changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerMode {
    /// Default scheduler: waits for all slots it needs; parallelism as configured.
    #[default]
    Default,
    /// Adaptive scheduler: accepts in-place rescales (`PUT /jobs/:id/resource-requirements`).
    Adaptive,
    /// Reactive mode: parallelism = all available slots; every TaskManager change restarts the job.
    Reactive,
}

/// A deployment configuration (Demeter's search space: scale-out, slots, CPU, memory, interval).
#[derive(Clone, Debug, PartialEq)]
pub struct JobConfig {
    /// Default parallelism of every vertex (Demeter's "scale-out").
    pub scale_out: u32,
    pub task_slots: u32,
    /// CPU cores per TaskManager container.
    pub cpu: f64,
    /// Memory per TaskManager container (MB).
    pub memory_mb: u32,
    pub checkpoint_interval: SimDuration,
    /// Per-vertex parallelism overriding `scale_out` (DS2, the operator autoscaler); empty = none.
    pub parallelism_overrides: Vec<Option<u32>>,
}

impl JobConfig {
    /// TaskManagers a native deployment starts: enough slots for the largest vertex.
    pub fn task_managers(&self) -> u32 {
        self.max_parallelism().div_ceil(self.task_slots)
    }

    /// Parallelism of vertex `v` before caps (partitions, key groups).
    pub fn parallelism(&self, v: usize) -> u32 {
        self.parallelism_overrides
            .get(v)
            .copied()
            .flatten()
            .unwrap_or(self.scale_out)
    }

    /// The largest vertex parallelism: the slots the job needs with slot sharing.
    pub fn max_parallelism(&self) -> u32 {
        let over = self.parallelism_overrides.iter().flatten().copied().max();
        match over {
            Some(m) if self.parallelism_overrides.iter().all(Option::is_some) => m,
            Some(m) => m.max(self.scale_out),
            None => self.scale_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_managers_cover_the_largest_vertex() {
        let mut c = JobConfig {
            scale_out: 12,
            task_slots: 3,
            cpu: 3.0,
            memory_mb: 4096,
            checkpoint_interval: SimDuration::from_secs(50),
            parallelism_overrides: vec![],
        };
        assert_eq!(c.task_managers(), 4);
        c.parallelism_overrides = vec![Some(4), Some(13)];
        assert_eq!(c.max_parallelism(), 13);
        assert_eq!(c.task_managers(), 5);
        assert_eq!(c.parallelism(0), 4);
        c.parallelism_overrides = vec![Some(4), None];
        assert_eq!(c.max_parallelism(), 12);
    }
}
