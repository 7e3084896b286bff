//! `dock push [-q] IMAGE`

use super::{parse_ref, Ctx};
use anyhow::Result;
use dock::progress::Progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short, long)]
    quiet: bool,
    /// A stored image name; it is pushed to the registry and repository the name says
    image: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let r = parse_ref(&a.image)?;
    let store = ctx.store()?;
    let progress = Progress::auto(a.quiet);
    let pushed = dock::push::push(&ctx.client(), &store, &r, &r, &progress)?;
    if a.quiet {
        println!("{}", pushed.digest);
    }
    Ok(())
}
