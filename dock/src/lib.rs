//! dock: the Docker-level layer (images, registries, bundles) on top of hull.
//!
//! This part covers images: [`reference`] parses image references as docker does,
//! [`registry`] talks to distribution API v2 registries, and [`store`] keeps pulled images in an
//! OCI image layout on disk.

pub mod digest;
pub mod reference;

/// The runtime dock drives, re-exported so callers need one dependency.
pub use hull;
