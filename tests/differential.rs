//! Differential test: Preflight's evaluator against @cloud-copilot/iam-simulate (a test-time oracle
//! run by Node from `tests/differential/`; AGPL, never linked into or shipped with Preflight) on
//! generated scenarios from the fragment both engines express: key policy, identity policies,
//! boundary and SCPs over KMS actions, with every context key given or known absent (no grants,
//! no key states: the oracle has neither).
//!
//! Every disagreement must be explained by an entry of `tests/differential/divergences.json` whose
//! feature the scenario uses; every entry must still explain at least one disagreement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code (STYLE.md 9)

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use preflight::simulate::Scenario;
use serde::Deserialize;
use serde_json::{Value, json};

const COUNT: usize = 6000;
const A: &str = "111111111111";
const B: &str = "222222222222";
const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// xorshift64*: a fixed seed gives the same corpus on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Generated {
    scenario: Value,
    oracle: Value,
    features: BTreeSet<&'static str>,
}

struct Gen {
    rng: Rng,
    features: BTreeSet<&'static str>,
}

impl Gen {
    fn condition(&mut self) -> (String, String, Value) {
        // (operator, key, values as JSON, feature)
        let pool: &[(&str, &str, &str, &str)] = &[
            ("StringEquals", "kms:ViaService", r#""ssm.us-east-1.amazonaws.com""#, ""),
            ("StringEquals", "kms:ViaService", r#"["s3.us-east-1.amazonaws.com", "ssm.us-east-1.amazonaws.com"]"#, ""),
            ("StringNotEquals", "kms:ViaService", r#""s3.us-east-1.amazonaws.com""#, ""),
            ("StringEqualsIfExists", "kms:ViaService", r#""ssm.us-east-1.amazonaws.com""#, ""),
            ("StringEquals", "kms:CallerAccount", r#""111111111111""#, ""),
            ("StringEquals", "kms:CallerAccount", r#""222222222222""#, ""),
            ("StringLike", "aws:PrincipalArn", r#""arn:aws:iam::*:role/A*""#, ""),
            ("ArnLike", "aws:PrincipalArn", r#""arn:aws:iam::111111111111:role/*""#, ""),
            ("ArnNotEquals", "aws:PrincipalArn", r#""arn:aws:iam::111111111111:role/App""#, ""),
            ("StringEquals", "aws:PrincipalAccount", r#""111111111111""#, ""),
            ("StringEquals", "kms:EncryptionContext:Department", r#""IT""#, "ec-condition"),
            ("StringEqualsIgnoreCase", "kms:EncryptionContext:Department", r#""it""#, "ec-condition"),
            ("ForAllValues:StringEquals", "kms:EncryptionContextKeys", r#"["Department"]"#, "ec-keys"),
            ("ForAnyValue:StringEquals", "kms:EncryptionContextKeys", r#"["Department"]"#, "ec-keys"),
            ("Bool", "aws:SecureTransport", r#""true""#, ""),
            ("IpAddress", "aws:SourceIp", r#""203.0.113.0/24""#, ""),
            ("NotIpAddress", "aws:SourceIp", r#"["198.51.100.0/24", "203.0.113.0/24"]"#, ""),
            ("Null", "aws:PrincipalTag/team", r#""true""#, ""),
            ("Null", "aws:PrincipalTag/team", r#""false""#, ""),
            ("StringEquals", "aws:PrincipalTag/team", r#""red""#, ""),
            ("StringNotEqualsIfExists", "aws:PrincipalTag/team", r#""blue""#, ""),
            ("DateLessThan", "aws:CurrentTime", r#""2027-01-01T00:00:00Z""#, ""),
            ("DateGreaterThan", "aws:CurrentTime", r#""2027-01-01T00:00:00Z""#, ""),
            (
                "StringLike",
                "aws:PrincipalArn",
                r#""arn:aws:iam::111111111111:role/${aws:PrincipalTag/team}*""#,
                "variables",
            ),
            ("StringEquals", "aws:PrincipalTag/team", r#""${aws:PrincipalTag/team}""#, "variables"),
        ];
        let (op, key, value, feature) = self.rng.pick(pool);
        if !feature.is_empty() {
            self.features.insert(feature);
        }
        ((*op).to_owned(), (*key).to_owned(), serde_json::from_str(value).unwrap())
    }

    fn conditions(&mut self, max: usize) -> Option<Value> {
        let n = self.rng.below(max + 1);
        if n == 0 {
            return None;
        }
        let mut block: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for _ in 0..n {
            let (op, key, value) = self.condition();
            block.entry(op).or_default().insert(key, value);
        }
        Some(serde_json::to_value(block).unwrap())
    }

    fn actions(&mut self) -> (&'static str, Value) {
        let pool: &[Value] = &[
            json!("kms:*"),
            json!("kms:Decrypt"),
            json!(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"]),
            json!("kms:Gen*"),
            json!(["kms:Describe*", "kms:Put*"]),
            json!("kms:CreateGrant"),
            json!("*"),
        ];
        let value = self.rng.pick(pool).clone();
        if self.rng.chance(10) {
            ("NotAction", json!(["kms:Put*", "kms:ScheduleKeyDeletion"]))
        } else {
            ("Action", value)
        }
    }

    fn statement(&mut self, in_key_policy: bool) -> Value {
        let mut s = serde_json::Map::new();
        let deny = self.rng.chance(20);
        s.insert("Effect".into(), json!(if deny { "Deny" } else { "Allow" }));
        if in_key_policy {
            if deny && self.rng.chance(25) {
                self.features.insert("not-principal");
                let listed = self.rng.pick(&[
                    json!({"AWS": ["arn:aws:iam::111111111111:role/App", "arn:aws:iam::111111111111:root"]}),
                    json!({"AWS": ["arn:aws:iam::111111111111:role/App", "arn:aws:sts::111111111111:assumed-role/App/s1", "arn:aws:iam::111111111111:root"]}),
                ])
                .clone();
                s.insert("NotPrincipal".into(), listed);
            } else {
                let principal = self
                    .rng
                    .pick(&[
                        json!({"AWS": "arn:aws:iam::111111111111:root"}),
                        json!({"AWS": A}),
                        json!("*"),
                        json!({"AWS": "arn:aws:iam::111111111111:role/App"}),
                        json!({"AWS": "arn:aws:sts::111111111111:assumed-role/App/s1"}),
                        json!({"AWS": "arn:aws:iam::222222222222:root"}),
                        json!({"AWS": "arn:aws:iam::222222222222:role/scheduler"}),
                        json!({"AWS": "arn:aws:iam::111111111111:user/alice"}),
                    ])
                    .clone();
                if principal == json!({"AWS": "arn:aws:sts::111111111111:assumed-role/App/s1"}) {
                    self.features.insert("session-principal");
                }
                if principal == json!("*") {
                    self.features.insert("principal-star");
                }
                s.insert("Principal".into(), principal);
            }
        }
        let (element, actions) = self.actions();
        // IAM and the oracle reject identity statements without Action or Resource; KMS accepts
        // them in key policies, where they have no effect (docs/aws-facts.md 1.8).
        if in_key_policy && self.rng.chance(1) {
            self.features.insert("no-action");
        } else {
            s.insert(element.into(), actions);
        }
        let resource = self
            .rng
            .pick(&[
                json!("*"),
                json!(KEY),
                json!("arn:aws:kms:*:111111111111:key/*"),
                json!("arn:aws:kms:us-east-1:111111111111:alias/app"),
            ])
            .clone();
        if in_key_policy && self.rng.chance(4) {
            self.features.insert("no-resource");
        } else {
            s.insert("Resource".into(), resource);
        }
        if let Some(c) = self.conditions(2) {
            s.insert("Condition".into(), c);
        }
        Value::Object(s)
    }

    fn policy(&mut self, in_key_policy: bool, max: usize) -> Value {
        let n = 1 + self.rng.below(max);
        let had_variables = self.features.remove("variables");
        let statements: Vec<Value> = (0..n).map(|_| self.statement(in_key_policy)).collect();
        let variables = self.features.contains("variables");
        if had_variables {
            self.features.insert("variables");
        }
        if self.rng.chance(10) {
            self.features.insert("no-version");
            if variables {
                self.features.insert("variables-without-version");
            }
            json!({"Statement": statements})
        } else {
            json!({"Version": "2012-10-17", "Statement": statements})
        }
    }

    fn scenario(&mut self) -> Generated {
        self.features.clear();
        let principal = *self.rng.pick(&[
            "arn:aws:sts::111111111111:assumed-role/App/s1",
            "arn:aws:sts::111111111111:assumed-role/Other/s2",
            "arn:aws:iam::111111111111:user/alice",
            "arn:aws:sts::222222222222:assumed-role/scheduler/run-1",
        ]);
        if principal.contains(B) {
            self.features.insert("cross-account");
        }
        if principal.contains(":user/") {
            self.features.insert("user-principal");
        }
        let action = *self.rng.pick(&[
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
            "kms:CreateGrant",
            "kms:PutKeyPolicy",
        ]);
        let key_policy = self.policy(true, 3);
        let identity: Vec<Value> = (0..self.rng.below(3)).map(|_| self.policy(false, 2)).collect();
        let boundary = self.rng.chance(20).then(|| {
            if self.features.contains("principal-star") {
                self.features.insert("principal-star-boundary");
            }
            self.features.insert("boundary");
            self.rng.pick(&[json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
                            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})]).clone()
        });
        let scps: Vec<Value> = if self.rng.chance(20) {
            self.features.insert("scp");
            vec![self.rng.pick(&[
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}),
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}),
            ]).clone()]
        } else {
            vec![]
        };
        let via = *self.rng.pick(&[None, Some("ssm.us-east-1.amazonaws.com"), Some("s3.us-east-1.amazonaws.com")]);
        let ec: BTreeMap<String, String> = match self.rng.below(3) {
            0 => BTreeMap::new(),
            1 => BTreeMap::from([("Department".to_owned(), "IT".to_owned())]),
            _ => BTreeMap::from([("Department".to_owned(), "it".to_owned()), ("Project".to_owned(), "x".to_owned())]),
        };
        let team = *self.rng.pick(&[None, Some("red")]);

        // Preflight's scenario: derivable keys are derived; the rest given or known absent.
        let mut context = json!({"aws:SourceIp": "203.0.113.9", "aws:CurrentTime": "2026-11-23T00:00:00Z",
                                 "aws:PrincipalTag/team": team});
        if let Some(v) = via {
            context["kms:ViaService"] = json!(v);
        }
        let mut scenario = json!({
            "request": {"principal": principal, "action": action, "resource": KEY, "context": context, "encryptionContext": ec},
            "keyPolicy": key_policy, "identityPolicies": identity, "scps": scps,
        });
        if let Some(b) = &boundary {
            scenario["permissionsBoundary"] = b.clone();
        }
        // The oracle derives nothing: give it every key Preflight derives.
        let account = principal.split(':').nth(4).unwrap();
        let principal_arn = match principal.split_once(":assumed-role/") {
            Some((head, rest)) => {
                format!("{}:role/{}", head.replace(":sts:", ":iam:"), rest.split('/').next().unwrap())
            }
            None => principal.to_owned(),
        };
        let mut oc = json!({"kms:CallerAccount": account, "aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account,
                            "aws:SecureTransport": "true", "aws:SourceIp": "203.0.113.9", "aws:CurrentTime": "2026-11-23T00:00:00Z"});
        if let Some(v) = via {
            oc["kms:ViaService"] = json!(v);
        }
        if let Some(t) = team {
            oc["aws:PrincipalTag/team"] = json!(t);
        }
        if !ec.is_empty() {
            oc["kms:EncryptionContextKeys"] = json!(ec.keys().collect::<Vec<_>>());
            for (k, v) in &ec {
                oc[format!("kms:EncryptionContext:{k}")] = json!(v);
            }
        }
        let mut oracle = scenario.clone();
        oracle["oracleContext"] = oc;
        Generated { scenario, oracle, features: self.features.clone() }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Divergence {
    feature: String,
    reason: String,
    source: String,
}

fn oracle(lines: &str) -> Vec<Value> {
    let dir = support::repo().join("tests/differential");
    assert!(
        dir.join("node_modules/@cloud-copilot/iam-simulate").exists(),
        "the oracle is not installed: run scripts/test.sh (npm ci in tests/differential)"
    );
    let mut child = Command::new("node")
        .arg("oracle.js")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node is required for the differential test");
    let mut stdin = child.stdin.take().unwrap();
    let input = lines.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "oracle failed: {}", String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr).trim());
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn preflight_agrees_with_iam_simulate_except_for_listed_divergences() {
    let divergences: Vec<Divergence> = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("tests/differential/divergences.json")).unwrap(),
    )
    .unwrap();
    for d in &divergences {
        assert!(!d.reason.is_empty() && !d.source.is_empty(), "divergence `{}` needs a reason and a source", d.feature);
    }
    let mut generator = Gen { rng: Rng(0x5EED_CAFE_F00D_0001), features: BTreeSet::new() };
    let corpus: Vec<Generated> = (0..COUNT).map(|_| generator.scenario()).collect();
    let input: String = corpus.iter().map(|g| format!("{}\n", g.oracle)).collect();
    let theirs = oracle(&input);
    assert_eq!(theirs.len(), corpus.len());

    // Every comparison, for review: target/differential-report.jsonl.
    let mut report = String::new();
    let mut agree = 0;
    let mut oracle_errors = 0;
    let mut explained: BTreeMap<&str, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for (i, (g, t)) in corpus.iter().zip(&theirs).enumerate() {
        let ours = Scenario::from_value(g.scenario.clone()).unwrap_or_else(|e| panic!("scenario {i}: {e}")).decide();
        let ours = serde_json::to_value(ours.decision).unwrap();
        let theirs = &t["decision"];
        report.push_str(&format!(
            "{}\n",
            json!({"i": i, "ours": ours, "theirs": t, "features": g.features, "scenario": g.scenario})
        ));
        if theirs == "Error" {
            oracle_errors += 1;
            continue;
        }
        if &ours == theirs {
            agree += 1;
            continue;
        }
        match divergences.iter().find(|d| g.features.contains(d.feature.as_str())) {
            Some(d) => *explained.entry(d.feature.as_str()).or_default() += 1,
            None => unexplained.push(format!(
                "scenario {i}: preflight {ours}, iam-simulate {theirs}, features {:?}\n  {}",
                g.features, g.scenario
            )),
        }
    }
    let _ = std::fs::write(support::repo().join("target/differential-report.jsonl"), report);
    eprintln!(
        "differential: {} scenarios, {agree} agree, {oracle_errors} rejected by the oracle, divergences explained: {explained:?}",
        corpus.len()
    );
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements:\n{}",
        unexplained.len(),
        unexplained.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
    for d in &divergences {
        assert!(
            explained.contains_key(d.feature.as_str()),
            "divergence `{}` no longer occurs: remove it from divergences.json",
            d.feature
        );
    }
    assert!(corpus.len() - oracle_errors >= 5000, "only {} scenarios were compared", corpus.len() - oracle_errors);
}
