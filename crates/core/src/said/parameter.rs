//! The parameter check's findings: whether each SSM parameter exists, is a SecureString under a
//! usable key, and whether each reader may read it.

use serde::Serialize;

use super::{Clause, KeyRef, NotAllowed, PoliciesUnknown, Unread, besides_the_statement, clauses, fixes, ticked};

/// What the parameter check found about a parameter, or about one of its readers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// DescribeParameters found no parameter of this name.
    ParameterMissing { name: String, account: String, region: String },
    /// The parameter could not be described.
    ParameterUnread { name: String, unread: Unread },
    /// The parameter was never described.
    ParameterNotRead { name: String },
    /// The parameter is a `String` or `StringList`: stored unencrypted. `kind` is its SSM `Type`
    /// (in JSON `type`, `kind` being the finding's).
    NotSecureString {
        name: String,
        #[serde(rename = "type")]
        kind: String,
    },
    /// A SecureString for which DescribeParameters named no key.
    NoKeyNamed { name: String },
    /// The parameter's key (`key`, as DescribeParameters names it) does not exist.
    KeyMissing { name: String, key: String, error: String },
    /// The parameter's key could not be described.
    KeyUnread { name: String, key: String, unread: Unread },
    /// The parameter's key was never described.
    KeyNotRead { name: String, key: String },
    /// The parameter's key is not enabled (`state`, as DescribeKey names it): no one can read it.
    KeyNotEnabled { name: String, key: KeyRef, state: String, recovery: KeyRecovery },
    /// The key policy could not be read or parsed, so no reader can be judged.
    KeyPolicyUnknown { name: String, key: KeyRef, why: String },
    /// A SecureString under an enabled key, with no readers to judge.
    Encrypted { name: String, key: KeyRef },
    /// The reader's role does not exist.
    ReaderMissing { reader: String, name: String, why: PoliciesUnknown },
    /// A reader of another account, and a standard-tier parameter, which cannot be shared.
    StandardTierNotShared { reader: String, reader_account: String, name: String, account: String },
    /// IAM allows the reader ssm:GetParameter and KMS allows it kms:Decrypt through SSM.
    CanRead { reader: String, name: String, key: KeyRef },
    /// IAM or KMS refuses the reader; `problems` holds at least one refusal. `partition`,
    /// `account` and `key_arn` name the key for the ways out other than a key-policy statement.
    CannotRead {
        reader: String,
        name: String,
        problems: Vec<Problem>,
        partition: String,
        account: String,
        key_arn: String,
    },
    /// Nothing refuses the reader, but IAM's or KMS's answer is not known.
    ReadUnknown { reader: String, name: String, problems: Vec<Problem> },
}

/// What can bring back a key that is not enabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyRecovery {
    /// A disabled key: enable it.
    Enable,
    /// A key pending deletion: cancel the deletion, then enable it.
    CancelDeletion,
    /// Nothing the user can do to the key.
    None,
}

/// One thing that stops a reader, or leaves its reading unknown: an IAM (ssm:GetParameter) or a
/// KMS (kms:Decrypt) judgement.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Problem {
    /// An IAM statement denies ssm:GetParameter on the parameter.
    GetParameterDenied { parameter_arn: String, denied_by: Vec<String> },
    /// No IAM policy of the reader allows ssm:GetParameter on the parameter.
    GetParameterNotAllowed { parameter_arn: String },
    /// Whether IAM allows ssm:GetParameter depends on these condition keys.
    GetParameterDependsOn { keys: Vec<String> },
    /// The reader's IAM policies are not known (`why`, when a reason was recorded).
    IamUnknown {
        #[serde(skip_serializing_if = "Option::is_none")]
        why: Option<PoliciesUnknown>,
    },
    /// Whether KMS allows kms:Decrypt through SSM is not known.
    DecryptUnknown { key: KeyRef, why: NotAllowed },
    /// KMS does not allow kms:Decrypt through SSM. `role` is the ARN a key-policy statement
    /// names, `via` the SSM endpoint, `parameter_arn` the encryption context.
    DecryptNotAllowed { key: KeyRef, why: NotAllowed, role: String, via: String, parameter_arn: String },
}

impl Clause for Problem {
    fn sentence(&self) -> String {
        match self {
            Problem::GetParameterDenied { parameter_arn, denied_by } => {
                format!("ssm:GetParameter on `{parameter_arn}` is denied explicitly by {}", denied_by.join(", "))
            }
            Problem::GetParameterNotAllowed { parameter_arn } => {
                format!("no IAM policy of the role allows ssm:GetParameter on `{parameter_arn}`")
            }
            Problem::GetParameterDependsOn { keys } => {
                format!("whether IAM allows ssm:GetParameter depends on {}", ticked(keys))
            }
            Problem::IamUnknown { why } => why.as_ref().map(ToString::to_string).unwrap_or_default(),
            Problem::DecryptUnknown { key, why } => format!("kms:Decrypt of key {key}: {why}"),
            Problem::DecryptNotAllowed { key, why, .. } => {
                format!("kms:Decrypt of key {key} through SSM is not allowed: {why}")
            }
        }
    }

    fn fix(&self) -> Option<String> {
        match self {
            Problem::GetParameterDenied { parameter_arn, .. } | Problem::GetParameterNotAllowed { parameter_arn } => {
                Some(format!("allow ssm:GetParameter on {parameter_arn} in the role's IAM policy"))
            }
            Problem::GetParameterDependsOn { .. } | Problem::IamUnknown { .. } | Problem::DecryptUnknown { .. } => None,
            Problem::DecryptNotAllowed { role, via, parameter_arn, .. } => Some(format!(
                "add a key-policy statement allowing kms:Decrypt for {role} with kms:ViaService {via} (and kms:EncryptionContext:PARAMETER_ARN {parameter_arn}), or delegate to IAM with the account root and allow it in the role's policy, or re-create the parameter under alias/aws/ssm"
            )),
        }
    }
}

impl Said {
    /// The finding's sentence.
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::ParameterMissing { name, account, region } => {
                format!("parameter `{name}` does not exist in account {account} region {region}")
            }
            Said::ParameterUnread { name, unread } => format!("parameter `{name}` was not checked: {}", unread.error),
            Said::ParameterNotRead { name } => format!("parameter `{name}` was not read"),
            Said::NotSecureString { name, kind } => {
                format!("parameter `{name}` is a {kind}, not a SecureString: its value is stored unencrypted")
            }
            Said::NoKeyNamed { name } => {
                format!("parameter `{name}` was not checked: DescribeParameters named no key for this SecureString")
            }
            Said::KeyMissing { name, key, error } => {
                format!("parameter `{name}` is encrypted under key `{key}`, which does not exist: {error}")
            }
            Said::KeyUnread { name, key, unread } => {
                format!("the key `{key}` of parameter `{name}` was not checked: {}", unread.error)
            }
            Said::KeyNotRead { name, key } => format!("the key `{key}` of parameter `{name}` was not read"),
            Said::KeyNotEnabled { name, key, state, .. } => {
                format!("parameter `{name}` cannot be read by anyone: its key {key} is {state}")
            }
            Said::KeyPolicyUnknown { name, key, why } => {
                format!("readers of parameter `{name}` were not checked: key {key}: {why}")
            }
            Said::Encrypted { name, key } => {
                format!("parameter `{name}` is a SecureString under key {key}, which is enabled")
            }
            Said::ReaderMissing { reader, name, why } => format!("`{reader}` cannot read parameter `{name}`: {why}"),
            Said::StandardTierNotShared { reader, reader_account, name, account } => format!(
                "`{reader}` in account {reader_account} cannot read parameter `{name}` of account {account}: standard-tier parameters cannot be shared with other accounts"
            ),
            Said::CanRead { reader, name, key } => {
                format!("`{reader}` can read parameter `{name}` (SecureString under key {key})")
            }
            Said::CannotRead { reader, name, problems, .. } => {
                format!("`{reader}` cannot read parameter `{name}`: {}", clauses(problems))
            }
            Said::ReadUnknown { reader, name, problems } => {
                format!("whether `{reader}` can read parameter `{name}` is unknown: {}", clauses(problems))
            }
        }
    }

    /// The fix in words, when there is one.
    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::ParameterMissing { name, .. } => Some(format!(
                "create it as a SecureString (aws ssm put-parameter --name {name} --type SecureString), or correct the name"
            )),
            Said::ParameterUnread { unread, .. } | Said::KeyUnread { unread, .. } => unread.fix(),
            Said::NotSecureString { .. } => {
                Some("re-create it as a SecureString (a parameter's type and key cannot be changed in place)".into())
            }
            Said::KeyMissing { .. } => Some(
                "re-create the parameter under an existing key (a parameter's key cannot be changed in place)".into(),
            ),
            Said::KeyNotEnabled { recovery, .. } => Some(
                match recovery {
                    KeyRecovery::Enable => {
                        "enable the key (aws kms enable-key), or re-create the parameter under a usable key"
                    }
                    KeyRecovery::CancelDeletion => {
                        "cancel the key's deletion (aws kms cancel-key-deletion) and enable it, or re-create the parameter under a usable key"
                    }
                    KeyRecovery::None => "re-create the parameter under a usable key",
                }
                .into(),
            ),
            Said::ReaderMissing { .. } => Some("create the role or correct the ARN".into()),
            Said::StandardTierNotShared { .. } => Some(
                "read it from a role in this account, or use an advanced-tier parameter shared through AWS RAM, or a Secrets Manager secret with a resource policy".into(),
            ),
            Said::CannotRead { problems, .. } | Said::ReadUnknown { problems, .. } => fixes(problems.iter()),
            Said::ParameterNotRead { .. }
            | Said::NoKeyNamed { .. }
            | Said::KeyNotRead { .. }
            | Said::KeyPolicyUnknown { .. }
            | Said::Encrypted { .. }
            | Said::CanRead { .. } => None,
        }
    }

    /// With the key-policy statement as the change: what else must change (the fixes of the other
    /// problems) and the other ways out of the key's refusal.
    pub(super) fn alternatives(&self) -> Option<String> {
        match self {
            Said::CannotRead { problems, partition, account, key_arn, .. } => {
                let others = problems.iter().filter(|p| !matches!(p, Problem::DecryptNotAllowed { .. }));
                let way_out = format!(
                    "where the key policy delegates to IAM (an arn:{partition}:iam::{account}:root statement), allow kms:Decrypt on {key_arn} in the role's IAM policy; or re-create the parameter under alias/aws/ssm (a parameter's key cannot be changed in place)"
                );
                Some(besides_the_statement(others, way_out))
            }
            _ => self.fix(),
        }
    }
}
