//! The table's key layout. Keys are built only from validated newtypes ([`SiteId`], [`EventId`]), so an
//! untrusted `#` can never reach a key. The README's item table documents the same layout.

use chrono::{DateTime, NaiveDate, Utc};
use pulse_core::live::ConnectionId;
use pulse_core::realtime::Minute;
use pulse_core::{EventId, EventKind, SiteId};

/// Partition of the site registry: one item per site, listable with one Query.
pub const SITES_PK: &str = "SITES";
/// Partition of the daily visitor-id salts.
pub const SALT_PK: &str = "SALT";

pub const PAGEVIEW_PREFIX: &str = "PV#";
pub const EVENT_PREFIX: &str = "EV#";
pub const CLIENT_ID_PREFIX: &str = "ID#";
pub const ROLLUP_PREFIX: &str = "RT#";
pub const CONNECTION_PREFIX: &str = "CONN#";
/// Sort key of a connection's own item (pk `CONN#{id}`).
pub const CONNECTION_SK: &str = "CONN";

/// Sorts after every character used in timestamps, minutes and ids: closes a `BETWEEN` range.
const RANGE_END: char = '~';

/// `SITE#{site}`: a site's raw events (and later its rollups and connections).
pub fn site_pk(site: &SiteId) -> String {
    format!("SITE#{site}")
}

/// `SITE#{site}` under [`SITES_PK`].
pub fn registry_sk(site: &SiteId) -> String {
    site_pk(site)
}

/// `PV#{ts}#{id}` for page views, `EV#{ts}#{id}` for custom events and outbound clicks. The timestamp is
/// fixed-width ISO 8601 with milliseconds, so a site's events sort by time.
pub fn event_sk(kind: EventKind, at: DateTime<Utc>, id: &EventId) -> String {
    let prefix = match kind {
        EventKind::Pageview => PAGEVIEW_PREFIX,
        EventKind::Event | EventKind::Outbound => EVENT_PREFIX,
    };
    format!("{prefix}{}#{id}", pulse_core::time::iso_millis(at))
}

/// The sort keys of one kind's events received at or after `since`, as a `BETWEEN` range.
pub fn event_sk_range(kind: EventKind, since: DateTime<Utc>) -> (String, String) {
    let prefix = match kind {
        EventKind::Pageview => PAGEVIEW_PREFIX,
        EventKind::Event | EventKind::Outbound => EVENT_PREFIX,
    };
    (
        format!("{prefix}{}", pulse_core::time::iso_millis(since)),
        format!("{prefix}{RANGE_END}"),
    )
}

/// `RT#{yyyy-mm-ddThh:mm}#{shard}`: one site's rollup of one minute (one shard of it).
pub fn rollup_sk(minute: Minute, shard: u8) -> String {
    format!("{ROLLUP_PREFIX}{minute}#{shard:02}")
}

/// Lower bound of the rollups from `minute` on.
pub fn rollup_sk_from(minute: Minute) -> String {
    format!("{ROLLUP_PREFIX}{minute}")
}

/// Upper bound of the rollups through `minute`, all shards.
pub fn rollup_sk_through(minute: Minute) -> String {
    format!("{ROLLUP_PREFIX}{minute}#{RANGE_END}")
}

pub fn rollup_minute(sk: &str) -> Option<Minute> {
    let rest = sk.strip_prefix(ROLLUP_PREFIX)?;
    let (minute, _shard) = rest.split_once('#')?;
    Minute::parse(minute).ok()
}

/// `CONN#{id}` under the site: a broadcast finds a site's connections with one Query.
pub fn connection_sk(connection: &ConnectionId) -> String {
    format!("{CONNECTION_PREFIX}{connection}")
}

/// `CONN#{id}`: the connection's own partition, so `$disconnect` (which knows only the id) finds its site.
pub fn connection_pk(connection: &ConnectionId) -> String {
    format!("{CONNECTION_PREFIX}{connection}")
}

/// `ID#{id}`: marks a client event id as used for the site, so a retry stores nothing new.
pub fn client_id_sk(id: &EventId) -> String {
    format!("{CLIENT_ID_PREFIX}{id}")
}

/// `DAY#{yyyy-mm-dd}` under [`SALT_PK`].
pub fn salt_sk(day: NaiveDate) -> String {
    format!("DAY#{}", day.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn event_keys_sort_by_time_and_carry_the_kind() {
        let id = EventId::parse("abc").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap() + chrono::Duration::milliseconds(5);
        assert_eq!(
            event_sk(EventKind::Pageview, at, &id),
            "PV#2026-01-15T10:30:12.005Z#abc"
        );
        assert_eq!(
            event_sk(EventKind::Outbound, at, &id),
            "EV#2026-01-15T10:30:12.005Z#abc"
        );
        assert_eq!(site_pk(&SiteId::parse("my-site").unwrap()), "SITE#my-site");
        assert_eq!(salt_sk(at.date_naive()), "DAY#2026-01-15");
        let minute = Minute::of(at);
        assert_eq!(rollup_sk(minute, 3), "RT#2026-01-15T10:30#03");
        assert_eq!(rollup_minute(&rollup_sk(minute, 3)), Some(minute));
        // Every shard of the last minute sorts inside the range; the next minute does not.
        assert!(rollup_sk(minute, 15) < rollup_sk_through(minute));
        assert!(rollup_sk(minute.plus(1), 0) > rollup_sk_through(minute));
        assert!(rollup_sk(minute, 0) > rollup_sk_from(minute));
        let (from, through) = event_sk_range(EventKind::Pageview, at);
        let key = event_sk(EventKind::Pageview, at, &id);
        assert!(from <= key && key < through);
    }
}
