//! DynamoDB adapter: implements the `pulse-core` store ports on the single table, and knows the table's
//! key layout ([`keys`]) and definition ([`schema`]).

mod connections;
mod events;
pub mod keys;
pub mod management;
pub mod policy;
mod purge;
mod rate;
mod rollups;
mod salts;
pub mod schema;
mod sites;
pub mod stream;
pub mod stream_records;
pub mod template;

use std::time::Duration;

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use pulse_core::StoreError;

pub use events::event_item;
pub use purge::{PurgeError, Purged};
pub use rollups::{counts_item, part_item};
pub use sites::{GOAL_EDIT_ATTEMPTS, GoalEditError, SiteAdminError};

/// The adapter: one client and the table name, shared by every port.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// The short-lived table without a stream or backups: the realtime rollups, and the daily salts
    /// (kept out of point-in-time recovery, so a restore cannot bring back a day's salt).
    rollup_table: String,
}

impl DynamoStore {
    /// The store on `table`, with the rollups in [`schema::default_rollup_table`] of it.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        Self {
            client,
            rollup_table: schema::default_rollup_table(&table),
            table,
        }
    }

    pub fn with_rollup_table(mut self, rollup_table: impl Into<String>) -> Self {
        self.rollup_table = rollup_table.into();
        self
    }

    pub fn rollup_table(&self) -> &str {
        &self.rollup_table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The SDK configuration from the standard sources (environment, profile, instance role), including
/// `AWS_ENDPOINT_URL_DYNAMODB` for a local DynamoDB. Timeouts are short because every caller is a request
/// handler: failing fast (and answering 503) beats holding a tracker's connection open. TLS trusts the
/// system's roots: the admin CLI and the local tools run behind whatever proxy their machine has.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// [`sdk_config`] as the Lambda functions use it, cut to what a function needs at cold start and per
/// call:
/// - TLS trusts only the five Amazon Trust Services roots, which every AWS endpoint the functions call
///   (DynamoDB, the WebSocket management API) chains to. Finding, reading and parsing the system's
///   ~150 roots took ~2 ms of each cold start. `SSL_CERT_FILE` or `SSL_CERT_DIR` set in the
///   function's environment (a proxy, another partition) brings back the system's roots.
/// - No stalled-stream protection: its throughput checks cost timers on every call, and the request
///   and response bodies are a few KB, already bounded by the attempt and operation timeouts.
pub async fn lambda_sdk_config() -> SdkConfig {
    let system_roots_asked = std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some();
    let loader = loader().stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    if system_roots_asked {
        loader.load().await
    } else {
        loader.http_client(https_client(amazon_trust_services())).load().await
    }
}

fn loader() -> ConfigLoader {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    aws_config::from_env().timeout_config(timeouts)
}

/// The root certificates of Amazon Trust Services, as PEM (with their fingerprints in its header).
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

fn amazon_trust_services() -> TrustStore {
    TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
}

/// The SDK's default client (hyper 1, rustls with aws-lc) with another trust store.
fn https_client(trust_store: TrustStore) -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context without extra server names builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https()
}

/// An SDK failure as the use cases see it: a request DynamoDB refuses as invalid (an item over 400 KB,
/// a malformed expression, a missing table) fails the same way every time, so it is
/// [`StoreError::Rejected`]; one that the caller's permissions do not allow is [`StoreError::Denied`];
/// anything else (throttling, network, timeouts, server errors) may pass later and is
/// [`StoreError::Unavailable`]. The source is kept for the logs.
pub(crate) fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
    SdkError<E, R>: std::error::Error + Send + Sync + 'static,
{
    let code = err.as_service_error().and_then(ProvideErrorMetadata::code);
    match code.map(PermanentFault::of_code) {
        Some(Some(PermanentFault::Invalid)) => StoreError::Rejected(Box::new(err)),
        Some(Some(PermanentFault::Denied)) => StoreError::Denied(Box::new(err)),
        _ => StoreError::Unavailable(Box::new(err)),
    }
}

/// Whether a write was refused because its condition did not hold (`ConditionalCheckFailedException`),
/// for any operation's error.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ConditionalCheckFailedException")
}

/// The error codes that retrying cannot fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PermanentFault {
    Invalid,
    Denied,
}

impl PermanentFault {
    fn of_code(code: &str) -> Option<Self> {
        match code {
            "ValidationException" | "ResourceNotFoundException" | "SerializationException" => Some(Self::Invalid),
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationTokenException"
            | "ExpiredTokenException" => Some(Self::Denied),
            _ => None,
        }
    }
}
