//! Facts: what was read about the account, as plain data, and why a read failed.
//!
//! The fetch layer (in the `preflight` crate) fills these in; the checks judge them. Nothing here
//! does I/O or decides anything: a read that failed is kept as its error, never replaced by a
//! default, so a check can say `unknown` and name what is missing.

mod builder;

use std::collections::{BTreeMap, BTreeSet};

pub use builder::{FactsBuilder, denied, toolkit_stack};

use crate::delegation::Lookup;
use crate::kms::{Grant, KeyState};

/// Who Preflight runs as, from STS GetCallerIdentity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// Who manages a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyManager {
    /// An AWS managed key (`alias/aws/...`): its policy cannot be changed.
    Aws,
    Customer,
}

/// DescribeKey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    pub arn: String,
    pub key_id: String,
    pub manager: KeyManager,
    pub state: KeyState,
    pub usage: String,
    pub spec: String,
}

/// DescribeParameters (never the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParameterInfo {
    pub name: String,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    /// The key as DescribeParameters reports it: an alias (`alias/aws/ssm`), id or ARN.
    pub key_id: Option<String>,
    pub tier: Option<String>,
}

/// DescribeSecret (never the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretInfo {
    pub arn: String,
    pub name: String,
    /// The key as DescribeSecret reports it (an id, ARN or alias); absent when the secret is
    /// encrypted under the AWS managed key `aws/secretsmanager` (Secrets Manager User Guide,
    /// "Secret encryption and decryption").
    pub kms_key_id: Option<String>,
    /// DescribeSecret gave a `DeletedDate`: the secret is scheduled for deletion, and its value
    /// cannot be read until it is restored.
    pub pending_deletion: bool,
}

/// A secret and its resource policy (GetResourcePolicy; `None` when it has none).
#[derive(Clone, Debug)]
pub struct SecretFacts {
    pub info: SecretInfo,
    pub policy: Result<Option<String>, FetchError>,
}

/// The key a secret without `KmsKeyId` is encrypted under.
pub const SECRETS_MANAGER_KEY: &str = "alias/aws/secretsmanager";

/// GetRole and its policies' names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleInfo {
    pub arn: String,
    pub name: String,
    pub boundary_arn: Option<String>,
    pub inline_names: Vec<String>,
    pub attached_arns: Vec<String>,
    /// The trust policy (AssumeRolePolicyDocument), URL-decoded.
    pub trust_policy: Option<String>,
    /// A role the stack creates whose name CloudFormation generates: its logical id (its ARN is
    /// a stand-in until it exists).
    pub generated_from: Option<String>,
}

/// DescribeStacks of one stack: its parameters and outputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackInfo {
    pub parameters: std::collections::BTreeMap<String, String>,
    pub outputs: std::collections::BTreeMap<String, String>,
    /// The stack's service role, when it has one.
    pub role_arn: Option<String>,
}

/// GetBucketEncryption's default rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    /// The key for `aws:kms`: absent means the AWS managed key aws/s3.
    pub kms_key: Option<String>,
    pub bucket_key: bool,
}

/// A Route 53 hosted zone: GetHostedZone, or a ListHostedZonesByName summary (no name servers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneInfo {
    /// The bare id (`Z0123...`, without `/hostedzone/`).
    pub id: String,
    /// Lower-case, without the trailing dot.
    pub name: String,
    pub private: bool,
    pub comment: Option<String>,
    /// The zone's delegation set, normalised ([`crate::delegation::normalise_ns`]); empty for a private
    /// zone and for a summary.
    pub name_servers: Vec<String>,
}

/// The comment Route 53 Domains gives the hosted zone it creates at registration (docs/aws-facts.md 5).
pub const REGISTRAR_COMMENT: &str = "HostedZone created by Route53 Registrar";

impl ZoneInfo {
    /// Whether Route 53 Domains created this zone when the domain was registered.
    pub fn registrar_created(&self) -> bool {
        self.comment.as_deref().is_some_and(|c| c.trim() == REGISTRAR_COMMENT)
    }
}

/// The underlying error of a failed read (the SDK's, with its own sources), kept for its cause
/// chain. Compared by its text, so facts stay comparable in tests.
#[derive(Clone, Debug)]
pub struct Cause(pub std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for Cause {}

/// Why a fact could not be read: the operation (its IAM action), what went wrong, the service's
/// own words, and the underlying error as the source.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Preflight's own role may not make this call.
    #[error("Preflight's role is not allowed `{action}`: {message}")]
    AccessDenied {
        action: &'static str,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The thing does not exist (or is not visible to Preflight), as the operation's typed error
    /// says.
    #[error("`{action}`: not found: {message}")]
    NotFound {
        action: &'static str,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The endpoint could not be reached or did not answer in time.
    #[error("`{action}` could not reach AWS: {message}")]
    Unreachable {
        action: &'static str,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// Any other error the service returned.
    #[error("`{action}` failed: {message}")]
    Service {
        action: &'static str,
        message: String,
        #[source]
        source: Option<Cause>,
    },
    /// The answer lacked something Preflight needs (a field, a known value).
    #[error("`{action}` answered without {what}")]
    Incomplete { action: &'static str, what: String },
    /// Not read, because what it depends on is not known.
    #[error("{what} was not read: {why}")]
    NotRead { what: &'static str, why: String },
}

impl FetchError {
    /// Not found, with the service's words and no underlying error (facts made by hand).
    pub fn not_found(action: &'static str, message: impl Into<String>) -> Self {
        FetchError::NotFound { action, message: message.into(), source: None }
    }
}

/// A key and what was read about it.
#[derive(Clone, Debug)]
pub struct KeyFacts {
    pub info: KeyInfo,
    pub policy: Result<String, FetchError>,
    pub grants: Result<Vec<Grant>, FetchError>,
}

/// A role and its policy documents (name or ARN, and the document or why it could not be read).
#[derive(Clone, Debug)]
pub struct RoleFacts {
    pub info: RoleInfo,
    pub inline: Vec<(String, Result<String, FetchError>)>,
    pub managed: Vec<(String, Result<String, FetchError>)>,
    pub boundary: Option<(String, Result<String, FetchError>)>,
}

/// The CDK bootstrap environment as read.
#[derive(Clone, Debug)]
pub struct BootstrapFacts {
    /// `/cdk-bootstrap/<qualifier>/version`.
    pub version: Result<Option<String>, FetchError>,
    pub stack: Result<Option<StackInfo>, FetchError>,
    /// The assets bucket: the stack's `BucketName` output (CDK's default name when there is no
    /// toolkit stack), or why it is not known.
    pub bucket: Result<String, String>,
    pub encryption: Result<Option<BucketEncryption>, FetchError>,
    /// The bucket's key (reference, facts) when it is encrypted with KMS.
    pub key: Option<(String, Result<KeyFacts, FetchError>)>,
}

/// The hosted zone as read: the zone, its namesakes, its delegation and the NS cuts inside it.
#[derive(Clone, Debug)]
pub struct HostedZoneFacts {
    pub zone: Result<ZoneInfo, FetchError>,
    /// The public zones with the zone's name (itself included), each with its name servers.
    pub namesakes: Result<Vec<ZoneInfo>, FetchError>,
    /// The delegation as the DNS publishes it; `None` when not looked up (a private zone).
    pub lookup: Option<Lookup>,
    /// The delegation as the account's own records give it, read only when the DNS could not be
    /// reached.
    pub api: Option<ApiDelegation>,
    /// For each record name inside the zone: the NS record set at or above it inside the zone
    /// (`(name, values)`), or `None`.
    pub cuts: BTreeMap<String, Result<Option<Cut>, FetchError>>,
}

/// An NS record set inside a zone: its name and values.
pub type Cut = (String, Vec<String>);

/// The delegation of a name from what the account itself holds (docs/aws-facts.md 5): the Route 53 Domains
/// registration, or the NS record set in a parent zone hosted here and itself delegated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiDelegation {
    Found {
        ns: BTreeSet<String>,
        source: String,
    },
    /// The parent zone, hosted here and delegated, has no NS record set for the name.
    NotDelegated {
        source: String,
    },
    Unknown {
        why: String,
    },
}

/// The names CDK gives a bootstrap role: `cdk-<qualifier>-<kind>-<account>-<region>`.
pub fn bootstrap_role(qualifier: &str, kind: &str, account: &str, region: &str) -> String {
    format!("cdk-{qualifier}-{kind}-{account}-{region}")
}

/// The bootstrap roles whose KMS use the bootstrap check judges.
pub const BOOTSTRAP_ROLES: &[&str] = &["file-publishing-role", "deploy-role", "cfn-exec-role"];

/// The facts of one run.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub identity: Option<Result<CallerIdentity, FetchError>>,
    pub region: Option<String>,
    /// By the reference used to find them (as given in the spec or by DescribeParameters).
    pub keys: BTreeMap<String, Result<KeyFacts, FetchError>>,
    pub parameters: BTreeMap<String, Result<Option<ParameterInfo>, FetchError>>,
    /// By the secret id as given in the spec (a name or ARN): `None` when it does not exist.
    pub secrets: BTreeMap<String, Result<Option<SecretFacts>, FetchError>>,
    /// By role name, for roles in Preflight's own account.
    pub roles: BTreeMap<String, Result<RoleFacts, FetchError>>,
    pub bootstrap: Option<BootstrapFacts>,
    /// By zone id.
    pub hosted_zones: BTreeMap<String, HostedZoneFacts>,
    /// Managed policy documents read by ARN (for the roles a stack creates).
    pub managed_policies: BTreeMap<String, Result<String, FetchError>>,
    /// How many API calls the run made.
    pub calls: usize,
}

/// Whether `name` is `zone` or below it.
pub fn is_within(name: &str, zone: &str) -> bool {
    name == zone || name.strip_suffix(zone).is_some_and(|head| head.ends_with('.'))
}
