//! Pure renderings of the stack for other systems (ECS today).

pub mod ecs;
pub mod fidelity;
pub mod scaling;
pub mod tfvars;
