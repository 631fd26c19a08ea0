//! What runs in a deployed environment, as ECS, the ALB, SSM and Secrets
//! Manager report it — tasks, target health, secrets' metadata — and the
//! readings `geno ps/run/exec/secrets --env` make of it. Pure.

use serde::Serialize;

use crate::deploy::record::{Kind, Record};
use crate::deploy::taskdef::Plans;
use crate::stack::{AwsSecret, Stack};

/// One task, as `DescribeTasks` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub arn: String,
    /// `service:<ecs service>` for a service's tasks; `family:<f>` for one-offs.
    pub group: String,
    pub last_status: String,
    pub desired_status: String,
    pub task_definition: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// Whether the task was started with ECS Exec enabled.
    pub enable_execute_command: bool,
    /// Its private IPv4 address (its network interface's, in `awsvpc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub containers: Vec<TaskContainer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskContainer {
    pub name: String,
    /// What ECS Exec's session target is built from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The status of the ECS Exec agent in it (`RUNNING` when usable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_agent: Option<String>,
}

impl Task {
    /// The task ID: the last part of its ARN.
    pub fn id(&self) -> &str {
        task_id(&self.arn)
    }
}

/// `arn:…:task/cluster/0123abcd…` (or the old form without the cluster) → `0123abcd…`.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The first 8 characters of a task ID, as the console shows it.
pub fn short_task(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// Why ECS Exec cannot reach `container` of `task`, or `None` when it can.
pub fn exec_blocker(task: &Task, container: &str) -> Option<String> {
    if task.last_status != "RUNNING" {
        return Some(format!(
            "task {} is {}, not RUNNING",
            short_task(task.id()),
            task.last_status
        ));
    }
    if !task.enable_execute_command {
        return Some(format!(
            "task {} was started without ECS Exec (the service needs enableExecuteCommand, which infra/ sets; tasks started before it was set keep running without it until replaced)",
            short_task(task.id())
        ));
    }
    let Some(c) = task.containers.iter().find(|c| c.name == container) else {
        return Some(format!(
            "task {} has no container `{container}`",
            short_task(task.id())
        ));
    };
    match c.exec_agent.as_deref() {
        Some("RUNNING") => None,
        Some(other) => Some(format!(
            "the ECS Exec agent in task {} is {other}",
            short_task(task.id())
        )),
        None => Some(format!(
            "task {} reports no ECS Exec agent in `{container}`",
            short_task(task.id())
        )),
    }
}

/// One target of a target group, as `DescribeTargetHealth` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetHealth {
    pub target_group: String,
    /// `id:port` (an IP address for Fargate's `ip` targets).
    pub target: String,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining`, `unavailable`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Where a secret's value lives on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Store {
    #[serde(rename = "ssm")]
    Ssm,
    #[serde(rename = "secretsmanager")]
    SecretsManager,
}

impl Store {
    pub fn label(self) -> &'static str {
        match self {
            Store::Ssm => "SSM",
            Store::SecretsManager => "Secrets Manager",
        }
    }
}

/// What AWS says about a secret: never its value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretMeta {
    /// `SecureString`, `String`, … for SSM; `secret` for Secrets Manager.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_changed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// A secret stack.yaml declares for an environment, where it lives there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeclaredSecret {
    /// Its name in stack.yaml (`DATABASE_URL`).
    pub name: String,
    pub store: Store,
    /// The parameter name or secret ID AWS knows it by.
    pub id: String,
    /// For a Secrets Manager reference `name:json-key::`, the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_key: Option<String>,
    /// The services that read it.
    pub used_by: Vec<String>,
}

/// Every secret with an `aws` source in `stack` (loaded for the
/// environment, so its sources are interpolated), in declaration order,
/// with the services and jobs of `plans` that read it (a local-only
/// service, such as postgres, does not count).
pub fn declared(stack: &Stack, plans: &Plans) -> Vec<DeclaredSecret> {
    stack
        .secrets
        .iter()
        .filter_map(|(name, secret)| {
            let (store, id, json_key) = match secret.aws.as_ref()? {
                AwsSecret::Ssm(p) => (Store::Ssm, ssm_name(p), None),
                AwsSecret::SecretsManager(s) => (Store::SecretsManager, secret_id(s), json_key(s)),
            };
            Some(DeclaredSecret {
                name: name.clone(),
                store,
                id,
                json_key,
                used_by: plans
                    .services
                    .iter()
                    .map(|p| (&p.name, &p.task_definition))
                    .chain(plans.jobs.iter().map(|j| (&j.name, &j.task_definition)))
                    .filter(|(_, td)| {
                        td.container_definitions
                            .iter()
                            .any(|c| c.secrets.iter().any(|x| x.name == *name))
                    })
                    .map(|(n, _)| n.clone())
                    .collect(),
            })
        })
        .collect()
}

/// `arn:…:parameter/a/b` → `/a/b`; `arn:…:parameter/name` → `name`.
pub fn ssm_name(p: &str) -> String {
    match p.split_once(":parameter") {
        Some((_, rest)) if p.starts_with("arn:") => {
            if rest.matches('/').count() > 1 {
                rest.to_string()
            } else {
                rest.trim_start_matches('/').to_string()
            }
        }
        _ => p.to_string(),
    }
}

/// The secret itself, without a `:json-key:version-stage:version-id` suffix.
pub fn secret_id(s: &str) -> String {
    if s.starts_with("arn:") {
        s.split(':').take(7).collect::<Vec<_>>().join(":")
    } else {
        s.split(':').next().unwrap_or(s).to_string()
    }
}

/// The JSON key of a Secrets Manager reference, if it names one.
fn json_key(s: &str) -> Option<String> {
    let rest: Vec<&str> = if s.starts_with("arn:") {
        s.split(':').skip(7).collect()
    } else {
        s.split(':').skip(1).collect()
    };
    rest.first()
        .filter(|k| !k.is_empty())
        .map(|k| k.to_string())
}

/// The image reference's digest: `repo@sha256:…` → `sha256:…`.
pub fn image_digest(image: &str) -> Option<&str> {
    image.split_once('@').map(|(_, d)| d)
}

/// The promotion that put `digest` in this environment from a verified
/// image: the newest successful, unforced promotion that pushed it.
pub fn verified_promotion<'a>(records: &'a [Record], digest: &str) -> Option<&'a Record> {
    records.iter().rev().find(|r| {
        r.kind == Kind::Promote && r.succeeded() && !r.forced && r.image_of(digest).is_some()
    })
}

/// How the image a service runs stands against the records: what `ps
/// --env` shows and what `run --env` insists on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "status"
)]
pub enum ImageStanding {
    /// Promoted from an image that passed `geno smoke`.
    Verified {
        image_id: String,
        promotion: String,
        at: String,
    },
    /// Promoted with `--force`: nothing vouched for it.
    Forced { promotion: String },
    /// Not put there by a promotion on record (by hand, another machine, or
    /// a tag rather than a digest).
    Unknown,
}

pub fn standing(records: &[Record], image: &str) -> ImageStanding {
    let Some(digest) = image_digest(image) else {
        return ImageStanding::Unknown;
    };
    if let Some(r) = verified_promotion(records, digest) {
        return ImageStanding::Verified {
            image_id: r.image_of(digest).unwrap_or_default().to_string(),
            promotion: r.id.clone(),
            at: r.finished_at.clone(),
        };
    }
    match records
        .iter()
        .rev()
        .find(|r| r.kind == Kind::Promote && r.succeeded() && r.image_of(digest).is_some())
    {
        Some(r) => ImageStanding::Forced {
            promotion: r.id.clone(),
        },
        None => ImageStanding::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::record::Outcome;

    fn promotion(id: &str, digest: &str, forced: bool, outcome: Outcome) -> Record {
        let mut r = Record::begin(Kind::Promote, "s", "demo", "c");
        r.id = id.into();
        r.image_id = format!("sha256:image-{id}");
        r.manifest_digest = digest.into();
        r.forced = forced;
        r.outcome = outcome;
        r.finished_at = format!("at-{id}");
        r
    }

    #[test]
    fn an_image_is_verified_only_by_a_successful_unforced_promotion_of_its_digest() {
        let records = vec![
            promotion("1", "sha256:aa", false, Outcome::Succeeded),
            promotion("2", "sha256:bb", true, Outcome::Succeeded),
            promotion(
                "3",
                "sha256:cc",
                false,
                Outcome::RolledBack { reason: "r".into() },
            ),
        ];
        assert_eq!(
            standing(&records, "123.dkr.ecr/x@sha256:aa"),
            ImageStanding::Verified {
                image_id: "sha256:image-1".into(),
                promotion: "1".into(),
                at: "at-1".into()
            }
        );
        assert_eq!(
            standing(&records, "x@sha256:bb"),
            ImageStanding::Forced {
                promotion: "2".into()
            }
        );
        assert_eq!(standing(&records, "x@sha256:cc"), ImageStanding::Unknown);
        assert_eq!(standing(&records, "x:latest"), ImageStanding::Unknown);
    }

    #[test]
    fn secret_names_from_sources() {
        assert_eq!(ssm_name("/genonaut/demo/x"), "/genonaut/demo/x");
        assert_eq!(
            ssm_name("arn:aws:ssm:us-east-1:1:parameter/genonaut/demo/x"),
            "/genonaut/demo/x"
        );
        assert_eq!(ssm_name("arn:aws:ssm:us-east-1:1:parameter/flat"), "flat");
        assert_eq!(secret_id("db:password::"), "db");
        assert_eq!(json_key("db:password::").as_deref(), Some("password"));
        assert_eq!(json_key("db"), None);
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC:password::";
        assert_eq!(
            secret_id(arn),
            "arn:aws:secretsmanager:us-east-1:1:secret:db-AbC"
        );
        assert_eq!(json_key(arn).as_deref(), Some("password"));
    }

    #[test]
    fn exec_is_blocked_with_the_reason() {
        let mut t = Task {
            arn: "arn:aws:ecs:us-east-1:1:task/c/0123456789abcdef".into(),
            last_status: "RUNNING".into(),
            enable_execute_command: true,
            containers: vec![TaskContainer {
                name: "api".into(),
                exec_agent: Some("RUNNING".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(exec_blocker(&t, "api"), None);
        assert_eq!(
            exec_blocker(&t, "web").unwrap(),
            "task 01234567 has no container `web`"
        );
        t.containers[0].exec_agent = Some("PENDING".into());
        assert_eq!(
            exec_blocker(&t, "api").unwrap(),
            "the ECS Exec agent in task 01234567 is PENDING"
        );
        t.enable_execute_command = false;
        assert!(
            exec_blocker(&t, "api")
                .unwrap()
                .starts_with("task 01234567 was started without ECS Exec")
        );
        t.last_status = "STOPPED".into();
        assert_eq!(
            exec_blocker(&t, "api").unwrap(),
            "task 01234567 is STOPPED, not RUNNING"
        );
    }
}
