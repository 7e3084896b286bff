//! `dock save [-o FILE] IMAGE...`: a tar that is an OCI layout and a docker archive at once.

use super::{parse_ref, resolve_images, Ctx};
use anyhow::{Context, Result};
use dock::archive::{save, SaveItem};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write to this file (default: standard output)
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let store = ctx.store()?;
    let mut items = Vec::new();
    for key in &a.images {
        for e in resolve_images(&store, key)? {
            items.push(SaveItem {
                reference: parse_ref(&e.name)?,
                descriptor: e.descriptor,
            });
        }
    }
    match &a.output {
        Some(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = dir.unwrap_or(std::path::Path::new("."));
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
            let result = (|| -> Result<()> {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
                save(&store, &items, &mut f)?;
                f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&tmp, path)?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result.with_context(|| format!("save {}", path.display()))
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            save(&store, &items, &mut lock)?;
            lock.flush()?;
            Ok(())
        }
    }
}
