//! The stack model's findings: an inferred item that cannot be judged before the stack exists,
//! and what the template alone proves to fail.

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// An item the template implies was not checked.
    NotChecked { subject: String, why: Unjudged },
    /// A certificate is validated in a zone the stack creates and nothing delegates: DNS
    /// validation waits until CloudFormation times out.
    CertificateZoneNotDelegated { certificate: String, zone: String, name: String },
}

/// Why an inferred item could not be judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Unjudged {
    /// The identity that applies a key policy is not known.
    KeyPolicyApplierUnknown,
    KeyPolicyNotJson {
        error: String,
    },
    KeyPolicyNotObject,
    KeyPolicyDependsOn {
        expression: String,
    },
    RecordNameUnresolved,
    ZoneIdUnresolved,
    /// The record names its zone by name only.
    ZoneNamedByName,
    CustomResourceRoleUnknown {
        resource: String,
        why: RoleUnknown,
    },
    TaskSecretUnresolved {
        task: String,
        expression: String,
    },
    TaskRoleUnknown {
        task: String,
        why: RoleUnknown,
    },
    /// The identity that creates a resource with a key is not known.
    CreatorUnknown {
        resource: String,
    },
    /// Restoring from a snapshot of another account: its key is not read (not built yet).
    ForeignSnapshot {
        resource: String,
        snapshot: String,
    },
    /// A resource's key (`KmsKeyId`) cannot be named before the deploy.
    KeyUnresolved {
        resource: String,
        expression: String,
    },
    /// A resource's key is a key the stack creates whose ARN cannot be built (no account, region
    /// or partition given).
    PlannedKeyUnnamed {
        resource: String,
        key: String,
    },
}

/// Why the role that reads something cannot be named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum RoleUnknown {
    NoExecutionRoleArn,
    /// A role of the stack whose ARN cannot be built (no account or partition given).
    CannotName {
        role: String,
    },
    DependsOn {
        expression: String,
    },
    NotAnArn {
        error: String,
    },
    NotAString {
        value: String,
    },
    TokenNotAFunction,
    FunctionNotInTemplate {
        function: String,
    },
    FunctionWithoutRole {
        function: String,
    },
}

impl std::fmt::Display for RoleUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoExecutionRoleArn => f.write_str("the task definition has no ExecutionRoleArn"),
            Self::CannotName { role } => write!(f, "the role {role} cannot be named (no account or partition given)"),
            Self::DependsOn { expression } => f.write_str(expression),
            Self::NotAnArn { error } => f.write_str(error),
            Self::NotAString { value } => write!(f, "ExecutionRoleArn is {value}"),
            Self::TokenNotAFunction => f.write_str("its ServiceToken is not the ARN of a function of this stack"),
            Self::FunctionNotInTemplate { function } => write!(f, "{function} is not in the template"),
            Self::FunctionWithoutRole { function } => write!(f, "{function} has no Role"),
        }
    }
}

impl std::fmt::Display for Unjudged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KeyPolicyApplierUnknown => {
                f.write_str("the identity that applies the key policy (the stack's execution identity) is not known")
            }
            Self::KeyPolicyNotJson { error } => write!(f, "its KeyPolicy is not a JSON object: {error}"),
            Self::KeyPolicyNotObject => f.write_str("its KeyPolicy is not an object"),
            Self::KeyPolicyDependsOn { expression } => write!(f, "its KeyPolicy depends on {expression}"),
            Self::RecordNameUnresolved => f.write_str("its record name cannot be resolved before the stack exists"),
            Self::ZoneIdUnresolved => f.write_str("its hosted zone id cannot be resolved before the stack exists"),
            Self::ZoneNamedByName => f.write_str(
                "the record names its zone by HostedZoneName; give the zone's id (HostedZoneId) to have its delegation checked",
            ),
            Self::CustomResourceRoleUnknown { resource, why } => write!(
                f,
                "the custom resource {resource} reads it with decryption, but its function's role is not known: {why}"
            ),
            Self::TaskSecretUnresolved { task, expression } => write!(f, "a secret of task {task}: {expression}"),
            Self::TaskRoleUnknown { task, why } => write!(f, "task {task}'s execution role is not known: {why}"),
            Self::CreatorUnknown { resource } => write!(
                f,
                "the identity CloudFormation creates {resource} as is not known (give --role-arn, or deploy the stack with a service role)"
            ),
            Self::ForeignSnapshot { resource, snapshot } => write!(
                f,
                "{resource} is restored from {snapshot}, a snapshot of another account: whether its key lets this account restore it is not judged yet (the snapshot and its key are not read)"
            ),
            Self::KeyUnresolved { resource, expression } => {
                write!(f, "the key of {resource} cannot be named before the deploy: {expression}")
            }
            Self::PlannedKeyUnnamed { resource, key } => write!(
                f,
                "the key of {resource} is {key}, which this stack creates, and its ARN cannot be built (no account, region or partition given)"
            ),
        }
    }
}

impl Said {
    pub(crate) fn sentence(&self) -> String {
        match self {
            Said::NotChecked { subject, why } => format!("{subject} was not checked: {why}"),
            Said::CertificateZoneNotDelegated { certificate, zone, name } => format!(
                "certificate {certificate} is validated in hosted zone {zone}, which this stack creates, but nothing in the stack delegates that zone to its name servers: DNS validation of {name} will wait until CloudFormation times out"
            ),
        }
    }

    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::NotChecked { .. } => None,
            Said::CertificateZoneNotDelegated { zone, .. } => Some(format!(
                "delegate the domain of hosted zone {zone} to its name servers (an NS record set in the parent zone, in this stack or at the registrar) before the certificate is created, or validate in a zone the domain is already delegated to"
            )),
        }
    }
}
