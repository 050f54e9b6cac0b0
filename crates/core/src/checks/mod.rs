//! Judge: pure checks over fetched facts, one file per check.
//!
//! No I/O here. A check that ran and says no is a `fail` finding; a check that could not decide
//! (a read was denied, another account's policies cannot be read, a feature is not built yet) is an
//! `unknown` finding with the reason, never a pass.

mod bootstrap;
mod hosted_zone;
mod key_policy;
mod keys;
mod parameters;
mod secrets;

use std::collections::{BTreeMap, BTreeSet};

use crate::arn::{PrincipalArn, PrincipalKind};
use crate::facts::{Facts, KeyFacts};
use crate::facts::{FetchError, KeyManager};
use crate::kms::{self, Decision, Inputs, Outcome};
use crate::policy::{Context, Policy, Request};
use crate::report::{Access, Change, CheckKind, Finding, Status};
use crate::said::run::{self, Blocker, Section};
use crate::said::{KeyRef, PoliciesUnknown, Said};
use crate::spec::Spec;

/// Where the checks run: Preflight's account, region and partition.
pub(crate) struct Env<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub partition: &'a str,
}

/// Judges every section of `spec` against `facts`.
pub fn judge(spec: &Spec, facts: &Facts) -> Vec<Finding> {
    let env = match (&facts.identity, facts.region.as_deref()) {
        (Some(Ok(identity)), Some(region)) => {
            let partition = identity.arn.split(':').nth(1).unwrap_or("aws");
            Ok(Env { account: &identity.account, region, partition })
        }
        (Some(Err(e)), _) => Err(Blocker::Identity { unread: e.into() }),
        (Some(Ok(_)), None) => Err(Blocker::NoRegion),
        (None, _) => Err(Blocker::IdentityNotRead),
    };
    let env = match env {
        Ok(env) => env,
        Err(why) => return not_checked(spec, &why),
    };
    let mut findings = Vec::new();
    if let Some(b) = &spec.bootstrap {
        findings.extend(bootstrap::check(b, facts, &env));
    }
    findings.extend(parameters::check(&spec.parameters, facts, &env));
    findings.extend(secrets::check(&spec.secrets, facts, &env));
    findings.extend(keys::check(&spec.keys, facts, &env));
    findings.extend(key_policy::check(&spec.key_policies, facts, &env));
    for z in &spec.hosted_zones {
        findings.extend(hosted_zone::check(z, facts, env.account));
    }
    findings
}

/// Every section of `spec` as not checked, for the run's reason.
fn not_checked(spec: &Spec, why: &Blocker) -> Vec<Finding> {
    let one = |check: CheckKind, subject: String, what: Section| {
        Finding::new(check, subject, Status::Unknown, run::Said::NotChecked { what, why: why.clone() })
    };
    let mut findings = Vec::new();
    if let Some(b) = &spec.bootstrap {
        let what = Section::Bootstrap { qualifier: b.qualifier.clone() };
        findings.push(one(CheckKind::Bootstrap, b.toolkit_stack_name.clone(), what));
    }
    for z in &spec.hosted_zones {
        findings.push(one(
            CheckKind::HostedZone,
            z.zone_id.clone(),
            Section::HostedZone { zone_id: z.zone_id.clone() },
        ));
    }
    for p in &spec.parameters {
        findings.push(one(CheckKind::Parameter, p.name.clone(), Section::Parameter { name: p.name.clone() }));
    }
    for s in &spec.secrets {
        findings.push(one(CheckKind::Secret, s.id.clone(), Section::Secret { secret: s.id.clone() }));
    }
    for k in &spec.keys {
        findings.push(one(CheckKind::Key, k.key.to_string(), Section::Key { key: k.key.to_string() }));
    }
    for (index, _) in spec.key_policies.iter().enumerate() {
        findings.push(one(CheckKind::KeyPolicy, format!("KeyPolicies[{index}]"), Section::KeyPolicy { index }));
    }
    findings
}

/// What a finding is about: its check and subject. One constructor for every check's findings.
pub(crate) struct Item {
    pub check: CheckKind,
    pub subject: String,
}

impl Item {
    pub fn new(check: CheckKind, subject: impl Into<String>) -> Self {
        Self { check, subject: subject.into() }
    }

    /// A finding about this item: `found` is what it found, as data.
    pub fn said(
        &self,
        principal: Option<String>,
        status: Status,
        found: impl Into<Said>,
        evidence: Vec<String>,
    ) -> Finding {
        Finding { principal, evidence, ..Finding::new(self.check, self.subject.clone(), status, found) }
    }
}

/// What is known of a principal's own policies.
pub(crate) struct PrincipalPolicies {
    /// `None`: not known; `why` says why.
    pub identity: Option<Vec<Policy>>,
    pub boundary: Option<Policy>,
    pub why: Option<PoliciesUnknown>,
    /// The role does not exist.
    pub missing: bool,
    /// A role the stack creates with a generated name: its logical id.
    pub generated: Option<String>,
}

/// Reads a principal's identity policies and boundary from the facts.
pub(crate) fn principal_policies(p: &PrincipalArn, facts: &Facts, env: &Env<'_>) -> PrincipalPolicies {
    let unknown = |why: PoliciesUnknown| PrincipalPolicies {
        identity: None,
        boundary: None,
        why: Some(why),
        missing: false,
        generated: None,
    };
    if p.account().as_str() != env.account {
        return unknown(PoliciesUnknown::OtherAccount {
            principal: p.to_string(),
            account: p.account().to_string(),
            ours: env.account.to_owned(),
        });
    }
    let name = match p.kind() {
        PrincipalKind::Role { name, .. } => name,
        PrincipalKind::AssumedRole { role, .. } => role,
        PrincipalKind::Root => {
            return PrincipalPolicies {
                identity: Some(vec![]),
                boundary: None,
                why: None,
                missing: false,
                generated: None,
            };
        }
        PrincipalKind::User { .. } => {
            return unknown(PoliciesUnknown::User { principal: p.to_string() });
        }
    };
    let role = match facts.roles.get(name) {
        Some(Ok(role)) => role,
        Some(Err(FetchError::NotFound { .. })) => {
            return PrincipalPolicies {
                identity: None,
                boundary: None,
                why: Some(PoliciesUnknown::RoleMissing { role: name.to_string(), account: env.account.to_owned() }),
                missing: true,
                generated: None,
            };
        }
        Some(Err(e)) => return unknown(PoliciesUnknown::RoleUnread { role: name.to_string(), unread: e.into() }),
        None => return unknown(PoliciesUnknown::RoleNotRead { role: name.to_string() }),
    };
    let mut identity = Vec::new();
    let docs = role.inline.iter().map(|(n, d)| (format!("inline policy `{n}` of role {name}"), d)).chain(
        role.managed.iter().map(|(arn, d)| (format!("managed policy `{}`", arn.rsplit('/').next().unwrap_or(arn)), d)),
    );
    for (label, doc) in docs {
        match doc {
            Ok(text) => match Policy::parse(&label, &serde_json::Value::String(text.clone())) {
                Ok(p) => identity.push(p),
                Err(e) => return unknown(PoliciesUnknown::PolicyInvalid { error: e.to_string() }),
            },
            Err(e) => return unknown(PoliciesUnknown::PolicyUnread { policy: label, unread: e.into() }),
        }
    }
    let boundary = match &role.boundary {
        None => None,
        Some((arn, Ok(text))) => {
            match Policy::parse("permissions boundary", &serde_json::Value::String(text.clone())) {
                Ok(p) => Some(p),
                Err(e) => {
                    return unknown(PoliciesUnknown::BoundaryInvalid { boundary: arn.clone(), error: e.to_string() });
                }
            }
        }
        Some((arn, Err(e))) => {
            return unknown(PoliciesUnknown::BoundaryUnread { boundary: arn.clone(), unread: e.into() });
        }
    };
    PrincipalPolicies {
        identity: Some(identity),
        boundary,
        why: None,
        missing: false,
        generated: role.info.generated_from.clone(),
    }
}

/// A key as findings name it: the reference the user gave, with its id and manager.
pub(crate) fn key_label(reference: &str, facts: &KeyFacts) -> KeyRef {
    KeyRef {
        reference: reference.to_owned(),
        key_id: facts.info.key_id.clone(),
        aws_managed: facts.info.manager == KeyManager::Aws,
    }
}

/// A key that is not enabled: its state in words, and what can bring it back. `None` when it is
/// enabled.
pub(crate) fn not_enabled(key: &KeyFacts) -> Option<(String, crate::said::parameter::KeyRecovery)> {
    use crate::said::parameter::KeyRecovery;
    let recovery = match key.info.state {
        kms::KeyState::Enabled => return None,
        kms::KeyState::Disabled => KeyRecovery::Enable,
        kms::KeyState::PendingDeletion => KeyRecovery::CancelDeletion,
        _ => KeyRecovery::None,
    };
    Some((key.info.state.to_string(), recovery))
}

/// The worst status of a reader's `problems` (a pass when there are none), and the problems.
pub(crate) fn worst<P>(problems: Vec<(Status, P)>) -> (Status, Vec<P>) {
    let status = problems.iter().map(|(status, _)| *status).min().unwrap_or(Status::Pass);
    (status, problems.into_iter().map(|(_, p)| p).collect())
}

/// KMS's answer to a reader's kms:Decrypt (`outcome`) as one of its problems: none when allowed,
/// `unknown` when undecided, `refused` otherwise; each is given the key and why.
pub(crate) fn decrypt_problem<P>(
    outcome: &Outcome,
    key: &KeyRef,
    unknown: impl FnOnce(KeyRef, crate::said::NotAllowed) -> P,
    refused: impl FnOnce(KeyRef, crate::said::NotAllowed) -> P,
) -> Option<(Status, P)> {
    let (key, why) = (key.clone(), crate::said::NotAllowed::from(outcome));
    match outcome.decision {
        Decision::Allow if outcome.error.is_none() => None,
        Decision::Unknown => Some((Status::Unknown, unknown(key, why))),
        _ => Some((Status::Fail, refused(key, why))),
    }
}

/// The parsed key policy, or why it cannot be judged.
pub(crate) fn key_policy(facts: &KeyFacts) -> Result<Policy, String> {
    match &facts.policy {
        Ok(text) => {
            Policy::parse_key_policy("key policy", &serde_json::Value::String(text.clone())).map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("its key policy could not be read: {e}")),
    }
}

/// One KMS question about a key, with the principal's policies as far as they are known.
pub(crate) struct Question<'a> {
    pub principal: &'a PrincipalArn,
    pub action: &'a str,
    pub via_service: Option<&'a str>,
    pub encryption_context: &'a BTreeMap<String, String>,
    /// Condition keys present with a value not known before the deploy.
    pub unknown_context: &'a BTreeSet<String>,
    pub grant_for_aws_resource: bool,
}

/// No encryption context key of unknown value.
pub(crate) static NO_UNKNOWNS: BTreeSet<String> = BTreeSet::new();

impl<'a> Question<'a> {
    /// `principal` calling `action` through the service `via`, with encryption context `ec`.
    pub fn through(
        principal: &'a PrincipalArn,
        action: &'a str,
        via: &'a str,
        ec: &'a BTreeMap<String, String>,
    ) -> Self {
        Question {
            principal,
            action,
            via_service: Some(via),
            encryption_context: ec,
            unknown_context: &NO_UNKNOWNS,
            grant_for_aws_resource: false,
        }
    }
}

/// Marks the condition keys of `unknown` as present with values not known; an encryption context
/// key among them is one of the request's `kms:EncryptionContextKeys` too, beside those of `ec`.
pub(crate) fn unknown_context(ctx: &mut Context, unknown: &BTreeSet<String>, ec: &BTreeMap<String, String>) {
    const EC: &str = "kms:encryptioncontext:";
    let mut ec_keys: Vec<String> = Vec::new();
    for k in unknown {
        ctx.set_unknown(k);
        if let Some(name) = k.get(..EC.len()).filter(|p| p.eq_ignore_ascii_case(EC)).and_then(|_| k.get(EC.len()..)) {
            ec_keys.push(name.to_owned());
        }
    }
    if !ec_keys.is_empty() {
        ec_keys.extend(ec.keys().cloned());
        ctx.set_many("kms:EncryptionContextKeys", ec_keys);
    }
}

/// Decides a question with the evaluator.
pub(crate) fn ask(q: &Question<'_>, key: &KeyFacts, policy: &Policy, who: &PrincipalPolicies) -> Outcome {
    let mut ctx = Context::default();
    if let Some(via) = q.via_service {
        ctx.set("kms:ViaService", via);
    }
    if q.grant_for_aws_resource {
        ctx.set("kms:GrantIsForAWSResource", "true");
    }
    unknown_context(&mut ctx, q.unknown_context, q.encryption_context);
    kms::derive_context(&mut ctx, q.principal, &key.info.arn, q.encryption_context);
    let no_grants: &[kms::Grant] = &[];
    let mut outcome = kms::authorize(&Inputs {
        request: Request { principal: q.principal, action: q.action, resource: &key.info.arn, context: &ctx },
        encryption_context: q.encryption_context,
        key_policy: policy,
        key_state: key.info.state,
        identity_policies: who.identity.as_deref(),
        boundary: who.boundary.as_ref(),
        scps: &[],
        grants: key.grants.as_deref().unwrap_or(no_grants),
    });
    // Grants only allow: when they could not be read, a deny by the policies is not the answer,
    // since a grant may allow what the policies do not.
    if let (Err(e), Decision::ImplicitDeny) = (&key.grants, outcome.decision) {
        outcome.decision = Decision::Unknown;
        outcome.unknown_reasons.push(format!("the grants of the key could not be read, and a grant may allow it: {e}"));
    }
    outcome
}

/// A question and its key as finding data.
pub(crate) fn access(q: &Question<'_>, key: &KeyFacts) -> Access {
    Access {
        key: key.info.arn.clone(),
        action: q.action.to_owned(),
        via_service: q.via_service.map(str::to_owned),
        encryption_context: q.encryption_context.clone(),
        for_aws_resource: q.grant_for_aws_resource,
    }
}

/// The key-policy statement to add so that `q` is allowed, offered only when it is enough: the
/// question is asked again with the statement in the key policy, and must then be allowed (or,
/// for a principal of another account, be allowed as far as the key policy decides). It names the
/// role ARN for a session, as key policies do, and carries the question's service and encryption
/// context as conditions, so it grants no more than was asked.
/// With `pin_context` the encryption context becomes a condition too (a parameter's ARN, a context
/// the user gave); without it, it is only the sample the question was asked with (an S3 object).
pub(crate) fn key_policy_change(
    q: &Question<'_>,
    key: &KeyFacts,
    who: &PrincipalPolicies,
    pin_context: bool,
) -> Option<Change> {
    let text = key.policy.as_ref().ok()?;
    let mut doc: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut equals = serde_json::Map::new();
    if let Some(via) = q.via_service {
        equals.insert("kms:ViaService".into(), via.into());
    }
    for (k, v) in q.encryption_context.iter().filter(|_| pin_context) {
        equals.insert(format!("kms:EncryptionContext:{k}"), v.as_str().into());
    }
    let mut condition = serde_json::Map::new();
    if !equals.is_empty() {
        condition.insert("StringEquals".into(), serde_json::Value::Object(equals));
    }
    if q.grant_for_aws_resource {
        condition.insert("Bool".into(), serde_json::json!({"kms:GrantIsForAWSResource": "true"}));
    }
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"AWS": role_of(q.principal)},
        "Action": q.action,
        "Resource": "*",
    });
    if let (false, Some(m)) = (condition.is_empty(), statement.as_object_mut()) {
        m.insert("Condition".into(), serde_json::Value::Object(condition));
    }
    match doc.get_mut("Statement")? {
        serde_json::Value::Array(list) => list.push(statement.clone()),
        one => {
            let first = one.take();
            *one = serde_json::Value::Array(vec![first, statement.clone()]);
        }
    }
    let policy = Policy::parse_key_policy("key policy", &doc).ok()?;
    let o = ask(q, key, &policy, who);
    let enough = match o.decision {
        Decision::Allow => o.error.is_none(),
        // Another account's own IAM side is never known here: the key side is what this fixes.
        Decision::Unknown => who.identity.is_none() && o.error.is_none(),
        _ => false,
    };
    if !enough {
        return None;
    }
    // A role the stack creates with a generated name has no ARN to write yet: in the template's
    // KeyPolicy of a key the stack also creates, `Fn::GetAtt` names it; an existing key's policy
    // cannot name it before the deploy, so no statement is offered.
    let statement = match &who.generated {
        None => statement,
        Some(logical_id) if crate::arn::planned_key_name(&key.info.arn).is_some() => {
            let mut statement = statement;
            if let Some(m) = statement.as_object_mut() {
                m.insert("Principal".into(), serde_json::json!({"AWS": {"Fn::GetAtt": [logical_id, "Arn"]}}));
            }
            statement
        }
        Some(_) => return None,
    };
    Some(Change::KeyPolicyStatement { key: key.info.arn.clone(), statement })
}

/// The role ARN of a session (key policies name roles), else the principal itself.
pub(crate) fn role_of(p: &PrincipalArn) -> String {
    match p.kind() {
        PrincipalKind::AssumedRole { role, .. } => format!("arn:{}:iam::{}:role/{role}", p.partition(), p.account()),
        _ => p.to_string(),
    }
}

/// The deciding statements of an outcome as evidence lines.
pub(crate) fn evidence(o: &Outcome) -> Vec<String> {
    let mut e: Vec<String> = o.explanation.iter().map(ToString::to_string).collect();
    e.extend(o.unknown_reasons.iter().cloned());
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::KeyFacts;
    use crate::facts::{CallerIdentity, KeyInfo, ParameterInfo};
    use crate::kms::KeyState;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Spec {
        Spec::from_value(&v, crate::spec::Origin::File).unwrap()
    }

    fn facts() -> Facts {
        Facts {
            identity: Some(Ok(CallerIdentity {
                account: "111111111111".into(),
                arn: "arn:aws:sts::111111111111:assumed-role/preflight/x".into(),
            })),
            region: Some("us-east-1".into()),
            ..Facts::default()
        }
    }

    fn denied(action: &'static str) -> FetchError {
        FetchError::AccessDenied { action, message: "User is not authorized".into(), source: None }
    }

    #[test]
    fn a_denied_parameter_read_is_unknown_and_names_the_permission() {
        let s = spec(json!({"Parameters": [{"Name": "/a", "Readers": []}]}));
        let mut f = facts();
        f.parameters.insert("/a".into(), Err(denied("ssm:DescribeParameters")));
        let out = judge(&s, &f);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Unknown);
        assert!(
            out[0].message.contains("Preflight's role is not allowed `ssm:DescribeParameters`"),
            "{}",
            out[0].message
        );
        assert_eq!(out[0].fix.as_deref(), Some("allow ssm:DescribeParameters in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn a_denied_key_policy_read_is_unknown_and_the_run_goes_on() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": ["arn:aws:iam::111111111111:role/r"]}],
                            "Parameters": [{"Name": "/p", "Readers": []}]}));
        let mut f = facts();
        let info = KeyInfo {
            arn: "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            manager: KeyManager::Customer,
            state: KeyState::Enabled,
            usage: "ENCRYPT_DECRYPT".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
        };
        f.keys.insert(
            "alias/k".into(),
            Ok(KeyFacts { info, policy: Err(denied("kms:GetKeyPolicy")), grants: Ok(vec![]) }),
        );
        f.parameters.insert(
            "/p".into(),
            Ok(Some(ParameterInfo { name: "/p".into(), kind: "String".into(), key_id: None, tier: None })),
        );
        let out = judge(&s, &f);
        let key = out.iter().find(|x| x.check == CheckKind::Key).unwrap();
        assert_eq!(key.status, Status::Unknown);
        assert!(
            key.message
                .contains("its key policy could not be read: Preflight's role is not allowed `kms:GetKeyPolicy`"),
            "{}",
            key.message
        );
        let param = out.iter().find(|x| x.check == CheckKind::Parameter).unwrap();
        assert_eq!(param.status, Status::Fail, "the other checks still ran");
    }

    #[test]
    fn without_an_identity_every_section_is_unknown_with_the_reason() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": []}], "HostedZone": {"ZoneId": "Z1"}}));
        let f = Facts {
            identity: Some(Err(denied("sts:GetCallerIdentity"))),
            region: Some("us-east-1".into()),
            ..Facts::default()
        };
        let out = judge(&s, &f);
        assert_eq!(out.len(), 2);
        assert!(
            out.iter().all(|x| x.status == Status::Unknown && x.message.contains("could not identify the account"))
        );
    }

    #[test]
    fn a_role_in_another_account_is_decided_on_the_key_side_only() {
        let p = PrincipalArn::parse("arn:aws:iam::222222222222:role/scheduler").unwrap();
        let f = facts();
        let env = Env { account: "111111111111", region: "us-east-1", partition: "aws" };
        let who = principal_policies(&p, &f, &env);
        assert!(who.identity.is_none());
        assert!(
            who.why
                .unwrap()
                .to_string()
                .contains("live in account 222222222222 and cannot be read from account 111111111111")
        );
    }
}
