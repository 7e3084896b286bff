//! `dock inspect IMAGE...`: a JSON array like docker's image inspect.

use super::{resolve_images, Ctx};
use anyhow::Result;
use dock::reference::Reference;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let store = ctx.store()?;
    let all = store.images()?;
    let cs = ctx.containers()?;
    let mut out = Vec::new();
    for key in &a.images {
        if let Ok(r) = cs.find(key) {
            out.push(super::container::inspect_container(&cs, &r)?);
            continue;
        }
        let found = resolve_images(&store, key)?;
        let e = &found[0];
        let m = store.image_manifest(&e.descriptor)?;
        let config: serde_json::Value =
            serde_json::from_slice(&store.read_blob(&m.config.digest)?)?;
        let mut tags = Vec::new();
        let mut repo_digests = Vec::new();
        for other in all
            .iter()
            .filter(|o| o.descriptor.digest == e.descriptor.digest)
        {
            if let Ok(r) = Reference::parse(&other.name) {
                if let Some(t) = &r.tag {
                    tags.push(format!("{}:{t}", r.familiar_repository()));
                }
                let d = other
                    .descriptor
                    .annotation(dock::pull::REPO_DIGEST)
                    .map(str::to_string)
                    .unwrap_or_else(|| other.descriptor.digest.to_string());
                let rd = format!("{}@{d}", r.familiar_repository());
                if !repo_digests.contains(&rd) {
                    repo_digests.push(rd);
                }
            }
        }
        let size: u64 = m.layers.iter().map(|l| l.size).sum();
        out.push(json!({
            "Id": m.config.digest.to_string(),
            "RepoTags": tags,
            "RepoDigests": repo_digests,
            "Created": config.get("created"),
            "Architecture": config.get("architecture"),
            "Os": config.get("os"),
            "Variant": config.get("variant"),
            "Size": size,
            "Config": config.get("config"),
            "RootFS": config.get("rootfs"),
            "Manifest": e.descriptor,
            "Layers": m.layers,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
