//! The stored form of a [`VisitorPart`]: compact bytes (a DynamoDB binary attribute), about 14–30 bytes a
//! visitor instead of ~170 as a map of strings.
//!
//! Layout, version 2:
//! - `u8` version;
//! - the part's distinct values (paths, countries, referrer hosts), each once: varint count, then for
//!   each a varint byte length and its UTF-8 bytes;
//! - varint visitor count, then for each visitor, in key order: `u64` key (little-endian), a flags byte
//!   (bits 0–2: page, country, referrer present; bits 3–5: that value has the same stamp as the value
//!   before it, as when one page view set all three; bit 6: goals follow), then for each present value
//!   its stamp unless shared (`u16` milliseconds since the minute's start, little-endian) and the
//!   varint index of its string; then, with bit 6, a varint count of the goals the visitor completed
//!   and the varint index of each name.
//!
//! Version 1, still read, had a `u16` tie-break digest after each stamp: two bytes a visitor, which at
//! 1,000 visitors a minute made a batch's part write 2 WCU dearer. Ties now go to the greater value.

use std::collections::HashMap;

use super::Minute;
use super::rollup::{Stamp, Stamped, VisitorKey, VisitorPart, VisitorState};

const VERSION: u8 = 2;
/// Stamps followed by a `u16` tie-break digest, which is read and dropped.
const VERSION_WITH_TIES: u8 = 1;
const GOALS_FLAG: u8 = 1 << 6;

/// A part whose encoding passes this is split in two: DynamoDB's item limit is 400 KB, including the
/// key and the other attributes.
pub const PART_LIMIT_BYTES: usize = 350 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable visitor part: {0}")]
pub struct CodecError(&'static str);

pub fn encode(part: &VisitorPart, minute: Minute) -> Vec<u8> {
    let origin = minute.start().timestamp_millis();
    let mut strings: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for state in part.visitors.values() {
        let values = slots(state).into_iter().flatten().map(|value| value.value.as_str());
        for value in values.chain(state.goals.iter().map(String::as_str)) {
            index.entry(value).or_insert_with(|| {
                strings.push(value);
                strings.len() - 1
            });
        }
    }
    let mut out = Vec::with_capacity(16 + part.visitors.len() * 20);
    out.push(VERSION);
    put_varint(&mut out, strings.len() as u64);
    for string in &strings {
        put_varint(&mut out, string.len() as u64);
        out.extend_from_slice(string.as_bytes());
    }
    put_varint(&mut out, part.visitors.len() as u64);
    for (key, state) in &part.visitors {
        out.extend_from_slice(&key.0.to_le_bytes());
        let values = slots(state);
        let mut flags = 0u8;
        let mut previous: Option<Stamp> = None;
        for (bit, value) in values.iter().enumerate() {
            if let Some(value) = value {
                flags |= 1 << bit;
                if previous == Some(value.at) {
                    flags |= 1 << (bit + 3);
                }
                previous = Some(value.at);
            }
        }
        if !state.goals.is_empty() {
            flags |= GOALS_FLAG;
        }
        out.push(flags);
        for (bit, value) in values.iter().enumerate() {
            let Some(value) = value else { continue };
            if flags & (1 << (bit + 3)) == 0 {
                out.extend_from_slice(&offset_in_minute(value.at.millis - origin).to_le_bytes());
            }
            put_varint(&mut out, index[value.value.as_str()] as u64);
        }
        if !state.goals.is_empty() {
            put_varint(&mut out, state.goals.len() as u64);
            for goal in &state.goals {
                put_varint(&mut out, index[goal.as_str()] as u64);
            }
        }
    }
    out
}

pub fn decode(bytes: &[u8], minute: Minute) -> Result<VisitorPart, CodecError> {
    let origin = minute.start().timestamp_millis();
    let mut input = Reader { bytes, at: 0 };
    let with_ties = match input.byte()? {
        VERSION => false,
        VERSION_WITH_TIES => true,
        _ => return Err(CodecError("unknown version")),
    };
    let count = input.length()?;
    let mut strings = Vec::with_capacity(count);
    for _ in 0..count {
        let len = input.length()?;
        let raw = input.take(len)?;
        strings.push(std::str::from_utf8(raw).map_err(|_| CodecError("a value is not UTF-8"))?);
    }
    let visitors = input.length()?;
    let mut part = VisitorPart::default();
    for _ in 0..visitors {
        let key = VisitorKey(u64::from_le_bytes(input.take(8)?.try_into().expect("8 bytes")));
        let flags = input.byte()?;
        let mut state = VisitorState::default();
        let mut previous: Option<Stamp> = None;
        for bit in 0..3 {
            if flags & (1 << bit) == 0 {
                continue;
            }
            let at = if flags & (1 << (bit + 3)) != 0 {
                previous.ok_or(CodecError("a shared stamp with nothing before it"))?
            } else {
                let millis = origin + i64::from(u16::from_le_bytes(input.take(2)?.try_into().expect("2 bytes")));
                if with_ties {
                    input.take(2)?;
                }
                Stamp { millis }
            };
            previous = Some(at);
            let value = strings
                .get(input.length()?)
                .ok_or(CodecError("a value index out of range"))?;
            let stamped = Some(Stamped {
                at,
                value: (*value).to_owned(),
            });
            match bit {
                0 => state.page = stamped,
                1 => state.country = stamped,
                _ => state.referrer = stamped,
            }
        }
        if flags & GOALS_FLAG != 0 {
            for _ in 0..input.length()? {
                let goal = strings
                    .get(input.length()?)
                    .ok_or(CodecError("a goal index out of range"))?;
                state.goals.insert((*goal).to_owned());
            }
        }
        part.visitors.insert(key, state);
    }
    if input.at != bytes.len() {
        return Err(CodecError("trailing bytes"));
    }
    Ok(part)
}

fn slots(state: &VisitorState) -> [Option<&Stamped>; 3] {
    [state.page.as_ref(), state.country.as_ref(), state.referrer.as_ref()]
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A part holds one minute's events, so a stamp's offset is below 60,000 ms and fits 16 bits; the
/// clamp only keeps a broken invariant from corrupting the encoding.
fn offset_in_minute(offset: i64) -> u16 {
    u16::try_from(offset.clamp(0, 59_999)).expect("clamped into the minute")
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], CodecError> {
        let end = self.at.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(CodecError("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(CodecError("varint too long"))
    }

    /// A count or index: bounded by the input's length, so a corrupt value cannot ask for a huge allocation.
    fn length(&mut self) -> Result<usize, CodecError> {
        usize::try_from(self.varint()?)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or(CodecError("length out of range"))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn stamped(minute: Minute, offset: i64, value: &str) -> Option<Stamped> {
        Some(Stamped {
            at: Stamp {
                millis: minute.start().timestamp_millis() + offset,
            },
            value: value.into(),
        })
    }

    #[test]
    fn round_trips_and_stays_small() {
        let minute = Minute::of(Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap());
        let mut part = VisitorPart::default();
        for i in 0..1_000u64 {
            let page = stamped(minute, (i * 59) as i64, ["/", "/pricing", "/docs"][i as usize % 3]);
            let country = page.clone().map(|p| Stamped {
                value: "DE".into(),
                ..p
            });
            let referrer = (i % 4 == 0)
                .then(|| stamped(minute, 59_999, "news.ycombinator.com"))
                .flatten();
            part.visitors.insert(
                VisitorKey(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                VisitorState {
                    page,
                    country,
                    referrer,
                    goals: if i % 10 == 0 {
                        ["signup".to_owned()].into()
                    } else {
                        Default::default()
                    },
                },
            );
        }
        let bytes = encode(&part, minute);
        assert_eq!(
            decode(&bytes, minute),
            Ok(VisitorPart {
                version: 0,
                ..part.clone()
            })
        );
        // About 15 bytes a visitor: 1,000 visitors cost at most 16 WCU to write.
        assert!(bytes.len() <= 16 * 1024, "{} bytes", bytes.len());
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let minute = Minute::of(Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap());
        let mut part = VisitorPart::default();
        part.visitors.insert(
            VisitorKey(1),
            VisitorState {
                page: stamped(minute, 5, "/a"),
                goals: ["signup".to_owned()].into(),
                ..Default::default()
            },
        );
        let bytes = encode(&part, minute);
        for end in 0..bytes.len() {
            assert!(decode(&bytes[..end], minute).is_err(), "prefix of {end} bytes");
        }
        assert!(decode(&[VERSION, 0xff, 0xff, 0xff, 0xff, 0x0f], minute).is_err());
        assert!(decode(&[3], minute).is_err());
    }

    #[test]
    fn version_1_parts_still_read_without_their_ties() {
        let minute = Minute::of(Utc.with_ymd_and_hms(2026, 1, 15, 10, 30, 0).unwrap());
        #[rustfmt::skip]
        let version_1 = [
            1, // version
            2, 2, b'/', b'a', 2, b'D', b'E', // strings "/a", "DE"
            1, // one visitor
            7, 0, 0, 0, 0, 0, 0, 0, // key 7
            0b1_0011, // page and country, the country sharing the page's stamp
            0x88, 0x13, 0x34, 0x12, 0, // page: 5,000 ms, tie 0x1234, "/a"
            1, // country: "DE"
        ];
        let part = decode(&version_1, minute).expect("a version-1 part");
        let state = &part.visitors[&VisitorKey(7)];
        assert_eq!(state.page, stamped(minute, 5_000, "/a"));
        assert_eq!(state.country, stamped(minute, 5_000, "DE"));
        assert_eq!(state.referrer, None);
    }
}
