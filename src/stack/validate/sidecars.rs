//! Checks of a service's sidecars: names, images, repositories, health
//! checks, the order of the task's containers, ports and sizes, as ECS
//! takes them in one task definition.

use super::super::diag::{At, Problem};
use super::super::graph;
use super::super::model::{Condition, Platform, Service, ServiceKind, Sidecar};
use super::{Checks, names_of, quoted_list};
use crate::path;

/// What ECS takes as a container name.
fn container_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Checks<'_> {
    pub(super) fn sidecars(&mut self) {
        let stack = self.stack;
        for (service, svc) in &stack.services {
            if svc.sidecars.is_empty() {
                continue;
            }
            if svc.kind == ServiceKind::Job {
                self.push(
                    Problem::new(
                        path!["services", service, "sidecars"],
                        At::Key,
                        format!("job `{service}` cannot have sidecars: a task with them runs until its essential containers stop"),
                    )
                    .help(format!("make the sidecar a service of its own, or `{service}` a service (`kind: service`)")),
                );
                continue;
            }
            for (name, car) in &svc.sidecars {
                self.sidecar(service, svc, name, car);
            }
            self.task_order(service, svc);
            self.task_ports(service, svc);
            self.task_size(service, svc);
        }
    }

    fn sidecar(&mut self, service: &str, svc: &Service, name: &str, car: &Sidecar) {
        let stack = self.stack;
        let at = |field: &str| path!["services", service, "sidecars", name, field];
        let key = path!["services", service, "sidecars", name];
        if !container_name_ok(name) {
            self.push(
                Problem::new(
                    key.clone(),
                    At::Key,
                    format!("sidecar name `{name}` is not a valid ECS container name"),
                )
                .help("use letters, digits, `-` and `_` (at most 255)"),
            );
        } else if name == stack.container_name(service) || name == service {
            self.push(Problem::new(
                key.clone(),
                At::Key,
                format!("sidecar `{name}` has the name of its service's own container; containers of a task have names of their own"),
            ));
        } else if stack.services.contains_key(name) {
            self.push(
                Problem::new(
                    key.clone(),
                    At::Key,
                    format!("sidecar `{name}` has the name of service `{name}`; `depends_on: {name}` would name either"),
                )
                .help("rename the sidecar"),
            );
        }
        // Its image: as for services.
        let known = names_of(&stack.builds);
        match (&car.image, &car.build) {
            (Some(image), Some(build)) => self.push(
                Problem::new(
                    at("build"),
                    At::Key,
                    format!("sidecar `{name}` runs the external image `{image}` and names build `{build}`; a container runs one of them"),
                )
                .help("drop `image:` to run the build, or `build:` to run the external image"),
            ),
            (None, Some(build)) if !stack.builds.contains_key(build) => {
                self.unknown(at("build"), At::Value, "build", build, &known)
            }
            (None, None) if stack.default_build().is_none() => self.push(
                Problem::new(
                    key.clone(),
                    At::Key,
                    match stack.builds.is_empty() {
                        true => format!("sidecar `{name}` runs the stack's own image, but the stack builds none"),
                        false => format!("sidecar `{name}` names no build, and the stack builds several: {}", quoted_list(&known)),
                    },
                )
                .help("give it `build: NAME` or an external `image:`"),
            ),
            _ => {}
        }
        let build = stack.sidecar_build(service, name);
        if let Some(ecs) = &svc.ecs {
            let own = stack.build_of(service);
            if let Some(b) = build
                && car.repository.is_none()
                && (own != Some(b) || ecs.repository.is_none())
            {
                self.push(
                    Problem::new(
                        key.clone(),
                        At::Key,
                        format!("sidecar `{name}` runs build `{b}`, not its service's, so promote needs an ECR repository to push it to"),
                    )
                    .help(format!("add `repository: {name}` (infra/ creates it)")),
                );
            }
            // One task, one runtimePlatform.
            let platform =
                |b: Option<&str>| b.and_then(|b| stack.build(b)).and_then(|b| b.platform);
            // What the task definition says without one: X86_64.
            let (mine, theirs) = (
                platform(build).unwrap_or(Platform::Amd64),
                platform(own).unwrap_or(Platform::Amd64),
            );
            if (platform(build).is_some() || platform(own).is_some()) && mine != theirs {
                self.push(Problem::new(
                    at("build"),
                    At::Value,
                    format!(
                        "sidecar `{name}` runs build `{}` for linux/{}, but `{service}`'s task runs on linux/{}: a task has one platform",
                        build.unwrap_or_default(),
                        mine.image_arch(),
                        theirs.image_arch()
                    ),
                ));
            }
        }
        if let Some(hc) = &car.healthcheck {
            let mut at = key.clone();
            at.push("healthcheck".into());
            self.health_at(at, stack.deploys(service), hc);
        }
        for (field, given) in [("entrypoint", &car.entrypoint), ("command", &car.command)] {
            if given.as_ref().is_some_and(|c| c.0.is_empty()) {
                self.push(Problem::new(
                    at(field),
                    At::Value,
                    format!("{field} must not be empty"),
                ));
            }
        }
        let declared = names_of(&stack.secrets);
        for (i, secret) in car.secrets.iter().enumerate() {
            if !stack.secrets.contains_key(secret) {
                let at = path!["services", service, "sidecars", name, "secrets", i];
                self.unknown(at, At::Value, "secret", secret, &declared);
            } else if car.environment.contains_key(secret) {
                self.push(Problem::new(
                    path!["services", service, "sidecars", name, "environment", secret],
                    At::Key,
                    format!("`{secret}` is both a plain variable and a secret of sidecar `{name}`; keep one"),
                ));
            }
        }
        let grace = car.stop_grace_period.as_secs();
        if grace > 120 && stack.deploys(service) {
            self.push(Problem::new(
                at("stop_grace_period"),
                At::Value,
                format!("ECS gives a container at most 120s after SIGTERM (`stopTimeout`); found {grace}s"),
            ));
        }
    }

    /// `depends_on` between the containers of one task: names known,
    /// conditions each container can meet, no cycle.
    fn task_order(&mut self, service: &str, svc: &Service) {
        let mut known: Vec<&str> = vec![service];
        known.extend(svc.sidecars.keys().map(String::as_str));
        let mut nodes: Vec<(&str, Vec<&str>)> = Vec::new();
        // The service's own entries that name its sidecars: the task's
        // network is its container's here, so it starts first.
        for dep in svc
            .depends_on
            .0
            .keys()
            .filter(|d| svc.sidecars.contains_key(*d))
        {
            self.push(
                Problem::new(
                    path!["services", service, "depends_on", dep],
                    At::Key,
                    format!("`{service}` cannot wait for its own sidecar `{dep}`: geno runs the task in `{service}`'s network, so `{service}` starts first"),
                )
                .help(format!("drop `{dep}` from `{service}`'s depends_on; a sidecar may wait for `{service}` instead")),
            );
        }
        for (name, car) in &svc.sidecars {
            let mut deps = Vec::new();
            for (dep, condition) in &car.depends_on.0 {
                let at = path!["services", service, "sidecars", name, "depends_on", dep];
                if !known.contains(&dep.as_str()) {
                    self.unknown(at, At::Key, "container", dep, &known);
                    continue;
                }
                if dep == name {
                    self.push(Problem::new(
                        at,
                        At::Key,
                        format!("sidecar `{name}` depends on itself"),
                    ));
                    continue;
                }
                deps.push(dep.as_str());
                self.condition(svc, name, dep, *condition, at);
            }
            nodes.push((name.as_str(), deps));
        }
        if let Some(cycle) = graph::find_cycle(&nodes) {
            let (first, second) = (cycle[0], cycle[1]);
            let at = match first == service {
                true => path!["services", service, "depends_on", second],
                false => path!["services", service, "sidecars", first, "depends_on", second],
            };
            self.push(Problem::new(
                at,
                At::Key,
                format!(
                    "the containers of `{service}`'s task wait for each other: {}",
                    cycle.join(" -> ")
                ),
            ));
        }
    }

    /// Whether container `dep` of the task can meet `condition` for `who`.
    fn condition(
        &mut self,
        svc: &Service,
        who: &str,
        dep: &str,
        condition: Condition,
        at: Vec<super::super::diag::Seg>,
    ) {
        let (health, essential) = match svc.sidecars.get(dep) {
            Some(car) => (car.healthcheck.is_some(), car.essential),
            None => (svc.healthcheck.is_some(), true),
        };
        match condition {
            Condition::Healthy if !health => self.push(
                Problem::new(at, At::Key, format!("`{dep}` has no healthcheck, so `{who}` would wait for `healthy` forever"))
                    .help(format!("add a healthcheck to `{dep}`, or wait for `started`")),
            ),
            Condition::CompletedSuccessfully if essential => self.push(
                Problem::new(
                    at,
                    At::Key,
                    format!("`{dep}` is essential: when it completes the task stops, so `{who}` cannot wait for it to complete"),
                )
                .help(format!("give `{dep}` `essential: false` (ECS takes SUCCESS only of a non-essential container), or wait for `started` or `healthy`")),
            ),
            _ => {}
        }
    }

    /// The task's containers share one network: no two listen on one
    /// port, and a published port binds once.
    fn task_ports(&mut self, service: &str, svc: &Service) {
        let mut seen: Vec<(u16, String)> = svc
            .ports
            .iter()
            .map(|p| (p.container, format!("`{service}`")))
            .collect();
        for (name, car) in &svc.sidecars {
            for (i, port) in car.ports.iter().enumerate() {
                let at = path!["services", service, "sidecars", name, "ports", i];
                if let Some((_, other)) = seen.iter().find(|(p, _)| *p == port.container) {
                    self.push(Problem::new(
                        at.clone(),
                        At::Value,
                        format!("port {} is already {other}'s: the containers of a task share one network", port.container),
                    ));
                }
                seen.push((port.container, format!("sidecar `{name}`")));
                if let Some(host) = port.host
                    && svc.replicas > 1
                {
                    self.push(
                        Problem::new(
                            at,
                            At::Value,
                            format!("`{service}` has {} replicas but sidecar `{name}` publishes host port {host}; only one task can bind it", svc.replicas),
                        )
                        .help("publish no host port"),
                    );
                }
            }
        }
    }

    /// The containers' own sizes fit the task's.
    fn task_size(&mut self, service: &str, svc: &Service) {
        let Some(ecs) = &svc.ecs else { return };
        let cpu: u32 = svc.sidecars.values().filter_map(|c| c.cpu).sum();
        let memory: u32 = svc.sidecars.values().filter_map(|c| c.memory).sum();
        let last = |field: &str| {
            svc.sidecars
                .iter()
                .rev()
                .find(|(_, c)| {
                    if field == "cpu" {
                        c.cpu.is_some()
                    } else {
                        c.memory.is_some()
                    }
                })
                .map(|(n, _)| path!["services", service, "sidecars", n, field])
        };
        if cpu > ecs.cpu
            && let Some(at) = last("cpu")
        {
            self.push(Problem::new(
                at,
                At::Value,
                format!("the sidecars of `{service}` take {cpu} CPU units, more than its task's {} (`ecs.cpu`)", ecs.cpu),
            ));
        }
        if memory >= ecs.memory
            && let Some(at) = last("memory")
        {
            self.push(Problem::new(
                at,
                At::Value,
                format!("the sidecars of `{service}` take {memory} MiB, leaving nothing of its task's {} MiB (`ecs.memory`) for `{service}`", ecs.memory),
            ));
        }
    }
}
