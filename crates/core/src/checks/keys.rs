//! The key check (stories 4, 5, 6): every principal x action of a key requirement, through the
//! service and with the encryption context given; `ForAwsResources` adds CreateGrant with
//! `kms:GrantIsForAWSResource` (EBS, RDS); `SharedWithAccounts` checks what restoring a shared
//! snapshot needs of the key policy, and that the key is not AWS managed.

use std::collections::BTreeMap;

use super::{
    Env, Item, PrincipalPolicies, Question, access, ask, evidence, key_label, key_policy, key_policy_change,
    principal_policies,
};
use crate::arn::{AccountId, PrincipalArn};
use crate::facts::{Facts, FetchError, KeyFacts, KeyManager};
use crate::kms::{Decision, KeyState};
use crate::policy::Policy;
use crate::report::{CheckKind, Finding, Status};
use crate::said::key::{KeyUse, Refused, Said, Undecided};
use crate::said::{KeyRef, NotAllowed};
use crate::spec::KeyRequirement;

/// What restoring or copying a snapshot shared under a key needs of the key in the other account
/// (RDS: Decrypt, DescribeKey, CreateGrant; EBS copy: DescribeKey, CreateGrant, ReEncryptFrom).
const SHARED_SNAPSHOT_ACTIONS: &[&str] = &["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncryptFrom"];

/// The findings of a key requirement are about its key, as the user referred to it.
fn item(k: &KeyRequirement) -> Item {
    Item::new(CheckKind::Key, k.key.to_string())
}

/// A key as read, ready to judge: its facts, how findings name it, and its parsed key policy.
struct Key<'a> {
    facts: &'a KeyFacts,
    label: KeyRef,
    policy: Policy,
}

/// Each key requirement, rule by rule: the key can be read and its policy judged; each principal
/// can use it for each action; each account it is shared with can restore snapshots under it;
/// and, when neither principals nor accounts are asked, the key is enabled.
pub(crate) fn check(keys: &[KeyRequirement], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for k in keys {
        let key = match readable(k, facts, env) {
            Ok(key) => key,
            Err(not_judged) => {
                out.push(*not_judged);
                continue;
            }
        };
        for principal in &k.principals {
            out.extend(principal_uses(k, &key, principal, facts, env));
        }
        for service in &k.services {
            out.extend(questions(k).into_iter().map(|(action, _)| service_use(k, &key, service, action)));
        }
        for account in &k.shared_with_accounts {
            out.extend(shared_with(k, &key, account, env));
        }
        if k.principals.is_empty() && k.services.is_empty() && k.shared_with_accounts.is_empty() {
            out.push(enabled(k, &key));
        }
    }
    out
}

/// Rule: the key exists and was read, and so was its policy; else the one finding saying why
/// nothing else about it can be judged.
fn readable<'a>(k: &KeyRequirement, facts: &'a Facts, env: &Env<'_>) -> Result<Key<'a>, Box<Finding>> {
    let reference = k.key.to_string();
    let not_judged = |status: Status, found: Said| Box::new(item(k).said(None, status, found, vec![]));
    let key = match facts.keys.get(&reference) {
        Some(Ok(key)) => key,
        Some(Err(e @ FetchError::NotFound { .. })) => {
            let found = Said::KeyMissing {
                reference,
                account: env.account.to_owned(),
                region: env.region.to_owned(),
                error: e.to_string(),
            };
            return Err(not_judged(Status::Fail, found));
        }
        Some(Err(e)) => return Err(not_judged(Status::Unknown, Said::KeyUnread { reference, unread: e.into() })),
        None => return Err(not_judged(Status::Unknown, Said::KeyNotRead { reference })),
    };
    let label = key_label(&reference, key);
    match key_policy(key) {
        Ok(policy) => Ok(Key { facts: key, label, policy }),
        Err(why) => Err(not_judged(Status::Unknown, Said::KeyPolicyUnknown { key: label, why })),
    }
}

/// Rule: `principal` can use the key for each action asked; a role that does not exist cannot
/// use it at all (one finding).
fn principal_uses(
    k: &KeyRequirement,
    key: &Key<'_>,
    principal: &PrincipalArn,
    facts: &Facts,
    env: &Env<'_>,
) -> Vec<Finding> {
    let who = principal_policies(principal, facts, env);
    if let (true, Some(why)) = (who.missing, who.why.clone()) {
        let found = Said::PrincipalMissing { principal: principal.to_string(), key: key.label.clone(), why };
        return vec![item(k).said(Some(principal.to_string()), Status::Fail, found, vec![])];
    }
    questions(k)
        .into_iter()
        .map(|(action, for_aws_resources)| key_use(k, key, principal, &who, action, for_aws_resources))
        .collect()
}

/// The actions asked of each principal, each with whether it is a grant for AWS resources: the
/// requirement's actions, where with `ForAwsResources` kms:CreateGrant is asked for AWS resources
/// (and added when not listed).
fn questions(k: &KeyRequirement) -> Vec<(&str, bool)> {
    let mut questions: Vec<(&str, bool)> =
        k.actions.iter().map(|a| (a.as_str(), k.for_aws_resources && a == "kms:CreateGrant")).collect();
    if k.for_aws_resources && !k.actions.iter().any(|a| a == "kms:CreateGrant") {
        questions.push(("kms:CreateGrant", true));
    }
    questions
}

/// Rule: `principal` can call `action` on the key, through the service and with the encryption
/// context given. Allowed; allowed but refused by KMS (the key's state); unknown; or denied, with
/// the key-policy statement that would allow it when the key's policy can be changed.
fn key_use(
    k: &KeyRequirement,
    key: &Key<'_>,
    principal: &PrincipalArn,
    who: &PrincipalPolicies,
    action: &str,
    for_aws_resources: bool,
) -> Finding {
    let q = Question {
        principal,
        action,
        via_service: k.via_service.as_deref(),
        encryption_context: &k.encryption_context,
        unknown_context: &k.unknown_context,
        grant_for_aws_resource: for_aws_resources,
    };
    let o = ask(&q, key.facts, &key.policy, who);
    let used = KeyUse {
        principal: principal.to_string(),
        action: action.to_owned(),
        for_aws_resources,
        key: key.label.clone(),
        via: k.via_service.clone(),
    };
    let (status, found, change) = match (o.decision, o.error) {
        (Decision::Allow, None) => (Status::Pass, Said::KeyUseAllowed { used }, None),
        (Decision::Allow, Some(error)) => (Status::Fail, Said::KeyUseFails { used, error }, None),
        (Decision::Unknown, _) => (Status::Unknown, Said::KeyUseUnknown { used, why: NotAllowed::from(&o) }, None),
        _ => {
            let change = match key.facts.info.manager {
                KeyManager::Aws => None,
                KeyManager::Customer => key_policy_change(&q, key.facts, who, true),
            };
            let key_arn = key.facts.info.arn.clone();
            let other_account = principal.account().as_str() != crate::kms::key_account(&key_arn).unwrap_or("");
            let found = Said::KeyUseDenied { used, why: NotAllowed::from(&o), key_arn, other_account };
            (Status::Fail, found, change)
        }
    };
    item(k)
        .said(Some(principal.to_string()), status, found, evidence(&o))
        .with_change(change)
        .with_access(access(&q, key.facts), o.explanation.clone())
}

/// Asks whether the service principal `service` may call `action` on the key under `policy`.
fn ask_service(k: &KeyRequirement, key: &Key<'_>, policy: &Policy, service: &str, action: &str) -> crate::kms::Outcome {
    let mut ctx = crate::policy::Context::default();
    super::unknown_context(&mut ctx, &k.unknown_context, &k.encryption_context);
    crate::kms::derive_service_context(&mut ctx, service, &key.facts.info.arn, &k.encryption_context);
    crate::kms::authorize_service(&crate::kms::ServiceInputs {
        service,
        action,
        resource: &key.facts.info.arn,
        context: &ctx,
        key_policy: policy,
        key_state: key.facts.info.state,
    })
}

/// Rule (`Services`): the service principal `service` can call `action` on the key, which only
/// the key policy can allow (a service principal has no IAM identity). When it cannot, the
/// statement to add names the service and pins the encryption context the service sends, and is
/// checked to be enough before it is offered.
fn service_use(k: &KeyRequirement, key: &Key<'_>, service: &str, action: &str) -> Finding {
    let o = ask_service(k, key, &key.policy, service, action);
    let used = KeyUse {
        principal: service.to_owned(),
        action: action.to_owned(),
        for_aws_resources: false,
        key: key.label.clone(),
        via: None,
    };
    let (status, found, change) = match (o.decision, o.error) {
        (Decision::Allow, None) => (Status::Pass, Said::ServiceUseAllowed { used }, None),
        (Decision::Allow, Some(error)) => (Status::Fail, Said::ServiceUseFails { used, error }, None),
        (Decision::Unknown, _) => (Status::Unknown, Said::ServiceUseUnknown { used, why: NotAllowed::from(&o) }, None),
        _ => {
            let change = match key.facts.info.manager {
                KeyManager::Aws => None,
                KeyManager::Customer => service_statement(k, key, service, action),
            };
            (Status::Fail, Said::ServiceUseDenied { used, why: NotAllowed::from(&o) }, change)
        }
    };
    let access = crate::report::Access {
        key: key.facts.info.arn.clone(),
        action: action.to_owned(),
        via_service: None,
        encryption_context: k.encryption_context.clone(),
        for_aws_resource: false,
    };
    item(k)
        .said(Some(service.to_owned()), status, found, evidence(&o))
        .with_change(change)
        .with_access(access, o.explanation)
}

/// The key-policy statement allowing `service` to call `action`, with the known encryption context
/// as a condition; offered only when, added to the key policy, it makes the call allowed.
fn service_statement(k: &KeyRequirement, key: &Key<'_>, service: &str, action: &str) -> Option<crate::report::Change> {
    let mut doc: serde_json::Value = serde_json::from_str(key.facts.policy.as_ref().ok()?).ok()?;
    let mut statement = serde_json::json!({
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": action,
        "Resource": "*",
    });
    if !k.encryption_context.is_empty() {
        let equals: serde_json::Map<String, serde_json::Value> = k
            .encryption_context
            .iter()
            .map(|(c, v)| (format!("kms:EncryptionContext:{c}"), serde_json::Value::from(v.as_str())))
            .collect();
        if let Some(m) = statement.as_object_mut() {
            m.insert("Condition".into(), serde_json::json!({"StringEquals": equals}));
        }
    }
    match doc.get_mut("Statement")? {
        serde_json::Value::Array(list) => list.push(statement.clone()),
        one => {
            let first = one.take();
            *one = serde_json::Value::Array(vec![first, statement.clone()]);
        }
    }
    let policy = Policy::parse_key_policy("key policy", &doc).ok()?;
    let o = ask_service(k, key, &policy, service, action);
    (o.decision == Decision::Allow && o.error.is_none())
        .then(|| crate::report::Change::KeyPolicyStatement { key: key.facts.info.arn.clone(), statement })
}

/// Rule (`SharedWithAccounts`): `account` can restore snapshots shared under the key. Never under
/// an AWS managed key; else the key policy must allow a stand-in role of that account, whose own
/// IAM allows everything (the other account's IAM is its own business), every action restoring
/// needs. No finding when no stand-in can be named.
fn shared_with(k: &KeyRequirement, key: &Key<'_>, account: &AccountId, env: &Env<'_>) -> Option<Finding> {
    let principal = Some(format!("account {account}"));
    let (account, label) = (account.to_string(), key.label.clone());
    if key.facts.info.manager == KeyManager::Aws {
        let found = Said::SharedUnderAwsManagedKey { account, key: label, ours: env.account.to_owned() };
        return Some(item(k).said(principal, Status::Fail, found, vec![]));
    }
    let stand_in =
        PrincipalArn::parse(&format!("arn:{}:iam::{account}:role/SharedSnapshotRestore", env.partition)).ok()?;
    let who = allowed_everything();
    let ec = BTreeMap::new();
    let (mut missing, mut undecided, mut refused, mut ev) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for action in SHARED_SNAPSHOT_ACTIONS {
        let q = Question {
            principal: &stand_in,
            action,
            via_service: None,
            encryption_context: &ec,
            unknown_context: &super::NO_UNKNOWNS,
            grant_for_aws_resource: *action == "kms:CreateGrant",
        };
        let o = ask(&q, key.facts, &key.policy, &who);
        let action = (*action).to_owned();
        match (o.decision, o.error) {
            (Decision::Allow, None) => ev.extend(evidence(&o)),
            (Decision::Allow, Some(error)) => refused.push(Refused { action, error }),
            (Decision::Unknown, _) => undecided.push(Undecided { action, why: NotAllowed::from(&o) }),
            _ => missing.push(action),
        }
    }
    let (status, found) = if !refused.is_empty() {
        (Status::Fail, Said::SharedRestoreFails { account, key: label, refused })
    } else if !missing.is_empty() {
        let partition = env.partition.to_owned();
        (Status::Fail, Said::SharedRestoreNotAllowed { account, key: label, missing, partition })
    } else if !undecided.is_empty() {
        (Status::Unknown, Said::SharedRestoreUnknown { account, key: label, undecided })
    } else {
        (Status::Pass, Said::SharedRestoreAllowed { account, key: label })
    };
    Some(item(k).said(principal, status, found, ev))
}

/// The policies of a stand-in principal whose own IAM allows every KMS action.
fn allowed_everything() -> PrincipalPolicies {
    PrincipalPolicies {
        identity: Policy::parse(
            "stand-in",
            &serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
        )
        .ok()
        .map(|p| vec![p]),
        boundary: None,
        why: None,
        missing: false,
        generated: None,
    }
}

/// Rule, when neither principals nor accounts are asked: the key is enabled, since no
/// cryptographic operation works with it otherwise.
fn enabled(k: &KeyRequirement, key: &Key<'_>) -> Finding {
    let label = key.label.clone();
    match key.facts.info.state {
        KeyState::Enabled => item(k).said(None, Status::Pass, Said::KeyEnabled { key: label }, vec![]),
        state => {
            let found = Said::KeyNotEnabled { key: label, state: state.to_string() };
            item(k).said(None, Status::Fail, found, vec![])
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{Facts, FetchError, KeyManager, denied};
    use crate::kms::{KeyState, KmsError};
    use crate::report::{Finding, Report, Status};
    use crate::said::key::{KeyUse, Refused, Said as KeySaid};
    use crate::said::{PoliciesUnknown, Said};
    use crate::spec::{OnUnknown, Origin, Spec};

    const APP: &str = "arn:aws:iam::111111111111:role/app";
    const OTHER: &str = "arn:aws:iam::222222222222:role/scheduler";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn spec(v: Value) -> Spec {
        Spec::from_value(&v, Origin::File).unwrap()
    }

    fn key_policy(principal: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": principal},
               "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    }

    /// A policy that lets account 222222222222 do `actions`.
    fn sharing(actions: &[&str]) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": actions, "Resource": "*"}]})
    }

    fn facts(policy: &Value) -> Facts {
        Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Customer, policy)
            .role("app", &[])
            .build()
    }

    /// What the key check found.
    fn found(f: &Finding) -> &KeySaid {
        match &f.found {
            Said::Key(s) => s,
            other => panic!("not a key finding: {other:?}"),
        }
    }

    #[test]
    fn principals_and_actions_each_get_a_finding_with_their_data() {
        let s =
            spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "Actions": ["kms:Encrypt", "kms:Decrypt"]}]}));
        let out = judge(&s, &facts(&key_policy(APP)));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass, Status::Pass]);
        let actions: Vec<&str> = out.iter().filter_map(|f| f.access.as_ref()).map(|a| a.action.as_str()).collect();
        assert_eq!(actions, ["kms:Encrypt", "kms:Decrypt"]);
        let allowed: Vec<&str> = out
            .iter()
            .filter_map(|f| match found(f) {
                KeySaid::KeyUseAllowed {
                    used: KeyUse { principal, action, for_aws_resources: false, key, via: None },
                } if principal == APP && key.key_id == KEY_ID => Some(action.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(allowed, ["kms:Encrypt", "kms:Decrypt"]);
    }

    #[test]
    fn a_principal_left_out_fails_once_per_action_and_one_statement_fixes_both() {
        let s =
            spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "Actions": ["kms:Encrypt", "kms:Decrypt"]}]}));
        let out = judge(&s, &facts(&key_policy("arn:aws:iam::111111111111:role/other")));
        assert!(out.iter().all(|f| f.status == Status::Fail));
        assert!(out.iter().all(|f| matches!(found(f), KeySaid::KeyUseDenied { other_account: false, .. })), "{out:#?}");
        let report = Report::new(out, OnUnknown::Warn);
        let causes = report.causes();
        assert_eq!(causes.len(), 1);
        let Some(crate::report::Change::KeyPolicyStatement { statement, .. }) = &causes[0].change else {
            panic!("no change: {causes:#?}")
        };
        assert_eq!(statement["Principal"]["AWS"], APP);
        assert_eq!(statement["Action"], json!(["kms:Encrypt", "kms:Decrypt"]));
    }

    #[test]
    fn a_key_with_nothing_to_check_passes_only_when_enabled() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "SharedWithAccounts": []}]}));
        let enabled = judge(&s, &facts(&key_policy(APP)));
        assert_eq!(enabled.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass]);
        assert!(matches!(found(&enabled[0]), KeySaid::KeyEnabled { .. }), "{enabled:#?}");
        let disabled = Facts::builder("111111111111", "us-east-1")
            .key_in_state("alias/k", KEY_ID, KeyManager::Customer, KeyState::PendingDeletion, &key_policy(APP))
            .build();
        let out = judge(&s, &disabled);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Fail);
        assert!(matches!(found(&out[0]), KeySaid::KeyNotEnabled { state, .. } if state == "PendingDeletion"));
        assert!(out[0].message.contains("is PendingDeletion"), "{}", out[0].message);
    }

    #[test]
    fn an_unread_key_is_unknown_naming_the_permission() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP]}]}));
        let f = Facts::builder("111111111111", "us-east-1").key_error("alias/k", denied("kms:DescribeKey")).build();
        let out = judge(&s, &f);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Unknown);
        assert!(matches!(found(&out[0]), KeySaid::KeyUnread { reference, unread }
            if reference == "alias/k" && unread.denied_action.as_deref() == Some("kms:DescribeKey")));
        assert_eq!(out[0].fix.as_deref(), Some("allow kms:DescribeKey in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn a_key_that_does_not_exist_fails_and_one_never_read_is_unknown() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP]}]}));
        let f = Facts::builder("111111111111", "us-east-1")
            .key_error("alias/k", FetchError::not_found("kms:DescribeKey", "Alias not found"))
            .build();
        let out = judge(&s, &f);
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail]);
        assert!(matches!(found(&out[0]), KeySaid::KeyMissing { reference, account, region, .. }
            if reference == "alias/k" && account == "111111111111" && region == "us-east-1"));
        let out = judge(&s, &Facts::builder("111111111111", "us-east-1").build());
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Unknown]);
        assert!(matches!(found(&out[0]), KeySaid::KeyNotRead { reference } if reference == "alias/k"));
    }

    #[test]
    fn a_key_policy_that_cannot_be_read_leaves_the_key_unjudged() {
        let s =
            spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "Actions": ["kms:Encrypt", "kms:Decrypt"]}]}));
        let f = Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Customer, &key_policy(APP))
            .key_policy_error("alias/k", denied("kms:GetKeyPolicy"))
            .build();
        let out = judge(&s, &f);
        assert_eq!(
            out.iter().map(|f| f.status).collect::<Vec<_>>(),
            [Status::Unknown],
            "one finding, not one per action"
        );
        assert!(matches!(found(&out[0]), KeySaid::KeyPolicyUnknown { key, why }
            if key.key_id == KEY_ID && why.starts_with("its key policy could not be read")));
    }

    #[test]
    fn a_role_that_does_not_exist_cannot_use_the_key_once_for_all_actions() {
        let ghost = "arn:aws:iam::111111111111:role/ghost";
        let s = spec(
            json!({"Keys": [{"Key": "alias/k", "Principals": [ghost], "Actions": ["kms:Encrypt", "kms:Decrypt"]}]}),
        );
        let f = Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Customer, &key_policy(ghost))
            .role_error("ghost", FetchError::not_found("iam:GetRole", "no such role"))
            .build();
        let out = judge(&s, &f);
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail]);
        assert!(
            matches!(found(&out[0]), KeySaid::PrincipalMissing { principal, why: PoliciesUnknown::RoleMissing { role, .. }, .. }
            if principal == ghost && role == "ghost")
        );
        assert_eq!(out[0].fix.as_deref(), Some("create the role or correct the ARN"));
    }

    #[test]
    fn for_aws_resources_asks_create_grant_for_aws_resources_once() {
        let all = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": APP}, "Action": "kms:*", "Resource": "*"}]});
        let asked = |actions: Value| {
            let s = spec(
                json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "Actions": actions, "ForAwsResources": true}]}),
            );
            judge(&s, &facts(&all))
                .iter()
                .map(|f| match found(f) {
                    KeySaid::KeyUseAllowed { used: KeyUse { action, for_aws_resources, .. } } => {
                        (action.clone(), *for_aws_resources)
                    }
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            asked(json!(["kms:Decrypt"])),
            [("kms:Decrypt".to_owned(), false), ("kms:CreateGrant".to_owned(), true)]
        );
        assert_eq!(
            asked(json!(["kms:CreateGrant", "kms:Decrypt"])),
            [("kms:CreateGrant".to_owned(), true), ("kms:Decrypt".to_owned(), false)]
        );
    }

    #[test]
    fn an_allowed_use_of_a_disabled_key_fails_with_the_exception_kms_returns() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP]}]}));
        let f = Facts::builder("111111111111", "us-east-1")
            .key_in_state("alias/k", KEY_ID, KeyManager::Customer, KeyState::Disabled, &key_policy(APP))
            .role("app", &[])
            .build();
        let out = judge(&s, &f);
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail]);
        assert!(matches!(found(&out[0]), KeySaid::KeyUseFails { error: KmsError::DisabledException, .. }));
        assert_eq!(out[0].fix.as_deref(), Some("enable the key (aws kms enable-key)"));
    }

    #[test]
    fn unread_grants_make_a_denial_unknown() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP]}]}));
        let f = Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Customer, &key_policy("arn:aws:iam::111111111111:role/other"))
            .grants("alias/k", Err(denied("kms:ListGrants")))
            .role("app", &[])
            .build();
        let out = judge(&s, &f);
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Unknown]);
        assert!(matches!(found(&out[0]), KeySaid::KeyUseUnknown { why, .. }
            if why.reasons.iter().any(|r| r.starts_with("the grants of the key could not be read"))));
    }

    #[test]
    fn a_use_denied_through_a_service_names_the_service_and_offers_no_statement_against_a_deny() {
        let denying = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": APP}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "No", "Effect": "Deny", "Principal": {"AWS": APP}, "Action": "kms:Decrypt", "Resource": "*"}]});
        let s = spec(
            json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "ViaService": "rds.us-east-1.amazonaws.com"}]}),
        );
        let out = judge(&s, &facts(&denying));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail]);
        assert!(matches!(found(&out[0]), KeySaid::KeyUseDenied { used: KeyUse { via: Some(via), .. }, why, .. }
            if via == "rds.us-east-1.amazonaws.com" && !why.denied_by.is_empty()));
        assert!(out[0].change.is_none(), "a statement cannot undo an explicit deny");
        assert_eq!(
            out[0].message,
            format!(
                "`{APP}` cannot kms:Decrypt with key `alias/k` (customer managed key {KEY_ID}) through rds: denied explicitly by key policy statement `No` (Deny)"
            )
        );
        assert!(out[0].fix.as_deref().unwrap().contains(" with kms:ViaService rds.us-east-1.amazonaws.com;"));
    }

    #[test]
    fn a_use_denied_by_an_aws_managed_key_gets_no_statement() {
        let s = spec(json!({"Keys": [{"Key": "alias/aws/s3", "Principals": [APP]}]}));
        let f = Facts::builder("111111111111", "us-east-1")
            .key("alias/aws/s3", KEY_ID, KeyManager::Aws, &key_policy("arn:aws:iam::111111111111:role/other"))
            .role("app", &[])
            .build();
        let out = judge(&s, &f);
        assert!(matches!(found(&out[0]), KeySaid::KeyUseDenied { used: KeyUse { key, .. }, .. } if key.aws_managed));
        assert!(out[0].change.is_none());
        assert!(out[0].fix.as_deref().unwrap().starts_with("an AWS managed key's policy cannot be changed"));
    }

    #[test]
    fn sharing_an_aws_managed_key_always_fails_and_a_customer_key_is_judged_on_its_policy() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "SharedWithAccounts": ["222222222222"]}]}));
        let managed = Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Aws, &key_policy(APP))
            .build();
        let out = judge(&s, &managed);
        assert_eq!(out[0].status, Status::Fail);
        assert!(matches!(found(&out[0]), KeySaid::SharedUnderAwsManagedKey { account, ours, .. }
            if account == "222222222222" && ours == "111111111111"));
        assert!(out[0].message.contains("is AWS managed"), "{}", out[0].message);
        let all = sharing(&["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"]);
        let out = judge(&s, &facts(&all));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass], "{out:#?}");
        assert!(matches!(found(&out[0]), KeySaid::SharedRestoreAllowed { account, .. } if account == "222222222222"));
    }

    #[test]
    fn sharing_names_the_actions_the_key_policy_lacks_then_those_kms_refuses_then_the_undecided() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "SharedWithAccounts": ["222222222222"]}]}));
        let out = judge(&s, &facts(&sharing(&["kms:Decrypt"])));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail]);
        assert!(matches!(found(&out[0]), KeySaid::SharedRestoreNotAllowed { missing, partition, .. }
            if missing == &["kms:DescribeKey", "kms:CreateGrant", "kms:ReEncryptFrom"] && partition == "aws"));

        let all = sharing(&["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"]);
        let disabled = Facts::builder("111111111111", "us-east-1")
            .key_in_state("alias/k", KEY_ID, KeyManager::Customer, KeyState::Disabled, &all)
            .build();
        let out = judge(&s, &disabled);
        let refused = |action: &str| Refused { action: action.to_owned(), error: KmsError::DisabledException };
        assert!(matches!(found(&out[0]), KeySaid::SharedRestoreFails { refused: r, .. }
            if r == &[refused("kms:Decrypt"), refused("kms:ReEncryptFrom")]));

        let unread_grants = Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Customer, &sharing(&["kms:Decrypt"]))
            .grants("alias/k", Err(denied("kms:ListGrants")))
            .build();
        let out = judge(&s, &unread_grants);
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Unknown]);
        let KeySaid::SharedRestoreUnknown { undecided, .. } = found(&out[0]) else { panic!("{out:#?}") };
        let actions: Vec<&str> = undecided.iter().map(|u| u.action.as_str()).collect();
        assert_eq!(actions, ["kms:DescribeKey", "kms:CreateGrant", "kms:ReEncryptFrom"]);
    }

    #[test]
    fn a_principal_of_another_account_gets_the_key_side_statement_and_the_iam_side_in_words() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [OTHER], "Actions": ["kms:Decrypt"]}]}));
        let out = judge(&s, &facts(&key_policy(APP)));
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            matches!(found(&out[0]), KeySaid::KeyUseDenied { used: KeyUse { principal, .. }, other_account: true, .. } if principal == OTHER)
        );
        assert!(out[0].change.is_some(), "{out:#?}");
        assert!(out[0].fix.as_deref().unwrap().contains("its own IAM policy must also allow kms:Decrypt"));
    }
}
