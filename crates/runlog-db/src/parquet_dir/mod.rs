//! The Parquet export folder: `export --format parquet` writes it and
//! `import --format parquet` reads it back exactly. It is the scale-out
//! path: DuckDB, Polars, Spark and Trino read it natively
//! (`docs/parquet.md`).

mod export;
mod import;
mod layout;
mod rows;
mod writer;

pub use export::{Selection, export};
pub use import::import;
