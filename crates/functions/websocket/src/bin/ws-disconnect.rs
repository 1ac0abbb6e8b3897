#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let app = pulse_lambda::start::<websocket::disconnect::LambdaApp>().await?;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        websocket::disconnect::function_handler(&app, event)
    }))
    .await
}
