//! `preflight check --cdk-out` on a CDK app synthesized by aws-cdk-lib (tests/cdk-apps), judged
//! against a local AWS bootstrapped with the current CDK CLI's own template: the checks come from
//! the cloud assembly alone (the execution role, the bootstrap version and qualifier from the
//! manifest; the parameter and key policy from the template). No spec is written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use support::FreshMoto;

/// Synthesizes the app in `variant` with the aws-cdk-lib of cdk/node_modules.
fn synth(app: &str, variant: &str) -> PathBuf {
    synth_with(app, variant, &[])
}

fn synth_with(app: &str, variant: &str, extra: &[&str]) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("preflight-cdk-out-{app}-{variant}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("node")
        .arg(support::repo().join("tests/cdk-apps").join(format!("{app}.js")))
        .args([out.to_str().unwrap(), variant])
        .args(extra)
        .env("NODE_PATH", support::repo().join("cdk/node_modules"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "synthesizing {app} {variant} failed");
    out
}

fn seed(moto: &FreshMoto, variant: &str) -> String {
    moto.seed_template(variant)
}

fn check(moto: &FreshMoto, cdk_out: &std::path::Path) -> (i32, Value) {
    support::check_json(&moto.url, &["--cdk-out", cdk_out.to_str().unwrap()], &[])
}

const EXEC_ROLE: &str = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1";

#[test]
fn the_broken_app_fails_on_its_password_parameter_and_its_key_policy_with_no_spec() {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    seed(&moto, "cdk-broken");
    let (code, report) = check(&moto, &synth("database", "broken"));
    assert_eq!(code, 1, "{report:#}");
    let failed: Vec<(&str, &str, &Value)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| (f["check"].as_str().unwrap(), f["subject"].as_str().unwrap(), &f["source"]))
        .collect();
    assert_eq!(
        failed,
        [
            ("parameter", "/app/db/password", &json!({"logicalId": "Db", "property": "Properties.MasterUserPassword"})),
            // The same policy lets nobody else use the key: RDS cannot create the cluster's grant
            // or describe the key for the execution role either.
            ("key", "Database/DataKey17AFBB84", &json!({"logicalId": "Db", "property": "Properties.KmsKeyId"})),
            ("key", "Database/DataKey17AFBB84", &json!({"logicalId": "Db", "property": "Properties.KmsKeyId"})),
            (
                "key-policy",
                "KeyPolicies[0]",
                &json!({"logicalId": "DataKey17AFBB84", "property": "Properties.KeyPolicy"})
            ),
        ],
        "{report:#}"
    );
    let parameter = report["findings"].as_array().unwrap().iter().find(|f| f["check"] == "parameter").unwrap();
    assert_eq!(parameter["principal"], EXEC_ROLE, "the reader is the assembly's execution role");
    assert_eq!(parameter["stack"], "Database");
    assert_eq!(report["summary"], "4 failed, 0 unknown, 6 passed", "{report:#}");
}

#[test]
fn the_fixed_app_passes_with_no_false_alarm() {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    seed(&moto, "cdk-fixed");
    let (code, report) = check(&moto, &synth("database", "fixed"));
    // Bootstrap: the version the stack needs, the four key uses and the assets' upload; the
    // parameter; the key policy; the cluster's key for the execution role through RDS
    // (CreateGrant, DescribeKey).
    assert_eq!(report["summary"], "0 failed, 0 unknown, 10 passed", "{report:#}");
    assert_eq!(code, 0);
    let version = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("bootstrapped with version"))
        .unwrap();
    assert!(version["message"].as_str().unwrap().contains("version 33, at least the 6 the stacks need"), "{version}");
}

#[test]
fn infer_on_the_cloud_assembly_names_the_execution_role_from_the_manifest() {
    let out = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(["infer", "--cdk-out", synth("database", "fixed").to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stacks"][0]["stack"], "Database");
    assert_eq!(
        v["stacks"][0]["execution"],
        format!("{EXEC_ROLE} (the cloud assembly's cloudFormationExecutionRoleArn)")
    );
    assert_eq!(v["bootstrap"]["RequiredVersion"], 6);
    assert_eq!(v["bootstrap"]["Qualifier"], "hnb659fds");
}

/// The role CDK's AwsCustomResource function runs as: created by the stack, named by its stack and logical id.
const READER: &str = "arn:aws:iam::123456789012:role/Story2-AWS679f53fac002430cb0da5b7982bd2287ServiceRoleC1EA0FF2";

fn story2(variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    let key = seed(&moto, "story2");
    check(&moto, &synth_with("story2", variant, &[&key]))
}

#[test]
fn story_2_with_no_spec_the_custom_resources_own_role_cannot_decrypt() {
    let (code, report) = story2("broken");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"], "1 failed, 0 unknown, 6 passed", "{report:#}");
    let f = report["findings"].as_array().unwrap().iter().find(|f| f["status"] == "fail").unwrap();
    assert_eq!(f["check"], "parameter");
    assert_eq!(f["principal"], READER);
    assert_eq!(f["source"], json!({"logicalId": "GetDbPasswordA772F39B", "property": "Properties.Create"}));
    assert!(
        f["message"].as_str().unwrap().contains(&format!("no identity policy of `{READER}` allows kms:Decrypt")),
        "{f}"
    );
}

#[test]
fn story_2_fixed_with_the_key_grant_passes() {
    let (code, report) = story2("fixed");
    assert_eq!(report["summary"], "0 failed, 0 unknown, 7 passed", "{report:#}");
    assert_eq!(code, 0);
}

fn ecs(variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    let key = seed(&moto, "story2");
    check(&moto, &synth_with("ecs", variant, &[&key]))
}

#[test]
fn an_ecs_task_whose_execution_role_cannot_decrypt_its_secret_fails_with_no_spec() {
    let (code, report) = ecs("broken");
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"], "1 failed, 0 unknown, 6 passed", "{report:#}");
    let f = report["findings"].as_array().unwrap().iter().find(|f| f["status"] == "fail").unwrap();
    assert_eq!(f["check"], "parameter");
    assert!(
        f["principal"].as_str().unwrap().starts_with("arn:aws:iam::123456789012:role/Service-TaskExecutionRole"),
        "{f}"
    );
    assert_eq!(f["source"]["property"], "Properties.ContainerDefinitions[0].Secrets[0].ValueFrom");
    assert!(f["message"].as_str().unwrap().contains("allows kms:Decrypt"), "{f}");
}

#[test]
fn the_ecs_task_with_the_key_imported_passes() {
    let (code, report) = ecs("fixed");
    assert_eq!(report["summary"], "0 failed, 0 unknown, 7 passed", "{report:#}");
    assert_eq!(code, 0);
}

/// The secrets app: an ECS task's secret and a database password from Secrets Manager.
fn secrets_app(variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    let seeded = seed(&moto, "secrets-cdk");
    let (secret, key) = seeded.trim().split_once('\t').unwrap();
    check(&moto, &synth_with("secrets", variant, &[secret, key]))
}

#[test]
fn a_secret_imported_without_its_key_fails_for_the_task_execution_role_and_passes_with_it() {
    let (code, report) = secrets_app("broken");
    assert_eq!(code, 1, "{report:#}");
    let failed: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["status"] != "pass").collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    let f = failed[0];
    assert_eq!(f["check"], "secret");
    assert!(
        f["principal"].as_str().unwrap().starts_with("arn:aws:iam::123456789012:role/Api-TaskExecutionRole"),
        "{f}"
    );
    assert_eq!(f["source"]["property"], "Properties.ContainerDefinitions[0].Secrets[0].ValueFrom");
    assert!(f["message"].as_str().unwrap().contains("through Secrets Manager is not allowed"), "{f}");
    // The database password, resolved by the cfn-exec role, passes in both.
    let db = report["findings"].as_array().unwrap().iter().find(|f| f["subject"] == "prod/app/db").unwrap();
    assert_eq!((db["status"].as_str(), db["principal"].as_str()), (Some("pass"), Some(EXEC_ROLE)), "{db}");
    let (code, report) = secrets_app("fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

/// The logs app: log groups under a key the stack creates and under an existing key, seeded
/// `logs-broken` or `logs-fixed`.
fn logs_app(variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    let shared = seed(&moto, &format!("logs-{variant}"));
    check(&moto, &synth_with("logs", variant, &[&shared]))
}

#[test]
fn log_groups_whose_keys_do_not_allow_cloudwatch_logs_fail_before_the_deploy_with_the_statement_to_add() {
    let (code, report) = logs_app("broken");
    assert_eq!(code, 1, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let failed: Vec<&Value> = findings.iter().filter(|f| f["status"] != "pass").collect();
    // Two log groups, two calls each (GenerateDataKey, Decrypt), all failing: nothing unknown.
    assert_eq!(failed.len(), 4, "{report:#}");
    let mut sources: Vec<&str> = failed.iter().map(|f| f["source"]["logicalId"].as_str().unwrap()).collect();
    sources.sort_unstable();
    sources.dedup();
    assert_eq!(sources, ["Access9901B1FF", "Trail022F0CF2"], "{report:#}");
    for f in &failed {
        assert_eq!((f["status"].as_str(), f["check"].as_str()), (Some("fail"), Some("key")), "{f}");
        assert_eq!(f["principal"], "logs.us-east-1.amazonaws.com", "{f}");
        assert_eq!(f["stack"], "Audit", "{f}");
        assert_eq!(f["source"]["property"], "Properties.KmsKeyId", "{f}");
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("the service principal `logs.us-east-1.amazonaws.com` cannot call kms:"),
            "{f}"
        );
        let statement = &f["change"]["statement"];
        assert_eq!(statement["Principal"], json!({"Service": "logs.us-east-1.amazonaws.com"}), "{f}");
        let group = if f["source"]["logicalId"] == "Trail022F0CF2" { "/audit/trail" } else { "/audit/access" };
        assert_eq!(
            statement["Condition"]["StringEquals"]["kms:EncryptionContext:aws:logs:arn"],
            format!("arn:aws:logs:us-east-1:123456789012:log-group:{group}"),
            "{f}"
        );
    }
    // The stack's own key is named by its logical id, and its fix goes into the template.
    let own = failed.iter().find(|f| f["source"]["logicalId"] == "Trail022F0CF2").unwrap();
    assert!(
        own["message"]
            .as_str()
            .unwrap()
            .contains("`Audit/LogsKeyA6AB43B2` (customer managed key created by this stack)"),
        "{own}"
    );
    assert_eq!(own["change"]["key"], "arn:aws:kms:us-east-1:123456789012:key/Audit/LogsKeyA6AB43B2", "{own}");
}

#[test]
fn log_groups_whose_key_policies_allow_cloudwatch_logs_pass() {
    let (code, report) = logs_app("fixed");
    let findings = report["findings"].as_array().unwrap();
    let logs: Vec<&Value> = findings.iter().filter(|f| f["principal"] == "logs.us-east-1.amazonaws.com").collect();
    assert_eq!(logs.len(), 4, "{report:#}");
    assert!(logs.iter().all(|f| f["status"] == "pass"), "{report:#}");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

fn messaging(variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    check(&moto, &synth("messaging", variant))
}

#[test]
fn an_alarm_and_a_bucket_publishing_to_a_topic_whose_key_leaves_them_out_fail_the_other_publishers_pass() {
    let (code, report) = messaging("broken");
    assert_eq!(code, 1, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let mut publishers: Vec<(&str, &str, &str)> = findings
        .iter()
        .filter(|f| f["check"] == "key")
        .map(|f| {
            (
                f["principal"].as_str().unwrap(),
                f["source"]["logicalId"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    publishers.sort_unstable();
    publishers.dedup();
    // aws-cdk-lib grants the EventBridge and SNS service principals on the stack's own keys, and
    // nothing to CloudWatch for an alarm's topic, nor to S3 for a topic without its feature flag.
    assert_eq!(
        publishers,
        [
            ("cloudwatch.amazonaws.com", "ErrorsFA5270DE", "fail"),
            ("events.amazonaws.com", "NightlyC44EE0A7", "pass"),
            ("s3.amazonaws.com", "UploadsNotifications8DBDDF22", "fail"),
            ("sns.amazonaws.com", "JobsMessagingAlertsBCF0AE3F1EB968CA", "pass"),
        ],
        "{report:#}"
    );
    let alarm = findings.iter().find(|f| f["principal"] == "cloudwatch.amazonaws.com").unwrap();
    assert_eq!(alarm["source"]["property"], "Properties.AlarmActions[0]", "{alarm}");
    assert_eq!(alarm["change"]["statement"]["Principal"], json!({"Service": "cloudwatch.amazonaws.com"}), "{alarm}");
}

#[test]
fn the_alarm_and_the_bucket_allowed_on_the_topic_key_pass() {
    let (code, report) = messaging("fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

/// A service app (lambda, ebs, rds) against a key seeded `keys-broken` or `keys-fixed`.
fn service_app(app: &str, variant: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    let key = seed(&moto, &format!("keys-{variant}"));
    check(&moto, &synth_with(app, variant, &[&key]))
}

/// The key findings as (principal, source logical id, action, status), sorted.
fn key_findings(report: &Value) -> Vec<(String, String, String, String)> {
    let mut out: Vec<(String, String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "key")
        .map(|f| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (s(&f["principal"]), s(&f["source"]["logicalId"]), s(&f["access"]["action"]), s(&f["status"]))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_function_whose_environment_key_leaves_out_its_creator_fails_and_passes_once_the_key_delegates_to_iam() {
    let (code, report) = service_app("lambda", "broken");
    assert_eq!(code, 1, "{report:#}");
    let found = key_findings(&report);
    let want: Vec<(String, String, String, String)> = ["kms:CreateGrant", "kms:Encrypt"]
        .iter()
        .map(|a| (EXEC_ROLE.to_owned(), "Worker11F36D0F".to_owned(), (*a).to_owned(), "fail".to_owned()))
        .collect();
    assert_eq!(found, want, "{report:#}");
    let (code, report) = service_app("lambda", "fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn volumes_fail_for_their_creator_and_the_auto_scaling_service_linked_role_and_pass_when_allowed() {
    const SLR: &str =
        "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";
    let (code, report) = service_app("ebs", "broken");
    assert_eq!(code, 1, "{report:#}");
    let found = key_findings(&report);
    let actions = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext"];
    let mut want: Vec<(String, String, String, String)> = Vec::new();
    for a in actions {
        want.push((SLR.to_owned(), "Template576A9730".to_owned(), a.to_owned(), "fail".to_owned()));
        want.push((EXEC_ROLE.to_owned(), "Data666C94C7".to_owned(), a.to_owned(), "fail".to_owned()));
    }
    want.sort();
    assert_eq!(found, want, "{report:#}");
    let grant = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["principal"] == SLR && f["access"]["action"] == "kms:CreateGrant")
        .unwrap();
    assert_eq!(grant["change"]["statement"]["Condition"]["Bool"]["kms:GrantIsForAWSResource"], "true", "{grant}");
    let (code, report) = service_app("ebs", "fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn a_database_whose_key_leaves_out_its_creator_fails_for_storage_and_password_and_passes_once_allowed() {
    let (code, report) = service_app("rds", "broken");
    assert_eq!(code, 1, "{report:#}");
    let found = key_findings(&report);
    let mut actions: Vec<&str> =
        vec!["kms:CreateGrant", "kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"];
    actions.sort_unstable();
    let want: Vec<(String, String, String, String)> = actions
        .iter()
        .map(|a| (EXEC_ROLE.to_owned(), "Orders".to_owned(), (*a).to_owned(), "fail".to_owned()))
        .collect();
    assert_eq!(found, want, "{report:#}");
    let (code, report) = service_app("rds", "fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

/// Story 1: the environment bootstrapped with a self-made key (seeded `keys-broken`: it names only
/// its administrator; `keys-fixed`: it delegates to IAM), the app publishing its function's code.
fn story1_with_key(seeded: &str) -> (i32, Value) {
    let moto = FreshMoto::start();
    let key_arn = seed(&moto, seeded);
    let key_id = key_arn.rsplit('/').next().unwrap().to_owned();
    support::cdk_bootstrap(&moto.url, &["--kms-key-id", &key_id]);
    check(&moto, &synth("story1", "default"))
}

#[test]
fn story_1_a_self_made_bootstrap_key_the_roles_cannot_use_fails_each_role_with_the_statement() {
    let (code, report) = story1_with_key("keys-broken");
    assert_eq!(code, 1, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let mut failed: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f["status"] == "fail")
        .map(|f| {
            let role = f["principal"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
            (role, f["access"]["action"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    failed.sort();
    let role = |kind: &str| format!("cdk-hnb659fds-{kind}-123456789012-us-east-1");
    assert_eq!(
        failed,
        [
            (role("cfn-exec-role"), "kms:Decrypt".to_owned()),
            (role("deploy-role"), "kms:Decrypt".to_owned()),
            (role("file-publishing-role"), "kms:Decrypt".to_owned()),
            (role("file-publishing-role"), "kms:GenerateDataKey".to_owned()),
        ],
        "{report:#}"
    );
    assert!(
        findings
            .iter()
            .filter(|f| f["status"] == "fail")
            .all(|f| f["change"]["statement"]["Principal"]["AWS"].is_string()),
        "{report:#}"
    );
    // The assets themselves go to the bootstrap bucket, and the publishing role may put them.
    let upload = findings.iter().find(|f| f["found"]["kind"] == "assets-upload-allowed").unwrap();
    assert!(upload["message"].as_str().unwrap().contains("may upload the 2 file asset(s)"), "{upload}");
}

#[test]
fn story_1_fixed_a_self_made_bootstrap_key_that_delegates_to_iam_passes() {
    let (code, report) = story1_with_key("keys-fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn assets_published_to_a_bucket_the_environment_was_not_bootstrapped_with_fail_until_the_synthesizer_names_it() {
    const BUCKET: &str = "shop-assets-123456789012";
    let moto = FreshMoto::start();
    let outputs = support::cdk_bootstrap(&moto.url, &["--bucket-name", BUCKET]);
    assert_eq!(outputs["BucketName"], BUCKET);
    let (code, report) = check(&moto, &synth("story1", "default"));
    assert_eq!(code, 1, "{report:#}");
    let failed: Vec<&Value> = report["findings"].as_array().unwrap().iter().filter(|f| f["status"] != "pass").collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    assert_eq!(failed[0]["found"]["kind"], "asset-bucket-not-bootstrapped", "{report:#}");
    let message = failed[0]["message"].as_str().unwrap();
    assert!(message.contains("is published to bucket `cdk-hnb659fds-assets-123456789012-us-east-1`"), "{message}");
    assert!(message.contains(&format!("is `{BUCKET}`")), "{message}");
    assert!(failed[0]["fix"].as_str().unwrap().contains(&format!("fileAssetsBucketName: '{BUCKET}'")), "{}", failed[0]);
    let (code, report) = check(&moto, &synth_with("story1", "custom-bucket", &[BUCKET]));
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn roles_writing_and_reading_an_sse_kms_bucket_fail_when_its_key_leaves_them_out_and_pass_when_it_delegates() {
    let (code, report) = service_app("site", "broken");
    assert_eq!(code, 1, "{report:#}");
    let found: Vec<(String, String, String)> = key_findings(&report)
        .into_iter()
        .map(|(principal, source, action, status)| {
            let role = principal.rsplit('/').next().unwrap().split('-').nth(1).unwrap_or_default().to_owned();
            let _ = source;
            (role, action, status)
        })
        .collect();
    // The BucketDeployment's handler writes (GenerateDataKey, and Decrypt for multipart uploads);
    // the function reads (Decrypt): all through S3, under the bucket's key.
    let mut want = vec![
        (
            "CustomCDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756CServiceRole89A01265".to_owned(),
            "kms:Decrypt".to_owned(),
            "fail".to_owned(),
        ),
        (
            "CustomCDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756CServiceRole89A01265".to_owned(),
            "kms:GenerateDataKey".to_owned(),
            "fail".to_owned(),
        ),
        ("RenderServiceRole79C6253E".to_owned(), "kms:Decrypt".to_owned(), "fail".to_owned()),
    ];
    want.sort();
    assert_eq!(found, want, "{report:#}");
    let via: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "key")
        .map(|f| &f["access"]["viaService"])
        .collect();
    assert!(via.iter().all(|v| *v == "s3.us-east-1.amazonaws.com"), "{report:#}");
    // The handler also reads the CDK assets bucket: it is judged as a bootstrap reader.
    let reader = report["findings"].as_array().unwrap().iter().find(|f| {
        f["check"] == "bootstrap" && f["principal"].as_str().is_some_and(|p| p.contains("CustomCDKBucketDeployment"))
    });
    assert!(reader.is_some(), "{report:#}");
    let (code, report) = service_app("site", "fixed");
    assert!(report["summary"].as_str().unwrap().starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(code, 0);
}
