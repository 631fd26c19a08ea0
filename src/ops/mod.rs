//! One module per verb: the work behind each command.

pub mod config;
pub mod render;
pub mod schema;
pub mod validate;
