//! The catalog's series by id. The engine hands out series ids in order,
//! so entries sit in fixed-size blocks indexed by id: growing allocates a
//! block and never moves an entry. A hash map of 10 million series instead
//! rehashes (copies) every entry at once when it grows, under the state
//! lock: a write call stalled for 10 s at 1,000,000 runs.

use std::collections::BTreeMap;

/// Entries per block.
const BLOCK: usize = 4096;
/// Ids from this one on (never handed out in practice, but read from
/// files) go to an ordered map, so that a stray large id costs one entry.
const DENSE_LIMIT: u64 = 1 << 32;

/// Values by series id.
#[derive(Clone, Debug)]
pub(crate) struct SeriesTable<V> {
    blocks: Vec<Option<Box<[Option<V>]>>>,
    sparse: BTreeMap<u64, V>,
}

impl<V> Default for SeriesTable<V> {
    fn default() -> SeriesTable<V> {
        SeriesTable {
            blocks: Vec::new(),
            sparse: BTreeMap::new(),
        }
    }
}

impl<V> SeriesTable<V> {
    /// The block and slot of a dense id.
    fn place(id: u64) -> (usize, usize) {
        let id = id as usize;
        (id / BLOCK, id % BLOCK)
    }

    /// The value of `id`.
    pub(crate) fn get(&self, id: &u64) -> Option<&V> {
        if *id >= DENSE_LIMIT {
            return self.sparse.get(id);
        }
        let (block, slot) = Self::place(*id);
        self.blocks.get(block)?.as_ref()?[slot].as_ref()
    }

    /// The value of `id`, to change.
    pub(crate) fn get_mut(&mut self, id: &u64) -> Option<&mut V> {
        if *id >= DENSE_LIMIT {
            return self.sparse.get_mut(id);
        }
        let (block, slot) = Self::place(*id);
        self.blocks.get_mut(block)?.as_mut()?[slot].as_mut()
    }

    /// Whether `id` has a value.
    pub(crate) fn contains_key(&self, id: &u64) -> bool {
        self.get(id).is_some()
    }

    /// Every id with its value, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &V)> + '_ {
        let dense = self.blocks.iter().enumerate().flat_map(|(b, block)| {
            block.iter().flat_map(move |slots| {
                slots
                    .iter()
                    .enumerate()
                    .filter_map(move |(s, v)| Some(((b * BLOCK + s) as u64, v.as_ref()?)))
            })
        });
        dense.chain(self.sparse.iter().map(|(id, v)| (*id, v)))
    }

    /// Sets the value of `id`, returning the one it replaces.
    pub(crate) fn insert(&mut self, id: u64, value: V) -> Option<V> {
        if id >= DENSE_LIMIT {
            return self.sparse.insert(id, value);
        }
        let (block, slot) = Self::place(id);
        if self.blocks.len() <= block {
            self.blocks.resize_with(block + 1, || None);
        }
        let block = self.blocks[block]
            .get_or_insert_with(|| std::iter::repeat_with(|| None).take(BLOCK).collect());
        block[slot].replace(value)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Inserts and updates at dense and stray ids read back as a
        /// hash map holds them.
        #[test]
        fn reads_back_what_a_map_holds(
            writes in prop::collection::vec(
                (prop_oneof![8 => 0u64..20_000, 1 => DENSE_LIMIT..DENSE_LIMIT + 2, 1 => Just(u64::MAX)], any::<u32>()),
                0..200,
            ),
            reads in prop::collection::vec(0u64..20_000, 0..50),
        ) {
            let mut table = SeriesTable::default();
            let mut model = HashMap::new();
            for (id, value) in &writes {
                prop_assert_eq!(table.insert(*id, *value), model.insert(*id, *value));
                if let Some(v) = table.get_mut(id) {
                    *v = v.wrapping_add(1);
                }
                *model.get_mut(id).unwrap() = model[id].wrapping_add(1);
            }
            for id in writes.iter().map(|(id, _)| *id).chain(reads) {
                prop_assert_eq!(table.get(&id), model.get(&id));
                prop_assert_eq!(table.contains_key(&id), model.contains_key(&id));
            }
            let mut all: Vec<(u64, u32)> = model.into_iter().collect();
            all.sort_unstable();
            let listed: Vec<(u64, u32)> = table.iter().map(|(id, v)| (id, *v)).collect();
            prop_assert_eq!(listed, all);
        }
    }
}
