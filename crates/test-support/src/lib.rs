//! What the tests of every crate share, as a dev-dependency: the Lambda event fixtures of `events/` by
//! name ([`event`], [`fixtures`]), the fuzz targets' helpers ([`fuzz`]), and waiting on a dashboard's
//! socket ([`websocket`]).

pub mod fixtures;
pub mod fuzz;
pub mod websocket;

pub use fixtures::{event, fixtures};

use std::path::PathBuf;

/// The repository root: the first ancestor of this crate that holds `events/` and `fuzz/corpus`.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("fuzz/corpus").is_dir() && dir.join("events").is_dir())
        .expect("events/ and fuzz/corpus above the crate")
        .to_path_buf()
}
