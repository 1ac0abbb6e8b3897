//! The table's key layout. Keys are built only from validated newtypes ([`SiteId`], [`EventId`]), so an
//! untrusted `#` can never reach a key. The README's item table documents the same layout.

use chrono::{DateTime, NaiveDate, Utc};
use pulse_core::live::ConnectionId;
use pulse_core::realtime::Minute;
use pulse_core::spread::Spread;
use pulse_core::{EventKind, EventSlot, SiteId, StoredEvent};

/// Partition of the site registry: one item per site, listable with one Query.
pub const SITES_PK: &str = "SITES";
/// Partition of the daily visitor-id salts.
pub const SALT_PK: &str = "SALT";
/// Partition prefix of a site's per-second hit counters in the short-lived table (see `pulse_core::rate`).
pub const RATE_PREFIX: &str = "RATE#";

/// Partition prefix of everything that belongs to one site.
pub const SITE_PREFIX: &str = "SITE#";
pub const PAGEVIEW_PREFIX: &str = "PV#";
pub const EVENT_PREFIX: &str = "EV#";
/// Events keyed by a client id that carries no time ([`EventSlot::ByClientId`]).
pub const CLIENT_ID_PREFIX: &str = "ID#";
/// The sort-key prefixes of raw events: what the stream consumers read (the template's filters and the
/// stream decoder are checked against this list).
pub const RAW_EVENT_PREFIXES: [&str; 3] = [PAGEVIEW_PREFIX, EVENT_PREFIX, CLIENT_ID_PREFIX];
pub const ROLLUP_PREFIX: &str = "RT#";
/// Fingerprint buckets (rollup table): outside the `RT#` range the realtime view queries.
pub const FINGERPRINT_PREFIX: &str = "FP#";
pub const CONNECTION_PREFIX: &str = "CONN#";
/// Partition prefix of one site's open dashboard connections: apart from the site's raw events, so that
/// the WebSocket functions' permissions (`dynamodb:LeadingKeys`) reach connections and nothing else.
pub const LIVE_PREFIX: &str = "LIVE#";
/// Sort key of a connection's own item (pk `CONN#{id}`).
pub const CONNECTION_SK: &str = "CONN";
/// Sort key prefix of a site's connection slots under `LIVE#{site}`: a site has as many slots as its
/// cap, and a connection is admitted by a conditional put of a free one, so the cap holds exactly.
pub const SLOT_PREFIX: &str = "SLOT#";

/// The events table's sparse index of events by receive time (template.yaml, `GlobalSecondaryIndexes`):
/// only events whose sort key is not near their receive time carry its key, [`FEED_KEY`].
pub const FEED_INDEX: &str = "feed";
/// Sort key attribute of [`FEED_INDEX`] (its partition key is the table's `pk`).
pub const FEED_KEY: &str = "fk";

/// Sorts after every character used in timestamps, minutes and ids: closes a `BETWEEN` range.
const RANGE_END: char = '~';

/// `SITE#{site}` for a site's first spread, `SITE#{site}#{k}` for its spread `k`
/// ([`pulse_core::spread`]): the partition of the spread's raw events, and in the rollup table of the
/// rollups folded from them. Site ids cannot hold a `#`, so the two forms never meet.
pub fn spread_pk(site: &SiteId, spread: Spread) -> String {
    if spread.is_first() {
        format!("{SITE_PREFIX}{site}")
    } else {
        format!("{SITE_PREFIX}{site}#{spread}")
    }
}

/// Every partition key a site's raw events or rollups can have, for a purge: whatever spreads it has
/// had, they are among these.
pub fn every_spread_pk(site: &SiteId) -> impl Iterator<Item = String> + '_ {
    (0..pulse_core::spread::MAX_SPREADS)
        .map(|index| Spread::try_from(index).expect("below the limit"))
        .map(move |spread| spread_pk(site, spread))
}

/// `SITE#{site}` under [`SITES_PK`].
pub fn registry_sk(site: &SiteId) -> String {
    format!("{SITE_PREFIX}{site}")
}

/// The key of a site's registry item (`SITES` / `SITE#{site}`).
pub fn registry_key(site: &SiteId) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    std::collections::HashMap::from([
        ("pk".to_owned(), AttributeValue::S(SITES_PK.into())),
        ("sk".to_owned(), AttributeValue::S(registry_sk(site))),
    ])
}

/// The site a registry sort key names; `None` for anything else.
pub fn registry_site(sk: &str) -> Option<SiteId> {
    SiteId::parse(sk.strip_prefix(SITE_PREFIX)?).ok()
}

/// `PV#{ts}#{id}` for page views, `EV#{ts}#{id}` for custom events and outbound clicks, where `ts` is the
/// event's slot time (fixed-width ISO 8601 with milliseconds, so a site's events sort by time); `ID#{id}`
/// for an event whose client id carries no time. A function of the hit alone: a retry lands on the same key.
pub fn event_sk(event: &StoredEvent) -> String {
    match event.slot() {
        EventSlot::Timed(at) => format!(
            "{}{}#{}",
            kind_prefix(event.kind()),
            pulse_core::time::iso_millis(at),
            event.id
        ),
        EventSlot::ByClientId => format!("{CLIENT_ID_PREFIX}{}", event.id),
    }
}

fn kind_prefix(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Pageview => PAGEVIEW_PREFIX,
        EventKind::Event | EventKind::Outbound => EVENT_PREFIX,
    }
}

/// Whether a table key is a raw event's.
pub fn is_raw_event_key(pk: &str, sk: &str) -> bool {
    pk.starts_with(SITE_PREFIX) && RAW_EVENT_PREFIXES.iter().any(|prefix| sk.starts_with(prefix))
}

/// The sort keys of one kind's events that may have been received at or after `since`, as a `BETWEEN`
/// range: slots from [`pulse_core::event::FEED_SLOT_TOLERANCE`] before it (further off, an event also
/// has a [`feed_key`]).
pub fn event_sk_range(kind: EventKind, since: DateTime<Utc>) -> (String, String) {
    time_range(kind, since - pulse_core::event::FEED_SLOT_TOLERANCE)
}

/// `PV#{received}#{id}` or `EV#{received}#{id}` for an event the feed cannot find by its sort key
/// ([`StoredEvent::needs_feed_key`]), `None` for the others: the index stays sparse, so it costs a write
/// only for those.
pub fn feed_key(event: &StoredEvent) -> Option<String> {
    event.needs_feed_key().then(|| {
        format!(
            "{}{}#{}",
            kind_prefix(event.kind()),
            pulse_core::time::iso_millis(event.ts),
            event.id
        )
    })
}

/// The feed keys of one kind's events received at or after `since`, as a `BETWEEN` range.
pub fn feed_key_range(kind: EventKind, since: DateTime<Utc>) -> (String, String) {
    time_range(kind, since)
}

fn time_range(kind: EventKind, from: DateTime<Utc>) -> (String, String) {
    let prefix = kind_prefix(kind);
    (
        format!("{prefix}{}", pulse_core::time::iso_millis(from)),
        format!("{prefix}{RANGE_END}"),
    )
}

/// `RT#{yyyy-mm-ddThh:mm}#c`: one site's counts of one minute.
pub fn rollup_counts_sk(minute: Minute) -> String {
    format!("{ROLLUP_PREFIX}{minute}#c")
}

/// `RT#{yyyy-mm-ddThh:mm}#v{index}`: one of a minute's visitor parts.
pub fn rollup_part_sk(minute: Minute, index: usize) -> String {
    format!("{ROLLUP_PREFIX}{minute}#v{index:03}")
}

/// `FP#{yyyy-mm-ddThh:mm}#{index}`: one of a minute's fingerprint buckets, read only by the fold.
pub fn rollup_bucket_sk(minute: Minute, index: u8) -> String {
    format!("{FINGERPRINT_PREFIX}{minute}#{index:02}")
}

/// What a rollup sort key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollupSlot {
    Counts,
    Part(usize),
}

/// Lower bound of the rollups from `minute` on.
pub fn rollup_sk_from(minute: Minute) -> String {
    format!("{ROLLUP_PREFIX}{minute}")
}

/// Upper bound of the rollups through `minute`, counts and every part.
pub fn rollup_sk_through(minute: Minute) -> String {
    format!("{ROLLUP_PREFIX}{minute}#{RANGE_END}")
}

pub fn rollup_slot(sk: &str) -> Option<(Minute, RollupSlot)> {
    let rest = sk.strip_prefix(ROLLUP_PREFIX)?;
    let (minute, slot) = rest.split_once('#')?;
    let slot = match slot {
        "c" => RollupSlot::Counts,
        part => RollupSlot::Part(part.strip_prefix('v')?.parse().ok()?),
    };
    Some((Minute::parse(minute).ok()?, slot))
}

/// `LIVE#{site}`: one site's open connections.
pub fn live_pk(site: &SiteId) -> String {
    format!("{LIVE_PREFIX}{site}")
}

/// `CONN#{id}` under [`live_pk`]: a broadcast finds a site's connections with one Query.
pub fn connection_sk(connection: &ConnectionId) -> String {
    format!("{CONNECTION_PREFIX}{connection}")
}

/// `SLOT#{n}` (zero-padded) under [`live_pk`]: the `n`-th of a site's connection slots.
pub fn slot_sk(slot: usize) -> String {
    format!("{SLOT_PREFIX}{slot:06}")
}

/// The connection a `CONN#{id}` sort key under [`live_pk`] names.
pub fn connection_of_sk(sk: &str) -> Option<ConnectionId> {
    sk.strip_prefix(CONNECTION_PREFIX).and_then(ConnectionId::parse)
}

/// `CONN#{id}`: the connection's own partition, so `$disconnect` (which knows only the id) finds its site.
pub fn connection_pk(connection: &ConnectionId) -> String {
    format!("{CONNECTION_PREFIX}{connection}")
}

/// `RATE#{site}`: one site's hit counters, one item a second.
pub fn rate_pk(site: &SiteId) -> String {
    format!("{RATE_PREFIX}{site}")
}

/// `{unix second}` under [`rate_pk`].
pub fn rate_sk(second: i64) -> String {
    second.to_string()
}

/// `DAY#{yyyy-mm-dd}` under [`SALT_PK`].
pub fn salt_sk(day: NaiveDate) -> String {
    format!("DAY#{}", day.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pulse_core::memory::sample_event;

    #[test]
    fn event_keys_sort_by_time_and_carry_the_kind() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap() + chrono::Duration::milliseconds(5);
        let pageview = sample_event(EventKind::Pageview, "abc", at);
        assert_eq!(event_sk(&pageview), "PV#2026-01-15T10:30:12.005Z#abc");
        assert_eq!(
            event_sk(&sample_event(EventKind::Outbound, "abc", at)),
            "EV#2026-01-15T10:30:12.005Z#abc"
        );
        assert_eq!(
            spread_pk(&SiteId::parse("my-site").unwrap(), Spread::FIRST),
            "SITE#my-site"
        );
        let third = Spread::try_from(3).unwrap();
        assert_eq!(spread_pk(&SiteId::parse("my-site").unwrap(), third), "SITE#my-site#3");
        assert_eq!(every_spread_pk(&SiteId::parse("s").unwrap()).count(), 64);
        let site = SiteId::parse("my-site").unwrap();
        assert_eq!(registry_site(&registry_sk(&site)), Some(site));
        assert_eq!(registry_site("SITE#a#b"), None);
        assert_eq!(registry_site("my-site"), None);
        assert_eq!(salt_sk(at.date_naive()), "DAY#2026-01-15");
        let minute = Minute::of(at);
        assert_eq!(rollup_counts_sk(minute), "RT#2026-01-15T10:30#c");
        assert_eq!(rollup_part_sk(minute, 3), "RT#2026-01-15T10:30#v003");
        assert_eq!(
            rollup_slot(&rollup_part_sk(minute, 3)),
            Some((minute, RollupSlot::Part(3)))
        );
        assert_eq!(
            rollup_slot(&rollup_counts_sk(minute)),
            Some((minute, RollupSlot::Counts))
        );
        assert_eq!(rollup_slot("RT#2026-01-15T10:30#x"), None);
        // The counts and every part of the last minute sort inside the range; the next minute does not.
        assert!(rollup_counts_sk(minute) < rollup_sk_through(minute));
        assert!(rollup_part_sk(minute, 999) < rollup_sk_through(minute));
        assert!(rollup_part_sk(minute.plus(1), 0) > rollup_sk_through(minute));
        assert!(rollup_part_sk(minute, 0) > rollup_sk_from(minute));
        // Buckets sort outside every window's range, and the view's read cost does not include them.
        assert_eq!(rollup_bucket_sk(minute, 7), "FP#2026-01-15T10:30#07");
        assert!(rollup_bucket_sk(minute, 99) < rollup_sk_from(minute.plus(-30)));
        assert_eq!(rollup_slot(&rollup_bucket_sk(minute, 7)), None);
        let (from, through) = event_sk_range(EventKind::Pageview, at);
        let key = event_sk(&pageview);
        assert!(from <= key && key < through);
        assert!(is_raw_event_key(&spread_pk(&pageview.site, Spread::FIRST), &key));
        assert!(is_raw_event_key(&spread_pk(&pageview.site, third), &key));
        assert!(!is_raw_event_key(
            &spread_pk(&pageview.site, Spread::FIRST),
            &rollup_counts_sk(minute)
        ));
    }

    /// A retry of a hit lands on the same key: for a time-ordered client id the key's time is the id's own,
    /// not the (later) receive time; other client ids key the event by the id alone.
    #[test]
    fn client_ids_key_the_event_by_the_hit_alone() {
        // UUIDv7 of 2026-01-15T10:30:12.005Z (0x019bc134a725 ms).
        let uuid = "019bc134-a725-7abc-8def-0123456789ab";
        let id_time = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap() + chrono::Duration::milliseconds(5);
        let key_when_received = |id: &str, received: DateTime<Utc>| {
            let mut event = sample_event(EventKind::Pageview, id, received);
            event.client_id = true;
            event_sk(&event)
        };
        let first = key_when_received(uuid, id_time + chrono::Duration::milliseconds(40));
        assert_eq!(first, format!("PV#2026-01-15T10:30:12.005Z#{uuid}"));
        assert_eq!(key_when_received(uuid, id_time + chrono::Duration::seconds(3)), first);
        assert_eq!(key_when_received(uuid, id_time + chrono::Duration::hours(1)), first);
        // The same id in other spellings, and a ULID of the same millisecond.
        assert_eq!(
            key_when_received(&uuid.replace('-', ""), id_time + chrono::Duration::seconds(1)),
            format!("PV#2026-01-15T10:30:12.005Z#{}", uuid.replace('-', ""))
        );
        let ulid = "01KF0K99S5ABCDEFGHJKMNPQRS";
        assert_eq!(
            key_when_received(ulid, id_time + chrono::Duration::seconds(1)),
            format!("PV#2026-01-15T10:30:12.005Z#{ulid}")
        );
        // Not time-ordered, or a time too far from the receive time: keyed by the id alone.
        assert_eq!(key_when_received("evt_01HZX3", id_time), "ID#evt_01HZX3");
        assert_eq!(
            key_when_received(uuid, id_time - chrono::Duration::minutes(10)),
            format!("ID#{uuid}")
        );
        assert_eq!(
            key_when_received(uuid, id_time + chrono::Duration::hours(25)),
            format!("ID#{uuid}")
        );
        let v4 = "019bc134-a725-4abc-8def-0123456789ab";
        assert_eq!(key_when_received(v4, id_time), format!("ID#{v4}"));
    }

    /// Every event is found by the feed, by its sort key or by its feed key, whatever its id: one key
    /// near its receive time, never both far from it.
    #[test]
    fn every_event_has_a_key_near_its_receive_time() {
        let received = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let uuid_v7_at = |at: DateTime<Utc>| {
            let millis = at.timestamp_millis() as u64;
            format!("{:08x}-{:04x}-7abc-8def-0123456789ab", millis >> 16, millis & 0xffff)
        };
        let cases = [
            ("server id", None),
            ("uuid v4", Some("019bc134-a725-4abc-8def-0123456789ab".to_owned())),
            ("arbitrary", Some("evt_01HZX3".to_owned())),
            (
                "fresh v7",
                Some(uuid_v7_at(received - chrono::Duration::milliseconds(300))),
            ),
            (
                "v7 an hour behind",
                Some(uuid_v7_at(received - chrono::Duration::hours(1))),
            ),
            (
                "v7 a minute ahead",
                Some(uuid_v7_at(received + chrono::Duration::minutes(1))),
            ),
            (
                "v7 a day behind",
                Some(uuid_v7_at(received - chrono::Duration::hours(30))),
            ),
        ];
        let since = received - chrono::Duration::minutes(5);
        for (case, id) in cases {
            let mut event = sample_event(EventKind::Pageview, id.as_deref().unwrap_or("srv"), received);
            event.client_id = id.is_some();
            let (from, through) = event_sk_range(EventKind::Pageview, since);
            let sk = event_sk(&event);
            let by_sort_key = from <= sk && sk < through;
            let by_feed_key = feed_key(&event).is_some_and(|fk| {
                let (from, through) = feed_key_range(EventKind::Pageview, since);
                from <= fk && fk < through
            });
            assert!(by_sort_key || by_feed_key, "{case}: {sk}");
            // The index holds only the events whose sort key is far from their receive time.
            let sort_key_near = matches!(case, "server id" | "fresh v7");
            assert_eq!(feed_key(&event).is_none(), sort_key_near, "{case}: {sk}");
        }
    }
}
