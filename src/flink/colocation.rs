//! CPU shared by the subtasks of one slot (Flink's default slot sharing): how much of its
//! capacity each vertex keeps when its subtasks share cores with other vertices' subtasks.
//!
//! With one slot-sharing group (Flink's default) slot i runs subtask i of every vertex whose
//! parallelism exceeds i (`LocalInputPreferredSlotSharingStrategy` groups all-to-all
//! connected vertices by subtask index), so with parallelisms (24, 2) slots 0 and 1 run a
//! source and a window subtask each and slots 2..23 a source subtask alone. The subtasks of a
//! slot are threads on the same cores: a subtask gets what the others leave, and at least an
//! equal share when all want more (the Linux scheduler's fair share among runnable threads;
//! a container's CPU limit is a quota over all of them).

/// One vertex's CPU share in its most contended slot and the reported busy time's factor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Share {
    /// The most contended subtask's share of one subtask's uncontended capacity (0..=1]:
    /// records go to subtasks by partition or key group, so the vertex sustains p times it.
    pub capacity_factor: f64,
    /// Mean over the vertex's subtasks of (their busy time / the most contended one's): the
    /// less contended subtasks finish the same records in less wall-clock time (0..=1].
    pub mean_busy_factor: f64,
}

/// Per vertex, its [`Share`] given every vertex's parallelism and its per-subtask demand
/// (`demand[v]`: the share of one uncontended subtask's capacity it used, >= 0), with
/// `budget` = the cores of a slot in units of what one subtask can use (>= 1; 1 for a 1-core
/// slot).
pub fn shares(parallelism: &[u32], demand: &[f64], budget: f64) -> Vec<Share> {
    let mut out = Vec::new();
    shares_into(parallelism, demand, budget, &mut out);
    out
}

/// [`shares`] into `out` (cleared first), without allocating once `out` has the capacity: the
/// twin calls it every tick.
pub fn shares_into(parallelism: &[u32], demand: &[f64], budget: f64, out: &mut Vec<Share>) {
    let budget = budget.max(1.0);
    // Slot i is shared by the vertices with parallelism > i: constant between consecutive
    // distinct parallelisms, so each vertex's slots fall into at most n groups, each starting
    // at 0 or at another vertex's (smaller) parallelism.
    let share_from = |v: usize, slot: u32| {
        let (mut sharing, mut others) = (1u32, 0.0);
        for (u, &pu) in parallelism.iter().enumerate() {
            if u != v && pu > slot {
                sharing += 1;
                others += demand[u].max(0.0);
            }
        }
        (budget - others).max(budget / sharing as f64).min(1.0)
    };
    out.clear();
    for v in 0..parallelism.len() {
        let p = parallelism[v].max(1);
        // Group starts: 0 and every distinct parallelism below p (first occurrence only).
        let starts = std::iter::once(0).chain(
            parallelism
                .iter()
                .enumerate()
                .map(|(u, &q)| (u, q.max(1)))
                .filter(|&(u, q)| q < p && !parallelism[..u].iter().any(|&r| r.max(1) == q))
                .map(|(_, q)| q),
        );
        let group = |start: u32| {
            let end = parallelism
                .iter()
                .map(|&q| q.max(1))
                .filter(|&q| q > start && q < p)
                .fold(p, u32::min);
            (share_from(v, start), end - start)
        };
        let (mut min_share, mut weighted) = (1.0f64, 0.0);
        for start in starts.clone() {
            min_share = min_share.min(group(start).0);
        }
        for start in starts {
            let (share, slots) = group(start);
            weighted += min_share / share * slots as f64;
        }
        out.push(Share {
            capacity_factor: min_share,
            mean_busy_factor: weighted / p as f64,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vertex_alone_keeps_its_whole_capacity() {
        let s = shares(&[24], &[1.0], 1.0);
        assert_eq!(s[0].capacity_factor, 1.0);
        assert_eq!(s[0].mean_busy_factor, 1.0);
    }

    #[test]
    fn light_neighbours_take_only_what_they_use() {
        // Static YSB at average load: source 0.22 and window 0.03 of a core per subtask; each
        // could grow into what the other leaves.
        let s = shares(&[24, 24], &[0.22, 0.03], 1.0);
        assert!((s[0].capacity_factor - 0.97).abs() < 1e-12);
        assert!((s[1].capacity_factor - 0.78).abs() < 1e-12);
        assert_eq!(s[0].mean_busy_factor, 1.0);
    }

    #[test]
    fn a_saturated_source_leaves_a_co_located_window_its_fair_share_and_loses_what_it_uses() {
        // Source at 24 catching up (wants the whole core), window at 2 using 0.4 of a core:
        // the window keeps max(1 - 1, 1/2) = 0.5, the two sources beside it get 0.6 and
        // set the pace of all 24 (partitions are bound to subtasks).
        let s = shares(&[24, 2], &[1.0, 0.4], 1.0);
        assert!((s[0].capacity_factor - 0.6).abs() < 1e-12);
        assert!((s[1].capacity_factor - 0.5).abs() < 1e-12);
        // 22 sources alone (busy 0.6 of the contended ones' time), 2 contended (1.0).
        let want = (22.0 * 0.6 + 2.0) / 24.0;
        assert!((s[0].mean_busy_factor - want).abs() < 1e-12);
        assert_eq!(s[1].mean_busy_factor, 1.0);
    }

    /// Slot by slot, as the module comment defines it.
    fn brute_force(parallelism: &[u32], demand: &[f64], budget: f64) -> Vec<Share> {
        (0..parallelism.len())
            .map(|v| {
                let shares: Vec<f64> = (0..parallelism[v])
                    .map(|slot| {
                        let others: Vec<usize> = (0..parallelism.len())
                            .filter(|&u| u != v && parallelism[u] > slot)
                            .collect();
                        let used: f64 = others.iter().map(|&u| demand[u]).sum();
                        (budget - used)
                            .max(budget / (others.len() + 1) as f64)
                            .min(1.0)
                    })
                    .collect();
                let min = shares.iter().copied().fold(1.0, f64::min);
                let mean = shares.iter().map(|s| min / s).sum::<f64>() / shares.len() as f64;
                Share {
                    capacity_factor: min,
                    mean_busy_factor: mean,
                }
            })
            .collect()
    }

    #[test]
    fn slot_groups_agree_with_slot_by_slot() {
        for (par, demand) in [
            (vec![24, 2, 2], vec![0.9, 0.3, 0.2]),
            (vec![3, 12, 7, 12, 1], vec![0.5, 0.2, 0.4, 0.1, 0.9]),
            (vec![5, 5], vec![0.7, 0.6]),
        ] {
            let got = shares(&par, &demand, 1.0);
            let want = brute_force(&par, &demand, 1.0);
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g.capacity_factor - w.capacity_factor).abs() < 1e-12,
                    "{par:?}"
                );
                assert!(
                    (g.mean_busy_factor - w.mean_busy_factor).abs() < 1e-12,
                    "{par:?}"
                );
            }
        }
    }

    #[test]
    fn a_bigger_slot_absorbs_the_neighbour() {
        // 2 usable cores per slot, one subtask can use 1: both fit.
        let s = shares(&[4, 4], &[1.0, 0.9], 2.0);
        assert_eq!(s[0].capacity_factor, 1.0);
        assert_eq!(s[1].capacity_factor, 1.0);
    }
}
