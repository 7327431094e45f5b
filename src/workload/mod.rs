//! The offered load: the `[workload]` table of a scenario (`WorkloadSpec`), its
//! materialisation into one rate per simulated second (`Workload`), and the per-second noise.
//!
//! Materialisation order (fixed, so runs are reproducible): the shape is computed (a model's
//! AR residual draws from the RNG first), then scaled, then each second, in order, is
//! multiplied by `1 + noise * (2u - 1)`, `u ~ U[0, 1)` drawn from the same RNG. `noise = 0`
//! draws nothing.

mod error;
pub mod model;
pub mod synthetic;
pub mod trace;

use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use error::WorkloadError;
pub use model::{fit_rates, fit_trace, load_model, FitOptions, FitReport, FittedModel};
pub use synthetic::Shape;
pub use trace::{load_trace, parse_trace, Trace};

/// The largest rate accepted anywhere (records per second); larger values are input errors.
pub const MAX_RATE_RPS: f64 = 1e9;
/// The longest workload that can be materialised (about 116 days; 80 MB of rates).
pub const MAX_DURATION_S: u64 = 10_000_000;

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

/// A scenario's `[workload]` table. Paths are relative to the scenario's directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum WorkloadSpec {
    /// A recorded `timestamp|value` trace. Second `s` of the run takes trace second
    /// `offset_s + s` (wrapping around the whole trace when `repeat`).
    Trace {
        path: PathBuf,
        #[serde(default = "one")]
        scale: f64,
        #[serde(default)]
        noise: f64,
        #[serde(default)]
        offset_s: u64,
        #[serde(default)]
        repeat: bool,
    },
    /// A fitted model TOML (see [`model`]). It repeats with its period. `residual = false`
    /// keeps only the smooth deterministic part.
    Model {
        path: PathBuf,
        #[serde(default = "one")]
        scale: f64,
        #[serde(default)]
        noise: f64,
        #[serde(default = "yes")]
        residual: bool,
    },
    /// `rate_rps` throughout.
    Constant {
        rate_rps: f64,
        #[serde(default)]
        noise: f64,
    },
    /// `before_rps` for seconds `< at_s`, then `after_rps`.
    Step {
        before_rps: f64,
        after_rps: f64,
        at_s: u64,
        #[serde(default)]
        noise: f64,
    },
    /// `from_rps` until `start_s`, linear to `to_rps` at `end_s`, then `to_rps`.
    Ramp {
        from_rps: f64,
        to_rps: f64,
        start_s: u64,
        end_s: u64,
        #[serde(default)]
        noise: f64,
    },
    /// Diurnal pattern `mean_rps + amplitude_rps sin(2 pi (s - phase_s) / period_s)`.
    Sine {
        mean_rps: f64,
        amplitude_rps: f64,
        period_s: f64,
        #[serde(default)]
        phase_s: f64,
        #[serde(default)]
        noise: f64,
    },
    /// `spike_rps` for `duration_s` every `every_s` from `start_s` on, `base_rps` otherwise.
    Spikes {
        base_rps: f64,
        spike_rps: f64,
        every_s: u64,
        duration_s: u64,
        #[serde(default)]
        start_s: u64,
        #[serde(default)]
        noise: f64,
    },
}

impl WorkloadSpec {
    /// A recorded trace replayed from its first row, without repeat.
    pub fn trace(path: PathBuf, scale: f64, noise: f64) -> WorkloadSpec {
        WorkloadSpec::Trace {
            path,
            scale,
            noise,
            offset_s: 0,
            repeat: false,
        }
    }

    /// Scale (1.0 for synthetic kinds) and noise: what `--workload-trace` keeps.
    pub fn scale_and_noise(&self) -> (f64, f64) {
        match *self {
            WorkloadSpec::Trace { scale, .. } | WorkloadSpec::Model { scale, .. } => {
                (scale, self.noise())
            }
            _ => (1.0, self.noise()),
        }
    }

    /// The `kind` tag as written in TOML.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkloadSpec::Trace { .. } => "trace",
            WorkloadSpec::Model { .. } => "model",
            WorkloadSpec::Constant { .. } => "constant",
            WorkloadSpec::Step { .. } => "step",
            WorkloadSpec::Ramp { .. } => "ramp",
            WorkloadSpec::Sine { .. } => "sine",
            WorkloadSpec::Spikes { .. } => "spikes",
        }
    }

    /// The same workload without its per-second noise (the dataset the generators replay).
    pub fn without_noise(&self) -> WorkloadSpec {
        let mut clean = self.clone();
        match &mut clean {
            WorkloadSpec::Trace { noise, .. }
            | WorkloadSpec::Model { noise, .. }
            | WorkloadSpec::Constant { noise, .. }
            | WorkloadSpec::Step { noise, .. }
            | WorkloadSpec::Ramp { noise, .. }
            | WorkloadSpec::Sine { noise, .. }
            | WorkloadSpec::Spikes { noise, .. } => *noise = 0.0,
        }
        clean
    }

    /// The per-second noise amplitude (fraction of the rate).
    pub fn noise(&self) -> f64 {
        match *self {
            WorkloadSpec::Trace { noise, .. }
            | WorkloadSpec::Model { noise, .. }
            | WorkloadSpec::Constant { noise, .. }
            | WorkloadSpec::Step { noise, .. }
            | WorkloadSpec::Ramp { noise, .. }
            | WorkloadSpec::Sine { noise, .. }
            | WorkloadSpec::Spikes { noise, .. } => noise,
        }
    }

    /// The synthetic shape, for synthetic kinds.
    pub fn synthetic_shape(&self) -> Option<Shape> {
        Some(match *self {
            WorkloadSpec::Trace { .. } | WorkloadSpec::Model { .. } => return None,
            WorkloadSpec::Constant { rate_rps, .. } => Shape::Constant { rate_rps },
            WorkloadSpec::Step {
                before_rps,
                after_rps,
                at_s,
                ..
            } => Shape::Step {
                before_rps,
                after_rps,
                at_s,
            },
            WorkloadSpec::Ramp {
                from_rps,
                to_rps,
                start_s,
                end_s,
                ..
            } => Shape::Ramp {
                from_rps,
                to_rps,
                start_s,
                end_s,
            },
            WorkloadSpec::Sine {
                mean_rps,
                amplitude_rps,
                period_s,
                phase_s,
                ..
            } => Shape::Sine {
                mean_rps,
                amplitude_rps,
                period_s,
                phase_s,
            },
            WorkloadSpec::Spikes {
                base_rps,
                spike_rps,
                every_s,
                duration_s,
                start_s,
                ..
            } => Shape::Spikes {
                base_rps,
                spike_rps,
                every_s,
                duration_s,
                start_s,
            },
        })
    }
}

/// The materialised offered load: one rate per simulated second, scaled and with noise.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Records per second offered during second `s` (index `s`); length = the run's duration.
    pub rates_rps: Vec<f64>,
}

impl Workload {
    /// The rate during second `s`; 0 after the end of the workload.
    pub fn rate_at_second(&self, s: u64) -> f64 {
        usize::try_from(s)
            .ok()
            .and_then(|i| self.rates_rps.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// Seconds covered.
    pub fn duration_s(&self) -> u64 {
        self.rates_rps.len() as u64
    }

    /// Mean rate over the whole workload (0 if empty).
    pub fn mean_rps(&self) -> f64 {
        if self.rates_rps.is_empty() {
            0.0
        } else {
            self.rates_rps.iter().sum::<f64>() / self.rates_rps.len() as f64
        }
    }

    /// Largest per-second rate (0 if empty).
    pub fn peak_rps(&self) -> f64 {
        self.rates_rps.iter().fold(0.0, |m, v| m.max(*v))
    }

    /// Total records offered.
    pub fn total_records(&self) -> f64 {
        self.rates_rps.iter().sum()
    }

    /// Means over consecutive windows of `window_s` seconds; the last may be partial.
    pub fn window_means_rps(&self, window_s: u64) -> Vec<f64> {
        let w = window_s.max(1) as usize;
        self.rates_rps
            .chunks(w)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect()
    }

    /// Largest mean over consecutive windows of `window_s` seconds (0 if empty).
    pub fn peak_window_mean_rps(&self, window_s: u64) -> f64 {
        self.window_means_rps(window_s)
            .into_iter()
            .fold(0.0, |m, v| m.max(v))
    }
}

fn context(spec: &WorkloadSpec) -> String {
    format!("[workload] kind = \"{}\"", spec.kind())
}

fn check_common(spec: &WorkloadSpec, duration_s: u64) -> Result<(), WorkloadError> {
    let ctx = context(spec);
    if duration_s == 0 || duration_s > MAX_DURATION_S {
        return Err(WorkloadError::invalid(
            ctx,
            "duration_s",
            duration_s,
            format!("0 < duration <= {MAX_DURATION_S} s"),
        ));
    }
    let noise = spec.noise();
    if !(noise.is_finite() && (0.0..=1.0).contains(&noise)) {
        return Err(WorkloadError::invalid(
            ctx,
            "noise",
            noise,
            "a fraction 0 <= noise <= 1 (0.1 = +-10 % per second)",
        ));
    }
    if let WorkloadSpec::Trace { scale, .. } | WorkloadSpec::Model { scale, .. } = *spec {
        if !(scale.is_finite() && (0.0..=1e6).contains(&scale)) {
            return Err(WorkloadError::invalid(
                ctx,
                "scale",
                scale,
                "a factor 0 <= scale <= 1e6",
            ));
        }
    }
    Ok(())
}

/// Multiply each second by `1 + noise * (2u - 1)`, `u ~ U[0, 1)` from `rng`, in order.
pub fn apply_noise(rates_rps: &mut [f64], noise: f64, rng: &mut impl Rng) {
    if noise == 0.0 {
        return;
    }
    for r in rates_rps.iter_mut() {
        let u: f64 = rng.random();
        *r *= 1.0 + noise * (2.0 * u - 1.0);
    }
}

/// Materialise `spec` for `duration_s` seconds. Relative paths are resolved against
/// `base_dir` (the scenario file's directory). All randomness comes from `rng`.
pub fn build(
    spec: &WorkloadSpec,
    base_dir: &Path,
    duration_s: u64,
    rng: &mut impl Rng,
) -> Result<Workload, WorkloadError> {
    check_common(spec, duration_s)?;
    let (mut rates_rps, scale) = match spec {
        WorkloadSpec::Trace {
            path,
            scale,
            offset_s,
            repeat,
            ..
        } => {
            let path = base_dir.join(path);
            let trace = load_trace(&path)?;
            let len = trace.duration_s();
            let rates = if *repeat {
                let start = offset_s % len;
                (0..duration_s)
                    .map(|s| trace.rates_rps[((start + s % len) % len) as usize])
                    .collect()
            } else {
                let available_s = len.saturating_sub(*offset_s);
                if available_s < duration_s {
                    return Err(WorkloadError::TooShort {
                        path,
                        available_s,
                        offset_s: *offset_s,
                        needed_s: duration_s,
                    });
                }
                let start = *offset_s as usize;
                trace.rates_rps[start..start + duration_s as usize].to_vec()
            };
            (rates, *scale)
        }
        WorkloadSpec::Model {
            path,
            scale,
            residual,
            ..
        } => {
            let model = load_model(&base_dir.join(path))?;
            (model.materialise(duration_s, *residual, rng), *scale)
        }
        _ => {
            let shape = spec
                .synthetic_shape()
                .expect("every non-file kind has a synthetic shape");
            shape.validate(&context(spec))?;
            (shape.materialise(duration_s), 1.0)
        }
    };
    if scale != 1.0 {
        for r in rates_rps.iter_mut() {
            *r *= scale;
        }
    }
    apply_noise(&mut rates_rps, spec.noise(), rng);
    Ok(Workload { rates_rps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn spec(text: &str) -> Result<WorkloadSpec, toml::de::Error> {
        toml::from_str(text)
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn specs_parse_with_defaults() {
        assert_eq!(
            spec("kind = \"trace\"\npath = \"a.csv\"").unwrap(),
            WorkloadSpec::Trace {
                path: "a.csv".into(),
                scale: 1.0,
                noise: 0.0,
                offset_s: 0,
                repeat: false
            }
        );
        assert_eq!(
            spec("kind = \"model\"\npath = \"m.toml\"\nscale = 3.0\nnoise = 0.1").unwrap(),
            WorkloadSpec::Model {
                path: "m.toml".into(),
                scale: 3.0,
                noise: 0.1,
                residual: true
            }
        );
        assert_eq!(
            spec(
                "kind = \"spikes\"\nbase_rps = 1.0\nspike_rps = 2.0\nevery_s = 10\nduration_s = 2"
            )
            .unwrap(),
            WorkloadSpec::Spikes {
                base_rps: 1.0,
                spike_rps: 2.0,
                every_s: 10,
                duration_s: 2,
                start_s: 0,
                noise: 0.0
            }
        );
        assert!(
            spec("kind = \"sine\"\nmean_rps = 5.0\namplitude_rps = 1.0\nperiod_s = 60.0").is_ok()
        );
    }

    #[test]
    fn unknown_keys_and_kinds_are_rejected() {
        let e = spec("kind = \"constant\"\nrate_rps = 5.0\nrate = 3").unwrap_err();
        assert!(e.to_string().contains("unknown field `rate`"), "{e}");
        let e = spec("kind = \"wave\"\nrate_rps = 5.0").unwrap_err();
        assert!(e.to_string().contains("unknown variant `wave`"), "{e}");
        assert!(spec("rate_rps = 5.0").is_err());
    }

    #[test]
    fn synthetic_build_and_helpers() {
        let s = spec("kind = \"step\"\nbefore_rps = 10.0\nafter_rps = 30.0\nat_s = 2").unwrap();
        let w = build(&s, Path::new("."), 4, &mut rng(0)).unwrap();
        assert_eq!(w.rates_rps, vec![10.0, 10.0, 30.0, 30.0]);
        assert_eq!(w.rate_at_second(2), 30.0);
        assert_eq!(w.rate_at_second(4), 0.0);
        assert_eq!(w.rate_at_second(u64::MAX), 0.0);
        assert_eq!(w.mean_rps(), 20.0);
        assert_eq!(w.peak_rps(), 30.0);
        assert_eq!(w.total_records(), 80.0);
        assert_eq!(w.window_means_rps(3), vec![50.0 / 3.0, 30.0]);
        assert_eq!(w.peak_window_mean_rps(2), 30.0);
    }

    #[test]
    fn noise_is_bounded_deterministic_and_seed_dependent() {
        let s = spec("kind = \"constant\"\nrate_rps = 1000.0\nnoise = 0.1").unwrap();
        let a = build(&s, Path::new("."), 10_000, &mut rng(7)).unwrap();
        let b = build(&s, Path::new("."), 10_000, &mut rng(7)).unwrap();
        let c = build(&s, Path::new("."), 10_000, &mut rng(8)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.rates_rps.iter().all(|r| (900.0..=1100.0).contains(r)));
        // Noise is spread over the whole band and centred.
        assert!(a.rates_rps.iter().any(|r| *r < 905.0));
        assert!(a.rates_rps.iter().any(|r| *r > 1095.0));
        assert!((a.mean_rps() - 1000.0).abs() < 2.0, "{}", a.mean_rps());
        // noise = 0 consumes nothing from the RNG and changes nothing.
        let q = spec("kind = \"constant\"\nrate_rps = 1000.0").unwrap();
        let mut r = rng(7);
        assert_eq!(
            build(&q, Path::new("."), 5, &mut r).unwrap().rates_rps,
            vec![1000.0; 5]
        );
        assert_eq!(r.random::<u64>(), rng(7).random::<u64>());
    }

    #[test]
    fn parameters_are_validated() {
        let bad = |text: &str, d: u64| build(&spec(text).unwrap(), Path::new("."), d, &mut rng(0));
        let e = bad("kind = \"constant\"\nrate_rps = 5.0\nnoise = 1.5", 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[workload] kind = \"constant\": noise = 1.5 is invalid (expected a fraction 0 <= noise <= 1 (0.1 = +-10 % per second))"
        );
        assert!(bad("kind = \"constant\"\nrate_rps = -5.0", 10).is_err());
        assert!(bad("kind = \"constant\"\nrate_rps = 5.0", 0).is_err());
        assert!(bad("kind = \"trace\"\npath = \"x.csv\"\nscale = -1.0", 10)
            .unwrap_err()
            .to_string()
            .contains("scale = -1"));
    }

    fn write_trace(dir: &Path, name: &str, values: &[f64]) {
        let mut text = String::from("timestamp|value\n");
        for (i, v) in values.iter().enumerate() {
            text.push_str(&format!("{}|{}\n", 1000 + i, v));
        }
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn traces_offset_repeat_scale_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        write_trace(dir.path(), "t.csv", &[1.0, 2.0, 3.0, 4.0, 5.0]);
        let b = |text: &str, d: u64| build(&spec(text).unwrap(), dir.path(), d, &mut rng(0));
        assert_eq!(
            b("kind = \"trace\"\npath = \"t.csv\"", 5)
                .unwrap()
                .rates_rps,
            vec![1.0, 2.0, 3.0, 4.0, 5.0]
        );
        assert_eq!(
            b(
                "kind = \"trace\"\npath = \"t.csv\"\noffset_s = 2\nscale = 3.0",
                3
            )
            .unwrap()
            .rates_rps,
            vec![9.0, 12.0, 15.0]
        );
        assert_eq!(
            b(
                "kind = \"trace\"\npath = \"t.csv\"\noffset_s = 3\nrepeat = true",
                8
            )
            .unwrap()
            .rates_rps,
            vec![4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0, 1.0]
        );
        assert_eq!(
            b(
                "kind = \"trace\"\npath = \"t.csv\"\noffset_s = 12\nrepeat = true",
                3
            )
            .unwrap()
            .rates_rps,
            vec![3.0, 4.0, 5.0]
        );
        let e = b("kind = \"trace\"\npath = \"t.csv\"\noffset_s = 2", 4).unwrap_err();
        assert!(e.to_string().ends_with(
            "t.csv\": the trace has 3 s of data from offset_s = 2 but the run needs 4 s (expected a longer trace, a smaller offset_s, or repeat = true to wrap around)"
        ), "{e}");
        let e = b("kind = \"trace\"\npath = \"missing.csv\"", 4).unwrap_err();
        let expected = format!("\"{}\"", dir.path().join("missing.csv").display());
        assert!(e.to_string().contains(&expected), "{e}");
    }

    #[test]
    fn model_specs_load_and_materialise() {
        let dir = tempfile::tempdir().unwrap();
        let values: Vec<f64> = (0..7200)
            .map(|t| 1000.0 + 300.0 * (t as f64 / 900.0).sin())
            .collect();
        write_trace(dir.path(), "t.csv", &values);
        let opts = FitOptions {
            period_s: None,
            knot_step_s: 600,
            ar_step_s: 60,
        };
        let m = fit_trace(&dir.path().join("t.csv"), &opts).unwrap();
        assert_eq!(m.provenance.source_rows, 7200);
        assert_eq!(m.provenance.source_sha256.len(), 64);
        std::fs::write(dir.path().join("m.toml"), m.to_toml_string()).unwrap();
        let s = spec("kind = \"model\"\npath = \"m.toml\"\nscale = 2.0\nnoise = 0.1").unwrap();
        // Three periods: the mean is the trace's (bin means are preserved), x scale, +- noise.
        let a = build(&s, dir.path(), 21_600, &mut rng(1)).unwrap();
        let b = build(&s, dir.path(), 21_600, &mut rng(1)).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.duration_s(), 21_600);
        let expected = 2.0 * m.fit.trace_mean_rps;
        assert!(
            (a.mean_rps() / expected - 1.0).abs() < 0.005,
            "{} vs {expected}",
            a.mean_rps()
        );
        let e = build(
            &spec("kind = \"model\"\npath = \"nope.toml\"").unwrap(),
            dir.path(),
            10,
            &mut rng(1),
        )
        .unwrap_err();
        assert!(e.to_string().contains("nope.toml"), "{e}");
    }
}
