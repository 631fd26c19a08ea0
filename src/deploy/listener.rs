//! The ALB listener stack.yaml routes through, as `render::ecs` writes it
//! and `aws` reads it back: its rules by priority (conditions and action)
//! and its default action, with target groups by name. infra/ creates it
//! from the tfvars; preflight compares the two, rule by rule, so a rule
//! removed or changed by hand is found before a promotion rather than by
//! a route that has no targets.

use serde::{Deserialize, Serialize};

/// A listener of the environment's ALB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// The ALB's name (infra/'s `<stack>-<env>`).
    pub load_balancer: String,
    pub port: i32,
    /// `HTTP` or `HTTPS`.
    #[serde(default = "http")]
    pub protocol: String,
    /// An HTTPS listener's certificate (ACM ARN) and TLS policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    pub rules: Vec<ListenerRule>,
    pub default_action: RuleAction,
}

fn http() -> String {
    "HTTP".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerRule {
    pub priority: i32,
    /// In ELBv2's order: `path-pattern`, `host-header`,
    /// `http-request-method`; only those with values.
    pub conditions: Vec<RuleCondition>,
    pub action: RuleAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleCondition {
    pub field: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum RuleAction {
    /// Forward to the target group of this name.
    Forward(String),
    FixedResponse {
        status_code: String,
        content_type: String,
        message_body: String,
    },
    /// Each part as the ALB reads it back: `#{protocol}`… where unset,
    /// `HTTP_301` or `HTTP_302`.
    Redirect {
        protocol: String,
        port: String,
        host: String,
        path: String,
        query: String,
        status_code: String,
    },
}

impl std::fmt::Display for RuleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleAction::Forward(group) => write!(f, "forward to {group}"),
            RuleAction::FixedResponse { status_code, .. } => {
                write!(f, "answer {status_code}")
            }
            RuleAction::Redirect {
                protocol,
                port,
                host,
                path,
                query,
                status_code,
            } => {
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                write!(
                    f,
                    "redirect {} to {protocol}://{host}:{port}{path}{query}",
                    status_code.trim_start_matches("HTTP_")
                )
            }
        }
    }
}

impl std::fmt::Display for ListenerRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let conditions: Vec<String> = self
            .conditions
            .iter()
            .map(|c| format!("{} {}", c.field, c.values.join(",")))
            .collect();
        let when = if conditions.is_empty() {
            "always".to_string()
        } else {
            conditions.join(" and ")
        };
        write!(f, "{when}: {}", self.action)
    }
}

/// What the ALB has on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    NoLoadBalancer,
    NoListener,
    Listener(Box<Listener>),
}

/// How the live listener differs from the rendered one: its protocol and
/// certificate, then one line per rule (and one for the default action),
/// in priority order.
/// The target group a forward to several, by weight, stands for as
/// stack.yaml writes it: one group and its alternate (ECS moving traffic
/// between them) are that group; any other mix is spelled out
/// (`a 50%, b 50%`), so it differs from what stack.yaml says.
pub fn forwarded_to(weighted: &[(String, i32)]) -> String {
    use crate::stack::strategy::alternate_name;
    match weighted {
        [(one, _)] => one.clone(),
        [(a, _), (b, _)] if *b == alternate_name(a) => a.clone(),
        [(a, _), (b, _)] if *a == alternate_name(b) => b.clone(),
        _ => weighted
            .iter()
            .map(|(g, w)| format!("{g} {w}%"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub fn listener_drift(live: &Listener, wanted: &Listener) -> Vec<String> {
    let mut out = Vec::new();
    if live.protocol != wanted.protocol {
        out.push(format!(
            "it speaks {}, stack.yaml says {}",
            live.protocol, wanted.protocol
        ));
    }
    let none = || "none".to_string();
    if live.certificate != wanted.certificate {
        out.push(format!(
            "its certificate is {}, stack.yaml says {}",
            live.certificate.clone().unwrap_or_else(none),
            wanted.certificate.clone().unwrap_or_else(none)
        ));
    }
    if wanted.ssl_policy.is_some() && live.ssl_policy != wanted.ssl_policy {
        out.push(format!(
            "its TLS policy is {}, stack.yaml says {}",
            live.ssl_policy.clone().unwrap_or_else(none),
            wanted.ssl_policy.clone().unwrap_or_else(none)
        ));
    }
    let mut priorities: Vec<i32> = wanted
        .rules
        .iter()
        .chain(&live.rules)
        .map(|r| r.priority)
        .collect();
    priorities.sort_unstable();
    priorities.dedup();
    for p in priorities {
        let find = |l: &Listener| l.rules.iter().find(|r| r.priority == p).cloned();
        match (find(live), find(wanted)) {
            (None, Some(w)) => out.push(format!("rule {p} ({w}) is missing")),
            (Some(l), None) => out.push(format!("rule {p} ({l}) is not in stack.yaml")),
            (Some(l), Some(w)) if l != w => {
                out.push(format!("rule {p} is `{l}`, stack.yaml says `{w}`"))
            }
            _ => {}
        }
    }
    if live.default_action != wanted.default_action {
        out.push(format!(
            "the default action is `{}`, stack.yaml says `{}`",
            live.default_action, wanted.default_action
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(priority: i32, path: &str, group: &str) -> ListenerRule {
        ListenerRule {
            priority,
            conditions: vec![RuleCondition {
                field: "path-pattern".into(),
                values: vec![path.into()],
            }],
            action: RuleAction::Forward(group.into()),
        }
    }

    fn listener(rules: Vec<ListenerRule>) -> Listener {
        Listener {
            load_balancer: "shop-demo".into(),
            port: 80,
            protocol: "HTTP".into(),
            certificate: None,
            ssl_policy: None,
            rules,
            default_action: RuleAction::FixedResponse {
                status_code: "404".into(),
                content_type: "text/plain".into(),
                message_body: "no route".into(),
            },
        }
    }

    #[test]
    fn a_rule_missing_changed_or_added_by_hand_is_one_line_each() {
        let wanted = listener(vec![
            rule(10, "/api/*", "shop-api-demo"),
            rule(20, "/*", "shop-web-demo"),
        ]);
        let mut live = listener(vec![
            rule(10, "/api/*", "shop-web-demo"),
            rule(30, "/admin/*", "shop-web-demo"),
        ]);
        live.default_action = RuleAction::Forward("shop-web-demo".into());
        assert_eq!(
            listener_drift(&live, &wanted),
            vec![
                "rule 10 is `path-pattern /api/*: forward to shop-web-demo`, stack.yaml says `path-pattern /api/*: forward to shop-api-demo`",
                "rule 20 (path-pattern /*: forward to shop-web-demo) is missing",
                "rule 30 (path-pattern /admin/*: forward to shop-web-demo) is not in stack.yaml",
                "the default action is `forward to shop-web-demo`, stack.yaml says `answer 404`",
            ]
        );
        assert!(listener_drift(&wanted, &wanted).is_empty());
    }
}
