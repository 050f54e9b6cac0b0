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
