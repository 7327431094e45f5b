//! Demeter: the policy of the Demeter prototype (forecasting, multi-objective Bayesian
//! optimisation with transfer, profiling runs) and its parts.
pub mod space;
