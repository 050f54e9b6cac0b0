//! Parse + evaluate on arbitrary input (see `common.rs`). Run: `scripts/fuzz.sh [SECONDS]`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::parse_and_evaluate(data));
