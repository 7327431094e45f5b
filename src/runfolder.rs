//! The run folder: the on-disk format shared by simulated and recorded runs.
//!
//! A run folder holds `data/<name>-<metric>-data.csv` (header `timestamp|value`, epoch seconds,
//! one row per second with a sample; seconds without a sample have no row), `failures.csv` (one
//! injection epoch second per line), `configs.csv` (`timestamp|scaleOut|taskSlots|cpu|memory|chkInt`,
//! memory in MB, chkInt in ms as in the Demeter prototype), plus, for simulated runs,
//! `manifest.json`, `summary.json`, `events.csv` and (policies that report their evaluations)
//! `evaluations.csv`. Recorded Demeter folders have `app.log`
//! instead of `failures.csv`/`configs.csv`; the reader falls back to it.
//!
//! Reading is lenient where the recorded Demeter traces need it and strict everywhere else:
//! `null`, `nan`, `NaN` and empty values mean "no sample"; rows may come out of order (the
//! Prometheus dumps concatenate one series per JobManager pod) and a second may repeat with the
//! same value (chunk boundaries of the range query); both are normalised. A repeated second with
//! a different value, a malformed line or a missing file is an error naming the file and line.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The six per-second series of the Demeter experiments, in file-name order.
pub const METRICS: [&str; 6] = [
    "latency",
    "throughput",
    "consumer_lag",
    "cpu_load",
    "task_managers",
    "task_slots",
];

/// Header of every `data/<name>-<metric>-data.csv` file.
pub const SERIES_HEADER: &str = "timestamp|value";
/// Header of `configs.csv`.
pub const CONFIGS_HEADER: &str = "timestamp|scaleOut|taskSlots|cpu|memory|chkInt";
/// Length of the Demeter experiment window (`general.expLen`), used when only `app.log` says
/// how the run was made.
pub const DEMETER_WINDOW_S: i64 = 64_800;
/// Period of the Demeter failure schedule: an injection at every t = 2700 k s (k >= 1).
pub const DEMETER_FAILURE_PERIOD_S: i64 = 2_700;

/// One per-second series: `(epoch second, value)`, ascending, no duplicate seconds.
/// A second without a sample (the job was down, the scrape failed) has no entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub points: Vec<(i64, f64)>,
}

impl Series {
    /// The samples with `from <= t < to`, a sub-slice (the series is ascending).
    pub fn range(&self, from: i64, to: i64) -> &[(i64, f64)] {
        let lo = self.points.partition_point(|&(t, _)| t < from);
        let hi = self.points.partition_point(|&(t, _)| t < to);
        if lo >= hi {
            &[]
        } else {
            &self.points[lo..hi]
        }
    }

    /// The sample at exactly second `t`, if any.
    pub fn at(&self, t: i64) -> Option<f64> {
        self.points
            .binary_search_by_key(&t, |&(s, _)| s)
            .ok()
            .map(|i| self.points[i].1)
    }
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

impl ConfigRow {
    /// A row from the knobs a log line carries: (scale-out, task slots, CPU, memory MB,
    /// checkpoint interval ms).
    fn new(timestamp: i64, (scale_out, task_slots, cpu, memory_mb, chk): Knobs) -> ConfigRow {
        ConfigRow {
            timestamp,
            scale_out,
            task_slots,
            cpu,
            memory_mb,
            checkpoint_interval_ms: chk,
        }
    }
}

/// A Demeter configuration as a log line gives it: (scale-out, task slots, CPU, memory MB,
/// checkpoint interval ms).
type Knobs = (u32, u32, f64, u32, u64);

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
    /// How many failures the schedule planned inside the window, when known (manifest key
    /// `scheduled_failures`; for a recorded Demeter run, the 2700-s schedule: 23 in 64 800 s).
    /// Not written by [`write_run_folder`]: it belongs to the manifest, which its owner writes.
    pub scheduled_failures: Option<u32>,
    /// Profiling jobs run beside production (Demeter), from `profiling.csv`; empty if none.
    pub profiling: Vec<ProfilingRow>,
}

/// One profiling job: its lifetime (creation to deletion, epoch seconds), its configuration
/// and what it measured.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfilingRow {
    pub start_epoch: i64,
    pub stop_epoch: i64,
    pub config: ConfigRow,
    pub throughput_rps: f64,
    pub latency_ms: f64,
    pub recovery_s: f64,
}

/// Header of `profiling.csv`.
pub const PROFILING_HEADER: &str =
    "startTs|stopTs|scaleOut|taskSlots|cpu|memory|chkInt|throughput|latency|recovery";

/// Formats `profiling.csv`.
pub fn format_profiling(rows: &[ProfilingRow]) -> String {
    let mut out = String::from(PROFILING_HEADER);
    out.push('\n');
    for r in rows {
        let c = &r.config;
        out.push_str(&format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
            r.start_epoch,
            r.stop_epoch,
            c.scale_out,
            c.task_slots,
            c.cpu,
            c.memory_mb,
            c.checkpoint_interval_ms,
            r.throughput_rps,
            r.latency_ms,
            r.recovery_s
        ));
    }
    out
}

/// Parses `profiling.csv`.
pub fn parse_profiling(path: &Path, text: &str) -> Result<Vec<ProfilingRow>, RunFolderError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            if line.trim() != PROFILING_HEADER {
                return Err(RunFolderError::BadLine {
                    path: path.to_path_buf(),
                    line: 1,
                    expected: format!("the header {PROFILING_HEADER:?}"),
                    found: line.to_string(),
                });
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let bad = || RunFolderError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            expected: "10 numbers separated by '|'".into(),
            found: line.to_string(),
        };
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 10 {
            return Err(bad());
        }
        let int = |k: usize| f[k].trim().parse::<i64>().map_err(|_| bad());
        let num = |k: usize| {
            f[k].trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(bad)
        };
        let start = int(0)?;
        rows.push(ProfilingRow {
            start_epoch: start,
            stop_epoch: int(1)?,
            config: ConfigRow {
                timestamp: start,
                scale_out: int(2)?.try_into().map_err(|_| bad())?,
                task_slots: int(3)?.try_into().map_err(|_| bad())?,
                cpu: num(4)?,
                memory_mb: int(5)?.try_into().map_err(|_| bad())?,
                checkpoint_interval_ms: int(6)?.try_into().map_err(|_| bad())?,
            },
            throughput_rps: num(7)?,
            latency_ms: num(8)?,
            recovery_s: num(9)?,
        });
    }
    Ok(rows)
}

impl RunData {
    /// The failure injections inside the experiment window, ascending.
    pub fn failures_in_window(&self) -> Vec<i64> {
        let (from, to) = (self.start_epoch, self.start_epoch + self.window_s);
        self.failures
            .iter()
            .copied()
            .filter(|&f| f >= from && f < to)
            .collect()
    }

    /// The six series with their metric names, in [`METRICS`] order.
    pub fn all_series(&self) -> [(&'static str, &Series); 6] {
        [
            ("latency", &self.latency_ms),
            ("throughput", &self.throughput_rps),
            ("consumer_lag", &self.consumer_lag),
            ("cpu_load", &self.cpu_load),
            ("task_managers", &self.task_managers),
            ("task_slots", &self.task_slots),
        ]
    }

    /// The series of `metric` (one of [`METRICS`]).
    pub fn series(&self, metric: &str) -> Option<&Series> {
        Some(match metric {
            "latency" => &self.latency_ms,
            "throughput" => &self.throughput_rps,
            "consumer_lag" => &self.consumer_lag,
            "cpu_load" => &self.cpu_load,
            "task_managers" => &self.task_managers,
            "task_slots" => &self.task_slots,
            _ => return None,
        })
    }

    fn series_mut(&mut self, metric: &str) -> Option<&mut Series> {
        Some(match metric {
            "latency" => &mut self.latency_ms,
            "throughput" => &mut self.throughput_rps,
            "consumer_lag" => &mut self.consumer_lag,
            "cpu_load" => &mut self.cpu_load,
            "task_managers" => &mut self.task_managers,
            "task_slots" => &mut self.task_slots,
            _ => return None,
        })
    }
}

/// Why a run folder could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error("{path:?}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{dir:?}: no file data/<name>-{metric}-data.csv; a run folder needs all six series ({})",
        METRICS.join(", ")
    )]
    MissingMetric { dir: PathBuf, metric: String },
    #[error(
        "{dir:?}: several files match data/*-{metric}-data.csv ({}); keep one run per folder",
        candidates.join(", ")
    )]
    AmbiguousMetric {
        dir: PathBuf,
        metric: String,
        candidates: Vec<String>,
    },
    #[error(
        "{dir:?}: the data files name different runs ({}); all six must share one <name> prefix",
        names.join(", ")
    )]
    MixedNames { dir: PathBuf, names: Vec<String> },
    #[error("{path:?} line {line}: expected {expected}, found {found:?}")]
    BadLine {
        path: PathBuf,
        line: usize,
        expected: String,
        found: String,
    },
    #[error(
        "{path:?} line {line}: second {timestamp} appears twice with different values ({first} and {second}); \
         a series has one value per second"
    )]
    ConflictingSample {
        path: PathBuf,
        line: usize,
        timestamp: i64,
        first: f64,
        second: f64,
    },
    #[error("{path:?}: {message}")]
    BadFile { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunFolderError + '_ {
    move |source| RunFolderError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad_line(path: &Path, line: usize, expected: &str, found: &str) -> RunFolderError {
    RunFolderError::BadLine {
        path: path.to_path_buf(),
        line,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

fn read_text(path: &Path) -> Result<String, RunFolderError> {
    fs::read_to_string(path).map_err(io_err(path))
}

/// A value that means "no sample" in the recorded traces.
fn is_no_sample(v: &str) -> bool {
    matches!(v, "" | "null" | "nan" | "NaN" | "NAN")
}

/// Parses one `data/<name>-<metric>-data.csv` text; `path` is only used in errors.
pub fn parse_series(path: &Path, text: &str) -> Result<Series, RunFolderError> {
    const EXPECTED: &str = "\"<epoch seconds>|<number>\"";
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == SERIES_HEADER => {}
        Some((_, h)) => return Err(bad_line(path, 1, &format!("{SERIES_HEADER:?}"), h)),
        None => return Err(bad_line(path, 1, &format!("{SERIES_HEADER:?}"), "")),
    }
    // (timestamp, value, line number)
    let mut rows: Vec<(i64, f64, usize)> = Vec::new();
    for (i, raw) in lines {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some((ts, v)) = line.split_once('|') else {
            return Err(bad_line(path, line_no, EXPECTED, line));
        };
        let Ok(ts) = ts.trim().parse::<i64>() else {
            return Err(bad_line(path, line_no, EXPECTED, line));
        };
        let v = v.trim();
        if is_no_sample(v) {
            continue;
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => rows.push((ts, x, line_no)),
            _ => return Err(bad_line(path, line_no, EXPECTED, line)),
        }
    }
    // Stable sort keeps file order among equal seconds, so errors report the later line.
    rows.sort_by_key(|&(t, _, _)| t);
    let mut points: Vec<(i64, f64)> = Vec::with_capacity(rows.len());
    for (t, v, line_no) in rows {
        match points.last() {
            Some(&(pt, pv)) if pt == t => {
                if pv.to_bits() != v.to_bits() {
                    return Err(RunFolderError::ConflictingSample {
                        path: path.to_path_buf(),
                        line: line_no,
                        timestamp: t,
                        first: pv,
                        second: v,
                    });
                }
            }
            _ => points.push((t, v)),
        }
    }
    Ok(Series { points })
}

/// Parses `failures.csv`: one epoch second per line, an optional `timestamp` header line.
pub fn parse_failures(path: &Path, text: &str) -> Result<Vec<i64>, RunFolderError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || (i == 0 && line == "timestamp") {
            continue;
        }
        match line.parse::<i64>() {
            Ok(t) => out.push(t),
            Err(_) => return Err(bad_line(path, i + 1, "\"<epoch seconds>\"", line)),
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Parses `configs.csv` (header [`CONFIGS_HEADER`]).
pub fn parse_configs(path: &Path, text: &str) -> Result<Vec<ConfigRow>, RunFolderError> {
    const EXPECTED: &str =
        "\"<epoch seconds>|<scaleOut>|<taskSlots>|<cpu cores>|<memory MB>|<chkInt ms>\"";
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == CONFIGS_HEADER => {}
        Some((_, h)) => return Err(bad_line(path, 1, &format!("{CONFIGS_HEADER:?}"), h)),
        None => return Err(bad_line(path, 1, &format!("{CONFIGS_HEADER:?}"), "")),
    }
    let mut out = Vec::new();
    for (i, raw) in lines {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        let parsed = (|| {
            if f.len() != 6 {
                return None;
            }
            let cpu = f[3]
                .parse::<f64>()
                .ok()
                .filter(|c| c.is_finite() && *c > 0.0)?;
            Some(ConfigRow {
                timestamp: f[0].parse().ok()?,
                scale_out: f[1].parse().ok()?,
                task_slots: f[2].parse().ok()?,
                cpu,
                memory_mb: f[4].parse().ok()?,
                checkpoint_interval_ms: f[5].parse().ok()?,
            })
        })();
        match parsed {
            Some(row) => out.push(row),
            None => return Err(bad_line(path, i + 1, EXPECTED, line)),
        }
    }
    out.sort_by_key(|r| r.timestamp);
    Ok(out)
}

/// What `app.log` (the Demeter optimizer log) says about a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppLog {
    /// "Starting Experiment: N".
    pub start_epoch: Option<i64>,
    /// "Injecting delay into target job: <name> at TS: N", ascending (profiling jobs excluded).
    pub failures: Vec<i64>,
    /// The initial "Started target job: ... config={...}" and every "Rescale has been triggered".
    pub configs: Vec<ConfigRow>,
}

/// Epoch seconds of a UTC civil date-time (proleptic Gregorian).
fn epoch_from_utc(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3_600 + mi * 60 + s
}

/// The epoch second of a log line `[LEVEL] YYYY-MM-DD HH:MM:SS.mmm ...` (log is UTC; the
/// fraction is truncated).
fn log_line_epoch(line: &str) -> Option<i64> {
    let rest = line.split_once(']')?.1.trim_start();
    let b = rest.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| rest.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(epoch_from_utc(y, mo, d, h, mi, s))
}

/// The integer after `key` in `s`, e.g. `int_after("at TS: 17", "at TS: ")`.
fn int_after(s: &str, key: &str) -> Option<i64> {
    let rest = &s[s.find(key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The `config={scaleOut: 24, taskSlots: 1, cpu: 1.0, memory: 4096, chkInt: 10000}` part.
fn parse_started_config(line: &str) -> Option<Knobs> {
    let body = &line[line.find("config={")? + "config={".len()..];
    let body = &body[..body.find('}')?];
    let (mut so, mut ts, mut cpu, mut mem, mut chk) = (None, None, None, None, None);
    for kv in body.split(',') {
        let (k, v) = kv.split_once(':')?;
        let v = v.trim();
        match k.trim() {
            "scaleOut" => so = v.parse().ok(),
            "taskSlots" => ts = v.parse().ok(),
            "cpu" => cpu = v.parse::<f64>().ok().filter(|c| c.is_finite() && *c > 0.0),
            "memory" => mem = v.parse().ok(),
            "chkInt" => chk = v.parse().ok(),
            _ => {}
        }
    }
    Some((so?, ts?, cpu?, mem?, chk?))
}

/// The `production_config.configs` object of a "Rescale has been triggered: {json}" line.
fn parse_rescale_json(json: &str) -> Option<Knobs> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let c = v.get("production_config")?.get("configs")?;
    let int = |k: &str| c.get(k)?.as_f64().filter(|x| *x >= 0.0 && x.fract() == 0.0);
    let cpu = c
        .get("container_cpu")?
        .as_f64()
        .filter(|x| x.is_finite() && *x > 0.0)?;
    Some((
        u32::try_from(int("scaleout")? as u64).ok()?,
        u32::try_from(int("task_slots")? as u64).ok()?,
        cpu,
        u32::try_from(int("container_memory")? as u64).ok()?,
        int("checkpoint_interval")? as u64,
    ))
}

/// Parses the Demeter optimizer log. Lines it does not know are ignored; a line it knows but
/// cannot read is an error.
pub fn parse_app_log(path: &Path, text: &str) -> Result<AppLog, RunFolderError> {
    const STARTING: &str = "Starting Experiment: ";
    const INJECT: &str = "Injecting delay into target job: ";
    const STARTED: &str = "Started target job: ";
    const RESCALE: &str = "Rescale has been triggered: ";
    let mut log = AppLog::default();
    let mut initial: Option<ConfigRow> = None;
    let mut rescales: Vec<ConfigRow> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.contains(STARTING) {
            match int_after(line, STARTING) {
                Some(t) if log.start_epoch.is_none() => log.start_epoch = Some(t),
                Some(_) => {}
                None => {
                    return Err(bad_line(
                        path,
                        line_no,
                        "\"Starting Experiment: <epoch seconds>\"",
                        line,
                    ))
                }
            }
        } else if line.contains(INJECT) {
            match int_after(line, " at TS: ") {
                Some(t) => log.failures.push(t),
                None => {
                    return Err(bad_line(
                        path,
                        line_no,
                        "\"Injecting delay into target job: <name> at TS: <epoch seconds>\"",
                        line,
                    ))
                }
            }
        } else if line.contains(STARTED) && initial.is_none() {
            let ts = int_after(line, " at TS: ").or_else(|| log_line_epoch(line));
            match (ts, parse_started_config(line)) {
                (Some(timestamp), Some(knobs)) => initial = Some(ConfigRow::new(timestamp, knobs)),
                _ => {
                    return Err(bad_line(
                        path,
                        line_no,
                        "\"[LEVEL] <yyyy-mm-dd hh:mm:ss.mmm> ... Started target job: ... config={scaleOut: <n>, taskSlots: <n>, cpu: <cores>, memory: <MB>, chkInt: <ms>} ...\"",
                        line,
                    ))
                }
            }
        } else if let Some(pos) = line.find(RESCALE) {
            let json = &line[pos + RESCALE.len()..];
            match (log_line_epoch(line), parse_rescale_json(json)) {
                (Some(timestamp), Some(knobs)) => rescales.push(ConfigRow::new(timestamp, knobs)),
                _ => {
                    return Err(bad_line(
                        path,
                        line_no,
                        "\"[LEVEL] <yyyy-mm-dd hh:mm:ss.mmm> ... Rescale has been triggered: {\\\"production_config\\\":{\\\"configs\\\":{\\\"scaleout\\\":<n>,\\\"checkpoint_interval\\\":<ms>,\\\"container_cpu\\\":<cores>,\\\"container_memory\\\":<MB>,\\\"task_slots\\\":<n>}}}\"",
                        line,
                    ))
                }
            }
        }
    }
    log.failures.sort_unstable();
    log.configs.extend(initial);
    log.configs.extend(rescales);
    log.configs.sort_by_key(|r| r.timestamp);
    Ok(log)
}

/// The optional keys of `manifest.json` this module reads.
#[derive(Clone, Debug, Default, PartialEq)]
struct Manifest {
    start_epoch: Option<i64>,
    window_s: Option<i64>,
    scheduled_failures: Option<u32>,
}

fn parse_manifest(path: &Path, text: &str) -> Result<Manifest, RunFolderError> {
    let bad = |message: String| RunFolderError::BadFile {
        path: path.to_path_buf(),
        message,
    };
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("expected a JSON object at the top level".to_string()))?;
    let int = |key: &str| -> Result<Option<i64>, RunFolderError> {
        match obj.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(x) => x
                .as_i64()
                .map(Some)
                .ok_or_else(|| bad(format!("key {key:?}: expected an integer, found {x}"))),
        }
    };
    let window_s = int("window_s")?;
    if let Some(w) = window_s {
        if w <= 0 {
            return Err(bad(format!(
                "key \"window_s\": expected a positive number of seconds, found {w}"
            )));
        }
    }
    let scheduled_failures = match int("scheduled_failures")? {
        None => None,
        Some(n) => Some(u32::try_from(n).map_err(|_| {
            bad(format!(
                "key \"scheduled_failures\": expected a count >= 0, found {n}"
            ))
        })?),
    };
    Ok(Manifest {
        start_epoch: int("start_epoch")?,
        window_s,
        scheduled_failures,
    })
}

/// Finds `data/<name>-<metric>-data.csv` for every metric; returns `<name>` and the paths.
fn find_data_files(dir: &Path) -> Result<(String, Vec<PathBuf>), RunFolderError> {
    let data = dir.join("data");
    let mut files: Vec<String> = fs::read_dir(&data)
        .map_err(io_err(&data))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    files.sort();
    let mut name: Option<String> = None;
    let mut names: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    for metric in METRICS {
        let suffix = format!("-{metric}-data.csv");
        let matches: Vec<&String> = files
            .iter()
            .filter(|f| f.len() > suffix.len() && f.ends_with(&suffix))
            .collect();
        let m = match matches.as_slice() {
            [] => {
                return Err(RunFolderError::MissingMetric {
                    dir: dir.to_path_buf(),
                    metric: metric.to_string(),
                })
            }
            [one] => *one,
            many => {
                return Err(RunFolderError::AmbiguousMetric {
                    dir: dir.to_path_buf(),
                    metric: metric.to_string(),
                    candidates: many.iter().map(|s| s.to_string()).collect(),
                })
            }
        };
        let prefix = m[..m.len() - suffix.len()].to_string();
        if !names.contains(&prefix) {
            names.push(prefix.clone());
        }
        name.get_or_insert(prefix);
        paths.push(data.join(m));
    }
    if names.len() > 1 {
        return Err(RunFolderError::MixedNames {
            dir: dir.to_path_buf(),
            names,
        });
    }
    Ok((name.unwrap_or_default(), paths))
}

fn read_optional(path: &Path) -> Result<Option<String>, RunFolderError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RunFolderError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Reads a run folder (see the module documentation for the layout and the fall-backs).
pub fn read_run_folder(dir: &Path) -> Result<RunData, RunFolderError> {
    let (name, paths) = find_data_files(dir)?;
    let mut run = RunData {
        name,
        ..RunData::default()
    };
    for (metric, path) in METRICS.iter().zip(&paths) {
        let series = parse_series(path, &read_text(path)?)?;
        if let Some(slot) = run.series_mut(metric) {
            *slot = series;
        }
    }

    let manifest_path = dir.join("manifest.json");
    let manifest = match read_optional(&manifest_path)? {
        Some(text) => parse_manifest(&manifest_path, &text)?,
        None => Manifest::default(),
    };
    let log_path = dir.join("app.log");
    let log = match read_optional(&log_path)? {
        Some(text) => Some(parse_app_log(&log_path, &text)?),
        None => None,
    };

    let first_sample = METRICS
        .iter()
        .filter_map(|m| run.series(m)?.points.first().map(|p| p.0))
        .min();
    let last_sample = METRICS
        .iter()
        .filter_map(|m| run.series(m)?.points.last().map(|p| p.0))
        .max();
    run.start_epoch = manifest
        .start_epoch
        .or_else(|| log.as_ref().and_then(|l| l.start_epoch))
        .or(first_sample)
        .unwrap_or(0);
    run.window_s = match (manifest.window_s, &log) {
        (Some(w), _) => w,
        (None, Some(_)) => DEMETER_WINDOW_S,
        (None, None) => last_sample.map_or(0, |l| (l - run.start_epoch + 1).max(0)),
    };

    let failures_path = dir.join("failures.csv");
    run.failures = match read_optional(&failures_path)? {
        Some(text) => parse_failures(&failures_path, &text)?,
        None => log.as_ref().map(|l| l.failures.clone()).unwrap_or_default(),
    };
    let profiling_path = dir.join("profiling.csv");
    if let Some(text) = read_optional(&profiling_path)? {
        run.profiling = parse_profiling(&profiling_path, &text)?;
    }
    let configs_path = dir.join("configs.csv");
    run.configs = match read_optional(&configs_path)? {
        Some(text) => parse_configs(&configs_path, &text)?,
        None => log.as_ref().map(|l| l.configs.clone()).unwrap_or_default(),
    };
    run.scheduled_failures = manifest.scheduled_failures.or_else(|| {
        log.as_ref().map(|_| {
            // The Demeter listener fires at t = 2700 k, k >= 1, t < window.
            let n = (run.window_s - 1).max(0) / DEMETER_FAILURE_PERIOD_S;
            u32::try_from(n).unwrap_or(u32::MAX)
        })
    });
    Ok(run)
}

/// The text of one series file, as [`write_run_folder`] writes it. NaN is written as `nan`
/// (read back as "no sample"); an infinite value is an error.
pub fn format_series(path: &Path, series: &Series) -> Result<String, RunFolderError> {
    let mut out = String::with_capacity(16 + series.points.len() * 24);
    out.push_str(SERIES_HEADER);
    out.push('\n');
    for &(t, v) in &series.points {
        if v.is_nan() {
            let _ = writeln!(out, "{t}|nan");
        } else if v.is_infinite() {
            return Err(RunFolderError::BadFile {
                path: path.to_path_buf(),
                message: format!(
                    "second {t} has the value {v}; a series holds finite numbers (use NaN or leave the second out for \"no sample\")"
                ),
            });
        } else {
            let _ = writeln!(out, "{t}|{v}");
        }
    }
    Ok(out)
}

/// The text of `configs.csv`.
pub fn format_configs(configs: &[ConfigRow]) -> String {
    let mut out = String::from(CONFIGS_HEADER);
    out.push('\n');
    for c in configs {
        let _ = writeln!(
            out,
            "{}|{}|{}|{}|{}|{}",
            c.timestamp, c.scale_out, c.task_slots, c.cpu, c.memory_mb, c.checkpoint_interval_ms
        );
    }
    out
}

/// The text of `failures.csv` (no header, one epoch second per line).
pub fn format_failures(failures: &[i64]) -> String {
    let mut out = String::new();
    for t in failures {
        let _ = writeln!(out, "{t}");
    }
    out
}

/// Header of `evaluations.csv`.
pub const EVALUATIONS_HEADER: &str = "timestamp,policy,vertex,parallelism,busy,true_processing_rate_rps,target_data_rate_rps,catch_up_rate_rps,scale_up_threshold_rps,scale_down_threshold_rps,proposed_parallelism,new_parallelism,outcome";

/// The text of `evaluations.csv`: one row per vertex per policy evaluation, in time order.
/// `timestamp` is epoch seconds (`start_epoch_ms` + the run's time, floored, as the series
/// files); numbers have 3 decimals (busy 4), an unmeasured value (NaN) is empty, an infinite
/// one `inf`.
pub fn format_evaluations(
    policy: &str,
    start_epoch_ms: i64,
    rows: &[crate::policy::Evaluation],
) -> String {
    fn num(x: f64, decimals: usize) -> String {
        if x.is_nan() {
            String::new()
        } else if x.is_infinite() {
            if x > 0.0 { "inf" } else { "-inf" }.to_string()
        } else {
            format!("{x:.decimals$}")
        }
    }
    let mut out = String::from(EVALUATIONS_HEADER);
    out.push('\n');
    for r in rows {
        let ts = (start_epoch_ms + r.time.as_ms() as i64).div_euclid(1000);
        let _ = writeln!(
            out,
            "{ts},{policy},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.vertex),
            r.parallelism,
            num(r.busy, 4),
            num(r.true_processing_rate_rps, 3),
            num(r.target_data_rate_rps, 3),
            num(r.catch_up_rate_rps, 3),
            num(r.scale_up_threshold_rps, 3),
            num(r.scale_down_threshold_rps, 3),
            r.proposed_parallelism,
            r.new_parallelism,
            r.outcome
        );
    }
    out
}

/// `s` as one CSV field: quoted (quotes doubled) if it holds a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `evaluations.csv` into `dir` ([`format_evaluations`]).
pub fn write_evaluations(
    dir: &Path,
    policy: &str,
    start_epoch_ms: i64,
    rows: &[crate::policy::Evaluation],
) -> std::io::Result<PathBuf> {
    let p = dir.join("evaluations.csv");
    fs::write(&p, format_evaluations(policy, start_epoch_ms, rows))?;
    Ok(p)
}

fn write_file(path: &Path, text: &str) -> Result<(), RunFolderError> {
    fs::write(path, text).map_err(io_err(path))
}

/// Writes the six series (`data/<name>-<metric>-data.csv`), `failures.csv` and `configs.csv`
/// into `dir`, creating `dir/data`. Existing files are overwritten: the caller decides whether
/// that is allowed. `manifest.json` is not written here.
pub fn write_run_folder(dir: &Path, run: &RunData) -> Result<(), RunFolderError> {
    let name_ok = !run.name.is_empty()
        && !run
            .name
            .contains(|c: char| c == '/' || c == '\\' || c.is_control());
    if !name_ok {
        return Err(RunFolderError::BadFile {
            path: dir.to_path_buf(),
            message: format!(
                "run name {:?} cannot be a file-name prefix; use a non-empty name without '/' or '\\'",
                run.name
            ),
        });
    }
    let data = dir.join("data");
    fs::create_dir_all(&data).map_err(io_err(&data))?;
    for (metric, series) in run.all_series() {
        let path = data.join(format!("{}-{metric}-data.csv", run.name));
        write_file(&path, &format_series(&path, series)?)?;
    }
    write_file(&dir.join("failures.csv"), &format_failures(&run.failures))?;
    write_file(&dir.join("configs.csv"), &format_configs(&run.configs))?;
    if !run.profiling.is_empty() {
        write_file(
            &dir.join("profiling.csv"),
            &format_profiling(&run.profiling),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/x/data/a-latency-data.csv")
    }

    #[test]
    fn series_skips_null_nan_and_empty_values() {
        let text = "timestamp|value\n10|1.5\n11|null\n12|nan\n13|NaN\n14|\n15|2\n";
        let s = parse_series(&p(), text).unwrap();
        assert_eq!(s.points, vec![(10, 1.5), (15, 2.0)]);
    }

    #[test]
    fn series_sorts_rows_and_merges_identical_repeats() {
        let text = "timestamp|value\n20|3\n10|1\n11|2\n11|2\n";
        let s = parse_series(&p(), text).unwrap();
        assert_eq!(s.points, vec![(10, 1.0), (11, 2.0), (20, 3.0)]);
    }

    #[test]
    fn malformed_series_line_names_file_line_and_expectation() {
        let text = "timestamp|value\n1|2\nabc|1\n";
        let e = parse_series(&p(), text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"/x/data/a-latency-data.csv\" line 3: expected \"<epoch seconds>|<number>\", found \"abc|1\""
        );
        let e = parse_series(&p(), "timestamp|value\n1|2\n2|fast\n").unwrap_err();
        assert!(e.to_string().contains("line 3: expected"), "{e}");
        let e = parse_series(&p(), "timestamp|value\n1|inf\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse_series(&p(), "timestamp|value\n1 2\n").unwrap_err();
        assert!(e.to_string().contains("found \"1 2\""), "{e}");
    }

    #[test]
    fn series_without_header_is_rejected() {
        let e = parse_series(&p(), "1|2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"/x/data/a-latency-data.csv\" line 1: expected \"timestamp|value\", found \"1|2\""
        );
        assert!(parse_series(&p(), "").is_err());
    }

    #[test]
    fn conflicting_values_for_one_second_are_an_error() {
        let e = parse_series(&p(), "timestamp|value\n5|1\n6|1\n5|2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"/x/data/a-latency-data.csv\" line 4: second 5 appears twice with different values (1 and 2); a series has one value per second"
        );
    }

    #[test]
    fn failures_accept_an_optional_header() {
        let f = Path::new("failures.csv");
        assert_eq!(parse_failures(f, "30\n10\n").unwrap(), vec![10, 30]);
        assert_eq!(parse_failures(f, "timestamp\n10\n\n").unwrap(), vec![10]);
        let e = parse_failures(f, "10\n1.5\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"failures.csv\" line 2: expected \"<epoch seconds>\", found \"1.5\""
        );
    }

    #[test]
    fn configs_parse_and_reject_malformed_rows() {
        let f = Path::new("configs.csv");
        let text = "timestamp|scaleOut|taskSlots|cpu|memory|chkInt\n100|24|1|1|4096|10000\n";
        let c = parse_configs(f, text).unwrap();
        assert_eq!(
            c,
            vec![ConfigRow {
                timestamp: 100,
                scale_out: 24,
                task_slots: 1,
                cpu: 1.0,
                memory_mb: 4096,
                checkpoint_interval_ms: 10_000
            }]
        );
        let e = parse_configs(
            f,
            "timestamp|scaleOut|taskSlots|cpu|memory|chkInt\n1|2|3|4|5\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("\"configs.csv\" line 2: expected"),
            "{e}"
        );
        let e = parse_configs(f, "timestamp|cpu\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn utc_log_times_convert_to_epoch_seconds() {
        assert_eq!(epoch_from_utc(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(epoch_from_utc(2000, 2, 29, 23, 59, 59), 951_868_799);
        assert_eq!(
            log_line_epoch("[INFO ] 2023-10-13 11:01:46.021 [pool-2-thread-2] SequenceFSM - x"),
            Some(1_697_194_906)
        );
        assert_eq!(log_line_epoch("no time here"), None);
    }

    const LOG: &str = "\
[INFO ] 2023-10-13 09:21:17.136 [main] SequenceFSM - Started target job: FlinkJob{port=32007, jobName='demeter', extraArgs={redisHost=redis-cluster, redisPort=6379}, config={scaleOut: 24, taskSlots: 1, cpu: 1.0, memory: 4096, chkInt: 10000}, tsList=[1697188878], isActive=true} at TS: 1697188878
[INFO ] 2023-10-13 09:21:17.524 [main] SequenceFSM - Starting Experiment: 1697188878
[INFO ] 2023-10-13 09:43:02.002 [pool-2-thread-4] SequenceFSM - Injecting delay into profiling job: profile2
[INFO ] 2023-10-13 10:06:23.012 [pool-2-thread-1] SequenceFSM - Injecting delay into target job: demeter at TS: 1697191583
[INFO ] 2023-10-13 11:01:46.021 [pool-2-thread-2] SequenceFSM - Rescale has been triggered: {\"status\":\"RESCALE\",\"production_config\":{\"acqf_value\":null,\"configs\":{\"scaleout\":16,\"checkpoint_interval\":70000,\"container_cpu\":2.0,\"container_memory\":3072,\"task_slots\":2}}}
";

    #[test]
    fn app_log_gives_start_target_failures_and_config_timeline() {
        let log = parse_app_log(Path::new("app.log"), LOG).unwrap();
        assert_eq!(log.start_epoch, Some(1_697_188_878));
        assert_eq!(log.failures, vec![1_697_191_583]);
        assert_eq!(log.configs.len(), 2);
        assert_eq!(log.configs[0].timestamp, 1_697_188_878);
        assert_eq!(log.configs[0].memory_mb, 4096);
        assert_eq!(
            log.configs[1],
            ConfigRow {
                timestamp: 1_697_194_906,
                scale_out: 16,
                task_slots: 2,
                cpu: 2.0,
                memory_mb: 3072,
                checkpoint_interval_ms: 70_000
            }
        );
    }

    #[test]
    fn started_line_without_ts_uses_the_log_time() {
        let line = "[INFO ] 2023-09-18 06:34:32.242 [main] SequenceFSM - Started target job: FlinkJob{jobName='reactive', config={scaleOut: 24, taskSlots: 1, cpu: 1.0, memory: 4096, chkInt: 10000}, tsList=[1695018873], isActive=true}";
        let log = parse_app_log(Path::new("app.log"), line).unwrap();
        assert_eq!(log.configs[0].timestamp, 1_695_018_872);
    }

    #[test]
    fn unreadable_known_log_line_is_an_error() {
        let line = "[INFO ] 2023-10-13 11:01:46.021 [t] SequenceFSM - Rescale has been triggered: {\"oops\":1}";
        let e = parse_app_log(Path::new("app.log"), line).unwrap_err();
        assert!(
            e.to_string().starts_with("\"app.log\" line 1: expected"),
            "{e}"
        );
        let line = "[INFO ] x SequenceFSM - Injecting delay into target job: demeter";
        assert!(parse_app_log(Path::new("app.log"), line).is_err());
    }

    fn write_series_files(dir: &Path, name: &str, text: &str) {
        fs::create_dir_all(dir.join("data")).unwrap();
        for m in METRICS {
            fs::write(dir.join("data").join(format!("{name}-{m}-data.csv")), text).unwrap();
        }
    }

    #[test]
    fn folder_without_manifest_or_log_spans_its_samples() {
        let tmp = tempfile::tempdir().unwrap();
        write_series_files(
            tmp.path(),
            "sim",
            "timestamp|value\n100|1\n105|null\n109|2\n",
        );
        let run = read_run_folder(tmp.path()).unwrap();
        assert_eq!(run.name, "sim");
        assert_eq!((run.start_epoch, run.window_s), (100, 10));
        assert!(run.failures.is_empty() && run.configs.is_empty());
        assert_eq!(run.scheduled_failures, None);
    }

    #[test]
    fn app_log_gives_the_demeter_window_and_schedule_and_manifest_overrides_it() {
        let tmp = tempfile::tempdir().unwrap();
        write_series_files(tmp.path(), "demeter", "timestamp|value\n1697188878|1\n");
        fs::write(tmp.path().join("app.log"), LOG).unwrap();
        let run = read_run_folder(tmp.path()).unwrap();
        assert_eq!((run.start_epoch, run.window_s), (1_697_188_878, 64_800));
        assert_eq!(run.failures, vec![1_697_191_583]);
        assert_eq!(run.configs.len(), 2);
        assert_eq!(run.scheduled_failures, Some(23));

        fs::write(
            tmp.path().join("manifest.json"),
            r#"{"start_epoch": 5, "window_s": 7, "scheduled_failures": 2, "other": "x"}"#,
        )
        .unwrap();
        fs::write(tmp.path().join("failures.csv"), "6\n").unwrap();
        let run = read_run_folder(tmp.path()).unwrap();
        assert_eq!((run.start_epoch, run.window_s), (5, 7));
        assert_eq!(run.scheduled_failures, Some(2));
        assert_eq!(run.failures, vec![6]);

        fs::write(tmp.path().join("manifest.json"), r#"{"window_s": "long"}"#).unwrap();
        let e = read_run_folder(tmp.path()).unwrap_err().to_string();
        assert!(
            e.ends_with("manifest.json\": key \"window_s\": expected an integer, found \"long\""),
            "{e}"
        );
    }

    #[test]
    fn missing_ambiguous_or_mixed_data_files_are_errors() {
        let tmp = tempfile::tempdir().unwrap();
        write_series_files(tmp.path(), "a", "timestamp|value\n");
        fs::remove_file(tmp.path().join("data/a-cpu_load-data.csv")).unwrap();
        let e = read_run_folder(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("no file data/<name>-cpu_load-data.csv"), "{e}");

        write_series_files(tmp.path(), "a", "timestamp|value\n");
        fs::write(
            tmp.path().join("data/b-latency-data.csv"),
            "timestamp|value\n",
        )
        .unwrap();
        let e = read_run_folder(tmp.path()).unwrap_err().to_string();
        assert!(
            e.contains("several files match data/*-latency-data.csv (a-latency-data.csv, b-latency-data.csv)"),
            "{e}"
        );

        fs::remove_file(tmp.path().join("data/a-latency-data.csv")).unwrap();
        let e = read_run_folder(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("different runs (b, a)"), "{e}");

        let e = read_run_folder(&tmp.path().join("nowhere"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nowhere/data"), "{e}");
    }

    #[test]
    fn written_folder_reads_back_identically() {
        let tmp = tempfile::tempdir().unwrap();
        let series = |pts: &[(i64, f64)]| Series {
            points: pts.to_vec(),
        };
        let run = RunData {
            profiling: vec![],
            name: "sim".into(),
            start_epoch: 100,
            window_s: 3,
            latency_ms: series(&[(100, 1234.5678901234567), (102, 0.1 + 0.2)]),
            throughput_rps: series(&[(100, 25_000.0)]),
            consumer_lag: series(&[(101, 3.0)]),
            cpu_load: series(&[(100, 0.25)]),
            task_managers: series(&[(100, 24.0), (101, 23.0), (102, 24.0)]),
            task_slots: series(&[(100, 24.0)]),
            failures: vec![101],
            configs: vec![ConfigRow {
                timestamp: 99,
                scale_out: 24,
                task_slots: 1,
                cpu: 1.5,
                memory_mb: 4096,
                checkpoint_interval_ms: 10_000,
            }],
            scheduled_failures: None,
        };
        write_run_folder(tmp.path(), &run).unwrap();
        let tms = fs::read_to_string(tmp.path().join("data/sim-task_managers-data.csv")).unwrap();
        assert_eq!(tms, "timestamp|value\n100|24\n101|23\n102|24\n");
        let cfg = fs::read_to_string(tmp.path().join("configs.csv")).unwrap();
        assert_eq!(cfg, format!("{CONFIGS_HEADER}\n99|24|1|1.5|4096|10000\n"));
        assert_eq!(
            fs::read_to_string(tmp.path().join("failures.csv")).unwrap(),
            "101\n"
        );
        let back = read_run_folder(tmp.path()).unwrap();
        assert_eq!(back.name, run.name);
        for (m, s) in run.all_series() {
            assert_eq!(back.series(m), Some(s), "{m}");
        }
        assert_eq!(back.failures, run.failures);
        assert_eq!(back.configs, run.configs);
        // No manifest: the window spans the samples.
        assert_eq!((back.start_epoch, back.window_s), (100, 3));
    }

    #[test]
    fn writing_rejects_infinite_values_and_unusable_names() {
        let tmp = tempfile::tempdir().unwrap();
        let mut run = RunData {
            name: "x".into(),
            ..RunData::default()
        };
        run.latency_ms.points.push((1, f64::INFINITY));
        let e = write_run_folder(tmp.path(), &run).unwrap_err().to_string();
        assert!(
            e.contains("x-latency-data.csv\": second 1 has the value inf"),
            "{e}"
        );
        run.name = "a/b".into();
        assert!(write_run_folder(tmp.path(), &run).is_err());
    }

    #[test]
    fn series_range_and_at_select_by_second() {
        let s = Series {
            points: vec![(1, 1.0), (3, 3.0), (5, 5.0)],
        };
        assert_eq!(s.range(2, 5), &[(3, 3.0)]);
        assert_eq!(s.range(6, 2), &[] as &[(i64, f64)]);
        assert_eq!(s.at(5), Some(5.0));
        assert_eq!(s.at(4), None);
    }
}
