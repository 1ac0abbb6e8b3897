//! The files the function serves: [`EMBEDDED`] is web/public as it was at build time; tests pass tables
//! of their own, made with [`Asset::new`].

use std::borrow::Cow;

use crate::encode;

/// One file, in both encodings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asset {
    /// The file name, which is also its URL path (`/{name}`).
    pub name: Cow<'static, str>,
    pub content_type: &'static str,
    pub identity: Cow<'static, [u8]>,
    /// `None` when gzip would not make the file smaller: then it is always sent as it is.
    pub gzip: Option<Cow<'static, [u8]>>,
    /// [`encode::content_hash`] of `identity`: the ETag's value and the `?v=` that makes a URL immutable.
    pub hash: Cow<'static, str>,
}

/// web/public, embedded by build.rs.
pub static EMBEDDED: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// `/sites/{siteId}/tracker.js`: web/compat/tracker.js with web/public/script.js inlined at its
/// `//@include script.js` line, embedded by build.rs (`None` if the file is missing).
pub static SITE_TRACKER: Option<Asset> = include!(concat!(env!("OUT_DIR"), "/site_tracker.rs"));

impl Asset {
    /// An asset described exactly as build.rs describes an embedded file.
    pub fn new(name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        let identity = bytes.into();
        Self {
            name: Cow::Owned(name.to_owned()),
            content_type: encode::content_type(name),
            gzip: encode::gzip_if_smaller(&identity).map(Cow::Owned),
            hash: Cow::Owned(encode::content_hash(&identity)),
            identity: Cow::Owned(identity),
        }
    }

    /// The strong ETag of one encoding. The gzip and identity bodies are different representations,
    /// so they get different tags: a cache holding both must never take one for the other.
    pub fn etag(&self, gzip: bool) -> String {
        if gzip {
            format!("\"{}-gz\"", self.hash)
        } else {
            format!("\"{}\"", self.hash)
        }
    }
}
