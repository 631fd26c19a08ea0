//! `geno config`: the resolved stack, with literal secret values hidden.

use crate::cli::Config;
use crate::stack::{LocalSecret, load};

pub const REDACTED: &str = "<redacted>";

pub fn config(config: &Config, env: &str) -> anyhow::Result<i32> {
    let loaded = load(&config.file, &config.load_options(env))?;
    let mut stack = loaded.stack;
    for secret in stack.secrets.values_mut() {
        // A template may hold literal credentials next to its references.
        if let LocalSecret::Template(t) = &mut secret.local {
            *t = REDACTED.into();
        }
    }
    if config.json {
        println!("{}", serde_json::to_string_pretty(&stack)?);
    } else {
        print!("{}", serde_saphyr::to_string(&stack)?);
    }
    Ok(0)
}
