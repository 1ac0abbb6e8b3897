//! The web function through the gateway: the API Gateway v2 round trip (binary bodies base64 there and
//! back), gzip negotiation, ETags and 304, the `/dashboard` alias, config.json, and the local demo site.

use std::io::Read as _;

use ::web::{Asset, EMBEDDED};
use local_gateway::{LocalStack, StackOptions};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Files of the test's own, so the checks hold whatever web/public contains.
fn fixture_assets() -> Vec<Asset> {
    vec![
        Asset::new(
            "dashboard.html",
            format!("<!doctype html><title>Pulse</title>{}", "<p>live</p>".repeat(50)),
        ),
        Asset::new(
            "tracker.js",
            "(function () { navigator.sendBeacon('/collect', '{}'); })();\n".repeat(30),
        ),
    ]
}

async fn start(assets: Option<Vec<Asset>>) -> LocalStack {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with `make test`, which starts moto");
    let table = format!("test-{}", pulse_core::EventId::random());
    let options = StackOptions {
        web_assets: assets,
        ..StackOptions::default()
    };
    LocalStack::start_with(&endpoint, &table, options)
        .await
        .expect("local stack starts on moto")
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("gateway answers")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a gzip body");
    out
}

#[tokio::test]
async fn files_are_gzipped_when_accepted_with_etags_and_304() {
    let stack = start(Some(fixture_assets())).await;
    let url = format!("{}/tracker.js", stack.address);
    let file = fixture_assets().remove(1);

    let zipped = get(&url, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(zipped.status(), StatusCode::OK);
    assert_eq!(header(&zipped, "content-type"), Some("text/javascript; charset=utf-8"));
    assert_eq!(header(&zipped, "content-encoding"), Some("gzip"));
    assert_eq!(header(&zipped, "vary"), Some("Accept-Encoding"));
    assert_eq!(header(&zipped, "cache-control"), Some("public, max-age=300"));
    let zipped_etag = header(&zipped, "etag").unwrap().to_owned();
    let body = zipped.bytes().await.unwrap();
    assert_eq!(
        body.as_ref(),
        file.gzip.as_deref().unwrap(),
        "the build's gzip bytes, unchanged"
    );
    assert_eq!(gunzip(&body), file.identity.as_ref());

    // reqwest sends no Accept-Encoding of its own here.
    let plain = get(&url, &[]).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(header(&plain, "content-encoding"), None);
    let plain_etag = header(&plain, "etag").unwrap().to_owned();
    assert_eq!(plain_etag, format!("\"{}\"", file.hash));
    assert_ne!(plain_etag, zipped_etag);
    assert_eq!(plain.bytes().await.unwrap().as_ref(), file.identity.as_ref());

    let revalidated = get(&url, &[("accept-encoding", "gzip"), ("if-none-match", &zipped_etag)]).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&revalidated, "etag"), Some(zipped_etag.as_str()));
    assert!(revalidated.bytes().await.unwrap().is_empty());
    let revalidated = get(&url, &[("if-none-match", &plain_etag)]).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    let versioned = get(&format!("{url}?v={}", file.hash), &[]).await;
    assert_eq!(
        header(&versioned, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );

    let head = Client::new()
        .head(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "etag"), Some(zipped_etag.as_str()));
    assert_eq!(header(&head, "content-encoding"), Some("gzip"));
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn dashboard_alias_config_and_errors() {
    let stack = start(Some(fixture_assets())).await;
    let base = &stack.address;
    let dashboard = fixture_assets().remove(0);

    let alias = get(&format!("{base}/dashboard"), &[("accept-encoding", "gzip")]).await;
    assert_eq!(alias.status(), StatusCode::OK);
    assert_eq!(header(&alias, "content-type"), Some("text/html; charset=utf-8"));
    let alias_etag = header(&alias, "etag").unwrap().to_owned();
    assert_eq!(gunzip(&alias.bytes().await.unwrap()), dashboard.identity.as_ref());
    let full = get(&format!("{base}/dashboard.html"), &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&full, "etag"), Some(alias_etag.as_str()));

    let config = get(&format!("{base}/config.json"), &[]).await;
    assert_eq!(config.status(), StatusCode::OK);
    assert_eq!(header(&config, "cache-control"), Some("no-cache"));
    let own_host = base.strip_prefix("http://").unwrap();
    let body: Value = config.json().await.unwrap();
    assert_eq!(body, json!({"websocketUrl": format!("ws://{own_host}/ws")}));

    let missing = get(&format!("{base}/nope.js"), &[]).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.unwrap();
    assert!(body["error"].is_string() && body["field"].is_null(), "{body}");

    let post = Client::new().post(format!("{base}/dashboard")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&post, "allow"), Some("GET, HEAD"));

    // The routes of the other functions are more specific and keep answering.
    let collect = Client::new().get(format!("{base}/collect")).send().await.unwrap();
    assert_eq!(collect.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header(&collect, "allow"), Some("POST, OPTIONS"));
}

/// Whatever web/public holds is served byte for byte, in both encodings.
#[tokio::test]
async fn embedded_files_are_served_unchanged() {
    let stack = start(None).await;
    for asset in EMBEDDED {
        let url = format!("{}/{}", stack.address, asset.name);
        let zipped = get(&url, &[("accept-encoding", "gzip")]).await;
        assert_eq!(zipped.status(), StatusCode::OK, "{}", asset.name);
        assert_eq!(header(&zipped, "content-type"), Some(asset.content_type));
        let gzip = header(&zipped, "content-encoding") == Some("gzip");
        assert_eq!(gzip, asset.gzip.is_some(), "{}", asset.name);
        let body = zipped.bytes().await.unwrap();
        let identity = if gzip { gunzip(&body) } else { body.to_vec() };
        assert_eq!(identity, asset.identity.as_ref(), "{}", asset.name);
        let plain = get(&url, &[]).await;
        assert_eq!(
            plain.bytes().await.unwrap().as_ref(),
            asset.identity.as_ref(),
            "{}",
            asset.name
        );
    }
}

/// The dashboard (the real web/public) gets a strict Content-Security-Policy naming this gateway's
/// WebSocket, and no referrer; the files other sites embed get neither, and keep their CORS and
/// caching headers.
#[tokio::test]
async fn the_dashboard_has_a_strict_policy_and_the_embeddable_files_none() {
    let stack = start(None).await;
    let base = &stack.address;
    let own_host = base.strip_prefix("http://").unwrap();
    let expected = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self' ws://{own_host}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'; object-src 'none'"
    );
    for path in ["/dashboard", "/dashboard.html"] {
        let page = get(&format!("{base}{path}"), &[("accept-encoding", "gzip")]).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&page, "content-security-policy"),
            Some(expected.as_str()),
            "{path}"
        );
        assert_eq!(header(&page, "x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header(&page, "referrer-policy"), Some("no-referrer"), "{path}");
    }
    // What the policy relies on: nothing inline in the page.
    let html = String::from_utf8(
        get(&format!("{base}/dashboard"), &[])
            .await
            .bytes()
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for inline in [
        "<style",
        " style=",
        "<script>",
        "<script type=\"module\">",
        "javascript:",
    ] {
        assert!(!html.contains(inline), "dashboard.html holds {inline}");
    }
    assert!(
        !html
            .split_whitespace()
            .any(|word| word.starts_with("on") && word.contains('=')),
        "dashboard.html holds an inline event handler"
    );

    for path in [
        "/script.js",
        "/components.js",
        "/realtime.js",
        "/format.js",
        "/sites/demo/tracker.js",
    ] {
        let file = get(&format!("{base}{path}"), &[("origin", "https://www.example.com")]).await;
        assert_eq!(file.status(), StatusCode::OK, "{path}");
        for name in ["content-security-policy", "referrer-policy", "x-frame-options"] {
            assert_eq!(header(&file, name), None, "{name} on {path}");
        }
        assert_eq!(header(&file, "access-control-allow-origin"), Some("*"), "{path}");
        assert_eq!(header(&file, "cache-control"), Some("public, max-age=300"), "{path}");
        assert_eq!(
            header(&file, "content-type"),
            Some("text/javascript; charset=utf-8"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn demo_site_serves_its_folder_and_nothing_else() {
    let stack = start(Some(Vec::new())).await;
    let base = &stack.address;
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/demo");
    for entry in std::fs::read_dir(&folder).into_iter().flatten() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if !entry.file_type().unwrap().is_file() || !::web::encode::is_servable_name(&name) {
            continue;
        }
        let response = get(&format!("{base}/demo/{name}"), &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(
            header(&response, "content-type"),
            Some(::web::encode::content_type(&name))
        );
        assert_eq!(
            response.bytes().await.unwrap(),
            std::fs::read(entry.path()).unwrap(),
            "{name}"
        );
    }
    for path in [
        "/demo/no-such-page.html",
        "/demo/..%2F..%2FCargo.toml",
        "/demo/%2e%2e",
        "/demo/.hidden",
    ] {
        let response = get(&format!("{base}{path}"), &[]).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

/// A deployment under a base path, as sites moving from ts-analytics use one: every HTTP route moves
/// below it (collect, realtime, the files, the site tracker, the demo pages), nothing answers at the
/// root, and the WebSocket stays where it was.
#[tokio::test]
async fn under_a_base_path_every_http_route_moves_below_it() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("run with `make test`");
    let table = format!("test-{}", pulse_core::EventId::random());
    let options = StackOptions {
        base_path: "/api/analytics".into(),
        ..StackOptions::default()
    };
    let stack = LocalStack::start_with(&endpoint, &table, options)
        .await
        .expect("stack starts");
    let token = pulse_core::ReadToken::generate();
    stack
        .store
        .create_site(&pulse_core::Site::new(
            pulse_core::SiteId::parse("demo").unwrap(),
            vec!["example.com".into()],
            token.hash(),
        ))
        .await
        .unwrap();
    let api = format!("{}/api/analytics", stack.address);
    let client = Client::new();
    let hit = json!({"s": "demo", "e": "pageview", "u": "https://example.com/moved"});
    let collect = |base: String| {
        client
            .post(format!("{base}/collect"))
            .header("content-type", "text/plain")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            )
            .body(hit.to_string())
            .send()
    };
    assert_eq!(collect(api.clone()).await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(
        collect(stack.address.clone()).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let realtime = client
        .get(format!("{api}/sites/demo/realtime"))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(realtime.status(), StatusCode::OK);
    for path in ["/script.js", "/dashboard", "/sites/demo/tracker.js", "/demo/index.html"] {
        assert_eq!(
            get(&format!("{api}{path}"), &[]).await.status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get(&format!("{}{path}", stack.address), &[]).await.status(),
            StatusCode::NOT_FOUND,
            "{path} at the root"
        );
    }
    let config: Value = get(&format!("{api}/config.json"), &[]).await.json().await.unwrap();
    assert_eq!(
        config["websocketUrl"],
        format!("{}/ws", stack.address.replace("http://", "ws://"))
    );
}
