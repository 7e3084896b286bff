//! `dock attach` and `dock start [-a] [-i]`: the container's output live (and our stdin to
//! it when it was started with -i), exiting with the container's exit code as docker does.

use super::Ctx;
use anyhow::{bail, Result};
use dock::container::{exit_err, Containers, Record};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Do not send our stdin to the container
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Attach to the output and exit with the container's exit code
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach stdin as well (implies -a)
    #[arg(short = 'i', long)]
    interactive: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Relay an attach connection, then leave with the container's exit code.
fn relay_and_exit(
    cs: &Containers,
    r: &Record,
    sock: std::os::unix::net::UnixStream,
    stdin: bool,
) -> Result<()> {
    let code = match dock::attach::client(sock, stdin, r.flags.tty)? {
        Some(c) => c,
        // The monitor went away without a word (killed): the record may still say.
        None => {
            cs.wait_stopped(r, Duration::from_secs(2));
            match cs.load(&r.id).ok().and_then(|x| x.exit_code) {
                Some(c) => c,
                None => bail!("attach {}: lost the container's monitor", r.name),
            }
        }
    };
    std::io::stdout().flush().ok();
    // -1: dock itself could not tell (the monitor failed); docker's generic failure.
    std::process::exit(if code < 0 { 125 } else { code });
}

pub fn attach(ctx: &Ctx, a: AttachArgs) -> Result<()> {
    let cs = ctx.containers()?;
    let r = cs.find(&a.container)?;
    if cs.status(&r) != "running" {
        bail!(
            "cannot attach to container {}: it is not running (start it first)",
            r.name
        );
    }
    let sock = dock::attach::connect(&cs.dir(&r.id)).map_err(|e| {
        anyhow::anyhow!(
            "attach {}: {e:#} (a monitor from an older dock has no attach socket)",
            r.name
        )
    })?;
    relay_and_exit(&cs, &r, sock, r.flags.interactive && !a.no_stdin)
}

pub fn start(ctx: &Ctx, a: StartArgs) -> Result<()> {
    let cs = ctx.containers()?;
    if a.attach || a.interactive {
        let [key] = a.containers.as_slice() else {
            return Err(exit_err(
                1,
                "start -a/-i: one container at a time can be attached",
            ));
        };
        let mut r = cs.find(key)?;
        let sock = cs.start_attached(&mut r)?;
        // docker: stdin goes in only where the container keeps one open (-i at create).
        let stdin = a.interactive && r.flags.interactive;
        return relay_and_exit(&cs, &r, sock, stdin);
    }
    for key in &a.containers {
        let mut r = cs.find(key)?;
        cs.start_detached(&mut r)?;
        println!("{key}");
    }
    Ok(())
}
