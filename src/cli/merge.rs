//! `demeter-sim merge OUT.csv PART.csv...`: join the shard results of one sweep.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};

use super::sweep::claim_results_file;
use crate::sweep;

/// Arguments of `merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The merged results file to write.
    pub out: PathBuf,
    /// The shard results (`sweep --shard I/N`), all N of them, in any order.
    #[arg(required = true, num_args = 1..)]
    pub parts: Vec<PathBuf>,
    /// Replace OUT if it is an earlier results file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &MergeArgs) -> anyhow::Result<()> {
    let out_abs = std::path::absolute(&args.out)
        .with_context(|| format!("cannot resolve {}", args.out.display()))?;
    let mut parts = Vec::with_capacity(args.parts.len());
    for p in &args.parts {
        if std::path::absolute(p).ok().as_ref() == Some(&out_abs) {
            bail!(
                "{} is both the output and a part; write the merged file elsewhere",
                p.display()
            );
        }
        let name = p.display().to_string();
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {name}"))?;
        let part = sweep::parse_part(&name, &text).map_err(|e| anyhow!(e))?;
        parts.push((name, part));
    }
    let merged = sweep::merge(&parts).map_err(|e| anyhow!(e))?;
    claim_results_file(&args.out, args.force)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&args.out, merged)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(())
}
