//! The key check (stories 4, 5, 6): every principal x action of a key requirement, through the
//! service and with the encryption context given; `ForAwsResources` adds CreateGrant with
//! `kms:GrantIsForAWSResource` (EBS, RDS); `SharedWithAccounts` checks what restoring a shared
//! snapshot needs of the key policy, and that the key is not AWS managed.

use std::collections::BTreeMap;

use super::{
    Env, Item, PrincipalPolicies, Question, access, ask, evidence, key_label, key_policy, key_policy_change,
    principal_policies, why_not,
};
use crate::arn::PrincipalArn;
use crate::facts::Facts;
use crate::facts::{FetchError, KeyManager};
use crate::kms::{Decision, KeyState, KmsError};
use crate::policy::Policy;
use crate::report::{CheckKind, Finding, Status};
use crate::spec::KeyRequirement;

/// What restoring or copying a snapshot shared under a key needs of the key in the other account
/// (RDS: Decrypt, DescribeKey, CreateGrant; EBS copy: DescribeKey, CreateGrant, ReEncryptFrom).
const SHARED_SNAPSHOT_ACTIONS: &[&str] = &["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncryptFrom"];

fn item(k: &KeyRequirement) -> Item {
    Item::new(CheckKind::Key, k.key.to_string())
}

pub(crate) fn check(keys: &[KeyRequirement], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    keys.iter().flat_map(|k| one(k, facts, env)).collect()
}

fn one(k: &KeyRequirement, facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let reference = k.key.to_string();
    let key = match facts.keys.get(&reference) {
        Some(Ok(key)) => key,
        Some(Err(e @ FetchError::NotFound { .. })) => {
            return vec![item(k).finding(
                None,
                Status::Fail,
                format!(
                    "key `{reference}` does not exist in account {} region {} (or is not visible to Preflight): {e}",
                    env.account, env.region
                ),
                Some("correct the key reference, or create the key".into()),
                vec![],
            )];
        }
        Some(Err(e)) => {
            return vec![item(k).unread(&format!("key `{reference}` was not checked"), e)];
        }
        None => {
            return vec![item(k).unknown(format!("key `{reference}` was not read"))];
        }
    };
    let label = key_label(&reference, key).to_string();
    let policy = match key_policy(key) {
        Ok(p) => p,
        Err(why) => {
            return vec![item(k).unknown(format!("key {label} was not checked: {why}"))];
        }
    };
    let mut out = Vec::new();
    for principal in &k.principals {
        let who = principal_policies(principal, facts, env);
        if who.missing {
            out.push(item(k).finding(
                Some(principal.to_string()),
                Status::Fail,
                format!(
                    "`{principal}` cannot use key {label}: {}",
                    who.why.as_ref().map(ToString::to_string).unwrap_or_default()
                ),
                Some("create the role or correct the ARN".into()),
                vec![],
            ));
            continue;
        }
        let mut questions: Vec<(String, bool)> = k.actions.iter().map(|a| (a.clone(), false)).collect();
        if k.for_aws_resources && !k.actions.iter().any(|a| a == "kms:CreateGrant") {
            questions.push(("kms:CreateGrant".into(), true));
        } else if k.for_aws_resources {
            for q in questions.iter_mut().filter(|(a, _)| a == "kms:CreateGrant") {
                q.1 = true;
            }
        }
        for (action, for_resource) in questions {
            out.push(principal_action(k, key, &label, &policy, principal, &who, &action, for_resource));
        }
    }
    out.extend(shared(k, key, &label, &policy, env));
    if k.principals.is_empty() && k.shared_with_accounts.is_empty() {
        out.push(if key.info.state == KeyState::Enabled {
            item(k).finding(None, Status::Pass, format!("key {label} exists and is enabled"), None, vec![])
        } else {
            item(k).finding(
                None,
                Status::Fail,
                format!("key {label} exists but is {}: no cryptographic operation works with it", key.info.state),
                Some("enable the key, or cancel its deletion, or use another key".into()),
                vec![],
            )
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn principal_action(
    k: &KeyRequirement,
    key: &crate::facts::KeyFacts,
    label: &str,
    policy: &Policy,
    principal: &PrincipalArn,
    who: &PrincipalPolicies,
    action: &str,
    for_resource: bool,
) -> Finding {
    let q = Question {
        principal,
        action,
        via_service: k.via_service.as_deref(),
        encryption_context: &k.encryption_context,
        grant_for_aws_resource: for_resource,
    };
    let o = ask(&q, key, policy, who);
    let via =
        k.via_service.as_deref().map(|v| format!(" through {}", v.split('.').next().unwrap_or(v))).unwrap_or_default();
    let what = if for_resource {
        format!("{action} for AWS resources (kms:GrantIsForAWSResource)")
    } else {
        action.to_owned()
    };
    let principal_text = Some(principal.to_string());
    let found = match (o.decision, o.error) {
        (Decision::Allow, None) => item(k).finding(
            principal_text,
            Status::Pass,
            format!("`{principal}` can {what} with key {label}{via}"),
            None,
            evidence(&o),
        ),
        (Decision::Allow, Some(err)) => item(k).finding(
            principal_text,
            Status::Fail,
            format!(
                "`{principal}` is allowed {what} with key {label}{via}, but the call fails with {err}: {}",
                error_reason(err)
            ),
            Some(match err {
                KmsError::DisabledException => "enable the key (aws kms enable-key)".into(),
                KmsError::KmsInvalidStateException => {
                    "cancel the key's deletion or finish importing its material, or use another key".into()
                }
                KmsError::UnsupportedOperation => "run this operation from the key's own account".into(),
            }),
            evidence(&o),
        ),
        (Decision::Unknown, _) => item(k).finding(
            principal_text,
            Status::Unknown,
            format!("whether `{principal}` can {what} with key {label}{via} is unknown: {}", why_not(&o)),
            None,
            evidence(&o),
        ),
        _ => {
            let fix = if for_resource {
                format!(
                    "add a key-policy statement allowing kms:CreateGrant for {principal} with the condition Bool kms:GrantIsForAWSResource true"
                )
            } else if key.info.manager == KeyManager::Aws {
                "an AWS managed key's policy cannot be changed: use a customer managed key whose policy allows this principal".to_owned()
            } else {
                let via_cond =
                    k.via_service.as_deref().map(|v| format!(" with kms:ViaService {v}")).unwrap_or_default();
                format!(
                    "add a key-policy statement allowing {action} for {principal}{via_cond}; a principal in another account also needs {action} on the key ARN in its own IAM policy"
                )
            };
            let change = match key.info.manager {
                KeyManager::Aws => None,
                KeyManager::Customer => key_policy_change(&q, key, who, true),
            };
            let other_account = principal.account().as_str() != crate::kms::key_account(&key.info.arn).unwrap_or("");
            let alternatives = other_account.then(|| {
                format!(
                    "`{principal}` is in another account: its own IAM policy must also allow {action} on {}",
                    key.info.arn
                )
            });
            item(k)
                .finding(
                    principal_text,
                    Status::Fail,
                    format!("`{principal}` cannot {what} with key {label}{via}: {}", why_not(&o)),
                    Some(fix),
                    evidence(&o),
                )
                .with_change_text(change, alternatives)
        }
    };
    found.with_access(access(&q, key), o.explanation.clone())
}

fn error_reason(err: KmsError) -> &'static str {
    match err {
        KmsError::DisabledException => "the key is disabled",
        KmsError::KmsInvalidStateException => "the key's state does not allow it",
        KmsError::UnsupportedOperation => "KMS does not allow this operation on a key in another account",
    }
}

/// `SharedWithAccounts`: the key-policy side of restoring a shared snapshot in each account.
fn shared(
    k: &KeyRequirement,
    key: &crate::facts::KeyFacts,
    label: &str,
    policy: &Policy,
    env: &Env<'_>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for account in &k.shared_with_accounts {
        let principal_text = Some(format!("account {account}"));
        if key.info.manager == KeyManager::Aws {
            out.push(item(k).finding(
                principal_text,
                Status::Fail,
                format!("key {label} is AWS managed: its policy cannot be changed and only works inside account {}, so account {account} can never use data shared under it (snapshots encrypted with it cannot be shared)", env.account),
                Some(format!("copy the snapshot under a customer managed key whose key policy allows account {account} (Decrypt, DescribeKey, CreateGrant, ReEncrypt*), then share the copy")),
                vec![],
            ));
            continue;
        }
        // The other account's IAM is its own business: judge the key-policy side, with a stand-in
        // principal of that account whose IAM allows everything.
        let Ok(stand_in) =
            PrincipalArn::parse(&format!("arn:{}:iam::{account}:role/SharedSnapshotRestore", env.partition))
        else {
            continue;
        };
        let who = PrincipalPolicies {
            identity: Policy::parse(
                "stand-in",
                &serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
            )
            .ok()
            .map(|p| vec![p]),
            boundary: None,
            why: None,
            missing: false,
        };
        let ec = BTreeMap::new();
        let mut missing = Vec::new();
        let mut undecided = Vec::new();
        let mut refused = Vec::new();
        let mut ev = Vec::new();
        for action in SHARED_SNAPSHOT_ACTIONS {
            let o = ask(
                &Question {
                    principal: &stand_in,
                    action,
                    via_service: None,
                    encryption_context: &ec,
                    grant_for_aws_resource: *action == "kms:CreateGrant",
                },
                key,
                policy,
                &who,
            );
            match (o.decision, o.error) {
                (Decision::Allow, None) => ev.extend(evidence(&o)),
                (Decision::Allow, Some(err)) => refused.push(format!("{action}: {}", error_reason(err))),
                (Decision::Unknown, _) => undecided.push(format!("{action}: {}", why_not(&o))),
                _ => missing.push(*action),
            }
        }
        if !refused.is_empty() {
            out.push(item(k).finding(
                principal_text,
                Status::Fail,
                format!("account {account} cannot restore snapshots shared under key {label}: {}", refused.join("; ")),
                Some("enable the key (or cancel its deletion), then share again".into()),
                ev,
            ));
        } else if !missing.is_empty() {
            out.push(item(k).finding(
                principal_text,
                Status::Fail,
                format!("account {account} cannot restore snapshots shared under key {label}: the key policy does not allow it {}", missing.join(", ")),
                Some(format!("add a key-policy statement allowing arn:{}:iam::{account}:root (or its restore role) {}, with CreateGrant conditioned on kms:GrantIsForAWSResource", env.partition, missing.join(", "))),
                ev,
            ));
        } else if !undecided.is_empty() {
            out.push(item(k).finding(
                principal_text,
                Status::Unknown,
                format!(
                    "whether account {account} can restore snapshots shared under key {label} is unknown: {}",
                    undecided.join("; ")
                ),
                None,
                ev,
            ));
        } else {
            out.push(item(k).finding( principal_text, Status::Pass, format!("the key policy of {label} lets account {account} use snapshots shared under it (its roles still need their own IAM allow)"), None, ev));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{Facts, KeyManager, denied};
    use crate::kms::KeyState;
    use crate::report::{Report, Status};
    use crate::spec::{OnUnknown, Origin, Spec};

    const APP: &str = "arn:aws:iam::111111111111:role/app";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn spec(v: Value) -> Spec {
        Spec::from_value(&v, Origin::File).unwrap()
    }

    fn key_policy(principal: &str) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": principal},
               "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    }

    fn facts(policy: &Value) -> Facts {
        Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Customer, policy)
            .role("app", &[])
            .build()
    }

    #[test]
    fn principals_and_actions_each_get_a_finding_with_their_data() {
        let s =
            spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "Actions": ["kms:Encrypt", "kms:Decrypt"]}]}));
        let out = judge(&s, &facts(&key_policy(APP)));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass, Status::Pass]);
        let actions: Vec<&str> = out.iter().filter_map(|f| f.access.as_ref()).map(|a| a.action.as_str()).collect();
        assert_eq!(actions, ["kms:Encrypt", "kms:Decrypt"]);
    }

    #[test]
    fn a_principal_left_out_fails_once_per_action_and_one_statement_fixes_both() {
        let s =
            spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP], "Actions": ["kms:Encrypt", "kms:Decrypt"]}]}));
        let out = judge(&s, &facts(&key_policy("arn:aws:iam::111111111111:role/other")));
        assert!(out.iter().all(|f| f.status == Status::Fail));
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
        let disabled = Facts::builder("111111111111", "us-east-1")
            .key_in_state("alias/k", KEY_ID, KeyManager::Customer, KeyState::PendingDeletion, &key_policy(APP))
            .build();
        let out = judge(&s, &disabled);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].message.contains("is PendingDeletion"), "{}", out[0].message);
    }

    #[test]
    fn an_unread_key_is_unknown_naming_the_permission() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [APP]}]}));
        let f = Facts::builder("111111111111", "us-east-1").key_error("alias/k", denied("kms:DescribeKey")).build();
        let out = judge(&s, &f);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Unknown);
        assert_eq!(out[0].fix.as_deref(), Some("allow kms:DescribeKey in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn sharing_an_aws_managed_key_always_fails_and_a_customer_key_is_judged_on_its_policy() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "SharedWithAccounts": ["222222222222"]}]}));
        let managed = Facts::builder("111111111111", "us-east-1")
            .key("alias/k", KEY_ID, KeyManager::Aws, &key_policy(APP))
            .build();
        let out = judge(&s, &managed);
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].message.contains("is AWS managed"), "{}", out[0].message);
        let sharing = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
            "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"], "Resource": "*"}]});
        let out = judge(&s, &facts(&sharing));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass], "{out:#?}");
    }

    #[test]
    fn a_principal_of_another_account_gets_the_key_side_statement_and_the_iam_side_in_words() {
        let other = "arn:aws:iam::222222222222:role/scheduler";
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": [other], "Actions": ["kms:Decrypt"]}]}));
        let out = judge(&s, &facts(&key_policy(APP)));
        assert_eq!(out[0].status, Status::Fail);
        assert!(out[0].change.is_some(), "{out:#?}");
        assert!(out[0].fix.as_deref().unwrap().contains("its own IAM policy must also allow kms:Decrypt"));
    }
}
