//! Integration tests, one binary: each module says what belongs in it.
mod backend_conformance;
mod cli;
mod compare;
mod determinism;
mod golden;
mod live;
mod policy_autoscaler;
mod policy_ds2;
mod policy_lvr;
mod policy_reactive;
mod regime;
mod summarize;
mod sweep;
mod twin;
mod validate;
mod workload;
