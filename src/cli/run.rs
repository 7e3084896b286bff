use hull::{Result, RunOpts, Runtime};

#[derive(clap::Args, Debug)]
#[group(id = "run")]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Return once the process is started
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
    /// Do not make hull a child subreaper
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let opts = RunOpts {
        create: a.create.opts(),
        detach: a.detach,
        keep: a.keep,
        no_subreaper: a.no_subreaper,
    };
    hull::launch::run::run(rt, &opts)
}
