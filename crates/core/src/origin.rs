//! Who may send and read: the CDN's proof of origin, and the page a browser says a hit comes from.

use std::fmt;

use subtle::ConstantTimeEq;
use url::Url;

/// The header CloudFront adds to every origin request (HTTP and WebSocket), carrying [`OriginSecret`].
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// The message and field of the 403 a request without the CDN's proof gets.
pub const ORIGIN_REQUIRED: (&str, &str) = (
    "requests must come through the deployment's CDN (CloudFront)",
    ORIGIN_VERIFY_HEADER,
);

/// `OriginVerifySecret`: shared by CloudFront and the functions. When it is configured, a request that
/// does not carry it reached API Gateway directly (around the CDN and any WAF on it) and is refused.
/// While a new secret rolls out to CloudFront's edges, the previous one is accepted too
/// (`OriginVerifySecretPrevious`), so a rotation refuses nobody.
#[derive(Clone)]
pub struct OriginSecret(Vec<String>);

impl OriginSecret {
    /// The values are checked by [`crate::config::Settings::secret`] before they get here.
    pub fn new(current: String, previous: Option<String>) -> Self {
        Self(std::iter::once(current).chain(previous).collect())
    }

    /// Constant-time comparison of what the request sent with each accepted value.
    pub fn verifies(&self, sent: Option<&str>) -> bool {
        let Some(sent) = sent.map(str::trim) else {
            return false;
        };
        // Every value is compared, so the time taken does not say which one matched.
        self.0.iter().fold(false, |matched, secret| {
            matched | bool::from(sent.as_bytes().ct_eq(secret.as_bytes()))
        })
    }
}

impl fmt::Debug for OriginSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OriginSecret(<redacted>)")
    }
}

/// Whether a request may proceed under the deployment's origin rule: always when no secret is
/// configured, otherwise only with the secret.
pub fn via_cdn(secret: Option<&OriginSecret>, sent: Option<&str>) -> bool {
    secret.is_none_or(|secret| secret.verifies(sent))
}

/// The page a browser declares a request comes from: its `Origin` header, else (a beacon, which some
/// browsers send without `Origin`) its `Referer`. `None` for a sender that declares neither, such as a
/// server-side integration; those are held to the hit's own `u` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredOrigin<'a> {
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
}

impl<'a> DeclaredOrigin<'a> {
    /// The header a browser's hit is judged by, if it sent one.
    pub fn declared(&self) -> Option<&'a str> {
        self.origin.or(self.referer)
    }

    /// The declared page's host, lower-cased. `Some(None)` when something was declared that names no
    /// host (`Origin: null` from a sandboxed frame or a file, garbage): that cannot be any site's page.
    pub fn host(&self) -> Option<Option<String>> {
        let declared = self.declared()?;
        Some(
            Url::parse(declared)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
                .and_then(|url| {
                    url.host_str()
                        .map(|host| host.trim_end_matches('.').to_ascii_lowercase())
                }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> OriginSecret {
        OriginSecret::new("s".repeat(40), None)
    }

    #[test]
    fn the_secret_verifies_only_itself_and_never_shows() {
        assert!(secret().verifies(Some(&"s".repeat(40))));
        assert!(!secret().verifies(Some(&"s".repeat(39))));
        assert!(!secret().verifies(None));
        assert!(via_cdn(None, None), "no secret configured: everything passes");
        assert!(!via_cdn(Some(&secret()), Some("wrong")));
        assert_eq!(format!("{:?}", secret()), "OriginSecret(<redacted>)");
    }

    /// During a rotation CloudFront's edges send either value for a few minutes: both pass.
    #[test]
    fn the_previous_secret_passes_while_the_new_one_rolls_out() {
        let rotating = OriginSecret::new("n".repeat(40), Some("o".repeat(40)));
        assert!(rotating.verifies(Some(&"n".repeat(40))));
        assert!(rotating.verifies(Some(&"o".repeat(40))));
        assert!(!rotating.verifies(Some(&"x".repeat(40))));
    }

    #[test]
    fn a_declared_origin_names_a_host_or_nothing_usable() {
        let declared = |origin, referer| DeclaredOrigin { origin, referer }.host();
        assert_eq!(declared(None, None), None, "a server-side sender declares nothing");
        assert_eq!(
            declared(Some("https://Blog.Example.com"), Some("https://evil.example/x")),
            Some(Some("blog.example.com".into())),
            "Origin wins over Referer"
        );
        assert_eq!(
            declared(None, Some("https://example.com/page?q=1")),
            Some(Some("example.com".into()))
        );
        assert_eq!(declared(Some("null"), None), Some(None));
        assert_eq!(declared(Some("chrome-extension://abc"), None), Some(None));
    }
}
