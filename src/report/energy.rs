//! Energy in reports: the run folder's `energy.json` (totals by node class and WAN) and
//! `power.csv` (`timestamp|value`, mean watts per second), and the summary's energy fields.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::Summary;
use crate::flink::EnergyTotals;
use crate::runfolder::Series;

pub const ENERGY_FILE: &str = "energy.json";
pub const POWER_FILE: &str = "power.csv";

/// Fills the summary's energy fields from a run's totals.
pub fn attach(summary: &mut Summary, e: &EnergyTotals) {
    summary.energy_j = Some(e.energy_j);
    summary.energy_j_by_class = Some(e.node_energy_j.clone());
    summary.wan_energy_j = Some(e.wan_energy_j);
    summary.wan_bytes = Some(e.wan_bytes);
}

/// Writes `energy.json` and `power.csv` into a run folder.
pub fn write(dir: &Path, e: &EnergyTotals, power_w: &Series) -> std::io::Result<Vec<PathBuf>> {
    let p = dir.join(ENERGY_FILE);
    std::fs::write(&p, serde_json::to_string_pretty(e)? + "\n")?;
    let q = dir.join(POWER_FILE);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&q)?);
    writeln!(f, "timestamp|value")?;
    for (ts, w) in &power_w.points {
        writeln!(f, "{ts}|{w}")?;
    }
    f.flush()?;
    Ok(vec![p, q])
}

/// Reads `energy.json` of a run folder; `None` when absent (recorded runs) or unreadable.
pub fn read(dir: &Path) -> Option<EnergyTotals> {
    let text = std::fs::read_to_string(dir.join(ENERGY_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_round_trips_through_the_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = EnergyTotals {
            energy_j: 10.0,
            wan_energy_j: 1.0,
            wan_bytes: 125.0,
            ..EnergyTotals::default()
        };
        e.node_energy_j.insert("rpi4b".into(), 9.0);
        let power = Series {
            points: vec![(1, 10.0)],
        };
        write(dir.path(), &e, &power).unwrap();
        assert_eq!(read(dir.path()), Some(e.clone()));
        let mut s = super::super::summarize(&crate::runfolder::RunData::default());
        assert_eq!(s.energy_j, None);
        attach(&mut s, &e);
        assert_eq!(s.energy_j, Some(10.0));
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"energy_j\":10.0"), "{json}");
    }
}
