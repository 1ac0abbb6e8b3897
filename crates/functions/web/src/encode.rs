//! How a file becomes an embedded asset: content type, content hash, gzip. Compiled into the crate and,
//! through `#[path]`, into build.rs, so the build-time table and the tables tests build agree byte for
//! byte.

use std::fmt::Write as _;
use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Hex digits of the SHA-256 kept for ETags and `?v=`: 64 bits tell versions of one file apart.
pub const HASH_LEN: usize = 16;

/// The first [`HASH_LEN`] hex digits of the SHA-256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(bytes) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex.truncate(HASH_LEN);
    hex
}

/// Best-compression gzip. The header's mtime stays 0, so a build is reproducible.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// The gzipped bytes, or `None` when compressing does not make the file smaller (images, fonts).
pub fn gzip_if_smaller(bytes: &[u8]) -> Option<Vec<u8>> {
    let compressed = gzip(bytes);
    (compressed.len() < bytes.len()).then_some(compressed)
}

/// Content type by extension.
pub fn content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        // The client's declarations (realtime.d.ts): Deno and URL importers take their types from here.
        "ts" | "mts" => "application/typescript; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => "application/octet-stream",
    }
}

/// Names that can be served as one URL path segment as they are: no percent-encoding needed, no
/// dot files, nothing that could climb out of a folder.
pub fn is_servable_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
