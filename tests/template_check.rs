//! `preflight check --template` and `preflight infer` on CloudFormation templates: the checks are
//! found in the template itself (an ssm-secure reference, a key policy), judged against a local AWS
//! (moto) for the stack's execution role, and every finding says which resource it came from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod support;

use std::process::Command;

use serde_json::Value;
use support::FreshMoto;

fn seed(moto: &FreshMoto, variant: &str) -> String {
    moto.seed_template(variant)
}

fn check(moto: &FreshMoto, template: &str, role: &str) -> (i32, Value) {
    let path = support::repo().join(template);
    support::check_json(
        &moto.url,
        &["--template", path.to_str().unwrap(), "--role-arn", role, "--stack-name", "App"],
        &[],
    )
}

fn by_check<'a>(report: &'a Value, check: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["check"] == check).collect()
}

#[test]
fn a_template_whose_execution_role_cannot_decrypt_or_administer_fails_naming_each_resource() {
    let moto = FreshMoto::start();
    let role = seed(&moto, "broken");
    let (code, report) = check(&moto, "tests/templates/database.yaml", &role);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"], "4 failed, 0 unknown, 0 passed", "{report:#}");
    // RDS creates the cluster's grant and describes its key as the execution role, which may not.
    let key: Vec<(&str, &str)> = by_check(&report, "key")
        .iter()
        .map(|f| (f["access"]["action"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(key, [("kms:CreateGrant", "fail"), ("kms:DescribeKey", "fail")], "{report:#}");
    let parameter = by_check(&report, "parameter");
    assert_eq!(parameter.len(), 1);
    assert_eq!(parameter[0]["status"], "fail");
    assert_eq!(parameter[0]["principal"], role);
    assert_eq!(parameter[0]["stack"], "App");
    assert_eq!(
        parameter[0]["source"],
        serde_json::json!({"logicalId": "Database", "property": "Properties.MasterUserPassword"})
    );
    assert!(
        parameter[0]["message"].as_str().unwrap().contains("cannot read parameter `/app/db/password`"),
        "{}",
        parameter[0]
    );
    let lockout = by_check(&report, "key-policy");
    assert_eq!(lockout.len(), 1);
    assert_eq!(lockout[0]["status"], "fail");
    assert_eq!(lockout[0]["source"], serde_json::json!({"logicalId": "DataKey", "property": "Properties.KeyPolicy"}));
    assert!(lockout[0]["message"].as_str().unwrap().contains("MalformedPolicyDocumentException"), "{}", lockout[0]);
}

#[test]
fn the_fixed_template_and_role_pass_with_no_false_alarm() {
    let moto = FreshMoto::start();
    let role = seed(&moto, "fixed");
    let (code, report) = check(&moto, "tests/templates/database-fixed.yaml", &role);
    assert_eq!(report["summary"], "0 failed, 0 unknown, 4 passed", "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn infer_prints_what_would_be_checked_without_calling_aws() {
    let out = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(["infer", "--template", support::repo().join("tests/templates/database.yaml").to_str().unwrap()])
        .args(["--format", "json", "--parameter", "Env=dev"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Env=dev: the cluster's condition is false, so its password is never read.
    assert_eq!(v["spec"]["Parameters"], Value::Null, "{v:#}");
    // No account and no execution role given: the key policy is named as not checked, with why.
    let gaps = v["notChecked"].as_array().unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["source"]["logicalId"], "DataKey");
    assert!(gaps[0]["why"].as_str().unwrap().contains("execution identity"), "{v:#}");
}

#[test]
fn a_bad_template_or_parameter_exits_2_saying_what_is_wrong() {
    let dir = std::env::temp_dir().join(format!("preflight-bad-template-{}", std::process::id()));
    std::fs::write(&dir, "Resources:\n  K:\n    Properties: {}\n").unwrap();
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_preflight")).args(args).output().unwrap();
    let out = run(&["infer", "--template", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Resources.K.Type: expected a resource type"));
    let good = support::repo().join("tests/templates/database.yaml");
    let out = run(&["infer", "--template", good.to_str().unwrap(), "--parameter", "Env"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--parameter: expected KEY=VALUE, got `Env`"));
}

/// Secrets Manager references: the database password resolved by the stack's execution role, and
/// an ECS task's API token read by the task execution role the template creates.
fn check_secrets(variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    let seeded = seed(&moto, variant);
    let (role, token) = seeded.trim().split_once('\t').unwrap();
    let path = support::repo().join("tests/templates/secrets.yaml");
    let token_parameter = format!("TokenArn={token}");
    support::check_json(
        &moto.url,
        &[
            "--template",
            path.to_str().unwrap(),
            "--role-arn",
            role,
            "--stack-name",
            "App",
            "--parameter",
            &token_parameter,
        ],
        &[],
    )
}

#[test]
fn secrets_the_stack_and_a_task_read_are_judged_for_the_roles_that_read_them() {
    let (code, report) = check_secrets("secrets-broken");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"], "2 failed, 0 unknown, 0 passed", "{report:#}");
    let secrets = by_check(&report, "secret");
    let db = secrets.iter().find(|f| f["subject"] == "prod/app/db").unwrap();
    assert_eq!(db["principal"], "arn:aws:iam::123456789012:role/stack-exec");
    assert_eq!(db["source"], serde_json::json!({"logicalId": "Database", "property": "Properties.MasterUserPassword"}));
    let message = db["message"].as_str().unwrap();
    assert!(message.contains("through Secrets Manager is not allowed"), "{message}");
    assert_eq!(
        db["change"]["statement"]["Condition"]["StringEquals"]["kms:ViaService"],
        "secretsmanager.us-east-1.amazonaws.com"
    );
    let token = secrets.iter().find(|f| f["subject"].as_str().unwrap().contains(":secret:prod/app/token-")).unwrap();
    // The task execution role is one the template creates: judged from its definition.
    assert_eq!(token["principal"], "arn:aws:iam::123456789012:role/App-TaskExecutionRole");
    assert!(token["message"].as_str().unwrap().contains("kms:Decrypt"), "{token}");
}

#[test]
fn the_fixed_secrets_pass_with_no_false_alarm() {
    let (code, report) = check_secrets("secrets-fixed");
    assert_eq!(report["summary"], "0 failed, 0 unknown, 2 passed", "{report:#}");
    assert_eq!(code, 0);
}
