//! The key-policy lockout lint (story 4): under a key policy about to be applied, each
//! administrator must keep kms:PutKeyPolicy, or CreateKey/PutKeyPolicy fails with
//! `MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy
//! in the future` (KMS API Reference, PutKeyPolicy, BypassPolicyLockoutSafetyCheck). Statements
//! without Action or Resource are accepted by KMS but have no effect: flagged.

use serde_json::Value;

use super::{Env, Item, evidence, principal_policies, why_not};
use crate::facts::Facts;
use crate::kms::{self, Decision};
use crate::policy::Policy;
use crate::report::{CheckKind, Finding, Status};
use crate::spec::KeyPolicyCheck;

pub(crate) fn check(policies: &[KeyPolicyCheck], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    policies.iter().enumerate().flat_map(|(i, kp)| one(i, kp, facts, env)).collect()
}

fn one(index: usize, kp: &KeyPolicyCheck, facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let subject = format!("KeyPolicies[{index}]");
    let item = Item::new(CheckKind::KeyPolicy, subject.clone());
    let policy = match Policy::parse_key_policy("new key policy", &Value::Object(kp.policy.clone())) {
        Ok(p) => p,
        Err(e) => {
            return vec![item.finding(
                None,
                Status::Fail,
                format!("the key policy is malformed: {e}"),
                Some("fix the document before applying it".into()),
                vec![],
            )];
        }
    };
    let mut out = Vec::new();
    for s in policy.statements.iter().filter(|s| !s.is_effective()) {
        let name = s.sid.as_deref().map(|sid| format!("`{sid}`")).unwrap_or_else(|| format!("#{}", s.index + 1));
        out.push(item.finding(
            None,
            Status::Fail,
            format!("statement {name} has no Action or no Resource, so it has no effect (KMS accepts it silently)"),
            Some("add \"Resource\": \"*\" and the intended Action to the statement".into()),
            vec![],
        ));
    }
    // The key does not exist yet: any key ARN of this account and region stands for it.
    let key_arn =
        format!("arn:{}:kms:{}:{}:key/00000000-0000-0000-0000-000000000000", env.partition, env.region, env.account);
    let mut locked = 0;
    for admin in &kp.administrators {
        let who = principal_policies(admin, facts, env);
        if who.missing {
            locked += 1;
            out.push(item.finding(
                Some(admin.to_string()),
                Status::Fail,
                format!(
                    "administrator `{admin}` cannot keep kms:PutKeyPolicy: {}",
                    who.why.clone().unwrap_or_default()
                ),
                Some("create the role or correct the ARN".into()),
                vec![],
            ));
            continue;
        }
        let o = kms::keeps_put_key_policy(&policy, admin, &key_arn, who.identity.as_deref(), who.boundary.as_ref());
        let principal = Some(admin.to_string());
        match o.decision {
            Decision::Allow => out.push(item.finding(
                principal,
                Status::Pass,
                format!("`{admin}` keeps kms:PutKeyPolicy under this policy"),
                None,
                evidence(&o),
            )),
            Decision::Unknown => out.push(item.finding(
                principal,
                Status::Unknown,
                format!("whether `{admin}` keeps kms:PutKeyPolicy under this policy is unknown: {}", why_not(&o)),
                None,
                evidence(&o),
            )),
            _ => {
                locked += 1;
                out.push(item.finding(
                    principal,
                    Status::Fail,
                    format!(
                        "this policy locks out `{admin}`: it would no longer be allowed kms:PutKeyPolicy ({}), so KMS rejects it with MalformedPolicyDocumentException (\"The new key policy will not allow you to update the key policy in the future\")",
                        why_not(&o)
                    ),
                    Some(format!(
                        "add a statement allowing kms:PutKeyPolicy (or kms:*) for {admin}, or a statement for arn:{}:iam::{}:root that delegates to IAM (the role's IAM policy must then allow it)",
                        env.partition, env.account
                    )),
                    evidence(&o),
                ));
            }
        }
    }
    if locked > 1
        && locked == kp.administrators.len()
        && let Some(first) = out.iter_mut().find(|f| f.status == Status::Fail && f.principal.is_some())
    {
        first.message =
            format!("this policy locks out every administrator (none keeps kms:PutKeyPolicy); {}", first.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::checks::judge;
    use crate::facts::{Facts, denied};
    use crate::report::Status;
    use crate::spec::{Origin, Spec};

    const ADMIN: &str = "arn:aws:iam::111111111111:role/admin";

    fn lint(policy: Value, facts: &Facts) -> Vec<(Status, String)> {
        let s =
            Spec::from_value(&json!({"KeyPolicies": [{"Policy": policy, "Administrators": [ADMIN]}]}), Origin::File)
                .unwrap();
        judge(&s, facts).into_iter().map(|f| (f.status, f.message)).collect()
    }

    fn facts() -> Facts {
        Facts::builder("111111111111", "us-east-1").role("admin", &[]).build()
    }

    #[test]
    fn an_administrator_named_with_put_key_policy_keeps_it() {
        let p = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": ADMIN}, "Action": "kms:*", "Resource": "*"}]});
        assert_eq!(lint(p, &facts()).into_iter().map(|x| x.0).collect::<Vec<_>>(), [Status::Pass]);
    }

    #[test]
    fn a_policy_that_drops_the_administrator_is_rejected_as_kms_would() {
        let p = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/app"}, "Action": "kms:Decrypt", "Resource": "*"}]});
        let out = lint(p, &facts());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, Status::Fail);
        assert!(out[0].1.contains("MalformedPolicyDocumentException"), "{}", out[0].1);
    }

    #[test]
    fn a_statement_without_a_principal_makes_the_policy_malformed() {
        let p =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]});
        let out = lint(p, &facts());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, Status::Fail);
        assert!(out[0].1.contains("needs a Principal or NotPrincipal"), "{}", out[0].1);
    }

    #[test]
    fn delegation_to_iam_depends_on_the_administrators_own_policies() {
        let p = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"}]});
        let admin_allowed = Facts::builder("111111111111", "us-east-1")
            .role("admin", &[("kms", json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))])
            .build();
        assert_eq!(lint(p.clone(), &admin_allowed)[0].0, Status::Pass);
        assert_eq!(lint(p.clone(), &facts())[0].0, Status::Fail, "the role's IAM does not allow it");
        let unread = Facts::builder("111111111111", "us-east-1").role_error("admin", denied("iam:GetRole")).build();
        assert_eq!(lint(p, &unread)[0].0, Status::Unknown);
    }
}
