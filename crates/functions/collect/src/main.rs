use collect::{CollectApp, Config, function_handler};
use lambda_http::{Error, run, service_fn};
use pulse_dynamodb::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pulse_core::logging::init();
    let config = Config::from_env()?;
    let sdk_config = pulse_dynamodb::lambda_sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk_config), &config.table_name)
        .with_rollup_table(&config.rollup_table_name);
    let app = CollectApp::new(store, &config);
    run(service_fn(|request| function_handler(&app, request))).await
}
