//! The hosted zone check's findings: the zone itself, the record names the stack writes, and the
//! delegation of the zone's domain.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::Unread;
use crate::delegation::name_set;

/// What the hosted zone check found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// The hosted zone was never read.
    ZoneNotRead { zone_id: String },
    /// The hosted zone does not exist in this account.
    ZoneMissing { zone_id: String, account: String },
    /// Reading the hosted zone failed.
    ZoneUnread { zone_id: String, unread: Unread },
    /// A record name the stack writes lies outside the zone.
    RecordOutsideZone { record: String, zone: ZoneRef },
    /// A record name lies at or below the NS cut at `cut` inside the zone, delegated to `name_servers`.
    RecordBelowCut { record: String, cut: String, zone: ZoneRef, name_servers: BTreeSet<String> },
    /// Whether a record name lies below an NS cut in the zone could not be read.
    CutUnread { record: String, zone_id: String, unread: Unread },
    /// The zone is private; `public` is a public zone of the same name in this account, if any.
    PrivateZone {
        zone: ZoneRef,
        #[serde(skip_serializing_if = "Option::is_none")]
        public: Option<ZoneRef>,
    },
    /// The delegation of the domain was never looked up.
    DelegationNotLookedUp { apex: String },
    /// The servers of the parent zone serve the domain's zone too, and answered with its own NS
    /// set `name_servers`: the delegation cannot be told apart from it.
    ParentServesZone { apex: String, parent: String, name_servers: BTreeSet<String> },
    /// The servers of the parent zone disagree and some list the zone's name servers: a change is
    /// still propagating.
    DelegationPropagating { zone: ZoneRef, parent: String, answers: Vec<ServerAnswer> },
    /// The servers of the parent zone disagree and none lists the zone's name servers
    /// `name_servers`.
    NotDelegatedByAnyServer {
        zone: ZoneRef,
        parent: String,
        answers: Vec<ServerAnswer>,
        name_servers: BTreeSet<String>,
    },
    /// The DNS could not be reached (`dns_unreachable`) and the account's records do not settle
    /// the delegation (`api_why`).
    DelegationUnknown { zone: ZoneRef, dns_unreachable: String, api_why: String },
    /// The DNS could not be reached, and the account's records were not read.
    DnsUnreachable { apex: String, why: String },
    /// The domain is not delegated at all: `source` has no NS records for it, or says it does not
    /// exist. `name_servers` are the zone's own.
    NotDelegated { zone: ZoneRef, source: Source, absence: Absence, name_servers: BTreeSet<String> },
    /// The domain is delegated to the zone: `source` lists exactly its name servers.
    Delegated { zone: ZoneRef, source: Source, delegated: BTreeSet<String> },
    /// The domain is delegated to the zone, to some of its name servers `name_servers` only.
    DelegatedToSubset { zone: ZoneRef, source: Source, delegated: BTreeSet<String>, name_servers: BTreeSet<String> },
    /// The delegated set mixes some of the zone's name servers with `foreign` ones.
    PartlyDelegated {
        zone: ZoneRef,
        source: Source,
        delegated: BTreeSet<String>,
        name_servers: BTreeSet<String>,
        foreign: BTreeSet<String>,
    },
    /// The domain is delegated to other name servers than the zone's; `matches` is the zone of
    /// this account with that set, if any.
    DelegatedElsewhere {
        zone: ZoneRef,
        source: Source,
        delegated: BTreeSet<String>,
        name_servers: BTreeSet<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        matches: Option<ZoneRef>,
    },
}

/// A hosted zone as findings name it: `Z1 (example.com)`, with `, created by the Route 53
/// registrar` when Route 53 Domains created it at registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
    pub registrar_created: bool,
}

impl fmt::Display for ZoneRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.registrar_created {
            write!(f, "{} ({}, created by the Route 53 registrar)", self.id, self.name)
        } else {
            write!(f, "{} ({})", self.id, self.name)
        }
    }
}

/// Where a delegated set came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Source {
    /// The servers of the parent zone `zone`, over the DNS.
    Parent { zone: String },
    /// The account's own records (`source`: a Route 53 Domains registration, or the NS records in
    /// a parent zone hosted here), read because the DNS could not be reached (`dns_unreachable`).
    Api { source: String, dns_unreachable: String },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Parent { zone } => write!(f, "the parent zone {zone}"),
            Source::Api { source, dns_unreachable } => {
                write!(f, "{source} (from the API: the DNS could not be reached: {dns_unreachable})")
            }
        }
    }
}

impl Source {
    /// The parent zone when it is not a top-level domain: its NS records are then the user's to set.
    fn inner_parent(&self) -> Option<&str> {
        match self {
            Source::Parent { zone } if zone.contains('.') => Some(zone),
            _ => None,
        }
    }

    /// Where to change the name servers of a delegated domain.
    fn where_to_set(&self) -> String {
        match self.inner_parent() {
            Some(p) => format!("in the parent zone {p}"),
            None => "at the registrar".to_owned(),
        }
    }

    /// Where to delegate `apex`, not delegated at all.
    fn where_to_delegate(&self, apex: &str) -> String {
        match self {
            Source::Parent { zone } if zone.contains('.') => format!("in the parent zone {zone}"),
            Source::Parent { zone } => format!("at the registrar of {apex} (the parent zone is {zone})"),
            Source::Api { .. } => "at the registrar or in the parent zone".to_owned(),
        }
    }
}

/// How a domain is missing from its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Absence {
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no NS records.
    NoData,
}

/// What one server of the parent zone answered: `answer` as the evidence writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerAnswer {
    pub server: String,
    pub answer: String,
}

/// `s1 gives referral to {a, b}; s2 gives NXDOMAIN`.
fn summary(answers: &[ServerAnswer]) -> String {
    answers.iter().map(|a| format!("{} gives {}", a.server, a.answer)).collect::<Vec<_>>().join("; ")
}

impl Said {
    /// The finding's sentence.
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::ZoneNotRead { zone_id } => format!("hosted zone `{zone_id}` was not read"),
            Said::ZoneMissing { zone_id, account } => format!(
                "hosted zone `{zone_id}` does not exist in account {account}, so nothing the stack writes to it can be served"
            ),
            Said::ZoneUnread { zone_id, unread } => {
                format!("hosted zone `{zone_id}` was not checked: {}", unread.error)
            }
            Said::RecordOutsideZone { record, zone } => format!(
                "record name `{record}` lies outside hosted zone {zone}, so Route 53 rejects it there and no answer for it can come from this zone"
            ),
            Said::RecordBelowCut { record, cut, zone, name_servers } => format!(
                "record name `{record}` lies at or below the NS cut at `{cut}` inside hosted zone {zone}: Route 53 accepts the record, but resolvers are referred to {} and never see it",
                name_set(name_servers)
            ),
            Said::CutUnread { record, zone_id, unread } => format!(
                "whether record name `{record}` lies below an NS cut in hosted zone {zone_id} was not checked: {}",
                unread.error
            ),
            Said::PrivateZone { zone, .. } => format!(
                "hosted zone {zone} is a private zone: it answers only inside its VPCs and has no delegation, so ACM DNS validation and the internet never see its records"
            ),
            Said::DelegationNotLookedUp { apex } => format!("the delegation of {apex} was not looked up"),
            Said::ParentServesZone { apex, parent, name_servers } => format!(
                "the delegation of {apex} could not be read apart from the zone itself: the servers of the parent zone {parent} also serve {apex} and answer with its own NS set {}",
                name_set(name_servers)
            ),
            Said::DelegationPropagating { zone, parent, answers } => format!(
                "the servers of the parent zone {parent} disagree about the delegation of {} ({}): a change of delegation is still propagating, so some resolvers (ACM among them) may not reach hosted zone {zone} yet",
                zone.name,
                summary(answers)
            ),
            Said::NotDelegatedByAnyServer { zone, parent, answers, name_servers } => format!(
                "hosted zone {zone} is not the zone {} is delegated to: the servers of the parent zone {parent} disagree ({}), and none lists its name servers {}",
                zone.name,
                summary(answers),
                name_set(name_servers)
            ),
            Said::DelegationUnknown { zone, dns_unreachable, api_why } => format!(
                "whether hosted zone {zone} is the zone {} is delegated to was not checked: the DNS could not be reached ({dns_unreachable}), and the account's records do not settle it ({api_why})",
                zone.name
            ),
            Said::DnsUnreachable { apex, why } => {
                format!("the delegation of {apex} was not checked: the DNS could not be reached ({why})")
            }
            Said::NotDelegated { zone, source, absence, .. } => {
                let apex = &zone.name;
                let why = match absence {
                    Absence::NxDomain => format!("{source} answers that {apex} does not exist (NXDOMAIN)"),
                    Absence::NoData => format!("{source} has no NS records for {apex}"),
                };
                format!("{apex} is not delegated at all, so hosted zone {zone} is not consulted by anyone: {why}")
            }
            Said::Delegated { zone, source, delegated } => format!(
                "hosted zone {zone} is the zone {} is delegated to: {source} lists {}, its own name servers",
                zone.name,
                name_set(delegated)
            ),
            Said::DelegatedToSubset { zone, source, delegated, name_servers } => format!(
                "hosted zone {zone} is the zone {} is delegated to, with less redundancy than it could have: {source} lists {}, {} of the zone's {} name servers",
                zone.name,
                name_set(delegated),
                delegated.len(),
                name_servers.len()
            ),
            Said::PartlyDelegated { zone, source, delegated, name_servers, foreign } => format!(
                "{} is only partly delegated to hosted zone {zone}: {source} lists {}; {} is served by {}; resolvers that pick {} get answers from another zone, so records written here (ACM validation among them) are seen only some of the time",
                zone.name,
                name_set(delegated),
                zone.id,
                name_set(name_servers),
                name_set(foreign)
            ),
            Said::DelegatedElsewhere { zone, source, delegated, name_servers, matches } => {
                let tail = match matches {
                    Some(m) => format!("the delegated set matches {m}"),
                    None => format!("no hosted zone named {} in this account has that set", zone.name),
                };
                format!(
                    "hosted zone {zone} is not the zone {} is delegated to: {source} lists {}; {} is served by {}; {tail}",
                    zone.name,
                    name_set(delegated),
                    zone.id,
                    name_set(name_servers)
                )
            }
        }
    }

    /// The fix in words, when there is one.
    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::ZoneNotRead { .. }
            | Said::DelegationNotLookedUp { .. }
            | Said::DnsUnreachable { .. }
            | Said::Delegated { .. }
            | Said::DelegatedToSubset { .. } => None,
            Said::ZoneMissing { .. } => Some("set HostedZone.ZoneId (and the stack's hosted zone) to an existing public zone: `aws route53 list-hosted-zones-by-name --dns-name <domain>` lists them".into()),
            Said::ZoneUnread { unread, .. } | Said::CutUnread { unread, .. } => unread.fix(),
            Said::RecordOutsideZone { record, .. } => Some(format!(
                "write `{record}` into the hosted zone of its own domain, or correct HostedZone.RecordNames and the names the stack writes"
            )),
            Said::RecordBelowCut { record, cut, zone, name_servers } => Some(format!(
                "write `{record}` into the zone that `{cut}` is delegated to (served by {}), or remove the NS records of `{cut}` from {}",
                name_set(name_servers),
                zone.id
            )),
            Said::PrivateZone { zone, public } => {
                let apex = &zone.name;
                Some(match public {
                    Some(p) => format!("use the public hosted zone {p} for {apex}"),
                    None => format!(
                        "create a public hosted zone for {apex}, delegate {apex} to its name servers, and use it"
                    ),
                })
            }
            Said::ParentServesZone { apex, parent, .. } => {
                Some(format!("check the NS records of {apex} in the parent zone {parent} where it is hosted"))
            }
            Said::DelegationPropagating { .. } => Some("wait until every server of the parent zone gives the same name servers (usually minutes, up to the parent's TTL), then deploy again".into()),
            Said::NotDelegatedByAnyServer { zone, parent, name_servers, .. } => Some(format!(
                "set the name servers of {} at the registrar or in the parent zone {parent} to {}, then wait for the parent's servers to agree",
                zone.name,
                name_set(name_servers)
            )),
            Said::DelegationUnknown { .. } => Some("let Preflight's function reach the DNS (UDP and TCP port 53: a NAT gateway, or no VPC), or register the domain or host its parent zone in this account".into()),
            Said::NotDelegated { zone, source, name_servers, .. } => Some(format!(
                "delegate {} to {} {}",
                zone.name,
                name_set(name_servers),
                source.where_to_delegate(&zone.name)
            )),
            Said::PartlyDelegated { zone, source, name_servers, .. } => Some(format!(
                "set the name servers of {} {} to exactly {}",
                zone.name,
                source.where_to_set(),
                name_set(name_servers)
            )),
            Said::DelegatedElsewhere { zone, source, name_servers, matches, .. } => Some(match matches {
                Some(m) => format!(
                    "use hosted zone {} (HostedZone.ZoneId and the zone the stack writes to), or, to keep {}, set the name servers of {} {} to {}",
                    m.id,
                    zone.id,
                    zone.name,
                    source.where_to_set(),
                    name_set(name_servers)
                ),
                None => format!(
                    "set the name servers of {} {} to {}",
                    zone.name,
                    source.where_to_set(),
                    name_set(name_servers)
                ),
            }),
        }
    }
}
