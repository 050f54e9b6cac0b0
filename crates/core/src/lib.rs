//! Preflight's pure core: everything that decides, nothing that talks to the network.
//!
//! The IAM policy language ([`policy`]), KMS authorization ([`kms`]), the spec ([`spec`]), the plan
//! of facts a spec needs ([`plan`]), the facts as read ([`facts`], [`delegation`]), the checks that
//! judge them ([`checks`]), the report ([`report`]) and the offline simulator ([`simulate`]). No
//! AWS SDK, no async runtime, no DNS library: the `preflight` crate fetches the facts and runs the
//! binaries. See docs/architecture.md.

pub mod arn;
pub mod checks;
pub mod delegation;
pub mod document;
pub mod facts;
pub mod kms;
pub mod plan;
pub mod policy;
pub mod report;
pub mod said;
pub mod simulate;
pub mod spec;
pub mod stack;

pub use report::{Finding, Report, Status, Verdict};
pub use spec::Spec;
