use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent};
use pulse_core::live::{ConnectionId, ConnectionStore};

use crate::response;

/// `$disconnect`: deletes the connection's items. Idempotent: a connection already gone (or never
/// recorded) is fine.
pub async fn function_handler<S: ConnectionStore>(
    store: &S,
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let Some(connection) = event
        .payload
        .request_context
        .connection_id
        .as_deref()
        .and_then(ConnectionId::parse)
    else {
        return Ok(response::ok());
    };
    if let Err(err) = store.remove_connection(&connection).await {
        // TTL removes the items later; a broadcast to the closed connection also removes them (410).
        tracing::warn!(error = %err, source = ?std::error::Error::source(&err), "could not remove the connection");
    }
    Ok(response::ok())
}

#[cfg(test)]
mod tests {
    use pulse_core::SiteId;
    use pulse_core::memory::MemoryStore;

    use super::*;

    #[tokio::test]
    async fn removes_the_connection_and_is_idempotent() {
        let store = MemoryStore::default();
        let connection = ConnectionId::parse("L0SM9cOFvHcCIhw=").unwrap();
        store
            .add_connection(
                &SiteId::parse("demo").unwrap(),
                &connection,
                None,
                10,
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        for _ in 0..2 {
            let request: ApiGatewayWebsocketProxyRequest =
                serde_json::from_str(include_str!("../../../../events/websocket/disconnect.json")).unwrap();
            let response = function_handler(&store, LambdaEvent::new(request, Default::default()))
                .await
                .unwrap();
            assert_eq!(response.status_code, 200);
            assert!(store.connections.lock().unwrap().is_empty());
        }
    }
}
