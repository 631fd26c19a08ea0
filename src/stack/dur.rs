//! A duration as stack.yaml writes it (`30s`, `1m30s`, `500ms`, `2h`, or
//! whole seconds): parsed, printed back the same way, and described in the
//! JSON schema.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration written `30s`, `1m30s`, `500ms`, `2h`, or a whole number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }

    pub fn parse(text: &str) -> Option<Dur> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(secs) = text.parse::<u64>() {
            return Some(Dur::secs(secs));
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return None;
            }
            let n: u64 = rest[..digits].parse().ok()?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "ms" => Duration::from_millis(n),
                "s" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.checked_mul(60)?),
                "h" => Duration::from_secs(n.checked_mul(3600)?),
                _ => return None,
            };
            total = total.checked_add(unit)?;
            rest = &rest[unit_len..];
        }
        Some(Dur(total))
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    pub fn whole_seconds(self) -> bool {
        self.0.subsec_nanos() == 0
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let s = self.0.as_secs();
        match (s / 3600, (s % 3600) / 60, s % 60) {
            (0, 0, s) => write!(f, "{s}s"),
            (0, m, 0) => write!(f, "{m}m"),
            (0, m, s) => write!(f, "{m}m{s}s"),
            (h, 0, 0) => write!(f, "{h}h"),
            (h, m, s) => write!(f, "{h}h{m}m{s}s"),
        }
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor, not String then parse, so the error is raised while the
        // deserializer still knows which scalar it came from.
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like `30s`, `1m30s` or `500ms`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur::secs(v))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Dur, E> {
                Dur::parse(text).ok_or_else(|| {
                    E::custom(format!(
                        "expected a duration like `30s`, `1m30s` or `500ms`, found `{text}`"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: `30s`, `1m30s`, `500ms`, `2h`, or whole seconds.",
            "anyOf": [
                { "type": "string", "pattern": "^([0-9]+(ms|s|m|h))+$" },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}
