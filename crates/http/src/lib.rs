//! Response shapes shared by the HTTP API's functions. Every answer is `Cache-Control: no-store` and
//! carries `Access-Control-Allow-Origin: *` (the tracker posts from any site; dashboards authenticate
//! with a bearer token, not cookies). Errors are `{"error": "...", "field": "..."}`.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Context, Response};
use serde::Serialize;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

fn base(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn no_content() -> Response<Body> {
    base(StatusCode::NO_CONTENT, Body::Empty)
}

/// 200 with a JSON body.
pub fn json<T: Serialize>(body: &T) -> Response<Body> {
    match serde_json::to_string(body) {
        Ok(text) => {
            let mut response = base(StatusCode::OK, Body::Text(text));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "response body did not serialise");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
        }
    }
}

/// CORS preflight answer, cached by browsers for a day.
pub fn preflight(methods: &'static str, headers: &'static str) -> Response<Body> {
    let mut response = base(StatusCode::NO_CONTENT, Body::Empty);
    let response_headers = response.headers_mut();
    response_headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
    response_headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(headers));
    response_headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

pub fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response<Body> {
    let body =
        serde_json::to_string(&ErrorBody { error: message, field }).expect("an error body of two strings serialises");
    let mut response = base(status, Body::Text(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, &format!("use {allow}"), None);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A store failure: 503 with `Retry-After` when retrying may help (unreachable, throttled, timed out),
/// a plain 500 when it cannot (the store refused the request itself). The error and its source chain go
/// to the log, never to the client.
pub fn store_failed(err: &(dyn std::error::Error + 'static), transient: bool) -> Response<Body> {
    if !transient {
        tracing::error!(error = %err, source = ?err.source(), "store refused the request; answering 500");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be processed",
            None,
        );
    }
    tracing::error!(error = %err, source = ?err.source(), "store failed; answering 503");
    temporarily_unavailable()
}

/// 503 with `Retry-After`: nothing was refused for good, the same request may pass in a few seconds.
pub fn temporarily_unavailable() -> Response<Body> {
    retry_after(
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily unavailable, retry later",
            None,
        ),
        "5",
    )
}

/// 429 with `Retry-After: 1`: a per-site limit, which frees up within the second.
pub fn rate_limited(message: &str) -> Response<Body> {
    retry_after(error(StatusCode::TOO_MANY_REQUESTS, message, None), "1")
}

/// Adds `Retry-After`, exposed so that scripts on other origins (the tracker, embedded dashboards) can
/// read it; in AWS the HTTP API's CORS configuration answers for it (`ExposeHeaders` in template.yaml).
fn retry_after(mut response: Response<Body>, seconds: &'static str) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Retry-After"),
    );
    response
}

/// With the origin secret configured, the 403 for a request that does not carry it: it reached API
/// Gateway around the CDN (and any WAF on it). `None` lets the request through.
pub fn refusal_around_the_cdn(
    secret: Option<&pulse_core::origin::OriginSecret>,
    headers: &lambda_http::http::HeaderMap,
) -> Option<Response<Body>> {
    use pulse_core::origin::{self, ORIGIN_REQUIRED, ORIGIN_VERIFY_HEADER};
    let sent = headers.get(ORIGIN_VERIFY_HEADER).and_then(|value| value.to_str().ok());
    (!origin::via_cdn(secret, sent)).then(|| {
        let (message, field) = ORIGIN_REQUIRED;
        error(StatusCode::FORBIDDEN, message, Some(field))
    })
}

/// The invocation's deadline (milliseconds since the epoch) from an HTTP request's Lambda context; 0
/// outside Lambda (the local gateway), where [`pulse_core::time::RequestBudget::before`] keeps the
/// configured budget.
pub fn deadline(context: Option<&Context>) -> u64 {
    context.map_or(0, |context| context.deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_failure_is_retryable_only_when_retrying_can_help() {
        let err = std::io::Error::other("throttled");
        let transient = store_failed(&err, true);
        assert_eq!(transient.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(transient.headers().contains_key(header::RETRY_AFTER));
        assert_eq!(
            transient.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "Retry-After",
            "readable by the tracker on other sites"
        );
        let permanent = store_failed(&err, false);
        assert_eq!(permanent.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!permanent.headers().contains_key(header::RETRY_AFTER));
        // Nothing of the error reaches the client.
        for response in [transient, permanent] {
            let Body::Text(body) = response.body() else {
                panic!("a JSON body")
            };
            assert!(!body.contains("throttled"), "{body}");
        }
    }
}
