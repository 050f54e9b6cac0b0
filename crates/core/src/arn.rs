//! Typed identifiers that arrive as text: IAM principal ARNs, account ids, KMS key references.
//!
//! Owns parsing and printing of these identifiers only; it knows nothing of policies or AWS calls.

use std::fmt;

/// Why a text is not the identifier asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    #[error("not a 12-digit AWS account id: `{0}`")]
    Account(String),
    #[error("not an IAM principal ARN ({why}): `{text}`")]
    Principal { text: String, why: &'static str },
    #[error("not a KMS key id, key ARN, alias name or alias ARN: `{0}` (expected e.g. `alias/app-data` or a key id)")]
    Key(String),
}

/// A 12-digit AWS account id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Parses a 12-digit account id.
    pub fn parse(text: &str) -> Result<Self, ArnError> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ArnError::Account(text.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an IAM principal ARN names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrincipalKind {
    /// `arn:aws:iam::ACCOUNT:root`: the account (delegation to its IAM policies in a policy).
    Root,
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    Role { path: String, name: String },
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`.
    User { path: String, name: String },
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    AssumedRole { role: String, session: String },
}

/// An IAM principal ARN: a role, user, role session or account root.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrincipalArn {
    partition: String,
    account: AccountId,
    kind: PrincipalKind,
}

impl PrincipalArn {
    /// Parses an IAM role, user, assumed-role session or account root ARN.
    pub fn parse(text: &str) -> Result<Self, ArnError> {
        let bad = |why: &'static str| ArnError::Principal { text: text.to_owned(), why };
        let mut parts = text.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected arn:PARTITION:iam::ACCOUNT:role/NAME"));
        };
        if !is_partition(partition) {
            return Err(bad("unknown partition"));
        }
        if service != "iam" && service != "sts" {
            return Err(bad("the service must be iam or sts"));
        }
        if !region.is_empty() {
            return Err(bad("IAM and STS ARNs have no region"));
        }
        let account = AccountId::parse(account).map_err(|_| bad("the account must be 12 digits"))?;
        let kind = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => PrincipalKind::Root,
            ("iam", Some(("role", rest))) => {
                let (path, name) = split_path(rest)
                    .map_err(|why| if why == "empty name" { bad("empty role name") } else { bad(why) })?;
                PrincipalKind::Role { path, name }
            }
            ("iam", Some(("user", rest))) => {
                let (path, name) = split_path(rest)
                    .map_err(|why| if why == "empty name" { bad("empty user name") } else { bad(why) })?;
                PrincipalKind::User { path, name }
            }
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, session)) if valid_name(role) && !session.is_empty() && !session.contains('/') => {
                    PrincipalKind::AssumedRole { role: role.to_owned(), session: session.to_owned() }
                }
                _ => return Err(bad("expected assumed-role/ROLE/SESSION")),
            },
            _ => return Err(bad("expected root, role/NAME, user/NAME or assumed-role/ROLE/SESSION")),
        };
        Ok(Self { partition: partition.to_owned(), account, kind })
    }

    /// The account the principal belongs to.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// What the ARN names.
    pub fn kind(&self) -> &PrincipalKind {
        &self.kind
    }

    /// The partition (`aws`, `aws-cn`, `aws-us-gov`, ...).
    pub fn partition(&self) -> &str {
        &self.partition
    }
}

impl fmt::Display for PrincipalArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, a) = (&self.partition, &self.account);
        match &self.kind {
            PrincipalKind::Root => write!(f, "arn:{p}:iam::{a}:root"),
            PrincipalKind::Role { path, name } => write!(f, "arn:{p}:iam::{a}:role{path}{name}"),
            PrincipalKind::User { path, name } => write!(f, "arn:{p}:iam::{a}:user{path}{name}"),
            PrincipalKind::AssumedRole { role, session } => write!(f, "arn:{p}:sts::{a}:assumed-role/{role}/{session}"),
        }
    }
}

/// A reference to a KMS key in any form the KMS API accepts as a `KeyId`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyRef {
    /// A key id: a UUID or a multi-Region `mrk-` id.
    Id(String),
    /// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
    KeyArn(String),
    /// `alias/NAME`.
    Alias(String),
    /// `arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME`.
    AliasArn(String),
    /// A key the stack creates (`AWS::KMS::Key`), before it exists: `STACK/LOGICAL_ID` (the
    /// logical id alone when the stack's name is not known). Never parsed from a spec: only the
    /// stack model names one, and its facts come from the template, not from KMS.
    Planned(String),
}

impl KeyRef {
    /// Parses a key id, key ARN, alias name or alias ARN.
    pub fn parse(text: &str) -> Result<Self, ArnError> {
        let bad = || ArnError::Key(text.to_owned());
        if let Some(name) = text.strip_prefix("alias/") {
            return if valid_alias_name(name) { Ok(Self::Alias(text.to_owned())) } else { Err(bad()) };
        }
        if text.starts_with("arn:") {
            let parts: Vec<&str> = text.splitn(6, ':').collect();
            let [_, partition, "kms", region, account, resource] = parts.as_slice() else {
                return Err(bad());
            };
            if !is_partition(partition) || !is_region(region) || AccountId::parse(account).is_err() {
                return Err(bad());
            }
            return match resource.split_once('/') {
                Some(("key", id)) if is_key_id(id) => Ok(Self::KeyArn(text.to_owned())),
                Some(("alias", name)) if valid_alias_name(name) => Ok(Self::AliasArn(text.to_owned())),
                _ => Err(bad()),
            };
        }
        if is_key_id(text) { Ok(Self::Id(text.to_owned())) } else { Err(bad()) }
    }

    /// The reference as given.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Id(s) | Self::KeyArn(s) | Self::Alias(s) | Self::AliasArn(s) | Self::Planned(s) => s,
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `STACK/LOGICAL_ID` of a key the stack creates, from the ARN that stands in for it
/// (`arn:aws:kms:REGION:ACCOUNT:key/STACK/LOGICAL_ID`; no real key id holds a `/`); `None` for a
/// real key ARN.
pub fn planned_key_name(key_arn: &str) -> Option<&str> {
    let (_, id) = key_arn.split_once(":key/")?;
    (!is_key_id(id)).then_some(id)
}

/// Whether `text` is a service principal name: `NAME.amazonaws.com`, `NAME.REGION.amazonaws.com`
/// or the China partition's `.amazonaws.com.cn` (IAM User Guide, "AWS service principals").
pub fn is_service_principal(text: &str) -> bool {
    let Some(head) = text.strip_suffix(".amazonaws.com").or_else(|| text.strip_suffix(".amazonaws.com.cn")) else {
        return false;
    };
    !head.is_empty()
        && head.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The path and name of `role/...` or `user/...`, or what is wrong with the name.
fn split_path(rest: &str) -> Result<(String, String), &'static str> {
    let (path, name) = match rest.rsplit_once('/') {
        Some((path, name)) => (format!("/{path}/"), name),
        None => ("/".to_owned(), rest),
    };
    if name.is_empty() {
        return Err("empty name");
    }
    if valid_name(name) {
        Ok((path, name.to_owned()))
    } else {
        // IAM User Guide, "IAM object quotas": names of up to 128 of these characters.
        Err("a name has only ASCII letters, digits and + = , . @ _ -, at most 128 of them")
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

fn valid_alias_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 250 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
}

/// Whether two role names name the same role. IAM role names are unique without regard to case
/// ("Role names must be unique within your AWS account. They are not distinguished by case", IAM
/// User Guide, "Creating IAM roles" and "IAM and AWS STS quotas"), and a role ARN in a Principal
/// element is saved as the role's unique id (IAM User Guide, "AWS JSON policy elements:
/// Principal"): a principal naming `role/MyRole` names the role `myrole`. Condition keys such as
/// `aws:PrincipalArn` are compared as strings, by their operator's own rules.
pub fn same_role_name(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The partition a region belongs to (`cn-north-1`: `aws-cn`), by the regions' documented prefixes
/// (AWS General Reference, "AWS service endpoints", partitions).
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b`, ...
pub fn is_partition(text: &str) -> bool {
    text == "aws"
        || text
            .strip_prefix("aws-")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

/// A region name such as `ap-northeast-1` or `us-gov-west-1`.
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.split_last() {
        Some((last, rest)) if rest.len() >= 2 => {
            !last.is_empty()
                && last.bytes().all(|b| b.is_ascii_digit())
                && rest.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        }
        _ => false,
    }
}

fn is_key_id(text: &str) -> bool {
    if let Some(hex) = text.strip_prefix("mrk-") {
        return hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_arns_of_every_kind_round_trip() {
        for text in [
            "arn:aws:iam::111111111111:root",
            "arn:aws:iam::111111111111:role/db-password-reader",
            "arn:aws:iam::111111111111:role/service-role/nested/app",
            "arn:aws:iam::111111111111:user/alice",
            "arn:aws:sts::111111111111:assumed-role/App/session-1",
            "arn:aws-cn:iam::111111111111:role/x",
        ] {
            let arn = PrincipalArn::parse(text).unwrap();
            assert_eq!(arn.to_string(), text);
        }
        let role = PrincipalArn::parse("arn:aws:iam::111111111111:role/service-role/nested/app").ok();
        assert_eq!(
            role.map(|r| r.kind().clone()),
            Some(PrincipalKind::Role { path: "/service-role/nested/".into(), name: "app".into() })
        );
    }

    #[test]
    fn malformed_principal_arns_are_rejected_with_the_reason() {
        for (text, why) in [
            ("role/app", "expected arn:"),
            ("arn:aws:iam::11111111111:role/app", "12 digits"),
            ("arn:aws:iam:us-east-1:111111111111:role/app", "no region"),
            ("arn:aws:s3:::bucket", "the service must be iam or sts"),
            ("arn:aws:iam::111111111111:role/", "empty role name"),
            ("arn:aws:iam::111111111111:role/rôle", "only ASCII letters, digits"),
            ("arn:aws:sts::111111111111:assumed-role/App", "assumed-role/ROLE/SESSION"),
            ("arn:aws:iam::111111111111:group/g", "expected root"),
            ("arn:foo:iam::111111111111:root", "partition"),
        ] {
            let err = PrincipalArn::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn key_references_in_all_four_forms() {
        assert!(matches!(KeyRef::parse("alias/app-data"), Ok(KeyRef::Alias(_))));
        assert!(matches!(KeyRef::parse("1234abcd-12ab-34cd-56ef-1234567890ab"), Ok(KeyRef::Id(_))));
        assert!(matches!(KeyRef::parse("mrk-1234abcd12ab34cd56ef1234567890ab"), Ok(KeyRef::Id(_))));
        assert!(matches!(
            KeyRef::parse("arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            Ok(KeyRef::KeyArn(_))
        ));
        assert!(matches!(KeyRef::parse("arn:aws:kms:us-east-1:111111111111:alias/app"), Ok(KeyRef::AliasArn(_))));
        for bad in ["", "alias/", "app-data", "arn:aws:kms:us-east-1:111111111111:key/nope", "arn:aws:s3:::b"] {
            assert!(KeyRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_and_partitions() {
        assert!(is_region("ap-northeast-1") && is_region("us-gov-west-1"));
        assert!(!is_region("us-east") && !is_region("US-EAST-1") && !is_region("1"));
        assert!(is_partition("aws") && is_partition("aws-us-gov") && !is_partition("azure"));
    }
}
