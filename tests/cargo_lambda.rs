//! The local loop of a Lambda developer, as README.md ("Local invokes") gives it: the real
//! cargo-lambda (installed into .venv by the test command) runs `preflight-lambda` under its
//! emulator (`cargo lambda watch`, which sends a relative deadline), `cargo lambda invoke` sends
//! `events/create.json`, and `scripts/response-listener.py` stands in for CloudFormation's
//! ResponseURL; the function reads the local AWS (moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A process group killed on drop (cargo lambda watch runs `cargo run`, which runs the function).
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SIGKILL: cargo lambda watch does not stop on SIGTERM.
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// PATH with the virtual environment's tools (cargo-lambda, zig) first, as after `source .venv/bin/activate`.
fn path() -> String {
    let venv = support::venv_tool("cargo-lambda").parent().unwrap().display().to_string();
    format!("{venv}:{}", std::env::var("PATH").unwrap_or_default())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn cargo_lambda_watch_and_invoke_run_the_checks_and_answer_the_listener() {
    let moto = support::moto();
    // The listener, on the port the files in events/ name.
    let mut listener = Group(
        Command::new(support::python())
            .args([support::repo().join("scripts/response-listener.py").to_str().unwrap(), "--once"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    let mut said = String::new();
    BufReader::new(listener.0.stderr.as_mut().unwrap()).read_line(&mut said).unwrap();
    assert_eq!(said.trim(), "listening on http://127.0.0.1:8787/response");

    // `cargo lambda watch --env-vars PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL=1,AWS_REGION=us-east-1`,
    // with the local AWS as the endpoint and its credentials.
    let port = free_port().to_string();
    let env_vars = format!(
        "PREFLIGHT_ALLOW_LOOPBACK_RESPONSE_URL=1,AWS_REGION=us-east-1,AWS_ENDPOINT_URL={moto},AWS_ACCESS_KEY_ID=testing,AWS_SECRET_ACCESS_KEY=testing"
    );
    let log = std::env::temp_dir().join(format!("preflight-cargo-lambda-{}.log", std::process::id()));
    let watch = Group(
        Command::new("cargo")
            // --ignore-changes: no reload when a file of the tree changes while the test runs.
            .args(["lambda", "watch", "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", &port])
            .args(["--env-vars", &env_vars])
            .current_dir(support::repo())
            .env("PATH", path())
            .env_remove("AWS_ENDPOINT_URL")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .process_group(0)
            .spawn()
            .unwrap(),
    );

    // `cargo lambda invoke preflight-lambda --data-file events/create.json`, once the emulator listens.
    // The emulator builds the function first (`cargo run`); scripts/test.sh has built it already.
    let until = Instant::now() + Duration::from_secs(600);
    let answer = loop {
        let out = Command::new("cargo")
            .args(["lambda", "invoke", "preflight-lambda", "--invoke-address", "127.0.0.1", "--invoke-port", &port])
            .args(["--data-file", "events/create.json"])
            .current_dir(support::repo())
            .env("PATH", path())
            .output()
            .unwrap();
        if out.status.success() {
            break serde_json::from_slice::<Value>(&out.stdout).unwrap();
        }
        assert!(
            Instant::now() < until,
            "cargo lambda invoke kept failing: {}\nwatch: {}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };

    // The listener prints the PUT body and exits (--once).
    let stdout = listener.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut put = String::new();
        let _ = BufReader::new(stdout).read_line(&mut put);
        let _ = tx.send(put);
    });
    let put = rx.recv_timeout(Duration::from_secs(60)).expect("the listener received no PUT within 60 s");
    let put: Value = serde_json::from_str(put.trim()).unwrap();
    assert_eq!(put, answer, "the invoke's result is the body PUT to the ResponseURL");
    assert_eq!(put["Status"], "FAILED", "{put}");
    let reason = put["Reason"].as_str().unwrap();
    // The checks ran against the local account (not "ran out of time after 0.0s").
    assert!(reason.starts_with("Preflight failed: 2 failed, 0 unknown, 0 passed"), "{reason}");
    assert!(reason.contains("parameter `/app/db/password` does not exist in account 123456789012"), "{reason}");
    // The relative deadline was noticed and replaced (the warning may reach the file a little later).
    let warned = |text: &str| text.contains("is not an epoch time (a local emulator?)");
    let until = Instant::now() + Duration::from_secs(10);
    // The function logs to standard output, as in Lambda.
    let mut output = std::fs::read_to_string(&log).unwrap();
    while !warned(&output) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        output = std::fs::read_to_string(&log).unwrap();
    }
    assert!(warned(&output), "{output}");
    drop(watch);
}
