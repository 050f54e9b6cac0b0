//! Fetch: each planned fact once, concurrently, bounded per service, with the calls in flight
//! always known.
//!
//! Owns scheduling of reads: a distinct fact (a key, a policy document, a role) is read once even
//! when several checks need it at the same moment; independent reads run concurrently, so a run
//! takes as many round trips as the longest chain of dependent reads (identity, then parameter ->
//! key -> key policy, or role -> policy documents). Decides nothing: results, errors included, go to
//! `checks` as they are.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use tokio::sync::{OnceCell, Semaphore};

use crate::arn::PrincipalKind;
use crate::aws::{
    BucketEncryption, CallerIdentity, FactSource, FetchError, KeyInfo, ParameterInfo, RoleInfo, StackInfo,
};
use crate::kms::Grant;
use crate::plan::Plan;

/// A key and what was read about it.
#[derive(Clone, Debug)]
pub struct KeyFacts {
    pub info: KeyInfo,
    pub policy: Result<String, FetchError>,
    pub grants: Result<Vec<Grant>, FetchError>,
}

/// A role and its policy documents (name or ARN, and the document or why it could not be read).
#[derive(Clone, Debug)]
pub struct RoleFacts {
    pub info: RoleInfo,
    pub inline: Vec<(String, Result<String, FetchError>)>,
    pub managed: Vec<(String, Result<String, FetchError>)>,
    pub boundary: Option<(String, Result<String, FetchError>)>,
}

/// The CDK bootstrap environment as read.
#[derive(Clone, Debug)]
pub struct BootstrapFacts {
    /// `/cdk-bootstrap/<qualifier>/version`.
    pub version: Result<Option<String>, FetchError>,
    pub stack: Result<Option<StackInfo>, FetchError>,
    /// The assets bucket: the stack's `BucketName` output, else CDK's default name.
    pub bucket: String,
    pub encryption: Result<Option<BucketEncryption>, FetchError>,
    /// The bucket's key (reference, facts) when it is encrypted with KMS.
    pub key: Option<(String, Result<KeyFacts, FetchError>)>,
}

/// The names CDK gives a bootstrap role: `cdk-<qualifier>-<kind>-<account>-<region>`.
pub fn bootstrap_role(qualifier: &str, kind: &str, account: &str, region: &str) -> String {
    format!("cdk-{qualifier}-{kind}-{account}-{region}")
}

/// The bootstrap roles whose KMS use the bootstrap check judges.
pub const BOOTSTRAP_ROLES: &[&str] = &["file-publishing-role", "deploy-role", "cfn-exec-role"];

/// The facts of one run.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub identity: Option<Result<CallerIdentity, FetchError>>,
    pub region: Option<String>,
    /// By the reference used to find them (as given in the spec or by DescribeParameters).
    pub keys: BTreeMap<String, Result<KeyFacts, FetchError>>,
    pub parameters: BTreeMap<String, Result<Option<ParameterInfo>, FetchError>>,
    /// By role name, for roles in Preflight's own account.
    pub roles: BTreeMap<String, Result<RoleFacts, FetchError>>,
    pub bootstrap: Option<BootstrapFacts>,
    /// How many API calls the run made.
    pub calls: usize,
}

/// The API calls in flight, so a run cut short can say what it was waiting for.
#[derive(Debug, Default)]
pub struct Pending {
    next: AtomicU64,
    calls: Mutex<BTreeMap<u64, &'static str>>,
}

/// Removes its call from [`Pending`] when dropped (finished or cancelled).
pub struct PendingGuard<'a> {
    pending: &'a Pending,
    id: u64,
}

impl Pending {
    /// Records `call` as in flight until the guard is dropped.
    pub fn track(&self, call: &'static str) -> PendingGuard<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(id, call);
        }
        PendingGuard { pending: self, id }
    }

    /// The distinct calls in flight now, in the order they started.
    pub fn snapshot(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = self.calls.lock().map(|c| c.values().copied().collect()).unwrap_or_default();
        let mut seen = std::collections::HashSet::new();
        out.retain(|c| seen.insert(*c));
        out
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.pending.calls.lock() {
            calls.remove(&self.id);
        }
    }
}

/// Values computed once per key, shared by every concurrent asker.
struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    fn new() -> Self {
        Self { cells: Mutex::new(HashMap::new()) }
    }

    async fn get<F: Future<Output = V>>(&self, key: &K, fetch: impl FnOnce() -> F) -> V {
        let cell = match self.cells.lock() {
            Ok(mut cells) => Arc::clone(cells.entry(key.clone()).or_insert_with(|| Arc::new(OnceCell::new()))),
            Err(_) => Arc::new(OnceCell::new()),
        };
        cell.get_or_init(fetch).await.clone()
    }
}

/// Concurrent reads per service: enough for a few hundred facts in one or two waves. KMS read
/// quotas are in the thousands per second; IAM's are unpublished (AWS-FACTS 6), so its bound is
/// lower. Throttling is retried by the SDK's adaptive retry mode.
const KMS_CONCURRENCY: usize = 64;
const IAM_CONCURRENCY: usize = 64;
const SSM_CONCURRENCY: usize = 32;

struct Fetcher<'a, S> {
    source: &'a S,
    pending: &'a Pending,
    calls: AtomicUsize,
    kms: Semaphore,
    iam: Semaphore,
    ssm: Semaphore,
    sts: Semaphore,
    s3: Semaphore,
    cfn: Semaphore,
    keys: Memo<String, Result<KeyInfo, FetchError>>,
    policies: Memo<String, Result<String, FetchError>>,
    grants: Memo<String, Result<Vec<Grant>, FetchError>>,
    managed: Memo<String, Result<String, FetchError>>,
}

impl<S: FactSource> Fetcher<'_, S> {
    /// Runs one read under its service's bound, tracked as pending and counted.
    async fn call<T>(&self, limit: &Semaphore, name: &'static str, read: impl Future<Output = T>) -> T {
        let _permit = limit.acquire().await.ok();
        let _guard = self.pending.track(name);
        self.calls.fetch_add(1, Ordering::Relaxed);
        read.await
    }

    async fn key(&self, reference: &str) -> Result<KeyFacts, FetchError> {
        let reference = reference.to_owned();
        let info = self
            .keys
            .get(&reference, || self.call(&self.kms, "kms:DescribeKey", self.source.describe_key(&reference)))
            .await?;
        let arn = info.arn.clone();
        let (policy, grants) = tokio::join!(
            self.policies.get(&arn, || self.call(&self.kms, "kms:GetKeyPolicy", self.source.key_policy(&arn))),
            self.grants.get(&arn, || self.call(&self.kms, "kms:ListGrants", self.source.grants(&arn))),
        );
        Ok(KeyFacts { info, policy, grants })
    }

    async fn managed_policy(&self, arn: &str) -> Result<String, FetchError> {
        let arn = arn.to_owned();
        // GetPolicy then GetPolicyVersion: two calls, counted as such.
        self.managed
            .get(&arn, || async {
                self.calls.fetch_add(1, Ordering::Relaxed);
                self.call(&self.iam, "iam:GetPolicyVersion", self.source.managed_policy(&arn)).await
            })
            .await
    }

    async fn role(&self, name: &str) -> Result<RoleFacts, FetchError> {
        // GetRole, ListRolePolicies and ListAttachedRolePolicies run together: three calls.
        self.calls.fetch_add(2, Ordering::Relaxed);
        let info = self.call(&self.iam, "iam:GetRole", self.source.role(name)).await?;
        let role_name = info.name.as_str();
        let inline = join_all(info.inline_names.iter().map(|p| async move {
            (p.clone(), self.call(&self.iam, "iam:GetRolePolicy", self.source.role_policy(role_name, p)).await)
        }));
        let managed =
            join_all(info.attached_arns.iter().map(|arn| async move { (arn.clone(), self.managed_policy(arn).await) }));
        let boundary = async {
            match &info.boundary_arn {
                Some(arn) => Some((arn.clone(), self.managed_policy(arn).await)),
                None => None,
            }
        };
        let (inline, managed, boundary) = tokio::join!(inline, managed, boundary);
        Ok(RoleFacts { info: info.clone(), inline, managed, boundary })
    }

    /// DescribeParameters for every name, in concurrent batches; then the key of each SecureString.
    async fn parameters(&self, names: &[String]) -> Vec<ParameterFacts> {
        let batches = join_all(names.chunks(crate::aws::PARAMETERS_PER_CALL).map(|chunk| async move {
            (chunk, self.call(&self.ssm, "ssm:DescribeParameters", self.source.parameters(chunk)).await)
        }))
        .await;
        let mut infos: Vec<(String, Result<Option<ParameterInfo>, FetchError>)> = Vec::new();
        for (chunk, result) in batches {
            for name in chunk {
                let info = match &result {
                    Ok(found) => Ok(found.iter().find(|p| same_parameter(&p.name, name)).cloned()),
                    Err(e) => Err(e.clone()),
                };
                infos.push((name.clone(), info));
            }
        }
        join_all(infos.into_iter().map(|(name, info)| async move {
            let key = match &info {
                Ok(Some(p)) if p.kind == "SecureString" => {
                    let reference = p.key_id.clone().unwrap_or_else(|| "alias/aws/ssm".to_owned());
                    let facts = self.key(&reference).await;
                    Some((reference, facts))
                }
                _ => None,
            };
            (name, info, key)
        }))
        .await
    }
}

/// A parameter, and its key when it is a SecureString.
type ParameterFacts =
    (String, Result<Option<ParameterInfo>, FetchError>, Option<(String, Result<KeyFacts, FetchError>)>);

/// Parameter names with and without the leading slash name the same parameter.
fn same_parameter(a: &str, b: &str) -> bool {
    a.trim_start_matches('/') == b.trim_start_matches('/')
}

/// Fetches every fact of `plan` from `source`.
pub async fn fetch<S: FactSource>(plan: &Plan, source: &S, pending: &Pending) -> Facts {
    let f = Fetcher {
        source,
        pending,
        calls: AtomicUsize::new(0),
        kms: Semaphore::new(KMS_CONCURRENCY),
        iam: Semaphore::new(IAM_CONCURRENCY),
        ssm: Semaphore::new(SSM_CONCURRENCY),
        sts: Semaphore::new(1),
        s3: Semaphore::new(4),
        cfn: Semaphore::new(4),
        keys: Memo::new(),
        policies: Memo::new(),
        grants: Memo::new(),
        managed: Memo::new(),
    };
    let mut facts = Facts { region: source.region(), ..Facts::default() };
    if !plan.identity {
        return facts;
    }
    // Parameters and keys do not depend on the account: they start with the identity call. Roles
    // are read only once the account is known (a role of another account cannot be read here).
    let names: Vec<String> = plan.parameters.iter().cloned().collect();
    let params = f.parameters(&names);
    let keys = join_all(plan.keys.iter().map(|k| async { (k.clone(), f.key(k).await) }));
    let region = source.region().unwrap_or_default();
    let bootstrap_first = async {
        match &plan.bootstrap {
            Some((q, stack)) => {
                let version_name = format!("/cdk-bootstrap/{q}/version");
                let (version, stack) = tokio::join!(
                    f.call(&f.ssm, "ssm:GetParameter", source.string_parameter(&version_name)),
                    f.call(&f.cfn, "cloudformation:DescribeStacks", source.stack(stack)),
                );
                Some((version, stack))
            }
            None => None,
        }
    };
    let identity_then_roles = async {
        let identity = f.call(&f.sts, "sts:GetCallerIdentity", source.caller_identity()).await;
        let Ok(account) = identity.as_ref().map(|i| i.account.clone()) else { return (identity, Vec::new()) };
        let bootstrap_roles: Vec<String> = match &plan.bootstrap {
            Some((q, _)) => BOOTSTRAP_ROLES.iter().map(|k| bootstrap_role(q, k, &account, &region)).collect(),
            None => Vec::new(),
        };
        let mut role_names: Vec<String> = plan
            .principals
            .iter()
            .filter(|p| p.account().as_str() == account)
            .filter_map(|p| match p.kind() {
                PrincipalKind::Role { name, .. } => Some(name.clone()),
                PrincipalKind::AssumedRole { role, .. } => Some(role.clone()),
                _ => None,
            })
            .collect();
        role_names.extend(bootstrap_roles);
        role_names.sort();
        role_names.dedup();
        let roles = join_all(role_names.iter().map(|r| async { (r.clone(), f.role(r).await) })).await;
        (identity, roles)
    };
    let (params, keys, (identity, roles), bootstrap) = tokio::join!(params, keys, identity_then_roles, bootstrap_first);
    // The bucket, its encryption and its key: after the stack (its BucketName output) and the account.
    if let (Some((version, stack)), Some((q, _))) = (bootstrap, &plan.bootstrap) {
        let account = identity.as_ref().map(|i| i.account.clone()).unwrap_or_default();
        let bucket = stack
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref())
            .and_then(|s| s.outputs.get("BucketName").cloned())
            .unwrap_or_else(|| format!("cdk-{q}-assets-{account}-{region}"));
        let encryption = f.call(&f.s3, "s3:GetEncryptionConfiguration", source.bucket_encryption(&bucket)).await;
        let key = match &encryption {
            Ok(Some(e)) if e.algorithm.starts_with("aws:kms") => {
                let reference = e.kms_key.clone().unwrap_or_else(|| "alias/aws/s3".to_owned());
                let k = f.key(&reference).await;
                Some((reference, k))
            }
            _ => None,
        };
        facts.bootstrap = Some(BootstrapFacts { version, stack, bucket, encryption, key });
    }
    facts.identity = Some(identity);
    for (name, info, key) in params {
        facts.parameters.insert(name, info);
        if let Some((reference, k)) = key {
            facts.keys.insert(reference, k);
        }
    }
    facts.keys.extend(keys);
    facts.roles.extend(roles);
    facts.calls = f.calls.load(Ordering::Relaxed);
    facts
}
