//! The stack on this machine's Docker engine, as the local verbs share it:
//! opening it (stack.yaml for `local` and the engine), its secrets, its one
//! image (`image`), commands in its containers (`exec`), and what `down`
//! needs even when stack.yaml no longer loads.

pub mod exec;
pub mod image;
pub mod lock;
pub mod logs;
pub mod probe;

use std::path::PathBuf;

use crate::context::Context;
use crate::docker::Engine;
use crate::local::secrets;
use crate::stack::validate::LOCAL_ENV;
use crate::stack::{LoadError, Loaded, Stack};

pub use crate::STATE_DIR;

pub struct LocalStack {
    pub loaded: Loaded,
    pub engine: Engine,
}

impl LocalStack {
    pub async fn open(ctx: &Context) -> anyhow::Result<LocalStack> {
        let loaded = ctx.load(LOCAL_ENV)?;
        let engine = ctx.engine().await?.clone();
        Ok(LocalStack { loaded, engine })
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

    /// `Err` naming the services there are, unless `service` is one.
    pub fn check_service(&self, service: &str) -> anyhow::Result<()> {
        let stack = self.stack();
        if stack.services.contains_key(service) {
            return Ok(());
        }
        let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
        anyhow::bail!(
            "unknown service `{service}`; services are: {}",
            known.join(", ")
        )
    }

    /// Local values of the named secrets; generated ones are kept per stack
    /// in the user's state directory (see `local::secrets`).
    pub fn secrets(&self, names: &[String]) -> Result<secrets::Resolved, secrets::SecretError> {
        let project = self.state_dir();
        let store = secrets::user_state_dir(&self.loaded.vars, &project);
        secrets::resolve(
            &self.loaded.stack,
            names,
            &store,
            Some(&project),
            &self.loaded.vars,
        )
    }

    /// The ID of replica `index` of `service`, which must be running.
    pub async fn running_container(&self, service: &str, index: u32) -> anyhow::Result<String> {
        self.check_service(service)?;
        for m in self.engine.members(self.name()).await? {
            if m.service == service && m.replica == index && m.kind != "run" {
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
        Ok(l) => Ok(ForCleanup {
            name: l.stack.name.clone(),
            stack: Some(l.stack),
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
