//! Segment size and speed report on the standard workload
//! (`shared/workload.md`): bytes per point for each metric and the whole
//! run, the codec chosen per column against zstd (level 19) and pco alone on
//! each raw column, Gorilla against pco on values, chunk-size and pco-level
//! sweeps, and single-thread encode/decode speed of a 1M-point series.
//!
//! `cargo run --release -p runlog-benches --bin segment-report`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use runlog_segment::codec::{FloatCodec, encode_floats_as};
use runlog_segment::{SegmentOptions, SegmentReader, SegmentWriter, SeriesId};
use runlog_workload::{Run, Series};

fn write_segment(path: &Path, series: &[Series], options: SegmentOptions) -> SegmentReader {
    let mut writer = SegmentWriter::create(path, options).expect("create");
    for (id, s) in series.iter().enumerate() {
        writer
            .append(id as SeriesId, &s.steps, &s.timestamps, &s.values)
            .expect("append");
    }
    writer.finish().expect("finish");
    SegmentReader::open(path).expect("open")
}

fn raw_i64(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn raw_f64(values: &[f64]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .collect()
}

fn zstd19(bytes: &[u8]) -> usize {
    zstd::bulk::compress(bytes, 19).expect("zstd").len()
}

fn pco_alone<T: pco::data_types::Number>(values: &[T]) -> usize {
    pco::standalone::simple_compress(values, &pco::ChunkConfig::default())
        .expect("pco")
        .len()
}

/// Bytes of each column of series `id`, and its share of the index.
fn series_bytes(reader: &SegmentReader, id: SeriesId) -> (usize, usize, usize, usize) {
    let (mut steps, mut timestamps, mut values) = (0, 0, 0);
    let chunks = reader.chunks(id);
    for c in chunks {
        steps += c.step_len as usize;
        timestamps += c.timestamp_len as usize;
        values += (c.len - c.step_len - c.timestamp_len) as usize;
    }
    let index = 16 + 112 * chunks.len();
    (steps, timestamps, values, index)
}

fn main() {
    let run = Run::standard();
    let series = run.series();
    let points: usize = series.iter().map(Series::len).sum();
    let dir = tempfile::tempdir().expect("temp dir");
    let reader = write_segment(
        &dir.path().join("run.seg"),
        &series,
        SegmentOptions::default(),
    );
    let file_len = reader.file_len() as usize;
    let fixed = file_len
        - (0..series.len() as SeriesId)
            .map(|id| {
                let (s, t, v, i) = series_bytes(&reader, id);
                s + t + v + i
            })
            .sum::<usize>();

    println!(
        "# Segment report: standard run, N = {}, {} points\n",
        run.steps, points
    );
    println!(
        "Defaults: {} points per chunk, pco level {}.\n",
        SegmentOptions::default().chunk_points,
        SegmentOptions::default().pco_level
    );
    println!("## Bytes per point (step + timestamp + value + index share)\n");
    println!("| metric | points | step | timestamp | value | index | total | value codecs |");
    println!("|---|---|---|---|---|---|---|---|");
    for (id, s) in series.iter().enumerate() {
        let (st, ts, v, ix) = series_bytes(&reader, id as SeriesId);
        let n = s.len() as f64;
        let fixed_share = fixed as f64 / series.len() as f64;
        let mut codecs = BTreeMap::new();
        for c in reader.chunks(id as SeriesId) {
            let tag = reader.chunk_bytes(c)[(c.step_len + c.timestamp_len) as usize];
            *codecs.entry(tag).or_insert(0) += 1;
        }
        let codecs: Vec<String> = codecs
            .iter()
            .map(|(t, n)| format!("{t:#04x}x{n}"))
            .collect();
        println!(
            "| `{}` | {} | {:.3} | {:.3} | {:.3} | {:.3} | **{:.3}** | {} |",
            s.name,
            s.len(),
            st as f64 / n,
            ts as f64 / n,
            v as f64 / n,
            (ix as f64 + fixed_share) / n,
            (st + ts + v + ix) as f64 / n + fixed_share / n,
            codecs.join(" ")
        );
    }
    println!(
        "| **whole run** | {points} | | | | | **{:.3}** | file {} bytes |\n",
        file_len as f64 / points as f64,
        file_len
    );

    println!(
        "## Chosen codecs against zstd -19 and pco alone on each raw column (bytes per point)\n"
    );
    println!("| metric | column | runlog | zstd-19 | pco alone | runlog / best |");
    println!("|---|---|---|---|---|---|");
    for (id, s) in series.iter().enumerate() {
        let (st, ts, v, _) = series_bytes(&reader, id as SeriesId);
        let n = s.len() as f64;
        let rows = [
            ("step", st, zstd19(&raw_i64(&s.steps)), pco_alone(&s.steps)),
            (
                "timestamp",
                ts,
                zstd19(&raw_i64(&s.timestamps)),
                pco_alone(&s.timestamps),
            ),
            (
                "value",
                v,
                zstd19(&raw_f64(&s.values)),
                pco_alone(&s.values),
            ),
        ];
        for (column, ours, z, p) in rows {
            println!(
                "| `{}` | {column} | {:.3} | {:.3} | {:.3} | {:.2} |",
                s.name,
                ours as f64 / n,
                z as f64 / n,
                p as f64 / n,
                ours as f64 / z.min(p) as f64
            );
        }
        let ours: usize = rows.iter().map(|r| r.1).sum();
        let best: usize = rows.iter().map(|r| r.2.min(r.3)).sum();
        println!(
            "| `{}` | **all columns** | **{:.3}** | | **{:.3}** (best of each) | **{:.2}** |",
            s.name,
            ours as f64 / n,
            best as f64 / n,
            ours as f64 / best as f64
        );
    }

    println!("\n## Values: Gorilla XOR against pco (whole column, bytes per point)\n");
    println!("| metric | Gorilla | pco (f64) | pco (f32 when exact) |");
    println!("|---|---|---|---|");
    for s in &series {
        let size = |codec| {
            let mut out = Vec::new();
            encode_floats_as(codec, &s.values, 8, &mut out)
                .then_some(out.len() as f64 / s.len() as f64)
        };
        let show = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
        println!(
            "| `{}` | {} | {} | {} |",
            s.name,
            show(size(FloatCodec::Gorilla)),
            show(size(FloatCodec::PcoF64)),
            show(size(FloatCodec::PcoF32))
        );
    }

    println!("\n## Chunk size and pco level (whole run, bytes per point; encode time)\n");
    println!("| points per chunk | pco level | bytes/point | encode M points/s |");
    println!("|---|---|---|---|");
    for chunk_points in [4096, 8192, 16_384, 32_768, 65_536] {
        for pco_level in [4, 6, 8] {
            let options = SegmentOptions {
                chunk_points,
                pco_level,
                ..SegmentOptions::default()
            };
            let start = Instant::now();
            let r = write_segment(&dir.path().join("sweep.seg"), &series, options);
            let elapsed = start.elapsed();
            println!(
                "| {chunk_points} | {pco_level} | {:.3} | {:.1} |",
                r.file_len() as f64 / points as f64,
                points as f64 / elapsed.as_secs_f64() / 1e6
            );
        }
    }

    let big = Run {
        steps: 1_000_000,
        seed: 1,
    }
    .series();
    println!("\n## Speed, one thread, 1M-point series (best of 5)\n");
    println!("| metric | encode M points/s | decode M points/s |");
    println!("|---|---|---|");
    for s in big
        .iter()
        .filter(|s| matches!(s.name, "loss" | "lr" | "gpu_util" | "epoch"))
    {
        let path = dir.path().join(format!("{}.seg", s.name));
        let mut encode = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            write_segment(&path, std::slice::from_ref(s), SegmentOptions::default());
            encode = encode.min(start.elapsed());
        }
        let reader = SegmentReader::open(&path).expect("open");
        let mut decode = Duration::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            black_box(reader.read_series(0).expect("read"));
            decode = decode.min(start.elapsed());
        }
        let n = s.len() as f64;
        println!(
            "| `{}` | {:.1} | {:.1} |",
            s.name,
            n / encode.as_secs_f64() / 1e6,
            n / decode.as_secs_f64() / 1e6
        );
    }
}
