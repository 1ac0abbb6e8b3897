//! The security headers of the pages the function serves (the dashboard): a strict
//! Content-Security-Policy, and no referrer. Only HTML gets them: the scripts (script.js,
//! components.js, realtime.js, format.js) run inside other sites' pages, whose own policies govern
//! them, and a `frame-ancestors` or the like on them would mean nothing or break those pages.
//!
//! The dashboard holds no inline script or style (dashboard.js and dashboard.css are files of their
//! own, and the components adopt constructed style sheets), so the policy needs no `'unsafe-inline'`,
//! no hashes and no nonces. It talks to its own origin (the API is where the page is: realtime and
//! config.json) and to the WebSocket API named by `WEBSOCKET_URL`, on another host in AWS.

use lambda_http::http::HeaderValue;

/// The policy for a dashboard whose WebSocket URL is `websocket_url`.
pub fn content_security_policy(websocket_url: &str) -> String {
    let connect = match websocket_origin(websocket_url) {
        Some(origin) => format!("'self' {origin}"),
        // Relative (same host: CSP 3 browsers let 'self' cover ws: and wss: of it) or unusable: the
        // socket is refused and the dashboard polls, which still works.
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src {connect}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    )
}

/// The policy as a header value, built once per cold start.
pub fn header_value(websocket_url: &str) -> HeaderValue {
    HeaderValue::from_str(&content_security_policy(websocket_url))
        .expect("the policy holds only the checked characters of the WebSocket origin")
}

/// `scheme://host[:port]` of an absolute WebSocket URL, as a CSP source (`http:`/`https:` become the
/// `ws:`/`wss:` the browser connects with, as realtime.js does). `None` for anything else, and for
/// an authority with characters a source expression cannot hold (`;`, quotes, spaces, userinfo):
/// configuration never widens the policy or ends a directive.
pub fn websocket_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then(|| format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use lambda_http::http::{StatusCode, header};
    use lambda_http::{Body, Request};

    use super::*;
    use crate::{Asset, Config, WebApp, function_handler};

    const AWS: &str = "wss://abc123.execute-api.eu-west-1.amazonaws.com/live";

    #[test]
    fn the_policy_allows_self_and_the_websocket_api_only() {
        assert_eq!(
            content_security_policy(AWS),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self' wss://abc123.execute-api.eu-west-1.amazonaws.com; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'; object-src 'none'"
        );
        let policy = content_security_policy("ws://127.0.0.1:3000/ws");
        assert!(policy.contains("connect-src 'self' ws://127.0.0.1:3000;"), "{policy}");
        for unsafe_source in ["unsafe", "*", "data:", "http:", "https:", "sha256-", "nonce-"] {
            assert!(!policy.contains(unsafe_source), "{unsafe_source} in {policy}");
        }
    }

    #[test]
    fn the_websocket_origin_is_taken_as_the_browser_connects() {
        assert_eq!(
            websocket_origin("WSS://API.Example.net:8443/prod?x=1").as_deref(),
            Some("wss://api.example.net:8443")
        );
        assert_eq!(
            websocket_origin("https://ws.example/live").as_deref(),
            Some("wss://ws.example")
        );
        assert_eq!(
            websocket_origin("http://[::1]:3000/ws").as_deref(),
            Some("ws://[::1]:3000")
        );
        assert_eq!(websocket_origin("ws://x").as_deref(), Some("ws://x"));
    }

    /// Configuration cannot add a source or end the directive early.
    #[test]
    fn an_unusable_websocket_url_adds_nothing() {
        for url in [
            "/ws",
            "",
            "ftp://ws.example/",
            "wss://",
            "wss://user:pass@ws.example/",
            "wss://ws.example;script-src 'unsafe-inline'",
            "wss://ws.example *",
            "wss://ws.example'",
            "wss://ws.example\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(websocket_origin(url), None, "{url:?}");
            let policy = content_security_policy(url);
            assert!(policy.contains("connect-src 'self'; "), "{url:?}: {policy}");
            assert!(HeaderValue::from_str(&policy).is_ok());
        }
    }

    fn app() -> WebApp {
        let assets = vec![
            Asset::new("dashboard.html", "<!doctype html><title>Pulse</title>".repeat(20)),
            Asset::new("components.js", "export const x = 1;\n".repeat(20)),
        ];
        let config = Config::from_lookup(|name| (name == "WEBSOCKET_URL").then(|| AWS.to_owned())).unwrap();
        WebApp::with_assets(assets, Some(Asset::new("site-tracker.js", "/* sa */")), &config)
    }

    async fn get(app: &WebApp, path: &str, if_none_match: Option<&str>) -> lambda_http::Response<Body> {
        let mut request = Request::new(Body::Empty);
        *request.uri_mut() = path.parse().unwrap();
        if let Some(etag) = if_none_match {
            request
                .headers_mut()
                .insert(header::IF_NONE_MATCH, etag.parse().unwrap());
        }
        function_handler(app, request).await.unwrap()
    }

    #[tokio::test]
    async fn pages_carry_the_policy_scripts_do_not() {
        let app = app();
        for path in ["/dashboard", "/dashboard.html"] {
            let page = get(&app, path, None).await;
            assert_eq!(page.status(), StatusCode::OK);
            let headers = page.headers();
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], content_security_policy(AWS));
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            // A revalidated page gets the current policy too (a deployment may have changed it).
            let etag = headers[header::ETAG].to_str().unwrap().to_owned();
            let again = get(&app, path, Some(&etag)).await;
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
            assert_eq!(
                again.headers()[header::CONTENT_SECURITY_POLICY],
                content_security_policy(AWS)
            );
        }
        for path in ["/components.js", "/sites/demo/tracker.js"] {
            let script = get(&app, path, None).await;
            assert_eq!(script.status(), StatusCode::OK, "{path}");
            let headers = script.headers();
            assert!(!headers.contains_key(header::CONTENT_SECURITY_POLICY), "{path}");
            assert!(!headers.contains_key(header::REFERRER_POLICY), "{path}");
            assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*", "{path}");
        }
    }
}
