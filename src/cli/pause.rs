use hull::{Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn pause(rt: &Runtime, a: Args) -> Result<i32> {
    hull::lifecycle::pause(rt, &a.id)?;
    Ok(0)
}

pub fn resume(rt: &Runtime, a: Args) -> Result<i32> {
    hull::lifecycle::resume(rt, &a.id)?;
    Ok(0)
}
