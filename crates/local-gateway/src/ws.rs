//! API Gateway's WebSocket API, locally: `ws://…/ws?siteId=…&token=…` runs the real `$connect`,
//! `$default` and `$disconnect` handlers with `ApiGatewayWebsocketProxyRequest` events, and the
//! management API (`POST`/`GET`/`DELETE /@connections/{connectionId}`) delivers to the live sockets, so
//! the broadcast handler's real SDK client reaches them. An unknown or closed id answers 410, as API
//! Gateway does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as LambdaBody;
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::Gateway;

/// The live sockets, by connection id.
#[derive(Default)]
pub struct Connections {
    live: Mutex<HashMap<String, LiveConnection>>,
    /// Messages accepted by `POST /@connections/{id}`.
    posted: AtomicUsize,
}

struct LiveConnection {
    outbox: mpsc::UnboundedSender<Message>,
    connected_at: DateTime<Utc>,
    last_active_at: DateTime<Utc>,
    source_ip: String,
    user_agent: String,
}

impl Connections {
    pub fn messages_posted(&self) -> usize {
        self.posted.load(Ordering::Relaxed)
    }

    pub fn count(&self) -> usize {
        self.live.lock().expect("connections lock").len()
    }

    /// Drops a socket without running `$disconnect`, as when a client vanishes and API Gateway has not
    /// noticed yet (for tests of the broadcast's 410 handling).
    pub fn vanish(&self, connection_id: &str) -> bool {
        self.live
            .lock()
            .expect("connections lock")
            .remove(connection_id)
            .is_some()
    }

    pub fn ids(&self) -> Vec<String> {
        self.live.lock().expect("connections lock").keys().cloned().collect()
    }
}

/// Sixteen characters of base64 (URL-safe alphabet, so an id is one path segment), like API Gateway's ids.
fn new_connection_id() -> String {
    let mut bytes = [0u8; 11];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// The `ApiGatewayWebsocketProxyRequest` API Gateway sends for a route.
fn route_event(
    route_key: &str,
    event_type: &str,
    connection_id: &str,
    identity: (&str, &str),
    extra: Map<String, Value>,
) -> anyhow::Result<LambdaEvent<ApiGatewayWebsocketProxyRequest>> {
    let now = Utc::now();
    let mut event = json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "stage": "local",
            "connectedAt": now.timestamp_millis(),
            "requestTimeEpoch": now.timestamp_millis(),
            "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "identity": { "sourceIp": identity.0, "userAgent": identity.1 },
            "requestId": new_connection_id(),
            "extendedRequestId": new_connection_id(),
            "domainName": "localhost",
            "connectionId": connection_id,
            "apiId": "local",
        },
        "isBase64Encoded": false,
    });
    if let Value::Object(fields) = &mut event {
        fields.extend(extra);
    }
    Ok(LambdaEvent::new(
        serde_json::from_value(event)?,
        lambda_runtime::Context::default(),
    ))
}

fn status_of(response: &ApiGatewayProxyResponse) -> StatusCode {
    u16::try_from(response.status_code)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY)
}

fn body_of(response: &ApiGatewayProxyResponse) -> Option<String> {
    match &response.body {
        Some(LambdaBody::Text(text)) => Some(text.clone()),
        Some(LambdaBody::Binary(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    }
}

/// `GET /ws?siteId=…&token=…`: `$connect` decides; a refusal is an HTTP answer, no upgrade.
pub async fn connect_route(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let connection_id = new_connection_id();
    let source_ip = peer.ip().to_string();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let query: HashMap<String, String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let header_map: Map<String, Value> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), Value::String(value.to_str().ok()?.to_owned()))))
        .collect();
    let mut extra = Map::new();
    extra.insert("headers".into(), Value::Object(header_map));
    if !query.is_empty() {
        extra.insert("queryStringParameters".into(), json!(query));
    }
    let answer = match route_event("$connect", "CONNECT", &connection_id, (&source_ip, &user_agent), extra) {
        Ok(event) => websocket::connect::function_handler(&gateway.functions.ws_connect, event).await,
        Err(err) => Err(err.into()),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            tracing::error!(error = %err, "$connect handler failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let status = status_of(&answer);
    if !status.is_success() {
        let body = body_of(&answer).unwrap_or_default();
        return (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    upgrade
        .max_frame_size(crate::limits::WS_MAX_FRAME_BYTES)
        .max_message_size(crate::limits::WS_MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| run_connection(gateway, connection_id, socket, source_ip, user_agent))
}

/// One live socket: outgoing messages from the management API, incoming ones to `$default`, and
/// `$disconnect` when it closes.
async fn run_connection(
    gateway: Arc<Gateway>,
    connection_id: String,
    mut socket: WebSocket,
    source_ip: String,
    user_agent: String,
) {
    let (outbox, mut inbox) = mpsc::unbounded_channel();
    let now = Utc::now();
    gateway.connections.live.lock().expect("connections lock").insert(
        connection_id.clone(),
        LiveConnection {
            outbox,
            connected_at: now,
            last_active_at: now,
            source_ip: source_ip.clone(),
            user_agent: user_agent.clone(),
        },
    );
    let opened = tokio::time::Instant::now();
    let mut last_message = opened;
    loop {
        // API Gateway closes a connection idle for 10 minutes, and any after 2 hours.
        let closes_at = (last_message + gateway.limits.ws_idle_timeout).min(opened + gateway.limits.ws_max_connection);
        tokio::select! {
            () = tokio::time::sleep_until(closes_at) => {
                let close = axum::extract::ws::CloseFrame {
                    code: axum::extract::ws::close_code::AWAY,
                    reason: "Going away".into(),
                };
                let _ = socket.send(Message::Close(Some(close))).await;
                break;
            }
            outgoing = inbox.recv() => match outgoing {
                Some(message) => {
                    let closing = matches!(message, Message::Close(_));
                    if socket.send(message).await.is_err() || closing {
                        break;
                    }
                }
                // Dropped from the registry (vanished): stop without telling anyone, like a lost client.
                None => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    touch(&gateway, &connection_id);
                    last_message = tokio::time::Instant::now();
                    // `$default` gets text bodies; a binary frame reaches it as an empty, invalid message.
                    let body = match &message {
                        Message::Text(text) => text.as_str(),
                        _ => "",
                    };
                    let reply = default_route(&connection_id, (&source_ip, &user_agent), body).await;
                    if let Some(reply) = reply
                        && socket.send(Message::Text(reply.into())).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let was_live = gateway
        .connections
        .live
        .lock()
        .expect("connections lock")
        .remove(&connection_id)
        .is_some();
    if was_live {
        match route_event(
            "$disconnect",
            "DISCONNECT",
            &connection_id,
            (&source_ip, &user_agent),
            Map::new(),
        ) {
            Ok(event) => {
                if let Err(err) = websocket::disconnect::function_handler(&gateway.functions.ws_disconnect, event).await
                {
                    tracing::error!(error = %err, "$disconnect handler failed");
                }
            }
            Err(err) => tracing::error!(error = %err, "could not build the $disconnect event"),
        }
    }
}

fn touch(gateway: &Gateway, connection_id: &str) {
    if let Some(live) = gateway
        .connections
        .live
        .lock()
        .expect("connections lock")
        .get_mut(connection_id)
    {
        live.last_active_at = Utc::now();
    }
}

/// `$default`, whose route response is sent back to the client.
async fn default_route(connection_id: &str, identity: (&str, &str), body: &str) -> Option<String> {
    let mut extra = Map::new();
    extra.insert("body".into(), Value::String(body.to_owned()));
    let event = route_event("$default", "MESSAGE", connection_id, identity, extra).ok()?;
    match websocket::default_route::function_handler(event).await {
        Ok(answer) => body_of(&answer),
        Err(err) => {
            tracing::error!(error = %err, "$default handler failed");
            None
        }
    }
}

/// The management API's IAM check ([`crate::identity::Principals::authorize_management`]): when it
/// fails, 403 AccessDeniedException, as API Gateway answers a caller whose policy does not allow the call.
fn refusal(gateway: &Gateway, headers: &HeaderMap, method: &str, connection_id: &str) -> Option<Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    gateway
        .principals
        .authorize_management(authorization, method, connection_id)
        .err()
        .map(|message| {
            tracing::warn!(%message, "management API call denied");
            (
                StatusCode::FORBIDDEN,
                [
                    ("x-amzn-errortype", "AccessDeniedException"),
                    ("content-type", "application/json"),
                ],
                json!({ "message": message }).to_string(),
            )
                .into_response()
        })
}

fn gone() -> Response {
    // The SDK reads the error type from this header (restJson1).
    (
        StatusCode::GONE,
        [
            ("x-amzn-errortype", "GoneException"),
            ("content-type", "application/json"),
        ],
        r#"{"message":null}"#,
    )
        .into_response()
}

/// `POST /@connections/{id}`: the body goes to the socket as one message.
pub async fn post_to_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(denied) = refusal(&gateway, &headers, "POST", &connection_id) {
        return denied;
    }
    let live = gateway.connections.live.lock().expect("connections lock");
    let Some(connection) = live.get(&connection_id) else {
        return gone();
    };
    if body.len() > crate::limits::WS_MAX_POST_BYTES {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [
                ("x-amzn-errortype", "PayloadTooLargeException"),
                ("content-type", "application/json"),
            ],
            r#"{"message":"Message too long"}"#,
        )
            .into_response();
    }
    let message = match String::from_utf8(body.to_vec()) {
        Ok(text) => Message::Text(text.into()),
        Err(err) => Message::Binary(err.into_bytes().into()),
    };
    if connection.outbox.send(message).is_err() {
        return gone();
    }
    gateway.connections.posted.fetch_add(1, Ordering::Relaxed);
    StatusCode::OK.into_response()
}

/// `GET /@connections/{id}`.
pub async fn get_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = refusal(&gateway, &headers, "GET", &connection_id) {
        return denied;
    }
    let live = gateway.connections.live.lock().expect("connections lock");
    let Some(connection) = live.get(&connection_id) else {
        return gone();
    };
    let body = json!({
        "connectedAt": pulse_core::time::iso_millis(connection.connected_at),
        "lastActiveAt": pulse_core::time::iso_millis(connection.last_active_at),
        "identity": { "sourceIp": connection.source_ip, "userAgent": connection.user_agent },
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body.to_string()),
    )
        .into_response()
}

/// `DELETE /@connections/{id}`: closes the socket (its `$disconnect` follows).
pub async fn delete_connection(
    State(gateway): State<Arc<Gateway>>,
    Path(connection_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(denied) = refusal(&gateway, &headers, "DELETE", &connection_id) {
        return denied;
    }
    let live = gateway.connections.live.lock().expect("connections lock");
    let Some(connection) = live.get(&connection_id) else {
        return gone();
    };
    if connection.outbox.send(Message::Close(None)).is_err() {
        return gone();
    }
    StatusCode::NO_CONTENT.into_response()
}
