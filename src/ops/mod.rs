//! One module per verb, and nothing else: each is
//! `async fn(&Context, Options) -> CliResult`, says what it does through
//! `ctx.shell`, and leaves reporting errors to `main`. A verb never imports
//! another verb; what two verbs share lives in `host`, `environment` or
//! `smoke::runner`.

pub mod completions;
pub mod config;
pub mod diff;
pub mod down;
pub mod exec;
pub mod history;
pub mod init;
pub mod lb;
pub mod logs;
pub mod promote;
pub mod ps;
pub mod render;
pub mod restart;
pub mod rollback;
pub mod run;
pub mod scale;
pub mod schema;
pub mod secrets;
pub mod smoke;
pub mod start;
pub mod stop;
pub mod up;
pub mod validate;
pub mod watch;
