//! The offered load a recorded run is replayed with, shared by `validate` and `calibrate`:
//! the recorded dataset scaled to the generator replicas with their noise, or a live run's
//! load reconstructed from its own `vertices.csv`.

use std::path::Path;

use anyhow::{bail, Context};

use crate::calibrate::live::LiveRun;
use crate::rng;
use crate::workload::{self, WorkloadSpec};

/// How the recorded workload is turned into offered load.
#[derive(clap::Args, Debug, Clone)]
pub struct RecordedLoadArgs {
    /// Generator replicas, each at the dataset rate (research/demeter.md §1).
    #[arg(long, default_value_t = 3.0)]
    pub scale: f64,
    /// Per-second noise of the generators (`limiterMaxNoise`).
    #[arg(long, default_value_t = 0.1)]
    pub noise: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl RecordedLoadArgs {
    /// Offered load per second over `window_s`: a live run's reconstruction unless a workload
    /// file was given, else the trace at `workload_path` scaled and noised.
    pub fn rates(
        &self,
        live: Option<&LiveRun>,
        workload_given: bool,
        workload_path: &Path,
        window_s: i64,
    ) -> anyhow::Result<Vec<f64>> {
        if !(self.scale > 0.0 && self.scale <= 1000.0) {
            bail!(
                "--scale: expected a factor in (0, 1000], found {}",
                self.scale
            );
        }
        if let (Some(l), false) = (live, workload_given) {
            return Ok(l.offered_rps.clone());
        }
        let spec = WorkloadSpec::trace(std::path::absolute(workload_path)?, self.scale, self.noise);
        Ok(workload::build(
            &spec,
            Path::new("."),
            window_s.max(1) as u64,
            &mut rng::stream(self.seed, "workload"),
        )
        .with_context(|| format!("--workload {}", workload_path.display()))?
        .rates_rps)
    }
}
