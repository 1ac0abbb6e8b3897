//! Fuzzing `GET /sites/{siteId}/realtime`: the site id in the path (any text), the raw query string
//! (the three parameters and others, spelled every way a client may spell a number, percent-encoded
//! bytes, repeats, the seed corpus `fuzz/corpus/realtime` mutated byte-wise) and the `Authorization`
//! header, against a store with a few minutes of traffic for a private and a public site.
//!
//! Each answer must be the documented one: 200 with a view that honours `minutes`, `limit` and `events`
//! only for a valid request with the right token (or none, for the public site); 400 naming `siteId`,
//! `minutes`, `limit` or `events`; the same 401 for an unknown site and a wrong or missing token; 204 to
//! a preflight and 405 to other methods; never a panic, a handler error or a 5xx.
//! `PULSE_FUZZ_CASES` sets the number of inputs (README, "Fuzzing").

use pulse_test_support::fuzz as common;

use std::collections::HashMap;

use chrono::{Duration, Utc};
use common::{
    Tally, corpus, encode_for_query, hostile_string, mutated_query, numeric_text, percent_encode, query_string,
};
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, RequestExt};
use proptest::prelude::*;
use proptest::sample::select;
use pulse_core::memory::{MemoryStore, sample_event};
use pulse_core::realtime::aggregate::{AggregateConfig, StreamEvent, fold_batch};
use pulse_core::realtime::{SequenceNumber, SequenceRange};
use pulse_core::{EventKind, Site, SiteId, TokenHash};
use realtime::{Config, RealtimeApp, function_handler};
use serde_json::{Value, json};

/// Inputs per `cargo test` run; `make fuzz` runs 1,000,000.
const CI_CASES: u32 = 20_000;
/// The seeded traffic moves out of the window as time passes: a fresh store every this many requests.
const APP_LIFETIME: u32 = 20_000;
const TOKEN: &str = "pt_demo-token";

/// The documented statuses of the realtime API for what a client sends (the store never fails here).
const DOCUMENTED: [u16; 5] = [200, 204, 400, 401, 405];

#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    /// The `siteId` path parameter, as API Gateway decodes it.
    site: String,
    /// The raw query string, as API Gateway forwards it.
    query: String,
    authorization: Option<Vec<u8>>,
    /// Built directly instead of through the event JSON, so the header may hold any bytes.
    direct: bool,
}

struct Warm {
    app: RealtimeApp<MemoryStore>,
}

fn site(id: &str, public: bool) -> Site {
    Site::new(
        SiteId::parse(id).unwrap(),
        vec!["example.com".into()],
        TokenHash::of(TOKEN),
    )
    .public(public)
}

/// A private site (`demo`, token [`TOKEN`]) and a public one (`open`), each with 30 minutes of page views,
/// events and outbound clicks of 40 visitors, folded into rollups as the aggregate function folds them.
fn warm() -> Warm {
    let store = MemoryStore::with_site(site("demo", false));
    store
        .sites
        .lock()
        .unwrap()
        .insert(SiteId::parse("open").unwrap(), site("open", true));
    let now = Utc::now();
    let mut stream = Vec::new();
    for (i, site) in ["demo", "open"].iter().cycle().take(400).enumerate() {
        let kind = [
            EventKind::Pageview,
            EventKind::Pageview,
            EventKind::Event,
            EventKind::Outbound,
        ][i % 4];
        let mut event = sample_event(
            kind,
            &format!("e{i:05}"),
            now - Duration::seconds((i as i64 * 4) % 1_800),
        );
        event.site = SiteId::parse(site).unwrap();
        event.visitor = format!("{:032x}", i % 40);
        event.path = format!("/page/{}", i % 13);
        event.country = ["DE", "US", "FR"].get(i % 5).map(|c| (*c).to_owned());
        event.referrer = (i % 3 == 0).then(|| format!("ref{}.example", i % 7));
        store.events.lock().unwrap().push(event.clone());
        let sequence = SequenceNumber::parse(&format!("{}", 1_000 + i)).unwrap();
        stream.push(StreamEvent { sequence, event });
    }
    let batch = SequenceRange {
        first: stream[0].sequence.clone(),
        last: stream[stream.len() - 1].sequence.clone(),
    };
    let runtime = common::runtime();
    let report = runtime.block_on(fold_batch(&store, &AggregateConfig::default(), &batch, stream, now));
    assert!(report.failed.is_empty(), "the seed traffic folds");
    let config = Config::from_lookup(|name| (name == "TABLE_NAME").then(|| "t".into())).unwrap();
    Warm {
        app: RealtimeApp::new(store, &config),
    }
}

// ---- inputs ----

const PARAMS: &[&str] = &["minutes", "limit", "events"];

fn case() -> BoxedStrategy<Case> {
    let method = prop_oneof![
        20 => Just("GET"),
        1 => Just("OPTIONS"),
        1 => select(&["POST", "HEAD", "PUT", "DELETE", "PATCH", "get"][..]),
    ];
    let site = prop_oneof![
        6 => Just("demo".to_owned()),
        3 => Just("open".to_owned()),
        1 => Just("nobody".to_owned()),
        1 => "[A-Za-z0-9_.-]{0,66}",
        2 => hostile_string(),
    ];
    let query = prop_oneof![
        5 => query_string(PARAMS, numeric_text()),
        3 => mutated_query(corpus("realtime")),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| encode_for_query(&bytes)),
    ];
    let token = prop_oneof![
        6 => Just(format!("Bearer {TOKEN}")),
        3 => select(&[
            "bearer pt_demo-token",
            "BEARER   pt_demo-token  ",
            "Bearer\tpt_demo-token",
            "Bearer pt_wrong",
            "Bearer pt_demo-token extra",
            "Bearer pt_demo-tokeN",
            "Bearer ",
            "Bearer",
            "Basic cHQ6ZGVtbw==",
            "pt_demo-token",
            "",
        ][..])
        .prop_map(str::to_owned),
        1 => hostile_string(),
        1 => hostile_string().prop_map(|t| format!("Bearer {t}")),
    ];
    let authorization = prop::option::weighted(
        0.85,
        (token, prop::option::weighted(0.05, 0x80u8..=0xff)).prop_map(|(token, byte)| {
            let mut bytes = token.into_bytes();
            bytes.extend(byte);
            bytes
        }),
    );
    (method, site, query, authorization, prop::bool::weighted(0.2))
        .prop_map(|(method, site, query, authorization, direct)| Case {
            method,
            site,
            query,
            authorization,
            direct,
        })
        .boxed()
}

// ---- requests ----

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
}

/// The API Gateway HTTP API v2 event, through `lambda_http` as the runtime parses it.
fn via_event(case: &Case) -> Request {
    let mut headers = serde_json::Map::new();
    headers.insert("host".into(), json!("abc123.execute-api.eu-west-1.amazonaws.com"));
    headers.insert("x-forwarded-proto".into(), json!("https"));
    if let Some(value) = &case.authorization {
        let value = String::from_utf8_lossy(&common::sanitised(value)).into_owned();
        headers.insert("authorization".into(), Value::String(value));
    }
    let mut query = serde_json::Map::new();
    for (key, value) in query_pairs(&case.query) {
        match query.get_mut(&key) {
            Some(Value::String(existing)) => *existing = format!("{existing},{value}"),
            _ => {
                query.insert(key, Value::String(value));
            }
        }
    }
    let path = format!("/sites/{}/realtime", percent_encode(case.site.as_bytes()));
    let event = json!({
        "version": "2.0",
        "routeKey": "GET /sites/{siteId}/realtime",
        "rawPath": path,
        "rawQueryString": case.query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": { "siteId": case.site },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": case.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.23",
                "userAgent": "fuzz",
            },
            "requestId": "fuzz",
            "routeKey": "GET /sites/{siteId}/realtime",
            "stage": "$default",
            "time": "15/Jan/2026:10:30:12 +0000",
            "timeEpoch": 1768473012345_i64,
        },
        "isBase64Encoded": false,
    });
    lambda_http::request::from_str(&event.to_string()).expect("a well-formed API Gateway event parses")
}

/// The same request built directly: the header keeps bytes that are not UTF-8.
fn direct(case: &Case) -> Request {
    let mut request = Request::new(Body::Empty);
    *request.method_mut() = Method::from_bytes(case.method.as_bytes()).expect("a method token");
    if let Some(value) = &case.authorization {
        let value = HeaderValue::from_bytes(&common::sanitised(value)).expect("a header value");
        request.headers_mut().insert("authorization", value);
    }
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in query_pairs(&case.query) {
        query.entry(key).or_default().push(value);
    }
    request
        .with_path_parameters(HashMap::from([("siteId".to_owned(), case.site.clone())]))
        .with_query_string_parameters(query)
}

// ---- the oracle ----

#[derive(Debug, PartialEq)]
enum Expected {
    Preflight,
    Error(u16, Option<&'static str>),
    View { minutes: u64, limit: u64, events: u64 },
}

fn expected(case: &Case, request: &Request) -> Expected {
    match *request.method() {
        Method::GET => {}
        Method::OPTIONS => return Expected::Preflight,
        _ => return Expected::Error(405, None),
    }
    let Ok(site) = SiteId::parse(&case.site) else {
        return Expected::Error(400, Some("siteId"));
    };
    // The first value of each parameter counts; out of range or not a whole number is a 400 naming it.
    let pairs = query_pairs(&case.query);
    let mut values = [5, 10, 20];
    for (i, (name, min, max)) in [("minutes", 1, 30), ("limit", 1, 100), ("events", 0, 100)]
        .into_iter()
        .enumerate()
    {
        if let Some((_, raw)) = pairs.iter().find(|(key, _)| key == name) {
            match raw.trim().parse::<u64>() {
                Ok(value) if (min..=max).contains(&value) => values[i] = value,
                _ => return Expected::Error(400, Some(name)),
            }
        }
    }
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let readable = match site.as_str() {
        "open" => true,
        "demo" => token == Some(TOKEN),
        _ => false,
    };
    if !readable {
        return Expected::Error(401, Some("authorization"));
    }
    let [minutes, limit, events] = values;
    Expected::View { minutes, limit, events }
}

/// API Gateway refuses a request line and headers over 10,240 bytes, so such a URL never becomes an
/// event (and `lambda_http` would refuse its path and query as a `Uri` past 64 KB).
const MAX_REQUEST_LINE: usize = 10_240;

fn check(warm: &Warm, case: &Case, runtime: &tokio::runtime::Runtime, tally: &Tally) -> Result<(), TestCaseError> {
    let url_length = percent_encode(case.site.as_bytes()).len() + case.query.len() + 32;
    let request = if case.direct || url_length > MAX_REQUEST_LINE {
        direct(case)
    } else {
        via_event(case)
    };
    let expected = expected(case, &request);
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
    let body: Option<Value> = match response.body() {
        Body::Empty => None,
        Body::Text(text) => Some(serde_json::from_str(text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?),
        _ => return Err(TestCaseError::fail("not a text body")),
    };
    match expected {
        Expected::Preflight => prop_assert_eq!(status, 204),
        Expected::Error(want, field) => {
            prop_assert_eq!(status, want);
            let body = body.ok_or_else(|| TestCaseError::fail("an error without a body"))?;
            prop_assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", body);
            prop_assert!(body.get("field").is_some(), "{}", body);
            prop_assert_eq!(body["field"].as_str(), field);
            if want == 400 {
                tally.add(format!("400 {}", field.unwrap_or("null")));
            }
            if want == 401 {
                prop_assert_eq!(
                    response.headers().get("www-authenticate").map(|v| v.as_bytes()),
                    Some(&b"Bearer"[..])
                );
            }
        }
        Expected::View { minutes, limit, events } => {
            prop_assert_eq!(status, 200);
            prop_assert_eq!(
                response.headers().get("cache-control").map(|v| v.as_bytes()),
                Some(&b"no-store"[..])
            );
            let view = body.ok_or_else(|| TestCaseError::fail("a view without a body"))?;
            prop_assert_eq!(view["siteId"].as_str(), Some(case.site.as_str()));
            prop_assert_eq!(view["minutes"].as_u64(), Some(minutes));
            let len = |name: &str| view[name].as_array().map_or(usize::MAX, Vec::len) as u64;
            prop_assert_eq!(len("timeline"), minutes);
            for list in ["activePages", "countries", "referrers"] {
                prop_assert!(
                    len(list) <= limit,
                    "{} has {} entries, limit {}",
                    list,
                    len(list),
                    limit
                );
            }
            let feed = view["recentEvents"].as_array().cloned().unwrap_or_default();
            let raw_events = feed.iter().filter(|e| e["type"] != "goal").count() as u64;
            prop_assert!(raw_events <= events, "{} feed entries, events={}", raw_events, events);
            let visitors = view["currentVisitors"].as_u64().unwrap_or_default();
            let on_pages: u64 = view["activePages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["visitors"].as_u64().unwrap_or_default())
                .sum();
            prop_assert!(on_pages <= visitors, "{} on pages, {} visitors", on_pages, visitors);
            if visitors > 0 {
                tally.add("200 with visitors");
            }
        }
    }
    Ok(())
}

#[test]
fn realtime_answers_only_documented_statuses() {
    let tally = Tally::new("realtime");
    let runtime = common::runtime();
    let app = common::Recycled::new(warm, APP_LIFETIME);
    common::fuzz(file!(), CI_CASES, &tally, case(), |case| {
        app.with(|warm| check(warm, &case, &runtime, &tally))
    });
    assert!(
        tally.count("200 with visitors") > 0,
        "no input ever read the seeded traffic"
    );
}
