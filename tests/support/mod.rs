//! Real local stand-ins for what surrounds Preflight in AWS, all on loopback:
//! a Lambda Runtime API that feeds events to the real `preflight-lambda` binary, an HTTP receiver
//! standing in for CloudFormation's ResponseURL (and for any endpoint whose calls must be seen),
//! a black hole that accepts connections and never answers, and moto server as the AWS APIs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

type Reply = Response<Full<Bytes>>;

#[path = "../../crates/core/tests/corpus/mod.rs"]
mod corpus;

fn reply(status: u16, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r
}

/// Serves `handler` on a fresh loopback port; returns the address.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, std::convert::Infallible>(handler(req).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    addr
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path_and_query: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: SystemTime,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// Records every request; answers with `statuses` in order, then 200.
pub struct Receiver {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    notify: Arc<Notify>,
}

impl Receiver {
    pub async fn start(statuses: Vec<u16>) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let script = Arc::new(Mutex::new(statuses.into_iter()));
        let addr = serve({
            let (requests, notify) = (Arc::clone(&requests), Arc::clone(&notify));
            move |req: Request<Incoming>| {
                let (requests, notify, script) = (Arc::clone(&requests), Arc::clone(&notify), Arc::clone(&script));
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let headers = parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                        .collect();
                    requests.lock().unwrap().push(Recorded {
                        method: parts.method.to_string(),
                        path_and_query: parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: SystemTime::now(),
                    });
                    notify.notify_waiters();
                    let status = script.lock().unwrap().next().unwrap_or(200);
                    reply(status, "")
                }
            }
        })
        .await;
        Self { base: format!("http://{addr}"), requests, notify }
    }

    pub fn clear(&self) {
        self.requests.lock().unwrap().clear();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (or `limit` passed) and returns them all.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Recorded> {
        let until = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.notify.notified();
            if self.requests.lock().unwrap().len() >= n || tokio::time::Instant::now() >= until {
                return self.requests();
            }
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }
}

/// Accepts TCP connections and never answers: an AWS endpoint that hangs.
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

struct Queued {
    id: String,
    body: String,
    /// The `lambda-runtime-deadline-ms` header as sent; `None` leaves it out.
    deadline: Option<String>,
}

/// The Lambda Runtime API (2018-06-01) as the Lambda service serves it to a custom runtime.
pub struct RuntimeApi {
    pub addr: String,
    queue: mpsc::UnboundedSender<Queued>,
    results: Arc<Mutex<HashMap<String, Result<Value, String>>>>,
    notify: Arc<Notify>,
    next_id: Mutex<u32>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Queued>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let results = Arc::new(Mutex::new(HashMap::new()));
        let notify = Arc::new(Notify::new());
        let addr = serve({
            let (results, notify) = (Arc::clone(&results), Arc::clone(&notify));
            move |req: Request<Incoming>| {
                let (rx, results, notify) = (Arc::clone(&rx), Arc::clone(&results), Arc::clone(&notify));
                async move {
                    let path = req.uri().path().to_owned();
                    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let body = String::from_utf8_lossy(&body).into_owned();
                    if path == "/2018-06-01/runtime/invocation/next" {
                        let Some(next) = rx.lock().await.recv().await else { return reply(500, "closed") };
                        let mut r = reply(200, next.body);
                        let h = r.headers_mut();
                        h.insert("lambda-runtime-aws-request-id", next.id.parse().unwrap());
                        if let Some(deadline) = &next.deadline {
                            h.insert("lambda-runtime-deadline-ms", deadline.parse().unwrap());
                        }
                        h.insert(
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:preflight".parse().unwrap(),
                        );
                        h.insert(
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000".parse().unwrap(),
                        );
                        h.insert("content-type", "application/json".parse().unwrap());
                        return r;
                    }
                    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
                    match parts.as_slice() {
                        ["2018-06-01", "runtime", "invocation", id, "response"] => {
                            let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                            results.lock().unwrap().insert((*id).to_owned(), Ok(value));
                        }
                        ["2018-06-01", "runtime", "invocation", id, "error"] => {
                            results.lock().unwrap().insert((*id).to_owned(), Err(body));
                        }
                        ["2018-06-01", "runtime", "init", "error"] => {
                            results.lock().unwrap().insert("init".to_owned(), Err(body));
                        }
                        _ => return reply(404, "unknown runtime API path"),
                    }
                    notify.notify_waiters();
                    reply(202, "{}")
                }
            }
        })
        .await;
        Self { addr: addr.to_string(), queue: tx, results, notify, next_id: Mutex::new(0) }
    }

    /// Invokes the function with `event` and `timeout` until its deadline; returns the invocation
    /// result (Ok) or the runtime error it reported (Err).
    pub async fn invoke(&self, event: &Value, timeout: Duration) -> Result<Value, String> {
        let deadline = SystemTime::now() + timeout;
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis();
        self.invoke_with_deadline_header(event, deadline_ms, timeout).await
    }

    /// As [`Self::invoke`], with the raw value of the deadline header (what an emulator sends);
    /// waits up to `timeout` (plus 10 s) for the result.
    pub async fn invoke_with_deadline_header(
        &self,
        event: &Value,
        deadline_ms: u128,
        timeout: Duration,
    ) -> Result<Value, String> {
        self.invoke_text(&event.to_string(), deadline_ms, timeout).await
    }

    /// Invokes the function with `body` as the event's text, exactly as given.
    pub async fn invoke_raw(&self, body: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = SystemTime::now() + timeout;
        self.invoke_text(body, deadline.duration_since(UNIX_EPOCH).unwrap().as_millis(), timeout).await
    }

    /// Queues an invocation whose deadline header is `deadline` as given (`None`: no header), and
    /// returns without waiting: a runtime that cannot read the header answers nothing.
    pub fn send_with_deadline_text(&self, event: &Value, deadline: Option<&str>) {
        let id = self.new_id();
        self.queue.send(Queued { id, body: event.to_string(), deadline: deadline.map(str::to_owned) }).unwrap();
    }

    fn new_id(&self) -> String {
        let mut n = self.next_id.lock().unwrap();
        *n += 1;
        format!("invoke-{n}")
    }

    async fn invoke_text(&self, body: &str, deadline_ms: u128, timeout: Duration) -> Result<Value, String> {
        let id = self.new_id();
        let deadline = Some(deadline_ms.to_string());
        self.queue.send(Queued { id: id.clone(), body: body.to_owned(), deadline }).unwrap();
        let until = tokio::time::Instant::now() + timeout + Duration::from_secs(10);
        loop {
            let notified = self.notify.notified();
            {
                let results = self.results.lock().unwrap();
                if let Some(r) = results.get(&id) {
                    return r.clone();
                }
                if let Some(Err(e)) = results.get("init") {
                    panic!("the function failed to initialise: {e}");
                }
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                panic!("no invocation result for {id} within {timeout:?} + 10s");
            }
        }
    }
}

/// The real `preflight-lambda` binary, polling a [`RuntimeApi`]; killed on drop.
pub struct LambdaProcess {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl LambdaProcess {
    /// Starts the binary with a Lambda-like environment plus `env` (which wins).
    pub fn start(api: &RuntimeApi, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight-lambda"));
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k == "RUST_LOG" || k.starts_with("PREFLIGHT_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs([
            ("AWS_LAMBDA_RUNTIME_API", api.addr.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "preflight"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/preflight"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/23/[$LATEST]0123456789abcdef"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/preflight-test-config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/preflight-test-credentials"),
            ("PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL", "1"),
        ]);
        cmd.envs(env.iter().copied());
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start preflight-lambda");
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Self { child, output }
    }

    /// Waits until the output holds `text` (or 10 s pass), and returns it.
    pub fn wait_for_output(&self, text: &str) -> String {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let out = self.output();
            if out.contains(text) || std::time::Instant::now() >= until {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `limit` for the process to exit on its own; its exit status, if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the process printed so far, stdout and stderr.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CloudFormation custom resource event for `Custom::Preflight`.
pub fn event(kind: &str, response_url: &str, properties: Value) -> Value {
    let mut e = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:preflight",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/app/8a2b9e40-a9b1-11ef-9f5a-0a1b2c3d4e5f",
        "RequestId": "6e4b9c7a-2f1d-4a3b-9c8d-1e2f3a4b5c6d",
        "ResourceType": "Custom::Preflight",
        "LogicalResourceId": "Preflight",
        "ResourceProperties": properties,
    });
    if kind != "Create" {
        e["PhysicalResourceId"] = json!("preflight-Preflight-0123456789abcdef");
    }
    if kind == "Update" {
        e["OldResourceProperties"] = json!({"ServiceToken": "x"});
    }
    e
}

/// Every case of the evaluator's scenario corpus (`crates/core/tests/scenarios/*.json`), files in
/// name order, read by the core's own corpus reader.
pub fn scenario_cases() -> Vec<Value> {
    corpus::cases_in(&repo().join("crates/core/tests/scenarios"))
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of the test tools' virtual environment (`PREFLIGHT_PYTHON` overrides).
pub fn python() -> PathBuf {
    let python =
        std::env::var_os("PREFLIGHT_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh, which installs the test tools (moto, cfn-lint, SAM CLI) into .venv",
        python.display()
    );
    python
}

/// A tool installed in the virtual environment, next to its Python.
pub fn venv_tool(name: &str) -> PathBuf {
    let tool = python().parent().unwrap().join(name);
    assert!(tool.exists(), "{} is missing: run scripts/test.sh to install the test tools", tool.display());
    tool
}

/// A moto server of its own (for tests that seed an account), killed on drop.
pub struct FreshMoto {
    pub url: String,
    child: std::process::Child,
}

/// Starts a test tool of `tests/support` that prints `READY <value>` once it serves and runs until
/// its standard input closes; returns it and that value.
fn launch_ready(script: &str, args: &[&std::path::Path]) -> (Child, String) {
    let mut child = Command::new(python())
        .arg(repo().join("tests/support").join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let value = line.trim().strip_prefix("READY ").unwrap_or_else(|| panic!("{script} said {line:?}")).to_owned();
    (child, value)
}

/// Starts the moto launcher and waits for its `READY URL` line.
fn launch_moto() -> (Child, String) {
    launch_ready("aws_local.py", &[])
}

impl FreshMoto {
    pub fn start() -> Self {
        let (child, url) = launch_moto();
        Self { url, child }
    }

    /// Seeds the stories' account (`broken`, `fixed` or `edge`) and returns the spec file written.
    pub fn seed(&self, variant: &str) -> PathBuf {
        let spec = std::env::temp_dir().join(format!(
            "preflight-spec-{variant}-{}-{}.json",
            std::process::id(),
            self.child.id()
        ));
        let status = Command::new(python())
            .arg(repo().join("tests/support/seed.py"))
            .args([self.url.as_str(), variant, spec.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "seeding {variant} failed");
        spec
    }

    /// Seeds `variant`; when the seed wrote a DNS hierarchy (`<spec>.dns.json`), starts it and
    /// points the spec's `Options.DnsRootServers` at its root (127.0.0.10). The hierarchy lives as
    /// long as the returned value.
    pub fn seed_with_dns(&self, variant: &str) -> (PathBuf, Option<DnsHierarchy>) {
        let spec = self.seed(variant);
        let config = PathBuf::from(format!("{}.dns.json", spec.display()));
        if !config.exists() {
            return (spec, None);
        }
        let dns = DnsHierarchy::start_file(&config);
        let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&spec).unwrap()).unwrap();
        value["Options"] = json!({"DnsRootServers": dns.roots(&["127.0.0.10"])});
        std::fs::write(&spec, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        (spec, Some(dns))
    }

    /// Seeds `variant` with `tests/support/seed_template.py` (the stack-model tests' accounts) and
    /// returns what it prints (an execution role's or a key's ARN).
    pub fn seed_template(&self, variant: &str) -> String {
        let out = Command::new(python())
            .arg(repo().join("tests/support/seed_template.py"))
            .args([self.url.as_str(), variant])
            .output()
            .unwrap();
        assert!(out.status.success(), "seeding {variant} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// The zones the seed made (`<spec>.zones.json`): label -> {id, ns}.
    pub fn zones(spec: &std::path::Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{}.zones.json", spec.display())).unwrap()).unwrap()
    }
}

impl Drop for FreshMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cdk bootstrap` of the current CDK CLI's own template into the local AWS at `url`, through
/// the CLI's change set (tests/bootstrap/deploy.py, flags as it takes them): the stack's outputs.
pub fn cdk_bootstrap(url: &str, flags: &[&str]) -> Value {
    let out = Command::new(python())
        .arg(repo().join("tests/bootstrap/deploy.py"))
        .arg(url)
        .arg("--via-change-set")
        .args(flags)
        .output()
        .unwrap();
    assert!(out.status.success(), "deploy.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The credentials moto accepts.
pub const TEST_CREDENTIALS: &[(&str, &str)] = &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")];

/// Runs `preflight check --spec SPEC --format FORMAT` against the local AWS at `url` with only
/// `credentials` (no profile, no metadata service): its exit code and standard output.
pub fn check_cli(url: &str, spec: &std::path::Path, format: &str, credentials: &[(&str, &str)]) -> (i32, String) {
    let (code, out, _) =
        preflight_check(url, &["--spec", spec.to_str().unwrap(), "--format", format], &[], credentials);
    (code, out)
}

/// Runs `preflight check ARGS --region us-east-1 --endpoint-url URL` with only `credentials` and
/// `env` from the environment (no profile, no metadata service, no PREFLIGHT_ variables): exit
/// code, standard output and standard error.
pub fn preflight_check(
    url: &str,
    args: &[&str],
    env: &[(&str, &str)],
    credentials: &[(&str, &str)],
) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("PREFLIGHT_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .arg("check")
        .args(args)
        .args(["--region", "us-east-1", "--endpoint-url", url])
        .envs([
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/x"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/x"),
        ])
        .envs(credentials.iter().copied())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`preflight_check`] with `--format json` and the moto credentials: exit code and report.
pub fn check_json(url: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let (code, out, err) = preflight_check(url, &all, env, TEST_CREDENTIALS);
    let report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, report)
}

/// Replaces KMS key ids (random in moto) with a fixed text, for golden comparisons.
pub fn normalise_key_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let candidate = text.get(i..i + 36);
        let is_uuid = candidate.is_some_and(|c| {
            c.bytes()
                .enumerate()
                .all(|(j, b)| if [8, 13, 18, 23].contains(&j) { b == b'-' } else { b.is_ascii_hexdigit() })
        });
        if is_uuid {
            out.push_str("KEY-ID");
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

struct Moto {
    url: String,
    // Held open: the launcher exits when this closes, with the test process.
    _stdin: Mutex<ChildStdin>,
}

/// The URL of a moto server shared by this test binary, started on first use. The launcher exits
/// when this process ends and its stdin closes; there is no point at which to wait for it.
#[allow(clippy::zombie_processes)]
pub fn moto() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO
        .get_or_init(|| {
            let (mut child, url) = launch_moto();
            Moto { url, _stdin: Mutex::new(child.stdin.take().unwrap()) }
        })
        .url
}

/// A fake DNS hierarchy on loopback (`tests/support/dns_local.py`, or real NSD processes through
/// `tests/support/dns_nsd.py`): every server on its own loopback address, all on one port. Stops
/// on drop.
pub struct DnsHierarchy {
    pub port: u16,
    child: Child,
}

impl DnsHierarchy {
    pub fn start(config: &Value) -> Self {
        Self::start_file(&Self::config_file(config))
    }

    pub fn start_file(path: &std::path::Path) -> Self {
        Self::launch("dns_local.py", path)
    }

    /// The same hierarchy served by real NSD processes (`tests/support/dns_nsd.py`), one per
    /// server address, instead of the Python fake; of the behaviours only `silent` and `refused`.
    pub fn start_nsd(config: &Value) -> Self {
        Self::launch("dns_nsd.py", &Self::config_file(config))
    }

    /// Writes `config` to a temporary file of its own and returns its path.
    fn config_file(config: &Value) -> PathBuf {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "preflight-dns-{}-{}.json",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::write(&path, config.to_string()).unwrap();
        path
    }

    fn launch(script: &str, config: &std::path::Path) -> Self {
        let (child, port) = launch_ready(script, &[config]);
        let port = port.parse().unwrap();
        Self { port, child }
    }

    /// `Options.DnsRootServers` for roots at these addresses.
    pub fn roots(&self, ips: &[&str]) -> Value {
        Value::Array(ips.iter().map(|ip| Value::String(format!("{ip}:{}", self.port))).collect())
    }
}

impl Drop for DnsHierarchy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs Route 53 actions against a local AWS (`tests/support/route53.py`) and returns its answers.
pub fn route53(endpoint: &str, actions: &Value) -> Value {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(repo().join("tests/support/route53.py"))
        .arg(endpoint)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(actions.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "route53.py failed");
    serde_json::from_slice(&out.stdout).unwrap()
}
