use std::io::Read as _;

use serde_json::{Value, json};

use super::*;

const SCRIPT: &str = "(function () { /* the tracker */ })();\n";

/// Files of the tests' own, so they hold whatever web/public contains.
fn app() -> WebApp {
    app_under("")
}

/// The test files, with the site tracker, under a base path.
fn app_under(base_path: &str) -> WebApp {
    let dashboard = format!("<!doctype html><title>Pulse</title>{}", "<p>realtime</p>".repeat(40));
    let assets = vec![
        Asset::new("dashboard.html", dashboard),
        Asset::new("script.js", SCRIPT.repeat(20)),
        // Random-looking bytes do not compress: served as they are.
        Asset::new(
            "icon.png",
            (0..200u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect::<Vec<_>>(),
        ),
    ];
    let site_tracker = Asset::new("site-tracker.js", format!("/* sa */{}", SCRIPT.repeat(20)));
    let config = Config::from_lookup(|name| match name {
        "WEBSOCKET_URL" => Some("wss://ws.example/live".into()),
        "BASE_PATH" => Some(base_path.to_owned()),
        _ => None,
    })
    .unwrap();
    WebApp::with_assets(assets, Some(site_tracker), &config)
}

fn fixture(json: &str) -> Request {
    lambda_http::request::from_str(json).expect("fixture is an API Gateway v2 event")
}

/// An API Gateway v2 event as API Gateway sends it, through lambda_http's own parser.
fn request(method: &str, path: &str, v: Option<&str>, headers: &[(&str, &str)]) -> Request {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), json!(value)))
        .collect();
    let event = json!({
        "version": "2.0",
        "routeKey": "ANY /{asset}",
        "rawPath": path,
        "rawQueryString": v.map(|v| format!("v={v}")).unwrap_or_default(),
        "headers": headers,
        "queryStringParameters": v.map(|v| json!({ "v": v })),
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.23", "userAgent": "test"},
            "routeKey": "ANY /{asset}", "stage": "$default", "requestId": "r", "timeEpoch": 0,
            "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d", "time": "t"
        },
        "isBase64Encoded": false
    });
    fixture(&event.to_string())
}

async fn get(app: &WebApp, request: Request) -> Response<Body> {
    function_handler(app, request).await.unwrap()
}

fn header(response: &Response<Body>, name: header::HeaderName) -> Option<&str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn bytes(response: &Response<Body>) -> &[u8] {
    match response.body() {
        Body::Binary(bytes) => bytes,
        Body::Text(text) => text.as_bytes(),
        _ => &[],
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

fn json_body(response: &Response<Body>) -> Value {
    serde_json::from_slice(bytes(response)).unwrap()
}

#[tokio::test]
async fn gzip_when_accepted_identity_otherwise() {
    let app = app();
    let script = app.find("script.js").unwrap().clone();
    let zipped = get(
        &app,
        request("GET", "/script.js", None, &[("accept-encoding", "gzip, deflate, br")]),
    )
    .await;
    assert_eq!(zipped.status(), StatusCode::OK);
    assert_eq!(header(&zipped, header::CONTENT_ENCODING), Some("gzip"));
    assert_eq!(header(&zipped, header::VARY), Some("Accept-Encoding"));
    assert_eq!(
        header(&zipped, header::CONTENT_TYPE),
        Some("text/javascript; charset=utf-8")
    );
    assert!(
        matches!(zipped.body(), Body::Binary(_)),
        "binary, so API Gateway gets base64"
    );
    assert_eq!(gunzip(bytes(&zipped)), script.identity.as_ref());
    assert!(bytes(&zipped).len() < script.identity.len());

    let plain = get(&app, fixture(&pulse_test_support::event("web/script-identity"))).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(header(&plain, header::CONTENT_ENCODING), None);
    assert_eq!(header(&plain, header::VARY), Some("Accept-Encoding"));
    assert_eq!(bytes(&plain), script.identity.as_ref());
    // Two representations, two strong validators.
    assert_ne!(header(&plain, header::ETAG), header(&zipped, header::ETAG));
    assert_eq!(
        header(&plain, header::ETAG),
        Some(format!("\"{}\"", script.hash).as_str())
    );
}

#[test]
fn accept_encoding_is_read_with_its_q_values() {
    let accepts = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        accepts_gzip(&headers)
    };
    assert!(accepts("gzip"));
    assert!(accepts("br;q=1.0, GZIP;q=0.5"));
    assert!(accepts("x-gzip"));
    assert!(accepts("*"));
    assert!(!accepts("gzip;q=0"));
    assert!(!accepts("gzip; q=0.000, *"));
    assert!(!accepts("br, identity"));
    assert!(!accepts("*;q=0"));
    assert!(!accepts(""));
    assert!(!accepts_gzip(&HeaderMap::new()));
}

#[tokio::test]
async fn incompressible_files_are_always_identity_and_do_not_vary() {
    let app = app();
    let icon = app.find("icon.png").unwrap().clone();
    assert!(icon.gzip.is_none());
    let response = get(&app, request("GET", "/icon.png", None, &[("accept-encoding", "gzip")])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CONTENT_TYPE), Some("image/png"));
    assert_eq!(header(&response, header::CONTENT_ENCODING), None);
    assert_eq!(header(&response, header::VARY), None);
    assert_eq!(bytes(&response), icon.identity.as_ref());
}

#[tokio::test]
async fn matching_etag_is_304_without_a_body() {
    let app = app();
    let first = get(&app, request("GET", "/script.js", None, &[("accept-encoding", "gzip")])).await;
    let etag = header(&first, header::ETAG).unwrap().to_owned();
    let again = get(
        &app,
        request(
            "GET",
            "/script.js",
            None,
            &[("accept-encoding", "gzip"), ("if-none-match", &etag)],
        ),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(matches!(again.body(), Body::Empty));
    assert_eq!(header(&again, header::ETAG), Some(etag.as_str()));
    assert_eq!(header(&again, header::CACHE_CONTROL), Some(REVALIDATE));
    assert_eq!(header(&again, header::VARY), Some("Accept-Encoding"));
    assert_eq!(header(&again, header::CONTENT_ENCODING), None);

    // A list, and a weak form of the tag, match too (If-None-Match compares weakly).
    let listed = format!("\"other\", W/{etag}");
    let again = get(
        &app,
        request(
            "GET",
            "/script.js",
            None,
            &[("accept-encoding", "gzip"), ("if-none-match", &listed)],
        ),
    )
    .await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // The gzip tag does not validate the identity body.
    let other = get(&app, request("GET", "/script.js", None, &[("if-none-match", &etag)])).await;
    assert_eq!(other.status(), StatusCode::OK);
    let stale = get(
        &app,
        request("GET", "/script.js", None, &[("if-none-match", "\"0000000000000000\"")]),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_right_version_is_immutable_any_other_revalidates() {
    let app = app();
    let hash = app.find("script.js").unwrap().hash.to_string();
    let versioned = get(&app, request("GET", "/script.js", Some(&hash), &[])).await;
    assert_eq!(versioned.status(), StatusCode::OK);
    assert_eq!(
        header(&versioned, header::CACHE_CONTROL),
        Some("public, max-age=31536000, immutable")
    );
    for wrong in [Some("0123456789abcdef"), Some(""), None] {
        let response = get(&app, request("GET", "/script.js", wrong, &[])).await;
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            Some("public, max-age=300"),
            "v={wrong:?}"
        );
    }
}

#[tokio::test]
async fn html_files_answer_without_their_extension() {
    let app = app();
    let response = get(&app, fixture(&pulse_test_support::event("web/dashboard-gzip"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(header(&response, header::CONTENT_ENCODING), Some("gzip"));
    let dashboard = app.find("dashboard.html").unwrap();
    assert_eq!(gunzip(bytes(&response)), dashboard.identity.as_ref());
    let full_name = get(
        &app,
        request("GET", "/dashboard.html", None, &[("accept-encoding", "gzip")]),
    )
    .await;
    assert_eq!(bytes(&full_name), bytes(&response));
    assert_eq!(header(&full_name, header::ETAG), header(&response, header::ETAG));
    // Only .html files get the alias.
    let response = get(&app, request("GET", "/script", None, &[])).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_paths_are_404_json() {
    let app = app();
    for response in [
        get(&app, fixture(&pulse_test_support::event("web/not-found"))).await,
        get(&app, request("GET", "/", None, &[])).await,
        get(&app, request("GET", "/../Cargo.toml", None, &[])).await,
        get(&app, request("POST", "/nope", None, &[])).await,
    ] {
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some("application/json"));
        let body = json_body(&response);
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
        assert_eq!(body["field"], Value::Null);
    }
}

#[tokio::test]
async fn other_methods_are_405() {
    let app = app();
    let response = get(&app, fixture(&pulse_test_support::event("web/wrong-method"))).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&response, header::ALLOW), Some("GET, HEAD"));
    assert_eq!(json_body(&response)["field"], Value::Null);
    for method in ["PUT", "DELETE", "OPTIONS"] {
        let response = get(&app, request(method, "/config.json", None, &[])).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let app = app();
    let headers = [("accept-encoding", "gzip")];
    let get_response = get(&app, request("GET", "/dashboard", None, &headers)).await;
    let head = get(&app, request("HEAD", "/dashboard", None, &headers)).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(matches!(head.body(), Body::Empty));
    for name in [
        header::ETAG,
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::CACHE_CONTROL,
    ] {
        assert_eq!(header(&head, name.clone()), header(&get_response, name));
    }
    let length = bytes(&get_response).len().to_string();
    assert_eq!(header(&head, header::CONTENT_LENGTH), Some(length.as_str()));
    let missing = get(&app, request("HEAD", "/nope", None, &[])).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(matches!(missing.body(), Body::Empty));
}

#[tokio::test]
async fn config_json_names_the_websocket_url() {
    let app = app();
    let response = get(&app, fixture(&pulse_test_support::event("web/config"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CONTENT_TYPE), Some("application/json"));
    assert_eq!(header(&response, header::CACHE_CONTROL), Some("no-cache"));
    assert_eq!(json_body(&response), json!({"websocketUrl": "wss://ws.example/live"}));
    // Even next to a file of that name.
    let config =
        Config::from_lookup(|name| (name == "WEBSOCKET_URL").then(|| "ws://127.0.0.1:3000/ws".into())).unwrap();
    let app = WebApp::with_assets(vec![Asset::new("config.json", "{}")], None, &config);
    let response = get(&app, request("GET", "/config.json", None, &[])).await;
    assert_eq!(json_body(&response), json!({"websocketUrl": "ws://127.0.0.1:3000/ws"}));
}

/// ts-analytics' snippet loads `{apiEndpoint}/sites/{siteId}/tracker.js`: the same bytes for every
/// valid site id, and nothing for a path that only looks like it.
#[tokio::test]
async fn the_site_tracker_answers_for_any_valid_site_id() {
    let app = app();
    for site in ["demo", "my-site.example_1"] {
        let response = get(&app, request("GET", &format!("/sites/{site}/tracker.js"), None, &[])).await;
        assert_eq!(response.status(), StatusCode::OK, "{site}");
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            Some("text/javascript; charset=utf-8")
        );
        assert!(bytes(&response).starts_with(b"/* sa */"));
    }
    for path in [
        "/sites/a%23b/tracker.js",
        "/sites//tracker.js",
        "/sites/demo/other.js",
        "/sites/demo/realtime",
    ] {
        let response = get(&app, request("GET", path, None, &[])).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let without = WebApp::with_assets(
        Vec::new(),
        None,
        &Config::from_lookup(|name| (name == "WEBSOCKET_URL").then(|| "ws://x".into())).unwrap(),
    );
    let response = get(&without, request("GET", "/sites/demo/tracker.js", None, &[])).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// Under a base path every route moves below it, and nothing answers outside it.
#[tokio::test]
async fn a_base_path_prefixes_every_route() {
    let app = app_under("/api/analytics");
    for path in [
        "/api/analytics/script.js",
        "/api/analytics/dashboard",
        "/api/analytics/config.json",
        "/api/analytics/sites/demo/tracker.js",
    ] {
        let response = get(&app, request("GET", path, None, &[])).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    for path in [
        "/script.js",
        "/api/script.js",
        "/api/analyticsscript.js",
        "/api/analytics",
    ] {
        let response = get(&app, request("GET", path, None, &[])).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[test]
fn websocket_url_is_required() {
    assert!(Config::from_lookup(|_| None).is_err());
    assert!(Config::from_lookup(|_| Some(String::new())).is_err());
}

#[test]
fn embedded_files_are_described_as_asset_new_describes_them() {
    for asset in EMBEDDED {
        let fresh = Asset::new(&asset.name, asset.identity.to_vec());
        assert_eq!(&fresh, asset, "{}", asset.name);
        assert!(crate::encode::is_servable_name(&asset.name));
    }
}

/// The product serves the description of its API, as docs/openapi.yaml holds it.
#[tokio::test]
async fn the_api_description_is_served_from_the_embedded_files() {
    let config = Config::from_lookup(|name| (name == "WEBSOCKET_URL").then(|| "wss://ws.example/live".into())).unwrap();
    let app = WebApp::new(&config);
    let response = get(&app, request("GET", "/openapi.yaml", None, &[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CONTENT_TYPE), Some("application/yaml"));
    let served = String::from_utf8(bytes(&response).to_vec()).unwrap();
    let documented = std::fs::read_to_string(pulse_test_support::repo_root().join("docs/openapi.yaml")).unwrap();
    assert_eq!(served, documented);
    assert!(served.starts_with("openapi: 3.1"));
}
