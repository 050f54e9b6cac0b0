//! `template.yaml` (SAM): it lints clean with cfn-lint and `sam validate --lint`, and Preflight's
//! own role stays read-only: nothing that decrypts, reads a secret or writes (but its own logs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::process::Command;

/// Runs a tool as README.md gives it: no region or profile from the environment.
fn run(tool: &str, args: &[&str]) -> (bool, String) {
    let home = std::env::temp_dir().join(format!("preflight-no-aws-config-{}", std::process::id()));
    let out = Command::new(support::venv_tool(tool))
        .args(args)
        .current_dir(support::repo())
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env("HOME", &home)
        .env("SAM_CLI_TELEMETRY", "0")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn template_passes_cfn_lint() {
    let (ok, out) = run("cfn-lint", &["template.yaml"]);
    assert!(ok, "cfn-lint template.yaml:\n{out}");
}

#[test]
fn template_passes_sam_validate_lint() {
    // The command README.md gives.
    let (ok, out) = run("sam", &["validate", "--lint", "--region", "us-east-1", "--template-file", "template.yaml"]);
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    assert!(readme.contains("\n    sam validate --lint --region us-east-1 --template-file template.yaml\n"));
    assert!(ok && out.contains("is a valid SAM Template"), "sam validate --lint:\n{out}");
}

/// Every `service:Action` the template names.
fn actions(template: &str) -> Vec<String> {
    template
        .lines()
        .map(|l| l.trim().trim_start_matches("- ").trim_start_matches("Action:").trim())
        .filter(|t| {
            t.split_once(':').is_some_and(|(svc, act)| {
                !svc.is_empty()
                    && svc.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !act.is_empty()
                    && act.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*')
            })
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn preflight_role_is_read_only() {
    let template = std::fs::read_to_string(support::repo().join("template.yaml")).unwrap();
    let actions = actions(&template);
    assert_eq!(
        actions,
        [
            "sts:AssumeRole",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "kms:DescribeKey",
            "kms:GetKeyPolicy",
            "kms:ListGrants",
            "kms:DescribeKey",
            "kms:ListGrants",
            "iam:GetRole",
            "iam:ListRolePolicies",
            "iam:GetRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:GetPolicy",
            "iam:GetPolicyVersion",
            "ssm:DescribeParameters",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetResourcePolicy",
            "ssm:GetParameter",
            "s3:GetEncryptionConfiguration",
            "cloudformation:DescribeStacks",
            "route53:GetHostedZone",
            "route53:ListResourceRecordSets",
            "route53:ListHostedZonesByName",
            "route53domains:GetDomainDetail",
        ],
        "the actions template.yaml allows, in file order"
    );
    for action in &actions {
        let verb = action.split_once(':').unwrap().1;
        let own_logs = action == "logs:CreateLogStream" || action == "logs:PutLogEvents";
        let assume = action == "sts:AssumeRole"; // the trust policy: Lambda assumes the role
        let read = ["Describe", "Get", "List"].iter().any(|p| verb.starts_with(p));
        assert!(own_logs || assume || read, "`{action}` is not a read");
        assert!(!verb.contains('*'), "`{action}`: no wildcard actions");
        assert_ne!(action, "secretsmanager:GetSecretValue", "never read a secret's value");
    }
    for forbidden in
        ["kms:Decrypt", "kms:ReEncrypt", "kms:GenerateDataKey", "ssm:GetParameters", "WithDecryption", "GetSecretValue"]
    {
        assert!(!template.contains(forbidden), "template mentions {forbidden}");
    }
    // The bootstrap reads name one environment: its qualifier's version parameter and bucket, and
    // the toolkit stack by name (both template parameters).
    let resource_of = |action: &str| {
        let at = template.find(action).unwrap();
        template[at..].lines().find(|l| l.trim_start().starts_with("Resource:")).unwrap().trim().to_owned()
    };
    assert!(resource_of("ssm:GetParameter").ends_with(":parameter/cdk-bootstrap/${BootstrapQualifier}/version\""));
    assert!(
        resource_of("s3:GetEncryptionConfiguration")
            .ends_with(":s3:::cdk-${BootstrapQualifier}-assets-${AWS::AccountId}-${AWS::Region}\"")
    );
    assert!(resource_of("cloudformation:DescribeStacks").ends_with(":stack/${ToolkitStackName}/*\""));
}

#[test]
fn the_example_resource_sets_a_service_timeout_and_a_nonce() {
    let template = std::fs::read_to_string(support::repo().join("template.yaml")).unwrap();
    let example = &template[template.find("Type: Custom::Preflight").unwrap()..];
    assert!(example.contains("ServiceTimeout: 300"));
    assert!(example.contains("Nonce: !Ref DeployNonce"));
    assert!(template.contains("Runtime: provided.al2023") && template.contains("- arm64"));
    assert!(template.contains("BuildMethod: rust-cargolambda"));
}

#[test]
fn every_call_preflight_makes_is_allowed_by_its_role() {
    // The IAM action of every read, as the fetch layer names it when it tracks a call.
    let template = std::fs::read_to_string(support::repo().join("template.yaml")).unwrap();
    let allowed = actions(&template);
    let mut called = Vec::new();
    for file in ["src/fetch.rs", "src/aws/sdk.rs"] {
        let source = std::fs::read_to_string(support::repo().join(file)).unwrap();
        for piece in source.split('"').skip(1).step_by(2) {
            let is_action = piece.split_once(':').is_some_and(|(svc, act)| {
                ["sts", "kms", "ssm", "secretsmanager", "iam", "s3", "cloudformation", "route53", "route53domains"]
                    .contains(&svc)
                    && act.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && act.chars().all(|c| c.is_ascii_alphanumeric())
            });
            if is_action {
                called.push(piece.to_owned());
            }
        }
    }
    called.sort();
    called.dedup();
    // GetCallerIdentity needs no permission: no policy can deny it (STS API Reference).
    called.retain(|a| a != "sts:GetCallerIdentity");
    let mut granted: Vec<String> = allowed
        .into_iter()
        .filter(|a| a != "sts:AssumeRole" && !a.starts_with("logs:")) // the trust policy; the function's own logs
        .collect();
    granted.sort();
    granted.dedup();
    // Both ways: nothing called that is not allowed, nothing allowed that is never called.
    assert_eq!(called, granted, "the fetch layer's calls and template.yaml's read permissions differ");
    assert_eq!(called.len(), 19);
}
