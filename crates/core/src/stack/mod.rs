//! The stack model: what a CloudFormation template says the stack depends on, found without
//! asking anyone. Parses the template ([`template`]), resolves its intrinsics as far as the
//! environment allows ([`resolve`]), and turns resources into spec items ([`infer`]), each with the
//! resource and property it came from. Pure: no I/O.
//!
//! Rules built so far, each citing the fact it relies on where it is written:
//! - `{{resolve:ssm-secure:NAME}}` in a resource property: a parameter check whose reader is the
//!   stack's execution identity.
//! - `AWS::KMS::Key` with a `KeyPolicy`: the lockout lint, with the execution identity as the
//!   administrator that must keep kms:PutKeyPolicy.
//! - A CDK `AwsCustomResource` (`Custom::AWS`) that calls SSM GetParameter(s) WithDecryption: a
//!   parameter check whose reader is the custom resource's function role, a role the stack
//!   creates, judged with the policies the template gives it ([`planned`]).
//! - Route 53 record sets and DNS-validated ACM certificates: the hosted-zone check of the zone
//!   they write to, with their names (story 3); a certificate validated in a zone the stack creates
//!   without delegating it fails.
//!
//! What is not inferred yet is listed in docs/stack-model.md.

pub mod assembly;
pub mod planned;
pub mod resolve;
pub mod template;

use serde::Serialize;
use serde_json::{Map, Value};

use std::collections::BTreeMap;

use crate::arn::{KeyRef, PrincipalArn};
use crate::report::{CheckKind, Finding, Status};
use crate::said::stack::{self as said, RoleUnknown, Unjudged};
use crate::spec::{HostedZone, KeyPolicyCheck, KeyRequirement, Parameter, Secret, Spec};
pub use resolve::{Resolver, StackEnv, Unresolved};
pub use template::{Template, TemplateError};

/// Where an inferred item came from: a resource and the path of the property inside it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub logical_id: String,
    pub property: String,
}

/// One inferred item: the check and subject it becomes, its source and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inference {
    pub check: CheckKind,
    pub subject: String,
    pub source: Source,
    /// The principal the item is judged for (the reader, the administrator), when there is one:
    /// findings are matched to their item by it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// For a key use, the service its calls go through (`None` inside: none): findings are
    /// matched by it too, as one principal may use one key through several services for several
    /// resources.
    #[serde(skip)]
    pub via: Option<Option<String>>,
    /// The rule, in a few words (`the stack's execution identity resolves this ssm-secure
    /// reference`).
    pub why: String,
}

/// What could not be judged, and why (each becomes an `unknown` finding), or what the template
/// alone shows to fail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    pub check: CheckKind,
    pub subject: String,
    pub source: Source,
    /// `found`'s reason (or, for a failure, its sentence) in words.
    pub why: String,
    /// What was found, as data.
    #[serde(skip)]
    pub found: said::Said,
}

impl Gap {
    /// `subject` could not be judged, for `why`.
    fn unjudged(check: CheckKind, subject: impl Into<String>, source: Source, why: Unjudged) -> Self {
        let subject = subject.into();
        Gap {
            check,
            source,
            why: why.to_string(),
            found: said::Said::NotChecked { subject: subject.clone(), why },
            subject,
        }
    }

    /// The template alone shows `found`.
    fn failure(check: CheckKind, subject: impl Into<String>, source: Source, found: said::Said) -> Self {
        Gap { check, subject: subject.into(), source, why: found.sentence(), found }
    }
}

/// The spec a template implies, with a source for every item.
#[derive(Clone, Debug, Default)]
pub struct Inferred {
    pub spec: Spec,
    pub inferences: Vec<Inference>,
    pub gaps: Vec<Gap>,
    /// Which identity was taken to execute the stack, and on what grounds.
    pub execution: Option<String>,
    /// The stack's name, when known.
    pub stack: Option<String>,
    /// The roles the stack creates, judged as planned facts.
    pub planned: Vec<planned::PlannedRole>,
    /// The keys the stack creates, judged as planned facts.
    pub planned_keys: Vec<planned::PlannedKey>,
    /// Roles of the stack that read the CDK assets bucket at run time (a `BucketDeployment`'s
    /// handler): the bootstrap check's readers.
    pub bootstrap_readers: Vec<PrincipalArn>,
    /// What the template alone shows to fail.
    pub failures: Vec<Gap>,
}

/// Who CloudFormation acts as for the stack: its service role if it has one, else the deploying
/// identity (CloudFormation User Guide, "AWS CloudFormation service role": the role is used "for
/// all operations that are performed on that stack").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    pub principal: PrincipalArn,
    /// How it was found (`--role-arn`, `the deployed stack's RoleARN`, `the caller`).
    pub basis: String,
}

impl Inferred {
    /// `explicit` with the inferred items added after its own; the inferences' subjects follow
    /// the items they name in the merged spec.
    pub fn merge_into(&mut self, mut explicit: Spec) -> Spec {
        let offset = explicit.key_policies.len();
        // `KeyPolicies[n]` names the n-th key policy: after the explicit ones, it moves by as many.
        let shift = |subject: &mut String| {
            let n = subject
                .strip_prefix("KeyPolicies[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|n| n.parse::<usize>().ok());
            if let Some(n) = n {
                *subject = format!("KeyPolicies[{}]", n + offset);
            }
        };
        self.inferences.iter_mut().filter(|i| i.check == CheckKind::KeyPolicy).for_each(|i| shift(&mut i.subject));
        self.gaps.iter_mut().filter(|g| g.check == CheckKind::KeyPolicy).for_each(|g| shift(&mut g.subject));
        // An item another stack (or the spec) already asks for is asked once.
        for p in &self.spec.parameters {
            if !explicit.parameters.contains(p) {
                explicit.parameters.push(p.clone());
            }
        }
        for s in &self.spec.secrets {
            if !explicit.secrets.contains(s) {
                explicit.secrets.push(s.clone());
            }
        }
        for k in &self.spec.keys {
            if !explicit.keys.contains(k) {
                explicit.keys.push(k.clone());
            }
        }
        explicit.key_policies.extend(self.spec.key_policies.iter().cloned());
        // A zone named both explicitly and by the stack is checked once, with every record name.
        for z in &self.spec.hosted_zones {
            match explicit.hosted_zones.iter_mut().find(|mine| mine.zone_id == z.zone_id) {
                Some(mine) => {
                    for name in &z.record_names {
                        if !mine.record_names.contains(name) {
                            mine.record_names.push(name.clone());
                        }
                    }
                }
                None => explicit.hosted_zones.push(z.clone()),
            }
        }
        explicit
    }

    /// What would be checked and why, without calling AWS: the spec as understood, each
    /// inferred item with its source, and what could not be judged.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "stack": self.stack,
            "execution": self.execution,
            "spec": self.spec.to_value(),
            "inferred": self.inferences,
            "notChecked": self.gaps,
        })
    }

    /// [`Self::to_value`] as YAML.
    pub fn to_yaml(&self) -> String {
        to_yaml(&self.to_value())
    }

    /// Every gap as an `unknown` finding, and every failure the template shows as a `fail`,
    /// carrying its stack and source.
    pub fn gap_findings(&self) -> Vec<Finding> {
        let stack = self.stack.as_deref();
        let gaps = self.gaps.iter().map(|g| (g, Status::Unknown));
        let fails = self.failures.iter().map(|g| (g, Status::Fail));
        gaps.chain(fails)
            .map(|(g, status)| Finding {
                stack: stack.map(str::to_owned),
                source: Some(g.source.clone()),
                ..Finding::new(g.check, g.subject.clone(), status, g.found.clone())
            })
            .collect()
    }

    /// Marks the findings that came from an inferred item with its stack and source.
    pub fn annotate(&self, findings: &mut [Finding]) {
        let stack = self.stack.as_deref();
        for f in findings.iter_mut().filter(|f| f.source.is_none()) {
            // The item's reader must be the finding's principal when both are named: two stacks (or
            // two resources) may need one parameter for two different roles.
            let same_reader = |i: &Inference| {
                let reader = match (&i.reader, &f.principal) {
                    (Some(r), Some(p)) => r == p,
                    _ => true,
                };
                let via = match (&i.via, &f.access) {
                    (Some(via), Some(access)) => *via == access.via_service,
                    _ => true,
                };
                reader && via
            };
            if let Some(i) =
                self.inferences.iter().find(|i| i.check == f.check && i.subject == f.subject && same_reader(i))
            {
                f.source = Some(i.source.clone());
                f.stack = stack.map(str::to_owned);
            }
        }
    }
}

/// A JSON value as YAML (for people reading `preflight infer`).
pub fn to_yaml(v: &Value) -> String {
    serde_yaml_ng::to_string(v).unwrap_or_else(|e| format!("# cannot render as YAML: {e}\n"))
}

/// Infers the checks `template` implies in `env`, executed by `execution`.
pub fn infer(template: &Template, env: &StackEnv, execution: Option<&Execution>) -> Inferred {
    // Roles and keys the stack creates are named by the ARNs their planned facts stand in as, so
    // a policy naming one of them (`Fn::GetAtt Role.Arn`) is judged against those facts.
    let known = planned::known_attributes(template, &Resolver::new(template, env), env);
    let resolver = Resolver::new(template, env).with_known(known);
    let mut out = Inferred {
        execution: execution.map(|e| format!("{} ({})", e.principal, e.basis)),
        planned: planned::roles(
            template,
            &resolver,
            env.account.as_deref(),
            env.partition.as_deref(),
            env.stack_name.as_deref(),
        ),
        planned_keys: planned::keys(template, &resolver, env),
        stack: env.stack_name.clone(),
        ..Inferred::default()
    };
    for (id, resource) in &template.resources {
        // A resource under a false condition is not created; under an unknown one, it may be.
        if let Some(c) = &resource.condition
            && resolver.condition(c) == Ok(false)
        {
            continue;
        }
        // A reference built by intrinsics (`Fn::Join` of parts) shows up once resolved: the
        // properties are resolved once, for both kinds of dynamic reference.
        let resolved = resolver.value(&resource.properties).ok();
        secure_references(id, &resource.properties, resolved.as_ref(), execution, &mut out);
        secret_references(id, &resource.kind, &resource.properties, resolved.as_ref(), execution, &mut out);
        if resource.kind == "AWS::KMS::Key" {
            key_policy(id, &resource.properties, &resolver, execution, &mut out);
        }
        if resource.kind.starts_with("Custom::") {
            custom_resource_reads(id, &resource.properties, template, &resolver, &mut out);
        }
        if resource.kind == "AWS::ECS::TaskDefinition" {
            task_secrets(id, &resource.properties, &resolver, &mut out);
        }
        if resource.kind == "AWS::Logs::LogGroup" {
            log_group_key(id, &resource.properties, template, &resolver, env, &mut out);
        }
        service_keys(id, &resource.kind, &resource.properties, template, &resolver, env, execution, &mut out);
    }
    zones(template, &resolver, &mut out);
    publishers(template, &resolver, &mut out);
    bucket_users(template, &resolver, env, &mut out);
    out
}

/// The hosted zones the stack writes to, from its record sets (`AWS::Route53::RecordSet`,
/// `AWS::Route53::RecordSetGroup`) and DNS-validated certificates
/// (`AWS::CertificateManager::Certificate` `DomainValidationOptions`): each must be the zone its
/// name is delegated to, or the records are never served and DNS validation never completes (story
/// 3; docs/aws-facts.md 5). One zone is checked per run (the spec's `HostedZone`); others are named
/// as not checked.
fn zones(template: &Template, resolver: &Resolver<'_>, out: &mut Inferred) {
    // (zone id, record name, source), in template order.
    let mut writes: Vec<(String, String, Source)> = Vec::new();
    let text = |v: Option<&Value>| {
        v.map(|v| resolver.value(v)).and_then(Result::ok).and_then(|v| v.as_str().map(str::to_owned))
    };
    let in_stack_zone = |v: Option<&Value>| -> Option<String> {
        let id = v?.get("Ref")?.as_str()?;
        (template.resource(id)?.kind == "AWS::Route53::HostedZone").then(|| id.to_owned())
    };
    for (id, r) in &template.resources {
        if r.condition.as_deref().is_some_and(|c| resolver.condition(c) == Ok(false)) {
            continue;
        }
        let p = &r.properties;
        let mut sets: Vec<RecordWrite<'_>> = Vec::new();
        match r.kind.as_str() {
            "AWS::Route53::RecordSet" => {
                sets.push((p.get("HostedZoneId"), p.get("HostedZoneName"), p.get("Name"), "Properties.Name".into()))
            }
            "AWS::Route53::RecordSetGroup" => {
                if let Some(Value::Array(items)) = p.get("RecordSets") {
                    for (i, s) in items.iter().enumerate() {
                        let zone = s.get("HostedZoneId").or(p.get("HostedZoneId"));
                        let zone_name = s.get("HostedZoneName").or(p.get("HostedZoneName"));
                        sets.push((zone, zone_name, s.get("Name"), format!("Properties.RecordSets[{i}].Name")));
                    }
                }
            }
            "AWS::CertificateManager::Certificate" if text(p.get("ValidationMethod")).as_deref() == Some("DNS") => {
                if let Some(Value::Array(items)) = p.get("DomainValidationOptions") {
                    for (i, o) in items.iter().enumerate() {
                        sets.push((
                            o.get("HostedZoneId"),
                            None,
                            o.get("DomainName"),
                            format!("Properties.DomainValidationOptions[{i}]"),
                        ));
                    }
                }
            }
            _ => continue,
        }
        for (zone, zone_name, name, property) in sets {
            let source = Source { logical_id: id.clone(), property };
            let Some(name) = text(name).map(|n| n.trim_end_matches('.').to_ascii_lowercase()) else {
                out.gaps.push(Gap::unjudged(CheckKind::HostedZone, id.clone(), source, Unjudged::RecordNameUnresolved));
                continue;
            };
            if let Some(zone_id) = in_stack_zone(zone) {
                if r.kind == "AWS::CertificateManager::Certificate" && !delegates(template, resolver, &zone_id) {
                    let found = said::Said::CertificateZoneNotDelegated {
                        certificate: id.clone(),
                        zone: zone_id.clone(),
                        name: name.clone(),
                    };
                    out.failures.push(Gap::failure(CheckKind::HostedZone, zone_id.clone(), source, found));
                }
                continue;
            }
            match text(zone) {
                Some(z) => writes.push((z.trim_start_matches("/hostedzone/").to_owned(), name, source)),
                None if zone_name.is_some() => out.gaps.push(Gap::unjudged(
                    CheckKind::HostedZone,
                    text(zone_name).unwrap_or_else(|| id.clone()),
                    source,
                    Unjudged::ZoneNamedByName,
                )),
                None => {
                    out.gaps.push(Gap::unjudged(CheckKind::HostedZone, id.clone(), source, Unjudged::ZoneIdUnresolved));
                }
            }
        }
    }
    // Every zone the stack writes to is checked, each with the record names written into it.
    for (zone, name, source) in writes {
        match out.spec.hosted_zones.iter_mut().find(|z| z.zone_id == zone) {
            Some(z) if !z.record_names.contains(&name) => z.record_names.push(name),
            Some(_) => {}
            None => out.spec.hosted_zones.push(HostedZone { zone_id: zone.clone(), record_names: vec![name] }),
        }
        if !out.inferences.iter().any(|i| i.check == CheckKind::HostedZone && i.subject == zone) {
            out.inferences.push(Inference {
                check: CheckKind::HostedZone,
                subject: zone,
                source,
                reader: None,
                via: None,
                why: "the stack writes records into this zone: it must be the zone the name is delegated to".into(),
            });
        }
    }
}

/// A record a resource writes: its zone id, zone name, record name, and the property path.
type RecordWrite<'a> = (Option<&'a Value>, Option<&'a Value>, Option<&'a Value>, String);

/// Whether the stack delegates the zone it creates: an NS record set named like that zone, in
/// another zone (the parent).
fn delegates(template: &Template, resolver: &Resolver<'_>, zone_id: &str) -> bool {
    let name_of = |v: Option<&Value>| {
        v.map(|v| resolver.value(v))
            .and_then(Result::ok)
            .and_then(|v| v.as_str().map(|s| s.trim_end_matches('.').to_ascii_lowercase()))
    };
    let Some(zone_name) = template.resource(zone_id).and_then(|z| name_of(z.properties.get("Name"))) else {
        return false;
    };
    template.resources.iter().any(|(_, r)| {
        r.kind == "AWS::Route53::RecordSet"
            && name_of(r.properties.get("Type")).as_deref() == Some("ns")
            && name_of(r.properties.get("Name")).as_deref() == Some(zone_name.as_str())
            && r.properties.get("HostedZoneId").and_then(|z| z.get("Ref")).and_then(Value::as_str) != Some(zone_id)
    })
}

/// `{{resolve:ssm-secure:NAME[:VERSION]}}` anywhere in a resource's properties: CloudFormation
/// reads and decrypts the parameter as the stack's execution identity when it provisions the
/// resource (CloudFormation User Guide, "Get a secure string value from Parameter Store"; the
/// identity follows from the service-role rule, which is inferred, not stated for ssm-secure:
/// docs/aws-facts.md 3).
fn secure_references(
    id: &str,
    properties: &Value,
    resolved: Option<&Value>,
    execution: Option<&Execution>,
    out: &mut Inferred,
) {
    let mut found = Vec::new();
    walk(properties, "Properties", &mut |path, s| {
        for name in ssm_secure_names(s) {
            found.push((path.to_owned(), name));
        }
    });
    if let Some(resolved) = resolved {
        walk(resolved, "Properties", &mut |path, s| {
            for name in ssm_secure_names(s) {
                if !found.iter().any(|(p, n)| p == path && *n == name) {
                    found.push((path.to_owned(), name));
                }
            }
        });
    }
    for (path, name) in found {
        let source = Source { logical_id: id.to_owned(), property: path };
        let readers: Vec<PrincipalArn> = execution.iter().map(|e| e.principal.clone()).collect();
        if !out.spec.parameters.iter().any(|p| p.name == name && p.readers == readers) {
            out.spec.parameters.push(Parameter { name: name.clone(), readers });
        }
        let why = match execution {
            Some(e) => format!(
                "CloudFormation resolves this ssm-secure reference as the stack's execution identity, {} ({})",
                e.principal, e.basis
            ),
            None => "CloudFormation resolves this ssm-secure reference; the execution identity is not known, so only the parameter itself is checked".to_owned(),
        };
        let reader = execution.map(|e| e.principal.to_string());
        out.inferences.push(Inference { check: CheckKind::Parameter, subject: name, source, reader, via: None, why });
    }
}

/// `{{resolve:secretsmanager:SECRET[:SecretString[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]]}}` in a
/// resource's properties: CloudFormation calls secretsmanager:GetSecretValue as the stack's
/// execution identity (observed: "assumed-role/cdk-hnb659fds-cfn-exec-role-.../AWSCloudFormation
/// is not authorized to perform: secretsmanager:GetSecretValue", aws-samples/
/// cdk-assume-role-credential-plugin#49), and Secrets Manager decrypts as that identity. Dynamic
/// references are not resolved in custom resources' properties (CloudFormation User Guide, "Get a
/// secret or secret value from Secrets Manager"), so those are skipped.
fn secret_references(
    id: &str,
    kind: &str,
    properties: &Value,
    resolved: Option<&Value>,
    execution: Option<&Execution>,
    out: &mut Inferred,
) {
    if kind.starts_with("Custom::") || kind == "AWS::CloudFormation::CustomResource" {
        return;
    }
    let mut found: Vec<(String, String)> = Vec::new();
    let mut collect = |path: &str, s: &str| {
        for secret in secretsmanager_ids(s) {
            if !found.iter().any(|(p, n)| p == path && *n == secret) {
                found.push((path.to_owned(), secret));
            }
        }
    };
    walk(properties, "Properties", &mut collect);
    if let Some(resolved) = resolved {
        walk(resolved, "Properties", &mut collect);
    }
    for (path, secret) in found {
        let source = Source { logical_id: id.to_owned(), property: path };
        let readers: Vec<PrincipalArn> = execution.iter().map(|e| e.principal.clone()).collect();
        add_secret(out, &secret, readers);
        let why = match execution {
            Some(e) => format!(
                "CloudFormation resolves this secretsmanager reference as the stack's execution identity, {} ({})",
                e.principal, e.basis
            ),
            None => "CloudFormation resolves this secretsmanager reference; the execution identity is not known, so only the secret itself is checked".to_owned(),
        };
        let reader = execution.map(|e| e.principal.to_string());
        out.inferences.push(Inference { check: CheckKind::Secret, subject: secret, source, reader, via: None, why });
    }
}

/// Adds a secret check for `readers`, unless the same one is there.
fn add_secret(out: &mut Inferred, id: &str, readers: Vec<PrincipalArn>) {
    if !out.spec.secrets.iter().any(|s| s.id == id && s.readers == readers) {
        out.spec.secrets.push(Secret { id: id.to_owned(), readers });
    }
}

/// The secret ids (names or full ARNs) of the secretsmanager dynamic references in `s`. A
/// reference is `SECRET-ID[:SecretString:JSON-KEY:VERSION-STAGE:VERSION-ID]`, where SECRET-ID is a
/// name or an ARN (itself `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`).
fn secretsmanager_ids(s: &str) -> Vec<String> {
    const OPEN: &str = "{{resolve:secretsmanager:";
    let mut ids = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        let after = rest.get(start + OPEN.len()..).unwrap_or_default();
        let Some(end) = after.find("}}") else { break };
        let body = after.get(..end).unwrap_or_default();
        let id = if body.starts_with("arn:") {
            body.splitn(8, ':').take(7).collect::<Vec<_>>().join(":")
        } else {
            body.split(':').next().unwrap_or_default().to_owned()
        };
        if !id.is_empty() && !id.contains("${") {
            ids.push(id);
        }
        rest = after.get(end + 2..).unwrap_or_default();
    }
    ids
}

/// The parameter names of the ssm-secure dynamic references in `s`.
fn ssm_secure_names(s: &str) -> Vec<String> {
    const OPEN: &str = "{{resolve:ssm-secure:";
    let mut names = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(OPEN) {
        let after = rest.get(start + OPEN.len()..).unwrap_or_default();
        let Some(end) = after.find("}}") else { break };
        let body = after.get(..end).unwrap_or_default();
        // NAME or NAME:VERSION; names are [a-zA-Z0-9_.\-/]+ (the dynamic reference pattern).
        let name = match body.rsplit_once(':') {
            Some((n, v)) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => body,
        };
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b)) {
            names.push(name.to_owned());
        }
        rest = after.get(end + 2..).unwrap_or_default();
    }
    names
}

/// `AWS::KMS::Key.KeyPolicy`: CreateKey (and PutKeyPolicy on update) runs its lockout safety check
/// as the identity that calls it, the stack's execution identity (KMS API Reference, CreateKey,
/// `BypassPolicyLockoutSafetyCheck`; docs/aws-facts.md 1.8).
fn key_policy(
    id: &str,
    properties: &Value,
    resolver: &Resolver<'_>,
    execution: Option<&Execution>,
    out: &mut Inferred,
) {
    let Some(policy) = properties.get("KeyPolicy") else { return };
    let source = Source { logical_id: id.to_owned(), property: "Properties.KeyPolicy".into() };
    let subject = format!("KeyPolicies[{}]", out.spec.key_policies.len());
    let gap = |why: Unjudged| Gap::unjudged(CheckKind::KeyPolicy, subject.clone(), source.clone(), why);
    let Some(execution) = execution else {
        out.gaps.push(gap(Unjudged::KeyPolicyApplierUnknown));
        return;
    };
    // Condition values unresolved before the deploy make only their conditions unknown.
    let resolved = match planned::key_policy(policy, resolver) {
        Ok(Value::Object(m)) => m,
        Ok(Value::String(s)) => match serde_json::from_str::<Map<String, Value>>(&s) {
            Ok(m) => m,
            Err(e) => {
                out.gaps.push(gap(Unjudged::KeyPolicyNotJson { error: e.to_string() }));
                return;
            }
        },
        Ok(_) => {
            out.gaps.push(gap(Unjudged::KeyPolicyNotObject));
            return;
        }
        Err(u) => {
            out.gaps.push(gap(Unjudged::KeyPolicyDependsOn { expression: u.to_string() }));
            return;
        }
    };
    out.spec.key_policies.push(KeyPolicyCheck { policy: resolved, administrators: vec![execution.principal.clone()] });
    out.inferences.push(Inference {
        check: CheckKind::KeyPolicy,
        subject,
        source,
        reader: Some(execution.principal.to_string()),
        via: None,
        why: format!(
            "CloudFormation applies this key policy as the stack's execution identity, {} ({}), which must keep kms:PutKeyPolicy",
            execution.principal, execution.basis
        ),
    });
}

/// What a resource's key property names: a key the stack creates, or an existing key.
enum KeyNamed {
    Planned(KeyRef),
    Existing(KeyRef),
}

/// The key a property names: `Fn::GetAtt KEY.Arn` or `Ref KEY` of an `AWS::KMS::Key` of the stack
/// is that planned key; else the resolved text must be a key reference.
fn key_named(
    v: &Value,
    resource: &str,
    template: &Template,
    resolver: &Resolver<'_>,
    planned_keys: &[planned::PlannedKey],
) -> Result<KeyNamed, Unjudged> {
    let target = match (v.get("Fn::GetAtt"), v.get("Ref")) {
        (Some(Value::Array(p)), _) => p.first().and_then(Value::as_str),
        (Some(Value::String(s)), _) => s.split('.').next(),
        (None, Some(Value::String(r))) => Some(r.as_str()),
        _ => None,
    };
    if let Some(id) = target.filter(|id| template.resource(id).is_some_and(|r| r.kind == "AWS::KMS::Key")) {
        return planned_keys
            .iter()
            .find(|k| k.logical_id == id)
            .map(|k| KeyNamed::Planned(k.reference.clone()))
            .ok_or_else(|| Unjudged::PlannedKeyUnnamed { resource: resource.to_owned(), key: id.to_owned() });
    }
    match resolver.value(v) {
        Ok(Value::String(text)) => {
            // An alias the stack creates (`AWS::KMS::Alias`) names its target key.
            let alias = text.rsplit_once(":alias/").map_or(text.as_str(), |(_, name)| name);
            let alias = if alias == text { text.clone() } else { format!("alias/{alias}") };
            let created = template.resources.iter().find(|(_, r)| {
                r.kind == "AWS::KMS::Alias"
                    && r.properties
                        .get("AliasName")
                        .and_then(|n| resolver.value(n).ok())
                        .and_then(|n| n.as_str().map(str::to_owned))
                        == Some(alias.clone())
            });
            if let Some((_, r)) = created {
                return match r.properties.get("TargetKeyId") {
                    Some(target) => key_named(target, resource, template, resolver, planned_keys),
                    None => Err(Unjudged::KeyUnresolved {
                        resource: resource.to_owned(),
                        expression: format!("{alias} has no TargetKeyId"),
                    }),
                };
            }
            KeyRef::parse(&text)
                .map(KeyNamed::Existing)
                .map_err(|e| Unjudged::KeyUnresolved { resource: resource.to_owned(), expression: e.to_string() })
        }
        Ok(other) => Err(Unjudged::KeyUnresolved { resource: resource.to_owned(), expression: other.to_string() }),
        Err(u) => Err(Unjudged::KeyUnresolved { resource: resource.to_owned(), expression: u.to_string() }),
    }
}

/// `AWS::Logs::LogGroup.KmsKeyId` (docs/stack-model.md): CloudWatch Logs uses the key as the
/// regional service principal `logs.REGION.amazonaws.com`, which only the key policy can allow;
/// without it CreateLogGroup fails ("The specified KMS key does not exist or is not allowed to be
/// used with Arn ...", aws/aws-cdk#28304). The calls are kms:GenerateDataKey and kms:Decrypt with
/// the log group's ARN as encryption context `aws:logs:arn` (CloudWatch Logs User Guide,
/// encrypt-log-data-kms; the AWS managed policy CloudWatchLogsAPIKeyAccess names the same two
/// calls and context). DescribeKey, also in AWS's example, is not asked: it carries no
/// encryption context, so AWS's own example statement, conditioned on it, would not allow it.
/// A name CloudFormation generates leaves the ARN unknown: a condition on it is then `unknown`.
fn log_group_key(
    id: &str,
    properties: &Value,
    template: &Template,
    resolver: &Resolver<'_>,
    env: &StackEnv,
    out: &mut Inferred,
) {
    let Some(key) = properties.get("KmsKeyId") else { return };
    let source = Source { logical_id: id.to_owned(), property: "Properties.KmsKeyId".into() };
    let subject = format!("the key of log group {id}");
    let key = match key_named(key, id, template, resolver, &out.planned_keys) {
        Ok(KeyNamed::Planned(k) | KeyNamed::Existing(k)) => k,
        Err(why) => {
            out.gaps.push(Gap::unjudged(CheckKind::Key, subject, source, why));
            return;
        }
    };
    let Some(region) = env.region.as_deref() else {
        let why =
            Unjudged::KeyUnresolved { resource: id.to_owned(), expression: "the stack's region is not known".into() };
        out.gaps.push(Gap::unjudged(CheckKind::Key, subject, source, why));
        return;
    };
    let service = format!("logs.{region}.amazonaws.com");
    let name = properties.get("LogGroupName").map(|n| resolver.value(n));
    let arn = match (name, env.partition.as_deref(), env.account.as_deref()) {
        (Some(Ok(Value::String(name))), Some(partition), Some(account)) => {
            Some(format!("arn:{partition}:logs:{region}:{account}:log-group:{name}"))
        }
        _ => None,
    };
    let (mut context, mut unknown) = (BTreeMap::new(), std::collections::BTreeSet::new());
    let said = match &arn {
        Some(arn) => {
            context.insert("aws:logs:arn".to_owned(), arn.clone());
            format!("with its ARN {arn} as encryption context")
        }
        None => {
            unknown.insert("kms:EncryptionContext:aws:logs:arn".to_owned());
            "with its ARN as encryption context (not known before the deploy: the name is generated or unresolved)"
                .to_owned()
        }
    };
    let why = format!(
        "CloudWatch Logs encrypts log group {id} as the service principal {service}, {said}; only the key policy can allow it"
    );
    service_key_use(out, key, service, context, unknown, source, why);
}

/// A service principal's use of a key (kms:GenerateDataKey and kms:Decrypt, with the encryption
/// context given, and the context keys not known before the deploy): its key requirement, asked
/// once however many resources need it, and the inference naming this `source`.
fn service_key_use(
    out: &mut Inferred,
    key: KeyRef,
    service: String,
    encryption_context: BTreeMap<String, String>,
    unknown_context: std::collections::BTreeSet<String>,
    source: Source,
    why: String,
) {
    let requirement = KeyRequirement {
        key: key.clone(),
        principals: vec![],
        services: vec![service.clone()],
        actions: vec!["kms:GenerateDataKey".into(), "kms:Decrypt".into()],
        via_service: None,
        encryption_context,
        unknown_context,
        for_aws_resources: false,
        shared_with_accounts: vec![],
    };
    if !out.spec.keys.contains(&requirement) {
        out.spec.keys.push(requirement);
    }
    out.inferences.push(Inference {
        check: CheckKind::Key,
        subject: key.to_string(),
        source,
        reader: Some(service),
        via: None,
        why,
    });
}

/// The logical id a `Ref X` or `Fn::GetAtt X.Arn` names (an SNS topic's `Ref` is its ARN, an SQS
/// queue's ARN is its `Arn` attribute).
fn named_resource(v: &Value) -> Option<&str> {
    match (v.get("Ref"), v.get("Fn::GetAtt")) {
        (Some(Value::String(id)), _) => Some(id),
        (_, Some(Value::Array(p))) => p.first().and_then(Value::as_str),
        (_, Some(Value::String(s))) => s.split('.').next(),
        _ => None,
    }
}

/// Topics and queues encrypted with a key (`KmsMasterKeyId`) and the AWS services the stack wires
/// to publish to them (docs/stack-model.md): CloudWatch alarms (`AlarmActions`, `OKActions`,
/// `InsufficientDataActions`) as `cloudwatch.amazonaws.com`, EventBridge rules (`Targets[].Arn`) as
/// `events.amazonaws.com`, S3 notifications (`NotificationConfiguration` of a bucket, or of CDK's
/// `Custom::S3BucketNotifications`) as `s3.amazonaws.com`, and SNS subscriptions of a queue
/// (`AWS::SNS::Subscription` with `Protocol: sqs`, or a topic's `Subscription`) as
/// `sns.amazonaws.com` on the queue's key. Each must be allowed `kms:GenerateDataKey` and
/// `kms:Decrypt` by the key policy (SNS Developer Guide, sns-key-management; SQS Developer Guide,
/// sqs-key-management); an AWS managed key (`alias/aws/sns`, `alias/aws/sqs`) never allows them,
/// since its policy cannot be changed. An alarm's failure shows only at run time ("CloudWatch
/// Alarms does not have authorization to access the SNS topic encryption key"), which is why it is
/// judged before the deploy. The encryption context SNS and SQS send (`aws:sns:topicArn`,
/// `aws:sqs:arn`) is unverified in AWS's documentation: a condition on it is `unknown`, as is one
/// on `aws:SourceArn` or `aws:SourceAccount`.
fn publishers(template: &Template, resolver: &Resolver<'_>, out: &mut Inferred) {
    // (publisher id, property, target id, service)
    let mut wired: Vec<(String, String, String, &'static str)> = Vec::new();
    for (id, r) in &template.resources {
        if r.condition.as_deref().is_some_and(|c| resolver.condition(c) == Ok(false)) {
            continue;
        }
        let p = &r.properties;
        let mut add = |property: String, v: &Value, service: &'static str| {
            if let Some(target) = named_resource(v) {
                wired.push((id.clone(), property, target.to_owned(), service));
            }
        };
        match r.kind.as_str() {
            "AWS::CloudWatch::Alarm" => {
                for list in ["AlarmActions", "OKActions", "InsufficientDataActions"] {
                    if let Some(Value::Array(actions)) = p.get(list) {
                        for (i, a) in actions.iter().enumerate() {
                            add(format!("Properties.{list}[{i}]"), a, "cloudwatch.amazonaws.com");
                        }
                    }
                }
            }
            "AWS::Events::Rule" => {
                if let Some(Value::Array(targets)) = p.get("Targets") {
                    for (i, t) in targets.iter().enumerate() {
                        if let Some(arn) = t.get("Arn") {
                            add(format!("Properties.Targets[{i}].Arn"), arn, "events.amazonaws.com");
                        }
                    }
                }
            }
            "AWS::S3::Bucket" | "Custom::S3BucketNotifications" => {
                let Some(config) = p.get("NotificationConfiguration") else { continue };
                for (list, field) in [
                    ("QueueConfigurations", "Queue"),
                    ("QueueConfigurations", "QueueArn"),
                    ("TopicConfigurations", "Topic"),
                    ("TopicConfigurations", "TopicArn"),
                ] {
                    if let Some(Value::Array(items)) = config.get(list) {
                        for (i, item) in items.iter().enumerate() {
                            if let Some(v) = item.get(field) {
                                let property = format!("Properties.NotificationConfiguration.{list}[{i}].{field}");
                                add(property, v, "s3.amazonaws.com");
                            }
                        }
                    }
                }
            }
            "AWS::SNS::Subscription" => {
                let protocol = p.get("Protocol").map(|v| resolver.value(v));
                if let (Some(Ok(Value::String(protocol))), Some(endpoint)) = (protocol, p.get("Endpoint"))
                    && protocol == "sqs"
                {
                    add("Properties.Endpoint".into(), endpoint, "sns.amazonaws.com");
                }
            }
            "AWS::SNS::Topic" => {
                if let Some(Value::Array(subs)) = p.get("Subscription") {
                    for (i, sub) in subs.iter().enumerate() {
                        let protocol = sub.get("Protocol").and_then(|v| resolver.value(v).ok());
                        if let (Some(Value::String(protocol)), Some(endpoint)) = (protocol, sub.get("Endpoint"))
                            && protocol == "sqs"
                        {
                            add(format!("Properties.Subscription[{i}].Endpoint"), endpoint, "sns.amazonaws.com");
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (publisher, property, target, service) in wired {
        let Some(r) = template.resource(&target) else { continue };
        let context_key = match r.kind.as_str() {
            "AWS::SNS::Topic" => "kms:EncryptionContext:aws:sns:topicArn",
            "AWS::SQS::Queue" => "kms:EncryptionContext:aws:sqs:arn",
            _ => continue,
        };
        let Some(key) = r.properties.get("KmsMasterKeyId") else { continue };
        let source = Source { logical_id: publisher.clone(), property };
        let subject = format!("the key of {target}");
        let key = match key_named(key, &target, template, resolver, &out.planned_keys) {
            Ok(KeyNamed::Planned(k) | KeyNamed::Existing(k)) => k,
            Err(why) => {
                out.gaps.push(Gap::unjudged(CheckKind::Key, subject, source, why));
                continue;
            }
        };
        let what = if r.kind == "AWS::SNS::Topic" { "topic" } else { "queue" };
        let why = format!(
            "{publisher} publishes to the {what} {target}, encrypted with this key, as the service principal {service}; only the key policy can allow it"
        );
        let unknown = std::iter::once(context_key.to_owned()).collect();
        service_key_use(out, key, service.to_owned(), BTreeMap::new(), unknown, source, why);
    }
}

/// A key an identity uses through a service when CloudFormation creates a resource: who, which
/// calls, through which service, and what the calls carry that is not known before the deploy.
struct KeyUse<'a> {
    resource: &'a str,
    property: String,
    key: &'a Value,
    principal: PrincipalArn,
    actions: &'static [&'static str],
    via: Option<String>,
    /// Condition keys the calls carry with values not known before the deploy.
    unknown: Vec<&'static str>,
    /// CreateGrant is for an AWS resource (`kms:GrantIsForAWSResource`: "true when an AWS service
    /// integrated with AWS KMS calls CreateGrant on the user's behalf", KMS Developer Guide,
    /// condition keys).
    for_aws_resources: bool,
    why: String,
}

/// Adds the key requirement of `u` (and its inference), or the gap when its key cannot be named.
fn key_use(u: KeyUse<'_>, template: &Template, resolver: &Resolver<'_>, out: &mut Inferred) {
    key_use_with_context(u, BTreeMap::new(), template, resolver, out);
}

/// As [`key_use`], the calls carrying the encryption context `context`.
fn key_use_with_context(
    u: KeyUse<'_>,
    context: BTreeMap<String, String>,
    template: &Template,
    resolver: &Resolver<'_>,
    out: &mut Inferred,
) {
    let source = Source { logical_id: u.resource.to_owned(), property: u.property };
    let key = match key_named(u.key, u.resource, template, resolver, &out.planned_keys) {
        Ok(KeyNamed::Planned(k) | KeyNamed::Existing(k)) => k,
        Err(why) => {
            out.gaps.push(Gap::unjudged(CheckKind::Key, format!("the key of {}", u.resource), source, why));
            return;
        }
    };
    let requirement_via = u.via.clone();
    let requirement = KeyRequirement {
        key: key.clone(),
        principals: vec![u.principal.clone()],
        services: vec![],
        actions: u.actions.iter().map(|a| (*a).to_owned()).collect(),
        via_service: u.via,
        encryption_context: context,
        unknown_context: u.unknown.iter().map(|k| (*k).to_owned()).collect(),
        for_aws_resources: u.for_aws_resources,
        shared_with_accounts: vec![],
    };
    if !out.spec.keys.contains(&requirement) {
        out.spec.keys.push(requirement);
    }
    out.inferences.push(Inference {
        check: CheckKind::Key,
        subject: key.to_string(),
        source,
        reader: Some(u.principal.to_string()),
        via: Some(requirement_via),
        why: u.why,
    });
}

/// Keys AWS services use for a resource the stack creates, as the identity that creates it (the
/// stack's execution identity) or as a service-linked role (docs/stack-model.md):
/// - `AWS::Lambda::Function.KmsKeyArn`: at create time Lambda creates a grant on the key with the
///   creator's permissions, which needs kms:CreateGrant and kms:Encrypt (Lambda Developer Guide,
///   configuration-envvars). The service it calls through (`lambda.REGION`) and the encryption
///   context are unverified: a condition on `kms:ViaService` or the context is `unknown`. The
///   function's role decrypting at invoke time, through that grant, is not judged (unverified).
/// - `AWS::EC2::Volume.KmsKeyId` and `AWS::EC2::Instance.BlockDeviceMappings[].Ebs.KmsKeyId`: the
///   creator through `ec2.REGION`, kms:CreateGrant for AWS resources, kms:Decrypt,
///   kms:DescribeKey, kms:GenerateDataKeyWithoutPlaintext (EC2 User Guide, EBSEncryption,
///   "Permissions"; KMS Developer Guide, services-ebs: the volume id `aws:ebs:id` as context, not
///   known before the deploy). Story 5.
/// - An Auto Scaling group whose launch template's volumes are under a key: the same calls, as the
///   group's service-linked role (`ServiceLinkedRoleARN`, by default
///   `aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`), whose IAM side is
///   fixed by AWS and covers no customer managed key, so the key policy must name it (EC2 Auto
///   Scaling User Guide, key-policy-requirements-EBS-encryption; failing launches show
///   `Client.InternalError`). Its service is inferred, so `kms:ViaService` is `unknown`.
/// - `AWS::RDS::DBInstance` and `DBCluster` `KmsKeyId`: the creator through `rds.REGION`,
///   kms:CreateGrant for AWS resources and kms:DescribeKey (RDS User Guide,
///   Overview.Encryption.Keys; context `aws:rds:db-id` not known before). With
///   `ManageMasterUserPassword`, `MasterUserSecret.KmsKeyId` is used through Secrets Manager:
///   kms:Decrypt, kms:GenerateDataKey, kms:CreateGrant (RDS User Guide, rds-secrets-manager). A
///   restore from another account's snapshot is named as not judged.
#[allow(clippy::too_many_arguments)]
fn service_keys(
    id: &str,
    kind: &str,
    p: &Value,
    template: &Template,
    resolver: &Resolver<'_>,
    env: &StackEnv,
    execution: Option<&Execution>,
    out: &mut Inferred,
) {
    // Without the region the service's name is not known: `kms:ViaService` is then unknown.
    let via = |service: &str| env.region.as_deref().map(|region| format!("{service}.{region}.amazonaws.com"));
    // The keys this resource uses as its creator.
    let mut uses: Vec<CreatorUse<'_>> = Vec::new();
    const EBS: &[&str] = &["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext"];
    const EBS_ID: &[&str] = &["kms:EncryptionContext:aws:ebs:id"];
    match kind {
        "AWS::Lambda::Function" => {
            if let Some(key) = p.get("KmsKeyArn") {
                uses.push(CreatorUse(
                    "Properties.KmsKeyArn".into(),
                    key,
                    &["kms:CreateGrant", "kms:Encrypt"],
                    None,
                    &["kms:ViaService", "kms:EncryptionContextKeys", "kms:EncryptionContext:aws:lambda:FunctionArn"],
                    true,
                    format!("Lambda creates a grant on this key for function {id}'s environment variables with the permissions of the identity that creates it"),
                ));
            }
        }
        "AWS::EC2::Volume" => {
            if let Some(key) = p.get("KmsKeyId") {
                let why =
                    format!("EBS encrypts volume {id} with this key for the identity that creates it, through EC2");
                uses.push(CreatorUse("Properties.KmsKeyId".into(), key, EBS, via("ec2"), EBS_ID, true, why));
            }
        }
        "AWS::EC2::Instance" => {
            if let Some(Value::Array(mappings)) = p.get("BlockDeviceMappings") {
                for (i, m) in mappings.iter().enumerate() {
                    if let Some(key) = m.get("Ebs").and_then(|e| e.get("KmsKeyId")) {
                        let why = format!(
                            "EBS encrypts a volume of instance {id} with this key for the identity that launches it, through EC2"
                        );
                        uses.push(CreatorUse(
                            format!("Properties.BlockDeviceMappings[{i}].Ebs.KmsKeyId"),
                            key,
                            EBS,
                            via("ec2"),
                            EBS_ID,
                            true,
                            why,
                        ));
                    }
                }
            }
        }
        "AWS::RDS::DBInstance" | "AWS::RDS::DBCluster" => {
            if let Some(key) = p.get("KmsKeyId") {
                let why =
                    format!("RDS encrypts {id}'s storage with this key for the identity that creates it, through RDS");
                uses.push(CreatorUse(
                    "Properties.KmsKeyId".into(),
                    key,
                    &["kms:CreateGrant", "kms:DescribeKey"],
                    via("rds"),
                    &["kms:EncryptionContext:aws:rds:db-id"],
                    true,
                    why,
                ));
            }
            let managed = p.get("ManageMasterUserPassword").map(|v| resolver.value(v));
            if matches!(managed, Some(Ok(Value::Bool(true))))
                || matches!(&managed, Some(Ok(Value::String(s))) if s == "true")
            {
                if let Some(key) = p.get("MasterUserSecret").and_then(|s| s.get("KmsKeyId")) {
                    let why = format!(
                        "RDS keeps {id}'s master password in a Secrets Manager secret under this key, for the identity that creates it"
                    );
                    uses.push(CreatorUse(
                        "Properties.MasterUserSecret.KmsKeyId".into(),
                        key,
                        &["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"],
                        via("secretsmanager"),
                        &["kms:EncryptionContext:SecretARN", "kms:EncryptionContext:SecretVersionId"],
                        true,
                        why,
                    ));
                }
            }
            for field in ["SnapshotIdentifier", "DBSnapshotIdentifier", "DBClusterSnapshotIdentifier"] {
                if let Some(Ok(Value::String(snapshot))) = p.get(field).map(|v| resolver.value(v)) {
                    let owner = snapshot.split(':').nth(4).unwrap_or("");
                    if snapshot.starts_with("arn:") && env.account.as_deref().is_some_and(|a| a != owner) {
                        let source = Source { logical_id: id.to_owned(), property: format!("Properties.{field}") };
                        let why = Unjudged::ForeignSnapshot { resource: id.to_owned(), snapshot: snapshot.clone() };
                        out.gaps.push(Gap::unjudged(CheckKind::Key, format!("snapshot {snapshot}"), source, why));
                    }
                }
            }
        }
        "AWS::AutoScaling::AutoScalingGroup" => {
            auto_scaling_keys(id, p, template, resolver, env, out);
            return;
        }
        _ => return,
    }
    for CreatorUse(property, key, actions, via, unknown, for_aws_resources, why) in uses {
        let Some(e) = execution else {
            let source = Source { logical_id: id.to_owned(), property };
            let why = Unjudged::CreatorUnknown { resource: id.to_owned() };
            out.gaps.push(Gap::unjudged(CheckKind::Key, format!("the key of {id}"), source, why));
            continue;
        };
        let why = format!("{why}: {} ({})", e.principal, e.basis);
        let principal = e.principal.clone();
        let mut unknown = unknown.to_vec();
        if via.is_none() && !unknown.contains(&"kms:ViaService") {
            unknown.push("kms:ViaService");
        }
        let u = KeyUse { resource: id, property, key, principal, actions, via, unknown, for_aws_resources, why };
        key_use(u, template, resolver, out);
    }
}

/// A key a resource uses as its creator: the property, the key, the actions, the service the
/// calls go through, the condition keys not known before the deploy, whether CreateGrant is for
/// an AWS resource, and why.
struct CreatorUse<'v>(
    String,
    &'v Value,
    &'static [&'static str],
    Option<String>,
    &'static [&'static str],
    bool,
    String,
);

/// An Auto Scaling group's launch template (`LaunchTemplate`, or the mixed instances policy's)
/// when the stack creates it: its volumes' keys, used by the group's service-linked role.
fn auto_scaling_keys(
    id: &str,
    p: &Value,
    template: &Template,
    resolver: &Resolver<'_>,
    env: &StackEnv,
    out: &mut Inferred,
) {
    let spec = p.get("LaunchTemplate").or_else(|| {
        p.get("MixedInstancesPolicy").and_then(|m| m.get("LaunchTemplate")?.get("LaunchTemplateSpecification"))
    });
    let Some(lt_id) = spec.and_then(|s| s.get("LaunchTemplateId")).and_then(named_resource) else { return };
    let Some(lt) = template.resource(lt_id).filter(|r| r.kind == "AWS::EC2::LaunchTemplate") else { return };
    let Some(Value::Array(mappings)) =
        lt.properties.get("LaunchTemplateData").and_then(|d| d.get("BlockDeviceMappings"))
    else {
        return;
    };
    let (Some(account), Some(partition)) = (env.account.as_deref(), env.partition.as_deref()) else { return };
    let default = format!(
        "arn:{partition}:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    );
    let role = match p.get("ServiceLinkedRoleARN").map(|v| resolver.value(v)) {
        Some(Ok(Value::String(arn))) => arn,
        _ => default,
    };
    let Ok(principal) = PrincipalArn::parse(&role) else { return };
    // Its IAM side is AWS's and covers no customer managed key: judged with no policy of its own.
    if let crate::arn::PrincipalKind::Role { .. } = principal.kind()
        && !out.planned.iter().any(|r| r.arn == principal)
    {
        out.planned.push(planned::PlannedRole {
            logical_id: format!("{id} (service-linked role)"),
            arn: principal.clone(),
            inline: vec![],
            managed: vec![],
            boundary: None,
            generated_name: false,
        });
    }
    for (i, m) in mappings.iter().enumerate() {
        let Some(key) = m.get("Ebs").and_then(|e| e.get("KmsKeyId")) else { continue };
        let u = KeyUse {
            resource: lt_id,
            property: format!("Properties.LaunchTemplateData.BlockDeviceMappings[{i}].Ebs.KmsKeyId"),
            key,
            principal: principal.clone(),
            actions: &["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext"],
            via: None,
            unknown: vec!["kms:ViaService", "kms:EncryptionContext:aws:ebs:id"],
            for_aws_resources: true,
            why: format!(
                "Auto Scaling group {id} launches instances whose volumes use this key as its service-linked role {principal}, which only the key policy can allow (its own policy is AWS's)"
            ),
        };
        key_use(u, template, resolver, out);
    }
}

/// Whether `v` (a policy's Resource, raw) names the resource `id` (`Fn::GetAtt ID.Arn`, `Ref ID`,
/// or either inside a `Fn::Join` or `Fn::Sub`).
fn mentions(v: &Value, id: &str) -> bool {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(p)) = m.get("Fn::GetAtt")
                && p.first().and_then(Value::as_str) == Some(id)
            {
                return true;
            }
            if m.get("Ref").and_then(Value::as_str) == Some(id) {
                return true;
            }
            if let Some(Value::String(sub)) = m.get("Fn::Sub")
                && (sub.contains(&format!("${{{id}}}")) || sub.contains(&format!("${{{id}.")))
            {
                return true;
            }
            m.values().any(|x| mentions(x, id))
        }
        Value::Array(items) => items.iter().any(|x| mentions(x, id)),
        _ => false,
    }
}

/// Whether any of `actions` (as a policy writes them, with wildcards) covers `action`.
fn covers(actions: &Value, action: &str) -> bool {
    let list: Vec<&str> = match actions {
        Value::String(a) => vec![a.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    list.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        let action = action.to_ascii_lowercase();
        match pattern.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => pattern == action,
        }
    })
}

/// S3 buckets with SSE-KMS (`BucketEncryption...ServerSideEncryptionByDefault.KMSMasterKeyID`)
/// and the roles of the stack whose policies let them write or read its objects: through S3, a
/// writer needs kms:GenerateDataKey (and kms:Decrypt for multipart uploads, which `aws s3 sync` in
/// CDK's BucketDeployment makes), a reader kms:Decrypt, with the object's ARN as `aws:s3:arn`, or
/// the bucket's with S3 Bucket Keys (S3 User Guide, UsingKMSEncryption, bucket-key;
/// docs/stack-model.md). A bucket whose name CloudFormation generates leaves that ARN unknown.
/// A CDK `BucketDeployment`'s handler also reads the CDK assets bucket: it is one of the bootstrap
/// check's readers (aws/aws-cdk#25100: its role gets no kms:Decrypt on a customer managed
/// bootstrap key).
fn bucket_users(template: &Template, resolver: &Resolver<'_>, env: &StackEnv, out: &mut Inferred) {
    for (_, r) in &template.resources {
        if r.kind == "Custom::CDKBucketDeployment"
            && let Ok((role, _)) = function_role(r.properties.get("ServiceToken"), template, resolver, &out.planned)
            && !out.bootstrap_readers.contains(&role)
        {
            out.bootstrap_readers.push(role);
        }
    }
    let Some(region) = env.region.as_deref() else { return };
    for (bucket, r) in &template.resources {
        if r.kind != "AWS::S3::Bucket" {
            continue;
        }
        let Some(Value::Array(rules)) =
            r.properties.get("BucketEncryption").and_then(|e| e.get("ServerSideEncryptionConfiguration"))
        else {
            continue;
        };
        for rule in rules {
            let by_default = rule.get("ServerSideEncryptionByDefault");
            let algorithm = by_default.and_then(|d| d.get("SSEAlgorithm")).and_then(|a| resolver.value(a).ok());
            if !matches!(algorithm.as_ref().and_then(Value::as_str), Some("aws:kms" | "aws:kms:dsse")) {
                continue;
            }
            // Without a key, S3 uses aws/s3, which every principal of the account may use through S3.
            let Some(key) = by_default.and_then(|d| d.get("KMSMasterKeyID")) else { continue };
            let bucket_key = matches!(
                rule.get("BucketKeyEnabled").map(|v| resolver.value(v)),
                Some(Ok(Value::Bool(true)))
            ) || matches!(rule.get("BucketKeyEnabled").map(|v| resolver.value(v)), Some(Ok(Value::String(ref s))) if s == "true");
            let name = r.properties.get("BucketName").map(|n| resolver.value(n));
            let (context, unknown): (BTreeMap<String, String>, Vec<&'static str>) = match (&name, bucket_key) {
                (Some(Ok(Value::String(name))), true) => {
                    let partition = env.partition.as_deref().unwrap_or("aws");
                    (BTreeMap::from([("aws:s3:arn".to_owned(), format!("arn:{partition}:s3:::{name}"))]), vec![])
                }
                _ => (BTreeMap::new(), vec!["kms:EncryptionContext:aws:s3:arn"]),
            };
            for (policy_id, statement_path, statement, roles) in statements(template) {
                if statement.get("Effect").and_then(Value::as_str) != Some("Allow")
                    || !statement.get("Resource").is_some_and(|res| mentions(res, bucket))
                {
                    continue;
                }
                let actions = statement.get("Action").cloned().unwrap_or(Value::Null);
                let writes = covers(&actions, "s3:PutObject");
                let reads = covers(&actions, "s3:GetObject");
                let what: &'static [&'static str] = match (writes, reads) {
                    (true, _) => &["kms:GenerateDataKey", "kms:Decrypt"],
                    (false, true) => &["kms:Decrypt"],
                    _ => continue,
                };
                for role_id in roles {
                    let Some(role) = out.planned.iter().find(|p| p.logical_id == role_id).map(|p| p.arn.clone()) else {
                        continue;
                    };
                    let why = format!(
                        "{role_id} may {} objects of bucket {bucket}, which S3 encrypts with this key for it",
                        if writes { "write" } else { "read" }
                    );
                    let u = KeyUse {
                        resource: &policy_id,
                        property: statement_path.clone(),
                        key,
                        principal: role,
                        actions: what,
                        via: Some(format!("s3.{region}.amazonaws.com")),
                        unknown: unknown.clone(),
                        for_aws_resources: false,
                        why,
                    };
                    key_use_with_context(u, context.clone(), template, resolver, out);
                }
            }
        }
    }
}

/// Every statement of the identity policies the template gives its roles: (the resource that
/// holds it, its property path, the statement, the roles it applies to).
fn statements(template: &Template) -> Vec<(String, String, &Value, Vec<String>)> {
    let mut out = Vec::new();
    fn list(doc: Option<&Value>) -> Vec<(usize, &Value)> {
        match doc.and_then(|d| d.get("Statement")) {
            Some(Value::Array(items)) => items.iter().enumerate().collect(),
            Some(one) => vec![(0, one)],
            None => vec![],
        }
    }
    let refs = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(items)) => {
                items.iter().filter_map(|x| x.get("Ref")?.as_str().map(str::to_owned)).collect()
            }
            Some(x) => x.get("Ref").and_then(Value::as_str).map(|s| vec![s.to_owned()]).unwrap_or_default(),
            None => vec![],
        }
    };
    for (id, r) in &template.resources {
        let p = &r.properties;
        match r.kind.as_str() {
            "AWS::IAM::Role" => {
                if let Some(Value::Array(policies)) = p.get("Policies") {
                    for (n, pol) in policies.iter().enumerate() {
                        for (i, st) in list(pol.get("PolicyDocument")) {
                            out.push((
                                id.clone(),
                                format!("Properties.Policies[{n}].PolicyDocument.Statement[{i}]"),
                                st,
                                vec![id.clone()],
                            ));
                        }
                    }
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::RolePolicy" => {
                let roles =
                    if r.kind == "AWS::IAM::RolePolicy" { refs(p.get("RoleName")) } else { refs(p.get("Roles")) };
                for (i, st) in list(p.get("PolicyDocument")) {
                    out.push((id.clone(), format!("Properties.PolicyDocument.Statement[{i}]"), st, roles.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// A CDK `AwsCustomResource` (aws-cdk-lib `custom-resources`): its `Create`/`Update` properties are
/// the SDK call as JSON (`{"service":"SSM","action":"getParameter","parameters":{...}}`), made by
/// its Lambda function with that function's role. GetParameter(s) WithDecryption decrypts through
/// SSM as that role (docs/aws-facts.md 3; story 2 of docs/stories.md).
fn custom_resource_reads(
    id: &str,
    properties: &Value,
    template: &Template,
    resolver: &Resolver<'_>,
    out: &mut Inferred,
) {
    let mut calls = Vec::new();
    for key in ["Create", "Update"] {
        let Some(v) = properties.get(key) else { continue };
        let call = match resolver.value(v) {
            Ok(Value::String(s)) => serde_json::from_str::<Value>(&s).ok(),
            _ => None,
        };
        if let Some(call) = call {
            calls.push((key, call));
        }
    }
    for (key, call) in calls {
        let service = call.get("service").and_then(Value::as_str).unwrap_or_default();
        let action = call.get("action").and_then(Value::as_str).unwrap_or_default();
        let action = action.trim_end_matches("Command").to_ascii_lowercase();
        let params = call.get("parameters").cloned().unwrap_or(Value::Null);
        let decrypts = matches!(params.get("WithDecryption"), Some(Value::Bool(true)))
            || params.get("WithDecryption").and_then(Value::as_str) == Some("true");
        // AwsCustomResource names the service as the v2 SDK did (`SecretsManager`) or as the v3
        // package (`@aws-sdk/client-secrets-manager`).
        let service_key: String = service.to_ascii_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
        if service_key.ends_with("secretsmanager") && action == "getsecretvalue" {
            if let Some(secret) = params.get("SecretId").and_then(Value::as_str) {
                let source = Source { logical_id: id.to_owned(), property: format!("Properties.{key}") };
                match function_role(properties.get("ServiceToken"), template, resolver, &out.planned) {
                    Ok((role, how)) => {
                        let reader = Some(role.to_string());
                        add_secret(out, secret, vec![role]);
                        out.inferences.push(Inference {
                            check: CheckKind::Secret,
                            subject: secret.to_owned(),
                            source,
                            reader,
                            via: None,
                            why: format!("the custom resource {id} calls secretsmanager:GetSecretValue as its function's role, {how}"),
                        });
                    }
                    Err(why) => {
                        let why = Unjudged::CustomResourceRoleUnknown { resource: id.to_owned(), why };
                        out.gaps.push(Gap::unjudged(CheckKind::Secret, secret, source, why));
                    }
                }
            }
            continue;
        }
        if !service.eq_ignore_ascii_case("ssm") || !(action == "getparameter" || action == "getparameters") || !decrypts
        {
            continue;
        }
        let names: Vec<String> = match (params.get("Name"), params.get("Names")) {
            (Some(Value::String(n)), _) => vec![n.clone()],
            (_, Some(Value::Array(ns))) => ns.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect(),
            _ => vec![],
        };
        let source = Source { logical_id: id.to_owned(), property: format!("Properties.{key}") };
        let reader = function_role(properties.get("ServiceToken"), template, resolver, &out.planned);
        for name in names {
            match &reader {
                Ok((role, how)) => {
                    let readers = vec![role.clone()];
                    if out.spec.parameters.iter().any(|p| p.name == name && p.readers == readers) {
                        continue;
                    }
                    out.spec.parameters.push(Parameter { name: name.clone(), readers });
                    out.inferences.push(Inference {
                        check: CheckKind::Parameter,
                        subject: name,
                        source: source.clone(),
                        reader: Some(role.to_string()),
                        via: None,
                        why: format!("the custom resource {id} calls ssm:GetParameter WithDecryption as its function's role, {how}"),
                    });
                }
                Err(why) => {
                    let why = Unjudged::CustomResourceRoleUnknown { resource: id.to_owned(), why: why.clone() };
                    out.gaps.push(Gap::unjudged(CheckKind::Parameter, name, source.clone(), why));
                }
            }
        }
    }
}

/// An ECS task definition's secrets (`ContainerDefinitions[].Secrets[].ValueFrom`,
/// `LogConfiguration.SecretOptions[].ValueFrom`): the ECS agent reads each SSM parameter and
/// decrypts it as the task execution role (Amazon ECS Developer Guide, "Task execution IAM role",
/// secrets; aws/aws-cdk#4498: CDK grants the SSM read but not kms:Decrypt on a customer managed
/// key). The agent calls ssm:GetParameters; the parameter check judges ssm:GetParameter on the
/// same parameter ARN, which IAM policies grant alike in practice (CDK's grantRead gives both).
/// Secrets Manager references (and a private registry's `RepositoryCredentials`) are secret checks
/// for the same role: secretsmanager:GetSecretValue and kms:Decrypt through Secrets Manager.
fn task_secrets(id: &str, properties: &Value, resolver: &Resolver<'_>, out: &mut Inferred) {
    let role = execution_role(properties.get("ExecutionRoleArn"), resolver, &out.planned);
    let mut refs: Vec<(String, Value)> = Vec::new();
    if let Some(Value::Array(containers)) = properties.get("ContainerDefinitions") {
        for (c, container) in containers.iter().enumerate() {
            if let Some(Value::Array(secrets)) = container.get("Secrets") {
                for (s, secret) in secrets.iter().enumerate() {
                    if let Some(v) = secret.get("ValueFrom") {
                        refs.push((format!("Properties.ContainerDefinitions[{c}].Secrets[{s}].ValueFrom"), v.clone()));
                    }
                }
            }
            if let Some(v) = container.pointer("/RepositoryCredentials/CredentialsParameter") {
                refs.push((
                    format!("Properties.ContainerDefinitions[{c}].RepositoryCredentials.CredentialsParameter"),
                    v.clone(),
                ));
            }
            if let Some(Value::Array(options)) = container.pointer("/LogConfiguration/SecretOptions") {
                for (s, secret) in options.iter().enumerate() {
                    if let Some(v) = secret.get("ValueFrom") {
                        refs.push((
                            format!(
                                "Properties.ContainerDefinitions[{c}].LogConfiguration.SecretOptions[{s}].ValueFrom"
                            ),
                            v.clone(),
                        ));
                    }
                }
            }
        }
    }
    for (property, value) in refs {
        let source = Source { logical_id: id.to_owned(), property };
        let text = match resolver.value(&value) {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(u) => {
                let why = Unjudged::TaskSecretUnresolved { task: id.to_owned(), expression: u.to_string() };
                out.gaps.push(Gap::unjudged(CheckKind::Parameter, id, source, why));
                continue;
            }
        };
        // `arn:aws:secretsmanager:R:A:secret:NAME-SUFFIX[:json-key:version-stage:version-id]`: the
        // first seven fields are the secret's ARN (ECS Developer Guide, "Pass Secrets Manager
        // secrets through Amazon ECS environment variables").
        let (check, subject) = match text.strip_prefix("arn:").map(|rest| rest.split(':').nth(1)) {
            Some(Some("secretsmanager")) => {
                (CheckKind::Secret, text.splitn(8, ':').take(7).collect::<Vec<_>>().join(":"))
            }
            // `arn:aws:ssm:R:A:parameter/NAME` (a hierarchical NAME keeps its leading slash).
            Some(Some("ssm")) => {
                let res = text.splitn(6, ':').nth(5).unwrap_or_default();
                let name = match res.strip_prefix("parameter") {
                    Some(n) if n.matches('/').count() > 1 => n.to_owned(),
                    Some(n) => n.trim_start_matches('/').to_owned(),
                    None => text.clone(),
                };
                (CheckKind::Parameter, name)
            }
            Some(_) => {
                let why = Unjudged::TaskSecretUnresolved {
                    task: id.to_owned(),
                    expression: format!("`{text}` is neither an SSM parameter nor a Secrets Manager secret ARN"),
                };
                out.gaps.push(Gap::unjudged(CheckKind::Parameter, text.clone(), source, why));
                continue;
            }
            // A bare name is an SSM parameter of the task's region.
            None => (CheckKind::Parameter, text.clone()),
        };
        match &role {
            Ok((principal, how)) => {
                let readers = vec![principal.clone()];
                if check == CheckKind::Secret {
                    add_secret(out, &subject, readers);
                } else if !out.spec.parameters.iter().any(|p| p.name == subject && p.readers == readers) {
                    out.spec.parameters.push(Parameter { name: subject.clone(), readers });
                }
                out.inferences.push(Inference {
                    check,
                    subject,
                    source,
                    reader: Some(principal.to_string()),
                    via: None,
                    why: format!("the ECS agent reads this secret for task {id} as its execution role, {how}"),
                });
            }
            Err(why) => {
                let why = Unjudged::TaskRoleUnknown { task: id.to_owned(), why: why.clone() };
                out.gaps.push(Gap::unjudged(check, subject, source, why));
            }
        }
    }
}

/// A role given as `Fn::GetAtt Role.Arn` of a role the stack creates, or as an ARN.
fn execution_role(
    v: Option<&Value>,
    resolver: &Resolver<'_>,
    planned: &[planned::PlannedRole],
) -> Result<(PrincipalArn, String), RoleUnknown> {
    let v = v.ok_or(RoleUnknown::NoExecutionRoleArn)?;
    let att = v.get("Fn::GetAtt").and_then(|a| match a {
        Value::Array(p) => p.first().and_then(Value::as_str).map(str::to_owned),
        Value::String(s) => s.split('.').next().map(str::to_owned),
        _ => None,
    });
    if let Some(role_id) = att {
        return planned
            .iter()
            .find(|p| p.logical_id == role_id)
            .map(|p| (p.arn.clone(), format!("{role_id}, which this stack creates")))
            .ok_or(RoleUnknown::CannotName { role: role_id });
    }
    match resolver.value(v) {
        Ok(Value::String(arn)) => existing_role(&arn),
        Ok(other) => Err(RoleUnknown::NotAString { value: other.to_string() }),
        Err(u) => Err(RoleUnknown::DependsOn { expression: u.to_string() }),
    }
}

/// The role a custom resource's function runs as: `ServiceToken` -> the function -> its `Role`,
/// a role the stack creates (named by its logical id) or an existing one (its ARN).
fn function_role(
    token: Option<&Value>,
    template: &Template,
    resolver: &Resolver<'_>,
    planned: &[planned::PlannedRole],
) -> Result<(PrincipalArn, String), RoleUnknown> {
    let target = |v: Option<&Value>| -> Option<String> {
        let att = v?.get("Fn::GetAtt")?;
        match att {
            Value::Array(p) => p.first()?.as_str().map(str::to_owned),
            Value::String(s) => s.split('.').next().map(str::to_owned),
            _ => None,
        }
    };
    let function = target(token).ok_or(RoleUnknown::TokenNotAFunction)?;
    let Some(f) = template.resource(&function) else { return Err(RoleUnknown::FunctionNotInTemplate { function }) };
    let role = f.properties.get("Role");
    if let Some(role_id) = target(role) {
        return planned
            .iter()
            .find(|p| p.logical_id == role_id)
            .map(|p| (p.arn.clone(), format!("{role_id}, which this stack creates")))
            .ok_or(RoleUnknown::CannotName { role: role_id });
    }
    match role.map(|r| resolver.value(r)) {
        Some(Ok(Value::String(arn))) => existing_role(&arn),
        Some(Err(u)) => Err(RoleUnknown::DependsOn { expression: u.to_string() }),
        _ => Err(RoleUnknown::FunctionWithoutRole { function }),
    }
}

/// An existing role given by its ARN.
fn existing_role(arn: &str) -> Result<(PrincipalArn, String), RoleUnknown> {
    PrincipalArn::parse(arn)
        .map(|p| (p, "an existing role".to_owned()))
        .map_err(|e| RoleUnknown::NotAnArn { error: e.to_string() })
}

/// Calls `f(path, text)` for every string in `v` that holds a dynamic reference (`{{resolve:`),
/// with its path (`Properties.A.B[0]`), written out only for those strings.
fn walk(v: &Value, root: &str, f: &mut dyn FnMut(&str, &str)) {
    walk_in(v, &mut Vec::new(), root, f);
}

/// A step of a path into a JSON value.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn walk_in<'a>(v: &'a Value, trail: &mut Vec<Step<'a>>, root: &str, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) if s.contains("{{resolve:") => {
            let mut path = root.to_owned();
            for step in trail.iter() {
                match step {
                    Step::Key(k) => {
                        path.push('.');
                        path.push_str(k);
                    }
                    Step::Index(i) => path.push_str(&format!("[{i}]")),
                }
            }
            f(&path, s);
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                trail.push(Step::Index(i));
                walk_in(x, trail, root, f);
                trail.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                trail.push(Step::Key(k));
                walk_in(x, trail, root, f);
                trail.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn execution() -> Execution {
        Execution {
            principal: PrincipalArn::parse(
                "arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1",
            )
            .unwrap(),
            basis: "--role-arn".into(),
        }
    }

    fn env() -> StackEnv {
        StackEnv {
            account: Some("111111111111".into()),
            region: Some("us-east-1".into()),
            partition: Some("aws".into()),
            ..StackEnv::default()
        }
    }

    /// A stack with a key and a log group encrypted by it: the key policy is `statements`, the
    /// log group named `name` (generated when `None`).
    fn logs_stack(statements: Value, name: Option<&str>) -> Template {
        let mut group = json!({"KmsKeyId": {"Fn::GetAtt": ["LogsKey", "Arn"]}, "RetentionInDays": 7});
        if let Some(name) = name {
            group["LogGroupName"] = json!(name);
        }
        Template::from_value(&json!({"Resources": {
            "LogsKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Version": "2012-10-17", "Statement": statements}}},
            "Audit": {"Type": "AWS::Logs::LogGroup", "Properties": group}}}))
        .unwrap()
    }

    /// The findings of the stack's key checks, judged against its planned keys only.
    fn judge_keys(t: &Template) -> Vec<Finding> {
        let env = StackEnv { stack_name: Some("App".into()), ..env() };
        let out = infer(t, &env, Some(&execution()));
        let facts =
            crate::facts::Facts::builder("111111111111", "us-east-1").build().with_planned_keys(&out.planned_keys);
        let mut findings = crate::checks::judge(&out.spec, &facts);
        findings.retain(|f| f.check == CheckKind::Key);
        out.annotate(&mut findings);
        findings
    }

    #[test]
    fn a_log_group_key_must_allow_the_regional_logs_service_for_the_group_arn() {
        let root = json!({"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
            "Action": "kms:*", "Resource": "*"});
        let logs = |condition: Value| {
            json!({"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*", "Condition": condition})
        };
        // Broken (aws/aws-cdk#28304): the root statement does not reach a service principal.
        let broken = judge_keys(&logs_stack(json!([root]), Some("/app/audit")));
        assert_eq!(broken.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail, Status::Fail], "{broken:#?}");
        let f = &broken[0];
        assert_eq!(f.principal.as_deref(), Some("logs.us-east-1.amazonaws.com"));
        assert_eq!(f.stack.as_deref(), Some("App"));
        assert_eq!(f.source.as_ref().map(|s| s.logical_id.as_str()), Some("Audit"));
        assert!(
            f.message.starts_with(
                "the service principal `logs.us-east-1.amazonaws.com` cannot call kms:GenerateDataKey with key `App/LogsKey` (customer managed key created by this stack)"
            ),
            "{}",
            f.message
        );
        let report = crate::report::Report::new(broken, crate::spec::OnUnknown::Warn);
        let causes = report.causes();
        assert_eq!(causes.len(), 1, "one statement fixes both calls: {causes:#?}");
        let Some(crate::report::Change::KeyPolicyStatement { statement, .. }) = &causes[0].change else {
            panic!("no change: {causes:#?}")
        };
        assert_eq!(
            *statement,
            json!({"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111111111111:log-group:/app/audit"}}})
        );
        // Fixed as AWS documents it, for the group or for the account.
        let arn = "arn:aws:logs:us-east-1:111111111111:log-group:/app/audit";
        for condition in [
            json!({"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arn}}),
            json!({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111111111111:*"}}),
        ] {
            let fixed = judge_keys(&logs_stack(json!([root, logs(condition)]), Some("/app/audit")));
            assert!(fixed.iter().all(|f| f.status == Status::Pass), "{fixed:#?}");
        }
        // Another group's ARN, or another region's service principal: still failing.
        let other = logs(
            json!({"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111111111111:log-group:/other"}}),
        );
        assert!(
            judge_keys(&logs_stack(json!([root, other]), Some("/app/audit"))).iter().all(|f| f.status == Status::Fail)
        );
        let mut west = logs(json!({}));
        west["Principal"]["Service"] = json!("logs.eu-west-1.amazonaws.com");
        west.as_object_mut().unwrap().remove("Condition");
        assert!(
            judge_keys(&logs_stack(json!([root, west]), Some("/app/audit"))).iter().all(|f| f.status == Status::Fail)
        );
        // A generated name: a condition on the ARN cannot be judged, none needs no name, and no
        // statement at all still fails.
        let like =
            logs(json!({"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:111111111111:*"}}));
        let unknown = judge_keys(&logs_stack(json!([root, like]), None));
        assert!(unknown.iter().all(|f| f.status == Status::Unknown), "{unknown:#?}");
        assert!(unknown[0].message.contains("kms:encryptioncontext:aws:logs:arn"), "{}", unknown[0].message);
        let mut open = logs(json!({}));
        open.as_object_mut().unwrap().remove("Condition");
        assert!(judge_keys(&logs_stack(json!([root, open]), None)).iter().all(|f| f.status == Status::Pass));
        assert!(judge_keys(&logs_stack(json!([root]), None)).iter().all(|f| f.status == Status::Fail));
    }

    #[test]
    fn services_publishing_to_an_encrypted_topic_or_queue_must_be_allowed_by_its_key_policy() {
        let root = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"});
        let allow = |service: &str, condition: Option<Value>| {
            let mut s = json!({"Effect": "Allow", "Principal": {"Service": service},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"});
            if let Some(c) = condition {
                s["Condition"] = c;
            }
            s
        };
        let stack = |topic_key: Value, queue_key: Value| {
            Template::from_value(&json!({"Resources": {
                "TopicKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": topic_key}}},
                "QueueKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": queue_key}}},
                "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["TopicKey", "Arn"]}}},
                "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": {"Ref": "QueueKey"}}},
                "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Topic"}]}},
                "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "Id": "q"}]}},
                "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": "sqs", "TopicArn": {"Ref": "Topic"},
                    "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}}},
                "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"NotificationConfiguration": {"TopicConfigurations": [
                    {"Event": "s3:ObjectCreated:*", "Topic": {"Ref": "Topic"}}]}}},
                "Plain": {"Type": "AWS::SNS::Topic", "Properties": {}},
                "Quiet": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmActions": [{"Ref": "Plain"}]}}}}))
            .unwrap()
        };
        let by_service = |findings: &[Finding]| {
            let mut v: Vec<(String, String, Status)> = findings
                .iter()
                .map(|f| (f.principal.clone().unwrap(), f.source.as_ref().unwrap().logical_id.clone(), f.status))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        // Nothing allowed but the account: every service publisher fails, the plain topic is
        // not asked about.
        let broken = judge_keys(&stack(json!([root]), json!([root])));
        assert_eq!(
            by_service(&broken),
            [
                ("cloudwatch.amazonaws.com".to_owned(), "Alarm".to_owned(), Status::Fail),
                ("events.amazonaws.com".to_owned(), "Rule".to_owned(), Status::Fail),
                ("s3.amazonaws.com".to_owned(), "Bucket".to_owned(), Status::Fail),
                ("sns.amazonaws.com".to_owned(), "Sub".to_owned(), Status::Fail),
            ]
        );
        assert_eq!(broken.len(), 8, "two calls each");
        // Allowed: all pass; conditioned on the source, unknown (not documented as sent).
        let topic_ok = json!([root, allow("cloudwatch.amazonaws.com", None), allow("s3.amazonaws.com", None)]);
        let queue_ok = json!([root, allow("events.amazonaws.com", None), allow("sns.amazonaws.com", None)]);
        let fixed = judge_keys(&stack(topic_ok, queue_ok.clone()));
        assert!(fixed.iter().all(|f| f.status == Status::Pass), "{fixed:#?}");
        let sourced = allow(
            "cloudwatch.amazonaws.com",
            Some(json!({"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["Alarm", "Arn"]}}})),
        );
        let out = judge_keys(&stack(json!([root, sourced, allow("s3.amazonaws.com", None)]), queue_ok));
        let alarm: Vec<&Finding> =
            out.iter().filter(|f| f.principal.as_deref() == Some("cloudwatch.amazonaws.com")).collect();
        assert!(alarm.iter().all(|f| f.status == Status::Unknown), "{alarm:#?}");
        assert!(alarm[0].message.contains("aws:sourcearn"), "{}", alarm[0].message);
        assert!(
            out.iter()
                .filter(|f| f.principal.as_deref() != Some("cloudwatch.amazonaws.com"))
                .all(|f| f.status == Status::Pass)
        );
    }

    /// The findings of the key checks of `resources` beside a key `K` whose policy is `statements`,
    /// judged with the execution role allowed `kms:*` by its own policy.
    fn judge_service_keys(resources: Value, statements: Value) -> Vec<Finding> {
        let mut all = json!({"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": statements}}}});
        all.as_object_mut().unwrap().extend(resources.as_object().unwrap().clone());
        let t = Template::from_value(&json!({"Resources": all})).unwrap();
        let env = StackEnv { stack_name: Some("App".into()), ..env() };
        let out = infer(&t, &env, Some(&execution()));
        let admin = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let facts = crate::facts::Facts::builder("111111111111", "us-east-1")
            .role("cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1", &[("admin", admin)])
            .build()
            .with_planned(&out.planned, &BTreeMap::new())
            .with_planned_keys(&out.planned_keys);
        let mut findings = crate::checks::judge(&out.spec, &facts);
        findings.retain(|f| f.check == CheckKind::Key);
        out.annotate(&mut findings);
        findings.extend(out.gap_findings());
        findings
    }

    #[test]
    fn services_using_a_key_for_what_the_stack_creates_are_judged_as_their_creator_or_role() {
        let root = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "kms:*", "Resource": "*"});
        let admin_only = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/key-admin"}, "Action": "kms:*", "Resource": "*"});
        let key = json!({"Fn::GetAtt": ["K", "Arn"]});
        let resources = json!({
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"KmsKeyArn": key}},
            "Vol": {"Type": "AWS::EC2::Volume", "Properties": {"Encrypted": true, "KmsKeyId": key, "AvailabilityZone": "us-east-1a"}},
            "Db": {"Type": "AWS::RDS::DBCluster", "Properties": {"StorageEncrypted": true, "KmsKeyId": key,
                "ManageMasterUserPassword": true, "MasterUserSecret": {"KmsKeyId": key},
                "SnapshotIdentifier": "arn:aws:rds:us-east-1:222222222222:cluster-snapshot:shared"}},
            "Lt": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {"BlockDeviceMappings": [
                {"DeviceName": "/dev/xvda", "Ebs": {"Encrypted": true, "KmsKeyId": key}}]}}},
            "Asg": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {"MinSize": "1", "MaxSize": "1",
                "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Lt"}, "Version": {"Fn::GetAtt": ["Lt", "LatestVersionNumber"]}}}}
        });
        let slr =
            "arn:aws:iam::111111111111:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";
        let exec = execution().principal.to_string();
        // A key delegating to the account: the execution role (allowed kms:* by IAM) passes, the
        // service-linked role (no policy of its own) does not; the foreign snapshot is unknown.
        let out = judge_service_keys(resources.clone(), json!([root]));
        let summary = |out: &[Finding]| {
            let mut v: Vec<(String, String, Status)> = out
                .iter()
                .map(|f| {
                    (f.principal.clone().unwrap_or_default(), f.source.as_ref().unwrap().logical_id.clone(), f.status)
                })
                .collect();
            v.sort();
            v.dedup();
            v
        };
        assert_eq!(
            summary(&out),
            [
                (String::new(), "Db".to_owned(), Status::Unknown),
                (slr.to_owned(), "Lt".to_owned(), Status::Fail),
                (exec.clone(), "Db".to_owned(), Status::Pass),
                (exec.clone(), "Fn".to_owned(), Status::Pass),
                (exec.clone(), "Vol".to_owned(), Status::Pass),
            ],
            "{out:#?}"
        );
        let grant = out
            .iter()
            .find(|f| f.principal.as_deref() == Some(slr) && f.access.as_ref().unwrap().action == "kms:CreateGrant")
            .unwrap();
        assert!(grant.message.contains("for AWS resources"), "{}", grant.message);
        let Some(crate::report::Change::KeyPolicyStatement { statement, .. }) = &grant.change else {
            panic!("{grant:#?}")
        };
        assert_eq!(statement["Principal"]["AWS"], slr);
        assert_eq!(statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"], "true");
        // The documented statements for the service-linked role (EC2 Auto Scaling User Guide): it passes.
        let asg = [
            json!({"Effect": "Allow", "Principal": {"AWS": slr}, "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}),
            json!({"Effect": "Allow", "Principal": {"AWS": slr}, "Action": "kms:CreateGrant", "Resource": "*", "Condition": {"Bool": {"kms:GrantIsForAWSResource": true}}}),
        ];
        let out = judge_service_keys(resources.clone(), json!([root, asg[0], asg[1]]));
        assert!(
            out.iter().filter(|f| f.principal.as_deref() == Some(slr)).all(|f| f.status == Status::Pass),
            "{out:#?}"
        );
        // A key that names only its administrator: every creator fails (story 5's shape).
        let out = judge_service_keys(resources, json!([admin_only]));
        assert!(
            out.iter().filter(|f| f.principal.as_deref() == Some(exec.as_str())).all(|f| f.status == Status::Fail),
            "{out:#?}"
        );
        // A condition on the service Lambda calls through (unverified) is unknown, never a pass.
        let via = json!({"Effect": "Allow", "Principal": {"AWS": exec}, "Action": "kms:*", "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "lambda.us-east-1.amazonaws.com"}}});
        let out = judge_service_keys(
            json!({"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"KmsKeyArn": key}}}),
            json!([via]),
        );
        assert!(out.iter().all(|f| f.status == Status::Unknown), "{out:#?}");
    }

    #[test]
    fn a_role_and_a_key_the_stack_creates_name_each_other_by_get_att_and_are_judged_together() {
        let stack = |key_statements: Value| {
            Template::from_value(&json!({"Resources": {
                "Worker": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyName": "use-key",
                    "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt",
                        "Resource": {"Fn::GetAtt": ["K", "Arn"]}}]}}]}},
                "K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": key_statements}}}}}))
            .unwrap()
        };
        let judge_worker = |t: &Template| {
            let env = StackEnv { stack_name: Some("App".into()), ..env() };
            let mut out = infer(t, &env, Some(&execution()));
            let worker = out.planned.iter().find(|r| r.logical_id == "Worker").unwrap().arn.clone();
            assert_eq!(worker.to_string(), "arn:aws:iam::111111111111:role/App-Worker");
            out.spec.keys.push(KeyRequirement {
                key: out.planned_keys[0].reference.clone(),
                principals: vec![worker],
                services: vec![],
                actions: vec!["kms:Decrypt".into()],
                via_service: None,
                encryption_context: BTreeMap::new(),
                unknown_context: Default::default(),
                for_aws_resources: false,
                shared_with_accounts: vec![],
            });
            let facts = crate::facts::Facts::builder("111111111111", "us-east-1")
                .build()
                .with_planned(&out.planned, &BTreeMap::new())
                .with_planned_keys(&out.planned_keys);
            let mut findings = crate::checks::judge(&out.spec, &facts);
            findings.retain(|f| f.check == CheckKind::Key);
            findings
        };
        // The key delegates to IAM, and the role's own policy names the key by Fn::GetAtt: allowed,
        // where the policy was unknown before the key's ARN could be named.
        let root = json!({"Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
            "Action": "kms:*", "Resource": "*"});
        let out = judge_worker(&stack(json!([root])));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass], "{out:#?}");
        // A key policy naming only an administrator: the statement to add names the role as the
        // template can, by Fn::GetAtt (its name is generated).
        let admin = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/key-admin"}, "Action": "kms:*", "Resource": "*"});
        let out = judge_worker(&stack(json!([admin])));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Fail], "{out:#?}");
        let Some(crate::report::Change::KeyPolicyStatement { statement, .. }) = &out[0].change else {
            panic!("{out:#?}")
        };
        assert_eq!(statement["Principal"], json!({"AWS": {"Fn::GetAtt": ["Worker", "Arn"]}}));
        // A key policy naming the role by Fn::GetAtt is judged too, as is its lockout lint.
        let named = json!({"Effect": "Allow", "Principal": {"AWS": {"Fn::GetAtt": ["Worker", "Arn"]}}, "Action": "kms:Decrypt", "Resource": "*"});
        let out = judge_worker(&stack(json!([admin, named])));
        assert_eq!(out.iter().map(|f| f.status).collect::<Vec<_>>(), [Status::Pass], "{out:#?}");
        let inferred = infer(
            &stack(json!([admin, named])),
            &StackEnv { stack_name: Some("App".into()), ..env() },
            Some(&execution()),
        );
        assert!(inferred.gaps.is_empty(), "the key policy resolves: {:#?}", inferred.gaps);
        assert_eq!(inferred.spec.key_policies.len(), 1);
    }

    #[test]
    fn an_alias_the_stack_creates_names_its_target_key() {
        let t = Template::from_value(&json!({"Resources": {
            "K": {"Type": "AWS::KMS::Key", "Properties": {}},
            "A": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/data", "TargetKeyId": {"Ref": "K"}}},
            "Vol": {"Type": "AWS::EC2::Volume", "Properties": {"KmsKeyId": "alias/data", "AvailabilityZone": "us-east-1a"}},
            "Other": {"Type": "AWS::EC2::Volume", "Properties": {"KmsKeyId": "arn:aws:kms:us-east-1:111111111111:alias/data", "AvailabilityZone": "us-east-1a"}}}}))
        .unwrap();
        let env = StackEnv { stack_name: Some("App".into()), ..env() };
        let out = infer(&t, &env, Some(&execution()));
        assert_eq!(out.spec.keys.len(), 1, "{:#?}", out.spec.keys);
        assert_eq!(out.spec.keys[0].key, KeyRef::Planned("App/K".into()));
        assert!(crate::plan::Plan::for_spec(&out.spec).keys.is_empty(), "never looked up in KMS");
    }

    #[test]
    fn a_log_group_key_that_is_not_the_stacks_is_read_or_named_as_unresolved() {
        let t = Template::from_value(&json!({"Resources": {
            "A": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"}},
            "B": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::ImportValue": "shared-key"}}}}}))
        .unwrap();
        let out = infer(&t, &env(), Some(&execution()));
        assert_eq!(out.spec.keys.len(), 1);
        assert_eq!(
            out.spec.keys[0].key.to_string(),
            "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        );
        assert!(out.spec.keys[0].unknown_context.contains("kms:EncryptionContext:aws:logs:arn"));
        assert_eq!(out.gaps.len(), 1);
        assert!(out.gaps[0].why.contains("Fn::ImportValue"), "{}", out.gaps[0].why);
        let plan = crate::plan::Plan::for_spec(&out.spec);
        assert_eq!(plan.keys.len(), 1, "an existing key is read");
        let planned = infer(&logs_stack(json!([]), Some("x")), &env(), Some(&execution()));
        assert!(crate::plan::Plan::for_spec(&planned.spec).keys.is_empty(), "a planned key is never looked up");
    }

    #[test]
    fn ssm_secure_names_with_and_without_versions() {
        assert_eq!(ssm_secure_names("{{resolve:ssm-secure:/app/db/password:3}}"), ["/app/db/password"]);
        assert_eq!(ssm_secure_names("x{{resolve:ssm-secure:pw}}y{{resolve:ssm-secure:a.b-c_d:12}}"), ["pw", "a.b-c_d"]);
        assert!(ssm_secure_names("{{resolve:ssm:/plain}} {{resolve:ssm-secure:}}").is_empty());
    }

    #[test]
    fn a_database_password_reference_becomes_a_parameter_check_for_the_execution_role() {
        let t = Template::from_value(&json!({"Resources": {"Db": {"Type": "AWS::RDS::DBCluster", "Properties": {
            "MasterUserPassword": {"Fn::Join": ["", ["{{resolve:ssm-secure:", "/app/db/password", ":1}}"]]},
            "MasterUsername": "{{resolve:ssm-secure:/app/db/user}}"}}}}))
        .unwrap();
        let out = infer(&t, &env(), Some(&execution()));
        let names: Vec<&str> = out.spec.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["/app/db/user", "/app/db/password"]);
        assert!(out.spec.parameters.iter().all(|p| p.readers == [execution().principal]));
        assert_eq!(
            out.inferences[1].source,
            Source { logical_id: "Db".into(), property: "Properties.MasterUserPassword".into() }
        );
        assert!(out.gaps.is_empty());
    }

    #[test]
    fn a_key_policy_is_linted_for_the_execution_role_or_is_a_gap_naming_what_is_unresolved() {
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}},
            "Action": "kms:*", "Resource": "*"}]});
        let t = Template::from_value(
            &json!({"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": policy}}}}),
        )
        .unwrap();
        let out = infer(&t, &env(), Some(&execution()));
        assert_eq!(out.spec.key_policies.len(), 1);
        assert_eq!(
            out.spec.key_policies[0].policy["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111111111111:root"
        );
        let unknown_account = StackEnv { account: None, ..env() };
        let out = infer(&t, &unknown_account, Some(&execution()));
        assert!(out.spec.key_policies.is_empty());
        assert_eq!(out.gaps.len(), 1);
        assert_eq!(
            out.gaps[0].why,
            "its KeyPolicy depends on `AWS::AccountId (not given)` cannot be resolved before the stack exists"
        );
        let out = infer(&t, &env(), None);
        assert_eq!(
            out.gaps[0].found,
            said::Said::NotChecked { subject: "KeyPolicies[0]".into(), why: Unjudged::KeyPolicyApplierUnknown }
        );
    }

    #[test]
    fn records_and_certificates_name_the_zone_they_write_to() {
        let t = Template::from_value(&json!({"Resources": {
            "Www": {"Type": "AWS::Route53::RecordSet", "Properties": {"HostedZoneId": "Z2", "Name": "www.example.com.", "Type": "A"}},
            "Cert": {"Type": "AWS::CertificateManager::Certificate", "Properties": {"DomainName": "example.com", "ValidationMethod": "DNS",
                "DomainValidationOptions": [{"DomainName": "example.com", "HostedZoneId": "Z2"}]}},
            "Other": {"Type": "AWS::Route53::RecordSet", "Properties": {"HostedZoneId": "/hostedzone/Z9", "Name": "x.other.com", "Type": "A"}},
            "ByName": {"Type": "AWS::Route53::RecordSet", "Properties": {"HostedZoneName": "named.com.", "Name": "y.named.com", "Type": "A"}}
        }}))
        .unwrap();
        let out = infer(&t, &env(), Some(&execution()));
        // Every zone written to is checked, each with its own record names.
        assert_eq!(
            out.spec.hosted_zones,
            [
                HostedZone { zone_id: "Z2".into(), record_names: vec!["www.example.com".into(), "example.com".into()] },
                HostedZone { zone_id: "Z9".into(), record_names: vec!["x.other.com".into()] },
            ]
        );
        let gaps: Vec<(&str, &str)> =
            out.gaps.iter().map(|g| (g.subject.as_str(), g.source.logical_id.as_str())).collect();
        assert_eq!(gaps, [("named.com.", "ByName")]);
        assert_eq!(
            out.gaps[0].found,
            said::Said::NotChecked { subject: "named.com.".into(), why: Unjudged::ZoneNamedByName }
        );
    }

    #[test]
    fn a_certificate_validated_in_a_zone_the_stack_creates_needs_its_delegation() {
        let zone = json!({"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "app.example.com"}});
        let cert = json!({"Type": "AWS::CertificateManager::Certificate", "Properties": {"DomainName": "app.example.com",
            "ValidationMethod": "DNS", "DomainValidationOptions": [{"DomainName": "app.example.com", "HostedZoneId": {"Ref": "Zone"}}]}});
        let alone = Template::from_value(&json!({"Resources": {"Zone": zone, "Cert": cert}})).unwrap();
        let out = infer(&alone, &env(), None);
        assert_eq!(out.failures.len(), 1);
        assert_eq!(
            out.failures[0].found,
            said::Said::CertificateZoneNotDelegated {
                certificate: "Cert".into(),
                zone: "Zone".into(),
                name: "app.example.com".into()
            }
        );
        assert!(out.failures[0].why.contains("nothing in the stack delegates that zone"), "{:?}", out.failures);
        let delegated = Template::from_value(&json!({"Resources": {"Zone": zone, "Cert": cert,
            "Delegation": {"Type": "AWS::Route53::RecordSet", "Properties": {"HostedZoneId": "ZPARENT", "Name": "app.example.com.",
                "Type": "NS", "ResourceRecords": {"Fn::GetAtt": ["Zone", "NameServers"]}}}}}))
        .unwrap();
        let out = infer(&delegated, &env(), None);
        assert!(out.failures.is_empty(), "{:?}", out.failures);
        assert_eq!(out.spec.hosted_zones.iter().map(|z| z.zone_id.as_str()).collect::<Vec<_>>(), ["ZPARENT"]);
    }

    #[test]
    fn ecs_secrets_are_read_by_the_task_execution_role() {
        let t = Template::from_value(&json!({"Resources": {
            "ExecRole": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "ExecutionRoleArn": {"Fn::GetAtt": ["ExecRole", "Arn"]},
                "ContainerDefinitions": [{"Secrets": [
                    {"Name": "DB", "ValueFrom": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":ssm:us-east-1:111111111111:parameter/app/db/password"]]}},
                    {"Name": "FLAT", "ValueFrom": "arn:aws:ssm:us-east-1:111111111111:parameter/flat"},
                    {"Name": "API", "ValueFrom": "arn:aws:secretsmanager:us-east-1:111111111111:secret:api-AbCdEf:token::"}],
                    "RepositoryCredentials": {"CredentialsParameter": "arn:aws:secretsmanager:us-east-1:111111111111:secret:registry-XyZ123"}}]}}
        }}))
        .unwrap();
        let out = infer(&t, &env(), None);
        let names: Vec<&str> = out.spec.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["/app/db/password", "flat"]);
        assert_eq!(out.spec.parameters[0].readers[0].to_string(), "arn:aws:iam::111111111111:role/ExecRole");
        // Secrets Manager references, the JSON key and version fields cut off: secret checks for the same role.
        let secrets: Vec<(&str, String)> =
            out.spec.secrets.iter().map(|s| (s.id.as_str(), s.readers[0].to_string())).collect();
        assert_eq!(
            secrets,
            [
                (
                    "arn:aws:secretsmanager:us-east-1:111111111111:secret:api-AbCdEf",
                    "arn:aws:iam::111111111111:role/ExecRole".to_owned()
                ),
                (
                    "arn:aws:secretsmanager:us-east-1:111111111111:secret:registry-XyZ123",
                    "arn:aws:iam::111111111111:role/ExecRole".to_owned()
                ),
            ]
        );
        assert!(out.gaps.is_empty(), "{:?}", out.gaps);
        let kinds: Vec<CheckKind> = out.inferences.iter().map(|i| i.check).collect();
        assert_eq!(kinds, [CheckKind::Parameter, CheckKind::Parameter, CheckKind::Secret, CheckKind::Secret]);
    }

    #[test]
    fn secretsmanager_references_become_secret_checks_for_the_execution_role() {
        assert_eq!(
            secretsmanager_ids(
                "{{resolve:secretsmanager:prod/db:SecretString:password}} and {{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:222222222222:secret:shared-AbCdEf:SecretString:k::}}"
            ),
            ["prod/db", "arn:aws:secretsmanager:us-east-1:222222222222:secret:shared-AbCdEf"]
        );
        let t = Template::from_value(&json!({"Resources": {
            "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
                "MasterUserPassword": {"Fn::Join": ["", ["{{resolve:secretsmanager:", "prod/db", ":SecretString:password}}"]]}}},
            "Hook": {"Type": "Custom::Thing", "Properties": {"Token": "{{resolve:secretsmanager:ignored}}"}}
        }}))
        .unwrap();
        let out = infer(&t, &env(), Some(&execution()));
        assert_eq!(out.spec.secrets.len(), 1, "custom resources' properties are not resolved: {:?}", out.spec.secrets);
        assert_eq!(out.spec.secrets[0].id, "prod/db");
        assert_eq!(out.spec.secrets[0].readers, [execution().principal]);
        assert_eq!(out.inferences[0].check, CheckKind::Secret);
        assert_eq!(out.inferences[0].source.property, "Properties.MasterUserPassword");
    }

    #[test]
    fn an_aws_custom_resource_reading_a_secret_value_is_a_secret_check_for_its_role() {
        let t = Template::from_value(&json!({"Resources": {
            "ProviderRole": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Provider": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["ProviderRole", "Arn"]}}},
            "ReadToken": {"Type": "Custom::AWS", "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                "Create": "{\"service\":\"@aws-sdk/client-secrets-manager\",\"action\":\"GetSecretValueCommand\",\"parameters\":{\"SecretId\":\"prod/app/token\"}}"}}
        }}))
        .unwrap();
        let out = infer(&t, &env(), None);
        assert_eq!(out.spec.secrets.len(), 1, "{:?}", out.gaps);
        assert_eq!(out.spec.secrets[0].id, "prod/app/token");
        assert_eq!(out.spec.secrets[0].readers[0].to_string(), "arn:aws:iam::111111111111:role/ProviderRole");
        assert_eq!(out.inferences[0].source.property, "Properties.Create");
    }

    #[test]
    fn resources_under_a_false_condition_are_not_created() {
        let t = Template::from_value(&json!({
            "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
            "Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Condition": "IsProd",
                                 "Properties": {"MasterUserPassword": "{{resolve:ssm-secure:/p}}"}}}}))
        .unwrap();
        assert!(infer(&t, &env(), Some(&execution())).spec.parameters.is_empty());
    }
}
