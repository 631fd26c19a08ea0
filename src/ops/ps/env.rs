//! `geno ps --env ENV [SERVICE…]`: per service, tasks running / pending /
//! desired, each deployment with its rollout state and task definition,
//! the image digest running and whether a verified promotion put it there;
//! how each scales itself and the state of its alarms; the ALB's health of
//! every target; the last service events.

use serde::Serialize;

use crate::aws::Live;
use crate::context::Context;
use crate::deploy::live::{ImageStanding, TargetHealth, image_digest, standing};
use crate::deploy::rollout::{RolloutState, ServiceStatus, short_arn};
use crate::environment::deployed::{Deployed, main_container};
use crate::error::CliResult;
use crate::ids::short_id;
use crate::shell::Shell;

/// Service events shown per service.
const EVENTS: usize = 3;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    service: String,
    ecs_service: String,
    /// `ACTIVE`, `DRAINING`, or `missing` when ECS has no such service.
    status: String,
    running: i32,
    pending: i32,
    desired: i32,
    task_definition: String,
    deployments: Vec<DeploymentRow>,
    image: Option<String>,
    image_standing: Option<ImageStanding>,
    events: Vec<EventRow>,
    /// How it scales itself, as Application Auto Scaling has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    scaling: Option<ScalingRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    alarms: Vec<AlarmRow>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScalingRow {
    min: i32,
    max: i32,
    /// Each policy and scheduled action, in a line.
    rules: Vec<String>,
    /// Application Auto Scaling's last activities, newest first.
    activities: Vec<crate::deploy::scaling::Activity>,
}

/// How many scaling activities `ps --env` shows per service.
const ACTIVITIES: usize = 3;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AlarmRow {
    name: String,
    /// `OK`, `ALARM`, `INSUFFICIENT_DATA`; `missing` when CloudWatch has
    /// none of that name (not promoted yet).
    state: String,
    reason: String,
    /// It rolls a promotion back.
    rollback: bool,
    watches: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentRow {
    status: String,
    task_definition: String,
    rollout_state: Option<String>,
    running: i32,
    desired: i32,
    pending: i32,
    failed_tasks: i32,
}

#[derive(Debug, Serialize)]
struct EventRow {
    at: String,
    message: String,
}

pub async fn ps(ctx: &Context, env: &str, services: &[String]) -> CliResult {
    let d = Deployed::open(ctx, env).await?;
    show(&ctx.shell, &d, services).await
}

/// What `ps --env` says about `d`, read through any `Live`.
async fn show<L: Live>(shell: &Shell, d: &Deployed<'_, L>, services: &[String]) -> CliResult {
    let env = d.env.name();
    let wanted = d.services(services)?;
    let names: Vec<String> = wanted.iter().map(|p| p.update.service.clone()).collect();
    let (live, _missing) = d.aws.services(d.cluster(), &names).await?;
    let records = d.records()?;
    let mut rows = Vec::new();
    for plan in &wanted {
        let s = live.iter().find(|s| s.name == plan.update.service);
        let image = match s {
            Some(s) if !s.task_definition.is_empty() => {
                let td = d.aws.task_definition(&s.task_definition).await?;
                let main = main_container(&td).to_string();
                td.container_definitions
                    .into_iter()
                    .find(|c| c.name == main)
                    .map(|c| c.image)
            }
            _ => None,
        };
        let mut r = row(&plan.name, &plan.update.service, s, image, &records);
        if s.is_some() {
            settings(d.aws, plan, &mut r).await?;
        }
        rows.push(r);
    }
    let mut targets: Vec<TargetHealth> = Vec::new();
    let mut groups_missing = Vec::new();
    for plan in &wanted {
        for tg in &plan.target_groups {
            match d.aws.target_health(&tg.name).await? {
                Some(t) => targets.extend(t),
                None => groups_missing.push(tg.name.clone()),
            }
        }
    }
    if shell.json() {
        shell.print_json(&serde_json::json!({
            "environment": env,
            "cluster": d.cluster(),
            "services": rows,
            "targets": targets,
        }))?;
        return Ok(());
    }
    shell.table(&service_table(&rows))?;
    let scaled: Vec<&Row> = rows.iter().filter(|r| r.scaling.is_some()).collect();
    if !scaled.is_empty() {
        shell.out_line("")?;
        let mut t = vec![["SERVICE", "SCALES", "RULES"].map(String::from)];
        for r in scaled {
            let Some(s) = &r.scaling else { continue };
            t.push([
                r.service.clone(),
                format!("{}–{} tasks, {} now", s.min, s.max, r.desired),
                if s.rules.is_empty() {
                    "-".into()
                } else {
                    s.rules.join("; ")
                },
            ]);
        }
        shell.table(&t)?;
        let activities: Vec<[String; 4]> = rows
            .iter()
            .filter_map(|r| Some((r, r.scaling.as_ref()?)))
            .flat_map(|(r, s)| {
                s.activities.iter().map(|a| {
                    [
                        r.service.clone(),
                        a.started.clone(),
                        a.status.clone(),
                        a.description.clone(),
                    ]
                })
            })
            .collect();
        if !activities.is_empty() {
            shell.out_line("")?;
            let mut t = vec![["SERVICE", "SCALING ACTIVITY", "STATUS", "WHAT"].map(String::from)];
            t.extend(activities);
            shell.table(&t)?;
        }
    }
    if rows.iter().any(|r| !r.alarms.is_empty()) {
        shell.out_line("")?;
        let mut t = vec![["SERVICE", "ALARM", "STATE", "WATCHES"].map(String::from)];
        for r in &rows {
            for a in &r.alarms {
                t.push([
                    r.service.clone(),
                    a.name.clone(),
                    if a.rollback {
                        format!("{} (rolls back)", a.state)
                    } else {
                        a.state.clone()
                    },
                    a.watches.clone(),
                ]);
            }
        }
        shell.table(&t)?;
        for a in rows
            .iter()
            .flat_map(|r| &r.alarms)
            .filter(|a| a.state == "ALARM")
        {
            shell.warn(format!("alarm {} is firing: {}", a.name, a.reason));
        }
    }
    if !targets.is_empty() {
        shell.out_line("")?;
        let mut t = vec![["TARGET GROUP", "TARGET", "STATE", "REASON"].map(String::from)];
        for h in &targets {
            t.push([
                h.target_group.clone(),
                h.target.clone(),
                h.state.clone(),
                match (&h.reason, &h.description) {
                    (Some(r), Some(d)) => format!("{r}: {d}"),
                    (Some(r), None) => r.clone(),
                    _ => "-".into(),
                },
            ]);
        }
        shell.table(&t)?;
    }
    for g in groups_missing {
        shell.warn(format!(
            "target group {g} does not exist (infra/ creates it)"
        ));
    }
    let with_events: Vec<&Row> = rows.iter().filter(|r| !r.events.is_empty()).collect();
    if !with_events.is_empty() {
        shell.out_line("\nrecent events:")?;
        for r in with_events {
            for e in &r.events {
                shell.out_line(format!("  {} {}  {}", r.service, e.at, e.message))?;
            }
        }
    }
    for r in rows.iter().filter(|r| r.status == "missing") {
        shell.warn(format!(
            "ECS service {} does not exist in cluster {} (infra/ creates it; `geno promote --env {env}` deploys to it)",
            r.ecs_service,
            d.cluster()
        ));
    }
    Ok(())
}

/// The service's scaling and the states of its alarms, read live.
async fn settings<L: Live>(
    live: &L,
    plan: &crate::deploy::taskdef::ServicePlan,
    r: &mut Row,
) -> anyhow::Result<()> {
    let id = crate::deploy::scaling::resource_id(&plan.update.cluster, &plan.update.service);
    let scaling = live.scaling(&id).await?;
    let activities = match scaling {
        Some(_) => live.scaling_activities(&id, ACTIVITIES).await?,
        None => Vec::new(),
    };
    r.scaling = scaling.map(|s| ScalingRow {
        activities,
        min: s.min_capacity,
        max: s.max_capacity,
        rules: s
            .policies
            .iter()
            .map(|p| format!("{} {}", p.policy_name, p.summary()))
            .chain(
                s.scheduled_actions
                    .iter()
                    .map(|a| format!("{} {}", a.scheduled_action_name, a.summary())),
            )
            .collect(),
    });
    if plan.alarms.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = plan.alarms.iter().map(|a| a.alarm_name.clone()).collect();
    let states = live.alarm_states(&names).await?;
    let rollback: Vec<String> = plan
        .rollback_alarms()
        .iter()
        .map(|a| a.alarm_name.clone())
        .collect();
    r.alarms = plan
        .alarms
        .iter()
        .map(|a| {
            let state = states.iter().find(|s| s.name == a.alarm_name);
            AlarmRow {
                name: a.alarm_name.clone(),
                state: state.map_or("missing".into(), |s| s.value.clone()),
                reason: state.map(|s| s.reason.clone()).unwrap_or_default(),
                rollback: rollback.contains(&a.alarm_name),
                watches: a.summary(),
            }
        })
        .collect();
    Ok(())
}

fn row(
    name: &str,
    ecs_service: &str,
    s: Option<&ServiceStatus>,
    image: Option<String>,
    records: &[crate::deploy::record::Record],
) -> Row {
    let Some(s) = s else {
        return Row {
            service: name.into(),
            ecs_service: ecs_service.into(),
            status: "missing".into(),
            running: 0,
            pending: 0,
            desired: 0,
            task_definition: String::new(),
            deployments: Vec::new(),
            image: None,
            image_standing: None,
            events: Vec::new(),
            scaling: None,
            alarms: Vec::new(),
        };
    };
    Row {
        service: name.into(),
        ecs_service: ecs_service.into(),
        status: s.status.clone(),
        running: s.running,
        pending: s.pending,
        desired: s.desired,
        task_definition: s.task_definition.clone(),
        deployments: s
            .deployments
            .iter()
            .map(|d| DeploymentRow {
                status: d.status.clone(),
                task_definition: d.task_definition.clone(),
                rollout_state: d.rollout_state.map(|r| rollout_text(r).to_string()),
                running: d.running,
                desired: d.desired,
                pending: d.pending,
                failed_tasks: d.failed_tasks,
            })
            .collect(),
        image_standing: image.as_deref().map(|i| standing(records, i)),
        image,
        events: s
            .events
            .iter()
            .take(EVENTS)
            .map(|e| EventRow {
                at: e.at.clone(),
                message: e.message.clone(),
            })
            .collect(),
        scaling: None,
        alarms: Vec::new(),
    }
}

fn rollout_text(r: RolloutState) -> &'static str {
    match r {
        RolloutState::InProgress => "IN_PROGRESS",
        RolloutState::Completed => "COMPLETED",
        RolloutState::Failed => "FAILED",
    }
}

fn service_table(rows: &[Row]) -> Vec<[String; 6]> {
    let mut t = vec![
        [
            "SERVICE",
            "TASKS",
            "TASK DEFINITION",
            "DEPLOYMENTS",
            "IMAGE",
            "VERIFIED",
        ]
        .map(String::from),
    ];
    for r in rows {
        if r.status == "missing" {
            t.push([
                r.service.clone(),
                "-".into(),
                "-".into(),
                format!("no ECS service {}", r.ecs_service),
                "-".into(),
                "-".into(),
            ]);
            continue;
        }
        let tasks = if r.pending > 0 {
            format!("{}/{} ({} pending)", r.running, r.desired, r.pending)
        } else {
            format!("{}/{}", r.running, r.desired)
        };
        let deployments = r
            .deployments
            .iter()
            .map(|d| {
                let mut s = format!("{} {}", d.status, short_arn(&d.task_definition));
                if let Some(state) = &d.rollout_state {
                    s.push(' ');
                    s.push_str(state);
                }
                if d.failed_tasks > 0 {
                    s.push_str(&format!(" ({} failed)", d.failed_tasks));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ");
        let image = r
            .image
            .as_deref()
            .map(|i| match image_digest(i) {
                Some(d) => short_id(d).to_string(),
                None => i.rsplit('/').next().unwrap_or(i).to_string(),
            })
            .unwrap_or_else(|| "-".into());
        let verified = match &r.image_standing {
            Some(ImageStanding::Verified { image_id, at, .. }) => {
                format!("yes: image {} promoted {at}", short_id(image_id))
            }
            Some(ImageStanding::Forced { promotion }) => format!("no: forced ({promotion})"),
            Some(ImageStanding::Unknown) => "no promotion on record".into(),
            None => "-".into(),
        };
        t.push([
            r.service.clone(),
            if r.status == "ACTIVE" {
                tasks
            } else {
                format!("{tasks} {}", r.status)
            },
            short_arn(&r.task_definition).to_string(),
            if deployments.is_empty() {
                "-".into()
            } else {
                deployments
            },
            image,
            verified,
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::live::TargetHealth;
    use crate::deploy::rollout::Event;
    use crate::environment::paper::{demo, in_order};

    #[tokio::test]
    async fn a_service_that_scales_itself_shows_its_range_count_rules_and_alarm_states() {
        let text = crate::environment::paper::STACK
            .replace(
                "desired_count: 2, target_group: web }",
                "target_group: web, scaling: { min: 2, max: 10, cpu: 70 }, alarms: { cpu: {}, 5xx: { rollback: true } } }",
            );
        let (_dir, ctx, env, plans) = crate::environment::paper::open(&text, "demo");
        let mut paper = in_order(&plans);
        paper.services[0].desired = 4;
        paper.activities.insert(
            "service/shop-demo/shop-web-demo".into(),
            vec![crate::deploy::scaling::Activity {
                started: "2026-12-07T04:01:05Z".into(),
                status: "Successful".into(),
                description: "Setting desired count to 4.".into(),
            }],
        );
        paper
            .target_health
            .insert("shop-web-demo".into(), Vec::new());
        paper.alarm_states.insert(
            "shop-web-demo-5xx".into(),
            (
                "ALARM".into(),
                "Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0)."
                    .into(),
            ),
        );
        let d = Deployed::with(env, &paper).unwrap();
        show(&ctx.shell, &d, &[]).await.unwrap();
        let (out, err) = ctx.shell.take();
        assert_eq!(
            out,
            "SERVICE  TASKS  TASK DEFINITION     DEPLOYMENTS                           IMAGE         VERIFIED\n\
             web      2/4    shop-web-demo:3     PRIMARY shop-web-demo:3 COMPLETED     111111111111  no promotion on record\n\
             worker   1/1    shop-worker-demo:3  PRIMARY shop-worker-demo:3 COMPLETED  111111111111  no promotion on record\n\
             \n\
             SERVICE  SCALES             RULES\n\
             web      2–10 tasks, 4 now  shop-web-demo-cpu tracks ECSServiceAverageCPUUtilization at 70 (cooldowns out 300s, in 300s)\n\
             \n\
             SERVICE  SCALING ACTIVITY      STATUS      WHAT\n\
             web      2026-12-07T04:01:05Z  Successful  Setting desired count to 4.\n\
             \n\
             SERVICE  ALARM              STATE               WATCHES\n\
             web      shop-web-demo-cpu  OK                  CPUUtilization Average > 80 for 3×60s\n\
             web      shop-web-demo-5xx  ALARM (rolls back)  HTTPCode_Target_5XX_Count Sum > 5 for 2×60s\n"
        );
        assert_eq!(
            err,
            "warning: alarm shop-web-demo-5xx is firing: Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).\n"
        );
    }

    #[tokio::test]
    async fn each_service_its_image_targets_and_events_and_what_is_missing() {
        let (_dir, ctx, env, plans) = demo();
        let mut paper = in_order(&plans);
        paper.services[0].events = vec![Event {
            id: "e1".into(),
            at: "2026-12-06T10:00:00Z".into(),
            message: "(service shop-web-demo) has reached a steady state.".into(),
        }];
        paper.services.retain(|s| s.name != "shop-worker-demo");
        let target = |t: &str, state: &str, reason: Option<&str>| TargetHealth {
            target_group: "shop-web-demo".into(),
            target: t.into(),
            state: state.into(),
            reason: reason.map(str::to_string),
            description: reason.map(|_| "Health checks failed".to_string()),
        };
        paper.target_health.insert(
            "shop-web-demo".into(),
            vec![
                target("10.0.1.5:8000", "healthy", None),
                target(
                    "10.0.2.7:8000",
                    "unhealthy",
                    Some("Target.FailedHealthChecks"),
                ),
            ],
        );
        let d = Deployed::with(env, &paper).unwrap();
        show(&ctx.shell, &d, &[]).await.unwrap();
        let (out, err) = ctx.shell.take();
        insta::assert_snapshot!(out);
        assert_eq!(
            err,
            "warning: ECS service shop-worker-demo does not exist in cluster shop-demo (infra/ creates it; `geno promote --env demo` deploys to it)\n"
        );
    }
}
