//! Demeter's analytics models: the workload forecaster (§4.1) and the latency normaliser
//! (§4.2) of the Demeter research prototype, as deterministic library code.
//!
//! - [`Forecaster`]: pre-processing (interpolation, Savitzky-Golay 51/3, centred exponential
//!   rolling mean of 60), a bank of 20 ARIMA(p,1,0) models at strides 30 i s fitted by
//!   conditional least squares with AIC order selection (the documented stand-in for
//!   `pmdarima.auto_arima`), combined by an exponentially weighted mean across the models
//!   (span 5), interpolated and smoothed by a centred 120-s moving average; [`Forecaster::
//!   target_rate`] is the peak 60-s bin of the 600-s forecast x 1.10 (`R*`).
//! - [`baselines`]: last value and seasonal naive; [`evaluate`]: back-testing on a trace.
//! - [`LatencyClassifier`]: gradient-boosted regression trees of latency on (scale-out,
//!   throughput), `l_n = max(0, tanh(log_4(L_pred / min L_pred)))`, "bad" iff
//!   `L_pred >= 4^atanh(0.5) = 2.14 x` the lowest prediction.

mod ar;
pub mod baselines;
pub mod evaluate;
mod forecaster;
pub mod latency;
pub mod smoothing;

pub use ar::StrideModel;
pub use baselines::{last_value, seasonal_naive};
pub use evaluate::{evaluate, evaluate_with, EvalSpec, ForecastReport, MethodScore};
pub use forecaster::{peak_bin_mean, ForecastParams, Forecaster};
pub use latency::{bad_ratio, normalise_ratio, GradientBoostedTrees, LatencyClassifier, BAD_RATIO};
