use hull::{Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill a running container before deleting it
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    hull::delete(rt, &a.id, a.force)?;
    Ok(0)
}
