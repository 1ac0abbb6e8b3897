use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{Error, LambdaEvent};
use pulse_core::live::{ConnectionId, ConnectionStore};

use pulse_dynamodb::DynamoStore;
use pulse_lambda::{ConfigError, Environment};

use crate::{Config, response};

/// Everything the handler needs, built once per cold start.
pub struct DisconnectApp<S> {
    pub store: S,
}

/// The app as Lambda runs it.
pub type LambdaApp = DisconnectApp<DynamoStore>;

impl pulse_lambda::FunctionApp for DisconnectApp<DynamoStore> {
    async fn build(environment: &Environment<'_>) -> Result<Self, ConfigError> {
        let config = Config::from_lookup(environment.lookup())?;
        Ok(Self {
            store: environment.store(&config.reader.tables).await,
        })
    }
}

/// `$disconnect`: deletes the connection's items. Idempotent: a connection already gone (or never
/// recorded) is fine.
pub async fn function_handler<S: ConnectionStore>(
    app: &DisconnectApp<S>,
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
    if let Err(err) = app.store.remove_connection(&connection).await {
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
        let app = DisconnectApp { store };
        for _ in 0..2 {
            let request: ApiGatewayWebsocketProxyRequest =
                serde_json::from_str(&pulse_test_support::event("websocket/disconnect")).unwrap();
            let response = function_handler(&app, LambdaEvent::new(request, Default::default()))
                .await
                .unwrap();
            assert_eq!(response.status_code, 200);
            assert!(app.store.connections.lock().unwrap().is_empty());
        }
    }
}
