//! dock: the Docker-level layer (images, registries, bundles) on top of hull.
//! Image pulling and running land in later issues; the crate exists so the workspace layout is
//! the agreed one from the start.

/// The runtime dock drives, re-exported so callers need one dependency.
pub use hull;
