//! Decoding Lambda's DynamoDB stream events into domain events: the adapter knows the item format, so
//! both stream consumers share this.

use aws_lambda_events::event::dynamodb::EventRecord;
use pulse_core::StoredEvent;
use pulse_core::realtime::aggregate::StreamEvent;
use pulse_core::realtime::{SequenceNumber, SequenceRange};

use crate::keys;

/// The stretch of the stream a batch covers: from its first record to its last, whatever their kind.
pub fn batch_range(records: &[EventRecord]) -> Option<SequenceRange> {
    let mut sequences = records
        .iter()
        .filter_map(|r| r.change.sequence_number.as_deref().and_then(SequenceNumber::parse));
    let first = sequences.next()?;
    let (first, last) = sequences.fold((first.clone(), first), |(low, high), s| {
        (if s < low { s.clone() } else { low }, if s > high { s } else { high })
    });
    Some(SequenceRange { first, last })
}

/// The raw events of a batch: INSERTs whose keys [`keys::is_raw_event_key`] accepts, decoded. The event
/// source mappings filter the same way; this is the second check. A record that can never be decoded is
/// logged (its event id, not its content) and skipped: retrying cannot fix it.
pub fn raw_events(records: &[EventRecord]) -> Vec<StreamEvent> {
    records.iter().filter_map(raw_event).collect()
}

fn raw_event(record: &EventRecord) -> Option<StreamEvent> {
    if record.event_name != "INSERT" {
        return None;
    }
    let key = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    let (Some(pk), Some(sk)) = (key("pk"), key("sk")) else {
        return None;
    };
    if !keys::is_raw_event_key(pk, sk) {
        return None;
    }
    let Some(sequence) = record.change.sequence_number.as_deref().and_then(SequenceNumber::parse) else {
        tracing::error!(event_id = %record.event_id, "stream record without a usable sequence number; skipped");
        return None;
    };
    match serde_dynamo::from_item::<_, StoredEvent>(record.change.new_image.clone()) {
        // Its spread is folded apart: it must be the one its key says it is in.
        Ok(event) if pk != keys::spread_pk(&event.site, event.spread) => {
            tracing::error!(event_id = %record.event_id, "raw event whose key is not its site's spread; skipped");
            None
        }
        Ok(event) => Some(StreamEvent { sequence, event }),
        Err(err) => {
            tracing::error!(event_id = %record.event_id, error = %err, "undecodable raw event; skipped");
            None
        }
    }
}

/// A site's registry entry changed: `now` is what it holds after the change, `None` once deleted.
#[derive(Debug, Clone)]
pub struct RegistryChange {
    pub site_id: pulse_core::SiteId,
    pub now: Option<pulse_core::Site>,
}

/// The batch's changes to the site registry (`SITES` items), in stream order. The broadcast reads them to
/// close dashboards whose token was rotated or whose site was deleted, with no operator action. A new
/// image that cannot be decoded is logged and skipped: closing on a guess would be worse.
pub fn registry_changes(records: &[EventRecord]) -> Vec<RegistryChange> {
    records.iter().filter_map(registry_change).collect()
}

fn registry_change(record: &EventRecord) -> Option<RegistryChange> {
    let key = |name: &str| match record.change.keys.get(name) {
        Some(serde_dynamo::AttributeValue::S(value)) => Some(value.as_str()),
        _ => None,
    };
    if key("pk")? != keys::SITES_PK {
        return None;
    }
    let site_id = keys::registry_site(key("sk")?)?;
    let now = match record.event_name.as_str() {
        "REMOVE" => None,
        "INSERT" | "MODIFY" => match crate::sites::site_from_image(record.change.new_image.clone()) {
            Ok(site) => Some(site),
            Err(err) => {
                tracing::error!(event_id = %record.event_id, error = %err, "undecodable registry image; skipped");
                return None;
            }
        },
        _ => return None,
    };
    Some(RegistryChange { site_id, now })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use pulse_core::EventKind;
    use pulse_core::memory::sample_event;
    use pulse_core::realtime::Fingerprint;
    use serde_json::json;

    use super::*;

    /// The item collect writes, as its stream record reaches the aggregate.
    fn record_of(event: &StoredEvent, sequence: &str) -> EventRecord {
        let item = crate::event_item(event, Utc::now()).unwrap();
        let keys: std::collections::HashMap<_, _> = item
            .iter()
            .filter(|(name, _)| ["pk", "sk"].contains(&name.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(json!({
            "eventID": "1",
            "eventName": "INSERT",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": serde_dynamo::Item::from(keys),
                "NewImage": serde_dynamo::Item::from(item),
                "SequenceNumber": sequence,
                "SizeBytes": 100,
                "StreamViewType": "NEW_IMAGE",
            },
        }))
        .unwrap()
    }

    /// The keyed fingerprint is stored as a number attribute (`fp`) and reaches the fold whole, all 64
    /// bits; an item written before it was decodes without one.
    #[test]
    fn the_stored_fingerprint_reaches_the_fold() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let mut keyed = sample_event(EventKind::Pageview, "a", at);
        keyed.fingerprint = Some(Fingerprint(u64::MAX - 1));
        let item = crate::event_item(&keyed, at).unwrap();
        assert_eq!(item["fp"].as_n().unwrap(), &(u64::MAX - 1).to_string());
        let legacy = sample_event(EventKind::Pageview, "b", at);
        assert!(!crate::event_item(&legacy, at).unwrap().contains_key("fp"));

        let decoded = raw_events(&[record_of(&keyed, "100"), record_of(&legacy, "101")]);
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].event, keyed);
        assert_eq!(decoded[1].event.fingerprint, None);
        assert_eq!(Fingerprint::of(&decoded[1].event), Fingerprint::unkeyed(&legacy));
    }

    /// A busy site's event is stored under its spread's key with the spread as an attribute (`sp`),
    /// and reaches the fold with it; a record whose key is not its spread's is refused.
    #[test]
    fn an_events_spread_reaches_the_fold_and_must_match_its_key() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 12).unwrap();
        let mut spread = sample_event(EventKind::Pageview, "a", at);
        spread.spread = pulse_core::spread::Spread::try_from(5).unwrap();
        let item = crate::event_item(&spread, at).unwrap();
        assert_eq!(item["pk"].as_s().unwrap(), "SITE#demo#5");
        assert_eq!(item["sp"].as_n().unwrap(), "5");
        let first = sample_event(EventKind::Pageview, "b", at);
        let first_item = crate::event_item(&first, at).unwrap();
        assert_eq!(first_item["pk"].as_s().unwrap(), "SITE#demo");
        assert!(!first_item.contains_key("sp"));

        let decoded = raw_events(&[record_of(&spread, "100"), record_of(&first, "101")]);
        assert_eq!(
            decoded.iter().map(|r| r.event.spread.index()).collect::<Vec<_>>(),
            [5, 0]
        );

        let mut moved = record_of(&spread, "102");
        moved
            .change
            .keys
            .insert("pk".into(), serde_dynamo::AttributeValue::S("SITE#demo#6".into()));
        assert!(raw_events(&[moved]).is_empty());
    }
}
