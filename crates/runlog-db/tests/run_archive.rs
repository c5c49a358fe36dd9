//! `export-run` and `import-run` through the real binary: a run travels
//! whole and bit for bit; a damaged archive writes nothing; a re-import is
//! refused, skipped or replaces, as asked.

mod common;

use std::io::Write;
use std::path::Path;

use common::{ok, runlog_db};
use runlog::{Cell, Db, Durability, RunId, RunStatus};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image";

fn source(dir: &Path) -> RunId {
    let db = Db::builder(dir)
        .durability(Durability::Sync)
        .open()
        .unwrap();
    let run = db
        .create_run_at("exp/a", "run 1", 1_700_000_000_123)
        .unwrap();
    db.set_param(run, "lr", "3e-4").unwrap();
    db.set_tag(run, "team", "vision").unwrap();
    let awkward = [
        0.1,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        5e-324,
        f64::from_bits(0x7FF4_0000_0000_BEEF),
    ];
    db.log_list(run, "loss", &awkward).unwrap();
    db.log_at(run, "acc", -5, 77, 0.25).unwrap();
    db.log_row_cells(
        run,
        "eval",
        &[
            ("acc", Cell::Number(f64::NAN)),
            ("split", Cell::Text("NaN")),
        ],
    )
    .unwrap();
    db.log_row_cells(run, "eval", &[("acc", Cell::Number(0.5))])
        .unwrap();
    db.log_str_at(run, "phase", 3, 1000, "warm\nup ✓").unwrap();
    db.append_log(run, "node-0/stdout", "one\ntwo\nno newline")
        .unwrap();
    db.append_log(run, "../stderr", "odd name\n").unwrap();
    db.log_image(run, "samples", 40, PNG).unwrap();
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    db.put_artifact(run, "model/weights.bin", &noise).unwrap();
    db.log_text(run, "notes.md", "# notes\n").unwrap();
    db.set_status_at(run, RunStatus::Failed, Some(1_700_000_999_000))
        .unwrap();
    db.close().unwrap();
    run
}

/// Everything a run holds, as one comparable text (floats by their bits).
fn everything(db: &Db, run: RunId) -> String {
    let info = db.run(run).unwrap();
    let mut out = format!(
        "{} {} {} {} {:?} {:?} {:?}\n",
        info.experiment, info.name, info.status, info.start_ms, info.end_ms, info.params, info.tags
    );
    for name in db.metric_names(run).unwrap() {
        let h = db.history(run, &name, ..).unwrap();
        let bits: Vec<u64> = h.values.iter().map(|v| v.to_bits()).collect();
        out += &format!("metric {name} {:?} {:?} {bits:?}\n", h.steps, h.timestamps);
    }
    for table in db.table_names(run).unwrap() {
        let t = db.table(run, &table).unwrap();
        let columns: Vec<_> = t
            .columns
            .iter()
            .map(|(c, v)| {
                (
                    c.clone(),
                    v.iter().map(|x| x.map(f64::to_bits)).collect::<Vec<_>>(),
                )
            })
            .collect();
        out += &format!(
            "table {table} {} {columns:?} {:?}\n",
            t.rows, t.text_columns
        );
    }
    for series in db.text_series(run).unwrap() {
        out += &format!(
            "text {series} {:?}\n",
            db.text_history(run, &series).unwrap()
        );
    }
    for stream in db.log_streams(run).unwrap() {
        let bytes = db.log_bytes(run, &stream.name, 0, usize::MAX).unwrap();
        out += &format!(
            "log {} {:?}\n",
            stream.name,
            String::from_utf8(bytes).unwrap()
        );
    }
    for a in db.artifacts(run, "").unwrap() {
        let content = db.read_artifact(run, &a.path).unwrap();
        out += &format!(
            "artifact {} {} {} {:?} {} {}\n",
            a.path,
            a.size,
            a.media_type,
            a.step,
            a.hash,
            content.len()
        );
    }
    out
}

#[test]
fn a_run_travels_whole_and_bit_for_bit() {
    let from = tempfile::tempdir().unwrap();
    let run = source(from.path());
    let archive = from.path().join("run.zip");
    ok(&[
        "export-run",
        from.path().to_str().unwrap(),
        "exp/a/run 1",
        "-o",
        archive.to_str().unwrap(),
    ]);
    let to = tempfile::tempdir().unwrap();
    ok(&[
        "import-run",
        to.path().to_str().unwrap(),
        archive.to_str().unwrap(),
    ]);
    let original = everything(&Db::open_read_only(from.path()).unwrap(), run);
    let imported = Db::open_read_only(to.path()).unwrap();
    let id = imported.find_run("exp/a", "run 1").unwrap();
    assert_eq!(everything(&imported, id), original);
    assert!(
        original.contains("images/samples/step-40.png 27 image/png Some(40)"),
        "{original}"
    );

    // Again: refused, skipped, or replacing the run, never doubled.
    let out = runlog_db(&[
        "import-run",
        to.path().to_str().unwrap(),
        archive.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--existing"));
    for how in ["skip", "replace"] {
        ok(&[
            "import-run",
            to.path().to_str().unwrap(),
            archive.to_str().unwrap(),
            "--existing",
            how,
        ]);
        let db = Db::open_read_only(to.path()).unwrap();
        assert_eq!(db.runs(&runlog::RunFilter::default()).len(), 1);
        let id = db.find_run("exp/a", "run 1").unwrap();
        assert_eq!(everything(&db, id), original);
    }
}

#[test]
fn a_damaged_archive_writes_nothing() {
    let from = tempfile::tempdir().unwrap();
    source(from.path());
    let archive = from.path().join("run.zip");
    ok(&[
        "export-run",
        from.path().to_str().unwrap(),
        "0",
        "-o",
        archive.to_str().unwrap(),
    ]);
    let good = std::fs::read(&archive).unwrap();
    // A flipped byte in the weights (stored as is), and one in the middle of
    // the compressed metrics.
    let weights_at = good
        .windows(17)
        .position(|w| w == b"model/weights.bin")
        .unwrap()
        + 5000;
    for at in [weights_at, 200] {
        let mut bad = good.clone();
        bad[at] ^= 0x08;
        let damaged = from.path().join("damaged.zip");
        std::fs::write(&damaged, &bad).unwrap();
        let to = tempfile::tempdir().unwrap();
        let target = to.path().join("db");
        let out = runlog_db(&[
            "import-run",
            target.to_str().unwrap(),
            damaged.to_str().unwrap(),
        ]);
        assert!(!out.status.success(), "byte {at}");
        assert_ne!(out.status.code(), Some(101), "byte {at}: panicked");
        assert!(!target.exists(), "byte {at}: the database was created");
    }
    // An archive whose artifact differs from what run.json says.
    let mut zip =
        zip::ZipWriter::new(std::fs::File::create(from.path().join("forged.zip")).unwrap());
    let mut reader = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    for i in 0..reader.len() {
        let mut entry = reader.by_index(i).unwrap();
        let name = entry.name().to_string();
        zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        if name == "notes.md" || name == "artifacts/notes.md" {
            zip.write_all(b"# forged\n").unwrap();
        } else {
            std::io::copy(&mut entry, &mut zip).unwrap();
        }
    }
    zip.finish().unwrap();
    let to = tempfile::tempdir().unwrap();
    let target = to.path().join("db");
    let out = runlog_db(&[
        "import-run",
        target.to_str().unwrap(),
        from.path().join("forged.zip").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("artifacts/notes.md"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!target.exists());
}
