//! What the crash tests and the child processes they kill agree on.

use runlog_wal::Lsn;

/// The largest payload the WAL crash child appends.
pub const WAL_MAX_PAYLOAD: usize = 3000;

/// The payload the WAL crash child appends as record `lsn`. Its length and
/// bytes follow from the LSN alone, so the parent can check any record it
/// reads back without being told what was written.
pub fn wal_payload(lsn: Lsn) -> Vec<u8> {
    let mut x = lsn.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D;
    let len = (x % (WAL_MAX_PAYLOAD as u64 + 1)) as usize;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A small deterministic generator for choices that must replay from a seed.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}
