//! A deployed environment opened for operating it (`ps`, `logs`, `run`,
//! `exec`, `scale`, `secrets` with `--env`): stack.yaml's names for it —
//! cluster, ECS services, containers, log group and stream prefixes,
//! target groups — resolved once from the rendering, and the AWS clients.

use crate::aws::Aws;
use crate::context::Context;
use crate::deploy::record::Record;
use crate::deploy::taskdef::{JobPlan, Plans, ServicePlan, TaskDefinition};
use crate::render::ecs::ImageChoice;

use super::Environment;

pub struct Deployed<'a, L = Aws> {
    pub env: Environment,
    /// The AWS clients; a table in unit tests (`environment::paper`).
    pub aws: &'a L,
    /// The rendering without an image: names, not what to deploy.
    pub plans: Plans,
}

/// One deployed thing logs can come from: a service or a job.
pub struct LogSource<'a> {
    pub name: &'a str,
    /// The awslogs group its task definition writes to.
    pub group: String,
    /// What its streams begin with: `PREFIX/CONTAINER`.
    pub key: String,
}

impl<'a> Deployed<'a> {
    pub async fn open(ctx: &'a Context, env: &str) -> anyhow::Result<Deployed<'a>> {
        let env = Environment::open(ctx, env, None)?;
        let aws = ctx.aws(&env.aws.region).await;
        Deployed::with(env, aws)
    }
}

impl<'a, L> Deployed<'a, L> {
    /// `env`, read through `aws`.
    pub fn with(env: Environment, aws: &'a L) -> anyhow::Result<Deployed<'a, L>> {
        let plans = env.plans(&ImageChoice::Unpinned)?;
        Ok(Deployed { env, aws, plans })
    }

    pub fn cluster(&self) -> &str {
        &self.env.aws.cluster
    }

    /// The environment's promotion records, oldest first.
    pub fn records(&self) -> anyhow::Result<Vec<Record>> {
        Ok(crate::state::records::load_all(&self.env.records_dir())?)
    }

    /// The named services (all when none are named), in stack order.
    pub fn services(&self, names: &[String]) -> anyhow::Result<Vec<&ServicePlan>> {
        for n in names {
            self.service(n)?;
        }
        Ok(self
            .plans
            .services
            .iter()
            .filter(|p| names.is_empty() || names.contains(&p.name))
            .collect())
    }

    /// A service deployed as an ECS service, or an error that says what
    /// the name is instead.
    pub fn service(&self, name: &str) -> anyhow::Result<&ServicePlan> {
        if let Some(p) = self.plans.services.iter().find(|p| p.name == name) {
            return Ok(p);
        }
        if self.job(name).is_some() {
            anyhow::bail!(
                "`{name}` is a job: it runs as a one-off task before a promotion's services, not as an ECS service (`geno logs --env {} {name}` shows its runs)",
                self.env.name()
            );
        }
        if self.env.loaded.stack.services.contains_key(name) {
            anyhow::bail!(
                "service `{name}` is not deployed to `{}`: it runs locally only (it has no `ecs` section, or runs another image)",
                self.env.name()
            );
        }
        let known: Vec<&str> = self
            .plans
            .services
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        let hint = crate::stack::de::did_you_mean(name, &known)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        anyhow::bail!(
            "unknown service `{name}`{hint}; the services of `{}` are: {}",
            self.env.name(),
            known.join(", ")
        )
    }

    pub fn job(&self, name: &str) -> Option<&JobPlan> {
        self.plans.jobs.iter().find(|j| j.name == name)
    }

    /// Where the named services' and jobs' logs are (all when none named).
    pub fn log_sources(&self, names: &[String]) -> anyhow::Result<Vec<LogSource<'_>>> {
        let mut out = Vec::new();
        for n in names {
            if self.job(n).is_none() {
                self.service(n)?;
            }
        }
        let all = self
            .plans
            .services
            .iter()
            .map(|p| (p.name.as_str(), &p.task_definition))
            .chain(
                self.plans
                    .jobs
                    .iter()
                    .map(|j| (j.name.as_str(), &j.task_definition)),
            );
        for (name, td) in all {
            if names.is_empty() || names.iter().any(|n| n == name) {
                let (group, prefix) = self.log_place(td, name);
                out.push(LogSource {
                    name,
                    group,
                    key: format!("{prefix}/{}", main_container(td)),
                });
            }
        }
        Ok(out)
    }

    /// The awslogs group and stream prefix a task definition sets (the
    /// environment's group and the service's name when it sets none).
    pub fn log_place(&self, td: &TaskDefinition, name: &str) -> (String, String) {
        let options = td
            .main_container()
            .and_then(|c| c.log_configuration.as_ref())
            .map(|l| &l.options);
        let get = |key: &str| options.and_then(|o| o.get(key)).cloned();
        (
            get("awslogs-group").unwrap_or_else(|| self.env.aws.log_group.clone()),
            get("awslogs-stream-prefix").unwrap_or_else(|| name.to_string()),
        )
    }
}

/// The essential container of a task definition: the one geno renders for
/// the service (sidecars come after it).
pub fn main_container(td: &TaskDefinition) -> &str {
    td.main_container()
        .map(|c| c.name.as_str())
        .unwrap_or_default()
}
