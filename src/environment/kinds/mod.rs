//! The environment as a set of resources of known kinds, after Terraform's
//! resource types and Kubernetes' kinds: each kind reads what is live,
//! compares it with what stack.yaml renders, and says what must exist
//! before a promotion. `geno diff`, preflight and promote's decision of
//! what to change are one loop over `all()`; a new kind is one module here
//! and one line in `all()`.
//!
//! Two owners (README, "Who owns what on AWS"): geno's kinds change with a
//! release (their differences are what `diff` prints and promote applies);
//! infra's kinds must exist first (their problems are what preflight lists).

mod cluster;
mod deployment_settings;
mod desired_counts;
mod jobs;
mod listener_rules;
mod log_groups;
mod network;
mod permissions;
mod repositories;
mod roles;
mod scaling;
mod secrets;
mod service_connect;
mod target_groups;
mod task_definitions;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;

use super::Environment;
use crate::aws::{AwsError, Live};
use crate::deploy::connect::Namespace;
use crate::deploy::live::Store;
use crate::deploy::record::Record;
use crate::deploy::rollout::ServiceStatus;
use crate::deploy::taskdef::{Change, Plans, ServicePlan};

/// Who changes resources of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// geno, with a release: promote applies them, rollback restores them.
    Geno,
    /// infra/ (Terraform), beforehand: geno checks them.
    Infra,
}

/// One kind of resource: its name, its owner, and how its resources are
/// read and compared (each kind's module has one `observe`).
pub struct Kind<L: Live> {
    /// How `diff` and preflight name it.
    pub name: &'static str,
    pub owner: Owner,
    /// Every resource of this kind that the plans name, read live and
    /// compared.
    pub observe: for<'a> fn(&'a Observing<'a, L>) -> BoxFuture<'a, Vec<Observed>>,
}

/// Every kind, in the order preflight lists problems and diff prints
/// changes.
pub fn all<L: Live>() -> Vec<Kind<L>> {
    vec![
        Kind {
            name: "cluster and services",
            owner: Owner::Infra,
            observe: |cx| cluster::observe(cx).boxed(),
        },
        Kind {
            name: "repositories",
            owner: Owner::Infra,
            observe: |cx| repositories::observe(cx).boxed(),
        },
        Kind {
            name: "log groups",
            owner: Owner::Infra,
            observe: |cx| log_groups::observe(cx).boxed(),
        },
        Kind {
            name: "SSM parameters",
            owner: Owner::Infra,
            observe: |cx| secrets::observe(cx, Store::Ssm).boxed(),
        },
        Kind {
            name: "Secrets Manager secrets",
            owner: Owner::Infra,
            observe: |cx| secrets::observe(cx, Store::SecretsManager).boxed(),
        },
        Kind {
            name: "target groups",
            owner: Owner::Infra,
            observe: |cx| target_groups::observe(cx).boxed(),
        },
        Kind {
            name: "listener rules",
            owner: Owner::Infra,
            observe: |cx| listener_rules::observe(cx).boxed(),
        },
        Kind {
            name: "roles",
            owner: Owner::Infra,
            observe: |cx| roles::observe(cx).boxed(),
        },
        Kind {
            name: "role permissions",
            owner: Owner::Infra,
            observe: |cx| permissions::observe(cx).boxed(),
        },
        Kind {
            name: "subnets and security groups",
            owner: Owner::Infra,
            observe: |cx| network::subnets_and_groups(cx).boxed(),
        },
        Kind {
            name: "Service Connect namespace",
            owner: Owner::Infra,
            observe: |cx| service_connect::namespaces(cx).boxed(),
        },
        Kind {
            name: TASK_DEFINITION,
            owner: Owner::Geno,
            observe: |cx| task_definitions::observe(cx).boxed(),
        },
        Kind {
            name: DESIRED_COUNT,
            owner: Owner::Geno,
            observe: |cx| desired_counts::observe(cx).boxed(),
        },
        Kind {
            name: DEPLOYMENT_SETTINGS,
            owner: Owner::Geno,
            observe: |cx| deployment_settings::observe(cx).boxed(),
        },
        Kind {
            name: SERVICE_CONNECT,
            owner: Owner::Geno,
            observe: |cx| service_connect::observe(cx).boxed(),
        },
        Kind {
            name: NETWORK_PLACEMENT,
            owner: Owner::Geno,
            observe: |cx| network::placement(cx).boxed(),
        },
        Kind {
            name: CAPACITY_PROVIDERS,
            owner: Owner::Geno,
            observe: |cx| network::capacity(cx).boxed(),
        },
        Kind {
            name: ALARMS,
            owner: Owner::Geno,
            observe: |cx| scaling::alarms(cx).boxed(),
        },
        Kind {
            name: DASHBOARD,
            owner: Owner::Geno,
            observe: |cx| scaling::dashboard(cx).boxed(),
        },
        Kind {
            name: SCALING,
            owner: Owner::Geno,
            observe: |cx| scaling::observe(cx).boxed(),
        },
        Kind {
            name: JOB_TASK_DEFINITION,
            owner: Owner::Geno,
            observe: |cx| jobs::observe(cx).boxed(),
        },
    ]
}

/// What a resource is attached to, for grouping what `diff` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The environment as a whole (cluster, repositories, roles…).
    Environment,
    /// An ECS service, on the task definition it runs now.
    Service {
        name: String,
        ecs_service: String,
        task_definition: String,
    },
    /// A one-off task before the services, and the task definition it
    /// last ran with, if it ever ran.
    Job {
        name: String,
        runs_before: Vec<String>,
        family: String,
        last_run: Option<String>,
    },
}

/// One resource, compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub kind: &'static str,
    pub subject: Subject,
    /// Rendered against live, field by field (geno's kinds).
    pub changes: Vec<Change>,
    /// What must be put right before a promotion (infra's kinds), or why
    /// it could not be read.
    pub problems: Vec<String>,
}

impl Observed {
    /// The problems an infra kind found, environment-wide; the kind's name
    /// is filled in by `observe_kinds`.
    fn problems(problems: Vec<String>) -> Observed {
        Observed {
            kind: "",
            subject: Subject::Environment,
            changes: Vec::new(),
            problems,
        }
    }
}

/// The plans' services as they run now, and the names not in the cluster.
pub type Described = Result<(Vec<ServiceStatus>, Vec<String>), AwsError>;

/// What every kind reads through, shared for one observation: the live
/// services are described once, whichever kind asks first.
pub struct Observing<'a, L: Live> {
    pub live: &'a L,
    pub env: &'a Environment,
    pub plans: &'a Plans,
    /// The environment's records, for what its jobs last ran with.
    pub records: &'a [Record],
    services: OnceCell<Described>,
    namespaces: OnceCell<Result<Vec<Namespace>, AwsError>>,
    cluster: OnceCell<Result<Option<String>, AwsError>>,
}

impl<'a, L: Live> Observing<'a, L> {
    pub fn new(
        live: &'a L,
        env: &'a Environment,
        plans: &'a Plans,
        records: &'a [Record],
    ) -> Observing<'a, L> {
        Observing {
            live,
            env,
            plans,
            records,
            services: OnceCell::new(),
            namespaces: OnceCell::new(),
            cluster: OnceCell::new(),
        }
    }

    /// As `new`, with the services already described (by preflight, a
    /// moment ago): nothing is asked twice.
    pub fn with_services(
        live: &'a L,
        env: &'a Environment,
        plans: &'a Plans,
        records: &'a [Record],
        services: Vec<ServiceStatus>,
    ) -> Observing<'a, L> {
        let cx = Observing::new(live, env, plans, records);
        let _ = cx.services.set(Ok((services, Vec::new())));
        // Described by preflight a moment ago, so the cluster was ACTIVE.
        let _ = cx.cluster.set(Ok(Some("ACTIVE".into())));
        cx
    }

    /// The plans' services as they run now (in plan order), and the names
    /// not in the cluster; described once, whichever kind asks first (the
    /// cluster kind asks only of an ACTIVE cluster).
    pub async fn services(&self) -> &Described {
        self.services
            .get_or_init(|| async {
                let names: Vec<String> = self
                    .plans
                    .services
                    .iter()
                    .map(|p| p.update.service.clone())
                    .collect();
                let (found, missing) = self.live.services(&self.env.aws.cluster, &names).await?;
                let ordered = names
                    .iter()
                    .filter_map(|n| found.iter().find(|s| &s.name == n).cloned())
                    .collect();
                Ok((ordered, missing))
            })
            .await
    }

    /// The cluster's status (`None`: it does not exist), read once.
    pub async fn cluster_status(&self) -> &Result<Option<String>, AwsError> {
        self.cluster
            .get_or_init(|| async { self.live.cluster_status(&self.env.aws.cluster).await })
            .await
    }

    /// Whether the cluster is ACTIVE: only then are its services asked for.
    pub async fn cluster_active(&self) -> bool {
        matches!(self.cluster_status().await, Ok(Some(s)) if s == "ACTIVE")
    }

    /// The Cloud Map namespace `name` (or ARN), if it exists; the
    /// namespaces are listed once, whichever kind asks first.
    pub async fn namespace(&self, name: &str) -> Result<Option<&Namespace>, &AwsError> {
        let all = self
            .namespaces
            .get_or_init(|| async { self.live.namespaces().await })
            .await;
        Ok(all
            .as_ref()?
            .iter()
            .find(|ns| crate::deploy::connect::names(ns, name)))
    }

    /// The live service named `ecs_service`, if described; nothing is
    /// described in a cluster that is missing or not ACTIVE (the cluster
    /// kind's problem).
    pub async fn service(&self, ecs_service: &str) -> Option<&ServiceStatus> {
        if !self.cluster_active().await {
            return None;
        }
        match self.services().await {
            Ok((found, _)) => found.iter().find(|s| s.name == ecs_service),
            Err(_) => None,
        }
    }
}

/// The names kinds go by, for a caller that asks about one.
pub const TASK_DEFINITION: &str = "task definition";
pub const DESIRED_COUNT: &str = "desired count";
pub const DEPLOYMENT_SETTINGS: &str = "deployment settings";
pub const JOB_TASK_DEFINITION: &str = "job task definition";
pub const SERVICE_CONNECT: &str = "service connect";
pub const NETWORK_PLACEMENT: &str = "network placement";
pub const CAPACITY_PROVIDERS: &str = "capacity providers";
pub const SCALING: &str = "scaling";
pub const ALARMS: &str = "alarms";
pub const DASHBOARD: &str = "dashboard";

/// Every resource of every kind of `owner`, observed.
pub async fn observe<L: Live>(cx: &Observing<'_, L>, owner: Owner) -> Vec<Observed> {
    observe_kinds(cx, |k| k.owner == owner).await
}

/// Every resource of geno's kinds that `which` picks, observed, for a
/// caller that acts on their differences: one that could not be read is
/// the caller's error (an infra kind's problems are preflight's to list).
pub async fn compare<L: Live>(
    cx: &Observing<'_, L>,
    which: impl Fn(&Kind<L>) -> bool,
) -> anyhow::Result<Vec<Observed>> {
    let observed = observe_kinds(cx, |k| k.owner == Owner::Geno && which(k)).await;
    if let Some(problem) = observed.iter().flat_map(|o| &o.problems).next() {
        anyhow::bail!("{problem}");
    }
    Ok(observed)
}

/// Every resource of the kinds `which` picks, observed.
pub async fn observe_kinds<L: Live>(
    cx: &Observing<'_, L>,
    which: impl Fn(&Kind<L>) -> bool,
) -> Vec<Observed> {
    let mut out = Vec::new();
    for kind in all::<L>().iter().filter(|k| which(k)) {
        out.extend((kind.observe)(cx).await.into_iter().map(|mut o| {
            o.kind = kind.name;
            o
        }));
    }
    out
}

/// Each service of the plans that runs in the cluster (a missing one is
/// the cluster kind's problem), with how it runs now.
async fn in_cluster<'a, L: Live>(
    cx: &'a Observing<'a, L>,
) -> Vec<(&'a ServicePlan, &'a ServiceStatus)> {
    let mut out = Vec::new();
    for plan in &cx.plans.services {
        if let Some(live) = cx.service(&plan.update.service).await {
            out.push((plan, live));
        }
    }
    out
}

impl Observed {
    /// Whether this is a resource of kind `kind` on ECS service `service`
    /// that differs from its rendering.
    pub fn differs_on(&self, kind: &str, service: &str) -> bool {
        self.kind == kind
            && !self.changes.is_empty()
            && matches!(&self.subject, Subject::Service { ecs_service, .. } if ecs_service == service)
    }

    /// A service's resource, compared.
    fn on_service(
        plan: &ServicePlan,
        live: &ServiceStatus,
        changes: Vec<Change>,
        problems: Vec<String>,
    ) -> Observed {
        Observed {
            kind: "",
            subject: Subject::Service {
                name: plan.name.clone(),
                ecs_service: plan.update.service.clone(),
                task_definition: live.task_definition.clone(),
            },
            changes,
            problems,
        }
    }
}

/// What an infra kind that checks names exist reports: one problem per
/// missing name (`say` words it), or the error that kept it from asking.
fn missing(found: Result<Vec<String>, AwsError>, say: impl Fn(&str) -> String) -> Vec<Observed> {
    let problems = match found {
        Ok(missing) => missing.iter().map(|m| say(m)).collect(),
        Err(e) => vec![e.to_string()],
    };
    vec![Observed::problems(problems)]
}

/// Distinct items in first-seen order.
fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

#[cfg(test)]
mod tests;
