//! `dock login [-u USER] [-p PASS | --password-stdin] [SERVER]`: check the credentials against
//! the registry, then save them where docker keeps them.

use super::Ctx;
use anyhow::{bail, Context, Result};
use dock::registry::auth::{self, Credentials};
use std::io::Read;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short, long)]
    username: Option<String>,
    #[arg(short, long)]
    password: Option<String>,
    #[arg(long)]
    password_stdin: bool,
    /// Registry host[:port] (default: docker.io)
    server: Option<String>,
}

pub fn run(ctx: &Ctx, a: Args) -> Result<()> {
    let server = a.server.unwrap_or_else(|| "docker.io".to_string());
    let server = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let server = if server == "index.docker.io/v1" {
        "docker.io".to_string()
    } else {
        server
    };
    let Some(username) = a.username else {
        bail!("login {server}: --username is required");
    };
    let password = match (a.password, a.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => bail!("login {server}: give --password-stdin or --password"),
    };
    let creds = Credentials { username, password };
    let client = ctx.client_with(|o| o.credentials = Some(creds.clone()));
    let reg = client.registry(&server);
    // A request that needs auth: the catalog is not served everywhere, so ping, then ask for a
    // token for a harmless scope if the registry uses tokens.
    reg.ping().with_context(|| format!("login {server}"))?;
    reg.check_login()
        .with_context(|| format!("login {server}"))?;
    let path = auth::store(&server, &creds).with_context(|| format!("login {server}"))?;
    println!("Login Succeeded (credentials saved in {})", path.display());
    Ok(())
}
