//! demeter-sim: a deterministic discrete-event simulator and digital twin of Apache Flink jobs.
pub mod backend;
pub mod calibrate;
pub mod cli;
pub mod cluster;
pub mod control;
pub mod engine;
pub mod flink;
pub mod plot;
pub mod policy;
pub mod report;
pub mod rng;
pub mod runfolder;
pub mod scenario;
pub mod simulate;
pub mod sweep;
pub mod time;
pub mod workload;
