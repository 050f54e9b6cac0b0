//! The bootstrap check (story 1): the CDK bootstrap environment exists, its stack was not given a
//! key ARN where CDK expects a key id (aws-cdk-cli#921), the assets bucket's key is usable, and the
//! file-publishing, deploy and cfn-exec roles (and each reader) may use it through S3 with the
//! S3 encryption context; every trusted account is trusted by the deploy and publishing roles.

use std::collections::BTreeMap;

use super::{
    Env, Item, Question, access, ask, evidence, key_label, key_policy, key_policy_change, principal_policies, why_not,
};
use crate::arn::PrincipalArn;
use crate::facts::FetchError;
use crate::facts::{Facts, bootstrap_role};
use crate::kms::{Decision, KeyState};
use crate::policy::{Context, Effect, Naming, Policy, Request, Tri};
use crate::report::{CheckKind, Finding, Status};
use crate::spec::Bootstrap;

pub(crate) fn check(b: &Bootstrap, facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let subject = b.toolkit_stack_name.clone();
    let item = Item::new(CheckKind::Bootstrap, subject.clone());
    let q = &b.qualifier;
    let env_name = format!("aws://{}/{}", env.account, env.region);
    let qualifier_flag = if q == "hnb659fds" { String::new() } else { format!(" --qualifier {q}") };
    let Some(bf) = &facts.bootstrap else {
        return vec![item.unknown("the bootstrap environment was not read".into())];
    };
    let mut out = Vec::new();
    match &bf.version {
        Ok(Some(installed)) => {
            if let Some(required) = b.required_version {
                // The CDK CLI refuses to deploy a stack whose requiresBootstrapStackVersion is
                // above the installed version (aws-cdk-cli, `requiresBootstrapStackVersion`).
                match installed.trim().parse::<u32>() {
                    Ok(v) if v >= required => out.push(item.finding(
                        None,
                        Status::Pass,
                        format!("{env_name} is bootstrapped with version {v}, at least the {required} the stacks need"),
                        None,
                        vec![],
                    )),
                    Ok(v) => out.push(item.finding(
                        None,
                        Status::Fail,
                        format!("{env_name} is bootstrapped with version {v}, but the stacks need at least version {required}: cdk deploy stops before deploying anything"),
                        Some(format!("run cdk bootstrap {env_name}{qualifier_flag} with the current CDK CLI")),
                        vec![],
                    )),
                    Err(_) => out.push(item.unknown(format!(
                        "the bootstrap version `{installed}` in /cdk-bootstrap/{q}/version is not a number, so whether it is at least {required} is unknown"
                    ))),
                }
            }
        }
        Ok(None) => {
            return vec![item.finding(
                None,
                Status::Fail,
                format!(
                    "{env_name} is not bootstrapped with qualifier `{q}`: parameter /cdk-bootstrap/{q}/version does not exist"
                ),
                Some(format!("run cdk bootstrap {env_name}{qualifier_flag}")),
                vec![],
            )];
        }
        Err(e) => {
            return vec![item.unread("the bootstrap version was not read", e)];
        }
    }
    match &bf.stack {
        Ok(Some(stack)) => {
            if let Some(k) = stack.parameters.get("FileAssetsBucketKmsKeyId").filter(|k| k.starts_with("arn:")) {
                out.push(item.finding(
                    None,
                    Status::Fail,
                    format!("stack `{}` was bootstrapped with FileAssetsBucketKmsKeyId `{k}`, a key ARN where CDK expects a key id: the file-publishing role's policy then names `key/arn:...` and grants nothing (aws-cdk-cli#921)", b.toolkit_stack_name),
                    Some(format!("re-run cdk bootstrap {env_name}{qualifier_flag} --bootstrap-kms-key-id {}", k.rsplit('/').next().unwrap_or(k))),
                    vec![],
                ));
            }
        }
        Ok(None) => out.push(item.finding(
            None,
            Status::Fail,
            format!(
                "the toolkit stack `{}` does not exist in {env_name}, though /cdk-bootstrap/{q}/version does",
                b.toolkit_stack_name
            ),
            Some(format!(
                "run cdk bootstrap {env_name}{qualifier_flag}, or set Bootstrap.ToolkitStackName to the stack's name"
            )),
            vec![],
        )),
        Err(e) => out.push(item.unread("the toolkit stack was not read", e)),
    }
    let bucket = match &bf.bucket {
        Ok(b) => b,
        Err(why) => {
            out.push(item.unknown(format!("the assets bucket's encryption was not checked: {why}")));
            return out;
        }
    };
    let (reference, key) = match (&bf.encryption, &bf.key) {
        (Err(e), _) => {
            out.push(item.unread(&format!("the encryption of bucket `{bucket}` was not read"), e));
            return out;
        }
        (Ok(_), Some((reference, Ok(key)))) => (reference, key),
        (Ok(_), Some((reference, Err(e @ FetchError::NotFound { .. })))) => {
            out.push(item.finding(None, Status::Fail, format!("bucket `{bucket}` is encrypted with key `{reference}`, which does not exist: every upload and deploy fails"), Some("re-bootstrap with the default key".into()), vec![e.to_string()]));
            return out;
        }
        (Ok(_), Some((reference, Err(e)))) => {
            out.push(item.unread(&format!("the key `{reference}` of bucket `{bucket}` was not read"), e));
            return out;
        }
        (Ok(enc), None) => {
            let how = enc.as_ref().map(|e| e.algorithm.clone()).unwrap_or_else(|| "no default encryption rule".into());
            out.push(item.finding(
                None,
                Status::Pass,
                format!("bucket `{bucket}` uses {how}: the deploy roles need no KMS permission"),
                None,
                vec![],
            ));
            return out;
        }
    };
    let label = key_label(reference, key).to_string();
    if key.info.state != KeyState::Enabled {
        out.push(item.finding(
            None,
            Status::Fail,
            format!("the key {label} of bucket `{bucket}` is {}: every asset upload and deploy fails", key.info.state),
            Some("enable the key, or re-bootstrap with the default key".into()),
            vec![],
        ));
        return out;
    }
    let policy = match key_policy(key) {
        Ok(p) => p,
        Err(why) => {
            out.push(item.unknown(format!("the bootstrap roles were not checked: key {label}: {why}")));
            return out;
        }
    };
    let bucket_key = bf.encryption.as_ref().ok().and_then(|e| e.as_ref()).is_some_and(|e| e.bucket_key);
    let s3_arn = if bucket_key {
        format!("arn:{}:s3:::{bucket}", env.partition)
    } else {
        format!("arn:{}:s3:::{bucket}/asset.zip", env.partition)
    };
    let ec = BTreeMap::from([("aws:s3:arn".to_owned(), s3_arn)]);
    let via = format!("s3.{}.amazonaws.com", env.region);
    let role = |kind: &str| {
        PrincipalArn::parse(&format!(
            "arn:{}:iam::{}:role/{}",
            env.partition,
            env.account,
            bootstrap_role(q, kind, env.account, env.region)
        ))
        .ok()
    };
    let mut uses: Vec<(PrincipalArn, &str, &str)> = Vec::new();
    for (kind, actions) in [
        ("file-publishing-role", &["kms:GenerateDataKey", "kms:Decrypt"][..]),
        ("deploy-role", &["kms:Decrypt"][..]),
        ("cfn-exec-role", &["kms:Decrypt"][..]),
    ] {
        if let Some(r) = role(kind) {
            for a in actions {
                uses.push((r.clone(), a, kind));
            }
        }
    }
    for r in &b.readers {
        uses.push((r.clone(), "kms:Decrypt", "reader"));
    }
    for (principal, action, kind) in &uses {
        let who = principal_policies(principal, facts, env);
        let p = Some(principal.to_string());
        if who.missing {
            out.push(item.finding(p, Status::Fail, format!("`{principal}` does not exist: the bootstrap stack is incomplete or uses another qualifier than `{q}`"), Some(format!("re-run cdk bootstrap {env_name}{qualifier_flag}")), vec![]));
            continue;
        }
        let q = Question::through(principal, action, &via, &ec);
        let o = ask(&q, key, &policy, &who);
        let what = match *kind {
            "file-publishing-role" => "to upload assets",
            "deploy-role" => "for CloudFormation to read templates",
            "cfn-exec-role" => "to read Lambda code and other assets while creating resources",
            _ => "to read assets at run time",
        };
        let found = match (o.decision, o.error) {
            (Decision::Allow, None) => item.finding(p, Status::Pass, format!("`{principal}` can {action} the assets bucket's key {label} through S3 {what}"), None, evidence(&o)),
            (Decision::Unknown, _) => item.finding(p, Status::Unknown, format!("whether `{principal}` can {action} the assets bucket's key {label} through S3 is unknown: {}", why_not(&o)), None, evidence(&o)),
            _ => item
                .finding(
                    p,
                    Status::Fail,
                    format!("`{principal}` cannot {action} the assets bucket's key {label} through S3 {what}: {}", why_not(&o)),
                    Some(format!("add a key-policy statement allowing {action} for {principal} with kms:ViaService {via} (CDK's own bootstrap key allows every principal of the account through S3), or re-bootstrap with the default key: cdk bootstrap {env_name}{qualifier_flag} without --bootstrap-kms-key-id")),
                    evidence(&o),
                )
                .with_change_text(
                    key_policy_change(&q, key, &who, false),
                    Some(format!("re-bootstrap with the default key: cdk bootstrap {env_name}{qualifier_flag} without --bootstrap-kms-key-id")),
                ),
        };
        out.push(found.with_access(access(&q, key), o.explanation.clone()));
    }
    out.extend(trust(b, facts, env, &role));
    out
}

/// The request context of the AssumeRole call a CDK deploy makes from a trusted account: the CDK
/// CLI and CDK Pipelines assume the bootstrap roles with no external id unless the app's
/// synthesizer sets one (aws-cdk-cli, the `assumeRoleExternalId` option, off by default), so
/// `sts:ExternalId` is absent ("This key is present in the request when the principal provides an
/// external ID", IAM User Guide, "IAM and AWS STS condition context keys"). The current bootstrap
/// template's `DenyExternalId` trust condition (`Null: sts:ExternalId = true`) therefore holds.
/// The calling role is some role of that account, so aws:PrincipalArn stays unknown.
fn cdk_assume_role_context(account: &str) -> Context {
    let mut ctx = Context::default();
    ctx.set_absent("sts:ExternalId");
    ctx.set("aws:PrincipalAccount", account);
    ctx.set("aws:PrincipalType", "AssumedRole");
    ctx.set("aws:SecureTransport", "true");
    ctx
}

/// Every `TrustedAccounts` account is trusted by the deploy and file-publishing roles.
fn trust(b: &Bootstrap, facts: &Facts, env: &Env<'_>, role: &dyn Fn(&str) -> Option<PrincipalArn>) -> Vec<Finding> {
    let mut out = Vec::new();
    for kind in ["deploy-role", "file-publishing-role"] {
        let Some(r) = role(kind) else { continue };
        let name = bootstrap_role(&b.qualifier, kind, env.account, env.region);
        let trust = match facts.roles.get(&name) {
            Some(Ok(rf)) => rf
                .info
                .trust_policy
                .as_deref()
                .and_then(|t| Policy::parse("trust policy", &serde_json::Value::String(t.to_owned())).ok()),
            _ => None,
        };
        for account in &b.trusted_accounts {
            let Ok(root) = PrincipalArn::parse(&format!("arn:{}:iam::{account}:root", env.partition)) else { continue };
            let ctx = cdk_assume_role_context(account.as_str());
            let req = Request { principal: &root, action: "sts:AssumeRole", resource: &r.to_string(), context: &ctx };
            let trusted = trust.as_ref().map(|t| {
                t.statements
                    .iter()
                    .filter(|s| s.effect == Effect::Allow && s.naming(&root, false) != Naming::No)
                    .fold(Tri::No, |acc, s| acc.or(s.applies_in_trust_policy(&req)))
            });
            let f = |status, message: String, fix: Option<String>| {
                Item::new(CheckKind::Bootstrap, b.toolkit_stack_name.clone()).finding(
                    Some(format!("account {account}")),
                    status,
                    message,
                    fix,
                    vec![],
                )
            };
            out.push(match trusted {
                Some(Tri::Yes) => f(Status::Pass, format!("the {kind} `{name}` trusts account {account}"), None),
                Some(Tri::No) => f(
                    Status::Fail,
                    format!("the {kind} `{name}` does not trust account {account}, so deployments from it cannot assume the role"),
                    Some(format!("run cdk bootstrap aws://{}/{} --trust {account} --cloudformation-execution-policies ...", env.account, env.region)),
                ),
                Some(undecided @ Tri::Unknown(_)) => f(
                    Status::Unknown,
                    format!(
                        "whether the {kind} `{name}` trusts account {account} depends on what the assuming call carries: the trust policy's conditions use {}",
                        undecided.unknown_keys().iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                    None,
                ),
                None => f(Status::Unknown, format!("the trust policy of `{name}` was not read"), None),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{BucketEncryption, Facts, FactsBuilder, KeyManager, denied, toolkit_stack};
    use crate::report::{Finding, Report, Status};
    use crate::spec::{OnUnknown, Origin, Spec};

    const ACCOUNT: &str = "111111111111";
    const BUCKET: &str = "cdk-hnb659fds-assets-111111111111-us-east-1";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn role(kind: &str) -> String {
        format!("cdk-hnb659fds-{kind}-{ACCOUNT}-us-east-1")
    }

    fn spec(trusted: &[&str]) -> Spec {
        Spec::from_value(&json!({"Bootstrap": {"TrustedAccounts": trusted}}), Origin::File).unwrap()
    }

    /// The trust statement the current bootstrap template writes for a trusted account.
    fn trust_of(account: &str, condition: Value) -> Value {
        json!({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": account}, "Condition": condition}]})
    }

    /// Bootstrapped, the bucket under a customer key with `key_policy`, the three roles present.
    fn env(key_policy: &Value) -> FactsBuilder {
        let kms = BucketEncryption {
            algorithm: "aws:kms".into(),
            kms_key: Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}")),
            bucket_key: false,
        };
        let key_ref = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}");
        let mut b = Facts::builder(ACCOUNT, "us-east-1").key(&key_ref, KEY_ID, KeyManager::Customer, key_policy);
        for kind in ["file-publishing-role", "deploy-role", "cfn-exec-role"] {
            b = b.role(&role(kind), &[]);
        }
        b.bootstrap(Ok(Some("33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(Some(kms)))
    }

    /// CDK's own key policy (docs/aws-facts.md 2): any principal of the account through S3.
    fn cdk_key_policy() -> Value {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]})
    }

    fn statuses(out: &[Finding]) -> Vec<Status> {
        out.iter().map(|f| f.status).collect()
    }

    #[test]
    fn cdks_own_key_serves_every_bootstrap_role() {
        let out = judge(&spec(&[]), &env(&cdk_key_policy()).build());
        assert_eq!(statuses(&out), [Status::Pass; 4], "{out:#?}");
    }

    #[test]
    fn a_self_made_key_the_roles_cannot_use_is_one_cause_with_one_statement() {
        let admin_only = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/admin"}, "Action": "kms:*", "Resource": "*"}]});
        let out = judge(&spec(&[]), &env(&admin_only).build());
        assert_eq!(statuses(&out), [Status::Fail; 4]);
        let report = Report::new(out, OnUnknown::Warn);
        let causes = report.causes();
        assert_eq!(causes.len(), 1, "{causes:#?}");
        let Some(crate::report::Change::KeyPolicyStatement { statement, .. }) = &causes[0].change else { panic!() };
        assert_eq!(statement["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
        assert_eq!(statement["Principal"]["AWS"].as_array().map(Vec::len), Some(3));
        assert_eq!(statement["Condition"], json!({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}));
    }

    #[test]
    fn a_bootstrap_older_than_the_stacks_need_fails_before_anything_deploys() {
        let s = |v: u32| Spec::from_value(&json!({"Bootstrap": {"RequiredVersion": v}}), Origin::File).unwrap();
        let f = env(&cdk_key_policy()).build();
        let version =
            |out: Vec<Finding>| out.into_iter().find(|f| f.message.contains("bootstrapped with version")).unwrap();
        let old = version(judge(&s(34), &f));
        assert_eq!(old.status, Status::Fail);
        assert!(old.message.contains("version 33, but the stacks need at least version 34"), "{}", old.message);
        assert_eq!(version(judge(&s(33), &f)).status, Status::Pass);
        let bad =
            Spec::from_value(&json!({"Bootstrap": {"RequiredVersion": "six"}}), Origin::File).unwrap_err().to_string();
        assert!(
            bad.contains("Bootstrap.RequiredVersion: expected a bootstrap version number such as 21, got `six`"),
            "{bad}"
        );
    }

    #[test]
    fn a_bucket_without_kms_needs_no_key_permission() {
        let aes = BucketEncryption { algorithm: "AES256".into(), kms_key: None, bucket_key: false };
        let f = Facts::builder(ACCOUNT, "us-east-1")
            .bootstrap(Ok(Some("33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(Some(aes)))
            .build();
        let out = judge(&spec(&[]), &f);
        assert_eq!(statuses(&out), [Status::Pass]);
    }

    #[test]
    fn an_unbootstrapped_environment_fails_and_an_unread_one_is_unknown() {
        let none = Facts::builder(ACCOUNT, "us-east-1").bootstrap(Ok(None), Ok(None), Ok(None)).build();
        assert_eq!(statuses(&judge(&spec(&[]), &none)), [Status::Fail]);
        let unread =
            Facts::builder(ACCOUNT, "us-east-1").bootstrap(Err(denied("ssm:GetParameter")), Ok(None), Ok(None)).build();
        let out = judge(&spec(&[]), &unread);
        assert_eq!(statuses(&out), [Status::Unknown]);
        assert_eq!(out[0].fix.as_deref(), Some("allow ssm:GetParameter in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn an_unread_toolkit_stack_never_guesses_the_bucket() {
        let f = Facts::builder(ACCOUNT, "us-east-1")
            .bootstrap(Ok(Some("33")), Err(denied("cloudformation:DescribeStacks")), Ok(None))
            .build();
        let out = judge(&spec(&[]), &f);
        assert_eq!(statuses(&out), [Status::Unknown, Status::Unknown], "{out:#?}");
        assert!(out[1].message.contains("the assets bucket's encryption was not checked"), "{}", out[1].message);
    }

    #[test]
    fn trust_is_judged_as_the_assume_role_call_cdk_makes() {
        let deploy = role("deploy-role");
        let publish = role("file-publishing-role");
        let with = |condition: Value| {
            env(&cdk_key_policy())
                .trust(&deploy, &trust_of("222222222222", condition.clone()))
                .trust(&publish, &trust_of("222222222222", condition))
                .build()
        };
        let trusted = |f: &Facts| -> Vec<Status> {
            judge(&spec(&["222222222222"]), f)
                .into_iter()
                .filter(|f| f.principal.as_deref() == Some("account 222222222222"))
                .map(|f| f.status)
                .collect()
        };
        // The current template's DenyExternalId condition: CDK passes no external id.
        assert_eq!(trusted(&with(json!({"Null": {"sts:ExternalId": "true"}}))), [Status::Pass, Status::Pass]);
        // A required external id: CDK's call carries none, so the trust does not hold.
        assert_eq!(trusted(&with(json!({"StringEquals": {"sts:ExternalId": "secret"}}))), [Status::Fail, Status::Fail]);
        // A condition on what Preflight cannot know: unknown, never fail.
        assert_eq!(
            trusted(&with(json!({"StringEquals": {"aws:PrincipalOrgID": "o-123"}}))),
            [Status::Unknown, Status::Unknown]
        );
        // Another account entirely.
        let other = env(&cdk_key_policy())
            .trust(&deploy, &trust_of("333333333333", json!({})))
            .trust(&publish, &trust_of("333333333333", json!({})))
            .build();
        assert_eq!(trusted(&other), [Status::Fail, Status::Fail]);
    }
}
