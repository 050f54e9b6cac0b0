//! A CloudFormation template as data: JSON, or YAML with the short-form intrinsic tags (`!Ref`,
//! `!Sub`, `!GetAtt`, ...) turned into their long form (`{"Ref": ...}`, `{"Fn::Sub": ...}`), so the
//! resolver sees one shape whatever the template was written in.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Why a template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is neither JSON nor YAML: {0}")]
    Syntax(String),
    #[error("the template's YAML has a `{tag}` tag, which is not a CloudFormation intrinsic function")]
    UnknownTag { tag: String },
    #[error("{section}: expected {expected}")]
    Shape { section: String, expected: &'static str },
    #[error("the template is {size} bytes; at most {limit} are read (CloudFormation's own limit is 1 MB)")]
    TooLarge { size: usize, limit: usize },
}

/// Templates up to this size are read: CloudFormation accepts at most 1 MB from S3 (CloudFormation
/// User Guide, "CloudFormation quotas": template body size in an S3 object).
pub const MAX_TEMPLATE_BYTES: usize = 1024 * 1024;

/// One resource of the template.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub kind: String,
    /// `Properties` (an empty object when absent).
    pub properties: Value,
    /// The `Condition` the resource is created under.
    pub condition: Option<String>,
}

/// A template parameter: its type and default.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateParameter {
    pub kind: String,
    pub default: Option<Value>,
}

/// A parsed template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub parameters: BTreeMap<String, TemplateParameter>,
    pub mappings: Map<String, Value>,
    pub conditions: Map<String, Value>,
    /// In template order.
    pub resources: Vec<(String, Resource)>,
}

/// The YAML short forms and their long names (CloudFormation User Guide, "Intrinsic function
/// reference"; `!Condition` is the condition function of `Fn::If`'s siblings).
const TAGS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("Sub", "Fn::Sub"),
    ("GetAtt", "Fn::GetAtt"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("If", "Fn::If"),
    ("Equals", "Fn::Equals"),
    ("Not", "Fn::Not"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("FindInMap", "Fn::FindInMap"),
    ("ImportValue", "Fn::ImportValue"),
    ("Base64", "Fn::Base64"),
    ("GetAZs", "Fn::GetAZs"),
    ("Cidr", "Fn::Cidr"),
    ("Transform", "Fn::Transform"),
    ("Length", "Fn::Length"),
    ("ToJsonString", "Fn::ToJsonString"),
];

impl Template {
    /// Reads a template from JSON or YAML text.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge { size: text.len(), limit: MAX_TEMPLATE_BYTES });
        }
        let doc = match serde_json::from_str::<Value>(text) {
            Ok(v) => v,
            Err(json) => {
                let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)
                    .map_err(|yaml| TemplateError::Syntax(format!("as JSON: {json}; as YAML: {yaml}")))?;
                from_yaml(yaml)?
            }
        };
        Template::from_value(&doc)
    }

    /// Reads a template already parsed as JSON.
    pub fn from_value(doc: &Value) -> Result<Template, TemplateError> {
        let shape = |section: &str, expected| TemplateError::Shape { section: section.to_owned(), expected };
        let Value::Object(top) = doc else { return Err(shape("template", "a JSON or YAML object")) };
        let section = |name: &str| -> Result<Map<String, Value>, TemplateError> {
            match top.get(name) {
                None | Some(Value::Null) => Ok(Map::new()),
                Some(Value::Object(m)) => Ok(m.clone()),
                Some(_) => Err(shape(name, "an object")),
            }
        };
        let mut parameters = BTreeMap::new();
        for (name, p) in section("Parameters")? {
            let kind = p.get("Type").and_then(Value::as_str).unwrap_or("String").to_owned();
            parameters.insert(name, TemplateParameter { kind, default: p.get("Default").cloned() });
        }
        let mut resources = Vec::new();
        for (id, r) in section("Resources")? {
            let Some(kind) = r.get("Type").and_then(Value::as_str) else {
                return Err(shape(&format!("Resources.{id}.Type"), "a resource type such as AWS::KMS::Key"));
            };
            let properties = match r.get("Properties") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(p @ Value::Object(_)) => p.clone(),
                Some(_) => return Err(shape(&format!("Resources.{id}.Properties"), "an object")),
            };
            let condition = r.get("Condition").and_then(Value::as_str).map(str::to_owned);
            resources.push((id, Resource { kind: kind.to_owned(), properties, condition }));
        }
        Ok(Template { parameters, mappings: section("Mappings")?, conditions: section("Conditions")?, resources })
    }

    /// The resource with this logical id.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|(i, _)| i == id).map(|(_, r)| r)
    }
}

/// YAML to JSON, short-form tags to long form. Mapping keys must be scalars.
fn from_yaml(v: serde_yaml_ng::Value) -> Result<Value, TemplateError> {
    use serde_yaml_ng::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect::<Result<_, _>>()?),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => return Err(TemplateError::Syntax("a mapping key that is not a scalar".into())),
                };
                out.insert(key, from_yaml(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let Some((_, long)) = TAGS.iter().find(|(short, _)| *short == name) else {
                return Err(TemplateError::UnknownTag { tag });
            };
            let inner = from_yaml(t.value)?;
            // `!GetAtt a.b` is the string form of `Fn::GetAtt: [a, b]`.
            let inner = match (*long, inner) {
                ("Fn::GetAtt", Value::String(s)) => match s.split_once('.') {
                    Some((id, attr)) => Value::Array(vec![Value::String(id.into()), Value::String(attr.into())]),
                    None => Value::String(s),
                },
                (_, other) => other,
            };
            let mut m = Map::new();
            m.insert((*long).to_owned(), inner);
            Value::Object(m)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_form_tags_become_the_long_form() {
        let t = Template::parse(
            "Parameters:\n  Env: {Type: String, Default: prod}\nResources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      Description: !Sub '${Env} key'\n      Arn: !GetAtt Role.Arn\n      Name: !Join ['-', [!Ref Env, !Select [0, !Split [',', 'a,b']]]]\n",
        )
        .unwrap();
        let key = t.resource("Key").unwrap();
        assert_eq!(key.kind, "AWS::KMS::Key");
        assert_eq!(
            key.properties,
            json!({"Description": {"Fn::Sub": "${Env} key"}, "Arn": {"Fn::GetAtt": ["Role", "Arn"]},
                   "Name": {"Fn::Join": ["-", [{"Ref": "Env"}, {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}]]}})
        );
        assert_eq!(t.parameters["Env"].default, Some(json!("prod")));
    }

    #[test]
    fn json_and_yaml_read_the_same() {
        let yaml = Template::parse("Resources:\n  B:\n    Type: AWS::S3::Bucket\n").unwrap();
        let json = Template::parse(r#"{"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}"#).unwrap();
        assert_eq!(yaml, json);
    }

    #[test]
    fn bad_templates_say_what_is_wrong() {
        let e = Template::parse("Resources:\n  B:\n    Properties: {}\n").unwrap_err().to_string();
        assert_eq!(e, "Resources.B.Type: expected a resource type such as AWS::KMS::Key");
        let e = Template::parse("Resources:\n  B:\n    Type: X\n    Properties: !Frob x\n").unwrap_err().to_string();
        assert!(e.contains("`!Frob` tag"), "{e}");
        assert!(Template::parse("[1, 2").is_err());
        assert!(matches!(Template::parse(&" ".repeat(MAX_TEMPLATE_BYTES + 1)), Err(TemplateError::TooLarge { .. })));
    }
}
