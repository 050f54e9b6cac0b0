//! Every input is bounded: `scripts/bounds.py` feeds the real `preflight` binary hostile files
//! (`/dev/zero` as a spec, a template, a cloud assembly manifest and a scenario file; nesting
//! 100,000 deep; YAML aliases a billion wide; floods of invalid values; a 1 MiB key given twice)
//! and reports each run's exit status, stderr size and peak memory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use serde_json::Value;

#[test]
fn hostile_inputs_get_a_short_error_within_bounded_memory() {
    let out = std::process::Command::new(support::python())
        .arg(support::repo().join("scripts/bounds.py"))
        .arg("--json")
        .arg(env!("CARGO_BIN_EXE_preflight"))
        .output()
        .unwrap();
    let results: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 17, "{results:#?}");
    for r in results {
        let input = r["input"].as_str().unwrap();
        assert_eq!(r["broken"], Value::Array(vec![]), "{input}: {r}");
        assert!(r["stderr_bytes"].as_u64().unwrap() < 64 * 1024, "{input}: {r}");
        assert!(r["rss_mib"].as_f64().unwrap() < 300.0, "{input}: {r}");
        let valid = input.starts_with("simulate 16 MiB") || input.starts_with("template 5k");
        if valid {
            assert_eq!(r["exit"], 0, "{input} is valid: {r}");
        } else {
            assert_eq!(r["exit"], 2, "{input}: {r}");
            let first = r["first_line"].as_str().unwrap();
            assert!(first.starts_with("error: ") || input.starts_with("simulate 20k"), "{input}: {r}");
        }
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
