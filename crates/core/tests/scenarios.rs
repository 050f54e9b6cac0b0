//! The evaluator's scenario corpus (`tests/scenarios/*.json`): each case cites its source and
//! asserts the decision, the error the call would still hit, and exactly which statements decided.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod corpus;

use std::collections::BTreeSet;

use preflight_core::simulate::Scenario;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    source: String,
    scenario: Value,
    /// Words of the error a scenario KMS would reject must fail to parse with (then `expect` is
    /// empty).
    #[serde(default)]
    rejects: Option<String>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expect {
    #[serde(default)]
    decision: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// `policy:Sid`, or `policy:#N` for a statement without Sid (N from 1), or `grant:ID`.
    #[serde(default)]
    deciding: Vec<String>,
    #[serde(default)]
    unknown_mentions: Vec<String>,
}

fn cases() -> Vec<(String, Case)> {
    let dir = corpus::dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let cases: Vec<Case> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let file = f.file_name().unwrap().to_string_lossy().into_owned();
        all.extend(cases.into_iter().map(|c| (file.clone(), c)));
    }
    all
}

fn check(case: &Case) -> Result<(), String> {
    let parsed = Scenario::from_value(case.scenario.clone());
    if let Some(words) = &case.rejects {
        if case.expect.decision.is_some() || !case.expect.deciding.is_empty() {
            return Err("a rejected scenario expects no decision".into());
        }
        return match parsed {
            Ok(_) => Err(format!("parses, but must be rejected with `{words}`")),
            Err(e) if e.to_string().contains(words.as_str()) => Ok(()),
            Err(e) => Err(format!("rejected with `{e}`, which does not say `{words}`")),
        };
    }
    let Some(decision) = &case.expect.decision else { return Err("expect.decision is missing".into()) };
    let scenario = parsed.map_err(|e| format!("does not parse: {e}"))?;
    let out = scenario.decide();
    let json = serde_json::to_value(&out).unwrap();
    let mut problems = Vec::new();
    if json["decision"] != decision.as_str() {
        problems.push(format!("decision {} (expected {decision})", json["decision"]));
    }
    let error = json["error"].as_str().map(str::to_owned);
    if error != case.expect.error {
        problems.push(format!("error {error:?} (expected {:?})", case.expect.error));
    }
    let got: BTreeSet<String> = out
        .explanation
        .iter()
        .map(|d| match &d.sid {
            Some(sid) => format!("{}:{sid}", d.policy),
            None => format!("{}:#{}", d.policy, d.index + 1),
        })
        .collect();
    let want: BTreeSet<String> = case.expect.deciding.iter().cloned().collect();
    if got != want {
        problems.push(format!("deciding {got:?} (expected {want:?})"));
    }
    let reasons = out.unknown_reasons.join(" | ").to_ascii_lowercase();
    for m in &case.expect.unknown_mentions {
        if !reasons.contains(&m.to_ascii_lowercase()) {
            problems.push(format!("unknown reasons {reasons:?} do not mention {m:?}"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{}; {}", problems.join("; "), scenario.explain(&out))) }
}

#[test]
fn every_scenario_decides_as_its_source_says() {
    let cases = cases();
    assert_eq!(cases.len(), 231, "the corpus's size changed: update this count with the cases added");
    let mut failures = Vec::new();
    for (file, case) in &cases {
        assert!(!case.source.trim().is_empty(), "{file}: `{}` cites no source", case.name);
        if let Err(e) = check(case) {
            failures.push(format!("{file}: {}: {e}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} scenarios failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn scenario_names_are_unique() {
    let mut seen = BTreeSet::new();
    for (file, case) in cases() {
        assert!(seen.insert(case.name.clone()), "{file}: duplicate scenario name `{}`", case.name);
    }
}

#[test]
fn every_decision_and_error_kind_is_covered() {
    let cases = cases();
    let count = |d: &str| cases.iter().filter(|(_, c)| c.expect.decision.as_deref() == Some(d)).count();
    let rejected = cases.iter().filter(|(_, c)| c.rejects.is_some()).count();
    assert_eq!(
        [count("Allow"), count("ImplicitDeny"), count("ExplicitDeny"), count("Unknown"), rejected],
        [124, 82, 12, 10, 3],
        "decisions per kind: Allow, ImplicitDeny, ExplicitDeny, Unknown, rejected"
    );
    for e in ["DisabledException", "KMSInvalidStateException", "UnsupportedOperation"] {
        assert!(cases.iter().any(|(_, c)| c.expect.error.as_deref() == Some(e)), "no scenario expects {e}");
    }
    for story in 1..=6 {
        if story == 3 {
            continue; // the hosted-zone story has no KMS side
        }
        let tag = format!("story {story}");
        assert!(cases.iter().any(|(_, c)| c.source.contains(&tag) || c.name.contains(&tag)), "no scenario for {tag}");
    }
}
