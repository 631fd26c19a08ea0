//! The stack on this machine's Docker engine, as the local verbs share it:
//! opening it (stack.yaml for `local` and the engine), its secrets, its one
//! image (`image`), commands in its containers (`exec`), restarting in
//! place (`restart`), the edit loop (`watch`, `sync`), and what `down`
//! needs even when stack.yaml no longer loads.

pub mod converge;
pub mod exec;
pub mod image;
pub mod lock;
pub mod logs;
#[cfg(test)]
pub(crate) mod paper;
pub mod probe;
pub mod rehearse;
pub mod restart;
pub mod supervise;
pub mod sync;
pub mod up;
pub mod watch;

use std::path::PathBuf;

use crate::context::Context;
use crate::docker::{Containers, Engine, Member};
use crate::local::secrets;
use crate::stack::validate::LOCAL_ENV;
use crate::stack::{LoadError, Loaded, Stack};

pub use crate::STATE_DIR;

/// The stack loaded for `local`, and the engine it runs on (the Docker
/// engine; a table in unit tests, see `paper`).
pub struct LocalStack<E = Engine> {
    pub loaded: Loaded,
    pub engine: E,
}

impl LocalStack {
    pub async fn open(ctx: &Context) -> anyhow::Result<LocalStack> {
        Self::open_for(ctx, &[]).await
    }

    /// Opens the stack for a command that names `services`: they must
    /// exist, and naming one turns on its profiles.
    pub async fn open_for(ctx: &Context, services: &[String]) -> anyhow::Result<LocalStack> {
        let loaded = ctx.load_targeting(LOCAL_ENV, services)?;
        let engine = ctx.engine().await?.clone();
        let local = LocalStack { loaded, engine };
        for s in services {
            local.check_service(s)?;
        }
        Ok(local)
    }
}

impl<E> LocalStack<E> {
    /// The services a command acts on: those named, or every one (of the
    /// active profiles) when none is.
    pub fn selected(&self, services: &[String]) -> Vec<String> {
        if services.is_empty() {
            self.stack().services.keys().cloned().collect()
        } else {
            self.stack()
                .services
                .keys()
                .filter(|k| services.contains(k))
                .cloned()
                .collect()
        }
    }

    pub fn stack(&self) -> &Stack {
        &self.loaded.stack
    }

    pub fn name(&self) -> &str {
        &self.loaded.stack.name
    }

    pub fn dir(&self) -> PathBuf {
        self.loaded.source.dir()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir().join(STATE_DIR)
    }

    /// `Err` unless `name` is a service, or a sidecar of one written
    /// `SERVICE/SIDECAR` (what `logs` and `exec` take).
    pub fn check_container(&self, name: &str) -> anyhow::Result<()> {
        let Some((service, car)) = name.split_once('/') else {
            return self.check_service(name);
        };
        self.check_service(service)?;
        let cars: Vec<&str> = self.stack().services[service]
            .sidecars
            .keys()
            .map(String::as_str)
            .collect();
        if cars.contains(&car) {
            return Ok(());
        }
        match cars.is_empty() {
            true => anyhow::bail!("service `{service}` has no sidecars, so no `{name}`"),
            false => anyhow::bail!(
                "service `{service}` has no sidecar `{car}`; its sidecars: {}",
                cars.join(", ")
            ),
        }
    }

    /// `Err` naming the services there are, unless `service` is one.
    pub fn check_service(&self, service: &str) -> anyhow::Result<()> {
        let stack = self.stack();
        if stack.services.contains_key(service) {
            return Ok(());
        }
        if let Some(svc) = self.loaded.disabled.get(service) {
            anyhow::bail!(
                "service `{service}` runs only with profile {}, which is not active: add `--profile {}` (or set GENO_PROFILES)",
                svc.profiles
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                svc.profiles[0]
            );
        }
        // Every declared service: one outside the active profiles may be named.
        let known: Vec<&str> = self
            .loaded
            .declared
            .services
            .keys()
            .map(String::as_str)
            .collect();
        let hint = crate::stack::de::did_you_mean(service, &known)
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        anyhow::bail!(
            "unknown service `{service}`{hint}; services are: {}",
            known.join(", ")
        )
    }

    /// Local values of the named secrets; generated ones are kept per stack
    /// in the user's state directory (see `local::secrets`).
    pub fn secrets(&self, names: &[String]) -> Result<secrets::Resolved, secrets::SecretError> {
        let project = self.state_dir();
        let store = secrets::user_state_dir(&self.loaded.vars, &project);
        crate::state::secrets::resolve(
            &self.loaded.stack,
            names,
            &store,
            Some(&project),
            &self.loaded.vars,
        )
    }

    /// The stack's lock for `verb` (see `lock::StackLock`): waits for
    /// another geno to finish, or with `no_wait` fails at once.
    pub async fn lock(
        &self,
        ctx: &Context,
        verb: &str,
        no_wait: bool,
    ) -> Result<lock::StackLock, lock::LockError> {
        lock::StackLock::acquire(&self.state_dir(), self.name(), verb, no_wait, &ctx.shell).await
    }
}

impl<E: Containers> LocalStack<E> {
    /// The containers of `services` (not one-off runs), in the order
    /// stack.yaml declares the services, replicas in order.
    pub async fn containers(&self, services: &[String]) -> anyhow::Result<Vec<Member>> {
        let mut found: Vec<Member> = self
            .engine
            .members(self.name())
            .await?
            .into_iter()
            .filter(|m| m.kind != "run" && services.contains(&m.service))
            .collect();
        let order = |m: &Member| self.stack().services.get_index_of(&m.service);
        // A task's sidecars after its service's container.
        found.sort_by_key(|m| (order(m), m.replica, m.sidecar.is_some()));
        Ok(found)
    }

    /// The ID of replica `index` of `service` (or of its sidecar, as
    /// `SERVICE/SIDECAR`), which must be running.
    pub async fn running_container(&self, service: &str, index: u32) -> anyhow::Result<String> {
        self.check_container(service)?;
        let (name, car) = match service.split_once('/') {
            Some((s, c)) => (s, Some(c)),
            None => (service, None),
        };
        for m in self.engine.members(self.name()).await? {
            if m.service == name
                && m.replica == index
                && m.kind != "run"
                && m.sidecar.as_deref() == car
            {
                if !m.running() {
                    anyhow::bail!("{service} replica {index} is not running (run `geno up`)");
                }
                return Ok(m.id);
            }
        }
        anyhow::bail!("{service} replica {index} does not exist (run `geno up`)")
    }
}

/// What `geno down` needs to clean up, even when stack.yaml no longer loads:
/// the stack's name (from the raw `name:` if need be) and, when it loads,
/// the stack itself (for dependency order and grace periods).
pub struct ForCleanup {
    pub name: String,
    pub stack: Option<Stack>,
    pub state_dir: PathBuf,
}

pub fn for_cleanup(ctx: &Context) -> anyhow::Result<ForCleanup> {
    let file = &ctx.settings.file;
    let state_dir = crate::stack::load::Source::dir_of(file).join(STATE_DIR);
    match ctx.load(LOCAL_ENV) {
        // Every service, whichever profiles are active: `down` removes all.
        Ok(l) => Ok(ForCleanup {
            name: l.declared.name.clone(),
            stack: Some(l.declared),
            state_dir,
        }),
        Err(err @ LoadError::Invalid(_)) => {
            let text = std::fs::read_to_string(file)?;
            let name = crate::stack::yaml::parse(&text).ok().and_then(|root| {
                root.get("name")
                    .and_then(|(_, v)| v.scalar().map(str::to_string))
            });
            match name {
                Some(name) => {
                    ctx.shell.warn(format!(
                        "{} does not load; using its name `{name}` to clean up",
                        file.display()
                    ));
                    Ok(ForCleanup {
                        name,
                        stack: None,
                        state_dir,
                    })
                }
                None => Err(err.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}
