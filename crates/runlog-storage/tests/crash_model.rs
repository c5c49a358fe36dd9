//! The power-cut model of `MemStorage`, which every power-loss test of the
//! WAL and the engine relies on: what a crash keeps and what it may drop,
//! tear or zero, and that every outcome the model allows does occur.

use std::collections::BTreeSet;
use std::path::Path;

use runlog_storage::{MemStorage, Storage};

const DIR: &str = "/db";
const SEEDS: u64 = 512;

/// A storage with `/db/a` holding 100 durable bytes of 1, then 100 unsynced
/// bytes of 2.
fn half_synced() -> MemStorage {
    let storage = MemStorage::new();
    storage.create_dir_all(Path::new(DIR)).unwrap();
    let file = storage.create(&Path::new(DIR).join("a")).unwrap();
    file.append(&[1; 100]).unwrap();
    file.sync().unwrap();
    storage.sync_dir(Path::new(DIR)).unwrap();
    file.append(&[2; 100]).unwrap();
    storage
}

/// Checks that `got` is `live[..got.len()]`, except for one range of zeros
/// at or after `from`; returns whether it has that range.
fn is_prefix_with_one_zeroed_range(got: &[u8], live: &[u8], from: usize) -> bool {
    assert!(
        got.len() <= live.len(),
        "{} bytes of {}",
        got.len(),
        live.len()
    );
    let differs: Vec<usize> = (0..got.len()).filter(|&i| got[i] != live[i]).collect();
    let (Some(&first), Some(&last)) = (differs.first(), differs.last()) else {
        return false;
    };
    assert!(first >= from, "byte {first}, before {from}, was changed");
    assert!(
        got[first..=last].iter().all(|&b| b == 0),
        "the changed bytes {first}..={last} are one range of zeros"
    );
    true
}

#[test]
fn a_crash_keeps_durable_bytes_and_a_prefix_of_the_rest_sometimes_with_a_hole() {
    let storage = half_synced();
    let live = storage.contents(&Path::new(DIR).join("a")).unwrap();
    let mut lengths = BTreeSet::new();
    let mut holes = 0;
    for seed in 0..SEEDS {
        let got = storage
            .crash(seed)
            .contents(&Path::new(DIR).join("a"))
            .unwrap();
        assert!(got.len() >= 100, "seed {seed}: the durable bytes are kept");
        holes += u64::from(is_prefix_with_one_zeroed_range(&got, &live, 100));
        lengths.insert(got.len());
    }
    assert!(lengths.contains(&100), "sometimes nothing unsynced is kept");
    assert!(lengths.contains(&200), "sometimes everything is");
    assert!(
        lengths.len() > 50,
        "and often a part: {} lengths",
        lengths.len()
    );
    assert!(
        holes > 0 && holes < SEEDS / 2,
        "{holes} of {SEEDS} with a hole"
    );
}

#[test]
fn what_a_crash_leaves_is_durable() {
    let storage = half_synced();
    let path = Path::new(DIR).join("a");
    for seed in 0..64 {
        let after = storage.crash(seed);
        let kept = after.contents(&path).unwrap();
        for again in 0..8 {
            assert_eq!(
                after.crash(again).contents(&path).unwrap(),
                kept,
                "seed {seed}"
            );
        }
    }
}

#[test]
fn a_file_cut_and_rewritten_since_its_sync_comes_back_as_before_or_as_a_prefix_of_now_keeping_what_the_cut_kept()
 {
    let storage = half_synced();
    let path = Path::new(DIR).join("a");
    let file = storage.open_append(&path).unwrap();
    file.sync().unwrap();
    let before: Vec<u8> = storage.contents(&path).unwrap();
    file.truncate(10).unwrap();
    file.append(&[3; 50]).unwrap();
    let now = storage.contents(&path).unwrap();
    let (mut as_before, mut as_now) = (0, 0);
    for seed in 0..SEEDS {
        let got = storage.crash(seed).contents(&path).unwrap();
        if got == before {
            as_before += 1;
        } else {
            // The first 10 bytes were synced and never cut.
            assert!(got.len() >= 10, "seed {seed}: {} bytes", got.len());
            is_prefix_with_one_zeroed_range(&got, &now, 10);
            as_now += 1;
        }
    }
    assert!(
        as_before > 0 && as_now > 0,
        "{as_before} as before, {as_now} as now"
    );
    file.sync().unwrap();
    for seed in 0..64 {
        assert_eq!(storage.crash(seed).contents(&path).unwrap(), now, "synced");
    }
}

/// The names in `/db` after a crash, sorted.
fn names(storage: &MemStorage) -> Vec<String> {
    let mut names = storage.list_dir(Path::new(DIR)).unwrap();
    names.sort();
    names
}

#[test]
fn unsynced_creations_deletions_and_renames_survive_as_a_prefix_in_order() {
    let storage = MemStorage::new();
    let dir = Path::new(DIR);
    storage.create_dir_all(dir).unwrap();
    let old = storage.create(&dir.join("old")).unwrap();
    old.append(b"old").unwrap();
    old.sync().unwrap();
    storage.sync_dir(dir).unwrap();
    let new = storage.create(&dir.join("new")).unwrap();
    new.append(b"new").unwrap();
    new.sync().unwrap();
    storage.remove_file(&dir.join("old")).unwrap();
    storage
        .rename(&dir.join("new"), &dir.join("moved"))
        .unwrap();
    let allowed = [vec!["old"], vec!["new", "old"], vec!["new"], vec!["moved"]];
    let mut seen = BTreeSet::new();
    for seed in 0..SEEDS {
        let after = storage.crash(seed);
        let got = names(&after);
        let index = allowed
            .iter()
            .position(|a| *a == got)
            .unwrap_or_else(|| panic!("seed {seed}: {got:?} is not a prefix of the changes"));
        for name in &got {
            let bytes = after.contents(&dir.join(name)).unwrap();
            let expected: &[u8] = if name == "old" { b"old" } else { b"new" };
            assert_eq!(bytes, expected, "seed {seed}: {name}");
        }
        seen.insert(index);
    }
    assert_eq!(seen.len(), allowed.len(), "every prefix occurs: {seen:?}");
    storage.sync_dir(dir).unwrap();
    for seed in 0..64 {
        assert_eq!(names(&storage.crash(seed)), ["moved"], "synced");
    }
}

#[test]
fn a_rename_over_a_file_brings_the_replaced_file_back_if_lost() {
    let storage = MemStorage::new();
    let dir = Path::new(DIR);
    storage.create_dir_all(dir).unwrap();
    for (name, bytes) in [("target", &b"first"[..]), ("temp", b"second")] {
        let file = storage.create(&dir.join(name)).unwrap();
        file.append(bytes).unwrap();
        file.sync().unwrap();
    }
    storage.sync_dir(dir).unwrap();
    storage
        .rename(&dir.join("temp"), &dir.join("target"))
        .unwrap();
    let mut outcomes = BTreeSet::new();
    for seed in 0..SEEDS {
        let after = storage.crash(seed);
        let target = after.contents(&dir.join("target")).unwrap();
        let temp = after.contents(&dir.join("temp")).ok();
        match (&target[..], temp.as_deref()) {
            (b"first", Some(b"second")) => outcomes.insert("not renamed"),
            (b"second", None) => outcomes.insert("renamed"),
            other => panic!("seed {seed}: {other:?}"),
        };
    }
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
}

#[test]
fn syncing_one_directory_leaves_another_directorys_changes_unsynced() {
    let storage = MemStorage::new();
    let (dir, other) = (Path::new(DIR), Path::new("/other"));
    storage.create_dir_all(dir).unwrap();
    storage.create_dir_all(other).unwrap();
    storage.create(&dir.join("a")).unwrap();
    storage.create(&other.join("b")).unwrap();
    storage.sync_dir(dir).unwrap();
    let mut b_kept = BTreeSet::new();
    for seed in 0..SEEDS {
        let after = storage.crash(seed);
        assert!(
            after.contents(&dir.join("a")).is_ok(),
            "seed {seed}: a was synced"
        );
        b_kept.insert(after.contents(&other.join("b")).is_ok());
    }
    assert_eq!(b_kept.len(), 2, "b may or may not survive");
}

#[test]
fn reads_and_listings_see_what_was_written() {
    let storage = MemStorage::new();
    let dir = Path::new(DIR);
    assert!(storage.list_dir(dir).is_err(), "no such directory yet");
    storage.create_dir_all(dir).unwrap();
    storage.create_dir_all(&dir.join("sub")).unwrap();
    let file = storage.create(&dir.join("a")).unwrap();
    file.append(b"hello, world").unwrap();
    storage.create(&dir.join("sub/b")).unwrap();
    assert_eq!(names(&storage), ["a"], "only the files directly in /db");
    let at = storage.open_read_at(&dir.join("a")).unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(at.read_at(&mut buf, 7).unwrap(), 5);
    assert_eq!(&buf, b"world");
    assert_eq!(
        at.read_at(&mut buf, 10).unwrap(),
        2,
        "a short read at the end"
    );
    assert_eq!(
        at.read_at(&mut buf, 100).unwrap(),
        0,
        "nothing past the end"
    );
    file.append(b"!").unwrap();
    assert_eq!(
        at.read_at(&mut buf, 12).unwrap(),
        1,
        "sees what is appended later"
    );
    let mut all = String::new();
    std::io::Read::read_to_string(&mut storage.open_read(&dir.join("a")).unwrap(), &mut all)
        .unwrap();
    assert_eq!(all, "hello, world!");
    assert_eq!(
        &*storage.map_immutable(&dir.join("a")).unwrap(),
        b"hello, world!"
    );
    assert!(storage.open_append(&dir.join("missing")).is_err());
    assert!(storage.remove_file(&dir.join("missing")).is_err());
}

#[test]
fn the_counts_of_writes_and_syncs_are_exact() {
    let storage = MemStorage::new();
    let dir = Path::new(DIR);
    storage.create_dir_all(dir).unwrap();
    let file = storage.create(&dir.join("a")).unwrap();
    for _ in 0..3 {
        file.append(b"x").unwrap();
    }
    file.sync().unwrap();
    storage.sync_dir(dir).unwrap();
    let stats = storage.stats();
    assert_eq!((stats.writes, stats.syncs), (3, 2));
}
