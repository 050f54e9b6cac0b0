//! The simulator: the scenario format of docs/report.md, parsed strictly, decided by `kms::authorize`,
//! and rendered as JSON or as a sentence a user can act on.
//!
//! Pure over text in, text out; the CLI does the file and terminal I/O.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::arn::PrincipalArn;
use crate::kms::{self, Decision, Grant, GrantConstraint, Inputs, KeyState, Outcome};
use crate::policy::{Context, Policy, Request};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawScenario {
    request: RawRequest,
    key_policy: Value,
    #[serde(default)]
    key_state: Option<String>,
    /// Absent: none. `null`: not known (another account's role whose policies cannot be read).
    #[serde(default = "no_policies")]
    identity_policies: Value,
    #[serde(default)]
    permissions_boundary: Option<Value>,
    #[serde(default)]
    scps: Vec<Value>,
    #[serde(default)]
    grants: Vec<RawGrant>,
}

fn no_policies() -> Value {
    Value::Array(vec![])
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRequest {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    context: BTreeMap<String, Value>,
    #[serde(default)]
    encryption_context: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RawGrant {
    #[serde(default)]
    grant_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    grantee_principal: String,
    operations: Vec<String>,
    #[serde(default)]
    constraints: Option<RawConstraints>,
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    retiring_principal: Option<String>,
    #[serde(default)]
    issuing_account: Option<String>,
    #[serde(default)]
    creation_date: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RawConstraints {
    #[serde(default)]
    encryption_context_equals: Option<BTreeMap<String, String>>,
    #[serde(default)]
    encryption_context_subset: Option<BTreeMap<String, String>>,
}

/// A parsed, ready-to-decide scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    principal: Caller,
    action: String,
    key_arn: String,
    context: Context,
    encryption_context: BTreeMap<String, String>,
    key_policy: Policy,
    key_state: KeyState,
    identity: Option<Vec<Policy>>,
    boundary: Option<Policy>,
    scps: Vec<Policy>,
    grants: Vec<Grant>,
}

/// Who makes a scenario's request: an IAM principal (by ARN), or a service principal calling as
/// itself (`logs.us-east-1.amazonaws.com`), which only the key policy can allow.
#[derive(Clone, Debug)]
enum Caller {
    Iam(PrincipalArn),
    Service(String),
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Iam(p) => p.fmt(f),
            Caller::Service(s) => f.write_str(s),
        }
    }
}

/// Why a scenario could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The input is not JSON.
    #[error("scenario {index}: not valid JSON: {source}")]
    Json {
        /// The scenario's position, from 1.
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    /// The JSON is not of the scenario's shape (a missing or unknown field, a wrong type).
    #[error("scenario: {0}")]
    Shape(#[source] serde_json::Error),
    /// A field has a value the simulator cannot take.
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// A policy document does not parse (or is a key policy KMS would reject).
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
}

/// A field's error.
fn field(field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Field { field: field.into(), message: message.into() }
}

impl Scenario {
    /// Parses one scenario.
    pub fn from_value(v: Value) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = serde_json::from_value(v).map_err(ScenarioError::Shape)?;
        let principal = if crate::arn::is_service_principal(&raw.request.principal) {
            Caller::Service(raw.request.principal.clone())
        } else {
            Caller::Iam(PrincipalArn::parse(&raw.request.principal).map_err(|m| {
                field("request.principal", format!("{m}, or a service principal such as logs.us-east-1.amazonaws.com"))
            })?)
        };
        let action = kms::canonical_action(&raw.request.action)
            .ok_or_else(|| field("request.action", format!("not a KMS action: `{}`", raw.request.action)))?
            .to_owned();
        let key_arn = raw.request.resource;
        if kms::key_account(&key_arn).is_none() || !key_arn.contains(":key/") {
            return Err(field(
                "request.resource",
                format!("expected a key ARN arn:aws:kms:REGION:ACCOUNT:key/ID, got `{key_arn}`"),
            ));
        }
        let mut context = Context::default();
        for (k, v) in &raw.request.context {
            match v {
                Value::Null => context.set_absent(k),
                Value::String(s) => context.set(k, s.clone()),
                Value::Bool(b) => context.set(k, b.to_string()),
                Value::Number(n) => context.set(k, n.to_string()),
                Value::Array(items) => {
                    let vals = items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| field(format!("request.context.{k}"), "list items must be strings"))
                        })
                        .collect::<Result<_, _>>()?;
                    context.set_many(k, vals);
                }
                Value::Object(_) => {
                    return Err(field(format!("request.context.{k}"), "expected a string, list or null"));
                }
            }
        }
        match &principal {
            Caller::Iam(p) => kms::derive_context(&mut context, p, &key_arn, &raw.request.encryption_context),
            Caller::Service(s) => {
                kms::derive_service_context(&mut context, s, &key_arn, &raw.request.encryption_context);
            }
        }
        let parse = |name: &str, v: &Value| Policy::parse(name, v).map_err(ScenarioError::from);
        let key_policy = Policy::parse_key_policy("key policy", &raw.key_policy)?;
        let key_state = match raw.key_state.as_deref() {
            None => KeyState::Enabled,
            Some(s) => KeyState::parse(s).ok_or_else(|| field("keyState", format!("unknown key state `{s}`")))?,
        };
        let identity = match &raw.identity_policies {
            Value::Null => None,
            Value::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, p)| parse(&format!("identity policy {}", i + 1), p))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(field("identityPolicies", "expected a list of policies or null")),
        };
        let boundary = raw.permissions_boundary.as_ref().map(|b| parse("permissions boundary", b)).transpose()?;
        let scps =
            raw.scps.iter().enumerate().map(|(i, p)| parse(&format!("SCP {}", i + 1), p)).collect::<Result<_, _>>()?;
        let grants = raw
            .grants
            .into_iter()
            .enumerate()
            .map(|(i, g)| {
                let grantee = PrincipalArn::parse(&g.grantee_principal)
                    .map_err(|m| field(format!("grants[{i}].GranteePrincipal"), m.to_string()))?;
                let constraint = match g.constraints {
                    None => GrantConstraint::None,
                    Some(RawConstraints { encryption_context_equals: Some(m), encryption_context_subset: None }) => {
                        GrantConstraint::Equals(m)
                    }
                    Some(RawConstraints { encryption_context_equals: None, encryption_context_subset: Some(m) }) => {
                        GrantConstraint::Subset(m)
                    }
                    Some(RawConstraints { encryption_context_equals: None, encryption_context_subset: None }) => {
                        GrantConstraint::None
                    }
                    Some(_) => {
                        return Err(field(
                            format!("grants[{i}].Constraints"),
                            "EncryptionContextEquals and EncryptionContextSubset together",
                        ));
                    }
                };
                let _ = (g.key_id, g.retiring_principal, g.issuing_account, g.creation_date);
                Ok(Grant { id: g.grant_id.or(g.name), grantee, operations: g.operations, constraint })
            })
            .collect::<Result<_, _>>()?;
        Ok(Scenario {
            principal,
            action,
            key_arn,
            context,
            encryption_context: raw.request.encryption_context,
            key_policy,
            key_state,
            identity,
            boundary,
            scps,
            grants,
        })
    }

    /// Decides the scenario.
    pub fn decide(&self) -> Outcome {
        let principal = match &self.principal {
            Caller::Iam(p) => p,
            Caller::Service(service) => {
                return kms::authorize_service(&kms::ServiceInputs {
                    service,
                    action: &self.action,
                    resource: &self.key_arn,
                    context: &self.context,
                    key_policy: &self.key_policy,
                    key_state: self.key_state,
                });
            }
        };
        kms::authorize(&Inputs {
            request: Request { principal, action: &self.action, resource: &self.key_arn, context: &self.context },
            encryption_context: &self.encryption_context,
            key_policy: &self.key_policy,
            key_state: self.key_state,
            identity_policies: self.identity.as_deref(),
            boundary: self.boundary.as_ref(),
            scps: &self.scps,
            grants: &self.grants,
        })
    }

    /// One sentence a user can act on.
    pub fn explain(&self, o: &Outcome) -> String {
        let who = &self.principal;
        let what = format!("{} on key `{}`", self.action, self.key_arn);
        let because = |items: &[String]| items.join("; ");
        let statements: Vec<String> = o.explanation.iter().map(ToString::to_string).collect();
        let mut s = match o.decision {
            Decision::Allow => format!("Allow: `{who}` may call {what}, allowed by {}", because(&statements)),
            Decision::ExplicitDeny => {
                format!("ExplicitDeny: `{who}` may not call {what}: denied by {}", because(&statements))
            }
            Decision::ImplicitDeny => format!("ImplicitDeny: `{who}` may not call {what}: {}", because(&o.missing)),
            Decision::Unknown => {
                format!(
                    "Unknown: whether `{who}` may call {what} depends on what is not known: {}",
                    because(&o.unknown_reasons)
                )
            }
        };
        if !o.fixes.is_empty() {
            s.push_str(&format!("; fix: {}", o.fixes.join("; ")));
        }
        if let Some(err) = o.error {
            let why = match err {
                kms::KmsError::DisabledException => "the key is disabled",
                kms::KmsError::KmsInvalidStateException => "the key's state does not allow it",
                kms::KmsError::UnsupportedOperation => "KMS does not allow this operation on a key in another account",
            };
            s.push_str(&format!("; the call would still fail with {err} ({why})"));
        }
        s
    }
}

/// The JSON output of one scenario.
pub fn outcome_json(o: &Outcome) -> Value {
    json!({
        "decision": o.decision,
        "error": o.error,
        "explanation": o.explanation,
        "missing": o.missing,
        "unknownReasons": o.unknown_reasons,
        "fixes": o.fixes,
    })
}

/// Splits input into scenarios: one JSON object, a JSON array, or JSON Lines.
pub fn split_input(text: &str) -> Result<Vec<Value>, ScenarioError> {
    let mut out = Vec::new();
    for (i, v) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
        match v {
            Ok(Value::Array(items)) if i == 0 => out.extend(items),
            Ok(v) => out.push(v),
            Err(source) => return Err(ScenarioError::Json { index: out.len() + 1, source }),
        }
    }
    Ok(out)
}
