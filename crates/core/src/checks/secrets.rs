//! The secret check: each Secrets Manager secret exists under a usable key, and each reader may
//! read its value. Reading a value is secretsmanager:GetSecretValue, allowed by the reader's IAM
//! policies or the secret's resource policy (both, from another account), and kms:Decrypt of the
//! secret's key, which Secrets Manager calls on the reader's behalf, through
//! `secretsmanager.REGION.amazonaws.com`, with the secret's ARN as `SecretARN` in the encryption
//! context (Secrets Manager User Guide, "Secret encryption and decryption in AWS Secrets
//! Manager"). A secret under the AWS managed key `aws/secretsmanager` cannot be read from another
//! account (same guide, "Access AWS Secrets Manager secrets from a different account").
//! Preflight only describes the secret (DescribeSecret, GetResourcePolicy); it never reads a value.

use std::collections::BTreeMap;

use super::{
    Env, Item, PrincipalPolicies, Question, access, ask, decrypt_problem, evidence, key_label, key_policy,
    key_policy_change, not_enabled, principal_policies, role_of, worst,
};
use crate::arn::PrincipalArn;
use crate::facts::{Facts, FetchError, KeyFacts, KeyManager, SECRETS_MANAGER_KEY, SecretFacts};
use crate::kms::Outcome;
use crate::policy::{Context, Policy, Request, Tri, evaluate_with_resource};
use crate::report::{CheckKind, Finding, Status};
use crate::said::KeyRef;
use crate::said::secret::{Problem, Said};
use crate::spec::Secret;

type Stop = Box<Finding>;

fn item(s: &Secret) -> Item {
    Item::new(CheckKind::Secret, s.id.clone())
}

fn stop(s: &Secret, status: Status, found: Said) -> Stop {
    Box::new(item(s).said(None, status, found, vec![]))
}

/// Judges each secret: the rules of [`secret`], then each reader by [`reader`].
pub(crate) fn check(secrets: &[Secret], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    secrets.iter().flat_map(|s| secret(s, facts, env).unwrap_or_else(|stop| vec![*stop])).collect()
}

/// One secret, rule by rule; the first that fails ends it with its finding.
fn secret(s: &Secret, facts: &Facts, env: &Env<'_>) -> Result<Vec<Finding>, Stop> {
    let found = exists(s, facts, env)?;
    if found.info.pending_deletion {
        return Err(stop(s, Status::Fail, Said::SecretPendingDeletion { secret: s.id.clone() }));
    }
    let owner = account_of(&found.info.arn).unwrap_or(env.account);
    if found.info.kms_key_id.is_none() && owner != env.account {
        // Another account's aws/secretsmanager key: not this account's key of that alias.
        return Ok(s.readers.iter().map(|r| foreign_managed_key(s, r, owner)).collect());
    }
    let reference = found.info.kms_key_id.as_deref().unwrap_or(SECRETS_MANAGER_KEY);
    let key = key_exists(s, reference, facts)?;
    let label = key_label(reference, key);
    key_enabled(s, key, &label)?;
    if s.readers.is_empty() {
        return Ok(vec![item(s).said(
            None,
            Status::Pass,
            Said::Encrypted { secret: s.id.clone(), key: label },
            vec![],
        )]);
    }
    let policy = key_policy_known(s, key, &label)?;
    let resource = resource_policy(s, found)?;
    let readable = Readable::new(s, found, key, policy, resource, label, env);
    Ok(s.readers.iter().map(|r| reader(&readable, r, facts, env)).collect())
}

/// The account of a secret's ARN.
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| a.len() == 12)
}

/// A reader of another account's secret under that account's `aws/secretsmanager` key: a reader
/// outside that account can never read it; one inside is not judged from here.
fn foreign_managed_key(s: &Secret, reader: &PrincipalArn, owner: &str) -> Finding {
    let (secret, principal) = (s.id.clone(), Some(reader.to_string()));
    if reader.account().as_str() == owner {
        let found = Said::KeyNotRead { secret, key: format!("aws/secretsmanager of account {owner}") };
        return item(s).said(principal, Status::Unknown, found, vec![]);
    }
    let found = Said::ManagedKeyNotShared {
        reader: reader.to_string(),
        reader_account: reader.account().to_string(),
        secret,
        account: owner.to_owned(),
    };
    item(s).said(principal, Status::Fail, found, vec![])
}

/// The secret exists, and DescribeSecret read it.
fn exists<'a>(s: &Secret, facts: &'a Facts, env: &Env<'_>) -> Result<&'a SecretFacts, Stop> {
    let secret = s.id.clone();
    match facts.secrets.get(&s.id) {
        Some(Ok(Some(found))) => Ok(found),
        Some(Ok(None)) => Err(stop(
            s,
            Status::Fail,
            Said::SecretMissing { secret, account: env.account.to_owned(), region: env.region.to_owned() },
        )),
        Some(Err(e)) => Err(stop(s, Status::Unknown, Said::SecretUnread { secret, unread: e.into() })),
        None => Err(stop(s, Status::Unknown, Said::SecretNotRead { secret })),
    }
}

/// The secret's key exists, and DescribeKey read it. The AWS managed key exists once a secret uses
/// it: not finding it says nothing about the secret, so it is unknown, never a failure.
fn key_exists<'a>(s: &Secret, reference: &str, facts: &'a Facts) -> Result<&'a KeyFacts, Stop> {
    let (secret, key) = (s.id.clone(), reference.to_owned());
    match facts.keys.get(reference) {
        Some(Ok(k)) => Ok(k),
        Some(Err(e @ FetchError::NotFound { .. })) if reference != SECRETS_MANAGER_KEY => {
            Err(stop(s, Status::Fail, Said::KeyMissing { secret, key, error: e.to_string() }))
        }
        Some(Err(e)) => Err(stop(s, Status::Unknown, Said::KeyUnread { secret, key, unread: e.into() })),
        None => Err(stop(s, Status::Unknown, Said::KeyNotRead { secret, key })),
    }
}

/// The secret's key is enabled: under any other state no one can read the secret.
fn key_enabled(s: &Secret, key: &KeyFacts, label: &KeyRef) -> Result<(), Stop> {
    let Some((state, recovery)) = not_enabled(key) else { return Ok(()) };
    Err(stop(s, Status::Fail, Said::KeyNotEnabled { secret: s.id.clone(), key: label.clone(), state, recovery }))
}

/// The key policy was read and parses.
fn key_policy_known(s: &Secret, key: &KeyFacts, label: &KeyRef) -> Result<Policy, Stop> {
    key_policy(key).map_err(|why| {
        stop(s, Status::Unknown, Said::KeyPolicyUnknown { secret: s.id.clone(), key: label.clone(), why })
    })
}

/// The secret's resource policy, when it has one, read and parsed.
fn resource_policy(s: &Secret, found: &SecretFacts) -> Result<Option<Policy>, Stop> {
    let secret = s.id.clone();
    match &found.policy {
        Ok(None) => Ok(None),
        Ok(Some(text)) => {
            let name = format!("resource policy of secret {}", found.info.name);
            Policy::parse_key_policy(&name, &serde_json::Value::String(text.clone()))
                .map(Some)
                .map_err(|e| stop(s, Status::Unknown, Said::ResourcePolicyInvalid { secret, error: e.to_string() }))
        }
        Err(e) => Err(stop(s, Status::Unknown, Said::ResourcePolicyUnread { secret, unread: e.into() })),
    }
}

/// A secret under a usable key: what each reader is judged against.
struct Readable<'a> {
    s: &'a Secret,
    key: &'a KeyFacts,
    policy: Policy,
    resource: Option<Policy>,
    label: KeyRef,
    secret_arn: String,
    /// The secret's account (from its ARN), which may differ from Preflight's for a secret given
    /// by the ARN of another account's secret.
    account: String,
    /// The Secrets Manager endpoint of the secret's region, the `kms:ViaService` of its calls.
    via: String,
    /// The encryption context Secrets Manager decrypts with. `SecretVersionId` is left out: it
    /// differs for every version, and a key policy that pins it is not judged here.
    ec: BTreeMap<String, String>,
    partition: String,
}

impl<'a> Readable<'a> {
    fn new(
        s: &'a Secret,
        found: &'a SecretFacts,
        key: &'a KeyFacts,
        policy: Policy,
        resource: Option<Policy>,
        label: KeyRef,
        env: &Env<'_>,
    ) -> Self {
        let secret_arn = found.info.arn.clone();
        let region = secret_arn.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or(env.region).to_owned();
        let account = account_of(&secret_arn).unwrap_or(env.account).to_owned();
        let via = format!("secretsmanager.{region}.amazonaws.com");
        let ec = BTreeMap::from([("SecretARN".to_owned(), secret_arn.clone())]);
        Readable { s, key, policy, resource, label, secret_arn, account, via, ec, partition: env.partition.to_owned() }
    }
}

/// One reader: its role exists, a secret under `aws/secretsmanager` is read in its own account,
/// and the reader may call GetSecretValue and KMS allows it kms:Decrypt through Secrets Manager.
/// Both of these last two are judged, and the finding names every problem.
fn reader(r: &Readable<'_>, reader: &PrincipalArn, facts: &Facts, env: &Env<'_>) -> Finding {
    let who = principal_policies(reader, facts, env);
    let principal = Some(reader.to_string());
    let (name, reader_text) = (r.s.id.clone(), reader.to_string());
    if let (true, Some(why)) = (who.missing, &who.why) {
        let found = Said::ReaderMissing { reader: reader_text, secret: name, why: why.clone() };
        return item(r.s).said(principal, Status::Fail, found, vec![]);
    }
    if reader.account().as_str() != r.account && r.key.info.manager == KeyManager::Aws {
        let found = Said::ManagedKeyNotShared {
            reader: reader_text,
            reader_account: reader.account().to_string(),
            secret: name,
            account: r.account.clone(),
        };
        return item(r.s).said(principal, Status::Fail, found, vec![]);
    }
    let q = Question::through(reader, "kms:Decrypt", &r.via, &r.ec);
    let outcome = ask(&q, r.key, &r.policy, &who);
    let mut ev = evidence(&outcome);
    let mut problems = Vec::new();
    let (allowed_by, refused) = get_secret_value(r, reader, &who);
    ev.extend(allowed_by);
    problems.extend(refused);
    let refused = decrypt(r, reader, &outcome);
    let change = match &refused {
        Some((Status::Fail, _)) => key_policy_change(&q, r.key, &who, true),
        _ => None,
    };
    problems.extend(refused);
    let (status, problems) = worst(problems);
    let found = match status {
        Status::Pass => Said::CanRead { reader: reader_text, secret: name, key: r.label.clone() },
        Status::Fail => Said::CannotRead {
            reader: reader_text,
            secret: name,
            problems,
            partition: r.partition.clone(),
            account: r.account.clone(),
            key_arn: r.key.info.arn.clone(),
        },
        Status::Unknown => Said::ReadUnknown { reader: reader_text, secret: name, problems },
    };
    item(r.s)
        .said(principal, status, found, ev)
        .with_change(change)
        .with_access(access(&q, r.key), outcome.explanation.clone())
}

/// GetSecretValue: the reader's IAM policies (capped by its boundary) and the secret's resource
/// policy. The allowing statements as evidence lines when allowed; else what stops it.
fn get_secret_value(
    r: &Readable<'_>,
    reader: &PrincipalArn,
    who: &PrincipalPolicies,
) -> (Vec<String>, Option<(Status, Problem)>) {
    const ACTION: &str = "secretsmanager:GetSecretValue";
    let mut ctx = Context::default();
    crate::kms::derive_context(&mut ctx, reader, &r.key.info.arn, &BTreeMap::new());
    let req = Request { principal: reader, action: ACTION, resource: &r.secret_arn, context: &ctx };
    let same_account = reader.account().as_str() == r.account;
    let d =
        evaluate_with_resource(who.identity.as_deref(), who.boundary.as_ref(), r.resource.as_ref(), same_account, &req);
    let secret_arn = r.secret_arn.clone();
    let refused = match &d.allowed {
        Tri::Yes => return (d.deciding.iter().map(|x| format!("{ACTION} allowed by {x}")).collect(), None),
        Tri::No if d.explicit_deny => (
            Status::Fail,
            Problem::GetSecretValueDenied {
                secret_arn,
                denied_by: d.deciding.iter().map(ToString::to_string).collect(),
            },
        ),
        Tri::No if same_account => {
            (Status::Fail, Problem::GetSecretValueNotAllowed { secret_arn, role: role_of(reader) })
        }
        Tri::No if d.resource_allows.is_no() => {
            (Status::Fail, Problem::ResourcePolicyOmitsReader { secret_arn, role: role_of(reader) })
        }
        Tri::No => (Status::Fail, Problem::IdentityOmitsSecret { secret_arn }),
        Tri::Unknown(_) if who.identity.is_none() => (Status::Unknown, Problem::IamUnknown { why: who.why.clone() }),
        Tri::Unknown(_) => (Status::Unknown, Problem::GetSecretValueDependsOn { keys: d.allowed.unknown_keys() }),
    };
    (vec![], Some(refused))
}

/// KMS: the key allows the reader kms:Decrypt through Secrets Manager with the secret's
/// encryption context (`outcome`). None when it does; else what stops it.
fn decrypt(r: &Readable<'_>, reader: &PrincipalArn, outcome: &Outcome) -> Option<(Status, Problem)> {
    decrypt_problem(
        outcome,
        &r.label,
        |key, why| Problem::DecryptUnknown { key, why },
        |key, why| Problem::DecryptNotAllowed {
            key,
            why,
            role: role_of(reader),
            via: r.via.clone(),
            secret_arn: r.secret_arn.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{Facts, FactsBuilder, KeyManager, SECRETS_MANAGER_KEY};
    use crate::report::{Change, Finding, Status};
    use crate::said::secret::{Problem, Said as S};
    use crate::said::{PoliciesUnknown, Said};
    use crate::spec::{Origin, Spec};

    const ACCOUNT: &str = "111111111111";
    const READER: &str = "arn:aws:iam::111111111111:role/reader";
    const OTHER: &str = "arn:aws:iam::222222222222:role/reader";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:111111111111:secret:prod/db-AbCdEf";

    fn spec_for(readers: &[&str]) -> Spec {
        Spec::from_value(&json!({"Secrets": [{"SecretId": "prod/db", "Readers": readers}]}), Origin::File).unwrap()
    }

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn key_policy_naming(principal: &str) -> Value {
        policy(
            json!([{"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": principal}, "Action": "kms:Decrypt", "Resource": "*"}]),
        )
    }

    fn admin_only() -> Value {
        policy(json!([{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/admin"},
                       "Action": "kms:*", "Resource": "*"}]))
    }

    /// The AWS managed key's policy, as Secrets Manager creates it (Principal `*` through the
    /// service, for callers of this account).
    fn managed_policy() -> Value {
        policy(
            json!([{"Sid": "Allow access through AWS Secrets Manager for all principals in the account that are authorized to use AWS Secrets Manager",
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
            "Resource": "*", "Condition": {"StringEquals": {"kms:CallerAccount": "111111111111", "kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}]),
        )
    }

    fn reads_secrets() -> Value {
        policy(json!([{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]))
    }

    /// A secret under `alias/app`, and a reader whose IAM allows GetSecretValue.
    fn base(key_policy: &Value, resource_policy: Option<&Value>) -> FactsBuilder {
        Facts::builder(ACCOUNT, "us-east-1")
            .secret("prod/db", Some("alias/app"), resource_policy)
            .key("alias/app", KEY_ID, KeyManager::Customer, key_policy)
            .role("reader", &[("read", reads_secrets())])
    }

    fn findings(spec: &Spec, facts: &Facts) -> Vec<Finding> {
        judge(spec, facts)
    }

    fn one(spec: &Spec, facts: &Facts) -> Finding {
        let mut out = findings(spec, facts);
        assert_eq!(out.len(), 1, "{out:#?}");
        out.remove(0)
    }

    fn found(f: &Finding) -> &S {
        match &f.found {
            Said::Secret(said) => said,
            other => panic!("not a secret finding: {other:#?}"),
        }
    }

    fn problems(f: &Finding) -> &[Problem] {
        match found(f) {
            S::CannotRead { problems, .. } | S::ReadUnknown { problems, .. } => problems,
            other => panic!("not a reader's problems: {other:#?}"),
        }
    }

    #[test]
    fn a_reader_allowed_by_iam_and_named_by_the_key_policy_can_read() {
        let f = one(&spec_for(&[READER]), &base(&key_policy_naming(READER), None).build());
        assert_eq!(f.status, Status::Pass, "{f:#?}");
        assert!(matches!(found(&f), S::CanRead { reader, .. } if reader == READER));
        let access = f.access.unwrap();
        assert_eq!(access.via_service.as_deref(), Some("secretsmanager.us-east-1.amazonaws.com"));
        assert_eq!(access.encryption_context.get("SecretARN").map(String::as_str), Some(SECRET_ARN));
        assert_eq!(
            f.evidence,
            [
                "key policy statement `Reader` (Allow)",
                "secretsmanager:GetSecretValue allowed by inline policy `read` of role reader statement #1 (Allow)"
            ]
        );
    }

    #[test]
    fn under_aws_secretsmanager_a_reader_of_this_account_reads_through_the_service() {
        let facts = Facts::builder(ACCOUNT, "us-east-1")
            .secret("prod/db", None, None)
            .key(SECRETS_MANAGER_KEY, KEY_ID, KeyManager::Aws, &managed_policy())
            .role("reader", &[("read", reads_secrets())])
            .build();
        let f = one(&spec_for(&[READER]), &facts);
        assert_eq!(f.status, Status::Pass, "{f:#?}");
    }

    #[test]
    fn a_reader_without_get_secret_value_fails_naming_both_policies() {
        let facts = Facts::builder(ACCOUNT, "us-east-1")
            .secret("prod/db", Some("alias/app"), None)
            .key("alias/app", KEY_ID, KeyManager::Customer, &key_policy_naming(READER))
            .role(
                "reader",
                &[("other", policy(json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])))],
            )
            .build();
        let f = one(&spec_for(&[READER]), &facts);
        assert_eq!(f.status, Status::Fail);
        assert!(
            matches!(problems(&f), [Problem::GetSecretValueNotAllowed { secret_arn, .. }] if secret_arn == SECRET_ARN)
        );
        assert_eq!(
            f.fix.as_deref(),
            Some(format!("allow secretsmanager:GetSecretValue on {SECRET_ARN} in the role's IAM policy").as_str())
        );
    }

    #[test]
    fn in_the_secrets_account_a_resource_policy_naming_the_role_is_enough() {
        let resource = policy(json!([{"Sid": "App", "Effect": "Allow", "Principal": {"AWS": READER},
                                      "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]));
        let facts = Facts::builder(ACCOUNT, "us-east-1")
            .secret("prod/db", Some("alias/app"), Some(&resource))
            .key("alias/app", KEY_ID, KeyManager::Customer, &key_policy_naming(READER))
            .role("reader", &[])
            .build();
        let f = one(&spec_for(&[READER]), &facts);
        assert_eq!(f.status, Status::Pass, "{f:#?}");
        assert!(
            f.evidence.iter().any(|e| e.contains("resource policy of secret prod/db statement `App`")),
            "{:?}",
            f.evidence
        );
        // A deny in the resource policy wins over the role's own allow.
        let deny = policy(json!([{"Sid": "NoOne", "Effect": "Deny", "Principal": "*",
                                  "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]));
        let f = one(&spec_for(&[READER]), &base(&key_policy_naming(READER), Some(&deny)).build());
        assert_eq!(f.status, Status::Fail);
        assert!(
            matches!(problems(&f), [Problem::GetSecretValueDenied { denied_by, .. }] if denied_by[0].contains("`NoOne`"))
        );
    }

    #[test]
    fn a_key_policy_that_leaves_the_reader_out_gets_the_statement_pinned_to_the_secret() {
        let f = one(&spec_for(&[READER]), &base(&admin_only(), None).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(problems(&f), [Problem::DecryptNotAllowed { via, secret_arn, .. }]
            if via == "secretsmanager.us-east-1.amazonaws.com" && secret_arn == SECRET_ARN));
        assert_eq!(
            f.change,
            Some(Change::KeyPolicyStatement {
                key: format!("arn:aws:kms:us-east-1:111111111111:key/{KEY_ID}"),
                statement: json!({"Effect": "Allow", "Principal": {"AWS": READER}, "Action": "kms:Decrypt", "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
                        "kms:EncryptionContext:SecretARN": SECRET_ARN}}}),
            })
        );
    }

    #[test]
    fn another_account_never_reads_a_secret_under_aws_secretsmanager() {
        let facts = Facts::builder(ACCOUNT, "us-east-1")
            .secret("prod/db", None, None)
            .key(SECRETS_MANAGER_KEY, KEY_ID, KeyManager::Aws, &managed_policy())
            .build();
        let f = one(&spec_for(&[OTHER]), &facts);
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), S::ManagedKeyNotShared { reader_account, .. } if reader_account == "222222222222"));
        assert!(f.fix.unwrap().starts_with(
            "encrypt the secret under a customer managed key whose key policy allows account 222222222222"
        ));
    }

    #[test]
    fn another_account_needs_the_secrets_resource_policy_and_is_unknown_beyond_it() {
        // No resource policy: a reader of another account is refused whatever its own IAM says.
        let f = one(&spec_for(&[OTHER]), &base(&key_policy_naming(OTHER), None).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(problems(&f), [Problem::ResourcePolicyOmitsReader { .. }, ..]), "{f:#?}");
        // With it: the other account's IAM cannot be read from here, so the answer is unknown.
        let resource = policy(json!([{"Effect": "Allow", "Principal": {"AWS": "222222222222"},
                                      "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]));
        let f = one(&spec_for(&[OTHER]), &base(&key_policy_naming(OTHER), Some(&resource)).build());
        assert_eq!(f.status, Status::Unknown, "{f:#?}");
        assert!(
            matches!(problems(&f), [Problem::IamUnknown { why: Some(PoliciesUnknown::OtherAccount { .. }) }, ..]),
            "{f:#?}"
        );
    }

    #[test]
    fn a_missing_or_deleted_secret_fails_and_a_missing_managed_key_is_unknown() {
        let missing = Facts::builder(ACCOUNT, "us-east-1").build();
        let mut facts = missing.clone();
        facts.secrets.insert("prod/db".into(), Ok(None));
        let f = one(&spec_for(&[READER]), &facts);
        assert_eq!(
            (f.status, f.message.as_str()),
            (Status::Fail, "secret `prod/db` does not exist in account 111111111111 region us-east-1")
        );
        let mut facts = base(&admin_only(), None).build();
        if let Some(Ok(Some(s))) = facts.secrets.get_mut("prod/db") {
            s.info.pending_deletion = true;
        }
        let f = one(&spec_for(&[READER]), &facts);
        assert!(matches!(found(&f), S::SecretPendingDeletion { .. }));
        assert_eq!(f.status, Status::Fail);
        let mut facts = Facts::builder(ACCOUNT, "us-east-1").secret("prod/db", None, None).build();
        facts.keys.insert(
            SECRETS_MANAGER_KEY.into(),
            Err(crate::facts::FetchError::not_found("kms:DescribeKey", "alias not found")),
        );
        let f = one(&spec_for(&[READER]), &facts);
        assert_eq!(f.status, Status::Unknown, "the AWS managed key exists once a secret uses it: {f:#?}");
    }
}
