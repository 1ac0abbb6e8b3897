//! Synthetic traffic.

use super::*;

/// SplitMix64: a tiny deterministic generator, so every run generates the same traffic.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `0..n`; the modulo bias is negligible for the small `n` used here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn pick<T: Copy>(&mut self, weighted: &[(T, u64)]) -> T {
        let total = weighted.iter().map(|(_, weight)| weight).sum();
        let mut roll = self.below(total);
        for &(choice, weight) in weighted {
            if roll < weight {
                return choice;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }
}

/// Stands for the long tail of blog posts: `/blog/post-{n}`.
pub(crate) const BLOG_POST: &str = "/blog/post-";
pub(crate) const PAGES: &[(&str, u64)] = &[
    ("/", 25),
    ("/pricing", 10),
    ("/docs", 9),
    ("/docs/getting-started", 8),
    ("/docs/api", 5),
    ("/features", 5),
    ("/blog", 5),
    ("/signup", 4),
    ("/login", 4),
    ("/about", 2),
    ("/changelog", 3),
    (BLOG_POST, 20),
];
pub(crate) const COUNTRIES: &[(Option<&str>, u64)] = &[
    (Some("US"), 30),
    (Some("DE"), 10),
    (Some("GB"), 9),
    (Some("IN"), 8),
    (Some("FR"), 6),
    (Some("CA"), 5),
    (Some("NL"), 4),
    (Some("BR"), 4),
    (Some("JP"), 3),
    (Some("ES"), 3),
    (Some("PL"), 2),
    (Some("AU"), 3),
    (Some("SE"), 2),
    (Some("IT"), 3),
    (Some("KR"), 2),
    (None, 6),
];
pub(crate) const REFERRERS: &[(Option<&str>, u64)] = &[
    (None, 55),
    (Some("www.google.com"), 20),
    (Some("news.ycombinator.com"), 5),
    (Some("www.reddit.com"), 5),
    (Some("github.com"), 4),
    (Some("t.co"), 3),
    (Some("duckduckgo.com"), 3),
    (Some("www.bing.com"), 2),
    (Some("www.linkedin.com"), 2),
    (Some("dev.to"), 1),
];
/// (device, browser, os)
pub(crate) const DEVICES: &[((&str, &str, &str), u64)] = &[
    (("desktop", "Chrome", "Windows"), 35),
    (("desktop", "Edge", "Windows"), 8),
    (("desktop", "Safari", "Mac OSX"), 12),
    (("desktop", "Firefox", "Linux"), 5),
    (("mobile", "Safari", "iPhone"), 22),
    (("mobile", "Chrome", "Android"), 15),
    (("tablet", "Safari", "iPad"), 3),
];
pub(crate) const EVENT_NAMES: &[(&str, u64)] = &[("signup", 3), ("download", 2), ("play_video", 2), ("add_to_cart", 1)];

/// What stays the same across a visitor's events; the same index always gives the same visitor.
pub(crate) struct Visitor {
    pub(crate) id: String,
    pub(crate) country: Option<&'static str>,
    pub(crate) referrer: Option<&'static str>,
    pub(crate) device: (&'static str, &'static str, &'static str),
}

impl Visitor {
    pub(crate) fn of(index: u64) -> Self {
        let mut rng = SplitMix(index);
        // Real visitor ids are 128-bit hashes in hex.
        let id = format!("{:016x}{:016x}", rng.next(), rng.next());
        Self {
            id,
            country: rng.pick(COUNTRIES),
            referrer: rng.pick(REFERRERS),
            device: rng.pick(DEVICES),
        }
    }
}

/// Synthetic raw events for one site: 70% page views, 25% custom events, 5% outbound clicks.
pub(crate) struct Traffic {
    pub(crate) site: SiteId,
    pub(crate) rng: SplitMix,
    /// Stream sequence numbers have ~20 digits, as DynamoDB's do.
    pub(crate) next_sequence: u64,
}

impl Traffic {
    pub(crate) fn new(site: SiteId) -> Self {
        Self {
            site,
            rng: SplitMix(42),
            next_sequence: 4_000_000_000_000_000_000,
        }
    }

    /// `count` events in `minute`: every visitor in `active` acts at least once (when `count`
    /// allows), the remaining events go to random active visitors.
    pub(crate) fn minute_events(&mut self, minute: Minute, active: Range<u64>, count: usize) -> Vec<StoredEvent> {
        let visitors = active.end - active.start;
        let mut events = Vec::with_capacity(count);
        for n in 0..count as u64 {
            let visitor = if n < visitors {
                active.start + n
            } else {
                active.start + self.rng.below(visitors)
            };
            let millis = self.rng.below(60_000) as i64;
            events.push(self.event(visitor, minute.start() + chrono::Duration::milliseconds(millis)));
        }
        events
    }

    pub(crate) fn event(&mut self, visitor: u64, at: DateTime<Utc>) -> StoredEvent {
        let visitor = Visitor::of(visitor);
        let (device, browser, os) = visitor.device;
        let kind = self.rng.pick(&[
            (EventKind::Pageview, 70),
            (EventKind::Event, 25),
            (EventKind::Outbound, 5),
        ]);
        let mut path = self.rng.pick(PAGES).to_owned();
        if path == BLOG_POST {
            path.push_str(&self.rng.below(200).to_string());
        }
        let id = EventId::parse(&format!("{:024x}", self.rng.next())).expect("hex digits make a valid event id");
        let detail = match kind {
            EventKind::Pageview => EventDetail::Pageview,
            EventKind::Event => EventDetail::Event {
                name: self.rng.pick(EVENT_NAMES).into(),
                value: None,
            },
            EventKind::Outbound => EventDetail::Outbound {
                url: "https://github.com/example/pulse".into(),
            },
        };
        let mut event = StoredEvent {
            site: self.site.clone(),
            detail,
            id,
            ts: at,
            visitor: visitor.id,
            sid: None,
            host: "example.com".into(),
            path,
            title: None,
            // The landing referrer on every page view, not only the first: rollups come out at
            // their largest, which is what shard sizing must allow for.
            referrer: visitor.referrer.filter(|_| kind == EventKind::Pageview).map(Into::into),
            utm_source: None,
            utm_medium: None,
            utm_campaign: None,
            device: device.into(),
            browser: Some(browser.into()),
            os: Some(os.into()),
            country: visitor.country.map(Into::into),
            sw: None,
            sh: None,
            props: BTreeMap::new(),
            client_id: false,
            goals: Vec::new(),
            fingerprint: None,
            spread: Default::default(),
        };
        // Keyed, as collect stores it (a fixed salt: the traffic stays the same run to run).
        let key = Salt::from_hex("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .fingerprint_key();
        event.fingerprint = Some(Fingerprint::keyed(&key, &event));
        event
    }

    /// The events as one stream batch, with consecutive sequence numbers.
    pub(crate) fn as_stream(&mut self, events: Vec<StoredEvent>) -> (SequenceRange, Vec<StreamEvent>) {
        let first = self.next_sequence;
        let records: Vec<StreamEvent> = events
            .into_iter()
            .map(|event| {
                self.next_sequence += 1;
                StreamEvent {
                    sequence: sequence_number(self.next_sequence),
                    event,
                }
            })
            .collect();
        let batch = SequenceRange {
            first: sequence_number(first + 1),
            last: sequence_number(self.next_sequence),
        };
        (batch, records)
    }
}

pub(crate) fn sequence_number(n: u64) -> SequenceNumber {
    SequenceNumber::parse(&n.to_string()).expect("digits make a valid sequence number")
}

/// The events of second `second` of `minute`: what one one-second stream batch delivers.
pub(crate) fn events_in_second(events: &[StoredEvent], minute: Minute, second: i64) -> Vec<StoredEvent> {
    events
        .iter()
        .filter(|event| (event.ts - minute.start()).num_seconds() == second)
        .cloned()
        .collect()
}
