//! Delegation lookup: the NS set a zone's parent publishes, found the way the DNS itself finds it.
//!
//! A walk down from the root servers with recursion off, following referrals, until a server of the
//! parent zone answers the apex's `NS` question with the referral for the apex (docs/aws-facts.md 5). The
//! parent is whatever zone that referral comes from: it is never derived by stripping labels, and a
//! recursive resolver's NS answer (the child's own set, cached, maybe from a private zone) is never
//! taken for the delegation.
//!
//! The DNS wire format is hickory-proto's; the exchange is one UDP datagram per question, retried
//! over TCP when the answer is truncated, each with its own timeout, all within a total budget.
//! Servers that time out, refuse or answer uselessly are skipped and recorded.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

pub use crate::delegation::{Delegation, Lookup, ParentAnswer, name_set, normalise_ns};
use crate::spec::DnsServer;

/// The IANA root servers' IPv4 addresses (https://www.iana.org/domains/root/servers).
pub const IANA_ROOTS: [(&str, Ipv4Addr); 13] = [
    ("a.root-servers.net", Ipv4Addr::new(198, 41, 0, 4)),
    ("b.root-servers.net", Ipv4Addr::new(170, 247, 170, 2)),
    ("c.root-servers.net", Ipv4Addr::new(192, 33, 4, 12)),
    ("d.root-servers.net", Ipv4Addr::new(199, 7, 91, 13)),
    ("e.root-servers.net", Ipv4Addr::new(192, 203, 230, 10)),
    ("f.root-servers.net", Ipv4Addr::new(192, 5, 5, 241)),
    ("g.root-servers.net", Ipv4Addr::new(192, 112, 36, 4)),
    ("h.root-servers.net", Ipv4Addr::new(198, 97, 190, 53)),
    ("i.root-servers.net", Ipv4Addr::new(192, 36, 148, 17)),
    ("j.root-servers.net", Ipv4Addr::new(192, 58, 128, 30)),
    ("k.root-servers.net", Ipv4Addr::new(193, 0, 14, 129)),
    ("l.root-servers.net", Ipv4Addr::new(199, 7, 83, 42)),
    ("m.root-servers.net", Ipv4Addr::new(202, 12, 27, 33)),
];

/// How long one question waits for its answer (UDP, then TCP on truncation).
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a whole lookup may take, address lookups of glueless name servers included.
pub const BUDGET: Duration = Duration::from_secs(10);
/// The parent's servers asked for the final referral, when it has that many.
const PARENT_ANSWERS: usize = 2;
/// Referrals followed in one walk; the DNS has far fewer levels in practice.
const MAX_DEPTH: usize = 16;
/// Nested address lookups for glueless name servers.
const MAX_NESTING: usize = 3;
/// The UDP payload Preflight offers (EDNS), the size DNS flag day 2020 settled on.
const UDP_PAYLOAD: u16 = 1232;

/// A server asked during a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// The server's name, when it came from a referral (roots given by address have none).
    pub name: Option<String>,
    pub addr: SocketAddr,
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} ({})", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// A DNS name as Preflight compares names: lower-case, without the trailing dot (`.` for the root).
pub fn name_text(name: &Name) -> String {
    let text = name.to_lowercase().to_ascii();
    match text.trim_end_matches('.') {
        "" => ".".to_owned(),
        t => t.to_owned(),
    }
}

/// What a reply means for a walk towards `qname`, asked of a server of `zone`.
#[derive(Debug)]
enum Reply {
    /// A referral to `zone`, closer to the name than the zone asked.
    Referral {
        zone: Name,
        ns: Vec<Name>,
        glue: Vec<(Name, IpAddr)>,
    },
    NxDomain,
    NoData,
    /// Authoritative records for the question (or a CNAME for its name).
    Answer(Vec<Record>),
    /// Unusable: refused, server failure, upward referral, a non-authoritative answer.
    Lame(String),
}

/// Reads a reply to `qname qtype` from a server of `zone`.
fn read_reply(msg: &Message, zone: &Name, qname: &Name, qtype: RecordType) -> Reply {
    let meta = &msg.metadata;
    if meta.message_type != MessageType::Response {
        return Reply::Lame("the reply is not a response".into());
    }
    let has_soa = msg.authorities.iter().any(|r| r.record_type() == RecordType::SOA);
    match meta.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain if meta.authoritative || has_soa => return Reply::NxDomain,
        other => return Reply::Lame(format!("{other}")),
    }
    let for_name: Vec<Record> = msg
        .answers
        .iter()
        .filter(|r| r.name.to_lowercase() == qname.to_lowercase())
        .filter(|r| r.record_type() == qtype || r.record_type() == RecordType::CNAME)
        .cloned()
        .collect();
    if !for_name.is_empty() {
        return if meta.authoritative {
            Reply::Answer(for_name)
        } else {
            Reply::Lame("a non-authoritative answer (a resolver, not a server of the zone)".into())
        };
    }
    let ns_owners: Vec<&Record> = msg.authorities.iter().filter(|r| r.record_type() == RecordType::NS).collect();
    if let Some(first) = ns_owners.first() {
        let child = first.name.to_lowercase();
        let below_zone = zone.zone_of(&child) && child.num_labels() > zone.num_labels();
        if below_zone && child.zone_of(&qname.to_lowercase()) && !meta.authoritative {
            let ns: Vec<Name> = ns_owners
                .iter()
                .filter(|r| r.name.to_lowercase() == child)
                .filter_map(|r| match &r.data {
                    RData::NS(n) => Some(n.0.to_lowercase()),
                    _ => None,
                })
                .collect();
            // Glue only from within the referring zone (in bailiwick).
            let glue = msg
                .additionals
                .iter()
                .filter(|r| zone.zone_of(&r.name.to_lowercase()))
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some((r.name.to_lowercase(), IpAddr::V4(a.0))),
                    RData::AAAA(a) => Some((r.name.to_lowercase(), IpAddr::V6(a.0))),
                    _ => None,
                })
                .collect();
            return Reply::Referral { zone: child, ns, glue };
        }
        if !below_zone && !meta.authoritative {
            return Reply::Lame(format!("an upward referral to {}", name_text(&child)));
        }
    }
    if meta.authoritative {
        return Reply::NoData;
    }
    Reply::Lame("neither an answer nor a referral".into())
}

/// A resolver that walks from the roots with recursion off.
#[derive(Clone, Debug)]
pub struct Walker {
    roots: Vec<Server>,
    /// When set, every server of the walk is asked on this port (a test hierarchy on loopback).
    port: Option<u16>,
    query_timeout: Duration,
    budget: Duration,
}

/// The state of one lookup: its deadline, what was skipped, how many questions, and the addresses
/// of glueless name servers found so far.
struct Walk {
    deadline: Instant,
    skipped: Vec<String>,
    queries: usize,
    /// Name servers whose addresses were looked up: what was found (empty when nothing was).
    resolved: HashMap<Name, Vec<IpAddr>>,
    /// Name servers being looked up (a name server named inside the zone it serves, without glue,
    /// would otherwise be looked up through itself).
    resolving: Vec<Name>,
}

/// A server of a zone as the referral to that zone names it. Its addresses are the referral's glue;
/// without glue they are looked up by a walk of their own, and only once the servers before it
/// have failed to give what the walk needs (a parent zone hosted in Route 53 is only partly glued
/// from its TLD: the names of the other top-level domains come without glue).
#[derive(Clone, Debug)]
struct Candidate {
    name: Option<Name>,
    /// `None` until looked up.
    addrs: Option<Vec<IpAddr>>,
}

impl Candidate {
    /// The servers of a referral in the order they are asked: glued names first (IPv4 addresses
    /// before IPv6, as a Lambda function often has no IPv6 egress), in the referral's order, then
    /// the names without glue.
    fn of_referral(ns: &[Name], glue: &[(Name, IpAddr)]) -> Vec<Candidate> {
        let mut glued = Vec::new();
        let mut glueless = Vec::new();
        for n in ns {
            let mut addrs: Vec<IpAddr> = glue.iter().filter(|(g, _)| g == n).map(|(_, ip)| *ip).collect();
            addrs.sort_by_key(|ip| !ip.is_ipv4());
            addrs.dedup();
            if addrs.is_empty() {
                glueless.push(Candidate { name: Some(n.clone()), addrs: None });
            } else {
                glued.push(Candidate { name: Some(n.clone()), addrs: Some(addrs) });
            }
        }
        glued.extend(glueless);
        glued
    }

    fn label(&self) -> String {
        self.name.as_ref().map_or_else(|| "a root server".to_owned(), name_text)
    }
}

impl Walker {
    /// A walker from `roots` (the IANA roots when empty). A port given on any root applies to the
    /// whole walk.
    pub fn new(roots: &[DnsServer]) -> Self {
        let port = roots.iter().find_map(|r| r.port);
        let roots = if roots.is_empty() {
            IANA_ROOTS
                .iter()
                .map(|(n, ip)| Server { name: Some((*n).to_owned()), addr: SocketAddr::new(IpAddr::V4(*ip), 53) })
                .collect()
        } else {
            roots.iter().map(|r| Server { name: None, addr: SocketAddr::new(r.ip, port.unwrap_or(53)) }).collect()
        };
        Self { roots, port, query_timeout: QUERY_TIMEOUT, budget: BUDGET }
    }

    /// Shorter timeouts (tests of silent servers).
    pub fn with_timeouts(mut self, query: Duration, budget: Duration) -> Self {
        self.query_timeout = query;
        self.budget = budget;
        self
    }

    /// The delegation of `apex` (a normalised name such as `example.com`) as its parent publishes it.
    pub async fn delegation(&self, apex: &str) -> Lookup {
        let mut walk = Walk {
            deadline: Instant::now() + self.budget,
            skipped: Vec::new(),
            queries: 0,
            resolved: HashMap::new(),
            resolving: Vec::new(),
        };
        let mut path = Vec::new();
        let delegation = match Name::from_ascii(format!("{}.", apex.trim_end_matches('.'))) {
            Ok(name) => self.walk_delegation(&name.to_lowercase(), &mut walk, &mut path).await,
            Err(e) => Delegation::Unreachable { why: format!("`{apex}` is not a DNS name: {e}") },
        };
        Lookup { delegation, path, skipped: walk.skipped, queries: walk.queries }
    }

    /// The root servers, as candidates with their addresses.
    fn root_candidates(&self) -> Vec<Candidate> {
        self.roots
            .iter()
            .map(|r| Candidate {
                name: r.name.as_deref().and_then(|n| Name::from_ascii(format!("{n}.")).ok()),
                addrs: Some(vec![r.addr.ip()]),
            })
            .collect()
    }

    /// The servers of `candidate`: its glue, else its addresses looked up now (once per walk).
    async fn servers(&self, candidate: &mut Candidate, walk: &mut Walk, nesting: usize) -> Vec<Server> {
        let port = self.port.unwrap_or(53);
        if candidate.addrs.is_none() {
            let found = match &candidate.name {
                Some(name) => match walk.resolved.get(name) {
                    Some(known) => known.clone(),
                    None => {
                        let found = Box::pin(self.addresses(name, walk, nesting)).await.unwrap_or_default();
                        if found.is_empty() && Instant::now() < walk.deadline {
                            walk.skipped.push(format!("{}: no address could be found for it", name_text(name)));
                        }
                        walk.resolved.insert(name.clone(), found.clone());
                        found
                    }
                },
                None => Vec::new(),
            };
            candidate.addrs = Some(found);
        }
        let name = candidate.name.as_ref().map(name_text);
        candidate
            .addrs
            .iter()
            .flatten()
            .map(|ip| Server { name: name.clone(), addr: SocketAddr::new(*ip, port) })
            .collect()
    }

    /// Walks from the roots to the zone that delegates `apex`, then asks that zone's servers, one
    /// name server after another, until [`PARENT_ANSWERS`] of them have answered or every one was
    /// tried. A silent or lame server is skipped; a glueless one is looked up only when its turn
    /// comes. One answer is taken for the parent's only when no other server of the zone could be
    /// asked: two that disagree are always both heard when both can be reached.
    async fn walk_delegation(&self, apex: &Name, walk: &mut Walk, path: &mut Vec<String>) -> Delegation {
        let mut zone = Name::root();
        let mut candidates = self.root_candidates();
        'levels: for _ in 0..MAX_DEPTH {
            path.push(name_text(&zone));
            let mut finals: Vec<(String, ParentAnswer)> = Vec::new();
            let mut next: Option<(Name, Vec<Candidate>)> = None;
            let mut reachable = false;
            'servers: for candidate in &mut candidates {
                if Instant::now() >= walk.deadline {
                    walk.skipped.push(format!(
                        "{} and the servers after it: not asked, the lookup's budget was spent",
                        candidate.label()
                    ));
                    break;
                }
                // Each name server is heard once: its other addresses are tried only when one fails.
                for server in self.servers(candidate, walk, 1).await {
                    reachable = true;
                    let Some(msg) = self.ask(&server, apex, RecordType::NS, walk).await else { continue };
                    let answer = match read_reply(&msg, &zone, apex, RecordType::NS) {
                        Reply::Referral { zone: child, ns, .. } if child == *apex => {
                            ParentAnswer::Referral(ns.iter().map(name_text).collect())
                        }
                        Reply::Referral { zone: child, ns, glue } => {
                            if finals.is_empty() {
                                next = Some((child, Candidate::of_referral(&ns, &glue)));
                                break 'servers;
                            }
                            walk.skipped.push(format!(
                                "{server}: a referral to {} where other servers of {} answered for {}",
                                name_text(&child),
                                name_text(&zone),
                                name_text(apex)
                            ));
                            continue 'servers;
                        }
                        Reply::NxDomain => ParentAnswer::NxDomain,
                        Reply::NoData => ParentAnswer::NoData,
                        Reply::Answer(records) => {
                            let ns: BTreeSet<String> = records
                                .iter()
                                .filter_map(|r| match &r.data {
                                    RData::NS(n) => Some(name_text(&n.0)),
                                    _ => None,
                                })
                                .collect();
                            if ns.is_empty() { ParentAnswer::NoData } else { ParentAnswer::ChildAnswer(ns) }
                        }
                        Reply::Lame(why) => {
                            walk.skipped.push(format!("{server}: {why}"));
                            continue;
                        }
                    };
                    finals.push((server.to_string(), answer));
                    if finals.len() >= PARENT_ANSWERS {
                        break 'servers;
                    }
                    continue 'servers;
                }
            }
            if let Some((child, found)) = next {
                zone = child;
                candidates = found;
                continue 'levels;
            }
            let parent = name_text(&zone);
            let Some((_, first)) = finals.first() else {
                let names = || candidates.iter().map(Candidate::label).collect::<Vec<_>>().join(", ");
                return Delegation::Unreachable {
                    why: if !reachable && Instant::now() < walk.deadline {
                        format!("no address could be found for the name servers of {parent} ({})", names())
                    } else if Instant::now() >= walk.deadline {
                        format!("the lookup ran out of its {} s budget at zone {parent}", self.budget.as_secs())
                    } else {
                        format!("no server of zone {parent} gave a usable answer")
                    },
                };
            };
            if finals.iter().all(|(_, a)| a == first) {
                let answer = first.clone();
                return Delegation::Agreed { parent, answer, servers: finals.into_iter().map(|(s, _)| s).collect() };
            }
            return Delegation::Disagree { parent, answers: finals };
        }
        Delegation::Unreachable { why: format!("more than {MAX_DEPTH} referrals") }
    }

    /// The IPv4 addresses of a name server without glue, by its own walk from the roots; one
    /// usable answer is enough. `None` when none could be found.
    async fn addresses(&self, target: &Name, walk: &mut Walk, nesting: usize) -> Option<Vec<IpAddr>> {
        if nesting > MAX_NESTING || walk.resolving.contains(target) {
            return None;
        }
        walk.resolving.push(target.clone());
        let found = self.address_walk(target, walk, nesting).await;
        walk.resolving.retain(|n| n != target);
        found
    }

    async fn address_walk(&self, target: &Name, walk: &mut Walk, nesting: usize) -> Option<Vec<IpAddr>> {
        let mut qname = target.clone();
        let mut zone = Name::root();
        let mut candidates = self.root_candidates();
        for _ in 0..MAX_DEPTH {
            let mut next = None;
            'servers: for candidate in &mut candidates {
                if Instant::now() >= walk.deadline {
                    return None;
                }
                for server in self.servers(candidate, walk, nesting + 1).await {
                    let Some(msg) = self.ask(&server, &qname, RecordType::A, walk).await else { continue };
                    match read_reply(&msg, &zone, &qname, RecordType::A) {
                        Reply::Answer(records) => {
                            let ips: Vec<IpAddr> = records
                                .iter()
                                .filter_map(|r| match &r.data {
                                    RData::A(a) => Some(IpAddr::V4(a.0)),
                                    _ => None,
                                })
                                .collect();
                            if !ips.is_empty() {
                                return Some(ips);
                            }
                            // A CNAME: start again from the roots with its target.
                            let cname = records.iter().find_map(|r| match &r.data {
                                RData::CNAME(c) => Some(c.0.to_lowercase()),
                                _ => None,
                            })?;
                            next = Some((Name::root(), self.root_candidates(), Some(cname)));
                            break 'servers;
                        }
                        Reply::Referral { zone: child, ns, glue } => {
                            next = Some((child, Candidate::of_referral(&ns, &glue), None));
                            break 'servers;
                        }
                        Reply::NxDomain | Reply::NoData => return None,
                        Reply::Lame(why) => walk.skipped.push(format!("{server}: {why}")),
                    }
                }
            }
            let (z, c, renamed) = next?;
            zone = z;
            candidates = c;
            if let Some(n) = renamed {
                qname = n;
            }
        }
        None
    }

    /// One question to one server: UDP, then TCP when the answer is truncated. `None` (recorded in
    /// `walk.skipped`) when the server cannot be used.
    async fn ask(&self, server: &Server, qname: &Name, qtype: RecordType, walk: &mut Walk) -> Option<Message> {
        let now = Instant::now();
        if now >= walk.deadline {
            walk.skipped.push(format!("{server}: not asked, the lookup's budget was spent"));
            return None;
        }
        let mut query = Message::new(rand_id(), MessageType::Query, OpCode::Query);
        query.metadata.recursion_desired = false;
        query.add_query(Query::query(qname.clone(), qtype));
        let mut edns = Edns::new();
        edns.set_max_payload(UDP_PAYLOAD);
        query.edns = Some(edns);
        let Ok(bytes) = query.to_vec() else {
            walk.skipped.push(format!("{server}: the question could not be encoded"));
            return None;
        };
        let limit = Ord::min(self.query_timeout, walk.deadline.saturating_duration_since(now));
        walk.queries += 1;
        let reply = match tokio::time::timeout(limit, udp_exchange(server.addr, &bytes, &query)).await {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                walk.skipped.push(format!("{server}: {e}"));
                return None;
            }
            Err(_) => {
                walk.skipped.push(format!("{server}: no answer within {} ms", limit.as_millis()));
                return None;
            }
        };
        if !reply.metadata.truncation {
            return Some(reply);
        }
        walk.queries += 1;
        let limit = Ord::min(self.query_timeout, walk.deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(limit, tcp_exchange(server.addr, &bytes, &query)).await {
            Ok(Ok(m)) => Some(m),
            Ok(Err(e)) => {
                walk.skipped.push(format!("{server}: truncated over UDP, and over TCP: {e}"));
                None
            }
            Err(_) => {
                walk.skipped
                    .push(format!("{server}: truncated over UDP, and no TCP answer within {} ms", limit.as_millis()));
                None
            }
        }
    }
}

/// A query id: the low bits of the clock mixed with a counter (ids only pair answers to questions
/// here; nothing is cached, so a spoofed answer could at most fail one run).
fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let mixed = nanos.wrapping_mul(2_654_435_761).wrapping_add(COUNTER.fetch_add(40_503, Ordering::Relaxed));
    (mixed >> 16) as u16
}

/// Whether `reply` answers `query` (same id, a response, the same question).
fn pairs(reply: &Message, query: &Message) -> bool {
    reply.metadata.id == query.metadata.id
        && reply.metadata.message_type == MessageType::Response
        && (reply.queries.is_empty() && reply.metadata.response_code != ResponseCode::NoError
            || reply.queries.first().map(|q| (q.name().to_lowercase(), q.query_type()))
                == query.queries.first().map(|q| (q.name().to_lowercase(), q.query_type())))
}

async fn udp_exchange(addr: SocketAddr, bytes: &[u8], query: &Message) -> Result<Message, String> {
    let local: SocketAddr =
        if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { "[::]:0".parse().map_err(|_| "bad address")? };
    let socket = UdpSocket::bind(local).await.map_err(|e| format!("UDP socket: {e}"))?;
    socket.connect(addr).await.map_err(|e| format!("UDP connect: {e}"))?;
    socket.send(bytes).await.map_err(|e| format!("UDP send: {e}"))?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket.recv(&mut buf).await.map_err(|e| format!("UDP receive: {e}"))?;
        // Anything that does not pair with the question is ignored; the timeout bounds the wait.
        if let Ok(reply) = Message::from_vec(buf.get(..n).unwrap_or_default()) {
            if pairs(&reply, query) {
                return Ok(reply);
            }
        }
    }
}

async fn tcp_exchange(addr: SocketAddr, bytes: &[u8], query: &Message) -> Result<Message, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("TCP connect: {e}"))?;
    let len = u16::try_from(bytes.len()).map_err(|_| "the question is too long")?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(|e| format!("TCP send: {e}"))?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.map_err(|e| format!("TCP receive: {e}"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.map_err(|e| format!("TCP receive: {e}"))?;
    let reply = Message::from_vec(&buf).map_err(|e| format!("an unreadable TCP answer: {e}"))?;
    if pairs(&reply, query) { Ok(reply) } else { Err("a TCP answer to another question".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, NS, SOA};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn response(aa: bool) -> Message {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.authoritative = aa;
        m
    }

    fn ns(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 172_800, RData::NS(NS(name(target))))
    }

    #[test]
    fn a_tld_referral_is_read_from_the_authority_section_with_in_bailiwick_glue() {
        let mut m = response(false);
        m.add_authority(ns("example.com.", "ns1.example.com."));
        m.add_authority(ns("example.com.", "NS-1.AWSDNS-1.NET."));
        m.add_additional(Record::from_rdata(name("ns1.example.com."), 60, RData::A(A::new(192, 0, 2, 1))));
        m.add_additional(Record::from_rdata(name("evil.org."), 60, RData::A(A::new(192, 0, 2, 66))));
        match read_reply(&m, &name("com."), &name("example.com."), RecordType::NS) {
            Reply::Referral { zone, ns, glue } => {
                assert_eq!(name_text(&zone), "example.com");
                assert_eq!(ns.iter().map(name_text).collect::<Vec<_>>(), ["ns1.example.com", "ns-1.awsdns-1.net"]);
                assert_eq!(glue.len(), 1, "glue outside the referring zone is ignored");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_upward_referral_and_a_resolver_answer_are_lame() {
        let mut up = response(false);
        up.add_authority(ns(".", "a.root-servers.net."));
        assert!(matches!(read_reply(&up, &name("com."), &name("example.com."), RecordType::NS), Reply::Lame(_)));
        let mut resolver = response(false);
        resolver.add_answer(ns("example.com.", "ns1.example.net."));
        assert!(matches!(
            read_reply(&resolver, &name("com."), &name("example.com."), RecordType::NS),
            Reply::Lame(w) if w.contains("non-authoritative")
        ));
    }

    #[test]
    fn nxdomain_and_nodata_need_authority() {
        let soa = Record::from_rdata(
            name("com."),
            900,
            RData::SOA(SOA::new(
                name("a.gtld-servers.net."),
                name("nstld.verisign-grs.com."),
                1,
                1800,
                900,
                604_800,
                86_400,
            )),
        );
        let mut nx = response(true);
        nx.metadata.response_code = ResponseCode::NXDomain;
        nx.add_authority(soa.clone());
        assert!(matches!(read_reply(&nx, &name("com."), &name("example.com."), RecordType::NS), Reply::NxDomain));
        let mut nodata = response(true);
        nodata.add_authority(soa);
        assert!(matches!(read_reply(&nodata, &name("com."), &name("example.com."), RecordType::NS), Reply::NoData));
        let mut refused = response(false);
        refused.metadata.response_code = ResponseCode::Refused;
        assert!(matches!(read_reply(&refused, &name("com."), &name("example.com."), RecordType::NS), Reply::Lame(_)));
    }

    #[test]
    fn names_compare_lower_case_without_the_trailing_dot() {
        assert_eq!(name_text(&name("NS-1.AwsDns-1.CO.UK.")), "ns-1.awsdns-1.co.uk");
        assert_eq!(name_text(&Name::root()), ".");
        assert_eq!(normalise_ns("NS-2.awsdns-2.org."), "ns-2.awsdns-2.org");
    }

    #[test]
    fn a_port_on_one_root_applies_to_the_whole_walk() {
        let roots = [
            DnsServer { ip: "127.0.0.10".parse().unwrap(), port: Some(5300) },
            DnsServer { ip: "127.0.0.11".parse().unwrap(), port: None },
        ];
        let w = Walker::new(&roots);
        assert_eq!(w.port, Some(5300));
        assert!(w.roots.iter().all(|s| s.addr.port() == 5300));
        assert_eq!(Walker::new(&[]).roots.len(), 13);
    }
}
