//! Preflight: a deploy-time guardrail for CloudFormation and CDK stacks.
//!
//! A run is plan (which facts a spec needs), fetch (each fact once, from AWS), judge (pure checks),
//! then a [`Report`] rendered for a terminal, as JSON, or as a CloudFormation custom resource
//! response. Deciding lives in the pure `preflight-core` crate, re-exported here; this crate holds
//! the edges that do I/O: the AWS reads ([`aws`], [`fetch`]), the delegation walk ([`dns`]) and the
//! custom resource protocol ([`cfn`]). The `preflight` and `preflight-lambda` binaries are thin.

pub mod aws;
pub mod cfn;
pub mod dns;
pub mod fetch;

pub use preflight_core::{
    Finding, Report, Spec, Status, Verdict, arn, checks, delegation, document, facts, kms, plan, policy, report,
    simulate, spec, stack,
};

use aws::FactSource;
use fetch::Pending;

/// Runs every check of `spec` against `source`; `pending` tracks the calls in flight.
pub async fn run<S: FactSource>(spec: &Spec, source: &S, pending: &Pending) -> Report {
    run_planned(spec, &stack::planned::Planned::default(), source, pending).await
}

/// The report of a run that could not start: Preflight's AWS configuration is unusable (`why`,
/// for example an empty `AWS_ENDPOINT_URL`). Every section of `spec` is reported not checked, with
/// that reason, and the run is blocked: the same report as a run whose identity could not be read.
pub fn run_unconfigured(spec: &Spec, why: &str) -> Report {
    let facts = facts::Facts {
        identity: Some(Err(facts::FetchError::NotRead {
            what: "the account Preflight runs in",
            why: format!("Preflight's AWS configuration is unusable: {why}"),
        })),
        ..facts::Facts::default()
    };
    let mut report = Report::new(checks::judge(spec, &facts), spec.options.on_unknown);
    report.blocked = Some(format!("its AWS configuration is unusable: {why}"));
    report
}

/// As [`run`], with the roles and keys a stack will create judged from their template
/// definitions (`planned`) in place of reads from IAM and KMS.
pub async fn run_planned<S: FactSource>(
    spec: &Spec,
    planned: &stack::planned::Planned,
    source: &S,
    pending: &Pending,
) -> Report {
    run_planned_as(spec, planned, source, pending, None).await
}

/// As [`run_planned`], with the identity Preflight runs as when it was already read (to infer the
/// stacks' checks): it is not asked again.
pub async fn run_planned_as<S: FactSource>(
    spec: &Spec,
    planned: &stack::planned::Planned,
    source: &S,
    pending: &Pending,
    identity: Option<facts::CallerIdentity>,
) -> Report {
    let plan = plan::Plan::for_spec(spec).with_planned(&planned.roles);
    let fetched = fetch::fetch_as(&plan, source, pending, identity).await;
    let managed = fetched.managed_policies.clone();
    let facts = fetched.with_planned(&planned.roles, &managed).with_planned_keys(&planned.keys);
    let mut report = Report::new(checks::judge(spec, &facts), spec.options.on_unknown);
    report.region = facts.region.clone();
    report.account = facts.identity.as_ref().and_then(|i| i.as_ref().ok()).map(|i| i.account.clone());
    report.blocked = match (&facts.identity, &facts.region) {
        (Some(Err(e)), _) => Some(format!("it could not identify the account (sts:GetCallerIdentity): {e}")),
        (Some(Ok(_)), None) => Some("no AWS region is configured".to_owned()),
        _ => None,
    };
    report
}
