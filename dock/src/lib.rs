//! dock: the Docker-level layer (images, registries, bundles) on top of hull.
//!
//! This part covers images: [`reference`] parses image references as docker does,
//! [`registry`] talks to distribution API v2 registries, [`store`] keeps images in an OCI image
//! layout on disk, and [`pull`]/[`push`] move images between the two. [`unpack`] extracts
//! layers safely into shared snapshots, [`bundle`] turns an image config and `run` flags into
//! an OCI spec, and [`container`] runs containers through hull's library.

pub mod archive;
pub mod attach;
pub mod bundle;
pub mod container;
pub mod digest;
pub mod hostdev;
pub mod import;
pub mod logfile;
pub mod manifest;
pub mod monitor;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod relay;
pub mod seccomp;
pub mod store;
pub mod unpack;

/// The runtime dock drives, re-exported so callers need one dependency.
pub use hull;
