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
use crate::said::hosted_zone::{Absence, Said, ServerAnswer, Source, ZoneRef};
use crate::spec::HostedZone;

/// A finding of this check about `subject`.
fn finding(subject: &str, status: Status, found: Said, evidence: Vec<String>) -> Finding {
    Item::new(CheckKind::HostedZone, subject).said(None, status, found, evidence)
}

/// A zone as findings name it: `Z1 (example.com)`, with `, created by the Route 53 registrar`
/// when it was.
fn zone_label(z: &ZoneInfo) -> ZoneRef {
    ZoneRef { id: z.id.clone(), name: z.name.clone(), registrar_created: z.registrar_created() }
}

/// A list of name servers as a set.
fn set(names: &[String]) -> BTreeSet<String> {
    names.iter().cloned().collect()
}

/// Judges the hosted zone section: the zone itself, each record name the stack writes, then the
/// zone's kind and the delegation of its domain.
pub(crate) fn check(spec: &HostedZone, facts: &Facts, account: &str) -> Vec<Finding> {
    let (hz, zone) = match the_zone(spec, facts, account) {
        Ok(read) => read,
        Err(f) => return vec![*f],
    };
    let others: Vec<&ZoneInfo> = namesakes(hz, zone);
    let mut out: Vec<Finding> = spec.record_names.iter().filter_map(|r| record_name(r, hz, zone)).collect();
    out.push(zone_kind(hz, zone, &others).unwrap_or_else(|| delegation(hz, zone, &others)));
    out
}

/// The zone: read, and existing in the account. Else the one finding of the section.
fn the_zone<'a>(
    spec: &HostedZone,
    facts: &'a Facts,
    account: &str,
) -> Result<(&'a HostedZoneFacts, &'a ZoneInfo), Box<Finding>> {
    let subject = spec.zone_id.as_str();
    let zone_id = spec.zone_id.clone();
    let Some(hz) = facts.hosted_zones.get(&spec.zone_id) else {
        return Err(Box::new(finding(subject, Status::Unknown, Said::ZoneNotRead { zone_id }, vec![])));
    };
    match &hz.zone {
        Ok(z) => Ok((hz, z)),
        Err(e @ FetchError::NotFound { .. }) => {
            let found = Said::ZoneMissing { zone_id, account: account.to_owned() };
            Err(Box::new(finding(subject, Status::Fail, found, vec![e.to_string()])))
        }
        Err(e) => {
            Err(Box::new(finding(subject, Status::Unknown, Said::ZoneUnread { zone_id, unread: e.into() }, vec![])))
        }
    }
}

/// The other public zones with the zone's name.
fn namesakes<'a>(hz: &'a HostedZoneFacts, zone: &ZoneInfo) -> Vec<&'a ZoneInfo> {
    let namesakes: &[ZoneInfo] = hz.namesakes.as_deref().unwrap_or_default();
    namesakes.iter().filter(|z| z.id != zone.id).collect()
}

/// A record name: inside the zone, and not at or below an NS cut inside it.
fn record_name(r: &str, hz: &HostedZoneFacts, zone: &ZoneInfo) -> Option<Finding> {
    if !is_within(r, &zone.name) {
        let found = Said::RecordOutsideZone { record: r.to_owned(), zone: zone_label(zone) };
        return Some(finding(r, Status::Fail, found, vec![]));
    }
    below_cut(r, hz, zone)
}

/// A record name inside the zone: not at or below an NS cut inside it, where resolvers are
/// referred elsewhere.
fn below_cut(r: &str, hz: &HostedZoneFacts, zone: &ZoneInfo) -> Option<Finding> {
    match hz.cuts.get(r)? {
        Ok(Some((cut, ns))) => {
            let name_servers = set(ns);
            let evidence = vec![format!("zone {}: {cut} NS {}", zone.id, name_set(&name_servers))];
            let found =
                Said::RecordBelowCut { record: r.to_owned(), cut: cut.clone(), zone: zone_label(zone), name_servers };
            Some(finding(r, Status::Fail, found, evidence))
        }
        Err(e) => {
            let found = Said::CutUnread { record: r.to_owned(), zone_id: zone.id.clone(), unread: e.into() };
            Some(finding(r, Status::Unknown, found, vec![]))
        }
        Ok(None) => None,
    }
}

/// The zone and its namesakes with their name servers, as evidence.
fn zone_evidence(hz: &HostedZoneFacts, zone: &ZoneInfo, others: &[&ZoneInfo]) -> Vec<String> {
    let mut evidence = vec![format!("zone {}: name servers {}", zone_label(zone), name_set(&set(&zone.name_servers)))];
    evidence.extend(
        others.iter().map(|z| format!("zone {}: name servers {}", zone_label(z), name_set(&set(&z.name_servers)))),
    );
    if let Err(e) = &hz.namesakes {
        evidence.push(format!("other zones named {} could not be listed: {e}", zone.name));
    }
    evidence
}

/// The zone's kind: a private zone has no delegation and is never seen by ACM. `None` for a
/// public zone.
fn zone_kind(hz: &HostedZoneFacts, zone: &ZoneInfo, others: &[&ZoneInfo]) -> Option<Finding> {
    if !zone.private {
        return None;
    }
    let found = Said::PrivateZone { zone: zone_label(zone), public: others.first().map(|p| zone_label(p)) };
    Some(finding(&zone.id, Status::Fail, found, zone_evidence(hz, zone, others)))
}

/// The walk's path and the servers it skipped, as evidence.
fn dns_evidence(lookup: &Lookup) -> Vec<String> {
    let mut e = vec![format!("walk: {}", lookup.path.join(" -> "))];
    e.extend(lookup.skipped.iter().map(|s| format!("skipped {s}")));
    e
}

/// The delegation of the zone's domain, as the parent zone's servers give it, or the account's
/// records when the DNS cannot be reached.
fn delegation(hz: &HostedZoneFacts, zone: &ZoneInfo, others: &[&ZoneInfo]) -> Finding {
    let zone_evidence = zone_evidence(hz, zone, others);
    let Some(lookup) = &hz.lookup else {
        let found = Said::DelegationNotLookedUp { apex: zone.name.clone() };
        return finding(&zone.id, Status::Unknown, found, zone_evidence);
    };
    let evidence = dns_evidence(lookup);
    match &lookup.delegation {
        Delegation::Agreed { parent, answer, servers } => {
            agreed(parent, answer, servers, zone, others, evidence, zone_evidence)
        }
        Delegation::Disagree { parent, answers } => disagreed(parent, answers, zone, evidence, zone_evidence),
        Delegation::Unreachable { why } => unreachable(why, hz, zone, others, evidence, zone_evidence),
    }
}

/// The one answer every server of the parent zone gave: a referral (compared with the zone's
/// name servers), no delegation at all, or the child zone's own NS set.
fn agreed(
    parent: &str,
    answer: &ParentAnswer,
    servers: &[String],
    zone: &ZoneInfo,
    others: &[&ZoneInfo],
    mut evidence: Vec<String>,
    zone_evidence: Vec<String>,
) -> Finding {
    evidence.insert(0, format!("parent zone {parent} ({}): {answer}", servers.join(", ")));
    evidence.extend(zone_evidence);
    let source = Source::Parent { zone: parent.to_owned() };
    match answer {
        ParentAnswer::Referral(ns) => compare(ns, source, zone, others, evidence),
        ParentAnswer::NxDomain => not_delegated(Absence::NxDomain, source, zone, evidence),
        ParentAnswer::NoData => not_delegated(Absence::NoData, source, zone, evidence),
        ParentAnswer::ChildAnswer(ns) => {
            let found =
                Said::ParentServesZone { apex: zone.name.clone(), parent: parent.to_owned(), name_servers: ns.clone() };
            finding(&zone.id, Status::Unknown, found, evidence)
        }
    }
}

/// The servers of the parent zone disagree: propagating when some list the zone's name servers,
/// else the zone is not the one delegated to.
fn disagreed(
    parent: &str,
    answers: &[(String, ParentAnswer)],
    zone: &ZoneInfo,
    mut evidence: Vec<String>,
    zone_evidence: Vec<String>,
) -> Finding {
    for (server, answer) in answers {
        evidence.insert(0, format!("parent zone {parent}, {server}: {answer}"));
    }
    evidence.extend(zone_evidence);
    let ours = set(&zone.name_servers);
    let any_ours = answers.iter().any(|(_, a)| matches!(a, ParentAnswer::Referral(ns) if *ns == ours));
    let said: Vec<ServerAnswer> =
        answers.iter().map(|(s, a)| ServerAnswer { server: s.clone(), answer: a.to_string() }).collect();
    let (zone_ref, parent) = (zone_label(zone), parent.to_owned());
    if any_ours {
        let found = Said::DelegationPropagating { zone: zone_ref, parent, answers: said };
        finding(&zone.id, Status::Unknown, found, evidence)
    } else {
        let found = Said::NotDelegatedByAnyServer { zone: zone_ref, parent, answers: said, name_servers: ours };
        finding(&zone.id, Status::Fail, found, evidence)
    }
}

/// The DNS could not be reached: the delegation as the account's own records give it, when they
/// settle it.
fn unreachable(
    why: &str,
    hz: &HostedZoneFacts,
    zone: &ZoneInfo,
    others: &[&ZoneInfo],
    mut evidence: Vec<String>,
    zone_evidence: Vec<String>,
) -> Finding {
    evidence.insert(0, format!("DNS: {why}"));
    evidence.extend(zone_evidence);
    let from_api = |source: &str| Source::Api { source: source.to_owned(), dns_unreachable: why.to_owned() };
    match &hz.api {
        Some(ApiDelegation::Found { ns, source }) => {
            evidence.insert(1, format!("from the API: {source}: {}", name_set(ns)));
            compare(ns, from_api(source), zone, others, evidence)
        }
        Some(ApiDelegation::NotDelegated { source }) => {
            not_delegated(Absence::NoData, from_api(source), zone, evidence)
        }
        Some(ApiDelegation::Unknown { why: api_why }) => {
            let found = Said::DelegationUnknown {
                zone: zone_label(zone),
                dns_unreachable: why.to_owned(),
                api_why: api_why.clone(),
            };
            finding(&zone.id, Status::Unknown, found, evidence)
        }
        None => {
            let found = Said::DnsUnreachable { apex: zone.name.clone(), why: why.to_owned() };
            finding(&zone.id, Status::Unknown, found, evidence)
        }
    }
}

/// The zone's domain does not exist at the parent, or has no NS records there.
fn not_delegated(absence: Absence, source: Source, zone: &ZoneInfo, evidence: Vec<String>) -> Finding {
    let found = Said::NotDelegated { zone: zone_label(zone), source, absence, name_servers: set(&zone.name_servers) };
    finding(&zone.id, Status::Fail, found, evidence)
}

/// Compares the delegated set with the zone's own name servers: the same, fewer of them, some
/// of them mixed with others, or others only.
fn compare(
    delegated: &BTreeSet<String>,
    source: Source,
    zone: &ZoneInfo,
    others: &[&ZoneInfo],
    evidence: Vec<String>,
) -> Finding {
    let ours = set(&zone.name_servers);
    let (zone_ref, delegated_set) = (zone_label(zone), delegated.clone());
    let (status, found) = if *delegated == ours {
        (Status::Pass, Said::Delegated { zone: zone_ref, source, delegated: delegated_set })
    } else if delegated.is_subset(&ours) && !delegated.is_empty() {
        let found = Said::DelegatedToSubset { zone: zone_ref, source, delegated: delegated_set, name_servers: ours };
        (Status::Pass, found)
    } else if delegated.intersection(&ours).next().is_some() {
        let foreign: BTreeSet<String> = delegated.difference(&ours).cloned().collect();
        let found =
            Said::PartlyDelegated { zone: zone_ref, source, delegated: delegated_set, name_servers: ours, foreign };
        (Status::Fail, found)
    } else {
        let matches = others.iter().find(|z| set(&z.name_servers) == *delegated).map(|m| zone_label(m));
        let found =
            Said::DelegatedElsewhere { zone: zone_ref, source, delegated: delegated_set, name_servers: ours, matches };
        (Status::Fail, found)
    };
    finding(&zone.id, status, found, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delegation::Lookup;
    use crate::said::{self, Unread};
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
        let id = target.id.clone();
        let zone = HostedZoneFacts {
            zone: Ok(target),
            namesakes: Ok(namesakes),
            lookup: Some(Lookup { delegation, path: vec![".".into(), "com".into()], skipped: vec![], queries: 2 }),
            api,
            cuts: BTreeMap::new(),
        };
        Facts { hosted_zones: BTreeMap::from([(id, zone)]), ..Facts::default() }
    }

    fn agreed(parent: &str, answer: ParentAnswer) -> Delegation {
        Delegation::Agreed { parent: parent.into(), answer, servers: vec!["a.gtld-servers.net (192.5.6.30:53)".into()] }
    }

    fn referral(set: &[&str]) -> Delegation {
        agreed("com", ParentAnswer::Referral(ns(set)))
    }

    fn unreachable() -> Delegation {
        Delegation::Unreachable { why: "no server of zone . gave a usable answer".into() }
    }

    fn spec(records: &[&str]) -> HostedZone {
        HostedZone { zone_id: "Z2".into(), record_names: records.iter().map(|s| (*s).to_owned()).collect() }
    }

    /// What each finding found, for the hosted zone check.
    fn found(out: &[Finding]) -> Vec<&Said> {
        out.iter()
            .map(|f| match &f.found {
                said::Said::HostedZone(s) => s,
                other => panic!("not a hosted zone finding: {other:?}"),
            })
            .collect()
    }

    fn z2_ref() -> ZoneRef {
        ZoneRef { id: "Z2".into(), name: "example.com".into(), registrar_created: false }
    }

    #[test]
    fn an_unread_zone_is_unknown_naming_the_permission_and_a_missing_one_fails() {
        let mut f = facts(zone("Z2", &["ns-3.b.com"], None), vec![], referral(&["ns-3.b.com"]), None);
        if let Some(hz) = f.hosted_zones.values_mut().next() {
            hz.zone = Err(crate::facts::denied("route53:GetHostedZone"));
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].status, Status::Unknown);
        assert!(matches!(
            found(&out)[..],
            [Said::ZoneUnread { zone_id, unread: Unread { denied_action: Some(action), .. } }]
                if zone_id == "Z2" && action == "route53:GetHostedZone"
        ));
        assert_eq!(out[0].fix.as_deref(), Some("allow route53:GetHostedZone in Preflight's role (see template.yaml)"));
        if let Some(hz) = f.hosted_zones.values_mut().next() {
            hz.zone = Err(FetchError::not_found("route53:GetHostedZone", "No hosted zone found"));
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Fail]);
        assert_eq!(found(&out), [&Said::ZoneMissing { zone_id: "Z2".into(), account: "1".into() }]);
    }

    #[test]
    fn a_zone_never_read_is_unknown() {
        let out = check(&spec(&["_x.example.com"]), &Facts::default(), "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Unknown]);
        assert_eq!(found(&out), [&Said::ZoneNotRead { zone_id: "Z2".into() }]);
        assert_eq!(out[0].message, "hosted zone `Z2` was not read");
    }

    #[test]
    fn unread_namesakes_leave_the_delegation_verdict_standing() {
        let mut f = facts(zone("Z2", &["ns-3.b.com"], None), vec![], referral(&["ns-3.b.com"]), None);
        if let Some(hz) = f.hosted_zones.values_mut().next() {
            hz.namesakes = Err(crate::facts::denied("route53:ListHostedZonesByName"));
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Pass], "{out:#?}");
        assert!(matches!(found(&out)[..], [Said::Delegated { .. }]));
        assert!(out[0].evidence.iter().any(|e| e.starts_with("other zones named example.com could not be listed")));
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
            found(&out),
            [&Said::DelegatedElsewhere {
                zone: z2_ref(),
                source: Source::Parent { zone: "com".into() },
                delegated: ns(&["ns-1.a.com", "ns-2.a.net"]),
                name_servers: ns(&["ns-3.b.com", "ns-4.b.net"]),
                matches: Some(ZoneRef { id: "Z1".into(), name: "example.com".into(), registrar_created: true }),
            }]
        );
        assert_eq!(
            f.message,
            "hosted zone Z2 (example.com) is not the zone example.com is delegated to: the parent zone com lists {ns-1.a.com, ns-2.a.net}; Z2 is served by {ns-3.b.com, ns-4.b.net}; the delegated set matches Z1 (example.com, created by the Route 53 registrar)"
        );
        assert!(f.fix.as_deref().unwrap().starts_with("use hosted zone Z1"));
    }

    #[test]
    fn a_delegation_to_no_zone_of_the_account_says_so() {
        let out = check(&spec(&[]), &facts(zone("Z2", &["a"], None), vec![], referral(&["m", "n"]), None), "1");
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            matches!(found(&out)[..], [Said::DelegatedElsewhere { matches: None, delegated, .. }] if *delegated == ns(&["m", "n"]))
        );
    }

    #[test]
    fn a_subset_passes_and_an_overlap_fails_as_partial() {
        let z = zone("Z2", &["a", "b", "c", "d"], None);
        let sub = check(&spec(&[]), &facts(z.clone(), vec![], referral(&["a", "b"]), None), "1");
        assert_eq!(sub[0].status, Status::Pass);
        assert!(matches!(
            found(&sub)[..],
            [Said::DelegatedToSubset { delegated, name_servers, .. }] if delegated.len() == 2 && name_servers.len() == 4
        ));
        assert!(sub[0].message.contains("2 of the zone's 4"));
        let partial = check(&spec(&[]), &facts(z, vec![], referral(&["a", "x"]), None), "1");
        assert_eq!(partial[0].status, Status::Fail);
        assert!(
            matches!(&found(&partial)[..], [Said::PartlyDelegated { foreign, .. }] if *foreign == ns(&["x"])),
            "{}",
            partial[0].message
        );
    }

    #[test]
    fn the_fix_says_where_to_set_the_name_servers() {
        let z = zone("Z2", &["a", "b"], None);
        let under_tld = check(&spec(&[]), &facts(z.clone(), vec![], referral(&["a", "x"]), None), "1");
        assert_eq!(
            under_tld[0].fix.as_deref(),
            Some("set the name servers of example.com at the registrar to exactly {a, b}")
        );
        let inner =
            check(&spec(&[]), &facts(z, vec![], agreed("co.uk", ParentAnswer::Referral(ns(&["a", "x"]))), None), "1");
        assert_eq!(
            inner[0].fix.as_deref(),
            Some("set the name servers of example.com in the parent zone co.uk to exactly {a, b}")
        );
    }

    #[test]
    fn a_domain_the_parent_does_not_delegate_fails() {
        let z = zone("Z2", &["a", "b"], None);
        let nx = check(&spec(&[]), &facts(z.clone(), vec![], agreed("com", ParentAnswer::NxDomain), None), "1");
        assert_eq!(
            found(&nx),
            [&Said::NotDelegated {
                zone: z2_ref(),
                source: Source::Parent { zone: "com".into() },
                absence: Absence::NxDomain,
                name_servers: ns(&["a", "b"]),
            }]
        );
        assert_eq!(nx[0].status, Status::Fail);
        assert_eq!(
            nx[0].fix.as_deref(),
            Some("delegate example.com to {a, b} at the registrar of example.com (the parent zone is com)")
        );
        let nodata = check(&spec(&[]), &facts(z, vec![], agreed("co.uk", ParentAnswer::NoData), None), "1");
        assert!(matches!(found(&nodata)[..], [Said::NotDelegated { absence: Absence::NoData, .. }]));
        assert_eq!(nodata[0].fix.as_deref(), Some("delegate example.com to {a, b} in the parent zone co.uk"));
    }

    #[test]
    fn a_parent_that_serves_the_zone_itself_leaves_it_unknown() {
        let z = zone("Z2", &["a"], None);
        let out = check(&spec(&[]), &facts(z, vec![], agreed("com", ParentAnswer::ChildAnswer(ns(&["a"]))), None), "1");
        assert_eq!(out[0].status, Status::Unknown);
        assert_eq!(
            found(&out),
            [&Said::ParentServesZone { apex: "example.com".into(), parent: "com".into(), name_servers: ns(&["a"]) }]
        );
    }

    #[test]
    fn disagreeing_parent_servers_are_propagation_when_one_lists_the_zone_else_a_failure() {
        let z = zone("Z2", &["a", "b"], None);
        let disagree = |first: &[&str]| Delegation::Disagree {
            parent: "com".into(),
            answers: vec![
                ("s1".into(), ParentAnswer::Referral(ns(first))),
                ("s2".into(), ParentAnswer::Referral(ns(&["x"]))),
            ],
        };
        let out = check(&spec(&[]), &facts(z.clone(), vec![], disagree(&["a", "b"]), None), "1");
        assert_eq!(out[0].status, Status::Unknown);
        assert!(matches!(
            &found(&out)[..],
            [Said::DelegationPropagating { answers, .. }]
                if answers == &[
                    ServerAnswer { server: "s1".into(), answer: "referral to {a, b}".into() },
                    ServerAnswer { server: "s2".into(), answer: "referral to {x}".into() },
                ]
        ));
        let out = check(&spec(&[]), &facts(z, vec![], disagree(&["a"]), None), "1");
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            matches!(&found(&out)[..], [Said::NotDelegatedByAnyServer { name_servers, .. }] if *name_servers == ns(&["a", "b"]))
        );
        assert_eq!(
            out[0].evidence[..2],
            ["parent zone com, s2: referral to {x}", "parent zone com, s1: referral to {a}"]
        );
    }

    #[test]
    fn unreachable_dns_without_api_answer_is_unknown_never_pass() {
        let z = zone("Z2", &["a"], None);
        let out = check(
            &spec(&[]),
            &facts(
                z.clone(),
                vec![],
                unreachable(),
                Some(ApiDelegation::Unknown { why: "example.com is not registered".into() }),
            ),
            "1",
        );
        assert_eq!(out[0].status, Status::Unknown);
        assert!(
            matches!(found(&out)[..], [Said::DelegationUnknown { api_why, .. }] if api_why == "example.com is not registered")
        );
        let out = check(&spec(&[]), &facts(z, vec![], unreachable(), None), "1");
        assert_eq!(out[0].status, Status::Unknown);
        assert!(matches!(found(&out)[..], [Said::DnsUnreachable { .. }]));
    }

    #[test]
    fn unreachable_dns_falls_back_on_the_accounts_records() {
        let z = zone("Z2", &["a", "b"], None);
        let source = "the Route 53 Domains registration of example.com";
        let api = Some(ApiDelegation::Found { ns: ns(&["a", "b"]), source: source.into() });
        let out = check(&spec(&[]), &facts(z.clone(), vec![], unreachable(), api), "1");
        assert_eq!(out[0].status, Status::Pass);
        let from_api =
            Source::Api { source: source.into(), dns_unreachable: "no server of zone . gave a usable answer".into() };
        assert_eq!(
            found(&out),
            [&Said::Delegated { zone: z2_ref(), source: from_api.clone(), delegated: ns(&["a", "b"]) }]
        );
        assert_eq!(out[0].evidence[1], "from the API: the Route 53 Domains registration of example.com: {a, b}");
        let api = Some(ApiDelegation::NotDelegated { source: source.into() });
        let out = check(&spec(&[]), &facts(z, vec![], unreachable(), api), "1");
        assert_eq!(out[0].status, Status::Fail);
        assert!(
            matches!(&found(&out)[..], [Said::NotDelegated { source, absence: Absence::NoData, .. }] if *source == from_api)
        );
        assert_eq!(
            out[0].fix.as_deref(),
            Some("delegate example.com to {a, b} at the registrar or in the parent zone")
        );
    }

    #[test]
    fn a_private_zone_fails_naming_a_public_namesake() {
        let mut private = zone("Z2", &[], None);
        private.private = true;
        let public = zone("Z1", &["x"], None);
        let out = check(&spec(&[]), &facts(private.clone(), vec![public], referral(&["x"]), None), "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Fail]);
        assert_eq!(
            found(&out),
            [&Said::PrivateZone {
                zone: z2_ref(),
                public: Some(ZoneRef { id: "Z1".into(), name: "example.com".into(), registrar_created: false }),
            }]
        );
        let out = check(&spec(&[]), &facts(private, vec![], referral(&["x"]), None), "1");
        assert!(matches!(found(&out)[..], [Said::PrivateZone { public: None, .. }]));
    }

    #[test]
    fn a_delegation_not_looked_up_is_unknown() {
        let mut f = facts(zone("Z2", &["a"], None), vec![], referral(&["a"]), None);
        if let Some(hz) = f.hosted_zones.values_mut().next() {
            hz.lookup = None;
        }
        let out = check(&spec(&[]), &f, "1");
        assert_eq!(out[0].status, Status::Unknown);
        assert_eq!(found(&out), [&Said::DelegationNotLookedUp { apex: "example.com".into() }]);
    }

    #[test]
    fn a_record_outside_the_zone_fails() {
        let z = zone("Z2", &["a"], None);
        let out = check(&spec(&["_x.example.org", "_y.example.com"]), &facts(z, vec![], referral(&["a"]), None), "1");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].subject, "_x.example.org");
        assert_eq!(out[0].status, Status::Fail);
        assert_eq!(found(&out)[0], &Said::RecordOutsideZone { record: "_x.example.org".into(), zone: z2_ref() });
        assert_eq!(out[1].status, Status::Pass);
    }

    #[test]
    fn a_record_below_an_ns_cut_fails_and_an_unread_cut_is_unknown() {
        let mut f = facts(zone("Z2", &["a"], None), vec![], referral(&["a"]), None);
        if let Some(hz) = f.hosted_zones.values_mut().next() {
            hz.cuts.insert(
                "_x.sub.example.com".into(),
                Ok(Some(("sub.example.com".into(), vec!["n2".into(), "n1".into()]))),
            );
            hz.cuts.insert("_y.example.com".into(), Err(crate::facts::denied("route53:ListResourceRecordSets")));
            hz.cuts.insert("_z.example.com".into(), Ok(None));
        }
        let out = check(&spec(&["_x.sub.example.com", "_y.example.com", "_z.example.com"]), &f, "1");
        assert_eq!(out.iter().map(|x| x.status).collect::<Vec<_>>(), [Status::Fail, Status::Unknown, Status::Pass]);
        assert_eq!(
            found(&out)[0],
            &Said::RecordBelowCut {
                record: "_x.sub.example.com".into(),
                cut: "sub.example.com".into(),
                zone: z2_ref(),
                name_servers: ns(&["n1", "n2"]),
            }
        );
        assert_eq!(out[0].evidence, ["zone Z2: sub.example.com NS {n1, n2}"]);
        assert!(matches!(
            found(&out)[1],
            Said::CutUnread { record, zone_id, unread: Unread { denied_action: Some(_), .. } }
                if record == "_y.example.com" && zone_id == "Z2"
        ));
        assert_eq!(
            out[1].fix.as_deref(),
            Some("allow route53:ListResourceRecordSets in Preflight's role (see template.yaml)")
        );
    }
}
