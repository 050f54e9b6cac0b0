//! The input schema: what to check, parsed from CloudFormation properties or a YAML/JSON file.
//!
//! Owns turning untrusted JSON into a typed, validated [`Spec`]. CloudFormation sends every scalar
//! as a string (`"true"`, `"300"`), so scalars are accepted in either form; everything else is
//! strict: unknown keys and bad values are errors naming the property path and what was expected.
//! It does no I/O beyond reading the spec file in [`Spec::from_file`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde_json::{Map, Value};

use crate::arn::{AccountId, KeyRef, PrincipalArn, is_region};

/// The whole input: what Preflight must prove before the deploy goes on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    pub bootstrap: Option<Bootstrap>,
    pub parameters: Vec<Parameter>,
    pub secrets: Vec<Secret>,
    pub keys: Vec<KeyRequirement>,
    pub key_policies: Vec<KeyPolicyCheck>,
    /// The hosted zones the stack writes to: one (`HostedZone: {...}`) or several
    /// (`HostedZone: [{...}, ...]`), each judged on its own.
    pub hosted_zones: Vec<HostedZone>,
    pub options: Options,
}

/// The CDK bootstrap environment of this account and region.
#[derive(Clone, Debug, PartialEq)]
pub struct Bootstrap {
    pub qualifier: String,
    pub toolkit_stack_name: String,
    pub trusted_accounts: Vec<AccountId>,
    pub readers: Vec<PrincipalArn>,
    /// The bootstrap version the stacks need at least (a CDK stack's
    /// `requiresBootstrapStackVersion`).
    pub required_version: Option<u32>,
    /// The file assets the stacks publish (a CDK asset manifest's destinations): each must go to
    /// this environment's assets bucket, uploaded by its publishing role.
    pub assets: Vec<Asset>,
}

/// One file asset's destination, as the CDK CLI will publish it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// What the asset is (the stack and the asset's display name).
    pub name: String,
    pub bucket: String,
    pub object_key: String,
    /// The role the CLI uploads it as (`assumeRoleArn`); `None`: the CLI's own credentials.
    pub role: Option<PrincipalArn>,
}

/// An SSM SecureString parameter and the roles that read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub readers: Vec<PrincipalArn>,
}

/// A Secrets Manager secret and the roles that read its value (with secretsmanager:GetSecretValue,
/// which decrypts it through Secrets Manager). Preflight itself only describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Secret {
    /// The secret's name or ARN, as given (a name is looked up in this account and region).
    pub id: String,
    pub readers: Vec<PrincipalArn>,
}

/// A key, who must use it and how.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRequirement {
    pub key: KeyRef,
    pub principals: Vec<PrincipalArn>,
    /// Service principals that use the key as themselves (`logs.us-east-1.amazonaws.com`), which
    /// only the key policy can allow.
    pub services: Vec<String>,
    /// Canonical KMS action names (`kms:Decrypt`), never empty when `principals` is not.
    pub actions: Vec<String>,
    pub via_service: Option<String>,
    pub encryption_context: BTreeMap<String, String>,
    /// Condition keys the calls carry with a value not known before the deploy
    /// (`kms:EncryptionContext:aws:logs:arn` of a log group whose name CloudFormation generates,
    /// `kms:ViaService` where AWS does not document it): a condition on one is unknown.
    pub unknown_context: BTreeSet<String>,
    pub for_aws_resources: bool,
    pub shared_with_accounts: Vec<AccountId>,
}

/// A key policy the stack is about to apply, and who must still be able to administer the key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyPolicyCheck {
    /// The policy document as a JSON object.
    pub policy: Map<String, Value>,
    pub administrators: Vec<PrincipalArn>,
}

/// The Route 53 hosted zone the stack writes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostedZone {
    /// The bare id (`Z0123...`), without a `/hostedzone/` prefix.
    pub zone_id: String,
    /// Lower-case, without a trailing dot.
    pub record_names: Vec<String>,
}

/// Run options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub on_unknown: OnUnknown,
    pub nonce: Option<u128>,
    pub dns_root_servers: Vec<DnsServer>,
}

/// What an undecidable check does to the verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnUnknown {
    #[default]
    Warn,
    Fail,
}

/// A DNS server to start the delegation walk from; with a port, every server of the walk is asked
/// on that port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsServer {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

/// Where the spec came from: CloudFormation properties carry `ServiceToken` and `ServiceTimeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Properties,
    File,
}

/// One problem in the spec, at a property path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecIssue {
    pub path: String,
    pub message: String,
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.path, self.message) }
    }
}

/// Why a spec could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read spec file `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("spec file `{path}` is not valid {format}: {message}")]
    Syntax { path: String, format: &'static str, message: String },
    #[error("spec file `{path}` is larger than {limit} bytes; a spec is far smaller (is it the right file?)")]
    TooLarge { path: String, limit: usize },
    #[error(
        "spec file `{path}` is empty: give at least one of Bootstrap, Parameters, Secrets, Keys, KeyPolicies or HostedZone (docs/spec.md)"
    )]
    Empty { path: String },
    #[error("{}", join_issues(.0))]
    Invalid(Vec<SpecIssue>),
}

fn join_issues(issues: &[SpecIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// At most this many problems are listed; the rest are counted.
pub const MAX_ISSUES: usize = 20;
/// A problem's path and message are cut to this many characters (they quote the input).
const MAX_ISSUE_PATH: usize = 120;
const MAX_ISSUE_MESSAGE: usize = 300;

/// KMS key policy documents are at most 32 KB (KMS quotas: "Key policy document size").
const MAX_KEY_POLICY_BYTES: usize = 32_768;
/// Spec files are read up to this size.
pub const MAX_SPEC_BYTES: usize = 4 * 1024 * 1024;

const TOP: &[&str] = &["Bootstrap", "Parameters", "Secrets", "Keys", "KeyPolicies", "HostedZone", "Options"];
const TOP_PROPERTIES: &[&str] = &[
    "Bootstrap",
    "Parameters",
    "Secrets",
    "Keys",
    "KeyPolicies",
    "HostedZone",
    "Options",
    "ServiceToken",
    "ServiceTimeout",
];
const BOOTSTRAP: &[&str] =
    &["Qualifier", "ToolkitStackName", "TrustedAccounts", "Readers", "RequiredVersion", "Assets"];
const ASSET: &[&str] = &["Name", "Bucket", "ObjectKey", "Role"];
const PARAMETER: &[&str] = &["Name", "Readers"];
const SECRET: &[&str] = &["SecretId", "Readers"];
const KEY: &[&str] = &[
    "Key",
    "Principals",
    "Services",
    "Actions",
    "ViaService",
    "EncryptionContext",
    "UnknownContext",
    "ForAwsResources",
    "SharedWithAccounts",
];
const KEY_POLICY: &[&str] = &["Policy", "Administrators"];
const HOSTED_ZONE: &[&str] = &["ZoneId", "RecordNames"];
const OPTIONS: &[&str] = &["OnUnknown", "Nonce", "DnsRootServers"];

impl Spec {
    /// Parses CloudFormation `ResourceProperties` (or any JSON value) into a spec.
    pub fn from_value(value: &Value, origin: Origin) -> Result<Spec, SpecError> {
        let mut p = Parser { issues: Vec::new() };
        let spec = p.spec(value, origin);
        if p.issues.is_empty() {
            return Ok(spec);
        }
        // The first problems, then how many more: a broken generated spec must not flood stderr
        // or the 4096-byte answer.
        let more = p.issues.len().saturating_sub(MAX_ISSUES);
        let mut issues: Vec<SpecIssue> = p.issues.into_iter().take(MAX_ISSUES).collect();
        if more > 0 {
            issues.push(SpecIssue { path: String::new(), message: format!("and {more} more problems") });
        }
        Err(SpecError::Invalid(issues))
    }

    /// Reads a YAML or JSON spec file (JSON is YAML; a `.json` file is parsed as strict JSON).
    pub fn from_file(path: &Path) -> Result<Spec, SpecError> {
        use std::io::Read as _;
        let shown = path.display().to_string();
        let read_error = |source| SpecError::Read { path: shown.clone(), source };
        // Read at most one byte past the limit: `/dev/zero` or a huge file never fills memory.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_SPEC_BYTES as u64 + 1).read_to_end(&mut bytes))
            .map_err(read_error)?;
        if bytes.len() > MAX_SPEC_BYTES {
            return Err(SpecError::TooLarge { path: shown, limit: MAX_SPEC_BYTES });
        }
        let text = String::from_utf8(bytes).map_err(|e| SpecError::Syntax {
            path: shown.clone(),
            format: "UTF-8 text",
            message: e.to_string(),
        })?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        // An empty file says nothing to check, in either format (YAML would read it as null, JSON
        // as an error): both are refused alike.
        let blank = text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || (!is_json && l.starts_with('#'))
        });
        if blank {
            return Err(SpecError::Empty { path: shown });
        }
        let value: Value = if is_json {
            crate::document::from_json(&text).map_err(|e| SpecError::Syntax {
                path: shown.clone(),
                format: "JSON",
                message: e.to_string(),
            })?
        } else {
            crate::document::from_yaml(&text).map_err(|e| SpecError::Syntax {
                path: shown.clone(),
                format: "YAML",
                message: e.to_string(),
            })?
        };
        if value.is_null() {
            return Err(SpecError::Empty { path: shown });
        }
        Spec::from_value(&value, Origin::File)
    }

    /// The spec as Preflight understood it: canonical PascalCase JSON with every default filled
    /// in, names normalised and scalars typed (`preflight validate` prints it).
    pub fn to_value(&self) -> Value {
        use serde_json::json;
        fn strings<T: ToString>(items: &[T]) -> Vec<String> {
            items.iter().map(ToString::to_string).collect()
        }
        let mut out = Map::new();
        if let Some(b) = &self.bootstrap {
            let mut section = json!({"Qualifier": b.qualifier, "ToolkitStackName": b.toolkit_stack_name,
                                     "TrustedAccounts": strings(&b.trusted_accounts), "Readers": strings(&b.readers)});
            if let (Some(v), Some(m)) = (b.required_version, section.as_object_mut()) {
                m.insert("RequiredVersion".into(), json!(v));
            }
            if let (false, Some(m)) = (b.assets.is_empty(), section.as_object_mut()) {
                let assets = b
                    .assets
                    .iter()
                    .map(|a| {
                        json!({"Name": a.name, "Bucket": a.bucket, "ObjectKey": a.object_key,
                               "Role": a.role.as_ref().map(ToString::to_string)})
                    })
                    .collect();
                m.insert("Assets".into(), Value::Array(assets));
            }
            out.insert("Bootstrap".into(), section);
        }
        if !self.parameters.is_empty() {
            let items: Vec<Value> =
                self.parameters.iter().map(|p| json!({"Name": p.name, "Readers": strings(&p.readers)})).collect();
            out.insert("Parameters".into(), Value::Array(items));
        }
        if !self.secrets.is_empty() {
            let items =
                self.secrets.iter().map(|s| json!({"SecretId": s.id, "Readers": strings(&s.readers)})).collect();
            out.insert("Secrets".into(), Value::Array(items));
        }
        if !self.keys.is_empty() {
            let items: Vec<Value> = self
                .keys
                .iter()
                .map(|k| {
                    json!({"Key": k.key.to_string(), "Principals": strings(&k.principals), "Services": k.services,
                           "Actions": k.actions, "ViaService": k.via_service, "EncryptionContext": k.encryption_context,
                           "UnknownContext": k.unknown_context,
                           "ForAwsResources": k.for_aws_resources,
                           "SharedWithAccounts": strings(&k.shared_with_accounts)})
                })
                .collect();
            out.insert("Keys".into(), Value::Array(items));
        }
        if !self.key_policies.is_empty() {
            let items: Vec<Value> = self
                .key_policies
                .iter()
                .map(|k| json!({"Policy": k.policy, "Administrators": strings(&k.administrators)}))
                .collect();
            out.insert("KeyPolicies".into(), Value::Array(items));
        }
        let zones: Vec<Value> =
            self.hosted_zones.iter().map(|z| json!({"ZoneId": z.zone_id, "RecordNames": z.record_names})).collect();
        match zones.as_slice() {
            [] => {}
            [one] => {
                out.insert("HostedZone".into(), one.clone());
            }
            _ => {
                out.insert("HostedZone".into(), Value::Array(zones));
            }
        }
        let roots: Vec<String> = self
            .options
            .dns_root_servers
            .iter()
            .map(|d| match d.port {
                Some(port) => SocketAddr::new(d.ip, port).to_string(),
                None => d.ip.to_string(),
            })
            .collect();
        out.insert(
            "Options".into(),
            json!({"OnUnknown": match self.options.on_unknown { OnUnknown::Warn => "warn", OnUnknown::Fail => "fail" },
                   "Nonce": self.options.nonce.map(|n| n.to_string()), "DnsRootServers": roots}),
        );
        Value::Object(out)
    }

    /// True when the spec asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.bootstrap.is_none()
            && self.parameters.is_empty()
            && self.secrets.is_empty()
            && self.keys.is_empty()
            && self.key_policies.is_empty()
            && self.hosted_zones.is_empty()
    }
}

/// Reads only `Options.Nonce` from raw properties, tolerating everything else: rollback detection
/// must work even when the rest of the properties no longer validate.
pub fn raw_nonce(properties: &Value) -> Option<u128> {
    let nonce = properties.get("Options")?.get("Nonce")?;
    match nonce {
        Value::String(s) => parse_nonce(s).ok(),
        Value::Number(n) => n.as_u64().map(u128::from),
        _ => None,
    }
}

fn parse_nonce(text: &str) -> Result<u128, String> {
    if text.is_empty() || text.len() > 38 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a non-negative whole number (e.g. a timestamp in ms), got `{text}`"));
    }
    text.parse().map_err(|_| format!("expected a non-negative whole number, got `{text}`"))
}

struct Parser {
    issues: Vec<SpecIssue>,
}

fn at(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Parser {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        // Messages quote values from the input: only an excerpt of a long one is echoed.
        let excerpt = |text: &str, max: usize| {
            if text.chars().count() <= max {
                text.to_owned()
            } else {
                let cut: String = text.chars().take(max).collect();
                format!("{cut}…")
            }
        };
        self.issues.push(SpecIssue {
            path: excerpt(path, MAX_ISSUE_PATH),
            message: excerpt(&message.into(), MAX_ISSUE_MESSAGE),
        });
    }

    /// An object whose keys are all in `allowed`; unknown keys are reported, known ones returned.
    fn object<'v>(&mut self, v: &'v Value, path: &str, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = v else {
            self.error(path, format!("expected an object with keys {}, got {}", allowed.join(", "), kind_of(v)));
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = allowed
                    .iter()
                    .find(|a| is_near(a, key))
                    .map(|a| format!(" (did you mean `{a}`?)"))
                    .unwrap_or_default();
                self.error(path, format!("unknown key `{key}`{hint}; valid keys are {}", allowed.join(", ")));
            }
        }
        Some(map)
    }

    fn list<'v>(&mut self, v: &'v Value, path: &str, what: &str) -> Option<&'v [Value]> {
        match v {
            Value::Array(items) => Some(items),
            other => {
                self.error(path, format!("expected a list of {what}, got {}", kind_of(other)));
                None
            }
        }
    }

    fn string(&mut self, v: &Value, path: &str) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.error(path, format!("expected a string, got {}", kind_of(other)));
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            other => {
                let got = match other {
                    Value::String(s) => format!("`{s}`"),
                    v => kind_of(v).to_owned(),
                };
                self.error(path, format!("expected true or false, got {got}"));
                None
            }
        }
    }

    /// Parses each item of an optional list with `item`, reporting items that fail at their index.
    fn items<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        what: &str,
        mut item: impl FnMut(&mut Self, &Value, &str) -> Option<T>,
    ) -> Vec<T> {
        let path = at(path, key);
        let Some(v) = map.get(key) else { return Vec::new() };
        let Some(values) = self.list(v, &path, what) else { return Vec::new() };
        values.iter().enumerate().filter_map(|(i, v)| item(self, v, &format!("{path}[{i}]"))).collect()
    }

    fn principal(&mut self, v: &Value, path: &str) -> Option<PrincipalArn> {
        let text = self.string(v, path)?;
        PrincipalArn::parse(&text).map_err(|e| self.error(path, e.to_string())).ok()
    }

    fn account(&mut self, v: &Value, path: &str) -> Option<AccountId> {
        let text = match v {
            // A YAML file may carry an unquoted account id; a leading zero is then already lost.
            Value::Number(n) if n.is_u64() => {
                let text = n.to_string();
                if text.len() != 12 {
                    self.error(path, format!("not a 12-digit AWS account id: `{text}` (quote account ids in YAML)"));
                    return None;
                }
                text
            }
            other => self.string(other, path)?,
        };
        AccountId::parse(&text).map_err(|e| self.error(path, e.to_string())).ok()
    }

    fn principals(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Vec<PrincipalArn> {
        self.items(map, path, key, "IAM principal ARNs", Self::principal)
    }

    fn accounts(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Vec<AccountId> {
        self.items(map, path, key, "12-digit account ids", Self::account)
    }

    fn required<'v>(&mut self, map: &'v Map<String, Value>, path: &str, key: &str, what: &str) -> Option<&'v Value> {
        let value = map.get(key);
        if value.is_none() {
            self.error(&at(path, key), format!("required: {what}"));
        }
        value
    }

    fn spec(&mut self, value: &Value, origin: Origin) -> Spec {
        let allowed = match origin {
            Origin::Properties => TOP_PROPERTIES,
            Origin::File => TOP,
        };
        let Some(map) = self.object(value, "", allowed) else { return Spec::default() };
        Spec {
            bootstrap: map.get("Bootstrap").and_then(|v| self.bootstrap(v, "Bootstrap")),
            parameters: self.items(map, "", "Parameters", "parameters", Self::parameter),
            secrets: self.items(map, "", "Secrets", "secrets", Self::secret),
            keys: self.items(map, "", "Keys", "key requirements", Self::key),
            key_policies: self.items(map, "", "KeyPolicies", "key policies", Self::key_policy),
            hosted_zones: match map.get("HostedZone") {
                None => Vec::new(),
                Some(Value::Array(_)) => self.items(map, "", "HostedZone", "hosted zones", Self::hosted_zone),
                Some(v) => self.hosted_zone(v, "HostedZone").into_iter().collect(),
            },
            options: map.get("Options").map(|v| self.options(v, "Options")).unwrap_or_default(),
        }
    }

    fn bootstrap(&mut self, v: &Value, path: &str) -> Option<Bootstrap> {
        let map = self.object(v, path, BOOTSTRAP)?;
        let qualifier = match map.get("Qualifier") {
            None => "hnb659fds".to_owned(),
            Some(v) => {
                let p = at(path, "Qualifier");
                let q = self.string(v, &p)?;
                // CDK: "Qualifier must be an alphanumeric identifier of at most 10 characters".
                if q.is_empty() || q.len() > 10 || !q.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    self.error(
                        &p,
                        format!("expected an alphanumeric CDK qualifier of at most 10 characters, got `{q}`"),
                    );
                    return None;
                }
                q
            }
        };
        let toolkit_stack_name = match map.get("ToolkitStackName") {
            None => "CDKToolkit".to_owned(),
            Some(v) => {
                let p = at(path, "ToolkitStackName");
                let name = self.string(v, &p)?;
                if !is_stack_name(&name) {
                    self.error(&p, format!("expected a CloudFormation stack name (a letter, then letters, digits or hyphens, at most 128), got `{name}`"));
                    return None;
                }
                name
            }
        };
        let required_version = match map.get("RequiredVersion") {
            None => None,
            Some(v) => {
                let p = at(path, "RequiredVersion");
                let text = match v {
                    Value::Number(n) => n.to_string(),
                    other => self.string(other, &p)?,
                };
                match text.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.error(&p, format!("expected a bootstrap version number such as 21, got `{text}`"));
                        return None;
                    }
                }
            }
        };
        let assets = match map.get("Assets") {
            None => vec![],
            Some(_) => self.items(map, path, "Assets", "file asset destinations", |p, v, path| p.asset(v, path)),
        };
        Some(Bootstrap {
            qualifier,
            toolkit_stack_name,
            trusted_accounts: self.accounts(map, path, "TrustedAccounts"),
            readers: self.principals(map, path, "Readers"),
            required_version,
            assets,
        })
    }

    fn asset(&mut self, v: &Value, path: &str) -> Option<Asset> {
        let map = self.object(v, path, ASSET)?;
        let text = |p: &mut Self, key: &str, what: &str| {
            p.required(map, path, key, what).and_then(|v| p.string(v, &at(path, key)))
        };
        let bucket = text(self, "Bucket", "the bucket the asset is published to");
        let object_key = text(self, "ObjectKey", "the asset's object key");
        let name = match map.get("Name") {
            Some(v) => self.string(v, &at(path, "Name"))?,
            None => object_key.clone().unwrap_or_default(),
        };
        let role = match map.get("Role") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let p = at(path, "Role");
                let text = self.string(v, &p)?;
                match PrincipalArn::parse(&text) {
                    Ok(arn) => Some(arn),
                    Err(e) => {
                        self.error(&p, e.to_string());
                        return None;
                    }
                }
            }
        };
        Some(Asset { name, bucket: bucket?, object_key: object_key?, role })
    }

    fn parameter(&mut self, v: &Value, path: &str) -> Option<Parameter> {
        let map = self.object(v, path, PARAMETER)?;
        let name_path = at(path, "Name");
        let name = self
            .required(map, path, "Name", "the parameter name, e.g. /app/db/password")
            .and_then(|v| self.string(v, &name_path))
            .and_then(|name| check_parameter_name(&name).map(|()| name).map_err(|e| self.error(&name_path, e)).ok());
        let readers = self.principals(map, path, "Readers");
        if !map.contains_key("Readers") {
            self.error(&at(path, "Readers"), "required: the roles that read this parameter");
        }
        Some(Parameter { name: name?, readers })
    }

    fn secret(&mut self, v: &Value, path: &str) -> Option<Secret> {
        let map = self.object(v, path, SECRET)?;
        let id_path = at(path, "SecretId");
        let id = self
            .required(map, path, "SecretId", "the secret's name or ARN, e.g. prod/app/db")
            .and_then(|v| self.string(v, &id_path))
            .and_then(|id| check_secret_id(&id).map(|()| id).map_err(|e| self.error(&id_path, e)).ok());
        let readers = self.principals(map, path, "Readers");
        if !map.contains_key("Readers") {
            self.error(&at(path, "Readers"), "required: the roles that read this secret's value");
        }
        Some(Secret { id: id?, readers })
    }

    fn key(&mut self, v: &Value, path: &str) -> Option<KeyRequirement> {
        let map = self.object(v, path, KEY)?;
        let key_path = at(path, "Key");
        let key = self
            .required(map, path, "Key", "a key id, key ARN, alias name or alias ARN")
            .and_then(|v| self.string(v, &key_path))
            .and_then(|text| KeyRef::parse(&text).map_err(|e| self.error(&key_path, e.to_string())).ok());
        let principals = self.principals(map, path, "Principals");
        let actions = match map.get("Actions") {
            None => vec!["kms:Decrypt".to_owned()],
            Some(_) => {
                // A pattern, as people copy them from key policies (`kms:ReEncrypt*`), stands for
                // every KMS action it matches; one that matches none is an error.
                let patterns = self.items(map, path, "Actions", "KMS actions", |p, v, path| {
                    let text = p.string(v, path)?;
                    let matched = crate::kms::expand_actions(&text);
                    if matched.is_empty() {
                        p.error(
                            path,
                            format!(
                                "not a KMS action: `{text}` matches no KMS action (expected e.g. kms:Decrypt, kms:GenerateDataKey*)"
                            ),
                        );
                        return None;
                    }
                    Some(matched)
                });
                let mut actions: Vec<String> = Vec::new();
                for a in patterns.into_iter().flatten() {
                    if !actions.iter().any(|x| x == a) {
                        actions.push(a.to_owned());
                    }
                }
                if actions.is_empty() {
                    self.error(&at(path, "Actions"), "expected at least one KMS action");
                }
                actions
            }
        };
        let via_service = map.get("ViaService").filter(|v| !v.is_null()).and_then(|v| {
            let p = at(path, "ViaService");
            let s = self.string(v, &p)?;
            if is_via_service(&s) {
                Some(s)
            } else {
                self.error(
                    &p,
                    format!("expected SERVICE.REGION.amazonaws.com (e.g. ssm.us-east-1.amazonaws.com), got `{s}`"),
                );
                None
            }
        });
        let encryption_context = map
            .get("EncryptionContext")
            .map(|v| self.encryption_context(v, &at(path, "EncryptionContext")))
            .unwrap_or_default();
        let unknown_context: BTreeSet<String> = match map.get("UnknownContext") {
            None => BTreeSet::new(),
            Some(_) => self
                .items(map, path, "UnknownContext", "condition keys", |p, v, path| {
                    let text = p.string(v, path)?;
                    match text.split_once(':') {
                        Some((service, name)) if !service.is_empty() && !name.is_empty() && !text.contains(char::is_whitespace) => {
                            Some(text)
                        }
                        _ => {
                            p.error(
                                path,
                                format!(
                                    "not a condition key: `{text}` (expected SERVICE:NAME, e.g. kms:ViaService or kms:EncryptionContext:aws:logs:arn)"
                                ),
                            );
                            None
                        }
                    }
                })
                .into_iter()
                .collect(),
        };
        let for_aws_resources =
            map.get("ForAwsResources").and_then(|v| self.boolean(v, &at(path, "ForAwsResources"))).unwrap_or(false);
        let shared_with_accounts = self.accounts(map, path, "SharedWithAccounts");
        let services = match map.get("Services") {
            None => vec![],
            Some(_) => self.items(map, path, "Services", "service principals", |p, v, path| {
                let text = p.string(v, path)?;
                if crate::arn::is_service_principal(&text) {
                    Some(text)
                } else {
                    p.error(
                        path,
                        format!(
                            "not a service principal: `{text}` (expected NAME.amazonaws.com or NAME.REGION.amazonaws.com, e.g. logs.us-east-1.amazonaws.com)"
                        ),
                    );
                    None
                }
            }),
        };
        if !["Principals", "Services", "SharedWithAccounts"].iter().any(|k| map.contains_key(*k)) {
            self.error(
                path,
                "nothing to check: give Principals (who must use the key), Services (service principals) or SharedWithAccounts",
            );
        }
        Some(KeyRequirement {
            key: key?,
            principals,
            services,
            actions,
            via_service,
            encryption_context,
            unknown_context,
            for_aws_resources,
            shared_with_accounts,
        })
    }

    fn encryption_context(&mut self, v: &Value, path: &str) -> BTreeMap<String, String> {
        let Value::Object(map) = v else {
            self.error(path, format!("expected an object of string pairs, got {}", kind_of(v)));
            return BTreeMap::new();
        };
        map.iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                other => {
                    self.error(&at(path, k), format!("expected a string, got {} (quote it)", kind_of(other)));
                    None
                }
            })
            .collect()
    }

    fn key_policy(&mut self, v: &Value, path: &str) -> Option<KeyPolicyCheck> {
        let map = self.object(v, path, KEY_POLICY)?;
        let policy_path = at(path, "Policy");
        let policy = self.required(map, path, "Policy", "the key policy document (object or JSON string)")?;
        let policy = match policy {
            Value::Object(o) => o.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => o,
                Ok(other) => {
                    self.error(&policy_path, format!("expected a policy document object, got {}", kind_of(&other)));
                    return None;
                }
                Err(e) => {
                    self.error(&policy_path, format!("not valid JSON: {e}"));
                    return None;
                }
            },
            other => {
                self.error(
                    &policy_path,
                    format!("expected a policy document (object or JSON string), got {}", kind_of(other)),
                );
                return None;
            }
        };
        let size = Value::Object(policy.clone()).to_string().len();
        if size > MAX_KEY_POLICY_BYTES {
            self.error(
                &policy_path,
                format!("key policies are at most {MAX_KEY_POLICY_BYTES} bytes, this one is {size}"),
            );
        }
        match policy.get("Statement") {
            Some(Value::Object(_) | Value::Array(_)) => {}
            Some(other) => self.error(
                &at(&policy_path, "Statement"),
                format!("expected a statement object or a list of statements, got {}", kind_of(other)),
            ),
            None => self.error(&at(&policy_path, "Statement"), "required: a key policy has a Statement"),
        }
        let administrators = self.principals(map, path, "Administrators");
        if administrators.is_empty() {
            self.error(&at(path, "Administrators"), "required: at least one principal that must keep kms:PutKeyPolicy");
        }
        Some(KeyPolicyCheck { policy, administrators })
    }

    fn hosted_zone(&mut self, v: &Value, path: &str) -> Option<HostedZone> {
        let map = self.object(v, path, HOSTED_ZONE)?;
        let id_path = at(path, "ZoneId");
        let id = self.required(map, path, "ZoneId", "the Route 53 hosted zone id, e.g. Z0123456789ABCDEFGHIJ")?;
        let id = self.string(id, &id_path)?;
        let bare = id.strip_prefix("/hostedzone/").unwrap_or(&id);
        if bare.is_empty() || bare.len() > 32 || !bare.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            self.error(
                &id_path,
                format!("expected a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ, got `{id}`"),
            );
            return None;
        }
        let record_names = self.items(map, path, "RecordNames", "DNS names", |p, v, path| {
            let name = p.string(v, path)?;
            normalise_dns_name(&name).map_err(|e| p.error(path, e)).ok()
        });
        Some(HostedZone { zone_id: bare.to_owned(), record_names })
    }

    fn options(&mut self, v: &Value, path: &str) -> Options {
        let Some(map) = self.object(v, path, OPTIONS) else { return Options::default() };
        let on_unknown = map
            .get("OnUnknown")
            .and_then(|v| {
                let p = at(path, "OnUnknown");
                match self.string(v, &p)?.as_str() {
                    "warn" => Some(OnUnknown::Warn),
                    "fail" => Some(OnUnknown::Fail),
                    other => {
                        self.error(&p, format!("expected warn or fail, got `{other}`"));
                        None
                    }
                }
            })
            .unwrap_or_default();
        let nonce = map.get("Nonce").filter(|v| !v.is_null()).and_then(|v| {
            let p = at(path, "Nonce");
            let parsed = match v {
                Value::Number(n) => {
                    n.as_u64().map(u128::from).ok_or_else(|| format!("expected a non-negative whole number, got `{n}`"))
                }
                Value::String(s) => parse_nonce(s),
                other => Err(format!("expected a whole number, got {}", kind_of(other))),
            };
            parsed.map_err(|e| self.error(&p, e)).ok()
        });
        let dns_root_servers = self.items(map, path, "DnsRootServers", "ip or ip:port addresses", |p, v, path| {
            let text = p.string(v, path)?;
            parse_dns_server(&text).map_err(|e| p.error(path, e)).ok()
        });
        Options { on_unknown, nonce, dns_root_servers }
    }
}

/// A likely misspelling: same letters in another case, singular for plural, or one or two edits away.
fn is_near(valid: &str, given: &str) -> bool {
    let (a, b) = (valid.to_ascii_lowercase(), given.to_ascii_lowercase());
    if a.starts_with(&b) && b.len() + 1 >= a.len() || b.starts_with(&a) && a.len() + 1 >= b.len() {
        return true;
    }
    // Levenshtein distance, two rows.
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = prev.get(j + 1).copied().unwrap_or(usize::MAX) + 1;
            let insert = row.last().copied().unwrap_or(usize::MAX) + 1;
            row.push(substitute.min(delete).min(insert));
        }
        prev = row;
    }
    prev.last().is_some_and(|d| *d <= 2)
}

/// `IP[:PORT]` (`[IPv6]:PORT`) of a DNS server.
pub fn parse_dns_server(text: &str) -> Result<DnsServer, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        if addr.port() == 0 {
            return Err(format!("port 0 is not a DNS port: `{text}`"));
        }
        return Ok(DnsServer { ip: addr.ip(), port: Some(addr.port()) });
    }
    text.parse::<IpAddr>().map(|ip| DnsServer { ip, port: None }).map_err(|_| {
        format!("expected an IP address with an optional port (192.0.2.1, 127.0.0.1:5353, [::1]:5353), got `{text}`")
    })
}

/// A secret's name (Secrets Manager: at most 512 of `a-zA-Z0-9/_+=.@-`) or its ARN
/// (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX`).
fn check_secret_id(id: &str) -> Result<(), String> {
    let shown: String = id.chars().take(120).collect();
    if let Some(rest) = id.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        return match parts.as_slice() {
            [_, "secretsmanager", region, account, "secret", name]
                if is_region(region)
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit())
                    && !name.is_empty() =>
            {
                Ok(())
            }
            _ => Err(format!(
                "expected a secret name or ARN (arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME), got `{shown}`"
            )),
        };
    }
    if id.is_empty() || id.len() > 512 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b)) {
        return Err(format!(
            "expected a secret name of 1 to 512 characters of a-z, A-Z, 0-9 and /_+=.@- (or its ARN), got `{shown}`"
        ));
    }
    Ok(())
}

fn check_parameter_name(name: &str) -> Result<(), String> {
    // SSM: names of at most 2048 characters of a-zA-Z0-9_.-/ ; hierarchies start with `/`.
    if name.is_empty() || name.len() > 2048 {
        return Err(format!("expected an SSM parameter name of 1 to 2048 characters, got `{name}`"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b)) {
        return Err(format!("an SSM parameter name has only letters, digits and _.-/ : `{name}`"));
    }
    if name.starts_with("arn:") {
        return Err(format!("give the parameter name, not its ARN: `{name}`"));
    }
    if name.contains("//") {
        return Err(format!("empty path segment in parameter name `{name}`"));
    }
    Ok(())
}

fn is_stack_name(name: &str) -> bool {
    name.len() <= 128
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_via_service(text: &str) -> bool {
    let rest = text.strip_suffix(".amazonaws.com").or_else(|| text.strip_suffix(".amazonaws.com.cn"));
    match rest.and_then(|r| r.split_once('.')) {
        Some((service, region)) => {
            !service.is_empty()
                && service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && is_region(region)
        }
        None => false,
    }
}

/// Lower-cases a DNS name and drops a trailing dot; rejects names DNS cannot carry.
pub fn normalise_dns_name(name: &str) -> Result<String, String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let labels: Vec<&str> = trimmed.split('.').collect();
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 253
        && labels.iter().enumerate().all(|(i, l)| {
            !l.is_empty()
                && l.len() <= 63
                && (*l == "*" && i == 0 || l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        });
    if ok {
        Ok(trimmed)
    } else {
        Err(format!("not a DNS name (labels of 1 to 63 letters, digits, - or _; punycode for IDNs): `{name}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(v: Value) -> Vec<String> {
        match Spec::from_value(&v, Origin::Properties) {
            Err(SpecError::Invalid(issues)) => issues.iter().map(ToString::to_string).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn service_principals_unknown_context_and_assets_parse_and_print_back() {
        let v = json!({
            "Bootstrap": {"Assets": [{"Name": "code", "Bucket": "cdk-hnb659fds-assets-111111111111-us-east-1",
                "ObjectKey": "abc.zip", "Role": "arn:aws:iam::111111111111:role/publisher"}]},
            "Keys": [{"Key": "alias/logs", "Services": ["logs.us-east-1.amazonaws.com"],
                "Actions": ["kms:GenerateDataKey"], "UnknownContext": ["kms:EncryptionContext:aws:logs:arn"]}]});
        let spec = Spec::from_value(&v, Origin::File).unwrap();
        let k = &spec.keys[0];
        assert_eq!(k.services, ["logs.us-east-1.amazonaws.com"]);
        assert!(k.unknown_context.contains("kms:EncryptionContext:aws:logs:arn"));
        let assets = &spec.bootstrap.as_ref().unwrap().assets;
        assert_eq!(
            (assets[0].object_key.as_str(), assets[0].role.as_ref().unwrap().to_string().as_str()),
            ("abc.zip", "arn:aws:iam::111111111111:role/publisher")
        );
        // What `preflight validate` and `infer` print reads back as the same spec.
        assert_eq!(Spec::from_value(&spec.to_value(), Origin::File).unwrap(), spec);
        let bad = issues(json!({"Keys": [{"Key": "alias/logs", "Services": ["logs"], "UnknownContext": ["nocolon"]}],
            "Bootstrap": {"Assets": [{"Bucket": "b"}]}}));
        assert!(bad.iter().any(|i| i.starts_with("Keys[0].Services[0]: not a service principal: `logs`")), "{bad:?}");
        assert!(bad.iter().any(|i| i.starts_with("Keys[0].UnknownContext[0]: not a condition key")), "{bad:?}");
        assert!(bad.iter().any(|i| i.starts_with("Bootstrap.Assets[0]") && i.contains("ObjectKey")), "{bad:?}");
    }

    #[test]
    fn empty_properties_are_an_empty_spec() {
        let spec = Spec::from_value(
            &json!({"ServiceToken": "arn:aws:lambda:...", "ServiceTimeout": "300"}),
            Origin::Properties,
        )
        .unwrap();
        assert!(spec.is_empty());
        assert_eq!(spec.options.on_unknown, OnUnknown::Warn);
    }

    #[test]
    fn the_design_example_parses_with_cloudformation_strings() {
        let v = json!({
            "Bootstrap": {"TrustedAccounts": ["222222222222"], "Readers": ["arn:aws:iam::111111111111:role/site-deployment-handler"]},
            "Parameters": [{"Name": "/app/db/password", "Readers": ["arn:aws:iam::111111111111:role/db-password-reader"]}],
            "Keys": [
                {"Key": "alias/app-data", "Principals": ["arn:aws:iam::222222222222:role/scheduler"],
                 "Actions": ["kms:decrypt", "KMS:GenerateDataKey"], "ViaService": "ec2.ap-northeast-1.amazonaws.com",
                 "EncryptionContext": {"Department": "ops"}, "ForAwsResources": "true"},
                {"Key": "alias/aws/rds", "SharedWithAccounts": ["222222222222"]}
            ],
            "KeyPolicies": [{"Policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}",
                             "Administrators": ["arn:aws:iam::111111111111:role/admin"]}],
            "HostedZone": {"ZoneId": "/hostedzone/Z0123456789ABCDEFGHIJ", "RecordNames": ["_X1.Example.com."]},
            "Options": {"OnUnknown": "fail", "Nonce": "1732300000000", "DnsRootServers": ["127.0.0.2:5353", "198.41.0.4"]}
        });
        let spec = Spec::from_value(&v, Origin::Properties).unwrap();
        let b = spec.bootstrap.as_ref().unwrap();
        assert_eq!((b.qualifier.as_str(), b.toolkit_stack_name.as_str()), ("hnb659fds", "CDKToolkit"));
        assert_eq!(spec.keys[0].actions, ["kms:Decrypt", "kms:GenerateDataKey"]);
        assert!(spec.keys[0].for_aws_resources);
        assert_eq!(spec.keys[1].actions, ["kms:Decrypt"]);
        assert_eq!(spec.hosted_zones[0].zone_id, "Z0123456789ABCDEFGHIJ");
        assert_eq!(spec.hosted_zones[0].record_names, ["_x1.example.com"]);
        // Several zones: a list, each judged on its own; a single zone prints as an object.
        let two = Spec::from_value(
            &json!({"HostedZone": [{"ZoneId": "Z1"}, {"ZoneId": "Z2", "RecordNames": ["a.example.org"]}]}),
            Origin::File,
        )
        .unwrap();
        assert_eq!(two.hosted_zones.iter().map(|z| z.zone_id.as_str()).collect::<Vec<_>>(), ["Z1", "Z2"]);
        assert!(two.to_value()["HostedZone"].is_array());
        assert!(spec.to_value()["HostedZone"].is_object());
        let bad = Spec::from_value(&json!({"HostedZone": [{"ZoneId": "Z1"}, {"ZoneId": "bad id"}]}), Origin::File)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("HostedZone[1].ZoneId: expected a Route 53 hosted zone id"), "{bad}");
        assert_eq!(spec.options.on_unknown, OnUnknown::Fail);
        assert_eq!(spec.options.nonce, Some(1_732_300_000_000));
        assert_eq!(spec.options.dns_root_servers[0].port, Some(5353));
        assert_eq!(spec.options.dns_root_servers[1].port, None);
    }

    #[test]
    fn unknown_keys_name_the_path_and_the_valid_keys() {
        let got = issues(json!({"Parameters": [{"Name": "/a", "Readers": [], "reader": "x"}]}));
        assert_eq!(
            got,
            ["Parameters[0]: unknown key `reader` (did you mean `Readers`?); valid keys are Name, Readers"]
        );
        let got = issues(json!({"Keys": [{"Key": "alias/a", "Principals": [], "ViaServce": "x"}]}));
        assert!(got[0].starts_with("Keys[0]: unknown key `ViaServce` (did you mean `ViaService`?)"), "{got:?}");
        let got = issues(json!({"Bogus": 1}));
        assert!(got[0].starts_with("unknown key `Bogus`; valid keys are Bootstrap, Parameters"), "{got:?}");
    }

    #[test]
    fn service_token_is_only_accepted_from_properties() {
        let v = json!({"ServiceToken": "x"});
        assert!(Spec::from_value(&v, Origin::File).is_err());
        assert!(Spec::from_value(&v, Origin::Properties).is_ok());
    }

    #[test]
    fn key_actions_take_the_wildcards_key_policies_use() {
        let spec = Spec::from_value(
            &json!({"Keys": [{"Key": "alias/k", "Principals": [],
                               "Actions": ["kms:ReEncrypt*", "KMS:generatedatakey*", "kms:Decrypt", "kms:Re?ncryptTo"]}]}),
            Origin::File,
        )
        .unwrap();
        assert_eq!(
            spec.keys[0].actions,
            [
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyPair",
                "kms:GenerateDataKeyPairWithoutPlaintext",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:Decrypt",
            ]
        );
        let err = Spec::from_value(
            &json!({"Keys": [{"Key": "alias/k", "Principals": [], "Actions": ["kms:Frobnicate*"]}]}),
            Origin::File,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Keys[0].Actions[0]: not a KMS action: `kms:Frobnicate*` matches no KMS action"), "{err}");
    }

    #[test]
    fn every_bad_value_is_reported_at_its_path() {
        let got = issues(json!({
            "Parameters": [{"Name": "/ok", "Readers": ["arn:aws:iam::111111111111:role/a"]},
                           {"Name": "/b", "Readers": ["arn:aws:iam::111111111111:role/a"]},
                           {"Name": "/c", "Readers": ["not-an-arn"]}],
            "Keys": [{"Key": "alias/k", "Principals": [], "Actions": ["kms:Decrypt", "s3:GetObject"], "ForAwsResources": "yes"}],
            "Options": {"OnUnknown": "maybe", "Nonce": "-1", "DnsRootServers": ["root.example"]}
        }));
        let expect = [
            "Parameters[2].Readers[0]: not an IAM principal ARN (expected arn:PARTITION:iam::ACCOUNT:role/NAME): `not-an-arn`",
            "Keys[0].Actions[1]: not a KMS action: `s3:GetObject` matches no KMS action (expected e.g. kms:Decrypt, kms:GenerateDataKey*)",
            "Keys[0].ForAwsResources: expected true or false, got `yes`",
            "Options.OnUnknown: expected warn or fail, got `maybe`",
        ];
        for e in expect {
            assert!(got.iter().any(|g| g == e), "missing {e:?} in {got:#?}");
        }
        assert!(got.iter().any(|g| g.starts_with("Options.Nonce: expected a non-negative whole number")));
        assert!(got.iter().any(|g| g.starts_with("Options.DnsRootServers[0]: expected an IP address")));
    }

    #[test]
    fn required_fields_and_wrong_types() {
        let got = issues(
            json!({"Parameters": [{"Readers": []}], "HostedZone": {}, "Keys": [{"Key": "alias/x"}], "KeyPolicies": "x"}),
        );
        assert!(
            got.contains(&"Parameters[0].Name: required: the parameter name, e.g. /app/db/password".to_owned()),
            "{got:?}"
        );
        assert!(got.iter().any(|g| g.starts_with("HostedZone.ZoneId: required")));
        assert!(got.iter().any(|g| g.starts_with("Keys[0]: nothing to check")));
        assert!(got.contains(&"KeyPolicies: expected a list of key policies, got a string".to_owned()));
    }

    #[test]
    fn key_policies_accept_objects_and_json_strings_and_need_administrators() {
        let got = issues(
            json!({"KeyPolicies": [{"Policy": "{not json", "Administrators": ["arn:aws:iam::111111111111:root"]},
                                                {"Policy": {"Version": "2012-10-17"}}]}),
        );
        assert!(got.iter().any(|g| g.starts_with("KeyPolicies[0].Policy: not valid JSON")), "{got:?}");
        assert!(got.contains(&"KeyPolicies[1].Policy.Statement: required: a key policy has a Statement".to_owned()));
        assert!(got.iter().any(|g| g.starts_with("KeyPolicies[1].Administrators: required")));
    }

    #[test]
    fn yaml_numbers_for_account_ids_and_nonces() {
        let spec: Value =
            serde_yaml_ng::from_str("Bootstrap:\n  TrustedAccounts: [222222222222]\nOptions:\n  Nonce: 17\n").unwrap();
        let spec = Spec::from_value(&spec, Origin::File).unwrap();
        assert_eq!(spec.bootstrap.unwrap().trusted_accounts[0].as_str(), "222222222222");
        assert_eq!(spec.options.nonce, Some(17));
        // YAML 1.2 keeps a leading zero as text; a short unquoted number is still caught.
        let kept: Value = serde_yaml_ng::from_str("Bootstrap:\n  TrustedAccounts: [012345678901]\n").unwrap();
        assert!(Spec::from_value(&kept, Origin::File).is_ok());
        let short: Value = serde_yaml_ng::from_str("Bootstrap:\n  TrustedAccounts: [12345678901]\n").unwrap();
        let err = Spec::from_value(&short, Origin::File).unwrap_err().to_string();
        assert!(err.contains("quote account ids in YAML"), "{err}");
    }

    #[test]
    fn raw_nonce_tolerates_invalid_properties() {
        assert_eq!(raw_nonce(&json!({"Bogus": 1, "Options": {"Nonce": "42", "Other": true}})), Some(42));
        assert_eq!(raw_nonce(&json!({"Options": {"Nonce": "x"}})), None);
        assert_eq!(raw_nonce(&json!("not an object")), None);
    }

    #[test]
    fn dns_names_and_via_services() {
        assert_eq!(normalise_dns_name("WWW.Example.COM.").unwrap(), "www.example.com");
        assert!(normalise_dns_name("*.example.com").is_ok());
        assert!(
            normalise_dns_name("a..b").is_err()
                && normalise_dns_name("a.*.b").is_err()
                && normalise_dns_name("").is_err()
        );
        assert!(is_via_service("ssm.us-east-1.amazonaws.com") && is_via_service("s3.cn-north-1.amazonaws.com.cn"));
        assert!(!is_via_service("ssm.amazonaws.com") && !is_via_service("SSM.us-east-1.amazonaws.com"));
    }
}
