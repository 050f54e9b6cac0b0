//! The run as a whole: a section that could not be checked at all, because Preflight could not
//! tell which account and region it runs in.

use serde::Serialize;

use super::Unread;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Said {
    /// `what` was not checked: the run has no account or region to check in.
    NotChecked { what: Section, why: Blocker },
}

/// A section of the spec, as the run names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "section", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Section {
    Bootstrap { qualifier: String },
    HostedZone { zone_id: String },
    Parameter { name: String },
    Secret { secret: String },
    Key { key: String },
    KeyPolicy { index: usize },
}

/// Why nothing could be checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "blocker", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Blocker {
    /// sts:GetCallerIdentity failed.
    Identity {
        unread: Unread,
    },
    /// The identity was never read.
    IdentityNotRead,
    NoRegion,
}

impl Said {
    pub(super) fn sentence(&self) -> String {
        match self {
            Said::NotChecked { what, why } => {
                let what = match what {
                    Section::Bootstrap { qualifier } => format!("the CDK bootstrap environment `{qualifier}`"),
                    Section::HostedZone { zone_id } => format!("hosted zone `{zone_id}`"),
                    Section::Parameter { name } => format!("parameter `{name}`"),
                    Section::Secret { secret } => format!("secret `{secret}`"),
                    Section::Key { key } => format!("key `{key}`"),
                    Section::KeyPolicy { index } => format!("key policy KeyPolicies[{index}]"),
                };
                let why = match why {
                    Blocker::Identity { unread } => {
                        format!("could not identify the account Preflight runs in: {}", unread.error)
                    }
                    Blocker::IdentityNotRead => "the account Preflight runs in was not read".to_owned(),
                    Blocker::NoRegion => "no AWS region is configured".to_owned(),
                };
                format!("{what} was not checked: {why}")
            }
        }
    }

    pub(super) fn fix(&self) -> Option<String> {
        match self {
            Said::NotChecked { .. } => {
                Some("give Preflight working credentials and a region, then run again".to_owned())
            }
        }
    }
}
