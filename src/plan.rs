//! Plan: the distinct facts a spec needs, each named once.
//!
//! Pure: reads the spec, decides nothing about the account, does no I/O.

use std::collections::BTreeSet;

use crate::spec::Spec;

/// One fact to fetch.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    /// The account and principal Preflight runs as: every check builds ARNs in this account.
    CallerIdentity,
}

impl Fact {
    /// The API call that reads the fact, as named in messages about pending work.
    pub fn call(&self) -> &'static str {
        match self {
            Fact::CallerIdentity => "sts:GetCallerIdentity",
        }
    }
}

/// The distinct facts a run needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub facts: BTreeSet<Fact>,
}

impl Plan {
    /// The facts `spec` needs; an empty spec needs none, so it calls no AWS API.
    pub fn for_spec(spec: &Spec) -> Plan {
        let mut facts = BTreeSet::new();
        if !spec.is_empty() {
            facts.insert(Fact::CallerIdentity);
        }
        Plan { facts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_spec_needs_no_facts() {
        assert!(Plan::for_spec(&Spec::default()).facts.is_empty());
    }
}
