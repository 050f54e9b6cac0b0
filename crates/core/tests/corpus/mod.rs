//! The evaluator's scenario corpus, shared by the core's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

use std::path::PathBuf;

use serde_json::Value;

/// The core crate's folder.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The repository root (the workspace).
pub fn repo() -> PathBuf {
    crate_dir().join("../..")
}

/// The corpus folder: `crates/core/tests/scenarios`.
pub fn dir() -> PathBuf {
    crate_dir().join("tests/scenarios")
}

/// Every case of the corpus, files in name order.
pub fn cases() -> Vec<Value> {
    cases_in(&dir())
}

/// Every case of the corpus in `dir`, files in name order (the root package's tests read it too).
pub fn cases_in(dir: &std::path::Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|f| serde_json::from_str::<Vec<Value>>(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect()
}
