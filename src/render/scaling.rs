//! A service's scaling and alarms in one environment, rendered as
//! Application Auto Scaling and CloudWatch take them (`deploy::scaling`'s
//! shapes). The ALB's target group and load balancer are named by
//! placeholders until promote reads their ARNs.

use crate::deploy::scaling::{
    Alarm, Capacity, Dimension, Policy, PredefinedMetric, Scaling, ScheduledAction, TargetTracking,
    load_balancer_ref, resource_id, target_group_ref,
};
use crate::stack::model::EcsService;
use crate::stack::scaling::{Alarms, STANDARD, Source, is_percentile, standard};
use crate::stack::{AwsEnvironment, Stack};

/// How service `name` scales in `env`: `environments.ENV.scaling.NAME`, or
/// its own `ecs.scaling`.
pub fn scaling_in<'a>(
    stack: &'a Stack,
    name: &str,
    env: &str,
) -> Option<&'a crate::stack::Scaling> {
    stack
        .environments
        .get(env)
        .and_then(|e| e.scaling.get(name))
        .or_else(|| stack.ecs(name).and_then(|e| e.scaling.as_ref()))
}

/// The service's scalable target, policies and scheduled actions.
pub fn scaling(
    stack: &Stack,
    name: &str,
    env: &str,
    aws: &AwsEnvironment,
    ecs: &EcsService,
) -> Option<Scaling> {
    let s = scaling_in(stack, name, env)?;
    let group = ecs
        .target_group
        .as_ref()
        .map(|g| stack.target_group_name(g, env));
    let mut policies = Vec::new();
    for (metric, tracking, kind) in [
        ("cpu", &s.cpu, "ECSServiceAverageCPUUtilization"),
        ("memory", &s.memory, "ECSServiceAverageMemoryUtilization"),
        ("requests", &s.requests, "ALBRequestCountPerTarget"),
    ] {
        let Some(t) = tracking else { continue };
        policies.push(Policy {
            policy_name: t
                .policy
                .clone()
                .unwrap_or_else(|| format!("{}-{metric}", ecs.service)),
            target_tracking_scaling_policy_configuration: TargetTracking {
                target_value: f64::from(t.target),
                predefined_metric_specification: PredefinedMetric {
                    predefined_metric_type: kind.into(),
                    resource_label: group
                        .as_ref()
                        .filter(|_| metric == "requests")
                        .map(|g| format!("{}/{}", load_balancer_ref(g), target_group_ref(g))),
                },
                scale_in_cooldown: s.scale_in_cooldown.as_secs() as i32,
                scale_out_cooldown: s.scale_out_cooldown.as_secs() as i32,
            },
        });
    }
    Some(Scaling {
        resource_id: resource_id(&aws.cluster, &ecs.service),
        min_capacity: s.min as i32,
        max_capacity: s.max as i32,
        policies,
        scheduled_actions: s
            .schedule
            .iter()
            .map(|a| ScheduledAction {
                scheduled_action_name: a.name.clone(),
                schedule: a.at.trim().to_string(),
                timezone: a.timezone.clone(),
                scalable_target_action: Capacity {
                    min_capacity: a.min.map(|m| m as i32),
                    max_capacity: a.max.map(|m| m as i32),
                },
            })
            .collect(),
    })
}

/// The alarms of service `name` in `env`: `environments.ENV.alarms.NAME`,
/// or its own `ecs.alarms`.
pub fn alarms_in<'a>(stack: &'a Stack, name: &str, env: &str) -> Option<&'a Alarms> {
    stack
        .environments
        .get(env)
        .and_then(|e| e.alarms.get(name))
        .or_else(|| stack.ecs(name).map(|e| &e.alarms))
}

/// The service's alarms, each with whether it rolls a promotion back.
pub fn alarms(
    stack: &Stack,
    name: &str,
    env: &str,
    aws: &AwsEnvironment,
    ecs: &EcsService,
) -> Vec<(Alarm, bool)> {
    let chosen: Vec<(String, crate::stack::scaling::AlarmSpec)> = match alarms_in(stack, name, env)
    {
        None | Some(Alarms::None) => return Vec::new(),
        Some(Alarms::Standard(_)) => STANDARD
            .iter()
            .filter(|s| s.source == Source::Ecs || ecs.target_group.is_some())
            .map(|s| (s.name.to_string(), Default::default()))
            .collect(),
        Some(Alarms::Named(named)) => named
            .iter()
            .map(|(n, spec)| (n.clone(), spec.clone().unwrap_or_default()))
            .collect(),
    };
    let fewest = match scaling_in(stack, name, env) {
        Some(s) => s.min,
        None => stack
            .environments
            .get(env)
            .and_then(|e| e.desired_count.get(name).copied())
            .unwrap_or(ecs.desired_count),
    };
    let group = ecs
        .target_group
        .as_ref()
        .map(|g| stack.target_group_name(g, env));
    chosen
        .into_iter()
        .map(|(key, spec)| {
            let std = standard(&key).filter(|_| spec.metric.is_none());
            let namespace = spec
                .namespace
                .clone()
                .or(std.map(|s| s.namespace.to_string()))
                .unwrap_or_else(|| "AWS/ECS".into());
            let dimensions = if !spec.dimensions.is_empty() {
                spec.dimensions
                    .iter()
                    .map(|(k, v)| Dimension {
                        name: k.clone(),
                        value: v.clone(),
                    })
                    .collect()
            } else if std.is_some_and(|s| s.source == Source::Alb) {
                let g = group.clone().unwrap_or_default();
                vec![
                    Dimension {
                        name: "TargetGroup".into(),
                        value: target_group_ref(&g),
                    },
                    Dimension {
                        name: "LoadBalancer".into(),
                        value: load_balancer_ref(&g),
                    },
                ]
            } else if namespace == "AWS/ECS" || namespace == "ECS/ContainerInsights" {
                vec![
                    Dimension {
                        name: "ClusterName".into(),
                        value: aws.cluster.clone(),
                    },
                    Dimension {
                        name: "ServiceName".into(),
                        value: ecs.service.clone(),
                    },
                ]
            } else {
                Vec::new()
            };
            let statistic = spec
                .statistic
                .clone()
                .or(std.map(|s| s.statistic.to_string()))
                .unwrap_or_else(|| "Average".into());
            let (statistic, extended_statistic) = if is_percentile(&statistic) {
                (None, Some(statistic))
            } else {
                (Some(statistic), None)
            };
            let alarm = Alarm {
                alarm_name: format!("{}-{key}", ecs.service),
                namespace,
                metric_name: spec
                    .metric
                    .clone()
                    .or(std.map(|s| s.metric.to_string()))
                    .unwrap_or_default(),
                dimensions,
                statistic,
                extended_statistic,
                period: spec.period.map(|p| p.as_secs() as i32).unwrap_or(60),
                evaluation_periods: spec.periods.or(std.map(|s| s.periods)).unwrap_or(3) as i32,
                threshold: spec
                    .threshold
                    .or(std.map(|s| s.threshold.unwrap_or(f64::from(fewest))))
                    .unwrap_or_default(),
                comparison_operator: spec
                    .comparison
                    .or(std.map(|s| s.comparison))
                    .unwrap_or(crate::stack::scaling::Comparison::Greater)
                    .operator()
                    .to_string(),
                treat_missing_data: Some(
                    spec.missing_data
                        .or(std.map(|s| s.missing_data))
                        .unwrap_or(crate::stack::scaling::MissingData::Missing)
                        .word()
                        .to_string(),
                ),
                alarm_description: Some(format!(
                    "{}{}/{name} {key}{}",
                    crate::deploy::scaling::MANAGED,
                    stack.name,
                    std.map(|s| format!(": {}", s.says)).unwrap_or_default()
                )),
            }
            .normalized();
            (alarm, spec.rollback)
        })
        .collect()
}

/// The CloudWatch dashboard `STACK-ENV` of an environment that asks for
/// one (`aws.dashboard`): a row per deployed service (its tasks' CPU and
/// memory; behind the load balancer, its requests and 5xx answers and its
/// p50/p99 response time), then every alarm's state. The ALB's names are
/// placeholders until promote reads them.
pub fn dashboard(stack: &Stack, env: &str, aws: &AwsEnvironment) -> Option<serde_json::Value> {
    use serde_json::json;
    if !aws.dashboard {
        return None;
    }
    let mut widgets = vec![json!({
        "type": "text", "x": 0, "y": 0, "width": 24, "height": 1,
        "properties": { "markdown": crate::deploy::scaling::DASHBOARD_MARK },
    })];
    let mut alarm_arns = Vec::new();
    let mut y = 1;
    let widget = |x: i32, y: i32, title: String, stat: &str, metrics: Vec<serde_json::Value>| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 8, "height": 6,
            "properties": {
                "title": title, "region": aws.region, "stat": stat, "period": 60,
                "view": "timeSeries", "metrics": metrics,
            },
        })
    };
    for (name, svc) in &stack.services {
        let Some(ecs) = &svc.ecs else { continue };
        let service = [
            "ClusterName",
            aws.cluster.as_str(),
            "ServiceName",
            ecs.service.as_str(),
        ];
        let on_service = |metric: &str| {
            let mut m = vec![json!("AWS/ECS"), json!(metric)];
            m.extend(service.iter().map(|s| json!(s)));
            serde_json::Value::Array(m)
        };
        let mut row = vec![widget(
            0,
            y,
            format!("{name}: CPU and memory, % of the task's"),
            "Average",
            vec![
                on_service("CPUUtilization"),
                on_service("MemoryUtilization"),
            ],
        )];
        if let Some(g) = &ecs.target_group {
            let g = stack.target_group_name(g, env);
            let on_group = |metric: &str, stat: &str| {
                json!([
                    "AWS/ApplicationELB", metric,
                    "TargetGroup", target_group_ref(&g),
                    "LoadBalancer", load_balancer_ref(&g),
                    { "stat": stat },
                ])
            };
            row.push(widget(
                8,
                y,
                format!("{name}: requests and target 5xx a minute"),
                "Sum",
                vec![
                    on_group("RequestCount", "Sum"),
                    on_group("HTTPCode_Target_5XX_Count", "Sum"),
                ],
            ));
            row.push(widget(
                16,
                y,
                format!("{name}: response time p50, p99 (s)"),
                "p50",
                vec![
                    on_group("TargetResponseTime", "p50"),
                    on_group("TargetResponseTime", "p99"),
                ],
            ));
        }
        widgets.extend(row);
        y += 6;
        for (alarm, _) in alarms(stack, name, env, aws, ecs) {
            alarm_arns.push(format!(
                "arn:aws:cloudwatch:{}:{}:alarm:{}",
                aws.region, aws.account_id, alarm.alarm_name
            ));
        }
    }
    if !alarm_arns.is_empty() {
        widgets.push(json!({
            "type": "alarm", "x": 0, "y": y, "width": 24, "height": 4,
            "properties": { "title": "alarms", "alarms": alarm_arns },
        }));
    }
    Some(json!({
        "name": crate::deploy::scaling::dashboard_name(&stack.name, env),
        "body": { "widgets": widgets },
    }))
}
