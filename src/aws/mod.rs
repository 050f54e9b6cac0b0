//! The fetch boundary: narrow traits for the facts Preflight reads, and their AWS SDK implementations.
//!
//! The only module that talks to AWS. It returns facts or typed fetch errors and never decides
//! anything about them; a denied read is an error here and an `unknown` finding in `checks`.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Who Preflight runs as, from STS GetCallerIdentity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// Why a fact could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Preflight's own role may not make this call.
    #[error("Preflight's role is not allowed `{action}`: {message}")]
    AccessDenied { action: &'static str, message: String },
    /// The endpoint could not be reached or did not answer in time.
    #[error("`{action}` could not reach AWS: {message}")]
    Unreachable { action: &'static str, message: String },
    /// Any other error the service returned.
    #[error("`{action}` failed: {message}")]
    Service { action: &'static str, message: String },
}

/// The facts Preflight can read. One method per kind of fact; implemented for the SDK clients in
/// [`AwsFacts`] and by in-memory fakes in unit tests.
pub trait FactSource: Send + Sync + 'static {
    /// STS GetCallerIdentity: the account and principal Preflight runs as.
    fn caller_identity(&self) -> impl Future<Output = Result<CallerIdentity, FetchError>> + Send;
    /// The region the clients are configured for.
    fn region(&self) -> Option<String>;
}

/// The AWS SDK clients, built once per process.
#[derive(Clone, Debug)]
pub struct AwsFacts {
    sts: aws_sdk_sts::Client,
    region: Option<String>,
}

/// How to reach AWS: the SDK's standard configuration, optionally overridden by CLI flags.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Loads the SDK configuration: credentials chain, `AWS_REGION`, `AWS_ENDPOINT_URL` and the
/// per-service endpoint variables, with adaptive retry for throttling.
pub async fn load_config(connection: &Connection) -> SdkConfig {
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
    loader.load().await
}

impl AwsFacts {
    /// Builds every client from one configuration.
    pub fn new(config: &SdkConfig) -> Self {
        Self { sts: aws_sdk_sts::Client::new(config), region: config.region().map(ToString::to_string) }
    }
}

impl FactSource for AwsFacts {
    async fn caller_identity(&self) -> Result<CallerIdentity, FetchError> {
        const ACTION: &str = "sts:GetCallerIdentity";
        let out = self.sts.get_caller_identity().send().await.map_err(|e| classify(ACTION, e))?;
        match (out.account, out.arn) {
            (Some(account), Some(arn)) => Ok(CallerIdentity { account, arn }),
            _ => Err(FetchError::Service { action: ACTION, message: "the answer had no account or ARN".into() }),
        }
    }

    fn region(&self) -> Option<String> {
        self.region.clone()
    }
}

/// Sorts an SDK error into denied, unreachable or other, keeping the service's own words.
pub(crate) fn classify<E, R>(action: &'static str, err: SdkError<E, R>) -> FetchError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            FetchError::Unreachable { action, message: DisplayErrorContext(&err).to_string() }
        }
        _ => {
            let code = err.code().unwrap_or_default();
            let message = err.message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
                FetchError::AccessDenied { action, message }
            } else if code.is_empty() {
                FetchError::Service { action, message }
            } else {
                FetchError::Service { action, message: format!("{code}: {message}") }
            }
        }
    }
}
