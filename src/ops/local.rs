//! What every local verb starts with: the stack for `local`, and the engine.

use std::path::PathBuf;

use crate::cli::Config;
use crate::docker::Engine;
use crate::local::secrets;
use crate::stack::validate::LOCAL_ENV;
use crate::stack::{LoadError, Loaded, load};

pub use crate::STATE_DIR;

pub struct Local {
    pub loaded: Loaded,
    pub engine: Engine,
}

impl Local {
    pub async fn open(config: &Config) -> anyhow::Result<Local> {
        let loaded = load(&config.file, &config.load_options(LOCAL_ENV))?;
        let engine = Engine::connect().await?;
        Ok(Local { loaded, engine })
    }

    pub fn stack_name(&self) -> &str {
        &self.loaded.stack.name
    }

    pub fn dir(&self) -> PathBuf {
        self.loaded.source.dir()
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir().join(STATE_DIR)
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
}

/// What `geno down` needs to clean up, even when stack.yaml no longer loads:
/// the stack's name (from the raw `name:` if need be) and, when it loads,
/// the stack itself (for dependency order and grace periods).
pub struct ForCleanup {
    pub name: String,
    pub stack: Option<crate::stack::Stack>,
    pub state_dir: PathBuf,
}

pub fn for_cleanup(config: &Config) -> anyhow::Result<ForCleanup> {
    let state_dir = crate::stack::load::Source::dir_of(&config.file).join(STATE_DIR);
    match load(&config.file, &config.load_options(LOCAL_ENV)) {
        Ok(l) => Ok(ForCleanup {
            name: l.stack.name.clone(),
            stack: Some(l.stack),
            state_dir,
        }),
        Err(err @ LoadError::Invalid(_)) => {
            let text = std::fs::read_to_string(&config.file)?;
            let name = crate::stack::yaml::parse(&text).ok().and_then(|root| {
                root.get("name")
                    .and_then(|(_, v)| v.scalar().map(str::to_string))
            });
            match name {
                Some(name) => {
                    tracing::warn!(
                        "{} does not load; using its name `{name}` to clean up",
                        config.file.display()
                    );
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
