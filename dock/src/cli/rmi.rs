//! `dock rmi IMAGE...`: untag, then collect blobs nothing references.

use super::{resolve_images, Ctx};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let store = ctx.store()?;
    let mut names = Vec::new();
    for key in &a.images {
        for e in resolve_images(&store, key)? {
            names.push(e.name);
        }
    }
    for e in store.remove_refs(&names)? {
        println!("Untagged: {}", e.name);
    }
    let stats = store.gc()?;
    for d in &stats.blobs_removed {
        println!("Deleted: {d}");
    }
    Ok(())
}
