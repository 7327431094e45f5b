//! Integration tests, one binary: each module says what belongs in it.
mod cli;
mod compare;
mod demeter_forecast;
mod determinism;
mod golden;
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
