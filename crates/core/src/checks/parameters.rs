//! The parameter check (story 2): each SSM parameter exists, is a SecureString under a usable key,
//! and each reader may call ssm:GetParameter on it and kms:Decrypt its key through SSM with the
//! `PARAMETER_ARN` encryption context (KMS Developer Guide, "How AWS Systems Manager Parameter
//! Store uses AWS KMS"). Never reads a value.

use std::collections::BTreeMap;

use super::{
    Env, Item, PrincipalPolicies, Question, access, ask, decrypt_problem, evidence, key_label, key_policy,
    key_policy_change, not_enabled, principal_policies, role_of, worst,
};
use crate::arn::PrincipalArn;
use crate::facts::{Facts, FetchError, KeyFacts, ParameterInfo};
use crate::kms::Outcome;
use crate::policy::{Context, Policy, Request, Tri, evaluate_identity};
use crate::report::{CheckKind, Finding, Status};
use crate::said::KeyRef;
use crate::said::parameter::{Problem, Said};
use crate::spec::Parameter;

/// The finding of a rule that ends a parameter's check: nothing after it can be judged.
type Stop = Box<Finding>;

/// A finding of this check about `p`.
fn item(p: &Parameter) -> Item {
    Item::new(CheckKind::Parameter, p.name.clone())
}

/// A finding about the parameter as a whole, that ends its check.
fn stop(p: &Parameter, status: Status, found: Said) -> Stop {
    Box::new(item(p).said(None, status, found, vec![]))
}

/// Judges each parameter: the rules of [`parameter`], then each reader by [`reader`].
pub(crate) fn check(parameters: &[Parameter], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    parameters.iter().flat_map(|p| parameter(p, facts, env).unwrap_or_else(|stop| vec![*stop])).collect()
}

/// One parameter, rule by rule; the first that fails ends it with its finding.
fn parameter(p: &Parameter, facts: &Facts, env: &Env<'_>) -> Result<Vec<Finding>, Stop> {
    let info = exists(p, facts, env)?;
    let reference = secure_string(p, info)?;
    let key = key_exists(p, reference, facts)?;
    let label = key_label(reference, key);
    key_enabled(p, key, &label)?;
    let policy = key_policy_known(p, key, &label)?;
    if p.readers.is_empty() {
        return Ok(vec![encrypted(p, label)]);
    }
    let readable = Readable::new(p, info, key, policy, label, env);
    Ok(p.readers.iter().map(|r| reader(&readable, r, facts, env)).collect())
}

/// The parameter exists, and DescribeParameters read it.
fn exists<'a>(p: &Parameter, facts: &'a Facts, env: &Env<'_>) -> Result<&'a ParameterInfo, Stop> {
    let name = p.name.clone();
    match facts.parameters.get(&p.name) {
        Some(Ok(Some(info))) => Ok(info),
        Some(Ok(None)) => Err(stop(
            p,
            Status::Fail,
            Said::ParameterMissing { name, account: env.account.to_owned(), region: env.region.to_owned() },
        )),
        Some(Err(e)) => Err(stop(p, Status::Unknown, Said::ParameterUnread { name, unread: e.into() })),
        None => Err(stop(p, Status::Unknown, Said::ParameterNotRead { name })),
    }
}

/// The parameter is a SecureString (its value encrypted), and DescribeParameters names its key.
fn secure_string<'a>(p: &Parameter, info: &'a ParameterInfo) -> Result<&'a str, Stop> {
    let name = p.name.clone();
    if info.kind != "SecureString" {
        return Err(stop(p, Status::Fail, Said::NotSecureString { name, kind: info.kind.clone() }));
    }
    info.key_id.as_deref().ok_or_else(|| stop(p, Status::Unknown, Said::NoKeyNamed { name }))
}

/// The parameter's key exists, and DescribeKey read it.
fn key_exists<'a>(p: &Parameter, reference: &str, facts: &'a Facts) -> Result<&'a KeyFacts, Stop> {
    let (name, key) = (p.name.clone(), reference.to_owned());
    match facts.keys.get(reference) {
        Some(Ok(k)) => Ok(k),
        Some(Err(e @ FetchError::NotFound { .. })) => {
            Err(stop(p, Status::Fail, Said::KeyMissing { name, key, error: e.to_string() }))
        }
        Some(Err(e)) => Err(stop(p, Status::Unknown, Said::KeyUnread { name, key, unread: e.into() })),
        None => Err(stop(p, Status::Unknown, Said::KeyNotRead { name, key })),
    }
}

/// The parameter's key is enabled: under any other state no one can read the parameter.
fn key_enabled(p: &Parameter, key: &KeyFacts, label: &KeyRef) -> Result<(), Stop> {
    let Some((state, recovery)) = not_enabled(key) else { return Ok(()) };
    Err(stop(p, Status::Fail, Said::KeyNotEnabled { name: p.name.clone(), key: label.clone(), state, recovery }))
}

/// The key policy was read and parses: without it no reader can be judged.
fn key_policy_known(p: &Parameter, key: &KeyFacts, label: &KeyRef) -> Result<Policy, Stop> {
    key_policy(key).map_err(|why| {
        stop(p, Status::Unknown, Said::KeyPolicyUnknown { name: p.name.clone(), key: label.clone(), why })
    })
}

/// With no readers to judge: the parameter is a SecureString under an enabled key, a pass.
fn encrypted(p: &Parameter, key: KeyRef) -> Finding {
    item(p).said(None, Status::Pass, Said::Encrypted { name: p.name.clone(), key }, vec![])
}

/// A parameter under a usable key: what each reader is judged against.
struct Readable<'a> {
    p: &'a Parameter,
    info: &'a ParameterInfo,
    key: &'a KeyFacts,
    policy: Policy,
    label: KeyRef,
    parameter_arn: String,
    /// The SSM endpoint of the region, the `kms:ViaService` of SSM's calls.
    via: String,
    /// The encryption context SSM decrypts with.
    ec: BTreeMap<String, String>,
    partition: String,
    account: String,
}

impl<'a> Readable<'a> {
    fn new(
        p: &'a Parameter,
        info: &'a ParameterInfo,
        key: &'a KeyFacts,
        policy: Policy,
        label: KeyRef,
        env: &Env<'_>,
    ) -> Self {
        let parameter_arn = format!(
            "arn:{}:ssm:{}:{}:parameter/{}",
            env.partition,
            env.region,
            env.account,
            p.name.trim_start_matches('/')
        );
        let via = format!("ssm.{}.amazonaws.com", env.region);
        let ec = BTreeMap::from([("PARAMETER_ARN".to_owned(), parameter_arn.clone())]);
        Readable {
            p,
            info,
            key,
            policy,
            label,
            parameter_arn,
            via,
            ec,
            partition: env.partition.to_owned(),
            account: env.account.to_owned(),
        }
    }
}

/// One reader: its role exists, it is in this account unless the parameter can be shared, and
/// IAM allows it ssm:GetParameter and KMS kms:Decrypt through SSM. Both of these last two are
/// judged, and the finding names every problem.
fn reader(r: &Readable<'_>, reader: &PrincipalArn, facts: &Facts, env: &Env<'_>) -> Finding {
    let who = principal_policies(reader, facts, env);
    let principal = Some(reader.to_string());
    if let Some(found) = role_exists(r, reader, &who).or_else(|| shared(r, reader, env)) {
        return item(r.p).said(principal, Status::Fail, found, vec![]);
    }
    let q = Question::through(reader, "kms:Decrypt", &r.via, &r.ec);
    let outcome = ask(&q, r.key, &r.policy, &who);
    let mut ev = evidence(&outcome);
    let mut problems = Vec::new();
    let (allowed_by, refused) = get_parameter(r, reader, &who);
    ev.extend(allowed_by);
    problems.extend(refused);
    let refused = decrypt(r, reader, &outcome);
    let change = match &refused {
        Some((Status::Fail, _)) => key_policy_change(&q, r.key, &who, true),
        _ => None,
    };
    problems.extend(refused);
    let (status, problems) = worst(problems);
    let (reader, name) = (reader.to_string(), r.p.name.clone());
    let found = match status {
        Status::Pass => Said::CanRead { reader, name, key: r.label.clone() },
        Status::Fail => Said::CannotRead {
            reader,
            name,
            problems,
            partition: r.partition.clone(),
            account: r.account.clone(),
            key_arn: r.key.info.arn.clone(),
        },
        Status::Unknown => Said::ReadUnknown { reader, name, problems },
    };
    item(r.p)
        .said(principal, status, found, ev)
        .with_change(change)
        .with_access(access(&q, r.key), outcome.explanation.clone())
}

/// The reader's role exists.
fn role_exists(r: &Readable<'_>, reader: &PrincipalArn, who: &PrincipalPolicies) -> Option<Said> {
    match (who.missing, &who.why) {
        (true, Some(why)) => {
            Some(Said::ReaderMissing { reader: reader.to_string(), name: r.p.name.clone(), why: why.clone() })
        }
        _ => None,
    }
}

/// A reader of another account reads only an advanced-tier parameter: standard-tier parameters
/// cannot be shared.
fn shared(r: &Readable<'_>, reader: &PrincipalArn, env: &Env<'_>) -> Option<Said> {
    (reader.account().as_str() != env.account && r.info.tier.as_deref() != Some("Advanced")).then(|| {
        Said::StandardTierNotShared {
            reader: reader.to_string(),
            reader_account: reader.account().to_string(),
            name: r.p.name.clone(),
            account: env.account.to_owned(),
        }
    })
}

/// IAM: the reader's own policies (capped by its boundary) allow ssm:GetParameter on the
/// parameter. The allowing statements as evidence lines when they do; else what stops it.
fn get_parameter(
    r: &Readable<'_>,
    reader: &PrincipalArn,
    who: &PrincipalPolicies,
) -> (Vec<String>, Option<(Status, Problem)>) {
    let Some(identity) = &who.identity else {
        return (vec![], Some((Status::Unknown, Problem::IamUnknown { why: who.why.clone() })));
    };
    let mut ctx = Context::default();
    crate::kms::derive_context(&mut ctx, reader, &r.key.info.arn, &BTreeMap::new());
    let req = Request { principal: reader, action: "ssm:GetParameter", resource: &r.parameter_arn, context: &ctx };
    let g = evaluate_identity(identity, who.boundary.as_ref(), &req);
    let parameter_arn = r.parameter_arn.clone();
    let refused = match &g.allowed {
        Tri::Yes => {
            return (g.deciding.iter().map(|d| format!("ssm:GetParameter allowed by {d}")).collect(), None);
        }
        Tri::No if g.explicit_deny => {
            let denied_by = g.deciding.iter().map(ToString::to_string).collect();
            (Status::Fail, Problem::GetParameterDenied { parameter_arn, denied_by })
        }
        Tri::No => (Status::Fail, Problem::GetParameterNotAllowed { parameter_arn }),
        Tri::Unknown(_) => (Status::Unknown, Problem::GetParameterDependsOn { keys: g.allowed.unknown_keys() }),
    };
    (vec![], Some(refused))
}

/// KMS: the key allows the reader kms:Decrypt through SSM with the parameter's encryption
/// context (`outcome`). None when it does; else what stops it.
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
            parameter_arn: r.parameter_arn.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{Facts, FactsBuilder, FetchError, KeyManager, denied};
    use crate::kms::KeyState;
    use crate::report::{Change, Finding, Status};
    use crate::said::parameter::{KeyRecovery, Problem, Said as P};
    use crate::said::{PoliciesUnknown, Said, Unread};
    use crate::spec::{Origin, Spec};

    const ACCOUNT: &str = "111111111111";
    const READER: &str = "arn:aws:iam::111111111111:role/reader";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    const PARAMETER_ARN: &str = "arn:aws:ssm:us-east-1:111111111111:parameter/app/db/password";

    fn spec() -> Spec {
        spec_for(&[READER])
    }

    fn spec_for(readers: &[&str]) -> Spec {
        Spec::from_value(&json!({"Parameters": [{"Name": "/app/db/password", "Readers": readers}]}), Origin::File)
            .unwrap()
    }

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn admin_only() -> Value {
        policy(json!([{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/admin"},
                       "Action": "kms:*", "Resource": "*"}]))
    }

    fn names_reader() -> Value {
        policy(
            json!([{"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": READER}, "Action": "kms:Decrypt", "Resource": "*"}]),
        )
    }

    /// A SecureString under `alias/app` and a reader whose IAM allows ssm:GetParameter.
    fn base(key_policy: &Value) -> FactsBuilder {
        Facts::builder(ACCOUNT, "us-east-1")
            .parameter("/app/db/password", "SecureString", Some("alias/app"))
            .key("alias/app", KEY_ID, KeyManager::Customer, key_policy)
            .role(
                "reader",
                &[("read", json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]}))],
            )
    }

    fn one(facts: &Facts) -> Finding {
        one_of(&spec(), facts)
    }

    fn one_of(spec: &Spec, facts: &Facts) -> Finding {
        let mut out = judge(spec, facts);
        assert_eq!(out.len(), 1, "{out:#?}");
        out.remove(0)
    }

    /// What the finding found, as this check's data.
    fn found(f: &Finding) -> &P {
        match &f.found {
            Said::Parameter(said) => said,
            other => panic!("not a parameter finding: {other:#?}"),
        }
    }

    /// The problems of a reader that cannot read, or whose reading is unknown.
    fn problems(f: &Finding) -> &[Problem] {
        match found(f) {
            P::CannotRead { problems, .. } | P::ReadUnknown { problems, .. } => problems,
            other => panic!("not a reader's problems: {other:#?}"),
        }
    }

    #[test]
    fn a_reader_the_key_policy_names_can_read() {
        let f = one(&base(&names_reader()).build());
        assert_eq!(f.status, Status::Pass, "{f:#?}");
        assert!(matches!(found(&f), P::CanRead { reader, key, .. } if reader == READER && key.key_id == KEY_ID));
        let access = f.access.unwrap();
        assert_eq!(access.action, "kms:Decrypt");
        assert_eq!(access.via_service.as_deref(), Some("ssm.us-east-1.amazonaws.com"));
        assert_eq!(access.encryption_context.get("PARAMETER_ARN").map(String::as_str), Some(PARAMETER_ARN));
        assert_eq!(f.deciding.iter().map(|d| d.sid.as_deref()).collect::<Vec<_>>(), [Some("Reader")]);
        assert_eq!(
            f.evidence,
            [
                "key policy statement `Reader` (Allow)",
                "ssm:GetParameter allowed by inline policy `read` of role reader statement #1 (Allow)"
            ]
        );
    }

    #[test]
    fn a_reader_the_key_policy_leaves_out_fails_with_the_statement_that_fixes_it() {
        let f = one(&base(&admin_only()).build());
        assert_eq!(f.status, Status::Fail);
        assert!(
            matches!(problems(&f), [Problem::DecryptNotAllowed { role, via, parameter_arn, .. }]
                if role == READER && via == "ssm.us-east-1.amazonaws.com" && parameter_arn == PARAMETER_ARN),
            "{f:#?}"
        );
        assert_eq!(
            f.change,
            Some(Change::KeyPolicyStatement {
                key: format!("arn:aws:kms:us-east-1:111111111111:key/{KEY_ID}"),
                statement: json!({"Effect": "Allow", "Principal": {"AWS": READER}, "Action": "kms:Decrypt", "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": PARAMETER_ARN}}}),
            })
        );
        // With the statement as the change, the text keeps only the other ways out.
        assert_eq!(
            f.fix.as_deref(),
            Some(
                "where the key policy delegates to IAM (an arn:aws:iam::111111111111:root statement), allow kms:Decrypt on arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab in the role's IAM policy; or re-create the parameter under alias/aws/ssm (a parameter's key cannot be changed in place)"
            )
        );
    }

    #[test]
    fn a_boundary_that_caps_the_role_gets_no_key_policy_statement_that_would_not_help() {
        let boundary =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]});
        let f = one(&base(&admin_only()).boundary("reader", &boundary).build());
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.change, None, "a statement naming the role is capped by its boundary: not offered");
        assert!(matches!(problems(&f), [Problem::DecryptNotAllowed { why, .. }] if !why.reasons.is_empty()));
        assert!(f.fix.as_deref().is_some_and(|fix| fix.starts_with("add a key-policy statement")), "{:?}", f.fix);
    }

    #[test]
    fn a_session_is_offered_a_statement_for_its_role() {
        let session = "arn:aws:sts::111111111111:assumed-role/reader/sess";
        let boundary =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]});
        let f = one_of(&spec_for(&[session]), &base(&admin_only()).boundary("reader", &boundary).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(problems(&f), [Problem::DecryptNotAllowed { role, .. }] if role == READER), "{f:#?}");
        assert!(f.fix.as_deref().is_some_and(|fix| fix.contains(&format!("kms:Decrypt for {READER} with"))));
    }

    #[test]
    fn an_unread_parameter_is_unknown_and_names_the_permission() {
        let f =
            one(&base(&names_reader()).parameter_error("/app/db/password", denied("ssm:DescribeParameters")).build());
        assert_eq!(f.status, Status::Unknown);
        assert!(matches!(found(&f), P::ParameterUnread { unread: Unread { denied_action: Some(a), .. }, .. }
            if a == "ssm:DescribeParameters"));
        assert_eq!(f.fix.as_deref(), Some("allow ssm:DescribeParameters in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn a_parameter_that_was_never_read_is_unknown() {
        let mut facts = base(&names_reader()).build();
        facts.parameters.clear();
        let f = one(&facts);
        assert_eq!(f.status, Status::Unknown);
        assert!(matches!(found(&f), P::ParameterNotRead { name } if name == "/app/db/password"));
        assert_eq!(f.fix, None);
    }

    #[test]
    fn a_parameter_that_does_not_exist_fails() {
        let f = one(&base(&names_reader()).no_parameter("/app/db/password").build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::ParameterMissing { account, region, .. }
            if account == ACCOUNT && region == "us-east-1"));
        assert_eq!(f.message, "parameter `/app/db/password` does not exist in account 111111111111 region us-east-1");
    }

    #[test]
    fn a_plain_string_fails_as_unencrypted() {
        let f = one(&base(&names_reader()).parameter("/app/db/password", "String", None).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::NotSecureString { kind, .. } if kind == "String"));
        let json = serde_json::to_value(&f.found).unwrap();
        assert_eq!(json, json!({"kind": "not-secure-string", "name": "/app/db/password", "type": "String"}));
    }

    #[test]
    fn a_secure_string_without_a_key_is_unknown_not_aws_ssm() {
        let f = one(&base(&names_reader()).parameter("/app/db/password", "SecureString", None).build());
        assert_eq!(f.status, Status::Unknown);
        assert!(matches!(found(&f), P::NoKeyNamed { .. }));
        assert!(f.message.contains("DescribeParameters named no key"), "{}", f.message);
    }

    #[test]
    fn a_key_that_does_not_exist_fails() {
        let facts = base(&names_reader())
            .key_error("alias/app", FetchError::not_found("kms:DescribeKey", "no such key"))
            .build();
        let f = one(&facts);
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::KeyMissing { key, .. } if key == "alias/app"));
    }

    #[test]
    fn an_unread_key_or_key_policy_is_unknown() {
        let f = one(&base(&names_reader()).key_error("alias/app", denied("kms:DescribeKey")).build());
        assert_eq!(f.status, Status::Unknown, "{f:#?}");
        assert!(matches!(found(&f), P::KeyUnread { key, unread: Unread { denied_action: Some(a), .. }, .. }
            if key == "alias/app" && a == "kms:DescribeKey"));
        let mut facts = base(&names_reader()).build();
        facts.keys.clear();
        let f = one(&facts);
        assert_eq!(f.status, Status::Unknown, "{f:#?}");
        assert!(matches!(found(&f), P::KeyNotRead { key, .. } if key == "alias/app"));
        let f = one(&base(&names_reader()).key_policy_error("alias/app", denied("kms:GetKeyPolicy")).build());
        assert_eq!(f.status, Status::Unknown, "{f:#?}");
        assert!(
            matches!(found(&f), P::KeyPolicyUnknown { why, .. } if why.contains("its key policy could not be read"))
        );
        assert!(f.message.contains("its key policy could not be read"), "{}", f.message);
    }

    #[test]
    fn unread_grants_make_a_deny_unknown_but_leave_an_allow_alone() {
        let f = one(&base(&admin_only()).grants("alias/app", Err(denied("kms:ListGrants"))).build());
        assert_eq!(f.status, Status::Unknown, "a grant could allow it: {f:#?}");
        assert!(
            matches!(problems(&f), [Problem::DecryptUnknown { why, .. }]
                if why.reasons.iter().any(|r| r.contains("the grants of the key could not be read"))),
            "{f:#?}"
        );
        assert!(f.message.contains("the grants of the key could not be read"), "{}", f.message);
        let f = one(&base(&names_reader()).grants("alias/app", Err(denied("kms:ListGrants"))).build());
        assert_eq!(f.status, Status::Pass);
        assert!(matches!(found(&f), P::CanRead { .. }));
    }

    #[test]
    fn an_unread_role_is_unknown_and_a_missing_role_fails() {
        let unread = base(&names_reader()).role_error("reader", denied("iam:GetRole")).build();
        let f = one(&unread);
        assert_eq!(f.status, Status::Unknown);
        assert!(matches!(problems(&f), [Problem::IamUnknown { why: Some(PoliciesUnknown::RoleUnread { role, .. }) }]
            if role == "reader"));
        let missing =
            base(&names_reader()).role_error("reader", FetchError::not_found("iam:GetRole", "no such role")).build();
        let f = one(&missing);
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::ReaderMissing { why: PoliciesUnknown::RoleMissing { role, .. }, .. }
            if role == "reader"));
        assert!(f.message.contains("does not exist"), "{}", f.message);
    }

    #[test]
    fn a_disabled_key_fails_for_everyone() {
        let facts = base(&names_reader())
            .key_in_state("alias/app", KEY_ID, KeyManager::Customer, KeyState::Disabled, &names_reader())
            .build();
        let f = one(&facts);
        assert_eq!(f.status, Status::Fail);
        assert!(
            matches!(found(&f), P::KeyNotEnabled { state, recovery: KeyRecovery::Enable, .. } if state == "Disabled")
        );
        assert!(f.message.contains("is Disabled"), "{}", f.message);
    }

    #[test]
    fn a_key_pending_deletion_can_be_recovered_and_an_unavailable_one_cannot() {
        let pending = base(&names_reader())
            .key_in_state("alias/app", KEY_ID, KeyManager::Customer, KeyState::PendingDeletion, &names_reader())
            .build();
        let f = one(&pending);
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::KeyNotEnabled { recovery: KeyRecovery::CancelDeletion, .. }));
        let unavailable = base(&names_reader())
            .key_in_state("alias/app", KEY_ID, KeyManager::Customer, KeyState::Unavailable, &names_reader())
            .build();
        let f = one(&unavailable);
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::KeyNotEnabled { recovery: KeyRecovery::None, .. }));
        assert_eq!(f.fix.as_deref(), Some("re-create the parameter under a usable key"));
    }

    #[test]
    fn without_readers_a_secure_string_under_an_enabled_key_passes() {
        let f = one_of(&spec_for(&[]), &base(&admin_only()).build());
        assert_eq!(f.status, Status::Pass);
        assert_eq!(f.principal, None);
        assert!(matches!(found(&f), P::Encrypted { key, .. } if key.reference == "alias/app"));
    }

    #[test]
    fn a_reader_of_another_account_needs_an_advanced_tier_parameter() {
        let other = "arn:aws:iam::222222222222:role/x";
        let f = one_of(&spec_for(&[other]), &base(&names_reader()).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(found(&f), P::StandardTierNotShared { reader_account, account, .. }
            if reader_account == "222222222222" && account == ACCOUNT));
        let mut advanced = base(&admin_only()).build();
        for info in advanced.parameters.values_mut().flatten().flatten() {
            info.tier = Some("Advanced".into());
        }
        let f = one_of(&spec_for(&[other]), &advanced);
        assert_eq!(f.status, Status::Fail, "{f:#?}");
        assert!(matches!(
            problems(&f),
            [
                Problem::IamUnknown { why: Some(PoliciesUnknown::OtherAccount { .. }) },
                Problem::DecryptNotAllowed { .. }
            ]
        ));
    }

    #[test]
    fn iam_that_denies_or_does_not_allow_get_parameter_fails_and_a_condition_leaves_it_unknown() {
        let allow = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]});
        let deny = json!({"Version": "2012-10-17", "Statement": [{"Sid": "NoSsm", "Effect": "Deny", "Action": "ssm:GetParameter", "Resource": "*"}]});
        let f = one(&base(&names_reader()).role("reader", &[("read", allow), ("deny", deny)]).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(problems(&f), [Problem::GetParameterDenied { denied_by, .. }]
            if denied_by == &["inline policy `deny` of role reader statement `NoSsm` (Deny)"]));
        let f = one(&base(&names_reader()).role("reader", &[]).build());
        assert_eq!(f.status, Status::Fail);
        assert!(
            matches!(problems(&f), [Problem::GetParameterNotAllowed { parameter_arn }] if parameter_arn == PARAMETER_ARN)
        );
        assert_eq!(f.change, None);
        assert_eq!(
            f.fix.as_deref(),
            Some(
                "allow ssm:GetParameter on arn:aws:ssm:us-east-1:111111111111:parameter/app/db/password in the role's IAM policy"
            )
        );
        let conditional = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]});
        let f = one(&base(&names_reader()).role("reader", &[("c", conditional)]).build());
        assert_eq!(f.status, Status::Unknown);
        assert!(matches!(problems(&f), [Problem::GetParameterDependsOn { keys }] if keys == &["aws:sourceip"]));
        assert_eq!(f.fix, None);
    }

    #[test]
    fn both_refusals_are_named_and_the_text_keeps_what_else_must_change() {
        let f = one(&base(&admin_only()).role("reader", &[]).build());
        assert_eq!(f.status, Status::Fail);
        assert!(matches!(problems(&f), [Problem::GetParameterNotAllowed { .. }, Problem::DecryptNotAllowed { .. }]));
        assert!(f.change.is_some());
        assert_eq!(
            f.message,
            "`arn:aws:iam::111111111111:role/reader` cannot read parameter `/app/db/password`: no IAM policy of the role allows ssm:GetParameter on `arn:aws:ssm:us-east-1:111111111111:parameter/app/db/password`; kms:Decrypt of key `alias/app` (customer managed key 1234abcd-12ab-34cd-56ef-1234567890ab) through SSM is not allowed: key policy: no statement allows kms:Decrypt for `arn:aws:iam::111111111111:role/reader`, directly or through its account"
        );
        assert_eq!(
            f.fix.as_deref(),
            Some(
                "allow ssm:GetParameter on arn:aws:ssm:us-east-1:111111111111:parameter/app/db/password in the role's IAM policy; where the key policy delegates to IAM (an arn:aws:iam::111111111111:root statement), allow kms:Decrypt on arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab in the role's IAM policy; or re-create the parameter under alias/aws/ssm (a parameter's key cannot be changed in place)"
            )
        );
    }
}
