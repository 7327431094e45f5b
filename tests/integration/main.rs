//! Integration tests, one binary: each module says what belongs in it.
mod cli;
mod determinism;
mod golden;
mod regime;
mod summarize;
mod twin;
mod validate;
mod workload;
