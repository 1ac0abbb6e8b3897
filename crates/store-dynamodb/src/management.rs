//! API Gateway's management (`@connections`) API as the live ports need it: post a message to a
//! dashboard, close one. The broadcast function and `pulse-admin` use it.

use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use pulse_core::live::{ConnectionCloser, ConnectionId, ConnectionSender, SendError};

/// Posts messages through API Gateway's management API.
pub struct ApiGatewaySender {
    client: Client,
}

impl ApiGatewaySender {
    /// `endpoint` is the stage's management URL; the client is built once per cold start.
    pub fn new(sdk_config: &SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk_config)
            .endpoint_url(endpoint)
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }
}

impl ConnectionSender for ApiGatewaySender {
    async fn send(&self, connection: &ConnectionId, message: &[u8]) -> Result<(), SendError> {
        let result = self
            .client
            .post_to_connection()
            .connection_id(connection.as_str())
            .data(Blob::new(message))
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        let status = err.raw_response().map(|response| response.status().as_u16());
        Err(match err.as_service_error() {
            Some(PostToConnectionError::GoneException(_)) => SendError::Gone,
            Some(PostToConnectionError::LimitExceededException(_)) => SendError::Throttled,
            _ if status == Some(410) => SendError::Gone,
            _ if status == Some(429) => SendError::Throttled,
            _ => SendError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&err).to_string()),
        })
    }
}

impl ConnectionCloser for ApiGatewaySender {
    async fn close(&self, connection: &ConnectionId) -> Result<(), SendError> {
        let result = self
            .client
            .delete_connection()
            .connection_id(connection.as_str())
            .send()
            .await;
        let Err(err) = result else { return Ok(()) };
        let status = err.raw_response().map(|response| response.status().as_u16());
        Err(match err.as_service_error() {
            Some(DeleteConnectionError::GoneException(_)) => SendError::Gone,
            _ if status == Some(410) => SendError::Gone,
            _ if status == Some(429) => SendError::Throttled,
            _ => SendError::Failed(aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&err).to_string()),
        })
    }
}
