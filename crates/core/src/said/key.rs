//! The key check findings: the key itself, each principal's use of it, and each account a
//! snapshot under it is shared with.

use serde::Serialize;

use super::{KeyRef, NotAllowed, PoliciesUnknown, Unread};
use crate::kms::KmsError;

/// What the key check found about one key requirement.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// DescribeKey found no key by this reference in Preflight's account and region.
    KeyMissing {
        reference: String,
        account: String,
        region: String,
        /// The service's answer.
        error: String,
    },
    /// DescribeKey failed: the key was not checked.
    KeyUnread { reference: String, unread: Unread },
    /// The key was never looked up.
    KeyNotRead { reference: String },
    /// The key's policy could not be read or parsed, so no use of the key can be judged.
    KeyPolicyUnknown {
        key: KeyRef,
        /// Why, in words (the failed read, or what is wrong with the document).
        why: String,
    },
    /// Nothing else was asked of the key, and it is enabled.
    KeyEnabled { key: KeyRef },
    /// Nothing else was asked of the key, and it is not enabled: no cryptographic operation works.
    KeyNotEnabled {
        key: KeyRef,
        /// The key state, as DescribeKey names it (`Disabled`, `PendingDeletion`, ...).
        state: String,
    },
    /// The principal is a role that does not exist: it cannot use the key at all.
    PrincipalMissing { principal: String, key: KeyRef, why: PoliciesUnknown },
    /// The principal can call the action on the key.
    KeyUseAllowed {
        #[serde(flatten)]
        used: KeyUse,
    },
    /// The policies allow the call, but KMS still refuses it (the key's state, another account).
    KeyUseFails {
        #[serde(flatten)]
        used: KeyUse,
        /// The exception the call fails with.
        error: KmsError,
    },
    /// Whether the principal can call the action on the key is not known.
    KeyUseUnknown {
        #[serde(flatten)]
        used: KeyUse,
        why: NotAllowed,
    },
    /// The principal cannot call the action on the key.
    KeyUseDenied {
        #[serde(flatten)]
        used: KeyUse,
        why: NotAllowed,
        key_arn: String,
        /// The principal is in another account than the key: its own IAM policy must allow the
        /// call too.
        other_account: bool,
    },
    /// The service principal can call the action on the key, as the key policy allows.
    ServiceUseAllowed {
        #[serde(flatten)]
        used: KeyUse,
    },
    /// The key policy allows the service, but KMS still refuses the call (the key's state).
    ServiceUseFails {
        #[serde(flatten)]
        used: KeyUse,
        error: KmsError,
    },
    /// Whether the key policy allows the service the call is not known.
    ServiceUseUnknown {
        #[serde(flatten)]
        used: KeyUse,
        why: NotAllowed,
    },
    /// The key policy does not allow the service principal the call: only the key policy can.
    ServiceUseDenied {
        #[serde(flatten)]
        used: KeyUse,
        why: NotAllowed,
    },
    /// A snapshot under an AWS managed key cannot be shared: its policy only works inside the
    /// key's account.
    SharedUnderAwsManagedKey {
        account: String,
        key: KeyRef,
        /// The key's account, Preflight's.
        ours: String,
    },
    /// The key policy allows the other account, but KMS refuses some actions (the key's state).
    SharedRestoreFails { account: String, key: KeyRef, refused: Vec<Refused> },
    /// The key policy does not allow the other account the actions restoring needs.
    SharedRestoreNotAllowed {
        account: String,
        key: KeyRef,
        /// The actions not allowed.
        missing: Vec<String>,
        partition: String,
    },
    /// Whether the key policy allows the other account what restoring needs is not known.
    SharedRestoreUnknown { account: String, key: KeyRef, undecided: Vec<Undecided> },
    /// The key policy allows the other account what restoring needs (its own IAM aside).
    SharedRestoreAllowed { account: String, key: KeyRef },
}

/// An action the policies allow and KMS still refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub action: String,
    pub error: KmsError,
}

/// An action whose decision is not known, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Undecided {
    pub action: String,
    pub why: NotAllowed,
}

impl Said {
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::KeyMissing { reference, account, region, error } => format!(
                "key `{reference}` does not exist in account {account} region {region} (or is not visible to Preflight): {error}"
            ),
            Said::KeyUnread { reference, unread } => format!("key `{reference}` was not checked: {}", unread.error),
            Said::KeyNotRead { reference } => format!("key `{reference}` was not read"),
            Said::KeyPolicyUnknown { key, why } => format!("key {key} was not checked: {why}"),
            Said::KeyEnabled { key } => format!("key {key} exists and is enabled"),
            Said::KeyNotEnabled { key, state } => {
                format!("key {key} exists but is {state}: no cryptographic operation works with it")
            }
            Said::PrincipalMissing { principal, key, why } => format!("`{principal}` cannot use key {key}: {why}"),
            Said::KeyUseAllowed { used: KeyUse { principal, action, for_aws_resources, key, via } } => {
                let (what, via) = (what(action, *for_aws_resources), through(via.as_deref()));
                format!("`{principal}` can {what} with key {key}{via}")
            }
            Said::KeyUseFails { used: KeyUse { principal, action, for_aws_resources, key, via }, error } => {
                let (what, via) = (what(action, *for_aws_resources), through(via.as_deref()));
                format!(
                    "`{principal}` is allowed {what} with key {key}{via}, but the call fails with {error}: {}",
                    error_reason(*error)
                )
            }
            Said::KeyUseUnknown { used: KeyUse { principal, action, for_aws_resources, key, via }, why } => {
                let (what, via) = (what(action, *for_aws_resources), through(via.as_deref()));
                format!("whether `{principal}` can {what} with key {key}{via} is unknown: {why}")
            }
            Said::KeyUseDenied { used: KeyUse { principal, action, for_aws_resources, key, via }, why, .. } => {
                let (what, via) = (what(action, *for_aws_resources), through(via.as_deref()));
                format!("`{principal}` cannot {what} with key {key}{via}: {why}")
            }
            Said::ServiceUseAllowed { used: KeyUse { principal, action, key, .. } } => {
                format!("the key policy of {key} lets the service principal `{principal}` call {action}")
            }
            Said::ServiceUseFails { used: KeyUse { principal, action, key, .. }, error } => format!(
                "the key policy of {key} lets the service principal `{principal}` call {action}, but the call fails with {error}: {}",
                error_reason(*error)
            ),
            Said::ServiceUseUnknown { used: KeyUse { principal, action, key, .. }, why } => {
                format!(
                    "whether the service principal `{principal}` can call {action} with key {key} is unknown: {why}"
                )
            }
            Said::ServiceUseDenied { used: KeyUse { principal, action, key, .. }, why } => {
                format!("the service principal `{principal}` cannot call {action} with key {key}: {why}")
            }
            Said::SharedUnderAwsManagedKey { account, key, ours } => format!(
                "key {key} is AWS managed: its policy cannot be changed and only works inside account {ours}, so account {account} can never use data shared under it (snapshots encrypted with it cannot be shared)"
            ),
            Said::SharedRestoreFails { account, key, refused } => {
                let refused: Vec<String> =
                    refused.iter().map(|r| format!("{}: {}", r.action, error_reason(r.error))).collect();
                format!("account {account} cannot restore snapshots shared under key {key}: {}", refused.join("; "))
            }
            Said::SharedRestoreNotAllowed { account, key, missing, .. } => format!(
                "account {account} cannot restore snapshots shared under key {key}: the key policy does not allow it {}",
                missing.join(", ")
            ),
            Said::SharedRestoreUnknown { account, key, undecided } => {
                let undecided: Vec<String> = undecided.iter().map(|u| format!("{}: {}", u.action, u.why)).collect();
                format!(
                    "whether account {account} can restore snapshots shared under key {key} is unknown: {}",
                    undecided.join("; ")
                )
            }
            Said::SharedRestoreAllowed { account, key } => format!(
                "the key policy of {key} lets account {account} use snapshots shared under it (its roles still need their own IAM allow)"
            ),
        }
    }

    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::KeyMissing { .. } => Some("correct the key reference, or create the key".into()),
            Said::KeyUnread { unread, .. } => unread.fix(),
            Said::KeyNotRead { .. }
            | Said::KeyPolicyUnknown { .. }
            | Said::KeyEnabled { .. }
            | Said::KeyUseAllowed { .. }
            | Said::KeyUseUnknown { .. }
            | Said::SharedRestoreUnknown { .. }
            | Said::SharedRestoreAllowed { .. } => None,
            Said::ServiceUseAllowed { .. } | Said::ServiceUseUnknown { .. } => None,
            Said::ServiceUseFails { .. } => Some("enable the key (or cancel its deletion), or use another key".into()),
            Said::ServiceUseDenied { used: KeyUse { principal, action, key, .. }, .. } => Some(if key.aws_managed {
                "an AWS managed key's policy cannot be changed and names no other service: use a customer managed key"
                    .to_owned()
            } else {
                format!(
                    "add a key-policy statement allowing {action} for the service principal {principal} (an IAM policy cannot allow a service principal)"
                )
            }),
            Said::KeyNotEnabled { .. } => Some("enable the key, or cancel its deletion, or use another key".into()),
            Said::PrincipalMissing { .. } => Some("create the role or correct the ARN".into()),
            Said::KeyUseFails { error, .. } => Some(
                match error {
                    KmsError::DisabledException => "enable the key (aws kms enable-key)",
                    KmsError::KmsInvalidStateException => {
                        "cancel the key's deletion or finish importing its material, or use another key"
                    }
                    KmsError::UnsupportedOperation => "run this operation from the key's own account",
                }
                .into(),
            ),
            Said::KeyUseDenied { used: KeyUse { principal, action, for_aws_resources, key, via }, .. } => {
                Some(if *for_aws_resources {
                    format!(
                        "add a key-policy statement allowing kms:CreateGrant for {principal} with the condition Bool kms:GrantIsForAWSResource true"
                    )
                } else if key.aws_managed {
                    "an AWS managed key's policy cannot be changed: use a customer managed key whose policy allows this principal".to_owned()
                } else {
                    let via_cond = via.as_deref().map(|v| format!(" with kms:ViaService {v}")).unwrap_or_default();
                    format!(
                        "add a key-policy statement allowing {action} for {principal}{via_cond}; a principal in another account also needs {action} on the key ARN in its own IAM policy"
                    )
                })
            }
            Said::SharedUnderAwsManagedKey { account, .. } => Some(format!(
                "copy the snapshot under a customer managed key whose key policy allows account {account} (Decrypt, DescribeKey, CreateGrant, ReEncrypt*), then share the copy"
            )),
            Said::SharedRestoreFails { .. } => Some("enable the key (or cancel its deletion), then share again".into()),
            Said::SharedRestoreNotAllowed { account, missing, partition, .. } => Some(format!(
                "add a key-policy statement allowing arn:{partition}:iam::{account}:root (or its restore role) {}, with CreateGrant conditioned on kms:GrantIsForAWSResource",
                missing.join(", ")
            )),
        }
    }

    pub(super) fn alternatives(&self) -> Option<String> {
        match self {
            Said::KeyUseDenied { used: KeyUse { principal, action, .. }, key_arn, other_account, .. } => other_account
                .then(|| {
                    format!(
                        "`{principal}` is in another account: its own IAM policy must also allow {action} on {key_arn}"
                    )
                }),
            _ => self.fix(),
        }
    }
}

/// One use of a key: who calls which action, through which service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUse {
    pub principal: String,
    pub action: String,
    /// CreateGrant with `kms:GrantIsForAWSResource` (EBS, RDS).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub for_aws_resources: bool,
    pub key: KeyRef,
    /// The service the call goes through (`kms:ViaService`, `s3.us-east-1.amazonaws.com`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// The action as the sentence names it: a grant for AWS resources says so.
fn what(action: &str, for_aws_resources: bool) -> String {
    if for_aws_resources {
        format!("{action} for AWS resources (kms:GrantIsForAWSResource)")
    } else {
        action.to_owned()
    }
}

/// ` through s3` for a call through `s3.us-east-1.amazonaws.com`, else nothing.
fn through(via: Option<&str>) -> String {
    via.map(|v| format!(" through {}", v.split('.').next().unwrap_or(v))).unwrap_or_default()
}

/// Why KMS refuses a call the policies allow.
fn error_reason(err: KmsError) -> &'static str {
    match err {
        KmsError::DisabledException => "the key is disabled",
        KmsError::KmsInvalidStateException => "the key's state does not allow it",
        KmsError::UnsupportedOperation => "KMS does not allow this operation on a key in another account",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{KeyUse, Said};
    use crate::kms::KmsError;
    use crate::said::{KeyRef, Said as Found};

    fn key() -> KeyRef {
        KeyRef { reference: "alias/k".into(), key_id: "k-1".into(), aws_managed: false }
    }

    #[test]
    fn a_call_kms_refuses_across_accounts_is_said_with_its_exception_and_fix() {
        let found = Found::from(Said::KeyUseFails {
            used: KeyUse {
                principal: "arn:aws:iam::222222222222:role/x".into(),
                action: "kms:ScheduleKeyDeletion".into(),
                for_aws_resources: false,
                key: key(),
                via: Some("s3.us-east-1.amazonaws.com".into()),
            },
            error: KmsError::UnsupportedOperation,
        });
        assert_eq!(
            found.sentence(),
            "`arn:aws:iam::222222222222:role/x` is allowed kms:ScheduleKeyDeletion with key `alias/k` (customer managed key k-1) through s3, but the call fails with UnsupportedOperation: KMS does not allow this operation on a key in another account"
        );
        assert_eq!(found.fix().as_deref(), Some("run this operation from the key's own account"));
        assert_eq!(
            serde_json::to_value(&found).unwrap(),
            json!({"kind": "key-use-fails", "principal": "arn:aws:iam::222222222222:role/x",
                   "action": "kms:ScheduleKeyDeletion", "key": {"reference": "alias/k", "keyId": "k-1", "awsManaged": false},
                   "via": "s3.us-east-1.amazonaws.com", "error": "UnsupportedOperation"})
        );
    }
}
