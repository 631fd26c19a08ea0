//! geno: one stack.yaml drives the local Docker stack, its smoke tests and
//! its ECS Fargate deployment.
//!
//! Layers, bottom up — each imports only from those beneath it:
//! 1. pure: `stack` (model, parsing, validation), `spec`, `render`,
//!    `deploy` (ECS inputs, rollouts, records), `alb`, `local` (plan,
//!    reconcile, secrets), `smoke`'s checks, `ids`, `dockerignore`;
//! 2. adapters: `docker`, `aws`, `oci` (registry API), `proxy` (the load
//!    balancer);
//! 3. the library's top: `shell`, `error`, `wait`, `context`, and the
//!    machinery verbs share — `host` (the stack on this machine),
//!    `environment` (a deployed environment), `smoke::runner`;
//! 4. `ops`, one module per verb, each `async fn(&Context, Options) -> CliResult`;
//! 5. `cli` (arguments, the one runtime, Ctrl-C) and `main`.

pub mod alb;
pub mod aws;
pub mod cli;
pub mod context;
#[cfg(test)]
mod counting_alloc;
pub mod deploy;
pub mod docker;
pub mod dockerignore;
pub mod environment;
pub mod error;
pub mod host;
pub mod ids;
pub mod import;
pub mod local;
pub mod logging;
pub mod oci;
pub mod ops;
pub mod proxy;
pub mod render;
pub mod shell;
pub mod shutdown;
pub mod smoke;
pub mod spec;
pub mod stack;
pub mod state;
pub mod wait;

/// Where geno keeps its state for a stack (load balancer state, smoke and
/// promotion records), beside stack.yaml; never part of a build context.
pub const STATE_DIR: &str = ".geno";
