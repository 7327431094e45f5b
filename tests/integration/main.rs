//! Integration tests, one binary: each module says what belongs in it.
mod cli;
mod compare;
mod determinism;
mod golden;
mod regime;
mod summarize;
mod sweep;
mod twin;
mod workload;
