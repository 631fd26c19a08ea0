use clap::Parser;
use geno::cli::Arguments;

fn main() {
    let args = Arguments::parse();
    let code = match args.run() {
        Ok(code) => code,
        Err(err) => geno::error::report(&err, &mut std::io::stderr()),
    };
    std::process::exit(code);
}
