use hull::{Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Signal every process in the container, not only init
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// A number (9) or a name (KILL, SIGKILL); SIGTERM by default
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let sig = hull::signal::parse(&a.signal)?;
    hull::kill(rt, &a.id, sig, a.all)?;
    Ok(0)
}
