//! Server-side enrichment: device, browser and OS from the User-Agent, bot detection, referrer host,
//! campaign parameters, country, and the visitor id.

use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::LazyLock;

use siphasher::sip128::{Hasher128, SipHasher13, SipHasher24};
use url::Url;

use crate::bot;
use crate::realtime::bucket::FingerprintKey;

/// Campaign parameter values are truncated to this many characters.
const MAX_UTM_CHARS: usize = 100;

// Built on first use rather than at init, as the bot list is: woothee compiles its regexes lazily anyway.
static UA_PARSER: LazyLock<woothee::parser::Parser> = LazyLock::new(woothee::parser::Parser::new);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgentInfo {
    /// `desktop`, `mobile`, `tablet` or `other`.
    pub device: &'static str,
    pub browser: Option<String>,
    pub os: Option<String>,
}

/// Classifies a User-Agent in one parse: `None` for known crawlers, link previewers, monitoring agents,
/// HTTP libraries and headless browsers (the project's bot list, see [`bot`], which covers `HeadlessChrome`
/// and Lighthouse, plus woothee's crawler category) and for a missing User-Agent, which no real browser
/// sends.
///
/// woothee has no tablet class, so its `smartphone` category is split: iPads, and Android devices without
/// the `Mobile` token (Google's documented convention), are tablets.
pub fn classify_user_agent(user_agent: &str) -> Option<UserAgentInfo> {
    let user_agent = user_agent.trim();
    if user_agent.is_empty() || bot::is_bot(user_agent) {
        return None;
    }
    let Some(ua) = UA_PARSER.parse(user_agent) else {
        return Some(UserAgentInfo {
            device: "other",
            browser: None,
            os: None,
        });
    };
    if ua.category == "crawler" {
        return None;
    }
    let is_tablet =
        ua.os == "iPad" || user_agent.contains("Tablet") || (ua.os == "Android" && !user_agent.contains("Mobile"));
    let device = match ua.category {
        "pc" => "desktop",
        "smartphone" | "mobilephone" if is_tablet => "tablet",
        "smartphone" | "mobilephone" => "mobile",
        _ => "other",
    };
    let known = |value: &str| (value != "UNKNOWN" && !value.is_empty()).then(|| value.to_owned());
    Some(UserAgentInfo {
        device,
        browser: known(ua.name),
        os: known(ua.os),
    })
}

/// The referrer's host, unless the visit came from the site itself (the page's own host or any host the
/// site allows): internal navigation is not a source of traffic.
pub fn referrer_host(referrer: Option<&Url>, is_own_host: impl Fn(&str) -> bool) -> Option<String> {
    let referrer = referrer?;
    if !matches!(referrer.scheme(), "http" | "https") {
        return None;
    }
    let host = referrer.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    (!is_own_host(&host)).then_some(host)
}

/// An outbound click's target as stored and pushed: scheme, host (with its port) and path. The query
/// goes too unless the site opted in (`keep_query`): links carry sign-in tokens, e-mail addresses and
/// session ids there. The fragment and any `user:password@` go always, opt-in or not: they are client
/// state and credentials, never where a link leads.
///
/// `raw` is a URL the hit parser already accepted; anything unparsable is cut at `?`/`#` as text.
pub fn outbound_url(raw: &str, keep_query: bool) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        let cut = if keep_query { &['#'][..] } else { &['?', '#'][..] };
        return raw.split(cut).next().unwrap_or_default().to_owned();
    };
    // Both fail only for URLs without a host, which have no user info to remove.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if !keep_query {
        url.set_query(None);
    }
    url.into()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Campaign {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
}

pub fn campaign(page: &Url) -> Campaign {
    let mut found = Campaign::default();
    for (key, value) in page.query_pairs() {
        let slot = match key.as_ref() {
            "utm_source" => &mut found.source,
            "utm_medium" => &mut found.medium,
            "utm_campaign" => &mut found.campaign,
            _ => continue,
        };
        let value = value.trim();
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.chars().take(MAX_UTM_CHARS).collect());
        }
    }
    found
}

/// An ISO 3166-1 alpha-2 code from a CDN header. `XX` (unknown) and `T1` (Tor) are not countries.
pub fn country(header_value: Option<&str>) -> Option<String> {
    let code = header_value?.trim();
    let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic());
    let code = code.to_ascii_uppercase();
    (valid && code != "XX" && code != "T1").then_some(code)
}

/// The day's secret salt. Visitor ids are a keyed hash under it, so they cannot be recomputed from an IP
/// and User-Agent once the salt is gone, and they change every day.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; 16]);

impl Salt {
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        Self(bytes)
    }

    pub fn from_hex(hex_str: &str) -> Option<Self> {
        let bytes = hex::decode(hex_str).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The day's key of the raw events' fingerprints: a PRF of the salt under a label of its own, so it
    /// is independent of the visitor ids' key and needs no secret of its own to store or rotate.
    pub fn fingerprint_key(&self) -> FingerprintKey {
        let mut hasher = SipHasher24::new_with_key(&self.0);
        hasher.write(b"pulse raw event fingerprint key v1");
        FingerprintKey::from_bytes(hasher.finish128().as_bytes())
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// SipHash-1-3 (a keyed PRF) of site, IP and User-Agent, 128 bits in hex. Fields are separated by NUL,
/// which none of them can contain, so distinct inputs cannot collide by concatenation.
pub fn visitor_id(salt: &Salt, site: &str, ip: IpAddr, user_agent: &str) -> String {
    let mut hasher = SipHasher13::new_with_key(&salt.0);
    hasher.write(site.as_bytes());
    hasher.write_u8(0);
    match ip {
        IpAddr::V4(v4) => hasher.write(&v4.octets()),
        IpAddr::V6(v6) => hasher.write(&v6.octets()),
    }
    hasher.write_u8(0);
    hasher.write(user_agent.as_bytes());
    format!("{:032x}", hasher.finish128().as_u128())
}

#[cfg(test)]
mod tests;
