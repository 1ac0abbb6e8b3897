//! Translation between plain HTTP and API Gateway HTTP API payload format 2.0, as documented by AWS.

use std::collections::HashMap;
use std::net::SocketAddr;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::Utc;
use serde_json::{Map, Value, json};

/// API Gateway's own payload limit.
const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

pub async fn not_found() -> Response {
    gateway_error(StatusCode::NOT_FOUND, "Not Found")
}

/// A route past its throttling limit.
pub fn too_many_requests() -> Response {
    gateway_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
}

/// What API Gateway answers when the function fails (a timeout included).
pub fn internal_error() -> Response {
    gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

/// What API Gateway answers when the integration does not answer within 30 s.
pub fn service_unavailable() -> Response {
    gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
}

/// The Lambda context of an invocation that may run for `timeout`: its deadline in epoch milliseconds,
/// as the runtime reads it from `Lambda-Runtime-Deadline-Ms`.
pub fn context_until(timeout: std::time::Duration) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.deadline = u64::try_from((Utc::now() + timeout).timestamp_millis()).unwrap_or_default();
    context
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// Builds the v2 event JSON and parses it with `lambda_http`, exactly as the Lambda runtime does.
pub async fn to_lambda_request(
    request: Request,
    peer: SocketAddr,
    route_key: &str,
    path_parameters: HashMap<String, String>,
) -> Result<lambda_http::Request, Response> {
    let (parts, body) = request.into_parts();
    // Under a base path the router is nested, which strips the prefix; API Gateway passes the whole path.
    let uri = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
    let body = axum::body::to_bytes(body, MAX_PAYLOAD_BYTES)
        .await
        .map_err(|_| gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"))?;

    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if name == header::COOKIE {
            cookies.extend(values.iter().flat_map(|v| v.split("; ")).map(str::to_owned));
            continue;
        }
        headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let raw_query = uri.query().unwrap_or_default();
    let mut query = Map::new();
    for (key, value) in url_pairs(raw_query) {
        match query.get_mut(&key) {
            Some(Value::String(existing)) => *existing = format!("{existing},{value}"),
            _ => {
                query.insert(key, Value::String(value));
            }
        }
    }
    let (body, is_base64) = match std::str::from_utf8(&body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) if is_text(&parts.headers) => (Value::String(text.to_owned()), false),
        _ => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(&body)),
            true,
        ),
    };
    let now = Utc::now();
    let event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "pathParameters": if path_parameters.is_empty() { Value::Null } else { json!(path_parameters) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost"),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": uri.path(),
                "protocol": format!("{:?}", parts.version),
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    lambda_http::request::from_str(&event.to_string()).map_err(|err| {
        tracing::error!(error = %err, "could not build an API Gateway event");
        gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    })
}

/// API Gateway passes text bodies through and base64-encodes the rest.
fn is_text(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/") || essence.ends_with("json") || essence.ends_with("xml")
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Answers as API Gateway would to what the handler returned: the response goes through the v2 response
/// JSON the Lambda runtime sends (text bodies as they are, binary ones base64-encoded, one value per
/// header, `Set-Cookie` in `cookies`), then is decoded from it, so the client gets the bytes it would
/// get from AWS. A handler error, or an answer that does not serialise, is API Gateway's bare 500.
pub fn from_lambda_response(result: Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>) -> Response {
    let response = match result {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "handler failed");
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    match serde_json::to_value(lambda_payload(response))
        .map_err(anyhow::Error::from)
        .and_then(decode_payload)
    {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(error = %err, "malformed Lambda response");
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// What lambda_http hands the runtime for an HTTP API (v2) request.
fn lambda_payload(response: lambda_http::Response<lambda_http::Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    headers.remove(header::SET_COOKIE);
    let mut payload = ApiGatewayV2httpResponse::default();
    payload.status_code = i64::from(parts.status.as_u16());
    payload.headers = headers;
    payload.cookies = cookies;
    (payload.is_base64_encoded, payload.body) = match body {
        lambda_http::Body::Empty => (false, None),
        text @ lambda_http::Body::Text(_) => (false, Some(text)),
        binary @ lambda_http::Body::Binary(_) => (true, Some(binary)),
        _ => (false, None),
    };
    payload
}

/// API Gateway's side: the response JSON back to HTTP.
fn decode_payload(payload: Value) -> anyhow::Result<Response> {
    let status = payload["statusCode"]
        .as_u64()
        .and_then(|code| StatusCode::from_u16(u16::try_from(code).ok()?).ok())
        .ok_or_else(|| anyhow::anyhow!("no valid statusCode"))?;
    let body = match &payload["body"] {
        Value::String(text) if payload["isBase64Encoded"] == Value::Bool(true) => {
            base64::engine::general_purpose::STANDARD.decode(text)?
        }
        Value::String(text) => text.clone().into_bytes(),
        _ => Vec::new(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(map) = payload["headers"].as_object() {
        for (name, value) in map {
            let value = value
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("header {name} is not a string"))?;
            headers.append(HeaderName::try_from(name.as_str())?, HeaderValue::try_from(value)?);
        }
    }
    for cookie in payload["cookies"].as_array().into_iter().flatten() {
        if let Some(cookie) = cookie.as_str() {
            headers.append(header::SET_COOKIE, HeaderValue::try_from(cookie)?);
        }
    }
    Ok(response)
}
