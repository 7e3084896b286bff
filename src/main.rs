//! The `hull` command line: runc's, option for option.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
