//! Delegation: what a zone's parent publishes about it, as the DNS walk found it.
//!
//! Plain data. The walk itself (the `dns` module of the `preflight` crate) fills it in; the
//! hosted-zone check judges it.

use std::collections::BTreeSet;
use std::fmt;

/// What one server of the parent said about the apex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParentAnswer {
    /// A referral for the apex, with its NS set.
    Referral(BTreeSet<String>),
    /// The apex does not exist in the parent zone (authoritative NXDOMAIN).
    NxDomain,
    /// The apex exists in the parent zone but has no NS records there (authoritative NODATA).
    NoData,
    /// The server answered authoritatively with the apex's NS records: it serves the child zone
    /// itself, so this is the child's own set, not the delegation.
    ChildAnswer(BTreeSet<String>),
}

impl fmt::Display for ParentAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParentAnswer::Referral(ns) => write!(f, "referral to {}", name_set(ns)),
            ParentAnswer::NxDomain => f.write_str("NXDOMAIN"),
            ParentAnswer::NoData => f.write_str("no NS records (NODATA)"),
            ParentAnswer::ChildAnswer(ns) => write!(f, "authoritative NS answer {}", name_set(ns)),
        }
    }
}

/// The outcome of a delegation lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delegation {
    /// The parent zone's servers that answered all gave this answer.
    Agreed { parent: String, answer: ParentAnswer, servers: Vec<String> },
    /// The parent zone's servers gave different answers (a change is propagating).
    Disagree { parent: String, answers: Vec<(String, ParentAnswer)> },
    /// No usable answer could be had: the DNS is not reachable from here, or every server of some
    /// zone on the way was lame.
    Unreachable { why: String },
}

/// A delegation lookup's outcome, and the servers skipped on the way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub delegation: Delegation,
    /// The zones walked through, root first (`.`, `com`, ...).
    pub path: Vec<String>,
    /// Servers that timed out, refused or answered uselessly: `name (ip:port): why`.
    pub skipped: Vec<String>,
    /// Questions sent (a TCP retry counts as one more).
    pub queries: usize,
}

/// A normalised name server name: lower-case, no trailing dot.
pub fn normalise_ns(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `{a, b, c}` for messages.
pub fn name_set(ns: &BTreeSet<String>) -> String {
    let names: Vec<&str> = ns.iter().map(String::as_str).collect();
    format!("{{{}}}", names.join(", "))
}
