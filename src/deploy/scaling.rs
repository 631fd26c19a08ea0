//! A service's scaling (Application Auto Scaling's scalable target, target
//! tracking policies and scheduled actions) and its CloudWatch alarms, in
//! the shapes those APIs take and answer, compared field by field, and the
//! calls that take live to rendered. Pure: `aws::signed` sends the calls.

use serde::{Deserialize, Serialize};

use super::change::{Change, diff_values};

/// ECS's scalable dimension for a service.
pub const DIMENSION: &str = "ecs:service:DesiredCount";

/// Application Auto Scaling's ID of an ECS service.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// How a service scales: the range and the rules, as registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Scaling {
    pub resource_id: String,
    pub min_capacity: i32,
    pub max_capacity: i32,
    #[serde(default)]
    pub policies: Vec<Policy>,
    #[serde(default)]
    pub scheduled_actions: Vec<ScheduledAction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub policy_name: String,
    pub target_tracking_scaling_policy_configuration: TargetTracking,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetTracking {
    pub target_value: f64,
    pub predefined_metric_specification: PredefinedMetric,
    #[serde(default)]
    pub scale_in_cooldown: i32,
    #[serde(default)]
    pub scale_out_cooldown: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetric {
    pub predefined_metric_type: String,
    /// `app/LB/ID/targetgroup/TG/ID` for ALB requests per target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduledAction {
    pub scheduled_action_name: String,
    pub schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    pub scalable_target_action: Capacity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Capacity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i32>,
}

/// A CloudWatch metric alarm, as PutMetricAlarm takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    pub alarm_name: String,
    pub namespace: String,
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_statistic: Option<String>,
    pub period: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison_operator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<String>,
    /// `geno: STACK/SERVICE NAME`: how geno finds the alarms it manages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
}

/// How the description of an alarm geno manages begins.
pub const MANAGED: &str = "geno: ";

impl Alarm {
    /// In the form live and rendered alarms are compared in: dimensions by
    /// name, and CloudWatch's default for missing data said.
    pub fn normalized(mut self) -> Alarm {
        self.dimensions.sort_by(|a, b| a.name.cmp(&b.name));
        self.treat_missing_data
            .get_or_insert_with(|| "missing".into());
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// One of Application Auto Scaling's scaling activities of a service:
/// when it began (UTC, to the second), how it ended, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub started: String,
    /// `Successful`, `InProgress`, `Failed`…
    pub status: String,
    pub description: String,
}

/// An alarm's state as CloudWatch reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub value: String,
    /// Why, in CloudWatch's words (with the datapoint that crossed).
    pub reason: String,
}

impl Alarm {
    /// The statistic as stack.yaml says it (`Average`, `p99`).
    pub fn statistic_text(&self) -> &str {
        self.statistic
            .as_deref()
            .or(self.extended_statistic.as_deref())
            .unwrap_or_default()
    }

    /// How long it takes to fire: its periods × period.
    pub fn fires_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs((self.period.max(0) * self.evaluation_periods.max(0)) as u64)
    }
}

/// A placeholder for the ARN suffix of target group `name` (the
/// `TargetGroup` dimension), filled in from the live group at promote.
pub fn target_group_ref(name: &str) -> String {
    format!("{{target-group:{name}}}")
}

/// A placeholder for the ARN suffix of the load balancer in front of
/// target group `name` (the `LoadBalancer` dimension).
pub fn load_balancer_ref(name: &str) -> String {
    format!("{{load-balancer-of:{name}}}")
}

/// The target group names a text refers to through placeholders.
pub fn referenced_groups(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["{target-group:", "{load-balancer-of:"] {
        let mut rest = text;
        while let Some(i) = rest.find(prefix) {
            let after = &rest[i + prefix.len()..];
            let Some(end) = after.find('}') else { break };
            let name = after[..end].to_string();
            if !out.contains(&name) {
                out.push(name);
            }
            rest = &after[end..];
        }
    }
    out
}

/// `text` with the placeholders of target group `name` filled in with
/// the ARN suffixes (`targetgroup/…`, `app/…`) of the group and its load
/// balancer.
pub fn fill(text: &str, name: &str, group_suffix: &str, balancer_suffix: &str) -> String {
    text.replace(&target_group_ref(name), group_suffix)
        .replace(&load_balancer_ref(name), balancer_suffix)
}

/// The suffix of an ELB ARN CloudWatch names it by: `targetgroup/N/ID` of
/// a target group's, `app/N/ID` of a load balancer's.
pub fn arn_suffix(arn: &str) -> String {
    match arn.split_once(":loadbalancer/") {
        Some((_, s)) => s.to_string(),
        None => arn
            .rsplit_once(':')
            .map(|(_, s)| s.to_string())
            .unwrap_or_else(|| arn.to_string()),
    }
}

impl Alarm {
    /// One line: what it watches and when it fires.
    pub fn summary(&self) -> String {
        format!(
            "{} {} {} {} for {}×{}s",
            self.metric_name,
            self.statistic_text(),
            comparison_symbol(&self.comparison_operator),
            self.threshold,
            self.evaluation_periods,
            self.period
        )
    }
}

impl Policy {
    /// One line: the metric tracked and its target.
    pub fn summary(&self) -> String {
        let c = &self.target_tracking_scaling_policy_configuration;
        format!(
            "tracks {} at {} (cooldowns out {}s, in {}s)",
            c.predefined_metric_specification.predefined_metric_type,
            c.target_value,
            c.scale_out_cooldown,
            c.scale_in_cooldown
        )
    }
}

impl ScheduledAction {
    /// One line: when, and the range it sets.
    pub fn summary(&self) -> String {
        let bound = |b: Option<i32>| b.map(|v| v.to_string()).unwrap_or_else(|| "=".into());
        format!(
            "{}{} → min {}, max {}",
            self.schedule,
            self.timezone
                .as_ref()
                .map(|t| format!(" {t}"))
                .unwrap_or_default(),
            bound(self.scalable_target_action.min_capacity),
            bound(self.scalable_target_action.max_capacity)
        )
    }
}

impl Scaling {
    /// One line: the range and each rule.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{}–{} tasks", self.min_capacity, self.max_capacity)];
        parts.extend(
            self.policies
                .iter()
                .map(|p| format!("{} {}", p.policy_name, p.summary())),
        );
        parts.extend(
            self.scheduled_actions
                .iter()
                .map(|a| format!("{} {}", a.scheduled_action_name, a.summary())),
        );
        parts.join("; ")
    }
}

/// Items on both sides compared field by field under `path.NAME`; an item
/// on one side only is one change saying it in a line.
fn by_name<T, V: Serialize>(
    path: &str,
    live: &[T],
    rendered: &[T],
    name: impl Fn(&T) -> &str,
    compared: impl Fn(&T) -> &V,
    summary: impl Fn(&T) -> String,
    out: &mut Vec<Change>,
) {
    let mut names: Vec<&str> = live.iter().map(&name).collect();
    names.extend(
        rendered
            .iter()
            .map(&name)
            .filter(|n| !live.iter().any(|l| name(l) == *n)),
    );
    for n in names {
        let l = live.iter().find(|x| name(x) == n);
        let r = rendered.iter().find(|x| name(x) == n);
        let at = format!("{path}.{n}");
        match (l, r) {
            (Some(l), Some(r)) => {
                let value = |x: &T| serde_json::to_value(compared(x)).ok();
                let (lv, rv) = (value(l), value(r));
                diff_values(&at, lv.as_ref(), rv.as_ref(), out);
            }
            (l, r) => out.extend(Change::between(at, l.map(&summary), r.map(&summary))),
        }
    }
}

/// What applying `rendered` changes of `live` (either absent: no scaling).
pub fn scaling_changes(live: Option<&Scaling>, rendered: Option<&Scaling>) -> Vec<Change> {
    let (l, r) = match (live, rendered) {
        (Some(l), Some(r)) => (l, r),
        (l, r) => {
            return Change::between("scaling", l.map(Scaling::summary), r.map(Scaling::summary))
                .into_iter()
                .collect();
        }
    };
    let mut out = Vec::new();
    for (path, a, b) in [
        ("scaling.min", l.min_capacity, r.min_capacity),
        ("scaling.max", l.max_capacity, r.max_capacity),
    ] {
        out.extend(Change::between(
            path,
            Some(a.to_string()),
            Some(b.to_string()),
        ));
    }
    by_name(
        "scaling.policies",
        &l.policies,
        &r.policies,
        |p| &p.policy_name,
        |p| &p.target_tracking_scaling_policy_configuration,
        Policy::summary,
        &mut out,
    );
    by_name(
        "scaling.schedule",
        &l.scheduled_actions,
        &r.scheduled_actions,
        |a| &a.scheduled_action_name,
        |a| a,
        ScheduledAction::summary,
        &mut out,
    );
    out
}

/// What applying `rendered` alarms changes of `live` ones, by name.
pub fn alarm_changes(live: &[Alarm], rendered: &[Alarm]) -> Vec<Change> {
    let mut out = Vec::new();
    by_name(
        "alarms",
        live,
        rendered,
        |a| &a.alarm_name,
        |a| a,
        Alarm::summary,
        &mut out,
    );
    out
}

/// The name of the dashboard geno draws for an environment.
pub fn dashboard_name(stack: &str, env: &str) -> String {
    format!("{stack}-{env}")
}

/// The first widget of a dashboard geno draws: what it is, and how geno
/// knows one it may replace or remove.
pub const DASHBOARD_MARK: &str = "Drawn by geno from stack.yaml (`aws.dashboard`): the next `geno promote` undoes a change made here.";

/// A CloudWatch dashboard: its name and body (PutDashboard's
/// `DashboardBody`, parsed).
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub name: String,
    pub body: serde_json::Value,
}

impl Dashboard {
    /// Whether geno drew it.
    pub fn drawn_by_geno(&self) -> bool {
        self.body["widgets"][0]["properties"]["markdown"] == DASHBOARD_MARK
    }

    /// One line: how many widgets, and a short hash of the body (two
    /// bodies that differ anywhere differ in it).
    pub fn summary(&self) -> String {
        use sha2::Digest;
        let n = self.body["widgets"].as_array().map_or(0, Vec::len);
        let hash = hex::encode(sha2::Sha256::digest(self.body.to_string().as_bytes()));
        format!("{n} widgets (body {})", &hash[..12])
    }
}

/// What putting `rendered` changes of the `live` dashboard.
pub fn dashboard_changes(live: Option<&Dashboard>, rendered: Option<&Dashboard>) -> Vec<Change> {
    let Some(name) = rendered.or(live).map(|d| d.name.clone()) else {
        return Vec::new();
    };
    Change::between(
        format!("dashboard {name}"),
        live.map(Dashboard::summary),
        rendered.map(Dashboard::summary),
    )
    .into_iter()
    .collect()
}

/// One call that takes live scaling or alarms towards what is wanted.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Register {
        resource_id: String,
        min: i32,
        max: i32,
    },
    PutPolicy {
        resource_id: String,
        policy: Policy,
    },
    DeletePolicy {
        resource_id: String,
        name: String,
    },
    PutScheduled {
        resource_id: String,
        action: ScheduledAction,
    },
    DeleteScheduled {
        resource_id: String,
        name: String,
    },
    /// Removes the target with its policies and actions.
    Deregister {
        resource_id: String,
    },
    PutAlarm(Alarm),
    DeleteAlarms(Vec<String>),
    PutDashboard(Dashboard),
    DeleteDashboard(String),
}

impl Step {
    /// As a line of promote's output says it.
    pub fn describe(&self) -> String {
        match self {
            Step::Register { min, max, .. } => format!("scales between {min} and {max} tasks"),
            Step::PutPolicy { policy, .. } => {
                format!("policy {} {}", policy.policy_name, policy.summary())
            }
            Step::DeletePolicy { name, .. } => format!("policy {name} removed"),
            Step::PutScheduled { action, .. } => {
                format!(
                    "scheduled {}: {}",
                    action.scheduled_action_name,
                    action.summary()
                )
            }
            Step::DeleteScheduled { name, .. } => format!("scheduled {name} removed"),
            Step::Deregister { .. } => "no longer scales itself".into(),
            Step::PutAlarm(a) => format!("alarm {}: {}", a.alarm_name, a.summary()),
            Step::DeleteAlarms(names) => format!("alarm(s) {} removed", names.join(", ")),
            Step::PutDashboard(d) => format!("dashboard {}: {}", d.name, d.summary()),
            Step::DeleteDashboard(name) => format!("dashboard {name} removed"),
        }
    }
}

/// `GreaterThanThreshold` as `>`.
pub fn comparison_symbol(operator: &str) -> &str {
    match operator {
        "GreaterThanThreshold" => ">",
        "GreaterThanOrEqualToThreshold" => ">=",
        "LessThanThreshold" => "<",
        "LessThanOrEqualToThreshold" => "<=",
        other => other,
    }
}

/// The calls that take `live` scaling to `wanted`: nothing when they are
/// equal; a deregistration when nothing is wanted (it takes the policies
/// and actions with it); else the range, the policies put and removed, the
/// actions put and removed.
pub fn scaling_steps(live: Option<&Scaling>, wanted: Option<&Scaling>) -> Vec<Step> {
    match (live, wanted) {
        (None, None) => Vec::new(),
        (Some(l), None) => vec![Step::Deregister {
            resource_id: l.resource_id.clone(),
        }],
        (l, Some(w)) => {
            let id = || w.resource_id.clone();
            let mut out = Vec::new();
            if l.is_none_or(|l| {
                (l.min_capacity, l.max_capacity) != (w.min_capacity, w.max_capacity)
            }) {
                out.push(Step::Register {
                    resource_id: id(),
                    min: w.min_capacity,
                    max: w.max_capacity,
                });
            }
            let empty = Scaling {
                resource_id: w.resource_id.clone(),
                min_capacity: 0,
                max_capacity: 0,
                policies: Vec::new(),
                scheduled_actions: Vec::new(),
            };
            let l = l.unwrap_or(&empty);
            for p in &w.policies {
                if !l.policies.contains(p) {
                    out.push(Step::PutPolicy {
                        resource_id: id(),
                        policy: p.clone(),
                    });
                }
            }
            for p in &l.policies {
                if !w.policies.iter().any(|x| x.policy_name == p.policy_name) {
                    out.push(Step::DeletePolicy {
                        resource_id: id(),
                        name: p.policy_name.clone(),
                    });
                }
            }
            for a in &w.scheduled_actions {
                if !l.scheduled_actions.contains(a) {
                    out.push(Step::PutScheduled {
                        resource_id: id(),
                        action: a.clone(),
                    });
                }
            }
            for a in &l.scheduled_actions {
                if !w
                    .scheduled_actions
                    .iter()
                    .any(|x| x.scheduled_action_name == a.scheduled_action_name)
                {
                    out.push(Step::DeleteScheduled {
                        resource_id: id(),
                        name: a.scheduled_action_name.clone(),
                    });
                }
            }
            out
        }
    }
}

/// The calls that take the `live` alarms (those geno manages for a
/// service) to `wanted`.
pub fn alarm_steps(live: &[Alarm], wanted: &[Alarm]) -> Vec<Step> {
    let mut out: Vec<Step> = wanted
        .iter()
        .filter(|w| !live.contains(w))
        .cloned()
        .map(Step::PutAlarm)
        .collect();
    let gone: Vec<String> = live
        .iter()
        .filter(|l| !wanted.iter().any(|w| w.alarm_name == l.alarm_name))
        .map(|l| l.alarm_name.clone())
        .collect();
    if !gone.is_empty() {
        out.push(Step::DeleteAlarms(gone));
    }
    out
}

/// The calls that take the `live` dashboard to `wanted`.
pub fn dashboard_steps(live: Option<&Dashboard>, wanted: Option<&Dashboard>) -> Vec<Step> {
    match (live, wanted) {
        (l, Some(w)) if l != Some(w) => vec![Step::PutDashboard(w.clone())],
        (Some(l), None) => vec![Step::DeleteDashboard(l.name.clone())],
        _ => Vec::new(),
    }
}

/// The count a service that scales itself is kept at: the one it has,
/// within its range.
pub fn kept_count(live: i32, scaling: &Scaling) -> i32 {
    live.clamp(
        scaling.min_capacity,
        scaling.max_capacity.max(scaling.min_capacity),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(target: f64) -> Policy {
        Policy {
            policy_name: "api-cpu".into(),
            target_tracking_scaling_policy_configuration: TargetTracking {
                target_value: target,
                predefined_metric_specification: PredefinedMetric {
                    predefined_metric_type: "ECSServiceAverageCPUUtilization".into(),
                    resource_label: None,
                },
                scale_in_cooldown: 300,
                scale_out_cooldown: 60,
            },
        }
    }

    fn scaling(min: i32, max: i32, policies: Vec<Policy>) -> Scaling {
        Scaling {
            resource_id: resource_id("c", "api"),
            min_capacity: min,
            max_capacity: max,
            policies,
            scheduled_actions: Vec::new(),
        }
    }

    #[test]
    fn equal_scaling_takes_no_call_and_a_new_one_takes_range_and_policy() {
        let s = scaling(2, 10, vec![cpu(70.0)]);
        assert_eq!(scaling_steps(Some(&s), Some(&s)), []);
        assert_eq!(
            scaling_steps(None, Some(&s)),
            [
                Step::Register {
                    resource_id: "service/c/api".into(),
                    min: 2,
                    max: 10
                },
                Step::PutPolicy {
                    resource_id: "service/c/api".into(),
                    policy: cpu(70.0)
                }
            ]
        );
    }

    #[test]
    fn a_changed_target_puts_the_policy_again_and_a_dropped_one_is_deleted() {
        let live = scaling(2, 10, vec![cpu(70.0)]);
        let mut other = cpu(80.0);
        other.policy_name = "api-memory".into();
        let wanted = scaling(2, 10, vec![other.clone()]);
        assert_eq!(
            scaling_steps(Some(&live), Some(&wanted)),
            [
                Step::PutPolicy {
                    resource_id: "service/c/api".into(),
                    policy: other
                },
                Step::DeletePolicy {
                    resource_id: "service/c/api".into(),
                    name: "api-cpu".into()
                }
            ]
        );
        assert_eq!(
            scaling_steps(Some(&live), None),
            [Step::Deregister {
                resource_id: "service/c/api".into()
            }]
        );
    }

    #[test]
    fn changes_name_each_field_by_policy() {
        let live = scaling(2, 10, vec![cpu(70.0)]);
        let wanted = scaling(1, 10, vec![cpu(75.0)]);
        let lines: Vec<String> = scaling_changes(Some(&live), Some(&wanted))
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "~ scaling.min: 2 → 1",
                "~ scaling.policies.api-cpu.TargetValue: 70.0 → 75.0"
            ]
        );
        let lines: Vec<String> = scaling_changes(None, Some(&wanted))
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "+ scaling: 1–10 tasks; api-cpu tracks ECSServiceAverageCPUUtilization at 75 (cooldowns out 60s, in 300s)"
            ]
        );
    }

    #[test]
    fn a_kept_count_stays_within_the_range() {
        let s = scaling(2, 10, Vec::new());
        assert_eq!(kept_count(0, &s), 2);
        assert_eq!(kept_count(4, &s), 4);
        assert_eq!(kept_count(12, &s), 10);
    }

    #[test]
    fn placeholders_are_filled_with_arn_suffixes() {
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web-demo/73e2d6bc24d8a067";
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop-demo/50dc6c495c0c9188";
        let label = format!(
            "{}/{}",
            load_balancer_ref("shop-web-demo"),
            target_group_ref("shop-web-demo")
        );
        assert_eq!(referenced_groups(&label), ["shop-web-demo"]);
        assert_eq!(
            fill(&label, "shop-web-demo", &arn_suffix(tg), &arn_suffix(lb)),
            "app/shop-demo/50dc6c495c0c9188/targetgroup/shop-web-demo/73e2d6bc24d8a067"
        );
    }

    #[test]
    fn alarms_are_put_when_new_or_changed_and_deleted_when_dropped() {
        let a = Alarm {
            alarm_name: "api-cpu".into(),
            namespace: "AWS/ECS".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: Vec::new(),
            statistic: Some("Average".into()),
            extended_statistic: None,
            period: 60,
            evaluation_periods: 3,
            threshold: 80.0,
            comparison_operator: "GreaterThanThreshold".into(),
            treat_missing_data: Some("missing".into()),
            alarm_description: None,
        };
        let mut b = a.clone();
        b.alarm_name = "api-memory".into();
        let mut a2 = a.clone();
        a2.threshold = 90.0;
        assert_eq!(
            alarm_steps(&[a.clone(), b.clone()], &[a2.clone()]),
            [
                Step::PutAlarm(a2.clone()),
                Step::DeleteAlarms(vec!["api-memory".into()])
            ]
        );
        assert_eq!(
            Step::PutAlarm(a2).describe(),
            "alarm api-cpu: CPUUtilization Average > 90 for 3×60s"
        );
        let same = std::slice::from_ref(&a);
        assert_eq!(alarm_steps(same, same), []);
    }
}
