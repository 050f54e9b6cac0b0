//! KMS authorization: can this principal do this KMS action on this key, in this context, and why.
//!
//! Combines the key policy (mandatory), identity policies, a permissions boundary, SCPs, grants and
//! the key state, per docs/aws-facts.md section 1 (KMS Developer Guide "Key policies", "Grants", "Key
//! states"; IAM User Guide "Policy evaluation logic", "Cross-account policy evaluation logic",
//! "Permissions boundaries"). Pure: no I/O. Where AWS documents nothing, the answer is `Unknown`
//! with the reason, never a guess.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::arn::{PrincipalArn, PrincipalKind};
use crate::policy::{Context, Deciding, Effect, Naming, Policy, Request, Tri};

/// The final answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
    Unknown,
}

/// The error the real call would still hit after authorization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KmsError {
    DisabledException,
    #[serde(rename = "KMSInvalidStateException")]
    KmsInvalidStateException,
    UnsupportedOperation,
}

impl std::fmt::Display for KmsError {
    /// The exception name the KMS API returns.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KmsError::DisabledException => "DisabledException",
            KmsError::KmsInvalidStateException => "KMSInvalidStateException",
            KmsError::UnsupportedOperation => "UnsupportedOperation",
        })
    }
}

/// The key states of DescribeKey.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Creating,
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    PendingReplicaDeletion,
    Unavailable,
    Updating,
}

impl std::fmt::Display for KeyState {
    /// The state as DescribeKey names it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyState::Creating => "Creating",
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::PendingReplicaDeletion => "PendingReplicaDeletion",
            KeyState::Unavailable => "Unavailable",
            KeyState::Updating => "Updating",
        })
    }
}

impl KeyState {
    pub fn parse(s: &str) -> Option<KeyState> {
        Some(match s {
            "Creating" => KeyState::Creating,
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            "PendingReplicaDeletion" => KeyState::PendingReplicaDeletion,
            "Unavailable" => KeyState::Unavailable,
            "Updating" => KeyState::Updating,
            _ => return None,
        })
    }
}

/// Constraints of a grant (exactly one kind, or none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantConstraint {
    None,
    /// The request's encryption context must equal this map exactly.
    Equals(BTreeMap<String, String>),
    /// The request's encryption context must contain every pair of this map.
    Subset(BTreeMap<String, String>),
}

/// A grant from ListGrants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub id: Option<String>,
    pub grantee: PrincipalArn,
    /// Operation names without the `kms:` prefix, as ListGrants returns them (`Decrypt`).
    pub operations: Vec<String>,
    pub constraint: GrantConstraint,
}

/// Everything the evaluator needs about one request.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    /// The principal, the canonical `kms:Action`, the key ARN as the resource, and the context.
    pub request: Request<'a>,
    pub encryption_context: &'a BTreeMap<String, String>,
    pub key_policy: &'a Policy,
    pub key_state: KeyState,
    /// The principal's identity policies. `None`: not known (e.g. another account's role).
    pub identity_policies: Option<&'a [Policy]>,
    pub boundary: Option<&'a Policy>,
    pub scps: &'a [Policy],
    pub grants: &'a [Grant],
}

/// A decision with its explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub decision: Decision,
    pub error: Option<KmsError>,
    /// The deciding statements (and grants, as `grant` entries).
    pub explanation: Vec<Deciding>,
    /// What was missing, layer by layer, for an implicit deny; notes otherwise.
    pub missing: Vec<String>,
    pub unknown_reasons: Vec<String>,
    /// What would change the answer, when the evaluator can tell.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixes: Vec<String>,
}

impl Outcome {
    /// The start of every decision: nothing allows it yet, and nothing is explained.
    fn implicit_deny() -> Outcome {
        Outcome {
            decision: Decision::ImplicitDeny,
            error: None,
            explanation: vec![],
            missing: vec![],
            unknown_reasons: vec![],
            fixes: vec![],
        }
    }
}

/// How KMS treats an operation on a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Cryptographic: refused by a disabled or unusable key; accepted from another account.
    Crypto,
    /// Not cryptographic, but accepted on a key in another account (KMS Developer Guide,
    /// "Allowing users in other accounts to use a KMS key").
    CrossAccount,
    /// Only from the key's own account.
    OwnAccount,
}

/// Every KMS API operation, in canonical case, sorted (for binary search), with its class.
const ACTIONS: &[(&str, Class)] = &[
    ("kms:CancelKeyDeletion", Class::OwnAccount),
    ("kms:ConnectCustomKeyStore", Class::OwnAccount),
    ("kms:CreateAlias", Class::OwnAccount),
    ("kms:CreateCustomKeyStore", Class::OwnAccount),
    ("kms:CreateGrant", Class::CrossAccount),
    ("kms:CreateKey", Class::OwnAccount),
    ("kms:Decrypt", Class::Crypto),
    ("kms:DeleteAlias", Class::OwnAccount),
    ("kms:DeleteCustomKeyStore", Class::OwnAccount),
    ("kms:DeleteImportedKeyMaterial", Class::OwnAccount),
    ("kms:DeriveSharedSecret", Class::Crypto),
    ("kms:DescribeCustomKeyStores", Class::OwnAccount),
    ("kms:DescribeKey", Class::CrossAccount),
    ("kms:DisableKey", Class::OwnAccount),
    ("kms:DisableKeyRotation", Class::OwnAccount),
    ("kms:DisconnectCustomKeyStore", Class::OwnAccount),
    ("kms:EnableKey", Class::OwnAccount),
    ("kms:EnableKeyRotation", Class::OwnAccount),
    ("kms:Encrypt", Class::Crypto),
    ("kms:GenerateDataKey", Class::Crypto),
    ("kms:GenerateDataKeyPair", Class::Crypto),
    ("kms:GenerateDataKeyPairWithoutPlaintext", Class::Crypto),
    ("kms:GenerateDataKeyWithoutPlaintext", Class::Crypto),
    ("kms:GenerateMac", Class::Crypto),
    ("kms:GenerateRandom", Class::OwnAccount),
    ("kms:GetKeyPolicy", Class::OwnAccount),
    ("kms:GetKeyRotationStatus", Class::CrossAccount),
    ("kms:GetParametersForImport", Class::OwnAccount),
    ("kms:GetPublicKey", Class::CrossAccount),
    ("kms:ImportKeyMaterial", Class::OwnAccount),
    ("kms:ListAliases", Class::OwnAccount),
    ("kms:ListGrants", Class::CrossAccount),
    ("kms:ListKeyPolicies", Class::OwnAccount),
    ("kms:ListKeyRotations", Class::OwnAccount),
    ("kms:ListKeys", Class::OwnAccount),
    ("kms:ListResourceTags", Class::OwnAccount),
    ("kms:ListRetirableGrants", Class::OwnAccount),
    ("kms:PutKeyPolicy", Class::OwnAccount),
    ("kms:ReEncryptFrom", Class::Crypto),
    ("kms:ReEncryptTo", Class::Crypto),
    ("kms:ReplicateKey", Class::OwnAccount),
    ("kms:RetireGrant", Class::CrossAccount),
    ("kms:RevokeGrant", Class::CrossAccount),
    ("kms:RotateKeyOnDemand", Class::OwnAccount),
    ("kms:ScheduleKeyDeletion", Class::OwnAccount),
    ("kms:Sign", Class::Crypto),
    ("kms:SynchronizeMultiRegionKey", Class::OwnAccount),
    ("kms:TagResource", Class::OwnAccount),
    ("kms:UntagResource", Class::OwnAccount),
    ("kms:UpdateAlias", Class::OwnAccount),
    ("kms:UpdateCustomKeyStore", Class::OwnAccount),
    ("kms:UpdateKeyDescription", Class::OwnAccount),
    ("kms:UpdatePrimaryRegion", Class::OwnAccount),
    ("kms:Verify", Class::Crypto),
    ("kms:VerifyMac", Class::Crypto),
];

fn class(action: &str) -> Option<Class> {
    ACTIONS.binary_search_by(|(name, _)| (*name).cmp(action)).ok().and_then(|i| ACTIONS.get(i)).map(|(_, c)| *c)
}

/// The canonical name of a KMS action given in any case (`KMS:decrypt` -> `kms:Decrypt`).
pub fn canonical_action(text: &str) -> Option<&'static str> {
    ACTIONS.iter().map(|(name, _)| *name).find(|name| name.eq_ignore_ascii_case(text))
}

/// The KMS actions an IAM action pattern matches (`kms:ReEncrypt*`, `kms:GenerateDataKey*`,
/// `KMS:decrypt`, `kms:*`), in table order: the pattern is matched as the Action element matches,
/// case-insensitively with `*` and `?`. Empty when it matches no KMS action.
pub fn expand_actions(pattern: &str) -> Vec<&'static str> {
    let syntax = crate::policy::pattern::Syntax { wildcards: true, variables: false, fold_case: true };
    let Ok(p) = crate::policy::pattern::Pattern::compile(pattern, syntax) else { return Vec::new() };
    let ctx = Context::default();
    ACTIONS.iter().map(|(name, _)| *name).filter(|name| p.matches(name, &ctx).is_yes()).collect()
}

/// Every KMS action Preflight knows, in canonical case and sorted: the one table the spec, the
/// evaluator and the CDK construct (`cdk/lib/kms-actions.ts`, checked by a test) share.
pub fn all_actions() -> impl Iterator<Item = &'static str> {
    ACTIONS.iter().map(|(name, _)| *name)
}

fn works_cross_account(action: &str) -> bool {
    matches!(class(action), Some(Class::Crypto | Class::CrossAccount))
}

/// The account of a key ARN (`arn:PARTITION:kms:REGION:ACCOUNT:key/ID`).
pub fn key_account(key_arn: &str) -> Option<&str> {
    key_arn.split(':').nth(4).filter(|a| a.len() == 12)
}

/// The region of a key ARN.
pub fn key_region(key_arn: &str) -> Option<&str> {
    key_arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Fills in the context keys derivable from the request, unless the caller set them: the
/// principal's ARN, account and type, `kms:CallerAccount`, the encryption context keys, and which
/// KMS keys are known to be absent (`kms:ViaService` on a direct call, ...).
pub fn derive_context(ctx: &mut Context, principal: &PrincipalArn, key_arn: &str, ec: &BTreeMap<String, String>) {
    let account = principal.account().to_string();
    let partition = principal.partition().to_owned();
    fn default(ctx: &mut Context, key: &str, value: Option<String>) {
        if !ctx.is_decided(key) {
            match value {
                Some(v) => ctx.set(key, v),
                None => ctx.set_absent(key),
            }
        }
    }
    let (principal_arn, principal_type, username) = match principal.kind() {
        PrincipalKind::AssumedRole { role, .. } => {
            (format!("arn:{partition}:iam::{account}:role/{role}"), "AssumedRole", None)
        }
        PrincipalKind::Role { .. } => (principal.to_string(), "AssumedRole", None),
        PrincipalKind::User { name, .. } => (principal.to_string(), "User", Some(name.clone())),
        PrincipalKind::Root => (principal.to_string(), "Account", None),
    };
    default(ctx, "aws:PrincipalArn", Some(principal_arn));
    default(ctx, "aws:PrincipalAccount", Some(account.clone()));
    default(ctx, "aws:PrincipalType", Some(principal_type.to_owned()));
    default(ctx, "aws:username", username);
    default(ctx, "aws:PrincipalIsAWSService", Some("false".into()));
    default(ctx, "aws:SecureTransport", Some("true".into()));
    default(ctx, "kms:CallerAccount", Some(account));
    default(ctx, "kms:ViaService", None);
    default(ctx, "kms:GrantIsForAWSResource", None);
    default(ctx, "kms:GrantOperations", None);
    default(ctx, "kms:GrantConstraintType", None);
    default(ctx, "kms:RequestAlias", None);
    if let Some(region) = key_region(key_arn) {
        default(ctx, "aws:RequestedRegion", Some(region.to_owned()));
    }
    let via = !matches!(ctx.get("kms:viaservice"), crate::policy::Known::Absent);
    default(ctx, "aws:ViaAWSService", Some(via.to_string()));
    encryption_context(ctx, ec);
}

/// The encryption context `ec` of a request, where `ctx` does not already say: its keys
/// (`kms:EncryptionContextKeys`) and each pair; any other context key is absent.
fn encryption_context(ctx: &mut Context, ec: &BTreeMap<String, String>) {
    if !ctx.is_decided("kms:EncryptionContextKeys") {
        if ec.is_empty() {
            ctx.set_absent("kms:EncryptionContextKeys");
        } else {
            ctx.set_many("kms:EncryptionContextKeys", ec.keys().cloned().collect());
        }
    }
    for (k, v) in ec {
        let key = format!("kms:EncryptionContext:{k}");
        if !ctx.is_decided(&key) {
            ctx.set(&key, v.clone());
        }
    }
    ctx.complete("kms:encryptioncontext:");
}

/// The result of one policy layer.
struct Layer {
    deny: Tri,
    denies: Vec<Deciding>,
    allow: Tri,
    allows: Vec<Deciding>,
}

impl Layer {
    fn empty() -> Layer {
        Layer { deny: Tri::No, denies: vec![], allow: Tri::No, allows: vec![] }
    }

    fn add(&mut self, p: &Policy, s: &crate::policy::Statement, t: Tri) {
        let yes = t.is_yes();
        match s.effect {
            Effect::Deny => {
                self.deny = std::mem::replace(&mut self.deny, Tri::No).or(t);
                if yes {
                    self.denies.push(Deciding::of(p, s));
                }
            }
            Effect::Allow => {
                self.allow = std::mem::replace(&mut self.allow, Tri::No).or(t);
                if yes {
                    self.allows.push(Deciding::of(p, s));
                }
            }
        }
    }
}

/// Evaluates every statement of `policies` that names the principal at all (identity policies,
/// boundaries and SCPs have no Principal and always do).
fn layer<'p>(policies: impl IntoIterator<Item = &'p Policy>, req: &Request<'_>, has_boundary: bool) -> Layer {
    let mut l = Layer::empty();
    for p in policies {
        for s in &p.statements {
            if s.naming(req.principal, has_boundary) == Naming::No {
                continue;
            }
            let t = s.applies(req);
            if !t.is_no() {
                l.add(p, s, t);
            }
        }
    }
    l
}

/// The key policy in one pass, split by how each statement names the principal:
/// `[session, entity, anyone, account]`.
fn key_policy_layers(policy: &Policy, req: &Request<'_>, has_boundary: bool) -> [Layer; 4] {
    let mut out = [Layer::empty(), Layer::empty(), Layer::empty(), Layer::empty()];
    for s in &policy.statements {
        let slot = match s.naming(req.principal, has_boundary) {
            Naming::No => continue,
            Naming::Session => 0,
            Naming::Entity => 1,
            Naming::Anyone => 2,
            Naming::Account => 3,
        };
        let t = s.applies(req);
        if let (false, Some(l)) = (t.is_no(), out.get_mut(slot)) {
            l.add(policy, s, t);
        }
    }
    out
}

fn grant_applies(g: &Grant, inputs: &Inputs<'_>) -> bool {
    let op = inputs.request.action.strip_prefix("kms:").unwrap_or(inputs.request.action);
    let grantee = match (g.grantee.kind(), inputs.request.principal.kind()) {
        _ if &g.grantee == inputs.request.principal => true,
        (PrincipalKind::Role { name, .. }, PrincipalKind::AssumedRole { role, .. }) => {
            crate::arn::same_role_name(name, role) && g.grantee.account() == inputs.request.principal.account()
        }
        _ => false,
    };
    let constraint = match &g.constraint {
        GrantConstraint::None => true,
        GrantConstraint::Equals(m) => m == inputs.encryption_context,
        GrantConstraint::Subset(m) => m.iter().all(|(k, v)| inputs.encryption_context.get(k) == Some(v)),
    };
    grantee && constraint && g.operations.iter().any(|o| o == op)
}

fn grant_deciding(g: &Grant) -> Deciding {
    Deciding { policy: Arc::from("grant"), sid: g.id.as_deref().map(Arc::from), index: 0, effect: Effect::Allow }
}

/// Decides one KMS request.
pub fn authorize(inputs: &Inputs<'_>) -> Outcome {
    let action_lower = inputs.request.action.to_ascii_lowercase();
    let req = Request { action: &action_lower, ..inputs.request.clone() };
    let Some(key_account) = key_account(inputs.request.resource) else {
        // Without the key's account, neither the same-account nor the cross-account rules apply.
        return Outcome {
            decision: Decision::Unknown,
            error: None,
            explanation: vec![],
            missing: vec![],
            unknown_reasons: vec![format!("the key `{}` is not a key ARN naming an account", inputs.request.resource)],
            fixes: vec![],
        };
    };
    let same_account = inputs.request.principal.account().as_str() == key_account;
    let is_root = matches!(inputs.request.principal.kind(), PrincipalKind::Root);
    let has_boundary = inputs.boundary.is_some();
    let mut out = Outcome::implicit_deny();

    // Key policy, by how it names the principal.
    let [kp_session, kp_entity, kp_anyone, kp_account] = key_policy_layers(inputs.key_policy, &req, has_boundary);
    let id = layer(inputs.identity_policies.unwrap_or_default(), &req, has_boundary);
    let bd = layer(inputs.boundary, &req, has_boundary);
    let scp_layers: Vec<Layer> = inputs.scps.iter().map(|p| layer([p], &req, has_boundary)).collect();

    // 1. Explicit denies anywhere win.
    let mut deny =
        kp_session.deny.clone().or(kp_entity.deny.clone()).or(kp_anyone.deny.clone()).or(kp_account.deny.clone());
    deny = deny.or(id.deny.clone()).or(bd.deny.clone());
    for s in &scp_layers {
        deny = deny.or(s.deny.clone());
    }
    if deny.is_yes() {
        out.decision = Decision::ExplicitDeny;
        for l in [&kp_session, &kp_entity, &kp_anyone, &kp_account, &id, &bd].into_iter().chain(scp_layers.iter()) {
            out.explanation.extend(l.denies.iter().cloned());
        }
        return with_state(out, inputs, same_account);
    }

    // 2. The caps: every SCP must allow; a boundary must allow what identity policies grant.
    let scp_ok = scp_layers.iter().fold(Tri::Yes, |acc, l| acc.and(l.allow.clone()));
    let boundary_ok = if has_boundary { bd.allow.clone() } else { Tri::Yes };
    let identity_ok = if is_root && same_account {
        Tri::Yes
    } else if inputs.identity_policies.is_none() {
        out.unknown_reasons.push(format!("the identity policies of `{}` are not known", inputs.request.principal));
        Tri::Unknown(["identity policies".to_owned()].into())
    } else {
        id.allow.clone()
    };

    // 3. The key policy paths.
    let (policy_path, uses_identity) = if same_account {
        // A grant to the session ARN itself is not capped by a boundary; to the role or user ARN,
        // a role's is capped and a user's is not (IAM User Guide, "Permissions boundaries").
        let is_user = matches!(inputs.request.principal.kind(), PrincipalKind::User { .. });
        let entity_capped = if is_user { Tri::Yes } else { boundary_ok.clone() };
        // `Principal: "*"` (narrowed or not by conditions such as aws:PrincipalArn) names the
        // calling session itself, as a session ARN does: a boundary or a session policy does not
        // limit it (IAM User Guide, "Policy evaluation logic": "Permissions granted directly to a
        // session are not limited by an implicit deny in an identity-based policy, a permissions
        // boundary, or session policy"). The guide names role and session ARNs only; `*` is read
        // as reaching the session, as the IAM policy simulator of cloud-copilot does.
        let anyone = kp_anyone.allow.clone();
        let direct = kp_session.allow.clone().or(kp_entity.allow.clone().and(entity_capped)).or(anyone);
        let delegated = kp_account.allow.clone().and(identity_ok.clone()).and(boundary_ok.clone());
        let uses_identity = !direct.is_yes() && delegated.is_yes();
        (direct.or(delegated), uses_identity)
    } else {
        let key_side = kp_session
            .allow
            .clone()
            .or(kp_entity.allow.clone())
            .or(kp_anyone.allow.clone())
            .or(kp_account.allow.clone());
        (key_side.and(identity_ok.clone()).and(boundary_ok.clone()), true)
    };

    // 4. Grants: allow only.
    let grants: Vec<&Grant> = inputs.grants.iter().filter(|g| grant_applies(g, inputs)).collect();
    let grant_path = if grants.is_empty() {
        Tri::No
    } else if !same_account && !identity_ok.is_yes() {
        out.unknown_reasons.push(format!(
            "(unsure) whether a grant to `{}` in another account also needs an IAM allow in that account (docs/aws-facts.md 1.5)",
            inputs.request.principal
        ));
        Tri::Unknown(["grant".to_owned()].into())
    } else {
        Tri::Yes
    };

    let allowed = policy_path.clone().or(grant_path.clone()).and(scp_ok.clone());
    out.decision = match (&deny, &allowed) {
        (_, Tri::No) => Decision::ImplicitDeny,
        (Tri::No, Tri::Yes) => Decision::Allow,
        _ => Decision::Unknown,
    };
    for t in [&deny, &allowed] {
        for k in t.unknown_keys() {
            if !matches!(k.as_str(), "identity policies" | "permissions boundary" | "grant") {
                out.unknown_reasons.push(format!("the request does not say `{k}`"));
            }
        }
    }
    out.unknown_reasons.dedup();
    match out.decision {
        Decision::Allow => {
            if policy_path.is_yes() {
                out.explanation.extend(kp_session.allows.iter().cloned());
                out.explanation.extend(kp_entity.allows.iter().cloned());
                out.explanation.extend(kp_anyone.allows.iter().cloned());
                if uses_identity || !same_account {
                    out.explanation.extend(kp_account.allows.iter().cloned());
                    out.explanation.extend(id.allows.iter().cloned());
                }
            } else {
                out.explanation.extend(grants.iter().map(|g| grant_deciding(g)));
            }
        }
        Decision::ImplicitDeny => {
            let key_names = kp_session.allow.clone().or(kp_entity.allow.clone()).or(kp_anyone.allow.clone());
            let key_any = key_names.clone().or(kp_account.allow.clone());
            if key_any.is_no() && id.allow.is_yes() {
                let cited: Vec<String> = id.allows.iter().map(ToString::to_string).collect();
                out.missing.push(format!(
                    "key policy: names neither `{}` nor its account (no `arn:{}:iam::{}:root` statement delegating to IAM), so {} cannot grant {}",
                    inputs.request.principal,
                    inputs.request.principal.partition(),
                    inputs.request.principal.account(),
                    cited.join(", "),
                    inputs.request.action
                ));
                out.fixes.push(format!(
                    "add a key-policy statement allowing {} for the principal, or one for the account root to delegate to IAM",
                    inputs.request.action
                ));
            } else if key_any.is_no() {
                out.missing.push(format!(
                    "key policy: no statement allows {} for `{}`, directly or through its account",
                    inputs.request.action, inputs.request.principal
                ));
            } else if !same_account && identity_ok.is_no() {
                out.missing.push(format!(
                    "identity policies: nothing in account {} allows {} on the key ARN (a key in another account needs both sides)",
                    inputs.request.principal.account(),
                    inputs.request.action
                ));
            } else if same_account && key_names.is_no() && identity_ok.is_no() {
                out.missing.push(format!(
                    "identity policies: the key policy delegates to IAM, but no identity policy of `{}` allows {}",
                    inputs.request.principal, inputs.request.action
                ));
            }
            if has_boundary && bd.allow.is_no() {
                out.missing.push(format!("permissions boundary: does not allow {}", inputs.request.action));
            }
            if scp_ok.is_no() {
                out.missing.push(format!("service control policies: not every SCP allows {}", inputs.request.action));
            }
            if out.missing.is_empty() {
                out.missing.push(format!("no policy or grant allows {}", inputs.request.action));
            }
            for l in [&kp_session, &kp_entity, &kp_anyone, &kp_account, &id] {
                out.explanation.extend(l.allows.iter().cloned());
            }
        }
        _ => {}
    }
    with_state(out, inputs, same_account)
}

fn with_state(out: Outcome, inputs: &Inputs<'_>, same_account: bool) -> Outcome {
    state_error(out, inputs.request.action, inputs.key_state, same_account)
}

/// `out` with the exception KMS answers `action` with in `key_state` (from another account when
/// not `same_account`), whatever the policies say.
fn state_error(mut out: Outcome, action: &str, key_state: KeyState, same_account: bool) -> Outcome {
    let crypto = class(action) == Some(Class::Crypto);
    out.error = match key_state {
        _ if !same_account && !works_cross_account(action) => Some(KmsError::UnsupportedOperation),
        KeyState::Disabled if crypto => Some(KmsError::DisabledException),
        KeyState::PendingDeletion
        | KeyState::PendingImport
        | KeyState::Unavailable
        | KeyState::PendingReplicaDeletion
            if crypto =>
        {
            Some(KmsError::KmsInvalidStateException)
        }
        KeyState::Creating | KeyState::Updating if crypto => Some(KmsError::KmsInvalidStateException),
        _ => None,
    };
    out
}

/// One request of a service principal to KMS: a service calling as itself (CloudWatch Logs for a
/// log group's key, `logs.REGION.amazonaws.com`), not on behalf of an IAM principal.
#[derive(Clone, Debug)]
pub struct ServiceInputs<'a> {
    /// The service principal, as key policies name it.
    pub service: &'a str,
    /// The canonical `kms:Action`.
    pub action: &'a str,
    /// The key ARN.
    pub resource: &'a str,
    pub context: &'a Context,
    pub key_policy: &'a Policy,
    pub key_state: KeyState,
}

/// Decides one KMS request of a service principal. A service principal has no IAM identity of its
/// own, so only the key policy can allow it (KMS Developer Guide, "Key policies in AWS KMS": a
/// service principal is given access in the key policy); grants are not read for it. An explicit
/// deny that may apply makes the answer unknown, as for IAM principals.
pub fn authorize_service(inputs: &ServiceInputs<'_>) -> Outcome {
    let action_lower = inputs.action.to_ascii_lowercase();
    let (mut allow, mut deny) = (Tri::No, Tri::No);
    let (mut allows, mut denies) = (Vec::new(), Vec::new());
    for s in &inputs.key_policy.statements {
        if s.naming_service(inputs.service) == Naming::No {
            continue;
        }
        let t = s.applies_to(&action_lower, inputs.resource, inputs.context);
        if t.is_no() {
            continue;
        }
        let yes = t.is_yes();
        if s.effect == Effect::Deny {
            deny = deny.or(t);
            if yes {
                denies.push(Deciding::of(inputs.key_policy, s));
            }
        } else {
            allow = allow.or(t);
            if yes {
                allows.push(Deciding::of(inputs.key_policy, s));
            }
        }
    }
    let mut out = Outcome::implicit_deny();
    out.decision = match (&deny, &allow) {
        (Tri::Yes, _) => Decision::ExplicitDeny,
        (_, Tri::No) => Decision::ImplicitDeny,
        (Tri::No, Tri::Yes) => Decision::Allow,
        _ => Decision::Unknown,
    };
    for t in [&deny, &allow] {
        for k in t.unknown_keys() {
            out.unknown_reasons.push(format!("the request does not say `{k}`"));
        }
    }
    out.unknown_reasons.dedup();
    match out.decision {
        Decision::ExplicitDeny => out.explanation = denies,
        Decision::Allow => out.explanation = allows,
        Decision::ImplicitDeny => {
            out.missing.push(format!(
                "the key policy has no statement allowing it to {} (a service principal can only be allowed by the key policy)",
                inputs.action
            ));
        }
        Decision::Unknown => {}
    }
    state_error(out, inputs.action, inputs.key_state, true)
}

/// Fills in what a request of the service principal `service` to the key `key_arn` says, where
/// `ctx` does not already: it is an AWS service (`aws:PrincipalIsAWSService`, its name in
/// `aws:PrincipalServiceName`), calling as itself (no `kms:ViaService`, no grant keys) with the
/// encryption context `ec`. What the service sends beside, such as `aws:SourceArn`,
/// `aws:SourceAccount` and `kms:CallerAccount`, is not documented for each service and stays
/// unknown unless `ctx` gives it: a condition on it is then `unknown`, never passed.
pub fn derive_service_context(ctx: &mut Context, service: &str, key_arn: &str, ec: &BTreeMap<String, String>) {
    let mut default = |key: &str, value: Option<String>| {
        if !ctx.is_decided(key) {
            match value {
                Some(v) => ctx.set(key, v),
                None => ctx.set_absent(key),
            }
        }
    };
    default("aws:PrincipalIsAWSService", Some("true".into()));
    default("aws:PrincipalServiceName", Some(service.to_owned()));
    default("aws:SecureTransport", Some("true".into()));
    default("kms:ViaService", None);
    default("kms:GrantIsForAWSResource", None);
    default("kms:GrantOperations", None);
    default("kms:GrantConstraintType", None);
    default("kms:RequestAlias", None);
    if let Some(region) = key_region(key_arn) {
        default("aws:RequestedRegion", Some(region.to_owned()));
    }
    encryption_context(ctx, ec);
}

/// Would `admin` still be allowed `kms:PutKeyPolicy` on the key under `policy` (the lockout check
/// of CreateKey and PutKeyPolicy)? `identity`: the admin's identity policies when known.
pub fn keeps_put_key_policy(
    policy: &Policy,
    admin: &PrincipalArn,
    key_arn: &str,
    identity: Option<&[Policy]>,
    boundary: Option<&Policy>,
) -> Outcome {
    let mut ctx = Context::default();
    let ec = BTreeMap::new();
    derive_context(&mut ctx, admin, key_arn, &ec);
    authorize(&Inputs {
        request: Request { principal: admin, action: "kms:PutKeyPolicy", resource: key_arn, context: &ctx },
        encryption_context: &ec,
        key_policy: policy,
        key_state: KeyState::Enabled,
        identity_policies: identity,
        boundary,
        scps: &[],
        grants: &[],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_construct_shares_the_kms_action_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../cdk/lib/kms-actions.ts");
        let text = std::fs::read_to_string(path).unwrap();
        let listed: Vec<&str> =
            text.lines().filter_map(|l| l.trim().strip_prefix("'kms:")).map(|l| l.trim_end_matches("',")).collect();
        let ours: Vec<&str> = all_actions().map(|a| a.trim_start_matches("kms:")).collect();
        assert_eq!(listed, ours, "cdk/lib/kms-actions.ts must list exactly the core's KMS actions, in order");
    }

    #[test]
    fn action_patterns_expand_to_the_actions_they_match() {
        assert_eq!(expand_actions("kms:ReEncrypt*"), ["kms:ReEncryptFrom", "kms:ReEncryptTo"]);
        assert_eq!(expand_actions("KMS:decrypt"), ["kms:Decrypt"]);
        assert_eq!(expand_actions("kms:*").len(), ACTIONS.len());
        assert!(expand_actions("kms:Frobnicate").is_empty());
        assert!(expand_actions("s3:*").is_empty());
    }

    #[test]
    fn one_table_classifies_every_kms_action() {
        assert!(ACTIONS.windows(2).all(|w| w[0].0 < w[1].0), "sorted, for the binary search");
        assert_eq!(class("kms:Decrypt"), Some(Class::Crypto));
        assert_eq!(class("kms:CreateGrant"), Some(Class::CrossAccount));
        assert_eq!(class("kms:PutKeyPolicy"), Some(Class::OwnAccount));
        assert_eq!(class("kms:decrypt"), None, "decisions use canonical names");
        assert_eq!(canonical_action("KMS:generatedatakey"), Some("kms:GenerateDataKey"));
        assert_eq!(canonical_action("s3:GetObject"), None);
        assert!(works_cross_account("kms:ReEncryptFrom") && !works_cross_account("kms:ScheduleKeyDeletion"));
    }
}
