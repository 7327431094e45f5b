//! Seeded random streams: one `ChaCha8Rng` per component, derived from (master seed, stable label).
//!
//! A component's stream depends only on the master seed and its own label, so adding a component
//! or a sweep value never reshuffles the draws of the others. `StdRng` is avoided on purpose: rand
//! documents it as not reproducible across versions; ChaCha8 is a fixed algorithm.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random number generator used everywhere in the model.
pub type SimRng = ChaCha8Rng;

/// A 64-bit seed derived from the master seed and a stable label (FNV-1a of the label, mixed
/// with the master seed by SplitMix64). Stable across platforms, Rust versions and runs.
pub fn derive_seed(master: u64, label: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix64(master ^ splitmix64(hash))
}

/// The stream for `label` under `master`.
pub fn stream(master: u64, label: &str) -> SimRng {
    SimRng::seed_from_u64(derive_seed(master, label))
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    const PINNED_WORKLOAD_42: u64 = 4_021_489_222_517_448_017;

    #[test]
    fn seeds_are_stable_and_label_dependent() {
        // Pinned values: a change here silently changes every golden trace.
        assert_eq!(derive_seed(42, "workload"), derive_seed(42, "workload"));
        assert_ne!(derive_seed(42, "workload"), derive_seed(42, "failures"));
        assert_ne!(derive_seed(42, "workload"), derive_seed(43, "workload"));
        assert_eq!(derive_seed(42, "workload"), PINNED_WORKLOAD_42);
    }

    #[test]
    fn streams_reproduce() {
        let a: Vec<u32> = stream(7, "x").random_iter().take(4).collect();
        let b: Vec<u32> = stream(7, "x").random_iter().take(4).collect();
        let c: Vec<u32> = stream(7, "y").random_iter().take(4).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
