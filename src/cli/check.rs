//! `demeter-sim check SCENARIO`: validate a scenario and everything it refers to, run nothing.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The scenario file.
    pub scenario: PathBuf,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let scenario = crate::scenario::load(&args.scenario)?;
    let prepared = crate::simulate::prepare(&scenario, &crate::simulate::Overrides::default())
        .with_context(|| format!("checking {}", args.scenario.display()))?;
    println!(
        "{}: ok ({} s of {} on {} x {} slot(s), policy {}, workload mean {:.0} rec/s, {} failure(s) scheduled)",
        args.scenario.display(),
        scenario.duration.as_ms() / 1000,
        scenario.model.name(),
        scenario.config.task_managers(),
        scenario.config.task_slots,
        prepared.policy.name(),
        prepared.workload_mean_rps,
        prepared.failures_scheduled,
    );
    if scenario.edge.is_heterogeneous() {
        // Where every subtask runs (edge placement): site, node, slot.
        let slots =
            crate::placement::assign_slots(&scenario.edge, &scenario.model, &scenario.config)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}: key `{}`: expected {}, found {}",
                        args.scenario.display(),
                        e.key,
                        e.expected,
                        e.found
                    )
                })?;
        print!(
            "{}",
            crate::placement::describe_slots(&scenario.edge, &slots)
        );
    }
    Ok(())
}
