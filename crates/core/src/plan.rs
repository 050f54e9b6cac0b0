//! Plan: the distinct facts a spec needs, each named once.
//!
//! Pure: reads the spec, decides nothing about the account, does no I/O.

use std::collections::BTreeSet;

use crate::arn::PrincipalArn;
use crate::spec::{DnsServer, HostedZone, Spec};

/// The distinct facts a run needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The account and principal Preflight runs as: every check builds ARNs in this account.
    pub identity: bool,
    /// Key references as given (id, ARN, alias): DescribeKey, then the key policy and grants.
    pub keys: BTreeSet<String>,
    /// SSM parameter names: DescribeParameters, then their keys.
    pub parameters: BTreeSet<String>,
    /// Secrets Manager secret ids (names or ARNs): DescribeSecret and GetResourcePolicy, then
    /// their keys.
    pub secrets: BTreeSet<String>,
    /// Principals whose identity policies are needed (read when they are roles of this account).
    pub principals: BTreeSet<PrincipalArn>,
    /// The CDK bootstrap environment: (qualifier, toolkit stack name). Its roles are named after
    /// the account and region, so they are planned once the account is known.
    pub bootstrap: Option<(String, String)>,
    /// The hosted zone: GetHostedZone, the zones of the same name, the delegation (DNS, then the
    /// API when DNS cannot be reached) and the NS cuts above the record names.
    pub hosted_zones: Vec<HostedZone>,
    /// Where the delegation walk starts (empty: the IANA roots).
    pub dns_roots: Vec<DnsServer>,
    /// Roles the stack creates: judged from the template, never read from IAM.
    pub planned_roles: BTreeSet<String>,
    /// Managed policies those roles attach, read by ARN.
    pub managed_policies: BTreeSet<String>,
}

impl Plan {
    /// This plan, with the planned roles' names kept from IAM reads and their managed policies
    /// (and boundaries) to read.
    #[must_use]
    pub fn with_planned(mut self, roles: &[crate::stack::planned::PlannedRole]) -> Plan {
        for r in roles {
            if let crate::arn::PrincipalKind::Role { name, .. } = r.arn.kind() {
                self.planned_roles.insert(name.clone());
            }
            for arn in r.managed.iter().chain(r.boundary.iter()).flatten() {
                self.managed_policies.insert(arn.clone());
            }
        }
        self
    }

    /// The facts `spec` needs; an empty spec needs none, so it calls no AWS API.
    pub fn for_spec(spec: &Spec) -> Plan {
        let mut plan = Plan { identity: !spec.is_empty(), ..Plan::default() };
        for p in &spec.parameters {
            plan.parameters.insert(p.name.clone());
            plan.principals.extend(p.readers.iter().cloned());
        }
        for s in &spec.secrets {
            plan.secrets.insert(s.id.clone());
            plan.principals.extend(s.readers.iter().cloned());
        }
        for k in &spec.keys {
            // A key the stack creates is judged from the template, never looked up.
            if !matches!(k.key, crate::arn::KeyRef::Planned(_)) {
                plan.keys.insert(k.key.to_string());
            }
            plan.principals.extend(k.principals.iter().cloned());
        }
        for kp in &spec.key_policies {
            plan.principals.extend(kp.administrators.iter().cloned());
        }
        if let Some(b) = &spec.bootstrap {
            plan.bootstrap = Some((b.qualifier.clone(), b.toolkit_stack_name.clone()));
            plan.principals.extend(b.readers.iter().cloned());
        }
        if !spec.hosted_zones.is_empty() {
            plan.hosted_zones.clone_from(&spec.hosted_zones);
            plan.dns_roots.clone_from(&spec.options.dns_root_servers);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_spec_needs_no_facts() {
        assert_eq!(Plan::for_spec(&Spec::default()), Plan::default());
    }

    #[test]
    fn each_fact_is_named_once() {
        let spec = Spec::from_value(
            &json!({"Parameters": [{"Name": "/a", "Readers": ["arn:aws:iam::111111111111:role/r"]},
                                   {"Name": "/b", "Readers": ["arn:aws:iam::111111111111:role/r"]}],
                    "Keys": [{"Key": "alias/k", "Principals": ["arn:aws:iam::111111111111:role/r"]},
                             {"Key": "alias/k", "Principals": ["arn:aws:iam::111111111111:role/s"]}]}),
            crate::spec::Origin::File,
        )
        .unwrap();
        let plan = Plan::for_spec(&spec);
        assert!(plan.identity);
        assert_eq!(plan.parameters.len(), 2);
        assert_eq!(plan.keys.len(), 1);
        assert_eq!(plan.principals.len(), 2);
    }
}
