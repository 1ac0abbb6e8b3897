//! The stored, enriched event: one per accepted hit.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::realtime::Fingerprint;
use crate::site::SiteId;
use crate::spread::Spread;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Pageview,
    Event,
    Outbound,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Pageview => "pageview",
            EventKind::Event => "event",
            EventKind::Outbound => "outbound",
        }
    }
}

/// An event id, `[A-Za-z0-9_-]{1,64}`: the client's `id` when it sent one, otherwise random.
/// It is the last fragment of the event's sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EventId(String);

impl EventId {
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        valid.then(|| Self(raw.to_owned()))
    }

    /// 96 random bits: collisions within one site and millisecond are not a practical concern.
    pub fn random() -> Self {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The millisecond timestamp a time-ordered id carries: a UUIDv7 (canonical, or 32 hex digits) or a
    /// ULID. `None` for any other id.
    pub fn embedded_time(&self) -> Option<DateTime<Utc>> {
        let millis = uuid_v7_millis(&self.0).or_else(|| ulid_millis(&self.0))?;
        DateTime::from_timestamp_millis(i64::try_from(millis).ok()?)
    }
}

/// The first 48 bits of a UUIDv7 are its Unix time in milliseconds. The version nibble must be 7 and the
/// variant bits `10`, so that an arbitrary 32-hex-digit id is not mistaken for one.
fn uuid_v7_millis(raw: &str) -> Option<u64> {
    let hex: String = match raw.len() {
        36 => {
            let dashes = [8, 13, 18, 23];
            let well_formed = raw.char_indices().all(|(i, c)| {
                if dashes.contains(&i) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
            well_formed.then(|| raw.replace('-', ""))?
        }
        32 if raw.bytes().all(|b| b.is_ascii_hexdigit()) => raw.to_owned(),
        _ => return None,
    };
    let version = hex.as_bytes()[12];
    let variant = u8::from_str_radix(&hex[16..17], 16).ok()?;
    if version != b'7' || variant & 0b1100 != 0b1000 {
        return None;
    }
    u64::from_str_radix(&hex[..12], 16).ok()
}

/// A ULID: 26 Crockford base32 characters, the first 10 of which are 48 bits of Unix milliseconds.
fn ulid_millis(raw: &str) -> Option<u64> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if raw.len() != 26 {
        return None;
    }
    let mut value: u128 = 0;
    for byte in raw.bytes() {
        let digit = ALPHABET.iter().position(|&c| c == byte.to_ascii_uppercase())?;
        value = (value << 5) | digit as u128;
    }
    // 130 bits of text for 128 bits of value: the first character can only be 0–7.
    if raw.as_bytes()[0] > b'7' {
        return None;
    }
    Some((value >> 80) as u64)
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        EventId::parse(&raw).ok_or_else(|| serde::de::Error::custom("invalid event id"))
    }
}

/// A custom property value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PropValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

/// Every attribute of a stored event except the table keys and `ttl`. Field names are the item's
/// attribute names (documented in the README). No raw IP, User-Agent, page query string or full referrer
/// URL is kept, nor an outbound link's query unless its site opted in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub site: SiteId,
    /// What the event is, with what its kind carries: stored as `kind`, `name`, `value` and `url`.
    #[serde(flatten)]
    pub detail: EventDetail,
    pub id: EventId,
    /// Server receive time.
    #[serde(with = "millis_timestamp")]
    pub ts: DateTime<Utc>,
    /// Keyed hash of (site, client IP, User-Agent) under the day's salt.
    pub visitor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub host: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Referrer host; absent for direct visits and self-referrals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// ISO 3166-1 alpha-2, from the CDN's viewer-country header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sw: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sh: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub props: BTreeMap<String, PropValue>,
    /// Whether the client supplied `id`, which makes retries idempotent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_id: bool,
    /// The site's goals this event completed, matched when it was collected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<crate::goal::GoalHit>,
    /// The raw item's keyed fingerprint, which makes the realtime counts exactly-once; set by collect.
    /// Absent on items written before collect stored it (see [`Fingerprint::of`]).
    #[serde(rename = "fp", default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
    /// The site's spread the item is stored under ([`crate::spread`]); absent, the first, on items
    /// from before spreads and on every item of a site with one spread.
    #[serde(rename = "sp", default, skip_serializing_if = "Spread::is_first")]
    pub spread: Spread,
}

/// What each kind of event carries besides what every event has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EventDetail {
    Pageview,
    /// A custom event.
    Event {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<f64>,
    },
    /// A click on a link to another site: `url` as [`crate::enrich::outbound_url`] reduces it.
    Outbound {
        url: String,
    },
}

impl EventDetail {
    pub fn kind(&self) -> EventKind {
        match self {
            EventDetail::Pageview => EventKind::Pageview,
            EventDetail::Event { .. } => EventKind::Event,
            EventDetail::Outbound { .. } => EventKind::Outbound,
        }
    }
}

impl StoredEvent {
    pub fn kind(&self) -> EventKind {
        self.detail.kind()
    }

    /// A custom event's name.
    pub fn name(&self) -> Option<&str> {
        match &self.detail {
            EventDetail::Event { name, .. } => Some(name),
            _ => None,
        }
    }

    /// A custom event's value.
    pub fn value(&self) -> Option<f64> {
        match &self.detail {
            EventDetail::Event { value, .. } => *value,
            _ => None,
        }
    }
}

/// How far a time-ordered client id's own time may lie before the receive time and still place the event:
/// the tracker's retries (and a beacon queued offline) arrive within it, and it covers the raw events'
/// default lifetime, so a retry is recognised for as long as the first copy exists.
pub const MAX_ID_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How far a client id's time may lie after the receive time (a client clock running ahead).
pub const MAX_ID_LEAD: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Where an event is stored among its site's items. The slot is what a retry of the same hit lands on, so
/// one conditional write both stores the event and recognises the retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSlot {
    /// Ordered by this time, then by event id: the receive time for server-made ids, the id's own time for
    /// a time-ordered client id (UUIDv7, ULID) within [`MAX_ID_AGE`] and [`MAX_ID_LEAD`] of it.
    Timed(DateTime<Utc>),
    /// Keyed by the client id alone: a client id that carries no usable time. The feed finds such events
    /// by their receive time ([`StoredEvent::needs_feed_key`]).
    ByClientId,
}

/// How far an event's slot time may lie from its receive time for the feed to find it by the slot: the
/// feed reads slots from this much before its window and keeps what was received inside it. An event
/// further off (a client id without time, a client clock behind, a retry much later) is found by its
/// receive time instead.
pub const FEED_SLOT_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

impl StoredEvent {
    /// Whether the feed must find this event by its receive time: its slot is not within
    /// [`FEED_SLOT_TOLERANCE`] of it.
    pub fn needs_feed_key(&self) -> bool {
        match self.slot() {
            EventSlot::Timed(at) => (self.ts - at).abs() > FEED_SLOT_TOLERANCE,
            EventSlot::ByClientId => true,
        }
    }

    pub fn slot(&self) -> EventSlot {
        if !self.client_id {
            return EventSlot::Timed(self.ts);
        }
        match self.id.embedded_time() {
            Some(at) if at >= self.ts - MAX_ID_AGE && at <= self.ts + MAX_ID_LEAD => EventSlot::Timed(at),
            _ => EventSlot::ByClientId,
        }
    }
}

mod millis_timestamp {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::time::iso_millis(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
