//! The context every verb receives, owned by no verb (after cargo's
//! `GlobalContext`): the resolved settings, the `Shell` everything is said
//! through, the cancellation token Ctrl-C fires, and the Docker engine and
//! AWS clients, each made on first use and then shared.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::aws::Aws;
use crate::docker::{DockerError, Engine};
use crate::shell::Shell;
use crate::stack::{LoadError, LoadOptions, Loaded, load};

/// Settings every command shares, resolved from arguments and environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The stack definition.
    pub file: PathBuf,
    /// Variables for interpolation besides the process environment.
    pub env_file: Option<PathBuf>,
    /// The process environment, read once.
    pub vars: BTreeMap<String, String>,
    /// `-v` count; also passed on to the load balancer process.
    pub verbose: u8,
    /// Profiles asked for with `--profile` or `GENO_PROFILES`.
    pub profiles: Vec<String>,
}

/// The file a command uses when none is named: `stack.yaml` in the current
/// directory or the nearest parent that has one (as cargo finds
/// Cargo.toml); `stack.yaml` here when none has, so the error names it.
pub fn find_stack_file() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_default();
    find_upward(&here, "stack.yaml").unwrap_or_else(|| PathBuf::from("stack.yaml"))
}

/// `name` in `dir` or the nearest ancestor that has it; relative to `dir`
/// when found in `dir` itself, so messages stay short.
pub fn find_upward(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    if dir.join(name).is_file() {
        return Some(PathBuf::from(name));
    }
    dir.ancestors()
        .skip(1)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Settings {
    pub fn load_options(&self, env: &str) -> LoadOptions {
        LoadOptions {
            env: env.to_string(),
            vars: self.vars.clone(),
            env_file: self.env_file.clone(),
        }
    }
}

pub struct Context {
    pub settings: Settings,
    pub shell: Shell,
    /// Fired by the first Ctrl-C: work under way finishes, nothing new starts.
    pub cancel: CancellationToken,
    engine: OnceCell<Engine>,
    aws: OnceCell<Aws>,
}

impl Context {
    pub fn new(settings: Settings, shell: Shell) -> Context {
        Context {
            settings,
            shell,
            cancel: CancellationToken::new(),
            engine: OnceCell::new(),
            aws: OnceCell::new(),
        }
    }

    /// stack.yaml loaded for `env`, with the services of the active
    /// profiles (the environment's and the command line's).
    pub fn load(&self, env: &str) -> Result<Loaded, LoadError> {
        self.load_targeting(env, &[])
    }

    /// As `load`, also turning on the profiles of the services named on
    /// the command line (`geno up flower` runs flower whatever its profile).
    pub fn load_targeting(&self, env: &str, targets: &[String]) -> Result<Loaded, LoadError> {
        let mut loaded = load(&self.settings.file, &self.settings.load_options(env))?;
        loaded.select_profiles(&self.settings.profiles, targets)?;
        Ok(loaded)
    }

    /// The Docker engine, connected (and the API version negotiated) once.
    pub async fn engine(&self) -> Result<&Engine, DockerError> {
        self.engine.get_or_try_init(Engine::connect).await
    }

    /// The AWS clients for `region`, configured once per command (a command
    /// acts on one environment, so on one region).
    pub async fn aws(&self, region: &str) -> &Aws {
        let aws = self.aws.get_or_init(|| Aws::connect(region)).await;
        debug_assert_eq!(aws.region, region, "one region per command");
        aws
    }
}

#[cfg(test)]
mod tests {
    use super::find_upward;

    #[test]
    fn the_stack_file_is_found_here_or_in_the_nearest_parent() {
        let root = tempfile::tempdir().unwrap();
        let deep = root.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_upward(&deep, "stack.yaml"), None);
        std::fs::write(root.path().join("stack.yaml"), "").unwrap();
        assert_eq!(
            find_upward(&deep, "stack.yaml"),
            Some(root.path().join("stack.yaml"))
        );
        std::fs::write(deep.join("stack.yaml"), "").unwrap();
        assert_eq!(find_upward(&deep, "stack.yaml"), Some("stack.yaml".into()));
    }
}
