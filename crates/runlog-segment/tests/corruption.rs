//! Every truncation and every single-bit flip of a small segment: opening or
//! reading fails with an error naming the file and offset (for a flip inside
//! a chunk, an error on that chunk only), never a panic, never a wrong value.

use runlog_segment::{
    Columns, Corruption, Error, FORMAT_VERSION, SegmentLookup, SegmentOptions, SegmentReader,
    SegmentWriter,
};

/// A small segment of three series over several chunks, its bytes, and the
/// points of each series.
fn small_segment() -> (Vec<u8>, Vec<(u64, Columns)>) {
    let mut data = Vec::new();
    for (id, n) in [(3u64, 40usize), (7, 1), (11, 25)] {
        let mut points = Columns::default();
        for i in 0..n as i64 {
            let value = if i % 7 == 3 {
                f64::NAN
            } else {
                (i as f64).sqrt() * id as f64
            };
            points.push(i * 3 - 10, 1_700_000_000_000 + 100 * i + i % 5, value);
        }
        data.push((id, points));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.seg");
    let options = SegmentOptions {
        chunk_points: 16,
        ..SegmentOptions::default()
    };
    let mut writer = SegmentWriter::create(&path, options).unwrap();
    for (id, points) in &data {
        writer
            .append(*id, &points.steps, &points.timestamps, &points.values)
            .unwrap();
    }
    writer.set_metadata(b"owner's bytes".to_vec()).unwrap();
    writer.finish().unwrap();
    (std::fs::read(&path).unwrap(), data)
}

const NAME: &str = "damaged.seg";

/// Opens `bytes` and reads every series; returns the first error, after
/// checking that whatever was read is exactly what was written.
fn read_everything(bytes: Vec<u8>, data: &[(u64, Columns)]) -> Result<(), Error> {
    let reader = SegmentReader::from_bytes(NAME, bytes)?;
    let mut first_error = None;
    for (id, points) in data {
        match reader.read_series(*id) {
            Ok(Some(read)) => assert_eq!(&read, points, "series {id} read wrong values"),
            Ok(None) => panic!("series {id} vanished without an error"),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn assert_names_the_file(error: &Error) {
    match error {
        Error::Corrupt { file, .. } | Error::UnknownCodec { file, .. } => {
            assert_eq!(file.to_str(), Some(NAME));
        }
        Error::UnsupportedVersion { .. } => panic!("a damaged file is not a newer version"),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn every_truncation_is_refused() {
    let (bytes, data) = small_segment();
    read_everything(bytes.clone(), &data).expect("the intact file reads");
    for cut in 0..bytes.len() {
        let error = read_everything(bytes[..cut].to_vec(), &data)
            .expect_err("a truncated segment never reads as whole");
        assert_names_the_file(&error);
        // Past the header, a cut is named as one, not as another file.
        if let Error::Corrupt { kind, .. } = &error
            && cut >= 64
        {
            assert!(
                matches!(kind, Corruption::MissingTrailer { len } if *len == cut as u64),
                "cut at {cut}: {kind}"
            );
        }
    }
}

#[test]
fn every_bit_flip_is_detected_where_it_is() {
    let (bytes, data) = small_segment();
    let intact = SegmentReader::from_bytes(NAME, bytes.clone()).unwrap();
    let chunks: Vec<_> = intact.all_chunks().to_vec();
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let at = (bit / 8) as u64;
        let error = read_everything(damaged.clone(), &data)
            .expect_err("every byte is covered by a checksum");
        assert_names_the_file(&error);
        if let Some(chunk) = chunks
            .iter()
            .find(|c| (c.offset..c.offset + u64::from(c.len)).contains(&at))
        {
            // The footer is intact: the file opens, and only the damaged
            // chunk fails, at its own offset.
            let reader = SegmentReader::from_bytes(NAME, damaged).expect("footer intact");
            match reader.read_chunk(chunk, &mut Columns::default()) {
                Err(Error::Corrupt {
                    offset,
                    kind: Corruption::ChecksumMismatch { .. },
                    ..
                }) => assert_eq!(offset, chunk.offset, "bit {bit}"),
                other => panic!("bit {bit}: {other:?}"),
            }
            for other in chunks.iter().filter(|c| c.offset != chunk.offset) {
                reader
                    .read_chunk(other, &mut Columns::default())
                    .unwrap_or_else(|e| panic!("bit {bit}: intact chunk failed: {e}"));
            }
        }
    }
}

#[test]
fn an_intact_header_of_a_newer_version_is_refused_as_such() {
    let (mut bytes, _) = small_segment();
    let newer = FORMAT_VERSION + 1;
    bytes[8..12].copy_from_slice(&newer.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..12]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    match SegmentReader::from_bytes(NAME, bytes) {
        Err(Error::UnsupportedVersion {
            found,
            oldest: 1,
            newest: FORMAT_VERSION,
            ..
        }) if found == newer => {}
        other => panic!("{other:?}"),
    }
}

/// Recomputes every checksum over the footer of `bytes` (the footer's
/// CRC, its block CRCs, the block table's and the trailer's), as a writer
/// with a bug would, so that only the structure checks are left to object.
fn reseal_footer(bytes: &mut [u8]) {
    let trailer_at = bytes.len() - 32;
    let field = |bytes: &[u8], at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let footer_offset = field(bytes, trailer_at) as usize;
    let footer_end = footer_offset + field(bytes, trailer_at + 8) as usize;
    let footer_crc = crc32fast::hash(&bytes[footer_offset..footer_end]);
    bytes[trailer_at + 16..trailer_at + 20].copy_from_slice(&footer_crc.to_le_bytes());
    let block_len = u32::from_le_bytes(bytes[footer_end..footer_end + 4].try_into().unwrap());
    let blocks: Vec<u32> = bytes[footer_offset..footer_end]
        .chunks(block_len as usize)
        .map(crc32fast::hash)
        .collect();
    for (i, crc) in blocks.iter().enumerate() {
        let at = footer_end + 8 + 4 * i;
        bytes[at..at + 4].copy_from_slice(&crc.to_le_bytes());
    }
    let table_crc = crc32fast::hash(&bytes[footer_end..trailer_at - 4]);
    bytes[trailer_at - 4..trailer_at].copy_from_slice(&table_crc.to_le_bytes());
    let trailer_crc = crc32fast::hash(&bytes[trailer_at..trailer_at + 20]);
    bytes[trailer_at + 20..trailer_at + 24].copy_from_slice(&trailer_crc.to_le_bytes());
}

/// Where the footer of `bytes` ends.
fn footer_end(bytes: &[u8]) -> usize {
    let trailer_at = bytes.len() - 32;
    let field = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    field(trailer_at) + field(trailer_at + 8)
}

#[test]
fn a_metadata_length_past_the_footer_is_refused_where_it_is() {
    let (mut bytes, _) = small_segment();
    // The length field is the footer's last 4 bytes before the metadata.
    let length_at = footer_end(&bytes) - b"owner's bytes".len() - 4;
    bytes[length_at..length_at + 4].copy_from_slice(&1000u32.to_le_bytes());
    reseal_footer(&mut bytes);
    match SegmentReader::from_bytes(NAME, bytes.clone()) {
        Err(Error::Corrupt {
            offset,
            kind: Corruption::Structure(what),
            ..
        }) => {
            assert_eq!(offset, length_at as u64);
            assert_eq!(what, "metadata runs past the footer");
        }
        other => panic!("{other:?}"),
    }
    let lookup = SegmentLookup::from_bytes(NAME, bytes).unwrap().unwrap();
    match lookup.metadata() {
        Err(Error::Corrupt {
            offset,
            kind: Corruption::Structure(_),
            ..
        }) => assert_eq!(offset, length_at as u64),
        other => panic!("{other:?}"),
    }
}

/// Looks up every series of `data` (and the metadata) in `bytes` one at a
/// time, as [`SegmentLookup`] reads them; the first error, after checking
/// that whatever was read is exactly what was written.
fn look_up_everything(bytes: Vec<u8>, data: &[(u64, Columns)]) -> Result<(), Error> {
    let lookup = SegmentLookup::from_bytes(NAME, bytes)?.expect("a version 3 file");
    for (id, points) in data {
        match lookup.read_series(*id)? {
            Some(read) => assert_eq!(&read, points, "series {id} read wrong values"),
            None => panic!("series {id} vanished without an error"),
        }
        let stats = lookup.stats(*id)?.expect("stats of a series it holds");
        assert_eq!(stats.count as usize, points.len(), "series {id}");
        assert_eq!(
            stats.last_value.to_bits(),
            points.values.last().unwrap().to_bits()
        );
    }
    assert!(lookup.read_series(8)?.is_none(), "no series 8");
    assert_eq!(lookup.metadata()?, b"owner's bytes");
    Ok(())
}

#[test]
fn lookups_in_a_damaged_file_fail_by_name_or_read_exactly_what_was_written() {
    let (bytes, data) = small_segment();
    look_up_everything(bytes.clone(), &data).expect("the intact file reads");
    let mut detected = 0;
    for bit in 0..bytes.len() * 8 {
        let mut damaged = bytes.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        if let Err(error) = look_up_everything(damaged, &data) {
            assert_names_the_file(&error);
            detected += 1;
        }
    }
    // Lookups of every series read every footer block and chunk.
    assert!(
        detected > bytes.len() * 7,
        "{detected} of {} bits",
        bytes.len() * 8
    );
    for cut in 0..bytes.len() {
        let error = look_up_everything(bytes[..cut].to_vec(), &data)
            .expect_err("a truncated segment never reads as whole");
        assert_names_the_file(&error);
    }
}
