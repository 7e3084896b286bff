use hull::{Error, Result, Runtime};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A template for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(_rt: &Runtime, a: Args) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        return Err(Error::msg(format!(
            "File {} exists. Remove it first",
            path.display()
        )));
    }
    let v = hull::spec::default_spec(a.rootless);
    let text = serde_json::to_string_pretty(&v).map_err(|e| Error::msg(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::sys("write", path.display(), e))?;
    Ok(0)
}
