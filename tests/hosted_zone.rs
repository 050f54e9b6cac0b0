//! The hosted zone check end to end: the `preflight` binary against moto (Route 53 and Route 53
//! Domains through the real SDK clients, corrected by the launcher to give each zone its own name
//! servers) and a fake DNS hierarchy on loopback. One test per outcome; each uses domains of its
//! own in the shared moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use serde_json::{Value, json};
use support::DnsHierarchy;

/// A zone as created: its id and name servers.
struct Zone {
    id: String,
    ns: Vec<String>,
}

fn zones(actions: Value) -> Vec<Zone> {
    zones_in(support::moto(), actions)
}

/// As [`zones`], in the local AWS at `url`.
fn zones_in(url: &str, actions: Value) -> Vec<Zone> {
    support::route53(url, &actions)
        .as_array()
        .unwrap()
        .iter()
        .map(|z| Zone {
            id: z["id"].as_str().unwrap_or_default().to_owned(),
            ns: z["ns"]
                .as_array()
                .map(|a| a.iter().map(|n| n.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// Root 127.0.0.10 -> com 127.0.0.20, 127.0.0.21, with `com` delegating as given.
fn hierarchy(delegations: Value, overrides: Value, behaviour: Value) -> DnsHierarchy {
    DnsHierarchy::start(&json!({
        "zones": [
            {"name": ".", "servers": [{"name": "a.root.test", "ip": "127.0.0.10"}],
             "delegations": {"com": {"ns": ["a.gtld.test", "b.gtld.test"],
                                     "glue": {"a.gtld.test": ["127.0.0.20"], "b.gtld.test": ["127.0.0.21"]}}}},
            {"name": "com", "servers": [{"name": "a.gtld.test", "ip": "127.0.0.20"}, {"name": "b.gtld.test", "ip": "127.0.0.21"}],
             "delegations": delegations},
        ],
        "overrides": overrides,
        "behaviour": behaviour,
    }))
}

/// Runs `preflight check` on a HostedZone spec; returns the exit code and the JSON report.
fn check(zone_id: &str, records: &[&str], dns: &DnsHierarchy) -> (i32, Value) {
    let spec = json!({"HostedZone": {"ZoneId": zone_id, "RecordNames": records},
                      "Options": {"DnsRootServers": dns.roots(&["127.0.0.10"])}});
    let path = std::env::temp_dir().join(format!("preflight-hz-{}-{zone_id}.json", std::process::id()));
    std::fs::write(&path, spec.to_string()).unwrap();
    support::check_json(support::moto(), &["--spec", path.to_str().unwrap()], &[])
}

/// The one finding about `subject`.
fn finding<'a>(report: &'a Value, subject: &str) -> &'a Value {
    let all = report["findings"].as_array().unwrap();
    let mut it = all.iter().filter(|f| f["subject"] == subject);
    let f = it.next().unwrap_or_else(|| panic!("no finding for {subject} in {report:#}"));
    assert!(it.next().is_none(), "one finding for {subject}: {report:#}");
    f
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn braces(ns: &[String]) -> String {
    let mut v = ns.to_vec();
    v.sort();
    format!("{{{}}}", v.join(", "))
}

#[test]
fn story_3_the_duplicate_zone_fails_and_the_registrar_zone_passes() {
    let z = zones(json!([{"register": "story3-shop.com"}, {"zone": "story3-shop.com"}]));
    let (registrar, duplicate) = (&z[0], &z[1]);
    let dns = hierarchy(json!({"story3-shop.com": {"ns": registrar.ns}}), json!({}), json!({}));

    let (code, report) = check(&duplicate.id, &["_0a1b2c.story3-shop.com"], &dns);
    assert_eq!(code, 1, "{report:#}");
    let f = finding(&report, &duplicate.id);
    assert_eq!(f["status"], "fail");
    assert_eq!(
        text(&f["message"]),
        format!(
            "hosted zone {} (story3-shop.com) is not the zone story3-shop.com is delegated to: the parent zone com lists {}; {} is served by {}; the delegated set matches {} (story3-shop.com, created by the Route 53 registrar)",
            duplicate.id,
            braces(&registrar.ns),
            duplicate.id,
            braces(&duplicate.ns),
            registrar.id
        )
    );
    assert!(text(&f["fix"]).starts_with(&format!("use hosted zone {}", registrar.id)), "{f:#}");
    assert!(f["evidence"][0].as_str().unwrap().starts_with("parent zone com (a.gtld.test (127.0.0.20:"), "{f:#}");

    let (code, report) = check(&registrar.id, &["_0a1b2c.story3-shop.com"], &dns);
    assert_eq!(code, 0, "{report:#}");
    let f = finding(&report, &registrar.id);
    assert_eq!(f["status"], "pass");
    assert!(text(&f["message"]).contains("is the zone story3-shop.com is delegated to"), "{f:#}");
    assert_eq!(report["summary"], "0 failed, 0 unknown, 1 passed");
}

#[test]
fn several_zones_in_one_run_are_each_judged_on_their_own() {
    let z = zones(json!([{"register": "two-a-shop.com"}, {"zone": "two-a-shop.com"}, {"zone": "two-b-shop.com"}]));
    let (registrar, duplicate, other) = (&z[0], &z[1], &z[2]);
    let dns = hierarchy(
        json!({"two-a-shop.com": {"ns": registrar.ns}, "two-b-shop.com": {"ns": other.ns}}),
        json!({}),
        json!({}),
    );
    let spec = json!({"HostedZone": [{"ZoneId": duplicate.id, "RecordNames": ["www.two-a-shop.com"]},
                                     {"ZoneId": other.id, "RecordNames": ["www.two-b-shop.com"]}],
                      "Options": {"DnsRootServers": dns.roots(&["127.0.0.10"])}});
    let path = std::env::temp_dir().join(format!("preflight-hz-two-{}.json", std::process::id()));
    std::fs::write(&path, spec.to_string()).unwrap();
    let (code, report) = support::check_json(support::moto(), &["--spec", path.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"], "1 failed, 0 unknown, 1 passed", "{report:#}");
    assert_eq!(finding(&report, &duplicate.id)["status"], "fail");
    assert_eq!(finding(&report, &other.id)["status"], "pass");
}

#[test]
fn a_partly_delegated_zone_fails_naming_the_foreign_servers() {
    let z = zones(json!([{"zone": "partial-shop.com"}, {"zone": "partial-shop.com"}]));
    let mixed: Vec<&String> = z[0].ns.iter().take(2).chain(z[1].ns.iter().take(2)).collect();
    let dns = hierarchy(json!({"partial-shop.com": {"ns": mixed}}), json!({}), json!({}));
    let (code, report) = check(&z[0].id, &[], &dns);
    assert_eq!(code, 1);
    let f = finding(&report, &z[0].id);
    assert_eq!(f["status"], "fail");
    assert!(text(&f["message"]).starts_with("partial-shop.com is only partly delegated to hosted zone"), "{f:#}");
    assert!(text(&f["message"]).contains(&format!("resolvers that pick {}", braces(&z[1].ns[..2]))), "{f:#}");
    assert_eq!(
        text(&f["fix"]),
        format!("set the name servers of partial-shop.com at the registrar to exactly {}", braces(&z[0].ns))
    );
}

#[test]
fn a_domain_the_parent_does_not_know_is_not_delegated() {
    let z = zones(json!([{"zone": "nowhere-shop.com"}]));
    let dns = hierarchy(json!({}), json!({}), json!({}));
    let (code, report) = check(&z[0].id, &[], &dns);
    assert_eq!(code, 1);
    let f = finding(&report, &z[0].id);
    assert_eq!(f["status"], "fail");
    assert!(
        text(&f["message"]).starts_with("nowhere-shop.com is not delegated at all")
            && text(&f["message"])
                .contains("the parent zone com answers that nowhere-shop.com does not exist (NXDOMAIN)"),
        "{f:#}"
    );
    assert_eq!(
        text(&f["fix"]),
        format!(
            "delegate nowhere-shop.com to {} at the registrar of nowhere-shop.com (the parent zone is com)",
            braces(&z[0].ns)
        )
    );
}

#[test]
fn a_private_zone_fails_and_points_at_the_public_one() {
    let z = zones(json!([{"zone": "inside-shop.com", "private": true}, {"zone": "inside-shop.com"}]));
    let dns = hierarchy(json!({"inside-shop.com": {"ns": z[1].ns}}), json!({}), json!({}));
    let (code, report) = check(&z[0].id, &[], &dns);
    assert_eq!(code, 1);
    let f = finding(&report, &z[0].id);
    assert_eq!(f["status"], "fail");
    assert!(text(&f["message"]).contains("is a private zone"), "{f:#}");
    assert_eq!(
        text(&f["fix"]),
        format!("use the public hosted zone {} (inside-shop.com) for inside-shop.com", z[1].id)
    );
}

#[test]
fn record_names_outside_the_zone_or_below_an_ns_cut_fail() {
    let z = zones(json!([{"zone": "cut-shop.com"}]));
    support::route53(
        support::moto(),
        &json!([{"record": {"zone": z[0].id, "name": "team.cut-shop.com", "type": "NS",
                            "values": ["ns-7.awsdns-07.com", "ns-8.awsdns-08.net"]}}]),
    );
    let dns = hierarchy(json!({"cut-shop.com": {"ns": z[0].ns}}), json!({}), json!({}));
    let (code, report) = check(&z[0].id, &["_a.cut-shop.com", "_b.other-shop.com", "_c.api.team.cut-shop.com"], &dns);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, &z[0].id)["status"], "pass", "the zone itself is the delegated one");
    let outside = finding(&report, "_b.other-shop.com");
    assert_eq!(outside["status"], "fail");
    assert!(text(&outside["message"]).contains("lies outside hosted zone"), "{outside:#}");
    let below = finding(&report, "_c.api.team.cut-shop.com");
    assert_eq!(below["status"], "fail");
    assert!(
        text(&below["message"]).contains("lies at or below the NS cut at `team.cut-shop.com` inside hosted zone")
            && text(&below["message"]).contains("resolvers are referred to {ns-7.awsdns-07.com, ns-8.awsdns-08.net}"),
        "{below:#}"
    );
    assert_eq!(report["findings"].as_array().unwrap().len(), 3, "no finding for a record name that is fine");
}

#[test]
fn parent_servers_that_disagree_make_the_check_unknown_or_fail() {
    let z = zones(json!([{"zone": "moving-shop.com"}, {"zone": "moving-shop.com"}]));
    let dns = hierarchy(
        json!({"moving-shop.com": {"ns": z[0].ns}}),
        json!({"127.0.0.21": {"moving-shop.com": {"ns": z[1].ns}}}),
        json!({}),
    );
    let (code, report) = check(&z[0].id, &[], &dns);
    assert_eq!(code, 0, "unknown warns by default: {report:#}");
    let f = finding(&report, &z[0].id);
    assert_eq!(f["status"], "unknown");
    assert!(text(&f["message"]).contains("the servers of the parent zone com disagree"), "{f:#}");
    assert!(text(&f["fix"]).starts_with("wait until every server of the parent zone"), "{f:#}");
    // A third zone that neither side lists: wrong whichever answer wins.
    let other = zones(json!([{"zone": "moving-shop.com"}]));
    let (code, report) = check(&other[0].id, &[], &dns);
    assert_eq!(code, 1);
    assert_eq!(finding(&report, &other[0].id)["status"], "fail");
}

#[test]
fn without_dns_the_registration_in_the_account_decides_and_says_so() {
    let z = zones(json!([{"register": "offline-shop.com"}, {"zone": "offline-shop.com"}]));
    let dns = hierarchy(json!({}), json!({}), json!({"127.0.0.10": "silent"}));
    let (code, report) = check(&z[0].id, &[], &dns);
    assert_eq!(code, 0, "{report:#}");
    let f = finding(&report, &z[0].id);
    assert_eq!(f["status"], "pass");
    assert!(
        text(&f["message"]).contains("the Route 53 Domains registration of offline-shop.com in this account (from the API: the DNS could not be reached: no server of zone . gave a usable answer)"),
        "{f:#}"
    );
    let (code, report) = check(&z[1].id, &[], &dns);
    assert_eq!(code, 1);
    let f = finding(&report, &z[1].id);
    assert_eq!(f["status"], "fail");
    assert!(
        text(&f["message"]).contains(&format!(
            "the delegated set matches {} (offline-shop.com, created by the Route 53 registrar)",
            z[0].id
        )),
        "{f:#}"
    );
}

#[test]
fn without_dns_a_delegated_parent_zone_in_the_account_decides() {
    let z = zones(
        json!([{"register": "parent-shop.com"}, {"zone": "app.parent-shop.com"}, {"zone": "new.parent-shop.com"}]),
    );
    support::route53(
        support::moto(),
        &json!([{"record": {"zone": z[0].id, "name": "app.parent-shop.com", "type": "NS", "values": z[1].ns}}]),
    );
    let silent = hierarchy(json!({}), json!({}), json!({"127.0.0.10": "silent"}));
    let (code, report) = check(&z[1].id, &[], &silent);
    assert_eq!(code, 0, "{report:#}");
    let f = finding(&report, &z[1].id);
    assert_eq!(f["status"], "pass", "{f:#}");
    assert!(
        text(&f["message"]).contains(&format!(
            "the NS records of app.parent-shop.com in zone {} (parent-shop.com), itself delegated per the Route 53 Domains registration of parent-shop.com in this account",
            z[0].id
        )),
        "{f:#}"
    );
    let (code, report) = check(&z[2].id, &[], &silent);
    assert_eq!(code, 1);
    let f = finding(&report, &z[2].id);
    assert_eq!(f["status"], "fail");
    assert!(text(&f["message"]).starts_with("new.parent-shop.com is not delegated at all"), "{f:#}");
    assert!(text(&f["message"]).contains("has no NS records for new.parent-shop.com"), "{f:#}");
}

#[test]
fn without_dns_and_without_records_in_the_account_the_check_is_unknown_never_a_pass() {
    let z = zones(json!([{"zone": "unknown-shop.com"}]));
    let dns = hierarchy(json!({}), json!({}), json!({"127.0.0.10": "silent"}));
    let (code, report) = check(&z[0].id, &[], &dns);
    assert_eq!(code, 0, "unknown warns by default");
    let f = finding(&report, &z[0].id);
    assert_eq!(f["status"], "unknown");
    assert!(text(&f["message"]).contains("the DNS could not be reached"), "{f:#}");
    assert!(
        text(&f["message"]).contains("unknown-shop.com is not registered with Route 53 Domains in this account"),
        "{f:#}"
    );
    assert!(text(&f["fix"]).contains("UDP and TCP port 53"), "{f:#}");
}

#[test]
fn a_zone_that_does_not_exist_fails() {
    let dns = hierarchy(json!({}), json!({}), json!({}));
    let (code, report) = check("Z0000000000000NOSUCHZ", &[], &dns);
    assert_eq!(code, 1);
    let f = finding(&report, "Z0000000000000NOSUCHZ");
    assert_eq!(f["status"], "fail");
    assert!(text(&f["message"]).contains("does not exist in account 123456789012"), "{f:#}");
}

/// Runs `preflight check --template` on a template whose ACM certificate is DNS-validated in
/// `zone_id`, with the DNS roots given by the environment: no spec.
fn check_template(zone_id: &str, domain: &str, dns: &DnsHierarchy) -> (i32, Value) {
    let template = json!({"Resources": {"Cert": {"Type": "AWS::CertificateManager::Certificate", "Properties": {
        "DomainName": domain, "ValidationMethod": "DNS",
        "DomainValidationOptions": [{"DomainName": domain, "HostedZoneId": zone_id}]}}}});
    let path = std::env::temp_dir().join(format!("preflight-hz-template-{}-{zone_id}.json", std::process::id()));
    std::fs::write(&path, template.to_string()).unwrap();
    let roots = dns.roots(&["127.0.0.10"]);
    let role = "arn:aws:iam::123456789012:role/deployer";
    let args = ["--template", path.to_str().unwrap(), "--role-arn", role];
    support::check_json(support::moto(), &args, &[("PREFLIGHT_DNS_ROOT_SERVERS", roots[0].as_str().unwrap())])
}

#[test]
fn story_3_from_a_template_the_certificate_validated_in_the_duplicate_zone_fails_with_no_spec() {
    let z = zones(json!([{"register": "story3-template.com"}, {"zone": "story3-template.com"}]));
    let (registrar, duplicate) = (&z[0], &z[1]);
    let dns = hierarchy(json!({"story3-template.com": {"ns": registrar.ns}}), json!({}), json!({}));
    let (code, report) = check_template(&duplicate.id, "story3-template.com", &dns);
    assert_eq!(code, 1, "{report:#}");
    let f = finding(&report, &duplicate.id);
    assert_eq!(f["status"], "fail");
    assert!(text(&f["message"]).contains("is not the zone story3-template.com is delegated to"), "{f:#}");
    assert_eq!(f["source"], json!({"logicalId": "Cert", "property": "Properties.DomainValidationOptions[0]"}));
    let (code, report) = check_template(&registrar.id, "story3-template.com", &dns);
    assert_eq!(report["summary"], "0 failed, 0 unknown, 1 passed", "{report:#}");
    assert_eq!(code, 0);
}

/// Synthesizes `tests/cdk-apps/story3.js` for `zone_id` and `domain`; returns its cloud assembly.
fn synth_story3(variant: &str, zone_id: &str, domain: &str) -> std::path::PathBuf {
    let out = std::env::temp_dir().join(format!("preflight-cdk-out-story3-{variant}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = std::process::Command::new("node")
        .arg(support::repo().join("tests/cdk-apps/story3.js"))
        .args([out.to_str().unwrap(), variant, zone_id, domain])
        .env("NODE_PATH", support::repo().join("cdk/node_modules"))
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "synthesizing story3 {variant} failed");
    out
}

#[test]
fn story_3_as_a_cdk_app_fails_in_the_duplicate_zone_and_passes_in_the_delegated_one() {
    let moto = support::FreshMoto::start();
    support::cdk_bootstrap(&moto.url, &[]);
    let z = zones_in(&moto.url, json!([{"register": "story3-cdk.com"}, {"zone": "story3-cdk.com"}]));
    let (registrar, duplicate) = (&z[0], &z[1]);
    let dns = hierarchy(json!({"story3-cdk.com": {"ns": registrar.ns}}), json!({}), json!({}));
    let roots = format!("127.0.0.10:{}", dns.port);
    let check = |variant: &str, zone: &Zone| {
        let out = synth_story3(variant, &zone.id, "story3-cdk.com");
        support::check_json(&moto.url, &["--cdk-out", out.to_str().unwrap(), "--dns-root-servers", &roots], &[])
    };
    let (code, report) = check("broken", duplicate);
    assert_eq!(code, 1, "{report:#}");
    let f = finding(&report, &duplicate.id);
    assert_eq!(f["status"], "fail", "{f:#}");
    assert_eq!(f["stack"], "Shop");
    assert!(text(&f["message"]).contains("is not the zone story3-cdk.com is delegated to"), "{f:#}");
    assert!(text(&f["fix"]).starts_with(&format!("use hosted zone {}", registrar.id)), "{f:#}");
    let (code, report) = check("fixed", registrar);
    assert!(text(&report["summary"]).starts_with("0 failed, 0 unknown"), "{report:#}");
    assert_eq!(finding(&report, &registrar.id)["status"], "pass");
    assert_eq!(code, 0);
}
