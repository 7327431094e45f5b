//! Demeter (arXiv 2403.02129): the policy of the Demeter prototype and its parts: the
//! configuration space, Bayesian optimisation (GP, RGPE, NEHVI, Sobol), the policy itself.
pub mod bo;
pub mod decision;
pub mod policy;
pub mod space;

pub use policy::{DemeterParams, DemeterPolicy};
