//! Writing one table of an export: a file per experiment, written under a
//! `.tmp` name and given its real name only when the whole export has
//! succeeded, so that readers never see half an export.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::layout::{LAYOUT_VERSION, TableKind, partition};
use super::rows::Rows;

/// Rows gathered before they go to the Parquet writer as one batch.
const BATCH_ROWS: usize = 64 * 1024;

/// Rows in a row group: about 4-8 MiB of points, small enough for a
/// reader to skip by its statistics, large enough to compress well.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The suffix of a file not yet part of an export.
pub const UNFINISHED: &str = ".parquet.tmp";

/// The file being written for one experiment.
struct OpenFile {
    writer: ArrowWriter<HashedFile>,
    unfinished: PathBuf,
}

/// A file that hashes what is written to it.
struct HashedFile {
    file: File,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl Write for HashedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A file written and closed, not yet under its real name.
pub struct WrittenFile {
    /// Where it is.
    pub unfinished: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its BLAKE3 hash, in hex.
    pub blake3: String,
}

/// Writes the rows of one table into `OUT/<table>/experiment=<E>/`.
pub struct TableWriter<R: Rows> {
    out: PathBuf,
    export: String,
    schema: SchemaRef,
    properties: WriterProperties,
    /// The rows not yet handed to the file.
    pub rows: R,
    /// The experiment of the rows gathered now.
    experiment: String,
    /// Its file, opened when its first batch is written.
    file: Option<OpenFile>,
    /// Files written and closed, under their unfinished names.
    done: Vec<WrittenFile>,
    /// Rows written in all.
    written: u64,
}

impl<R: Rows + Default> TableWriter<R> {
    /// A writer of files named after `export`.
    pub fn new(out: &Path, export: &str) -> TableWriter<R> {
        let schema = R::KIND.schema();
        TableWriter {
            out: out.to_path_buf(),
            export: export.to_string(),
            properties: properties(R::KIND, &schema),
            schema,
            rows: R::default(),
            experiment: String::new(),
            file: None,
            done: Vec::new(),
            written: 0,
        }
    }

    /// Makes the rows gathered next belong to `experiment`: a change of
    /// experiment writes out the rows of the one before and closes its
    /// file.
    pub fn experiment(&mut self, experiment: &str) -> Result<(), String> {
        if self.experiment != experiment {
            self.close_file()?;
            self.experiment = experiment.to_string();
        }
        Ok(())
    }

    /// Hands the gathered rows to the file once a batch is full.
    pub fn maybe_flush(&mut self) -> Result<(), String> {
        if self.rows.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(self.open()?),
        };
        let batch = self
            .rows
            .take_batch(&self.schema)
            .map_err(|e| format!("{}: {e}", file.unfinished.display()))?;
        self.written += batch.num_rows() as u64;
        file.writer
            .write(&batch)
            .map_err(|e| format!("cannot write {}: {e}", file.unfinished.display()))
    }

    /// Creates the file of the current experiment.
    fn open(&self) -> Result<OpenFile, String> {
        let folder = partition(&self.out, R::KIND, &self.experiment)?;
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
        let unfinished = folder.join(format!("part-{}{UNFINISHED}", self.export));
        let file = File::create(&unfinished)
            .map_err(|e| format!("cannot create {}: {e}", unfinished.display()))?;
        let file = HashedFile {
            file,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        };
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.properties.clone()))
            .map_err(|e| format!("{}: {e}", unfinished.display()))?;
        Ok(OpenFile { writer, unfinished })
    }

    fn close_file(&mut self) -> Result<(), String> {
        self.flush()?;
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let written = file
            .writer
            .into_inner()
            .map_err(|e| e.to_string())
            .and_then(|f| f.file.sync_all().map(|()| f).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot write {}: {e}", file.unfinished.display()))?;
        self.done.push(WrittenFile {
            unfinished: file.unfinished,
            bytes: written.bytes,
            blake3: written.hasher.finalize().to_hex().to_string(),
        });
        Ok(())
    }

    /// Closes the last file, adds the files written (under unfinished
    /// names) to `files`, and says how many rows they hold.
    pub fn finish(mut self, files: &mut Vec<WrittenFile>) -> Result<u64, String> {
        self.close_file()?;
        files.append(&mut self.done);
        Ok(self.written)
    }
}

/// How a table's columns are encoded: zstd everywhere; integers that grow
/// (steps, times, rows) as deltas; floats with their bytes split into
/// streams, which zstd compresses far better than whole values; names by
/// dictionary (the default). The sort order is recorded for readers.
fn properties(kind: TableKind, schema: &SchemaRef) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "runlog.layout".to_string(),
            LAYOUT_VERSION.to_string(),
        )]))
        .set_sorting_columns(Some(
            kind.sort_columns()
                .iter()
                .filter_map(|name| schema.index_of(name).ok())
                .map(|i| SortingColumn {
                    column_idx: i as i32,
                    descending: false,
                    nulls_first: false,
                })
                .collect(),
        ));
    for name in ["step", "timestamp_ms", "row", "start_ms", "exported_ms"] {
        if schema.index_of(name).is_ok() {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(name), false)
                .set_column_encoding(ColumnPath::from(name), Encoding::DELTA_BINARY_PACKED);
        }
    }
    if kind == TableKind::Points {
        builder = builder
            .set_column_dictionary_enabled(ColumnPath::from("value"), false)
            .set_column_encoding(ColumnPath::from("value"), Encoding::BYTE_STREAM_SPLIT);
    }
    builder.build()
}
