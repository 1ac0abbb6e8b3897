use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::EventKind;
use crate::memory::sample_event;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, hour, minute, 0).unwrap()
}

#[test]
fn a_site_without_changes_has_one_spread_under_its_own_key() {
    let spreads = Spreads::default();
    let event = sample_event(EventKind::Pageview, "a", at(10, 0));
    assert_eq!(spreads.of(&event), Spread::FIRST);
    assert_eq!(spreads.in_use(), vec![Spread::FIRST]);
    assert_eq!(spreads.current(at(10, 0)), 1);
}

/// Spreads take events evenly, and an event's spread depends on its identity alone: the same hit
/// stored again (another path, another receive time of a retry) goes to the same spread.
#[test]
fn events_spread_evenly_and_a_retry_follows_its_first_copy() {
    let spreads = Spreads::default()
        .change_at(16, Minute::of(at(10, 0)), at(9, 50))
        .unwrap();
    let mut per_spread = [0usize; 16];
    for i in 0..16_000 {
        let event = sample_event(EventKind::Pageview, &format!("e{i}"), at(10, 5));
        per_spread[usize::from(spreads.of(&event).index())] += 1;
    }
    assert!(per_spread.iter().all(|&n| (800..1_200).contains(&n)), "{per_spread:?}");

    let id = "0190a5b0-0000-7000-8000-000000000000";
    let mut first = sample_event(EventKind::Pageview, id, at(10, 5));
    first.client_id = true;
    first.ts = first.id.embedded_time().unwrap();
    let mut retry = first.clone();
    retry.ts += Duration::hours(3);
    retry.path = "/elsewhere".into();
    retry.visitor = "f".repeat(32);
    assert_eq!(spreads.of(&retry), spreads.of(&first));
}

/// A change applies from its minute on, by the event's slot: a retry received after the change of a
/// hit whose slot is before it goes where its first copy went.
#[test]
fn a_change_applies_by_slot_minute() {
    let spreads = Spreads::default()
        .change_at(8, Minute::of(at(10, 0)), at(9, 50))
        .unwrap();
    assert_eq!(spreads.count_at(Minute::of(at(9, 59))), 1);
    assert_eq!(spreads.count_at(Minute::of(at(10, 0))), 8);
    let mut before = sample_event(EventKind::Pageview, "0190a5b0-0000-7000-8000-000000000000", at(9, 0));
    before.client_id = true;
    let slot = before.id.embedded_time().unwrap();
    assert!(slot < at(10, 0));
    before.ts = slot + Duration::hours(20);
    assert_eq!(spreads.of(&before), Spread::FIRST);
    assert_eq!(spreads.in_use().len(), 8);
}

/// The schedule keeps what a retry may still need, forgets the rest, and counts are bounded.
#[test]
fn changes_keep_a_day_of_history() {
    let start = at(0, 0);
    let spreads = Spreads::default().change_at(4, Minute::of(start), start).unwrap();
    let spreads = spreads.change_at(16, Minute::of(start).plus(60), start).unwrap();
    assert_eq!(spreads.changes().len(), 2);
    // A change scheduled again for the same minute replaces the pending one.
    let replaced = spreads.change_at(32, Minute::of(start).plus(60), start).unwrap();
    assert_eq!(replaced.count_at(Minute::of(start).plus(61)), 32);
    assert_eq!(replaced.changes().len(), 2);
    // Two days on, only the change in effect remains.
    let later = start + Duration::days(2);
    let shrunk = spreads.change_at(2, Minute::of(later), later).unwrap();
    assert_eq!(
        shrunk.changes(),
        &[
            SpreadChange {
                from: Minute::of(start).plus(60),
                count: 16
            },
            SpreadChange {
                from: Minute::of(later),
                count: 2
            }
        ]
    );
    // Back to one spread, a day and more later: nothing left to remember.
    let much_later = later + Duration::days(2);
    let single = shrunk.change_at(1, Minute::of(much_later), much_later).unwrap();
    let settled = single.change_at(
        1,
        Minute::of(much_later + Duration::days(2)),
        much_later + Duration::days(2),
    );
    assert_eq!(settled.unwrap(), Spreads::default());
    assert!(spreads.change_at(0, Minute::of(start), start).is_err());
    assert!(spreads.change_at(MAX_SPREADS + 1, Minute::of(start), start).is_err());
}

#[test]
fn spreads_are_stored_as_minutes_and_counts() {
    let spreads = Spreads::default()
        .change_at(16, Minute::of(at(10, 0)), at(9, 50))
        .unwrap();
    let json = serde_json::to_value(&spreads).unwrap();
    assert_eq!(json, serde_json::json!([{"from": "2026-01-15T10:00", "n": 16}]));
    assert_eq!(serde_json::from_value::<Spreads>(json).unwrap(), spreads);
    assert!(serde_json::from_value::<Spread>(serde_json::json!(64)).is_err());
    assert_eq!(
        serde_json::from_value::<Spread>(serde_json::json!(63)).unwrap().index(),
        63
    );
}
