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
    match &bf.version {
        Ok(Some(_)) => {}
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
    let mut out = Vec::new();
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
    let label = key_label(reference, key);
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
                .with_change(
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
