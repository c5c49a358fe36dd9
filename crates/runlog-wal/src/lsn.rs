//! Log sequence numbers.

use std::fmt;

/// The position of a record in the log.
///
/// The first record of a new log has LSN 1, and every record's LSN is one more
/// than the previous record's, across file boundaries and reopens. LSN 0 is
/// never assigned, so `Lsn(0)` can stand for "before every record".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// The LSN of the first record ever written to a log.
    pub const FIRST: Lsn = Lsn(1);

    /// The LSN that follows this one.
    #[must_use]
    pub fn next(self) -> Lsn {
        Lsn(self.0 + 1)
    }

    /// The LSN that precedes this one (`Lsn(0)` stays `Lsn(0)`).
    #[must_use]
    pub fn prev(self) -> Lsn {
        Lsn(self.0.saturating_sub(1))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
