//! ALB semantics, pure: listener rule matching, target health states,
//! target selection and what a target group answered (`stats`, counted as
//! the ALB's metrics count). The proxy (`crate::proxy`) drives these with real
//! traffic and real health checks; tests drive them with made-up results.

pub mod health;
pub mod redirect;
pub mod rules;
pub mod stats;
pub mod targets;
