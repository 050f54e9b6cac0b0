//! The bootstrap check (story 1): the CDK bootstrap environment exists, its stack was not given a
//! key ARN where CDK expects a key id (aws-cdk-cli#921), the assets bucket's key is usable, and the
//! file-publishing, deploy and cfn-exec roles (and each reader) may use it through S3 with the
//! S3 encryption context; every trusted account is trusted by the deploy and publishing roles.

use std::collections::BTreeMap;

use super::{Env, Item, Question, access, ask, evidence, key_label, key_policy, key_policy_change, principal_policies};
use crate::arn::PrincipalArn;
use crate::facts::{BootstrapFacts, Facts, FetchError, KeyFacts, bootstrap_role};
use crate::kms::{Decision, KeyState};
use crate::policy::{Context, Effect, Naming, Policy, Request, Tri};
use crate::report::{CheckKind, Finding, Status};
use crate::said::bootstrap::{BootstrapRole, Environment, KeyUser, Said};
use crate::said::{KeyRef, NotAllowed};
use crate::spec::Bootstrap;

/// The bootstrap check: the [`rules`] in order, until one has the last word.
pub(crate) fn check(b: &Bootstrap, facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let item = Item::new(CheckKind::Bootstrap, b.toolkit_stack_name.clone());
    let mut out = Vec::new();
    if let Err(last) = rules(&item, b, facts, env, &mut out) {
        out.push(*last);
    }
    out
}

/// A rule's last word: the finding after which nothing more can be judged (the environment is
/// not bootstrapped, or the bucket's key is unusable, unknown or not needed).
type Last = Box<Finding>;

/// The rules, in order, each adding its findings to `out`: the bootstrap version, the toolkit
/// stack's parameters, the bucket's encryption, the bucket's key, each role's key use, the trust.
fn rules(item: &Item, b: &Bootstrap, facts: &Facts, env: &Env<'_>, out: &mut Vec<Finding>) -> Result<(), Last> {
    let Some(bf) = &facts.bootstrap else {
        return Err(Box::new(item.said(None, Status::Unknown, Said::NotRead, vec![])));
    };
    let at =
        Environment { account: env.account.to_owned(), region: env.region.to_owned(), qualifier: b.qualifier.clone() };
    out.extend(version(item, b, bf, &at)?);
    out.extend(toolkit_stack(item, b, bf, &at));
    out.extend(assets(item, b, bf, facts, env, &at));
    // The trust does not depend on the bucket: judged whatever the bucket's key says.
    match assets_key(item, b, facts, env, &at, bf) {
        Ok(uses) => out.extend(uses),
        Err(last) => out.push(*last),
    }
    out.extend(trust(item, b, facts, env, &at));
    Ok(())
}

/// Rule (a CDK app's file assets, from its asset manifests): each goes to this environment's
/// assets bucket, the toolkit stack's `BucketName`. The default synthesizer names
/// `cdk-QUALIFIER-assets-ACCOUNT-REGION`, so an environment bootstrapped with another bucket name
/// (`cdk bootstrap --bootstrap-bucket-name`) needs the synthesizer's `fileAssetsBucketName`, or
/// publishing fails (aws-cdk-lib `DefaultStackSynthesizer`). And the role that uploads them may
/// `s3:PutObject` each object by its own policies (the bootstrap bucket's policy only denies
/// insecure transport, and is not read). One finding per bucket and role: its assets pass
/// together, the first refused one is named.
fn assets(
    item: &Item,
    b: &Bootstrap,
    bf: &BootstrapFacts,
    facts: &Facts,
    env: &Env<'_>,
    at: &Environment,
) -> Vec<Finding> {
    let mut groups: Vec<(&str, Option<&PrincipalArn>, Vec<&crate::spec::Asset>)> = Vec::new();
    for a in &b.assets {
        match groups.iter_mut().find(|(bucket, role, _)| *bucket == a.bucket && *role == a.role.as_ref()) {
            Some((_, _, list)) => list.push(a),
            None => groups.push((&a.bucket, a.role.as_ref(), vec![a])),
        }
    }
    let mut out = Vec::new();
    for (bucket, role, list) in groups {
        let Some(first) = list.first() else { continue };
        if let Ok(assets_bucket) = &bf.bucket
            && assets_bucket != bucket
        {
            let found = Said::AssetBucketNotBootstrapped {
                asset: first.name.clone(),
                count: list.len(),
                bucket: bucket.to_owned(),
                assets_bucket: assets_bucket.clone(),
                environment: at.clone(),
            };
            out.push(item.said(None, Status::Fail, found, vec![]));
            continue;
        }
        // Without a role the CLI uploads with its own credentials, which are not known here.
        let Some(role) = role else { continue };
        let who = principal_policies(role, facts, env);
        let p = Some(role.to_string());
        if who.missing {
            out.push(item.said(
                p,
                Status::Fail,
                Said::RoleMissing { principal: role.to_string(), environment: at.clone() },
                vec![],
            ));
            continue;
        }
        let Some(identity) = &who.identity else {
            let why = who.why.as_ref().map(ToString::to_string).unwrap_or_else(|| "its policies are not known".into());
            let object_arn = format!("arn:{}:s3:::{bucket}/{}", env.partition, first.object_key);
            let found = Said::AssetUploadUnknown { role: role.to_string(), asset: first.name.clone(), object_arn, why };
            out.push(item.said(p, Status::Unknown, found, vec![]));
            continue;
        };
        // The first asset refused (or undecided), and how many are refused.
        let mut first_refused: Option<(Status, Said)> = None;
        let mut refused = 0;
        let mut evidence = Vec::new();
        for a in &list {
            let object_arn = format!("arn:{}:s3:::{bucket}/{}", env.partition, a.object_key);
            let mut ctx = Context::default();
            // The assets bucket is the toolkit stack's, in this account: the account that owns
            // the object is known (IAM User Guide, `aws:ResourceAccount`; S3's `s3:ResourceAccount`).
            if bf.bucket.as_deref().is_ok_and(|b| b == bucket) {
                ctx.set("aws:ResourceAccount", env.account);
                ctx.set("s3:ResourceAccount", env.account);
            }
            crate::kms::derive_context(&mut ctx, role, "", &BTreeMap::new());
            let req = Request { principal: role, action: "s3:PutObject", resource: &object_arn, context: &ctx };
            let g = crate::policy::evaluate_identity(identity, who.boundary.as_ref(), &req);
            let (role, asset) = (role.to_string(), a.name.clone());
            match &g.allowed {
                Tri::Yes => evidence.extend(g.deciding.iter().map(|d| format!("s3:PutObject allowed by {d}"))),
                Tri::No => {
                    refused += 1;
                    let denied_by =
                        if g.explicit_deny { g.deciding.iter().map(ToString::to_string).collect() } else { vec![] };
                    let found = Said::AssetUploadDenied { role, asset, object_arn, count: 0, denied_by };
                    first_refused.get_or_insert((Status::Fail, found));
                }
                Tri::Unknown(_) => {
                    let why = format!("it depends on {}", g.allowed.unknown_keys().join(", "));
                    first_refused
                        .get_or_insert((Status::Unknown, Said::AssetUploadUnknown { role, asset, object_arn, why }));
                }
            }
        }
        let (status, found) = match first_refused {
            Some((status, Said::AssetUploadDenied { role, asset, object_arn, denied_by, .. })) => {
                (status, Said::AssetUploadDenied { role, asset, object_arn, count: refused, denied_by })
            }
            Some(undecided) => undecided,
            None => {
                evidence.dedup();
                let count = list.len();
                (Status::Pass, Said::AssetsUploadAllowed { role: role.to_string(), bucket: bucket.to_owned(), count })
            }
        };
        let evidence = if status == Status::Pass { evidence } else { vec![] };
        out.push(item.said(p, status, found, evidence));
    }
    out
}

/// The bucket's encryption and key, then each role's use of the key; the last word when the key
/// is not needed, unusable or unknown.
fn assets_key(
    item: &Item,
    b: &Bootstrap,
    facts: &Facts,
    env: &Env<'_>,
    at: &Environment,
    bf: &BootstrapFacts,
) -> Result<Vec<Finding>, Last> {
    let (bucket, reference, key) = bucket_encryption(item, bf)?;
    let assets = bucket_key(item, bf, bucket, reference, key)?;
    Ok(key_use(item, b, facts, env, at, &assets))
}

/// The bootstrap version: the environment is bootstrapped with the qualifier, at least at the
/// version the stacks need. The CDK CLI refuses to deploy a stack whose
/// requiresBootstrapStackVersion is above the installed version (aws-cdk-cli,
/// `requiresBootstrapStackVersion`). Not bootstrapped, or not read: nothing more is judged.
fn version(item: &Item, b: &Bootstrap, bf: &BootstrapFacts, at: &Environment) -> Result<Option<Finding>, Last> {
    let installed = match &bf.version {
        Ok(Some(installed)) => installed,
        Ok(None) => {
            let found = Said::NotBootstrapped { environment: at.clone() };
            return Err(Box::new(item.said(None, Status::Fail, found, vec![])));
        }
        Err(e) => {
            let found = Said::VersionUnread { unread: e.into() };
            return Err(Box::new(item.said(None, Status::Unknown, found, vec![])));
        }
    };
    let Some(required) = b.required_version else { return Ok(None) };
    let environment = at.clone();
    let (status, found) = match installed.trim().parse::<u32>() {
        Ok(installed) if installed >= required => {
            (Status::Pass, Said::RecentEnough { environment, installed, required })
        }
        Ok(installed) => (Status::Fail, Said::TooOld { environment, installed, required }),
        Err(_) => (
            Status::Unknown,
            Said::VersionNotANumber { version: installed.clone(), qualifier: b.qualifier.clone(), required },
        ),
    };
    Ok(Some(item.said(None, status, found, vec![])))
}

/// The toolkit stack's parameters: the stack exists, and was not given a key ARN as
/// FileAssetsBucketKmsKeyId, where CDK expects a key id (aws-cdk-cli#921).
fn toolkit_stack(item: &Item, b: &Bootstrap, bf: &BootstrapFacts, at: &Environment) -> Option<Finding> {
    let stack = b.toolkit_stack_name.clone();
    let (status, found) = match &bf.stack {
        Ok(Some(info)) => {
            let key_arn = info.parameters.get("FileAssetsBucketKmsKeyId").filter(|k| k.starts_with("arn:"))?;
            let key_id = key_arn.rsplit('/').next().unwrap_or(key_arn).to_owned();
            let found = Said::KeyArnForKeyId { stack, key_arn: key_arn.clone(), key_id, environment: at.clone() };
            (Status::Fail, found)
        }
        Ok(None) => (Status::Fail, Said::ToolkitStackMissing { stack, environment: at.clone() }),
        Err(e) => (Status::Unknown, Said::ToolkitStackUnread { unread: e.into() }),
    };
    Some(item.said(None, status, found, vec![]))
}

/// The bucket's encryption: the assets bucket is known and read, and the KMS key it names exists
/// (its bucket, the key's reference and facts). Without KMS, the roles need no key permission and
/// nothing more is judged.
fn bucket_encryption<'a>(item: &Item, bf: &'a BootstrapFacts) -> Result<(&'a str, &'a str, &'a KeyFacts), Last> {
    let bucket = match &bf.bucket {
        Ok(bucket) => bucket,
        Err(why) => {
            let found = Said::BucketUnknown { why: why.clone() };
            return Err(Box::new(item.said(None, Status::Unknown, found, vec![])));
        }
    };
    let (status, found, evidence) = match (&bf.encryption, &bf.key) {
        (Err(e), _) => (Status::Unknown, Said::EncryptionUnread { bucket: bucket.clone(), unread: e.into() }, vec![]),
        (Ok(_), Some((reference, Ok(key)))) => return Ok((bucket, reference, key)),
        (Ok(_), Some((reference, Err(e @ FetchError::NotFound { .. })))) => {
            let found = Said::BucketKeyMissing { bucket: bucket.clone(), key: reference.clone() };
            (Status::Fail, found, vec![e.to_string()])
        }
        (Ok(_), Some((reference, Err(e)))) => {
            let found = Said::BucketKeyUnread { bucket: bucket.clone(), key: reference.clone(), unread: e.into() };
            (Status::Unknown, found, vec![])
        }
        (Ok(encryption), None) => {
            let algorithm = encryption.as_ref().map(|e| e.algorithm.clone());
            (Status::Pass, Said::NoKmsKey { bucket: bucket.clone(), algorithm }, vec![])
        }
    };
    Err(Box::new(item.said(None, status, found, evidence)))
}

/// The assets bucket's KMS key, as the key-use rule judges it.
struct AssetsKey<'a> {
    bucket: &'a str,
    /// S3 Bucket Keys are on: S3 asks KMS with the bucket's ARN as encryption context, not the
    /// object's.
    bucket_key: bool,
    label: KeyRef,
    key: &'a KeyFacts,
    policy: Policy,
}

/// The bucket's key: it is enabled, and its key policy can be judged.
fn bucket_key<'a>(
    item: &Item,
    bf: &BootstrapFacts,
    bucket: &'a str,
    reference: &str,
    key: &'a KeyFacts,
) -> Result<AssetsKey<'a>, Last> {
    let label = key_label(reference, key);
    if key.info.state != KeyState::Enabled {
        let found =
            Said::BucketKeyNotEnabled { bucket: bucket.to_owned(), key: label, state: key.info.state.to_string() };
        return Err(Box::new(item.said(None, Status::Fail, found, vec![])));
    }
    let policy = match key_policy(key) {
        Ok(policy) => policy,
        Err(why) => {
            return Err(Box::new(item.said(None, Status::Unknown, Said::KeyPolicyUnknown { key: label, why }, vec![])));
        }
    };
    let bucket_key = bf.encryption.as_ref().ok().and_then(|e| e.as_ref()).is_some_and(|e| e.bucket_key);
    Ok(AssetsKey { bucket, bucket_key, label, key, policy })
}

/// Each role's key use: every user of the bucket's key exists and may use the key through S3
/// (`kms:ViaService`) with the encryption context S3 sends.
fn key_use(
    item: &Item,
    b: &Bootstrap,
    facts: &Facts,
    env: &Env<'_>,
    at: &Environment,
    assets: &AssetsKey<'_>,
) -> Vec<Finding> {
    let s3_arn = if assets.bucket_key {
        format!("arn:{}:s3:::{}", env.partition, assets.bucket)
    } else {
        format!("arn:{}:s3:::{}/asset.zip", env.partition, assets.bucket)
    };
    let ec = BTreeMap::from([("aws:s3:arn".to_owned(), s3_arn)]);
    let via = format!("s3.{}.amazonaws.com", env.region);
    let mut out = Vec::new();
    for (principal, action, user) in key_users(b, env) {
        let who = principal_policies(&principal, facts, env);
        let p = Some(principal.to_string());
        if who.missing {
            let found = Said::RoleMissing { principal: principal.to_string(), environment: at.clone() };
            out.push(item.said(p, Status::Fail, found, vec![]));
            continue;
        }
        let q = Question::through(&principal, action, &via, &ec);
        let o = ask(&q, assets.key, &assets.policy, &who);
        let (name, action, key) = (principal.to_string(), action.to_owned(), assets.label.clone());
        let found = match (o.decision, o.error) {
            (Decision::Allow, None) => {
                let said = Said::KeyUseAllowed { principal: name, user, action, key };
                item.said(p, Status::Pass, said, evidence(&o))
            }
            (Decision::Unknown, _) => {
                let said = Said::KeyUseUnknown { principal: name, user, action, key, why: NotAllowed::from(&o) };
                item.said(p, Status::Unknown, said, evidence(&o))
            }
            _ => {
                let said = Said::KeyUseDenied {
                    principal: name,
                    user,
                    action,
                    key,
                    via: via.clone(),
                    why: NotAllowed::from(&o),
                    environment: at.clone(),
                };
                item.said(p, Status::Fail, said, evidence(&o))
                    .with_change(key_policy_change(&q, assets.key, &who, false))
            }
        };
        out.push(found.with_access(access(&q, assets.key), o.explanation.clone()));
    }
    out
}

/// Who uses the bucket's key, with which action: the file-publishing role uploads
/// (GenerateDataKey, Decrypt), the deploy and cfn-exec roles read (Decrypt), then each reader.
fn key_users(b: &Bootstrap, env: &Env<'_>) -> Vec<(PrincipalArn, &'static str, KeyUser)> {
    let mut uses = Vec::new();
    for (role, actions) in [
        (BootstrapRole::FilePublishingRole, &["kms:GenerateDataKey", "kms:Decrypt"][..]),
        (BootstrapRole::DeployRole, &["kms:Decrypt"][..]),
        (BootstrapRole::CfnExecRole, &["kms:Decrypt"][..]),
    ] {
        if let Some(arn) = role_arn(role, &b.qualifier, env) {
            uses.extend(actions.iter().map(|a| (arn.clone(), *a, KeyUser::Role(role))));
        }
    }
    uses.extend(b.readers.iter().map(|r| (r.clone(), "kms:Decrypt", KeyUser::Reader)));
    uses
}

/// The ARN of a bootstrap role of this environment.
fn role_arn(role: BootstrapRole, qualifier: &str, env: &Env<'_>) -> Option<PrincipalArn> {
    let name = bootstrap_role(qualifier, role.kind(), env.account, env.region);
    PrincipalArn::parse(&format!("arn:{}:iam::{}:role/{name}", env.partition, env.account)).ok()
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

/// The trust: every `TrustedAccounts` account is trusted by the deploy and file-publishing roles,
/// judged as the AssumeRole call a CDK deploy from that account makes.
fn trust(item: &Item, b: &Bootstrap, facts: &Facts, env: &Env<'_>, at: &Environment) -> Vec<Finding> {
    let mut out = Vec::new();
    for role in [BootstrapRole::DeployRole, BootstrapRole::FilePublishingRole] {
        let Some(arn) = role_arn(role, &b.qualifier, env) else { continue };
        let name = bootstrap_role(&b.qualifier, role.kind(), env.account, env.region);
        let policy = trust_policy(facts, &name);
        for account in &b.trusted_accounts {
            let Ok(root) = PrincipalArn::parse(&format!("arn:{}:iam::{account}:root", env.partition)) else { continue };
            let ctx = cdk_assume_role_context(account.as_str());
            let req = Request { principal: &root, action: "sts:AssumeRole", resource: &arn.to_string(), context: &ctx };
            let trusted = policy.as_ref().map(|t| {
                t.statements
                    .iter()
                    .filter(|s| s.effect == Effect::Allow && s.naming(&root, false) != Naming::No)
                    .fold(Tri::No, |acc, s| acc.or(s.applies_in_trust_policy(&req)))
            });
            let (name, account) = (name.clone(), account.to_string());
            let principal = Some(format!("account {account}"));
            let (status, found) = match trusted {
                Some(Tri::Yes) => (Status::Pass, Said::Trusted { role, name, account }),
                Some(Tri::No) => (Status::Fail, Said::NotTrusted { role, name, account, environment: at.clone() }),
                Some(undecided @ Tri::Unknown(_)) => {
                    (Status::Unknown, Said::TrustUndecided { role, name, account, keys: undecided.unknown_keys() })
                }
                None => (Status::Unknown, Said::TrustPolicyNotRead { role, name, account }),
            };
            out.push(item.said(principal, status, found, vec![]));
        }
    }
    out
}

/// The trust policy of the role `name`, when it was read and parses.
fn trust_policy(facts: &Facts, name: &str) -> Option<Policy> {
    let text = facts.roles.get(name)?.as_ref().ok()?.info.trust_policy.as_deref()?;
    Policy::parse("trust policy", &serde_json::Value::String(text.to_owned())).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{BucketEncryption, Facts, FactsBuilder, FetchError, KeyManager, denied, toolkit_stack};
    use crate::kms::KeyState;
    use crate::report::{Finding, Report, Status};
    use crate::said::bootstrap::{BootstrapRole, KeyUser, Said};
    use crate::spec::{OnUnknown, Origin, Spec};

    const ACCOUNT: &str = "111111111111";
    const BUCKET: &str = "cdk-hnb659fds-assets-111111111111-us-east-1";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn role(kind: &str) -> String {
        format!("cdk-hnb659fds-{kind}-{ACCOUNT}-us-east-1")
    }

    fn key_arn() -> String {
        format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}")
    }

    fn spec(trusted: &[&str]) -> Spec {
        Spec::from_value(&json!({"Bootstrap": {"TrustedAccounts": trusted}}), Origin::File).unwrap()
    }

    /// The trust statement the current bootstrap template writes for a trusted account.
    fn trust_of(account: &str, condition: Value) -> Value {
        json!({"Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": account}, "Condition": condition}]})
    }

    fn kms() -> BucketEncryption {
        BucketEncryption { algorithm: "aws:kms".into(), kms_key: Some(key_arn()), bucket_key: false }
    }

    /// The three bootstrap roles, present, and the key in `state` with `key_policy`.
    fn roles(key_policy: &Value, state: KeyState) -> FactsBuilder {
        let mut b = Facts::builder(ACCOUNT, "us-east-1").key_in_state(
            &key_arn(),
            KEY_ID,
            KeyManager::Customer,
            state,
            key_policy,
        );
        for kind in ["file-publishing-role", "deploy-role", "cfn-exec-role"] {
            b = b.role(&role(kind), &[]);
        }
        b
    }

    /// Bootstrapped, the bucket under a customer key with `key_policy`, the three roles present.
    fn env(key_policy: &Value) -> FactsBuilder {
        roles(key_policy, KeyState::Enabled).bootstrap(
            Ok(Some("33")),
            Ok(Some(toolkit_stack(BUCKET, &[]))),
            Ok(Some(kms())),
        )
    }

    /// CDK's own key policy (docs/aws-facts.md 2): any principal of the account through S3.
    fn cdk_key_policy() -> Value {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "s3.us-east-1.amazonaws.com"}}}]})
    }

    /// A key only an administrator may use.
    fn admin_only() -> Value {
        json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/admin"}, "Action": "kms:*", "Resource": "*"}]})
    }

    fn statuses(out: &[Finding]) -> Vec<Status> {
        out.iter().map(|f| f.status).collect()
    }

    /// What a finding of this check found.
    fn said(f: &Finding) -> &Said {
        match &f.found {
            crate::said::Said::Bootstrap(s) => s,
            other => panic!("not a bootstrap finding: {other:?}"),
        }
    }

    /// The last finding's conclusion, for the rules that end the check.
    fn last(out: &[Finding]) -> &Said {
        said(out.last().unwrap())
    }

    #[test]
    fn cdks_own_key_serves_every_bootstrap_role() {
        let out = judge(&spec(&[]), &env(&cdk_key_policy()).build());
        assert_eq!(statuses(&out), [Status::Pass; 4], "{out:#?}");
        let uses: Vec<(KeyUser, &str)> = out
            .iter()
            .map(|f| match said(f) {
                Said::KeyUseAllowed { user, action, key, .. } if key.key_id == KEY_ID => (*user, action.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            uses,
            [
                (KeyUser::Role(BootstrapRole::FilePublishingRole), "kms:GenerateDataKey"),
                (KeyUser::Role(BootstrapRole::FilePublishingRole), "kms:Decrypt"),
                (KeyUser::Role(BootstrapRole::DeployRole), "kms:Decrypt"),
                (KeyUser::Role(BootstrapRole::CfnExecRole), "kms:Decrypt"),
            ]
        );
    }

    #[test]
    fn a_self_made_key_the_roles_cannot_use_is_one_cause_with_one_statement() {
        let out = judge(&spec(&[]), &env(&admin_only()).build());
        assert_eq!(statuses(&out), [Status::Fail; 4]);
        assert!(
            out.iter()
                .all(|f| matches!(said(f), Said::KeyUseDenied { via, .. } if via == "s3.us-east-1.amazonaws.com")),
            "{out:#?}"
        );
        // With the statement to paste, the fix in words is the other way out.
        assert_eq!(
            out[0].fix.as_deref(),
            Some(
                "re-bootstrap with the default key: cdk bootstrap aws://111111111111/us-east-1 without --bootstrap-kms-key-id"
            )
        );
        let report = Report::new(out, OnUnknown::Warn);
        let causes = report.causes();
        assert_eq!(causes.len(), 1, "{causes:#?}");
        let Some(crate::report::Change::KeyPolicyStatement { statement, .. }) = &causes[0].change else { panic!() };
        assert_eq!(statement["Action"], json!(["kms:GenerateDataKey", "kms:Decrypt"]));
        assert_eq!(statement["Principal"]["AWS"].as_array().map(Vec::len), Some(3));
        assert_eq!(statement["Condition"], json!({"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}));
    }

    #[test]
    fn a_reader_is_judged_for_reading_assets_and_named_so_in_json() {
        let s = Spec::from_value(
            &json!({"Bootstrap": {"Readers": ["arn:aws:iam::111111111111:role/reader"]}}),
            Origin::File,
        )
        .unwrap();
        let out = judge(&s, &env(&admin_only()).role("reader", &[]).build());
        let reader =
            out.iter().find(|f| f.principal.as_deref() == Some("arn:aws:iam::111111111111:role/reader")).unwrap();
        assert!(
            matches!(said(reader), Said::KeyUseDenied { user: KeyUser::Reader, action, .. } if action == "kms:Decrypt"),
            "{reader:#?}"
        );
        let json = serde_json::to_value(&reader.found).unwrap();
        assert_eq!((json["kind"].as_str(), json["user"].as_str()), (Some("key-use-denied"), Some("reader")));
        let deploy = serde_json::to_value(&out[2].found).unwrap();
        assert_eq!(deploy["user"].as_str(), Some("deploy-role"), "{deploy:#}");
    }

    #[test]
    fn a_bootstrap_older_than_the_stacks_need_fails_before_anything_deploys() {
        let s = |v: u32| Spec::from_value(&json!({"Bootstrap": {"RequiredVersion": v}}), Origin::File).unwrap();
        let f = env(&cdk_key_policy()).build();
        let version = |out: Vec<Finding>| {
            out.into_iter().find(|f| matches!(said(f), Said::TooOld { .. } | Said::RecentEnough { .. })).unwrap()
        };
        let old = version(judge(&s(34), &f));
        assert_eq!(old.status, Status::Fail);
        assert!(matches!(said(&old), Said::TooOld { installed: 33, required: 34, .. }), "{old:#?}");
        assert!(old.message.contains("version 33, but the stacks need at least version 34"), "{}", old.message);
        let enough = version(judge(&s(33), &f));
        assert_eq!(enough.status, Status::Pass);
        assert!(matches!(said(&enough), Said::RecentEnough { installed: 33, required: 33, .. }), "{enough:#?}");
        let bad =
            Spec::from_value(&json!({"Bootstrap": {"RequiredVersion": "six"}}), Origin::File).unwrap_err().to_string();
        assert!(
            bad.contains("Bootstrap.RequiredVersion: expected a bootstrap version number such as 21, got `six`"),
            "{bad}"
        );
    }

    #[test]
    fn a_version_that_is_not_a_number_is_unknown() {
        let s = Spec::from_value(&json!({"Bootstrap": {"RequiredVersion": 30}}), Origin::File).unwrap();
        let f = Facts::builder(ACCOUNT, "us-east-1")
            .bootstrap(Ok(Some("v33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(None))
            .build();
        let out = judge(&s, &f);
        assert_eq!(out[0].status, Status::Unknown);
        assert!(
            matches!(said(&out[0]), Said::VersionNotANumber { version, required: 30, .. } if version == "v33"),
            "{out:#?}"
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
        assert!(matches!(last(&out), Said::NoKmsKey { algorithm: Some(a), .. } if a == "AES256"), "{out:#?}");
        let none = Facts::builder(ACCOUNT, "us-east-1")
            .bootstrap(Ok(Some("33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(None))
            .build();
        let out = judge(&spec(&[]), &none);
        assert_eq!(statuses(&out), [Status::Pass]);
        assert!(matches!(last(&out), Said::NoKmsKey { algorithm: None, .. }), "{out:#?}");
    }

    #[test]
    fn an_unbootstrapped_environment_fails_and_an_unread_one_is_unknown() {
        let none = Facts::builder(ACCOUNT, "us-east-1").bootstrap(Ok(None), Ok(None), Ok(None)).build();
        let out = judge(&spec(&[]), &none);
        assert_eq!(statuses(&out), [Status::Fail]);
        assert!(
            matches!(said(&out[0]), Said::NotBootstrapped { environment } if environment.qualifier == "hnb659fds"),
            "{out:#?}"
        );
        let unread =
            Facts::builder(ACCOUNT, "us-east-1").bootstrap(Err(denied("ssm:GetParameter")), Ok(None), Ok(None)).build();
        let out = judge(&spec(&[]), &unread);
        assert_eq!(statuses(&out), [Status::Unknown]);
        assert!(
            matches!(said(&out[0]), Said::VersionUnread { unread } if unread.denied_action.as_deref() == Some("ssm:GetParameter")),
            "{out:#?}"
        );
        assert_eq!(out[0].fix.as_deref(), Some("allow ssm:GetParameter in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn another_qualifier_is_named_in_the_bootstrap_command() {
        let s = Spec::from_value(&json!({"Bootstrap": {"Qualifier": "myq"}}), Origin::File).unwrap();
        let none = Facts::builder(ACCOUNT, "us-east-1").bootstrap(Ok(None), Ok(None), Ok(None)).build();
        let out = judge(&s, &none);
        assert!(matches!(said(&out[0]), Said::NotBootstrapped { environment } if environment.qualifier == "myq"));
        assert_eq!(out[0].fix.as_deref(), Some("run cdk bootstrap aws://111111111111/us-east-1 --qualifier myq"));
    }

    #[test]
    fn the_bootstrap_environment_not_read_is_unknown() {
        let out = judge(&spec(&[]), &Facts::builder(ACCOUNT, "us-east-1").build());
        assert_eq!(statuses(&out), [Status::Unknown]);
        assert_eq!(said(&out[0]), &Said::NotRead);
    }

    #[test]
    fn an_unread_toolkit_stack_never_guesses_the_bucket() {
        let f = Facts::builder(ACCOUNT, "us-east-1")
            .bootstrap(Ok(Some("33")), Err(denied("cloudformation:DescribeStacks")), Ok(None))
            .build();
        let out = judge(&spec(&[]), &f);
        assert_eq!(statuses(&out), [Status::Unknown, Status::Unknown], "{out:#?}");
        assert!(matches!(said(&out[0]), Said::ToolkitStackUnread { .. }), "{out:#?}");
        assert!(
            matches!(said(&out[1]), Said::BucketUnknown { why } if why.contains("the toolkit stack was not read")),
            "{out:#?}"
        );
    }

    #[test]
    fn a_toolkit_stack_given_a_key_arn_fails_with_the_key_id_to_give() {
        let stack = toolkit_stack(BUCKET, &[("FileAssetsBucketKmsKeyId", &key_arn())]);
        let f = roles(&cdk_key_policy(), KeyState::Enabled)
            .bootstrap(Ok(Some("33")), Ok(Some(stack)), Ok(Some(kms())))
            .build();
        let out = judge(&spec(&[]), &f);
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            matches!(said(&out[0]), Said::KeyArnForKeyId { stack, key_arn: arn, key_id, .. }
                if stack == "CDKToolkit" && *arn == key_arn() && key_id == KEY_ID),
            "{out:#?}"
        );
        assert_eq!(
            out[0].fix.as_deref(),
            Some(
                "re-run cdk bootstrap aws://111111111111/us-east-1 --bootstrap-kms-key-id 1234abcd-12ab-34cd-56ef-1234567890ab"
            )
        );
        // A key id is what CDK expects.
        let stack = toolkit_stack(BUCKET, &[("FileAssetsBucketKmsKeyId", KEY_ID)]);
        let f = roles(&cdk_key_policy(), KeyState::Enabled)
            .bootstrap(Ok(Some("33")), Ok(Some(stack)), Ok(Some(kms())))
            .build();
        assert_eq!(statuses(&judge(&spec(&[]), &f)), [Status::Pass; 4]);
    }

    #[test]
    fn a_missing_toolkit_stack_fails() {
        let s = Spec::from_value(&json!({"Bootstrap": {"ToolkitStackName": "MyToolkit"}}), Origin::File).unwrap();
        let f = Facts::builder(ACCOUNT, "us-east-1").bootstrap(Ok(Some("33")), Ok(None), Ok(None)).build();
        let out = judge(&s, &f);
        assert_eq!(out[0].status, Status::Fail);
        assert!(matches!(said(&out[0]), Said::ToolkitStackMissing { stack, .. } if stack == "MyToolkit"), "{out:#?}");
    }

    #[test]
    fn a_bucket_key_that_cannot_serve_ends_the_check() {
        let stack = || Ok(Some(toolkit_stack(BUCKET, &[])));
        let judged = |f: FactsBuilder| judge(&spec(&[]), &f.build());
        // Its encryption not read.
        let out = judged(Facts::builder(ACCOUNT, "us-east-1").bootstrap(
            Ok(Some("33")),
            stack(),
            Err(denied("s3:GetEncryptionConfiguration")),
        ));
        assert_eq!(statuses(&out), [Status::Unknown]);
        assert!(matches!(last(&out), Said::EncryptionUnread { bucket, .. } if bucket == BUCKET), "{out:#?}");
        // Its key does not exist.
        let out = judged(Facts::builder(ACCOUNT, "us-east-1").bootstrap(Ok(Some("33")), stack(), Ok(Some(kms()))));
        assert_eq!(statuses(&out), [Status::Fail]);
        assert!(matches!(last(&out), Said::BucketKeyMissing { key, .. } if *key == key_arn()), "{out:#?}");
        assert_eq!(out[0].evidence.len(), 1);
        // Its key not read.
        let out =
            judged(Facts::builder(ACCOUNT, "us-east-1").key_error(&key_arn(), denied("kms:DescribeKey")).bootstrap(
                Ok(Some("33")),
                stack(),
                Ok(Some(kms())),
            ));
        assert_eq!(statuses(&out), [Status::Unknown]);
        assert!(
            matches!(last(&out), Said::BucketKeyUnread { unread, .. } if unread.denied_action.as_deref() == Some("kms:DescribeKey")),
            "{out:#?}"
        );
        // Its key disabled.
        let out =
            judged(roles(&cdk_key_policy(), KeyState::Disabled).bootstrap(Ok(Some("33")), stack(), Ok(Some(kms()))));
        assert_eq!(statuses(&out), [Status::Fail]);
        assert!(matches!(last(&out), Said::BucketKeyNotEnabled { state, .. } if state == "Disabled"), "{out:#?}");
        // Its key policy not read.
        let out = judged(
            roles(&cdk_key_policy(), KeyState::Enabled)
                .key_policy_error(&key_arn(), denied("kms:GetKeyPolicy"))
                .bootstrap(Ok(Some("33")), stack(), Ok(Some(kms()))),
        );
        assert_eq!(statuses(&out), [Status::Unknown]);
        assert!(
            matches!(last(&out), Said::KeyPolicyUnknown { key, why } if key.key_id == KEY_ID && why.contains("kms:GetKeyPolicy")),
            "{out:#?}"
        );
    }

    #[test]
    fn a_missing_bootstrap_role_fails_and_names_the_qualifier() {
        let f = roles(&cdk_key_policy(), KeyState::Enabled)
            .role_error(&role("cfn-exec-role"), FetchError::not_found("iam:GetRole", "no such role"))
            .bootstrap(Ok(Some("33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(Some(kms())))
            .build();
        let out = judge(&spec(&[]), &f);
        assert_eq!(statuses(&out), [Status::Pass, Status::Pass, Status::Pass, Status::Fail]);
        assert!(
            matches!(said(&out[3]), Said::RoleMissing { principal, environment }
                if principal.ends_with(&role("cfn-exec-role")) && environment.qualifier == "hnb659fds"),
            "{out:#?}"
        );
        assert_eq!(out[3].fix.as_deref(), Some("re-run cdk bootstrap aws://111111111111/us-east-1"));
    }

    #[test]
    fn unread_grants_leave_a_denied_use_unknown() {
        let f = roles(&admin_only(), KeyState::Enabled)
            .grants(&key_arn(), Err(denied("kms:ListGrants")))
            .bootstrap(Ok(Some("33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(Some(kms())))
            .build();
        let out = judge(&spec(&[]), &f);
        assert_eq!(statuses(&out), [Status::Unknown; 4]);
        assert!(
            out.iter().all(|f| matches!(said(f), Said::KeyUseUnknown { why, .. }
                if why.reasons.iter().any(|r| r.contains("grants of the key could not be read")))),
            "{out:#?}"
        );
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
        let trusted = |f: &Facts| -> Vec<(Status, Said)> {
            judge(&spec(&["222222222222"]), f)
                .into_iter()
                .filter(|f| f.principal.as_deref() == Some("account 222222222222"))
                .map(|f| (f.status, said(&f).clone()))
                .collect()
        };
        let account = || "222222222222".to_owned();
        // The current template's DenyExternalId condition: CDK passes no external id.
        assert_eq!(
            trusted(&with(json!({"Null": {"sts:ExternalId": "true"}}))),
            [
                (
                    Status::Pass,
                    Said::Trusted { role: BootstrapRole::DeployRole, name: deploy.clone(), account: account() }
                ),
                (
                    Status::Pass,
                    Said::Trusted {
                        role: BootstrapRole::FilePublishingRole,
                        name: publish.clone(),
                        account: account()
                    }
                ),
            ]
        );
        // A required external id: CDK's call carries none, so the trust does not hold.
        let no = trusted(&with(json!({"StringEquals": {"sts:ExternalId": "secret"}})));
        assert_eq!(no.iter().map(|x| x.0).collect::<Vec<_>>(), [Status::Fail, Status::Fail]);
        assert!(
            no.iter().all(|(_, s)| matches!(s, Said::NotTrusted { account, .. } if account == "222222222222")),
            "{no:#?}"
        );
        // A condition on what Preflight cannot know: unknown, never fail.
        let undecided = trusted(&with(json!({"StringEquals": {"aws:PrincipalOrgID": "o-123"}})));
        assert_eq!(undecided.iter().map(|x| x.0).collect::<Vec<_>>(), [Status::Unknown, Status::Unknown]);
        assert!(
            undecided
                .iter()
                .all(|(_, s)| matches!(s, Said::TrustUndecided { keys, .. } if keys == &["aws:principalorgid"])),
            "{undecided:#?}"
        );
        // Another account entirely.
        let other = env(&cdk_key_policy())
            .trust(&deploy, &trust_of("333333333333", json!({})))
            .trust(&publish, &trust_of("333333333333", json!({})))
            .build();
        let other = trusted(&other);
        assert_eq!(other.iter().map(|x| x.0).collect::<Vec<_>>(), [Status::Fail, Status::Fail]);
        assert!(other.iter().all(|(_, s)| matches!(s, Said::NotTrusted { .. })), "{other:#?}");
        // No trust policy read.
        let unread = trusted(&env(&cdk_key_policy()).build());
        assert_eq!(unread.iter().map(|x| x.0).collect::<Vec<_>>(), [Status::Unknown, Status::Unknown]);
        assert!(unread.iter().all(|(_, s)| matches!(s, Said::TrustPolicyNotRead { .. })), "{unread:#?}");
    }

    #[test]
    fn trust_is_judged_whatever_the_bucket_says_and_its_fix_keeps_the_qualifier() {
        let name = |kind: &str| format!("cdk-custom123-{kind}-{ACCOUNT}-us-east-1");
        let aes = BucketEncryption { algorithm: "AES256".into(), kms_key: None, bucket_key: false };
        let f = Facts::builder(ACCOUNT, "us-east-1")
            .role(&name("deploy-role"), &[])
            .role(&name("file-publishing-role"), &[])
            .trust(&name("deploy-role"), &trust_of("222222222222", json!({})))
            .trust(&name("file-publishing-role"), &trust_of("333333333333", json!({})))
            .bootstrap(Ok(Some("33")), Ok(Some(toolkit_stack(BUCKET, &[]))), Ok(Some(aes)))
            .build();
        let s = Spec::from_value(
            &json!({"Bootstrap": {"Qualifier": "custom123", "TrustedAccounts": ["222222222222"]}}),
            Origin::File,
        )
        .unwrap();
        let out = judge(&s, &f);
        assert_eq!(statuses(&out), [Status::Pass, Status::Pass, Status::Fail], "{out:#?}");
        assert!(matches!(&out[0].found, crate::said::Said::Bootstrap(Said::NoKmsKey { .. })), "{:?}", out[0].found);
        assert_eq!(
            out[2].fix.as_deref(),
            Some(
                "run cdk bootstrap aws://111111111111/us-east-1 --qualifier custom123 --trust 222222222222 --cloudformation-execution-policies ..."
            )
        );
    }
}
