//! The calls that operate a running environment rather than deploy to it:
//! tasks (list, describe, one-off runs, stop, ECS Exec sessions), desired
//! counts, target health, secrets' metadata and values written (never
//! read), and CloudWatch Logs events.

use aws_smithy_types::date_time::Format;

use super::{Aws, AwsError, found};
use crate::deploy::live::{SecretMeta, TargetHealth, Task, TaskContainer};
use crate::deploy::logs::LogEvent;

/// An ECS Exec session as `ExecuteCommand` opens it; what the
/// session-manager-plugin needs to connect.
#[derive(Debug, Clone)]
pub struct ExecSession {
    pub session_id: String,
    pub stream_url: String,
    pub token: String,
}

/// Most pages one log query reads (10,000 events a page).
pub const LOG_PAGES: usize = 20;

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
}

impl Aws {
    /// The running tasks of an ECS service, newest first.
    pub async fn service_tasks(&self, cluster: &str, service: &str) -> Result<Vec<Task>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.err("ecs", "ListTasks", e))?;
            arns.extend(page.task_arns().iter().cloned());
        }
        let mut tasks = self.tasks(cluster, &arns).await?;
        // ECS lists only the service's tasks; a stand-in may list them all.
        let group = format!("service:{service}");
        tasks.retain(|t| t.group == group);
        tasks.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(a.arn.cmp(&b.arn)));
        Ok(tasks)
    }

    /// The named tasks (IDs or ARNs), as ECS describes them.
    pub async fn tasks(&self, cluster: &str, tasks: &[String]) -> Result<Vec<Task>, AwsError> {
        let mut out = Vec::new();
        // DescribeTasks takes at most 100 tasks per call.
        for chunk in tasks.chunks(100) {
            let page = self
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| self.err("ecs", "DescribeTasks", e))?;
            out.extend(page.tasks().iter().map(task));
        }
        Ok(out)
    }

    /// Starts one task of `task_definition` with `container`'s command
    /// replaced, on Fargate in the network configuration of service
    /// `network_from`; returns the task ARN.
    pub async fn run_command(
        &self,
        cluster: &str,
        task_definition: &str,
        network_from: &str,
        container: &str,
        command: &[String],
    ) -> Result<String, AwsError> {
        let overrides = aws_sdk_ecs::types::TaskOverride::builder()
            .container_overrides(
                aws_sdk_ecs::types::ContainerOverride::builder()
                    .name(container)
                    .set_command(Some(command.to_vec()))
                    .build(),
            )
            .build();
        self.start_task(
            cluster,
            task_definition,
            network_from,
            Some(overrides),
            "geno run",
        )
        .await
    }

    /// Stops a task, saying why in its `stoppedReason`.
    pub async fn stop_task(&self, cluster: &str, task: &str, reason: &str) -> Result<(), AwsError> {
        self.ecs
            .stop_task()
            .cluster(cluster)
            .task(task)
            .reason(reason)
            .send()
            .await
            .map_err(|e| self.err("ecs", "StopTask", e))?;
        Ok(())
    }

    /// Opens an ECS Exec session running `command` in `container` of `task`.
    pub async fn execute_command(
        &self,
        cluster: &str,
        task: &str,
        container: &str,
        command: &str,
    ) -> Result<ExecSession, AwsError> {
        let out = self
            .ecs
            .execute_command()
            .cluster(cluster)
            .task(task)
            .container(container)
            .command(command)
            .interactive(true)
            .send()
            .await
            .map_err(|e| self.err("ecs", "ExecuteCommand", e))?;
        let s = out.session().ok_or_else(|| AwsError::Other {
            operation: "ExecuteCommand",
            reason: "the answer holds no session".into(),
        })?;
        Ok(ExecSession {
            session_id: s.session_id().unwrap_or_default().to_string(),
            stream_url: s.stream_url().unwrap_or_default().to_string(),
            token: s.token_value().unwrap_or_default().to_string(),
        })
    }

    /// The health of every target of the named target group; `None` when
    /// the group does not exist.
    pub async fn target_health(&self, name: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        let group = self.described_group(name).await?;
        let Some(arn) = group.as_ref().and_then(|g| g.target_group_arn()) else {
            return Ok(None);
        };
        let health = self
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| self.err("elasticloadbalancing", "DescribeTargetHealth", e))?;
        Ok(Some(
            health
                .target_health_descriptions()
                .iter()
                .map(|d| {
                    let target = d.target();
                    let h = d.target_health();
                    TargetHealth {
                        target_group: name.to_string(),
                        target: format!(
                            "{}:{}",
                            target.and_then(|t| t.id()).unwrap_or_default(),
                            target.and_then(|t| t.port()).unwrap_or_default()
                        ),
                        state: h
                            .and_then(|h| h.state())
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        reason: h.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
                        description: h.and_then(|h| h.description()).map(str::to_string),
                    }
                })
                .collect(),
        ))
    }

    /// What SSM says of each named parameter that exists (never its value).
    pub async fn parameter_meta(
        &self,
        names: &[String],
    ) -> Result<std::collections::BTreeMap<String, SecretMeta>, AwsError> {
        let mut out = std::collections::BTreeMap::new();
        for chunk in names.chunks(10) {
            let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .set_values(Some(chunk.to_vec()))
                .build()
                .map_err(|e| AwsError::Other {
                    operation: "DescribeParameters",
                    reason: e.to_string(),
                })?;
            let mut pages = self
                .ssm
                .describe_parameters()
                .parameter_filters(filter)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| self.err("ssm", "DescribeParameters", e))?;
                for p in page.parameters() {
                    out.insert(
                        p.name().unwrap_or_default().to_string(),
                        SecretMeta {
                            kind: p
                                .r#type()
                                .map(|t| t.as_str().to_string())
                                .unwrap_or_default(),
                            last_changed: time(p.last_modified_date()),
                            version: Some(p.version()),
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// Writes a SecureString parameter, replacing any value it had.
    pub async fn put_parameter(&self, name: &str, value: &str) -> Result<i64, AwsError> {
        let out = self
            .ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| self.err("ssm", "PutParameter", e))?;
        Ok(out.version())
    }

    pub async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        self.ssm
            .delete_parameter()
            .name(name)
            .send()
            .await
            .map_err(|e| self.err("ssm", "DeleteParameter", e))?;
        Ok(())
    }

    /// What Secrets Manager says of a secret (never its value); `None` when
    /// there is none.
    pub async fn secret_meta(&self, id: &str) -> Result<Option<SecretMeta>, AwsError> {
        let out = self
            .secrets
            .describe_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| self.err("secretsmanager", "DescribeSecret", e));
        Ok(
            found(out, "ResourceNotFoundException")?.map(|s| SecretMeta {
                kind: if s.deleted_date().is_some() {
                    "secret (scheduled for deletion)".into()
                } else {
                    "secret".into()
                },
                last_changed: time(s.last_changed_date()),
                version: None,
            }),
        )
    }

    /// Writes a secret's value: a new version, or the secret created.
    pub async fn put_secret(&self, id: &str, value: &str) -> Result<(), AwsError> {
        let out = self
            .secrets
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| self.err("secretsmanager", "PutSecretValue", e));
        if found(out, "ResourceNotFoundException")?.is_some() {
            return Ok(());
        }
        self.secrets
            .create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| self.err("secretsmanager", "CreateSecret", e))?;
        Ok(())
    }

    /// Schedules a secret for deletion after Secrets Manager's recovery
    /// window (30 days unless the account says otherwise).
    pub async fn delete_secret(&self, id: &str) -> Result<(), AwsError> {
        self.secrets
            .delete_secret()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| self.err("secretsmanager", "DeleteSecret", e))?;
        Ok(())
    }

    /// The events of a log group from `start` (ms, inclusive), oldest
    /// first, at most `LOG_PAGES` pages; whether more were left.
    /// `stream_prefix` narrows to one service's streams; `pattern` is a
    /// CloudWatch filter pattern.
    pub async fn log_events(
        &self,
        group: &str,
        start: i64,
        stream_prefix: Option<&str>,
        pattern: Option<&str>,
    ) -> Result<(Vec<LogEvent>, bool), AwsError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..LOG_PAGES {
            let out = self
                .logs
                .filter_log_events()
                .log_group_name(group)
                .start_time(start)
                .set_log_stream_name_prefix(stream_prefix.map(str::to_string))
                .set_filter_pattern(pattern.map(str::to_string))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| self.err("logs", "FilterLogEvents", e));
            let Some(out) = found(out, "ResourceNotFoundException")? else {
                return Err(AwsError::Other {
                    operation: "FilterLogEvents",
                    reason: format!(
                        "log group {group} does not exist in {} (infra/ creates it; ECS writes to it once a task ran)",
                        self.region
                    ),
                });
            };
            events.extend(out.events().iter().map(|e| LogEvent {
                timestamp: e.timestamp().unwrap_or_default(),
                stream: e.log_stream_name().unwrap_or_default().to_string(),
                message: e.message().unwrap_or_default().to_string(),
                id: e.event_id().unwrap_or_default().to_string(),
            }));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok((events, false)),
            }
        }
        Ok((events, true))
    }
}

fn task(t: &aws_sdk_ecs::types::Task) -> Task {
    Task {
        arn: t.task_arn().unwrap_or_default().to_string(),
        group: t.group().unwrap_or_default().to_string(),
        last_status: t.last_status().unwrap_or_default().to_string(),
        desired_status: t.desired_status().unwrap_or_default().to_string(),
        task_definition: t.task_definition_arn().unwrap_or_default().to_string(),
        started_at: time(t.started_at().or(t.created_at())),
        stopped_reason: t.stopped_reason().map(str::to_string),
        enable_execute_command: t.enable_execute_command(),
        address: t
            .attachments()
            .iter()
            .flat_map(|a| a.details())
            .find(|d| d.name() == Some("privateIPv4Address"))
            .and_then(|d| d.value().map(str::to_string)),
        containers: t
            .containers()
            .iter()
            .map(|c| TaskContainer {
                name: c.name().unwrap_or_default().to_string(),
                runtime_id: c.runtime_id().map(str::to_string),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
                exec_agent: c
                    .managed_agents()
                    .iter()
                    .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"))
                    .and_then(|a| a.last_status().map(str::to_string)),
            })
            .collect(),
    }
}
