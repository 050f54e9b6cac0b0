//! The key-policy lockout lint's findings.

use serde::Serialize;

use super::{NotAllowed, PoliciesUnknown};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// The document is not a key policy KMS accepts.
    Malformed {
        error: String,
    },
    /// A statement without Action or Resource: accepted by KMS, and without effect.
    StatementWithoutEffect {
        #[serde(skip_serializing_if = "Option::is_none")]
        sid: Option<String>,
        /// Its position, from 1.
        position: usize,
    },
    /// An administrator that does not exist cannot keep anything.
    AdministratorMissing {
        administrator: String,
        why: PoliciesUnknown,
    },
    KeepsPutKeyPolicy {
        administrator: String,
    },
    KeepsPutKeyPolicyUnknown {
        administrator: String,
        why: NotAllowed,
    },
    /// KMS rejects the policy: it would lock this administrator out.
    LocksOut {
        administrator: String,
        why: NotAllowed,
        partition: String,
        account: String,
    },
    /// Every administrator is locked out; `first` is the first of them.
    EveryAdministratorLockedOut {
        first: Box<Said>,
    },
}

impl Said {
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::Malformed { error } => format!("the key policy is malformed: {error}"),
            Said::StatementWithoutEffect { sid, position } => {
                let name = sid.as_ref().map(|sid| format!("`{sid}`")).unwrap_or_else(|| format!("#{position}"));
                format!("statement {name} has no Action or no Resource, so it has no effect (KMS accepts it silently)")
            }
            Said::AdministratorMissing { administrator, why } => {
                format!("administrator `{administrator}` cannot keep kms:PutKeyPolicy: {why}")
            }
            Said::KeepsPutKeyPolicy { administrator } => {
                format!("`{administrator}` keeps kms:PutKeyPolicy under this policy")
            }
            Said::KeepsPutKeyPolicyUnknown { administrator, why } => {
                format!("whether `{administrator}` keeps kms:PutKeyPolicy under this policy is unknown: {why}")
            }
            Said::LocksOut { administrator, why, .. } => format!(
                "this policy locks out `{administrator}`: it would no longer be allowed kms:PutKeyPolicy ({why}), so KMS rejects it with MalformedPolicyDocumentException (\"The new key policy will not allow you to update the key policy in the future\")"
            ),
            Said::EveryAdministratorLockedOut { first } => {
                format!("this policy locks out every administrator (none keeps kms:PutKeyPolicy); {}", first.sentence())
            }
        }
    }

    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::Malformed { .. } => Some("fix the document before applying it".into()),
            Said::StatementWithoutEffect { .. } => {
                Some("add \"Resource\": \"*\" and the intended Action to the statement".into())
            }
            Said::AdministratorMissing { .. } => Some("create the role or correct the ARN".into()),
            Said::KeepsPutKeyPolicy { .. } | Said::KeepsPutKeyPolicyUnknown { .. } => None,
            Said::LocksOut { administrator, partition, account, .. } => Some(format!(
                "add a statement allowing kms:PutKeyPolicy (or kms:*) for {administrator}, or a statement for arn:{partition}:iam::{account}:root that delegates to IAM (the role's IAM policy must then allow it)"
            )),
            Said::EveryAdministratorLockedOut { first } => first.fix(),
        }
    }
}
