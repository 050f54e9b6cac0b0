//! JSON and YAML documents read strictly: a key given twice in one mapping is an error (both
//! parsers would otherwise keep the last one silently), naming the key and the mapping's path
//! (and, in JSON, the line and column of the second).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses JSON text into a value, refusing duplicate keys.
pub fn from_json(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Strict { path: String::new() }.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Parses YAML text into a value, refusing duplicate keys.
pub fn from_yaml(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    Strict { path: String::new() }.deserialize(serde_yaml_ng::Deserializer::from_str(text))
}

/// A value being read at `path` (`Keys[0]`), for the duplicate-key message.
struct Strict {
    path: String,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON or YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict { path: format!("{}[{}]", self.path, items.len()) })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            if out.contains_key(&key) {
                let within =
                    if self.path.is_empty() { "at the top level".to_owned() } else { format!("in {}", self.path) };
                return Err(de::Error::custom(format!("`{key}` is given twice {within}; keep one")));
            }
            let v = map.next_value_seed(Strict { path })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_errors_naming_the_key_and_the_mapping() {
        let e = from_json(r#"{"Keys": [{"Key": "a", "Key": "b"}]}"#).unwrap_err().to_string();
        // serde_json adds where the second one is.
        assert_eq!(e, "`Key` is given twice in Keys[0]; keep one at line 1 column 28");
        let e = from_yaml("Parameters: []\nOptions: {}\nParameters: []\n").unwrap_err().to_string();
        assert_eq!(e, "`Parameters` is given twice at the top level; keep one");
    }

    #[test]
    fn documents_without_duplicates_read_as_serde_json_reads_them() {
        let text = r#"{"a": [1, -2, 2.5, true, null, "x"], "b": {"c": {}}}"#;
        assert_eq!(from_json(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(from_yaml(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert!(from_json("{} trailing").is_err());
    }
}
