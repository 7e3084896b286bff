use hull::{Result, Runtime};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub id: String,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let s = hull::lifecycle::state(rt, &a.id)?;
    crate::out!(
        "{}",
        serde_json::to_string_pretty(&s).map_err(|e| hull::Error::msg(e.to_string()))?
    );
    Ok(0)
}
