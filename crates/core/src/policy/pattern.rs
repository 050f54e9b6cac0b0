//! Wildcard patterns (`*`, `?`) of Action, Resource, `StringLike` and `ArnLike`, compiled once when
//! a policy is parsed, with the policy variables of `"Version": "2012-10-17"` (`${aws:username}`,
//! `${aws:PrincipalTag/team, 'none'}`, `${*}`, `${?}`, `${$}`).
//!
//! Matching a pattern without variables does not allocate.

use super::context::{Context, Known, Tri};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Elem {
    Byte(u8),
    /// Any run of characters.
    Star,
    /// Exactly one character.
    One,
    /// A policy variable, resolved from the request context at match time.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// The shapes most policy patterns take, matched without the general algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shape {
    /// `*`.
    Any,
    /// No wildcard: equality.
    Exact(Box<[u8]>),
    /// One trailing `*`: a prefix.
    Prefix(Box<[u8]>),
    /// Anything else: [`glob`] over the elements.
    General,
    /// A value a template gives by an expression not resolved before the deploy
    /// ([`super::condition::UNRESOLVED`]): whether it matches is not known.
    Unresolved(Box<str>),
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    elems: Vec<Elem>,
    shape: Shape,
    has_vars: bool,
    /// Compare case-insensitively (actions); pattern bytes are stored lower-cased.
    fold_case: bool,
}

/// How a pattern treats `*`, `?` and `${...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syntax {
    pub wildcards: bool,
    pub variables: bool,
    pub fold_case: bool,
}

impl Pattern {
    /// Compiles `text`; an unterminated `${` is an error.
    pub fn compile(text: &str, syntax: Syntax) -> Result<Pattern, String> {
        if let Some(expression) = text.strip_prefix(super::condition::UNRESOLVED) {
            let shape = Shape::Unresolved(expression.into());
            return Ok(Pattern { elems: vec![], shape, has_vars: false, fold_case: syntax.fold_case });
        }
        let mut elems = Vec::with_capacity(text.len());
        let mut has_vars = false;
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if syntax.variables && b == b'$' && bytes.get(i + 1) == Some(&b'{') {
                let rest = text.get(i + 2..).unwrap_or_default();
                let end = rest.find('}').ok_or_else(|| format!("unterminated policy variable in `{text}`"))?;
                let inner = rest.get(..end).unwrap_or_default().trim();
                match inner {
                    "*" => elems.push(Elem::Byte(b'*')),
                    "?" => elems.push(Elem::Byte(b'?')),
                    "$" => elems.push(Elem::Byte(b'$')),
                    _ => {
                        let (key, default) = match inner.split_once(',') {
                            Some((key, default)) => {
                                let d = default.trim();
                                let quoted = d.len() >= 2 && d.starts_with('\'') && d.ends_with('\'');
                                if !quoted {
                                    return Err(format!("a policy variable default must be quoted with ' in `{text}`"));
                                }
                                (key.trim(), Some(d.get(1..d.len() - 1).unwrap_or_default().to_owned()))
                            }
                            None => (inner, None),
                        };
                        if key.is_empty() {
                            return Err(format!("empty policy variable in `{text}`"));
                        }
                        has_vars = true;
                        elems.push(Elem::Var { key: key.to_ascii_lowercase(), default });
                    }
                }
                i += 2 + end + 1;
                continue;
            }
            let elem = match b {
                b'*' if syntax.wildcards => Elem::Star,
                b'?' if syntax.wildcards => Elem::One,
                b if syntax.fold_case => Elem::Byte(b.to_ascii_lowercase()),
                b => Elem::Byte(b),
            };
            elems.push(elem);
            i += 1;
        }
        let shape = shape_of(&elems, has_vars);
        Ok(Pattern { elems, shape, has_vars, fold_case: syntax.fold_case })
    }

    /// Matches `text` (compared case-insensitively when the pattern folds case). A variable whose key the
    /// request does not have makes the pattern match nothing; one the request does not know makes the
    /// match unknown.
    pub fn matches(&self, text: &str, ctx: &Context) -> Tri {
        let t = text.as_bytes();
        let eq = |a: &[u8], b: &[u8]| if self.fold_case { a.eq_ignore_ascii_case(b) } else { a == b };
        match &self.shape {
            Shape::Any => return Tri::Yes,
            Shape::Exact(p) => return Tri::from_bool(eq(p, t)),
            Shape::Prefix(p) => return Tri::from_bool(t.get(..p.len()).is_some_and(|head| eq(p, head))),
            Shape::General if !self.has_vars => return Tri::from_bool(glob(&self.elems, t, self.fold_case)),
            Shape::General => {}
            Shape::Unresolved(expression) => return unresolved(expression),
        }
        match self.resolve(ctx) {
            Ok(resolved) => Tri::from_bool(glob(&resolved, t, self.fold_case)),
            Err(t) => t,
        }
    }

    /// Matches an ARN the way `ArnLike` and `ArnEquals` do: each of the six colon-separated parts
    /// on its own, so a wildcard never reaches across a colon into the next part (IAM User Guide,
    /// "ARN condition operators": `arn:aws:someservice:*:111122223333:finance/*` does not match
    /// `arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt`).
    /// The sixth part is the rest of the ARN, colons included (`log-group:name:*`), as the ARN
    /// format defines it (IAM User Guide, "IAM identifiers", ARN format). A value or pattern with
    /// fewer than six parts matches nothing.
    pub fn matches_arn(&self, text: &str, ctx: &Context) -> Tri {
        if let Shape::Unresolved(expression) = &self.shape {
            return unresolved(expression);
        }
        let resolved = match self.resolve(ctx) {
            Ok(r) => r,
            Err(t) => return t,
        };
        let colon = Elem::Byte(b':');
        let mut pattern_parts = resolved.splitn(ARN_PARTS, |e| *e == colon);
        let mut text_parts = text.as_bytes().splitn(ARN_PARTS, |b| *b == b':');
        let mut parts = 0;
        loop {
            match (pattern_parts.next(), text_parts.next()) {
                (Some(p), Some(t)) => {
                    if !glob(p, t, self.fold_case) {
                        return Tri::No;
                    }
                    parts += 1;
                }
                (None, None) => return Tri::from_bool(parts == ARN_PARTS),
                _ => return Tri::No,
            }
        }
    }

    /// The elements with every policy variable replaced by its value from `ctx`; `Err` with the
    /// answer when a variable has no usable value (absent: no match; not known: unknown).
    fn resolve(&self, ctx: &Context) -> Result<std::borrow::Cow<'_, [Elem]>, Tri> {
        if !self.has_vars {
            return Ok(std::borrow::Cow::Borrowed(&self.elems));
        }
        let mut resolved = Vec::with_capacity(self.elems.len() + 16);
        for e in &self.elems {
            match e {
                Elem::Var { key, default } => {
                    let value = match ctx.get(key) {
                        Known::Present([v]) => v.as_str(),
                        Known::Present(_) | Known::Absent => match default {
                            Some(d) => d.as_str(),
                            None => return Err(Tri::No),
                        },
                        Known::Unknown => return Err(Tri::unknown(key)),
                    };
                    resolved.extend(
                        value.bytes().map(|b| Elem::Byte(if self.fold_case { b.to_ascii_lowercase() } else { b })),
                    );
                }
                other => resolved.push(other.clone()),
            }
        }
        Ok(std::borrow::Cow::Owned(resolved))
    }
}

/// The parts of an ARN: `arn`, partition, service, region, account, resource.
const ARN_PARTS: usize = 6;

/// The match of a value known only once the stack is deployed.
fn unresolved(expression: &str) -> Tri {
    Tri::unknown(&format!("{expression} (a value the template gives, known only once the stack is deployed)"))
}

fn shape_of(elems: &[Elem], has_vars: bool) -> Shape {
    if has_vars {
        return Shape::General;
    }
    let bytes = |es: &[Elem]| -> Option<Box<[u8]>> {
        es.iter()
            .map(|e| if let Elem::Byte(b) = e { Some(*b) } else { None })
            .collect::<Option<Vec<u8>>>()
            .map(Vec::into_boxed_slice)
    };
    match elems.split_last() {
        Some((Elem::Star, [])) => Shape::Any,
        Some((Elem::Star, head)) => bytes(head).map_or(Shape::General, Shape::Prefix),
        _ => bytes(elems).map_or(Shape::General, Shape::Exact),
    }
}

/// Length of the UTF-8 character starting with byte `b`.
fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Wildcard matching with one backtracking point (linear in practice, quadratic at worst).
/// With `fold`, text bytes are lower-cased before comparing (pattern bytes already are).
fn glob(p: &[Elem], t: &[u8], fold: bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(Elem::Star) => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some(Elem::One) => {
                ti += t.get(ti).map_or(1, |b| char_len(*b));
                pi += 1;
                continue;
            }
            Some(Elem::Byte(b)) if t.get(ti).map(|c| if fold { c.to_ascii_lowercase() } else { *c }) == Some(*b) => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) => {
                let next = st + t.get(st).map_or(1, |b| char_len(*b));
                star = Some((sp, next));
                pi = sp;
                ti = next;
            }
            None => return false,
        }
    }
    while let Some(Elem::Star) = p.get(pi) {
        pi += 1;
    }
    pi == p.len() && ti == t.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOB: Syntax = Syntax { wildcards: true, variables: true, fold_case: false };
    const ACTION: Syntax = Syntax { wildcards: true, variables: false, fold_case: true };

    fn m(p: &str, t: &str) -> bool {
        Pattern::compile(p, GLOB).unwrap().matches(t, &Context::default()).is_yes()
    }

    #[test]
    fn wildcards() {
        assert!(m("*", "") && m("*", "anything"));
        assert!(m("arn:aws:kms:*:111111111111:key/*", "arn:aws:kms:us-east-1:111111111111:key/abc"));
        assert!(!m("arn:aws:kms:*:111111111111:key/*", "arn:aws:kms:us-east-1:222222222222:key/abc"));
        assert!(m("a?c", "abc") && m("a?c", "aéc") && !m("a?c", "ac"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("ab*", "ab") && !m("ab", "abc") && !m("abc", "ab"));
    }

    #[test]
    fn actions_fold_case() {
        let p = Pattern::compile("KMS:Decrypt*", ACTION).unwrap();
        assert!(p.matches("kms:decrypt", &Context::default()).is_yes());
    }

    #[test]
    fn variables_resolve_from_the_context() {
        let p = Pattern::compile("arn:aws:s3:::b/${aws:username}/*", GLOB).unwrap();
        let mut ctx = Context::default();
        assert_eq!(p.matches("arn:aws:s3:::b/alice/x", &ctx), Tri::unknown("aws:username"));
        ctx.set("aws:username", "alice");
        assert!(p.matches("arn:aws:s3:::b/alice/x", &ctx).is_yes());
        assert!(p.matches("arn:aws:s3:::b/bob/x", &ctx).is_no());
        ctx.set_absent("aws:username");
        assert!(p.matches("arn:aws:s3:::b/alice/x", &ctx).is_no(), "an absent variable matches nothing");
        let d = Pattern::compile("team-${aws:PrincipalTag/team, 'none'}", GLOB).unwrap();
        let mut ctx = Context::default();
        ctx.set_absent("aws:principaltag/team");
        assert!(d.matches("team-none", &ctx).is_yes());
    }

    #[test]
    fn escaped_variables_are_literal_characters() {
        let p = Pattern::compile("a${*}b${?}c${$}", GLOB).unwrap();
        assert!(p.matches("a*b?c$", &Context::default()).is_yes());
        assert!(p.matches("axxb?c$", &Context::default()).is_no());
    }

    #[test]
    fn without_variable_syntax_dollar_braces_are_literal() {
        let p = Pattern::compile("${aws:username}", Syntax { wildcards: true, variables: false, fold_case: false })
            .unwrap();
        assert!(p.matches("${aws:username}", &Context::default()).is_yes());
    }

    fn arn(p: &str, t: &str) -> Tri {
        Pattern::compile(p, GLOB).unwrap().matches_arn(t, &Context::default())
    }

    #[test]
    fn arn_wildcards_stay_inside_their_part() {
        // The IAM User Guide's counter-example ("ARN condition operators").
        let p = "arn:aws:someservice:*:111122223333:finance/*";
        assert!(
            arn(p, "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt").is_no()
        );
        assert!(arn(p, "arn:aws:someservice:us-east-2:111122223333:finance/document.txt").is_yes());
        // The resource part keeps its colons, and a trailing `*` there reaches across them.
        assert!(
            arn("arn:aws:logs:*:*:log-group:app:*", "arn:aws:logs:us-east-1:1:log-group:app:log-stream:x").is_yes()
        );
        assert!(arn("arn:aws:iam::*:role/*", "arn:aws:iam::111111111111:role/a").is_yes());
        assert!(arn("*", "arn:aws:iam::111111111111:role/a").is_no(), "fewer than six parts");
        assert!(arn("arn:aws:iam::*:role/*", "not-an-arn").is_no());
        assert!(arn("arn:*:iam::*:*", "arn:aws:iam::1:role/x").is_yes());
    }

    #[test]
    fn arn_variables_resolve_before_the_parts_are_split() {
        let p = Pattern::compile("${aws:PrincipalArn}", GLOB).unwrap();
        let mut ctx = Context::default();
        ctx.set("aws:principalarn", "arn:aws:iam::111111111111:role/a");
        assert!(p.matches_arn("arn:aws:iam::111111111111:role/a", &ctx).is_yes());
        assert!(p.matches_arn("arn:aws:iam::111111111111:role/b", &ctx).is_no());
    }

    #[test]
    fn malformed_variables_are_errors() {
        assert!(Pattern::compile("${aws:username", GLOB).is_err());
        assert!(Pattern::compile("${aws:x, default}", GLOB).is_err());
        assert!(Pattern::compile("${}", GLOB).is_err());
    }
}
