//! The stack.yaml data model: what a user writes, after interpolation.
//!
//! These types only describe; checks that span several fields live in
//! `validate`, and the mapping to containers and task definitions in `spec`.
//! Doc comments here become descriptions in the generated JSON Schema.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

pub use super::dur::Dur;

/// A stack: the images it builds, its services, one load balancer, and
/// the environments it is deployed to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Stack name: prefixes local containers, networks and volumes.
    pub name: String,
    /// The stack's one build, which every service without an image of
    /// its own runs. With several images, name each under `builds:`
    /// instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageBuild>,
    /// Several images, each built by name; a service names the one it
    /// runs with `build:` (with only one, services run it by default).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub builds: IndexMap<String, ImageBuild>,
    /// Named volumes used by services (`NAME:/path` in a service's volumes).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, VolumeSpec>,
    /// One declaration per secret: how it is made locally and where ECS reads it.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, Secret>,
    pub services: IndexMap<String, Service>,
    /// The local stand-in for the Application Load Balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancer>,
    /// Deployment targets, `local` included.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environments: IndexMap<String, Environment>,
    /// Smoke tests run through the load balancer by `geno smoke`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smoke: Vec<SmokeStep>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageBuild {
    /// Build context, relative to stack.yaml.
    #[serde(default = "default_context")]
    pub context: String,
    /// Dockerfile, relative to the context.
    #[serde(default = "default_dockerfile")]
    pub dockerfile: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub args: IndexMap<String, String>,
    /// Multi-stage build target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The platform the image is built for and ECS runs it on
    /// (`runtimePlatform`); unset, the engine's own for the build and
    /// X86_64 on ECS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An image platform Fargate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Platform {
    #[serde(rename = "linux/amd64")]
    Amd64,
    #[serde(rename = "linux/arm64")]
    Arm64,
}

impl Platform {
    /// ECS's `runtimePlatform.cpuArchitecture`.
    pub fn ecs_arch(self) -> &'static str {
        match self {
            Platform::Amd64 => "X86_64",
            Platform::Arm64 => "ARM64",
        }
    }

    /// The architecture an image's config names (`docker image inspect`).
    pub fn image_arch(self) -> &'static str {
        match self {
            Platform::Amd64 => "amd64",
            Platform::Arm64 => "arm64",
        }
    }

    pub fn from_ecs_arch(arch: &str) -> Option<Platform> {
        [Platform::Amd64, Platform::Arm64]
            .into_iter()
            .find(|p| p.ecs_arch() == arch)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "linux/{}", self.image_arch())
    }
}

fn default_context() -> String {
    ".".into()
}
fn default_dockerfile() -> String {
    "Dockerfile".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    /// Kept by `geno down` unless `--volumes` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What the volume is on ECS, for a deployed service that mounts it;
    /// without it only local services may mount it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<VolumeOnEcs>,
}

/// A named volume on ECS Fargate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VolumeOnEcs {
    /// The task's own storage: empty when a task starts, gone when it
    /// stops, never shared (scratch space, caches).
    Ephemeral,
    /// An EFS file system (infra/ creates it): kept, and shared by every
    /// task that mounts it.
    Efs(EfsVolume),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EfsVolume {
    /// `fs-…`.
    pub file_system_id: String,
    /// The directory of the file system to mount; its root by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<String>,
    /// An EFS access point (`fsap-…`), which then sets the directory and
    /// the user; mounted with the task role (IAM authorization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_point_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the value comes from when the stack runs locally.
    pub local: LocalSecret,
    /// Where ECS reads it from (required for every non-local environment
    /// whose services use the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsSecret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LocalSecret {
    /// A random value made once per stack and kept under `.geno/`.
    Generate {
        #[serde(default = "default_secret_length")]
        length: u32,
    },
    /// Read from this variable (process environment or the env file).
    Env(String),
    /// Built from other secrets: `{{NAME}}` is replaced by that secret's value.
    Template(String),
}

fn default_secret_length() -> u32 {
    32
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AwsSecret {
    /// SSM Parameter Store parameter name (`/genonaut/demo/db-url`) or ARN.
    Ssm(String),
    /// Secrets Manager secret name or ARN (`name:json-key::` selects a key).
    SecretsManager(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    /// Long-running; `geno up` waits for it to be running and healthy.
    #[default]
    Service,
    /// Runs once to completion (migrations); dependents may wait for exit 0.
    Job,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// An external image (`postgres:16`). Without it the service runs the
    /// stack's own image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Which of the stack's `builds:` the service runs; without it, the
    /// stack's only build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub kind: ServiceKind,
    /// Entrypoint override (ECS `entryPoint`): a list, or a string split
    /// like a shell would; `command` becomes its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Command>,
    /// Command override: a list, or a string split like a shell would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    /// Names of secrets (declared under `secrets:`) exposed as variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "DependsOn::is_empty")]
    pub depends_on: DependsOn,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replicas: u32,
    /// `NAME:/path` for a named volume, `./dir:/path` for a bind mount; `:ro` may follow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// How long `geno down` waits after SIGTERM.
    #[serde(
        default = "default_stop_grace",
        skip_serializing_if = "is_default_stop_grace"
    )]
    pub stop_grace_period: Dur,
    /// How the service runs on ECS Fargate; without it the service is local only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<EcsService>,
    /// Optional service: it runs only when one of these profiles is active
    /// (`--profile`, `GENO_PROFILES`, an environment's `profiles`) or when
    /// it is named on the command line. Without profiles it always runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// How it runs on this machine, where that differs from ECS.
    #[serde(default, skip_serializing_if = "is_default")]
    pub local: LocalRun,
    /// The edit loop: what `geno up --watch` does when files change.
    #[serde(default, skip_serializing_if = "is_default")]
    pub develop: Develop,
    /// What the service's code may do on AWS (read a bucket, send to a
    /// queue): granted to the environment's task role by infra/ (through
    /// `render --format tfvars`) and checked by preflight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam: Vec<IamStatement>,
    /// More containers in the same task (ECS `containerDefinitions`): they
    /// share the service's network as in `awsvpc` (each reaches the others
    /// on 127.0.0.1), start in the order their `depends_on` says, and one
    /// essential container exiting stops the whole task. By container name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub sidecars: IndexMap<String, Sidecar>,
}

/// A container that runs beside a service's own in each of its tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sidecar {
    /// An external image; without it (and without `build`), the stack's
    /// only build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Which of the stack's `builds:` it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The ECR repository its image is pushed to on promote: needed when
    /// it runs a build other than its service's (that one goes to the
    /// service's `ecs.repository`); for an external image, optional as
    /// for services (without one ECS pulls it, pinned, from its origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Whether its exit stops the task (ECS `essential`, true unless said).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Command>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// Ports it listens on: in the task's network, so published (locally)
    /// by the task as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthCheck>,
    /// Containers of the same task (the service's own by the service's
    /// name, or another sidecar) this one waits for: `started` (ECS
    /// START), `healthy` (HEALTHY), `completed_successfully` (SUCCESS, of
    /// a non-essential container).
    #[serde(default, skip_serializing_if = "DependsOn::is_empty")]
    pub depends_on: DependsOn,
    /// Its own share of the task's CPU units and memory (MiB) on ECS
    /// (`cpu`, `memory` of the container definition); the task's size
    /// stays `ecs.cpu`/`ecs.memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
    #[serde(
        default = "default_stop_grace",
        skip_serializing_if = "is_default_stop_grace"
    )]
    pub stop_grace_period: Dur,
}

/// One IAM permission: these actions on these resources (ARNs; `*` and
/// `?` as IAM reads them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IamStatement {
    /// `s3:GetObject`, `sqs:SendMessage`…
    pub actions: Vec<String>,
    /// `arn:aws:s3:::uploads-${GENO_ENV}/*`…
    pub resources: Vec<String>,
}

/// A service with nothing said: the stack's image, defaults throughout
/// (what `services: { x: {} }` loads as).
impl Default for Service {
    fn default() -> Service {
        Service {
            image: None,
            build: None,
            kind: ServiceKind::default(),
            entrypoint: None,
            command: None,
            ports: Vec::new(),
            environment: IndexMap::new(),
            secrets: Vec::new(),
            healthcheck: None,
            depends_on: DependsOn::default(),
            replicas: one(),
            volumes: Vec::new(),
            stop_grace_period: default_stop_grace(),
            ecs: None,
            profiles: Vec::new(),
            local: LocalRun::default(),
            develop: Develop::default(),
            iam: Vec::new(),
            sidecars: IndexMap::new(),
        }
    }
}

/// Compose's `develop` section: watch rules for `geno up --watch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Develop {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
    /// A test that exits 0 when the process runs no work (a worker between
    /// jobs), as `["CMD", …]`, `["CMD-SHELL", "…"]` or a string. geno's
    /// init runs it in the container right before a watch rule restarts
    /// the process: an idle one is ended at once (SIGKILL) instead of
    /// being given its stop signal and grace period to finish its work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<HealthTest>,
}

/// One watch rule: files under `path` that change set off `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchRule {
    /// A file or directory, relative to stack.yaml.
    pub path: String,
    pub action: WatchAction,
    /// Where `path` lands in the container (sync actions): an absolute
    /// path inside the image's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Patterns (.dockerignore syntax) relative to `path` whose changes
    /// are ignored; `.dockerignore` applies as well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// `sync+exec`: the command run in each replica after a sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<WatchExec>,
    /// Sync the whole of `path` when watching starts (a running container
    /// may hold older files than the tree).
    #[serde(default, skip_serializing_if = "is_default")]
    pub initial_sync: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WatchAction {
    /// Copy the changed files into every replica; the process picks them up itself.
    #[serde(rename = "sync")]
    Sync,
    /// Copy, then restart each replica in place and wait until it is ready.
    #[serde(rename = "sync+restart")]
    SyncRestart,
    /// Copy, then run `exec.command` in each replica.
    #[serde(rename = "sync+exec")]
    SyncExec,
    /// Rebuild the image and replace the services whose image changed.
    #[serde(rename = "rebuild")]
    Rebuild,
    /// Restart each replica in place (no copy).
    #[serde(rename = "restart")]
    Restart,
}

impl WatchAction {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchAction::Sync => "sync",
            WatchAction::SyncRestart => "sync+restart",
            WatchAction::SyncExec => "sync+exec",
            WatchAction::Rebuild => "rebuild",
            WatchAction::Restart => "restart",
        }
    }

    /// Whether the action copies files into the containers.
    pub fn syncs(self) -> bool {
        matches!(
            self,
            WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchExec {
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalRun {
    /// Give the container the ECS task's `cpu` and `memory` as its CPU
    /// quota and memory limit, so what Fargate would kill is killed here
    /// too. `false` for a machine smaller than the tasks (`--no-limits`
    /// does the same for every service).
    #[serde(default = "yes")]
    pub limits: bool,
    /// Mounts only `geno up` makes, in the form of `volumes` (`./src:/app/src`
    /// for an edit loop, a volume with no `ecs` source): ECS never sees them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// When the engine starts the container again after it stops (Docker's
    /// restart policy). Unset, a service is restarted unless stopped (as
    /// ECS replaces a stopped task) and a job never is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<LocalRestart>,
}

impl Default for LocalRun {
    fn default() -> Self {
        LocalRun {
            limits: true,
            volumes: Vec::new(),
            restart: None,
        }
    }
}

/// Docker's restart policies, by compose's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LocalRestart {
    /// Never (compose's default).
    #[serde(rename = "no")]
    No,
    /// After a non-zero exit.
    #[serde(rename = "on-failure")]
    OnFailure,
    #[serde(rename = "always")]
    Always,
    /// Always, unless `geno stop` or `down` stopped it.
    #[serde(rename = "unless-stopped")]
    UnlessStopped,
}

impl LocalRestart {
    pub fn name(self) -> &'static str {
        match self {
            LocalRestart::No => "no",
            LocalRestart::OnFailure => "on-failure",
            LocalRestart::Always => "always",
            LocalRestart::UnlessStopped => "unless-stopped",
        }
    }
}

fn yes() -> bool {
    true
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn one() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}
fn default_stop_grace() -> Dur {
    Dur::secs(10)
}
fn is_default_stop_grace(d: &Dur) -> bool {
    *d == default_stop_grace()
}

impl Service {
    /// Its `depends_on` on other services of the stack: the entries that
    /// name none of its own sidecars (those order containers in its task).
    pub fn service_deps(&self) -> impl Iterator<Item = (&String, &Condition)> {
        self.depends_on
            .0
            .iter()
            .filter(|(d, _)| !self.sidecars.contains_key(*d))
    }

    /// Runs one of the stack's own images (as opposed to an external one).
    pub fn is_app(&self) -> bool {
        self.image.is_none()
    }
}

/// The name the build written as `image:` goes by (in records, `--image
/// BUILD=…` and messages): the key it is written under.
pub const DEFAULT_BUILD: &str = "image";

impl Stack {
    /// Every build the stack declares, by name, in stack order: `image:`
    /// as `image`, or the `builds:`.
    pub fn all_builds(&self) -> Vec<(&str, &ImageBuild)> {
        let mut out: Vec<(&str, &ImageBuild)> = Vec::new();
        if let Some(image) = &self.image {
            out.push((DEFAULT_BUILD, image));
        }
        out.extend(self.builds.iter().map(|(k, v)| (k.as_str(), v)));
        out
    }

    /// The build a service runs when it names none: `image:`, or the one
    /// entry of `builds:`.
    pub fn default_build(&self) -> Option<&str> {
        match self.all_builds().as_slice() {
            [(name, _)] => Some(name),
            _ => None,
        }
    }

    /// The name of the build `service` runs; none for an external image
    /// (or a service that names no build where the stack has several,
    /// which validation refuses).
    pub fn build_of(&self, service: &str) -> Option<&str> {
        let svc = self.services.get(service)?;
        if svc.image.is_some() {
            return None;
        }
        match &svc.build {
            Some(b) => self.builds.get_key_value(b).map(|(k, _)| k.as_str()),
            None => self.default_build(),
        }
    }

    /// The build sidecar `sidecar` of `service` runs: its own `build`, or
    /// the stack's only one; none for an external image.
    pub fn sidecar_build(&self, service: &str, sidecar: &str) -> Option<&str> {
        let car = self.services.get(service)?.sidecars.get(sidecar)?;
        if car.image.is_some() {
            return None;
        }
        match &car.build {
            Some(b) => self.builds.get_key_value(b).map(|(k, _)| k.as_str()),
            None => self.default_build(),
        }
    }

    /// What promote pins for a sidecar, as `image_key` for services.
    pub fn sidecar_key(&self, service: &str, sidecar: &str) -> Option<String> {
        let car = self.services.get(service)?.sidecars.get(sidecar)?;
        match &car.image {
            None => self.sidecar_build(service, sidecar).map(str::to_string),
            Some(_) if !self.deploys(service) => None,
            Some(reference) => Some(external_key(reference)),
        }
    }

    /// The external image a deployed key names (a service's or a
    /// sidecar's), as stack.yaml writes it.
    pub fn external_of_key(&self, key: &str) -> Option<String> {
        for (name, svc) in &self.services {
            if svc.image.is_some() && self.image_key(name).as_deref() == Some(key) {
                return svc.image.clone();
            }
            for (car, c) in &svc.sidecars {
                if c.image.is_some() && self.sidecar_key(name, car).as_deref() == Some(key) {
                    return c.image.clone();
                }
            }
        }
        None
    }

    /// The sidecars of `service` in the order they start: each after
    /// the sidecars it depends on, otherwise as declared.
    pub fn task_order(&self, service: &str) -> Vec<&str> {
        let Some(svc) = self.services.get(service) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = Vec::new();
        // At most one pass per sidecar: a cycle (refused by validation)
        // leaves the rest in declared order.
        for _ in 0..=svc.sidecars.len() {
            for (name, car) in &svc.sidecars {
                let ready = car.depends_on.0.keys().all(|d| {
                    d == service || out.contains(&d.as_str()) || !svc.sidecars.contains_key(d)
                });
                if ready && !out.contains(&name.as_str()) {
                    out.push(name);
                }
            }
        }
        for name in svc.sidecars.keys() {
            if !out.contains(&name.as_str()) {
                out.push(name);
            }
        }
        out
    }

    /// The build named `name`.
    pub fn build(&self, name: &str) -> Option<&ImageBuild> {
        self.all_builds()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| b)
    }

    /// Whether images are named by build (`builds:`), so tags, records and
    /// messages carry the build's name.
    pub fn names_builds(&self) -> bool {
        self.image.is_none() && !self.builds.is_empty()
    }

    /// What promote pins for a deployed service, as records, `--image` and
    /// verification name it: its build, or for a service on an external
    /// image its reference (always with a tag or digest, so it never reads
    /// as a build name). None for a local-only external image.
    pub fn image_key(&self, service: &str) -> Option<String> {
        let svc = self.services.get(service)?;
        match &svc.image {
            None => self.build_of(service).map(str::to_string),
            Some(_) if !self.deploys(service) => None,
            Some(reference) => Some(external_key(reference)),
        }
    }

    /// Whether promote pins images by key (several builds, or an external
    /// image deployed) rather than the one digest of `image:`.
    pub fn pins_by_key(&self) -> bool {
        self.names_builds()
            || self
                .services
                .iter()
                .any(|(name, s)| s.image.is_some() && self.deploys(name))
    }
}

/// An external reference as a key: `redis` is `redis:latest` (what Docker
/// pulls), so no key of an external image is ever a build's name.
pub fn external_key(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || last.contains('@') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

impl Stack {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// `["CMD", exe, args…]`, `["CMD-SHELL", "shell"]`, or a string (CMD-SHELL).
    pub test: HealthTest,
    #[serde(default = "default_hc_interval")]
    pub interval: Dur,
    #[serde(default = "default_hc_timeout")]
    pub timeout: Dur,
    #[serde(default = "default_hc_retries")]
    pub retries: u32,
    /// Failures during this period do not count (ECS `startPeriod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Dur>,
}

fn default_hc_interval() -> Dur {
    Dur::secs(30)
}
fn default_hc_timeout() -> Dur {
    Dur::secs(5)
}
fn default_hc_retries() -> u32 {
    3
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EcsService {
    /// ECS service name, e.g. `genonaut-api-${GENO_ENV}`.
    pub service: String,
    /// ECR repository name, e.g. `genonaut-api-${GENO_ENV}`: where promote
    /// pushes the image. Required for a service on one of the stack's
    /// builds; for an external image, optional: with it the image is
    /// mirrored there, without it ECS pulls it from where it came from —
    /// pinned by digest either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Task CPU units (256, 512, 1024, 2048, 4096, 8192, 16384).
    pub cpu: u32,
    /// Task memory in MiB; must fit the CPU size on Fargate.
    pub memory: u32,
    #[serde(default = "one")]
    pub desired_count: u32,
    #[serde(default = "default_min_healthy")]
    pub min_healthy_percent: u32,
    #[serde(default = "default_max_percent")]
    pub max_percent: u32,
    #[serde(default)]
    pub circuit_breaker: CircuitBreaker,
    /// ALB check failures are ignored this long after a task starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period: Option<Dur>,
    /// The target group (under `load_balancer.target_groups`) fronting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<String>,
    /// The task definition family (default `STACK-SERVICE-ENV`), e.g. a
    /// hand-made deployment's own `farsight-api-server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The container's name in the task definition (default: the service's
    /// name in stack.yaml).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The awslogs group of the service's task (default: the environment's
    /// `aws.log_group`), e.g. one group per service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// The awslogs stream prefix (default: the service's name); streams are
    /// `PREFIX/CONTAINER/TASK-ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_stream_prefix: Option<String>,
    /// Where its tasks run: subnets, security groups, public IP (the
    /// service's `awsvpcConfiguration`). Unset, infra/'s default: the
    /// private subnets, the tasks' security group, no public IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// FARGATE and FARGATE_SPOT by weight (`capacityProviderStrategy`);
    /// unset, launch type FARGATE.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity: Vec<CapacityShare>,
    /// The service scales itself between `min` and `max` tasks (Application
    /// Auto Scaling); `desired_count` is then its count when first
    /// deployed, and promote keeps the count it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<super::scaling::Scaling>,
    /// Its CloudWatch alarms: `standard`, or by name.
    #[serde(default, skip_serializing_if = "super::scaling::Alarms::is_none")]
    pub alarms: super::scaling::Alarms,
    /// After its rollout completes, how long promote keeps watching its
    /// `rollback` alarms (default: the longest time one of them takes to
    /// fire, its periods × period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<Dur>,
    /// How ECS replaces its tasks: `rolling` (default), or ECS's own
    /// `blue_green`, `{ canary: { percent, bake } }` or
    /// `{ linear: { percent, bake } }`, which shift the ALB's traffic between
    /// its target group and an alternate one; `bake` is then how long the
    /// old tasks are kept once all traffic has moved.
    #[serde(default, skip_serializing_if = "super::strategy::Strategy::is_rolling")]
    pub strategy: super::strategy::Strategy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Whether each task gets a public IP (`assignPublicIp`): needed in a
    /// public subnet without a NAT to reach ECR and the internet.
    #[serde(default)]
    pub public_ip: bool,
    pub subnets: Chosen,
    pub security_groups: Chosen,
}

/// Subnets or security groups: by ID, or every one carrying all of these
/// tags (`*` in a value matches anything, as EC2's filters do).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Chosen {
    Ids(Vec<String>),
    Tags { tags: IndexMap<String, String> },
}

/// A list of IDs or `{ tags: {…} }`, with an error that says so (serde's
/// untagged enums only say that nothing matched).
impl<'de> Deserialize<'de> for Chosen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Chosen, D::Error> {
        struct V;
        const EXPECTED: &str = "a list of IDs, or `{ tags: { KEY: VALUE } }`";
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Chosen;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Chosen, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(Chosen::Ids(ids))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Chosen, A::Error> {
                let mut tags = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "tags" if tags.is_none() => tags = Some(map.next_value()?),
                        "tags" => return Err(serde::de::Error::duplicate_field("tags")),
                        other => return Err(serde::de::Error::unknown_field(other, &["tags"])),
                    }
                }
                tags.map(|tags| Chosen::Tags { tags })
                    .ok_or_else(|| serde::de::Error::missing_field("tags"))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityShare {
    pub provider: CapacityProvider,
    /// Relative share of tasks (0–1000).
    #[serde(default = "one")]
    pub weight: u32,
    /// Tasks placed on this provider before the weights apply (0–100000;
    /// one provider at most).
    #[serde(default)]
    pub base: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CapacityProvider {
    #[serde(rename = "FARGATE")]
    Fargate,
    #[serde(rename = "FARGATE_SPOT")]
    FargateSpot,
}

impl CapacityProvider {
    pub fn name(self) -> &'static str {
        match self {
            CapacityProvider::Fargate => "FARGATE",
            CapacityProvider::FargateSpot => "FARGATE_SPOT",
        }
    }
}

fn default_min_healthy() -> u32 {
    100
}
fn default_max_percent() -> u32 {
    200
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            enable: true,
            rollback: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    /// The ALB's name on AWS (default `STACK-ENV`; at most 32 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub listeners: Vec<Listener>,
    pub target_groups: IndexMap<String, TargetGroup>,
    /// The ALB idle timeout: a target that sends nothing for this long gets
    /// the client a 504 (1–4000 s).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Dur,
}

fn default_idle_timeout() -> Dur {
    Dur::secs(60)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Local port the load balancer listens on.
    pub port: u16,
    /// `HTTP`, or `HTTPS`: TLS ends at the load balancer, with the
    /// environment's ACM certificate on AWS (`aws.certificate_arn`) and
    /// geno's development certificate for the stack here.
    #[serde(default, skip_serializing_if = "is_default")]
    pub protocol: ListenerProtocol,
    /// The listener's port on the ALB (default 80 for HTTP, 443 for
    /// HTTPS); a redirect to it lands on `port` here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb_port: Option<u16>,
    /// The ALB's TLS policy for an HTTPS listener (default
    /// `ELBSecurityPolicy-TLS13-1-2-2021-06`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    /// Local address to bind; loopback unless said otherwise.
    #[serde(default = "default_bind", skip_serializing_if = "is_loopback")]
    pub bind: String,
    /// Evaluated lowest priority first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// What happens when no rule matches.
    pub default_action: Action,
}

fn default_bind() -> String {
    "127.0.0.1".into()
}

/// What a listener speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ListenerProtocol {
    #[default]
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

impl ListenerProtocol {
    pub fn name(self) -> &'static str {
        match self {
            ListenerProtocol::Http => "HTTP",
            ListenerProtocol::Https => "HTTPS",
        }
    }

    /// `http` / `https`, as URLs and `X-Forwarded-Proto` say it.
    pub fn scheme(self) -> &'static str {
        match self {
            ListenerProtocol::Http => "http",
            ListenerProtocol::Https => "https",
        }
    }
}

/// The ALB's TLS policy when stack.yaml names none.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

impl Listener {
    /// Its port on the ALB.
    pub fn alb_port(&self) -> u16 {
        self.alb_port.unwrap_or(match self.protocol {
            ListenerProtocol::Http => 80,
            ListenerProtocol::Https => 443,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// 1–50000, unique per listener; lower is evaluated first.
    pub priority: u32,
    pub conditions: Conditions,
    pub action: Action,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Path patterns; `*` and `?` wildcards, case-sensitive. Any may match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// Host headers; `*` and `?` wildcards, case-insensitive. Any may match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host: Vec<String>,
    /// HTTP methods. Any may match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub method: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Forward to this target group.
    Forward(String),
    FixedResponse(FixedResponse),
    /// Answer with a redirect, as the ALB builds it: each part unset keeps
    /// the request's (`#{protocol}`, `#{host}`, `#{port}`, `/#{path}`,
    /// `#{query}`).
    Redirect(Redirect),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ListenerProtocol>,
    /// A port on the ALB; here, the local port of the listener with that
    /// `alb_port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Starts with `/`; `#{path}` is the request's path without its `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Without `?`; `#{query}` is the request's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// 301 (permanent, the default) or 302.
    #[serde(default = "default_redirect_status")]
    pub status: u16,
}

fn default_redirect_status() -> u16 {
    301
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedResponse {
    pub status: u16,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(default)]
    pub body: String,
}

fn default_content_type() -> String {
    "text/plain".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// The ALB target group's name (default `STACK-GROUP-ENV`; at most 32
    /// characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The service whose replicas are the targets.
    pub service: String,
    /// The container port traffic goes to.
    pub port: u16,
    pub health_check: AlbHealthCheck,
    /// How long a deregistered target keeps its in-flight requests (0–3600 s).
    #[serde(default = "default_dereg")]
    pub deregistration_delay: Dur,
}

fn default_dereg() -> Dur {
    Dur::secs(300)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlbHealthCheck {
    #[serde(default = "default_hc_path")]
    pub path: String,
    /// Defaults to the traffic port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "default_hc_interval")]
    pub interval: Dur,
    #[serde(default = "default_hc_timeout")]
    pub timeout: Dur,
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
    #[serde(default = "default_unhealthy_threshold")]
    pub unhealthy_threshold: u32,
    /// HTTP codes: `200`, `200,202`, `200-299`.
    #[serde(default = "default_matcher")]
    pub matcher: String,
}

fn default_hc_path() -> String {
    "/".into()
}
fn default_healthy_threshold() -> u32 {
    5
}
fn default_unhealthy_threshold() -> u32 {
    2
}
fn default_matcher() -> String {
    "200".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Variables for interpolating stack.yaml when this environment is
    /// selected; they take precedence over the shell and the env file.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub variables: IndexMap<String, String>,
    /// Where this environment runs on AWS; absent for `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsEnvironment>,
    /// ECS desired counts that differ from the services' own.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub desired_count: IndexMap<String, u32>,
    /// Scaling that replaces a service's own `ecs.scaling` here (e.g. 0–1
    /// at night for a demo environment).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub scaling: IndexMap<String, super::scaling::Scaling>,
    /// Alarms that replace a service's own `ecs.alarms` here (e.g. none
    /// in a demo environment, rollback alarms in production).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub alarms: IndexMap<String, super::scaling::Alarms>,
    /// Deployment strategies that replace a service's own `ecs.strategy`
    /// here (e.g. canary in production, rolling elsewhere).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub strategy: IndexMap<String, super::strategy::Strategy>,
    /// Profiles active in this environment, besides those on the command line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsEnvironment {
    pub region: String,
    /// 12-digit account ID.
    pub account_id: String,
    pub cluster: String,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    /// CloudWatch log group for the awslogs driver.
    pub log_group: String,
    /// The environment's load balancer, for `geno smoke --env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Registry host to push to instead of this account's ECR
    /// (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`); empty means ECR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The Cloud Map namespace (name or ARN) of the environment's ECS
    /// Service Connect, which infra/ creates: in it each deployed service
    /// answers at its stack.yaml name and ports, as it does locally.
    /// Default `STACK-ENV.internal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Whether services reach each other through Service Connect (their
    /// stack.yaml names and ports). `false` renders none, for services
    /// addressed some other way; then no environment value may name a
    /// deployed service.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub service_connect: bool,
    /// The customer-managed KMS key (ARN) the environment's secrets are
    /// encrypted with; the execution role may decrypt with it. Without it,
    /// AWS's own keys, which need no grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// The ACM certificate (ARN) of the environment's HTTPS listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// A CloudWatch dashboard `STACK-ENV` drawn from the definition: per
    /// deployed service its tasks' CPU and memory, and behind the load
    /// balancer its requests, 5xx answers and response time; every alarm.
    /// Promote keeps it as stack.yaml draws it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dashboard: bool,
}

fn is_true(v: &bool) -> bool {
    *v
}

impl AwsEnvironment {
    pub fn registry(&self) -> String {
        match self.registry_override() {
            Some(r) => r.to_string(),
            None => format!("{}.dkr.ecr.{}.amazonaws.com", self.account_id, self.region),
        }
    }

    /// The registry that stands in for ECR, if any (empty means none).
    pub fn registry_override(&self) -> Option<&str> {
        self.registry.as_deref().filter(|r| !r.is_empty())
    }
}

impl Stack {
    /// The ECS task definition family of a service in an environment: its
    /// `ecs.family`, or `STACK-SERVICE-ENV`.
    pub fn task_family(&self, service: &str, env: &str) -> String {
        self.ecs(service)
            .and_then(|e| e.family.clone())
            .unwrap_or_else(|| format!("{}-{service}-{env}", self.name))
    }

    /// The name of a service's container in its task definition: its
    /// `ecs.container`, or the service's own name.
    pub fn container_name<'a>(&'a self, service: &'a str) -> &'a str {
        self.ecs(service)
            .and_then(|e| e.container.as_deref())
            .unwrap_or(service)
    }

    /// The awslogs group of a service's (or a job's) task in environment
    /// `env`: its `ecs.log_group`, or the environment's.
    pub fn log_group(&self, service: &str, aws: &AwsEnvironment) -> String {
        self.ecs(service)
            .and_then(|e| e.log_group.clone())
            .unwrap_or_else(|| aws.log_group.clone())
    }

    /// The awslogs stream prefix of a service's task: its
    /// `ecs.log_stream_prefix`, or the service's own name.
    pub fn log_stream_prefix<'a>(&'a self, service: &'a str) -> &'a str {
        self.ecs(service)
            .and_then(|e| e.log_stream_prefix.as_deref())
            .unwrap_or(service)
    }

    pub fn ecs(&self, service: &str) -> Option<&EcsService> {
        self.services.get(service)?.ecs.as_ref()
    }

    /// `names` and everything they depend on, directly or not, in the
    /// order stack.yaml declares the services.
    pub fn with_dependencies(&self, names: &[String]) -> Vec<String> {
        let mut wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut i = 0;
        while i < wanted.len() {
            if let Some(svc) = self.services.get(wanted[i]) {
                for (dep, _) in svc.service_deps() {
                    if !wanted.contains(&dep.as_str()) {
                        wanted.push(dep);
                    }
                }
            }
            i += 1;
        }
        self.services
            .keys()
            .filter(|k| wanted.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// The services that depend on any of `names`, directly or not (not
    /// `names` themselves), in declaration order.
    pub fn dependents(&self, names: &[String]) -> Vec<String> {
        self.services
            .keys()
            .filter(|k| !names.contains(k))
            .filter(|k| {
                self.with_dependencies(std::slice::from_ref(k))
                    .iter()
                    .any(|d| names.contains(d))
            })
            .cloned()
            .collect()
    }

    /// How long the load balancer drains a target of `service` (the longest
    /// of its target groups'); `None` when no target group routes to it.
    pub fn deregistration_delay(&self, service: &str) -> Option<Duration> {
        self.load_balancer
            .as_ref()?
            .target_groups
            .values()
            .filter(|g| g.service == service)
            .map(|g| g.deregistration_delay.0)
            .max()
    }

    /// Whether service `name` runs on ECS: a service with `ecs`, or a job
    /// of the stack's image that a deployed service waits for (promote
    /// runs it as a one-off task).
    pub fn deploys(&self, name: &str) -> bool {
        let Some(svc) = self.services.get(name) else {
            return false;
        };
        // A job a deployed service waits for runs on ECS too, on the
        // stack's image or an external one (mirrored with its dependent's).
        svc.ecs.is_some()
            || (svc.kind == ServiceKind::Job
                && self.services.values().any(|s| {
                    s.ecs.is_some()
                        && s.depends_on.0.get(name) == Some(&Condition::CompletedSuccessfully)
                }))
    }

    /// The Service Connect namespace of environment `env` (see
    /// `AwsEnvironment::namespace`).
    pub fn namespace(&self, env: &str) -> String {
        self.environments
            .get(env)
            .and_then(|e| e.aws.as_ref())
            .and_then(|a| a.namespace.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("{}-{env}.internal", self.name))
    }

    /// The ALB's name in environment `env`: `load_balancer.name`, or
    /// `STACK-ENV`.
    pub fn load_balancer_name(&self, env: &str) -> String {
        self.load_balancer
            .as_ref()
            .and_then(|lb| lb.name.clone())
            .unwrap_or_else(|| format!("{}-{env}", self.name))
    }

    /// Whether target group `group` routes to a service that runs on ECS
    /// (the others exist only locally).
    pub fn group_on_ecs(&self, group: &str) -> bool {
        self.load_balancer
            .as_ref()
            .and_then(|lb| lb.target_groups.get(group))
            .and_then(|tg| self.services.get(&tg.service))
            .is_some_and(|s| s.ecs.is_some())
    }

    /// How ECS replaces service `name`'s tasks in environment `env`: the
    /// environment's `strategy` for it, or its own.
    pub fn strategy_in(&self, name: &str, env: &str) -> &super::strategy::Strategy {
        static ROLLING: super::strategy::Strategy = super::strategy::Strategy::Rolling;
        self.environments
            .get(env)
            .and_then(|e| e.strategy.get(name))
            .or_else(|| self.ecs(name).map(|e| &e.strategy))
            .unwrap_or(&ROLLING)
    }

    /// The ALB target group name (at most 32 characters on AWS): its
    /// `name`, or `STACK-GROUP-ENV`.
    pub fn target_group_name(&self, group: &str, env: &str) -> String {
        self.load_balancer
            .as_ref()
            .and_then(|lb| lb.target_groups.get(group))
            .and_then(|g| g.name.clone())
            .unwrap_or_else(|| format!("{}-{group}-{env}", self.name))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeStep {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<TargetsStep>,
    /// Repeat the step until it passes or the deadline passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Straight to this service (no load balancer in between): its
    /// published port here, its task's address on ECS, `--url` if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The service's container port (default: its first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query; `{{name}}` is replaced by an earlier capture.
    pub path: String,
    /// Host header to send (for host-header rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
    /// JSON request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<serde_json::Value>,
    #[serde(default)]
    pub expect: HttpExpect,
    /// Values to keep for later steps: name → JSON path (`id`, `items.0.id`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub capture: IndexMap<String, String>,
}

fn default_method() -> String {
    "GET".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    #[serde(default = "default_status")]
    pub status: u16,
    /// JSON path → expected value.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub json: IndexMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
}

impl Default for HttpExpect {
    fn default() -> Self {
        HttpExpect {
            status: default_status(),
            json: IndexMap::new(),
            body_contains: None,
        }
    }
}

fn default_status() -> u16 {
    200
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecStep {
    pub service: String,
    pub command: Command,
    #[serde(default)]
    pub expect: ExecExpect,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecExpect {
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsStep {
    pub target_group: String,
    /// Every registered target must be in this state.
    #[serde(default = "default_target_state")]
    pub state: String,
}

fn default_target_state() -> String {
    "healthy".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    #[serde(default = "default_poll_interval")]
    pub interval: Dur,
    pub deadline: Dur,
}

fn default_poll_interval() -> Dur {
    Dur::secs(1)
}

// ---------------------------------------------------------------------------
// Values with a short and a long form.

/// A command: a list of arguments, or a string split the way a shell would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct Command(#[schemars(with = "StringOrList")] pub Vec<String>);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum StringOrList {
    String(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of arguments or a command string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                shell_words::split(v)
                    .map(Command)
                    .map_err(|e| E::custom(format!("cannot split command `{v}`: {e}")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    args.push(arg);
                }
                Ok(Command(args))
            }
        }
        d.deserialize_any(V)
    }
}

/// A container health check's test, normalised to the ECS/Docker form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct HealthTest(#[schemars(with = "StringOrList")] pub Vec<String>);

impl<'de> Deserialize<'de> for HealthTest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Command(args) = Command::deserialize_as_test(d)?;
        Ok(HealthTest(args))
    }
}

impl Command {
    /// A bare string is a `CMD-SHELL` test, as in compose; lists are kept.
    fn deserialize_as_test<'de, D: Deserializer<'de>>(d: D) -> Result<Command, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("[\"CMD\", …], [\"CMD-SHELL\", \"…\"] or a shell string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                Ok(Command(vec!["CMD-SHELL".into(), v.into()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
                let mut args = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    args.push(arg);
                }
                Ok(Command(args))
            }
        }
        d.deserialize_any(V)
    }
}

/// A port: `8001`, `"8001:8001"`, `"127.0.0.1:8001:8001"`, or the long form.
/// Written back in the short form people write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Port inside the container.
    pub container: u16,
    /// Port published on the host; unpublished when absent.
    pub host: Option<u16>,
    pub host_ip: String,
}

/// The three ways a port is written, for the schema (an editor must take
/// `8000` and `"8080:8000"`, not only the long form).
#[derive(JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
#[allow(dead_code)]
enum PortSchema {
    /// A container port, not published.
    Container(u16),
    /// `HOST:CONTAINER` or `IP:HOST:CONTAINER`.
    Short(#[schemars(regex(pattern = r"^([0-9]+|([0-9a-fA-F.:\[\]]+:)?[0-9]+:[0-9]+)$"))] String),
    Long {
        /// Port inside the container.
        container: u16,
        /// Port published on the host; unpublished when absent.
        #[serde(default)]
        host: Option<u16>,
        /// Address to publish on; loopback unless said otherwise.
        #[serde(default)]
        host_ip: Option<String>,
    },
}

impl JsonSchema for Port {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = PortSchema::json_schema(generator);
        schema.insert(
            "description".into(),
            "A port: `8001` (not published), `\"8080:8001\"`, `\"0.0.0.0:8080:8001\"`, or {container, host, host_ip}; published ports bind to 127.0.0.1 unless an address is given.".into(),
        );
        schema
    }
}

fn is_loopback(ip: &str) -> bool {
    ip == "127.0.0.1"
}

impl Port {
    fn parse_short(text: &str) -> Result<Port, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let num = |s: &str| -> Result<u16, String> {
            s.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{s}` is not a port number (1–65535)"))
        };
        match parts.as_slice() {
            [c] => Ok(Port {
                container: num(c)?,
                host: None,
                host_ip: default_bind(),
            }),
            [h, c] => Ok(Port {
                container: num(c)?,
                host: Some(num(h)?),
                host_ip: default_bind(),
            }),
            [ip, h, c] => Ok(Port {
                container: num(c)?,
                host: Some(num(h)?),
                host_ip: ip.to_string(),
            }),
            _ => Err(format!(
                "expected `CONTAINER`, `HOST:CONTAINER` or `IP:HOST:CONTAINER`, found `{text}`"
            )),
        }
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.host, is_loopback(&self.host_ip)) {
            (None, true) => s.serialize_u16(self.container),
            (Some(host), true) => s.collect_str(&format_args!("{host}:{}", self.container)),
            (Some(host), false) => {
                s.collect_str(&format_args!("{}:{host}:{}", self.host_ip, self.container))
            }
            (None, false) => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("container", &self.container)?;
                m.serialize_entry("host_ip", &self.host_ip)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Long {
            container: u16,
            #[serde(default)]
            host: Option<u16>,
            #[serde(default = "default_bind")]
            host_ip: String,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port (`8001`, `\"8080:8001\"`) or {container, host, host_ip}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Port, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Port, E> {
                Port::parse_short(v).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Port, A::Error> {
                let long = Long::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Port {
                    container: long.container,
                    host: long.host,
                    host_ip: long.host_ip,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// When a dependent may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The dependency's containers have started.
    #[serde(alias = "service_started")]
    Started,
    /// The dependency's health check passes.
    #[serde(alias = "service_healthy")]
    Healthy,
    /// The dependency (a job) exited 0.
    #[serde(alias = "service_completed_successfully", alias = "completed")]
    CompletedSuccessfully,
}

/// `[a, b]` (started), `{a: healthy}` or `{a: {condition: healthy}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct DependsOn(#[schemars(with = "DependsOnSchema")] pub IndexMap<String, Condition>);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DependsOnSchema {
    List(Vec<String>),
    Map(IndexMap<String, ConditionSchema>),
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ConditionSchema {
    Short(Condition),
    Long { condition: Condition },
}

impl DependsOn {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for DependsOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LongCondition(Condition);
        impl<'de> Deserialize<'de> for LongCondition {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = LongCondition;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a condition or {condition: …}")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<LongCondition, E> {
                        Condition::deserialize(de::value::StrDeserializer::<E>::new(v))
                            .map(LongCondition)
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<LongCondition, A::Error> {
                        #[derive(Deserialize)]
                        #[serde(deny_unknown_fields)]
                        struct Long {
                            condition: Condition,
                        }
                        let long = Long::deserialize(de::value::MapAccessDeserializer::new(map))?;
                        Ok(LongCondition(long.condition))
                    }
                }
                d.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DependsOn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of services or a mapping of service to condition")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DependsOn, A::Error> {
                let mut out = IndexMap::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.insert(name, Condition::Started);
                }
                Ok(DependsOn(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DependsOn, A::Error> {
                let mut out = IndexMap::new();
                while let Some(name) = map.next_key::<String>()? {
                    let LongCondition(c) = map.next_value()?;
                    out.insert(name, c);
                }
                Ok(DependsOn(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_round_trip() {
        for (text, secs) in [
            ("30s", 30),
            ("1m30s", 90),
            ("2h", 7200),
            ("45", 45),
            ("0s", 0),
        ] {
            let d = Dur::parse(text).unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
            assert_eq!(Dur::parse(&d.to_string()), Some(d));
        }
        assert_eq!(Dur::parse("500ms").unwrap().0, Duration::from_millis(500));
        assert_eq!(Dur::parse("1m30s").unwrap().to_string(), "1m30s");
        for bad in ["", "s", "10x", "1.5s", "-3s", "99999999999999999999h"] {
            assert_eq!(Dur::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn short_ports() {
        assert_eq!(Port::parse_short("8001").unwrap().host, None);
        let p = Port::parse_short("8080:8001").unwrap();
        assert_eq!((p.host, p.container), (Some(8080), 8001));
        let p = Port::parse_short("0.0.0.0:80:8001").unwrap();
        assert_eq!(p.host_ip, "0.0.0.0");
        assert_eq!(
            Port::parse_short("70000").unwrap_err(),
            "`70000` is not a port number (1–65535)"
        );
    }
}
