//! Tracing set-up: `-v` flags or `GENO_LOG` (an env-filter directive).
//! `access` is the load balancer's per-request log, on from `-v`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8) {
    let default = match verbose {
        // geno's own warnings; a library's (the AWS SDK's credential
        // chain, say) would repeat what geno reports as the error.
        0 => "geno=warn,access=warn",
        1 => "geno=info,access=info",
        2 => "geno=debug,access=info",
        _ => "geno=trace,access=info",
    };
    let filter = EnvFilter::try_from_env("GENO_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests calling run twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour only for a person: the load balancer writes to its log file.
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
