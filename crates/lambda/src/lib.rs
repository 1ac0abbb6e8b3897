//! What every function does around its handler, in one place: read its settings
//! ([`settings`]), name its tables ([`settings::Tables`]), log ([`logging`]) and count ([`metrics`]) as
//! Lambda expects, and build its app. Each function's app implements [`FunctionApp`]: its `main.rs`
//! calls [`start`], and the local gateway builds the same app from the same settings with
//! [`FunctionApp::build`], so nothing is wired twice.

pub mod logging;
pub mod metrics;
pub mod settings;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

pub use settings::{ConfigError, Settings, Tables};

/// A settings lookup: the process environment in Lambda, a closure in the local gateway and tests.
pub type Lookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// Where a function's app is built: its settings, and the AWS SDK configuration it calls AWS with
/// (its execution role's in Lambda; its own principal's in the local gateway), loaded only if the app
/// calls AWS.
pub struct Environment<'a> {
    lookup: Lookup<'a>,
    sdk_config: OnceCell<SdkConfig>,
    /// Where DynamoDB is, when not where the SDK configuration says (the local stack's own).
    dynamodb_endpoint: Option<String>,
}

impl<'a> Environment<'a> {
    /// Inside Lambda: the process environment, and the SDK configuration cut for a function
    /// ([`pulse_dynamodb::lambda_sdk_config`]).
    pub fn lambda() -> Environment<'static> {
        Environment {
            lookup: &settings::env,
            sdk_config: OnceCell::new(),
            dynamodb_endpoint: None,
        }
    }

    /// Given settings and SDK configuration (the local gateway: the function's principal, with the
    /// local endpoint).
    pub fn with(lookup: Lookup<'a>, sdk_config: SdkConfig) -> Self {
        Self {
            lookup,
            sdk_config: OnceCell::new_with(Some(sdk_config)),
            dynamodb_endpoint: None,
        }
    }

    /// DynamoDB at `endpoint`, whatever the SDK configuration and `AWS_ENDPOINT_URL_DYNAMODB` say (the
    /// environment variable would win over an endpoint in the SDK configuration).
    pub fn with_dynamodb_endpoint(mut self, endpoint: &str) -> Self {
        self.dynamodb_endpoint = Some(endpoint.to_owned());
        self
    }

    /// Settings alone, for a function that calls no AWS API (the web files).
    pub fn settings_only(lookup: Lookup<'a>) -> Self {
        Self {
            lookup,
            sdk_config: OnceCell::new(),
            dynamodb_endpoint: None,
        }
    }

    pub fn lookup(&self) -> Lookup<'a> {
        self.lookup
    }

    pub async fn sdk_config(&self) -> &SdkConfig {
        self.sdk_config.get_or_init(pulse_dynamodb::lambda_sdk_config).await
    }

    /// The store on `tables`, as this function reaches DynamoDB.
    pub async fn store(&self, tables: &Tables) -> pulse_dynamodb::DynamoStore {
        let config = aws_sdk_dynamodb::config::Builder::from(self.sdk_config().await);
        let config = match &self.dynamodb_endpoint {
            Some(endpoint) => config.endpoint_url(endpoint),
            None => config,
        };
        tables.store(aws_sdk_dynamodb::Client::from_conf(config.build()))
    }
}

/// A function's app: what its handler needs, built once per cold start.
pub trait FunctionApp: Sized {
    /// Reads the settings and builds the app; a setting out of range fails the cold start.
    fn build(environment: &Environment<'_>) -> impl Future<Output = Result<Self, ConfigError>>;
}

/// A function with nothing to build (the WebSocket `$default` route).
impl FunctionApp for () {
    async fn build(_: &Environment<'_>) -> Result<Self, ConfigError> {
        Ok(())
    }
}

/// A function's cold start: its logging, then its app from the Lambda environment.
pub async fn start<A: FunctionApp>() -> Result<A, ConfigError> {
    logging::init();
    A::build(&Environment::lambda()).await
}
