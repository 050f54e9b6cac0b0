//! [`FactSource`] for the AWS SDK clients: one function per read, errors classified, documents
//! URL-decoded. Builds every client once from one configuration.

use std::collections::BTreeMap;

use aws_config::{Region, SdkConfig};
use aws_sdk_sts::error::ProvideErrorMetadata;

use super::{
    BucketEncryption, CallerIdentity, CloudFormationReads, FetchError, IamReads, KeyInfo, KeyManager, KmsReads,
    ParameterInfo, RoleInfo, Route53Reads, S3Reads, SecretInfo, SecretsReads, SsmReads, StackInfo, StsReads, ZoneInfo,
    classify, decode_policy_document,
};
use crate::arn::PrincipalArn;
use crate::dns::normalise_ns;
use crate::kms::{Grant, GrantConstraint, KeyState};

/// The AWS SDK clients, built once per process.
#[derive(Clone, Debug)]
pub struct AwsFacts {
    sts: aws_sdk_sts::Client,
    kms: aws_sdk_kms::Client,
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
    iam: aws_sdk_iam::Client,
    s3: aws_sdk_s3::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    route53: aws_sdk_route53::Client,
    route53domains: aws_sdk_route53domains::Client,
    region: Option<String>,
}

impl AwsFacts {
    /// Builds every client from one configuration. IAM and Route 53 are global services: their
    /// clients sign for us-east-1 (cn-north-1 in China), as AWS's global endpoints expect, also with
    /// a custom endpoint. Route 53 Domains exists only in us-east-1.
    pub fn new(config: &SdkConfig) -> Self {
        let region = config.region().map(ToString::to_string);
        let iam_region = match region.as_deref() {
            Some(r) if r.starts_with("cn-") => "cn-north-1",
            Some(r) if r.starts_with("us-gov-") => "us-gov-west-1",
            _ => "us-east-1",
        };
        let iam = aws_sdk_iam::config::Builder::from(config).region(Region::new(iam_region)).build();
        let route53 = aws_sdk_route53::config::Builder::from(config).region(Region::new(iam_region)).build();
        let route53domains =
            aws_sdk_route53domains::config::Builder::from(config).region(Region::new("us-east-1")).build();
        // With a custom endpoint (a local AWS), S3 needs path-style addressing.
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            iam: aws_sdk_iam::Client::from_conf(iam),
            route53: aws_sdk_route53::Client::from_conf(route53),
            route53domains: aws_sdk_route53domains::Client::from_conf(route53domains),
            region,
        }
    }
}

/// The key state DescribeKey reports; a missing or new state is an error, never a guess.
fn key_state(s: Option<&aws_sdk_kms::types::KeyState>) -> Result<KeyState, FetchError> {
    use aws_sdk_kms::types::KeyState as K;
    Ok(match s {
        Some(K::Enabled) => KeyState::Enabled,
        Some(K::Disabled) => KeyState::Disabled,
        Some(K::PendingDeletion) => KeyState::PendingDeletion,
        Some(K::PendingImport) => KeyState::PendingImport,
        Some(K::PendingReplicaDeletion) => KeyState::PendingReplicaDeletion,
        Some(K::Creating) => KeyState::Creating,
        Some(K::Updating) => KeyState::Updating,
        Some(K::Unavailable) => KeyState::Unavailable,
        Some(other) => {
            return Err(missing("kms:DescribeKey", &format!("key state `{}` is unknown to Preflight", other.as_str())));
        }
        None => return Err(missing("kms:DescribeKey", "no key state")),
    })
}

impl StsReads for AwsFacts {
    async fn caller_identity(&self) -> Result<CallerIdentity, FetchError> {
        const ACTION: &str = "sts:GetCallerIdentity";
        let out = self.sts.get_caller_identity().send().await.map_err(|e| classify(ACTION, e))?;
        match (out.account, out.arn) {
            (Some(account), Some(arn)) => Ok(CallerIdentity { account, arn }),
            _ => Err(missing(ACTION, "an account or ARN")),
        }
    }

    fn region(&self) -> Option<String> {
        self.region.clone()
    }
}

impl KmsReads for AwsFacts {
    async fn describe_key(&self, key: &str) -> Result<KeyInfo, FetchError> {
        const ACTION: &str = "kms:DescribeKey";
        let out = self.kms.describe_key().key_id(key).send().await.map_err(|e| classify(ACTION, e))?;
        let m = out.key_metadata.ok_or_else(|| missing(ACTION, "no key metadata"))?;
        let arn = m
            .arn()
            .filter(|a| crate::kms::key_account(a).is_some())
            .ok_or_else(|| missing(ACTION, &format!("no key ARN naming an account for key `{}`", m.key_id())))?;
        let manager = match m.key_manager() {
            Some(aws_sdk_kms::types::KeyManagerType::Aws) => KeyManager::Aws,
            Some(aws_sdk_kms::types::KeyManagerType::Customer) => KeyManager::Customer,
            Some(other) => return Err(missing(ACTION, &format!("key manager `{}` is unknown", other.as_str()))),
            None => return Err(missing(ACTION, "no key manager")),
        };
        Ok(KeyInfo {
            arn: arn.to_owned(),
            key_id: m.key_id().to_owned(),
            manager,
            state: key_state(m.key_state())?,
            usage: m.key_usage().map(|u| u.as_str().to_owned()).unwrap_or_default(),
            spec: m.key_spec().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        })
    }

    async fn key_policy(&self, key_arn: &str) -> Result<String, FetchError> {
        const ACTION: &str = "kms:GetKeyPolicy";
        let out = self
            .kms
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| classify(ACTION, e))?;
        out.policy.ok_or_else(|| missing(ACTION, "no policy in the answer"))
    }

    async fn grants(&self, key_arn: &str) -> Result<Vec<Grant>, FetchError> {
        const ACTION: &str = "kms:ListGrants";
        let grants = self
            .kms
            .list_grants()
            .key_id(key_arn)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| classify(ACTION, e))?;
        let mut out = Vec::new();
        for g in &grants {
            // A grantee that is not an IAM principal ARN (a service principal) never matches a role.
            let Some(grantee) = g.grantee_principal().and_then(|p| PrincipalArn::parse(p).ok()) else { continue };
            let constraint = match g.constraints() {
                Some(c) if c.encryption_context_equals().is_some() => GrantConstraint::Equals(
                    c.encryption_context_equals().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
                ),
                Some(c) if c.encryption_context_subset().is_some() => GrantConstraint::Subset(
                    c.encryption_context_subset()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<BTreeMap<_, _>>(),
                ),
                _ => GrantConstraint::None,
            };
            out.push(Grant {
                id: g.grant_id().map(str::to_owned),
                grantee,
                operations: g.operations().iter().map(|o| o.as_str().to_owned()).collect(),
                constraint,
            });
        }
        Ok(out)
    }
}

impl SsmReads for AwsFacts {
    async fn parameters(&self, names: &[String]) -> Result<Vec<ParameterInfo>, FetchError> {
        const ACTION: &str = "ssm:DescribeParameters";
        let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .set_values(Some(names.to_vec()))
            .build()
            .map_err(|e| FetchError::Service {
                action: ACTION,
                message: e.to_string(),
                source: Some(super::Cause(std::sync::Arc::new(e))),
            })?;
        // Filters apply after paging (docs/aws-facts.md 6): follow NextToken until every name is found.
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .ssm
                .describe_parameters()
                .parameter_filters(filter.clone())
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(ACTION, e))?;
            for p in page.parameters() {
                let (Some(name), Some(kind)) = (p.name(), p.r#type()) else {
                    return Err(missing(ACTION, "a parameter without a name or type"));
                };
                found.push(ParameterInfo {
                    name: name.to_owned(),
                    kind: kind.as_str().to_owned(),
                    key_id: p.key_id().map(str::to_owned),
                    tier: p.tier().map(|t| t.as_str().to_owned()),
                });
            }
            match page.next_token {
                Some(t) if found.len() < names.len() => token = Some(t),
                _ => return Ok(found),
            }
        }
    }

    async fn string_parameter(&self, name: &str) -> Result<Option<String>, FetchError> {
        // Never WithDecryption: this reads only the CDK bootstrap version, a String parameter.
        match self.ssm.get_parameter().name(name).with_decryption(false).send().await {
            Ok(out) => match out.parameter.and_then(|p| p.value) {
                Some(v) => Ok(Some(v)),
                None => Err(missing("ssm:GetParameter", "a parameter without a value")),
            },
            Err(e) => match classify("ssm:GetParameter", e) {
                FetchError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }
}

impl IamReads for AwsFacts {
    async fn role(&self, name: &str) -> Result<RoleInfo, FetchError> {
        // The SDK's paginators follow IsTruncated/Marker for every page.
        let (role, inline, attached) = tokio::join!(
            self.iam.get_role().role_name(name).send(),
            self.iam
                .list_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<String>, _>>(),
            self.iam
                .list_attached_role_policies()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>(),
        );
        let inline = inline.map_err(|e| classify("iam:ListRolePolicies", e));
        let attached = attached.map_err(|e| classify("iam:ListAttachedRolePolicies", e)).and_then(|ps| {
            ps.into_iter()
                .map(|p| {
                    p.policy_arn
                        .ok_or_else(|| missing("iam:ListAttachedRolePolicies", "an attached policy without an ARN"))
                })
                .collect::<Result<Vec<String>, _>>()
        });
        let role = role.map_err(|e| classify("iam:GetRole", e))?;
        let role = role.role.ok_or_else(|| missing("iam:GetRole", "no role in the answer"))?;
        let boundary_arn = match role.permissions_boundary {
            None => None,
            Some(b) => Some(
                b.permissions_boundary_arn
                    .ok_or_else(|| missing("iam:GetRole", "a permissions boundary without an ARN"))?,
            ),
        };
        Ok(RoleInfo {
            arn: role.arn.clone(),
            name: role.role_name.clone(),
            boundary_arn,
            inline_names: inline?,
            attached_arns: attached?,
            trust_policy: role.assume_role_policy_document.as_deref().map(decode_policy_document),
            generated_from: None,
        })
    }

    async fn role_policy(&self, role: &str, policy: &str) -> Result<String, FetchError> {
        let out = self
            .iam
            .get_role_policy()
            .role_name(role)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| classify("iam:GetRolePolicy", e))?;
        Ok(decode_policy_document(&out.policy_document))
    }

    async fn managed_policy(&self, arn: &str) -> Result<String, FetchError> {
        let policy = self.iam.get_policy().policy_arn(arn).send().await.map_err(|e| classify("iam:GetPolicy", e))?;
        let version = policy
            .policy
            .and_then(|p| p.default_version_id)
            .ok_or_else(|| missing("iam:GetPolicy", "no default version"))?;
        let out = self
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| classify("iam:GetPolicyVersion", e))?;
        let doc = out
            .policy_version
            .and_then(|v| v.document)
            .ok_or_else(|| missing("iam:GetPolicyVersion", "no document"))?;
        Ok(decode_policy_document(&doc))
    }
}

impl SecretsReads for AwsFacts {
    async fn describe_secret(&self, id: &str) -> Result<Option<SecretInfo>, FetchError> {
        const ACTION: &str = "secretsmanager:DescribeSecret";
        match self.secrets.describe_secret().secret_id(id).send().await {
            Ok(out) => {
                let (Some(arn), Some(name)) = (out.arn, out.name) else {
                    return Err(missing(ACTION, "a secret without an ARN or name"));
                };
                let pending_deletion = out.deleted_date.is_some();
                Ok(Some(SecretInfo { arn, name, kms_key_id: out.kms_key_id, pending_deletion }))
            }
            Err(e) => match classify(ACTION, e) {
                FetchError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn secret_policy(&self, arn: &str) -> Result<Option<String>, FetchError> {
        const ACTION: &str = "secretsmanager:GetResourcePolicy";
        let out = self.secrets.get_resource_policy().secret_id(arn).send().await.map_err(|e| classify(ACTION, e))?;
        Ok(out.resource_policy.filter(|p| !p.trim().is_empty()))
    }
}

impl S3Reads for AwsFacts {
    async fn bucket_encryption(&self, bucket: &str) -> Result<Option<BucketEncryption>, FetchError> {
        match self.s3.get_bucket_encryption().bucket(bucket).send().await {
            Ok(out) => Ok(out.server_side_encryption_configuration.and_then(|c| {
                let rule = c.rules().first()?;
                let default = rule.apply_server_side_encryption_by_default()?;
                Some(BucketEncryption {
                    algorithm: default.sse_algorithm().as_str().to_owned(),
                    kms_key: default.kms_master_key_id().map(str::to_owned),
                    bucket_key: rule.bucket_key_enabled().unwrap_or(false),
                })
            })),
            // No default encryption rule: S3's error code says so (S3 API Reference, GetBucketEncryption).
            Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
            Err(e) => Err(classify("s3:GetEncryptionConfiguration", e)),
        }
    }
}

impl CloudFormationReads for AwsFacts {
    async fn stack(&self, name: &str) -> Result<Option<StackInfo>, FetchError> {
        match self.cloudformation.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out.stacks().first().map(|s| StackInfo {
                parameters: s
                    .parameters()
                    .iter()
                    .filter_map(|p| {
                        Some((p.parameter_key()?.to_owned(), p.parameter_value().unwrap_or_default().to_owned()))
                    })
                    .collect(),
                outputs: s
                    .outputs()
                    .iter()
                    .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value().unwrap_or_default().to_owned())))
                    .collect(),
                role_arn: s.role_arn().map(str::to_owned),
            })),
            Err(e) => match classify("cloudformation:DescribeStacks", e) {
                FetchError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }
}

impl Route53Reads for AwsFacts {
    async fn hosted_zone(&self, id: &str) -> Result<ZoneInfo, FetchError> {
        const ACTION: &str = "route53:GetHostedZone";
        let out = self.route53.get_hosted_zone().id(id).send().await.map_err(|e| classify(ACTION, e))?;
        let zone = out.hosted_zone.ok_or_else(|| missing(ACTION, "no hosted zone in the answer"))?;
        let mut info = zone_info(&zone);
        // A public zone always has its delegation set; a private one has none.
        info.name_servers = match out.delegation_set {
            Some(d) if !d.name_servers.is_empty() => d.name_servers.iter().map(|n| normalise_ns(n)).collect(),
            _ if info.private => Vec::new(),
            _ => return Err(missing(ACTION, "a public hosted zone without name servers")),
        };
        Ok(info)
    }

    async fn zones_named(&self, name: &str) -> Result<Vec<ZoneInfo>, FetchError> {
        const ACTION: &str = "route53:ListHostedZonesByName";
        // The list is sorted by reversed labels and starts at `name`: the zones of that exact name
        // come first, possibly over several pages; the first other name ends them (docs/aws-facts.md 5).
        let wanted = normalise_ns(name);
        let mut found = Vec::new();
        let mut next: (Option<String>, Option<String>) = (Some(format!("{wanted}.")), None);
        loop {
            let page = self
                .route53
                .list_hosted_zones_by_name()
                .set_dns_name(next.0.take())
                .set_hosted_zone_id(next.1.take())
                .max_items(100)
                .send()
                .await
                .map_err(|e| classify(ACTION, e))?;
            let mut past = false;
            for zone in page.hosted_zones() {
                let info = zone_info(zone);
                if info.name == wanted {
                    found.push(info);
                } else {
                    past = true;
                }
            }
            match (page.is_truncated, page.next_dns_name, page.next_hosted_zone_id) {
                (true, Some(n), Some(id)) if !past && normalise_ns(&n) == wanted => next = (Some(n), Some(id)),
                _ => return Ok(found),
            }
        }
    }

    async fn record_set(&self, zone_id: &str, name: &str, kind: &str) -> Result<Option<Vec<String>>, FetchError> {
        const ACTION: &str = "route53:ListResourceRecordSets";
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .start_record_type(aws_sdk_route53::types::RrType::from(kind))
            .max_items(1)
            .send()
            .await
            .map_err(|e| classify(ACTION, e))?;
        // The answer starts at (name, type) or after it: only an exact match counts.
        Ok(out
            .resource_record_sets()
            .iter()
            .find(|r| normalise_ns(&unescape_name(r.name())) == normalise_ns(name) && r.r#type().as_str() == kind)
            .map(|r| r.resource_records().iter().map(|v| v.value().to_owned()).collect()))
    }

    async fn domain_name_servers(&self, domain: &str) -> Result<Option<Vec<String>>, FetchError> {
        const ACTION: &str = "route53domains:GetDomainDetail";
        match self.route53domains.get_domain_detail().domain_name(domain).send().await {
            Ok(out) if out.nameservers().is_empty() => Err(missing(ACTION, "a registration without name servers")),
            Ok(out) => Ok(Some(out.nameservers().iter().map(|n| normalise_ns(n.name())).collect())),
            // A domain not registered in this account (or a TLD Route 53 Domains does not sell).
            Err(e) => match classify(ACTION, e) {
                FetchError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }
}

/// An answer without a field it always carries.
fn missing(action: &'static str, what: &str) -> FetchError {
    FetchError::Incomplete { action, what: what.to_owned() }
}

/// A zone as ListHostedZonesByName and GetHostedZone describe it, without its name servers.
fn zone_info(zone: &aws_sdk_route53::types::HostedZone) -> ZoneInfo {
    ZoneInfo {
        id: zone.id().trim_start_matches("/hostedzone/").to_owned(),
        name: normalise_ns(&unescape_name(zone.name())),
        private: zone.config().is_some_and(|c| c.private_zone()),
        comment: zone.config().and_then(|c| c.comment()).map(str::to_owned),
        name_servers: Vec::new(),
    }
}

/// Route 53 writes `*` and characters outside letters, digits and `-` as `\ooo` octal escapes.
fn unescape_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            let digits = bytes
                .get(i + 1..i + 4)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u8::from_str_radix(d, 8).ok());
            if let Some(v) = digits {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
