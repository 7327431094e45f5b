//! Resource accounting: core-hours and GB-hours of the registered TaskManagers, and counts of
//! configuration / TaskManager-level changes.

use crate::runfolder::{ConfigRow, Series};

/// Per-TaskManager container assumed when a run has no configuration timeline: the Static,
/// Reactive and DS2 containers of the Demeter experiments (1 core, 4096 MB).
pub const DEFAULT_TM_CPU: f64 = 1.0;
pub const DEFAULT_TM_MEMORY_MB: f64 = 4096.0;

/// A TaskManager level counts as a level only if it is held this long (see [`tm_level_changes`]).
pub const TM_LEVEL_MIN_HOLD_S: i64 = 180;

/// Core-hours and GB-hours over the seconds `[from, to)`: for every second, the registered
/// TaskManagers (the last `task_managers` sample at or before that second, also from before
/// `from`; 0 before the first sample) times the container CPU / memory of the configuration
/// active at that second (the last row with `timestamp <= t`; before the first row, the first
/// row; with no rows, 1 core / 4096 MB). GB = MB / 1024. The JobManager is not counted.
pub fn core_and_gb_hours(
    task_managers: &Series,
    configs: &[ConfigRow],
    from: i64,
    to: i64,
) -> (f64, f64) {
    let tms = &task_managers.points;
    let mut k_tm = tms.partition_point(|p| p.0 < from);
    // Last sample strictly before `from` carries into the window.
    let mut current_tm = if k_tm > 0 { tms[k_tm - 1].1 } else { 0.0 };
    let mut k_cfg = 0usize;
    let container = |row: Option<&ConfigRow>| match row {
        Some(c) => (c.cpu, f64::from(c.memory_mb)),
        None => (DEFAULT_TM_CPU, DEFAULT_TM_MEMORY_MB),
    };
    let mut core_s = 0.0;
    let mut mb_s = 0.0;
    let mut t = from;
    while t < to {
        while k_tm < tms.len() && tms[k_tm].0 <= t {
            current_tm = tms[k_tm].1;
            k_tm += 1;
        }
        while k_cfg + 1 < configs.len() && configs[k_cfg + 1].timestamp <= t {
            k_cfg += 1;
        }
        let (cpu, mem) = container(configs.get(k_cfg));
        // Constant until the next TM sample or config change: add the whole stretch at once.
        let mut next = to;
        if let Some(p) = tms.get(k_tm) {
            next = next.min(p.0.max(t + 1));
        }
        if let Some(c) = configs.get(k_cfg + 1) {
            next = next.min(c.timestamp.max(t + 1));
        }
        let secs = (next - t) as f64;
        core_s += current_tm * cpu * secs;
        mb_s += current_tm * mem * secs;
        t = next;
    }
    (core_s / 3600.0, mb_s / 1024.0 / 3600.0)
}

/// Configuration changes applied inside `[from, to)`: the rows of the timeline after the first
/// one whose timestamp falls in the window. `None` when the timeline is unknown (empty).
pub fn config_changes(configs: &[ConfigRow], from: i64, to: i64) -> Option<u32> {
    if configs.is_empty() {
        return None;
    }
    let n = configs
        .iter()
        .skip(1)
        .filter(|c| (from..to).contains(&c.timestamp))
        .count();
    Some(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Changes between stable TaskManager levels inside `[from, to)`: consecutive samples with the
/// same value form a run; runs spanning fewer than [`TM_LEVEL_MIN_HOLD_S`] seconds (restart
/// dips, transients) are dropped, and every change of value between the remaining runs counts.
pub fn tm_level_changes(task_managers: &Series, from: i64, to: i64) -> u32 {
    let mut runs: Vec<(f64, i64, i64)> = Vec::new();
    for &(t, v) in task_managers.range(from, to) {
        match runs.last_mut() {
            Some(r) if r.0 == v => r.2 = t,
            _ => runs.push((v, t, t)),
        }
    }
    let stable: Vec<f64> = runs
        .iter()
        .filter(|r| r.2 - r.1 + 1 >= TM_LEVEL_MIN_HOLD_S)
        .map(|r| r.0)
        .collect();
    let n = stable.windows(2).filter(|w| w[0] != w[1]).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(timestamp: i64, cpu: f64, memory_mb: u32) -> ConfigRow {
        ConfigRow {
            timestamp,
            scale_out: 1,
            task_slots: 1,
            cpu,
            memory_mb,
            checkpoint_interval_ms: 10_000,
        }
    }

    #[test]
    fn constant_24_tms_for_18_h_is_432_core_h_and_1728_gb_h() {
        let tms = Series {
            points: vec![(1000, 24.0)],
        };
        let (c, g) = core_and_gb_hours(&tms, &[], 1000, 1000 + 64_800);
        assert!((c - 432.0).abs() < 1e-9, "{c}");
        assert!((g - 1728.0).abs() < 1e-9, "{g}");
    }

    #[test]
    fn seconds_without_a_sample_carry_the_last_value() {
        // 2 TMs at 0, a gap, 4 TMs at 1800: 1800 s x 2 + 1800 s x 4 = 10 800 TM-s = 3 core-h.
        let tms = Series {
            points: vec![(0, 2.0), (1800, 4.0)],
        };
        let (c, _) = core_and_gb_hours(&tms, &[], 0, 3600);
        assert!((c - 3.0).abs() < 1e-12, "{c}");
    }

    #[test]
    fn a_config_change_switches_the_per_tm_container_at_its_second() {
        // 10 TMs for one hour; 1 core / 4096 MB for the first 900 s, then 2 cores / 1024 MB.
        let tms = Series {
            points: vec![(0, 10.0)],
        };
        let configs = [cfg(-5, 1.0, 4096), cfg(900, 2.0, 1024)];
        let (c, g) = core_and_gb_hours(&tms, &configs, 0, 3600);
        // cores: 10 x (900 x 1 + 2700 x 2) / 3600 = 17.5
        assert!((c - 17.5).abs() < 1e-12, "{c}");
        // GB: 10 x (900 x 4 + 2700 x 1) / 3600 = 17.5
        assert!((g - 17.5).abs() < 1e-12, "{g}");
    }

    #[test]
    fn before_the_first_tm_sample_nothing_is_counted() {
        let tms = Series {
            points: vec![(1800, 1.0)],
        };
        let (c, _) = core_and_gb_hours(&tms, &[], 0, 3600);
        assert!((c - 0.5).abs() < 1e-12, "{c}");
    }

    #[test]
    fn config_changes_count_rows_after_the_first_inside_the_window() {
        let configs = [
            cfg(-1, 1.0, 4096),
            cfg(10, 1.0, 4096),
            cfg(99, 1.0, 4096),
            cfg(100, 1.0, 4096),
        ];
        assert_eq!(config_changes(&configs, 0, 100), Some(2));
        assert_eq!(config_changes(&[], 0, 100), None);
    }

    #[test]
    fn short_tm_dips_are_not_level_changes() {
        // 24 for 1000 s, 23 for 15 s (a failure), 24 for 500 s, then 12 for 400 s.
        let mut points: Vec<(i64, f64)> = (0..1000).map(|t| (t, 24.0)).collect();
        points.extend((1000..1015).map(|t| (t, 23.0)));
        points.extend((1015..1515).map(|t| (t, 24.0)));
        points.extend((1515..1915).map(|t| (t, 12.0)));
        let tms = Series { points };
        assert_eq!(tm_level_changes(&tms, 0, 2000), 1);
    }
}
