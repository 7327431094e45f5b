//! Demeter (arXiv 2403.02129): the policy's building blocks.
pub mod bo;
