//! The event queue: discrete events ordered by (time, insertion sequence).
//!
//! Same-time events come out in the order they were scheduled (FIFO), which makes a run a pure
//! function of its inputs. The queue is generic over the event payload; the twin owns the closed
//! `enum` of its events.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::SimTime;

struct Entry<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A priority queue of events ordered by time, then by insertion order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `event` at `at`. Events at equal times are delivered in scheduling order.
    pub fn schedule(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq = seq.checked_add(1).expect("event sequence overflow");
        self.heap.push(Entry { at, seq, event });
    }

    /// The time of the earliest pending event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| e.at)
    }

    /// Removes and returns the earliest event if it is due at or before `now`.
    pub fn pop_due(&mut self, now: SimTime) -> Option<(SimTime, E)> {
        if self.peek_time()? <= now {
            self.heap.pop().map(|e| (e.at, e.event))
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Drops every pending event for which `keep` is false (e.g. timers of a cancelled restart).
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries.into_iter().filter(|e| keep(&e.event)).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_ms(20), "c");
        q.schedule(SimTime::from_ms(10), "a");
        q.schedule(SimTime::from_ms(20), "d");
        q.schedule(SimTime::from_ms(10), "b");
        let mut out = vec![];
        while let Some((_, e)) = q.pop_due(SimTime::from_ms(100)) {
            out.push(e);
        }
        assert_eq!(out, ["a", "b", "c", "d"]);
    }

    #[test]
    fn pop_due_respects_now_and_retain_filters() {
        let mut q = EventQueue::new();
        q.schedule(SimTime::from_ms(5), 1);
        q.schedule(SimTime::from_ms(15), 2);
        q.schedule(SimTime::from_ms(15), 3);
        assert_eq!(
            q.pop_due(SimTime::from_ms(10)),
            Some((SimTime::from_ms(5), 1))
        );
        assert_eq!(q.pop_due(SimTime::from_ms(10)), None);
        q.retain(|e| *e != 2);
        assert_eq!(q.len(), 1);
        assert_eq!(
            q.pop_due(SimTime::from_ms(15)),
            Some((SimTime::from_ms(15), 3))
        );
        assert!(q.is_empty());
    }
}
