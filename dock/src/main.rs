//! The `dock` command: a docker-like CLI over the dock library.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    let filter = if args.debug { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOCK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = cli::run(args) {
        eprintln!("dock: {e:#}");
        std::process::exit(1);
    }
}
