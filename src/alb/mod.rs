//! ALB semantics, pure: listener rule matching, target health states and
//! target selection. The proxy (`crate::proxy`) drives these with real
//! traffic and real health checks; tests drive them with made-up results.

pub mod health;
pub mod redirect;
pub mod rules;
pub mod targets;
