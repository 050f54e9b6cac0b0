//! Preflight: a deploy-time guardrail for CloudFormation and CDK stacks.
//!
//! A run is plan (which facts a spec needs), fetch (each fact once, from AWS), judge (pure checks),
//! then a [`Report`] rendered for a terminal, as JSON, or as a CloudFormation custom resource
//! response. The library holds all of it; the `preflight` and `preflight-lambda` binaries are thin.

pub mod arn;
pub mod aws;
pub mod cfn;
pub mod checks;
pub mod dns;
pub mod fetch;
pub mod kms;
pub mod plan;
pub mod policy;
pub mod report;
pub mod simulate;
pub mod spec;

pub use report::{Finding, Report, Status, Verdict};
pub use spec::Spec;

use aws::FactSource;
use fetch::Pending;

/// Runs every check of `spec` against `source`; `pending` tracks the calls in flight.
pub async fn run<S: FactSource>(spec: &Spec, source: &S, pending: &Pending) -> Report {
    let plan = plan::Plan::for_spec(spec);
    let facts = fetch::fetch(&plan, source, pending).await;
    let mut report = Report::new(checks::judge(spec, &facts), spec.options.on_unknown);
    report.region = facts.region.clone();
    report.account = facts.identity.as_ref().and_then(|i| i.as_ref().ok()).map(|i| i.account.clone());
    report
}
