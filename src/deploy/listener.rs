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
    pub rules: Vec<ListenerRule>,
    pub default_action: RuleAction,
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
}

impl std::fmt::Display for RuleAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleAction::Forward(group) => write!(f, "forward to {group}"),
            RuleAction::FixedResponse { status_code, .. } => {
                write!(f, "answer {status_code}")
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
    Listener(Listener),
}

/// How the live listener differs from the rendered one, one line per rule
/// (and one for the default action), in priority order.
pub fn listener_drift(live: &Listener, wanted: &Listener) -> Vec<String> {
    let mut out = Vec::new();
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
