//! `preflight simulate`: one scenario, a JSON array or JSON Lines in; one result per scenario out,
//! in order; bad scenarios named by position, exit 2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn simulate(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .arg("simulate")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Every scenario of the corpus that decides, with its expected decision (the few that KMS would
/// reject are the corpus test's own).
fn corpus() -> Vec<(Value, String)> {
    support::scenario_cases()
        .into_iter()
        .filter(|c| c.get("rejects").is_none())
        .map(|c| (c["scenario"].clone(), c["expect"]["decision"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn json_lines_in_gives_one_result_line_per_scenario_in_order() {
    let corpus = corpus();
    let input: String = corpus.iter().map(|(s, _)| format!("{s}\n")).collect();
    let out = simulate(&["--scenario", "-", "--format", "json"], &input);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), corpus.len());
    for (i, (line, (_, want))) in lines.iter().zip(&corpus).enumerate() {
        assert_eq!(line["decision"], want.as_str(), "scenario {}", i + 1);
        for key in ["decision", "error", "explanation", "unknownReasons"] {
            assert!(line.get(key).is_some(), "output lacks {key}: {line}");
        }
    }
}

#[test]
fn a_json_array_and_a_single_object_are_accepted() {
    let corpus = corpus();
    let array = Value::Array(corpus.iter().take(5).map(|(s, _)| s.clone()).collect());
    let out = simulate(&["--scenario", "-", "--format", "json"], &array.to_string());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let decisions: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["decision"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = corpus.iter().take(5).map(|(_, d)| d.clone()).collect();
    assert_eq!(decisions, want);
    let single = serde_json::to_string_pretty(&corpus[0].0).unwrap();
    let out = simulate(&["--scenario", "-", "--format", "json"], &single);
    assert_eq!(out.status.code(), Some(0));
    let line: Value = serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    assert_eq!(line["decision"], corpus[0].1.as_str());
}

#[test]
fn text_output_is_a_sentence_a_user_can_act_on() {
    let scenario = json!({
        "request": {"principal": "arn:aws:sts::111111111111:assumed-role/prod-api/lambda", "action": "kms:Encrypt",
                    "resource": "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
        "keyPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "KeyUsers", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111111111111:role/test-role"}, "Action": "kms:*", "Resource": "*"}]},
        "identityPolicies": [{"Version": "2012-10-17", "Statement": [{"Sid": "PowerUser", "Effect": "Allow", "Action": "*", "Resource": "*"}]}]
    });
    let out = simulate(&["--scenario", "-"], &scenario.to_string());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "ImplicitDeny: `arn:aws:sts::111111111111:assumed-role/prod-api/lambda` may not call kms:Encrypt on key `arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab`: key policy: names neither `arn:aws:sts::111111111111:assumed-role/prod-api/lambda` nor its account (no `arn:aws:iam::111111111111:root` statement delegating to IAM), so identity policy 1 statement `PowerUser` (Allow) cannot grant kms:Encrypt; fix: add a key-policy statement allowing kms:Encrypt for the principal, or one for the account root to delegate to IAM\n"
    );
}

#[test]
fn bad_scenarios_are_named_by_position_and_exit_2_while_the_rest_run() {
    let good = corpus()[0].0.clone();
    let input = format!(
        "{good}\n{}\n{}\n{good}\n",
        json!({"request": {"principal": "nobody"}}),
        json!({"request": {"principal": "arn:aws:iam::111111111111:role/a", "action": "kms:Decrypt", "resource": "arn:aws:kms:us-east-1:111111111111:key/k"}, "keyPolicy": {"Statement": [{"Effect": "Maybe"}]}})
    );
    let out = simulate(&["--scenario", "-", "--format", "json"], &input);
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].get("decision").is_some() && lines[3].get("decision").is_some());
    assert!(
        lines[1]["invalid"].as_str().unwrap().starts_with("scenario 2: scenario: missing field `action`"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2]["invalid"].as_str().unwrap().contains("key policy: Statement[0].Effect: expected Allow or Deny"),
        "{}",
        lines[2]
    );
    let out = simulate(&["--scenario", "-"], "{not json");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}
