use hull::{Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    hull::start(rt, &a.id)?;
    Ok(0)
}
