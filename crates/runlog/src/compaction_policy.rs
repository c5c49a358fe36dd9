//! Which segments the compactor merges next, as a function of their levels
//! and series id ranges alone (oldest first), so that the policy can be
//! checked against every interleaving of flushes and merges without files.
//!
//! The list is kept non-increasing in level from oldest to newest: flushes
//! append level 0 at the end, and a merge replaces a stretch of neighbours
//! in place by one segment of a level no lower than theirs. So segments of
//! one level are neighbours.
//!
//! A level's segments fall, oldest first, into **sorted runs**: maximal
//! stretches of neighbours whose series id ranges are pairwise disjoint,
//! so that a series lives in at most one segment of a sorted run. The
//! policy counts sorted runs, not segments: whenever `FANIN` neighbouring
//! sorted runs share a level `L`, all their segments are merged into one of
//! level `L + 1`. Merging every such stretch (the oldest first, wherever it
//! is) leaves at most `FANIN - 1` sorted runs per level once the compactor
//! has caught up, whatever flushes happened while it merged: a series then
//! lives in at most `FANIN - 1` segments per level, and there are
//! logarithmically many levels.
//!
//! Segments that share no id range, as the flushes of many short runs
//! (each holding only series newer than every segment before it), form one
//! sorted run and are never merged: a merge would only copy them.
//!
//! A list that breaks the order (written by builds whose compactor merged
//! only the newest segments) is healed first: a segment older than a
//! higher-level neighbour is merged into that neighbour, at the
//! neighbour's level.

use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};

use runlog_segment::SeriesId;

/// How many same-level sorted runs are merged at once.
pub const COMPACTION_FANIN: usize = 4;

/// What the policy knows of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    pub level: u32,
    /// Its lowest and highest series id.
    pub ids: RangeInclusive<SeriesId>,
}

/// A merge to do: which segments (by position) and the output's level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Merge {
    pub inputs: Range<usize>,
    pub level: u32,
}

/// Whether `ids` shares an id with any of `ranges` (pairwise disjoint,
/// by start): only the last one starting at or before `ids`' end can.
fn overlaps_any(ranges: &BTreeMap<SeriesId, SeriesId>, ids: &RangeInclusive<SeriesId>) -> bool {
    ranges
        .range(..=*ids.end())
        .next_back()
        .is_some_and(|(_, &end)| end >= *ids.start())
}

/// The sorted runs of `shapes` (positions), oldest first: each segment
/// joins the run before it if that run is of its level and none of the
/// run's segments shares ids with it.
fn sorted_runs(shapes: &[Shape]) -> Vec<Range<usize>> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    // The id ranges of the last run's segments.
    let mut last_run = BTreeMap::new();
    for (i, shape) in shapes.iter().enumerate() {
        match runs.last_mut() {
            Some(run)
                if shapes[run.start].level == shape.level
                    && !overlaps_any(&last_run, &shape.ids) =>
            {
                run.end = i + 1;
            }
            _ => {
                runs.push(i..i + 1);
                last_run.clear();
            }
        }
        last_run.insert(*shape.ids.start(), *shape.ids.end());
    }
    runs
}

/// The next merge for segments of these shapes (oldest first), if any.
pub(crate) fn next_merge(shapes: &[Shape]) -> Option<Merge> {
    if let Some(i) = shapes
        .windows(2)
        .position(|pair| pair[0].level < pair[1].level)
    {
        return Some(Merge {
            inputs: i..i + 2,
            level: shapes[i + 1].level,
        });
    }
    let runs = sorted_runs(shapes);
    let level_of = |run: &Range<usize>| shapes[run.start].level;
    let start = runs.windows(COMPACTION_FANIN).position(|window| {
        window
            .iter()
            .all(|run| level_of(run) == level_of(&window[0]))
    })?;
    Some(Merge {
        inputs: runs[start].start..runs[start + COMPACTION_FANIN - 1].end,
        level: level_of(&runs[start]) + 1,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Applies a merge: its output holds every id its inputs held.
    fn apply(shapes: &mut Vec<Shape>, merge: &Merge) {
        let inputs = &shapes[merge.inputs.clone()];
        let low = inputs.iter().map(|s| *s.ids.start()).min().expect("inputs");
        let high = inputs.iter().map(|s| *s.ids.end()).max().expect("inputs");
        let output = Shape {
            level: merge.level,
            ids: low..=high,
        };
        shapes.splice(merge.inputs.clone(), [output]);
    }

    /// Runs merges until none is due; returns how many it ran.
    fn settle(shapes: &mut Vec<Shape>) -> usize {
        let mut merges = 0;
        while let Some(merge) = next_merge(shapes) {
            apply(shapes, &merge);
            merges += 1;
        }
        merges
    }

    fn flushed(ids: RangeInclusive<SeriesId>) -> Shape {
        Shape { level: 0, ids }
    }

    fn ordered(shapes: &[Shape]) -> bool {
        shapes.windows(2).all(|p| p[0].level >= p[1].level)
    }

    /// At most `FANIN - 1` sorted runs per level, and so at most that many
    /// segments of a level hold any one id (checked for every id).
    fn bounded_per_level(shapes: &[Shape], highest_id: SeriesId) -> Result<(), TestCaseError> {
        let mut runs = BTreeMap::new();
        for run in sorted_runs(shapes) {
            *runs.entry(shapes[run.start].level).or_insert(0) += 1;
        }
        prop_assert!(runs.values().all(|&n| n < COMPACTION_FANIN), "{:?}", shapes);
        for id in 0..=highest_id {
            let mut holding = BTreeMap::new();
            for shape in shapes.iter().filter(|s| s.ids.contains(&id)) {
                *holding.entry(shape.level).or_insert(0) += 1;
            }
            prop_assert!(
                holding.values().all(|&n| n < COMPACTION_FANIN),
                "id {id} in {holding:?} of {shapes:?}"
            );
        }
        Ok(())
    }

    /// A flush's ids: only new ones (`fresh`, as for new runs), or any
    /// range up to the newest id so far (as for runs logging on).
    fn flush_ids(next_id: &mut SeriesId, fresh: bool, from: u64, width: u64) -> Shape {
        let start = if fresh {
            *next_id
        } else {
            from % (*next_id + 1)
        };
        let end = start + width;
        *next_id = (*next_id).max(end + 1);
        flushed(start..=end)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Flushes land while a merge runs (between choosing its inputs and
        /// putting its output in their place), in any number, with new or
        /// overlapping ids; after the compactor catches up the list is
        /// ordered, a level holds at most three sorted runs (so an id is in
        /// at most three of its segments), and the levels are
        /// logarithmically many.
        #[test]
        fn any_interleaving_of_flushes_and_merges_stays_bounded(
            events in prop::collection::vec(
                (prop::collection::vec((any::<bool>(), any::<u64>(), 0u64..4), 0..6), any::<bool>()),
                1..300,
            ),
        ) {
            let mut shapes: Vec<Shape> = Vec::new();
            let mut running: Option<Merge> = None;
            let mut flushes = 0u64;
            let mut next_id = 0;
            for (flushes_now, merge_step) in events {
                for (fresh, from, width) in flushes_now {
                    shapes.push(flush_ids(&mut next_id, fresh, from, width));
                    flushes += 1;
                }
                if merge_step {
                    match running.take() {
                        Some(merge) => apply(&mut shapes, &merge),
                        None => running = next_merge(&shapes),
                    }
                }
                prop_assert!(ordered(&shapes), "{:?}", shapes);
            }
            if let Some(merge) = running {
                apply(&mut shapes, &merge);
            }
            settle(&mut shapes);
            prop_assert!(ordered(&shapes), "{:?}", shapes);
            bounded_per_level(&shapes, next_id)?;
            let levels = shapes.iter().map(|s| s.level).max().map_or(0, |l| l + 1);
            let bound = 1 + (flushes.max(1) as f64).log(COMPACTION_FANIN as f64).ceil() as u32;
            prop_assert!(levels <= bound, "{levels} levels for {flushes} flushes");
        }

        /// A list left unordered by older builds is healed, then bounded.
        #[test]
        fn an_unordered_list_is_healed(
            mut shapes in prop::collection::vec(
                (0u32..4, 0u64..40, 0u64..8).prop_map(|(level, from, width)| Shape {
                    level,
                    ids: from..=from + width,
                }),
                0..60,
            ),
        ) {
            settle(&mut shapes);
            prop_assert!(ordered(&shapes), "{:?}", shapes);
            bounded_per_level(&shapes, 48)?;
        }
    }

    #[test]
    fn flushes_of_new_series_only_are_never_merged() {
        let mut shapes: Vec<Shape> = (0..100).map(|i| flushed(i * 10..=i * 10 + 9)).collect();
        assert_eq!(settle(&mut shapes), 0);
        assert_eq!(shapes.len(), 100);
    }

    #[test]
    fn four_overlapping_flushes_are_merged_with_the_disjoint_ones_between() {
        // Two sorted runs of disjoint flushes, each followed by an
        // overlapping one: four runs at level 0, merged into one.
        let mut shapes = vec![
            flushed(0..=9),
            flushed(10..=19),
            flushed(5..=25),
            flushed(30..=39),
            flushed(35..=36),
        ];
        assert_eq!(sorted_runs(&shapes), [0..2, 2..4, 4..5]);
        shapes.push(flushed(0..=40));
        assert_eq!(settle(&mut shapes), 1);
        assert_eq!(
            shapes,
            [Shape {
                level: 1,
                ids: 0..=40
            }]
        );
    }

    #[test]
    fn the_stranding_that_the_newest_only_policy_left_is_merged() {
        // Two level-1 segments left before a level-2 one, as the old
        // policy stranded them: the newest four were never all level 1.
        let mut shapes: Vec<Shape> = [1, 1, 2, 0]
            .into_iter()
            .map(|level| Shape { level, ids: 0..=0 })
            .collect();
        settle(&mut shapes);
        let levels: Vec<u32> = shapes.iter().map(|s| s.level).collect();
        assert_eq!(levels, [2, 0]);
    }
}
