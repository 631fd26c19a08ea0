use clap::Parser;
use geno::cli::Arguments;

/// The one runtime: two workers are plenty for a CLI's I/O-bound work.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Arguments::parse_from(geno::cli::normalize(std::env::args_os()));
    let code = args.run().await;
    // Exit without waiting for idle connections and sleeping tasks to wind
    // down (the load balancer's; `geno down` waits for that process).
    std::process::exit(code);
}
