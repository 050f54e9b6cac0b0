//! Judge: pure checks over fetched facts, one file per check as they are built.
//!
//! No I/O here. A check that ran and says no is a `fail` finding; a check that could not decide
//! (a read was denied, a feature is not built yet) is an `unknown` finding with the reason, never a
//! pass.

use crate::fetch::Facts;
use crate::report::{CheckKind, Finding, Status};
use crate::spec::Spec;

/// Judges every section of `spec` against `facts`.
pub fn judge(spec: &Spec, facts: &Facts) -> Vec<Finding> {
    let mut findings = Vec::new();
    let blocked = match &facts.identity {
        Some(Err(e)) => Some(format!("could not identify the account Preflight runs in: {e}")),
        _ => None,
    };
    let mut not_built = |check: CheckKind, subject: String, what: &str| {
        let (message, fix) = match &blocked {
            Some(why) => (
                format!("{what} was not checked: {why}"),
                Some("give Preflight's role sts:GetCallerIdentity and working credentials, then run again".to_owned()),
            ),
            None => (
                format!("{what} was not checked: the {} check is not built in this version of Preflight", check.name()),
                None,
            ),
        };
        findings.push(Finding {
            check,
            subject,
            principal: None,
            status: Status::Unknown,
            message,
            fix,
            evidence: vec![],
        });
    };
    if let Some(b) = &spec.bootstrap {
        not_built(
            CheckKind::Bootstrap,
            b.toolkit_stack_name.clone(),
            &format!("the CDK bootstrap environment `{}`", b.qualifier),
        );
    }
    for p in &spec.parameters {
        not_built(CheckKind::Parameter, p.name.clone(), &format!("parameter `{}`", p.name));
    }
    for k in &spec.keys {
        not_built(CheckKind::Key, k.key.to_string(), &format!("key `{}`", k.key));
    }
    for (i, _) in spec.key_policies.iter().enumerate() {
        not_built(CheckKind::KeyPolicy, format!("KeyPolicies[{i}]"), &format!("key policy KeyPolicies[{i}]"));
    }
    if let Some(z) = &spec.hosted_zone {
        not_built(CheckKind::HostedZone, z.zone_id.clone(), &format!("hosted zone `{}`", z.zone_id));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::FetchError;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> Spec {
        Spec::from_value(&v, crate::spec::Origin::File).unwrap()
    }

    #[test]
    fn sections_without_a_check_are_unknown_never_pass() {
        let s = spec(json!({"Parameters": [{"Name": "/a", "Readers": []}], "HostedZone": {"ZoneId": "Z1"}}));
        let f = judge(&s, &Facts::default());
        assert_eq!(f.len(), 2);
        assert!(f.iter().all(|f| f.status == Status::Unknown));
        assert_eq!(
            f[0].message,
            "parameter `/a` was not checked: the parameter check is not built in this version of Preflight"
        );
    }

    #[test]
    fn an_unreadable_identity_makes_every_finding_unknown_with_the_reason() {
        let s = spec(json!({"Keys": [{"Key": "alias/k", "Principals": []}]}));
        let facts = Facts {
            identity: Some(Err(FetchError::AccessDenied { action: "sts:GetCallerIdentity", message: "no".into() })),
            region: None,
        };
        let f = judge(&s, &facts);
        assert_eq!(f[0].status, Status::Unknown);
        assert!(f[0].message.contains("Preflight's role is not allowed `sts:GetCallerIdentity`"), "{}", f[0].message);
    }
}
