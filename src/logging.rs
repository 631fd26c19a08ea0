//! Tracing set-up: `-v` flags or `GENO_LOG` (an env-filter directive).

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "geno=info",
        2 => "geno=debug",
        _ => "geno=trace",
    };
    let filter = EnvFilter::try_from_env("GENO_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second init (tests calling run twice) is harmless; ignore it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
