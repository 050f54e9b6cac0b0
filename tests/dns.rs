//! The delegation walk against a DNS hierarchy on loopback: root, TLD and parent zone servers
//! served by a Python fake (`tests/support/dns_local.py`, which can also truncate, fail or refer
//! upwards) and, for the walks marked `fake_and_nsd!`, by real NSD processes from Debian
//! (`tests/support/dns_nsd.py`) serving the same zones.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use preflight::dns::{Delegation, Lookup, ParentAnswer, Walker};
use preflight::spec::DnsServer;
use serde_json::{Value, json};
use support::DnsHierarchy;

const NS1: &[&str] =
    &["ns-1.awsdns-01.com", "ns-514.awsdns-02.net", "ns-1027.awsdns-03.org", "ns-1540.awsdns-04.co.uk"];

/// Starts a hierarchy: the Python fake (`DnsHierarchy::start`) or real NSD processes
/// (`DnsHierarchy::start_nsd`).
type Start = fn(&Value) -> DnsHierarchy;

/// A test of the walk run twice: against the Python fake and against NSD serving the same
/// hierarchy (tests/support/dns_nsd.py).
macro_rules! fake_and_nsd {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn fake() {
                super::$name(super::DnsHierarchy::start).await
            }
            #[tokio::test]
            async fn nsd() {
                super::$name(super::DnsHierarchy::start_nsd).await
            }
        }
    )*};
}

fake_and_nsd!(
    a_tld_referral_gives_the_delegation_asked_of_two_parent_servers,
    nxdomain_and_nodata_at_the_parent_mean_not_delegated,
    parent_servers_that_disagree_are_reported_with_each_answer,
    a_glueless_parent_whose_first_server_is_silent_is_asked_through_its_second,
    a_glueless_parent_whose_servers_disagree_is_never_a_pass_on_one_answer,
    a_partly_glued_parent_has_its_unglued_server_looked_up_and_heard,
    a_glueless_server_is_looked_up_only_when_its_turn_comes,
    name_servers_without_any_address_make_the_lookup_unreachable_saying_so,
    the_parent_is_found_by_walking_through_a_glueless_delegation,
);

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Root (127.0.0.10, .11) -> com (127.0.0.20, .21, .22) -> example.com (127.0.0.30, .31), with
/// `com` delegating `example.com` to its own servers and `delegated.com` to NS1.
fn config(com_extra: Value, zones_extra: Vec<Value>, behaviour: Value, overrides: Value) -> Value {
    let mut com_delegations = json!({
        "example.com": {"ns": ["ns1.example.com", "ns2.example.com"],
                        "glue": {"ns1.example.com": ["127.0.0.30"], "ns2.example.com": ["127.0.0.31"]}},
        "delegated.com": {"ns": NS1},
    });
    com_delegations.as_object_mut().unwrap().extend(com_extra.as_object().unwrap().clone());
    let mut zones = vec![
        json!({"name": ".", "servers": [{"name": "a.root.test", "ip": "127.0.0.10"}, {"name": "b.root.test", "ip": "127.0.0.11"}],
               "delegations": {
                   "com": {"ns": ["a.gtld.test", "b.gtld.test", "c.gtld.test"],
                           "glue": {"a.gtld.test": ["127.0.0.20"], "b.gtld.test": ["127.0.0.21"], "c.gtld.test": ["127.0.0.22"]}},
                   "net": {"ns": ["a.net.test"], "glue": {"a.net.test": ["127.0.0.40"]}}}}),
        json!({"name": "com", "servers": [{"name": "a.gtld.test", "ip": "127.0.0.20"}, {"name": "b.gtld.test", "ip": "127.0.0.21"},
                                          {"name": "c.gtld.test", "ip": "127.0.0.22"}],
               "delegations": com_delegations}),
        json!({"name": "example.com", "servers": [{"name": "ns1.example.com", "ip": "127.0.0.30"}, {"name": "ns2.example.com", "ip": "127.0.0.31"}],
               "delegations": {"app.example.com": {"ns": NS1}},
               "records": {"www.example.com": {"A": ["192.0.2.80"]}}}),
    ];
    zones.extend(zones_extra);
    json!({"zones": zones, "behaviour": behaviour, "overrides": overrides})
}

async fn lookup(dns: &DnsHierarchy, roots: &[&str], apex: &str) -> Lookup {
    let roots: Vec<DnsServer> =
        roots.iter().map(|ip| DnsServer { ip: ip.parse().unwrap(), port: Some(dns.port) }).collect();
    Walker::new(&roots).with_timeouts(Duration::from_millis(400), Duration::from_secs(5)).delegation(apex).await
}

fn agreed(l: &Lookup) -> (&str, &ParentAnswer, &[String]) {
    match &l.delegation {
        Delegation::Agreed { parent, answer, servers } => (parent, answer, servers),
        other => panic!("expected agreement, got {other:?} ({l:?})"),
    }
}

async fn a_tld_referral_gives_the_delegation_asked_of_two_parent_servers(start: Start) {
    let dns = start(&config(json!({}), vec![], json!({}), json!({})));
    let l = lookup(&dns, &["127.0.0.10", "127.0.0.11"], "delegated.com").await;
    let (parent, answer, servers) = agreed(&l);
    assert_eq!(parent, "com");
    assert_eq!(*answer, ParentAnswer::Referral(set(NS1)));
    assert_eq!(servers.len(), 2, "two servers of the parent asked: {servers:?}");
    assert_eq!(l.path, [".", "com"]);
    assert!(l.skipped.is_empty(), "{:?}", l.skipped);
    assert_eq!(l.queries, 3);
}

#[tokio::test]
async fn silent_refusing_and_truncating_servers_are_skipped_or_retried_over_tcp() {
    let behaviour = json!({"127.0.0.10": "silent", "127.0.0.20": "refused", "127.0.0.21": "truncate"});
    let dns = DnsHierarchy::start(&config(json!({}), vec![], behaviour, json!({})));
    let l = lookup(&dns, &["127.0.0.10", "127.0.0.11"], "delegated.com").await;
    let (_, answer, servers) = agreed(&l);
    assert_eq!(*answer, ParentAnswer::Referral(set(NS1)));
    assert!(servers[0].starts_with("b.gtld.test (127.0.0.21:"), "the truncated answer was taken over TCP: {servers:?}");
    assert!(servers[1].starts_with("c.gtld.test (127.0.0.22:"));
    let skipped = l.skipped.join("\n");
    assert!(skipped.contains("127.0.0.10:") && skipped.contains("no answer within 400 ms"), "{skipped}");
    assert!(skipped.contains("a.gtld.test (127.0.0.20:") && skipped.contains("Refused"), "{skipped}");
    // silent root, second root, refused, truncated + TCP, third com server.
    assert_eq!(l.queries, 6);
}

async fn the_parent_is_found_by_walking_through_a_glueless_delegation(start: Start) {
    // `com` delegates example.org-style: example.com's servers named in net, without glue.
    let com = json!({"example.com": {"ns": ["ns1.provider.net", "ns2.provider.net"]}});
    let net = json!({"name": "net", "servers": [{"name": "a.net.test", "ip": "127.0.0.40"}],
                     "records": {"ns1.provider.net": {"A": ["127.0.0.30"]}, "ns2.provider.net": {"A": ["127.0.0.31"]}}});
    let dns = start(&config(com, vec![net], json!({}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    let (parent, answer, servers) = agreed(&l);
    assert_eq!(parent, "example.com", "the parent comes from the referrals, not from the labels");
    assert_eq!(*answer, ParentAnswer::Referral(set(NS1)));
    assert!(servers[0].starts_with("ns1.provider.net (127.0.0.30:"), "{servers:?}");
    assert_eq!(l.path, [".", "com", "example.com"]);
}

async fn nxdomain_and_nodata_at_the_parent_mean_not_delegated(start: Start) {
    let dns = start(&config(json!({}), vec![], json!({}), json!({})));
    let nx = lookup(&dns, &["127.0.0.10"], "missing.com").await;
    assert_eq!(agreed(&nx).1, &ParentAnswer::NxDomain);
    let nodata = lookup(&dns, &["127.0.0.10"], "www.example.com").await;
    let (parent, answer, _) = agreed(&nodata);
    assert_eq!((parent, answer), ("example.com", &ParentAnswer::NoData));
}

async fn parent_servers_that_disagree_are_reported_with_each_answer(start: Start) {
    let overrides = json!({"127.0.0.21": {"delegated.com": {"ns": ["ns-9.awsdns-09.com", "ns-10.awsdns-10.net"]}}});
    let dns = start(&config(json!({}), vec![], json!({}), overrides));
    let l = lookup(&dns, &["127.0.0.10"], "delegated.com").await;
    match &l.delegation {
        Delegation::Disagree { parent, answers } => {
            assert_eq!(parent, "com");
            assert_eq!(answers.len(), 2);
            assert_eq!(answers[0].1, ParentAnswer::Referral(set(NS1)));
            assert_eq!(answers[1].1, ParentAnswer::Referral(set(&["ns-9.awsdns-09.com", "ns-10.awsdns-10.net"])));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_parent_server_that_also_serves_the_child_gives_the_childs_own_set() {
    let child = json!({"name": "app.example.com", "servers": [{"name": "ns1.example.com", "ip": "127.0.0.30"},
                                                              {"name": "ns2.example.com", "ip": "127.0.0.31"}]});
    let dns = DnsHierarchy::start(&config(json!({}), vec![child], json!({}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    assert_eq!(agreed(&l).1, &ParentAnswer::ChildAnswer(set(&["ns1.example.com", "ns2.example.com"])));
}

#[tokio::test]
async fn silence_everywhere_is_unreachable_within_the_budget() {
    let dns = DnsHierarchy::start(&config(
        json!({}),
        vec![],
        json!({"127.0.0.10": "silent", "127.0.0.11": "silent"}),
        json!({}),
    ));
    let started = Instant::now();
    let l = lookup(&dns, &["127.0.0.10", "127.0.0.11"], "delegated.com").await;
    // Two silent roots at 400 ms each: the per-question timeout ends the wait, not the 5 s budget.
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    match &l.delegation {
        Delegation::Unreachable { why } => assert_eq!(why, "no server of zone . gave a usable answer"),
        other => panic!("{other:?}"),
    }
    assert_eq!(l.skipped.len(), 2);
}

#[tokio::test]
async fn an_upward_referral_from_a_lame_server_is_skipped() {
    let dns = DnsHierarchy::start(&config(json!({}), vec![], json!({"127.0.0.20": "upward"}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "delegated.com").await;
    assert_eq!(agreed(&l).1, &ParentAnswer::Referral(set(NS1)));
    assert!(l.skipped.iter().any(|s| s.contains("upward referral")), "{:?}", l.skipped);
}

/// `com` delegates example.com to two servers named in `net`, without glue (the parent zone
/// example.com is glueless); `app.example.com` is delegated by example.com.
fn glueless_parent(behaviour: Value, overrides: Value) -> Value {
    let com = json!({"example.com": {"ns": ["ns1.provider.net", "ns2.provider.net"]}});
    let net = json!({"name": "net", "servers": [{"name": "a.net.test", "ip": "127.0.0.40"}],
                     "records": {"ns1.provider.net": {"A": ["127.0.0.30"]}, "ns2.provider.net": {"A": ["127.0.0.31"]}}});
    config(com, vec![net], behaviour, overrides)
}

/// As a parent hosted in Route 53 looks from its TLD: one server glued (its name is in `com`), the
/// other named in `net` without glue.
fn partly_glued_parent(behaviour: Value, overrides: Value) -> Value {
    let com = json!({"example.com": {"ns": ["ns-1.awsdns-01.com", "ns-2.awsdns-02.net"],
                                     "glue": {"ns-1.awsdns-01.com": ["127.0.0.30"]}}});
    let net = json!({"name": "net", "servers": [{"name": "a.net.test", "ip": "127.0.0.40"}],
                     "records": {"ns-2.awsdns-02.net": {"A": ["127.0.0.31"]}}});
    config(com, vec![net], behaviour, overrides)
}

const OTHER: &[&str] = &["ns-9.awsdns-09.com", "ns-10.awsdns-10.net"];

fn disagree(l: &Lookup) -> &[(String, ParentAnswer)] {
    match &l.delegation {
        Delegation::Disagree { answers, .. } => answers,
        other => panic!("expected disagreement, got {other:?} ({l:?})"),
    }
}

async fn a_glueless_parent_whose_first_server_is_silent_is_asked_through_its_second(start: Start) {
    let dns = start(&glueless_parent(json!({"127.0.0.30": "silent"}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    let (parent, answer, servers) = agreed(&l);
    assert_eq!(parent, "example.com");
    assert_eq!(*answer, ParentAnswer::Referral(set(NS1)));
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert!(servers[0].starts_with("ns2.provider.net (127.0.0.31:"), "{servers:?}");
    assert!(l.skipped.iter().any(|s| s.starts_with("ns1.provider.net (127.0.0.30:") && s.contains("no answer")));
}

async fn a_glueless_parent_whose_servers_disagree_is_never_a_pass_on_one_answer(start: Start) {
    let overrides = json!({"127.0.0.31": {"app.example.com": {"ns": OTHER}}});
    let dns = start(&glueless_parent(json!({}), overrides));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    let answers = disagree(&l);
    assert_eq!(answers[0].1, ParentAnswer::Referral(set(NS1)));
    assert_eq!(answers[1].1, ParentAnswer::Referral(set(OTHER)));
    assert!(answers[1].0.starts_with("ns2.provider.net (127.0.0.31:"), "{answers:?}");
}

async fn a_partly_glued_parent_has_its_unglued_server_looked_up_and_heard(start: Start) {
    let overrides = json!({"127.0.0.31": {"app.example.com": {"ns": OTHER}}});
    let dns = start(&partly_glued_parent(json!({}), overrides));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    let answers = disagree(&l);
    assert!(answers[0].0.starts_with("ns-1.awsdns-01.com (127.0.0.30:"), "{answers:?}");
    assert!(answers[1].0.starts_with("ns-2.awsdns-02.net (127.0.0.31:"), "{answers:?}");
}

async fn a_glueless_server_is_looked_up_only_when_its_turn_comes(start: Start) {
    // Both of com's servers for example.com glued: the net zone is never asked.
    let dns = start(&config(json!({}), vec![], json!({}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    assert_eq!(agreed(&l).2.len(), 2);
    // root, com, then two servers of example.com.
    assert_eq!(l.queries, 4, "{l:?}");
    // Partly glued, the glued server lame: the other is looked up through net (root, net) and heard.
    let dns = start(&partly_glued_parent(json!({"127.0.0.30": "refused"}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    let (_, answer, servers) = agreed(&l);
    assert_eq!(*answer, ParentAnswer::Referral(set(NS1)));
    assert!(servers[0].starts_with("ns-2.awsdns-02.net (127.0.0.31:"), "{servers:?}");
    // root, com, the refused server, root and net for the address, the second server.
    assert_eq!(l.queries, 6, "{l:?}");
}

async fn name_servers_without_any_address_make_the_lookup_unreachable_saying_so(start: Start) {
    let com = json!({"example.com": {"ns": ["ns1.nowhere.net", "ns2.nowhere.net"]}});
    let net = json!({"name": "net", "servers": [{"name": "a.net.test", "ip": "127.0.0.40"}]});
    let dns = start(&config(com, vec![net], json!({}), json!({})));
    let l = lookup(&dns, &["127.0.0.10"], "app.example.com").await;
    match &l.delegation {
        Delegation::Unreachable { why } => assert_eq!(
            why,
            "no address could be found for the name servers of example.com (ns1.nowhere.net, ns2.nowhere.net)"
        ),
        other => panic!("{other:?}"),
    }
}
