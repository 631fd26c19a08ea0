use clap::Parser;
use geno::cli::Arguments;

/// The one runtime. Two workers are plenty for a CLI's I/O-bound work; the
/// load balancer runs on one thread, where a request's tasks (client side,
/// target side) wake each other without crossing to another core: measured
/// with `bench/lb.sh`, that is less CPU per request than two workers.
fn main() {
    let args = Arguments::parse_from(geno::cli::normalize(std::env::args_os()));
    let mut builder = if args.serves_load_balancer() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start geno's runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(args.run());
    // Exit without waiting for idle connections and sleeping tasks to wind
    // down (the load balancer's; `geno down` waits for that process).
    std::process::exit(code);
}
