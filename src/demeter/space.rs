//! Demeter's configuration space: the five knobs, their grids, the admissibility rules and the
//! profiling budget (research/demeter.md §3.4, §4.4).

use crate::flink::JobConfig;
use crate::time::SimDuration;

/// The grids of the five parameters (defaults: `demeter.properties`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigSpace {
    pub scale_outs: Vec<u32>,
    pub task_slots: Vec<u32>,
    pub cpus: Vec<f64>,
    pub memories_mb: Vec<u32>,
    pub checkpoint_intervals_s: Vec<u64>,
    /// The default (largest) configuration, also the cap on total CPU and memory.
    pub default: JobConfig,
}

impl ConfigSpace {
    /// `demeter.properties`: scale-out 8..24 step 4, slots 1..4, CPU 1..3, memory
    /// 1024..4096 MB step 1024, checkpoint interval 10..90 s step 20; default 24 x 1 slot,
    /// 1 core, 4096 MB, 10 s.
    pub fn demeter_properties() -> Self {
        ConfigSpace {
            scale_outs: vec![8, 12, 16, 20, 24],
            task_slots: vec![1, 2, 3, 4],
            cpus: vec![1.0, 2.0, 3.0],
            memories_mb: vec![1024, 2048, 3072, 4096],
            checkpoint_intervals_s: vec![10, 30, 50, 70, 90],
            default: JobConfig {
                scale_out: 24,
                task_slots: 1,
                cpu: 1.0,
                memory_mb: 4096,
                checkpoint_interval: SimDuration::from_secs(10),
                parallelism_overrides: vec![],
            },
        }
    }

    /// The recorded YSB runs profiled scale-outs from 4 (research/demeter.md §3.4).
    pub fn recorded_ysb() -> Self {
        let mut s = Self::demeter_properties();
        s.scale_outs.insert(0, 4);
        s
    }

    /// Total cores and memory (MB) of a configuration's TaskManagers.
    pub fn resources(c: &JobConfig) -> (f64, f64) {
        let tms = c.scale_out.div_ceil(c.task_slots) as f64;
        (tms * c.cpu, tms * c.memory_mb as f64)
    }

    /// Scale-out divisible by slots, and total CPU and memory within the default's.
    pub fn admissible(&self, c: &JobConfig) -> bool {
        let (cpu, mem) = Self::resources(c);
        let (cpu_max, mem_max) = Self::resources(&self.default);
        c.scale_out % c.task_slots == 0 && cpu <= cpu_max + 1e-9 && mem <= mem_max + 1e-9
    }

    /// Every admissible configuration, in grid order (scale-out, slots, CPU, memory, interval).
    pub fn options(&self) -> Vec<JobConfig> {
        let mut out = Vec::new();
        for &scale_out in &self.scale_outs {
            for &task_slots in &self.task_slots {
                for &cpu in &self.cpus {
                    for &memory_mb in &self.memories_mb {
                        for &chk in &self.checkpoint_intervals_s {
                            let c = JobConfig {
                                scale_out,
                                task_slots,
                                cpu,
                                memory_mb,
                                checkpoint_interval: SimDuration::from_secs(chk),
                                parallelism_overrides: vec![],
                            };
                            if self.admissible(&c) {
                                out.push(c);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// A configuration's position in [0, 1]^5 (alphabetical order as in Ax: checkpoint
    /// interval, container CPU, container memory, scale-out, task slots).
    pub fn encode(&self, c: &JobConfig) -> [f64; 5] {
        let unit = |v: f64, lo: f64, hi: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
        let minmax = |xs: &[f64]| {
            (
                xs.iter().copied().fold(f64::INFINITY, f64::min),
                xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            )
        };
        let chk: Vec<f64> = self
            .checkpoint_intervals_s
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mem: Vec<f64> = self.memories_mb.iter().map(|&v| v as f64).collect();
        let so: Vec<f64> = self.scale_outs.iter().map(|&v| v as f64).collect();
        let sl: Vec<f64> = self.task_slots.iter().map(|&v| v as f64).collect();
        let (a, b) = minmax(&chk);
        let (c0, c1) = minmax(&self.cpus);
        let (m0, m1) = minmax(&mem);
        let (s0, s1) = minmax(&so);
        let (t0, t1) = minmax(&sl);
        [
            unit(c.checkpoint_interval.as_secs_f64(), a, b),
            unit(c.cpu, c0, c1),
            unit(c.memory_mb as f64, m0, m1),
            unit(c.scale_out as f64, s0, s1),
            unit(c.task_slots as f64, t0, t1),
        ]
    }
}

/// The profiling budget of §4.4: (50 cores, 430 000 MB) minus production, times 0.95^n with n
/// the profiles already in the target throughput chunk.
pub fn profiling_budget(production: &JobConfig, profiles_in_chunk: usize) -> (f64, f64) {
    // `cpuConst = 50` cores and `memConst = 430000` MB (demeter.properties, §1).
    let (cpu, mem) = ConfigSpace::resources(production);
    let factor = 0.95f64.powi(profiles_in_chunk as i32);
    (
        ((50.0 - cpu) * factor).max(0.0),
        ((430_000.0 - mem) * factor).max(0.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_properties_space_has_840_admissible_configurations() {
        // research/demeter.md §3.4: "-> 840 admissible configurations".
        assert_eq!(ConfigSpace::demeter_properties().options().len(), 840);
    }

    #[test]
    fn admissibility_rules() {
        let s = ConfigSpace::demeter_properties();
        let mut c = s.default.clone();
        assert!(s.admissible(&c));
        c.task_slots = 5; // 24 % 5 != 0
        assert!(!s.admissible(&c));
        c.task_slots = 3;
        c.cpu = 3.0; // 8 TMs x 3 cores = 24: at the cap
        assert!(s.admissible(&c));
        c.task_slots = 2;
        c.cpu = 3.0; // 12 TMs x 3 = 36 cores > 24
        assert!(!s.admissible(&c));
    }

    #[test]
    fn budget_shrinks_with_profiles_in_the_chunk() {
        let s = ConfigSpace::demeter_properties();
        let (cpu, mem) = profiling_budget(&s.default, 0);
        assert_eq!((cpu, mem), (26.0, 430_000.0 - 24.0 * 4096.0));
        let (cpu2, _) = profiling_budget(&s.default, 2);
        assert!((cpu2 - 26.0 * 0.9025).abs() < 1e-9);
    }
}
