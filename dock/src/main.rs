//! The `dock` command: a docker-like CLI over the dock library.

mod cli;

use clap::Parser;

fn main() {
    let args = cli::Cli::parse();
    // dock clones container processes through hull's library: like hull itself, it must first
    // make its own executable unreachable from inside a container (CVE-2019-5736).
    if args.command.creates_containers() {
        if let Err(e) = hull::security::sealed_exe::reexec_sealed() {
            eprintln!("dock: {e}");
            std::process::exit(125);
        }
    }
    let filter = if args.debug { "debug" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOCK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = cli::run(args) {
        // Library errors already spell out their causes; add only causes not yet said.
        let mut msg = e.to_string();
        for cause in e.chain().skip(1) {
            let c = cause.to_string();
            if !msg.contains(&c) {
                msg.push_str(": ");
                msg.push_str(&c);
            }
        }
        eprintln!("dock: {msg}");
        let code = e
            .downcast_ref::<dock::container::ExitStatus>()
            .map(|s| s.code)
            .unwrap_or(1);
        std::process::exit(code);
    }
}
