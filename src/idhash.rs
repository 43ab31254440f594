//! A cheap hasher for maps keyed by numbers the kernel hands out (pids, uids, gids, socket
//! inodes). std's SipHash is built to resist keys chosen to collide; these keys are not
//! chosen by anyone, so one multiply per key does (the rotate-xor-multiply step of rustc's
//! FxHasher). Maps keyed by names from outside (socket paths) keep SipHash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Mixes each integer written into the state with one multiply: the high bits, which the
/// table's control bytes use, depend on every bit of the key.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl IdHasher {
    fn add(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(K);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A HashMap keyed by kernel-assigned numbers.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_keys_spread() {
        let mut m: IdMap<u32, u32> = IdMap::default();
        for i in 0..10_000 {
            m.insert(i, i * 2);
        }
        assert_eq!(m.len(), 10_000);
        assert!((0..10_000).all(|i| m[&i] == i * 2));
        // Sequential keys differ in the top 7 bits (the table's control bytes) too.
        let top = |n: u32| {
            let mut h = IdHasher::default();
            h.write_u32(n);
            h.finish() >> 57
        };
        let distinct: std::collections::HashSet<u64> = (0..64).map(top).collect();
        assert!(distinct.len() > 32, "{}", distinct.len());
    }
}
