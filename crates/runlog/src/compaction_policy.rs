//! Which segments the compactor merges next, as a function of their levels
//! alone (oldest first), so that the policy can be checked against every
//! interleaving of flushes and merges without files.
//!
//! The list is kept non-increasing in level from oldest to newest: flushes
//! append level 0 at the end, and a merge replaces a run of neighbours in
//! place by one segment of a level no lower than theirs. Then segments of
//! one level are neighbours, so "four of one level" is "four neighbours of
//! one level", and merging every such run (the oldest first, wherever it
//! is, not only at the newest end) leaves at most `FANIN - 1` segments per
//! level once the compactor has caught up, whatever flushes happened while
//! it merged.
//!
//! A list that breaks the order (written by builds whose compactor merged
//! only the newest segments) is healed first: a segment older than a
//! higher-level neighbour is merged into that neighbour, at the
//! neighbour's level.

use std::ops::Range;

/// How many same-level segments are merged at once.
pub const COMPACTION_FANIN: usize = 4;

/// A merge to do: which segments (by position) and the output's level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Merge {
    pub inputs: Range<usize>,
    pub level: u32,
}

/// The next merge for segments of these levels (oldest first), if any.
pub(crate) fn next_merge(levels: &[u32]) -> Option<Merge> {
    if let Some(i) = levels.windows(2).position(|pair| pair[0] < pair[1]) {
        return Some(Merge {
            inputs: i..i + 2,
            level: levels[i + 1],
        });
    }
    let start = levels
        .windows(COMPACTION_FANIN)
        .position(|window| window.iter().all(|&level| level == window[0]))?;
    Some(Merge {
        inputs: start..start + COMPACTION_FANIN,
        level: levels[start] + 1,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Applies a merge to a list of levels.
    fn apply(levels: &mut Vec<u32>, merge: &Merge) {
        levels.splice(merge.inputs.clone(), [merge.level]);
    }

    /// Runs merges until none is due.
    fn settle(levels: &mut Vec<u32>) {
        while let Some(merge) = next_merge(levels) {
            apply(levels, &merge);
        }
    }

    fn at_most_fanin_minus_one_per_level(levels: &[u32]) -> bool {
        let mut counts = std::collections::BTreeMap::new();
        for &level in levels {
            *counts.entry(level).or_insert(0) += 1;
        }
        counts.values().all(|&count| count < COMPACTION_FANIN)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Flushes land while a merge runs (between choosing its inputs and
        /// putting its output in their place), in any number; after the
        /// compactor catches up the list is ordered, holds at most three
        /// segments per level, and so only logarithmically many.
        #[test]
        fn any_interleaving_of_flushes_and_merges_stays_bounded(
            events in prop::collection::vec((0usize..6, any::<bool>()), 1..400),
        ) {
            let mut levels: Vec<u32> = Vec::new();
            let mut running: Option<Merge> = None;
            let mut flushes = 0u64;
            for (flushes_now, merge_step) in events {
                // Flushes append level 0 at the newest end.
                levels.extend(std::iter::repeat_n(0, flushes_now));
                flushes += flushes_now as u64;
                if merge_step {
                    match running.take() {
                        Some(merge) => apply(&mut levels, &merge),
                        None => running = next_merge(&levels),
                    }
                }
                prop_assert!(levels.windows(2).all(|p| p[0] >= p[1]), "{:?}", levels);
            }
            if let Some(merge) = running {
                apply(&mut levels, &merge);
            }
            settle(&mut levels);
            prop_assert!(at_most_fanin_minus_one_per_level(&levels), "{:?}", levels);
            let bound = (COMPACTION_FANIN - 1) * (1 + (flushes.max(1) as f64).log(COMPACTION_FANIN as f64).ceil() as usize);
            prop_assert!(levels.len() <= bound, "{} segments for {flushes} flushes", levels.len());
        }

        /// A list left unordered by older builds is healed, then bounded.
        #[test]
        fn an_unordered_list_is_healed(mut levels in prop::collection::vec(0u32..4, 0..60)) {
            settle(&mut levels);
            prop_assert!(levels.windows(2).all(|p| p[0] >= p[1]), "{:?}", levels);
            prop_assert!(at_most_fanin_minus_one_per_level(&levels), "{:?}", levels);
        }
    }

    #[test]
    fn the_stranding_that_the_newest_only_policy_left_is_merged() {
        // Two level-1 segments left before a level-2 one, as the old
        // policy stranded them: the newest four were never all level 1.
        let mut levels = vec![1, 1, 2, 0];
        settle(&mut levels);
        assert_eq!(levels, [2, 0]);
    }
}
