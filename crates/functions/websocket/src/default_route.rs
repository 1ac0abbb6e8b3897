use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

use crate::response;

/// `$default`: `{"action":"ping"}` (or any JSON object without an action) answers `{"type":"pong"}`;
/// anything else gets an error message. The socket stays open either way.
pub async fn function_handler(
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    Ok(response::with_body(
        200,
        answer(event.payload.body.as_deref().unwrap_or_default()),
    ))
}

fn answer(message: &str) -> Value {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(message) else {
        return json!({"type": "error", "error": "messages must be JSON objects such as {\"action\":\"ping\"}"});
    };
    match fields.get("action") {
        None => json!({"type": "pong"}),
        Some(Value::String(action)) if action == "ping" => json!({"type": "pong"}),
        Some(_) => json!({"type": "error", "error": "unknown action; the only action is \"ping\""}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ping_pongs_and_garbage_gets_an_error_message() {
        let request: ApiGatewayWebsocketProxyRequest =
            serde_json::from_str(&pulse_test_support::event("websocket/default-ping")).unwrap();
        let response = function_handler(LambdaEvent::new(request, Default::default()))
            .await
            .unwrap();
        assert_eq!(response.status_code, 200);
        let Some(aws_lambda_events::encodings::Body::Text(body)) = response.body else {
            panic!("a text body")
        };
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"type": "pong"}));
        assert_eq!(answer("not json")["type"], "error");
        assert_eq!(answer("[1]")["type"], "error");
        assert_eq!(answer(r#"{"action":"subscribe"}"#)["type"], "error");
    }
}
