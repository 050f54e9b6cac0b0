//! Intrinsic functions, resolved as far as what is known before the stack exists allows.
//!
//! Known: template parameters (given values, else defaults), the pseudo parameters Preflight is
//! told (account, region, partition, stack name), conditions, mappings, and the functions that
//! only compute. Not known: what the stack will create (`Ref` of a resource, `Fn::GetAtt`), other
//! stacks' exports, AZs. Those give [`Unresolved`], naming the expression, so whatever depends on
//! them is `unknown`, never passed (CloudFormation User Guide, "Intrinsic function reference",
//! "Pseudo parameters reference").

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::template::Template;

/// What cannot be resolved before the deploy, as the template writes it (`Fn::GetAtt Role.Arn`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` cannot be resolved before the stack exists")]
pub struct Unresolved(pub String);

/// What is known of the stack's environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackEnv {
    pub account: Option<String>,
    pub region: Option<String>,
    pub partition: Option<String>,
    pub stack_name: Option<String>,
    /// Template parameter values given for this deploy (they win over defaults).
    pub parameters: BTreeMap<String, String>,
}

/// Nesting beyond this is not followed (a template CloudFormation accepts is far shallower).
const MAX_DEPTH: usize = 64;

/// Resolves values of one template in one environment.
pub struct Resolver<'a> {
    template: &'a Template,
    env: &'a StackEnv,
    /// `Fn::GetAtt` values known before the deploy: (logical id, attribute) -> value.
    known: BTreeMap<(String, String), String>,
}

impl<'a> Resolver<'a> {
    pub fn new(template: &'a Template, env: &'a StackEnv) -> Self {
        Self { template, env, known: BTreeMap::new() }
    }

    /// This resolver, with attributes of resources the stack creates that the stack model names
    /// before the deploy (the ARN a planned role or key stands in as): `Fn::GetAtt` of them
    /// resolves to it, so a policy naming them is judged against the same planned facts.
    #[must_use]
    pub fn with_known(mut self, known: BTreeMap<(String, String), String>) -> Self {
        self.known = known;
        self
    }

    fn attribute(&self, id: &str, attr: &str) -> Result<Option<Value>, Unresolved> {
        match self.known.get(&(id.to_owned(), attr.to_owned())) {
            Some(v) => Ok(Some(Value::String(v.clone()))),
            None => Err(Unresolved(format!("Fn::GetAtt {id}.{attr}"))),
        }
    }

    /// `v` with every intrinsic function replaced by its value; `AWS::NoValue` removes the
    /// element or key it stands in.
    pub fn value(&self, v: &Value) -> Result<Value, Unresolved> {
        Ok(self.eval(v, 0)?.unwrap_or(Value::Null))
    }

    /// Whether the named condition holds.
    pub fn condition(&self, name: &str) -> Result<bool, Unresolved> {
        self.named_condition(name, 0)
    }

    fn named_condition(&self, name: &str, depth: usize) -> Result<bool, Unresolved> {
        let Some(body) = self.template.conditions.get(name) else {
            return Err(Unresolved(format!("Condition {name} (not in Conditions)")));
        };
        self.test(body, depth + 1)
    }

    /// A condition function's truth.
    fn test(&self, v: &Value, depth: usize) -> Result<bool, Unresolved> {
        if depth > MAX_DEPTH {
            return Err(Unresolved("a condition nested too deep".into()));
        }
        let Some((f, arg)) = single(v) else {
            return match self.eval(v, depth + 1)? {
                Some(Value::Bool(b)) => Ok(b),
                Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
                _ => Err(Unresolved(format!("condition {v}"))),
            };
        };
        match (f, arg) {
            ("Condition", Value::String(name)) => self.named_condition(name, depth),
            ("Fn::Equals", Value::Array(pair)) if let [a, b] = pair.as_slice() => {
                let a = self.eval(a, depth + 1)?;
                let b = self.eval(b, depth + 1)?;
                Ok(scalar_text(a.as_ref()) == scalar_text(b.as_ref()))
            }
            ("Fn::Not", Value::Array(one)) if let [c] = one.as_slice() => Ok(!self.test(c, depth + 1)?),
            ("Fn::And", Value::Array(all)) => all.iter().try_fold(true, |acc, c| Ok(acc && self.test(c, depth + 1)?)),
            ("Fn::Or", Value::Array(any)) => any.iter().try_fold(false, |acc, c| Ok(acc || self.test(c, depth + 1)?)),
            _ => Err(Unresolved(format!("{f} {arg}"))),
        }
    }

    fn eval(&self, v: &Value, depth: usize) -> Result<Option<Value>, Unresolved> {
        if depth > MAX_DEPTH {
            return Err(Unresolved("a value nested too deep".into()));
        }
        match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    if let Some(x) = self.eval(i, depth + 1)? {
                        out.push(x);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(m) => match single(v) {
                Some((f, arg)) if f == "Ref" || f.starts_with("Fn::") => self.function(f, arg, depth),
                _ => {
                    let mut out = Map::new();
                    for (k, x) in m {
                        if let Some(x) = self.eval(x, depth + 1)? {
                            out.insert(k.clone(), x);
                        }
                    }
                    Ok(Some(Value::Object(out)))
                }
            },
            other => Ok(Some(other.clone())),
        }
    }

    fn known(&self, v: &Value, depth: usize) -> Result<Value, Unresolved> {
        self.eval(v, depth + 1)?.ok_or_else(|| Unresolved("AWS::NoValue where a value is needed".into()))
    }

    fn function(&self, f: &str, arg: &Value, depth: usize) -> Result<Option<Value>, Unresolved> {
        let text = |v: &Value| -> Result<String, Unresolved> {
            match self.known(v, depth)? {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(Unresolved(format!("{f}: expected a string, got {other}"))),
            }
        };
        match (f, arg) {
            ("Ref", Value::String(name)) => self.reference(name),
            ("Fn::GetAtt", Value::Array(p)) => {
                let parts: Vec<String> = p.iter().map(&text).collect::<Result<_, _>>()?;
                match parts.as_slice() {
                    [id, attr] => self.attribute(id, attr),
                    _ => Err(Unresolved(format!("Fn::GetAtt {}", parts.join(".")))),
                }
            }
            ("Fn::GetAtt", Value::String(s)) => match s.split_once('.') {
                Some((id, attr)) => self.attribute(id, attr),
                None => Err(Unresolved(format!("Fn::GetAtt {s}"))),
            },
            ("Fn::Join", Value::Array(p)) if let [sep, list] = p.as_slice() => {
                let sep = text(sep)?;
                let Value::Array(items) = self.known(list, depth)? else {
                    return Err(Unresolved("Fn::Join: expected a list".into()));
                };
                let parts: Vec<String> = items.iter().map(&text).collect::<Result<_, _>>()?;
                Ok(Some(Value::String(parts.join(&sep))))
            }
            ("Fn::Select", Value::Array(p)) if let [index, list] = p.as_slice() => {
                let index: usize = text(index)?.parse().map_err(|_| Unresolved("Fn::Select: bad index".into()))?;
                let Value::Array(items) = self.known(list, depth)? else {
                    return Err(Unresolved("Fn::Select: expected a list".into()));
                };
                items
                    .get(index)
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| Unresolved(format!("Fn::Select {index}: out of range")))
            }
            ("Fn::Split", Value::Array(p)) if let [sep, s] = p.as_slice() => {
                let sep = text(sep)?;
                let s = text(s)?;
                Ok(Some(Value::Array(s.split(sep.as_str()).map(|x| Value::String(x.to_owned())).collect())))
            }
            ("Fn::If", Value::Array(p)) if let [name, yes, no] = p.as_slice() => {
                let Value::String(name) = name else {
                    return Err(Unresolved("Fn::If: expected a condition name".into()));
                };
                let branch = if self.named_condition(name, depth)? { yes } else { no };
                self.eval(branch, depth + 1)
            }
            ("Fn::FindInMap", Value::Array(p)) if let [map, top, second, ..] = p.as_slice() => {
                let (map, top, second) = (text(map)?, text(top)?, text(second)?);
                self.template
                    .mappings
                    .get(&map)
                    .and_then(|m| m.get(&top))
                    .and_then(|m| m.get(&second))
                    .map(|v| self.eval(v, depth + 1))
                    .unwrap_or_else(|| Err(Unresolved(format!("Fn::FindInMap {map}.{top}.{second}"))))
            }
            ("Fn::Sub", Value::String(s)) => self.sub(s, &Map::new(), depth).map(|s| Some(Value::String(s))),
            ("Fn::Sub", Value::Array(p)) if let [s, vars] = p.as_slice() => {
                let s = text(s)?;
                let Value::Object(vars) = vars else {
                    return Err(Unresolved("Fn::Sub: expected a variable map".into()));
                };
                self.sub(&s, vars, depth).map(|s| Some(Value::String(s)))
            }
            ("Fn::Length", v) => match self.known(v, depth)? {
                Value::Array(items) => Ok(Some(Value::from(items.len()))),
                _ => Err(Unresolved("Fn::Length: expected a list".into())),
            },
            ("Fn::ToJsonString", v) => Ok(Some(Value::String(self.known(v, depth)?.to_string()))),
            ("Fn::ImportValue", v) => Err(Unresolved(format!("Fn::ImportValue {}", text(v).unwrap_or_else(|u| u.0)))),
            (other, _) => Err(Unresolved(other.to_owned())),
        }
    }

    /// `Ref` of a parameter, a pseudo parameter or a resource.
    fn reference(&self, name: &str) -> Result<Option<Value>, Unresolved> {
        let known = |v: &Option<String>, what: &str| {
            v.clone().map(|s| Some(Value::String(s))).ok_or_else(|| Unresolved(format!("{what} (not given)")))
        };
        match name {
            "AWS::NoValue" => Ok(None),
            "AWS::AccountId" => known(&self.env.account, "AWS::AccountId"),
            "AWS::Region" => known(&self.env.region, "AWS::Region"),
            "AWS::Partition" => known(&self.env.partition, "AWS::Partition"),
            "AWS::StackName" => known(&self.env.stack_name, "AWS::StackName"),
            "AWS::URLSuffix" => match self.env.partition.as_deref() {
                Some("aws-cn") => Ok(Some(Value::String("amazonaws.com.cn".into()))),
                Some(_) => Ok(Some(Value::String("amazonaws.com".into()))),
                None => Err(Unresolved("AWS::URLSuffix (no partition given)".into())),
            },
            _ if name.starts_with("AWS::") => Err(Unresolved(name.to_owned())),
            _ => {
                if let Some(p) = self.template.parameters.get(name) {
                    if p.kind.starts_with("AWS::SSM::Parameter::Value") && !self.env.parameters.contains_key(name) {
                        return Err(Unresolved(format!("Ref {name} (an SSM parameter value, read at deploy)")));
                    }
                    let value = match (self.env.parameters.get(name), &p.default) {
                        (Some(v), _) => Value::String(v.clone()),
                        (None, Some(d)) => d.clone(),
                        (None, None) => {
                            return Err(Unresolved(format!("Ref {name} (a parameter with no value or default)")));
                        }
                    };
                    // List types are comma-delimited text (CloudFormation User Guide, "Parameters").
                    let list = p.kind == "CommaDelimitedList" || p.kind.starts_with("List<");
                    return Ok(Some(match (list, value) {
                        (true, Value::String(s)) => {
                            Value::Array(s.split(',').map(|x| Value::String(x.trim().to_owned())).collect())
                        }
                        (_, v) => v,
                    }));
                }
                if self.template.resource(name).is_some() {
                    return Err(Unresolved(format!("Ref {name}")));
                }
                Err(Unresolved(format!("Ref {name} (no such parameter or resource)")))
            }
        }
    }

    /// `Fn::Sub`: `${Name}`, `${Resource.Attribute}`, `${!Literal}`.
    fn sub(&self, s: &str, vars: &Map<String, Value>, depth: usize) -> Result<String, Unresolved> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find('}') else {
                out.push_str(rest.get(start..).unwrap_or_default());
                return Ok(out);
            };
            let name = after.get(..end).unwrap_or_default();
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                match self.known(v, depth)? {
                    Value::String(x) => out.push_str(&x),
                    other => out.push_str(&other.to_string()),
                }
            } else if let Some((id, attr)) = name.split_once('.') {
                match self.attribute(id, attr)? {
                    Some(Value::String(x)) => out.push_str(&x),
                    _ => return Err(Unresolved(format!("Fn::GetAtt {id}.{attr}"))),
                }
            } else {
                match self.reference(name)? {
                    Some(Value::String(x)) => out.push_str(&x),
                    Some(other) => out.push_str(&other.to_string()),
                    None => {}
                }
            }
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `{"Name": arg}`: the one key of a single-key object.
fn single(v: &Value) -> Option<(&str, &Value)> {
    match v {
        Value::Object(m) if m.len() == 1 => m.iter().next().map(|(k, a)| (k.as_str(), a)),
        _ => None,
    }
}

fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Template {
        Template::from_value(&json!({
            "Parameters": {
                "Env": {"Type": "String", "Default": "prod"},
                "Subnets": {"Type": "CommaDelimitedList", "Default": "a, b"},
                "Secret": {"Type": "String"},
                "Ami": {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": "/ami"}
            },
            "Mappings": {"Sizes": {"prod": {"Db": "large"}}},
            "Conditions": {
                "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
                "Both": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Or": [{"Condition": "NotProd"}, true]}]}
            },
            "Resources": {"Role": {"Type": "AWS::IAM::Role"}}
        }))
        .unwrap()
    }

    fn env() -> StackEnv {
        StackEnv {
            account: Some("111111111111".into()),
            region: Some("us-east-1".into()),
            partition: Some("aws".into()),
            stack_name: Some("App".into()),
            parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn intrinsics_resolve_as_cloudformation_does() {
        let t = template();
        let e = env();
        let r = Resolver::new(&t, &e);
        let cases: &[(Value, Value)] = &[
            (json!({"Ref": "Env"}), json!("prod")),
            (json!({"Ref": "Subnets"}), json!(["a", "b"])),
            (
                json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}),
                json!("arn:aws:iam::111111111111:root"),
            ),
            (json!({"Fn::Sub": ["${X}-${!Literal}", {"X": {"Ref": "AWS::Region"}}]}), json!("us-east-1-${Literal}")),
            (json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b"]]}), json!("arn:aws:s3:::b")),
            (json!({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}), json!("y")),
            (json!({"Fn::If": ["IsProd", "big", "small"]}), json!("big")),
            (json!({"Fn::If": ["NotProd", "big", "small"]}), json!("small")),
            (json!({"Fn::If": ["Both", "yes", "no"]}), json!("yes")),
            (json!({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Db"]}), json!("large")),
            (json!({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}, 2]}), json!({"b": [1, 2]})),
            (json!({"Fn::Length": [1, 2, 3]}), json!(3)),
            (json!({"Fn::ToJsonString": {"a": 1}}), json!("{\"a\":1}")),
            (json!({"Ref": "AWS::URLSuffix"}), json!("amazonaws.com")),
        ];
        for (input, want) in cases {
            assert_eq!(r.value(input).as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn what_the_stack_creates_or_nobody_gave_is_unresolved_and_named() {
        let t = template();
        let mut e = env();
        e.account = None;
        let r = Resolver::new(&t, &e);
        let cases: &[(Value, &str)] = &[
            (json!({"Ref": "Role"}), "Ref Role"),
            (json!({"Fn::GetAtt": ["Role", "Arn"]}), "Fn::GetAtt Role.Arn"),
            (json!({"Fn::Sub": "${Role.Arn}"}), "Fn::GetAtt Role.Arn"),
            (json!({"Fn::ImportValue": "SharedKey"}), "Fn::ImportValue SharedKey"),
            (json!({"Ref": "AWS::AccountId"}), "AWS::AccountId (not given)"),
            (json!({"Ref": "Secret"}), "Ref Secret (a parameter with no value or default)"),
            (json!({"Ref": "Ami"}), "Ref Ami (an SSM parameter value, read at deploy)"),
            (json!({"Fn::GetAZs": ""}), "Fn::GetAZs"),
            (json!({"Ref": "Nope"}), "Ref Nope (no such parameter or resource)"),
        ];
        for (input, want) in cases {
            assert_eq!(r.value(input), Err(Unresolved((*want).to_owned())), "{input}");
        }
    }

    #[test]
    fn given_parameter_values_win_over_defaults() {
        let t = template();
        let mut e = env();
        e.parameters.insert("Env".into(), "dev".into());
        let r = Resolver::new(&t, &e);
        assert_eq!(r.value(&json!({"Fn::If": ["IsProd", "big", "small"]})), Ok(json!("small")));
        assert_eq!(r.condition("IsProd"), Ok(false));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut v = json!("x");
        for _ in 0..200 {
            v = json!({"Fn::Join": ["", [v]]});
        }
        let t = template();
        let e = env();
        assert_eq!(Resolver::new(&t, &e).value(&v), Err(Unresolved("a value nested too deep".into())));
    }
}
