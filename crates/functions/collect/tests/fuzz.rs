//! Fuzzing `POST /collect`, the one route anyone on the internet can reach: method, headers (content
//! type and encoding, User-Agent, Referer/Origin, the CDN's country, address and origin-secret headers,
//! junk), and bodies from structure-aware tracker hits with hostile fields, the seed corpus
//! (`fuzz/corpus/collect`, the fixtures' bodies) mutated byte-wise, random bytes and text, bodies around
//! and far over the 8 KiB limit. Requests reach the handler as Lambda delivers them (API Gateway v2 event
//! JSON through `lambda_http`), or built directly with header bytes that are not UTF-8.
//!
//! Each answer must be one the README documents for what was sent: 204 only for a valid hit (stored
//! exactly when it should be), 400 naming the field `pulse_core::hit` rejects, 403, 404, 405, 413, 415;
//! every error a JSON `{"error","field"}`; never a panic, a handler error or a 5xx.
//! `PULSE_FUZZ_CASES` sets the number of inputs (README, "Fuzzing").

use pulse_test_support::fuzz as common;

use std::collections::HashSet;

use base64::Engine as _;
use chrono::Utc;
use collect::{CollectApp, Config, function_handler};
use common::{Json, Tally, corpus, fixtures, hostile_string, json_number, json_value, mutated};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use proptest::prelude::*;
use proptest::sample::select;
use pulse_core::goal::{Goal, GoalName, GoalRule};
use pulse_core::hit::MAX_BODY_BYTES;
use pulse_core::memory::MemoryStore;
use pulse_core::{ParsedHit, Site, SiteId, TokenHash};
use serde_json::{Value, json};

/// Inputs per `cargo test` run; `make fuzz` runs 1,000,000.
const CI_CASES: u32 = 10_000;
/// A warm function's store and caches live this many requests, then a fresh one starts (bounds memory).
const APP_LIFETIME: u32 = 4_096;
const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";

/// The documented statuses of `POST /collect` for what a client sends (the store never fails here).
const DOCUMENTED: [u16; 7] = [204, 400, 403, 404, 405, 413, 415];

#[derive(Clone)]
struct Case {
    method: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// API Gateway base64-encodes bodies it does not treat as text.
    base64: bool,
    source_ip: String,
    /// Built directly instead of through the event JSON, so header values may be any bytes.
    direct: bool,
    /// The function is configured with an origin secret (CloudFront in front).
    with_secret: bool,
}

/// Bodies and header values as text (lossy, escaped), so that a failing input can be read.
impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |bytes: &[u8]| format!("{:?} ({} bytes)", String::from_utf8_lossy(bytes), bytes.len());
        f.debug_struct("Case")
            .field("method", &self.method)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, value)| (name, text(value)))
                    .collect::<Vec<_>>(),
            )
            .field("body", &text(&self.body))
            .field("base64", &self.base64)
            .field("source_ip", &self.source_ip)
            .field("direct", &self.direct)
            .field("with_secret", &self.with_secret)
            .finish()
    }
}

/// One warm function: its app and the client ids it has stored (a repeated one is a duplicate).
struct Warm {
    app: CollectApp<MemoryStore>,
    seen_ids: HashSet<(String, String)>,
}

/// A site with a goal of every rule kind, so that matching at ingest sees the fuzzed pages and events.
fn site(id: &str, domains: &[&str]) -> Site {
    let goal = |name: &str, rule: GoalRule, value: Option<f64>| Goal {
        name: GoalName::parse(name).unwrap(),
        rule,
        value,
    };
    Site::new(
        SiteId::parse(id).unwrap(),
        domains.iter().map(|d| (*d).to_owned()).collect(),
        TokenHash::of("token"),
    )
    .with_goals(vec![
        goal(
            "signup",
            GoalRule::Page {
                path: "/signup/done".into(),
            },
            Some(10.0),
        ),
        goal(
            "docs",
            GoalRule::PagePrefix {
                prefix: "/docs/".into(),
            },
            None,
        ),
        goal(
            "unicode",
            GoalRule::PagePrefix {
                prefix: "/caf%C3%A9".into(),
            },
            None,
        ),
        goal(
            "pro plan",
            GoalRule::Event {
                name: "button_click".into(),
                property: Some(("plan".into(), "pro".into())),
            },
            Some(5.0),
        ),
        goal(
            "any click",
            GoalRule::Event {
                name: "button_click".into(),
                property: None,
            },
            None,
        ),
    ])
}

fn warm(with_secret: bool) -> Warm {
    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("t".into()),
        "ORIGIN_VERIFY_SECRET" => with_secret.then(|| SECRET.into()),
        // Thousands of hits a second to one site: the per-site limit is tested apart (pulse_core::rate).
        "SITE_HIT_RATE_LIMIT" => Some("0".into()),
        _ => None,
    })
    .unwrap();
    let store = MemoryStore::with_site(site("demo", &["localhost", "example.com"]));
    let other = site("docs-site", &["docs.example.org"]);
    store.sites.lock().unwrap().insert(other.id.clone(), other);
    Warm {
        app: CollectApp::new(store, &config),
        seen_ids: HashSet::new(),
    }
}

// ---- inputs ----

fn method() -> BoxedStrategy<&'static str> {
    prop_oneof![
        20 => Just("POST"),
        2 => Just("OPTIONS"),
        1 => select(&["GET", "HEAD", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT", "PURGE", "post"][..]),
    ]
    .boxed()
}

/// A page URL: allowed hosts, their subdomains and look-alikes, odd schemes, ports, paths, queries.
fn page_url() -> BoxedStrategy<String> {
    let scheme = select(&["https", "http", "HTTPS", "ftp", "javascript", "data", "file", "ws", ""][..]);
    let host = select(
        &[
            "localhost",
            "example.com",
            "blog.example.com",
            "EXAMPLE.COM",
            "example.com.",
            "a.b.example.com",
            "badexample.com",
            "example.com.evil.org",
            "evil.example.net",
            "docs.example.org",
            "127.0.0.1",
            "[::1]",
            "[fe80::1%25eth0]",
            "xn--bcher-kva.example",
            "bücher.example",
            "user:pw@example.com",
            "%65xample.com",
            "exa mple.com",
            "",
        ][..],
    );
    let port = prop::option::weighted(0.2, select(&[":8080", ":443", ":0", ":65535", ":65536", ":", ":x"][..]));
    let segment = prop_oneof![3 => "[a-z0-9_-]{0,12}", 1 => hostile_string()];
    let path = prop::collection::vec(segment, 0..4);
    let query = prop::option::weighted(
        0.3,
        prop::collection::vec(
            (
                select(&["utm_source", "utm_medium", "utm_campaign", "ref", "q", "email"][..]),
                hostile_string(),
            ),
            0..4,
        ),
    );
    let fragment = prop::option::weighted(0.2, hostile_string());
    let special = select(
        &[
            "javascript:alert(1)",
            "/relative",
            "//example.com/x",
            "https://",
            "https://example.com",
            "http://localhost:8080/pricing",
            "data:text/html,x",
            "mailto:x@example.com",
            "https://example.com:8080/signup/done",
        ][..],
    );
    prop_oneof![
        8 => (scheme, host, port, path, query, fragment).prop_map(|(scheme, host, port, path, query, fragment)| {
            let mut url = format!("{scheme}://{host}{}/{}", port.unwrap_or_default(), path.join("/"));
            if let Some(query) = query {
                let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                url.push('?');
                url.push_str(&pairs.join("&"));
            }
            if let Some(fragment) = fragment {
                url.push('#');
                url.push_str(&fragment);
            }
            url
        }),
        2 => special.prop_map(str::to_owned),
        1 => (
            select(&["https://example.com/", "http://localhost/"][..]),
            select(&[2000usize, 2020, 2030, 2048, 3000][..]),
        )
            .prop_map(|(base, len)| format!("{base}{}", "x".repeat(len - base.len().min(len)))),
    ]
    .boxed()
}

/// A string field's value, or a value of the wrong type.
fn string_or_not(strings: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Json> {
    prop_oneof![
        8 => strings.prop_map(Json::Str),
        1 => json_value(1),
    ]
    .boxed()
}

fn site_id() -> BoxedStrategy<Json> {
    string_or_not(prop_oneof![
        8 => Just("demo".to_owned()),
        1 => Just("docs-site".to_owned()),
        1 => Just("nobody".to_owned()),
        2 => "[A-Za-z0-9_.-]{1,64}",
        2 => hostile_string(),
        1 => Just("demo#PV#x".to_owned()),
    ])
    .boxed()
}

fn kind() -> BoxedStrategy<Json> {
    string_or_not(prop_oneof![
        8 => select(&["pageview", "event", "outbound", "hm_click", "hm_move", "hm_scroll"][..]).prop_map(str::to_owned),
        1 => select(&["PAGEVIEW", "pageview ", "click", ""][..]).prop_map(str::to_owned),
        1 => hostile_string(),
    ])
    .boxed()
}

/// A client event id: UUIDv7s and ULIDs with times near and far from now, other ids, invalid ones.
fn client_id() -> BoxedStrategy<Json> {
    let uuid_v7 = (-3i64 * 86_400_000..600_000, any::<u64>(), 0u8..16).prop_map(|(offset, random, variant)| {
        let millis = (Utc::now().timestamp_millis() + offset).clamp(0, (1 << 48) - 1) as u64;
        format!(
            "{:08x}-{:04x}-7{:03x}-{:x}{:03x}-{:012x}",
            millis >> 16,
            millis & 0xffff,
            random & 0xfff,
            variant,
            (random >> 12) & 0xfff,
            (random >> 24) & 0xffff_ffff_ffff
        )
    });
    let ulid = (-3i64 * 86_400_000..600_000, "[0-9A-HJKMNP-TV-Z]{16}").prop_map(|(offset, rest)| {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let millis = (Utc::now().timestamp_millis() + offset).max(0) as u64;
        let time: String = (0..10)
            .rev()
            .map(|i| ALPHABET[((millis >> (5 * i)) & 31) as usize] as char)
            .collect();
        format!("{time}{rest}")
    });
    string_or_not(prop_oneof![
        3 => uuid_v7,
        2 => ulid,
        2 => "[A-Za-z0-9_-]{1,66}",
        1 => "[0-9a-f]{32}",
        1 => "[0-9A-Za-z]{26}",
        1 => hostile_string(),
    ])
    .boxed()
}

fn event_name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(&["signup", "button_click", "outbound_click", "scroll_depth", "purchase", " ", ""][..])
            .prop_map(str::to_owned),
        2 => hostile_string(),
    ]
    .boxed()
}

/// `p`: the keys the wire format gives meaning to (with fitting and unfitting values) and others.
fn props() -> BoxedStrategy<Json> {
    let meaningful = prop_oneof![
        (Just("name".to_owned()), string_or_not(event_name())),
        (
            Just("value".to_owned()),
            prop_oneof![json_number().prop_map(Json::Num), json_value(1)]
        ),
        (Just("url".to_owned()), string_or_not(page_url())),
        (
            Just("path".to_owned()),
            string_or_not(prop_oneof![
                "/[a-z0-9/_?#=&.-]{0,30}",
                hostile_string().prop_map(|s| format!("/{s}")),
                hostile_string(),
                Just(format!("/{}", "p".repeat(2048))),
            ])
        ),
        (Just("title".to_owned()), string_or_not(hostile_string())),
        (Just("hostname".to_owned()), string_or_not(hostile_string())),
        (Just("category".to_owned()), string_or_not(hostile_string())),
    ];
    let other = (
        prop_oneof![3 => "[a-z]{1,8}", 1 => hostile_string()],
        prop_oneof![
            3 => hostile_string().prop_map(Json::Str),
            2 => json_number().prop_map(Json::Num),
            1 => any::<bool>().prop_map(Json::Bool),
            1 => json_value(2),
        ],
    );
    prop_oneof![
        8 => prop::collection::vec(prop_oneof![2 => meaningful, 3 => other], 0..24).prop_map(Json::Obj),
        1 => json_value(2),
    ]
    .boxed()
}

/// A tracker hit as a tracker builds it, for one of the sites or not, with hostile text in its strings:
/// most of these pass validation, so the enrichment and the store see them.
fn plausible_hit() -> BoxedStrategy<Json> {
    let text =
        || prop_oneof![3 => "[A-Za-z0-9 ]{0,20}", 1 => hostile_string().prop_map(|s| s.chars().take(60).collect())];
    let site = prop_oneof![8 => Just("demo"), 1 => Just("docs-site"), 1 => Just("nobody")];
    let kind = select(
        &[
            "pageview", "pageview", "pageview", "pageview", "event", "event", "outbound", "hm_click",
        ][..],
    );
    let host = prop_oneof![
        6 => select(&["localhost:8080", "example.com", "blog.example.com"][..]),
        1 => select(&["docs.example.org", "evil.example.net", "EXAMPLE.COM.", "notexample.com"][..]),
    ];
    let path = prop_oneof![
        4 => prop::collection::vec(prop_oneof![3 => "[a-z0-9-]{1,10}", 1 => text()], 0..4),
        1 => select(&["signup/done", "docs/a/b", "café/x", "caf%C3%A9"][..]).prop_map(|p| vec![p.to_owned()]),
    ];
    let query = prop::option::weighted(
        0.3,
        (
            select(&["utm_source", "utm_medium", "utm_campaign", "q"][..]),
            prop_oneof![3 => text(), 1 => "[a-zé ]{95,105}"],
        ),
    );
    let page = (select(&["https", "http"][..]), host, path, query).prop_map(|(scheme, host, path, query)| {
        let query = query.map(|(k, v)| format!("?{k}={v}")).unwrap_or_default();
        format!("{scheme}://{host}/{}{query}", path.join("/"))
    });
    let optional = (
        prop::option::weighted(
            0.4,
            select(
                &[
                    "https://news.ycombinator.com/item?id=1",
                    "https://example.com/x",
                    "",
                    "android-app://com.google.android.gm/",
                ][..],
            ),
        ),
        prop::option::weighted(0.5, text()),
        prop::option::weighted(0.4, "[a-z0-9]{1,16}"),
        prop::option::weighted(0.4, (0u32..5000, 0u32..5000)),
        prop::option::weighted(0.4, client_id()),
        prop::option::weighted(0.3, (event_name(), text(), json_number())),
    );
    let props = (
        event_name(),
        prop::option::weighted(0.5, json_number()),
        prop::option::weighted(0.5, page_url()),
        prop::collection::vec(
            (
                prop_oneof![
                    2 => "[a-z]{1,8}",
                    2 => select(&["plan", "path", "title", "category", "hostname"][..]).prop_map(str::to_owned),
                    1 => text(),
                ],
                prop_oneof![
                    3 => text().prop_map(Json::Str),
                    1 => select(&["pro", "/signup/done", "/docs/a", "/caf%C3%A9/x", "/caf\u{e9}"][..])
                        .prop_map(Json::str),
                    1 => json_number().prop_map(Json::Num),
                    1 => any::<bool>().prop_map(Json::Bool),
                ],
            ),
            0..6,
        ),
    );
    (site, kind, prop::option::weighted(0.95, page), optional, props)
        .prop_map(
            |(site, kind, page, (r, t, sid, screen, id, ts), (name, value, url, others))| {
                let mut fields = vec![("s".to_owned(), Json::str(site)), ("e".to_owned(), Json::str(kind))];
                fields.extend(page.map(|u| ("u".to_owned(), Json::Str(u))));
                fields.extend(r.map(|r| ("r".to_owned(), Json::str(r))));
                fields.extend(t.map(|t| ("t".to_owned(), Json::Str(t))));
                fields.extend(sid.map(|sid| ("sid".to_owned(), Json::Str(sid))));
                if let Some((w, h)) = screen {
                    fields.push(("sw".to_owned(), Json::Num(w.to_string())));
                    fields.push(("sh".to_owned(), Json::Num(h.to_string())));
                }
                fields.extend(id.map(|id| ("id".to_owned(), id)));
                if let Some((en, ec, ev)) = ts {
                    fields.extend([
                        ("en".to_owned(), Json::Str(en)),
                        ("ec".to_owned(), Json::Str(ec)),
                        ("ev".to_owned(), Json::Num(ev)),
                    ]);
                }
                let mut p = vec![("name".to_owned(), Json::Str(name))];
                p.extend(value.map(|v| ("value".to_owned(), Json::Num(v))));
                p.extend(url.map(|u| ("url".to_owned(), Json::Str(u))));
                p.extend(others);
                fields.push(("p".to_owned(), Json::Obj(p)));
                Json::Obj(fields)
            },
        )
        .boxed()
}

/// A tracker hit with each field present or not, fitting or not, in any order, with unknown fields.
fn hostile_hit() -> BoxedStrategy<Json> {
    let opt = |p: f64, s: BoxedStrategy<Json>| prop::option::weighted(p, s);
    let number = || prop_oneof![4 => json_number().prop_map(Json::Num), 1 => json_value(1)].boxed();
    let head = (
        opt(0.97, site_id()),
        opt(0.97, kind()),
        opt(0.9, string_or_not(page_url())),
        opt(
            0.4,
            string_or_not(prop_oneof![page_url(), Just(String::new()), hostile_string()]),
        ),
        opt(0.4, string_or_not(hostile_string())),
        opt(0.4, string_or_not(hostile_string())),
    );
    let tail = (
        opt(0.3, number()),
        opt(0.3, number()),
        opt(0.4, client_id()),
        opt(0.3, string_or_not(event_name())),
        opt(0.2, string_or_not(hostile_string())),
        opt(0.2, number()),
        opt(0.6, props()),
    );
    let extra = prop::collection::vec(
        (
            prop_oneof![
                select(&["s", "e", "u", "ts", "x"][..]).prop_map(str::to_owned),
                hostile_string()
            ],
            json_value(2),
        ),
        0..3,
    );
    (head, tail, extra, any::<u64>())
        .prop_map(|((s, e, u, r, t, sid), (sw, sh, id, en, ec, ev, p), extra, order)| {
            let named = [
                ("s", s),
                ("e", e),
                ("u", u),
                ("r", r),
                ("t", t),
                ("sid", sid),
                ("sw", sw),
                ("sh", sh),
                ("id", id),
                ("en", en),
                ("ec", ec),
                ("ev", ev),
                ("p", p),
            ];
            let mut fields: Vec<(String, Json)> = named
                .into_iter()
                .filter_map(|(name, value)| Some((name.to_owned(), value?)))
                .chain(extra)
                .collect();
            // Order does not matter to the format; a rotation is enough to move fields around.
            if !fields.is_empty() {
                let len = fields.len();
                fields.rotate_left((order % len as u64) as usize);
            }
            Json::Obj(fields)
        })
        .boxed()
}

/// The bodies of the collect fixtures plus the corpus: the seeds for byte-wise mutation.
fn seed_bodies() -> Vec<Vec<u8>> {
    let mut seeds = corpus("collect");
    for event in fixtures("collect") {
        let Some(body) = event["body"].as_str() else { continue };
        if event["isBase64Encoded"] == json!(true) {
            seeds.push(
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("fixture body is base64"),
            );
        } else {
            seeds.push(body.as_bytes().to_vec());
        }
    }
    seeds
}

fn body() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => plausible_hit().prop_map(|hit| hit.to_text().into_bytes()),
        3 => hostile_hit().prop_map(|hit| hit.to_text().into_bytes()),
        4 => mutated(seed_bodies()),
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => any::<String>().prop_map(String::into_bytes),
        1 => (plausible_hit(), select(&[8_190usize, 8_191, 8_192, 8_193, 8_194, 9_000, 65_536][..]))
            .prop_map(|(hit, size)| {
            // A hit padded with an unknown field to exactly `size` bytes, when it is not longer already.
            let mut text = hit.to_text();
            let (overhead, separator) = if text == "{}" { (6, "") } else { (7, ",") };
            if text.len() + overhead <= size {
                let pad = "x".repeat(size - text.len() - overhead);
                text.insert_str(1, &format!("\"_\":\"{pad}\"{separator}"));
            }
            text.into_bytes()
        }),
        1 => select(&[0usize, 1, 2, 8_192, 8_193, 65_536][..]).prop_map(|n| vec![b' '; n]),
    ]
    .boxed()
}

/// A header value: mostly text, sometimes with a byte that is not UTF-8 (only a directly built request
/// keeps it: the event JSON can carry only text).
fn header_value(text: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Vec<u8>> {
    (text, prop::option::weighted(0.05, 0x80u8..=0xff))
        .prop_map(|(text, byte)| {
            let mut bytes = text.into_bytes();
            bytes.extend(byte);
            bytes
        })
        .boxed()
}

fn one_of(values: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![6 => select(values).prop_map(str::to_owned), 1 => hostile_string()].boxed()
}

/// The content types collect accepts, as browsers and `sendBeacon` spell them.
const ACCEPTED_TYPES: &[&str] = &[
    "application/json",
    "text/plain;charset=UTF-8",
    "text/plain",
    "APPLICATION/JSON; charset=utf-8",
];

fn headers() -> BoxedStrategy<Vec<(String, Vec<u8>)>> {
    let named = |name: &'static str, p: f64, values: BoxedStrategy<String>| {
        prop::option::weighted(p, header_value(values)).prop_map(move |v| v.map(|v| (name.to_owned(), v)))
    };
    let content = (
        named(
            "content-type",
            0.85,
            prop_oneof![
                3 => select(ACCEPTED_TYPES).prop_map(str::to_owned),
                1 => one_of(&[
                    " application/json ",
                    "application/json;;;",
                    "application/jsonx",
                    "text/html",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "application/octet-stream",
                    "",
                    ";",
                ]),
            ]
            .boxed(),
        ),
        named(
            "content-encoding",
            0.1,
            one_of(&["gzip", "br", "deflate", "identity", "x-unknown"]),
        ),
        named(
            "content-length",
            0.3,
            one_of(&["0", "183", "-1", "99999999999999999999"]),
        ),
        named("transfer-encoding", 0.05, one_of(&["chunked", "gzip, chunked"])),
    );
    let client = (
        named(
            "user-agent",
            0.95,
            prop_oneof![
                6 => select(&[
                    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
                    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/604.1",
                    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                ][..])
                .prop_map(str::to_owned),
                2 => one_of(&[
                    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
                    "curl/8.5.0",
                    "python-requests/2.31",
                    "",
                    "Mozilla/5.0",
                ]),
            ]
            .boxed(),
        ),
        named("referer", 0.3, page_url().boxed()),
        named("origin", 0.5, page_url().boxed()),
        named("cloudfront-viewer-country", 0.3, one_of(&["DE", "US", "XX", "T1", "", "de", "DEU", "D"])),
        named("cf-ipcountry", 0.2, one_of(&["FR", "XX", "T1", ""])),
        // Mostly the right one: with the secret configured, a request without it stops at the first check.
        named("x-origin-verify", 0.6, one_of(&[SECRET, SECRET, SECRET, "s3cret", ""])),
        named(
            "cloudfront-viewer-address",
            0.2,
            one_of(&["203.0.113.7:46532", "2001:db8::1:46532", "[2001:db8::1]:443", "garbage", ":", "::", "1.2.3.4"]),
        ),
    );
    let extra = prop::collection::vec(
        (
            prop_oneof![
                "[a-z][a-z0-9-]{0,20}",
                select(&["Accept", "Cookie", "Authorization", "X-Forwarded-For"][..]).prop_map(str::to_owned)
            ],
            header_value(hostile_string()),
        ),
        0..3,
    );
    (content, client, extra)
        .prop_map(|((ct, ce, cl, te), (ua, referer, origin, cvc, cfc, ov, cva), extra)| {
            [ct, ce, cl, te, ua, referer, origin, cvc, cfc, ov, cva]
                .into_iter()
                .flatten()
                .chain(extra)
                .collect()
        })
        .boxed()
}

fn case() -> BoxedStrategy<Case> {
    let source_ip = prop_oneof![
        6 => select(&["198.51.100.23", "203.0.113.7", "2001:db8::1", "::1", "0.0.0.0"][..]).prop_map(str::to_owned),
        1 => any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
        1 => hostile_string(),
    ];
    (
        method(),
        headers(),
        body(),
        prop::bool::weighted(0.2),
        source_ip,
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(method, headers, body, base64, source_ip, direct, with_secret)| Case {
            method,
            headers,
            body,
            base64,
            source_ip,
            direct,
            with_secret,
        })
        .boxed()
}

// ---- requests ----

/// The API Gateway HTTP API v2 event of the case, through `lambda_http` as the runtime parses it.
/// API Gateway sets `Host` and `X-Forwarded-Proto` itself, so those stay fixed.
fn via_event(case: &Case) -> Request {
    let mut headers = serde_json::Map::new();
    headers.insert("host".into(), json!("abc123.execute-api.eu-west-1.amazonaws.com"));
    headers.insert("x-forwarded-proto".into(), json!("https"));
    for (name, value) in &case.headers {
        let name = name.to_ascii_lowercase();
        if name == "host" || name == "x-forwarded-proto" {
            continue;
        }
        let value = String::from_utf8_lossy(&common::sanitised(value)).into_owned();
        headers.insert(name, Value::String(value));
    }
    let (body, base64) = match std::str::from_utf8(&case.body) {
        _ if case.body.is_empty() => (Value::Null, false),
        Ok(text) if !case.base64 => (Value::String(text.to_owned()), false),
        _ => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(&case.body)),
            true,
        ),
    };
    let event = json!({
        "version": "2.0",
        "routeKey": "ANY /collect",
        "rawPath": "/collect",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": case.method,
                "path": "/collect",
                "protocol": "HTTP/1.1",
                "sourceIp": case.source_ip,
                "userAgent": "",
            },
            "requestId": "fuzz",
            "routeKey": "ANY /collect",
            "stage": "$default",
            "time": "15/Jan/2026:10:30:12 +0000",
            "timeEpoch": 1768473012345_i64,
        },
        "isBase64Encoded": base64,
        "body": body,
    });
    lambda_http::request::from_str(&event.to_string()).expect("a well-formed API Gateway event parses")
}

/// The same request built directly: header values keep bytes that are not UTF-8.
fn direct(case: &Case) -> Request {
    let mut request = Request::new(if case.body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(case.body.clone())
    });
    *request.method_mut() = Method::from_bytes(case.method.as_bytes()).expect("a method token");
    for (name, value) in &case.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a header name");
        let value = HeaderValue::from_bytes(&common::sanitised(value)).expect("a header value");
        request.headers_mut().insert(name, value);
    }
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(case.source_ip.clone());
    request.with_request_context(RequestContext::ApiGatewayV2(context))
}

// ---- the oracle ----

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn acceptable_content_type(headers: &HeaderMap) -> bool {
    match headers.get("content-type") {
        None => true,
        Some(value) => value.to_str().is_ok_and(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            essence == "application/json" || essence == "text/plain"
        }),
    }
}

/// What the README promises for this request, given the registered sites.
#[derive(Debug, PartialEq)]
enum Expected {
    Preflight,
    Error(u16, Option<String>),
    /// 204; `Some(site, id)` when a new event must be stored (the id when the client sent one).
    Accepted(Option<(SiteId, Option<String>)>),
}

fn expected(request: &Request, app: &CollectApp<MemoryStore>, secret: Option<&str>) -> Expected {
    // With the origin secret configured, anything without it came around the CDN: refused first.
    if let Some(secret) = secret
        && header_str(request.headers(), "x-origin-verify") != Some(secret)
    {
        return Expected::Error(403, Some("x-origin-verify".into()));
    }
    match *request.method() {
        Method::POST => {}
        Method::OPTIONS => return Expected::Preflight,
        _ => return Expected::Error(405, None),
    }
    let headers = request.headers();
    if !acceptable_content_type(headers) {
        return Expected::Error(415, Some("content-type".into()));
    }
    let body = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Expected::Error(413, None);
    }
    let page_header = header_str(headers, "referer").or_else(|| header_str(headers, "origin"));
    let hit = match ParsedHit::parse(body, page_header) {
        Err(err) => return Expected::Error(400, err.field),
        Ok(ParsedHit::Heatmap) => return Expected::Accepted(None),
        Ok(ParsedHit::Track(hit)) => hit,
    };
    let user_agent = header_str(headers, "user-agent").unwrap_or_default();
    if pulse_core::enrich::classify_user_agent(user_agent).is_none() {
        return Expected::Accepted(None);
    }
    let Some(site) = app.collector.store().sites.lock().unwrap().get(&hit.site).cloned() else {
        return Expected::Error(404, Some("s".into()));
    };
    // A browser's declared page (Origin, else Referer) must be the site's, whatever `u` says.
    let declared = pulse_core::origin::DeclaredOrigin {
        origin: header_str(headers, "origin"),
        referer: header_str(headers, "referer"),
    };
    if let Some(host) = declared.host()
        && !host.is_some_and(|host| site.allows_host(&host))
    {
        return Expected::Error(403, Some("origin".into()));
    }
    if !site.allows_host(hit.url.host_str().unwrap_or_default()) {
        return Expected::Error(403, Some("u".into()));
    }
    Expected::Accepted(Some((site.id, hit.client_id)))
}

/// The fields a 400 may name (README, "The collect API").
fn documented_field(field: &str) -> bool {
    matches!(
        field,
        "s" | "e" | "u" | "r" | "t" | "sid" | "sw" | "sh" | "id" | "en" | "ec" | "ev" | "p"
    ) || field.starts_with("p.")
}

fn check(
    warm: &mut Warm,
    request: Request,
    runtime: &tokio::runtime::Runtime,
    tally: &Tally,
    secret: Option<&str>,
) -> Result<(), TestCaseError> {
    let expected = expected(&request, &warm.app, secret);
    let stored_before = warm.app.collector.store().events.lock().unwrap().len();
    let response = runtime
        .block_on(function_handler(&warm.app, request))
        .map_err(|err| TestCaseError::fail(format!("handler error: {err}")))?;
    let status = response.status().as_u16();
    tally.add(status.to_string());
    prop_assert!(DOCUMENTED.contains(&status), "undocumented status {}", status);
    prop_assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"*"[..])
    );
    let new_events: Vec<_> = warm.app.collector.store().events.lock().unwrap()[stored_before..].to_vec();

    match expected {
        Expected::Preflight => {
            prop_assert_eq!(status, 204);
            prop_assert!(response.headers().contains_key("access-control-allow-methods"));
        }
        Expected::Error(want, field) => {
            prop_assert_eq!(status, want);
            let Body::Text(text) = response.body() else {
                return Err(TestCaseError::fail("an error without a text body"));
            };
            let error: Value = serde_json::from_str(text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert!(error["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", text);
            prop_assert!(error.get("field").is_some(), "{}", text);
            prop_assert_eq!(error["field"].as_str(), field.as_deref());
            if want == 400 {
                prop_assert!(field.as_deref().is_none_or(documented_field), "{}", text);
                let named = match field.as_deref() {
                    Some(f) if f.starts_with("p.") && !matches!(f, "p.name" | "p.value" | "p.url") => "p.<property>",
                    Some(f) => f,
                    None => "null",
                };
                tally.add(format!("400 {named}"));
            }
            if want == 405 {
                prop_assert_eq!(
                    response.headers().get("allow").map(|v| v.as_bytes()),
                    Some(&b"POST, OPTIONS"[..])
                );
            }
            prop_assert!(new_events.is_empty(), "an error stored an event");
        }
        Expected::Accepted(None) => {
            tally.add("204 dropped (bot, heatmap)");
            prop_assert_eq!(status, 204);
            prop_assert!(new_events.is_empty(), "a bot or heatmap hit was stored");
        }
        Expected::Accepted(Some((site, client_id))) => {
            prop_assert_eq!(status, 204);
            let duplicate = client_id
                .as_ref()
                .is_some_and(|id| !warm.seen_ids.insert((site.to_string(), id.clone())));
            prop_assert_eq!(new_events.len(), usize::from(!duplicate));
            if duplicate {
                tally.add("204 duplicate id");
            }
            if let Some(event) = new_events.first() {
                tally.add("204 stored");
                if !event.goals.is_empty() {
                    tally.add("204 stored, goal completed");
                }
                prop_assert_eq!(&event.site, &site);
                prop_assert_eq!(event.client_id, client_id.is_some());
                if let Some(id) = &client_id {
                    prop_assert_eq!(event.id.as_str(), id);
                }
                let allowed = warm.app.collector.store().sites.lock().unwrap()[&site].allows_host(&event.host);
                prop_assert!(allowed, "stored a page on {:?}", event.host);
                prop_assert!(
                    event.path.is_empty() || event.path.starts_with('/'),
                    "path {:?}",
                    event.path
                );
                prop_assert!(!event.path.contains(['?', '#']), "path {:?} keeps a query", event.path);
                // The fuzzed sites have not opted in to outbound queries.
                if let pulse_core::EventDetail::Outbound { url } = &event.detail {
                    prop_assert!(!url.contains(['?', '#']), "outbound url {:?} keeps a query", url);
                    tally.add("204 stored outbound");
                }
                prop_assert!(event.title.as_ref().is_none_or(|t| t.chars().count() <= 300));
                prop_assert!(event.sid.as_ref().is_none_or(|s| s.chars().count() <= 64));
                // ts-analytics' category (`ec`) becomes one more.
                let most = pulse_core::hit::MAX_EXTRA_PROPS + 1;
                prop_assert!(event.props.len() <= most, "{} properties", event.props.len());
                prop_assert!(event.visitor.len() == 32 && event.visitor.bytes().all(|b| b.is_ascii_hexdigit()));
                // Keyed with the day's salt: what the aggregate counts the event under.
                let salt = warm.app.collector.store().salts.lock().unwrap()[&event.ts.date_naive()].clone();
                let keyed = pulse_core::realtime::Fingerprint::keyed(&salt.fingerprint_key(), event);
                prop_assert_eq!(event.fingerprint, Some(keyed));
                // The stored item must serialise: the DynamoDB adapter writes exactly this.
                let item = pulse_dynamodb::event_item(event, Utc::now());
                prop_assert!(item.is_ok(), "{:?}", item.err());
            }
        }
    }
    Ok(())
}

#[test]
fn collect_answers_only_documented_statuses() {
    let tally = Tally::new("collect");
    let runtime = common::runtime();
    // One warm function per configuration, replaced every APP_LIFETIME requests.
    let apps = [
        common::Recycled::new(|| warm(false), APP_LIFETIME),
        common::Recycled::new(|| warm(true), APP_LIFETIME),
    ];
    common::fuzz(file!(), CI_CASES, &tally, case(), |case| {
        let request = if case.direct { direct(&case) } else { via_event(&case) };
        let secret = case.with_secret.then_some(SECRET);
        apps[usize::from(case.with_secret)].with(|warm| check(warm, request, &runtime, &tally, secret))
    });
    assert!(
        tally.count("204 stored") > 0,
        "no input was ever stored: the generators miss valid hits"
    );
    assert!(
        tally.count("204 stored outbound") > 0,
        "no outbound click was ever stored: the generators miss them"
    );
}
