//! Twenty stacks of one CDK cloud assembly, 2,000 resources sharing 50 parameters, 10 secrets and
//! 6 keys (`scripts/bench_stacks.py`, which also prints the figures for `scripts/bench.sh`):
//! checked against a local AWS through a recording proxy, every identical request is made once,
//! and a correct account passes with no false alarm. Two stacks' roles of one logical id (CDK gives
//! a construct the same id in every stack) are two roles, and each finding names its own stack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use serde_json::Value;

#[test]
fn twenty_stacks_read_each_fact_once_and_a_correct_account_passes() {
    let out = std::process::Command::new(support::python())
        .arg(support::repo().join("scripts/bench_stacks.py"))
        .args(["--json", "--runs", "1", env!("CARGO_BIN_EXE_preflight")])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!((r["stacks"].as_u64(), r["resources"].as_u64()), (Some(20), Some(2000)));
    let check = &r["check"];
    assert_eq!(check["summary"], "0 failed, 0 unknown, 206 passed", "{check:#}");
    assert_eq!(check["repeated_requests"], Value::Array(vec![]), "no identical AWS request twice: {check:#}");
    assert_eq!(check["distinct_facts_read"], check["facts_needed"], "{check:#}");
    assert_eq!(check["calls_by_operation"]["sts:GetCallerIdentity"], 1, "{check:#}");
    // One finding per item, each naming its own stack and a reference its own reader makes.
    let attribution = &r["attribution"];
    assert_eq!(attribution["findings"], attribution["distinct_findings"], "{attribution:#}");
    assert_eq!(attribution["stacks_named_by_read_findings"], 20, "{attribution:#}");
    assert_eq!(attribution["read_findings_sourced_from_another_readers_reference"], 0, "{attribution:#}");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
