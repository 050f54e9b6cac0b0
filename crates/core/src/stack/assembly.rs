//! The CDK cloud assembly (`cdk.out/manifest.json`): which stacks it holds, where each deploys,
//! its template, the roles the CDK CLI deploys it with, and the bootstrap version it needs.
//!
//! Schema: aws/aws-cdk-cli, `@aws-cdk/cloud-assembly-schema` (`artifact-schema.ts`,
//! `AwsCloudFormationStackProperties`). CDK leaves `${AWS::Partition}` (always), and
//! `${AWS::AccountId}` and `${AWS::Region}` (for environment-agnostic stacks) in role ARNs for the
//! CLI to fill in at deploy time from the target environment (aws-cdk-cli, `placeholders.ts`):
//! [`substitute`] does the same.

use std::collections::BTreeMap;

use serde_json::Value;

/// Why an assembly could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AssemblyError {
    #[error("manifest.json is not JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("manifest.json: {path}: expected {expected}")]
    Shape { path: String, expected: &'static str },
    #[error("the cloud assembly has no stack named {0} (its stacks: {1})")]
    NoSuchStack(String, String),
}

/// One stack of the assembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssemblyStack {
    /// The artifact id (the construct path's stack id).
    pub id: String,
    /// The CloudFormation stack name.
    pub stack_name: String,
    /// The template file, relative to the assembly folder.
    pub template_file: String,
    /// `None` for an environment-agnostic stack (`unknown-account`, `unknown-region`).
    pub account: Option<String>,
    pub region: Option<String>,
    /// The role CloudFormation executes the stack as (`RoleARN`), placeholders as synthesized.
    pub execution_role: Option<String>,
    /// The role the CLI deploys with.
    pub deploy_role: Option<String>,
    /// The bootstrap version the stack needs, and the parameter that holds the installed one.
    pub required_bootstrap_version: Option<u32>,
    pub bootstrap_version_parameter: Option<String>,
    /// Template parameter values the assembly sets.
    pub parameters: BTreeMap<String, String>,
    /// The asset manifests the stack depends on (`cdk:asset-manifest` artifacts among its
    /// `dependencies`), relative to the assembly folder.
    pub asset_manifests: Vec<String>,
}

/// One destination of a file asset (an asset manifest's `files.ID.destinations.DEST`), its
/// placeholders as synthesized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileAsset {
    /// The asset's display name, else its id.
    pub name: String,
    pub bucket: String,
    pub object_key: String,
    /// The role the CLI assumes to upload it.
    pub role: Option<String>,
}

/// The file assets of an asset manifest (aws-cdk-cli, cloud-assembly-schema `assets.ts`:
/// `FileDestination` has `bucketName`, `objectKey`, `assumeRoleArn`). Docker images are not
/// read: they go to ECR, not the assets bucket.
pub fn file_assets(text: &str) -> Result<Vec<FileAsset>, AssemblyError> {
    let manifest: Value = serde_json::from_str(text).map_err(AssemblyError::Json)?;
    let shape = |path: String, expected| AssemblyError::Shape { path, expected };
    let Some(files) = manifest.get("files") else { return Ok(vec![]) };
    let Some(files) = files.as_object() else { return Err(shape("files".into(), "an object of file assets")) };
    let mut out = Vec::new();
    for (id, f) in files {
        let name = f.get("displayName").and_then(Value::as_str).unwrap_or(id).to_owned();
        let Some(destinations) = f.get("destinations").and_then(Value::as_object) else {
            return Err(shape(format!("files.{id}.destinations"), "an object of destinations"));
        };
        for (d, dest) in destinations {
            let text = |k: &str| dest.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(bucket), Some(object_key)) = (text("bucketName"), text("objectKey")) else {
                return Err(shape(format!("files.{id}.destinations.{d}"), "bucketName and objectKey"));
            };
            out.push(FileAsset { name: name.clone(), bucket, object_key, role: text("assumeRoleArn") });
        }
    }
    Ok(out)
}

impl AssemblyStack {
    /// The qualifier of the bootstrap environment the stack deploys into
    /// (`/cdk-bootstrap/<qualifier>/version`).
    pub fn qualifier(&self) -> Option<&str> {
        self.bootstrap_version_parameter
            .as_deref()?
            .strip_prefix("/cdk-bootstrap/")?
            .strip_suffix("/version")
            .filter(|q| !q.is_empty() && !q.contains('/'))
    }
}

/// The stacks of a manifest, in artifact order; `only` (artifact ids, stack names or display
/// names) narrows them, and names one that does not exist as an error.
pub fn stacks(manifest_text: &str, only: &[String]) -> Result<Vec<AssemblyStack>, AssemblyError> {
    let manifest: Value = serde_json::from_str(manifest_text).map_err(AssemblyError::Json)?;
    let shape = |path: &str, expected| AssemblyError::Shape { path: path.to_owned(), expected };
    let Some(artifacts) = manifest.get("artifacts").and_then(Value::as_object) else {
        return Err(shape("artifacts", "an object of artifacts"));
    };
    let mut all = Vec::new();
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    for (id, a) in artifacts {
        if a.get("type").and_then(Value::as_str) != Some("aws:cloudformation:stack") {
            continue;
        }
        let props = a.get("properties").cloned().unwrap_or(Value::Null);
        let Some(template_file) = props.get("templateFile").and_then(Value::as_str) else {
            return Err(shape(&format!("artifacts.{id}.properties.templateFile"), "the stack's template file"));
        };
        let (account, region) = environment(a.get("environment").and_then(Value::as_str));
        let text = |k: &str| props.get(k).and_then(Value::as_str).map(str::to_owned);
        let parameters = props
            .get("parameters")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();
        let stack = AssemblyStack {
            id: id.clone(),
            stack_name: text("stackName").unwrap_or_else(|| id.clone()),
            template_file: template_file.to_owned(),
            account,
            region,
            execution_role: text("cloudFormationExecutionRoleArn"),
            deploy_role: text("assumeRoleArn"),
            required_bootstrap_version: props
                .get("requiresBootstrapStackVersion")
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok()),
            bootstrap_version_parameter: text("bootstrapStackVersionSsmParameter"),
            parameters,
            asset_manifests: a
                .get("dependencies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|dep| artifacts.get(dep))
                .filter(|d| d.get("type").and_then(Value::as_str) == Some("cdk:asset-manifest"))
                .filter_map(|d| d.get("properties")?.get("file")?.as_str().map(str::to_owned))
                .collect(),
        };
        names.push((stack.stack_name.clone(), a.get("displayName").and_then(Value::as_str).map(str::to_owned)));
        all.push(stack);
    }
    if only.is_empty() {
        return Ok(all);
    }
    for wanted in only {
        let known = all.iter().zip(&names).any(|(s, (name, display))| {
            &s.id == wanted || name == wanted || display.as_deref() == Some(wanted.as_str())
        });
        if !known {
            let list: Vec<&str> = all.iter().map(|s| s.stack_name.as_str()).collect();
            return Err(AssemblyError::NoSuchStack(wanted.clone(), list.join(", ")));
        }
    }
    Ok(all
        .into_iter()
        .zip(names)
        .filter(|(s, (name, display))| {
            only.iter().any(|w| &s.id == w || name == w || display.as_deref() == Some(w.as_str()))
        })
        .map(|(s, _)| s)
        .collect())
}

/// `aws://ACCOUNT/REGION`; `unknown-account` and `unknown-region` are not known.
fn environment(env: Option<&str>) -> (Option<String>, Option<String>) {
    let Some((account, region)) = env.and_then(|e| e.strip_prefix("aws://")).and_then(|e| e.split_once('/')) else {
        return (None, None);
    };
    let known = |v: &str, unknown: &str| (v != unknown && !v.is_empty()).then(|| v.to_owned());
    (known(account, "unknown-account"), known(region, "unknown-region"))
}

/// `text` with the CDK CLI's deploy-time placeholders filled in.
pub fn substitute(text: &str, partition: &str, account: &str, region: &str) -> String {
    text.replace("${AWS::Partition}", partition).replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest() -> String {
        json!({"version": "48.0.0", "artifacts": {
            "App.assets": {"type": "cdk:asset-manifest", "properties": {"file": "App.assets.json"}},
            "App": {"type": "aws:cloudformation:stack", "environment": "aws://unknown-account/unknown-region",
                "displayName": "App", "dependencies": ["App.assets", "Tree"],
                "properties": {"templateFile": "App.template.json", "validateOnSynth": false,
                    "assumeRoleArn": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-deploy-role-${AWS::AccountId}-${AWS::Region}",
                    "cloudFormationExecutionRoleArn": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}",
                    "requiresBootstrapStackVersion": 6,
                    "bootstrapStackVersionSsmParameter": "/cdk-bootstrap/hnb659fds/version"}},
            "Prod": {"type": "aws:cloudformation:stack", "environment": "aws://111111111111/eu-west-1",
                "properties": {"templateFile": "Prod.template.json", "stackName": "prod-app"}},
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}
        }})
        .to_string()
    }

    #[test]
    fn stacks_environments_roles_and_bootstrap_needs() {
        let all = stacks(&manifest(), &[]).unwrap();
        assert_eq!(all.iter().map(|s| s.stack_name.as_str()).collect::<Vec<_>>(), ["App", "prod-app"]);
        let app = &all[0];
        assert_eq!((app.account.as_deref(), app.region.as_deref()), (None, None));
        assert_eq!(app.qualifier(), Some("hnb659fds"));
        assert_eq!(app.required_bootstrap_version, Some(6));
        assert_eq!(
            substitute(app.execution_role.as_deref().unwrap(), "aws", "111111111111", "eu-west-1"),
            "arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-eu-west-1"
        );
        assert_eq!((all[1].account.as_deref(), all[1].region.as_deref()), (Some("111111111111"), Some("eu-west-1")));
        assert_eq!(app.asset_manifests, ["App.assets.json"]);
        assert!(all[1].asset_manifests.is_empty());
    }

    #[test]
    fn file_assets_with_their_destinations() {
        let text = json!({"version": "48.0.0", "files": {"abc": {"displayName": "App Template",
            "source": {"path": "App.template.json", "packaging": "file"},
            "destinations": {"current_account-current_region": {
                "bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}", "objectKey": "abc.json",
                "assumeRoleArn": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-file-publishing-role-${AWS::AccountId}-${AWS::Region}"}}}},
            "dockerImages": {}})
        .to_string();
        let assets = file_assets(&text).unwrap();
        assert_eq!(assets.len(), 1);
        assert_eq!((assets[0].name.as_str(), assets[0].object_key.as_str()), ("App Template", "abc.json"));
        assert_eq!(
            substitute(&assets[0].bucket, "aws", "111111111111", "eu-west-1"),
            "cdk-hnb659fds-assets-111111111111-eu-west-1"
        );
        assert!(file_assets(r#"{"files": {"x": {"destinations": {"d": {"bucketName": "b"}}}}}"#).is_err());
        assert!(file_assets(r#"{"version": "48.0.0"}"#).unwrap().is_empty());
    }

    #[test]
    fn stacks_are_chosen_by_id_or_name_and_a_missing_one_is_named() {
        assert_eq!(stacks(&manifest(), &["prod-app".into()]).unwrap().len(), 1);
        assert_eq!(stacks(&manifest(), &["Prod".into()]).unwrap()[0].stack_name, "prod-app");
        let e = stacks(&manifest(), &["Nope".into()]).unwrap_err().to_string();
        assert_eq!(e, "the cloud assembly has no stack named Nope (its stacks: App, prod-app)");
        assert!(stacks("{}", &[]).is_err());
    }
}
