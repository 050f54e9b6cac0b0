//! Facts made by hand, service by service: what the checks' unit tests feed them, and what a tool
//! with facts from elsewhere (a recorded run, a template) can build. Every read can be given as a
//! value or as the error it failed with, so the unread and denied paths are as easy to test as the
//! happy one.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    BootstrapFacts, BucketEncryption, CallerIdentity, Facts, FetchError, KeyFacts, KeyInfo, KeyManager, ParameterInfo,
    RoleFacts, RoleInfo, SecretFacts, SecretInfo, StackInfo,
};
use crate::kms::{Grant, KeyState};

/// Builds [`Facts`] for one account and region. Keys and roles it makes live in that account.
#[derive(Clone, Debug)]
pub struct FactsBuilder {
    account: String,
    region: String,
    facts: Facts,
}

/// `AccessDenied` for `action`, as Preflight's role would meet it.
pub fn denied(action: &'static str) -> FetchError {
    FetchError::AccessDenied {
        action,
        message: "User is not authorized to perform this operation".into(),
        source: None,
    }
}

impl Facts {
    /// Facts of `account` in `region`, read by a Preflight role of that account.
    pub fn builder(account: &str, region: &str) -> FactsBuilder {
        let identity = CallerIdentity {
            account: account.to_owned(),
            arn: format!("arn:aws:sts::{account}:assumed-role/preflight/run"),
        };
        FactsBuilder {
            account: account.to_owned(),
            region: region.to_owned(),
            facts: Facts { identity: Some(Ok(identity)), region: Some(region.to_owned()), ..Facts::default() },
        }
    }
}

impl FactsBuilder {
    /// The facts built.
    pub fn build(self) -> Facts {
        self.facts
    }

    /// The ARN a key of this account and region has.
    pub fn key_arn(&self, key_id: &str) -> String {
        format!("arn:aws:kms:{}:{}:key/{key_id}", self.region, self.account)
    }

    /// STS GetCallerIdentity failed.
    #[must_use]
    pub fn identity_error(mut self, e: FetchError) -> Self {
        self.facts.identity = Some(Err(e));
        self
    }

    /// A key found by `reference` (id, ARN or alias), enabled, with `policy` and no grants.
    #[must_use]
    pub fn key(self, reference: &str, key_id: &str, manager: KeyManager, policy: &Value) -> Self {
        self.key_in_state(reference, key_id, manager, KeyState::Enabled, policy)
    }

    /// A key in any state.
    #[must_use]
    pub fn key_in_state(
        mut self,
        reference: &str,
        key_id: &str,
        manager: KeyManager,
        state: KeyState,
        policy: &Value,
    ) -> Self {
        let info = KeyInfo {
            arn: self.key_arn(key_id),
            key_id: key_id.to_owned(),
            manager,
            state,
            usage: "ENCRYPT_DECRYPT".into(),
            spec: "SYMMETRIC_DEFAULT".into(),
        };
        let facts = KeyFacts { info, policy: Ok(policy.to_string()), grants: Ok(vec![]) };
        self.facts.keys.insert(reference.to_owned(), Ok(facts));
        self
    }

    /// DescribeKey of `reference` failed.
    #[must_use]
    pub fn key_error(mut self, reference: &str, e: FetchError) -> Self {
        self.facts.keys.insert(reference.to_owned(), Err(e));
        self
    }

    /// Changes a key already given: its policy read failed.
    #[must_use]
    pub fn key_policy_error(mut self, reference: &str, e: FetchError) -> Self {
        if let Some(Ok(k)) = self.facts.keys.get_mut(reference) {
            k.policy = Err(e);
        }
        self
    }

    /// Changes a key already given: its grants.
    #[must_use]
    pub fn grants(mut self, reference: &str, grants: Result<Vec<Grant>, FetchError>) -> Self {
        if let Some(Ok(k)) = self.facts.keys.get_mut(reference) {
            k.grants = grants;
        }
        self
    }

    /// A parameter of `kind` (`SecureString`, `String`, ...) under the key DescribeParameters names.
    #[must_use]
    pub fn parameter(mut self, name: &str, kind: &str, key_id: Option<&str>) -> Self {
        let info = ParameterInfo {
            name: name.to_owned(),
            kind: kind.to_owned(),
            key_id: key_id.map(str::to_owned),
            tier: Some("Standard".into()),
        };
        self.facts.parameters.insert(name.to_owned(), Ok(Some(info)));
        self
    }

    /// A secret named `name` of this account and region, under `key_id` (`None`: the AWS managed
    /// key, whose facts the test adds with [`Self::key`] as `alias/aws/secretsmanager`), with a
    /// resource policy when given.
    #[must_use]
    pub fn secret(mut self, name: &str, key_id: Option<&str>, policy: Option<&Value>) -> Self {
        let info = SecretInfo {
            arn: format!("arn:aws:secretsmanager:{}:{}:secret:{name}-AbCdEf", self.region, self.account),
            name: name.to_owned(),
            kms_key_id: key_id.map(str::to_owned),
            pending_deletion: false,
        };
        let policy = Ok(policy.map(ToString::to_string));
        self.facts.secrets.insert(name.to_owned(), Ok(Some(SecretFacts { info, policy })));
        self
    }

    /// A parameter that does not exist.
    #[must_use]
    pub fn no_parameter(mut self, name: &str) -> Self {
        self.facts.parameters.insert(name.to_owned(), Ok(None));
        self
    }

    /// DescribeParameters for `name` failed.
    #[must_use]
    pub fn parameter_error(mut self, name: &str, e: FetchError) -> Self {
        self.facts.parameters.insert(name.to_owned(), Err(e));
        self
    }

    /// A role of this account with inline policies `(name, document)` and no boundary.
    #[must_use]
    pub fn role(mut self, name: &str, inline: &[(&str, Value)]) -> Self {
        let info = RoleInfo {
            arn: format!("arn:aws:iam::{}:role/{name}", self.account),
            name: name.to_owned(),
            boundary_arn: None,
            inline_names: inline.iter().map(|(n, _)| (*n).to_owned()).collect(),
            attached_arns: vec![],
            trust_policy: None,
            generated_from: None,
        };
        let inline = inline.iter().map(|(n, d)| ((*n).to_owned(), Ok(d.to_string()))).collect();
        let role = RoleFacts { info, inline, managed: vec![], boundary: None };
        self.facts.roles.insert(name.to_owned(), Ok(role));
        self
    }

    /// Changes a role already given: its permissions boundary.
    #[must_use]
    pub fn boundary(mut self, role: &str, document: &Value) -> Self {
        let arn = format!("arn:aws:iam::{}:policy/boundary", self.account);
        if let Some(Ok(r)) = self.facts.roles.get_mut(role) {
            r.info.boundary_arn = Some(arn.clone());
            r.boundary = Some((arn, Ok(document.to_string())));
        }
        self
    }

    /// Changes a role already given: its trust policy.
    #[must_use]
    pub fn trust(mut self, role: &str, document: &Value) -> Self {
        if let Some(Ok(r)) = self.facts.roles.get_mut(role) {
            r.info.trust_policy = Some(document.to_string());
        }
        self
    }

    /// Changes a role already given: one of its policy documents could not be read.
    #[must_use]
    pub fn role_policy_error(mut self, role: &str, policy: &str, e: FetchError) -> Self {
        if let Some(Ok(r)) = self.facts.roles.get_mut(role) {
            r.info.inline_names.push(policy.to_owned());
            r.inline.push((policy.to_owned(), Err(e)));
        }
        self
    }

    /// GetRole of `name` failed (`NotFound`: the role does not exist).
    #[must_use]
    pub fn role_error(mut self, name: &str, e: FetchError) -> Self {
        self.facts.roles.insert(name.to_owned(), Err(e));
        self
    }

    /// The CDK bootstrap environment: version `version`, a toolkit stack with `outputs` and
    /// `parameters`, its bucket encrypted with `encryption`, and that encryption's key when it is
    /// KMS (looked up among the keys given so far by its reference, `alias/aws/s3` when none).
    #[must_use]
    pub fn bootstrap(
        mut self,
        version: Result<Option<&str>, FetchError>,
        stack: Result<Option<StackInfo>, FetchError>,
        encryption: Result<Option<BucketEncryption>, FetchError>,
    ) -> Self {
        let bucket = match &stack {
            Ok(Some(s)) => s.outputs.get("BucketName").cloned().ok_or_else(|| "no BucketName output".to_owned()),
            Ok(None) => Ok(format!("cdk-hnb659fds-assets-{}-{}", self.account, self.region)),
            Err(e) => Err(format!("the toolkit stack was not read: {e}")),
        };
        let key = match &encryption {
            Ok(Some(e)) if e.algorithm.starts_with("aws:kms") => {
                let reference = e.kms_key.clone().unwrap_or_else(|| "alias/aws/s3".to_owned());
                let facts =
                    self.facts.keys.get(&reference).cloned().unwrap_or_else(|| {
                        Err(FetchError::not_found("kms:DescribeKey", format!("no key {reference}")))
                    });
                Some((reference, facts))
            }
            _ => None,
        };
        self.facts.bootstrap =
            Some(BootstrapFacts { version: version.map(|v| v.map(str::to_owned)), stack, bucket, encryption, key });
        self
    }
}

/// A toolkit stack with its `BucketName` output and these parameters.
pub fn toolkit_stack(bucket: &str, parameters: &[(&str, &str)]) -> StackInfo {
    StackInfo {
        parameters: parameters.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        outputs: BTreeMap::from([("BucketName".to_owned(), bucket.to_owned())]),
        role_arn: None,
    }
}
