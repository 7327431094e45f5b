//! Flink's TaskManager memory model with the 1.17 defaults: what a container's process size
//! (`taskmanager.memory.process.size`, which the Kubernetes operator sets from
//! `taskManager.resource.memory`) leaves for the JVM heap.
//!
//! Defaults from Flink's "Set up TaskManager Memory" page and `TaskManagerOptions`: JVM
//! metaspace 256 MB; JVM overhead 0.1 of the process size within [192 MB, 1 GB]; framework heap
//! and framework off-heap 128 MB each; task off-heap 0; managed memory 0.4 and network memory
//! 0.1 (within [64 MB, 1 GB]) of the total Flink memory; the task heap is what remains. The JVM
//! runs with `-Xmx` = framework heap + task heap. `research/live_flink.md` shows the same
//! arithmetic on a real TaskManager (1g, managed fraction 0.1: task heap 208 037 478 bytes).

const METASPACE_MB: f64 = 256.0;
const OVERHEAD_FRACTION: f64 = 0.1;
const OVERHEAD_MIN_MB: f64 = 192.0;
const OVERHEAD_MAX_MB: f64 = 1024.0;
/// `taskmanager.memory.framework.heap.size`: part of every TaskManager's `-Xmx`.
pub const FRAMEWORK_HEAP_MB: f64 = 128.0;
const FRAMEWORK_OFF_HEAP_MB: f64 = 128.0;
const MANAGED_FRACTION: f64 = 0.4;
const NETWORK_FRACTION: f64 = 0.1;
const NETWORK_MIN_MB: f64 = 64.0;
const NETWORK_MAX_MB: f64 = 1024.0;

/// The components Flink derives from a process size, in MB.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TaskManagerMemory {
    pub process_mb: f64,
    pub jvm_overhead_mb: f64,
    pub total_flink_mb: f64,
    pub managed_mb: f64,
    pub network_mb: f64,
    /// Negative when the process size is too small: Flink then refuses to start the TaskManager.
    pub task_heap_mb: f64,
}

impl TaskManagerMemory {
    /// The derivation Flink does when only the process size is configured.
    pub fn from_process_mb(process_mb: f64) -> Self {
        Self::derive(process_mb, MANAGED_FRACTION)
    }

    fn derive(process_mb: f64, managed_fraction: f64) -> Self {
        let jvm_overhead_mb =
            (process_mb * OVERHEAD_FRACTION).clamp(OVERHEAD_MIN_MB, OVERHEAD_MAX_MB);
        let total_flink_mb = process_mb - METASPACE_MB - jvm_overhead_mb;
        let managed_mb = total_flink_mb * managed_fraction;
        let network_mb = (total_flink_mb * NETWORK_FRACTION).clamp(NETWORK_MIN_MB, NETWORK_MAX_MB);
        let task_heap_mb =
            total_flink_mb - FRAMEWORK_HEAP_MB - FRAMEWORK_OFF_HEAP_MB - managed_mb - network_mb;
        TaskManagerMemory {
            process_mb,
            jvm_overhead_mb,
            total_flink_mb,
            managed_mb,
            network_mb,
            task_heap_mb,
        }
    }

    /// `-Xmx`: framework heap plus task heap (the framework heap alone when the process size
    /// is below [`min_process_mb`], a TaskManager Flink would not start).
    pub fn jvm_heap_mb(&self) -> f64 {
        FRAMEWORK_HEAP_MB + self.task_heap_mb.max(0.0)
    }
}

/// The smallest process size that leaves a task heap >= 0 with the defaults: 981.3 MB (the
/// overhead sits at its 192 MB minimum and the network at its 64 MB minimum there, so
/// 0.6 x (P - 448) = 320).
pub fn min_process_mb() -> f64 {
    let framework = FRAMEWORK_HEAP_MB + FRAMEWORK_OFF_HEAP_MB + NETWORK_MIN_MB;
    framework / (1.0 - MANAGED_FRACTION) + METASPACE_MB + OVERHEAD_MIN_MB
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_gigabytes_split_as_flink_documents_it() {
        // Flink's docs example for a 4 GB process: overhead 409.6 MB, network 343 MB, managed
        // 1 372 MB, and the rest task heap.
        let m = TaskManagerMemory::from_process_mb(4096.0);
        assert!((m.jvm_overhead_mb - 409.6).abs() < 1e-9);
        assert!((m.network_mb - 343.04).abs() < 1e-9);
        assert!((m.managed_mb - 1372.16).abs() < 1e-9);
        assert!((m.task_heap_mb - 1459.2).abs() < 1e-9);
        assert!((m.jvm_heap_mb() - 1587.2).abs() < 1e-9);
    }

    #[test]
    fn one_gigabyte_leaves_a_small_heap_with_every_minimum_in_force() {
        let m = TaskManagerMemory::from_process_mb(1024.0);
        assert_eq!(m.jvm_overhead_mb, 192.0);
        assert_eq!(m.network_mb, 64.0);
        assert!((m.task_heap_mb - 25.6).abs() < 1e-9);
        assert!((m.jvm_heap_mb() - 153.6).abs() < 1e-9);
    }

    #[test]
    fn matches_the_live_taskmanager_in_the_research_notes() {
        // live_flink.md: 1g with managed fraction 0.1 starts with
        // -D taskmanager.memory.task.heap.size=208037478b.
        let m = TaskManagerMemory::derive(1024.0, 0.1);
        assert_eq!((m.task_heap_mb * 1024.0 * 1024.0).floor(), 208_037_478.0);
    }

    #[test]
    fn below_the_minimum_flink_would_not_start_and_the_heap_is_the_framework_heap() {
        let min = min_process_mb();
        assert!((min - 981.333).abs() < 1e-3);
        assert!(TaskManagerMemory::from_process_mb(min).task_heap_mb.abs() < 1e-9);
        let small = TaskManagerMemory::from_process_mb(512.0);
        assert!(small.task_heap_mb < 0.0);
        assert_eq!(small.jvm_heap_mb(), FRAMEWORK_HEAP_MB);
    }
}
