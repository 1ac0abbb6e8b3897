use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;

/// A route's answer. For `$connect`, any status but 2xx refuses the connection; for `$default`, the body
/// is sent back to the client as a message (the route has a route response).
pub fn with_body(status: i64, body: serde_json::Value) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = Some(Body::Text(body.to_string()));
    response
}

pub fn error(status: i64, message: &str, field: Option<&str>) -> ApiGatewayProxyResponse {
    with_body(status, serde_json::json!({ "error": message, "field": field }))
}

/// 503: the store failed or was too slow; the dashboard reconnects with backoff.
pub fn unavailable() -> ApiGatewayProxyResponse {
    error(503, "temporarily unavailable, retry later", None)
}

pub fn ok() -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
}
