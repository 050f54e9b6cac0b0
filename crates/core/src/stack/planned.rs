//! Planned facts: the IAM roles the stack will create, with the policies the template gives them,
//! so they can be judged by the same evaluator as the account's roles before they exist.
//!
//! A role's ARN is `arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`; CloudFormation generates the name
//! when the template gives no `RoleName` (CloudFormation User Guide, `AWS::IAM::Role`, RoleName:
//! the stack name, the logical id and a random suffix), so such a role is named here
//! `STACK-LOGICALID` (its logical id alone when the stack's name is not known): no existing role is
//! read in its place, the findings name it by its stack and logical id, and two stacks' roles of
//! one logical id (CDK gives a construct the same id in every stack) stay two roles.

use std::collections::BTreeMap;

use serde_json::Value;

use super::resolve::{Resolver, Unresolved};
use super::template::Template;
use crate::arn::{KeyRef, PrincipalArn};
use crate::facts::{Facts, FetchError, KeyFacts, KeyInfo, KeyManager, RoleFacts, RoleInfo};
use crate::kms::KeyState;

/// A role the stack creates.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRole {
    pub logical_id: String,
    pub arn: PrincipalArn,
    /// Inline policies (the role's `Policies`, and `AWS::IAM::Policy`, `AWS::IAM::RolePolicy` and
    /// `AWS::IAM::ManagedPolicy` resources attached to it): name and document, or what is
    /// unresolved in it.
    pub inline: Vec<(String, Result<String, Unresolved>)>,
    /// Managed policy ARNs to read from the account (AWS managed ones, and existing ones).
    pub managed: Vec<Result<String, Unresolved>>,
    pub boundary: Option<Result<String, Unresolved>>,
    /// The template gives no `RoleName`: CloudFormation generates it, so the ARN is a stand-in
    /// that no policy written today can name.
    pub generated_name: bool,
}

/// The ARN a role the stack creates stands in as, and whether its name is generated.
fn role_arn(
    id: &str,
    properties: &Value,
    resolver: &Resolver<'_>,
    account: &str,
    partition: &str,
    stack: Option<&str>,
) -> Option<(PrincipalArn, bool)> {
    let text = |v: Option<&Value>| {
        v.map(|v| resolver.value(v)).and_then(Result::ok).and_then(|v| v.as_str().map(str::to_owned))
    };
    let given = text(properties.get("RoleName"));
    let generated = given.is_none();
    let name = given.unwrap_or_else(|| match stack {
        Some(stack) => format!("{stack}-{id}"),
        None => id.to_owned(),
    });
    let path = text(properties.get("Path")).unwrap_or_else(|| "/".to_owned());
    PrincipalArn::parse(&format!("arn:{partition}:iam::{account}:role{path}{name}")).ok().map(|arn| (arn, generated))
}

/// The attributes of roles and keys the stack creates that the stack model names before the
/// deploy: each `AWS::IAM::Role`'s and `AWS::KMS::Key`'s `Arn`, as the ARN its planned facts
/// stand in as. Resolved with them, a policy that names a role or key of the stack
/// (`Fn::GetAtt Role.Arn`, as CDK writes every grant between them) is judged against those facts.
pub fn known_attributes(
    template: &Template,
    resolver: &Resolver<'_>,
    env: &super::resolve::StackEnv,
) -> BTreeMap<(String, String), String> {
    let mut out = BTreeMap::new();
    let (Some(account), Some(partition)) = (env.account.as_deref(), env.partition.as_deref()) else { return out };
    for (id, r) in &template.resources {
        let arn = match r.kind.as_str() {
            "AWS::IAM::Role" => role_arn(id, &r.properties, resolver, account, partition, env.stack_name.as_deref())
                .map(|(arn, _)| arn.to_string()),
            "AWS::KMS::Key" => env.region.as_deref().map(|region| planned_key_arn(id, env, partition, region, account)),
            _ => None,
        };
        if let Some(arn) = arn {
            out.insert((id.clone(), "Arn".to_owned()), arn);
        }
    }
    out
}

/// The reference a key the stack creates is named by: `STACK/LOGICAL_ID`.
fn planned_key_name(id: &str, env: &super::resolve::StackEnv) -> String {
    match env.stack_name.as_deref() {
        Some(stack) => format!("{stack}/{id}"),
        None => id.to_owned(),
    }
}

/// The ARN a key the stack creates stands in as.
fn planned_key_arn(id: &str, env: &super::resolve::StackEnv, partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:kms:{region}:{account}:key/{}", planned_key_name(id, env))
}

/// The roles `template` creates, when the account and partition are known (else none can be
/// named).
pub fn roles(
    template: &Template,
    resolver: &Resolver<'_>,
    account: Option<&str>,
    partition: Option<&str>,
    stack: Option<&str>,
) -> Vec<PlannedRole> {
    let (Some(account), Some(partition)) = (account, partition) else { return vec![] };
    let mut out = Vec::new();
    for (id, r) in &template.resources {
        if r.kind != "AWS::IAM::Role" || r.condition.as_deref().is_some_and(|c| resolver.condition(c) == Ok(false)) {
            continue;
        }
        let p = &r.properties;
        let text = |v: Option<&Value>| {
            v.map(|v| resolver.value(v)).and_then(Result::ok).and_then(|v| v.as_str().map(str::to_owned))
        };
        let Some((arn, generated_name)) = role_arn(id, p, resolver, account, partition, stack) else { continue };
        let mut inline = Vec::new();
        if let Some(Value::Array(policies)) = p.get("Policies") {
            for (i, pol) in policies.iter().enumerate() {
                let name = text(pol.get("PolicyName")).unwrap_or_else(|| format!("Policies[{i}]"));
                inline.push((name, document(pol.get("PolicyDocument"), resolver)));
            }
        }
        for (pid, pr) in &template.resources {
            let attached = match pr.kind.as_str() {
                "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => refers_to(pr.properties.get("Roles"), id),
                "AWS::IAM::RolePolicy" => refers_to(pr.properties.get("RoleName"), id),
                _ => false,
            };
            if attached {
                inline.push((pid.clone(), document(pr.properties.get("PolicyDocument"), resolver)));
            }
        }
        let managed = match p.get("ManagedPolicyArns") {
            Some(Value::Array(arns)) => arns.iter().map(|a| arn_text(a, resolver)).collect(),
            _ => vec![],
        };
        let boundary = p.get("PermissionsBoundary").map(|b| arn_text(b, resolver));
        out.push(PlannedRole { logical_id: id.clone(), arn, inline, managed, boundary, generated_name });
    }
    out
}

/// What the stacks of a run create, judged from their templates in place of reads.
#[derive(Clone, Debug, Default)]
pub struct Planned {
    pub roles: Vec<PlannedRole>,
    pub keys: Vec<PlannedKey>,
}

/// A key the stack creates (`AWS::KMS::Key`), as its facts will be once created: judged by the
/// same evaluator as the account's keys, before it exists.
#[derive(Clone, Debug)]
pub struct PlannedKey {
    pub logical_id: String,
    /// `KeyRef::Planned("STACK/LOGICAL_ID")`: how checks and findings name it.
    pub reference: KeyRef,
    pub facts: KeyFacts,
}

/// The keys `template` creates, when the account, region and partition are known (a key ARN names
/// them). The key's ARN stands in as `arn:PARTITION:kms:REGION:ACCOUNT:key/STACK/LOGICAL_ID`,
/// which no real key has.
///
/// Its policy is the template's `KeyPolicy`; without one, the default key policy KMS gives a key
/// created without a policy: the account root may do `kms:*`, which delegates to IAM (CloudFormation
/// User Guide, `AWS::KMS::Key` KeyPolicy: "If you don't specify a key policy, AWS KMS applies a
/// default key policy"; KMS Developer Guide, "Default key policy"). `Enabled: false` creates it
/// disabled.
pub fn keys(template: &Template, resolver: &Resolver<'_>, env: &super::resolve::StackEnv) -> Vec<PlannedKey> {
    let (Some(account), Some(region), Some(partition)) =
        (env.account.as_deref(), env.region.as_deref(), env.partition.as_deref())
    else {
        return vec![];
    };
    let mut out = Vec::new();
    for (id, r) in &template.resources {
        if r.kind != "AWS::KMS::Key" || r.condition.as_deref().is_some_and(|c| resolver.condition(c) == Ok(false)) {
            continue;
        }
        let name = planned_key_name(id, env);
        let p = &r.properties;
        let policy = match p.get("KeyPolicy").map(|v| key_policy(v, resolver)) {
            None => Ok(serde_json::json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "Enable IAM User Permissions", "Effect": "Allow",
                "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
                "Action": "kms:*", "Resource": "*"}]})
            .to_string()),
            Some(Ok(Value::String(text))) => Ok(text),
            Some(Ok(v @ Value::Object(_))) => Ok(v.to_string()),
            Some(Ok(other)) => Err(FetchError::NotRead {
                what: "the key policy of a key the stack creates",
                why: format!("KeyPolicy is {other}, not a policy document"),
            }),
            Some(Err(u)) => Err(FetchError::NotRead {
                what: "the key policy of a key the stack creates",
                why: format!("it depends on {u}, known only once the stack is deployed"),
            }),
        };
        let enabled = p.get("Enabled").map(|v| resolver.value(v));
        let state = match enabled {
            Some(Ok(Value::Bool(false))) => KeyState::Disabled,
            Some(Ok(Value::String(s))) if s.eq_ignore_ascii_case("false") => KeyState::Disabled,
            _ => KeyState::Enabled,
        };
        let text = |k: &str, default: &str| match p.get(k).map(|v| resolver.value(v)) {
            Some(Ok(Value::String(s))) => s,
            _ => default.to_owned(),
        };
        let info = KeyInfo {
            arn: planned_key_arn(id, env, partition, region, account),
            key_id: "created by this stack".to_owned(),
            manager: KeyManager::Customer,
            state,
            usage: text("KeyUsage", "ENCRYPT_DECRYPT"),
            spec: text("KeySpec", "SYMMETRIC_DEFAULT"),
        };
        out.push(PlannedKey {
            logical_id: id.clone(),
            reference: KeyRef::Planned(name),
            facts: KeyFacts { info, policy, grants: Ok(vec![]) },
        });
    }
    out
}

/// A policy document (a key policy, or a role's policy) as the stack will apply it. A condition value or resource given by an expression that cannot
/// be resolved before the deploy (CDK writes `aws:SourceArn: Fn::GetAtt Bucket.Arn` for the bucket
/// it creates beside the key) becomes a marked value ([`crate::policy::condition::UNRESOLVED`])
/// that makes that condition `unknown`, so the rest of the policy is still judged; anything else
/// unresolved (a principal, an action) leaves the whole policy unknown.
pub(crate) fn key_policy(v: &Value, resolver: &Resolver<'_>) -> Result<Value, Unresolved> {
    let Value::Object(doc) = v else { return resolver.value(v) };
    let mut out = serde_json::Map::new();
    for (k, x) in doc {
        let resolved = if k == "Statement" {
            match x {
                Value::Array(list) => {
                    Value::Array(list.iter().map(|st| statement(st, resolver)).collect::<Result<_, _>>()?)
                }
                one => statement(one, resolver)?,
            }
        } else {
            resolver.value(x)?
        };
        out.insert(k.clone(), resolved);
    }
    Ok(Value::Object(out))
}

/// One statement of [`key_policy`]: its condition values resolved leniently, the rest strictly.
fn statement(v: &Value, resolver: &Resolver<'_>) -> Result<Value, Unresolved> {
    let Value::Object(st) = v else { return resolver.value(v) };
    let mut out = serde_json::Map::new();
    for (k, x) in st {
        let resolved = match (k.as_str(), x) {
            ("Condition", Value::Object(operators)) => {
                let mut ops = serde_json::Map::new();
                for (op, keys) in operators {
                    let Value::Object(keys) = keys else {
                        ops.insert(op.clone(), resolver.value(keys)?);
                        continue;
                    };
                    let mut by_key = serde_json::Map::new();
                    for (key, value) in keys {
                        let lenient = |one: &Value| {
                            resolver.value(one).unwrap_or_else(|u| {
                                Value::String(format!("{}{}", crate::policy::condition::UNRESOLVED, u.0))
                            })
                        };
                        let value = match value {
                            Value::Array(items) => Value::Array(items.iter().map(lenient).collect()),
                            one => lenient(one),
                        };
                        by_key.insert(key.clone(), value);
                    }
                    ops.insert(op.clone(), Value::Object(by_key));
                }
                Value::Object(ops)
            }
            // A resource the stack creates whose ARN is not known (a bucket with a generated name)
            // makes only the statements that name it undecided.
            ("Resource" | "NotResource", _) => lenient(x, resolver),
            _ => resolver.value(x)?,
        };
        out.insert(k.clone(), resolved);
    }
    Ok(Value::Object(out))
}

/// `v` resolved, each item on its own: one that cannot be resolved becomes a marked value.
fn lenient(v: &Value, resolver: &Resolver<'_>) -> Value {
    let one = |x: &Value| {
        resolver.value(x).unwrap_or_else(|u| Value::String(format!("{}{}", crate::policy::condition::UNRESOLVED, u.0)))
    };
    match v {
        Value::Array(items) => Value::Array(items.iter().map(one).collect()),
        x => one(x),
    }
}

/// Whether `v` (a `Ref` or a list of them) names the resource `id`.
fn refers_to(v: Option<&Value>, id: &str) -> bool {
    let is_ref = |x: &Value| x.get("Ref").and_then(Value::as_str) == Some(id);
    match v {
        Some(Value::Array(items)) => items.iter().any(is_ref),
        Some(x) => is_ref(x),
        None => false,
    }
}

fn document(v: Option<&Value>, resolver: &Resolver<'_>) -> Result<String, Unresolved> {
    let v = v.ok_or_else(|| Unresolved("a policy without PolicyDocument".into()))?;
    key_policy(v, resolver).map(|d| d.to_string())
}

fn arn_text(v: &Value, resolver: &Resolver<'_>) -> Result<String, Unresolved> {
    match resolver.value(v)? {
        Value::String(s) => Ok(s),
        other => Err(Unresolved(format!("a policy ARN {other}"))),
    }
}

impl Facts {
    /// These facts with the keys the stack creates, by their planned references.
    pub fn with_planned_keys(mut self, keys: &[PlannedKey]) -> Facts {
        for k in keys {
            self.keys.insert(k.reference.to_string(), Ok(k.facts.clone()));
        }
        self
    }

    /// These facts with the planned roles in place of any read ones of the same name; their
    /// managed policies are taken from `managed` (read from the account by ARN).
    pub fn with_planned(
        mut self,
        roles: &[PlannedRole],
        managed: &BTreeMap<String, Result<String, FetchError>>,
    ) -> Facts {
        let unread = |what: &'static str, u: &Unresolved| FetchError::NotRead { what, why: u.to_string() };
        for r in roles {
            let crate::arn::PrincipalKind::Role { name, .. } = r.arn.kind() else { continue };
            let inline: Vec<(String, Result<String, FetchError>)> = r
                .inline
                .iter()
                .map(|(n, d)| (n.clone(), d.clone().map_err(|u| unread("a policy the stack creates", &u))))
                .collect();
            let read = |arn: &str| {
                managed.get(arn).cloned().unwrap_or_else(|| {
                    Err(FetchError::NotRead { what: "a managed policy", why: format!("`{arn}` was not read") })
                })
            };
            let managed_docs: Vec<(String, Result<String, FetchError>)> = r
                .managed
                .iter()
                .map(|m| match m {
                    Ok(arn) => (arn.clone(), read(arn)),
                    Err(u) => (u.0.clone(), Err(unread("a managed policy of a role the stack creates", u))),
                })
                .collect();
            let boundary = r.boundary.as_ref().map(|b| match b {
                Ok(arn) => (arn.clone(), read(arn)),
                Err(u) => (u.0.clone(), Err(unread("the permissions boundary of a role the stack creates", u))),
            });
            let info = RoleInfo {
                arn: r.arn.to_string(),
                name: name.clone(),
                boundary_arn: boundary.as_ref().map(|(a, _)| a.clone()),
                inline_names: inline.iter().map(|(n, _)| n.clone()).collect(),
                attached_arns: managed_docs.iter().map(|(a, _)| a.clone()).collect(),
                trust_policy: None,
                generated_from: r.generated_name.then(|| r.logical_id.clone()),
            };
            self.roles.insert(name.clone(), Ok(RoleFacts { info, inline, managed: managed_docs, boundary }));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::resolve::StackEnv;
    use serde_json::json;

    #[test]
    fn a_role_the_stack_creates_with_its_attached_policies() {
        let t = Template::from_value(&json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["FnRole", "Arn"]}}},
            "FnRole": {"Type": "AWS::IAM::Role", "Properties": {
                "ManagedPolicyArns": [{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]]}],
                "Policies": [{"PolicyName": "own", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}]}},
            "Extra": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": [{"Ref": "FnRole"}],
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": {"Fn::GetAtt": ["Key", "Arn"]}}]}}},
            "Key": {"Type": "AWS::KMS::Key", "Properties": {}}
        }}))
        .unwrap();
        let env =
            StackEnv { account: Some("111111111111".into()), partition: Some("aws".into()), ..StackEnv::default() };
        let r = Resolver::new(&t, &env);
        let found = roles(&t, &r, Some("111111111111"), Some("aws"), None);
        assert_eq!(found.len(), 1);
        let role = &found[0];
        assert_eq!(role.arn.to_string(), "arn:aws:iam::111111111111:role/FnRole");
        assert_eq!(role.managed, [Ok("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole".to_owned())]);
        assert_eq!(role.inline[0].0, "own");
        // A resource not resolved before the deploy stays in the document, marked: only the
        // statement naming it is undecided.
        assert_eq!(role.inline[1].0, "Extra");
        let doc = role.inline[1].1.as_ref().unwrap();
        assert!(doc.contains("unresolved:Fn::GetAtt Key.Arn"), "{doc}");
        assert!(roles(&t, &r, None, Some("aws"), None).is_empty(), "no account: no ARN to name the role by");
        // With the stack's name, as CloudFormation's generated names begin: two stacks' roles of
        // one logical id are two roles.
        let named = roles(&t, &r, Some("111111111111"), Some("aws"), Some("App"));
        assert_eq!(named[0].arn.to_string(), "arn:aws:iam::111111111111:role/App-FnRole");
    }
}
