//! How a deployed service scales itself and what it is watched by: target
//! tracking and scheduled changes (Application Auto Scaling) and CloudWatch
//! alarms, some of which roll a deployment back. Model and defaults only;
//! `render::ecs` turns them into API input, `environment::scaling` applies
//! them.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dur::Dur;

/// A service that scales itself between `min` and `max` tasks: promote
/// keeps the count it has (within the range) instead of setting
/// `desired_count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    /// The fewest tasks (0–10000).
    pub min: u32,
    /// The most tasks (at least `min`).
    pub max: u32,
    /// Target tracking on the service's average CPU utilization (percent,
    /// 1–100): `70`, or `{ target: 70, policy: NAME }` to name the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Tracking>,
    /// Target tracking on the service's average memory utilization
    /// (percent, 1–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Tracking>,
    /// Target tracking on ALB requests per target per minute; the service
    /// needs `ecs.target_group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Tracking>,
    /// How long after a scale-out another may start (default 300s, as
    /// Application Auto Scaling's).
    #[serde(default = "default_cooldown")]
    pub scale_out_cooldown: Dur,
    /// How long after a scale-in another may start (default 300s).
    #[serde(default = "default_cooldown")]
    pub scale_in_cooldown: Dur,
    /// Changes of `min`/`max` on a schedule (e.g. 0–1 at night).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduledScaling>,
}

pub fn default_cooldown() -> Dur {
    Dur::secs(300)
}

/// A tracked metric's target value, and optionally the policy's name on
/// AWS (default `SERVICE-METRIC`, e.g. `farsight-api-cpu`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracking {
    pub target: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl JsonSchema for Tracking {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Tracking".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A target value, or `{ target: N, policy: NAME }`.",
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                {
                    "type": "object",
                    "properties": {
                        "target": { "type": "integer", "minimum": 1 },
                        "policy": { "type": "string" }
                    },
                    "required": ["target"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A number, or `{ target: N, policy: NAME }`, with an error that says so.
impl<'de> Deserialize<'de> for Tracking {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tracking, D::Error> {
        struct V;
        const EXPECTED: &str = "a target value, or `{ target: N, policy: NAME }`";
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Tracking;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Tracking, E> {
                let target = u32::try_from(v).map_err(|_| E::custom("target out of range"))?;
                Ok(Tracking {
                    target,
                    policy: None,
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Tracking, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("a target is not negative"))?;
                self.visit_u64(v)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Tracking, A::Error> {
                let (mut target, mut policy) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "target" if target.is_none() => target = Some(map.next_value()?),
                        "policy" if policy.is_none() => policy = Some(map.next_value()?),
                        "target" | "policy" => {
                            return Err(serde::de::Error::custom(format!("duplicate `{key}`")));
                        }
                        other => {
                            return Err(serde::de::Error::unknown_field(
                                other,
                                &["target", "policy"],
                            ));
                        }
                    }
                }
                let target = target.ok_or_else(|| serde::de::Error::missing_field("target"))?;
                Ok(Tracking { target, policy })
            }
        }
        d.deserialize_any(V)
    }
}

/// A scheduled change of a service's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduledScaling {
    /// Its name on AWS (unique per service).
    pub name: String,
    /// As Application Auto Scaling takes it: `cron(0 20 ? * MON-FRI *)`,
    /// `at(2026-12-24T18:00:00)` or `rate(1 day)`.
    pub at: String,
    /// The time zone of `at` (IANA, e.g. `Europe/Berlin`; default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The new fewest tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    /// The new most tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

/// A service's CloudWatch alarms: `standard` (every standard alarm that
/// fits the service), or alarms by name, each a standard one (`cpu`,
/// `memory`, `running`, `5xx`, `unhealthy`, `latency`; its fields
/// override the standard's) or one of its own (with `metric`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema, Default)]
#[serde(untagged)]
pub enum Alarms {
    #[default]
    #[schemars(skip)]
    None,
    /// `standard`
    Standard(StandardWord),
    Named(IndexMap<String, Option<AlarmSpec>>),
}

/// The word `standard`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StandardWord {
    Standard,
}

impl<'de> Deserialize<'de> for Alarms {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Alarms, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Alarms;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`standard`, or alarms by name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Alarms, E> {
                match v {
                    "standard" => Ok(Alarms::Standard(StandardWord::Standard)),
                    other => Err(E::invalid_value(
                        serde::de::Unexpected::Str(other),
                        &"`standard`, or alarms by name",
                    )),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Alarms, A::Error> {
                let named =
                    IndexMap::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Alarms::Named(named))
            }
        }
        d.deserialize_any(V)
    }
}

impl Alarms {
    pub fn is_none(&self) -> bool {
        matches!(self, Alarms::None)
    }
}

/// One alarm: a metric's statistic compared with a threshold over
/// `periods` periods. Unset fields of a standard alarm keep the
/// standard's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AlarmSpec {
    /// The CloudWatch metric (required for an alarm of your own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// Its namespace (default `AWS/ECS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its dimensions (default, in `AWS/ECS` and `ECS/ContainerInsights`:
    /// the service's `ClusterName` and `ServiceName`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub dimensions: IndexMap<String, String>,
    /// `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount`, or a
    /// percentile `p50`…`p99.9` (default `Average`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    /// `>`, `>=`, `<` or `<=` the threshold (default `>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The length of one period (10s, 30s or a multiple of 60s; default 60s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Dur>,
    /// How many periods in a row must breach (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periods: Option<u32>,
    /// A period without data: `missing` (default), `ignore`, `breaching`,
    /// `not-breaching`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_data: Option<MissingData>,
    /// When it fires during a promotion (rollout or bake), every service
    /// the promotion changed goes back; ECS's deployment alarms get it too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Comparison {
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
}

impl Comparison {
    /// CloudWatch's `ComparisonOperator`.
    pub fn operator(self) -> &'static str {
        match self {
            Comparison::Greater => "GreaterThanThreshold",
            Comparison::GreaterOrEqual => "GreaterThanOrEqualToThreshold",
            Comparison::Less => "LessThanThreshold",
            Comparison::LessOrEqual => "LessThanOrEqualToThreshold",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MissingData {
    Missing,
    Ignore,
    Breaching,
    NotBreaching,
}

impl MissingData {
    /// CloudWatch's `TreatMissingData`.
    pub fn word(self) -> &'static str {
        match self {
            MissingData::Missing => "missing",
            MissingData::Ignore => "ignore",
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
        }
    }
}

/// Where a standard alarm's metric comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The ECS service (`ClusterName`, `ServiceName`).
    Ecs,
    /// The service's ALB target group (`TargetGroup`, `LoadBalancer`
    /// dimensions): only for a service with `ecs.target_group`.
    Alb,
}

/// A standard alarm: what `alarms: standard` switches on.
pub struct Standard {
    pub name: &'static str,
    pub says: &'static str,
    pub source: Source,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub statistic: &'static str,
    pub comparison: Comparison,
    /// `None`: the service's fewest tasks (`running`).
    pub threshold: Option<f64>,
    pub periods: u32,
    pub missing_data: MissingData,
}

/// The standard alarms, in the order they are listed.
pub const STANDARD: &[Standard] = &[
    Standard {
        name: "cpu",
        says: "average CPU above 80 % for 3 minutes",
        source: Source::Ecs,
        namespace: "AWS/ECS",
        metric: "CPUUtilization",
        statistic: "Average",
        comparison: Comparison::Greater,
        threshold: Some(80.0),
        periods: 3,
        missing_data: MissingData::Missing,
    },
    Standard {
        name: "memory",
        says: "average memory above 80 % for 3 minutes",
        source: Source::Ecs,
        namespace: "AWS/ECS",
        metric: "MemoryUtilization",
        statistic: "Average",
        comparison: Comparison::Greater,
        threshold: Some(80.0),
        periods: 3,
        missing_data: MissingData::Missing,
    },
    Standard {
        name: "running",
        says: "fewer tasks running than the service's fewest, for 3 minutes (Container Insights)",
        source: Source::Ecs,
        namespace: "ECS/ContainerInsights",
        metric: "RunningTaskCount",
        statistic: "Minimum",
        comparison: Comparison::Less,
        threshold: None,
        periods: 3,
        missing_data: MissingData::Missing,
    },
    Standard {
        name: "5xx",
        says: "more than 5 target 5xx answers a minute, 2 minutes in a row",
        source: Source::Alb,
        namespace: "AWS/ApplicationELB",
        metric: "HTTPCode_Target_5XX_Count",
        statistic: "Sum",
        comparison: Comparison::Greater,
        threshold: Some(5.0),
        periods: 2,
        missing_data: MissingData::NotBreaching,
    },
    Standard {
        name: "unhealthy",
        says: "an unhealthy target for 2 minutes",
        source: Source::Alb,
        namespace: "AWS/ApplicationELB",
        metric: "UnHealthyHostCount",
        statistic: "Maximum",
        comparison: Comparison::Greater,
        threshold: Some(0.0),
        periods: 2,
        missing_data: MissingData::NotBreaching,
    },
    Standard {
        name: "latency",
        says: "p99 response time above 1 s for 3 minutes",
        source: Source::Alb,
        namespace: "AWS/ApplicationELB",
        metric: "TargetResponseTime",
        statistic: "p99",
        comparison: Comparison::Greater,
        threshold: Some(1.0),
        periods: 3,
        missing_data: MissingData::NotBreaching,
    },
];

pub fn standard(name: &str) -> Option<&'static Standard> {
    STANDARD.iter().find(|s| s.name == name)
}

/// Whether `statistic` is one CloudWatch takes: a named statistic or a
/// percentile `pNN` / `pNN.N`.
pub fn valid_statistic(statistic: &str) -> bool {
    const NAMED: [&str; 5] = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"];
    NAMED.contains(&statistic)
        || statistic
            .strip_prefix('p')
            .and_then(|p| p.parse::<f64>().ok())
            .is_some_and(|p| p > 0.0 && p < 100.0)
}

/// Whether `statistic` is a percentile (CloudWatch's `ExtendedStatistic`).
pub fn is_percentile(statistic: &str) -> bool {
    statistic.starts_with('p')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_named_or_percentiles() {
        for ok in ["Average", "Sum", "p99", "p99.9", "p50"] {
            assert!(valid_statistic(ok), "{ok}");
        }
        for bad in ["average", "p100", "p", "max", "p0"] {
            assert!(!valid_statistic(bad), "{bad}");
        }
    }

    #[test]
    fn every_standard_alarm_has_a_valid_statistic_and_a_unique_name() {
        let mut seen = std::collections::BTreeSet::new();
        for s in STANDARD {
            assert!(valid_statistic(s.statistic), "{}", s.name);
            assert!(seen.insert(s.name), "{}", s.name);
        }
    }
}
