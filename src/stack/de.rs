//! A serde `Deserializer` over the spanned YAML tree.
//!
//! Every error carries the dotted path of the value (`services.api.ports[0]`)
//! and the span of the text to underline, which serde's own YAML front-ends
//! do not both give. Keys starting with `x-` are ignored in structs, as in
//! compose, so they can hold anchors.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::yaml::{Kind, Node, Span};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub message: String,
    pub path: Option<String>,
    pub span: Option<Span>,
    /// Shown under the caret, e.g. a did-you-mean.
    pub label: Option<String>,
}

impl DeError {
    fn at(mut self, path: &str, span: Span) -> DeError {
        if self.path.is_none() {
            self.path = Some(path.to_string());
        }
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }

    fn new(message: impl Into<String>) -> DeError {
        DeError {
            message: message.into(),
            path: None,
            span: None,
            label: None,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.as_deref() {
            Some(p) if !p.is_empty() => write!(f, "{p}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::new(format!("expected {exp}, found {}", unexpected(&unexp)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(format!(
            "unknown field `{field}`, expected one of {}",
            list(expected)
        ));
        e.label = did_you_mean(field, expected).map(|s| format!("did you mean `{s}`?"));
        e
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(format!(
            "unknown value `{variant}`, expected one of {}",
            list(expected)
        ));
        e.label = did_you_mean(variant, expected).map(|s| format!("did you mean `{s}`?"));
        e
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(format!("missing field `{field}`"))
    }
}

/// Serde's names for values, in the words the rest of geno's messages use.
fn unexpected(u: &de::Unexpected) -> String {
    use de::Unexpected as U;
    match u {
        U::Map => "a mapping".into(),
        U::Seq => "a list".into(),
        U::Unit | U::Option => "null".into(),
        U::Str(s) => format!("`{s}`"),
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => format!("`{n}`"),
        U::Signed(n) => format!("`{n}`"),
        U::Float(n) => format!("`{n}`"),
        other => other.to_string(),
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest candidate, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

pub fn from_node<T: DeserializeOwned>(node: &Node, path: &str) -> Result<T, DeError> {
    from_node_at(node, path, node.span)
}

/// Like `from_node`, with `blame` underlined for errors about the whole value.
pub fn from_node_at<T: DeserializeOwned>(
    node: &Node,
    path: &str,
    blame: Span,
) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node,
        path: path.to_string(),
        blame,
    })
}

struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    /// What to underline for errors about the whole value: the key that owns
    /// a mapping or list, the text of a scalar.
    blame: Span,
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl<'a> NodeDe<'a> {
    fn wrap<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(&self.path, self.blame))
    }

    fn scalar(&self, expected: &str) -> Result<&'a str, DeError> {
        match &self.node.kind {
            Kind::Scalar { value, .. } => Ok(value),
            _ => Err(DeError::new(format!(
                "expected {expected}, found {}",
                self.node.describe()
            ))
            .at(&self.path, self.node.span)),
        }
    }

    fn parse<T: std::str::FromStr>(&self, expected: &str) -> Result<T, DeError> {
        let text = self.scalar(expected)?;
        text.trim().parse::<T>().map_err(|_| {
            DeError::new(format!("expected {expected}, found `{text}`"))
                .at(&self.path, self.node.span)
        })
    }
}

macro_rules! number {
    ($method:ident, $visit:ident, $ty:ty, $what:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let n: $ty = self.parse($what)?;
            let r = visitor.$visit(n);
            self.wrap(r)
        }
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Scalar {
                value,
                quoted: true,
            } => visitor.visit_str(value),
            Kind::Scalar {
                value,
                quoted: false,
            } => {
                if let Some(b) = parse_bool(value) {
                    visitor.visit_bool(b)
                } else if let Ok(n) = value.parse::<u64>() {
                    visitor.visit_u64(n)
                } else if let Ok(n) = value.parse::<i64>() {
                    visitor.visit_i64(n)
                } else if let Some(f) = parse_float(value) {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_str(value)
                }
            }
            Kind::Seq(_) => return self.deserialize_seq(visitor),
            Kind::Map(_) => return self.deserialize_map(visitor),
        };
        self.wrap(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("`true` or `false`")?;
        let b = parse_bool(text).ok_or_else(|| {
            DeError::new(format!("expected `true` or `false`, found `{text}`"))
                .at(&self.path, self.node.span)
        })?;
        let r = visitor.visit_bool(b);
        self.wrap(r)
    }

    number!(deserialize_i8, visit_i8, i8, "an integer from -128 to 127");
    number!(
        deserialize_i16,
        visit_i16,
        i16,
        "an integer from -32768 to 32767"
    );
    number!(deserialize_i32, visit_i32, i32, "a 32-bit integer");
    number!(deserialize_i64, visit_i64, i64, "an integer");
    number!(deserialize_u8, visit_u8, u8, "an integer from 0 to 255");
    number!(
        deserialize_u16,
        visit_u16,
        u16,
        "an integer from 0 to 65535"
    );
    number!(
        deserialize_u32,
        visit_u32,
        u32,
        "a whole number from 0 to 4294967295"
    );
    number!(deserialize_u64, visit_u64, u64, "a whole number");
    number!(deserialize_f32, visit_f32, f32, "a number");
    number!(deserialize_f64, visit_f64, f64, "a number");

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("a string")?;
        let r = visitor.visit_str(text);
        self.wrap(r)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            Kind::Null => {
                let r = visitor.visit_none();
                self.wrap(r)
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = visitor.visit_unit();
        self.wrap(r)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: &[Node] = match &self.node.kind {
            Kind::Seq(items) => items,
            Kind::Null => &[],
            _ => {
                return Err(DeError::new(format!(
                    "expected {}, found {}",
                    ExpectedOf(&visitor),
                    self.node.describe()
                ))
                .at(&self.path, self.node.span));
            }
        };
        let access = SeqDe {
            items: items.iter().enumerate(),
            path: &self.path,
        };
        let r = visitor.visit_seq(access);
        self.wrap(r)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.map(visitor, false)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.map(visitor, true)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            Kind::Scalar { .. } => visitor.visit_enum(EnumDe {
                key: self.node,
                value: None,
                path: &self.path,
            }),
            Kind::Map(entries) if entries.len() == 1 => {
                let (k, v) = &entries[0];
                visitor.visit_enum(EnumDe {
                    key: k,
                    value: Some(v),
                    path: &self.path,
                })
            }
            _ => {
                return Err(DeError::new(format!(
                    "expected one of {}, found {}",
                    list(variants),
                    describe_for_enum(self.node)
                ))
                .at(&self.path, self.blame));
            }
        };
        self.wrap(r)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

fn describe_for_enum(node: &Node) -> String {
    match &node.kind {
        Kind::Map(entries) if entries.is_empty() => "an empty mapping".into(),
        Kind::Map(entries) => format!(
            "a mapping with {} keys ({}); exactly one is allowed",
            entries.len(),
            entries
                .iter()
                .filter_map(|(k, _)| k.scalar())
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => node.describe(),
    }
}

impl<'a> NodeDe<'a> {
    fn map<'de, V: Visitor<'de>>(self, visitor: V, is_struct: bool) -> Result<V::Value, DeError> {
        let entries: &[(Node, Node)] = match &self.node.kind {
            Kind::Map(entries) => entries,
            Kind::Null => &[],
            _ => {
                return Err(DeError::new(format!(
                    "expected {}, found {}",
                    ExpectedOf(&visitor),
                    self.node.describe()
                ))
                .at(&self.path, self.node.span));
            }
        };
        let access = MapDe {
            entries: entries.iter(),
            value: None,
            path: &self.path,
            skip_extensions: is_struct,
        };
        let r = visitor.visit_map(access);
        self.wrap(r)
    }
}

/// Serde's `expecting` text of a visitor, for type errors we raise ourselves.
struct ExpectedOf<'v, V>(&'v V);

impl<'de, V: Visitor<'de>> fmt::Display for ExpectedOf<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_float(s: &str) -> Option<f64> {
    // Only YAML-looking decimals: `1.5`, `-2e3`; not `inf`/`nan` words.
    let looks_numeric = s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if looks_numeric { s.parse().ok() } else { None }
}

struct SeqDe<'a, I> {
    items: I,
    path: &'a str,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> de::SeqAccess<'de> for SeqDe<'a, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some((index, node)) => seed
                .deserialize(NodeDe {
                    node,
                    path: format!("{}[{index}]", self.path),
                    blame: node.span,
                })
                .map(Some),
            None => Ok(None),
        }
    }
}

struct MapDe<'a, I> {
    entries: I,
    value: Option<(&'a Node, &'a Node)>,
    path: &'a str,
    skip_extensions: bool,
}

impl<'de, 'a, I: Iterator<Item = &'a (Node, Node)>> de::MapAccess<'de> for MapDe<'a, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        loop {
            let Some((key, value)) = self.entries.next() else {
                return Ok(None);
            };
            let name = key.scalar().unwrap_or_default();
            if self.skip_extensions && name.starts_with("x-") {
                continue;
            }
            self.value = Some((key, value));
            let key_de = NodeDe {
                node: key,
                path: self.path.to_string(),
                blame: key.span,
            };
            return seed.deserialize(key_de).map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| DeError::new("value requested before key"))?;
        let name = key.scalar().unwrap_or_default();
        let blame = match value.kind {
            Kind::Map(_) | Kind::Seq(_) | Kind::Null => key.span,
            Kind::Scalar { .. } => value.span,
        };
        seed.deserialize(NodeDe {
            node: value,
            path: child_path(self.path, name),
            blame,
        })
    }
}

struct EnumDe<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
    path: &'a str,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = VariantDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe<'a>), DeError> {
        let variant = seed.deserialize(NodeDe {
            node: self.key,
            path: self.path.to_string(),
            blame: self.key.span,
        })?;
        let name = self.key.scalar().unwrap_or_default();
        Ok((
            variant,
            VariantDe {
                key: self.key,
                value: self.value,
                path: child_path(self.path, name),
            },
        ))
    }
}

struct VariantDe<'a> {
    key: &'a Node,
    value: Option<&'a Node>,
    path: String,
}

impl<'a> VariantDe<'a> {
    fn value_de(self, what: &str) -> Result<NodeDe<'a>, DeError> {
        match self.value {
            Some(node) => Ok(NodeDe {
                node,
                blame: match node.kind {
                    Kind::Scalar { .. } => node.span,
                    _ => self.key.span,
                },
                path: self.path,
            }),
            None => Err(DeError::new(format!(
                "`{}` needs {what}",
                self.key.scalar().unwrap_or_default()
            ))
            .at(&self.path, self.key.span)),
        }
    }
}

impl<'de, 'a> de::VariantAccess<'de> for VariantDe<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None
            | Some(Node {
                kind: Kind::Null, ..
            }) => Ok(()),
            Some(node) => Err(DeError::new(format!(
                "`{}` takes no value",
                self.key.scalar().unwrap_or_default()
            ))
            .at(&self.path, node.span)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.value_de("a value")?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self.value_de("a list")?, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            // `generate:` with nothing after it means all defaults.
            None => visitor.visit_map(de::value::MapDeserializer::new(
                std::iter::empty::<(String, String)>()
                    .map(|(k, v)| (k.into_deserializer(), v.into_deserializer())),
            )),
            Some(_) => self.value_de("a mapping")?.map(visitor, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        port: u16,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Inner,
        #[serde(default)]
        flag: bool,
    }

    fn load<T: DeserializeOwned>(text: &str) -> Result<T, DeError> {
        from_node(&parse(text).unwrap(), "")
    }

    #[test]
    fn reads_nested_values_and_skips_extension_keys() {
        let v: Outer =
            load("x-anchors: {a: 1}\nname: n\ninner:\n  port: '80'\n  tags: [a, b]\nflag: true\n")
                .unwrap();
        assert_eq!(v.inner.port, 80);
        assert_eq!(v.inner.tags, vec!["a", "b"]);
        assert!(v.flag);
    }

    #[test]
    fn type_errors_carry_path_and_span() {
        let e = load::<Outer>("name: n\ninner:\n  port: http\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inner.port: expected an integer from 0 to 65535, found `http`"
        );
        assert_eq!(
            e.span,
            Some(Span {
                line: 3,
                col: 9,
                len: 4
            })
        );
    }

    #[test]
    fn unknown_fields_point_at_the_key_with_a_suggestion() {
        let e = load::<Outer>("name: n\ninner:\n  prot: 1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inner: unknown field `prot`, expected one of `port`, `tags`"
        );
        assert_eq!(e.label.as_deref(), Some("did you mean `port`?"));
        assert_eq!(
            e.span,
            Some(Span {
                line: 3,
                col: 3,
                len: 4
            })
        );
    }

    #[test]
    fn missing_fields_point_at_the_owning_key() {
        let e = load::<Outer>("name: n\ninner:\n  tags: []\n").unwrap_err();
        assert_eq!(e.to_string(), "inner: missing field `port`");
        assert_eq!(e.span.unwrap().line, 2);
    }

    #[test]
    fn list_items_have_indices() {
        let e = load::<Outer>("name: n\ninner:\n  port: 1\n  tags: [a, {b: 1}]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inner.tags[1]: expected a string, found a mapping"
        );
    }
}
