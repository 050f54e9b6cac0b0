//! The CloudFormation custom resource protocol: turn one event into exactly one answer, in time.
//!
//! Owns event parsing (untrusted), rollback detection, the deadline, the 4096-byte response and
//! the PUT to the ResponseURL. It never logs the ResponseURL (a bearer credential) and never
//! returns an error to the Lambda runtime for an event it can answer: a runtime error would reach
//! nobody, and the stack would wait up to an hour.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus as CfnStatus,
};
use serde_json::Value;

use crate::fetch::Pending;
use crate::report::{Report, Status, Verdict};
use crate::spec::{Origin, Spec, raw_nonce};

/// CloudFormation rejects response bodies over 4096 bytes ("Response object is too long").
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// The answer must be sent at least this long before the Lambda deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(2500);
/// How many times the PUT is attempted on connection errors and 5xx answers.
pub const PUT_ATTEMPTS: u32 = 5;
/// The longest one PUT attempt may take (less when the deadline is nearer).
pub const PUT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most each identity field copied into the answer may take, escaped: far above what
/// CloudFormation sends (a stack ARN, a UUID, a logical id of at most 255 characters, a physical
/// id of at most 1 KB), and together small enough that the answer fits 4096 bytes with a reason.
const ID_BUDGET: [(&str, usize); 4] =
    [("RequestId", 256), ("LogicalResourceId", 512), ("StackId", 1024), ("PhysicalResourceId", 1024)];

/// What the handler knows about the invocation besides the event.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The Lambda deadline.
    pub deadline: SystemTime,
    pub log_group: String,
    pub log_stream: String,
}

/// Runs the checks of a spec. The real one fetches from AWS; tests use fakes.
pub trait Runner: Send + Sync + 'static {
    fn run(&self, spec: Spec, pending: Arc<Pending>) -> impl Future<Output = Report> + Send;
}

/// A ResponseURL that passed validation. Its `Debug` and `Display` never show the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ResponseUrl(reqwest::Url);

impl ResponseUrl {
    /// Accepts `https` URLs on AWS S3 hosts, and `http(s)` on loopback when `allow_loopback`.
    pub fn parse(raw: &str, allow_loopback: bool) -> Result<Self, UrlRefusal> {
        let url = reqwest::Url::parse(raw).map_err(|_| UrlRefusal::NotAUrl)?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Untrusted { scheme: url.scheme().to_owned(), host });
        }
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        let ok = if loopback {
            allow_loopback && matches!(url.scheme(), "http" | "https")
        } else {
            url.scheme() == "https" && url.port().is_none_or(|p| p == 443) && is_aws_s3_host(&host)
        };
        if ok { Ok(Self(url)) } else { Err(UrlRefusal::Untrusted { scheme: url.scheme().to_owned(), host }) }
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseUrl(<redacted> on {})", self.0.host_str().unwrap_or_default())
    }
}

/// Why a ResponseURL was refused (says the scheme and host, never the path or signature).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("the ResponseURL is not a URL")]
    NotAUrl,
    #[error(
        "the ResponseURL ({scheme}://{host}/...) is not an https URL on an AWS S3 host; loopback URLs need PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL=1"
    )]
    Untrusted { scheme: String, host: String },
}

/// The DNS suffixes of S3 endpoints, by partition: `aws` (and `aws-us-gov`), `aws-cn`, `aws-iso`,
/// `aws-iso-b` (Amazon S3 User Guide, "Virtual hosting of buckets" and "Methods for accessing a
/// bucket"; AWS General Reference, "Amazon S3 endpoints").
const S3_DOMAINS: [&str; 4] = [".amazonaws.com", ".amazonaws.com.cn", ".c2s.ic.gov", ".sc2s.sgov.gov"];

/// Whether `host` is an S3 endpoint host, path style (`s3.us-west-2.amazonaws.com`) or
/// virtual-hosted (`BUCKET.s3.us-west-2.amazonaws.com`), in the forms AWS documents:
/// `s3`, `s3-external-1`, `s3-REGION` (legacy), `s3.REGION`, `s3.dualstack.REGION`,
/// `s3-fips.REGION`, `s3-fips.dualstack.REGION`, under a partition's domain. CloudFormation
/// presigns its response URLs on such hosts (`cloudformation-custom-resource-response-useast1.s3.amazonaws.com`).
/// A host that merely has a label starting with `s3-` (`s3-x.elb.amazonaws.com`) is not one.
fn is_aws_s3_host(host: &str) -> bool {
    let Some(rest) = S3_DOMAINS.iter().find_map(|d| host.strip_suffix(d)) else { return false };
    let labels: Vec<&str> = rest.split('.').collect();
    let endpoint_len = match labels.as_slice() {
        [.., "s3-fips" | "s3", "dualstack", region] if is_region(region) => 3,
        [.., "s3-fips" | "s3", region] if is_region(region) => 2,
        [.., "s3" | "s3-external-1"] => 1,
        [.., legacy] if legacy.strip_prefix("s3-").is_some_and(is_region) => 1,
        _ => return false,
    };
    // What comes before the endpoint is the bucket: DNS labels, possibly none.
    let bucket = labels.get(..labels.len() - endpoint_len).unwrap_or_default();
    bucket.iter().all(|l| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `us-iso-east-1`, `us-isob-east-1`:
/// letters, one or more dash-separated words, then a number.
fn is_region(label: &str) -> bool {
    let parts: Vec<&str> = label.split('-').collect();
    match parts.as_slice() {
        [area, words @ .., number] if !words.is_empty() => {
            area.len() == 2
                && area.bytes().all(|b| b.is_ascii_lowercase())
                && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Where answers go. [`HttpSink`] PUTs them; unit tests record them.
pub trait ResponseSink: Send + Sync {
    fn put(
        &self,
        url: &ResponseUrl,
        body: String,
        deadline: SystemTime,
    ) -> impl Future<Output = Result<(), PutError>> + Send;
}

/// Why an answer could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("the response URL answered HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("could not send the response after {attempts} attempt(s): {message}")]
    Transport { attempts: u32, message: String },
}

/// PUTs answers over HTTPS (the same hyper/rustls stack as the AWS SDK), with retries.
#[derive(Clone, Debug)]
pub struct HttpSink {
    client: reqwest::Client,
}

impl HttpSink {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(PUT_ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client })
    }
}

impl ResponseSink for HttpSink {
    async fn put(&self, url: &ResponseUrl, body: String, deadline: SystemTime) -> Result<(), PutError> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            // Each attempt ends by the deadline: an answer after it would reach no one in time.
            let time_left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
            if time_left.is_zero() {
                return Err(PutError::Transport {
                    attempts: attempt,
                    message: "the invocation deadline passed before the response could be sent".into(),
                });
            }
            attempt += 1;
            let sent = self
                .client
                .put(url.0.clone())
                .timeout(time_left.min(PUT_ATTEMPT_TIMEOUT))
                // CloudFormation's presigned URL is signed with an empty Content-Type.
                .header(reqwest::header::CONTENT_TYPE, "")
                .body(body.clone())
                .send()
                .await;
            let retry_because = match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) if r.status().is_server_error() => {
                    PutError::Status { status: r.status().as_u16(), attempts: attempt }
                }
                Ok(r) => return Err(PutError::Status { status: r.status().as_u16(), attempts: attempt }),
                // `without_url` keeps the presigned URL out of the message.
                Err(e) => PutError::Transport { attempts: attempt, message: e.without_url().to_string() },
            };
            let time_left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
            if attempt >= PUT_ATTEMPTS || time_left <= delay {
                return Err(retry_because);
            }
            tracing::warn!(attempt, error = %retry_because, "response PUT failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}

/// The fields of an event that the answer copies, read leniently so even a malformed event is answered.
#[derive(Debug, Default)]
struct EventIds {
    request_type: String,
    stack_id: String,
    request_id: String,
    logical_resource_id: String,
    physical_resource_id: Option<String>,
}

impl EventIds {
    fn read(event: &Value) -> Self {
        // Each field within its budget, so the answer fits whatever the event carries.
        let s = |k: &str| {
            let budget = ID_BUDGET.iter().find(|(name, _)| *name == k).map_or(usize::MAX, |(_, b)| *b);
            event.get(k).and_then(Value::as_str).map(|v| truncate_to(v, budget))
        };
        Self {
            request_type: s("RequestType").unwrap_or_default(),
            stack_id: s("StackId").unwrap_or_default(),
            request_id: s("RequestId").unwrap_or_default(),
            logical_resource_id: s("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: s("PhysicalResourceId").filter(|p| !p.is_empty()),
        }
    }

    /// The id this resource answers with: echoed on Update and Delete, derived from the stack and
    /// logical id on Create, so every answer for one resource carries the same id.
    fn physical_id(&self) -> String {
        self.physical_resource_id.clone().unwrap_or_else(|| {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325; // FNV-1a, stable across builds
            for b in self.stack_id.bytes().chain([b'/']).chain(self.logical_resource_id.bytes()) {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            let name: String =
                self.logical_resource_id.chars().filter(|c| c.is_ascii_alphanumeric()).take(64).collect();
            format!("preflight-{name}-{hash:016x}")
        })
    }
}

/// What the handler decided, before it becomes a response body.
#[derive(Debug)]
enum Outcome {
    Success { reason: String, report: Option<Report> },
    Failed { lines: Vec<String>, head: String, report: Option<Report> },
}

/// Handles one event as the runtime received it, JSON text. An event that is JSON but cannot be
/// read as a value (nested deeper than the parser allows, a lone UTF-16 surrogate escape) is still
/// answered: its top-level text fields are read one by one, and it gets FAILED with the reason
/// (a Delete gets SUCCESS, as always).
pub async fn handle_text<R: Runner, K: ResponseSink>(
    text: &str,
    invocation: &Invocation,
    runner: Arc<R>,
    sink: &K,
    allow_loopback: bool,
) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(event) => answer(event, None, invocation, runner, sink, allow_loopback).await,
        Err(e) => answer(readable_fields(text), Some(e.to_string()), invocation, runner, sink, allow_loopback).await,
    }
}

/// The top-level text fields of an event that cannot be read whole: each value is skipped as raw
/// JSON (no depth limit, no check of escapes), then read alone; a field that cannot be read is left
/// out.
fn readable_fields(text: &str) -> Value {
    let Ok(fields) = serde_json::from_str::<HashMap<String, Box<serde_json::value::RawValue>>>(text) else {
        return Value::Object(serde_json::Map::new());
    };
    let readable = fields.into_iter().filter_map(|(k, raw)| match serde_json::from_str::<String>(raw.get()) {
        Ok(v) => Some((k, Value::String(v))),
        Err(_) => None,
    });
    Value::Object(readable.collect())
}

/// Handles one event: decides, answers CloudFormation exactly once when the event carries a
/// usable ResponseURL, logs what it decided (the full report when checks ran), and returns the response object (so a local invoke
/// shows it). Never returns an error and never panics on any input.
pub async fn handle<R: Runner, K: ResponseSink>(
    event: Value,
    invocation: &Invocation,
    runner: Arc<R>,
    sink: &K,
    allow_loopback: bool,
) -> Value {
    answer(event, None, invocation, runner, sink, allow_loopback).await
}

/// [`handle`], for an event read whole or, with `unreadable`, only in part.
async fn answer<R: Runner, K: ResponseSink>(
    event: Value,
    unreadable: Option<String>,
    invocation: &Invocation,
    runner: Arc<R>,
    sink: &K,
    allow_loopback: bool,
) -> Value {
    let ids = EventIds::read(&event);
    let url = match event.get("ResponseURL").and_then(Value::as_str) {
        Some(raw) => ResponseUrl::parse(raw, allow_loopback),
        None => Err(UrlRefusal::NotAUrl),
    };
    let outcome = match unreadable {
        // A Delete must succeed, or the stack cannot be deleted.
        _ if ids.request_type == "Delete" => delete(),
        Some(why) => Outcome::Failed {
            head: format!("Preflight received an event it cannot read: {why}"),
            lines: vec![],
            report: None,
        },
        None => decide(&event, &ids, invocation, runner).await,
    };
    let body = response_body(&ids, &outcome, invocation);
    log_outcome(&ids, &outcome);
    match url {
        Ok(url) => {
            let text = body.to_string();
            let bytes = text.len();
            let status = body.get("Status").and_then(Value::as_str).unwrap_or_default();
            match sink.put(&url, text, invocation.deadline).await {
                Ok(()) => tracing::info!(request_id = %ids.request_id, status, bytes, "answered CloudFormation"),
                Err(e) => tracing::error!(request_id = %ids.request_id, error = %e, "could not answer CloudFormation"),
            }
        }
        Err(refusal) => {
            tracing::error!(request_id = %ids.request_id, error = %refusal, "not answering: the event's ResponseURL was refused or missing");
        }
    }
    body
}

/// A Delete: nothing to check, and SUCCESS whatever else the event holds (a FAILED Delete
/// blocks the stack's deletion).
fn delete() -> Outcome {
    Outcome::Success { reason: "Preflight checks nothing on delete".into(), report: None }
}

async fn decide<R: Runner>(event: &Value, ids: &EventIds, invocation: &Invocation, runner: Arc<R>) -> Outcome {
    let typed = serde_json::from_value::<CloudFormationCustomResourceRequest>(event.clone());
    let properties = match typed {
        Err(e) => {
            return Outcome::Failed {
                head: format!("Preflight received a malformed custom resource event: {e}"),
                lines: vec![],
                report: None,
            };
        }
        Ok(CloudFormationCustomResourceRequest::Delete(_)) => return delete(),
        Ok(CloudFormationCustomResourceRequest::Update(update)) => {
            let (new, old) = (raw_nonce(&update.resource_properties), raw_nonce(&update.old_resource_properties));
            if let (Some(new), Some(old)) = (new, old)
                && new < old
            {
                return Outcome::Success {
                    reason: format!(
                        "Preflight skipped its checks: this update is a rollback (deploy nonce {new} is older than {old})"
                    ),
                    report: None,
                };
            }
            update.resource_properties
        }
        Ok(CloudFormationCustomResourceRequest::Create(create)) => create.resource_properties,
        Ok(_) => {
            return Outcome::Failed {
                head: format!("Preflight does not handle request type `{}`", ids.request_type),
                lines: vec![],
                report: None,
            };
        }
    };
    let spec = match Spec::from_value(&properties, Origin::Properties) {
        Ok(spec) if spec.is_empty() => {
            return Outcome::Failed {
                head: "Preflight's properties ask for nothing to check: give Bootstrap, Parameters, Secrets, Keys, KeyPolicies or HostedZone".into(),
                lines: vec![],
                report: None,
            };
        }
        Ok(spec) => spec,
        Err(e) => {
            return Outcome::Failed {
                head: format!("Preflight's properties are invalid: {e}"),
                lines: vec![],
                report: None,
            };
        }
    };

    let pending = Arc::new(Pending::default());
    let cutoff = invocation.deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(invocation.deadline);
    let budget = cutoff.duration_since(SystemTime::now()).unwrap_or_default();
    let task = tokio::spawn({
        let pending = Arc::clone(&pending);
        async move { runner.run(spec, pending).await }
    });
    let abort = task.abort_handle();
    match tokio::time::timeout(budget, task).await {
        Ok(Ok(report)) => outcome_of(report),
        Ok(Err(join)) => {
            let why =
                if join.is_panic() { panic_text(join.into_panic()) } else { "the check task was cancelled".into() };
            Outcome::Failed {
                head: format!(
                    "Preflight failed with an internal error, so nothing was verified (this is a bug in Preflight): {why}"
                ),
                lines: vec![],
                report: None,
            }
        }
        Err(_) => {
            // Read what is pending before aborting: the abort drops the run and its pending guards.
            let waiting = pending.snapshot();
            abort.abort();
            let waiting =
                if waiting.is_empty() { "no AWS call (the checks themselves)".to_owned() } else { waiting.join(", ") };
            Outcome::Failed {
                head: format!(
                    "Preflight ran out of time after {:.1}s, {}s before the Lambda deadline, while still waiting for {waiting}; raise the function timeout or check that AWS is reachable from the function",
                    budget.as_secs_f32(),
                    DEADLINE_MARGIN.as_secs_f32()
                ),
                lines: vec![],
                report: None,
            }
        }
    }
}

/// The invocation's deadline from the runtime's `Lambda-Runtime-Deadline-Ms` header, which Lambda
/// sets to epoch milliseconds. Local emulators send other things (cargo-lambda's `cargo lambda
/// watch` sends `600000`, a duration): a value that cannot be an epoch time (before 2001) is taken
/// as absent, and the deadline becomes `now` plus the function's configured timeout
/// (`AWS_LAMBDA_FUNCTION_TIMEOUT`, seconds, as emulators set it) or, without one, the value read as
/// a duration. The second value says what was done, for the log.
pub fn deadline_of(
    header_ms: u64,
    now: SystemTime,
    configured_timeout: Option<Duration>,
) -> (SystemTime, Option<String>) {
    // 2001-01-01T00:00:00Z in epoch milliseconds: no real invocation is older.
    const EPOCH_2001_MS: u64 = 978_307_200_000;
    if header_ms >= EPOCH_2001_MS {
        return (SystemTime::UNIX_EPOCH + Duration::from_millis(header_ms), None);
    }
    match configured_timeout {
        Some(t) => (
            now + t,
            Some(format!(
                "the runtime's deadline `{header_ms}` is not an epoch time (a local emulator?): using the configured timeout of {}s",
                t.as_secs()
            )),
        ),
        None => (
            now + Duration::from_millis(header_ms),
            Some(format!(
                "the runtime's deadline `{header_ms}` is not an epoch time (a local emulator?) and no timeout is configured: taking it as {}s left",
                header_ms / 1000
            )),
        ),
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map(|s| (*s).to_owned()).unwrap_or_else(|| "a panic".into()),
    }
}

fn outcome_of(report: Report) -> Outcome {
    if let Some(why) = &report.blocked {
        return Outcome::Failed {
            head: format!("Preflight could not run, so nothing was verified: {why}"),
            lines: vec![],
            report: Some(report),
        };
    }
    let counts = report.counts();
    match report.verdict() {
        Verdict::Pass => {
            let mut reason = format!("Preflight passed: {}", report.summary());
            if counts.unknown > 0 {
                reason.push_str(" (unknowns are warnings: set Options.OnUnknown to fail to stop on them)");
            }
            Outcome::Success { reason, report: Some(report) }
        }
        Verdict::Fail => {
            let deciding = |s: Status| {
                s == Status::Fail || (s == Status::Unknown && report.on_unknown == crate::spec::OnUnknown::Fail)
            };
            // One line per cause: findings that one key-policy statement fixes share a line.
            let lines = report
                .causes()
                .into_iter()
                .filter(|c| c.findings.iter().any(|f| deciding(f.status)))
                .filter_map(|c| {
                    let first = c.findings.first()?;
                    let mut line = match c.findings.as_slice() {
                        [one] => format!("[{}] {}", one.check.name(), one.message),
                        many => {
                            let who: Vec<String> = many
                                .iter()
                                .map(|f| {
                                    let action = f.access.as_ref().map(|a| a.action.as_str()).unwrap_or("use");
                                    format!("{} {action}", f.principal.as_deref().unwrap_or("?"))
                                })
                                .collect();
                            format!(
                                "[{}] {} uses of one key are not allowed by its key policy: {}",
                                first.check.name(),
                                many.len(),
                                who.join(", ")
                            )
                        }
                    };
                    match (&c.change, &first.fix) {
                        (Some(change), alt) => {
                            line.push_str("; fix: ");
                            line.push_str(&change.describe());
                            if let Some(alt) = alt {
                                line.push_str("; or: ");
                                line.push_str(alt);
                            }
                        }
                        (None, Some(fix)) => {
                            line.push_str("; fix: ");
                            line.push_str(fix);
                        }
                        (None, None) => {}
                    }
                    Some(line)
                })
                .collect();
            Outcome::Failed { head: format!("Preflight failed: {}", report.summary()), lines, report: Some(report) }
        }
    }
}

fn response_body(ids: &EventIds, outcome: &Outcome, invocation: &Invocation) -> Value {
    let mut response = CloudFormationCustomResourceResponse::default();
    response.physical_resource_id = ids.physical_id();
    response.stack_id = ids.stack_id.clone();
    response.request_id = ids.request_id.clone();
    response.logical_resource_id = ids.logical_resource_id.clone();
    let (report, head, lines) = match outcome {
        Outcome::Success { reason, report } => {
            response.status = CfnStatus::Success;
            (report, reason.as_str(), &[][..])
        }
        Outcome::Failed { head, lines, report } => {
            response.status = CfnStatus::Failed;
            (report, head.as_str(), lines.as_slice())
        }
    };
    if let Some(report) = report {
        let c = report.counts();
        let status = match report.verdict() {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        };
        response.data = HashMap::from([
            ("Status".to_owned(), status.to_owned()),
            ("Failed".to_owned(), c.failed.to_string()),
            ("Unknown".to_owned(), c.unknown.to_string()),
            ("Passed".to_owned(), c.passed.to_string()),
        ]);
    }
    // Only a run has a report to point to; the other outcomes say all in their reason.
    let where_logged = match report {
        None => None,
        Some(_) if invocation.log_group.is_empty() => Some("full report in the function's log".to_owned()),
        Some(_) => Some(format!(
            "full report in CloudWatch Logs group {} stream {}",
            invocation.log_group, invocation.log_stream
        )),
    };
    response.reason = Some(String::new());
    let mut body = serde_json::to_value(&response).unwrap_or(Value::Null);
    let base = body.to_string().len();
    let reason = fit_reason(head, lines, where_logged.as_deref(), MAX_RESPONSE_BYTES.saturating_sub(base));
    if let Some(map) = body.as_object_mut() {
        map.insert("Reason".to_owned(), Value::String(reason));
    }
    body
}

/// The length `text` takes inside a JSON string.
fn escaped_len(text: &str) -> usize {
    serde_json::to_string(text).map(|s| s.len().saturating_sub(2)).unwrap_or(usize::MAX)
}

/// Builds `head. 1) line 2) line ... (+N more) (where)` within `budget` escaped bytes: failures
/// first, the rest counted, the log location always last when there is room for it.
fn fit_reason(head: &str, lines: &[String], tail: Option<&str>, budget: usize) -> String {
    let tail_of = |more: usize| match (more, tail) {
        (0, None) => String::new(),
        (0, Some(tail)) => format!(" ({tail})"),
        (more, None) => format!(" (+{more} more)"),
        (more, Some(tail)) => format!(" (+{more} more; {tail})"),
    };
    let mut reason = truncate_to(head, budget.saturating_sub(escaped_len(&tail_of(lines.len()))));
    let mut shown = 0;
    for (i, line) in lines.iter().enumerate() {
        let candidate = format!("{reason} {}) {line}", i + 1);
        let rest = lines.len() - i - 1;
        if escaped_len(&candidate) + escaped_len(&tail_of(rest)) <= budget {
            reason = candidate;
            shown += 1;
        } else if shown == 0 {
            // Even one failure that does not fit whole is shown in part.
            let room = budget.saturating_sub(escaped_len(&reason) + escaped_len(&tail_of(rest)) + 4);
            if room > 40 {
                reason = format!("{reason} 1) {}", truncate_to(line, room));
                shown = 1;
            }
            break;
        } else {
            break;
        }
    }
    let full = format!("{reason}{}", tail_of(lines.len() - shown));
    if escaped_len(&full) <= budget { full } else { truncate_to(&full, budget) }
}

/// The longest prefix of `text` (on a char boundary, with `…` when cut) whose escaped length fits.
fn truncate_to(text: &str, budget: usize) -> String {
    if escaped_len(text) <= budget {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = escaped_len("…");
    for c in text.chars() {
        let n = escaped_len(c.encode_utf8(&mut [0; 4]));
        if used + n > budget {
            break;
        }
        used += n;
        out.push(c);
    }
    out.push('…');
    out
}

/// Logs what was decided, one JSON line: the full report of a run, or the reason of an outcome
/// that ran no checks (a delete, a rollback, invalid properties, the deadline, an internal error).
/// Never the ResponseURL.
fn log_outcome(ids: &EventIds, outcome: &Outcome) {
    let (level, status, head, report) = match outcome {
        Outcome::Success { reason, report } => ("INFO", "SUCCESS", reason, report),
        Outcome::Failed { head, report, .. } => ("ERROR", "FAILED", head, report),
    };
    let mut line = serde_json::json!({
        "level": level,
        "message": if report.is_some() { "preflight report" } else { "preflight outcome" },
        "requestId": ids.request_id,
        "stackId": ids.stack_id,
        "logicalResourceId": ids.logical_resource_id,
        "status": status,
    });
    if let Some(map) = line.as_object_mut() {
        match report {
            Some(report) => map.insert("report".into(), report.to_json()),
            None => map.insert("reason".into(), Value::String(head.clone())),
        };
    }
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckKind, Finding};
    use crate::spec::OnUnknown;
    use serde_json::json;
    use std::sync::Mutex;

    const URL: &str =
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/abc?X-Amz-Signature=SECRET";

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ResponseSink for Recorder {
        async fn put(&self, _: &ResponseUrl, body: String, _: SystemTime) -> Result<(), PutError> {
            self.0.lock().unwrap().push(body);
            Ok(())
        }
    }

    enum Fake {
        Findings(Vec<Finding>, OnUnknown),
        Panics,
        Hangs,
    }

    impl Runner for Fake {
        async fn run(&self, _: Spec, pending: Arc<Pending>) -> Report {
            match self {
                Fake::Findings(f, on) => Report::new(f.clone(), *on),
                Fake::Panics => panic!("boom in a check"),
                Fake::Hangs => {
                    let _g = pending.track("kms:GetKeyPolicy");
                    std::future::pending::<()>().await;
                    unreachable!()
                }
            }
        }
    }

    /// Properties with something to check (an empty spec is refused).
    fn some() -> Value {
        json!({"Parameters": [{"Name": "/p", "Readers": []}]})
    }

    fn event(kind: &str, props: Value) -> Value {
        let mut e = json!({
            "RequestType": kind, "ResponseURL": URL, "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/app/1",
            "RequestId": "req-1", "ResourceType": "Custom::Preflight", "LogicalResourceId": "Preflight",
            "ResourceProperties": props,
        });
        if kind != "Create" {
            e["PhysicalResourceId"] = json!("phys-1");
        }
        if kind == "Update" {
            e["OldResourceProperties"] = json!({});
        }
        e
    }

    fn inv(secs: u64) -> Invocation {
        Invocation {
            deadline: SystemTime::now() + Duration::from_secs(secs),
            log_group: "/aws/lambda/preflight".into(),
            log_stream: "2026/11/23/[$LATEST]abc".into(),
        }
    }

    async fn answer(ev: Value, runner: Fake, secs: u64) -> (Value, Vec<Value>) {
        let sink = Recorder::default();
        let out = handle(ev, &inv(secs), Arc::new(runner), &sink, false).await;
        let puts = sink.0.lock().unwrap().iter().map(|b| serde_json::from_str(b).unwrap()).collect();
        (out, puts)
    }

    fn fail(i: usize, len: usize) -> Finding {
        Finding {
            fix: Some("add kms:Decrypt".into()),
            ..Finding::new(
                CheckKind::Parameter,
                format!("/app/p{i:04}"),
                Status::Fail,
                // A long name with characters JSON escapes, to fill the Reason.
                preflight_core::said::parameter::Said::ParameterNotRead {
                    name: format!("/app/r{i}/\"parameter\"{}", "é\u{1}x".repeat(len)),
                },
            )
        }
    }

    #[tokio::test]
    async fn create_with_an_empty_spec_fails_saying_there_is_nothing_to_check() {
        let (out, puts) =
            answer(event("Create", json!({"ServiceToken": "x"})), Fake::Findings(vec![], OnUnknown::Warn), 60).await;
        assert_eq!(puts, std::slice::from_ref(&out));
        assert_eq!(out["Status"], "FAILED");
        assert!(
            out["Reason"].as_str().unwrap().starts_with("Preflight's properties ask for nothing to check"),
            "{out}"
        );
        assert_eq!(out["StackId"], "arn:aws:cloudformation:us-east-1:111111111111:stack/app/1");
        assert_eq!(out["PhysicalResourceId"], "preflight-Preflight-e9302fc68a575e5b");
    }

    #[test]
    fn a_deadline_that_is_no_epoch_time_falls_back_to_the_configured_timeout() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let real = 1_800_000_060_000;
        assert_eq!(deadline_of(real, now, None), (SystemTime::UNIX_EPOCH + Duration::from_millis(real), None));
        let (d, note) = deadline_of(600_000, now, Some(Duration::from_secs(30)));
        assert_eq!(d, now + Duration::from_secs(30));
        assert!(note.unwrap().contains("using the configured timeout of 30s"));
        let (d, note) = deadline_of(600_000, now, None);
        assert_eq!(d, now + Duration::from_secs(600));
        assert!(note.unwrap().contains("taking it as 600s left"));
    }

    #[tokio::test]
    async fn a_run_that_could_not_look_fails_and_never_passes() {
        let mut blocked = Report::new(vec![], OnUnknown::Warn);
        blocked.blocked = Some("it could not identify the account (sts:GetCallerIdentity): no credentials".into());
        let Outcome::Failed { head, .. } = outcome_of(blocked) else { panic!("a blocked run must fail") };
        assert_eq!(
            head,
            "Preflight could not run, so nothing was verified: it could not identify the account (sts:GetCallerIdentity): no credentials"
        );
    }

    #[tokio::test]
    async fn physical_id_is_deterministic_on_create_and_echoed_after() {
        let (a, _) = answer(event("Create", some()), Fake::Findings(vec![], OnUnknown::Warn), 60).await;
        let (b, _) = answer(event("Create", json!({"Bogus": 1})), Fake::Findings(vec![], OnUnknown::Warn), 60).await;
        assert_eq!(a["PhysicalResourceId"], b["PhysicalResourceId"]);
        assert_eq!(b["Status"], "FAILED");
        let (u, _) = answer(event("Update", some()), Fake::Findings(vec![], OnUnknown::Warn), 60).await;
        let (d, _) = answer(event("Delete", json!({})), Fake::Panics, 60).await;
        assert_eq!(
            (u["PhysicalResourceId"].as_str(), d["PhysicalResourceId"].as_str()),
            (Some("phys-1"), Some("phys-1"))
        );
    }

    #[tokio::test]
    async fn delete_succeeds_without_running_checks_even_with_bad_properties() {
        let (out, puts) = answer(event("Delete", json!({"Bogus": true})), Fake::Panics, 60).await;
        assert_eq!(puts.len(), 1);
        assert_eq!(out["Status"], "SUCCESS");
        // No checks ran, so no report is promised.
        assert_eq!(out["Reason"], "Preflight checks nothing on delete");
    }

    #[tokio::test]
    async fn rollback_update_is_recognised_by_its_older_nonce() {
        let mut ev = event("Update", json!({"Options": {"Nonce": "100"}, "Bogus": "old props may no longer validate"}));
        ev["OldResourceProperties"] = json!({"Options": {"Nonce": "200"}});
        let (out, _) = answer(ev, Fake::Panics, 60).await;
        assert_eq!(out["Status"], "SUCCESS");
        assert!(out["Reason"].as_str().unwrap().starts_with(
            "Preflight skipped its checks: this update is a rollback (deploy nonce 100 is older than 200)"
        ));
        // A newer nonce is an ordinary update: the checks run.
        let mut ev = event("Update", json!({"Options": {"Nonce": "300"}}));
        ev["OldResourceProperties"] = json!({"Options": {"Nonce": "200"}});
        let f = vec![fail(1, 1)];
        let (out, _) = answer(ev, Fake::Findings(f, OnUnknown::Warn), 60).await;
        assert_eq!(out["Status"], "FAILED");
    }

    #[tokio::test]
    async fn invalid_properties_fail_naming_the_path() {
        let (out, puts) =
            answer(event("Create", json!({"Parameters": [{"Name": "/a", "Readers": ["x"]}]})), Fake::Panics, 60).await;
        assert_eq!(puts.len(), 1);
        assert_eq!(out["Status"], "FAILED");
        let reason = out["Reason"].as_str().unwrap();
        assert!(
            reason
                .starts_with("Preflight's properties are invalid: Parameters[0].Readers[0]: not an IAM principal ARN"),
            "{reason}"
        );
        assert!(out.get("Data").is_none_or(|d| d == &json!({})));
    }

    #[tokio::test]
    async fn malformed_event_with_a_response_url_is_answered() {
        let ev = json!({"RequestType": "Create", "ResponseURL": URL, "RequestId": "r", "LogicalResourceId": "L"});
        let (out, puts) = answer(ev, Fake::Panics, 60).await;
        assert_eq!(puts.len(), 1);
        assert_eq!(out["Status"], "FAILED");
        assert!(
            out["Reason"].as_str().unwrap().contains("malformed custom resource event: missing field `StackId`"),
            "{out}"
        );
        assert_eq!(out["RequestId"], "r");
        let (out, puts) = answer(json!({"RequestType": "Explode", "ResponseURL": URL}), Fake::Panics, 60).await;
        assert_eq!((puts.len(), out["Status"].as_str()), (1, Some("FAILED")));
    }

    #[tokio::test]
    async fn events_without_a_usable_url_are_not_answered_but_return_the_response() {
        let mut ev = event("Create", some());
        ev["ResponseURL"] = json!("https://evil.example.com/x?sig=1");
        let (out, puts) = answer(ev, Fake::Findings(vec![], OnUnknown::Warn), 60).await;
        assert!(puts.is_empty());
        assert_eq!(out["Status"], "SUCCESS");
        let (_, puts) = answer(json!({"RequestType": "Create"}), Fake::Panics, 60).await;
        assert!(puts.is_empty());
    }

    #[tokio::test]
    async fn a_panicking_check_still_gets_an_answer() {
        let (out, puts) = answer(event("Create", some()), Fake::Panics, 60).await;
        assert_eq!(puts.len(), 1);
        assert_eq!(out["Status"], "FAILED");
        assert!(
            out["Reason"]
                .as_str()
                .unwrap()
                .contains("internal error, so nothing was verified (this is a bug in Preflight): boom in a check")
        );
    }

    #[tokio::test]
    async fn a_run_near_the_deadline_fails_in_time_naming_what_was_pending() {
        let started = std::time::Instant::now();
        let (out, puts) = answer(event("Create", some()), Fake::Hangs, 4).await;
        let took = started.elapsed();
        // The budget is the 4 s left less the 2.5 s margin: not sooner, and not later.
        assert!(took >= Duration::from_millis(1400), "answered after only {took:?}");
        assert!(took < Duration::from_millis(1600), "answered after {took:?}, deadline margin not kept");
        assert_eq!(puts.len(), 1);
        assert!(out["Reason"].as_str().unwrap().contains("while still waiting for kms:GetKeyPolicy"), "{out}");
    }

    #[tokio::test]
    async fn unknowns_fail_only_under_on_unknown_fail() {
        let mut u = fail(1, 1);
        u.status = Status::Unknown;
        let (out, _) = answer(event("Create", some()), Fake::Findings(vec![u.clone()], OnUnknown::Warn), 60).await;
        assert_eq!(out["Status"], "SUCCESS");
        assert!(out["Reason"].as_str().unwrap().contains("unknowns are warnings"));
        let (out, _) = answer(event("Create", some()), Fake::Findings(vec![u], OnUnknown::Fail), 60).await;
        assert_eq!(out["Status"], "FAILED");
        assert!(out["Reason"].as_str().unwrap().contains("1) [parameter] parameter `/app/r1/\"parameter\""));
    }

    #[tokio::test]
    async fn the_body_fits_4096_bytes_whatever_the_findings() {
        for (count, len) in [(1, 1), (3, 10), (40, 20), (1000, 3), (2, 5000), (1, 100_000)] {
            let findings: Vec<Finding> = (0..count).map(|i| fail(i, len)).collect();
            let (out, puts) = answer(event("Create", some()), Fake::Findings(findings, OnUnknown::Warn), 60).await;
            let text = serde_json::to_string(&puts[0]).unwrap();
            assert!(text.len() <= MAX_RESPONSE_BYTES, "{count}x{len}: {} bytes", text.len());
            let reason = out["Reason"].as_str().unwrap();
            assert!(
                reason.starts_with(&format!(
                    "Preflight failed: {count} failed, 0 unknown, 0 passed 1) [parameter] parameter `/app/r0/"
                )),
                "{reason}"
            );
            assert!(reason.ends_with("stream 2026/11/23/[$LATEST]abc)"), "{count}x{len}: {reason}");
            if count == 1000 {
                assert!(reason.contains("more; full report in CloudWatch Logs"), "{reason}");
            }
        }
    }

    #[test]
    fn response_urls_must_be_aws_s3_https_or_allowed_loopback() {
        for ok in [
            URL,
            "https://cloudformation-custom-resource-response-apnortheast1.s3.ap-northeast-1.amazonaws.com/x",
            "https://bucket.s3-external-1.amazonaws.com/x",
            "https://x.s3.cn-north-1.amazonaws.com.cn/x",
            // Virtual-hosted and path style, legacy dash, dualstack, FIPS, GovCloud, ISO.
            "https://cloudformation-custom-resource-response-uswest2.s3-us-west-2.amazonaws.com/x",
            "https://s3.us-west-2.amazonaws.com/bucket/x",
            "https://s3.amazonaws.com/bucket/x",
            "https://s3-eu-west-1.amazonaws.com/bucket/x",
            "https://my.dotted.bucket.s3.dualstack.eu-central-1.amazonaws.com/x",
            "https://bucket.s3-fips.us-gov-west-1.amazonaws.com/x",
            "https://bucket.s3-fips.dualstack.us-east-2.amazonaws.com/x",
            "https://bucket.s3.us-iso-east-1.c2s.ic.gov/x",
            "https://bucket.s3.us-isob-east-1.sc2s.sgov.gov/x",
        ] {
            assert!(ResponseUrl::parse(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "https://s3.amazonaws.com.evil.com/x",
            "https://evil.com/s3.amazonaws.com",
            "https://user:pw@bucket.s3.amazonaws.com/x",
            "https://bucket.s3.amazonaws.com:8443/x",
            "https://lambda.us-east-1.amazonaws.com/x",
            // A label merely starting with `s3-`, or an endpoint that is not the host's last part.
            "https://s3-x.elb.amazonaws.com/x",
            "https://app.s3-us-east-1.elb.amazonaws.com/x",
            "https://s3-anything.amazonaws.com/x",
            "https://bucket.s3.us-east-1.execute-api.amazonaws.com/x",
            "https://s3.notaregion.amazonaws.com/x",
            "https://bucket..s3.amazonaws.com/x",
            "https://Bucket_Name.s3.amazonaws.com/x",
            "http://127.0.0.1:9/x",
            "not a url",
        ] {
            assert!(ResponseUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(ResponseUrl::parse("http://127.0.0.1:9/x", true).is_ok());
        assert!(ResponseUrl::parse("http://localhost:9/x", true).is_ok());
        assert!(ResponseUrl::parse("http://[::1]:9/x", true).is_ok());
        assert!(ResponseUrl::parse("http://10.0.0.1:9/x", true).is_err());
    }

    #[test]
    fn refusals_and_debug_never_show_the_signature() {
        let refusal = ResponseUrl::parse("https://evil.com/p?X-Amz-Signature=SECRET", false).unwrap_err().to_string();
        assert!(!refusal.contains("SECRET") && refusal.contains("https://evil.com/..."), "{refusal}");
        let url = ResponseUrl::parse(URL, false).unwrap();
        assert!(!format!("{url:?}").contains("SECRET"));
    }

    #[tokio::test]
    async fn a_delete_succeeds_whatever_else_it_holds() {
        for garbage in [
            json!({"RequestType": "Delete", "ResponseURL": URL, "StackId": "s", "RequestId": "r", "LogicalResourceId": "L"}),
            json!({"RequestType": "Delete", "ResponseURL": URL, "StackId": "s", "RequestId": "r", "LogicalResourceId": "L",
                   "PhysicalResourceId": 42, "ResourceProperties": "not an object"}),
        ] {
            let (out, puts) = answer(garbage, Fake::Panics, 60).await;
            assert_eq!(puts.len(), 1);
            assert_eq!(out["Status"], "SUCCESS", "{out}");
        }
    }

    #[tokio::test]
    async fn identity_fields_of_any_size_keep_the_answer_within_4096_bytes() {
        let huge = "\u{1}é".repeat(20_000);
        let mut ev = event("Create", some());
        for field in ["StackId", "RequestId", "LogicalResourceId", "PhysicalResourceId"] {
            ev[field] = json!(huge);
        }
        let (out, puts) = answer(ev, Fake::Findings(vec![fail(0, 10)], OnUnknown::Warn), 60).await;
        let text = serde_json::to_string(&puts[0]).unwrap();
        assert!(text.len() <= MAX_RESPONSE_BYTES, "{} bytes", text.len());
        assert_eq!(out["Status"], "FAILED");
        assert!(out["Reason"].as_str().unwrap().starts_with("Preflight failed: 1 failed"), "{}", out["Reason"]);
    }

    #[tokio::test]
    async fn text_serde_cannot_read_is_answered_from_its_top_level_fields() {
        let deep = format!("{}0{}", "[".repeat(200), "]".repeat(200));
        let text = format!(
            r#"{{"RequestType":"Create","ResponseURL":"{URL}","StackId":"s","RequestId":"r","LogicalResourceId":"L","ResourceProperties":{{"X":{deep}}}}}"#
        );
        let sink = Recorder::default();
        let out = handle_text(&text, &inv(60), Arc::new(Fake::Panics), &sink, false).await;
        assert_eq!(out["Status"], "FAILED");
        assert!(
            out["Reason"]
                .as_str()
                .unwrap()
                .starts_with("Preflight received an event it cannot read: recursion limit exceeded"),
            "{}",
            out["Reason"]
        );
        assert_eq!(out["RequestId"], "r");
        assert_eq!(sink.0.lock().unwrap().len(), 1, "answered once");
    }

    #[tokio::test]
    async fn a_put_attempt_ends_by_the_deadline() {
        // A response URL that accepts the connection and never answers.
        let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = ResponseUrl::parse(&format!("http://{}/r", hole.local_addr().unwrap()), true).unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((c, _)) = hole.accept().await {
                held.push(c);
            }
        });
        let deadline = SystemTime::now() + Duration::from_millis(1500);
        let err = HttpSink::new().unwrap().put(&url, "{}".into(), deadline).await.unwrap_err();
        // Without the cap the first attempt alone would wait its 10 s.
        let late = SystemTime::now().duration_since(deadline).unwrap_or_default();
        assert!(late < Duration::from_secs(1), "returned {late:?} after the deadline: {err}");
        assert!(matches!(err, PutError::Transport { attempts: 1, .. }), "{err}");
    }
}
