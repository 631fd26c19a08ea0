//! Bringing an existing definition into stack.yaml: a compose file
//! (`compose`) or live ECS services (`ecs`). Pure: callers read the
//! sources and write the files; both write through `stack::emit`.

pub mod compose;
pub mod ecs;
pub mod extends;
