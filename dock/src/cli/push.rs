//! `dock push [-q] IMAGE`

use super::{parse_ref, Ctx};
use anyhow::Result;
use dock::progress::Progress;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short, long)]
    quiet: bool,
    /// Upload blobs in chunks of this many bytes (PATCH) instead of one PUT
    #[arg(long, value_name = "BYTES")]
    chunk_size: Option<u64>,
    /// Do not mount blobs from other repositories of the registry
    #[arg(long)]
    no_mount: bool,
    /// A stored image name; it is pushed to the registry and repository the name says
    image: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let r = parse_ref(&a.image)?;
    let store = ctx.store()?;
    let progress = Progress::auto(a.quiet);
    let opts = dock::push::PushOptions {
        chunk: a.chunk_size,
        mount: !a.no_mount,
    };
    let pushed = dock::push::push_with(&ctx.client(), &store, &r, &r, &opts, &progress)?;
    if a.quiet {
        println!("{}", pushed.digest);
    }
    Ok(())
}
