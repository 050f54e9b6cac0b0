//! Findings, the overall verdict and their renderings for people (terminal text) and machines (JSON).
//!
//! Owns what a run concluded and how it is shown; the CloudFormation rendering lives in `cfn`.
//! Knows nothing of AWS or of how findings were reached.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::policy::Deciding;
use crate::said::Said;
use crate::spec::OnUnknown;

/// Which check produced a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    Bootstrap,
    Parameter,
    Secret,
    Key,
    KeyPolicy,
    HostedZone,
}

impl CheckKind {
    /// The name used in reports (`hosted-zone`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bootstrap => "bootstrap",
            Self::Parameter => "parameter",
            Self::Secret => "secret",
            Self::Key => "key",
            Self::KeyPolicy => "key-policy",
            Self::HostedZone => "hosted-zone",
        }
    }
}

/// The three-valued outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Fail,
    Unknown,
    Pass,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// One conclusion: who, what, why, and the fix.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub check: CheckKind,
    /// What was checked: a parameter name, a key, a zone id.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    pub status: Status,
    /// What was found, as data: its `kind` and the values it rests on. `message` and `fix` are
    /// rendered from it.
    pub found: Said,
    /// One sentence: who, what, why.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The deciding statements or records.
    pub evidence: Vec<String>,
    /// The KMS use the finding judged, when it judged one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// The statements that decided it (policy, Sid or position, effect).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deciding: Vec<Deciding>,
    /// The fix as a change to make, when it is one a person can paste; `fix` then holds only the
    /// alternatives to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// The stack the finding's item was inferred from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The resource and property the item was inferred from; absent for explicit spec items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::stack::Source>,
}

impl Finding {
    /// A finding with its check, subject, status and what it found, its sentence and fix
    /// rendered from that; the rest is added by the `with_*` methods or set directly.
    pub fn new(check: CheckKind, subject: impl Into<String>, status: Status, found: impl Into<Said>) -> Self {
        let found = found.into();
        Finding {
            check,
            subject: subject.into(),
            principal: None,
            status,
            message: found.sentence(),
            fix: found.fix(),
            found,
            evidence: vec![],
            access: None,
            deciding: vec![],
            change: None,
            stack: None,
            source: None,
        }
    }

    /// This finding with the KMS use it judged and the statements that decided it.
    #[must_use]
    pub fn with_access(mut self, access: Access, deciding: Vec<Deciding>) -> Self {
        self.access = Some(access);
        self.deciding = deciding;
        self
    }

    /// This finding with its fix as a change; `fix` keeps only the other ways out.
    #[must_use]
    pub fn with_change(mut self, change: Option<Change>) -> Self {
        if change.is_some() {
            self.change = change;
            self.fix = self.found.alternatives();
        }
        self
    }
}

/// One KMS use: who is in `principal`; what and how here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Access {
    /// The key ARN.
    pub key: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_service: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub for_aws_resource: bool,
}

/// A fix as data.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// Add `statement` to the key policy of `key` (a key ARN). Checked before it is offered: with
    /// the statement in place, the evaluator allows what the finding asked.
    KeyPolicyStatement { key: String, statement: serde_json::Value },
}

impl Change {
    /// The key and the statement without its principals and actions: what findings that differ
    /// only in who and which action share, and so one statement can fix together.
    fn shape(&self) -> (String, String) {
        match self {
            Change::KeyPolicyStatement { key, statement } => {
                let mut rest = statement.clone();
                if let Some(m) = rest.as_object_mut() {
                    m.remove("Principal");
                    m.remove("Action");
                }
                (key.clone(), rest.to_string())
            }
        }
    }

    /// One statement covering every principal and action of `changes` (all of one shape).
    fn merge<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Option<Change> {
        let mut first: Option<(String, serde_json::Value)> = None;
        // By principal type (`AWS`, `Service`), in the order first seen.
        let mut principals: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        let mut actions: Vec<serde_json::Value> = Vec::new();
        for Change::KeyPolicyStatement { key, statement } in changes {
            let push_all = |into: &mut Vec<serde_json::Value>, v: Option<&serde_json::Value>| {
                let items = match v {
                    Some(serde_json::Value::Array(a)) => a.clone(),
                    Some(one) => vec![one.clone()],
                    None => vec![],
                };
                for i in items {
                    if !into.contains(&i) {
                        into.push(i);
                    }
                }
            };
            if let Some(serde_json::Value::Object(by_kind)) = statement.get("Principal") {
                for (kind, ids) in by_kind {
                    let at = match principals.iter().position(|(k, _)| k == kind) {
                        Some(at) => at,
                        None => {
                            principals.push((kind.clone(), Vec::new()));
                            principals.len() - 1
                        }
                    };
                    if let Some((_, into)) = principals.get_mut(at) {
                        push_all(into, Some(ids));
                    }
                }
            }
            push_all(&mut actions, statement.get("Action"));
            if first.is_none() {
                first = Some((key.clone(), statement.clone()));
            }
        }
        let (key, mut statement) = first?;
        let one_or_list =
            |mut v: Vec<serde_json::Value>| if v.len() == 1 { v.remove(0) } else { serde_json::Value::Array(v) };
        if let Some(m) = statement.as_object_mut() {
            let by_kind: serde_json::Map<String, serde_json::Value> =
                principals.into_iter().map(|(kind, ids)| (kind, one_or_list(ids))).collect();
            m.insert("Principal".into(), serde_json::Value::Object(by_kind));
            m.insert("Action".into(), one_or_list(actions));
        }
        Some(Change::KeyPolicyStatement { key, statement })
    }

    /// `add this statement to the key policy of KEY: {...}` for people.
    pub fn describe(&self) -> String {
        match self {
            Change::KeyPolicyStatement { key, statement } => match crate::arn::planned_key_name(key) {
                Some(name) => format!("add this statement to the KeyPolicy of {name} in the template: {statement}"),
                None => format!("add this statement to the key policy of {key}: {statement}"),
            },
        }
    }
}

/// What findings share to be one cause: check, subject, and the change's shape.
type CauseKey<'a> = (CheckKind, &'a str, (String, String));

/// Findings with one cause, and the one change that fixes them all. A finding with no shared
/// cause is a cause of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause<'a> {
    pub findings: Vec<&'a Finding>,
    pub change: Option<Change>,
}

/// The overall verdict of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
}

/// Counts of findings by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub failed: usize,
    pub unknown: usize,
    pub passed: usize,
}

/// Everything a run concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub on_unknown: OnUnknown,
    /// The account and region the run looked at, when known.
    pub account: Option<String>,
    pub region: Option<String>,
    /// Why Preflight could not look at all (no account identified, no region): such a run
    /// proves nothing and never passes.
    pub blocked: Option<String>,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    status: Verdict,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    /// Why Preflight could not run, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    findings: Vec<&'a Finding>,
}

impl Report {
    /// A report of these findings; findings are ordered failures first, then unknowns, then passes,
    /// each group by check and subject, so every rendering reads the same way.
    pub fn new(mut findings: Vec<Finding>, on_unknown: OnUnknown) -> Self {
        findings.sort_by(|a, b| (a.status, a.check, &a.subject).cmp(&(b.status, b.check, &b.subject)));
        Self { findings, on_unknown, account: None, region: None, blocked: None }
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.findings {
            match f.status {
                Status::Fail => c.failed += 1,
                Status::Unknown => c.unknown += 1,
                Status::Pass => c.passed += 1,
            }
        }
        c
    }

    /// Fail if Preflight could not look, if any finding fails, or is unknown under
    /// `OnUnknown: fail`; else pass.
    pub fn verdict(&self) -> Verdict {
        let c = self.counts();
        if self.blocked.is_some() || c.failed > 0 || (c.unknown > 0 && self.on_unknown == OnUnknown::Fail) {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }

    /// The findings grouped by cause, in report order: failures whose fix is the same kind of
    /// key-policy statement on the same key (differing only in principals and actions) form one
    /// cause with one merged statement; every other finding stands alone.
    pub fn causes(&self) -> Vec<Cause<'_>> {
        let mut causes: Vec<Cause<'_>> = Vec::new();
        let mut shapes: Vec<Option<CauseKey<'_>>> = Vec::new();
        for f in &self.findings {
            let shape = match (&f.change, f.status) {
                (Some(c), Status::Fail) => Some((f.check, f.subject.as_str(), c.shape())),
                _ => None,
            };
            if let Some(i) = shape.as_ref().and_then(|s| shapes.iter().position(|x| x.as_ref() == Some(s))) {
                if let Some(cause) = causes.get_mut(i) {
                    cause.findings.push(f);
                    continue;
                }
            }
            shapes.push(shape);
            causes.push(Cause { findings: vec![f], change: f.change.clone() });
        }
        for c in &mut causes {
            if c.findings.len() > 1 {
                c.change = Change::merge(c.findings.iter().filter_map(|f| f.change.as_ref()));
            }
        }
        causes
    }

    /// `2 failed, 1 unknown, 14 passed`.
    pub fn summary(&self) -> String {
        let c = self.counts();
        format!("{} failed, {} unknown, {} passed", c.failed, c.unknown, c.passed)
    }

    /// The JSON form of docs/report.md.
    pub fn to_json(&self) -> serde_json::Value {
        let json = ReportJson {
            status: self.verdict(),
            summary: self.summary(),
            account: self.account.as_deref(),
            region: self.region.as_deref(),
            error: self.blocked.as_deref(),
            findings: self.findings.iter().collect(),
        };
        serde_json::to_value(json).unwrap_or(serde_json::Value::Null)
    }

    /// Terminal text, grouped by check, aligned; `color` adds ANSI styles.
    pub fn to_text(&self, color: bool) -> String {
        let paint = |style: anstyle::Style, text: &str| {
            if color { format!("{}{text}{}", style.render(), style.render_reset()) } else { text.to_owned() }
        };
        let red = anstyle::AnsiColor::Red.on_default().bold();
        let green = anstyle::AnsiColor::Green.on_default();
        let yellow = anstyle::AnsiColor::Yellow.on_default().bold();
        let bold = anstyle::Style::new().bold();
        let dim = anstyle::Style::new().dimmed();
        let status_style = |s: Status| match s {
            Status::Fail => red,
            Status::Unknown => yellow,
            Status::Pass => green,
        };

        let mut out = String::new();
        match (&self.account, &self.region) {
            (Some(a), Some(r)) => {
                let _ = writeln!(out, "Preflight: account {a}, region {r}");
            }
            (None, Some(r)) => {
                let _ = writeln!(out, "Preflight: region {r}");
            }
            _ => {
                let _ = writeln!(out, "Preflight");
            }
        }
        let mut checks: Vec<CheckKind> = self.findings.iter().map(|f| f.check).collect();
        checks.sort();
        checks.dedup();
        for check in checks {
            let width =
                self.findings.iter().filter(|f| f.check == check).map(|f| f.subject.chars().count()).max().unwrap_or(0);
            let _ = writeln!(out, "\n{}", paint(bold, check.name()));
            for cause in self.causes().into_iter().filter(|c| c.findings.first().is_some_and(|f| f.check == check)) {
                let [f] = cause.findings.as_slice() else {
                    // Several findings, one cause: the members, then the one fix for them all.
                    let Some(first) = cause.findings.first() else { continue };
                    let label = format!("{:<7}", first.status.label());
                    let _ = writeln!(
                        out,
                        "  {}  {:<width$}  {}",
                        paint(status_style(first.status), &label),
                        first.subject,
                        paint(dim, &format!("{} findings, one cause", cause.findings.len()))
                    );
                    for f in &cause.findings {
                        let _ = writeln!(out, "           - {}", f.message);
                        for e in &f.evidence {
                            let _ = writeln!(out, "             {}", paint(dim, &format!("evidence: {e}")));
                        }
                    }
                    if let Some(change) = &cause.change {
                        let _ = writeln!(out, "           fix: {}", change.describe());
                    }
                    if let Some(alt) = first.fix.as_deref() {
                        let _ = writeln!(out, "           or: {alt}");
                    }
                    continue;
                };
                let label = format!("{:<7}", f.status.label());
                let _ = write!(out, "  {}  ", paint(status_style(f.status), &label));
                match &f.principal {
                    Some(p) => {
                        let _ = write!(out, "{:<width$}  {}", f.subject, paint(dim, p));
                    }
                    None => out.push_str(&f.subject),
                }
                out.push('\n');
                let _ = writeln!(out, "           {}", f.message);
                match (&f.change, &f.fix) {
                    (Some(change), alt) => {
                        let _ = writeln!(out, "           fix: {}", change.describe());
                        if let Some(alt) = alt {
                            let _ = writeln!(out, "           or: {alt}");
                        }
                    }
                    (None, Some(fix)) => {
                        let _ = writeln!(out, "           fix: {fix}");
                    }
                    (None, None) => {}
                }
                for e in &f.evidence {
                    let _ = writeln!(out, "           {}", paint(dim, &format!("evidence: {e}")));
                }
            }
        }
        let verdict = match self.verdict() {
            Verdict::Pass => paint(green.bold(), "PASS"),
            Verdict::Fail => paint(red, "FAIL"),
        };
        let _ = writeln!(out, "\n{verdict}: {}", self.summary());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn finding(check: CheckKind, subject: &str, status: Status) -> Finding {
        // A parameter finding whose sentence is `parameter `/a` does not exist in account 1 region r`.
        let found = crate::said::parameter::Said::ParameterMissing {
            name: subject.into(),
            account: "1".into(),
            region: "r".into(),
        };
        let mut f = Finding::new(check, subject, status, found);
        f.fix = None;
        f
    }

    fn needs(principal: &str, action: &str, via: &str) -> Finding {
        let mut f = finding(CheckKind::Bootstrap, "CDKToolkit", Status::Fail);
        f.principal = Some(principal.into());
        f.fix = Some("re-bootstrap".into());
        f.change = Some(Change::KeyPolicyStatement {
            key: "arn:aws:kms:us-east-1:111111111111:key/k".into(),
            statement: serde_json::json!({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action,
                                          "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": via}}}),
        });
        f
    }

    #[test]
    fn findings_one_statement_fixes_are_one_cause_with_one_merged_statement() {
        let s3 = "s3.us-east-1.amazonaws.com";
        let report = Report::new(
            vec![
                needs("arn:aws:iam::111111111111:role/a", "kms:GenerateDataKey", s3),
                needs("arn:aws:iam::111111111111:role/a", "kms:Decrypt", s3),
                needs("arn:aws:iam::111111111111:role/b", "kms:Decrypt", s3),
                needs("arn:aws:iam::111111111111:role/c", "kms:Decrypt", "ssm.us-east-1.amazonaws.com"),
                finding(CheckKind::Bootstrap, "CDKToolkit", Status::Pass),
            ],
            OnUnknown::Warn,
        );
        let causes = report.causes();
        assert_eq!(causes.iter().map(|c| c.findings.len()).collect::<Vec<_>>(), [3, 1, 1]);
        let Some(Change::KeyPolicyStatement { statement, .. }) = &causes[0].change else { panic!("no change") };
        assert_eq!(
            statement,
            &serde_json::json!({"Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::111111111111:role/a", "arn:aws:iam::111111111111:role/b"]},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": s3}}})
        );
        // Another condition is another cause, with its own statement; a pass is never merged.
        assert_eq!(causes[1].change, causes[1].findings[0].change);
        assert!(causes[2].change.is_none());
        let text = report.to_text(false);
        assert_eq!(text.matches("fix: add this statement").count(), 2, "{text}");
        assert!(text.contains("3 findings, one cause"), "{text}");
        assert_eq!(report.summary(), "4 failed, 0 unknown, 1 passed", "counts stay per finding");
    }

    #[test]
    fn empty_report_passes() {
        let r = Report::new(vec![], OnUnknown::Warn);
        assert_eq!(r.verdict(), Verdict::Pass);
        assert_eq!(r.summary(), "0 failed, 0 unknown, 0 passed");
        assert_eq!(
            r.to_json(),
            serde_json::json!({"status": "pass", "summary": "0 failed, 0 unknown, 0 passed", "findings": []})
        );
    }

    #[test]
    fn unknown_warns_by_default_and_fails_on_request() {
        let fs =
            vec![finding(CheckKind::Key, "alias/a", Status::Unknown), finding(CheckKind::Key, "alias/b", Status::Pass)];
        assert_eq!(Report::new(fs.clone(), OnUnknown::Warn).verdict(), Verdict::Pass);
        assert_eq!(Report::new(fs, OnUnknown::Fail).verdict(), Verdict::Fail);
    }

    #[test]
    fn failures_sort_first_and_json_has_the_design_shape() {
        let r = Report::new(
            vec![
                finding(CheckKind::Parameter, "/b", Status::Pass),
                finding(CheckKind::Parameter, "/a", Status::Fail),
                finding(CheckKind::Bootstrap, "CDKToolkit", Status::Unknown),
            ],
            OnUnknown::Warn,
        );
        let subjects: Vec<&str> = r.findings.iter().map(|f| f.subject.as_str()).collect();
        assert_eq!(subjects, ["/a", "CDKToolkit", "/b"]);
        let json = r.to_json();
        assert_eq!(json["status"], "fail");
        assert_eq!(json["summary"], "1 failed, 1 unknown, 1 passed");
        assert_eq!(
            json["findings"][0],
            serde_json::json!({"check": "parameter", "subject": "/a", "status": "fail",
                "found": {"kind": "parameter-missing", "name": "/a", "account": "1", "region": "r"},
                "message": "parameter `/a` does not exist in account 1 region r", "evidence": []})
        );
    }

    #[test]
    fn text_groups_by_check_and_aligns_subjects() {
        let mut f = finding(CheckKind::Parameter, "/app/db/password", Status::Fail);
        f.principal = Some("arn:aws:iam::111111111111:role/reader".into());
        f.fix = Some("add kms:Decrypt".into());
        let r = Report::new(vec![f, finding(CheckKind::Parameter, "/x", Status::Pass)], OnUnknown::Warn);
        let text = r.to_text(false);
        let expected = "Preflight\n\nparameter\n  FAIL     /app/db/password  arn:aws:iam::111111111111:role/reader\n           parameter `/app/db/password` does not exist in account 1 region r\n           fix: add kms:Decrypt\n  PASS     /x\n           parameter `/x` does not exist in account 1 region r\n\nFAIL: 1 failed, 0 unknown, 1 passed\n";
        assert_eq!(text, expected);
        assert!(!text.contains('\u{1b}'));
        assert!(r.to_text(true).contains('\u{1b}'));
    }
}
