//! `demeter-sim compare SCENARIO --policies a,b`: every policy on the same scenario and seeds,
//! run folders per run, and the policy table of research/demeter.md §6 (mean ± s.d. over seeds).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;

use super::run::{claim_output_dir, write_run_folder};
use crate::policy::{self, POLICY_NAMES};
use crate::report::table::thousands;
use crate::scenario::{self, parse_duration, PolicySpec, Scenario};
use crate::simulate::{self, sha256_hex, Overrides};
use crate::sweep::{self, RunRow};

/// Arguments of `compare`.
#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Policies to compare, comma-separated (e.g. static,reactive35,ds2). A policy named as in
    /// the scenario keeps the scenario's [policy.params]; others run with their defaults.
    #[arg(long, value_delimiter = ',', required = true)]
    pub policies: Vec<String>,
    /// Seeds per policy: the master seeds are BASE, BASE+1, ... BASE+N-1 (BASE: --seed, else the
    /// scenario's seed).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// The first master seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated duration, e.g. 3600, 90m, 18h (default: the scenario's).
    #[arg(long)]
    pub duration: Option<String>,
    /// Output folder (default: runs/<scenario>-compare); runs go to OUT/<policy>/seed<seed>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the output folder if it holds an earlier comparison.
    #[arg(long)]
    pub force: bool,
    /// Threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Skip the per-run PNG plots (the comparison charts are always written).
    #[arg(long)]
    pub no_plots: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One run of the comparison.
struct Item {
    index: u64,
    policy: String,
    seed: u64,
}

#[derive(Serialize)]
struct CompareManifest<'a> {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
    scenario: String,
    scenario_sha256: String,
    policies: &'a [String],
    seeds: Vec<u64>,
    duration_s: u64,
}

pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let scenario = scenario::load(&args.scenario)?;
    check_policies(&args.policies, &scenario)?;
    if args.seeds == 0 {
        bail!("--seeds: expected a number of seeds >= 1, found 0");
    }
    let duration = args
        .duration
        .as_deref()
        .map(|d| parse_duration(d).map_err(|e| anyhow!("--duration: expected {e}")))
        .transpose()?;
    if duration.is_some_and(|d| d.is_zero()) {
        bail!("--duration: expected a duration > 0");
    }
    let base = args.seed.unwrap_or(scenario.seed);
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|i| {
            base.checked_add(i)
                .ok_or_else(|| anyhow!("--seed: {base} + {i} overflows a 64-bit seed"))
        })
        .collect::<anyhow::Result<_>>()?;
    let pool = sweep::thread_pool(args.jobs).map_err(|e| anyhow!(e))?;

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("{}-compare", scenario.name)));
    claim_output_dir(&out, args.force)?;
    let manifest = CompareManifest {
        tool: "demeter-sim",
        version: env!("CARGO_PKG_VERSION"),
        command: "compare",
        scenario: scenario.path.display().to_string(),
        scenario_sha256: sha256_hex(scenario.text.as_bytes()),
        policies: &args.policies,
        seeds: seeds.clone(),
        duration_s: duration.unwrap_or(scenario.duration).as_ms().div_ceil(1000),
    };
    write(
        &out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;

    let items: Vec<Item> = args
        .policies
        .iter()
        .flat_map(|p| seeds.iter().map(move |&s| (p.clone(), s)))
        .enumerate()
        .map(|(i, (policy, seed))| Item {
            index: i as u64,
            policy,
            seed,
        })
        .collect();
    let plots = scenario.plots && !args.no_plots;
    let bar = super::sweep::progress_bar(args.quiet, items.len() as u64);
    let rows: Vec<RunRow> = sweep::run_parallel(&pool, &items, |item| {
        let prepared = simulate::prepare(
            &scenario,
            &Overrides {
                policy: Some(item.policy.clone()),
                seed: Some(item.seed),
                duration,
                workload: None,
            },
        )?;
        let result = simulate::execute(prepared, |_, _| {});
        let dir = out.join(&item.policy).join(format!("seed{}", item.seed));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_run_folder(&dir, &scenario, &result, plots)?;
        if let Some(b) = &bar {
            b.inc(1);
        }
        Ok::<_, anyhow::Error>(RunRow::new(
            item.index,
            vec![item.policy.clone(), item.seed.to_string()],
            &result,
        ))
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    let table = CompareTable::new(&args.policies, &rows);
    let intro = intro(&scenario, args, &seeds, duration, &table.reference);
    write(
        &out.join("compare.md"),
        format!(
            "# compare: {}\n\n{intro}\n\n{}",
            scenario.name,
            table.markdown()
        ),
    )?;
    write(&out.join("compare.csv"), table.csv())?;
    write(
        &out.join("compare-runs.csv"),
        sweep::rows_csv(&["run".into(), "policy".into(), "seed".into()], &rows),
    )?;
    table.plots(&out)?;
    if !args.quiet {
        println!(
            "{} | policies {} | seeds {} | {}",
            scenario.name,
            args.policies.join(","),
            seed_range(&seeds),
            out.display()
        );
        print!("{}", table.text());
    }
    Ok(())
}

fn write(path: &Path, text: String) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Every name must build (with the scenario's parameters when it is the scenario's policy),
/// and no name may repeat, before anything runs.
fn check_policies(names: &[String], scenario: &Scenario) -> anyhow::Result<()> {
    if names.is_empty() {
        bail!(
            "--policies: expected a comma-separated list of policies, one of {}",
            POLICY_NAMES.join(", ")
        );
    }
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            bail!("--policies: {name:?} is given twice; expected each policy once");
        }
        let params = if *name == scenario.policy.name {
            scenario.policy.params.clone()
        } else {
            toml::Table::new()
        };
        let spec = PolicySpec {
            name: name.clone(),
            params,
        };
        policy::build(&spec, 0).map_err(|e| anyhow!("--policies: {e}"))?;
    }
    Ok(())
}

fn seed_range(seeds: &[u64]) -> String {
    match seeds {
        [one] => one.to_string(),
        [first, .., last] => format!("{first}..={last}"),
        [] => String::new(),
    }
}

fn intro(
    scenario: &Scenario,
    args: &CompareArgs,
    seeds: &[u64],
    duration: Option<crate::time::SimDuration>,
    reference: &str,
) -> String {
    format!(
        "Scenario `{}` ({} s simulated), policies {}, master seeds {} ({} per policy). Each cell is the mean \
         over the seeds ± the sample standard deviation (n - 1; none with one seed) of the \
         per-run statistic (research/demeter.md §6 definitions). \"vs {reference}\" is the ratio \
         of the mean core-h / GB-h to {reference}'s. \">180 s\" sums over the seeds: failures \
         that took longer than 180 s to recover (censored ones included) / failures injected. \
         \"reconf\" counts the restarts the policy caused (redeploys, rescales). \"energy kJ\" is \
         the nodes' energy (linear power model per node class) plus the WAN's (J per bit + link \
         base power). Runs: \
         `<policy>/seed<seed>/`; per-run numbers: `compare-runs.csv`.",
        scenario.path.display(),
        duration.unwrap_or(scenario.duration).as_ms().div_ceil(1000),
        args.policies.join(", "),
        seed_range(seeds),
        seeds.len(),
    )
}

/// A per-run statistic aggregated per policy.
struct Metric {
    id: &'static str,
    header: &'static str,
    get: fn(&RunRow) -> Option<f64>,
    fmt: fn(f64) -> String,
    in_table: bool,
}

const METRICS: [Metric; 12] = [
    Metric {
        id: "latency_ms_mean",
        header: "lat mean ms",
        get: |r| r.summary.latency_ms_mean,
        fmt: thousands,
        in_table: true,
    },
    Metric {
        id: "latency_ms_p95",
        header: "lat p95 ms",
        get: |r| r.summary.latency_ms_p95,
        fmt: thousands,
        in_table: true,
    },
    Metric {
        id: "latency_le_1500ms_pct",
        header: "<=1.5 s %",
        get: |r| r.summary.latency_le_1500ms_pct,
        fmt: fixed1,
        in_table: true,
    },
    Metric {
        id: "latency_le_2000ms_pct",
        header: "<=2 s %",
        get: |r| r.summary.latency_le_2000ms_pct,
        fmt: fixed1,
        in_table: false,
    },
    Metric {
        id: "task_managers_mean",
        header: "TMs",
        get: |r| r.summary.task_managers_mean,
        fmt: fixed1,
        in_table: true,
    },
    Metric {
        id: "tm_hours",
        header: "TM-h",
        get: RunRow::tm_hours,
        fmt: fixed1,
        in_table: false,
    },
    Metric {
        id: "core_hours",
        header: "core-h",
        get: |r| Some(r.summary.core_hours),
        fmt: fixed1,
        in_table: true,
    },
    Metric {
        id: "memory_gb_hours",
        header: "GB-h",
        get: |r| Some(r.summary.memory_gb_hours),
        fmt: thousands,
        in_table: true,
    },
    Metric {
        id: "recovery_s_mean",
        header: "rec mean s",
        get: |r| r.summary.recovery_s_mean,
        fmt: fixed1,
        in_table: true,
    },
    Metric {
        id: "reconfigurations",
        header: "reconf",
        get: |r| Some(f64::from(r.reconfigurations)),
        fmt: fixed1,
        in_table: true,
    },
    // Energy (report::energy: nodes by the linear power model + WAN), J; shown in kJ. Last,
    // so that the columns before keep their places.
    Metric {
        id: "energy_j",
        header: "energy kJ",
        get: |r| r.summary.energy_j,
        fmt: kilo,
        in_table: true,
    },
    Metric {
        id: "wan_energy_j",
        header: "WAN kJ",
        get: |r| r.summary.wan_energy_j,
        fmt: kilo,
        in_table: false,
    },
];

/// Metrics whose CSV columns come after the ratio and total columns (added later; the
/// columns before them keep their places).
const CSV_TAIL: [&str; 2] = ["energy_j", "wan_energy_j"];

fn kilo(j: f64) -> String {
    thousands(j / 1000.0)
}

/// Mean and sample standard deviation (n - 1) of the values present; s.d. needs two.
fn mean_sd(values: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (None, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (n >= 2).then(|| {
        let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    (Some(mean), sd)
}

struct PolicyRow {
    policy: String,
    runs: usize,
    /// Per [`METRICS`] entry.
    stats: Vec<(Option<f64>, Option<f64>)>,
    over_180: u64,
    injected: u64,
    core_ratio: Option<f64>,
    mem_ratio: Option<f64>,
}

struct CompareTable {
    reference: String,
    rows: Vec<PolicyRow>,
}

impl CompareTable {
    fn new(policies: &[String], runs: &[RunRow]) -> CompareTable {
        let mut rows: Vec<PolicyRow> = policies
            .iter()
            .map(|p| {
                let mine: Vec<&RunRow> = runs.iter().filter(|r| &r.key[0] == p).collect();
                let stats = METRICS
                    .iter()
                    .map(|m| {
                        let v: Vec<f64> = mine.iter().filter_map(|r| (m.get)(r)).collect();
                        mean_sd(&v)
                    })
                    .collect();
                PolicyRow {
                    policy: p.clone(),
                    runs: mine.len(),
                    stats,
                    over_180: mine
                        .iter()
                        .map(|r| u64::from(r.summary.recoveries_over_180s))
                        .sum(),
                    injected: mine
                        .iter()
                        .map(|r| u64::from(r.summary.failures_injected))
                        .sum(),
                    core_ratio: None,
                    mem_ratio: None,
                }
            })
            .collect();
        let reference = if policies.iter().any(|p| p == "static") {
            "static".to_string()
        } else {
            policies[0].clone()
        };
        let idx = |id: &str| METRICS.iter().position(|m| m.id == id).expect("metric");
        let (core, mem) = (idx("core_hours"), idx("memory_gb_hours"));
        let r = rows
            .iter()
            .find(|r| r.policy == reference)
            .map(|r| (r.stats[core].0, r.stats[mem].0));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        };
        if let Some((rc, rm)) = r {
            for row in &mut rows {
                row.core_ratio = ratio(row.stats[core].0, rc);
                row.mem_ratio = ratio(row.stats[mem].0, rm);
            }
        }
        CompareTable { reference, rows }
    }

    fn headers(&self) -> Vec<String> {
        let mut h = vec!["policy".to_string(), "runs".to_string()];
        for m in METRICS.iter().filter(|m| m.in_table) {
            h.push(m.header.to_string());
            if m.id == "memory_gb_hours" {
                h.push(format!("core-h vs {}", self.reference));
                h.push(format!("GB-h vs {}", self.reference));
            }
            if m.id == "recovery_s_mean" {
                h.push(">180 s / failures".into());
            }
        }
        h
    }

    fn cells(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                let mut c = vec![r.policy.clone(), r.runs.to_string()];
                for (m, (mean, sd)) in METRICS.iter().zip(&r.stats) {
                    if !m.in_table {
                        continue;
                    }
                    c.push(match (mean, sd) {
                        (Some(mean), Some(sd)) => {
                            format!("{} ± {}", (m.fmt)(*mean), (m.fmt)(*sd))
                        }
                        (Some(mean), None) => (m.fmt)(*mean),
                        _ => "-".into(),
                    });
                    if m.id == "memory_gb_hours" {
                        c.push(r.core_ratio.map_or("-".into(), |x| format!("{x:.2}")));
                        c.push(r.mem_ratio.map_or("-".into(), |x| format!("{x:.2}")));
                    }
                    if m.id == "recovery_s_mean" {
                        c.push(format!("{}/{}", r.over_180, r.injected));
                    }
                }
                c
            })
            .collect()
    }

    /// Aligned text: the policy column left-aligned, the rest right-aligned.
    fn text(&self) -> String {
        crate::report::table::aligned_text(&self.headers(), &self.cells())
    }

    fn markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|").replace("<=", "≤");
        let headers: Vec<String> = self.headers().iter().map(|h| esc(h)).collect();
        let mut out = format!("| {} |\n", headers.join(" | "));
        let align: Vec<&str> = (0..headers.len())
            .map(|i| if i == 0 { ":--" } else { "--:" })
            .collect();
        let _ = writeln!(out, "|{}|", align.join("|"));
        for row in self.cells() {
            let r: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out
    }

    /// One row per policy: `<metric>_mean`, `<metric>_sd` (sample s.d., empty with one seed),
    /// then the ratios and the totals. Full precision.
    fn csv(&self) -> String {
        let mut cols = vec!["policy".to_string(), "runs".to_string()];
        let head = || METRICS.iter().filter(|m| !CSV_TAIL.contains(&m.id));
        let tail = || METRICS.iter().filter(|m| CSV_TAIL.contains(&m.id));
        for m in head() {
            cols.push(format!("{}_mean", m.id));
            cols.push(format!("{}_sd", m.id));
        }
        for c in [
            "core_hours_ratio",
            "memory_gb_hours_ratio",
            "ratio_reference",
            "recoveries_over_180s_total",
            "failures_injected_total",
        ] {
            cols.push(c.into());
        }
        for m in tail() {
            cols.push(format!("{}_mean", m.id));
            cols.push(format!("{}_sd", m.id));
        }
        let mut out = cols.join(",") + "\n";
        let o = |x: Option<f64>| x.map_or_else(String::new, |v| v.to_string());
        for r in &self.rows {
            let mut c = vec![sweep::csv_field(&r.policy), r.runs.to_string()];
            let stats = |tail: bool| {
                METRICS
                    .iter()
                    .zip(&r.stats)
                    .filter(move |(m, _)| CSV_TAIL.contains(&m.id) == tail)
                    .flat_map(|(_, (mean, sd))| [o(*mean), o(*sd)])
            };
            c.extend(stats(false));
            c.push(o(r.core_ratio));
            c.push(o(r.mem_ratio));
            c.push(sweep::csv_field(&self.reference));
            c.push(r.over_180.to_string());
            c.push(r.injected.to_string());
            c.extend(stats(true));
            out.push_str(&c.join(","));
            out.push('\n');
        }
        out
    }

    /// Bar charts of the policies (mean, error bar = sample s.d.).
    fn plots(&self, dir: &Path) -> anyhow::Result<()> {
        let charts = [
            ("tm_hours", "TaskManager-hours", "TaskManager-hours"),
            (
                "latency_le_1500ms_pct",
                "Share of seconds with latency <= 1.5 s",
                "share of seconds (%)",
            ),
            ("recovery_s_mean", "Mean recovery time", "recovery (s)"),
            ("core_hours", "Core-hours", "core-hours"),
            ("latency_ms_p95", "Latency p95", "latency p95 (ms)"),
            ("energy_j", "Energy (nodes + WAN)", "energy (kJ)"),
        ];
        for (id, title, label) in charts {
            let k = METRICS.iter().position(|m| m.id == id).expect("metric");
            // Joules are plotted in kJ.
            let scale = if id == "energy_j" { 1e-3 } else { 1.0 };
            let groups: Vec<(String, f64, f64)> = self
                .rows
                .iter()
                .map(|r| {
                    let (mean, sd) = r.stats[k];
                    (
                        r.policy.clone(),
                        mean.unwrap_or(f64::NAN) * scale,
                        sd.unwrap_or(0.0) * scale,
                    )
                })
                .collect();
            let out = dir.join(format!("compare-{id}.png"));
            crate::plot::plot_comparison(title, label, &groups, &out)
                .with_context(|| format!("plotting {}", out.display()))?;
        }
        Ok(())
    }
}

fn fixed1(x: f64) -> String {
    format!("{x:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        assert_eq!(mean_sd(&[]), (None, None));
        assert_eq!(mean_sd(&[2.0]), (Some(2.0), None));
        let (m, s) = mean_sd(&[1.0, 2.0, 3.0]);
        assert_eq!(m, Some(2.0));
        assert!((s.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(thousands(43_219.6), "43,220");
        assert_eq!(seed_range(&[1, 2, 3]), "1..=3");
    }
}
