//! Checkpoints: the scheduler's random first delay, periodic triggers, their duration
//! (barrier alignment, upload) and the state size per subtask.

use rand::Rng;

use super::{Event, JobStatus, PendingCheckpoint, Twin};
use crate::time::SimDuration;

impl Twin {
    /// Flink's `CheckpointCoordinator.startCheckpointScheduler`, run whenever the job turns
    /// RUNNING: the first trigger comes after a random delay uniform in [min pause (0),
    /// interval] (`getRandomInitDelay`), then every interval. So after a restart the first
    /// checkpoint comes on average half an interval in, not a whole one.
    pub(super) fn start_checkpoint_scheduler(&mut self) {
        let interval_ms = self.config.checkpoint_interval.as_ms() as f64;
        let delay_ms = (self.rng_checkpoint.random::<f64>() * interval_ms).round() as u64;
        self.queue.schedule(
            self.now + SimDuration::from_ms(delay_ms),
            Event::CheckpointTrigger {
                attempt: self.attempt,
                timer: self.checkpoint_timer,
            },
        );
    }

    fn start_checkpointing(&mut self) {
        let at = self.now + self.config.checkpoint_interval;
        self.queue.schedule(
            at,
            Event::CheckpointTrigger {
                attempt: self.attempt,
                timer: self.checkpoint_timer,
            },
        );
    }

    pub(super) fn trigger_checkpoint(&mut self) {
        // Periodic: the next trigger is one interval after this one.
        self.start_checkpointing();
        if self.status != JobStatus::Running || self.pending_checkpoint.is_some() {
            return;
        }
        let id = self.next_checkpoint_id;
        self.next_checkpoint_id += 1;
        let spec = self.setup.model.spec.checkpoint.clone();
        // Barrier alignment: the barrier waits behind the records already in flight.
        let alignment_s: f64 = (0..self.graph.len())
            .map(|v| {
                let rate = self.base_capacity_rps[v];
                if rate > 0.0 {
                    self.queued[v] / rate
                } else {
                    0.0
                }
            })
            .sum();
        let upload_s =
            self.state_mb_per_subtask() * spec.incremental_fraction / spec.upload_mb_per_s;
        let duration_s = spec.duration_base_ms / 1000.0 + alignment_s + upload_s;
        self.pending_checkpoint = Some(PendingCheckpoint {
            id,
            offset: self.consumed,
            triggered_at: self.now,
        });
        self.log("checkpoint_triggered", format!("id {id}"));
        // An unreachable TaskManager never acknowledges its barriers: the checkpoint can only
        // time out (or be aborted by the failover that follows).
        if duration_s > spec.timeout_s || self.tm_unreachable > 0 {
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(spec.timeout_s),
                Event::CheckpointTimeout {
                    attempt: self.attempt,
                    id,
                },
            );
        } else {
            self.queue.schedule(
                self.now + SimDuration::from_secs_f64(duration_s),
                Event::CheckpointComplete {
                    attempt: self.attempt,
                    id,
                },
            );
        }
    }

    /// A replay's recorded phase: drop the checkpoint in flight, take one now and run the
    /// periodic timer from here (Flink's coordinator keeps one fixed phase per job start).
    pub(super) fn rephase_checkpoints(&mut self) {
        if self.status != JobStatus::Running {
            return;
        }
        if let Some(p) = self.pending_checkpoint.take() {
            self.log("checkpoint_failed", format!("id {}: rephased", p.id));
        }
        self.checkpoint_timer += 1;
        self.trigger_checkpoint();
    }

    pub(super) fn state_mb_per_subtask(&self) -> f64 {
        self.graph
            .vertices
            .iter()
            .zip(&self.parallelism)
            .map(|(v, &p)| v.state_mb / p.max(1) as f64)
            .fold(0.0, f64::max)
    }
}
