//! Fuzzing the stream record decoder ([`pulse_dynamodb::stream`]), the input of both stream consumers:
//! batches of DynamoDB stream records as Lambda delivers them, made of raw events the collect function
//! could have written (then damaged attribute by attribute: missing, retyped, hostile values), other
//! kinds of records and keys, odd sequence numbers, and the fixtures' records (`events/aggregate`,
//! `events/broadcast`, `fuzz/corpus/stream`) mutated as JSON and byte-wise.
//!
//! The decoder must keep exactly the INSERTs of raw-event keys with a usable sequence number whose
//! image decodes (every undamaged one among them), never panic, and hand on events that survive a
//! round trip through the item format; the batch's range must cover them. The decoded events then go
//! through what the consumers do with them, the aggregate fold and the broadcast messages, against the
//! in-memory store: no panic, no failed record, no message over the frame limit but a single event.
//! `PULSE_FUZZ_CASES` sets the number of inputs (README, "Fuzzing").

use pulse_test_support::fuzz as common;

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use chrono::{DateTime, Datelike, Duration, Utc};
use common::{Tally, corpus, fixtures, hostile_string, json_number, mutated};
use proptest::prelude::*;
use proptest::sample::select;
use pulse_core::goal::{GoalHit, GoalName};
use pulse_core::live::{
    BroadcastConfig, ConnectionId, ConnectionSender, ConnectionStore, MAX_MESSAGE_BYTES, SendError, broadcast,
};
use pulse_core::memory::MemoryStore;
use pulse_core::realtime::Fingerprint;
use pulse_core::realtime::aggregate::{AggregateConfig, fold_batch};
use pulse_core::{EventDetail, EventId, PropValue, SiteId, StoredEvent};
use pulse_dynamodb::keys;
use pulse_dynamodb::stream::{batch_range, raw_events};
use serde_json::{Value, json};

/// Batches per `cargo test` run; `make fuzz` runs 1,000,000.
const CI_CASES: u32 = 3_000;

/// One record of a batch, and whether the decoder must keep it.
#[derive(Debug, Clone)]
struct Record {
    json: Value,
    /// An undamaged raw-event INSERT: it must be decoded.
    must_decode: bool,
    /// An INSERT with a raw-event key and a usable sequence number: it may be decoded.
    may_decode: bool,
}

// ---- raw events as collect writes them ----

fn text() -> BoxedStrategy<String> {
    prop_oneof![3 => "[A-Za-z0-9 /._-]{0,24}", 1 => hostile_string()].boxed()
}

/// Whether DynamoDB can hold the number: finite, magnitude below 1E126 (and zero or at least 1E-130).
/// Images come from the table, so nothing else can reach the decoder as a number.
fn dynamo_number(x: f64) -> bool {
    x.is_finite() && (x == 0.0 || (1e-130..1e126).contains(&x.abs()))
}

fn number() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => -1e6f64..1e6,
        // Any significand at any exponent DynamoDB allows.
        1 => (-1.0f64..1.0, -129i32..126).prop_map(|(m, e)| {
            let x = m * 10f64.powi(e);
            if dynamo_number(x) { x } else { 0.0 }
        }),
        1 => select(&[0.0, -0.0, 9.99e125, -9.99e125, 1e-130, 1e300 / 1e175][..]),
    ]
    .boxed()
}

fn event_id() -> BoxedStrategy<(String, bool)> {
    let uuid_v7 = (-2i64 * 86_400_000..600_000, any::<u64>()).prop_map(|(offset, random)| {
        let millis = (Utc::now().timestamp_millis() + offset).max(0) as u64;
        format!(
            "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
            millis >> 16,
            millis & 0xffff,
            random & 0xfff,
            (random >> 12) & 0xfff,
            (random >> 24) & 0xffff_ffff_ffff
        )
    });
    prop_oneof![
        3 => "[0-9a-f]{24}".prop_map(|id| (id, false)),
        2 => uuid_v7.prop_map(|id| (id, true)),
        1 => "[A-Za-z0-9_-]{1,64}".prop_map(|id| (id, true)),
    ]
    .boxed()
}

/// An event the collect function could have stored, with hostile text wherever text is free.
fn stored_event() -> BoxedStrategy<StoredEvent> {
    let detail = prop_oneof![
        3 => Just(EventDetail::Pageview),
        2 => (text(), prop::option::of(number())).prop_map(|(name, value)| EventDetail::Event { name, value }),
        1 => text().prop_map(|url| EventDetail::Outbound { url }),
    ];
    let site = prop_oneof![4 => Just("demo".to_owned()), 1 => "[A-Za-z0-9_.-]{1,64}"];
    let optional = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(select(&["DE", "US", "FR", "", "XX"][..]).prop_map(str::to_owned)),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u32>()),
    );
    let props = prop::collection::btree_map(
        text(),
        prop_oneof![
            text().prop_map(PropValue::Text),
            number().prop_map(PropValue::Number),
            any::<bool>().prop_map(PropValue::Bool)
        ],
        0..5,
    );
    let goals = prop::collection::vec(("[A-Za-z0-9 _.-]{1,64}", prop::option::of(number())), 0..3);
    (
        (site, detail, event_id(), -2i64 * 86_400_000..300_000, "[0-9a-f]{32}"),
        (
            text(),
            text(),
            text(),
            optional,
            props,
            goals,
            // Stored by collect; absent on items written before it was.
            prop::option::of(any::<u64>().prop_map(Fingerprint)),
            // Spread 0 on every small site's item; others on a busy site's.
            prop_oneof![3 => Just(0u8), 1 => 0..pulse_core::spread::MAX_SPREADS],
        ),
    )
        .prop_map(
            |(
                (site, detail, (id, client_id), offset, visitor),
                (host, path, device, optional, props, goals, fingerprint, spread),
            )| {
                let (sid, title, referrer, utm_source, browser, country, sw, sh) = optional;
                StoredEvent {
                    site: SiteId::parse(&site).expect("a valid site id"),
                    detail,
                    id: EventId::parse(&id).expect("a valid event id"),
                    ts: DateTime::from_timestamp_millis(Utc::now().timestamp_millis() + offset).expect("a time"),
                    visitor,
                    sid,
                    host,
                    path,
                    title,
                    referrer,
                    utm_source,
                    utm_medium: None,
                    utm_campaign: None,
                    device,
                    browser,
                    os: None,
                    country,
                    sw,
                    sh,
                    props,
                    client_id,
                    goals: goals
                        .into_iter()
                        .map(|(goal, value)| GoalHit {
                            goal: GoalName::parse(&goal).expect("a valid goal name"),
                            value,
                        })
                        .collect(),
                    fingerprint,
                    spread: pulse_core::spread::Spread::try_from(spread).expect("a spread below the limit"),
                }
            },
        )
        .boxed()
}

/// A DynamoDB attribute of any type, in the stream's JSON, or not an attribute at all.
fn attribute() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => hostile_string().prop_map(|s| json!({ "S": s })),
        3 => prop_oneof![json_number(), hostile_string()]
            // What DynamoDB could not hold is out of range: the largest number it holds instead.
            .prop_map(|n| if n.trim().parse::<f64>().is_ok_and(|x| !dynamo_number(x)) { "9.99E+125".to_owned() } else { n })
            .prop_map(|n| json!({ "N": n })),
        1 => any::<bool>().prop_map(|b| json!({ "BOOL": b })),
        1 => Just(json!({ "NULL": true })),
        1 => prop::collection::vec(hostile_string(), 0..3)
            .prop_map(|l| json!({ "L": l.iter().map(|s| json!({"S": s})).collect::<Vec<_>>() })),
        1 => prop::collection::vec((hostile_string(), hostile_string()), 0..3).prop_map(|m| {
            json!({ "M": m.into_iter().map(|(k, v)| (k, json!({"S": v}))).collect::<serde_json::Map<_, _>>() })
        }),
        1 => hostile_string().prop_map(|b| json!({ "B": b })),
        1 => prop::collection::vec(hostile_string(), 0..3).prop_map(|ss| json!({ "SS": ss })),
        // Not a DynamoDB attribute: the runtime rejects the whole record.
        1 => select(vec![json!({ "X": 1 }), json!({}), json!("S")]),
    ]
    .boxed()
}

/// Damage to one attribute of an image: the attribute picked by index among the image's names.
#[derive(Debug, Clone)]
enum Damage {
    Remove(usize),
    Replace(usize, Value),
    /// `S` to `N` and back, the value kept.
    Retype(usize),
    Add(String, Value),
}

fn damage() -> BoxedStrategy<Damage> {
    prop_oneof![
        2 => any::<usize>().prop_map(Damage::Remove),
        3 => (any::<usize>(), attribute()).prop_map(|(i, v)| Damage::Replace(i, v)),
        1 => any::<usize>().prop_map(Damage::Retype),
        1 => (
            prop_oneof![
                select(&["kind", "name", "value", "url", "ts", "site", "id", "props", "goals"][..])
                    .prop_map(str::to_owned),
                hostile_string(),
            ],
            attribute(),
        )
            .prop_map(|(name, value)| Damage::Add(name, value)),
    ]
    .boxed()
}

fn apply(image: &mut serde_json::Map<String, Value>, damage: &Damage) {
    let mut names: Vec<String> = image.keys().cloned().collect();
    names.sort();
    let pick = |i: usize| names.get(i % names.len().max(1)).cloned();
    match damage {
        Damage::Remove(i) => {
            if let Some(name) = pick(*i) {
                image.remove(&name);
            }
        }
        Damage::Replace(i, value) => {
            if let Some(name) = pick(*i) {
                image.insert(name, value.clone());
            }
        }
        Damage::Retype(i) => {
            if let Some(name) = pick(*i) {
                let attribute = image[&name].clone();
                let retyped = match (attribute.get("S"), attribute.get("N")) {
                    (Some(s), _) => json!({ "N": s }),
                    (_, Some(n)) => json!({ "S": n }),
                    _ => json!({ "S": attribute.to_string() }),
                };
                image.insert(name, retyped);
            }
        }
        Damage::Add(name, value) => {
            image.insert(name.clone(), value.clone());
        }
    }
}

/// Key values of other items, or no items at all.
fn other_key() -> BoxedStrategy<String> {
    prop_oneof![
        select(
            &[
                "RT#2026-01-15T10:30#c",
                "RT#2026-01-15T10:30#v000",
                "CONN#abc",
                "SITE#demo",
                "SITE#demo#3",
                "PV",
                "",
                "pv#x",
                "EV",
                "ID"
            ][..]
        )
        .prop_map(str::to_owned),
        hostile_string(),
        hostile_string().prop_map(|s| format!("PV#{s}")),
        hostile_string().prop_map(|s| format!("ID#{s}")),
    ]
    .boxed()
}

/// String keys, and whether they are a raw event's.
fn string_keys(pk: &str, sk: &str) -> (Value, bool) {
    (
        json!({ "pk": { "S": pk }, "sk": { "S": sk } }),
        keys::is_raw_event_key(pk, sk),
    )
}

/// The keys of a record: the event's own, or some other item's, or not keys at all.
fn keys_of(event: &StoredEvent, other: BoxedStrategy<String>) -> BoxedStrategy<(Value, bool)> {
    let pk = keys::spread_pk(&event.site, event.spread);
    let sk = keys::event_sk(event);
    let ok = json!({ "pk": { "S": pk }, "sk": { "S": sk } });
    prop_oneof![
        12 => Just((ok, true)),
        // A raw event's key, but not its own spread's (another site's, another spread's, `SITE#demo`):
        // refused, since its spread is folded apart.
        1 => (other.clone(), Just(sk.clone())).prop_map({
            let own = pk.clone();
            move |(pk, sk)| {
                let (keys, raw) = string_keys(&pk, &sk);
                (keys, raw && pk == own)
            }
        }),
        1 => (Just(pk.clone()), other).prop_map(|(pk, sk)| string_keys(&pk, &sk)),
        1 => Just((json!({ "pk": { "N": "1" }, "sk": { "S": sk } }), false)),
        1 => Just((json!({ "pk": { "S": pk } }), false)),
    ]
    .boxed()
}

fn sequence_number() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        10 => "[1-9][0-9]{0,25}".prop_map(Some),
        1 => "[0-9]{60,70}".prop_map(Some),
        1 => select(&["0", "000", "00012", "", " 1", "1 ", "-1", "1e3", "٣"][..]).prop_map(|s| Some(s.to_owned())),
        1 => hostile_string().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

fn record_json(event_name: &str, keys: Value, sequence: Option<&str>, image: Option<Value>) -> Value {
    let mut change = json!({
        "ApproximateCreationDateTime": 1768473005,
        "Keys": keys,
        "SizeBytes": 312,
        "StreamViewType": "NEW_IMAGE",
    });
    if let Some(sequence) = sequence {
        change["SequenceNumber"] = json!(sequence);
    }
    if let Some(image) = image {
        change["NewImage"] = image;
    }
    json!({
        "eventID": "fuzz",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/2026-01-15T00:00:00.000",
    })
}

fn usable_sequence(sequence: Option<&str>) -> bool {
    sequence.is_some_and(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A raw event record as the table's stream carries it, then possibly damaged.
fn event_record() -> BoxedStrategy<Record> {
    let event_name = prop_oneof![
        12 => Just("INSERT".to_owned()),
        1 => Just("MODIFY".to_owned()),
        1 => Just("REMOVE".to_owned()),
        1 => hostile_string(),
    ];
    // Built once: the regular expressions in them are parsed when a strategy is made.
    let (other_key, sequence, damage) = (
        other_key(),
        sequence_number(),
        prop_oneof![Just(Vec::new()), prop::collection::vec(damage(), 1..4)].boxed(),
    );
    stored_event()
        .prop_flat_map(move |event| {
            (
                Just(event.clone()),
                keys_of(&event, other_key.clone()),
                event_name.clone(),
                sequence.clone(),
                damage.clone(),
                prop::bool::weighted(0.03),
            )
        })
        .prop_map(|(event, (keys, raw_key), event_name, sequence, damage, no_image)| {
            let mut item: HashMap<String, serde_dynamo::AttributeValue> =
                serde_dynamo::to_item(&event).expect("a stored event is an item");
            item.insert(
                "pk".into(),
                serde_dynamo::AttributeValue::S(keys::spread_pk(&event.site, event.spread)),
            );
            item.insert("sk".into(), serde_dynamo::AttributeValue::S(keys::event_sk(&event)));
            item.insert("ttl".into(), serde_dynamo::AttributeValue::N("1768559405".into()));
            let Value::Object(mut image) =
                serde_json::to_value(serde_dynamo::Item::from(item)).expect("an item is JSON")
            else {
                unreachable!("an item is a JSON object")
            };
            for d in &damage {
                apply(&mut image, d);
            }
            let may_decode = event_name == "INSERT" && raw_key && usable_sequence(sequence.as_deref());
            let image = (!no_image).then_some(Value::Object(image));
            Record {
                json: record_json(&event_name, keys, sequence.as_deref(), image),
                must_decode: may_decode && damage.is_empty() && !no_image,
                may_decode,
            }
        })
        .boxed()
}

/// The fixtures' records and the stream corpus, each a JSON record.
fn seed_records() -> Vec<Value> {
    let mut records: Vec<Value> = fixtures("aggregate")
        .into_iter()
        .chain(fixtures("broadcast"))
        .flat_map(|batch| batch["Records"].as_array().cloned().unwrap_or_default())
        .collect();
    for seed in corpus("stream") {
        records.push(serde_json::from_slice(&seed).expect("a corpus record is JSON"));
    }
    records
}

/// What may be said of a record the generator did not build: from its own fields.
fn classify(json: Value) -> Record {
    let s = |v: &Value| v.get("S").and_then(Value::as_str).map(str::to_owned);
    let pk = json["dynamodb"]["Keys"].get("pk").and_then(s);
    let sk = json["dynamodb"]["Keys"].get("sk").and_then(s);
    let raw_key = matches!((&pk, &sk), (Some(pk), Some(sk)) if keys::is_raw_event_key(pk, sk));
    let may_decode =
        json["eventName"] == "INSERT" && raw_key && usable_sequence(json["dynamodb"]["SequenceNumber"].as_str());
    Record {
        json,
        must_decode: false,
        may_decode,
    }
}

/// Replaces, anywhere in a record, a number DynamoDB could not hold (byte mutations make `1e999` and the
/// like) with the largest it can: images come from the table.
fn holdable(json: &mut Value) {
    match json {
        Value::Object(fields) => {
            for (key, value) in fields.iter_mut() {
                let out_of_range = |n: &Value| {
                    n.as_str()
                        .and_then(|n| n.trim().parse::<f64>().ok())
                        .is_some_and(|x| !dynamo_number(x))
                };
                match (key.as_str(), &mut *value) {
                    ("N", n) if out_of_range(n) => *n = json!("9.99E+125"),
                    ("NS", Value::Array(ns)) => {
                        for n in ns.iter_mut().filter(|n| out_of_range(n)) {
                            *n = json!("9.99E+125");
                        }
                    }
                    _ => holdable(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(holdable),
        _ => {}
    }
}

fn seed_record() -> BoxedStrategy<Record> {
    let seeds = seed_records();
    let bytes: Vec<Vec<u8>> = seeds.iter().map(|r| serde_json::to_vec(r).expect("JSON")).collect();
    prop_oneof![
        // Attribute damage to a fixture's image.
        3 => (select(seeds), prop::collection::vec(damage(), 0..3)).prop_map(|(mut json, damage)| {
            if let Some(Value::Object(image)) = json["dynamodb"].get_mut("NewImage") {
                for d in &damage {
                    apply(image, d);
                }
            }
            holdable(&mut json);
            classify(json)
        }),
        // Byte damage: what still parses as JSON is a record of some shape.
        1 => mutated(bytes).prop_map(|bytes| {
            let mut json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            holdable(&mut json);
            classify(json)
        }),
    ]
    .boxed()
}

fn batch() -> BoxedStrategy<Vec<Record>> {
    prop::collection::vec(prop_oneof![4 => event_record(), 1 => seed_record()], 0..10).boxed()
}

// ---- what the consumers do with the events ----

/// Keeps every message, as the `@connections` API would deliver them.
#[derive(Default)]
struct Outbox(Mutex<Vec<Vec<u8>>>);

impl ConnectionSender for Outbox {
    async fn send(&self, _connection: &ConnectionId, message: &[u8]) -> Result<(), SendError> {
        self.0.lock().unwrap().push(message.to_vec());
        Ok(())
    }
}

fn check(records: &[Record], runtime: &tokio::runtime::Runtime, tally: &Tally) -> Result<(), TestCaseError> {
    // A record that is not a stream record (an attribute of no DynamoDB type, a byte-damaged fixture)
    // fails the whole event in the runtime, before any handler: not the decoder's input, so left out.
    let (records, rejected): (Vec<&Record>, Vec<&Record>) = records
        .iter()
        .partition(|r| serde_json::from_value::<EventRecord>(r.json.clone()).is_ok());
    for _ in &rejected {
        tally.add("records the runtime rejects");
    }
    let batch = json!({ "Records": records.iter().map(|r| r.json.clone()).collect::<Vec<_>>() });
    let event: Event = serde_json::from_value(batch).map_err(|e| TestCaseError::fail(format!("batch: {e}")))?;
    let decoded = raw_events(&event.records);
    let must = records.iter().filter(|r| r.must_decode).count();
    let may = records.iter().filter(|r| r.may_decode).count();
    prop_assert!(
        (must..=may).contains(&decoded.len()),
        "decoded {} events; between {} and {} expected",
        decoded.len(),
        must,
        may
    );
    tally.add("batches");
    for _ in &decoded {
        tally.add("events decoded");
    }
    for _ in decoded.len()..records.len() {
        tally.add("records skipped");
    }

    let range = batch_range(&event.records);
    if !decoded.is_empty() {
        let range = range
            .as_ref()
            .ok_or_else(|| TestCaseError::fail("events without a batch range"))?;
        prop_assert!(range.first <= range.last);
        for event in &decoded {
            prop_assert!(range.first <= event.sequence && event.sequence <= range.last);
        }
    }
    for stream_event in &decoded {
        // The item format round-trips whatever the decoder accepted (`-0` comes back as `0`, which compares
        // equal; a NaN cannot be stored), within what its timestamps can spell: years 0 to 9999 (an offset
        // may carry a stored `0000-01-01T00:00:00+01:00` into year -1) and milliseconds (a stored
        // `…:59.9999Z` comes back as `…:59.999Z`). The table's writer produces neither.
        if !(0..=9999).contains(&stream_event.event.ts.year()) {
            tally.add("events outside years 0-9999");
            continue;
        }
        let mut event = stream_event.event.clone();
        event.ts = DateTime::from_timestamp_millis(event.ts.timestamp_millis()).expect("a time in range");
        let item: HashMap<String, serde_dynamo::AttributeValue> =
            serde_dynamo::to_item(&stream_event.event).map_err(|e| TestCaseError::fail(format!("re-encode: {e}")))?;
        let again: StoredEvent =
            serde_dynamo::from_item(item).map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
        prop_assert_eq!(again, event);
        // The keys built from it are well-formed raw-event keys.
        let (pk, sk) = (
            keys::spread_pk(&stream_event.event.site, stream_event.event.spread),
            keys::event_sk(&stream_event.event),
        );
        prop_assert!(keys::is_raw_event_key(&pk, &sk), "{} {}", pk, sk);
    }

    // The aggregate fold, against a store that never fails: nothing may be reported failed or rejected.
    let store = MemoryStore::default();
    if let Some(range) = &range {
        let report = runtime.block_on(fold_batch(
            &store,
            &AggregateConfig::default(),
            range,
            decoded.clone(),
            Utc::now(),
        ));
        prop_assert!(report.failed.is_empty(), "{:?}", report);
        prop_assert_eq!(report.rejected, 0);
    }

    // The broadcast: one dashboard per site; every message is JSON of the documented shape and fits a
    // frame unless it carries a single event.
    let events: Vec<StoredEvent> = decoded.into_iter().map(|e| e.event).collect();
    for (i, event) in events.iter().enumerate() {
        let connection = ConnectionId::parse(&format!("c{i}")).unwrap();
        runtime
            .block_on(store.add_connection(&event.site, &connection, None, 1_000, Utc::now() + Duration::hours(1)))
            .unwrap();
    }
    let outbox = Outbox::default();
    let report = runtime.block_on(broadcast(
        &store,
        &outbox,
        &BroadcastConfig::default(),
        &events,
        std::time::Duration::from_secs(25),
    ));
    prop_assert_eq!(report.failed, 0);
    for bytes in outbox.0.lock().unwrap().iter() {
        let message: Value = serde_json::from_slice(bytes).map_err(|e| TestCaseError::fail(format!("message: {e}")))?;
        prop_assert_eq!(message["type"].as_str(), Some("events"));
        let count = message["events"].as_array().map_or(0, Vec::len);
        prop_assert!(count > 0);
        prop_assert!(
            count == 1 || bytes.len() <= MAX_MESSAGE_BYTES,
            "{} events in {} bytes",
            count,
            bytes.len()
        );
        tally.add("messages");
    }
    Ok(())
}

#[test]
fn stream_decoder_keeps_exactly_the_decodable_raw_events() {
    let tally = Tally::new("stream");
    let runtime = common::runtime();
    common::fuzz(file!(), CI_CASES, &tally, batch(), |records| {
        check(&records, &runtime, &tally)
    });
    assert!(tally.count("events decoded") > 0, "no record was ever decoded");
    assert!(tally.count("records skipped") > 0, "no record was ever skipped");
}
