use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
pub use local_gateway::load::uuid_v7;
use local_gateway::{Gateway, LocalStack, StackOptions};
use pulse_core::{ReadToken, Site, SiteId};
use pulse_dynamodb::DynamoStore;

pub type Item = HashMap<String, AttributeValue>;

pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
pub const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub store: DynamoStore,
    pub gateway: Arc<Gateway>,
    pub dynamodb: Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
    pub token: String,
    /// Each function's identity, and what the local DynamoDB allowed and denied it.
    pub principals: local_gateway::identity::Principals,
    _moto: Option<MotoServer>,
}

/// moto's endpoint, as `make test` exports it.
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with `make test`, which starts moto")
}

/// A fresh table with a `demo` site (localhost and example.com), and a gateway on a free port.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(moto_endpoint(), None, StackOptions::default()).await
}

/// Like [`spawn_app`], with DynamoDB at `endpoint` (moto's, or a proxy in front of it) and the
/// functions configured with `settings`.
pub async fn spawn_app_at(endpoint: String, settings: Vec<(&'static str, String)>) -> TestApp {
    let options = StackOptions {
        settings,
        ..StackOptions::default()
    };
    spawn_app_on(endpoint, None, options).await
}

/// Like [`spawn_app`], against a moto of the test's own that it can stop.
pub async fn spawn_app_with_private_moto() -> TestApp {
    let moto = MotoServer::start();
    spawn_app_on(moto.endpoint(), Some(moto), StackOptions::default()).await
}

/// Like [`spawn_app`], on `moto` (a server of the test's own) with the functions configured with
/// `settings`.
pub async fn spawn_app_on_private(moto: MotoServer, settings: Vec<(&'static str, String)>) -> TestApp {
    let options = StackOptions {
        settings,
        ..StackOptions::default()
    };
    spawn_app_on(moto.endpoint(), Some(moto), options).await
}

/// Like [`spawn_app`], with each function's policy passed through `edit` before it is registered.
pub async fn spawn_app_with_policy(edit: local_gateway::PolicyEdit) -> TestApp {
    let options = StackOptions {
        edit_policy: Some(edit),
        ..StackOptions::default()
    };
    spawn_app_on(moto_endpoint(), None, options).await
}

async fn spawn_app_on(endpoint: String, moto: Option<MotoServer>, options: StackOptions) -> TestApp {
    let table = format!("test-{}", pulse_core::EventId::random());
    let stack = LocalStack::start_with(&endpoint, &table, options)
        .await
        .expect("local stack starts on moto");
    let token = ReadToken::generate();
    stack
        .store
        .create_site(&Site::new(
            SiteId::parse("demo").unwrap(),
            vec!["localhost".into(), "example.com".into()],
            token.hash(),
        ))
        .await
        .expect("demo site created");
    TestApp {
        address: stack.address,
        http: reqwest::Client::new(),
        store: stack.store,
        gateway: stack.gateway,
        dynamodb: stack.dynamodb,
        streams: stack.streams,
        token: token.expose().to_owned(),
        principals: stack.principals,
        _moto: moto,
    }
}

impl TestApp {
    /// Another site, on its own domain `{id}.example`, with its read token.
    pub async fn add_site(&self, id: &str, keep_outbound_query: bool) -> String {
        let token = ReadToken::generate();
        self.store
            .create_site(
                &Site::new(SiteId::parse(id).unwrap(), vec![format!("{id}.example")], token.hash())
                    .keeping_outbound_query(keep_outbound_query),
            )
            .await
            .expect("site created");
        token.expose().to_owned()
    }

    pub async fn post_collect(
        &self,
        body: impl Into<reqwest::Body>,
        content_type: &str,
        user_agent: &str,
    ) -> reqwest::Response {
        self.http
            .post(format!("{}/collect", self.address))
            .header("content-type", content_type)
            .header("user-agent", user_agent)
            .header("cloudfront-viewer-country", "NL")
            .body(body)
            .send()
            .await
            .expect("gateway answers")
    }

    pub async fn send_hit(&self, hit: serde_json::Value) -> reqwest::Response {
        self.post_collect(hit.to_string(), "application/json", FIREFOX).await
    }

    /// Every item in the test's events table.
    pub async fn items(&self) -> Vec<Item> {
        self.scan(self.store.table()).await
    }

    /// Every item in one of the test's tables.
    pub async fn scan(&self, table: &str) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .store
                .client()
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Raw event items (sort keys `PV#…`, `EV#…` and `ID#…`).
    pub async fn events(&self) -> Vec<Item> {
        self.items()
            .await
            .into_iter()
            .filter(|item| pulse_dynamodb::keys::is_raw_event_key(s(item, "pk"), s(item, "sk")))
            .collect()
    }

    pub async fn realtime(&self, query: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}/sites/demo/realtime{query}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// Polls the realtime view until `ready` holds (the stream poller runs four times a second).
    pub async fn realtime_when(&self, query: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let response = self.realtime(query, Some(&self.token)).await;
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            let view: serde_json::Value = response.json().await.unwrap();
            if ready(&view) {
                return view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "aggregation did not catch up: {view}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub fn s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_default()
}

pub fn n(item: &Item, name: &str) -> f64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// A moto server owned by one test, stopped when dropped.
pub struct MotoServer {
    child: Child,
    port: u16,
}

impl MotoServer {
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// A moto with extra environment, such as `LOCAL_DYNAMODB_PARTITION_WCU`.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let binary = std::env::var("MOTO_SERVER").expect("MOTO_SERVER is not set: run the tests with `make test`");
        let port = StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .envs(env.iter().copied())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        // Owned from here on, so the process is reaped even when start-up fails.
        let server = Self { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("private moto did not start on port {port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestApp {
    pub fn stop_moto(&mut self) {
        self._moto.as_mut().expect("this app has a private moto").stop();
    }
}

/// Every record of the test table's stream so far, as one Lambda DynamoDB event (unfiltered).
pub async fn stream_batch(app: &TestApp) -> serde_json::Value {
    local_gateway::streams::read_whole_stream(&app.dynamodb, &app.streams, app.store.table())
        .await
        .expect("stream readable")
}

/// Invokes the aggregate handler directly, as Lambda would.
pub async fn invoke_aggregate(app: &TestApp, event: serde_json::Value) -> serde_json::Value {
    let event = serde_json::from_value(event).expect("a DynamoDB event");
    let response = aggregate::function_handler(
        &app.gateway.functions.aggregate,
        lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default()),
    )
    .await
    .expect("aggregate handler answers");
    serde_json::to_value(response).unwrap()
}
