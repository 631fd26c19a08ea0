//! `geno completions SHELL`: the names a completion script offers — the
//! stack's services and environments, when a stack file is found (none
//! otherwise: completing verbs and flags still works).

use crate::context::Context;
use crate::stack::validate::LOCAL_ENV;

/// (service names, environment names) of the stack file, or empty lists.
pub fn names(ctx: &Context) -> (Vec<String>, Vec<String>) {
    match ctx.load(LOCAL_ENV) {
        Ok(loaded) => (
            loaded.declared.services.keys().cloned().collect(),
            loaded.stack.environments.keys().cloned().collect(),
        ),
        Err(_) => (Vec::new(), Vec::new()),
    }
}
