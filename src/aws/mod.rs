//! The fetch boundary: narrow traits for the facts Preflight reads, and their AWS SDK implementations.
//!
//! The only module that talks to AWS. It returns facts or typed fetch errors and never decides
//! anything about them; a denied read is an error here and an `unknown` finding in `checks`.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};

mod sdk;

pub use sdk::AwsFacts;

pub use crate::facts::{
    BucketEncryption, CallerIdentity, Cause, FetchError, KeyInfo, KeyManager, ParameterInfo, REGISTRAR_COMMENT,
    RoleInfo, SecretInfo, StackInfo, ZoneInfo,
};
use crate::kms::Grant;

/// The trait and its blanket implementation, from one list of the per-service traits.
macro_rules! fact_source {
    ($(#[$doc:meta])* $($read:ident),+) => {
        $(#[$doc])*
        pub trait FactSource: $($read +)+ Send + Sync + 'static {}
        impl<T> FactSource for T where T: $($read +)+ Send + Sync + 'static {}
    };
}
fact_source!(
    /// Everything Preflight reads, one narrow trait per service (below), so a test of one check, or
    /// a source of another kind, implements only what it serves. Implemented for every type that
    /// implements them all, the SDK clients in [`AwsFacts`] among them. Nothing here decrypts or
    /// writes.
    StsReads, KmsReads, SsmReads, SecretsReads, IamReads, S3Reads, CloudFormationReads, Route53Reads
);

/// Who Preflight runs as and where: STS, and the configured region.
pub trait StsReads {
    /// STS GetCallerIdentity: the account and principal Preflight runs as.
    fn caller_identity(&self) -> impl Future<Output = Result<CallerIdentity, FetchError>> + Send;
    /// The region the clients are configured for.
    fn region(&self) -> Option<String>;
}

/// KMS: keys, their policies and grants. Never a cryptographic call.
pub trait KmsReads {
    /// KMS DescribeKey of a key id, key ARN, alias name or alias ARN.
    fn describe_key(&self, key: &str) -> impl Future<Output = Result<KeyInfo, FetchError>> + Send;
    /// KMS GetKeyPolicy (the `default` policy).
    fn key_policy(&self, key_arn: &str) -> impl Future<Output = Result<String, FetchError>> + Send;
    /// KMS ListGrants, every page.
    fn grants(&self, key_arn: &str) -> impl Future<Output = Result<Vec<Grant>, FetchError>> + Send;
}

/// SSM Parameter Store: metadata, and the CDK bootstrap version. Never a SecureString's value.
pub trait SsmReads {
    /// SSM DescribeParameters with a `Name Equals` filter on up to [`PARAMETERS_PER_CALL`] names:
    /// the ones that exist (a name missing from the answer does not exist).
    fn parameters(&self, names: &[String]) -> impl Future<Output = Result<Vec<ParameterInfo>, FetchError>> + Send;
    /// SSM GetParameter of a String parameter, never WithDecryption: `None` when it does not exist.
    fn string_parameter(&self, name: &str) -> impl Future<Output = Result<Option<String>, FetchError>> + Send;
}

/// Secrets Manager: a secret's metadata and resource policy. Never its value.
pub trait SecretsReads {
    /// Secrets Manager DescribeSecret of a name or ARN: `None` when it does not exist.
    fn describe_secret(&self, id: &str) -> impl Future<Output = Result<Option<SecretInfo>, FetchError>> + Send;
    /// Secrets Manager GetResourcePolicy: `None` when the secret has no resource policy.
    fn secret_policy(&self, arn: &str) -> impl Future<Output = Result<Option<String>, FetchError>> + Send;
}

/// IAM: roles and their policy documents.
pub trait IamReads {
    /// IAM GetRole, ListRolePolicies and ListAttachedRolePolicies.
    fn role(&self, name: &str) -> impl Future<Output = Result<RoleInfo, FetchError>> + Send;
    /// IAM GetRolePolicy, URL-decoded.
    fn role_policy(&self, role: &str, policy: &str) -> impl Future<Output = Result<String, FetchError>> + Send;
    /// IAM GetPolicy then GetPolicyVersion of the default version, URL-decoded.
    fn managed_policy(&self, arn: &str) -> impl Future<Output = Result<String, FetchError>> + Send;
}

/// S3: a bucket's default encryption.
pub trait S3Reads {
    /// S3 GetBucketEncryption: `None` when the bucket has no default encryption rule.
    fn bucket_encryption(
        &self,
        bucket: &str,
    ) -> impl Future<Output = Result<Option<BucketEncryption>, FetchError>> + Send;
}

/// CloudFormation: a stack's parameters and outputs.
pub trait CloudFormationReads {
    /// CloudFormation DescribeStacks of one stack: `None` when it does not exist.
    fn stack(&self, name: &str) -> impl Future<Output = Result<Option<StackInfo>, FetchError>> + Send;
}

/// Route 53 and Route 53 Domains: zones, records, registrations.
pub trait Route53Reads {
    /// Route 53 GetHostedZone (a bare id).
    fn hosted_zone(&self, id: &str) -> impl Future<Output = Result<ZoneInfo, FetchError>> + Send;
    /// Route 53 ListHostedZonesByName, every page, keeping the zones named exactly `name`.
    fn zones_named(&self, name: &str) -> impl Future<Output = Result<Vec<ZoneInfo>, FetchError>> + Send;
    /// Route 53 ListResourceRecordSets of one name and type (exact match): its values, or `None`.
    fn record_set(
        &self,
        zone_id: &str,
        name: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Option<Vec<String>>, FetchError>> + Send;
    /// Route 53 Domains GetDomainDetail: the registered name servers, or `None` when the domain is
    /// not registered in this account.
    fn domain_name_servers(&self, domain: &str)
    -> impl Future<Output = Result<Option<Vec<String>>, FetchError>> + Send;
}

/// Names per DescribeParameters call: the API takes up to 50 filter values, but applies filters
/// after paging (docs/aws-facts.md 6), so small batches come back in one page.
pub const PARAMETERS_PER_CALL: usize = 10;

/// How to reach AWS: the SDK's standard configuration, optionally overridden by CLI flags.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Loads the SDK configuration: credentials chain, `AWS_REGION`, `AWS_ENDPOINT_URL` and the
/// per-service endpoint variables, with adaptive retry for throttling.
///
/// An endpoint URL that is empty or not an `http(s)` URL, given or in the environment
/// (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), is refused here, naming where it came from:
/// the SDK would otherwise panic at the first call (aws-smithy-types 1.9, "URL was unset").
pub async fn load_config(connection: &Connection) -> Result<SdkConfig, String> {
    if let Some(url) = &connection.endpoint_url {
        endpoint_problem(url).map_or(Ok(()), |why| Err(format!("--endpoint-url: {why}")))?;
    }
    let from_env = std::env::vars_os().filter_map(|(k, v)| {
        let key = k.to_str()?;
        (key == "AWS_ENDPOINT_URL" || key.starts_with("AWS_ENDPOINT_URL_")).then(|| (key.to_owned(), v))
    });
    for (key, value) in from_env {
        let why = match value.to_str() {
            Some(url) => endpoint_problem(url),
            None => Some("is not valid UTF-8".to_owned()),
        };
        if let Some(why) = why {
            return Err(format!("the environment variable {key} {why}; set it to an http(s) URL or unset it"));
        }
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .build(),
    );
    // Adaptive retry for throttling, unless the user chose a retry configuration of their own.
    if std::env::var_os("AWS_RETRY_MODE").is_none() && std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
        loader = loader.retry_config(RetryConfig::adaptive().with_max_attempts(5));
    }
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &connection.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    let chain = credentials_chain(connection).await;
    Ok(loader.credentials_provider(RememberFailure { inner: chain, failed: std::sync::Mutex::new(None) }).load().await)
}

/// What is wrong with an endpoint URL, if anything.
fn endpoint_problem(url: &str) -> Option<String> {
    if url.trim().is_empty() {
        return Some("is empty".to_owned());
    }
    let excerpt: String = url.chars().take(120).collect();
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => None,
        Ok(_) => Some(format!("is not an http(s) URL with a host: `{excerpt}`")),
        Err(e) => Some(format!("is not a URL ({e}): `{excerpt}`")),
    }
}

/// How long a failed credentials load stands for the next ones.
const REMEMBER_FAILURE: Duration = Duration::from_secs(30);

/// A credentials provider that remembers a failed load for [`REMEMBER_FAILURE`]. A run starts
/// its reads concurrently; without credentials each would wait its turn for the identity cache
/// and load again (7 loads of a silent IMDS, one after another, measured): the first failure now
/// answers them all at once, with the same words.
#[derive(Debug)]
struct RememberFailure<P> {
    inner: P,
    failed: std::sync::Mutex<Option<(std::time::Instant, String)>>,
}

impl<P: aws_credential_types::provider::ProvideCredentials> aws_credential_types::provider::ProvideCredentials
    for RememberFailure<P>
{
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        use aws_credential_types::provider::error::CredentialsError;
        aws_credential_types::provider::future::ProvideCredentials::new(async move {
            let recent =
                self.failed.lock().ok().and_then(|f| {
                    f.as_ref().filter(|(at, _)| at.elapsed() < REMEMBER_FAILURE).map(|(_, why)| why.clone())
                });
            if let Some(why) = recent {
                return Err(CredentialsError::not_loaded(why));
            }
            let result = self.inner.provide_credentials().await;
            if let (Err(e), Ok(mut failed)) = (&result, self.failed.lock()) {
                // The words after "the credential provider was not enabled", said again as is.
                let words = chain(e);
                let words = words.strip_prefix("the credential provider was not enabled: ").unwrap_or(&words);
                *failed = Some((std::time::Instant::now(), words.to_owned()));
            }
            result
        })
    }
}

/// IMDS attempts (retried on server errors; a timeout is not retried), each bounded by
/// [`IMDS_TIMEOUT`] to connect and to read.
pub const IMDS_ATTEMPTS: u32 = 2;
pub const IMDS_TIMEOUT: Duration = Duration::from_secs(1);

/// The SDK's default credentials chain (environment, profiles, web identity, ECS, IMDS), with the
/// instance metadata service asked at most [`IMDS_ATTEMPTS`] times, each within [`IMDS_TIMEOUT`].
/// On EC2 IMDS answers in milliseconds; off it, a metadata endpoint that never answers costs one
/// read timeout, once per run ([`RememberFailure`]).
async fn credentials_chain(
    connection: &Connection,
) -> aws_config::default_provider::credentials::DefaultCredentialsChain {
    let imds = aws_config::imds::Client::builder()
        .max_attempts(IMDS_ATTEMPTS)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .build();
    let mut chain = aws_config::default_provider::credentials::DefaultCredentialsChain::builder().imds_client(imds);
    if let Some(region) = &connection.region {
        chain = chain.region(Region::new(region.clone()));
    }
    chain.build().await
}

/// IAM returns policy documents URL-encoded (RFC 3986); a local endpoint may not. Decodes when the
/// decoded text is JSON, else keeps the text as given.
pub fn decode_policy_document(text: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    if decoded != text && serde_json::from_str::<serde_json::Value>(&decoded).is_ok() {
        decoded.into_owned()
    } else {
        text.to_owned()
    }
}

/// An error and its sources, joined with colons, without debug dumps.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether an operation's error means the thing asked for does not exist, decided from the SDK's
/// typed error variants of that operation (never from message text).
pub(crate) trait Absence {
    fn is_absent(&self) -> bool;
}

macro_rules! absent_when {
    ($($error:ty => |$e:ident| $test:expr;)*) => {
        $(impl Absence for $error {
            fn is_absent(&self) -> bool {
                let $e = self;
                $test
            }
        })*
    };
}

absent_when! {
    aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError => |_e| false;
    aws_sdk_kms::operation::describe_key::DescribeKeyError => |e| e.is_not_found_exception();
    aws_sdk_kms::operation::get_key_policy::GetKeyPolicyError => |e| e.is_not_found_exception();
    aws_sdk_kms::operation::list_grants::ListGrantsError => |e| e.is_not_found_exception();
    aws_sdk_ssm::operation::describe_parameters::DescribeParametersError => |_e| false;
    aws_sdk_ssm::operation::get_parameter::GetParameterError => |e| e.is_parameter_not_found();
    aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretError => |e| e.is_resource_not_found_exception();
    aws_sdk_secretsmanager::operation::get_resource_policy::GetResourcePolicyError => |e| e.is_resource_not_found_exception();
    aws_sdk_iam::operation::get_role::GetRoleError => |e| e.is_no_such_entity_exception();
    aws_sdk_iam::operation::list_role_policies::ListRolePoliciesError => |e| e.is_no_such_entity_exception();
    aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesError => |e| e.is_no_such_entity_exception();
    aws_sdk_iam::operation::get_role_policy::GetRolePolicyError => |e| e.is_no_such_entity_exception();
    aws_sdk_iam::operation::get_policy::GetPolicyError => |e| e.is_no_such_entity_exception();
    aws_sdk_iam::operation::get_policy_version::GetPolicyVersionError => |e| e.is_no_such_entity_exception();
    // S3 models no typed error for GetBucketEncryption: the error code in the response's metadata
    // (`NoSuchBucket`, S3 API Reference, Error responses) is what there is.
    aws_sdk_s3::operation::get_bucket_encryption::GetBucketEncryptionError => |e| e.code() == Some("NoSuchBucket");
    // DescribeStacks models no error at all: a missing stack is a `ValidationError` whose text is
    // "Stack with id NAME does not exist" (CloudFormation API Reference, DescribeStacks); the code
    // and that documented text are all AWS gives.
    aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError =>
        |e| e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.ends_with("does not exist"));
    aws_sdk_route53::operation::get_hosted_zone::GetHostedZoneError => |e| e.is_no_such_hosted_zone();
    aws_sdk_route53::operation::list_hosted_zones_by_name::ListHostedZonesByNameError => |_e| false;
    aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsError => |e| e.is_no_such_hosted_zone();
    // A domain that is not registered in this account, or a TLD Route 53 Domains does not sell
    // (Route 53 Domains API Reference, GetDomainDetail errors).
    aws_sdk_route53domains::operation::get_domain_detail::GetDomainDetailError =>
        |e| e.is_invalid_input() || e.is_unsupported_tld();
}

/// Sorts an SDK error into denied, not found, unreachable or other, keeping the service's own
/// words and the SDK error itself as the source.
pub(crate) fn classify<E, R>(action: &'static str, err: SdkError<E, R>) -> FetchError
where
    E: Absence + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let absent = err.as_service_error().is_some_and(Absence::is_absent);
    let code = err.code().unwrap_or_default().to_owned();
    let words = err.message().map(str::to_owned);
    let unreachable = matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    let message = match (&words, unreachable) {
        (Some(m), false) => m.clone(),
        _ => chain(&err),
    };
    let source = Some(Cause(std::sync::Arc::new(err)));
    if unreachable {
        FetchError::Unreachable { action, message, source }
    } else if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
        FetchError::AccessDenied { action, message, source }
    } else if absent {
        FetchError::NotFound { action, message, source }
    } else if code.is_empty() {
        FetchError::Service { action, message, source }
    } else {
        FetchError::Service { action, message: format!("{code}: {message}"), source }
    }
}
