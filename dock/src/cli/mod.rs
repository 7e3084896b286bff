//! Command-line parsing and one module per subcommand.

mod attach;
mod container;
mod images;
mod inspect;
mod load;
mod login;
mod logs;
mod pull;
mod push;
mod rmi;
mod save;
mod tag;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use dock::reference::Reference;
use dock::registry::{Client, ClientOptions};
use dock::store::{ImageEntry, Store};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "dock",
    version,
    about = "Pull, store and push container images"
)]
pub struct Cli {
    /// Data root holding the image store (default: /var/lib/dock as root,
    /// $XDG_DATA_HOME/dock otherwise)
    #[arg(long, global = true, env = "DOCK_ROOT")]
    pub root: Option<PathBuf>,
    /// Registry (host[:port]) to reach over plain http; loopback registries always are
    #[arg(long = "insecure-registry", global = true, value_name = "HOST")]
    pub insecure: Vec<String>,
    /// Connect/read timeout for registry requests, in seconds
    #[arg(long, global = true, env = "DOCK_TIMEOUT", default_value_t = 30.0)]
    pub timeout: f64,
    /// Retries after a 5xx/429 answer or a network error
    #[arg(long, global = true, env = "DOCK_RETRIES", default_value_t = 3)]
    pub retries: u32,
    /// Debug logging
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Download an image from a registry
    Pull(pull::Args),
    /// Upload an image to a registry
    Push(push::Args),
    /// List images
    Images(images::Args),
    /// Remove images (and the blobs no other image uses)
    Rmi(rmi::Args),
    /// Show an image's details as JSON
    Inspect(inspect::Args),
    /// Write images to a tar archive (OCI layout + docker manifest.json)
    Save(save::Args),
    /// Read images from an OCI layout tar or a docker archive
    Load(load::Args),
    /// Give an image another name
    Tag(tag::Args),
    /// Save credentials for a registry
    Login(login::Args),
    /// Remove blobs no image uses and leftovers of interrupted pulls
    Gc,
    /// Run a command in a new container
    Run(container::RunArgs),
    /// Create a container without starting it
    Create(container::RunArgs),
    /// Start created or stopped containers (in the background, or attached with -a/-i)
    Start(attach::StartArgs),
    /// Attach to a running container's output (and stdin, if it was started with -i)
    Attach(attach::AttachArgs),
    /// List containers
    Ps(container::PsArgs),
    /// Show a container's output: stdout lines on stdout, stderr lines on stderr
    Logs(logs::Args),
    /// Stop containers (SIGTERM, then SIGKILL after -t seconds)
    Stop(container::StopArgs),
    /// Signal containers
    Kill(container::KillArgs),
    /// Remove containers
    Rm(container::RmArgs),
    /// Run a command in a running container
    Exec(container::ExecArgs),
    #[command(hide = true)]
    LoopbackUpHook,
    /// Build busybox:latest offline from the host's busybox-static
    ImportBusybox(container::ImportArgs),
}

impl Command {
    /// Commands that start container processes (directly or through a monitor).
    pub fn creates_containers(&self) -> bool {
        matches!(
            self,
            Command::Run(_) | Command::Create(_) | Command::Start(_) | Command::Exec(_)
        )
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx::new(&cli);
    match cli.command {
        Command::Pull(a) => pull::run(&ctx, a),
        Command::Push(a) => push::run(&ctx, a),
        Command::Images(a) => images::run(&ctx, a),
        Command::Rmi(a) => rmi::run(&ctx, a),
        Command::Inspect(a) => inspect::run(&ctx, a),
        Command::Tag(a) => tag::run(&ctx, a),
        Command::Save(a) => save::run(&ctx, a),
        Command::Load(a) => load::run(&ctx, a),
        Command::Login(a) => login::run(&ctx, a),
        Command::Run(a) => container::run(&ctx, a),
        Command::Create(a) => container::create(&ctx, a),
        Command::Start(a) => attach::start(&ctx, a),
        Command::Attach(a) => attach::attach(&ctx, a),
        Command::Ps(a) => container::ps(&ctx, a),
        Command::Logs(a) => logs::run(&ctx, a),
        Command::Stop(a) => container::stop(&ctx, a),
        Command::Kill(a) => container::kill(&ctx, a),
        Command::Rm(a) => container::rm(&ctx, a),
        Command::Exec(a) => container::exec(&ctx, a),
        Command::LoopbackUpHook => dock::container::loopback_up_hook(),
        Command::ImportBusybox(a) => container::import_busybox(&ctx, a),
        Command::Gc => {
            let store = ctx.store()?;
            let stats = store.gc()?;
            let snaps = dock::container::gc_snapshots(&store, &ctx.containers()?)?;
            println!(
                "removed {} blobs ({}), {} temporary files, {} snapshots",
                stats.blobs_removed.len(),
                dock::progress::human_size(stats.bytes_freed),
                stats.temp_files_removed,
                snaps
            );
            Ok(())
        }
    }
}

/// What every command needs: the store location and client options.
pub struct Ctx {
    root: PathBuf,
    client_opts: ClientOptions,
}

impl Ctx {
    fn new(cli: &Cli) -> Self {
        let timeout = if cli.timeout.is_finite() && cli.timeout > 0.0 {
            Duration::from_secs_f64(cli.timeout)
        } else {
            Duration::from_secs(30)
        };
        Ctx {
            root: cli.root.clone().unwrap_or_else(Store::default_root),
            client_opts: ClientOptions {
                insecure_registries: cli.insecure.clone(),
                timeout,
                retries: cli.retries,
                ..Default::default()
            },
        }
    }

    pub fn store(&self) -> Result<Store> {
        Store::open(&self.root).with_context(|| format!("open store {}", self.root.display()))
    }

    pub fn client(&self) -> Client {
        Client::new(self.client_opts.clone())
    }

    pub fn client_with(&self, f: impl FnOnce(&mut ClientOptions)) -> Client {
        let mut o = self.client_opts.clone();
        f(&mut o);
        Client::new(o)
    }
}

/// Parse an image reference from the command line.
pub fn parse_ref(s: &str) -> Result<Reference> {
    Ok(Reference::parse(s)?)
}

/// Images matching what a user typed: a name (`busybox`, `host:5000/a:1`) or an id/digest
/// (prefix of 12+ hex characters).
pub fn resolve_images(store: &Store, key: &str) -> Result<Vec<ImageEntry>> {
    if let Ok(r) = Reference::parse(key) {
        let found = store.find(&r.store_name())?;
        if !found.is_empty() {
            return Ok(found);
        }
        if r.digest.is_some() {
            if let Ok(e) = dock::push::find_entry(store, &r) {
                return Ok(vec![e]);
            }
        }
    }
    let found = store.find(key)?;
    if found.is_empty() {
        anyhow::bail!("no such image: {key}");
    }
    Ok(found)
}
