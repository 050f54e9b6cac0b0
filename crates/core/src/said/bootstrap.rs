//! The bootstrap check's findings: the bootstrap version, the toolkit stack, the assets bucket's
//! encryption and key, each role's use of that key through S3, and the deploy roles' trust.

use serde::Serialize;

use super::{KeyRef, NotAllowed, Unread, qualifier_flag, ticked};

/// What the bootstrap check found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// The bootstrap environment was not read at all.
    NotRead,
    /// The installed bootstrap version is at least the one the stacks need.
    RecentEnough { environment: Environment, installed: u32, required: u32 },
    /// The installed bootstrap version is below the one the stacks need: the CDK CLI refuses to
    /// deploy (`requiresBootstrapStackVersion`).
    TooOld { environment: Environment, installed: u32, required: u32 },
    /// `/cdk-bootstrap/<qualifier>/version` holds something other than a number.
    VersionNotANumber { version: String, qualifier: String, required: u32 },
    /// `/cdk-bootstrap/<qualifier>/version` does not exist: not bootstrapped with this qualifier.
    NotBootstrapped { environment: Environment },
    /// The version parameter could not be read.
    VersionUnread { unread: Unread },
    /// The toolkit stack was given a key ARN as FileAssetsBucketKmsKeyId, where CDK expects a key
    /// id (aws-cdk-cli#921); `key_id` is the id to give instead.
    KeyArnForKeyId { stack: String, key_arn: String, key_id: String, environment: Environment },
    /// The toolkit stack does not exist, though the version parameter does.
    ToolkitStackMissing { stack: String, environment: Environment },
    /// The toolkit stack could not be read.
    ToolkitStackUnread { unread: Unread },
    /// The assets bucket is not known (`why`), so its encryption was not checked.
    BucketUnknown { why: String },
    /// The bucket's encryption could not be read.
    EncryptionUnread { bucket: String, unread: Unread },
    /// The bucket is not encrypted with KMS: its algorithm, or `None` for no default encryption
    /// rule. The roles need no key permission.
    NoKmsKey {
        bucket: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        algorithm: Option<String>,
    },
    /// The bucket's key, as the bucket names it, does not exist.
    BucketKeyMissing { bucket: String, key: String },
    /// The bucket's key, as the bucket names it, could not be read.
    BucketKeyUnread { bucket: String, key: String, unread: Unread },
    /// The bucket's key is not enabled; `state` as DescribeKey names it.
    BucketKeyNotEnabled { bucket: String, key: KeyRef, state: String },
    /// The bucket's key policy cannot be judged (`why`), so the roles' use of it was not checked.
    KeyPolicyUnknown { key: KeyRef, why: String },
    /// A bootstrap role or reader does not exist.
    RoleMissing { principal: String, environment: Environment },
    /// `principal` may use the bucket's key through S3 for what it does.
    KeyUseAllowed { principal: String, user: KeyUser, action: String, key: KeyRef },
    /// Whether `principal` may use the bucket's key through S3 is unknown.
    KeyUseUnknown { principal: String, user: KeyUser, action: String, key: KeyRef, why: NotAllowed },
    /// `principal` may not use the bucket's key through S3 (the service `via`).
    KeyUseDenied {
        principal: String,
        user: KeyUser,
        action: String,
        key: KeyRef,
        via: String,
        why: NotAllowed,
        environment: Environment,
    },
    /// A stack's file assets go to a bucket that is not this environment's assets bucket.
    AssetBucketNotBootstrapped {
        /// The first such asset, and how many there are.
        asset: String,
        count: usize,
        bucket: String,
        assets_bucket: String,
        environment: Environment,
    },
    /// The publishing role may upload every file asset to the bucket.
    AssetsUploadAllowed { role: String, bucket: String, count: usize },
    /// The publishing role may not upload a file asset (the first refused, and how many).
    AssetUploadDenied { role: String, asset: String, object_arn: String, count: usize, denied_by: Vec<String> },
    /// Whether the publishing role may upload a file asset is not known.
    AssetUploadUnknown { role: String, asset: String, object_arn: String, why: String },
    /// The bootstrap role `name` trusts `account`.
    Trusted { role: BootstrapRole, name: String, account: String },
    /// The bootstrap role `name` does not trust `account`: deployments from it cannot assume it.
    NotTrusted { role: BootstrapRole, name: String, account: String, environment: Environment },
    /// Whether the bootstrap role `name` trusts `account` depends on the condition keys `keys`,
    /// which the assuming call may or may not carry.
    TrustUndecided { role: BootstrapRole, name: String, account: String, keys: Vec<String> },
    /// The trust policy of the bootstrap role `name` was not read.
    TrustPolicyNotRead { role: BootstrapRole, name: String, account: String },
}

/// The environment a bootstrap command names: its account and region, and the qualifier.
/// Written `aws://account/region`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub account: String,
    pub region: String,
    pub qualifier: String,
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "aws://{}/{}", self.account, self.region)
    }
}

impl Environment {
    /// `cdk bootstrap aws://account/region`, with ` --qualifier q` for another than CDK's default.
    fn bootstrap(&self) -> String {
        format!("cdk bootstrap {self}{}", qualifier_flag(&self.qualifier))
    }

    /// The way out of a key the roles cannot use: CDK's own key.
    fn default_key(&self) -> String {
        format!("re-bootstrap with the default key: {} without --bootstrap-kms-key-id", self.bootstrap())
    }
}

/// A role the bootstrap template creates. Written as CDK names its kind (`deploy-role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootstrapRole {
    FilePublishingRole,
    DeployRole,
    CfnExecRole,
}

impl BootstrapRole {
    /// The kind as it appears in the role's name, `cdk-<qualifier>-<kind>-<account>-<region>`.
    pub fn kind(self) -> &'static str {
        match self {
            BootstrapRole::FilePublishingRole => "file-publishing-role",
            BootstrapRole::DeployRole => "deploy-role",
            BootstrapRole::CfnExecRole => "cfn-exec-role",
        }
    }
}

impl std::fmt::Display for BootstrapRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// Who uses the assets bucket's key: a bootstrap role (`deploy-role`, ...) or a reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyUser {
    /// A role named in Bootstrap.Readers: it reads assets at run time.
    Reader,
    /// A bootstrap role.
    #[serde(untagged)]
    Role(BootstrapRole),
}

impl KeyUser {
    /// What it uses the key for.
    fn purpose(self) -> &'static str {
        match self {
            KeyUser::Role(BootstrapRole::FilePublishingRole) => "to upload assets",
            KeyUser::Role(BootstrapRole::DeployRole) => "for CloudFormation to read templates",
            KeyUser::Role(BootstrapRole::CfnExecRole) => {
                "to read Lambda code and other assets while creating resources"
            }
            KeyUser::Reader => "to read assets at run time",
        }
    }
}

impl Said {
    /// The finding's sentence.
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::NotRead => "the bootstrap environment was not read".to_owned(),
            Said::RecentEnough { environment, installed, required } => {
                format!(
                    "{environment} is bootstrapped with version {installed}, at least the {required} the stacks need"
                )
            }
            Said::TooOld { environment, installed, required } => format!(
                "{environment} is bootstrapped with version {installed}, but the stacks need at least version {required}: cdk deploy stops before deploying anything"
            ),
            Said::VersionNotANumber { version, qualifier, required } => format!(
                "the bootstrap version `{version}` in /cdk-bootstrap/{qualifier}/version is not a number, so whether it is at least {required} is unknown"
            ),
            Said::NotBootstrapped { environment } => format!(
                "{environment} is not bootstrapped with qualifier `{q}`: parameter /cdk-bootstrap/{q}/version does not exist",
                q = environment.qualifier
            ),
            Said::VersionUnread { unread } => format!("the bootstrap version was not read: {}", unread.error),
            Said::KeyArnForKeyId { stack, key_arn, .. } => format!(
                "stack `{stack}` was bootstrapped with FileAssetsBucketKmsKeyId `{key_arn}`, a key ARN where CDK expects a key id: the file-publishing role's policy then names `key/arn:...` and grants nothing (aws-cdk-cli#921)"
            ),
            Said::ToolkitStackMissing { stack, environment } => format!(
                "the toolkit stack `{stack}` does not exist in {environment}, though /cdk-bootstrap/{}/version does",
                environment.qualifier
            ),
            Said::ToolkitStackUnread { unread } => format!("the toolkit stack was not read: {}", unread.error),
            Said::BucketUnknown { why } => format!("the assets bucket's encryption was not checked: {why}"),
            Said::EncryptionUnread { bucket, unread } => {
                format!("the encryption of bucket `{bucket}` was not read: {}", unread.error)
            }
            Said::NoKmsKey { bucket, algorithm } => format!(
                "bucket `{bucket}` uses {}: the deploy roles need no KMS permission",
                algorithm.as_deref().unwrap_or("no default encryption rule")
            ),
            Said::BucketKeyMissing { bucket, key } => format!(
                "bucket `{bucket}` is encrypted with key `{key}`, which does not exist: every upload and deploy fails"
            ),
            Said::BucketKeyUnread { bucket, key, unread } => {
                format!("the key `{key}` of bucket `{bucket}` was not read: {}", unread.error)
            }
            Said::BucketKeyNotEnabled { bucket, key, state } => {
                format!("the key {key} of bucket `{bucket}` is {state}: every asset upload and deploy fails")
            }
            Said::KeyPolicyUnknown { key, why } => format!("the bootstrap roles were not checked: key {key}: {why}"),
            Said::RoleMissing { principal, environment } => format!(
                "`{principal}` does not exist: the bootstrap stack is incomplete or uses another qualifier than `{}`",
                environment.qualifier
            ),
            Said::KeyUseAllowed { principal, user, action, key } => {
                format!("`{principal}` can {action} the assets bucket's key {key} through S3 {}", user.purpose())
            }
            Said::KeyUseUnknown { principal, action, key, why, .. } => {
                format!("whether `{principal}` can {action} the assets bucket's key {key} through S3 is unknown: {why}")
            }
            Said::KeyUseDenied { principal, user, action, key, why, .. } => format!(
                "`{principal}` cannot {action} the assets bucket's key {key} through S3 {}: {why}",
                user.purpose()
            ),
            Said::Trusted { role, name, account } => format!("the {role} `{name}` trusts account {account}"),
            Said::NotTrusted { role, name, account, .. } => format!(
                "the {role} `{name}` does not trust account {account}, so deployments from it cannot assume the role"
            ),
            Said::TrustUndecided { role, name, account, keys } => format!(
                "whether the {role} `{name}` trusts account {account} depends on what the assuming call carries: the trust policy's conditions use {}",
                ticked(keys)
            ),
            Said::TrustPolicyNotRead { name, .. } => format!("the trust policy of `{name}` was not read"),
            Said::AssetBucketNotBootstrapped { asset, count, bucket, assets_bucket, environment } => format!(
                "{asset}{} is published to bucket `{bucket}`, but the assets bucket of {environment} (qualifier {}) is `{assets_bucket}`: cdk deploy cannot upload {}",
                if *count > 1 { format!(" (and {} more file assets)", count - 1) } else { String::new() },
                environment.qualifier,
                if *count > 1 { "them" } else { "it" },
            ),
            Said::AssetsUploadAllowed { role, bucket, count } => {
                format!("`{role}` may upload the {count} file asset(s) to bucket `{bucket}` (s3:PutObject)")
            }
            Said::AssetUploadDenied { role, asset, object_arn, count, denied_by } => {
                let why = if denied_by.is_empty() {
                    "no identity policy of the role allows it".to_owned()
                } else {
                    format!("denied by {}", denied_by.join(", "))
                };
                let more = if *count > 1 { format!(" (and {} more file assets)", count - 1) } else { String::new() };
                format!("`{role}` may not upload {asset}{more}: s3:PutObject on {object_arn}: {why}")
            }
            Said::AssetUploadUnknown { role, asset, object_arn, why } => {
                format!("whether `{role}` may upload {asset} (s3:PutObject on {object_arn}) is unknown: {why}")
            }
        }
    }

    /// The fix in words, when there is one.
    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::AssetBucketNotBootstrapped { assets_bucket, .. } => Some(format!(
                "synthesize with new DefaultStackSynthesizer({{ fileAssetsBucketName: '{assets_bucket}' }}) (or the qualifier of the environment whose bucket it is), or re-bootstrap with the default bucket name"
            )),
            Said::AssetsUploadAllowed { .. } | Said::AssetUploadUnknown { .. } => None,
            Said::AssetUploadDenied { role, object_arn, .. } => Some(format!(
                "allow s3:PutObject on {object_arn} in a policy of `{role}` (the bootstrap template gives it s3:PutObject on the assets bucket: re-bootstrap if it was changed)"
            )),
            Said::TooOld { environment, .. } => {
                Some(format!("run {} with the current CDK CLI", environment.bootstrap()))
            }
            Said::NotBootstrapped { environment } => Some(format!("run {}", environment.bootstrap())),
            Said::VersionUnread { unread }
            | Said::ToolkitStackUnread { unread }
            | Said::EncryptionUnread { unread, .. }
            | Said::BucketKeyUnread { unread, .. } => unread.fix(),
            Said::KeyArnForKeyId { key_id, environment, .. } => {
                Some(format!("re-run {} --bootstrap-kms-key-id {key_id}", environment.bootstrap()))
            }
            Said::ToolkitStackMissing { environment, .. } => {
                Some(format!("run {}, or set Bootstrap.ToolkitStackName to the stack's name", environment.bootstrap()))
            }
            Said::BucketKeyMissing { .. } => Some("re-bootstrap with the default key".to_owned()),
            Said::BucketKeyNotEnabled { .. } => Some("enable the key, or re-bootstrap with the default key".to_owned()),
            Said::RoleMissing { environment, .. } => Some(format!("re-run {}", environment.bootstrap())),
            Said::KeyUseDenied { principal, action, via, environment, .. } => Some(format!(
                "add a key-policy statement allowing {action} for {principal} with kms:ViaService {via} (CDK's own bootstrap key allows every principal of the account through S3), or {}",
                environment.default_key()
            )),
            Said::NotTrusted { account, environment, .. } => Some(format!(
                "run {} --trust {account} --cloudformation-execution-policies ...",
                environment.bootstrap()
            )),
            Said::NotRead
            | Said::RecentEnough { .. }
            | Said::VersionNotANumber { .. }
            | Said::BucketUnknown { .. }
            | Said::NoKmsKey { .. }
            | Said::KeyPolicyUnknown { .. }
            | Said::KeyUseAllowed { .. }
            | Said::KeyUseUnknown { .. }
            | Said::Trusted { .. }
            | Said::TrustUndecided { .. }
            | Said::TrustPolicyNotRead { .. } => None,
        }
    }

    /// With a key-policy statement to paste, the other way out: CDK's own key.
    pub(super) fn alternatives(&self) -> Option<String> {
        match self {
            Said::KeyUseDenied { environment, .. } => Some(environment.default_key()),
            _ => self.fix(),
        }
    }
}
