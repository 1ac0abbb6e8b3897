use broadcast::{BroadcastApp, Config, function_handler};
use lambda_runtime::{Error, run, service_fn};
use pulse_core::live::BroadcastConfig;
use pulse_dynamodb::DynamoStore;
use pulse_dynamodb::management::ApiGatewaySender;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pulse_core::logging::init();
    let config = Config::from_env()?;
    let sdk_config = pulse_dynamodb::lambda_sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk_config), &config.table_name);
    let sender = ApiGatewaySender::new(&sdk_config, &config.websocket_endpoint);
    let app = BroadcastApp {
        store,
        sender,
        config: BroadcastConfig::default(),
    };
    run(service_fn(|event| function_handler(&app, event))).await
}
