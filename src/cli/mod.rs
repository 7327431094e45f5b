//! The command line: clap definitions, the only place that prints and picks exit codes.
pub mod fit_workload;
pub mod summarize;
