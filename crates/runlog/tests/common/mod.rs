//! Helpers shared by the engine's integration tests.

use std::fs;
use std::path::Path;

/// The names of the files in `dir`'s `segments/` folder, sorted.
pub fn segment_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
