//! Findings, the overall verdict and their renderings for people (terminal text) and machines (JSON).
//!
//! Owns what a run concluded and how it is shown; the CloudFormation rendering lives in `cfn`.
//! Knows nothing of AWS or of how findings were reached.

use std::fmt::Write as _;

use serde::Serialize;

use crate::spec::OnUnknown;

/// Which check produced a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    Bootstrap,
    Parameter,
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
    /// One sentence: who, what, why.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The deciding statements or records.
    pub evidence: Vec<String>,
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
}

#[derive(Serialize)]
struct ReportJson<'a> {
    status: Verdict,
    summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    findings: Vec<&'a Finding>,
}

impl Report {
    /// A report of these findings; findings are ordered failures first, then unknowns, then passes,
    /// each group by check and subject, so every rendering reads the same way.
    pub fn new(mut findings: Vec<Finding>, on_unknown: OnUnknown) -> Self {
        findings.sort_by(|a, b| (a.status, a.check, &a.subject).cmp(&(b.status, b.check, &b.subject)));
        Self { findings, on_unknown, account: None, region: None }
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

    /// Fail if any finding fails, or is unknown under `OnUnknown: fail`; else pass.
    pub fn verdict(&self) -> Verdict {
        let c = self.counts();
        if c.failed > 0 || (c.unknown > 0 && self.on_unknown == OnUnknown::Fail) {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
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
            let group: Vec<&Finding> = self.findings.iter().filter(|f| f.check == check).collect();
            let width = group.iter().map(|f| f.subject.chars().count()).max().unwrap_or(0);
            let _ = writeln!(out, "\n{}", paint(bold, check.name()));
            for f in group {
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
                if let Some(fix) = &f.fix {
                    let _ = writeln!(out, "           fix: {fix}");
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
        Finding {
            check,
            subject: subject.into(),
            principal: None,
            status,
            message: format!("{subject} is {status:?}"),
            fix: None,
            evidence: vec![],
        }
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
            serde_json::json!({"check": "parameter", "subject": "/a", "status": "fail", "message": "/a is Fail", "evidence": []})
        );
    }

    #[test]
    fn text_groups_by_check_and_aligns_subjects() {
        let mut f = finding(CheckKind::Parameter, "/app/db/password", Status::Fail);
        f.principal = Some("arn:aws:iam::111111111111:role/reader".into());
        f.fix = Some("add kms:Decrypt".into());
        let r = Report::new(vec![f, finding(CheckKind::Parameter, "/x", Status::Pass)], OnUnknown::Warn);
        let text = r.to_text(false);
        let expected = "Preflight\n\nparameter\n  FAIL     /app/db/password  arn:aws:iam::111111111111:role/reader\n           /app/db/password is Fail\n           fix: add kms:Decrypt\n  PASS     /x\n           /x is Pass\n\nFAIL: 1 failed, 0 unknown, 1 passed\n";
        assert_eq!(text, expected);
        assert!(!text.contains('\u{1b}'));
        assert!(r.to_text(true).contains('\u{1b}'));
    }
}
