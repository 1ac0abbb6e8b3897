#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    pulse_lambda::start::<()>().await?;
    lambda_runtime::run(lambda_runtime::service_fn(websocket::default_route::function_handler)).await
}
