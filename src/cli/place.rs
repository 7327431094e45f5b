//! `demeter-sim place SCENARIO`: choose operator placements on the scenario's edge + cloud
//! sites with one or more strategies, run each in the twin, print the comparison (and why the
//! cost model chose what it chose), and write `placement.csv` plus bar charts.

use std::path::PathBuf;

use anyhow::{bail, Context};

use crate::placement::search::{search, Choice, Windows};
use crate::placement::Strategy;
use crate::scenario::{self, parse_duration};

/// Arguments of `place`.
#[derive(clap::Args, Debug)]
pub struct PlaceArgs {
    /// The scenario file (TOML) with [[cluster.sites]], [[cluster.links]] and [placement].
    pub scenario: PathBuf,
    /// Strategies to run (repeatable; default: all five).
    #[arg(long, value_enum)]
    pub strategy: Vec<Strategy>,
    /// Warm-up before measuring each placement, e.g. 60s.
    #[arg(long, default_value = "60s")]
    pub warmup: String,
    /// Measurement window of each placement, e.g. 120s.
    #[arg(long, default_value = "120s")]
    pub measure: String,
    /// Folder for placement.csv and the charts (default: runs/place-<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Skip the PNG charts.
    #[arg(long)]
    pub no_plots: bool,
}

pub fn run(args: &PlaceArgs) -> anyhow::Result<()> {
    let scenario = scenario::load(&args.scenario)?;
    let dur = |s: &str, flag: &str| {
        parse_duration(s).map_err(|e| anyhow::anyhow!("{flag}: expected {e}, found {s:?}"))
    };
    let w = Windows {
        warmup: dur(&args.warmup, "--warmup")?,
        measure: dur(&args.measure, "--measure")?,
    };
    if w.measure.as_ms() < 1000 {
        bail!("--measure: expected a duration >= 1s");
    }
    if !scenario.edge.is_heterogeneous() {
        bail!(
            "{}: key `cluster.sites`: expected [[cluster.sites]] (an edge and a cloud site) to place operators on, found none",
            scenario.path.display()
        );
    }
    let strategies = if args.strategy.is_empty() {
        Strategy::ALL.to_vec()
    } else {
        args.strategy.clone()
    };
    let mut choices: Vec<Choice> = Vec::new();
    for s in strategies {
        let c = search(&scenario, s, w).map_err(|e| {
            anyhow::anyhow!("{}: strategy {}: {e}", scenario.path.display(), s.name())
        })?;
        choices.push(c);
    }
    println!(
        "{} | placement over {} | seed {}",
        scenario.name, w.measure, scenario.seed
    );
    println!("{}", render(&choices));
    for c in &choices {
        if c.explanations.is_empty() {
            continue;
        }
        println!("\ncost model ({}):", c.outcome.strategy);
        for e in &c.explanations {
            let tor = e
                .true_output_rate_per_subtask
                .map(|r| format!("{r:.0}"))
                .unwrap_or_else(|| "-".into());
            println!(
                "  {:<32} {:<5} trueOutputRate/subtask {:>10}  {}",
                e.vertex,
                if e.offload { "EDGE" } else { "cloud" },
                tor,
                e.reason
            );
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("place-{}", scenario.name)));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let csv = out.join("placement.csv");
    std::fs::write(&csv, render_csv(&choices))
        .with_context(|| format!("writing {}", csv.display()))?;
    if !args.no_plots {
        for (file, label, f) in [
            ("place_sink_rps.png", "sink throughput (rec/s)", 0),
            ("place_wan_kbps.png", "WAN (kB/s)", 1),
            ("place_power_w.png", "mean power (W)", 2),
        ] {
            let groups: Vec<(String, f64, f64)> = choices
                .iter()
                .map(|c| {
                    let o = &c.outcome;
                    let v = match f {
                        0 => o.sink_rps,
                        1 => o.wan_bytes_per_s / 1000.0,
                        _ => o.power_w,
                    };
                    (o.strategy.clone(), v, f64::NAN)
                })
                .collect();
            crate::plot::plot_comparison(
                &format!("{}: {label}", scenario.name),
                label,
                &groups,
                &out.join(file),
            )
            .map_err(|e| anyhow::anyhow!("plotting {file}: {e}"))?;
        }
    }
    println!("\nwritten: {}", out.display());
    Ok(())
}

/// The comparison as an aligned text table.
pub fn render(choices: &[Choice]) -> String {
    let mut lines = vec![format!(
        "{:<18} {:>10} {:>10} {:>10} {:>10} {:>8} {:>6} {:>9} {:>5}  placement",
        "strategy",
        "sink rec/s",
        "src rec/s",
        "lat ms",
        "WAN kB/s",
        "cloud cores",
        "edge slots",
        "power W",
        "runs"
    )];
    for c in choices {
        let o = &c.outcome;
        lines.push(format!(
            "{:<18} {:>10.1} {:>10.1} {:>10} {:>10.2} {:>11.3} {:>10} {:>9.1} {:>5}  {}",
            o.strategy,
            o.sink_rps,
            o.source_rps,
            o.latency_ms_mean
                .map(|l| format!("{l:.0}"))
                .unwrap_or_else(|| "-".into()),
            o.wan_bytes_per_s / 1000.0,
            o.cloud_cores_busy,
            o.edge_slots,
            o.power_w,
            o.evaluations,
            o.placement
        ));
    }
    lines.join("\n")
}

/// `placement.csv`: one row per strategy, full precision.
pub fn render_csv(choices: &[Choice]) -> String {
    let mut s = String::from("strategy,sink_rps,source_rps,latency_ms_mean,wan_bytes_per_s,cloud_cores_busy,edge_slots,power_w,energy_j,evaluations,placement\n");
    for c in choices {
        let o = &c.outcome;
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},\"{}\"\n",
            o.strategy,
            o.sink_rps,
            o.source_rps,
            o.latency_ms_mean.map(|l| l.to_string()).unwrap_or_default(),
            o.wan_bytes_per_s,
            o.cloud_cores_busy,
            o.edge_slots,
            o.power_w,
            o.energy_j,
            o.evaluations,
            o.placement.replace('"', "'")
        ));
    }
    s
}
