//! (temporary stub until the workload branch lands)
use std::path::Path;

#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum WorkloadSpec {
    Constant { rate_rps: f64 },
}

#[derive(Debug, thiserror::Error)]
#[error("workload error")]
pub struct WorkloadError;

pub struct Workload {
    pub rates_rps: Vec<f64>,
}

pub fn build(
    spec: &WorkloadSpec,
    _base_dir: &Path,
    duration_s: u64,
    _rng: &mut impl rand::Rng,
) -> Result<Workload, WorkloadError> {
    let WorkloadSpec::Constant { rate_rps } = spec;
    Ok(Workload {
        rates_rps: vec![*rate_rps; duration_s as usize],
    })
}
