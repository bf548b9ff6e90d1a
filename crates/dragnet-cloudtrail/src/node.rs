//! The parsed record: a JSON tree that borrows unescaped strings from the input and keeps object
//! keys in document order (the pipeline's `HashMap` order and capacity depend on it).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value of a raw record.
#[derive(Clone, Debug, PartialEq)]
pub enum Node<'a> {
    Null,
    Bool(bool),
    /// An integer literal that fits `i64`.
    Int(i64),
    /// An integer literal above `i64::MAX` (fits `u64`).
    UInt(u64),
    /// A literal with a fraction or exponent (Java `Double`), or an integer beyond `u64`.
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Entries in document order, as parsed (duplicates kept; lookups take the first).
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// The value under `key` when this is an object.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows object keys; `None` when a step is missing or not an object.
    pub fn path(&self, keys: &[&str]) -> Option<&Node<'a>> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// True when the pipeline's first clean-up script ("remove nulls before renames") deletes
    /// this value: `null`, `""`, `"-"`, `"none"`, or a map/list that is empty once its own
    /// such values are deleted.
    pub fn is_dropped(&self) -> bool {
        match self {
            Node::Null => true,
            Node::Str(s) => matches!(&**s, "" | "-" | "none"),
            Node::Array(items) => items.iter().all(Node::is_dropped),
            Node::Object(entries) => entries.iter().all(|(_, v)| v.is_dropped()),
            _ => false,
        }
    }

    /// The value after that clean-up, as JSON; `None` when it is dropped entirely.
    pub fn pruned(&self) -> Option<serde_json::Value> {
        use serde_json::Value;
        Some(match self {
            Node::Null => return None,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::UInt(u) => Value::from(*u),
            Node::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Node::Str(s) => {
                if matches!(&**s, "" | "-" | "none") {
                    return None;
                }
                Value::String(s.to_string())
            }
            Node::Array(items) => {
                let out: Vec<Value> = items.iter().filter_map(Node::pruned).collect();
                if out.is_empty() {
                    return None;
                }
                Value::Array(out)
            }
            Node::Object(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    if let Some(v) = v.pruned() {
                        // First key wins, as in `get`.
                        out.entry(k.to_string()).or_insert(v);
                    }
                }
                if out.is_empty() {
                    return None;
                }
                Value::Object(out)
            }
        })
    }

    /// The pipeline's value when this node is copied by a mustache template (`{{{json.x}}}`)
    /// or used as a string: scalars in their Java spelling; `None` for containers and null.
    pub fn scalar_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Node::Str(s) => Some(Cow::Borrowed(s)),
            Node::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Node::Int(i) => Some(Cow::Owned(i.to_string())),
            Node::UInt(u) => Some(Cow::Owned(u.to_string())),
            Node::Float(f) => Some(Cow::Owned(crate::java_double::java_double(*f))),
            _ => None,
        }
    }

    /// A string value that survives the clean-up (not `""`, `"-"`, `"none"`).
    pub fn kept_str(&self) -> Option<&str> {
        self.as_str().filter(|s| !matches!(*s, "" | "-" | "none"))
    }
}

/// The nesting depth [`parse`] allows: `--max-json-depth`'s default.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// Why [`parse_within`] failed.
#[derive(Debug)]
pub enum ParseError {
    Json(serde_json::Error),
    /// The record nests containers deeper than this.
    TooDeep(usize),
}

/// Parses one record nested at most [`DEFAULT_MAX_DEPTH`] deep. Strings without escapes
/// borrow from `raw`.
pub fn parse(raw: &[u8]) -> Result<Node<'_>, serde_json::Error> {
    parse_within(raw, DEFAULT_MAX_DEPTH).map_err(|e| match e {
        ParseError::Json(e) => e,
        ParseError::TooDeep(max) => {
            de::Error::custom(format!("JSON nests deeper than {max} levels"))
        }
    })
}

/// Parses one record whose containers nest at most `max_depth` deep (the record itself is
/// level 1, as the framer counts). The one nesting limit is this one (`--max-json-depth`):
/// serde_json's own recursion limit (128) is off, and the depth is counted here instead.
pub fn parse_within(raw: &[u8], max_depth: usize) -> Result<Node<'_>, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(raw);
    de.disable_recursion_limit();
    let too_deep = std::cell::Cell::new(false);
    let seed = NodeSeed {
        depth_left: max_depth,
        too_deep: &too_deep,
    };
    let parsed = de::DeserializeSeed::deserialize(seed, &mut de).and_then(|node| {
        de.end()?;
        Ok(node)
    });
    match parsed {
        Ok(node) => Ok(node),
        Err(_) if too_deep.get() => Err(ParseError::TooDeep(max_depth)),
        Err(e) => Err(ParseError::Json(e)),
    }
}

/// A [`Node`] that may open `depth_left` more containers.
#[derive(Clone, Copy)]
struct NodeSeed<'c> {
    depth_left: usize,
    too_deep: &'c std::cell::Cell<bool>,
}

impl<'de> de::DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(NodeVisitor(Some(self)))
    }
}

impl NodeSeed<'_> {
    /// The seed for a container's members, or the error when there is no level left.
    fn inner<E: de::Error>(self) -> Result<Self, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(NodeSeed { depth_left, ..self }),
            None => {
                self.too_deep.set(true);
                Err(E::custom("JSON nests too deep"))
            }
        }
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor(None))
    }
}

/// Builds a [`Node`]; with a seed, counting the depth against its limit.
struct NodeVisitor<'c>(Option<NodeSeed<'c>>);

impl<'de> Visitor<'de> for NodeVisitor<'_> {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Node::UInt(v), Node::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Node::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        match self.0 {
            Some(seed) => {
                let seed = seed.inner()?;
                while let Some(v) = seq.next_element_seed(seed)? {
                    out.push(v);
                }
            }
            None => {
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
            }
        }
        Ok(Node::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
        let seed = self.0.map(NodeSeed::inner).transpose()?;
        while let Some(Key(k)) = map.next_key()? {
            let v: Node<'de> = match seed {
                Some(seed) => map.next_value_seed(seed)?,
                None => map.next_value()?,
            };
            out.push((k, v));
        }
        Ok(Node::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one nesting limit is the caller's (`--max-json-depth`), counted as the framer
    /// counts (the record is level 1), not serde_json's recursion limit of 128.
    #[test]
    fn depth_is_counted_against_the_given_limit_only() {
        let deep = |levels: usize| {
            format!(
                r#"{{"a":{}1{}}}"#,
                "[".repeat(levels - 1),
                "]".repeat(levels - 1)
            )
        };
        let text = deep(200);
        assert!(parse(text.as_bytes()).is_ok());
        assert!(parse_within(text.as_bytes(), 200).is_ok());
        assert!(matches!(
            parse_within(text.as_bytes(), 199),
            Err(ParseError::TooDeep(199))
        ));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(300), "}".repeat(300));
        assert!(parse_within(objects.as_bytes(), 300).is_ok());
        assert!(matches!(
            parse_within(objects.as_bytes(), 299),
            Err(ParseError::TooDeep(299))
        ));
        assert!(
            parse(objects.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("256")
        );
        // Other errors stay JSON errors.
        assert!(matches!(
            parse_within(b"{\"a\":[1,}", 10),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_within(b"{} {}", 10),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn keeps_document_order_and_borrows_plain_strings() {
        let raw = br#"{"b":"x","a":"y\"z","c":[1,-2,3.5,18446744073709551615]}"#;
        let node = parse(raw).unwrap();
        let Node::Object(entries) = &node else {
            panic!()
        };
        let keys: Vec<&str> = entries.iter().map(|(k, _)| &**k).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert!(matches!(node.get("b"), Some(Node::Str(Cow::Borrowed("x")))));
        assert!(matches!(node.get("a"), Some(Node::Str(Cow::Owned(_)))));
        assert_eq!(
            node.get("c"),
            Some(&Node::Array(vec![
                Node::Int(1),
                Node::Int(-2),
                Node::Float(3.5),
                Node::UInt(u64::MAX)
            ]))
        );
    }

    #[test]
    fn clean_up_drops_empty_dash_none_and_emptied_containers() {
        let node =
            parse(br#"{"a":"","b":"-","c":"none","d":{"e":[null,{}]},"f":"None","g":0}"#).unwrap();
        assert_eq!(
            node.pruned(),
            Some(serde_json::json!({"f": "None", "g": 0}))
        );
        assert!(parse(br#"{"x":{"y":[]}}"#).unwrap().is_dropped());
        assert!(!parse(br#"false"#).unwrap().is_dropped());
    }
}
