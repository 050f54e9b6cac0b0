//! The stories of docs/stories.md against a local AWS (moto through the real SDK clients): each broken
//! account fails with the expected sentence; each fixed account passes with no false alarm.
//! Each test seeds a moto of its own (`tests/support/seed.py`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use serde_json::{Value, json};
use support::FreshMoto;

fn check(moto: &FreshMoto, spec: &std::path::Path, format: &str) -> (i32, String) {
    support::check_cli(&moto.url, spec, format, support::TEST_CREDENTIALS)
}

fn check_as(moto: &FreshMoto, spec: &std::path::Path, format: &str, credentials: &[(&str, &str)]) -> (i32, String) {
    support::check_cli(&moto.url, spec, format, credentials)
}

fn findings(report: &Value) -> Vec<Value> {
    report["findings"].as_array().unwrap().clone()
}

/// The one finding for `subject` (and `principal`, and words of its message).
fn find<'a>(all: &'a [Value], subject: &str, principal: Option<&str>, words: &str) -> &'a Value {
    all.iter()
        .find(|f| {
            f["subject"] == subject
                && principal.is_none_or(|p| f["principal"] == p)
                && f["message"].as_str().unwrap().contains(words)
        })
        .unwrap_or_else(|| panic!("no finding for {subject} {principal:?} saying {words:?} in {all:#?}"))
}

/// The stories' account `variant` seeded into a moto of its own (with its DNS hierarchy, if any)
/// and checked: the spec, the JSON report's findings and the report, once the exit code is `code`.
struct Run {
    spec: std::path::PathBuf,
    report: Value,
    all: Vec<Value>,
    _moto: FreshMoto,
    _dns: Option<support::DnsHierarchy>,
}

fn run(variant: &str, code: i32) -> Run {
    let moto = FreshMoto::start();
    let (spec, dns) = moto.seed_with_dns(variant);
    let (exit, out) = check(&moto, &spec, "json");
    assert_eq!(exit, code, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let all = findings(&report);
    Run { spec, report, all, _moto: moto, _dns: dns }
}

const READER: &str = "arn:aws:iam::123456789012:role/DbAuroraGetDbPasswordRole";

#[test]
fn the_broken_account_fails_with_one_sentence_per_story() {
    let Run { spec, report, all, _moto, _dns } = run("broken", 1);

    // Story 2: the custom resource's role cannot decrypt the parameter's CMK; aws/ssm is fine.
    let s2 = find(
        &all,
        "/app/db/password",
        Some(READER),
        "cannot read parameter `/app/db/password`: kms:Decrypt of key `alias/app-data`",
    );
    assert_eq!(s2["status"], "fail");
    // The fix as data: the key-policy statement, checked by the evaluator before it is offered.
    let statement = &s2["change"]["statement"];
    assert_eq!(s2["change"]["kind"], "key-policy-statement");
    assert_eq!(statement["Principal"]["AWS"], READER);
    assert_eq!(statement["Action"], "kms:Decrypt");
    assert_eq!(statement["Condition"]["StringEquals"]["kms:ViaService"], "ssm.us-east-1.amazonaws.com");
    assert_eq!(
        statement["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"],
        "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password"
    );
    assert_eq!(s2["access"]["action"], "kms:Decrypt");
    assert_eq!(s2["access"]["viaService"], "ssm.us-east-1.amazonaws.com");
    assert!(s2["evidence"].to_string().contains("ssm:GetParameter allowed by inline policy `read-db-secret`"));
    assert_eq!(find(&all, "/app/db/username", Some(READER), "can read parameter")["status"], "pass");

    // Story 6: the production role is not named and the key policy does not delegate to IAM.
    let s6 = find(&all, "alias/api-key", Some("arn:aws:iam::123456789012:role/prod-api"), "cannot kms:Decrypt");
    assert_eq!(s6["status"], "fail");
    assert!(s6["message"].as_str().unwrap().contains("names neither `arn:aws:iam::123456789012:role/prod-api` nor its account (no `arn:aws:iam::123456789012:root` statement delegating to IAM), so managed policy `KmsPowerUser` statement #1 (Allow) cannot grant kms:Decrypt"));
    assert_eq!(
        find(&all, "alias/api-key", Some("arn:aws:iam::123456789012:role/test-role"), "can kms:Decrypt")["status"],
        "pass"
    );

    // Story 4: an AWS managed key can never serve another account; the new key policy locks out.
    let s4 = find(&all, "alias/aws/rds", Some("account 222222222222"), "is AWS managed");
    assert_eq!(s4["status"], "fail");
    assert!(s4["fix"].as_str().unwrap().starts_with("copy the snapshot under a customer managed key"));
    let lock = find(&all, "KeyPolicies[0]", Some("arn:aws:iam::123456789012:role/key-admin"), "this policy locks out");
    assert_eq!(lock["status"], "fail");
    assert!(lock["message"].as_str().unwrap().contains("MalformedPolicyDocumentException"));

    // Story 5: the scheduler lacks CreateGrant for AWS resources; its own IAM cannot be read.
    let s5 = find(
        &all,
        "alias/ebs-key",
        Some("arn:aws:iam::222222222222:role/scheduler"),
        "cannot kms:CreateGrant for AWS resources",
    );
    assert_eq!(s5["status"], "fail");
    assert_eq!(
        s5["change"]["statement"]["Condition"]["Bool"],
        json!({"kms:GrantIsForAWSResource": "true"}),
        "the statement to add carries the AWS-resource condition: {s5}"
    );
    assert_eq!(s5["access"]["forAwsResource"], true);
    assert!(s5["fix"].as_str().unwrap().contains("its own IAM policy must also allow kms:CreateGrant"));
    let s5u = find(&all, "alias/ebs-key", Some("arn:aws:iam::222222222222:role/scheduler"), "can kms:Decrypt");
    assert_eq!(s5u["status"], "unknown");
    assert!(
        s5u["message"]
            .as_str()
            .unwrap()
            .contains("the identity policies of `arn:aws:iam::222222222222:role/scheduler` are not known")
    );

    // Story 1: a self-made CMK on the bootstrap bucket that the deploy roles cannot use.
    let deploy = "arn:aws:iam::123456789012:role/cdk-hnb659fds-deploy-role-123456789012-us-east-1";
    let s1 = find(&all, "CDKToolkit", Some(deploy), "cannot kms:Decrypt the assets bucket's key");
    assert_eq!(s1["status"], "fail");
    assert!(s1["fix"].as_str().unwrap().contains("re-bootstrap with the default key"));
    // One cause, one fix: every bootstrap role and reader that cannot use the key gets the same
    // statement shape (through S3, no object pinned), so the report can merge them.
    let roles: Vec<&Value> =
        all.iter().filter(|f| f["subject"] == "CDKToolkit" && f["change"]["kind"] == "key-policy-statement").collect();
    assert_eq!(roles.len(), 5, "{roles:#?}");
    for f in &roles {
        let c = &f["change"]["statement"]["Condition"];
        assert_eq!(c, &json!({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}), "{f}");
        assert_eq!(f["change"]["key"], roles[0]["change"]["key"]);
    }
    let exec = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1";
    assert_eq!(find(&all, "CDKToolkit", Some(exec), "to read Lambda code")["status"], "fail");
    assert_eq!(find(&all, "CDKToolkit", None, "a key ARN where CDK expects a key id")["status"], "fail");
    assert_eq!(find(&all, "CDKToolkit", Some("account 222222222222"), "deploy-role")["status"], "fail");

    // Story 3: the stack writes into the second zone, not the one example.com is delegated to.
    let zones = FreshMoto::zones(&spec);
    let (registrar, duplicate) = (&zones["registrar"], &zones["duplicate"]);
    let id = duplicate["id"].as_str().unwrap();
    let s3 = find(&all, id, None, "is not the zone example.com is delegated to");
    assert_eq!(s3["status"], "fail");
    assert_eq!(
        s3["message"].as_str().unwrap(),
        format!(
            "hosted zone {id} (example.com) is not the zone example.com is delegated to: the parent zone com lists {}; {id} is served by {}; the delegated set matches {} (example.com, created by the Route 53 registrar)",
            braces(registrar),
            braces(duplicate),
            registrar["id"].as_str().unwrap()
        )
    );

    assert_eq!(report["summary"], "15 failed, 1 unknown, 3 passed");
}

/// A zone's name servers as a sorted `{a, b}` set.
fn braces(zone: &Value) -> String {
    let mut ns: Vec<&str> = zone["ns"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    ns.sort_unstable();
    format!("{{{}}}", ns.join(", "))
}

/// Replaces the seeded zones' random ids and name servers, and the DNS port, with fixed names.
fn normalise_zones(text: &str, spec: &std::path::Path, port: u16) -> String {
    let zones = FreshMoto::zones(spec);
    let mut out = text.replace(&format!(":{port})"), ":PORT)");
    for label in ["registrar", "duplicate"] {
        out = out.replace(zones[label]["id"].as_str().unwrap(), &format!("Z-{}", label.to_uppercase()));
        let mut ns: Vec<&str> = zones[label]["ns"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        ns.sort_unstable();
        for (i, n) in ns.iter().enumerate() {
            out = out.replace(n, &format!("ns-{label}-{}.awsdns.test", i + 1));
        }
    }
    out
}

#[test]
fn the_fixed_account_passes_with_no_false_alarm() {
    let Run { spec, report, all, _moto, _dns } = run("fixed", 0);
    assert!(all.iter().all(|f| f["status"] != "fail"), "{all:#?}");
    // The only unknowns: the other account's role, whose IAM cannot be read from here.
    for f in all.iter().filter(|f| f["status"] == "unknown") {
        assert_eq!(f["principal"], "arn:aws:iam::222222222222:role/scheduler", "{f}");
    }
    assert_eq!(report["summary"], "0 failed, 2 unknown, 16 passed");
    let registrar = FreshMoto::zones(&spec)["registrar"]["id"].as_str().unwrap().to_owned();
    assert_eq!(find(&all, &registrar, None, "is the zone example.com is delegated to")["status"], "pass");
    let deploy = "arn:aws:iam::123456789012:role/cdk-hnb659fds-deploy-role-123456789012-us-east-1";
    assert_eq!(find(&all, "CDKToolkit", Some(deploy), "can kms:Decrypt the assets bucket's key")["status"], "pass");
    assert_eq!(
        find(&all, "alias/snapshot-key", Some("account 222222222222"), "lets account 222222222222")["status"],
        "pass"
    );
    assert_eq!(find(&all, "KeyPolicies[0]", None, "keeps kms:PutKeyPolicy")["status"], "pass");
}

#[test]
fn disabled_pending_deletion_missing_and_plain_parameters_fail() {
    let Run { all, _moto, _dns, .. } = run("edge", 1);
    for (subject, words) in [
        ("/edge/missing", "parameter `/edge/missing` does not exist in account 123456789012 region us-east-1"),
        ("/edge/plain", "is a String, not a SecureString"),
        ("/edge/under-disabled", "cannot be read by anyone: its key `alias/disabled-key`"),
        ("alias/doomed-key", "but the call fails with KMSInvalidStateException"),
        ("alias/no-such-key", "key `alias/no-such-key` does not exist in account 123456789012"),
    ] {
        assert_eq!(find(&all, subject, None, words)["status"], "fail");
    }
    assert_eq!(all.len(), 5);
}

#[test]
fn a_denied_read_is_unknown_naming_the_permission_and_the_run_goes_on() {
    let moto = FreshMoto::start();
    let spec = moto.seed("denied");
    let credentials = std::fs::read_to_string(format!("{}.credentials", spec.display())).unwrap();
    let pairs: Vec<(&str, &str)> = credentials.lines().filter_map(|l| l.split_once('=')).collect();
    let (code, out) = check_as(&moto, &spec, "json", &pairs);
    assert_eq!(code, 1, "{out}");
    let all = findings(&serde_json::from_str(&out).unwrap());
    let denied = find(&all, "alias/doomed-key", None, "its key policy could not be read");
    assert_eq!(denied["status"], "unknown");
    assert!(
        denied["message"].as_str().unwrap().contains("Preflight's role is not allowed `kms:GetKeyPolicy`"),
        "{denied}"
    );
    // The other checks still ran and decided.
    assert_eq!(find(&all, "/edge/plain", None, "is a String, not a SecureString")["status"], "fail");
    assert_eq!(find(&all, "alias/no-such-key", None, "does not exist")["status"], "fail");
}

#[test]
fn the_text_report_of_the_broken_account_matches_the_golden_file() {
    let moto = FreshMoto::start();
    let (spec, dns) = moto.seed_with_dns("broken");
    let (code, out) = check(&moto, &spec, "text");
    assert_eq!(code, 1, "the broken account fails: {out}");
    let actual = normalise_zones(&support::normalise_key_ids(&out), &spec, dns.unwrap().port);
    let path = support::repo().join("tests/golden/stories-broken.txt");
    if std::env::var_os("PREFLIGHT_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    assert_eq!(actual, std::fs::read_to_string(&path).unwrap(), "PREFLIGHT_BLESS=1 to accept after review");
}

#[tokio::test]
async fn the_custom_resource_fails_the_deploy_on_the_broken_account() {
    let moto = FreshMoto::start();
    let (spec, _dns) = moto.seed_with_dns("broken");
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(spec).unwrap()).unwrap();
    // CloudFormation sends scalars as strings.
    let props = serde_json::from_str::<Value>(&spec.to_string().replace(": true", ": \"true\"")).unwrap();
    let api = support::RuntimeApi::start().await;
    let receiver = support::Receiver::start(vec![]).await;
    let _lambda = support::LambdaProcess::start(&api, &[("AWS_ENDPOINT_URL", moto.url.as_str())]);
    let url = format!("{}/cfn?X-Amz-Signature=s", receiver.base);
    api.invoke(&support::event("Create", &url, props), std::time::Duration::from_secs(60)).await.unwrap();
    let body = receiver.requests()[0].json();
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["Data"], json!({"Status": "fail", "Failed": "15", "Unknown": "1", "Passed": "3"}));
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("Preflight failed: 15 failed, 1 unknown, 3 passed 1) [bootstrap]"), "{reason}");
    assert!(reason.contains("more; full report in CloudWatch Logs"), "{reason}");
    assert!(body.to_string().len() <= 4096);
}
