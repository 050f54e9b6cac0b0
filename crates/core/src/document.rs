//! JSON and YAML documents read strictly: a key given twice in one mapping is an error (both
//! parsers would otherwise keep the last one silently), naming the key, the mapping's path and
//! the line and column of each of the two places.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses JSON text into a value, refusing duplicate keys.
pub fn from_json(text: &str) -> Result<Value, serde_json::Error> {
    let twice = Twice::default();
    let read = || {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = Strict { path: String::new(), twice: Rc::clone(&twice) }.deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    };
    read().map_err(|e| match twice.take() {
        Some(d) => de::Error::custom(d.message(json_places(text))),
        None => e,
    })
}

/// Parses YAML text into a value, refusing duplicate keys.
pub fn from_yaml(text: &str) -> Result<Value, serde_yaml_ng::Error> {
    let twice = Twice::default();
    Strict { path: String::new(), twice: Rc::clone(&twice) }
        .deserialize(serde_yaml_ng::Deserializer::from_str(text))
        .map_err(|e| match (twice.take(), e.location()) {
            // serde_yaml_ng places the error at the start of the mapping that holds the key.
            (Some(d), Some(at)) => de::Error::custom(d.message(yaml_places(text, at.line(), at.column(), &d.key))),
            (Some(d), None) => de::Error::custom(d.message(None)),
            (None, _) => e,
        })
}

/// The first key found twice, and the path of its mapping.
#[derive(Debug)]
struct Duplicate {
    key: String,
    path: String,
}

type Twice = Rc<RefCell<Option<Duplicate>>>;

/// A place in the text: line and column, from 1.
type Place = (usize, usize);

impl Duplicate {
    fn message(&self, places: Option<(Place, Place)>) -> String {
        let within = if self.path.is_empty() { "at the top level".to_owned() } else { format!("in {}", self.path) };
        let key = excerpt(&self.key);
        match places {
            Some(((l1, c1), (l2, c2))) => {
                format!("`{key}` is given twice {within} (line {l1} column {c1}, and line {l2} column {c2}); keep one")
            }
            None => format!("`{key}` is given twice {within}; keep one"),
        }
    }
}

/// At most 80 characters of a key, for messages.
fn excerpt(key: &str) -> String {
    let mut out: String = key.chars().take(80).collect();
    if out.len() < key.len() {
        out.push_str("...");
    }
    out
}

/// The line and column of byte `at` in `text`.
fn place(text: &str, at: usize) -> Place {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    (line, column)
}

/// Where the first key given twice in one object of a JSON text is, both times: a scan of the
/// text's strings and brackets (the text is valid JSON up to that key, as the parser found).
fn json_places(text: &str) -> Option<(Place, Place)> {
    struct Object {
        keys: HashMap<String, usize>,
        expect_key: bool,
    }
    // `None` for an array.
    let mut stack: Vec<Option<Object>> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' => stack.push(Some(Object { keys: HashMap::new(), expect_key: true })),
            b'[' => stack.push(None),
            b'}' | b']' => {
                stack.pop();
            }
            b',' | b':' => {
                if let Some(Some(o)) = stack.last_mut() {
                    o.expect_key = b == b',';
                }
            }
            b'"' => {
                let mut end = i + 1;
                while let Some(&c) = bytes.get(end) {
                    end += if c == b'\\' { 2 } else { 1 };
                    if c == b'"' {
                        break;
                    }
                }
                if let Some(Some(o)) = stack.last_mut()
                    && o.expect_key
                {
                    let key: String = serde_json::from_str(text.get(i..end)?).ok()?;
                    if let Some(&first) = o.keys.get(&key) {
                        return Some((place(text, first), place(text, i)));
                    }
                    o.keys.insert(key, i);
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where `key` is given twice in the block mapping that starts at `line`, `column` (from 1): the
/// mapping's keys are the lines that start at its column, until a line starts left of it. `None`
/// for a flow mapping (`{a: 1, a: 2}`) or anything else this reading cannot place.
fn yaml_places(text: &str, line: usize, column: usize, key: &str) -> Option<(Place, Place)> {
    let indent = column.checked_sub(1)?;
    let forms = [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")];
    let mut found = Vec::new();
    for (n, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        let rest = l.get(indent..).unwrap_or_default();
        let lead = l.len() - l.trim_start().len();
        let blank = l.trim().is_empty() || l.trim_start().starts_with('#');
        if n + 1 > line && !blank && lead < indent {
            break;
        }
        let is_key = forms.iter().any(|f| {
            rest.strip_prefix(f.as_str())
                .is_some_and(|after| after.is_empty() || after.starts_with(' ') || after.starts_with('\t'))
        });
        if (n + 1 == line || lead == indent) && is_key {
            found.push((n + 1, column));
        }
    }
    match found.as_slice() {
        [first, second, ..] => Some((*first, *second)),
        _ => None,
    }
}

/// A value being read at `path` (`Keys[0]`); the first key found twice is put in `twice`.
struct Strict {
    path: String,
    twice: Twice,
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
        while let Some(v) = seq.next_element_seed(Strict {
            path: format!("{}[{}]", self.path, items.len()),
            twice: Rc::clone(&self.twice),
        })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            if out.contains_key(&key) {
                let d = Duplicate { key, path: self.path.clone() };
                let message = d.message(None);
                self.twice.borrow_mut().get_or_insert(d);
                return Err(de::Error::custom(message));
            }
            let v = map.next_value_seed(Strict { path, twice: Rc::clone(&self.twice) })?;
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
        assert_eq!(e, "`Key` is given twice in Keys[0] (line 1 column 12, and line 1 column 24); keep one");
        let e = from_yaml("Parameters: []\nOptions: {}\nParameters: []\n").unwrap_err().to_string();
        assert_eq!(e, "`Parameters` is given twice at the top level (line 1 column 1, and line 3 column 1); keep one");
    }

    #[test]
    fn both_places_are_found_past_other_mappings_strings_and_comments() {
        let json = "{\"Keys\": [\n  {\"Key\": \"a\\\"{,\", \"P\": {\"Key\": 1}},\n  {\"P\": [\"Key\"],\n   \"Key\": 2, \"Key\": 3}]}";
        let e = from_json(json).unwrap_err().to_string();
        assert_eq!(e, "`Key` is given twice in Keys[1] (line 4 column 4, and line 4 column 14); keep one", "{json}");
        let yaml = "Keys:\n  - Key: alias/a\n    Principals:\n      - Key: x\n  - Key: alias/b\n    # Key: no\n    Principals: []\n\n    \"Key\": alias/c\n";
        let e = from_yaml(yaml).unwrap_err().to_string();
        assert_eq!(e, "`Key` is given twice in Keys[1] (line 5 column 5, and line 9 column 5); keep one");
        // A flow mapping is not placed by line: the message still names the key and the mapping.
        let e = from_yaml("Keys: [{Key: a, Key: b}]\n").unwrap_err().to_string();
        assert!(e.starts_with("`Key` is given twice in Keys[0]; keep one"), "{e}");
    }

    #[test]
    fn documents_without_duplicates_read_as_serde_json_reads_them() {
        let text = r#"{"a": [1, -2, 2.5, true, null, "x"], "b": {"c": {}}}"#;
        assert_eq!(from_json(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(from_yaml(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
        assert!(from_json("{} trailing").is_err());
    }
}
