//! Application Auto Scaling and CloudWatch alarms through `signed`: a
//! service's scaling read back in the shape geno renders it, the calls
//! that change it, and alarms with their states. Only target tracking
//! policies are read: other kinds on a service's target are not geno's and
//! are left as they are.

use serde_json::{Value, json};

use super::signed::{AUTOSCALING, CLOUDWATCH};
use super::{Aws, AwsError};
use crate::deploy::scaling::{
    Alarm, AlarmState, DIMENSION, Dashboard, Policy, Scaling, ScheduledAction, Step,
};

/// What an answer's field holds, typed; a field that is not there reads
/// as its type's default (CloudWatch and moto leave empty lists out).
fn field<T: serde::de::DeserializeOwned + Default>(v: &Value, name: &str) -> T {
    serde_json::from_value(v[name].clone()).unwrap_or_default()
}

impl Aws {
    /// The last `n` scaling activities of `resource_id`, newest first.
    pub async fn scaling_activities(
        &self,
        resource_id: &str,
        n: usize,
    ) -> Result<Vec<crate::deploy::scaling::Activity>, AwsError> {
        let out = self
            .signed
            .json(
                &AUTOSCALING,
                "DescribeScalingActivities",
                &json!({
                    "ServiceNamespace": "ecs",
                    "ScalableDimension": DIMENSION,
                    "ResourceId": resource_id,
                    "MaxResults": n,
                }),
            )
            .await?;
        let activities: Vec<Value> = field(&out, "ScalingActivities");
        Ok(activities
            .iter()
            .take(n)
            .map(|a| {
                // JSON 1.1 sends times as seconds since the epoch.
                let started = a["StartTime"]
                    .as_f64()
                    .map(|s| {
                        let at = std::time::UNIX_EPOCH
                            + std::time::Duration::from_secs(s.max(0.0) as u64);
                        humantime::format_rfc3339_seconds(at).to_string()
                    })
                    .unwrap_or_default();
                crate::deploy::scaling::Activity {
                    started,
                    status: a["StatusCode"].as_str().unwrap_or_default().to_string(),
                    description: a["Description"].as_str().unwrap_or_default().to_string(),
                }
            })
            .collect())
    }

    /// How the ECS service `resource_id` (`service/CLUSTER/NAME`) scales,
    /// if it is a scalable target.
    pub async fn scaling(&self, resource_id: &str) -> Result<Option<Scaling>, AwsError> {
        let on = json!({
            "ServiceNamespace": "ecs",
            "ScalableDimension": DIMENSION,
            "ResourceId": resource_id,
        });
        let targets = self
            .signed
            .json(
                &AUTOSCALING,
                "DescribeScalableTargets",
                &json!({
                    "ServiceNamespace": "ecs",
                    "ScalableDimension": DIMENSION,
                    "ResourceIds": [resource_id],
                }),
            )
            .await?;
        let Some(target) = targets["ScalableTargets"]
            .as_array()
            .and_then(|t| t.first())
            .cloned()
        else {
            return Ok(None);
        };
        let policies = self
            .signed
            .json(&AUTOSCALING, "DescribeScalingPolicies", &on)
            .await?;
        let actions = self
            .signed
            .json(&AUTOSCALING, "DescribeScheduledActions", &on)
            .await?;
        let policies: Vec<Value> = field(&policies, "ScalingPolicies");
        let actions: Vec<Value> = field(&actions, "ScheduledActions");
        Ok(Some(Scaling {
            resource_id: resource_id.to_string(),
            min_capacity: field(&target, "MinCapacity"),
            max_capacity: field(&target, "MaxCapacity"),
            policies: policies
                .iter()
                .filter(|p| p["PolicyType"] == "TargetTrackingScaling")
                .filter_map(|p| serde_json::from_value::<Policy>(p.clone()).ok())
                .collect(),
            scheduled_actions: actions
                .iter()
                .filter_map(|a| serde_json::from_value::<ScheduledAction>(a.clone()).ok())
                .collect(),
        }))
    }

    /// Sends one step that changes scaling or alarms.
    pub async fn scaling_step(&self, step: &Step) -> Result<(), AwsError> {
        let target = |id: &str| json!({ "ServiceNamespace": "ecs", "ScalableDimension": DIMENSION, "ResourceId": id });
        let with = |mut base: Value, extra: Value| {
            if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
                b.extend(e);
            }
            base
        };
        let (api, operation, input) = match step {
            Step::Register {
                resource_id,
                min,
                max,
            } => (
                &AUTOSCALING,
                "RegisterScalableTarget",
                with(
                    target(resource_id),
                    json!({ "MinCapacity": min, "MaxCapacity": max }),
                ),
            ),
            Step::PutPolicy {
                resource_id,
                policy,
            } => (
                &AUTOSCALING,
                "PutScalingPolicy",
                with(
                    target(resource_id),
                    with(
                        json!(policy),
                        json!({ "PolicyType": "TargetTrackingScaling" }),
                    ),
                ),
            ),
            Step::DeletePolicy { resource_id, name } => (
                &AUTOSCALING,
                "DeleteScalingPolicy",
                with(target(resource_id), json!({ "PolicyName": name })),
            ),
            Step::PutScheduled {
                resource_id,
                action,
            } => (
                &AUTOSCALING,
                "PutScheduledAction",
                with(target(resource_id), json!(action)),
            ),
            Step::DeleteScheduled { resource_id, name } => (
                &AUTOSCALING,
                "DeleteScheduledAction",
                with(target(resource_id), json!({ "ScheduledActionName": name })),
            ),
            Step::Deregister { resource_id } => (
                &AUTOSCALING,
                "DeregisterScalableTarget",
                target(resource_id),
            ),
            Step::PutAlarm(alarm) => (&CLOUDWATCH, "PutMetricAlarm", json!(alarm)),
            Step::PutDashboard(d) => (
                &CLOUDWATCH,
                "PutDashboard",
                json!({ "DashboardName": d.name, "DashboardBody": d.body.to_string() }),
            ),
            Step::DeleteDashboard(name) => (
                &CLOUDWATCH,
                "DeleteDashboards",
                json!({ "DashboardNames": [name] }),
            ),
            Step::DeleteAlarms(names) => {
                (&CLOUDWATCH, "DeleteAlarms", json!({ "AlarmNames": names }))
            }
        };
        self.signed.json(api, operation, &input).await.map(|_| ())
    }

    /// The metric alarms whose names start with `prefix` and whose
    /// description says geno made them (`managed_by`), as PutMetricAlarm
    /// took them.
    pub async fn managed_alarms(
        &self,
        prefix: &str,
        managed_by: &str,
    ) -> Result<Vec<Alarm>, AwsError> {
        let mut out = Vec::new();
        for a in self
            .describe_alarms(json!({ "AlarmNamePrefix": prefix }))
            .await?
        {
            let ours = a["AlarmDescription"]
                .as_str()
                .is_some_and(|d| d.starts_with(managed_by));
            if ours && let Ok(alarm) = serde_json::from_value::<Alarm>(a) {
                out.push(alarm.normalized());
            }
        }
        Ok(out)
    }

    /// The states of the alarms named (those that exist).
    pub async fn alarm_states(&self, names: &[String]) -> Result<Vec<AlarmState>, AwsError> {
        let mut out = Vec::new();
        // DescribeAlarms takes at most 100 names.
        for chunk in names.chunks(100) {
            for a in self.describe_alarms(json!({ "AlarmNames": chunk })).await? {
                out.push(AlarmState {
                    name: field(&a, "AlarmName"),
                    value: field(&a, "StateValue"),
                    reason: field(&a, "StateReason"),
                });
            }
        }
        Ok(out)
    }

    /// Every metric alarm DescribeAlarms answers for `filter`, page by page.
    async fn describe_alarms(&self, filter: Value) -> Result<Vec<Value>, AwsError> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        // Bounded: 100 pages of 100 alarms.
        for _ in 0..100 {
            let mut input = filter.clone();
            input["AlarmTypes"] = json!(["MetricAlarm"]);
            input["MaxRecords"] = json!(100);
            if let Some(token) = &next {
                input["NextToken"] = json!(token);
            }
            let answer = self
                .signed
                .json(&CLOUDWATCH, "DescribeAlarms", &input)
                .await?;
            out.extend(field::<Vec<Value>>(&answer, "MetricAlarms"));
            next = answer["NextToken"].as_str().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// The dashboard `name`, if it exists.
    pub async fn dashboard(&self, name: &str) -> Result<Option<Dashboard>, AwsError> {
        let answer = self
            .signed
            .json(
                &CLOUDWATCH,
                "GetDashboard",
                &json!({ "DashboardName": name }),
            )
            .await;
        let Some(answer) = super::found(answer, "ResourceNotFound")? else {
            return Ok(None);
        };
        let body: String = field(&answer, "DashboardBody");
        Ok(Some(Dashboard {
            name: name.to_string(),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
        }))
    }

    /// The latest value of each GetMetricData query between `start` and
    /// `end` (epoch seconds), by query ID; `None` for one with no data.
    pub async fn metric_data(
        &self,
        queries: &[Value],
        start: i64,
        end: i64,
    ) -> Result<Vec<(String, Option<f64>)>, AwsError> {
        let mut out = Vec::new();
        // GetMetricData takes at most 500 queries.
        for chunk in queries.chunks(500) {
            let answer = self
                .signed
                .json(
                    &CLOUDWATCH,
                    "GetMetricData",
                    &json!({
                        "MetricDataQueries": chunk,
                        "StartTime": start,
                        "EndTime": end,
                        "ScanBy": "TimestampDescending",
                    }),
                )
                .await?;
            for r in field::<Vec<Value>>(&answer, "MetricDataResults") {
                let values: Vec<f64> = field(&r, "Values");
                out.push((field(&r, "Id"), values.first().copied()));
            }
        }
        Ok(out)
    }

    /// The ARNs of target group `name` and of the first load balancer it
    /// is attached to, if it exists.
    pub async fn group_and_balancer(
        &self,
        name: &str,
    ) -> Result<Option<(String, Option<String>)>, AwsError> {
        Ok(self.described_group(name).await?.map(|g| {
            (
                g.target_group_arn().unwrap_or_default().to_string(),
                g.load_balancer_arns().first().cloned(),
            )
        }))
    }
}
