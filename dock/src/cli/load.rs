//! `dock load [-i FILE]`: read an OCI layout tar or a docker archive.

use super::Ctx;
use anyhow::{Context, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Read from this file (default: standard input)
    #[arg(short, long)]
    input: Option<std::path::PathBuf>,
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let store = ctx.store()?;
    let loaded = match &a.input {
        Some(p) => {
            let mut f = std::io::BufReader::new(
                std::fs::File::open(p).with_context(|| format!("load {}", p.display()))?,
            );
            dock::archive::load(&store, &mut f).with_context(|| format!("load {}", p.display()))?
        }
        None => dock::archive::load(&store, &mut std::io::stdin().lock()).context("load")?,
    };
    for n in &loaded.names {
        println!("Loaded image: {n}");
    }
    if !a.quiet {
        for d in &loaded.unnamed {
            eprintln!("warning: image {d} has no name in the archive and was not kept");
        }
    }
    Ok(())
}
