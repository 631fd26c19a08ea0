//! One module per verb, and nothing else (after cargo's `commands/`): each
//! owns its arguments (`Args`, a clap `Args`) and its body (`Verb::exec`),
//! says how Ctrl-C treats it, says what it does through `ctx.shell`, and
//! leaves reporting errors to `main`. Whether a verb acts on this machine
//! or on a deployed environment is decided once, by `Place::of`. A verb
//! never imports another verb; what two verbs share lives in `host`,
//! `environment` or `smoke::runner`.

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
pub mod tasks;
pub mod top;
pub mod up;
pub mod validate;
pub mod watch;

use crate::context::Context;
use crate::environment::rollout::Watch;
use crate::error::CliResult;
use crate::stack::Dur;
use crate::stack::validate::LOCAL_ENV;

/// How the first Ctrl-C treats a verb (the second always exits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInterrupt {
    /// The verb finishes what is under way: the context's token fires and
    /// nothing new starts. The text names the verb in what geno says.
    Finish(&'static str),
    /// The command ends at once.
    Exit,
}

/// A verb: its arguments, how Ctrl-C treats it, and its body.
pub trait Verb: clap::Args {
    fn on_interrupt(&self) -> OnInterrupt;
    fn exec(self, ctx: &Context) -> impl Future<Output = CliResult>;
}

/// Where a verb that takes `--env` acts, decided here for all of them:
/// without `--env` (or with `--env local`) this machine's stack, otherwise
/// the deployed environment named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    Local,
    Deployed(&'a str),
}

impl Place<'_> {
    pub fn of(env: Option<&str>) -> Place<'_> {
        match env {
            None | Some(LOCAL_ENV) => Place::Local,
            Some(env) => Place::Deployed(env),
        }
    }
}

/// How a verb that changes a deployed environment watches it: the same
/// two options on `promote`, `rollback` and `scale`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct WatchArgs {
    /// Give up on the rollout (and roll back) after this long.
    #[arg(long, default_value = "15m", value_parser = duration)]
    pub timeout: Dur,
    /// How often to look at the services while they roll out.
    #[arg(long, default_value = "5s", value_parser = duration)]
    pub poll: Dur,
}

impl WatchArgs {
    pub fn watch(&self) -> Watch {
        Watch {
            timeout: self.timeout.0,
            poll: self.poll.0,
        }
    }
}

/// A duration argument: `90s`, `5m`.
pub fn duration(text: &str) -> Result<Dur, String> {
    Dur::parse(text)
        .ok_or_else(|| format!("expected a duration like `90s` or `5m`, found `{text}`"))
}

#[cfg(test)]
mod tests {
    use super::Place;

    #[test]
    fn local_unless_an_environment_is_named() {
        assert_eq!(Place::of(None), Place::Local);
        assert_eq!(Place::of(Some("local")), Place::Local);
        assert_eq!(Place::of(Some("demo")), Place::Deployed("demo"));
    }
}
