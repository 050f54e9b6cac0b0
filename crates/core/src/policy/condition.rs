//! Condition blocks: every operator family of the IAM policy language, `...IfExists`,
//! `ForAnyValue:` / `ForAllValues:`, several values (OR) and several keys (AND).
//!
//! Semantics (IAM User Guide, "Condition operators" and "Multivalued context keys"): a key missing
//! from the request makes a condition false, except for negated operators (true), `...IfExists`
//! (true) and `Null`; `ForAllValues` is true for a missing or empty key, `ForAnyValue` false.

use std::net::IpAddr;

use serde_json::Value;

use super::context::{Context, Known, Tri};
use super::pattern::{Pattern, Syntax};

/// The operator families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    Arn,
    Null,
}

/// Set qualifier for multivalued keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    None,
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Debug)]
enum Operand {
    Text(String),
    Pattern(Pattern),
    Number(f64),
    /// Seconds since the epoch.
    Date(f64),
    Bool(bool),
    Cidr(IpAddr, u8),
    /// A value the template gives by an expression not resolved before the deploy (see
    /// [`UNRESOLVED`]): it matches or not, nobody knows yet.
    Unresolved(String),
}

/// How a policy the stack will apply marks a condition value it gives by an expression that is
/// not resolved before the deploy (`Fn::GetAtt Bucket.Arn`): this prefix, then the expression. No
/// policy AWS accepts holds a NUL character, so no real value is taken for one.
pub const UNRESOLVED: &str = "\u{0}unresolved:";

/// One operator applied to one key with its values.
#[derive(Clone, Debug)]
pub struct Condition {
    /// The operator as written, for explanations.
    pub operator: String,
    /// The key as written.
    pub key: String,
    key_lower: String,
    family: Family,
    negated: bool,
    if_exists: bool,
    set: SetOp,
    operands: Vec<Operand>,
}

const FAMILIES: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::StringEquals, false),
    ("StringNotEquals", Family::StringEquals, true),
    ("StringEqualsIgnoreCase", Family::StringEqualsIgnoreCase, false),
    ("StringNotEqualsIgnoreCase", Family::StringEqualsIgnoreCase, true),
    ("StringLike", Family::StringLike, false),
    ("StringNotLike", Family::StringLike, true),
    ("NumericEquals", Family::NumericEquals, false),
    ("NumericNotEquals", Family::NumericEquals, true),
    ("NumericLessThan", Family::NumericLessThan, false),
    ("NumericLessThanEquals", Family::NumericLessThanEquals, false),
    ("NumericGreaterThan", Family::NumericGreaterThan, false),
    ("NumericGreaterThanEquals", Family::NumericGreaterThanEquals, false),
    ("DateEquals", Family::DateEquals, false),
    ("DateNotEquals", Family::DateEquals, true),
    ("DateLessThan", Family::DateLessThan, false),
    ("DateLessThanEquals", Family::DateLessThanEquals, false),
    ("DateGreaterThan", Family::DateGreaterThan, false),
    ("DateGreaterThanEquals", Family::DateGreaterThanEquals, false),
    ("Bool", Family::Bool, false),
    ("BinaryEquals", Family::BinaryEquals, false),
    ("IpAddress", Family::IpAddress, false),
    ("NotIpAddress", Family::IpAddress, true),
    ("ArnEquals", Family::Arn, false),
    ("ArnNotEquals", Family::Arn, true),
    ("ArnLike", Family::Arn, false),
    ("ArnNotLike", Family::Arn, true),
    ("Null", Family::Null, false),
];

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Condition {
    /// Parses one `"Operator": {"key": value-or-values}` pair into its conditions.
    pub fn parse_block(operator: &str, body: &Value, variables: bool) -> Result<Vec<Condition>, String> {
        let (set, rest) = if let Some(r) = strip_prefix_ci(operator, "ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else if let Some(r) = strip_prefix_ci(operator, "ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else {
            (SetOp::None, operator)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let &(_, family, negated) = FAMILIES
            .iter()
            .find(|(name, _, _)| *name == base)
            .ok_or_else(|| format!("unsupported condition operator `{operator}`"))?;
        if family == Family::Null && (if_exists || set != SetOp::None) {
            return Err(format!("`{operator}`: Null takes no IfExists or set qualifier"));
        }
        let Value::Object(keys) = body else {
            return Err(format!("`{operator}`: expected an object of condition keys"));
        };
        let mut out = Vec::with_capacity(keys.len());
        for (key, values) in keys {
            let raw: Vec<String> = match values {
                Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        scalar_text(v)
                            .ok_or_else(|| format!("`{operator}` `{key}`: values must be strings, numbers or booleans"))
                    })
                    .collect::<Result<_, _>>()?,
                v => vec![
                    scalar_text(v)
                        .ok_or_else(|| format!("`{operator}` `{key}`: expected a value or a list of values"))?,
                ],
            };
            if raw.is_empty() {
                return Err(format!("`{operator}` `{key}`: empty list of values"));
            }
            let operands = raw
                .iter()
                .map(|v| operand(family, v, variables).map_err(|e| format!("`{operator}` `{key}`: {e}")))
                .collect::<Result<_, _>>()?;
            out.push(Condition {
                operator: operator.to_owned(),
                key: key.clone(),
                key_lower: key.to_ascii_lowercase(),
                family,
                negated,
                if_exists,
                set,
                operands,
            });
        }
        Ok(out)
    }

    /// Evaluates against the request context.
    pub fn eval(&self, ctx: &Context) -> Tri {
        let known = ctx.get(&self.key_lower);
        if self.family == Family::Null {
            let want_absent = self.operands.iter().any(|o| matches!(o, Operand::Bool(true)));
            return match known {
                Known::Unknown => Tri::unknown(&self.key_lower),
                Known::Absent => Tri::from_bool(want_absent),
                Known::Present(v) => Tri::from_bool(if v.is_empty() { want_absent } else { !want_absent }),
            };
        }
        let values = match known {
            Known::Unknown => return Tri::unknown(&self.key_lower),
            Known::Absent => return Tri::from_bool(self.on_missing()),
            Known::Present(v) => v,
        };
        if values.is_empty() {
            return Tri::from_bool(self.on_missing());
        }
        // A value matches when any operand matches (OR); negation applies per value.
        let element = |v: &str| -> Tri {
            let mut any = Tri::No;
            for o in &self.operands {
                any = any.or(self.matches(o, v, ctx));
                if any.is_yes() {
                    break;
                }
            }
            if self.negated { any.negate() } else { any }
        };
        match self.set {
            SetOp::ForAllValues => values.iter().fold(Tri::Yes, |acc, v| acc.and(element(v))),
            SetOp::ForAnyValue => values.iter().fold(Tri::No, |acc, v| acc.or(element(v))),
            // Unqualified on a multivalued key: positive operators need one matching value; negated
            // operators need no value to match (the negation of the positive test).
            SetOp::None if self.negated => values.iter().fold(Tri::Yes, |acc, v| acc.and(element(v))),
            SetOp::None => values.iter().fold(Tri::No, |acc, v| acc.or(element(v))),
        }
    }

    fn on_missing(&self) -> bool {
        match self.set {
            SetOp::ForAllValues => true,
            SetOp::ForAnyValue => self.if_exists,
            SetOp::None => self.if_exists || self.negated,
        }
    }

    fn matches(&self, operand: &Operand, value: &str, ctx: &Context) -> Tri {
        use Family::*;
        match (self.family, operand) {
            (StringEquals, Operand::Text(t)) | (BinaryEquals, Operand::Text(t)) => Tri::from_bool(t == value),
            (Arn, Operand::Pattern(p)) => p.matches_arn(value, ctx),
            (StringEquals | StringLike | Bool, Operand::Pattern(p)) => p.matches(value, ctx),
            (StringEqualsIgnoreCase, Operand::Text(t)) => Tri::from_bool(t.eq_ignore_ascii_case(value)),
            (StringEqualsIgnoreCase, Operand::Pattern(p)) => p.matches(&value.to_ascii_lowercase(), ctx),
            (
                NumericEquals | NumericLessThan | NumericLessThanEquals | NumericGreaterThan | NumericGreaterThanEquals,
                Operand::Number(n),
            ) => match value.trim().parse::<f64>() {
                Ok(v) => Tri::from_bool(compare(self.family, v, *n)),
                // A value that is no number cannot be compared: unknown, never a quiet false that
                // would make NumericNotEquals true.
                Err(_) => Tri::unknown(&format!("{} (`{value}` is not a number)", self.key)),
            },
            (
                DateEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals,
                Operand::Date(d),
            ) => match parse_date(value) {
                Some(v) => Tri::from_bool(compare(self.family, v, *d)),
                None => Tri::unknown(&format!("{} (`{value}` is not a date)", self.key)),
            },
            (_, Operand::Unresolved(expression)) => Tri::unknown(&format!(
                "{} (the policy's value {expression} is known only once the stack is deployed)",
                self.key
            )),
            (Bool, Operand::Bool(b)) => Tri::from_bool(value.eq_ignore_ascii_case(if *b { "true" } else { "false" })),
            (IpAddress, Operand::Cidr(net, len)) => match value.parse::<IpAddr>() {
                Ok(ip) => Tri::from_bool(in_cidr(ip, *net, *len)),
                Err(_) => Tri::unknown(&format!("{} (`{value}` is not an IP address)", self.key)),
            },
            _ => Tri::No,
        }
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| text.get(prefix.len()..).unwrap_or_default())
}

fn compare(family: Family, left: f64, right: f64) -> bool {
    use Family::*;
    match family {
        NumericEquals | DateEquals => left == right,
        NumericLessThan | DateLessThan => left < right,
        NumericLessThanEquals | DateLessThanEquals => left <= right,
        NumericGreaterThan | DateGreaterThan => left > right,
        NumericGreaterThanEquals | DateGreaterThanEquals => left >= right,
        _ => false,
    }
}

fn operand(family: Family, raw: &str, variables: bool) -> Result<Operand, String> {
    use Family::*;
    if let Some(expression) = raw.strip_prefix(UNRESOLVED) {
        return Ok(Operand::Unresolved(expression.to_owned()));
    }
    Ok(match family {
        StringEquals => {
            if variables && raw.contains("${") {
                // Exact match with variables: compile without wildcards.
                Operand::Pattern(Pattern::compile(raw, Syntax { wildcards: false, variables: true, fold_case: false })?)
            } else {
                Operand::Text(raw.to_owned())
            }
        }
        StringEqualsIgnoreCase => {
            if variables && raw.contains("${") {
                Operand::Pattern(Pattern::compile(
                    &raw.to_ascii_lowercase(),
                    Syntax { wildcards: false, variables: true, fold_case: true },
                )?)
            } else {
                Operand::Text(raw.to_owned())
            }
        }
        StringLike => Operand::Pattern(Pattern::compile(raw, Syntax { wildcards: true, variables, fold_case: false })?),
        Arn => Operand::Pattern(Pattern::compile(raw, Syntax { wildcards: true, variables, fold_case: false })?),
        NumericEquals | NumericLessThan | NumericLessThanEquals | NumericGreaterThan | NumericGreaterThanEquals => {
            Operand::Number(raw.trim().parse().map_err(|_| format!("`{raw}` is not a number"))?)
        }
        DateEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            Operand::Date(parse_date(raw).ok_or_else(|| format!("`{raw}` is not a date (ISO 8601 or epoch seconds)"))?)
        }
        // Bool takes a policy variable (IAM User Guide, "Condition operators", Boolean condition
        // operators: "You can use a policy variable with the Bool condition operator"), compared
        // as true/false are, without regard to case. The "Variables and tags" page lists only the
        // string and ARN operators; the operators page is the more specific one.
        Bool if variables && raw.contains("${") => {
            Operand::Pattern(Pattern::compile(raw, Syntax { wildcards: false, variables: true, fold_case: true })?)
        }
        Bool | Null => match raw.to_ascii_lowercase().as_str() {
            "true" => Operand::Bool(true),
            "false" => Operand::Bool(false),
            _ => return Err(format!("`{raw}` is not true or false")),
        },
        BinaryEquals => Operand::Text(raw.to_owned()),
        IpAddress => {
            let (ip, len) = match raw.split_once('/') {
                Some((ip, len)) => (ip, Some(len)),
                None => (raw, None),
            };
            let ip: IpAddr = ip.trim().parse().map_err(|_| format!("`{raw}` is not an IP address or CIDR block"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("`{raw}`: bad prefix length"))?,
                None => max,
            };
            Operand::Cidr(ip, len)
        }
    })
}

fn in_cidr(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            (u32::from(a) & mask) == (u32::from(b) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            (u128::from(a) & mask) == (u128::from(b) & mask)
        }
        _ => false,
    }
}

/// ISO 8601 (`2026-11-23`, `2026-11-23T10:00:00Z`, with fraction or offset) or epoch seconds.
pub fn parse_date(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<f64>() {
        return Some(n);
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (date, time) = match t.split_once(['T', 't', ' ']) {
        Some((d, tm)) => (d, Some(tm)),
        None => (t, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = days_from_civil(y, m, day) as f64 * 86_400.0;
    if let Some(time) = time {
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0.0)
        } else if let Some(i) = time.rfind(['+', '-']) {
            let (c, o) = time.split_at(i);
            let sign = if o.starts_with('-') { -1.0 } else { 1.0 };
            let o = o.get(1..)?;
            let (oh, om) = o.split_once(':').unwrap_or((o.get(..2)?, o.get(2..).unwrap_or("0")));
            (c, sign * (num(oh)? * 3600 + num(if om.is_empty() { "0" } else { om })? * 60) as f64)
        } else {
            (time, 0.0)
        };
        let mut c = clock.split(':');
        let h = num(c.next()?)?;
        let mi = num(c.next().unwrap_or("0"))?;
        let s: f64 = c.next().unwrap_or("0").parse().ok()?;
        if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..61.0).contains(&s) {
            return None;
        }
        secs += (h * 3600 + mi * 60) as f64 + s - offset;
    }
    Some(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(op: &str, body: Value) -> Condition {
        Condition::parse_block(op, &body, true).unwrap().remove(0)
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::default();
        for (k, v) in pairs {
            c.set_many(k, v.iter().map(|s| (*s).to_owned()).collect());
        }
        c
    }

    #[test]
    fn missing_keys_follow_the_documented_rules() {
        let mut c = Context::default();
        c.set_absent("kms:viaservice");
        assert!(cond("StringEquals", json!({"kms:ViaService": "s3.us-east-1.amazonaws.com"})).eval(&c).is_no());
        assert!(cond("StringNotEquals", json!({"kms:ViaService": "x"})).eval(&c).is_yes());
        assert!(cond("StringEqualsIfExists", json!({"kms:ViaService": "x"})).eval(&c).is_yes());
        assert!(cond("ForAllValues:StringEquals", json!({"kms:ViaService": "x"})).eval(&c).is_yes());
        assert!(cond("ForAnyValue:StringEquals", json!({"kms:ViaService": "x"})).eval(&c).is_no());
        assert!(cond("Null", json!({"kms:ViaService": "true"})).eval(&c).is_yes());
        assert!(cond("Null", json!({"kms:ViaService": "false"})).eval(&c).is_no());
        assert_eq!(cond("StringEquals", json!({"aws:SourceIp": "x"})).eval(&c), Tri::unknown("aws:sourceip"));
    }

    #[test]
    fn strings_are_case_sensitive_unless_ignore_case_and_equals_never_expands_stars() {
        let c = ctx(&[("k", &["Value"])]);
        assert!(cond("StringEquals", json!({"K": "Value"})).eval(&c).is_yes(), "key names are case-insensitive");
        assert!(cond("StringEquals", json!({"k": "value"})).eval(&c).is_no());
        assert!(cond("StringEqualsIgnoreCase", json!({"k": "VALUE"})).eval(&c).is_yes());
        assert!(cond("StringEquals", json!({"k": "V*"})).eval(&c).is_no());
        assert!(cond("StringLike", json!({"k": "V*"})).eval(&c).is_yes());
        assert!(cond("StringNotLike", json!({"k": ["x*", "V?lue"]})).eval(&c).is_no());
    }

    #[test]
    fn set_operators_on_multivalued_keys() {
        let c = ctx(&[("kms:EncryptionContextKeys", &["a", "b"])]);
        assert!(
            cond("ForAllValues:StringEquals", json!({"kms:EncryptionContextKeys": ["a", "b", "c"]})).eval(&c).is_yes()
        );
        assert!(cond("ForAllValues:StringEquals", json!({"kms:EncryptionContextKeys": ["a"]})).eval(&c).is_no());
        assert!(cond("ForAnyValue:StringEquals", json!({"kms:EncryptionContextKeys": ["b"]})).eval(&c).is_yes());
        assert!(cond("ForAnyValue:StringNotEquals", json!({"kms:EncryptionContextKeys": ["a"]})).eval(&c).is_yes());
        assert!(cond("ForAllValues:StringNotEquals", json!({"kms:EncryptionContextKeys": ["a"]})).eval(&c).is_no());
    }

    #[test]
    fn numbers_dates_bools_binary_ips_arns() {
        let c = ctx(&[
            ("n", &["10"]),
            ("aws:CurrentTime", &["2026-11-23T10:00:00Z"]),
            ("aws:SecureTransport", &["true"]),
            ("b", &["QmluYXJ5"]),
            ("aws:SourceIp", &["203.0.113.7"]),
            ("aws:SourceArn", &["arn:aws:s3:::bucket"]),
        ]);
        assert!(cond("NumericLessThan", json!({"n": 11})).eval(&c).is_yes());
        assert!(cond("NumericGreaterThanEquals", json!({"n": "10"})).eval(&c).is_yes());
        assert!(cond("NumericNotEquals", json!({"n": 10})).eval(&c).is_no());
        assert!(cond("DateLessThan", json!({"aws:CurrentTime": "2027-01-01"})).eval(&c).is_yes());
        assert!(cond("DateGreaterThan", json!({"aws:CurrentTime": "2026-11-23T11:00:00+02:00"})).eval(&c).is_yes());
        assert!(cond("Bool", json!({"aws:SecureTransport": "True"})).eval(&c).is_yes());
        assert!(cond("BinaryEquals", json!({"b": "QmluYXJ5"})).eval(&c).is_yes());
        assert!(cond("IpAddress", json!({"aws:SourceIp": "203.0.113.0/24"})).eval(&c).is_yes());
        assert!(cond("NotIpAddress", json!({"aws:SourceIp": ["198.51.100.0/24", "2001:db8::/32"]})).eval(&c).is_yes());
        assert!(cond("ArnLike", json!({"aws:SourceArn": "arn:aws:s3:::*"})).eval(&c).is_yes());
        assert!(cond("ArnEquals", json!({"aws:SourceArn": "arn:aws:s3:::bucket"})).eval(&c).is_yes());
        assert!(cond("ArnNotLike", json!({"aws:SourceArn": "arn:aws:s3:::b*"})).eval(&c).is_no());
    }

    #[test]
    fn variables_in_condition_values() {
        let c = ctx(&[("aws:PrincipalTag/team", &["red"]), ("s3:prefix", &["home/red/"])]);
        assert!(cond("StringLike", json!({"s3:prefix": "home/${aws:PrincipalTag/team}/*"})).eval(&c).is_yes());
        assert!(cond("StringEquals", json!({"s3:prefix": "home/${aws:PrincipalTag/team}/"})).eval(&c).is_yes());
        let literal =
            Condition::parse_block("StringEquals", &json!({"s3:prefix": "home/${aws:PrincipalTag/team}/"}), false)
                .unwrap();
        assert!(literal[0].eval(&c).is_no(), "without Version 2012-10-17 variables are literal text");
    }

    #[test]
    fn bad_operators_and_values_are_errors() {
        for (op, body) in [
            ("StringEqualz", json!({"k": "v"})),
            ("NumericEquals", json!({"k": "ten"})),
            ("DateEquals", json!({"k": "yesterday"})),
            ("IpAddress", json!({"k": "10.0.0.0/33"})),
            ("Bool", json!({"k": "yes"})),
            ("NullIfExists", json!({"k": "true"})),
            ("StringEquals", json!({"k": []})),
            ("StringEquals", json!({"k": {"nested": 1}})),
            ("StringEquals", json!("k")),
        ] {
            assert!(Condition::parse_block(op, &body, true).is_err(), "{op} {body}");
        }
    }

    #[test]
    fn dates_parse_in_every_documented_form() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400.0));
        assert_eq!(parse_date("1970-01-01T01:00:00Z"), Some(3600.0));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_date("1700000000"), Some(1_700_000_000.0));
        assert_eq!(parse_date("2026-13-01"), None);
    }
}
