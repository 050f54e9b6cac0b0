//! The secret check's findings: whether each Secrets Manager secret exists under a usable key,
//! and whether each reader may read its value (secretsmanager:GetSecretValue, and kms:Decrypt
//! through Secrets Manager).

use serde::Serialize;

use super::parameter::KeyRecovery;
use super::{Clause, KeyRef, NotAllowed, PoliciesUnknown, Unread, besides_the_statement, clauses, fixes, ticked};

/// What the secret check found about a secret, or about one of its readers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// DescribeSecret found no secret of this name or ARN.
    SecretMissing { secret: String, account: String, region: String },
    /// The secret could not be described.
    SecretUnread { secret: String, unread: Unread },
    /// The secret was never described.
    SecretNotRead { secret: String },
    /// The secret is scheduled for deletion: its value cannot be read.
    SecretPendingDeletion { secret: String },
    /// The secret's key (as DescribeSecret names it) does not exist.
    KeyMissing { secret: String, key: String, error: String },
    /// The secret's key could not be described.
    KeyUnread { secret: String, key: String, unread: Unread },
    /// The secret's key was never described.
    KeyNotRead { secret: String, key: String },
    /// The secret's key is not enabled: no one can read the secret's value.
    KeyNotEnabled { secret: String, key: KeyRef, state: String, recovery: KeyRecovery },
    /// The key policy could not be read or parsed, so no reader can be judged.
    KeyPolicyUnknown { secret: String, key: KeyRef, why: String },
    /// The secret's resource policy could not be read, so no reader can be judged.
    ResourcePolicyUnread { secret: String, unread: Unread },
    /// The secret's resource policy is not a policy Preflight can evaluate.
    ResourcePolicyInvalid { secret: String, error: String },
    /// A secret under an enabled key, with no readers to judge.
    Encrypted { secret: String, key: KeyRef },
    /// The reader's role does not exist.
    ReaderMissing { reader: String, secret: String, why: PoliciesUnknown },
    /// A reader of another account, and a secret under `aws/secretsmanager`, which no other
    /// account can use.
    ManagedKeyNotShared { reader: String, reader_account: String, secret: String, account: String },
    /// The reader may call secretsmanager:GetSecretValue and KMS allows it kms:Decrypt through
    /// Secrets Manager.
    CanRead { reader: String, secret: String, key: KeyRef },
    /// IAM, the secret's policy or KMS refuses the reader; `problems` holds at least one refusal.
    /// `partition`, `account` and `key_arn` name the key for the ways out other than a key-policy
    /// statement.
    CannotRead {
        reader: String,
        secret: String,
        problems: Vec<Problem>,
        partition: String,
        account: String,
        key_arn: String,
    },
    /// Nothing refuses the reader, but an answer is not known.
    ReadUnknown { reader: String, secret: String, problems: Vec<Problem> },
}

/// One thing that stops a reader, or leaves its reading unknown.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Problem {
    /// A statement of the role's policies or of the secret's denies GetSecretValue.
    GetSecretValueDenied { secret_arn: String, denied_by: Vec<String> },
    /// In the secret's account: neither the role's IAM policies nor the secret's resource policy
    /// allow GetSecretValue.
    GetSecretValueNotAllowed { secret_arn: String, role: String },
    /// From another account: the secret's resource policy does not allow the reader.
    ResourcePolicyOmitsReader { secret_arn: String, role: String },
    /// From another account: the resource policy allows it, the reader's own IAM policies do not.
    IdentityOmitsSecret { secret_arn: String },
    /// Whether GetSecretValue is allowed depends on these condition keys.
    GetSecretValueDependsOn { keys: Vec<String> },
    /// The reader's IAM policies are not known.
    IamUnknown {
        #[serde(skip_serializing_if = "Option::is_none")]
        why: Option<PoliciesUnknown>,
    },
    /// Whether KMS allows kms:Decrypt through Secrets Manager is not known.
    DecryptUnknown { key: KeyRef, why: NotAllowed },
    /// KMS does not allow kms:Decrypt through Secrets Manager. `role` is the ARN a key-policy
    /// statement names, `via` the Secrets Manager endpoint, `secret_arn` the encryption context.
    DecryptNotAllowed { key: KeyRef, why: NotAllowed, role: String, via: String, secret_arn: String },
}

impl Clause for Problem {
    fn sentence(&self) -> String {
        match self {
            Problem::GetSecretValueDenied { secret_arn, denied_by } => format!(
                "secretsmanager:GetSecretValue on `{secret_arn}` is denied explicitly by {}",
                denied_by.join(", ")
            ),
            Problem::GetSecretValueNotAllowed { secret_arn, .. } => format!(
                "neither the role's IAM policies nor the secret's resource policy allow secretsmanager:GetSecretValue on `{secret_arn}`"
            ),
            Problem::ResourcePolicyOmitsReader { secret_arn, .. } => format!(
                "the resource policy of `{secret_arn}` does not allow secretsmanager:GetSecretValue to this role, and a secret of another account is readable only where its resource policy allows it"
            ),
            Problem::IdentityOmitsSecret { secret_arn } => format!(
                "no IAM policy of the role allows secretsmanager:GetSecretValue on `{secret_arn}` (a secret of another account needs both its resource policy and the role's policies)"
            ),
            Problem::GetSecretValueDependsOn { keys } => {
                format!("whether secretsmanager:GetSecretValue is allowed depends on {}", ticked(keys))
            }
            Problem::IamUnknown { why } => why.as_ref().map(ToString::to_string).unwrap_or_default(),
            Problem::DecryptUnknown { key, why } => format!("kms:Decrypt of key {key}: {why}"),
            Problem::DecryptNotAllowed { key, why, .. } => {
                format!("kms:Decrypt of key {key} through Secrets Manager is not allowed: {why}")
            }
        }
    }

    fn fix(&self) -> Option<String> {
        match self {
            Problem::GetSecretValueDenied { secret_arn, .. } => {
                Some(format!("remove or narrow the statements that deny secretsmanager:GetSecretValue on {secret_arn}"))
            }
            Problem::GetSecretValueNotAllowed { secret_arn, .. } | Problem::IdentityOmitsSecret { secret_arn } => {
                Some(format!("allow secretsmanager:GetSecretValue on {secret_arn} in the role's IAM policy"))
            }
            Problem::ResourcePolicyOmitsReader { secret_arn, role } => Some(format!(
                "add a statement to the secret's resource policy allowing secretsmanager:GetSecretValue for {role} (aws secretsmanager put-resource-policy --secret-id {secret_arn}), and allow it in the role's IAM policy"
            )),
            Problem::GetSecretValueDependsOn { .. } | Problem::IamUnknown { .. } | Problem::DecryptUnknown { .. } => {
                None
            }
            Problem::DecryptNotAllowed { role, via, secret_arn, .. } => Some(format!(
                "add a key-policy statement allowing kms:Decrypt for {role} with kms:ViaService {via} (and kms:EncryptionContext:SecretARN {secret_arn})"
            )),
        }
    }
}

impl Said {
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::SecretMissing { secret, account, region } => {
                format!("secret `{secret}` does not exist in account {account} region {region}")
            }
            Said::SecretUnread { secret, unread } => format!("secret `{secret}` was not checked: {}", unread.error),
            Said::SecretNotRead { secret } => format!("secret `{secret}` was not read"),
            Said::SecretPendingDeletion { secret } => {
                format!("secret `{secret}` is scheduled for deletion: no one can read its value")
            }
            Said::KeyMissing { secret, key, error } => {
                format!("secret `{secret}` is encrypted under key `{key}`, which does not exist: {error}")
            }
            Said::KeyUnread { secret, key, unread } => {
                format!("the key `{key}` of secret `{secret}` was not checked: {}", unread.error)
            }
            Said::KeyNotRead { secret, key } => format!("the key `{key}` of secret `{secret}` was not read"),
            Said::KeyNotEnabled { secret, key, state, .. } => {
                format!("secret `{secret}` cannot be read by anyone: its key {key} is {state}")
            }
            Said::KeyPolicyUnknown { secret, key, why } => {
                format!("readers of secret `{secret}` were not checked: key {key}: {why}")
            }
            Said::ResourcePolicyUnread { secret, unread } => format!(
                "readers of secret `{secret}` were not checked: its resource policy could not be read: {}",
                unread.error
            ),
            Said::ResourcePolicyInvalid { secret, error } => {
                format!("readers of secret `{secret}` were not checked: its resource policy: {error}")
            }
            Said::Encrypted { secret, key } => {
                format!("secret `{secret}` is encrypted under key {key}, which is enabled")
            }
            Said::ReaderMissing { reader, secret, why } => format!("`{reader}` cannot read secret `{secret}`: {why}"),
            Said::ManagedKeyNotShared { reader, reader_account, secret, account } => format!(
                "`{reader}` in account {reader_account} cannot read secret `{secret}` of account {account}: it is encrypted under the AWS managed key aws/secretsmanager, which cannot be used from another account"
            ),
            Said::CanRead { reader, secret, key } => {
                format!("`{reader}` can read secret `{secret}` (encrypted under key {key})")
            }
            Said::CannotRead { reader, secret, problems, .. } => {
                format!("`{reader}` cannot read secret `{secret}`: {}", clauses(problems))
            }
            Said::ReadUnknown { reader, secret, problems } => {
                format!("whether `{reader}` can read secret `{secret}` is unknown: {}", clauses(problems))
            }
        }
    }

    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::SecretMissing { secret, .. } => Some(format!(
                "create it (aws secretsmanager create-secret --name {secret}), or correct the name (a partial ARN must end with the secret's 6-character suffix)"
            )),
            Said::SecretPendingDeletion { secret } => Some(format!(
                "restore it (aws secretsmanager restore-secret --secret-id {secret}), or point the stack at another secret"
            )),
            Said::SecretUnread { unread, .. }
            | Said::KeyUnread { unread, .. }
            | Said::ResourcePolicyUnread { unread, .. } => unread.fix(),
            Said::KeyMissing { secret, .. } => Some(format!(
                "switch the secret to an existing key (aws secretsmanager update-secret --secret-id {secret} --kms-key-id KEY)"
            )),
            Said::KeyNotEnabled { secret, recovery, .. } => {
                let switch = format!(
                    "switch the secret to a usable key (aws secretsmanager update-secret --secret-id {secret} --kms-key-id KEY)"
                );
                Some(match recovery {
                    KeyRecovery::Enable => format!("enable the key (aws kms enable-key), or {switch}"),
                    KeyRecovery::CancelDeletion => {
                        format!("cancel the key's deletion (aws kms cancel-key-deletion) and enable it, or {switch}")
                    }
                    KeyRecovery::None => switch,
                })
            }
            Said::ReaderMissing { .. } => Some("create the role or correct the ARN".into()),
            Said::ManagedKeyNotShared { reader_account, secret, .. } => Some(format!(
                "encrypt the secret under a customer managed key whose key policy allows account {reader_account} (aws secretsmanager update-secret --secret-id {secret} --kms-key-id KEY), and allow the reader in the secret's resource policy"
            )),
            Said::CannotRead { problems, .. } | Said::ReadUnknown { problems, .. } => fixes(problems.iter()),
            Said::SecretNotRead { .. }
            | Said::KeyNotRead { .. }
            | Said::KeyPolicyUnknown { .. }
            | Said::ResourcePolicyInvalid { .. }
            | Said::Encrypted { .. }
            | Said::CanRead { .. } => None,
        }
    }

    /// With the key-policy statement as the change: what else must change, and the other ways out
    /// of the key's refusal.
    pub(super) fn alternatives(&self) -> Option<String> {
        match self {
            Said::CannotRead { problems, partition, account, key_arn, .. } => {
                let others = problems.iter().filter(|p| !matches!(p, Problem::DecryptNotAllowed { .. }));
                let way_out = format!(
                    "where the key policy delegates to IAM (an arn:{partition}:iam::{account}:root statement), allow kms:Decrypt on {key_arn} in the role's IAM policy"
                );
                Some(besides_the_statement(others, way_out))
            }
            _ => self.fix(),
        }
    }
}
