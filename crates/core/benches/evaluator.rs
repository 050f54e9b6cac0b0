//! Decisions per second of the KMS evaluator on realistic policies: the CDK bootstrap key policy,
//! an AWS managed key policy, a cross-account snapshot key with conditions, and grants.
//! Run: `cargo bench --bench evaluator`. Target (issue 3): at most 2 µs per decision.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use preflight_core::simulate::Scenario;
use serde_json::Value;

/// The corpus scenarios of these files: real shapes, each with conditions or several layers.
fn scenarios(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/scenarios/{file}", env!("CARGO_MANIFEST_DIR"));
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    cases.into_iter().map(|c| c["scenario"].clone()).collect()
}

fn bench(c: &mut Criterion) {
    for (label, file, index) in [
        ("cdk bootstrap key, deploy role via s3", "cdk-bootstrap-key.json", 2),
        ("aws managed key via ssm", "aws-managed-keys.json", 0),
        ("cross-account snapshot key with conditions", "stories.json", 4),
        ("root delegation + identity + boundary", "boundaries-scps-notprincipal.json", 1),
        ("grant with encryption context subset", "grants.json", 5),
    ] {
        let raw = scenarios(file)[index].clone();
        let scenario = Scenario::from_value(raw.clone()).unwrap();
        c.bench_function(&format!("decide: {label}"), |b| b.iter(|| black_box(scenario.decide())));
        c.bench_function(&format!("parse+decide: {label}"), |b| {
            b.iter(|| black_box(Scenario::from_value(black_box(raw.clone())).unwrap().decide()))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
