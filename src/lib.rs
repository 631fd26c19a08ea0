//! geno: one stack.yaml drives the local Docker stack, its smoke tests and
//! its ECS Fargate deployment.
//!
//! Layers, bottom up: `stack` (model, parsing, validation), `spec` and
//! `render` (pure mappings), then `ops`, one module per verb, and `cli`.

pub mod alb;
pub mod aws;
pub mod cli;
pub mod deploy;
pub mod docker;
pub mod dockerignore;
pub mod error;
pub mod local;
pub mod logging;
pub mod ops;
pub mod proxy;
pub mod registry;
pub mod render;
pub mod shutdown;
pub mod smoke;
pub mod spec;
pub mod stack;

/// Where geno keeps its state for a stack (load balancer state, smoke and
/// promotion records), beside stack.yaml; never part of a build context.
pub const STATE_DIR: &str = ".geno";
