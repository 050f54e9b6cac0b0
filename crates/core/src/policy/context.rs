//! The request context a policy is evaluated against, and three-valued truth.
//!
//! A context key is present (with one or more values), known to be absent, or unknown: the request
//! does not say. Unknown keys make conditions on them `Unknown`, never silently false.

use std::collections::{BTreeSet, HashMap};

/// Three-valued truth: a condition, a match or a decision may depend on what the request does not say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tri {
    Yes,
    No,
    /// Depends on these context keys (lower case).
    Unknown(BTreeSet<String>),
}

impl Tri {
    #[inline]
    pub fn from_bool(b: bool) -> Tri {
        if b { Tri::Yes } else { Tri::No }
    }

    pub fn unknown(key: &str) -> Tri {
        Tri::Unknown(BTreeSet::from([key.to_ascii_lowercase()]))
    }

    #[inline]
    pub fn is_yes(&self) -> bool {
        matches!(self, Tri::Yes)
    }

    #[inline]
    pub fn is_no(&self) -> bool {
        matches!(self, Tri::No)
    }

    /// Kleene conjunction.
    #[inline]
    pub fn and(self, other: Tri) -> Tri {
        self.combine(other, false)
    }

    /// Kleene disjunction.
    #[inline]
    pub fn or(self, other: Tri) -> Tri {
        self.combine(other, true)
    }

    /// Conjunction (`yes_wins` false: `No` decides) or disjunction (`yes_wins` true: `Yes`
    /// decides). The deciding value wins, the other definite value is neutral, and unknowns
    /// collect their keys.
    #[inline]
    fn combine(self, other: Tri, yes_wins: bool) -> Tri {
        let decides = |t: &Tri| matches!((t, yes_wins), (Tri::Yes, true) | (Tri::No, false));
        if decides(&self) {
            return self;
        }
        if decides(&other) {
            return other;
        }
        match (self, other) {
            (Tri::Unknown(mut a), Tri::Unknown(b)) => {
                a.extend(b);
                Tri::Unknown(a)
            }
            (Tri::Unknown(a), _) | (_, Tri::Unknown(a)) => Tri::Unknown(a),
            (t, _) => t,
        }
    }

    #[inline]
    pub fn negate(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            u => u,
        }
    }

    /// The keys an unknown depends on.
    pub fn unknown_keys(&self) -> Vec<String> {
        match self {
            Tri::Unknown(k) => k.iter().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// What the request says about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known<'a> {
    Present(&'a [String]),
    Absent,
    Unknown,
}

/// Context keys, case-insensitive by name. Keys neither set nor marked absent are unknown, except
/// the families marked complete: a key under a complete prefix that is not set is absent.
#[derive(Clone, Debug, Default)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
    absent: BTreeSet<String>,
    /// Keys the request carries with a value not known (before the deploy): unknown even under a
    /// complete prefix.
    unknown: BTreeSet<String>,
    complete_prefixes: Vec<String>,
}

impl Context {
    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set_many(key, vec![value.into()]);
    }

    /// Sets a multi-valued key (an empty list is a present key with no values).
    pub fn set_many(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        self.absent.remove(&key);
        self.values.insert(key, values);
    }

    /// Marks a key as known to be absent from the request.
    pub fn set_absent(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.values.remove(&key);
        self.absent.insert(key);
    }

    /// Marks a key as present with a value that is not known (a log group name CloudFormation
    /// will generate): conditions on it are unknown, even under a complete prefix.
    pub fn set_unknown(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.values.remove(&key);
        self.absent.remove(&key);
        self.unknown.insert(key);
    }

    /// Declares that every key starting with `prefix` that is not set is absent.
    pub fn complete(&mut self, prefix: &str) {
        self.complete_prefixes.push(prefix.to_ascii_lowercase());
    }

    /// True when the key was set or marked absent explicitly.
    pub fn is_decided(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.values.contains_key(&key) || self.absent.contains(&key) || self.unknown.contains(&key)
    }

    /// What the request says about `key` (already lower case).
    pub fn get(&self, key_lower: &str) -> Known<'_> {
        if let Some(v) = self.values.get(key_lower) {
            return Known::Present(v);
        }
        if self.unknown.contains(key_lower) {
            return Known::Unknown;
        }
        if self.absent.contains(key_lower) || self.complete_prefixes.iter().any(|p| key_lower.starts_with(p.as_str())) {
            return Known::Absent;
        }
        Known::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kleene_and_or_truth_tables() {
        let (y, n, u, v) = (Tri::Yes, Tri::No, Tri::unknown("a"), Tri::unknown("b"));
        assert_eq!(y.clone().and(y.clone()), Tri::Yes);
        assert_eq!(y.clone().and(n.clone()), Tri::No);
        assert_eq!(u.clone().and(n.clone()), Tri::No);
        assert_eq!(y.clone().and(u.clone()), u);
        assert_eq!(n.clone().or(n.clone()), Tri::No);
        assert_eq!(u.clone().or(y.clone()), Tri::Yes);
        assert_eq!(n.clone().or(u.clone()), u);
        assert_eq!(u.clone().and(v.clone()).unknown_keys(), ["a", "b"]);
        assert_eq!(u.or(v).unknown_keys(), ["a", "b"]);
    }

    #[test]
    fn kleene_logic() {
        let u = Tri::unknown("aws:SourceIp");
        assert_eq!(Tri::No.and(u.clone()), Tri::No);
        assert_eq!(Tri::Yes.or(u.clone()), Tri::Yes);
        assert_eq!(Tri::Yes.and(u.clone()), u);
        assert_eq!(u.clone().negate(), u);
        assert_eq!(u.unknown_keys(), ["aws:sourceip"]);
    }

    #[test]
    fn keys_are_case_insensitive_and_three_valued() {
        let mut c = Context::default();
        c.set("kms:CallerAccount", "111111111111");
        c.set_absent("kms:ViaService");
        c.complete("kms:encryptioncontext:");
        assert!(matches!(c.get("kms:calleraccount"), Known::Present(v) if v == ["111111111111"]));
        assert_eq!(c.get("kms:viaservice"), Known::Absent);
        assert_eq!(c.get("kms:encryptioncontext:department"), Known::Absent);
        assert_eq!(c.get("aws:sourceip"), Known::Unknown);
        c.set_unknown("kms:EncryptionContext:aws:logs:arn");
        assert!(c.is_decided("kms:encryptioncontext:aws:logs:arn"));
        assert_eq!(c.get("kms:encryptioncontext:aws:logs:arn"), Known::Unknown, "unknown under a complete prefix");
    }
}
