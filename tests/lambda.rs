//! The real `preflight-lambda` binary, driven through a loopback Lambda Runtime API, answering a
//! loopback stand-in for CloudFormation's ResponseURL. Each test asserts the PUT CloudFormation
//! would receive: its headers, its body, its timing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{LambdaProcess, Receiver, RuntimeApi, black_hole, event, moto};

const SIGNATURE: &str = "X-Amz-Signature=0123456789abcdefSECRETSIGNATURE";

fn response_url(receiver: &Receiver) -> String {
    format!(
        "{}/cfn-response/arn%3Aaws%3Acloudformation/Preflight/6e4b9c7a?X-Amz-Expires=7200&{SIGNATURE}",
        receiver.base
    )
}

/// Starts a runtime API, a receiver and the binary; `aws` is where AWS calls go.
async fn setup(aws: &str, extra_env: &[(&str, &str)]) -> (RuntimeApi, Receiver, LambdaProcess) {
    let api = RuntimeApi::start().await;
    let receiver = Receiver::start(vec![]).await;
    let mut env = vec![("AWS_ENDPOINT_URL", aws)];
    env.extend_from_slice(extra_env);
    let lambda = LambdaProcess::start(&api, &env);
    (api, receiver, lambda)
}

fn one_put(puts: &[support::Recorded]) -> Value {
    assert_eq!(puts.len(), 1, "expected exactly one answer, got {puts:#?}");
    let put = &puts[0];
    assert_eq!(put.method, "PUT");
    assert!(put.path_and_query.ends_with(SIGNATURE), "answered to the wrong URL: {}", put.path_and_query);
    assert_eq!(put.headers.get("content-type").map(String::as_str), Some(""), "Content-Type must be empty");
    assert!(put.body.len() <= 4096, "body of {} bytes", put.body.len());
    put.json()
}

#[tokio::test]
async fn create_with_an_empty_spec_fails_saying_so_and_calls_no_aws_api() {
    let aws = Receiver::start(vec![]).await;
    let (api, receiver, _lambda) = setup(&aws.base, &[]).await;
    let result = api
        .invoke(&event("Create", &response_url(&receiver), json!({"ServiceToken": "x"})), Duration::from_secs(30))
        .await;
    let body = one_put(&receiver.requests());
    assert_eq!(result.as_ref(), Ok(&body), "the invocation result is the response object");
    assert_eq!(body["Status"], "FAILED", "a check of nothing is never a pass");
    assert!(
        body["Reason"].as_str().unwrap().starts_with(
            "Preflight's properties ask for nothing to check: give Bootstrap, Parameters, Secrets, Keys, KeyPolicies or HostedZone"
        ),
        "{body}"
    );
    assert_eq!(body["RequestId"], "6e4b9c7a-2f1d-4a3b-9c8d-1e2f3a4b5c6d");
    assert_eq!(body["LogicalResourceId"], "Preflight");
    // FNV-1a of the stack id and logical id: stable across builds and runs.
    assert_eq!(body["PhysicalResourceId"], "preflight-Preflight-2cfe8e3b034e0480");
    assert!(aws.requests().is_empty(), "an empty spec needs no AWS call: {:?}", aws.requests());
}

#[tokio::test]
async fn an_empty_aws_endpoint_url_is_answered_failed_saying_so_not_with_a_crash() {
    // aws-smithy-types 1.9 panics at the first call when AWS_ENDPOINT_URL is set but empty.
    let (api, receiver, _lambda) = setup("", &[]).await;
    let props = json!({"Keys": [{"Key": "alias/k", "Principals": ["arn:aws:iam::123456789012:role/r"]}]});
    api.invoke(&event("Create", &response_url(&receiver), props), Duration::from_secs(30)).await.unwrap();
    let body = one_put(&receiver.requests());
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("the environment variable AWS_ENDPOINT_URL is empty; set it to an http(s) URL or unset it"),
        "{reason}"
    );
    // The function goes on answering.
    api.invoke(&event("Delete", &response_url(&receiver), json!({})), Duration::from_secs(30)).await.unwrap();
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test]
async fn delete_answers_success_at_once_and_calls_no_aws_api() {
    let aws = Receiver::start(vec![]).await;
    let (api, receiver, _lambda) = setup(&aws.base, &[]).await;
    let props = json!({"Parameters": [{"Name": "/app/db/password", "Readers": ["arn:aws:iam::123456789012:role/r"]}], "Junk": 1});
    let started = std::time::Instant::now();
    api.invoke(&event("Delete", &response_url(&receiver), props), Duration::from_secs(30)).await.unwrap();
    let body = one_put(&receiver.requests());
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "preflight-Preflight-0123456789abcdef", "echoed on delete");
    assert!(aws.requests().is_empty(), "delete must not call AWS: {:?}", aws.requests());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn create_reads_the_account_from_the_configured_endpoint() {
    let (api, receiver, lambda) = setup(moto(), &[]).await;
    let props = json!({"Parameters": [{"Name": "/app/db/password", "Readers": ["arn:aws:iam::123456789012:role/r"]}],
                       "HostedZone": {"ZoneId": "Z0123456789ABCDEFGHIJ"}});
    api.invoke(&event("Create", &response_url(&receiver), props), Duration::from_secs(60)).await.unwrap();
    let body = one_put(&receiver.requests());
    // Neither the parameter nor the hosted zone exists in the (empty) account.
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["Data"], json!({"Status": "fail", "Failed": "2", "Unknown": "0", "Passed": "0"}));
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("parameter `/app/db/password` does not exist in account 123456789012 region us-east-1")
    );
    let log = lambda.wait_for_output("\"preflight report\"");
    let line: Value = serde_json::from_str(log.lines().find(|l| l.contains("\"preflight report\"")).unwrap()).unwrap();
    assert_eq!(line["report"]["account"], "123456789012", "the account comes from moto's STS");
    assert_eq!(line["report"]["region"], "us-east-1");
    let zone = line["report"]["findings"].as_array().unwrap().iter().find(|f| f["check"] == "hosted-zone").unwrap();
    assert_eq!(
        zone["message"],
        "hosted zone `Z0123456789ABCDEFGHIJ` does not exist in account 123456789012, so nothing the stack writes to it can be served"
    );
}

#[tokio::test]
async fn on_unknown_fail_fails_the_deploy_and_names_each_unknown() {
    let (api, receiver, _lambda) = setup(moto(), &[]).await;
    // A zone whose delegation cannot be known: the DNS is out of reach (nothing listens on the
    // roots' port) and the account holds neither a registration nor a parent zone.
    let zone = support::route53(moto(), &json!([{"zone": "lambda-unknown.com"}]));
    let id = zone[0]["id"].as_str().unwrap();
    let props = json!({"HostedZone": {"ZoneId": id},
                       "Options": {"OnUnknown": "fail", "DnsRootServers": ["127.0.0.1:9"]}});
    api.invoke(&event("Create", &response_url(&receiver), props), Duration::from_secs(60)).await.unwrap();
    let body = one_put(&receiver.requests());
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "Preflight failed: 0 failed, 1 unknown, 0 passed 1) [hosted-zone] whether hosted zone {id} (lambda-unknown.com) is the zone lambda-unknown.com is delegated to was not checked: the DNS could not be reached"
        )),
        "{reason}"
    );
    assert!(reason.ends_with(
        "(full report in CloudWatch Logs group /aws/lambda/preflight stream 2026/11/23/[$LATEST]0123456789abcdef)"
    ));
}

#[tokio::test]
async fn a_hanging_aws_call_is_answered_failed_before_the_deadline_naming_the_call() {
    let hole = black_hole().await;
    let (api, receiver, _lambda) = setup(&hole, &[]).await;
    // A warm execution environment, as Lambda has when the deadline starts counting.
    api.invoke(&event("Delete", &response_url(&receiver), json!({})), Duration::from_secs(30)).await.unwrap();
    receiver.clear();
    let props = json!({"Parameters": [{"Name": "/p", "Readers": []}]});
    let timeout = Duration::from_secs(8);
    let invoked = std::time::SystemTime::now();
    api.invoke(&event("Create", &response_url(&receiver), props), timeout).await.unwrap();
    let puts = receiver.requests();
    let body = one_put(&puts);
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("ran out of time")
            && reason.contains("still waiting for")
            && reason.contains("sts:GetCallerIdentity")
            && reason.contains("ssm:DescribeParameters"),
        "{reason}"
    );
    let deadline = invoked + timeout;
    let margin = deadline.duration_since(puts[0].at).unwrap_or_default();
    assert!(margin >= Duration::from_secs(2), "answered only {margin:?} before the deadline");
    // It answered because the budget ran out (deadline less the 2.5 s margin), not before.
    let waited = puts[0].at.duration_since(invoked).unwrap();
    assert!(
        waited >= timeout - preflight::cfn::DEADLINE_MARGIN - Duration::from_millis(500),
        "answered after {waited:?}"
    );
}

#[tokio::test]
async fn invalid_properties_fail_with_every_path_within_4096_bytes() {
    let (api, receiver, _lambda) = setup("http://127.0.0.1:9", &[]).await;
    let readers: Vec<String> = (0..400).map(|i| format!("not-an-arn-{i}-\"quoted\"-é")).collect();
    let props = json!({"Parameters": [{"Name": "/p", "Readers": readers}], "Surprise": true});
    api.invoke(&event("Create", &response_url(&receiver), props), Duration::from_secs(30)).await.unwrap();
    let body = one_put(&receiver.requests());
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("Preflight's properties are invalid: unknown key `Surprise`"), "{reason}");
    assert!(reason.contains("Parameters[0].Readers[0]: not an IAM principal ARN"), "{reason}");
}

#[tokio::test]
async fn a_rollback_update_succeeds_without_checking() {
    let aws = Receiver::start(vec![]).await;
    let (api, receiver, _lambda) = setup(&aws.base, &[]).await;
    let mut ev =
        event("Update", &response_url(&receiver), json!({"Options": {"Nonce": "1732300000000"}, "Keys": "stale"}));
    ev["OldResourceProperties"] = json!({"Options": {"Nonce": "1732400000000"}});
    api.invoke(&ev, Duration::from_secs(30)).await.unwrap();
    let body = one_put(&receiver.requests());
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], "preflight-Preflight-0123456789abcdef");
    assert!(
        body["Reason"].as_str().unwrap().contains("rollback (deploy nonce 1732300000000 is older than 1732400000000)")
    );
    assert!(aws.requests().is_empty());
}

#[tokio::test]
async fn a_malformed_event_with_a_response_url_is_answered() {
    let aws = Receiver::start(vec![]).await;
    let (api, receiver, _lambda) = setup(&aws.base, &[]).await;
    let ev = json!({"RequestType": "Create", "ResponseURL": response_url(&receiver), "RequestId": "r-1", "ResourceProperties": []});
    let result = api.invoke(&ev, Duration::from_secs(30)).await;
    assert!(result.is_ok(), "no runtime error: {result:?}");
    let body = one_put(&receiver.requests());
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["RequestId"], "r-1");
    assert!(body["Reason"].as_str().unwrap().contains("malformed custom resource event"));
}

#[tokio::test]
async fn the_put_is_retried_on_5xx_with_backoff() {
    let api = RuntimeApi::start().await;
    let receiver = Receiver::start(vec![503, 500, 502]).await;
    let _lambda = LambdaProcess::start(&api, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    api.invoke(&event("Delete", &response_url(&receiver), json!({})), Duration::from_secs(30)).await.unwrap();
    let puts = receiver.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(puts.len(), 4, "three failures then one success");
    assert!(puts.iter().all(|p| p.body == puts[0].body), "the same answer each time");
    let gaps: Vec<Duration> = puts.windows(2).map(|w| w[1].at.duration_since(w[0].at).unwrap()).collect();
    // The delays double from 200 ms: each gap is at least its delay, and the first is no retry storm.
    assert!(gaps[0] >= Duration::from_millis(200) && gaps[0] < Duration::from_millis(400), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(400), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(800), "{gaps:?}");
}

#[tokio::test]
async fn the_put_is_retried_when_the_connection_is_refused() {
    // Reserve a port, answer nothing on it at first, then start listening.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    drop(std_listener);
    let api = RuntimeApi::start().await;
    let _lambda = LambdaProcess::start(&api, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    let url = format!("http://{addr}/late?{SIGNATURE}");
    let ev = event("Delete", &url, json!({}));
    let invoke = api.invoke(&ev, Duration::from_secs(30));
    let late = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let (mut stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await.unwrap().unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 8192];
        let n = stream.read(&mut buf).await.unwrap();
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let (result, request) = tokio::join!(invoke, late);
    assert!(result.is_ok());
    assert!(request.starts_with("PUT /late?"), "{request}");
}

#[tokio::test]
async fn the_response_url_never_reaches_the_logs_even_at_trace_level() {
    let (api, receiver, lambda) = setup(moto(), &[("RUST_LOG", "trace"), ("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).await;
    let url = response_url(&receiver);
    let props = json!({"Keys": [{"Key": "alias/k", "Principals": ["arn:aws:iam::123456789012:role/r"]}]});
    api.invoke(&event("Create", &url, props), Duration::from_secs(60)).await.unwrap();
    one_put(&receiver.requests());
    // A refused URL is logged as refused, by host only.
    api.invoke(
        &event("Create", &format!("https://evil.example.com/x?{SIGNATURE}"), json!({})),
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let log = lambda.wait_for_output("not answering");
    assert!(log.contains("answered CloudFormation"), "the run is logged at all: {log}");
    assert!(log.contains("https://evil.example.com/..."), "the refusal names the host: {log}");
    for secret in ["SECRETSIGNATURE", "cfn-response/arn"] {
        assert!(!log.contains(secret), "the log shows `{secret}`:\n{log}");
    }
}

#[tokio::test]
async fn a_non_aws_response_url_is_refused_without_loopback_permission() {
    let aws = Receiver::start(vec![]).await;
    let api = RuntimeApi::start().await;
    let receiver = Receiver::start(vec![]).await;
    let lambda =
        LambdaProcess::start(&api, &[("AWS_ENDPOINT_URL", &aws.base), ("PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL", "0")]);
    let result =
        api.invoke(&event("Create", &response_url(&receiver), json!({})), Duration::from_secs(30)).await.unwrap();
    assert_eq!(result["Status"], "FAILED", "the decision (nothing to check) is still returned to the invoker");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.requests().is_empty(), "no PUT to a loopback URL without PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL=1");
    assert!(lambda.wait_for_output("not answering").contains("not answering: the event's ResponseURL was refused"));
}

#[tokio::test]
async fn every_file_in_events_gets_its_documented_answer() {
    let (api, receiver, lambda) = setup(moto(), &[]).await;
    let expected = [
        ("create.json", "FAILED", "parameter `/app/db/password` does not exist in account 123456789012"),
        ("update.json", "FAILED", "key `alias/app-data` does not exist in account 123456789012"),
        ("delete.json", "SUCCESS", "Preflight checks nothing on delete"),
        (
            "rollback-update.json",
            "SUCCESS",
            "this update is a rollback (deploy nonce 1732400000000 is older than 1732500000000)",
        ),
        (
            "invalid-properties.json",
            "FAILED",
            "Parameters[0].Readers[0]: not an IAM principal ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME): `db-password-reader`",
        ),
    ];
    let mut files: Vec<String> = std::fs::read_dir(support::repo().join("events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut named: Vec<&str> = expected.iter().map(|e| e.0).collect();
    named.sort();
    assert_eq!(files, named, "every event file has an expectation here");
    for (i, (file, status, words)) in expected.iter().enumerate() {
        let text = std::fs::read_to_string(support::repo().join("events").join(file)).unwrap();
        let mut ev: Value = serde_json::from_str(&text).unwrap();
        ev["ResponseURL"] = json!(response_url(&receiver));
        api.invoke(&ev, Duration::from_secs(60)).await.unwrap();
        let puts = receiver.wait_for(i + 1, Duration::from_secs(5)).await;
        let body = puts.last().unwrap().json();
        assert_eq!(&body["Status"], status, "{file}: {body}");
        assert!(body["Reason"].as_str().unwrap().contains(words), "{file}: {}", body["Reason"]);
    }
    // Every answer is logged: the runs with their report, the others with their reason, and a
    // Reason promises a report only where one was logged.
    let log = lambda.wait_for_output("Preflight's properties are invalid");
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let logged = |kind: &str| -> Vec<(String, String)> {
        lines
            .iter()
            .filter(|l| l["message"] == kind)
            .map(|l| (l["status"].as_str().unwrap().to_owned(), l["reason"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    assert_eq!(logged("preflight report").len(), 2, "{log}");
    let outcomes = logged("preflight outcome");
    let statuses: Vec<&str> = outcomes.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(statuses, ["SUCCESS", "SUCCESS", "FAILED"], "{log}");
    assert!(outcomes[2].1.starts_with("Preflight's properties are invalid: "), "{outcomes:?}");
    for body in receiver.requests().iter().map(|r| r.json()) {
        let promises = body["Reason"].as_str().unwrap().contains("full report in");
        let ran = body["Data"].get("Status").is_some();
        assert_eq!(promises, ran, "{body}");
    }
    let invalid = receiver.requests().last().unwrap().json();
    let reason = invalid["Reason"].as_str().unwrap().to_owned();
    for path in [
        "Keys[0].Key: not a KMS key id",
        "Keys[0].ForAwsResources: expected true or false, got `yes`",
        "unknown key `Option` (did you mean `Options`?)",
    ] {
        assert!(reason.contains(path), "{path} missing from {reason}");
    }
}

#[tokio::test]
async fn a_relative_deadline_from_a_local_emulator_still_runs_the_checks() {
    // cargo-lambda's emulator sends `lambda-runtime-deadline-ms: 600000`, a duration.
    let (api, receiver, lambda) = setup("http://127.0.0.1:9", &[("AWS_MAX_ATTEMPTS", "1")]).await;
    let props = json!({"Parameters": [{"Name": "/p", "Readers": []}]});
    api.invoke_with_deadline_header(
        &event("Create", &response_url(&receiver), props),
        600_000,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let body = one_put(&receiver.requests());
    let reason = body["Reason"].as_str().unwrap();
    assert!(!reason.contains("ran out of time"), "the checks ran: {reason}");
    assert!(reason.contains("could not run") && reason.contains("could not reach AWS"), "{reason}");
    assert!(lambda.wait_for_output("not an epoch time").contains("taking it as 600s left"));
}

/// Events the runtime library cannot read as a JSON value: properties nested 300 levels deep and
/// a lone UTF-16 surrogate escape. Both are answered FAILED naming why (not left for
/// CloudFormation's hour-long timeout); a Delete among them is answered SUCCESS.
#[tokio::test]
async fn events_serde_cannot_read_as_a_value_are_still_answered() {
    let (api, receiver, _lambda) = setup(moto(), &[]).await;
    let url = response_url(&receiver);
    let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    let with = |request_type: &str, properties: &str| {
        format!(
            r#"{{"RequestType":"{request_type}","ResponseURL":{url},"StackId":"arn:aws:cloudformation:us-east-1:123456789012:stack/app/1","RequestId":"r-{request_type}","ResourceType":"Custom::Preflight","LogicalResourceId":"Preflight","PhysicalResourceId":"p-1","ResourceProperties":{{"ServiceToken":"x","Deep":{properties}}}}}"#,
            url = serde_json::to_string(&url).unwrap()
        )
    };
    let cases = [
        (with("Create", &deep), "FAILED", "Preflight received an event it cannot read: recursion limit exceeded"),
        (
            with("Update", r#""\ud800""#),
            "FAILED",
            "Preflight received an event it cannot read: unexpected end of hex escape",
        ),
        (with("Delete", &deep), "SUCCESS", "Preflight checks nothing on delete"),
    ];
    for (i, (text, status, reason)) in cases.iter().enumerate() {
        assert!(serde_json::from_str::<Value>(text).is_err(), "the case must be one serde_json refuses");
        let result = api.invoke_raw(text, Duration::from_secs(30)).await;
        let puts = receiver.wait_for(i + 1, Duration::from_secs(5)).await;
        let body = puts.last().unwrap().json();
        assert_eq!(&body["Status"], status, "{body}");
        assert!(body["Reason"].as_str().unwrap().starts_with(reason), "{body}");
        assert_eq!(body["LogicalResourceId"], "Preflight");
        assert_eq!(result.unwrap()["Status"], *status, "the invocation result is the answer");
    }
}

/// Invocations whose deadline header is missing or not a number: the runtime library fails them
/// before any handler runs (a panic, an error), with nothing left to answer. The function logs why
/// and keeps serving: the next event is answered.
#[tokio::test]
async fn a_missing_or_malformed_deadline_header_is_logged_and_the_function_goes_on() {
    let (api, receiver, lambda) = setup(moto(), &[]).await;
    let delete = event("Delete", &response_url(&receiver), json!({}));
    api.send_with_deadline_text(&delete, None);
    api.send_with_deadline_text(&delete, Some("soon"));
    api.invoke(&delete, Duration::from_secs(30)).await.unwrap();
    let puts = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(puts.len(), 1, "only the well-formed invocation is answered");
    assert_eq!(puts[0].json()["Status"], "SUCCESS");
    let log = lambda.output();
    let errors = log.matches("the runtime could not read an invocation (its deadline header?); polling again").count();
    assert_eq!(errors, 2, "{log}");
    assert!(log.contains("missing lambda-runtime-deadline-ms header"), "{log}");
}

/// A Runtime API that is gone (its port refuses connections): the function backs off and exits,
/// instead of restarting its loop at once for ever (an orphaned function once spun at half a core
/// for hours).
#[tokio::test]
async fn a_runtime_api_that_is_gone_makes_the_function_exit_not_spin() {
    let api = RuntimeApi::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = closed.local_addr().unwrap().to_string();
    drop(closed);
    let mut lambda = LambdaProcess::start(&api, &[("AWS_LAMBDA_RUNTIME_API", gone.as_str())]);
    let status = lambda.wait_exit(Duration::from_secs(30));
    let log = lambda.output();
    assert!(status.is_some_and(|s| !s.success()), "still running after 30 s: {log}");
    assert!(log.contains("times in a row; exiting"), "{log}");
    let restarts = log.matches("polling again").count();
    assert!((1..8).contains(&restarts), "{restarts} restarts, backing off: {log}");
}
