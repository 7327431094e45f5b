//! Parameter sweeps: a base scenario, axes of dotted scenario keys and seeds, expanded into runs.
//!
//! A sweep file (TOML, unknown keys rejected) names a base scenario and the values to try:
//!
//! ```toml
//! [sweep]
//! name = "checkpoint_hpa"           # optional; default: the file name without .toml
//! scenario = "ysb_failures.toml"    # base scenario, relative to this file
//! seeds = 3                         # N: scenario.seed + 0 .. N-1; or a list: [42, 43, 44]
//!
//! [set]                             # optional: the same for every run
//! "policy.name" = "reactive"
//!
//! [[axis]]                          # slowest-varying first
//! key = "config.checkpoint_interval"
//! values = ["10s", "30s", "60s"]
//! ```
//!
//! Every run starts from the base scenario's TOML table: `[set]` is merged into it key by key,
//! then each axis value replaces the value at its dotted key (creating missing tables), and only
//! then is the result checked as a scenario, so any scenario key can be an axis and the usual
//! checks apply. When the sweep changes `policy.name`, the base scenario's `[policy.params]` are
//! dropped first (as with `run --policy`); parameters the sweep sets are kept.
//!
//! Run order (the run index, and the order of every results file): the cartesian product of the
//! axes in file order with the first axis slowest, and seeds fastest:
//! `index = ((i_1 * n_2 + i_2) * n_3 + i_3 ...) * seeds + i_seed`, `i_k` the position of the
//! value in axis `k`. Sorting by run key (axis value positions, then seed position) is the same.

mod exec;
mod results;

pub use exec::{execute_run, run_parallel, thread_pool};
pub use results::{
    csv_field, merge, parse_part, parse_shard, rows_csv, write_results, Part, ResultsHeader,
    RunRow, METRIC_COLUMNS,
};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::policy;
use crate::scenario::{self, Scenario, ScenarioSpec};
use crate::simulate::sha256_hex;

/// Most runs one sweep may expand to.
pub const MAX_RUNS: u64 = 10_000_000;

/// A problem with a sweep file (or a scenario it produces). Names the sweep file first.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SweepError {
    pub file: String,
    pub message: String,
}

/// The sweep file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: SweepSection,
    #[serde(default)]
    set: toml::Table,
    #[serde(default)]
    axis: Vec<AxisSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepSection {
    name: Option<String>,
    scenario: PathBuf,
    #[serde(default = "one_seed")]
    seeds: SeedsSpec,
}

fn one_seed() -> SeedsSpec {
    SeedsSpec::Count(1)
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SeedsSpec {
    Count(i64),
    List(Vec<i64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisSpec {
    key: String,
    values: Vec<toml::Value>,
}

/// Which master seeds each combination runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// `scenario.seed + 0 .. n-1` (the combination's own `scenario.seed`).
    Count(u64),
    /// These master seeds, in this order.
    List(Vec<u64>),
}

impl Seeds {
    pub fn len(&self) -> u64 {
        match self {
            Seeds::Count(n) => *n,
            Seeds::List(l) => l.len() as u64,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The `i`-th seed of a combination whose scenario seed is `base`.
    pub fn seed(&self, base: u64, i: u64) -> u64 {
        match self {
            Seeds::Count(_) => base.wrapping_add(i),
            Seeds::List(l) => l[i as usize],
        }
    }
}

/// One axis: a dotted scenario key and the values it takes, with their labels in run keys.
#[derive(Clone, Debug)]
pub struct Axis {
    pub key: String,
    pub values: Vec<toml::Value>,
    /// How each value appears in results: a string as written, anything else as TOML.
    pub labels: Vec<String>,
}

/// A loaded, checked sweep file.
#[derive(Clone, Debug)]
pub struct Sweep {
    pub path: PathBuf,
    pub name: String,
    /// The base scenario file (resolved against the sweep file's folder).
    pub scenario_path: PathBuf,
    pub axes: Vec<Axis>,
    pub seeds: Seeds,
    /// SHA-256 of the crate version, the sweep file's bytes and the base scenario's bytes:
    /// every results file of this sweep carries it, and `merge` only joins equal hashes.
    pub hash: String,
    base: toml::Table,
    base_policy: Option<String>,
    /// `[set]` flattened to dotted keys, in key order.
    set: Vec<(String, toml::Value)>,
}

/// One run of a sweep: its index, run key and the scenario it runs.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub index: u64,
    /// Position of the value in each axis.
    pub positions: Vec<usize>,
    /// Label of the value in each axis.
    pub labels: Vec<String>,
    pub seed: u64,
    pub scenario: Arc<Scenario>,
}

impl Sweep {
    /// Reads, checks and hashes a sweep file and its base scenario.
    pub fn load(path: &Path) -> Result<Sweep, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|e| SweepError {
            file: path.display().to_string(),
            message: format!("cannot read the file: {e}"),
        })?;
        Sweep::from_text(path, &text)
    }

    /// Like [`Sweep::load`] with the file's text given (`path` still locates the base scenario).
    pub fn from_text(path: &Path, text: &str) -> Result<Sweep, SweepError> {
        let file = path.display().to_string();
        let err = |message: String| SweepError {
            file: file.clone(),
            message,
        };
        let spec: SweepFile = toml::from_str(text)
            .map_err(|e| err(e.to_string().trim_end().replace('\n', "\n    ")))?;
        let name = match spec.sweep.name {
            Some(n) if n.trim().is_empty() => {
                return Err(err("key `sweep.name`: expected a non-empty name".into()))
            }
            Some(n) => n,
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sweep".into()),
        };
        if name.contains(['\n', '\r']) {
            return Err(err("key `sweep.name`: expected a single line".into()));
        }
        let seeds = match spec.sweep.seeds {
            SeedsSpec::Count(n) if n >= 1 => Seeds::Count(n as u64),
            SeedsSpec::Count(n) => {
                return Err(err(format!(
                    "key `sweep.seeds`: expected a count >= 1 or a list of seeds, found {n}"
                )))
            }
            SeedsSpec::List(l) => {
                if l.is_empty() {
                    return Err(err(
                        "key `sweep.seeds`: expected a count >= 1 or a non-empty list of seeds, found []"
                            .into(),
                    ));
                }
                let mut seen = std::collections::BTreeSet::new();
                let mut out = Vec::with_capacity(l.len());
                for s in l {
                    let s = u64::try_from(s).map_err(|_| {
                        err(format!("key `sweep.seeds`: expected seeds >= 0, found {s}"))
                    })?;
                    if !seen.insert(s) {
                        return Err(err(format!(
                            "key `sweep.seeds`: expected distinct seeds, found {s} twice"
                        )));
                    }
                    out.push(s);
                }
                Seeds::List(out)
            }
        };

        let mut axes: Vec<Axis> = Vec::with_capacity(spec.axis.len());
        for (i, a) in spec.axis.into_iter().enumerate() {
            let at = format!("axis {} (`{}`)", i + 1, a.key);
            check_key(&a.key).map_err(|m| err(format!("{at}: key: {m}")))?;
            if a.values.is_empty() {
                return Err(err(format!(
                    "{at}: key `values`: expected at least one value"
                )));
            }
            let labels: Vec<String> = a.values.iter().map(label).collect();
            for (j, l) in labels.iter().enumerate() {
                if l.contains(['\n', '\r']) {
                    return Err(err(format!(
                        "{at}: value {}: expected a value without line breaks",
                        j + 1
                    )));
                }
                if labels[..j].contains(l) {
                    return Err(err(format!(
                        "{at}: expected distinct values, found {l} twice"
                    )));
                }
            }
            for b in &axes {
                if overlaps(&a.key, &b.key) {
                    return Err(err(format!(
                        "{at}: overlaps axis `{}`: expected each scenario key on one axis only",
                        b.key
                    )));
                }
            }
            axes.push(Axis {
                key: a.key,
                values: a.values,
                labels,
            });
        }
        let mut set = Vec::new();
        flatten("", &spec.set, &mut set);
        for (k, _) in &set {
            check_key(k).map_err(|m| err(format!("key `set.\"{k}\"`: {m}")))?;
        }

        let total = axes
            .iter()
            .try_fold(seeds.len(), |acc, a| acc.checked_mul(a.values.len() as u64))
            .filter(|&t| t <= MAX_RUNS)
            .ok_or_else(|| err(format!("expected at most {MAX_RUNS} runs in one sweep")))?;
        let _ = total;

        let base_dir = path.parent().unwrap_or(Path::new(""));
        let scenario_path = if spec.sweep.scenario.is_absolute() {
            spec.sweep.scenario.clone()
        } else {
            base_dir.join(&spec.sweep.scenario)
        };
        let base_text = std::fs::read_to_string(&scenario_path).map_err(|e| {
            err(format!(
                "key `sweep.scenario`: cannot read {}: {e}",
                scenario_path.display()
            ))
        })?;
        let base: toml::Table = toml::from_str(&base_text).map_err(|e| {
            err(format!(
                "key `sweep.scenario`: {}: {}",
                scenario_path.display(),
                e.to_string().trim_end().replace('\n', "\n    ")
            ))
        })?;
        let base_policy = policy_name(&base);
        let mut hasher_input = Vec::new();
        for part in [env!("CARGO_PKG_VERSION"), text, base_text.as_str()] {
            hasher_input.extend_from_slice(&(part.len() as u64).to_le_bytes());
            hasher_input.extend_from_slice(part.as_bytes());
        }
        Ok(Sweep {
            path: path.to_path_buf(),
            name,
            scenario_path,
            axes,
            seeds,
            hash: sha256_hex(&hasher_input),
            base,
            base_policy,
            set,
        })
    }

    /// Number of runs: the product of the axis lengths times the seeds.
    pub fn total_runs(&self) -> u64 {
        self.axes
            .iter()
            .fold(self.seeds.len(), |acc, a| acc * a.values.len() as u64)
    }

    /// Number of value combinations (runs without the seeds).
    pub fn combinations(&self) -> u64 {
        self.total_runs() / self.seeds.len()
    }

    /// The header every results file of this sweep starts with.
    pub fn header(&self) -> ResultsHeader {
        ResultsHeader {
            name: self.name.clone(),
            hash: self.hash.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            runs: self.total_runs(),
            key_columns: self.key_columns(),
            shard: None,
        }
    }

    /// The run-key columns of results: `run`, one per axis (its key), `seed`.
    pub fn key_columns(&self) -> Vec<String> {
        let mut cols = vec!["run".to_string()];
        cols.extend(self.axes.iter().map(|a| a.key.clone()));
        cols.push("seed".into());
        cols
    }

    /// The scenario table of one combination (`positions[k]` = value index on axis `k`).
    pub fn table(&self, positions: &[usize]) -> Result<toml::Table, String> {
        let overrides: Vec<(&str, &toml::Value)> = self
            .set
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(
                self.axes
                    .iter()
                    .zip(positions)
                    .map(|(a, &i)| (a.key.as_str(), &a.values[i])),
            )
            .collect();
        self.apply(&overrides)
    }

    fn apply(&self, overrides: &[(&str, &toml::Value)]) -> Result<toml::Table, String> {
        let mut t = self.base.clone();
        for (k, v) in overrides {
            set_path(&mut t, k, (*v).clone())?;
        }
        if policy_name(&t) != self.base_policy {
            // A different policy: the base scenario's parameters were for the old one.
            let mut t2 = self.base.clone();
            if let Some(toml::Value::Table(p)) = t2.get_mut("policy") {
                p.remove("params");
            }
            for (k, v) in overrides {
                set_path(&mut t2, k, (*v).clone())?;
            }
            t = t2;
        }
        Ok(t)
    }

    /// Checks a scenario table as a scenario file and builds its policy once (to reject unknown
    /// policies and parameters before anything runs).
    fn check_table(&self, table: toml::Table) -> Result<Scenario, String> {
        let file = self.scenario_path.display().to_string();
        let text = toml::to_string(&table).map_err(|e| e.to_string())?;
        let spec: ScenarioSpec = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("{file}: {}", e.message().trim_end()))?;
        let s = scenario::check(spec, &self.scenario_path, text).map_err(|e| e.to_string())?;
        policy::build(&s.policy, 0).map_err(|e| format!("{file}: key `policy`: {e}"))?;
        Ok(s)
    }

    /// Expands the sweep into its runs, in run-index order, checking every combination first:
    /// `[set]` alone, then each axis value on its own (so an error names the axis key and the
    /// value), then every combination.
    pub fn expand(&self) -> Result<Vec<RunSpec>, SweepError> {
        let err = |message: String| SweepError {
            file: self.path.display().to_string(),
            message,
        };
        let set: Vec<(&str, &toml::Value)> =
            self.set.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let base = self
            .apply(&set)
            .and_then(|t| self.check_table(t))
            .map_err(|m| {
                let what = if self.set.is_empty() {
                    "key `sweep.scenario`".to_string()
                } else {
                    "the base scenario with [set]".to_string()
                };
                err(format!("{what}: {m}"))
            })?;
        for a in &self.axes {
            for (v, l) in a.values.iter().zip(&a.labels) {
                let mut o = set.clone();
                o.push((a.key.as_str(), v));
                self.apply(&o)
                    .and_then(|t| self.check_table(t))
                    .map_err(|m| err(format!("axis `{}` = {l}: {m}", a.key)))?;
            }
        }
        drop(base);

        let lens: Vec<usize> = self.axes.iter().map(|a| a.values.len()).collect();
        let mut runs = Vec::with_capacity(self.total_runs() as usize);
        let mut positions = vec![0usize; lens.len()];
        let mut index = 0u64;
        for _ in 0..self.combinations() {
            let labels: Vec<String> = self
                .axes
                .iter()
                .zip(&positions)
                .map(|(a, &i)| a.labels[i].clone())
                .collect();
            let scenario = self
                .table(&positions)
                .and_then(|t| self.check_table(t))
                .map_err(|m| {
                    let key: Vec<String> = self
                        .axes
                        .iter()
                        .zip(&labels)
                        .map(|(a, l)| format!("{} = {l}", a.key))
                        .collect();
                    err(format!("combination {}: {m}", key.join(", ")))
                })?;
            let scenario = Arc::new(scenario);
            for s in 0..self.seeds.len() {
                runs.push(RunSpec {
                    index,
                    positions: positions.clone(),
                    labels: labels.clone(),
                    seed: self.seeds.seed(scenario.seed, s),
                    scenario: Arc::clone(&scenario),
                });
                index += 1;
            }
            // Odometer: the last axis fastest.
            for k in (0..lens.len()).rev() {
                positions[k] += 1;
                if positions[k] < lens[k] {
                    break;
                }
                positions[k] = 0;
            }
        }
        Ok(runs)
    }
}

/// The label of an axis value in run keys and results: strings as written, others as TOML.
pub fn label(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn policy_name(t: &toml::Table) -> Option<String> {
    t.get("policy")?
        .as_table()?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.split('.').any(|p| p.trim().is_empty() || p != p.trim()) {
        return Err(format!(
            "expected a dotted scenario key like \"config.checkpoint_interval\", found {key:?}"
        ));
    }
    Ok(())
}

/// Two keys overlap when one is the other or a table holding it.
fn overlaps(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short || long.starts_with(&format!("{short}."))
}

/// `[set]` as dotted keys: tables merge key by key (an empty table is set as it is).
fn flatten(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) if !inner.is_empty() => flatten(&key, inner, out),
            _ => out.push((key, v.clone())),
        }
    }
}

/// Sets `value` at the dotted `key` of `table`, creating missing tables on the way.
pub fn set_path(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, walk) = parts.split_last().expect("split yields at least one part");
    let mut t = table;
    for (i, p) in walk.iter().enumerate() {
        let entry = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match entry {
            toml::Value::Table(inner) => inner,
            other => {
                return Err(format!(
                    "key `{}` is a {}, not a table, so `{key}` cannot be set",
                    parts[..=i].join("."),
                    other.type_str()
                ))
            }
        };
    }
    t.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_path_creates_tables_and_refuses_to_descend_into_values() {
        let mut t: toml::Table = toml::from_str("[config]\ncpu = 1.0\n").unwrap();
        set_path(&mut t, "policy.params.target", toml::Value::Float(0.5)).unwrap();
        assert_eq!(t["policy"]["params"]["target"].as_float(), Some(0.5));
        let e = set_path(&mut t, "config.cpu.x", toml::Value::Integer(1)).unwrap_err();
        assert!(e.contains("`config.cpu` is a float"), "{e}");
    }

    #[test]
    fn overlap_and_keys() {
        assert!(overlaps("policy", "policy.name"));
        assert!(overlaps("a.b", "a.b"));
        assert!(!overlaps("policy.name", "policy.params.x"));
        assert!(!overlaps("config.cpu", "config.cpus"));
        assert!(check_key("a..b").is_err());
        assert!(check_key("").is_err());
        assert!(check_key("a.b").is_ok());
    }

    #[test]
    fn labels() {
        assert_eq!(label(&toml::Value::String("10s".into())), "10s");
        assert_eq!(label(&toml::Value::Float(0.5)), "0.5");
        assert_eq!(label(&toml::Value::Integer(3)), "3");
    }
}
