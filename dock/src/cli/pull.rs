//! `dock pull [--platform os/arch[/variant]] [-q] IMAGE`

use super::{parse_ref, Ctx};
use anyhow::Result;
use dock::manifest::Platform;
use dock::progress::Progress;
use dock::pull::{pull, PullOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Platform to pull from a multi-platform image (default: this host's)
    #[arg(long)]
    platform: Option<String>,
    /// Print only the image name when done
    #[arg(short, long)]
    quiet: bool,
    /// Blobs downloaded at once
    #[arg(long, default_value_t = 3)]
    max_concurrent_downloads: usize,
    /// Image reference, e.g. busybox, host:5000/ns/app:tag, app@sha256:...
    image: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let r = parse_ref(&a.image)?;
    let platform = match &a.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let store = ctx.store()?;
    let progress = Progress::auto(a.quiet);
    let opts = PullOptions {
        platform,
        max_concurrent: a.max_concurrent_downloads,
    };
    let pulled = pull(&ctx.client(), &store, &r, &opts, &progress)?;
    if a.quiet {
        println!("{}", pulled.name);
    }
    Ok(())
}
