//! The `preflight` command line: exit status, errors naming the property path, the SDK's standard
//! configuration (`AWS_ENDPOINT_URL`, `--endpoint-url`, `--region`) against moto, and the reports
//! compared whole with reviewed golden files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn preflight(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    cmd.envs([
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/preflight-test-config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/preflight-test-credentials"),
    ]);
    cmd.envs(env.iter().copied()).args(args).current_dir(support::repo()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Compares `actual` with a golden file; `PREFLIGHT_BLESS=1` rewrites it (review the diff).
fn golden(name: &str, actual: &str) {
    let path = support::repo().join("tests/golden").join(name);
    if std::env::var_os("PREFLIGHT_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(actual, expected, "{} differs (PREFLIGHT_BLESS=1 to accept after review)", Path::new(name).display());
}

#[test]
fn help_explains_the_commands_and_exit_status() {
    let out = preflight(&["--help"], &[]);
    assert!(out.status.success());
    let top = text(&out.stdout);
    assert!(top.contains("Run the checks of a spec file") && top.contains("Decide KMS scenarios offline"), "{top}");
    let out = preflight(&["check", "--help"], &[]);
    let help = text(&out.stdout);
    for words in
        ["--spec <FILE>", "--format <FORMAT>", "--region <REGION>", "--endpoint-url <URL>", "0 when every check passes"]
    {
        assert!(help.contains(words), "{words} missing from:\n{help}");
    }
}

#[test]
fn an_empty_spec_exits_2_saying_there_is_nothing_to_check() {
    let out = preflight(&["check", "--spec", "tests/specs/empty.json", "--endpoint-url", "http://127.0.0.1:9"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no report that could read as a pass");
    assert_eq!(
        text(&out.stderr),
        "error: the spec `tests/specs/empty.json` has nothing to check: give Bootstrap, Parameters, Secrets, Keys, KeyPolicies or HostedZone, or check a stack with --template or --cdk-out\n"
    );
}

#[test]
fn an_endless_spec_or_template_is_refused_without_filling_memory() {
    let out = preflight(&["check", "--spec", "/dev/zero"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: spec file `/dev/zero` is larger than 4194304 bytes; a spec is far smaller (is it the right file?)\n"
    );
    let out = preflight(&["infer", "--template", "/dev/zero"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "error: template `/dev/zero` is larger than 1048576 bytes\n");
}

#[test]
fn an_invalid_spec_exits_2_naming_every_path() {
    let out = preflight(&["check", "--spec", "tests/specs/invalid.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    golden("invalid.stderr", &text(&out.stderr));
}

#[test]
fn a_missing_or_unparsable_spec_exits_2() {
    let out = preflight(&["check", "--spec", "tests/specs/nope.yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("error: cannot read spec file `tests/specs/nope.yaml`: "));
    let out = preflight(&["check", "--spec", "README.md"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = preflight(&["check", "--spec", "Cargo.toml", "--format", "xml"], &[]);
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad --format");
    assert!(text(&out.stderr).contains("invalid value 'xml' for '--format <FORMAT>'"));
}

#[test]
fn a_bad_endpoint_or_missing_region_exits_2() {
    let out = preflight(&["check", "--spec", "tests/specs/example.yaml", "--endpoint-url", "not a url"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "error: --endpoint-url: is not a URL (relative URL without a base): `not a url`\n");
    for (var, value, why) in [
        ("AWS_ENDPOINT_URL", "", "is empty"),
        ("AWS_ENDPOINT_URL_KMS", "  ", "is empty"),
        ("AWS_ENDPOINT_URL_STS", "ftp://example.com", "is not an http(s) URL with a host: `ftp://example.com`"),
    ] {
        // An empty AWS_ENDPOINT_URL made the SDK panic at the first call ("URL was unset").
        let out = preflight(&["check", "--spec", "tests/specs/example.yaml", "--region", "us-east-1"], &[(var, value)]);
        assert_eq!(out.status.code(), Some(2), "{var}={value:?}: {}", text(&out.stderr));
        assert_eq!(
            text(&out.stderr),
            format!("error: the environment variable {var} {why}; set it to an http(s) URL or unset it\n")
        );
    }
    let out = preflight(&["check", "--spec", "tests/specs/example.yaml", "--endpoint-url", support::moto()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr), "error: no AWS region: pass --region or set AWS_REGION\n");
}

#[test]
fn the_text_report_against_moto_matches_the_golden_file() {
    let out = preflight(
        &["check", "--spec", "tests/specs/example.yaml", "--region", "us-east-1", "--endpoint-url", support::moto()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "nothing of the spec exists in an empty account: {}", text(&out.stderr));
    golden("example.txt", &support::normalise_key_ids(&text(&out.stdout)));
}

#[test]
fn aws_endpoint_url_and_aws_region_from_the_environment_are_honoured() {
    let out = preflight(
        &["check", "--spec", "tests/specs/example.yaml", "--format", "json"],
        &[("AWS_ENDPOINT_URL", support::moto()), ("AWS_REGION", "ap-northeast-1")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["account"], "123456789012");
    assert_eq!(report["region"], "ap-northeast-1");
    golden("example.json", &support::normalise_key_ids(&text(&out.stdout)));
}

#[test]
fn on_unknown_fail_exits_1() {
    let dir = std::env::temp_dir().join(format!("preflight-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.json");
    // A zone whose delegation cannot be known: no DNS (nothing listens on the roots' port) and no
    // registration or parent zone in the account.
    let zone = support::route53(support::moto(), &serde_json::json!([{"zone": "cli-unknown.com"}]));
    let spec_text = serde_json::json!({"HostedZone": {"ZoneId": zone[0]["id"]},
                                       "Options": {"OnUnknown": "fail", "DnsRootServers": ["127.0.0.1:9"]}});
    std::fs::write(&spec, spec_text.to_string()).unwrap();
    let out = preflight(
        &["check", "--spec", spec.to_str().unwrap(), "--region", "us-east-1", "--endpoint-url", support::moto()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).ends_with("FAIL: 0 failed, 1 unknown, 0 passed\n"), "{}", text(&out.stdout));
}

#[test]
fn unreachable_aws_is_could_not_run_never_a_pass() {
    let out = preflight(
        &["check", "--spec", "tests/specs/example.yaml", "--region", "us-east-1", "--format", "json"],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9"), ("AWS_MAX_ATTEMPTS", "1")],
    );
    assert_eq!(out.status.code(), Some(2), "could not run: {}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no report that could read as a pass: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.starts_with("error: Preflight could not run: it could not identify the account (sts:GetCallerIdentity): `sts:GetCallerIdentity` could not reach AWS"), "{err}");
    assert!(err.contains("give it credentials") && err.contains("--region or AWS_REGION"), "{err}");
}

/// A metadata endpoint that accepts connections and never answers, as a firewalled or absent
/// IMDS can: the CLI without credentials asks it once (a read timeout of 1 s), however many reads
/// the run starts at once, then says it could not run. The elapsed time is a figure of
/// `scripts/bench.sh`, not asserted here.
#[test]
fn a_metadata_endpoint_that_never_answers_is_asked_once_then_could_not_run() {
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", hole.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in hole.incoming().flatten() {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(c);
        }
    });
    let out = preflight(
        &["check", "--spec", "tests/specs/example.yaml", "--region", "us-east-1"],
        &[
            ("AWS_ACCESS_KEY_ID", ""),
            ("AWS_SECRET_ACCESS_KEY", ""),
            ("AWS_EC2_METADATA_DISABLED", "false"),
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint.as_str()),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("could not communicate with IMDS") && err.contains("timeout"), "{err}");
    assert!(err.contains("give it credentials"), "{err}");
    // One token request: a failed load answers every read waiting on it (7 loads before).
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1, "{err}");
}

#[test]
fn validate_prints_the_spec_as_understood_and_names_every_problem() {
    let out = preflight(&["validate", "--spec", "tests/specs/example.yaml"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(spec["Bootstrap"]["ToolkitStackName"], "CDKToolkit", "defaults are filled in");
    assert_eq!(spec["Keys"][0]["ForAwsResources"], true);
    assert_eq!(spec["HostedZone"]["RecordNames"], serde_json::json!(["_x1.example.com"]));
    // CloudFormation properties: every scalar a string, ServiceToken and ServiceTimeout allowed.
    let dir = std::env::temp_dir().join(format!("preflight-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let props = dir.join("properties.json");
    std::fs::write(
        &props,
        r#"{"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:p", "ServiceTimeout": "180",
            "Keys": [{"Key": "alias/k", "Principals": ["arn:aws:iam::123456789012:role/r"], "ForAwsResources": "true"}], "Options": {"Nonce": "1732300000000"}}"#,
    )
    .unwrap();
    let out = preflight(&["validate", "--properties", "--spec", props.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let spec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(spec["Options"]["Nonce"], "1732300000000");
    // The same file is not a spec file: ServiceToken belongs to CloudFormation properties only.
    let out = preflight(&["validate", "--spec", props.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown key `ServiceToken`"), "{}", text(&out.stderr));
}

/// An empty spec reads the same in either format; a key given twice is an error, not the last one
/// silently; a spec with hundreds of problems lists the first twenty, each cut to an excerpt.
#[test]
fn empty_duplicate_and_flooding_specs_are_refused_briefly() {
    let dir = std::env::temp_dir().join(format!("preflight-specs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    for (name, body) in [("empty.yaml", ""), ("comments.yaml", "# nothing yet\n"), ("empty.json", "  \n")] {
        let path = write(name, body);
        let out = preflight(&["validate", "--spec", &path], &[]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert_eq!(
            text(&out.stderr),
            format!(
                "error: spec file `{path}` is empty: give at least one of Bootstrap, Parameters, Secrets, Keys, KeyPolicies or HostedZone (docs/spec.md)\n"
            )
        );
    }
    let yaml = write("twice.yaml", "Keys:\n  - Key: alias/a\n    Principals: []\n    Key: alias/b\n");
    let out = preflight(&["validate", "--spec", &yaml], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: spec file `{yaml}` is not valid YAML: `Key` is given twice in Keys[0] (line 2 column 5, and line 4 column 5); keep one\n"
        )
    );
    let readers: Vec<String> = (0..500).map(|i| format!("{}{i}", "not-an-arn".repeat(100))).collect();
    let flood =
        write("flood.json", &serde_json::json!({"Parameters": [{"Name": "/p", "Readers": readers}]}).to_string());
    let out = preflight(&["validate", "--spec", &flood], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1 + 20 + 1, "{err}");
    assert!(err.ends_with("  and 480 more problems\n"), "{err}");
    assert!(err.lines().all(|l| l.chars().count() < 450), "each line an excerpt");
    assert!(err.len() < 64 * 1024);
}
