//! What each finding found, as data, and the one place its English is written.
//!
//! A check decides; it never writes a sentence. It returns a [`Said`]: the kind of conclusion
//! and the values it rests on (who, which key, which action, which read failed). This module
//! renders that into the finding's sentence and its fix, so the wording of every report lives
//! here, one file per check, and tests assert on the data while golden files keep the wording.
//!
//! In JSON a `Said` is an object with a `kind` (`parameter-missing`, `key-use-denied`, ...) and
//! its values: what a program acting on a report matches on.

pub mod bootstrap;
pub mod hosted_zone;
pub mod key;
pub mod key_policy;
pub mod parameter;
pub mod run;
pub mod secret;
pub mod stack;

use serde::Serialize;

use crate::facts::FetchError;

/// What a finding found, by check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Said {
    Bootstrap(bootstrap::Said),
    Parameter(parameter::Said),
    Secret(secret::Said),
    Key(key::Said),
    KeyPolicy(key_policy::Said),
    HostedZone(hosted_zone::Said),
    /// About the run as a whole: what could not be checked at all, and why.
    Run(run::Said),
    /// What the template showed: an inferred item that cannot be judged, or a failure the
    /// template alone proves.
    Stack(stack::Said),
}

impl Said {
    /// The finding's sentence: who, what, why.
    pub fn sentence(&self) -> String {
        match self {
            Said::Bootstrap(s) => s.sentence(),
            Said::Parameter(s) => s.sentence(),
            Said::Secret(s) => s.sentence(),
            Said::Key(s) => s.sentence(),
            Said::KeyPolicy(s) => s.sentence(),
            Said::HostedZone(s) => s.sentence(),
            Said::Run(s) => s.sentence(),
            Said::Stack(s) => s.sentence(),
        }
    }

    /// The fix in words, when there is one; with a pasteable change, the text of every way out.
    pub fn fix(&self) -> Option<String> {
        match self {
            Said::Bootstrap(s) => s.fix(),
            Said::Parameter(s) => s.fix(),
            Said::Secret(s) => s.fix(),
            Said::Key(s) => s.fix(),
            Said::KeyPolicy(s) => s.fix(),
            Said::HostedZone(s) => s.fix(),
            Said::Run(s) => s.fix(),
            Said::Stack(s) => s.fix(),
        }
    }

    /// When the finding carries its fix as a change to paste, what the text still says: the ways
    /// out other than that change, and what else must change.
    pub fn alternatives(&self) -> Option<String> {
        match self {
            Said::Bootstrap(s) => s.alternatives(),
            Said::Parameter(s) => s.alternatives(),
            Said::Secret(s) => s.alternatives(),
            Said::Key(s) => s.alternatives(),
            _ => self.fix(),
        }
    }
}

macro_rules! said_from {
    ($($check:ident => $variant:ident),*) => {$(
        impl From<$check::Said> for Said {
            fn from(s: $check::Said) -> Self {
                Said::$variant(s)
            }
        }
    )*};
}
said_from!(bootstrap => Bootstrap, parameter => Parameter, secret => Secret, key => Key, key_policy => KeyPolicy,
    hosted_zone => HostedZone, run => Run, stack => Stack);

/// A read that failed, as finding data: the error in words and, when Preflight's own role was
/// denied, the permission it lacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unread {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_action: Option<String>,
}

impl From<&FetchError> for Unread {
    fn from(e: &FetchError) -> Self {
        let denied_action = match e {
            FetchError::AccessDenied { action, .. } => Some((*action).to_owned()),
            _ => None,
        };
        Unread { error: e.to_string(), denied_action }
    }
}

impl Unread {
    /// The fix for a read Preflight's own role was denied.
    pub fn fix(&self) -> Option<String> {
        self.denied_action.as_ref().map(|a| format!("allow {a} in Preflight's role (see template.yaml)"))
    }
}

/// One thing that stops a reader (or leaves its reading unknown): a clause of the reader's
/// sentence, and its fix when it has one.
pub(crate) trait Clause {
    fn sentence(&self) -> String;
    fn fix(&self) -> Option<String>;
}

/// The problems' clauses, `; `-separated.
pub(crate) fn clauses<P: Clause>(problems: &[P]) -> String {
    problems.iter().map(Clause::sentence).collect::<Vec<_>>().join("; ")
}

/// The fixes of `problems`, `; `-separated, when there is any.
pub(crate) fn fixes<'a, P: Clause + 'a>(problems: impl Iterator<Item = &'a P>) -> Option<String> {
    let fixes: Vec<String> = problems.filter_map(Clause::fix).collect();
    (!fixes.is_empty()).then(|| fixes.join("; "))
}

/// With a key-policy statement as the finding's change: the fixes of the other problems, then
/// `way_out`, the other ways out of the key's refusal.
pub(crate) fn besides_the_statement<'a, P: Clause + 'a>(
    others: impl Iterator<Item = &'a P>,
    way_out: String,
) -> String {
    match fixes(others) {
        Some(fixes) => format!("{fixes}; {way_out}"),
        None => way_out,
    }
}

/// `a`, `` `a`, `b` ``: names in backticks, comma-separated.
pub(crate) fn ticked(names: &[String]) -> String {
    names.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// ` --qualifier q` for a qualifier other than CDK's default, else nothing.
pub(crate) fn qualifier_flag(q: &str) -> String {
    if q == "hnb659fds" { String::new() } else { format!(" --qualifier {q}") }
}

/// Why a principal's own IAM policies are not known, or that its role does not exist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum PoliciesUnknown {
    /// The principal lives in another account, whose IAM Preflight cannot read.
    OtherAccount {
        principal: String,
        account: String,
        ours: String,
    },
    /// IAM users' policies are not read.
    User {
        principal: String,
    },
    /// The role does not exist.
    RoleMissing {
        role: String,
        account: String,
    },
    /// The role was looked up and the read failed.
    RoleUnread {
        role: String,
        unread: Unread,
    },
    /// The role was never looked up.
    RoleNotRead {
        role: String,
    },
    /// One of its policies (`inline policy `x` of role r`, `managed policy `p``) failed to read.
    PolicyUnread {
        policy: String,
        unread: Unread,
    },
    /// One of its policies is not a policy Preflight can evaluate.
    PolicyInvalid {
        error: String,
    },
    BoundaryUnread {
        boundary: String,
        unread: Unread,
    },
    BoundaryInvalid {
        boundary: String,
        error: String,
    },
}

impl std::fmt::Display for PoliciesUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OtherAccount { principal, account, ours } => write!(
                f,
                "the IAM policies of `{principal}` live in account {account} and cannot be read from account {ours}"
            ),
            Self::User { principal } => {
                write!(f, "the IAM policies of user `{principal}` are not read by this version of Preflight")
            }
            Self::RoleMissing { role, account } => write!(f, "role `{role}` does not exist in account {account}"),
            Self::RoleUnread { role, unread } => {
                write!(f, "the policies of role `{role}` could not be read: {}", unread.error)
            }
            Self::RoleNotRead { role } => write!(f, "the policies of role `{role}` were not read"),
            Self::PolicyUnread { policy, unread } => write!(f, "{policy} could not be read: {}", unread.error),
            Self::PolicyInvalid { error } => f.write_str(error),
            Self::BoundaryUnread { boundary, unread } => {
                write!(f, "the permissions boundary `{boundary}` could not be read: {}", unread.error)
            }
            Self::BoundaryInvalid { boundary, error } => {
                write!(f, "the permissions boundary `{boundary}` could not be parsed: {error}")
            }
        }
    }
}

/// Why the evaluator did not allow something: the statements that denied it explicitly, else the
/// statements or permissions missing, or, when undecided, what it depends on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotAllowed {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied_by: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl From<&crate::kms::Outcome> for NotAllowed {
    fn from(o: &crate::kms::Outcome) -> Self {
        use crate::kms::Decision;
        match o.decision {
            Decision::ExplicitDeny => {
                NotAllowed { denied_by: o.explanation.iter().map(ToString::to_string).collect(), reasons: vec![] }
            }
            Decision::Unknown => NotAllowed { denied_by: vec![], reasons: o.unknown_reasons.clone() },
            _ => NotAllowed { denied_by: vec![], reasons: o.missing.clone() },
        }
    }
}

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.denied_by.is_empty() {
            f.write_str(&self.reasons.join("; "))
        } else {
            write!(f, "denied explicitly by {}", self.denied_by.join(", "))
        }
    }
}

/// A key as findings name it: the reference the user gave (an alias, id or ARN), its key id, and
/// whether AWS manages it. Written `` `alias/app-data` (customer managed key 1234...) ``.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    pub reference: String,
    pub key_id: String,
    pub aws_managed: bool,
}

impl std::fmt::Display for KeyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let manager = if self.aws_managed { "AWS managed key" } else { "customer managed key" };
        if self.reference == self.key_id || self.reference.ends_with(&format!(":key/{}", self.key_id)) {
            write!(f, "`{}` ({manager})", self.key_id)
        } else {
            write!(f, "`{}` ({manager} {})", self.reference, self.key_id)
        }
    }
}
