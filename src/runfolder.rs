//! The run folder: the on-disk format shared by simulated and recorded runs.
//!
//! A run folder holds `data/<name>-<metric>-data.csv` (header `timestamp|value`, epoch seconds,
//! one row per second with a sample; seconds without a sample have no row), `failures.csv` (one
//! injection epoch second per line), `configs.csv` (`timestamp|scaleOut|taskSlots|cpu|memory|chkInt`,
//! memory in MB, chkInt in ms as in the Demeter prototype), plus, for simulated runs,
//! `manifest.json`, `summary.json` and `events.csv`. Recorded Demeter folders have `app.log`
//! instead of `failures.csv`/`configs.csv`; the reader falls back to it.

/// The six per-second series of the Demeter experiments, in file-name order.
pub const METRICS: [&str; 6] = [
    "latency",
    "throughput",
    "consumer_lag",
    "cpu_load",
    "task_managers",
    "task_slots",
];

/// One per-second series: `(epoch second, value)`, ascending, no duplicate seconds.
/// A second without a sample (the job was down, the scrape failed) has no entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub points: Vec<(i64, f64)>,
}

/// One configuration of the job, as applied at `timestamp` (epoch seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigRow {
    pub timestamp: i64,
    pub scale_out: u32,
    pub task_slots: u32,
    pub cpu: f64,
    pub memory_mb: u32,
    pub checkpoint_interval_ms: u64,
}

/// Everything a run folder says about one run, simulated or recorded.
#[derive(Clone, Debug, Default)]
pub struct RunData {
    /// The `<name>` in `data/<name>-<metric>-data.csv` (e.g. `baseline`, `demeter`).
    pub name: String,
    /// Epoch second of the experiment start (first sample of the window).
    pub start_epoch: i64,
    /// Length of the experiment window in seconds (64 800 for the Demeter runs).
    pub window_s: i64,
    pub latency_ms: Series,
    pub throughput_rps: Series,
    pub consumer_lag: Series,
    pub cpu_load: Series,
    pub task_managers: Series,
    pub task_slots: Series,
    /// Failure injection epoch seconds, ascending.
    pub failures: Vec<i64>,
    /// Configuration timeline, ascending; empty when unknown.
    pub configs: Vec<ConfigRow>,
}
