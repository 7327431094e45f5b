//! Integration tests of the workload module against the recorded Demeter traces (when
//! `../shared/traces/demeter/datasets` exists) and the committed fitted models.

use std::path::{Path, PathBuf};

use demeter_sim::workload::{
    build, fit_trace, load_model, load_trace, FitOptions, FittedModel, WorkloadSpec,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const ADS: &str = "ADS_3D_1S_4_sub_30K_max.csv";
const CARS: &str = "CARS_3D_1S_4_sub_35K_max.csv";
/// Where the traces live relative to the repository root (as in the models' fit_command).
const DATASETS_REL: &str = "../shared/traces/demeter/datasets";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The datasets directory, or `None` (and a note) when the traces are not available here.
fn datasets(test: &str) -> Option<PathBuf> {
    let dir = repo().join(DATASETS_REL);
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "{test}: skipped, the recorded traces are not at {} (they live outside the repository)",
            dir.display()
        );
        None
    }
}

fn committed(name: &str) -> (FittedModel, String) {
    let path = repo().join("models/workloads").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    (load_model(&path).unwrap(), text)
}

fn options_of(model: &FittedModel) -> FitOptions {
    FitOptions {
        period_s: Some(model.shape.period_s),
        knot_step_s: model.shape.knot_step_s,
        ar_step_s: model.residual.step_s,
    }
}

/// Accuracy bounds this module claims (see the [fit] tables of the model files).
struct Claim {
    mape_60s_pct: f64,
    hourly_max_pct: f64,
    peak_60s_pct: f64,
}

fn check_fit(dir: &Path, trace: &str, model_file: &str, claim: Claim) {
    let (committed_model, _) = committed(model_file);
    let fitted = fit_trace(&dir.join(trace), &options_of(&committed_model)).unwrap();
    let f = &fitted.fit;
    assert!(f.mean_error_pct.abs() < 0.01, "{trace}: {f:?}");
    assert!(f.mape_60s_pct < claim.mape_60s_pct, "{trace}: {f:?}");
    assert!(
        f.hourly_mean_max_abs_error_pct < claim.hourly_max_pct,
        "{trace}: {f:?}"
    );
    assert!(
        f.peak_60s_error_pct.abs() < claim.peak_60s_pct,
        "{trace}: {f:?}"
    );
    assert_eq!(f.hours_compared, 18);
    // The simulated residual has the trace residual's spread (within 20 %).
    let ratio = f.simulated_residual_std_rps / f.trace_residual_std_rps;
    assert!((0.8..1.2).contains(&ratio), "{trace}: {f:?}");
}

#[test]
fn fits_of_the_recorded_traces_are_as_accurate_as_claimed() {
    let Some(dir) = datasets("fits_of_the_recorded_traces_are_as_accurate_as_claimed") else {
        return;
    };
    check_fit(
        &dir,
        ADS,
        "ads.toml",
        Claim {
            mape_60s_pct: 7.0,
            hourly_max_pct: 0.01,
            peak_60s_pct: 1.0,
        },
    );
    check_fit(
        &dir,
        CARS,
        "cars.toml",
        Claim {
            mape_60s_pct: 1.5,
            hourly_max_pct: 0.1,
            peak_60s_pct: 1.5,
        },
    );
}

#[test]
fn committed_models_are_exactly_what_fit_workload_writes() {
    let Some(dir) = datasets("committed_models_are_exactly_what_fit_workload_writes") else {
        return;
    };
    for (trace, model_file) in [(ADS, "ads.toml"), (CARS, "cars.toml")] {
        let (model, text) = committed(model_file);
        let o = options_of(&model);
        assert_eq!(
            model.provenance.fit_command,
            format!(
                "demeter-sim fit-workload {DATASETS_REL}/{trace} --period-s {} --knot-step-s {} --ar-step-s {}",
                o.period_s.unwrap(),
                o.knot_step_s,
                o.ar_step_s
            )
        );
        let mut refit = fit_trace(&dir.join(trace), &o).unwrap();
        // The command records the path as typed; the rest must match byte for byte.
        refit.provenance.fit_command = model.provenance.fit_command.clone();
        assert_eq!(
            refit.to_toml_string(),
            text,
            "{model_file} is stale: refit it"
        );
    }
}

#[test]
fn committed_models_reproduce_the_trace_mean_and_hourly_means() {
    for model_file in ["ads.toml", "cars.toml"] {
        let (model, _) = committed(model_file);
        let trace_mean = model.fit.trace_mean_rps;
        let spec: WorkloadSpec = toml::from_str(&format!(
            "kind = \"model\"\npath = \"models/workloads/{model_file}\"\nnoise = 0.1"
        ))
        .unwrap();
        for seed in 0..4 {
            let w = build(&spec, &repo(), 64_800, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
            let err = (w.mean_rps() / trace_mean - 1.0).abs();
            assert!(
                err < 0.02,
                "{model_file} seed {seed}: mean {} vs {trace_mean}",
                w.mean_rps()
            );
        }
    }
    let Some(dir) = datasets("committed_models_reproduce_the_trace_mean_and_hourly_means") else {
        return;
    };
    for (trace, model_file) in [(ADS, "ads.toml"), (CARS, "cars.toml")] {
        let t = load_trace(&dir.join(trace)).unwrap();
        let spec: WorkloadSpec = toml::from_str(&format!(
            "kind = \"model\"\npath = \"models/workloads/{model_file}\"\nnoise = 0.1"
        ))
        .unwrap();
        let w = build(&spec, &repo(), 64_800, &mut ChaCha8Rng::seed_from_u64(42)).unwrap();
        for (h, (m, r)) in w
            .window_means_rps(3600)
            .iter()
            .zip(t.rates_rps.chunks_exact(3600))
            .enumerate()
        {
            let r = r.iter().sum::<f64>() / 3600.0;
            assert!(
                (m / r - 1.0).abs() < 0.01,
                "{model_file} hour {h}: {m} vs {r}"
            );
        }
    }
}

#[test]
fn recorded_trace_at_three_times_with_ten_percent_noise() {
    let Some(dir) = datasets("recorded_trace_at_three_times_with_ten_percent_noise") else {
        return;
    };
    let t = load_trace(&dir.join(ADS)).unwrap();
    assert_eq!((t.rows, t.duration_s(), t.filled_s), (64_800, 64_800, 0));
    let spec = WorkloadSpec::Trace {
        path: PathBuf::from(DATASETS_REL).join(ADS),
        scale: 3.0,
        noise: 0.1,
        offset_s: 0,
        repeat: false,
    };
    let w = build(&spec, &repo(), 64_800, &mut ChaCha8Rng::seed_from_u64(1)).unwrap();
    for (s, (v, r)) in w.rates_rps.iter().zip(&t.rates_rps).enumerate() {
        assert!(
            (v / (3.0 * r) - 1.0).abs() <= 0.1 + 1e-12,
            "second {s}: {v} vs 3 x {r}"
        );
    }
    let mean = t.rates_rps.iter().sum::<f64>() / t.rates_rps.len() as f64;
    assert!((w.mean_rps() / (3.0 * mean) - 1.0).abs() < 0.002);
    // 18 h is all there is: a longer run needs repeat = true.
    assert!(build(&spec, &repo(), 64_801, &mut ChaCha8Rng::seed_from_u64(1)).is_err());
}
