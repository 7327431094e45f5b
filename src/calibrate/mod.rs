//! Calibration and validation against recorded runs: replaying a recorded run in the twin,
//! measuring how far the twin is from it, and (later) fitting model parameters.

pub mod catch_up;
pub mod cpu_by_config;
pub mod fit;
pub mod live;
pub mod phases;
pub mod profiles;
pub mod replay;
pub mod second_failover;
pub mod validate;

pub use replay::{Change, RecordedPolicy, ReplayPolicy};
pub use validate::{
    fidelity, fidelity_bucketed, render_report, simulate_recorded, simulate_recorded_data,
    Fidelity, RecordedSetup,
};
