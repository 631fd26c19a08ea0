//! One module per verb: the work behind each command.

pub mod config;
pub mod deploy;
pub mod down;
pub mod exec;
pub mod lb;
pub mod local;
pub mod logs;
pub mod ps;
pub mod render;
pub mod run;
pub mod schema;
pub mod smoke;
pub mod table;
pub mod up;
pub mod validate;
