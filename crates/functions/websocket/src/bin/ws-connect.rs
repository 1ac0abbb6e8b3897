use lambda_runtime::{Error, run, service_fn};
use pulse_dynamodb::DynamoStore;
use websocket::Config;
use websocket::connect::{ConnectApp, function_handler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pulse_core::logging::init();
    let config = Config::from_env()?;
    let sdk_config = pulse_dynamodb::lambda_sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk_config), &config.reader.table_name);
    let app = ConnectApp::new(store, &config);
    run(service_fn(|event| function_handler(&app, event))).await
}
