//! The key-policy lockout lint (story 4): under a key policy about to be applied, each
//! administrator must keep kms:PutKeyPolicy, or CreateKey/PutKeyPolicy fails with
//! `MalformedPolicyDocumentException: The new key policy will not allow you to update the key policy
//! in the future` (KMS API Reference, PutKeyPolicy, BypassPolicyLockoutSafetyCheck). Statements
//! without Action or Resource are accepted by KMS but have no effect: flagged.

use serde_json::Value;

use super::{Env, Item, evidence, principal_policies};
use crate::arn::PrincipalArn;
use crate::facts::Facts;
use crate::kms::{self, Decision};
use crate::policy::Policy;
use crate::report::{CheckKind, Finding, Status};
use crate::said::NotAllowed;
use crate::said::key_policy::Said;
use crate::spec::KeyPolicyCheck;

pub(crate) fn check(policies: &[KeyPolicyCheck], facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    policies.iter().enumerate().flat_map(|(i, kp)| one(i, kp, facts, env)).collect()
}

fn one(index: usize, kp: &KeyPolicyCheck, facts: &Facts, env: &Env<'_>) -> Vec<Finding> {
    let item = Item::new(CheckKind::KeyPolicy, format!("KeyPolicies[{index}]"));
    let policy = match Policy::parse_key_policy("new key policy", &Value::Object(kp.policy.clone())) {
        Ok(p) => p,
        Err(e) => return vec![item.said(None, Status::Fail, Said::Malformed { error: e.to_string() }, vec![])],
    };
    let mut out: Vec<Finding> = policy
        .statements
        .iter()
        .filter(|s| !s.is_effective())
        .map(|s| {
            let found =
                Said::StatementWithoutEffect { sid: s.sid.as_deref().map(str::to_owned), position: s.index + 1 };
            item.said(None, Status::Fail, found, vec![])
        })
        .collect();
    let judged: Vec<(Status, Said, Vec<String>)> =
        kp.administrators.iter().map(|admin| administrator(&policy, admin, facts, env)).collect();
    let locked = judged.iter().filter(|(status, ..)| *status == Status::Fail).count();
    let every = locked > 1 && locked == kp.administrators.len();
    let mut first = true;
    for (admin, (status, mut found, evidence)) in kp.administrators.iter().zip(judged) {
        if every && std::mem::take(&mut first) {
            found = Said::EveryAdministratorLockedOut { first: Box::new(found) };
        }
        out.push(item.said(Some(admin.to_string()), status, found, evidence));
    }
    out
}

/// Whether `admin` keeps kms:PutKeyPolicy under `policy`.
fn administrator(policy: &Policy, admin: &PrincipalArn, facts: &Facts, env: &Env<'_>) -> (Status, Said, Vec<String>) {
    let administrator = admin.to_string();
    let who = principal_policies(admin, facts, env);
    if let (true, Some(why)) = (who.missing, who.why.clone()) {
        return (Status::Fail, Said::AdministratorMissing { administrator, why }, vec![]);
    }
    // The key does not exist yet: any key ARN of this account and region stands for it.
    let key_arn =
        format!("arn:{}:kms:{}:{}:key/00000000-0000-0000-0000-000000000000", env.partition, env.region, env.account);
    let o = kms::keeps_put_key_policy(policy, admin, &key_arn, who.identity.as_deref(), who.boundary.as_ref());
    let why = NotAllowed::from(&o);
    let (status, found) = match o.decision {
        Decision::Allow => (Status::Pass, Said::KeepsPutKeyPolicy { administrator }),
        Decision::Unknown => (Status::Unknown, Said::KeepsPutKeyPolicyUnknown { administrator, why }),
        _ => (
            Status::Fail,
            Said::LocksOut { administrator, why, partition: env.partition.to_owned(), account: env.account.to_owned() },
        ),
    };
    (status, found, evidence(&o))
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
