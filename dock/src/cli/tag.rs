//! `dock tag SOURCE TARGET`

use super::{parse_ref, resolve_images, Ctx};
use anyhow::{bail, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    source: String,
    target: String,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let store = ctx.store()?;
    let _content = store.content_lock()?;
    let found = resolve_images(&store, &a.source)?;
    let first = &found[0];
    if found
        .iter()
        .any(|e| e.descriptor.digest != first.descriptor.digest)
    {
        bail!("{} names more than one image; use a full name", a.source);
    }
    let target = parse_ref(&a.target)?;
    if target.digest.is_some() {
        bail!("tag {}: a target cannot have a digest", a.target);
    }
    let mut desc = first.descriptor.clone();
    if let Some(ann) = desc.annotations.as_mut() {
        ann.remove(dock::manifest::REF_NAME);
    }
    store.set_ref(&target.store_name(), &desc)?;
    Ok(())
}
