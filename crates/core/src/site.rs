//! Sites: who may send hits, from which hostnames, and who may read the numbers.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::spread::Spreads;

/// A site identifier, `[A-Za-z0-9_.-]{1,64}`.
///
/// Site ids become DynamoDB key fragments (`SITE#{id}`), so the only way to get one is [`SiteId::parse`]:
/// a `#` (or anything else outside the alphabet) can never reach a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SiteId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("site id must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.', '-'")]
pub struct SiteIdError;

impl SiteId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, SiteIdError> {
        let valid_char = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        if raw.is_empty() || raw.len() > Self::MAX_LEN || !raw.bytes().all(valid_char) {
            return Err(SiteIdError);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteId {
    // `pad`, so that the admin CLI's tables line up (`{:<32}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<'de> Deserialize<'de> for SiteId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        SiteId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A registered site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    /// Lower-case hostnames; each allows itself and its subdomains.
    pub domains: Vec<String>,
    /// A public site's numbers can be read without a token.
    pub public: bool,
    pub token_hash: TokenHash,
    /// What counts as a conversion (at most [`crate::goal::MAX_GOALS_PER_SITE`]).
    #[serde(default)]
    pub goals: Vec<crate::goal::Goal>,
    /// Whether outbound click URLs keep their query string (`site create --keep-outbound-query`). Off by
    /// default: a link's query often carries tokens or e-mail addresses (see
    /// [`crate::enrich::outbound_url`]). Registry items from before the setting read as off.
    #[serde(default)]
    pub keep_outbound_query: bool,
    /// How many keys its writes are spread over, and since when ([`crate::spread`]).
    #[serde(default)]
    pub spreads: Spreads,
}

impl Site {
    /// A private site without goals whose outbound click URLs keep only scheme, host and path: what
    /// `site create` makes without flags. The other settings by [`Self::public`], [`Self::with_goals`]
    /// and [`Self::keeping_outbound_query`].
    pub fn new(id: SiteId, domains: Vec<String>, token_hash: TokenHash) -> Self {
        Self {
            id,
            domains,
            public: false,
            token_hash,
            goals: Vec::new(),
            keep_outbound_query: false,
            spreads: Spreads::default(),
        }
    }

    pub fn public(mut self, public: bool) -> Self {
        self.public = public;
        self
    }

    pub fn with_goals(mut self, goals: Vec<crate::goal::Goal>) -> Self {
        self.goals = goals;
        self
    }

    pub fn keeping_outbound_query(mut self, keep: bool) -> Self {
        self.keep_outbound_query = keep;
        self
    }

    pub fn with_spreads(mut self, spreads: Spreads) -> Self {
        self.spreads = spreads;
        self
    }

    /// Whether a reader presenting `token` (if any) may see this site's numbers.
    pub fn readable_with(&self, token: Option<&str>) -> bool {
        self.public || token.is_some_and(|token| self.token_hash.verifies(token))
    }

    /// Whether a page on `host` may send hits for this site: the host itself or any subdomain of an allowed
    /// domain (`blog.example.com` matches `example.com`; `badexample.com` does not).
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.domains.iter().any(|domain| host_matches(host, domain))
    }
}

fn host_matches(host: &str, domain: &str) -> bool {
    if host.eq_ignore_ascii_case(domain) {
        return true;
    }
    host.len() > domain.len()
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
}

/// Normalises and checks a hostname given to `site create --domain`.
pub fn parse_domain(raw: &str) -> Result<String, DomainError> {
    let domain = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if domain.is_empty() || domain.len() > 253 || !domain.split('.').all(label_ok) {
        return Err(DomainError(raw.to_owned()));
    }
    Ok(domain)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a hostname (letters, digits and '-' in dot-separated labels)")]
pub struct DomainError(String);

/// A site's read token. It is shown once when created and only its hash is stored.
pub struct ReadToken(String);

impl ReadToken {
    /// 32 random bytes, base64url: 256 bits, so a plain SHA-256 of it is a safe verifier (no salt or
    /// slow hash needed: nothing to brute-force).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        Self(format!(
            "pt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// Hex SHA-256 of a read token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(hex::encode(Sha256::digest(token.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison against a presented token.
    pub fn verifies(&self, presented: &str) -> bool {
        TokenHash::of(presented).0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_id_accepts_the_documented_alphabet() {
        for ok in ["a", "my-site", "Site_1.example", &"x".repeat(64)] {
            assert!(SiteId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn site_id_rejects_key_separators_and_other_characters() {
        for bad in ["", "a#b", "SITE#x", "a b", "ä", "a/b", &"x".repeat(65)] {
            assert_eq!(SiteId::parse(bad), Err(SiteIdError), "{bad:?}");
        }
    }

    #[test]
    fn a_site_id_honours_width_as_it_stays_a_key_fragment() {
        let id = SiteId::parse("shop").unwrap();
        assert_eq!(format!("{id:<6}|"), "shop  |");
        assert_eq!(format!("SITE#{id}"), "SITE#shop");
    }

    fn site(domains: &[&str]) -> Site {
        Site::new(
            SiteId::parse("s").unwrap(),
            domains.iter().map(|d| d.to_string()).collect(),
            TokenHash::of("t"),
        )
    }

    #[test]
    fn host_matches_itself_and_subdomains_only() {
        let site = site(&["example.com"]);
        assert!(site.allows_host("example.com"));
        assert!(site.allows_host("blog.example.com"));
        assert!(site.allows_host("a.b.EXAMPLE.com"));
        assert!(site.allows_host("example.com."));
        assert!(!site.allows_host("badexample.com"));
        assert!(!site.allows_host("example.com.evil.net"));
        assert!(!site.allows_host("com"));
    }

    #[test]
    fn token_hash_verifies_only_its_token() {
        let token = ReadToken::generate();
        let hash = token.hash();
        assert!(hash.verifies(token.expose()));
        assert!(!hash.verifies("pt_wrong"));
        assert_eq!(hash.as_str().len(), 64);
        assert_ne!(ReadToken::generate().expose(), token.expose());
    }

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(parse_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(parse_domain("localhost").unwrap(), "localhost");
        assert!(parse_domain("exa mple.com").is_err());
        assert!(parse_domain("https://example.com").is_err());
        assert!(parse_domain("").is_err());
    }
}
