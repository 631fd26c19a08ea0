//! `geno top --env`'s figures: the CloudWatch metrics of each deployed
//! service (ECS's CPU and memory of the service, the ALB's requests, 5xx
//! answers and response time of its target groups) as GetMetricData
//! queries, and the last full minute of each as a row. Pure.

use serde::Serialize;

use super::scaling::Dimension;
use super::taskdef::ServicePlan;

/// The minute CloudWatch's ECS and ALB metrics come in.
pub const PERIOD: i64 = 60;

/// What a query measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Requests,
    Errors,
    P50,
    P99,
    Cpu,
    Memory,
}

/// One GetMetricData query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Unique in one call: `q{service index}_{n}`.
    pub id: String,
    pub figure: Figure,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimensions: Vec<Dimension>,
    pub stat: &'static str,
}

impl Query {
    /// GetMetricData's `MetricDataQueries` entry.
    pub fn request(&self) -> serde_json::Value {
        serde_json::json!({
            "Id": self.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.namespace,
                    "MetricName": self.metric,
                    "Dimensions": self.dimensions,
                },
                "Period": PERIOD,
                "Stat": self.stat,
            },
            "ReturnData": true,
        })
    }
}

/// The queries for service number `index` of a plan: CPU and memory of
/// the ECS service, and for each target group routing to it (its ALB
/// names found live) requests, target 5xx and p50/p99 response time.
pub fn queries(index: usize, plan: &ServicePlan, groups: &[(String, String)]) -> Vec<Query> {
    let mut out = Vec::new();
    let mut add = |figure, namespace, metric, dimensions: Vec<Dimension>, stat| {
        let id = format!("q{index}_{}", out.len());
        out.push(Query {
            id,
            figure,
            namespace,
            metric,
            dimensions,
            stat,
        });
    };
    let dim = |name: &str, value: &str| Dimension {
        name: name.into(),
        value: value.into(),
    };
    let service = vec![
        dim("ClusterName", &plan.update.cluster),
        dim("ServiceName", &plan.update.service),
    ];
    add(
        Figure::Cpu,
        "AWS/ECS",
        "CPUUtilization",
        service.clone(),
        "Average",
    );
    add(
        Figure::Memory,
        "AWS/ECS",
        "MemoryUtilization",
        service,
        "Average",
    );
    for (group, balancer) in groups {
        let on = vec![dim("TargetGroup", group), dim("LoadBalancer", balancer)];
        let alb = "AWS/ApplicationELB";
        add(Figure::Requests, alb, "RequestCount", on.clone(), "Sum");
        add(
            Figure::Errors,
            alb,
            "HTTPCode_Target_5XX_Count",
            on.clone(),
            "Sum",
        );
        add(Figure::P50, alb, "TargetResponseTime", on.clone(), "p50");
        add(Figure::P99, alb, "TargetResponseTime", on, "p99");
    }
    out
}

/// One deployed service's figures over the last minute CloudWatch has.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvFigures {
    pub service: String,
    pub running: i32,
    pub desired: i32,
    pub requests_per_second: Option<f64>,
    pub errors_per_second: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Of what the task reserves (`ecs.cpu`, `ecs.memory`).
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
}

/// A service's figures from its queries and each query's latest value.
/// Several target groups add up (their response times: the largest).
pub fn figures(
    service: &str,
    (running, desired): (i32, i32),
    queries: &[Query],
    latest: &[(String, Option<f64>)],
) -> EnvFigures {
    let values = |figure: Figure| -> Vec<f64> {
        queries
            .iter()
            .filter(|q| q.figure == figure)
            .filter_map(|q| latest.iter().find(|(id, _)| *id == q.id)?.1)
            .collect()
    };
    let sum = |f| {
        let v = values(f);
        (!v.is_empty()).then(|| v.iter().sum::<f64>())
    };
    let max = |f| values(f).into_iter().reduce(f64::max);
    let per_second = |v: Option<f64>| v.map(|s| s / PERIOD as f64);
    EnvFigures {
        service: service.to_string(),
        running,
        desired,
        requests_per_second: per_second(sum(Figure::Requests)),
        errors_per_second: per_second(sum(Figure::Errors)),
        // CloudWatch gives response times in seconds.
        p50_ms: max(Figure::P50).map(|s| s * 1000.0),
        p99_ms: max(Figure::P99).map(|s| s * 1000.0),
        cpu_percent: max(Figure::Cpu),
        memory_percent: max(Figure::Memory),
    }
}

/// The figures as a table: one row a service.
pub fn table(rows: &[EnvFigures]) -> Vec<[String; 8]> {
    let mut t = vec![
        [
            "SERVICE", "TASKS", "REQ/S", "5XX/S", "P50", "P99", "CPU", "MEM",
        ]
        .map(String::from),
    ];
    let show = |v: Option<f64>, unit: &str, digits: usize| {
        v.map(|v| format!("{v:.digits$}{unit}"))
            .unwrap_or_else(|| "-".into())
    };
    for f in rows {
        t.push([
            f.service.clone(),
            format!("{}/{}", f.running, f.desired),
            show(f.requests_per_second, "", 1),
            show(f.errors_per_second, "", 1),
            show(f.p50_ms, "ms", 0),
            show(f.p99_ms, "ms", 0),
            show(f.cpu_percent, "%", 1),
            show(f.memory_percent, "%", 1),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routed_service_sums_requests_and_errors_a_minute_into_rates() {
        let (_dir, _ctx, _env, plans) = crate::environment::paper::demo();
        let web = &plans.services[0];
        let groups = [(
            "targetgroup/shop-web-demo/73e2".to_string(),
            "app/shop-demo/50dc".to_string(),
        )];
        let q = queries(0, web, &groups);
        let ids: Vec<(&str, &str, &str)> = q
            .iter()
            .map(|q| (q.id.as_str(), q.metric, q.stat))
            .collect();
        assert_eq!(
            ids,
            [
                ("q0_0", "CPUUtilization", "Average"),
                ("q0_1", "MemoryUtilization", "Average"),
                ("q0_2", "RequestCount", "Sum"),
                ("q0_3", "HTTPCode_Target_5XX_Count", "Sum"),
                ("q0_4", "TargetResponseTime", "p50"),
                ("q0_5", "TargetResponseTime", "p99"),
            ]
        );
        assert_eq!(
            q[2].request()["MetricStat"]["Metric"]["Dimensions"][0],
            serde_json::json!({ "Name": "TargetGroup", "Value": "targetgroup/shop-web-demo/73e2" })
        );
        let latest = vec![
            ("q0_0".to_string(), Some(12.5)),
            ("q0_1".to_string(), Some(40.0)),
            ("q0_2".to_string(), Some(600.0)),
            ("q0_3".to_string(), Some(6.0)),
            ("q0_4".to_string(), Some(0.004)),
            ("q0_5".to_string(), None),
        ];
        let f = figures("web", (2, 2), &q, &latest);
        assert_eq!(f.requests_per_second, Some(10.0));
        assert_eq!(f.errors_per_second, Some(0.1));
        assert_eq!(f.p50_ms, Some(4.0));
        assert_eq!(f.p99_ms, None);
        assert_eq!(
            table(&[f])[1],
            ["web", "2/2", "10.0", "0.1", "4ms", "-", "12.5%", "40.0%"].map(String::from)
        );
    }
}
