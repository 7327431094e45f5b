//! The Flink twin: job models, the vertex graph, the fluid/discrete-event job, Kafka metrics.
pub mod colocation;
pub mod config;
pub mod edge;
pub mod failure;
pub mod graph;
pub mod kafka_metrics;
pub mod latency_metric;
pub mod memory;
pub mod model;
pub mod twin;

pub use config::{JobConfig, SchedulerMode};
pub use edge::{EdgeState, EnergyTotals};
pub use failure::{
    Alignment, FailureKind, FailurePlan, FailureSchedule, InjectorClock, SecondFailover,
};
pub use graph::JobGraph;
pub use model::{JobModel, JobModelSpec};
pub use twin::{JobStatus, Twin, TwinSetup};
