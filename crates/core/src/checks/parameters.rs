//! The parameter check (story 2): each SSM parameter exists, is a SecureString under a usable key,
//! and each reader may call ssm:GetParameter on it and kms:Decrypt its key through SSM with the
//! `PARAMETER_ARN` encryption context (KMS Developer Guide, "How AWS Systems Manager Parameter
//! Store uses AWS KMS"). Never reads a value.

use std::collections::BTreeMap;

use super::{
    Env, Item, Question, access, ask, evidence, key_label, key_policy, key_policy_change, principal_policies, why_not,
};
use crate::facts::Facts;
use crate::facts::FetchError;
use crate::kms::{Decision, KeyState};
use crate::policy::{Context, Request, Tri, evaluate_identity};
use crate::report::{CheckKind, Finding, Status};
use crate::spec::Parameter;

fn item(p: &Parameter) -> Item {
    Item::new(CheckKind::Parameter, p.name.clone())
}

pub(crate) fn check(parameters: &[Parameter], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    parameters.iter().flat_map(|p| one(p, facts, env)).collect()
}

fn one(p: &Parameter, facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let name = &p.name;
    let info = match facts.parameters.get(name) {
        Some(Ok(Some(info))) => info,
        Some(Ok(None)) => {
            return vec![item(p).finding(
                None,
                Status::Fail,
                format!("parameter `{name}` does not exist in account {} region {}", env.account, env.region),
                Some(format!(
                    "create it as a SecureString (aws ssm put-parameter --name {name} --type SecureString), or correct the name"
                )),
                vec![],
            )];
        }
        Some(Err(e)) => {
            return vec![item(p).unread(&format!("parameter `{name}` was not checked"), e)];
        }
        None => {
            return vec![item(p).unknown(format!("parameter `{name}` was not read"))];
        }
    };
    if info.kind != "SecureString" {
        return vec![item(p).finding(
            None,
            Status::Fail,
            format!("parameter `{name}` is a {}, not a SecureString: its value is stored unencrypted", info.kind),
            Some("re-create it as a SecureString (a parameter's type and key cannot be changed in place)".into()),
            vec![],
        )];
    }
    let Some(reference) = info.key_id.clone() else {
        return vec![item(p).unknown(format!(
            "parameter `{name}` was not checked: DescribeParameters named no key for this SecureString"
        ))];
    };
    let key = match facts.keys.get(&reference) {
        Some(Ok(k)) => k,
        Some(Err(e @ FetchError::NotFound { .. })) => {
            return vec![
                item(p).finding(
                    None,
                    Status::Fail,
                    format!("parameter `{name}` is encrypted under key `{reference}`, which does not exist: {e}"),
                    Some(
                        "re-create the parameter under an existing key (a parameter's key cannot be changed in place)"
                            .into(),
                    ),
                    vec![],
                ),
            ];
        }
        Some(Err(e)) => {
            return vec![item(p).unread(&format!("the key `{reference}` of parameter `{name}` was not checked"), e)];
        }
        None => {
            return vec![item(p).unknown(format!("the key `{reference}` of parameter `{name}` was not read"))];
        }
    };
    let label = key_label(&reference, key).to_string();
    if key.info.state != KeyState::Enabled {
        return vec![item(p).finding(
            None,
            Status::Fail,
            format!("parameter `{name}` cannot be read by anyone: its key {label} is {}", key.info.state),
            Some(match key.info.state {
                KeyState::Disabled => "enable the key (aws kms enable-key), or re-create the parameter under a usable key".into(),
                KeyState::PendingDeletion => "cancel the key's deletion (aws kms cancel-key-deletion) and enable it, or re-create the parameter under a usable key".into(),
                _ => "re-create the parameter under a usable key".into(),
            }),
            vec![],
        )];
    }
    let policy = match key_policy(key) {
        Ok(policy) => policy,
        Err(why) => {
            return vec![
                item(p).unknown(format!("readers of parameter `{name}` were not checked: key {label}: {why}")),
            ];
        }
    };
    if p.readers.is_empty() {
        return vec![item(p).finding(
            None,
            Status::Pass,
            format!("parameter `{name}` is a SecureString under key {label}, which is enabled"),
            None,
            vec![],
        )];
    }
    let parameter_arn =
        format!("arn:{}:ssm:{}:{}:parameter/{}", env.partition, env.region, env.account, name.trim_start_matches('/'));
    let via = format!("ssm.{}.amazonaws.com", env.region);
    let ec = BTreeMap::from([("PARAMETER_ARN".to_owned(), parameter_arn.clone())]);
    let mut out = Vec::new();
    for reader in &p.readers {
        let who = principal_policies(reader, facts, env);
        let principal = Some(reader.to_string());
        if who.missing {
            out.push(item(p).finding(
                principal,
                Status::Fail,
                format!(
                    "`{reader}` cannot read parameter `{name}`: {}",
                    who.why.as_ref().map(ToString::to_string).unwrap_or_default()
                ),
                Some("create the role or correct the ARN".into()),
                vec![],
            ));
            continue;
        }
        if reader.account().as_str() != env.account && info.tier.as_deref() != Some("Advanced") {
            out.push(item(p).finding(
                principal,
                Status::Fail,
                format!("`{reader}` in account {} cannot read parameter `{name}` of account {}: standard-tier parameters cannot be shared with other accounts", reader.account(), env.account),
                Some("read it from a role in this account, or use an advanced-tier parameter shared through AWS RAM, or a Secrets Manager secret with a resource policy".into()),
                vec![],
            ));
            continue;
        }
        // IAM: ssm:GetParameter on the parameter ARN.
        let get = match &who.identity {
            Some(identity) => {
                let mut ctx = Context::default();
                crate::kms::derive_context(&mut ctx, reader, &key.info.arn, &BTreeMap::new());
                let req =
                    Request { principal: reader, action: "ssm:GetParameter", resource: &parameter_arn, context: &ctx };
                Some(evaluate_identity(identity, who.boundary.as_ref(), &req))
            }
            None => None,
        };
        let q = Question::through(reader, "kms:Decrypt", &via, &ec);
        let decrypt = ask(&q, key, &policy, &who);
        let mut change = None;
        let mut problems = Vec::new();
        let mut fixes = Vec::new();
        let mut status = Status::Pass;
        let mut ev = evidence(&decrypt);
        match &get {
            Some(g) if g.allowed.is_no() => {
                status = Status::Fail;
                problems.push(if g.explicit_deny {
                    format!("ssm:GetParameter on `{parameter_arn}` is denied explicitly by {}", list(&g.deciding))
                } else {
                    format!("no IAM policy of the role allows ssm:GetParameter on `{parameter_arn}`")
                });
                fixes.push(format!("allow ssm:GetParameter on {parameter_arn} in the role's IAM policy"));
            }
            Some(g) if matches!(g.allowed, Tri::Unknown(_)) => {
                status = Status::Unknown;
                problems.push(format!(
                    "whether IAM allows ssm:GetParameter depends on {}",
                    g.allowed.unknown_keys().iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                ));
            }
            Some(g) => ev.extend(g.deciding.iter().map(|d| format!("ssm:GetParameter allowed by {d}"))),
            None => {
                if status == Status::Pass {
                    status = Status::Unknown;
                }
                problems.push(who.why.as_ref().map(ToString::to_string).unwrap_or_default());
            }
        }
        match decrypt.decision {
            Decision::Allow if decrypt.error.is_none() => {}
            Decision::Unknown => {
                if status == Status::Pass {
                    status = Status::Unknown;
                }
                problems.push(format!("kms:Decrypt of key {label}: {}", why_not(&decrypt)));
            }
            _ => {
                status = Status::Fail;
                problems.push(format!("kms:Decrypt of key {label} through SSM is not allowed: {}", why_not(&decrypt)));
                change = key_policy_change(&q, key, &who, true);
                fixes.push(format!(
                    "add a key-policy statement allowing kms:Decrypt for {} with kms:ViaService {via} (and kms:EncryptionContext:PARAMETER_ARN {parameter_arn}), or delegate to IAM with the account root and allow it in the role's policy, or re-create the parameter under alias/aws/ssm",
                    role_arn(reader)
                ));
            }
        }
        let message = match status {
            Status::Pass => format!("`{reader}` can read parameter `{name}` (SecureString under key {label})"),
            Status::Fail => format!("`{reader}` cannot read parameter `{name}`: {}", problems.join("; ")),
            Status::Unknown => {
                format!("whether `{reader}` can read parameter `{name}` is unknown: {}", problems.join("; "))
            }
        };
        let fix = (!fixes.is_empty()).then(|| fixes.join("; "));
        // With the key-policy statement as the change, the text keeps what else must change and
        // the other ways out.
        let mut alternatives: Vec<String> =
            fixes.iter().filter(|f| !f.starts_with("add a key-policy")).cloned().collect();
        alternatives.push(format!(
            "where the key policy delegates to IAM (an arn:{}:iam::{}:root statement), allow kms:Decrypt on {} in the role's IAM policy; or re-create the parameter under alias/aws/ssm (a parameter's key cannot be changed in place)",
            env.partition, env.account, key.info.arn
        ));
        let found = item(p)
            .finding(principal, status, message, fix, ev)
            .with_change_text(change, Some(alternatives.join("; ")));
        out.push(found.with_access(access(&q, key), decrypt.explanation.clone()));
    }
    out
}

fn list(d: &[crate::policy::Deciding]) -> String {
    d.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The role ARN of a session, for statements that name it.
fn role_arn(p: &crate::arn::PrincipalArn) -> String {
    match p.kind() {
        crate::arn::PrincipalKind::AssumedRole { role, .. } => {
            format!("arn:{}:iam::{}:role/{role}", p.partition(), p.account())
        }
        _ => p.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{Facts, FactsBuilder, FetchError, KeyManager, denied};
    use crate::kms::KeyState;
    use crate::report::{Change, Finding, Status};
    use crate::spec::{Origin, Spec};

    const ACCOUNT: &str = "111111111111";
    const READER: &str = "arn:aws:iam::111111111111:role/reader";
    const KEY_ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn spec() -> Spec {
        Spec::from_value(&json!({"Parameters": [{"Name": "/app/db/password", "Readers": [READER]}]}), Origin::File)
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
        let mut out = judge(&spec(), facts);
        assert_eq!(out.len(), 1, "{out:#?}");
        out.remove(0)
    }

    #[test]
    fn a_reader_the_key_policy_names_can_read() {
        let f = one(&base(&names_reader()).build());
        assert_eq!(f.status, Status::Pass, "{f:#?}");
        let access = f.access.unwrap();
        assert_eq!(access.action, "kms:Decrypt");
        assert_eq!(access.via_service.as_deref(), Some("ssm.us-east-1.amazonaws.com"));
        assert_eq!(
            access.encryption_context.get("PARAMETER_ARN").map(String::as_str),
            Some("arn:aws:ssm:us-east-1:111111111111:parameter/app/db/password")
        );
        assert_eq!(f.deciding.iter().map(|d| d.sid.as_deref()).collect::<Vec<_>>(), [Some("Reader")]);
    }

    #[test]
    fn a_reader_the_key_policy_leaves_out_fails_with_the_statement_that_fixes_it() {
        let f = one(&base(&admin_only()).build());
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.change,
            Some(Change::KeyPolicyStatement {
                key: format!("arn:aws:kms:us-east-1:111111111111:key/{KEY_ID}"),
                statement: json!({"Effect": "Allow", "Principal": {"AWS": READER}, "Action": "kms:Decrypt", "Resource": "*",
                    "Condition": {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": "arn:aws:ssm:us-east-1:111111111111:parameter/app/db/password"}}}),
            })
        );
    }

    #[test]
    fn a_boundary_that_caps_the_role_gets_no_key_policy_statement_that_would_not_help() {
        let boundary =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]});
        let f = one(&base(&admin_only()).boundary("reader", &boundary).build());
        assert_eq!(f.status, Status::Fail);
        assert_eq!(f.change, None, "a statement naming the role is capped by its boundary: not offered");
        assert!(f.fix.is_some());
    }

    #[test]
    fn an_unread_parameter_is_unknown_and_names_the_permission() {
        let f =
            one(&base(&names_reader()).parameter_error("/app/db/password", denied("ssm:DescribeParameters")).build());
        assert_eq!(f.status, Status::Unknown);
        assert_eq!(f.fix.as_deref(), Some("allow ssm:DescribeParameters in Preflight's role (see template.yaml)"));
    }

    #[test]
    fn a_parameter_that_does_not_exist_fails() {
        let f = one(&base(&names_reader()).no_parameter("/app/db/password").build());
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("does not exist"), "{}", f.message);
    }

    #[test]
    fn a_secure_string_without_a_key_is_unknown_not_aws_ssm() {
        let f = one(&base(&names_reader()).parameter("/app/db/password", "SecureString", None).build());
        assert_eq!(f.status, Status::Unknown);
        assert!(f.message.contains("DescribeParameters named no key"), "{}", f.message);
    }

    #[test]
    fn an_unread_key_or_key_policy_is_unknown() {
        let f = one(&base(&names_reader()).key_error("alias/app", denied("kms:DescribeKey")).build());
        assert_eq!(f.status, Status::Unknown, "{f:#?}");
        let f = one(&base(&names_reader()).key_policy_error("alias/app", denied("kms:GetKeyPolicy")).build());
        assert_eq!(f.status, Status::Unknown, "{f:#?}");
        assert!(f.message.contains("its key policy could not be read"), "{}", f.message);
    }

    #[test]
    fn unread_grants_make_a_deny_unknown_but_leave_an_allow_alone() {
        let f = one(&base(&admin_only()).grants("alias/app", Err(denied("kms:ListGrants"))).build());
        assert_eq!(f.status, Status::Unknown, "a grant could allow it: {f:#?}");
        assert!(f.message.contains("the grants of the key could not be read"), "{}", f.message);
        let f = one(&base(&names_reader()).grants("alias/app", Err(denied("kms:ListGrants"))).build());
        assert_eq!(f.status, Status::Pass);
    }

    #[test]
    fn an_unread_role_is_unknown_and_a_missing_role_fails() {
        let unread = base(&names_reader()).role_error("reader", denied("iam:GetRole")).build();
        assert_eq!(one(&unread).status, Status::Unknown);
        let missing =
            base(&names_reader()).role_error("reader", FetchError::not_found("iam:GetRole", "no such role")).build();
        let f = one(&missing);
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("does not exist"), "{}", f.message);
    }

    #[test]
    fn a_disabled_key_fails_for_everyone() {
        let facts = base(&names_reader())
            .key_in_state("alias/app", KEY_ID, KeyManager::Customer, KeyState::Disabled, &names_reader())
            .build();
        let f = one(&facts);
        assert_eq!(f.status, Status::Fail);
        assert!(f.message.contains("is Disabled"), "{}", f.message);
    }
}
