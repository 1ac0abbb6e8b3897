//! Fuzzing the WebSocket routes' untrusted input: the `$connect` query string (site id and token: raw
//! queries decoded as API Gateway decodes them, the seed corpus `fuzz/corpus/ws-connect` mutated
//! byte-wise, and maps of arbitrary text), the connection id, and the `$connect` fixtures mutated byte-wise;
//! sequences of connects and disconnects against the per-site cap; and every `$default` message (JSON
//! with and without an action, the corpus `fuzz/corpus/ws-default` mutated, deep nesting, random text).
//!
//! `$connect` must answer 200 only when the README says so (and record the connection), else 400
//! (`siteId`, or no usable connection id), the same 401 for an unknown site and a wrong or missing token,
//! or 429 past the cap; `$default` always 200 with `{"type":"pong"}` or `{"type":"error","error":…}`.
//! Never a panic or a handler error. `PULSE_FUZZ_CASES` sets the number of inputs (README, "Fuzzing").

use pulse_test_support::fuzz as common;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use common::{
    Json, Tally, corpus, deep_json, fixtures, hostile_string, json_value, mutated, mutated_query, query_string,
};
use lambda_runtime::LambdaEvent;
use proptest::prelude::*;
use proptest::sample::select;
use pulse_core::live::ConnectionId;
use pulse_core::memory::MemoryStore;
use pulse_core::{Site, SiteId, TokenHash};
use serde_json::{Value, json};
use websocket::Config;
use websocket::connect::ConnectApp;

/// Inputs per `cargo test` run, per route; `make fuzz` runs 1,000,000.
const CI_CASES: u32 = 15_000;
const TOKEN: &str = "pt_demo-token";
/// A small cap, so that sequences of connects reach it.
const CAP: usize = 6;
/// A fresh store every this many cases.
const APP_LIFETIME: u32 = 500;

fn site(id: &str, public: bool) -> Site {
    Site::new(
        SiteId::parse(id).unwrap(),
        vec!["example.com".into()],
        TokenHash::of(TOKEN),
    )
    .public(public)
}

struct Warm {
    app: ConnectApp<MemoryStore>,
}

fn warm() -> Warm {
    let store = MemoryStore::with_site(site("demo", false));
    store
        .sites
        .lock()
        .unwrap()
        .insert(SiteId::parse("open").unwrap(), site("open", true));
    let config = Config::from_lookup(|name| match name {
        "TABLE_NAME" => Some("t".into()),
        "MAX_CONNECTIONS_PER_SITE" => Some(CAP.to_string()),
        _ => None,
    })
    .unwrap();
    Warm {
        app: ConnectApp::new(store, &config),
    }
}

// ---- $connect inputs ----

/// The query as API Gateway hands it to the function.
#[derive(Debug, Clone)]
enum Query {
    /// A raw query string, decoded into single values (the last of a repeated key) and multi-values.
    Raw(String),
    /// Already-decoded parameters of any text.
    Decoded(Vec<(String, String)>),
}

#[derive(Debug, Clone)]
enum Step {
    Connect {
        connection: Option<String>,
        query: Query,
    },
    Disconnect {
        connection: Option<String>,
    },
    /// A `$connect` fixture mutated byte-wise; the runtime rejects what no longer parses.
    MutatedEvent(Vec<u8>),
}

fn connection_id() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => (0u8..12).prop_map(|n| Some(format!("L0SM9cOFvHcCI{n}w="))),
        2 => "[A-Za-z0-9+/=_-]{1,128}".prop_map(Some),
        1 => "[A-Za-z0-9]{126,132}".prop_map(Some),
        1 => hostile_string().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

fn site_or_token() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(&["demo", "open", "nobody", TOKEN, "pt_wrong", "", " demo", "demo#CONN#x", "DEMO"][..])
            .prop_map(str::to_owned),
        1 => "[A-Za-z0-9_.-]{1,66}",
        1 => hostile_string(),
    ]
    .boxed()
}

fn query() -> BoxedStrategy<Query> {
    let plausible = (
        prop_oneof![4 => Just("demo"), 3 => Just("open"), 1 => Just("nobody"), 1 => Just("d%C3%A9mo")],
        prop::option::weighted(0.8, prop_oneof![4 => Just(TOKEN), 1 => Just("pt_wrong"), 1 => Just("")]),
    )
        .prop_map(|(site, token)| match token {
            Some(token) => format!("siteId={site}&token={token}"),
            None => format!("siteId={site}"),
        });
    prop_oneof![
        4 => plausible.prop_map(Query::Raw),
        3 => query_string(&["siteId", "token"], site_or_token()).prop_map(Query::Raw),
        2 => mutated_query(corpus("ws-connect")).prop_map(Query::Raw),
        2 => prop::collection::vec(
            (
                prop_oneof![3 => select(&["siteId", "token"][..]).prop_map(str::to_owned), 1 => hostile_string()],
                site_or_token(),
            ),
            0..4,
        )
        .prop_map(Query::Decoded),
    ]
    .boxed()
}

fn steps() -> BoxedStrategy<Vec<Step>> {
    let connect_fixtures: Vec<Vec<u8>> = fixtures("websocket")
        .into_iter()
        .filter(|event| event["requestContext"]["routeKey"] == "$connect")
        .map(|event| serde_json::to_vec_pretty(&event).expect("a fixture serialises"))
        .collect();
    let step = prop_oneof![
        8 => (connection_id(), query()).prop_map(|(connection, query)| Step::Connect { connection, query }),
        2 => connection_id().prop_map(|connection| Step::Disconnect { connection }),
        2 => mutated(connect_fixtures).prop_map(Step::MutatedEvent),
    ];
    prop::collection::vec(step, 1..5).boxed()
}

// ---- $connect requests ----

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect()
}

fn route_event(route: &str, connection: Option<&str>, query: Option<&Query>) -> Value {
    let mut event = json!({
        "requestContext": {
            "routeKey": route,
            "eventType": if route == "$connect" { "CONNECT" } else { "DISCONNECT" },
            "extendedRequestId": "L0SM9FVHcCIF0Aw=",
            "requestTime": "15/Jan/2026:10:30:12 +0000",
            "messageDirection": "IN",
            "stage": "live",
            "connectedAt": 1768473012345_i64,
            "requestTimeEpoch": 1768473012345_i64,
            "identity": { "sourceIp": "198.51.100.23", "userAgent": "fuzz" },
            "requestId": "L0SM9FVHcCIF0Aw=",
            "domainName": "wsabc123.execute-api.eu-west-1.amazonaws.com",
            "apiId": "wsabc123",
        },
        "isBase64Encoded": false,
        "headers": { "Host": "wsabc123.execute-api.eu-west-1.amazonaws.com", "Sec-WebSocket-Version": "13" },
    });
    if let Some(connection) = connection {
        event["requestContext"]["connectionId"] = json!(connection);
    }
    let pairs = match query {
        None => Vec::new(),
        Some(Query::Raw(raw)) => query_pairs(raw),
        Some(Query::Decoded(pairs)) => pairs.clone(),
    };
    if !pairs.is_empty() {
        let mut single = serde_json::Map::new();
        let mut multi = serde_json::Map::new();
        for (key, value) in pairs {
            single.insert(key.clone(), json!(value));
            match multi.entry(key).or_insert_with(|| json!([])) {
                Value::Array(values) => values.push(json!(value)),
                _ => unreachable!("multi-values are arrays"),
            }
        }
        event["queryStringParameters"] = Value::Object(single);
        event["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    event
}

// ---- $connect oracle ----

#[derive(Debug)]
enum Expected {
    Connected(ConnectionId, SiteId),
    Refused(i64, Option<&'static str>),
}

fn expected(warm: &Warm, request: &ApiGatewayWebsocketProxyRequest) -> Expected {
    let Some(connection) = request
        .request_context
        .connection_id
        .as_deref()
        .and_then(ConnectionId::parse)
    else {
        return Expected::Refused(400, None);
    };
    let query = &request.query_string_parameters;
    let Some(site) = query.first("siteId").and_then(|raw| SiteId::parse(raw).ok()) else {
        return Expected::Refused(400, Some("siteId"));
    };
    let readable = match site.as_str() {
        "open" => true,
        "demo" => query.first("token") == Some(TOKEN),
        _ => false,
    };
    if !readable {
        return Expected::Refused(401, Some("token"));
    }
    let open = warm
        .app
        .store()
        .connections
        .lock()
        .unwrap()
        .values()
        .filter(|s| **s == site)
        .count();
    if open >= CAP {
        return Expected::Refused(429, None);
    }
    Expected::Connected(connection, site)
}

fn connect(
    warm: &Warm,
    request: ApiGatewayWebsocketProxyRequest,
    runtime: &tokio::runtime::Runtime,
    tally: &Tally,
) -> Result<(), TestCaseError> {
    let expected = expected(warm, &request);
    let response = runtime
        .block_on(websocket::connect::function_handler(
            &warm.app,
            LambdaEvent::new(request, Default::default()),
        ))
        .map_err(|err| TestCaseError::fail(format!("$connect handler error: {err}")))?;
    tally.add(format!("$connect {}", response.status_code));
    match expected {
        Expected::Connected(connection, site) => {
            prop_assert_eq!(response.status_code, 200);
            let recorded = warm.app.store().connections.lock().unwrap().get(&connection).cloned();
            prop_assert_eq!(recorded, Some(site));
        }
        Expected::Refused(status, field) => {
            prop_assert_eq!(response.status_code, status);
            let body = text_body(&response)?;
            prop_assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", body);
            prop_assert!(body.get("field").is_some(), "{}", body);
            prop_assert_eq!(body["field"].as_str(), field);
        }
    }
    let open = warm.app.store().connections.lock().unwrap().len();
    prop_assert!(open <= 2 * CAP, "{} connections past the cap of two sites", open);
    Ok(())
}

fn text_body(response: &ApiGatewayProxyResponse) -> Result<Value, TestCaseError> {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).map_err(|e| TestCaseError::fail(format!("{e}: {text}"))),
        other => Err(TestCaseError::fail(format!("not a text body: {other:?}"))),
    }
}

fn run_step(warm: &Warm, step: &Step, runtime: &tokio::runtime::Runtime, tally: &Tally) -> Result<(), TestCaseError> {
    match step {
        Step::Connect { connection, query } => {
            let event = route_event("$connect", connection.as_deref(), Some(query));
            let request = serde_json::from_value(event).map_err(|e| TestCaseError::fail(format!("event: {e}")))?;
            connect(warm, request, runtime, tally)
        }
        Step::MutatedEvent(bytes) => match serde_json::from_slice::<ApiGatewayWebsocketProxyRequest>(bytes) {
            Ok(request) => connect(warm, request, runtime, tally),
            Err(_) => {
                tally.add("mutated event the runtime rejects");
                Ok(())
            }
        },
        Step::Disconnect { connection } => {
            let event = route_event("$disconnect", connection.as_deref(), None);
            let request = serde_json::from_value(event).map_err(|e| TestCaseError::fail(format!("event: {e}")))?;
            let response = runtime
                .block_on(websocket::disconnect::function_handler(
                    &websocket::disconnect::DisconnectApp {
                        store: warm.app.store(),
                    },
                    LambdaEvent::new(request, Default::default()),
                ))
                .map_err(|err| TestCaseError::fail(format!("$disconnect handler error: {err}")))?;
            prop_assert_eq!(response.status_code, 200);
            if let Some(id) = connection.as_deref().and_then(ConnectionId::parse) {
                prop_assert!(!warm.app.store().connections.lock().unwrap().contains_key(&id));
            }
            tally.add("$disconnect 200");
            Ok(())
        }
    }
}

#[test]
fn connect_answers_only_documented_statuses() {
    let tally = Tally::new("ws-connect");
    let runtime = common::runtime();
    let app = common::Recycled::new(warm, APP_LIFETIME);
    common::fuzz(file!(), CI_CASES, &tally, steps(), |steps| {
        app.with(|warm| {
            for step in &steps {
                run_step(warm, step, &runtime, &tally)?;
            }
            Ok(())
        })
    });
    for status in ["$connect 200", "$connect 401", "$connect 429"] {
        assert!(tally.count(status) > 0, "no input was answered {status}");
    }
}

// ---- $default ----

fn message() -> BoxedStrategy<Option<String>> {
    let action = prop_oneof![
        6 => select(&["ping", "Ping", "ping ", "subscribe", ""][..]).prop_map(Json::str),
        1 => hostile_string().prop_map(Json::Str),
        1 => json_value(2),
    ];
    let object = (
        prop::option::weighted(0.8, action),
        prop::collection::vec((hostile_string(), json_value(2)), 0..3),
    )
        .prop_map(|(action, extra)| {
            let mut fields: Vec<(String, Json)> = action.map(|a| ("action".to_owned(), a)).into_iter().collect();
            fields.extend(extra);
            Json::Obj(fields).to_text()
        });
    prop_oneof![
        6 => object.prop_map(Some),
        4 => mutated(corpus("ws-default")).prop_map(|bytes| Some(String::from_utf8_lossy(&bytes).into_owned())),
        2 => json_value(4).prop_map(|json| Some(json.to_text())),
        1 => deep_json().prop_map(Some),
        1 => any::<String>().prop_map(Some),
        1 => select(&[1usize, 32 * 1024, 128 * 1024][..])
            .prop_map(|n| Some(format!("{{\"action\":\"ping\",\"x\":\"{}\"}}", "x".repeat(n)))),
        1 => Just(None),
    ]
    .boxed()
}

#[test]
fn default_route_answers_every_message() {
    let tally = Tally::new("ws-default");
    let runtime = common::runtime();
    let fixture = fixtures("websocket")
        .into_iter()
        .find(|event| event["requestContext"]["routeKey"] == "$default")
        .expect("a $default fixture");
    common::fuzz(file!(), CI_CASES, &tally, message(), |message| {
        let mut event = fixture.clone();
        event["body"] = json!(message);
        let request: ApiGatewayWebsocketProxyRequest =
            serde_json::from_value(event).map_err(|e| TestCaseError::fail(format!("event: {e}")))?;
        let response = runtime
            .block_on(websocket::default_route::function_handler(LambdaEvent::new(
                request,
                Default::default(),
            )))
            .map_err(|err| TestCaseError::fail(format!("$default handler error: {err}")))?;
        prop_assert_eq!(response.status_code, 200);
        let answer = text_body(&response)?;
        let pong = match serde_json::from_str::<Value>(message.as_deref().unwrap_or_default()) {
            Ok(Value::Object(fields)) => match fields.get("action") {
                None => true,
                Some(action) => action == "ping",
            },
            _ => false,
        };
        if pong {
            prop_assert_eq!(&answer, &json!({"type": "pong"}));
        } else {
            prop_assert_eq!(answer["type"].as_str(), Some("error"), "{}", answer);
            prop_assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", answer);
        }
        tally.add(if pong { "pong" } else { "error" });
        Ok(())
    });
    for outcome in ["pong", "error"] {
        assert!(tally.count(outcome) > 0, "no message was answered with {outcome}");
    }
}
