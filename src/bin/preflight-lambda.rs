//! `preflight-lambda`: the custom resource handler. Builds the AWS clients and the HTTP client once,
//! then hands every event to `preflight::cfn::handle`, which always answers CloudFormation.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use preflight::aws::{AwsFacts, Connection, load_config};
use preflight::cfn::{self, HttpSink, Invocation, Runner};
use preflight::fetch::Pending;
use preflight::{Report, Spec};
use serde_json::Value;
use serde_json::value::RawValue;
use tracing_subscriber::EnvFilter;

/// The AWS side of a run, or why it could not be configured (then every event is still answered,
/// FAILED, with that reason in each finding).
enum Engine {
    Aws(AwsFacts),
    Unconfigured(String),
}

impl Runner for Engine {
    async fn run(&self, spec: Spec, pending: Arc<Pending>) -> Report {
        match self {
            Engine::Aws(source) => preflight::run(&spec, source, &pending).await,
            Engine::Unconfigured(why) => preflight::run_unconfigured(&spec, why),
        }
    }
}

/// Logs to stdout (CloudWatch) at `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default info), as JSON when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`. Whatever the level, the crates that would print the raw event or
/// request URLs at trace level (and so the ResponseURL) are held at info.
fn init_logging() {
    let level =
        std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "info".into());
    let mut filter = EnvFilter::builder().parse_lossy(level.to_ascii_lowercase());
    for quiet in [
        "lambda_runtime=info",
        "lambda_runtime_api_client=info",
        "reqwest=info",
        "hyper=info",
        "hyper_util=info",
        "aws_smithy_runtime=info",
        "aws_smithy_http_client=info",
    ] {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).without_time();
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// What the first event needs and the first poll does not: the AWS clients (the SDK
/// configuration, the credentials chain) and the HTTPS client for the ResponseURL (its TLS roots).
struct Ready {
    engine: Arc<Engine>,
    sink: HttpSink,
}

/// Built once, in the background from the start; the first event waits for it if it has to.
static READY: tokio::sync::OnceCell<Ready> = tokio::sync::OnceCell::const_new();

async fn ready() -> Result<&'static Ready, Error> {
    READY
        .get_or_try_init(|| async {
            let engine = match load_config(&Connection::default()).await {
                Ok(config) => Engine::Aws(AwsFacts::new(&config)),
                Err(why) => {
                    tracing::error!(error = %why, "the AWS configuration is unusable; every event will be answered FAILED");
                    Engine::Unconfigured(why)
                }
            };
            Ok::<Ready, Error>(Ready { engine: Arc::new(engine), sink: HttpSink::new()? })
        })
        .await
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logging();
    // The first poll of the Runtime API does not wait for the clients: they are built alongside
    // (cold start: scripts/cold_start.py).
    tokio::spawn(async {
        if let Err(e) = ready().await {
            tracing::error!(error = %e, "could not build the AWS and HTTPS clients");
        }
    });
    let allow_loopback = std::env::var("PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL").is_ok_and(|v| v == "1");
    // The runtime library fails an invocation whose deadline header is missing (a panic) or not a
    // number (an error that ends its loop) before any handler runs, with no request id left to
    // answer. Lambda always sends the header; an emulator may not. Either way the function logs
    // the error and goes on polling, instead of exiting and failing every later event.
    // A Runtime API that is gone (connection refused) ends the loop at once too: the polls back
    // off, and after QUICK_FAILURES in a row, each within QUICK of the last start, the function
    // exits instead of spinning (an orphaned function once spun at half a core for hours).
    const QUICK: Duration = Duration::from_secs(10);
    const QUICK_FAILURES: u32 = 8;
    let mut quick_failures = 0u32;
    loop {
        let started = std::time::Instant::now();
        let run = AssertUnwindSafe(serve(allow_loopback)).catch_unwind();
        let why = match run.await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => panic_text(panic),
        };
        quick_failures = if started.elapsed() < QUICK { quick_failures + 1 } else { 1 };
        if quick_failures >= QUICK_FAILURES {
            tracing::error!(error = %why, "the runtime failed {quick_failures} times in a row; exiting");
            return Err(why.into());
        }
        tracing::error!(error = %why, "the runtime could not read an invocation (its deadline header?); polling again");
        tokio::time::sleep(Duration::from_millis(50u64 << quick_failures.min(5))).await;
    }
}

/// Serves invocations until the runtime library stops.
async fn serve(allow_loopback: bool) -> Result<(), Error> {
    // The event as raw JSON text: cfn::handle_text answers even one serde_json cannot read as a
    // value (too deeply nested, a lone surrogate escape), which the runtime would otherwise fail
    // before any handler runs, leaving CloudFormation without an answer.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| async move {
        let Ready { engine, sink } = ready().await?;
        let timeout = std::env::var("AWS_LAMBDA_FUNCTION_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let (deadline, note) = cfn::deadline_of(event.context.deadline, SystemTime::now(), timeout);
        if let Some(note) = note {
            tracing::warn!("{note}");
        }
        let invocation = Invocation {
            deadline,
            log_group: event.context.env_config.log_group.clone(),
            log_stream: event.context.env_config.log_stream.clone(),
        };
        if invocation.deadline < SystemTime::now() {
            tracing::warn!("the invocation deadline is already past; answering at once");
        }
        Ok::<Value, Error>(
            cfn::handle_text(event.payload.get(), &invocation, Arc::clone(engine), sink, allow_loopback).await,
        )
    }))
    .await
}

/// A panic's message, for the log.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map(|s| (*s).to_owned()).unwrap_or_else(|| "a panic".into()),
    }
}
