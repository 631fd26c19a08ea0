//! One module per verb: the work behind each command.

pub mod config;
pub mod deploy;
pub mod diff;
pub mod down;
pub mod exec;
pub mod history;
pub mod lb;
pub mod local;
pub mod logs;
pub mod promote;
pub mod ps;
pub mod render;
pub mod rollback;
pub mod run;
pub mod schema;
pub mod smoke;
pub mod table;
pub mod up;
pub mod validate;
