fn main() {
    eprintln!("dock: no commands yet (image pull and run are not implemented in this build)");
    std::process::exit(1);
}
