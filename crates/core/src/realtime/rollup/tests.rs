use super::*;

/// The bucket copies are written as one JSON string; a counts item written with a map still reads.
#[test]
fn bucket_copies_are_one_string_and_maps_still_read() {
    let mut counts = MinuteCounts::default();
    counts.buckets.insert(
        3,
        BucketTotals {
            pageviews: 2,
            events: 1,
            version: 4,
            ..BucketTotals::default()
        },
    );
    let stored = serde_json::to_value(&counts).unwrap();
    assert!(stored["b"].is_string(), "{stored}");
    let read: MinuteCounts = serde_json::from_value(stored).unwrap();
    assert_eq!(read.buckets, counts.buckets);
    let old: MinuteCounts = serde_json::from_value(
        serde_json::json!({"pv": 2, "ev": 1, "ver": 7, "b": {"3": {"pv": 2, "ev": 1, "ver": 4}}}),
    )
    .unwrap();
    assert_eq!(old.buckets, counts.buckets);
}

#[test]
fn sequence_numbers_order_numerically() {
    let seq = |s| SequenceNumber::parse(s).unwrap();
    assert!(seq("9") < seq("10"));
    assert!(seq("000123") == seq("123"));
    assert!(seq("100000000000000000000") > seq("99999999999999999999"));
    assert!(SequenceNumber::parse("12a").is_none());
    assert!(SequenceNumber::parse("").is_none());
}

fn totals(version: u64, pageviews: u64, goal: Option<(&str, f64)>) -> BucketTotals {
    BucketTotals {
        pageviews,
        events: 1,
        goals: goal
            .map(|(name, value)| (name.to_owned(), GoalTotals { conversions: 1, value }))
            .into_iter()
            .collect(),
        version,
    }
}

#[test]
fn copying_a_bucket_sets_its_totals_once_and_never_goes_back() {
    let mut counts = MinuteCounts::default();
    assert!(counts.copy_bucket(0, &totals(1, 2, Some(("signup", 1.5)))));
    assert!(counts.copy_bucket(3, &totals(4, 5, Some(("signup", 10.0)))));
    let sums = |c: &MinuteCounts| {
        (
            c.pageviews,
            c.events,
            c.goals["signup"].conversions,
            c.goals["signup"].value,
        )
    };
    assert_eq!(sums(&counts), (7, 2, 2, 11.5));
    // The same totals again (a retried write): nothing to do.
    let before = counts.clone();
    assert!(!counts.copy_bucket(3, &totals(4, 5, Some(("signup", 10.0)))));
    // Older totals of the bucket (read before a concurrent writer's): kept out.
    assert!(!counts.copy_bucket(3, &totals(3, 4, None)));
    // A bucket never written: nothing to copy.
    assert!(!counts.copy_bucket(5, &BucketTotals::default()));
    assert_eq!(counts, before);
    // Newer totals replace the copy, they are not added to it.
    assert!(counts.copy_bucket(3, &totals(5, 6, None)));
    assert_eq!(sums(&counts), (8, 2, 1, 1.5));
}

#[test]
fn totals_from_before_buckets_are_kept() {
    // A counts item as stored before buckets: sums and the folded stretches, no copies.
    let mut legacy: MinuteCounts = serde_json::from_value(serde_json::json!({
        "pv": 40, "ev": 2, "ver": 9,
        "applied": [{"first": "10", "last": "20"}],
        "g": {"signup": {"c": 1, "v": 10.0}},
    }))
    .unwrap();
    assert_eq!((legacy.pageviews, legacy.version), (40, 9));
    assert!(legacy.copy_bucket(1, &totals(1, 3, Some(("signup", 1.0)))));
    assert_eq!((legacy.pageviews, legacy.events), (43, 3));
    assert_eq!(
        legacy.goals["signup"],
        GoalTotals {
            conversions: 2,
            value: 11.0
        }
    );
    assert_eq!(legacy.buckets.len(), 2);
    // Written and read back, the sums stay.
    let stored: MinuteCounts = serde_json::from_value(serde_json::to_value(&legacy).unwrap()).unwrap();
    assert_eq!(stored, legacy);
}

#[test]
fn later_stamp_wins_whatever_the_order() {
    let early = Stamped {
        at: Stamp { millis: 1_000 },
        value: "/early".into(),
    };
    let late = Stamped {
        at: Stamp { millis: 1_001 },
        value: "/late".into(),
    };
    let mut one = VisitorState {
        page: Some(early.clone()),
        ..Default::default()
    };
    one.merge(&VisitorState {
        page: Some(late.clone()),
        ..Default::default()
    });
    let mut two = VisitorState {
        page: Some(late.clone()),
        ..Default::default()
    };
    two.merge(&VisitorState {
        page: Some(early),
        ..Default::default()
    });
    assert_eq!(one, two);
    assert_eq!(one.page.unwrap().value, "/late");
}

#[test]
fn equal_stamps_pick_the_same_value_whatever_the_order() {
    // Two page views of one visitor in the same millisecond.
    let at = chrono::Utc::now();
    let mut first = crate::memory::sample_event(EventKind::Pageview, "e00020", at);
    first.path = "/".into();
    let mut second = crate::memory::sample_event(EventKind::Pageview, "e00021", at);
    second.path = "/pricing".into();
    assert_eq!(Stamp::of(&first), Stamp::of(&second));
    let (mut one, mut two) = (VisitorState::default(), VisitorState::default());
    one.observe(&first);
    one.observe(&second);
    two.observe(&second);
    two.observe(&first);
    assert_eq!(one, two);
}

#[test]
fn digests_are_stable() {
    // Stored rollups depend on these values: they must never change between versions.
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(VisitorKey::of("a"), VisitorKey(0xaf63_dc4c_8601_ec8c));
}
