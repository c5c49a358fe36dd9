//! Hash maps keyed by the engine's own numeric ids (series ids): a
//! multiplicative hash instead of SipHash, which defends against chosen
//! keys that these ids, assigned by the engine, never are.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from engine-assigned `u64` ids.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// Hashes one `u64` by a multiplication (Fibonacci hashing).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are used; fold anything else in byte by byte.
        for &byte in bytes {
            self.write_u64(self.0 ^ u64::from(byte));
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(26);
    }
}
