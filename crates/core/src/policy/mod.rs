//! The IAM policy language: documents parsed in every form AWS accepts, and the matching of one
//! statement against one request, three-valued and explained.
//!
//! Pure: no I/O, no async. Patterns are compiled when a document is parsed. How the policy types
//! combine for KMS lives in `kms`.

pub mod condition;
pub mod context;
pub mod pattern;

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::arn::{PrincipalArn, PrincipalKind};
pub use condition::Condition;
pub use context::{Context, Known, Tri};
use pattern::{Pattern, Syntax};

/// Allow or Deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        })
    }
}

/// One entry of a Principal block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`.
    Anyone,
    /// A bare account id or `arn:...:iam::ACCOUNT:root`: the account, i.e. delegation to its IAM policies.
    Account(String),
    /// A role, user or role-session ARN.
    Arn(PrincipalArn),
    /// A service principal (`logs.us-east-1.amazonaws.com`): matches that service acting as itself,
    /// never an IAM principal.
    Service(String),
    /// A federated or canonical-user principal, or an ARN that names no IAM principal (e.g. a
    /// unique id `AROA...` left by a deleted role): matches no IAM principal.
    Other(String),
}

/// How a request's principal is named by a Principal block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Naming {
    /// Not named.
    No,
    /// Through its account (`:root` or the bare id): the account's IAM policies must also allow.
    Account,
    /// By `"*"`.
    Anyone,
    /// By the ARN of its role (for a session), or its own user or role ARN.
    Entity,
    /// By its exact role-session ARN.
    Session,
}

#[derive(Clone, Debug)]
enum Principals {
    /// No Principal element (identity policies, SCPs, boundaries).
    Absent,
    Principal(Vec<PrincipalEntry>),
    NotPrincipal(Vec<PrincipalEntry>),
}

#[derive(Clone, Debug)]
enum Patterns {
    /// The element is missing: the statement matches nothing (docs/aws-facts.md 1.8).
    Missing,
    Is(Vec<Pattern>),
    Not(Vec<Pattern>),
}

/// A parsed statement.
#[derive(Clone, Debug)]
pub struct Statement {
    pub sid: Option<Arc<str>>,
    /// Position in the document, from 0.
    pub index: usize,
    pub effect: Effect,
    principals: Principals,
    actions: Patterns,
    resources: Patterns,
    pub conditions: Vec<Condition>,
}

/// A parsed policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Which policy this is, as named in explanations (`key policy`, `identity policy app-inline`).
    pub name: Arc<str>,
    /// True with `"Version": "2012-10-17"`: policy variables are substituted only then.
    pub version_2012: bool,
    pub statements: Vec<Statement>,
}

/// Why a document could not be parsed: names the statement and the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{policy}: {location}: {message}")]
pub struct PolicyError {
    pub policy: String,
    pub location: String,
    pub message: String,
}

/// A request as the policy language sees it.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub principal: &'a PrincipalArn,
    /// Any case: actions match case-insensitively.
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

/// A statement that decided (or helped decide) an outcome.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Deciding {
    pub policy: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<Arc<str>>,
    pub index: usize,
    pub effect: Effect,
}

impl Deciding {
    pub fn of(policy: &Policy, s: &Statement) -> Deciding {
        Deciding { policy: Arc::clone(&policy.name), sid: s.sid.clone(), index: s.index, effect: s.effect }
    }
}

impl fmt::Display for Deciding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "{} statement `{sid}` ({})", self.policy, self.effect),
            None => write!(f, "{} statement #{} ({})", self.policy, self.index + 1, self.effect),
        }
    }
}

impl Policy {
    /// Parses a policy document (object, or a JSON string of one).
    pub fn parse(name: &str, doc: &Value) -> Result<Policy, PolicyError> {
        let err = |location: &str, message: String| PolicyError {
            policy: name.to_owned(),
            location: location.to_owned(),
            message,
        };
        let owned;
        let doc = match doc {
            Value::String(s) => {
                owned =
                    serde_json::from_str::<Value>(s).map_err(|e| err("document", format!("not valid JSON: {e}")))?;
                &owned
            }
            d => d,
        };
        let Value::Object(map) = doc else { return Err(err("document", "expected a JSON object".into())) };
        for key in map.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(err("document", format!("unknown element `{key}` (expected Version, Id, Statement)")));
            }
        }
        let version_2012 = match map.get("Version") {
            None => false,
            Some(Value::String(v)) if v == "2012-10-17" => true,
            Some(Value::String(v)) if v == "2008-10-17" => false,
            Some(v) => return Err(err("Version", format!("expected 2012-10-17 or 2008-10-17, got {v}"))),
        };
        let statements = match map.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(v @ Value::Object(_)) => vec![v],
            Some(_) => return Err(err("Statement", "expected a statement object or a list of statements".into())),
            None => return Err(err("Statement", "missing".into())),
        };
        let statements = statements
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                Statement::parse(s, i, version_2012).map_err(|(field, m)| {
                    let sid = s.get("Sid").and_then(Value::as_str).map(|s| format!(" (`{s}`)")).unwrap_or_default();
                    err(&format!("Statement[{i}]{sid}.{field}"), m)
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Policy { name: Arc::from(name), version_2012, statements })
    }
}

impl Policy {
    /// Parses a KMS key policy: a policy document whose every statement names a Principal or
    /// NotPrincipal. KMS refuses any other with MalformedPolicyDocumentException (KMS API
    /// Reference, PutKeyPolicy and CreateKey, `Policy`: "Each statement in the key policy must
    /// contain one or more principals"), so a statement without one is never a grant to anyone.
    pub fn parse_key_policy(name: &str, doc: &Value) -> Result<Policy, PolicyError> {
        let policy = Policy::parse(name, doc)?;
        if let Some(s) = policy.statements.iter().find(|s| !s.has_principal()) {
            let sid = s.sid.as_deref().map(|sid| format!(" (`{sid}`)")).unwrap_or_default();
            return Err(PolicyError {
                policy: name.to_owned(),
                location: format!("Statement[{}]{sid}", s.index),
                message: "a key policy statement needs a Principal or NotPrincipal: KMS rejects this policy \
                          (MalformedPolicyDocumentException)"
                    .to_owned(),
            });
        }
        Ok(policy)
    }
}

fn strings(v: &Value) -> Result<Vec<&str>, String> {
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items.iter().map(|i| i.as_str().ok_or_else(|| "expected strings".to_owned())).collect(),
        _ => Err("expected a string or a list of strings".into()),
    }
}

fn principal_entries(v: &Value) -> Result<Vec<PrincipalEntry>, String> {
    if v.as_str() == Some("*") {
        return Ok(vec![PrincipalEntry::Anyone]);
    }
    let Value::Object(map) = v else { return Err("expected \"*\" or an object such as {\"AWS\": ...}".into()) };
    let mut out = Vec::new();
    for (kind, ids) in map {
        let ids = strings(ids)?;
        for id in ids {
            let entry = match kind.as_str() {
                "AWS" if id == "*" => PrincipalEntry::Anyone,
                "AWS" if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
                    PrincipalEntry::Account(id.to_owned())
                }
                "AWS" => match PrincipalArn::parse(id) {
                    Ok(arn) if matches!(arn.kind(), PrincipalKind::Root) => {
                        PrincipalEntry::Account(arn.account().to_string())
                    }
                    Ok(arn) => PrincipalEntry::Arn(arn),
                    Err(_) if id.contains('*') || id.contains('?') => {
                        return Err(format!("`{id}`: Principal takes no wildcards except \"*\" alone"));
                    }
                    Err(_) => PrincipalEntry::Other(id.to_owned()),
                },
                "Service" => PrincipalEntry::Service(id.to_owned()),
                "Federated" | "CanonicalUser" => PrincipalEntry::Other(format!("{kind}:{id}")),
                other => {
                    return Err(format!(
                        "unknown principal type `{other}` (expected AWS, Service, Federated, CanonicalUser)"
                    ));
                }
            };
            out.push(entry);
        }
    }
    Ok(out)
}

impl Statement {
    fn parse(v: &Value, index: usize, variables: bool) -> Result<Statement, (String, String)> {
        let e = |field: &str, m: String| (field.to_owned(), m);
        let Value::Object(map) = v else { return Err(e("", "expected a statement object".into())) };
        const KEYS: &[&str] = &[
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        if let Some(k) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(e(k, format!("unknown element (expected {})", KEYS.join(", "))));
        }
        let sid = match map.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(Arc::from(s.as_str())),
            Some(_) => return Err(e("Sid", "expected a string".into())),
        };
        let effect = match map.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(e("Effect", "expected Allow or Deny".into())),
        };
        let principals = match (map.get("Principal"), map.get("NotPrincipal")) {
            (Some(_), Some(_)) => return Err(e("Principal", "Principal and NotPrincipal together".into())),
            (Some(p), None) => Principals::Principal(principal_entries(p).map_err(|m| e("Principal", m))?),
            (None, Some(p)) => Principals::NotPrincipal(principal_entries(p).map_err(|m| e("NotPrincipal", m))?),
            (None, None) => Principals::Absent,
        };
        let action_syntax = Syntax { wildcards: true, variables: false, fold_case: true };
        let resource_syntax = Syntax { wildcards: true, variables, fold_case: false };
        let actions = patterns(map, "Action", "NotAction", action_syntax).map_err(|(f, m)| e(&f, m))?;
        let resources = patterns(map, "Resource", "NotResource", resource_syntax).map_err(|(f, m)| e(&f, m))?;
        let conditions = match map.get("Condition") {
            None => Vec::new(),
            Some(Value::Object(blocks)) => {
                let mut all = Vec::new();
                for (op, body) in blocks {
                    all.extend(Condition::parse_block(op, body, variables).map_err(|m| e("Condition", m))?);
                }
                all
            }
            Some(_) => return Err(e("Condition", "expected an object of operators".into())),
        };
        Ok(Statement { sid, index, effect, principals, actions, resources, conditions })
    }

    /// True when the statement has both an action and a resource element (otherwise it has no effect).
    pub fn is_effective(&self) -> bool {
        !matches!(self.actions, Patterns::Missing) && !matches!(self.resources, Patterns::Missing)
    }

    /// True when the statement names a Principal or NotPrincipal.
    pub fn has_principal(&self) -> bool {
        !matches!(self.principals, Principals::Absent)
    }

    /// How this statement's Principal names the request's principal. `has_boundary`: the principal
    /// has a permissions boundary (a Deny with NotPrincipal then always applies).
    pub fn naming(&self, p: &PrincipalArn, has_boundary: bool) -> Naming {
        match &self.principals {
            Principals::Absent => Naming::Entity,
            Principals::Principal(entries) => entries.iter().map(|e| name(e, p)).max().unwrap_or(Naming::No),
            Principals::NotPrincipal(entries) => {
                if self.effect == Effect::Deny && has_boundary {
                    return Naming::Entity;
                }
                // Exempt only when listed exactly: a session is exempt only by its session ARN.
                let exempt = entries.iter().any(|e| match (e, p.kind()) {
                    (PrincipalEntry::Arn(a), _) => a == p,
                    (PrincipalEntry::Account(acc), PrincipalKind::Root) => acc == p.account().as_str(),
                    (PrincipalEntry::Anyone, _) => true,
                    _ => false,
                });
                if exempt { Naming::No } else { Naming::Entity }
            }
        }
    }

    /// How this statement's Principal names the service principal `service` (a service calling
    /// as itself, as CloudWatch Logs does with a log group's key): by its name (`Entity`), by
    /// `"*"` (`Anyone`), or not. Service principal names compare without regard to case.
    pub fn naming_service(&self, service: &str) -> Naming {
        let is = |e: &PrincipalEntry| matches!(e, PrincipalEntry::Service(s) if s.eq_ignore_ascii_case(service));
        match &self.principals {
            Principals::Absent => Naming::Entity,
            Principals::Principal(entries) => entries
                .iter()
                .map(|e| match e {
                    PrincipalEntry::Anyone => Naming::Anyone,
                    e if is(e) => Naming::Entity,
                    _ => Naming::No,
                })
                .max()
                .unwrap_or(Naming::No),
            Principals::NotPrincipal(entries) => {
                if entries.iter().any(|e| is(e) || matches!(e, PrincipalEntry::Anyone)) {
                    Naming::No
                } else {
                    Naming::Entity
                }
            }
        }
    }

    /// Whether action, resource and conditions match (the principal is judged by [`Self::naming`]).
    pub fn applies(&self, req: &Request<'_>) -> Tri {
        self.matches(req.action, req.resource, req.context, true)
    }

    /// As [`Self::applies`], for a request of a service principal (which [`Request`] cannot name).
    pub fn applies_to(&self, action: &str, resource: &str, context: &Context) -> Tri {
        self.matches(action, resource, context, true)
    }

    /// As [`Self::applies`] for a role's trust policy, where statements carry no Resource: the
    /// resource is the role itself.
    pub fn applies_in_trust_policy(&self, req: &Request<'_>) -> Tri {
        self.matches(req.action, req.resource, req.context, false)
    }

    fn matches(&self, action: &str, resource: &str, context: &Context, resource_required: bool) -> Tri {
        let action = match &self.actions {
            Patterns::Missing => return Tri::No,
            Patterns::Is(ps) => any_match(ps, action, context),
            Patterns::Not(ps) => any_match(ps, action, context).negate(),
        };
        if action.is_no() {
            return Tri::No;
        }
        let resource = match &self.resources {
            Patterns::Missing if !resource_required => Tri::Yes,
            Patterns::Missing => return Tri::No,
            Patterns::Is(ps) => any_match(ps, resource, context),
            Patterns::Not(ps) => any_match(ps, resource, context).negate(),
        };
        let mut t = action.and(resource);
        for c in &self.conditions {
            if t.is_no() {
                break;
            }
            t = t.and(c.eval(context));
        }
        t
    }
}

/// What a principal's own policies (identity policies capped by a boundary) say about a request to a
/// service whose resource has no policy of its own, as for `ssm:GetParameter`.
#[derive(Clone, Debug)]
pub struct IdentityDecision {
    pub allowed: Tri,
    /// The allows when allowed; the denies when denied explicitly.
    pub deciding: Vec<Deciding>,
    pub explicit_deny: bool,
}

/// Evaluates `req` against identity policies and an optional permissions boundary.
pub fn evaluate_identity(identity: &[Policy], boundary: Option<&Policy>, req: &Request<'_>) -> IdentityDecision {
    let mut allow = Tri::No;
    let mut deny = Tri::No;
    let (mut allows, mut denies) = (Vec::new(), Vec::new());
    let mut bound_allow = Tri::No;
    for (p, is_boundary) in identity.iter().map(|p| (p, false)).chain(boundary.map(|b| (b, true))) {
        for s in &p.statements {
            let t = s.applies(req);
            if t.is_no() {
                continue;
            }
            let yes = t.is_yes();
            match (s.effect, is_boundary) {
                (Effect::Deny, _) => {
                    deny = deny.or(t);
                    if yes {
                        denies.push(Deciding::of(p, s));
                    }
                }
                (Effect::Allow, false) => {
                    allow = allow.or(t);
                    if yes {
                        allows.push(Deciding::of(p, s));
                    }
                }
                (Effect::Allow, true) => bound_allow = bound_allow.or(t),
            }
        }
    }
    if deny.is_yes() {
        return IdentityDecision { allowed: Tri::No, deciding: denies, explicit_deny: true };
    }
    let capped = if boundary.is_some() { allow.and(bound_allow) } else { allow };
    let allowed = capped.and(deny.negate());
    IdentityDecision { allowed, deciding: allows, explicit_deny: false }
}

/// What a principal's identity policies and a resource's own policy say together, for a service
/// whose resources carry policies of their own (a Secrets Manager secret), by IAM's evaluation
/// logic (IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation logic"):
/// an explicit deny in either wins; in the resource's account, either side may allow (a resource
/// policy naming a role is capped by the role's permissions boundary, one naming the session is
/// not, one naming the account only delegates to IAM); from another account, both must.
#[derive(Clone, Debug)]
pub struct ResourceDecision {
    pub allowed: Tri,
    /// The allows when allowed; the denies when denied explicitly.
    pub deciding: Vec<Deciding>,
    pub explicit_deny: bool,
    /// Whether the resource policy allows the request on its own account of things.
    pub resource_allows: Tri,
    /// Whether the principal's identity policies (capped by its boundary) allow it; unknown when
    /// they are not known.
    pub identity_allows: Tri,
}

/// Evaluates `req` against the principal's identity policies (`None`: not known), its boundary,
/// and the resource's policy (`None`: it has none). `same_account`: the principal is in the
/// resource's account.
pub fn evaluate_with_resource(
    identity: Option<&[Policy]>,
    boundary: Option<&Policy>,
    resource: Option<&Policy>,
    same_account: bool,
    req: &Request<'_>,
) -> ResourceDecision {
    let is_user = matches!(req.principal.kind(), PrincipalKind::User { .. });
    let has_boundary = boundary.is_some();
    let mut deny = Tri::No;
    let mut denies = Vec::new();
    let (mut direct, mut through_account) = (Tri::No, Tri::No);
    let mut allows = Vec::new();
    for p in resource.iter() {
        for s in &p.statements {
            let naming = s.naming(req.principal, has_boundary);
            if naming == Naming::No {
                continue;
            }
            let t = s.applies(req);
            if t.is_no() {
                continue;
            }
            let yes = t.is_yes();
            match (s.effect, naming) {
                (Effect::Deny, _) => {
                    deny = deny.or(t);
                    if yes {
                        denies.push(Deciding::of(p, s));
                    }
                }
                (Effect::Allow, Naming::Account) => through_account = through_account.or(t),
                (Effect::Allow, Naming::Entity) if !is_user && has_boundary => {
                    // Capped by the boundary: allowed only where the boundary allows too.
                    let capped = boundary.map_or(Tri::Yes, |b| boundary_allows(b, req));
                    direct = direct.or(t.and(capped));
                    if yes {
                        allows.push(Deciding::of(p, s));
                    }
                }
                (Effect::Allow, _) => {
                    direct = direct.or(t);
                    if yes {
                        allows.push(Deciding::of(p, s));
                    }
                }
            }
        }
    }
    let (identity_allows, identity_deciding) = match identity {
        Some(ids) => {
            let d = evaluate_identity(ids, boundary, req);
            if d.explicit_deny {
                deny = Tri::Yes;
                denies.extend(d.deciding);
                (Tri::No, Vec::new())
            } else {
                (d.allowed, d.deciding)
            }
        }
        None => (Tri::Unknown(["identity policies".to_owned()].into()), Vec::new()),
    };
    if deny.is_yes() {
        return ResourceDecision {
            allowed: Tri::No,
            deciding: denies,
            explicit_deny: true,
            resource_allows: Tri::No,
            identity_allows,
        };
    }
    let resource_allows = if same_account { direct.clone() } else { direct.clone().or(through_account) };
    let allowed = if same_account {
        resource_allows.clone().or(identity_allows.clone())
    } else {
        resource_allows.clone().and(identity_allows.clone())
    }
    .and(deny.negate());
    let mut deciding = Vec::new();
    if allowed.is_yes() {
        if resource_allows.is_yes() {
            deciding.extend(allows);
        }
        if identity_allows.is_yes() && (!same_account || !resource_allows.is_yes()) {
            deciding.extend(identity_deciding);
        }
    }
    ResourceDecision { allowed, deciding, explicit_deny: false, resource_allows, identity_allows }
}

/// Whether a permissions boundary allows `req` (its denies are counted with the identity side).
fn boundary_allows(boundary: &Policy, req: &Request<'_>) -> Tri {
    boundary
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .fold(Tri::No, |acc, s| if acc.is_yes() { acc } else { acc.or(s.applies(req)) })
}

fn any_match(ps: &[Pattern], text: &str, ctx: &Context) -> Tri {
    let mut t = Tri::No;
    for p in ps {
        t = t.or(p.matches(text, ctx));
        if t.is_yes() {
            break;
        }
    }
    t
}

fn name(entry: &PrincipalEntry, p: &PrincipalArn) -> Naming {
    match entry {
        PrincipalEntry::Anyone => Naming::Anyone,
        PrincipalEntry::Account(a) if a == p.account().as_str() => Naming::Account,
        PrincipalEntry::Arn(a) if a == p => {
            if matches!(p.kind(), PrincipalKind::AssumedRole { .. }) {
                Naming::Session
            } else {
                Naming::Entity
            }
        }
        PrincipalEntry::Arn(a) => match (a.kind(), p.kind()) {
            (PrincipalKind::Role { name, .. }, PrincipalKind::AssumedRole { role, .. })
                if a.account() == p.account()
                    && a.partition() == p.partition()
                    && crate::arn::same_role_name(name, role) =>
            {
                Naming::Entity
            }
            (PrincipalKind::Role { name: n1, .. }, PrincipalKind::Role { name: n2, .. })
                if a.account() == p.account() && crate::arn::same_role_name(n1, n2) =>
            {
                Naming::Entity
            }
            _ => Naming::No,
        },
        _ => Naming::No,
    }
}

fn patterns(map: &Map<String, Value>, is: &str, not: &str, syntax: Syntax) -> Result<Patterns, (String, String)> {
    let compile = |field: &str, v: &Value| -> Result<Vec<Pattern>, (String, String)> {
        let items = strings(v).map_err(|m| (field.to_owned(), m))?;
        if items.is_empty() {
            return Err((field.to_owned(), "empty list".into()));
        }
        items
            .into_iter()
            .map(|s| {
                if field.ends_with("Action") && s != "*" && !s.contains(':') {
                    return Err((field.to_owned(), format!("`{s}` is not service:action")));
                }
                Pattern::compile(s, syntax).map_err(|m| (field.to_owned(), m))
            })
            .collect()
    };
    match (map.get(is), map.get(not)) {
        (Some(_), Some(_)) => Err((is.to_owned(), format!("{is} and {not} together"))),
        (Some(v), None) => Ok(Patterns::Is(compile(is, v)?)),
        (None, Some(v)) => Ok(Patterns::Not(compile(not, v)?)),
        (None, None) => Ok(Patterns::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn role_session() -> PrincipalArn {
        PrincipalArn::parse("arn:aws:sts::111111111111:assumed-role/App/s1").unwrap()
    }

    #[test]
    fn statement_object_or_array_and_every_principal_form() {
        let p = Policy::parse(
            "key policy",
            &json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}}),
        )
        .unwrap();
        assert_eq!(p.statements.len(), 1);
        let p = Policy::parse(
            "key policy",
            &json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": ["111111111111", "arn:aws:iam::111111111111:role/App"], "Service": "ec2.amazonaws.com"}, "Action": ["kms:Decrypt"], "Resource": ["*"]},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::111111111111:assumed-role/App/s1"}, "Action": "kms:Decrypt", "Resource": "*"},
                {"Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEID"}, "Action": "kms:Decrypt", "Resource": "*"},
            ]}),
        )
        .unwrap();
        let s = role_session();
        let names: Vec<Naming> = p.statements.iter().map(|st| st.naming(&s, false)).collect();
        assert_eq!(names, [Naming::Account, Naming::Entity, Naming::Session, Naming::No]);
    }

    #[test]
    fn not_principal_exempts_a_session_only_by_its_session_arn_and_never_with_a_boundary() {
        let p = Policy::parse(
            "key policy",
            &json!({"Statement": [
                {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::111111111111:role/App"]}, "Action": "kms:*", "Resource": "*"},
                {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:sts::111111111111:assumed-role/App/s1"]}, "Action": "kms:*", "Resource": "*"},
            ]}),
        )
        .unwrap();
        let s = role_session();
        assert_eq!(p.statements[0].naming(&s, false), Naming::Entity, "role ARN alone does not exempt the session");
        assert_eq!(p.statements[1].naming(&s, false), Naming::No);
        assert_eq!(p.statements[1].naming(&s, true), Naming::Entity, "a boundary makes NotPrincipal deny always");
    }

    #[test]
    fn statements_without_action_or_resource_match_nothing() {
        let p = Policy::parse("p", &json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*"}]}))
            .unwrap();
        let ctx = Context::default();
        let s = role_session();
        let req = Request {
            principal: &s,
            action: "kms:decrypt",
            resource: "arn:aws:kms:us-east-1:111111111111:key/k",
            context: &ctx,
        };
        assert!(p.statements[0].applies(&req).is_no());
        assert!(!p.statements[0].is_effective());
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = Policy::parse(
            "p",
            &json!({"Statement": [{"Effect": "Allow", "NotAction": "kms:Put*", "NotResource": "arn:aws:kms:*:*:key/secret"}]}),
        )
        .unwrap();
        let ctx = Context::default();
        let s = role_session();
        let mut req = Request {
            principal: &s,
            action: "kms:decrypt",
            resource: "arn:aws:kms:us-east-1:111111111111:key/k",
            context: &ctx,
        };
        assert!(p.statements[0].applies(&req).is_yes());
        req.action = "kms:putkeypolicy";
        assert!(p.statements[0].applies(&req).is_no());
        req.action = "kms:decrypt";
        req.resource = "arn:aws:kms:us-east-1:111111111111:key/secret";
        assert!(p.statements[0].applies(&req).is_no());
    }

    #[test]
    fn malformed_documents_name_the_statement_and_field() {
        for (doc, want) in [
            (
                json!({"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}),
                "Statement[0].Effect: expected Allow or Deny",
            ),
            (
                json!({"Statement": [{"Sid": "X", "Effect": "Allow", "Action": 5, "Resource": "*"}]}),
                "Statement[0] (`X`).Action",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "Decrypt", "Resource": "*"}]}),
                "is not service:action",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"}, "Action": "*", "Resource": "*"}]}),
                "no wildcards",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Principal": {"Group": "x"}, "Action": "*", "Resource": "*"}]}),
                "unknown principal type",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}]}),
                "Action and NotAction together",
            ),
            (json!({"Statement": [{"Effect": "Allow", "Actions": "*"}]}), "Statement[0].Actions: unknown element"),
            (json!({"Version": "2020-01-01", "Statement": []}), "Version"),
            (json!({"Statement": "x"}), "Statement: expected"),
            (json!([]), "document"),
        ] {
            let e = Policy::parse("key policy", &doc).unwrap_err().to_string();
            assert!(e.contains(want), "{doc}: {e}");
        }
    }
}
