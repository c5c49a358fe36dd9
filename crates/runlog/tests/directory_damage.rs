//! Damage anywhere in a database directory (a flipped byte, a truncation or
//! a deleted file, in the identity file, the MANIFEST, a segment or the
//! WAL): every open either refuses with an error that names a file, or
//! answers with exactly the acknowledged points (at most a reported torn
//! WAL tail shorter, or, for a WAL truncated exactly between records, a
//! prefix: that looks like a log that ended there); a read of damaged data
//! is an error naming the file; and a user's file in the directory is never
//! deleted.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use runlog::{Db, Durability, WalTail};

/// (run, metric) -> points `(step, timestamp, value bits)` in step order.
type Expected = BTreeMap<(String, String), Vec<(i64, i64, u64)>>;

/// A database with segments, a manifest and WAL records after it.
fn build(dir: &Path) -> Expected {
    let mut expected = Expected::new();
    let db = Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap();
    for r in 0..3 {
        let name = format!("run-{r}");
        let run = db.create_run("e", &name).unwrap();
        for (m, metric) in ["loss", "acc"].iter().enumerate() {
            for step in 0..400i64 {
                let value = (step * (r + 1) + m as i64) as f64 * 0.25;
                db.log_at(run, metric, step, 1000 + step, value).unwrap();
                expected
                    .entry((name.clone(), metric.to_string()))
                    .or_default()
                    .push((step, 1000 + step, value.to_bits()));
            }
            if r == 1 && m == 0 {
                db.flush().unwrap();
            }
        }
    }
    db.close().unwrap();
    expected
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.join("RUNLOG"), dir.join("MANIFEST")];
    for sub in ["segments", "wal"] {
        let mut found: Vec<PathBuf> = fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.ends_with("notes.txt"))
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// What an open gave: refused naming a file, or every series exact (a
/// prefix, if a torn WAL tail was cut and reported, or if the WAL was
/// truncated: cut exactly between two records, a log looks like one that
/// ended there, as a power cut under `Group` leaves it, and no file
/// records where a log should end).
fn check_open(
    db: Result<Db, runlog::Error>,
    dir: &Path,
    expected: &Expected,
    wal_truncated: bool,
) -> Result<(), TestCaseError> {
    let db = match db {
        Err(e) => {
            let message = e.to_string();
            prop_assert!(
                message.contains(dir.to_str().unwrap()),
                "names no file: {}",
                message
            );
            return Ok(());
        }
        Ok(db) => db,
    };
    let cut = wal_truncated || !matches!(db.recovered_tail(), WalTail::Clean);
    for ((run, metric), points) in expected {
        let Some(id) = db.find_run("e", run) else {
            // Only a run created in a torn tail that was cut, and said so.
            prop_assert!(cut, "run {} vanished silently", run);
            continue;
        };
        match db.history(id, metric, ..) {
            // A metric defined only in a torn tail that was cut (and said so).
            Err(runlog::Error::UnknownSeries { .. }) if cut => {}
            Err(e) => {
                let message = e.to_string();
                prop_assert!(
                    message.contains(dir.to_str().unwrap()),
                    "names no file: {}",
                    message
                );
            }
            Ok(history) => {
                let got: Vec<(i64, i64, u64)> = (0..history.len())
                    .map(|i| {
                        (
                            history.steps[i],
                            history.timestamps[i],
                            history.values[i].to_bits(),
                        )
                    })
                    .collect();
                if cut {
                    prop_assert!(points.starts_with(&got), "{}/{}: not a prefix", run, metric);
                } else {
                    prop_assert_eq!(
                        &got,
                        points,
                        "{}/{}: fewer or other points, silently",
                        run,
                        metric
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn damage_is_refused_by_name_or_loses_nothing_silently(
        which in any::<prop::sample::Index>(),
        how in 0u8..3,
        at in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let expected = build(dir.path());
        let notes = dir.path().join("segments/notes.txt");
        fs::write(&notes, "mine").unwrap();
        let all = files(dir.path());
        let target = &all[which.index(all.len())];
        let mut bytes = fs::read(target).unwrap();
        match how {
            0 if !bytes.is_empty() => {
                let i = at.index(bytes.len());
                bytes[i] ^= mask;
                fs::write(target, &bytes).unwrap();
            }
            1 => {
                bytes.truncate(at.index(bytes.len().max(1)));
                fs::write(target, &bytes).unwrap();
            }
            _ => fs::remove_file(target).unwrap(),
        }
        let wal_truncated = how == 1 && target.extension().is_some_and(|e| e == "log");
        check_open(Db::open_read_only(dir.path()), dir.path(), &expected, wal_truncated)?;
        check_open(Db::open(dir.path()), dir.path(), &expected, wal_truncated)?;
        prop_assert_eq!(fs::read_to_string(&notes).unwrap(), "mine", "the user's file is kept");
    }
}
