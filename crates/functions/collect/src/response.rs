//! Response shapes shared by every answer of the collect route.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

/// CORS for a public, credential-less beacon endpoint: any origin may post.
fn base(status: StatusCode, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn no_content() -> Response<Body> {
    base(StatusCode::NO_CONTENT, Body::Empty)
}

pub fn preflight() -> Response<Body> {
    let mut response = base(StatusCode::NO_CONTENT, Body::Empty);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    response
}

pub fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response<Body> {
    let body = serde_json::to_string(&ErrorBody {
        error: message,
        field,
    })
    .expect("an error body of two strings serialises");
    let mut response = base(status, Body::Text(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
