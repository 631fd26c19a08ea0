//! The Docker engine on paper: a `Containers` whose containers are a table
//! a test fills in, for unit tests of what `up` decides from what it finds;
//! and a small stack to find it for.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::LocalStack;
use crate::context::{Context, Settings};
use crate::docker::{Containers, DockerError, Member};
use crate::local::plan::DesiredContainer;
use crate::shell::{Shell, Verbosity};

/// What runs, by container.
#[derive(Default)]
pub struct PaperEngine {
    pub members: Vec<Member>,
    /// Container ID → the files changed under its sync targets.
    pub changed: BTreeMap<String, Vec<String>>,
    /// The IDs stopped and removed, in order.
    pub removed: Mutex<Vec<String>>,
}

impl Containers for PaperEngine {
    async fn members(&self, stack: &str) -> Result<Vec<Member>, DockerError> {
        let prefix = format!("{stack}-");
        Ok(self
            .members
            .iter()
            .filter(|m| m.name.starts_with(&prefix))
            .cloned()
            .collect())
    }

    async fn changes_under(
        &self,
        container: &str,
        _targets: &[String],
        _thorough: bool,
    ) -> Result<Option<Vec<String>>, DockerError> {
        Ok(Some(
            self.changed.get(container).cloned().unwrap_or_default(),
        ))
    }

    async fn stop_and_remove(&self, id: &str, _grace: u64) -> Result<(), DockerError> {
        self.removed.lock().unwrap().push(id.to_string());
        Ok(())
    }
}

/// A running container made as `desired` says, with ID `id`.
pub fn running(desired: &DesiredContainer, id: &str) -> Member {
    Member {
        id: id.into(),
        name: desired.name.clone(),
        service: desired.service.clone(),
        replica: desired.replica,
        kind: match desired.kind {
            crate::stack::ServiceKind::Job => "job".into(),
            crate::stack::ServiceKind::Service => "service".into(),
        },
        hash: Some(desired.hash()),
        state: "running".into(),
        status: "Up 5 minutes".into(),
        ports: Vec::new(),
        sidecar: desired.sidecar.clone(),
        init: desired.init.clone(),
    }
}

/// A stack with an app service whose files the edit loop syncs (`web`),
/// another (`worker`), a backing service (`db`) and one behind a
/// profile (`debug`).
pub const STACK: &str = r#"name: shop
image: { context: . }
services:
  web:
    command: [python3, -m, http.server, "8000"]
    develop:
      watch:
        - { path: ./app, action: sync, target: /app }
  worker:
    command: [python3, -c, "import time; time.sleep(100000)"]
  db:
    image: "postgres:16"
  debug:
    command: [sleep, infinity]
    profiles: [debug]
environments:
  local: {}
"#;

/// `STACK` opened for `local` with no profile active, on an empty paper
/// engine, the context's shell a buffer.
pub fn open() -> (tempfile::TempDir, Context, LocalStack<PaperEngine>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.yaml");
    std::fs::write(&file, STACK).unwrap();
    let ctx = Context::new(
        Settings {
            file,
            env_file: None,
            vars: BTreeMap::new(),
            verbose: 0,
            profiles: Vec::new(),
        },
        Shell::buffer(Verbosity::Normal, false),
    );
    let loaded = ctx.load_targeting("local", &[]).unwrap();
    let local = LocalStack {
        loaded,
        engine: PaperEngine::default(),
    };
    (dir, ctx, local)
}
