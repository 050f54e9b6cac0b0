//! Fetch: each planned fact once, concurrently, bounded per service, with the calls in flight
//! always known.
//!
//! Owns scheduling of reads: a distinct fact (a key, a policy document, a role) is read once even
//! when several checks need it at the same moment; independent reads run concurrently, so a run
//! takes as many round trips as the longest chain of dependent reads (identity, then parameter ->
//! key -> key policy, or role -> policy documents). Decides nothing: results, errors included, go to
//! `checks` as they are.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::future::join_all;
use tokio::sync::{OnceCell, Semaphore};

use crate::arn::PrincipalKind;
use crate::aws::{CallerIdentity, FactSource, FetchError, KeyInfo, ParameterInfo, ZoneInfo};
use crate::facts::{SECRETS_MANAGER_KEY, SecretFacts};

/// A record set's values, or `None` when there is none.
type RecordValues = Result<Option<Vec<String>>, FetchError>;
use crate::delegation::Lookup;
use crate::dns::{self, Walker};
pub use crate::facts::{
    ApiDelegation, BOOTSTRAP_ROLES, BootstrapFacts, Cut, Facts, HostedZoneFacts, KeyFacts, RoleFacts, bootstrap_role,
    is_within,
};
use crate::kms::Grant;
use crate::plan::Plan;

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
/// quotas are in the thousands per second; IAM's are unpublished (docs/aws-facts.md 6), so its bound is
/// lower. Throttling is retried by the SDK's adaptive retry mode.
const KMS_CONCURRENCY: usize = 64;
const IAM_CONCURRENCY: usize = 64;
const SSM_CONCURRENCY: usize = 32;
const SECRETS_CONCURRENCY: usize = 32;
/// Route 53's API quota is small and shared with the deploy itself (docs/aws-facts.md 5).
const ROUTE53_CONCURRENCY: usize = 4;
/// Parent zones followed by the API fallback (`a.b.example.com` -> `b.example.com` -> ...).
const API_DEPTH: usize = 4;

struct Fetcher<'a, S> {
    source: &'a S,
    pending: &'a Pending,
    calls: AtomicUsize,
    kms: Semaphore,
    iam: Semaphore,
    ssm: Semaphore,
    secrets: Semaphore,
    sts: Semaphore,
    s3: Semaphore,
    cfn: Semaphore,
    route53: Semaphore,
    zones: Memo<String, Result<ZoneInfo, FetchError>>,
    named: Memo<String, Result<Vec<ZoneInfo>, FetchError>>,
    records: Memo<(String, String), RecordValues>,
    keys: Memo<String, Result<KeyInfo, FetchError>>,
    policies: Memo<String, Result<String, FetchError>>,
    grants: Memo<String, Result<Vec<Grant>, FetchError>>,
    managed: Memo<String, Result<String, FetchError>>,
    /// By secret ARN: a secret named by its name in one place and its ARN in another is described
    /// twice (the name must be looked up), its policy read once.
    secret_policies: Memo<String, Result<Option<String>, FetchError>>,
    identity: OnceCell<Result<CallerIdentity, FetchError>>,
}

impl<S: FactSource> Fetcher<'_, S> {
    /// Who Preflight runs as: read once, shared by the roles (which need the account) and the
    /// keys (whose policy only their own account can read).
    async fn identity(&self) -> &Result<CallerIdentity, FetchError> {
        self.identity.get_or_init(|| self.call(&self.sts, "sts:GetCallerIdentity", self.source.caller_identity())).await
    }

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
        // GetKeyPolicy works only in the key's own account ("Cross-account use: No", AWS KMS API
        // Reference, GetKeyPolicy; docs/aws-facts.md 1.17): for another account's key it is not
        // tried, and the policy is unknown for that reason. ListGrants works across accounts.
        let policy = async {
            let ours = self.identity().await.as_ref().ok().map(|i| i.account.clone());
            match (ours, crate::kms::key_account(&arn)) {
                (Some(ours), Some(theirs)) if ours != theirs => Err(FetchError::NotRead {
                    what: "the key policy",
                    why: format!(
                        "the key belongs to account {theirs}, and KMS allows GetKeyPolicy only in the key's own account; that account can read it"
                    ),
                }),
                _ => {
                    self.policies
                        .get(&arn, || self.call(&self.kms, "kms:GetKeyPolicy", self.source.key_policy(&arn)))
                        .await
                }
            }
        };
        let (policy, grants) = tokio::join!(
            policy,
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
                Ok(Some(ParameterInfo { kind, key_id: Some(reference), .. })) if kind == "SecureString" => {
                    let facts = self.key(reference).await;
                    Some((reference.clone(), facts))
                }
                _ => None,
            };
            (name, info, key)
        }))
        .await
    }
}

impl<S: FactSource> Fetcher<'_, S> {
    /// DescribeSecret, then its resource policy and its key together. A secret without a key of
    /// its own is under this account's `aws/secretsmanager` key only when it is this account's.
    async fn secret(&self, id: &str) -> SecretRead {
        let described =
            self.call(&self.secrets, "secretsmanager:DescribeSecret", self.source.describe_secret(id)).await;
        let info = match described {
            Ok(Some(info)) => info,
            Ok(None) => return (Ok(None), None),
            Err(e) => return (Err(e), None),
        };
        let arn = info.arn.clone();
        let policy = self.secret_policies.get(&arn, || {
            self.call(&self.secrets, "secretsmanager:GetResourcePolicy", self.source.secret_policy(&arn))
        });
        let key = async {
            let reference = match &info.kms_key_id {
                Some(k) => k.clone(),
                None => {
                    let ours = self.identity().await.as_ref().ok().map(|i| i.account.clone());
                    if ours.as_deref() != info.arn.split(':').nth(4) {
                        return None;
                    }
                    SECRETS_MANAGER_KEY.to_owned()
                }
            };
            let facts = self.key(&reference).await;
            Some((reference, facts))
        };
        let (policy, key) = tokio::join!(policy, key);
        (Ok(Some(SecretFacts { info, policy })), key)
    }

    async fn zone(&self, id: &str) -> Result<ZoneInfo, FetchError> {
        let id = id.to_owned();
        self.zones.get(&id, || self.call(&self.route53, "route53:GetHostedZone", self.source.hosted_zone(&id))).await
    }

    /// The public zones named `name`, each with its name servers.
    async fn namesakes(&self, name: &str) -> Result<Vec<ZoneInfo>, FetchError> {
        let name = name.to_owned();
        let listed = self
            .named
            .get(&name, || self.call(&self.route53, "route53:ListHostedZonesByName", self.source.zones_named(&name)))
            .await?;
        let public: Vec<&ZoneInfo> = listed.iter().filter(|z| !z.private).collect();
        join_all(public.iter().map(|z| self.zone(&z.id))).await.into_iter().collect()
    }

    async fn record(&self, zone_id: &str, name: &str, kind: &str) -> RecordValues {
        let key = (zone_id.to_owned(), format!("{name} {kind}"));
        self.records
            .get(&key, || {
                self.call(&self.route53, "route53:ListResourceRecordSets", self.source.record_set(zone_id, name, kind))
            })
            .await
    }

    /// The NS record set at or above `record` inside zone `zone` (below its apex), if any.
    async fn cut(&self, zone: &ZoneInfo, record: &str) -> Result<Option<Cut>, FetchError> {
        let between = names_between(&zone.name, record);
        let found =
            join_all(between.iter().map(|n| async move { (n.clone(), self.record(&zone.id, n, "NS").await) })).await;
        // The highest cut decides: everything below it is served by other servers.
        for (name, result) in found {
            if let Some(ns) = result? {
                return Ok(Some((name, ns.iter().map(|n| dns::normalise_ns(n)).collect())));
            }
        }
        Ok(None)
    }

    /// The delegation of `apex` from the account's own records, for when the DNS cannot be reached.
    async fn api_delegation(&self, apex: &str, depth: usize) -> ApiDelegation {
        let mut notes: Vec<String> = Vec::new();
        match self.call(&self.route53, "route53domains:GetDomainDetail", self.source.domain_name_servers(apex)).await {
            Ok(Some(ns)) => {
                return ApiDelegation::Found {
                    ns: ns.into_iter().collect(),
                    source: format!("the Route 53 Domains registration of {apex} in this account"),
                };
            }
            Ok(None) => notes.push(format!("{apex} is not registered with Route 53 Domains in this account")),
            Err(e) => notes.push(e.to_string()),
        }
        if depth < API_DEPTH {
            // Candidate parents are looked up in the account by name; one only counts once it is
            // itself shown to be delegated, and its own NS records then give the delegation.
            for parent in ancestors(apex) {
                let zones = match self.namesakes(&parent).await {
                    Ok(z) => z,
                    Err(e) => {
                        notes.push(e.to_string());
                        continue;
                    }
                };
                if zones.is_empty() {
                    continue;
                }
                let upper = Box::pin(self.api_delegation(&parent, depth + 1)).await;
                let ApiDelegation::Found { ns: parent_ns, source: parent_source } = &upper else {
                    notes.push(format!(
                        "the account hosts {} zone(s) named {parent}, but none can be shown to be delegated",
                        zones.len()
                    ));
                    break;
                };
                let Some(z) =
                    zones.iter().find(|z| z.name_servers.iter().cloned().collect::<BTreeSet<_>>() == *parent_ns)
                else {
                    notes.push(format!("no zone named {parent} in this account is the one {parent_source} names"));
                    break;
                };
                // An NS cut between the parent zone and the apex hands the apex to other servers.
                for middle in names_between(&parent, apex).iter().filter(|n| n.as_str() != apex) {
                    match self.record(&z.id, middle, "NS").await {
                        Ok(Some(_)) => {
                            return ApiDelegation::Unknown {
                                why: format!(
                                    "{middle} is delegated out of zone {} ({parent}), and its servers are not hosted here",
                                    z.id
                                ),
                            };
                        }
                        Ok(None) => {}
                        Err(e) => return ApiDelegation::Unknown { why: e.to_string() },
                    }
                }
                let source = format!(
                    "the NS records of {apex} in zone {} ({parent}), itself delegated per {parent_source}",
                    z.id
                );
                return match self.record(&z.id, apex, "NS").await {
                    Ok(Some(ns)) => {
                        ApiDelegation::Found { ns: ns.iter().map(|n| dns::normalise_ns(n)).collect(), source }
                    }
                    Ok(None) => ApiDelegation::NotDelegated {
                        source: format!(
                            "zone {} ({parent}), itself delegated per {parent_source}, has no NS records for {apex}",
                            z.id
                        ),
                    },
                    Err(e) => ApiDelegation::Unknown { why: e.to_string() },
                };
            }
        }
        ApiDelegation::Unknown { why: notes.join("; ") }
    }

    async fn hosted_zone(&self, spec: &crate::spec::HostedZone, walker: &Walker) -> HostedZoneFacts {
        let zone = self.zone(&spec.zone_id).await;
        let Ok(info) = &zone else {
            return HostedZoneFacts { zone, namesakes: Ok(vec![]), lookup: None, api: None, cuts: BTreeMap::new() };
        };
        let inside: Vec<&String> =
            spec.record_names.iter().filter(|r| is_within(r, &info.name) && r.as_str() != info.name).collect();
        let cuts = join_all(inside.iter().map(|r| async move { ((*r).clone(), self.cut(info, r).await) }));
        let lookup = async {
            if info.private {
                return None;
            }
            let _guard = self.pending.track("dns:delegation lookup");
            Some(walker.delegation(&info.name).await)
        };
        let (namesakes, cuts, lookup) = tokio::join!(self.namesakes(&info.name), cuts, lookup);
        let api = match &lookup {
            Some(Lookup { delegation: dns::Delegation::Unreachable { .. }, .. }) => {
                Some(self.api_delegation(&info.name, 0).await)
            }
            _ => None,
        };
        HostedZoneFacts { zone, namesakes, lookup, api, cuts: cuts.into_iter().collect() }
    }
}

/// The names from just below `zone` down to `name` itself, highest first (`a.b.example.com` in
/// `example.com`: `b.example.com`, `a.b.example.com`).
fn names_between(zone: &str, name: &str) -> Vec<String> {
    let Some(head) = name.strip_suffix(zone).and_then(|h| h.strip_suffix('.')) else { return vec![] };
    let labels: Vec<&str> = head.split('.').collect();
    (1..=labels.len())
        .map(|n| {
            let mut parts: Vec<&str> = labels.iter().rev().take(n).rev().copied().collect();
            parts.push(zone);
            parts.join(".")
        })
        .collect()
}

/// The names above `name`, nearest first, down to two labels (`a.b.example.com`: `b.example.com`,
/// `example.com`). Only candidates to look up in the account, never taken for the DNS parent.
fn ancestors(name: &str) -> Vec<String> {
    let labels: Vec<&str> = name.split('.').collect();
    (1..labels.len().saturating_sub(1)).filter_map(|i| labels.get(i..).map(|l| l.join("."))).collect()
}

/// A parameter, and its key when it is a SecureString.
type ParameterFacts =
    (String, Result<Option<ParameterInfo>, FetchError>, Option<(String, Result<KeyFacts, FetchError>)>);

/// A secret, and its key.
type SecretRead = (Result<Option<SecretFacts>, FetchError>, Option<(String, Result<KeyFacts, FetchError>)>);

/// Parameter names with and without the leading slash name the same parameter.
fn same_parameter(a: &str, b: &str) -> bool {
    a.trim_start_matches('/') == b.trim_start_matches('/')
}

/// Fetches every fact of `plan` from `source`.
pub async fn fetch<S: FactSource>(plan: &Plan, source: &S, pending: &Pending) -> Facts {
    fetch_as(plan, source, pending, None).await
}

/// As [`fetch`], with the identity already known (`None`: read it).
pub async fn fetch_as<S: FactSource>(
    plan: &Plan,
    source: &S,
    pending: &Pending,
    identity: Option<CallerIdentity>,
) -> Facts {
    let f = Fetcher {
        source,
        pending,
        calls: AtomicUsize::new(0),
        kms: Semaphore::new(KMS_CONCURRENCY),
        iam: Semaphore::new(IAM_CONCURRENCY),
        ssm: Semaphore::new(SSM_CONCURRENCY),
        secrets: Semaphore::new(SECRETS_CONCURRENCY),
        sts: Semaphore::new(1),
        s3: Semaphore::new(4),
        cfn: Semaphore::new(4),
        route53: Semaphore::new(ROUTE53_CONCURRENCY),
        zones: Memo::new(),
        named: Memo::new(),
        records: Memo::new(),
        keys: Memo::new(),
        policies: Memo::new(),
        grants: Memo::new(),
        managed: Memo::new(),
        secret_policies: Memo::new(),
        identity: OnceCell::new_with(identity.map(Ok)),
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
    let secrets = join_all(plan.secrets.iter().map(|id| async { (id.clone(), f.secret(id).await) }));
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
        let identity = f.identity().await.clone();
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
        role_names.retain(|r| !plan.planned_roles.contains(r));
        role_names.sort();
        role_names.dedup();
        let roles = join_all(role_names.iter().map(|r| async { (r.clone(), f.role(r).await) })).await;
        (identity, roles)
    };
    let walker = Walker::new(&plan.dns_roots);
    let zone =
        join_all(plan.hosted_zones.iter().map(|z| async { (z.zone_id.clone(), f.hosted_zone(z, &walker).await) }));
    let managed =
        join_all(plan.managed_policies.iter().map(|arn| async { (arn.clone(), f.managed_policy(arn).await) }));
    let (params, keys, secrets, (identity, roles), bootstrap, zone, managed) =
        tokio::join!(params, keys, secrets, identity_then_roles, bootstrap_first, zone, managed);
    for (id, (secret, key)) in secrets {
        facts.secrets.insert(id, secret);
        if let Some((reference, k)) = key {
            facts.keys.insert(reference, k);
        }
    }
    facts.managed_policies.extend(managed);
    facts.hosted_zones.extend(zone);
    // The bucket, its encryption and its key: after the stack (its BucketName output) and the account.
    if let (Some((version, stack)), Some((q, _))) = (bootstrap, &plan.bootstrap) {
        let bucket = match (&identity, &stack) {
            (Err(e), _) => Err(format!("the account was not identified: {e}")),
            (_, Err(e)) => Err(format!("its name is the toolkit stack's BucketName output, which was not read: {e}")),
            (_, Ok(Some(s))) => match s.outputs.get("BucketName") {
                Some(name) if !name.is_empty() => Ok(name.clone()),
                _ => Err("the toolkit stack has no BucketName output".to_owned()),
            },
            // No toolkit stack: the name CDK gives the bucket, for the checks that still apply.
            (Ok(i), Ok(None)) => Ok(format!("cdk-{q}-assets-{}-{region}", i.account)),
        };
        let encryption = match &bucket {
            Ok(b) => f.call(&f.s3, "s3:GetEncryptionConfiguration", source.bucket_encryption(b)).await,
            Err(why) => Err(FetchError::NotRead { what: "the assets bucket", why: why.clone() }),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_a_zone_and_candidate_parents() {
        assert!(is_within("_x.example.com", "example.com") && is_within("example.com", "example.com"));
        assert!(!is_within("badexample.com", "example.com") && !is_within("example.org", "example.com"));
        assert_eq!(names_between("example.com", "a.b.example.com"), ["b.example.com", "a.b.example.com"]);
        assert!(names_between("example.com", "example.org").is_empty());
        assert_eq!(ancestors("a.b.example.co.uk"), ["b.example.co.uk", "example.co.uk", "co.uk"]);
        assert!(ancestors("example.com").is_empty());
    }

    /// Reads only what a key needs, and counts GetKeyPolicy calls.
    struct OneKey {
        account: &'static str,
        key_arn: &'static str,
        policy_reads: AtomicUsize,
    }

    fn not_here<T>() -> Result<T, FetchError> {
        Err(FetchError::NotRead { what: "this fact", why: "not part of the test".into() })
    }

    impl crate::aws::StsReads for OneKey {
        async fn caller_identity(&self) -> Result<CallerIdentity, FetchError> {
            Ok(CallerIdentity {
                account: self.account.into(),
                arn: format!("arn:aws:iam::{}:role/preflight", self.account),
            })
        }
        fn region(&self) -> Option<String> {
            Some("us-east-1".into())
        }
    }
    impl crate::aws::KmsReads for OneKey {
        async fn describe_key(&self, _key: &str) -> Result<KeyInfo, FetchError> {
            Ok(KeyInfo {
                arn: self.key_arn.into(),
                key_id: "k".into(),
                manager: crate::facts::KeyManager::Customer,
                state: crate::kms::KeyState::Enabled,
                usage: "ENCRYPT_DECRYPT".into(),
                spec: "SYMMETRIC_DEFAULT".into(),
            })
        }
        async fn key_policy(&self, _key_arn: &str) -> Result<String, FetchError> {
            self.policy_reads.fetch_add(1, Ordering::SeqCst);
            Ok("{}".into())
        }
        async fn grants(&self, _key_arn: &str) -> Result<Vec<Grant>, FetchError> {
            Ok(vec![])
        }
    }
    impl crate::aws::SsmReads for OneKey {
        async fn parameters(&self, _names: &[String]) -> Result<Vec<ParameterInfo>, FetchError> {
            not_here()
        }
        async fn string_parameter(&self, _name: &str) -> Result<Option<String>, FetchError> {
            not_here()
        }
    }
    impl crate::aws::SecretsReads for OneKey {
        async fn describe_secret(&self, _id: &str) -> Result<Option<crate::facts::SecretInfo>, FetchError> {
            not_here()
        }
        async fn secret_policy(&self, _arn: &str) -> Result<Option<String>, FetchError> {
            not_here()
        }
    }
    impl crate::aws::IamReads for OneKey {
        async fn role(&self, _name: &str) -> Result<crate::facts::RoleInfo, FetchError> {
            not_here()
        }
        async fn role_policy(&self, _role: &str, _policy: &str) -> Result<String, FetchError> {
            not_here()
        }
        async fn managed_policy(&self, _arn: &str) -> Result<String, FetchError> {
            not_here()
        }
    }
    impl crate::aws::S3Reads for OneKey {
        async fn bucket_encryption(&self, _bucket: &str) -> Result<Option<crate::facts::BucketEncryption>, FetchError> {
            not_here()
        }
    }
    impl crate::aws::CloudFormationReads for OneKey {
        async fn stack(&self, _name: &str) -> Result<Option<crate::facts::StackInfo>, FetchError> {
            not_here()
        }
    }
    impl crate::aws::Route53Reads for OneKey {
        async fn hosted_zone(&self, _id: &str) -> Result<ZoneInfo, FetchError> {
            not_here()
        }
        async fn zones_named(&self, _name: &str) -> Result<Vec<ZoneInfo>, FetchError> {
            not_here()
        }
        async fn record_set(
            &self,
            _zone_id: &str,
            _name: &str,
            _kind: &str,
        ) -> Result<Option<Vec<String>>, FetchError> {
            not_here()
        }
        async fn domain_name_servers(&self, _domain: &str) -> Result<Option<Vec<String>>, FetchError> {
            not_here()
        }
    }

    #[tokio::test]
    async fn another_accounts_key_policy_is_not_asked_for() {
        let plan = |key: &str| Plan { identity: true, keys: [key.to_owned()].into(), ..Plan::default() };
        let theirs = "arn:aws:kms:us-east-1:222222222222:key/k";
        let source = OneKey { account: "111111111111", key_arn: theirs, policy_reads: AtomicUsize::new(0) };
        let facts = fetch(&plan(theirs), &source, &Pending::default()).await;
        let key = facts.keys.get(theirs).unwrap().as_ref().unwrap();
        let why = key.policy.as_ref().unwrap_err().to_string();
        assert!(why.contains("KMS allows GetKeyPolicy only in the key's own account"), "{why}");
        assert_eq!(source.policy_reads.load(Ordering::SeqCst), 0, "never tried");
        assert!(key.grants.is_ok(), "ListGrants works across accounts");

        let ours = "arn:aws:kms:us-east-1:111111111111:key/k";
        let source = OneKey { account: "111111111111", key_arn: ours, policy_reads: AtomicUsize::new(0) };
        let facts = fetch(&plan(ours), &source, &Pending::default()).await;
        assert!(facts.keys.get(ours).unwrap().as_ref().unwrap().policy.is_ok());
        assert_eq!(source.policy_reads.load(Ordering::SeqCst), 1);
    }
}
