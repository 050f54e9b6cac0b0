//! The bootstrap check against the real bootstrap template of the current CDK CLI release (the
//! `aws-cdk` npm package pinned in `tests/bootstrap`), deployed into moto by CloudFormation through
//! the change set the CLI itself submits (`tests/bootstrap/deploy.py`). Nothing of the
//! bootstrap environment is re-created by hand, so the trust policies, key policy and bucket
//! encryption are those `cdk bootstrap` writes today, `DenyExternalId` condition included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod support;

use serde_json::{Value, json};
use support::FreshMoto;

const TRUSTED: &str = "222222222222";

/// `cdk bootstrap` into `moto` with these flags (as deploy.py takes them).
fn bootstrap(moto: &FreshMoto, flags: &[&str]) -> Value {
    support::cdk_bootstrap(&moto.url, flags)
}

fn spec_file(name: &str, spec: &Value) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("preflight-bootstrap-{name}-{}.json", std::process::id()));
    std::fs::write(&path, spec.to_string()).unwrap();
    path
}

/// Runs the bootstrap check with `TrustedAccounts: [TRUSTED]`: exit code and report.
fn check(moto: &FreshMoto, name: &str) -> (i32, Value) {
    let spec = spec_file(name, &json!({"Bootstrap": {"TrustedAccounts": [TRUSTED]}}));
    let (code, out) = support::check_cli(&moto.url, &spec, "json", support::TEST_CREDENTIALS);
    (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
}

/// Each finding as `status principal: message`, for assertion messages.
fn lines(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}: {}", f["status"], f["principal"], f["message"]))
        .collect()
}

fn trust_findings(report: &Value) -> Vec<&Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["principal"] == format!("account {TRUSTED}")).collect()
}

#[test]
fn the_current_bootstrap_with_trust_passes_with_its_external_id_condition() {
    let moto = FreshMoto::start();
    let outputs = bootstrap(&moto, &["--trust", TRUSTED]);
    assert_eq!(outputs["FileAssetKeyArn"], "AWS_MANAGED_KEY");
    let (code, report) = check(&moto, "trusted");
    // Four key uses (file publishing: GenerateDataKey and Decrypt; deploy; cfn-exec) and the two
    // trust questions (deploy role, file-publishing role), all answered yes.
    assert_eq!(report["summary"], "0 failed, 0 unknown, 6 passed", "{:#?}", lines(&report));
    assert_eq!(code, 0);
    let trust = trust_findings(&report);
    assert_eq!(trust.len(), 2);
    for f in trust {
        assert!(f["message"].as_str().unwrap().contains(&format!("trusts account {TRUSTED}")), "{f}");
    }
}

#[test]
fn the_current_bootstrap_with_its_own_customer_key_passes() {
    let moto = FreshMoto::start();
    let outputs = bootstrap(&moto, &["--trust", TRUSTED, "--kms-key-id", ""]);
    assert!(outputs["FileAssetKeyArn"].as_str().unwrap().starts_with("arn:aws:kms:us-east-1:123456789012:key/"));
    let (code, report) = check(&moto, "customer-key");
    assert_eq!(report["summary"], "0 failed, 0 unknown, 6 passed", "{:#?}", lines(&report));
    assert_eq!(code, 0);
}

#[test]
fn a_bootstrap_without_trust_fails_for_the_account_that_deploys_from_outside() {
    let moto = FreshMoto::start();
    bootstrap(&moto, &[]);
    let (code, report) = check(&moto, "untrusted");
    assert_eq!(report["summary"], "2 failed, 0 unknown, 4 passed", "{:#?}", lines(&report));
    assert_eq!(code, 1);
    for f in trust_findings(&report) {
        assert_eq!(f["status"], "fail");
        assert!(f["message"].as_str().unwrap().contains(&format!("does not trust account {TRUSTED}")), "{f}");
        assert!(f["fix"].as_str().unwrap().contains(&format!("--trust {TRUSTED}")), "{f}");
    }
}
