#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let app = pulse_lambda::start::<aggregate::LambdaApp>().await?;
    lambda_runtime::run(lambda_runtime::service_fn(|event| {
        aggregate::function_handler(&app, event)
    }))
    .await
}
