//! The hosted zone check (story 3): is `HostedZone.ZoneId` the zone its domain is delegated to?
//!
//! Compares the NS set the parent publishes (the DNS walk, or the account's own records when the
//! DNS cannot be reached) with the zone's delegation set, as sets of normalised names
//! (docs/aws-facts.md 5). Also judges the zone's kind (ACM needs a public zone) and the record names the
//! stack will write (inside the zone, not below an NS cut in it).

use std::collections::BTreeSet;

use super::Item;
use crate::delegation::{Delegation, Lookup, ParentAnswer, name_set};
use crate::facts::{ApiDelegation, Facts, HostedZoneFacts, is_within};
use crate::facts::{FetchError, ZoneInfo};
use crate::report::{CheckKind, Finding, Status};
use crate::spec::HostedZone;

fn finding(subject: &str, status: Status, message: String, fix: Option<String>, evidence: Vec<String>) -> Finding {
    Item::new(CheckKind::HostedZone, subject).finding(None, status, message, fix, evidence)
}

/// `Z1 (example.com)`, with `, created by the Route 53 registrar` when it was.
fn zone_label(z: &ZoneInfo) -> String {
    if z.registrar_created() {
        format!("{} ({}, created by the Route 53 registrar)", z.id, z.name)
    } else {
        format!("{} ({})", z.id, z.name)
    }
}

fn set(names: &[String]) -> BTreeSet<String> {
    names.iter().cloned().collect()
}

/// Judges the hosted zone section.
pub(crate) fn check(spec: &HostedZone, facts: &Facts, account: &str) -> Vec<Finding> {
    let subject = spec.zone_id.as_str();
    let Some(hz) = &facts.hosted_zone else {
        return vec![finding(subject, Status::Unknown, format!("hosted zone `{subject}` was not read"), None, vec![])];
    };
    let zone = match &hz.zone {
        Ok(z) => z,
        Err(e @ FetchError::NotFound { .. }) => {
            return vec![finding(
                subject,
                Status::Fail,
                format!("hosted zone `{subject}` does not exist in account {account}, so nothing the stack writes to it can be served"),
                Some("set HostedZone.ZoneId (and the stack's hosted zone) to an existing public zone: `aws route53 list-hosted-zones-by-name --dns-name <domain>` lists them".into()),
                vec![e.to_string()],
            )];
        }
        Err(e) => {
            return vec![
                Item::new(CheckKind::HostedZone, subject)
                    .unread(&format!("hosted zone `{subject}` was not checked"), e),
            ];
        }
    };
    let mut out = records(spec, hz, zone);
    out.push(delegation(hz, zone));
    out
}

/// The record names: inside the zone, and not at or below an NS cut inside it.
fn records(spec: &HostedZone, hz: &HostedZoneFacts, zone: &ZoneInfo) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in &spec.record_names {
        if !is_within(r, &zone.name) {
            out.push(finding(
                r,
                Status::Fail,
                format!(
                    "record name `{r}` lies outside hosted zone {}, so Route 53 rejects it there and no answer for it can come from this zone",
                    zone_label(zone)
                ),
                Some(format!("write `{r}` into the hosted zone of its own domain, or correct HostedZone.RecordNames and the names the stack writes")),
                vec![],
            ));
            continue;
        }
        match hz.cuts.get(r) {
            Some(Ok(Some((cut, ns)))) => out.push(finding(
                r,
                Status::Fail,
                format!(
                    "record name `{r}` lies at or below the NS cut at `{cut}` inside hosted zone {}: Route 53 accepts the record, but resolvers are referred to {} and never see it",
                    zone_label(zone),
                    name_set(&set(ns))
                ),
                Some(format!(
                    "write `{r}` into the zone that `{cut}` is delegated to (served by {}), or remove the NS records of `{cut}` from {}",
                    name_set(&set(ns)),
                    zone.id
                )),
                vec![format!("zone {}: {cut} NS {}", zone.id, name_set(&set(ns)))],
            )),
            Some(Err(e)) => out.push(Item::new(CheckKind::HostedZone, r).unread(
                &format!("whether record name `{r}` lies below an NS cut in hosted zone {} was not checked", zone.id),
                e,
            )),
            Some(Ok(None)) | None => {}
        }
    }
    out
}

/// Where a delegated set came from, for messages and evidence.
struct Source {
    /// `the parent zone com` / `the Route 53 Domains registration of ...`.
    said_by: String,
    /// The zone the delegation lives in, when known.
    parent: Option<String>,
    evidence: Vec<String>,
}

fn dns_evidence(lookup: &Lookup) -> Vec<String> {
    let mut e = vec![format!("walk: {}", lookup.path.join(" -> "))];
    e.extend(lookup.skipped.iter().map(|s| format!("skipped {s}")));
    e
}

/// The delegation finding.
fn delegation(hz: &HostedZoneFacts, zone: &ZoneInfo) -> Finding {
    let apex = zone.name.as_str();
    let subject = zone.id.as_str();
    let namesakes: &[ZoneInfo] = hz.namesakes.as_deref().unwrap_or_default();
    let others: Vec<&ZoneInfo> = namesakes.iter().filter(|z| z.id != zone.id).collect();
    let mut zone_evidence =
        vec![format!("zone {}: name servers {}", zone_label(zone), name_set(&set(&zone.name_servers)))];
    zone_evidence.extend(
        others.iter().map(|z| format!("zone {}: name servers {}", zone_label(z), name_set(&set(&z.name_servers)))),
    );
    if let Err(e) = &hz.namesakes {
        zone_evidence.push(format!("other zones named {apex} could not be listed: {e}"));
    }
    if zone.private {
        let public = others.first();
        return finding(
            subject,
            Status::Fail,
            format!(
                "hosted zone {} is a private zone: it answers only inside its VPCs and has no delegation, so ACM DNS validation and the internet never see its records",
                zone_label(zone)
            ),
            Some(match public {
                Some(p) => format!("use the public hosted zone {} for {apex}", zone_label(p)),
                None => {
                    format!("create a public hosted zone for {apex}, delegate {apex} to its name servers, and use it")
                }
            }),
            zone_evidence,
        );
    }
    let Some(lookup) = &hz.lookup else {
        return finding(
            subject,
            Status::Unknown,
            format!("the delegation of {apex} was not looked up"),
            None,
            zone_evidence,
        );
    };
    let mut evidence = dns_evidence(lookup);
    match &lookup.delegation {
        Delegation::Agreed { parent, answer, servers } => {
            evidence.insert(0, format!("parent zone {parent} ({}): {answer}", servers.join(", ")));
            evidence.extend(zone_evidence);
            let source =
                Source { said_by: format!("the parent zone {parent}"), parent: Some(parent.clone()), evidence };
            match answer {
                ParentAnswer::Referral(ns) => compare(ns, source, zone, &others),
                ParentAnswer::NxDomain | ParentAnswer::NoData => not_delegated(answer, source, zone),
                ParentAnswer::ChildAnswer(ns) => finding(
                    subject,
                    Status::Unknown,
                    format!(
                        "the delegation of {apex} could not be read apart from the zone itself: the servers of the parent zone {parent} also serve {apex} and answer with its own NS set {}",
                        name_set(ns)
                    ),
                    Some(format!("check the NS records of {apex} in the parent zone {parent} where it is hosted")),
                    source.evidence,
                ),
            }
        }
        Delegation::Disagree { parent, answers } => {
            for (server, answer) in answers {
                evidence.insert(0, format!("parent zone {parent}, {server}: {answer}"));
            }
            evidence.extend(zone_evidence);
            let ours = set(&zone.name_servers);
            let any_ours = answers.iter().any(|(_, a)| matches!(a, ParentAnswer::Referral(ns) if *ns == ours));
            let summary: Vec<String> = answers.iter().map(|(s, a)| format!("{s} gives {a}")).collect();
            if any_ours {
                finding(
                    subject,
                    Status::Unknown,
                    format!(
                        "the servers of the parent zone {parent} disagree about the delegation of {apex} ({}): a change of delegation is still propagating, so some resolvers (ACM among them) may not reach hosted zone {} yet",
                        summary.join("; "),
                        zone_label(zone)
                    ),
                    Some("wait until every server of the parent zone gives the same name servers (usually minutes, up to the parent's TTL), then deploy again".into()),
                    evidence,
                )
            } else {
                finding(
                    subject,
                    Status::Fail,
                    format!(
                        "hosted zone {} is not the zone {apex} is delegated to: the servers of the parent zone {parent} disagree ({}), and none lists its name servers {}",
                        zone_label(zone),
                        summary.join("; "),
                        name_set(&ours)
                    ),
                    Some(format!(
                        "set the name servers of {apex} at the registrar or in the parent zone {parent} to {}, then wait for the parent's servers to agree",
                        name_set(&ours)
                    )),
                    evidence,
                )
            }
        }
        Delegation::Unreachable { why } => {
            evidence.insert(0, format!("DNS: {why}"));
            evidence.extend(zone_evidence);
            match &hz.api {
                Some(ApiDelegation::Found { ns, source }) => {
                    evidence.insert(1, format!("from the API: {source}: {}", name_set(ns)));
                    let said_by = format!("{source} (from the API: the DNS could not be reached: {why})");
                    compare(ns, Source { said_by, parent: None, evidence }, zone, &others)
                }
                Some(ApiDelegation::NotDelegated { source }) => {
                    let said_by = format!("{source} (from the API: the DNS could not be reached: {why})");
                    not_delegated(&ParentAnswer::NoData, Source { said_by, parent: None, evidence }, zone)
                }
                Some(ApiDelegation::Unknown { why: api_why }) => finding(
                    subject,
                    Status::Unknown,
                    format!(
                        "whether hosted zone {} is the zone {apex} is delegated to was not checked: the DNS could not be reached ({why}), and the account's records do not settle it ({api_why})",
                        zone_label(zone)
                    ),
                    Some("let Preflight's function reach the DNS (UDP and TCP port 53: a NAT gateway, or no VPC), or register the domain or host its parent zone in this account".into()),
                    evidence,
                ),
                None => finding(
                    subject,
                    Status::Unknown,
                    format!("the delegation of {apex} was not checked: the DNS could not be reached ({why})"),
                    None,
                    evidence,
                ),
            }
        }
    }
}

/// The zone's domain does not exist at the parent, or has no NS records there.
fn not_delegated(answer: &ParentAnswer, source: Source, zone: &ZoneInfo) -> Finding {
    let apex = &zone.name;
    let why = match answer {
        ParentAnswer::NxDomain => format!("{} answers that {apex} does not exist (NXDOMAIN)", source.said_by),
        _ => format!("{} has no NS records for {apex}", source.said_by),
    };
    let where_ = match &source.parent {
        Some(p) if p.contains('.') => format!("in the parent zone {p}"),
        Some(p) => format!("at the registrar of {apex} (the parent zone is {p})"),
        None => "at the registrar or in the parent zone".to_owned(),
    };
    finding(
        &zone.id,
        Status::Fail,
        format!(
            "{apex} is not delegated at all, so hosted zone {} is not consulted by anyone: {why}",
            zone_label(zone)
        ),
        Some(format!("delegate {apex} to {} {where_}", name_set(&set(&zone.name_servers)))),
        source.evidence,
    )
}

/// Compares the delegated set with the zone's own name servers.
fn compare(delegated: &BTreeSet<String>, source: Source, zone: &ZoneInfo, others: &[&ZoneInfo]) -> Finding {
    let apex = &zone.name;
    let ours = set(&zone.name_servers);
    let matching = others.iter().find(|z| set(&z.name_servers) == *delegated);
    let said = format!("{} lists {}", source.said_by, name_set(delegated));
    let served = format!("{} is served by {}", zone.id, name_set(&ours));
    let where_ = match &source.parent {
        Some(p) if p.contains('.') => format!("in the parent zone {p}"),
        _ => "at the registrar".to_owned(),
    };
    if *delegated == ours {
        return finding(
            &zone.id,
            Status::Pass,
            format!(
                "hosted zone {} is the zone {apex} is delegated to: {said}, its own name servers",
                zone_label(zone)
            ),
            None,
            source.evidence,
        );
    }
    if delegated.is_subset(&ours) && !delegated.is_empty() {
        return finding(
            &zone.id,
            Status::Pass,
            format!(
                "hosted zone {} is the zone {apex} is delegated to, with less redundancy than it could have: {said}, {} of the zone's {} name servers",
                zone_label(zone),
                delegated.len(),
                ours.len()
            ),
            None,
            source.evidence,
        );
    }
    let overlap = delegated.intersection(&ours).count();
    if overlap > 0 {
        let foreign: BTreeSet<String> = delegated.difference(&ours).cloned().collect();
        return finding(
            &zone.id,
            Status::Fail,
            format!(
                "{apex} is only partly delegated to hosted zone {}: {said}; {served}; resolvers that pick {} get answers from another zone, so records written here (ACM validation among them) are seen only some of the time",
                zone_label(zone),
                name_set(&foreign)
            ),
            Some(format!("set the name servers of {apex} {where_} to exactly {}", name_set(&ours))),
            source.evidence,
        );
    }
    let (tail, fix) = match matching {
        Some(m) => (
            format!("; the delegated set matches {}", zone_label(m)),
            format!(
                "use hosted zone {} (HostedZone.ZoneId and the zone the stack writes to), or, to keep {}, set the name servers of {apex} {where_} to {}",
                m.id,
                zone.id,
                name_set(&ours)
            ),
        ),
        None => (
            format!("; no hosted zone named {apex} in this account has that set"),
            format!("set the name servers of {apex} {where_} to {}", name_set(&ours)),
        ),
    };
    finding(
        &zone.id,
        Status::Fail,
        format!("hosted zone {} is not the zone {apex} is delegated to: {said}; {served}{tail}", zone_label(zone)),
        Some(fix),
        source.evidence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delegation::Lookup;
    use std::collections::BTreeMap;

    fn zone(id: &str, ns: &[&str], comment: Option<&str>) -> ZoneInfo {
        ZoneInfo {
            id: id.into(),
            name: "example.com".into(),
            private: false,
            comment: comment.map(str::to_owned),
            name_servers: ns.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn ns(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn facts(target: ZoneInfo, others: Vec<ZoneInfo>, delegation: Delegation, api: Option<ApiDelegation>) -> Facts {
        let mut namesakes = vec![target.clone()];
        namesakes.extend(others);
        Facts {
            hosted_zone: Some(HostedZoneFacts {
                zone: Ok(target),
                namesakes: Ok(namesakes),
                lookup: Some(Lookup { delegation, path: vec![".".into(), "com".into()], skipped: vec![], queries: 2 }),
                api,
                cuts: BTreeMap::new(),
            }),
            ..Facts::default()
        }
    }

    fn referral(set: &[&str]) -> Delegation {
        Delegation::Agreed {
            parent: "com".into(),
            answer: ParentAnswer::Referral(ns(set)),
            servers: vec!["a.gtld-servers.net (192.5.6.30:53)".into()],
        }
    }

    fn spec(records: &[&str]) -> HostedZone {
        HostedZone { zone_id: "Z2".into(), record_names: records.iter().map(|s| (*s).to_owned()).collect() }
    }

    #[test]
    fn an_unread_zone_is_unknown_naming_the_permission_and_a_missing_one_fails() {
        let mut f = facts(zone("Z2", &["ns-3.b.com"], None), vec![], referral(&["ns-3.b.com"]), None);
        if let Some(hz) = f.hosted_zone.as_mut() {
            hz.zone = Err(crate::facts::denied("route53:GetHostedZone"));
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Unknown);
        assert_eq!(out[0].fix.as_deref(), Some("allow route53:GetHostedZone in Preflight's role (see template.yaml)"));
        if let Some(hz) = f.hosted_zone.as_mut() {
            hz.zone = Err(FetchError::not_found("route53:GetHostedZone", "No hosted zone found"));
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Fail]);
    }

    #[test]
    fn unread_namesakes_leave_the_delegation_verdict_standing() {
        let mut f = facts(zone("Z2", &["ns-3.b.com"], None), vec![], referral(&["ns-3.b.com"]), None);
        if let Some(hz) = f.hosted_zone.as_mut() {
            hz.namesakes = Err(crate::facts::denied("route53:ListHostedZonesByName"));
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Pass], "{out:#?}");
    }

    #[test]
    fn story_3_names_the_zone_the_delegation_matches() {
        let z1 = zone("Z1", &["ns-1.a.com", "ns-2.a.net"], Some("HostedZone created by Route53 Registrar"));
        let z2 = zone("Z2", &["ns-3.b.com", "ns-4.b.net"], None);
        let out = check(&spec(&[]), &facts(z2, vec![z1], referral(&["ns-1.a.com", "ns-2.a.net"]), None), "1");
        assert_eq!(out.len(), 1);
        let f = &out[0];
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.message,
            "hosted zone Z2 (example.com) is not the zone example.com is delegated to: the parent zone com lists {ns-1.a.com, ns-2.a.net}; Z2 is served by {ns-3.b.com, ns-4.b.net}; the delegated set matches Z1 (example.com, created by the Route 53 registrar)"
        );
        assert!(f.fix.as_deref().unwrap().starts_with("use hosted zone Z1"));
    }

    #[test]
    fn a_subset_passes_and_an_overlap_fails_as_partial() {
        let z = zone("Z2", &["a", "b", "c", "d"], None);
        let sub = check(&spec(&[]), &facts(z.clone(), vec![], referral(&["a", "b"]), None), "1");
        assert_eq!(sub[0].status, Status::Pass);
        assert!(sub[0].message.contains("2 of the zone's 4"));
        let partial = check(&spec(&[]), &facts(z, vec![], referral(&["a", "x"]), None), "1");
        assert_eq!(partial[0].status, Status::Fail);
        assert!(partial[0].message.contains("only partly delegated"), "{}", partial[0].message);
    }

    #[test]
    fn unreachable_dns_without_api_answer_is_unknown_never_pass() {
        let z = zone("Z2", &["a"], None);
        let out = check(
            &spec(&[]),
            &facts(
                z,
                vec![],
                Delegation::Unreachable { why: "no server of zone . gave a usable answer".into() },
                Some(ApiDelegation::Unknown { why: "example.com is not registered".into() }),
            ),
            "1",
        );
        assert_eq!(out[0].status, Status::Unknown);
    }

    #[test]
    fn a_record_outside_the_zone_fails() {
        let z = zone("Z2", &["a"], None);
        let out = check(&spec(&["_x.example.org", "_y.example.com"]), &facts(z, vec![], referral(&["a"]), None), "1");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].subject, "_x.example.org");
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(out[1].status, Status::Pass);
    }
}
