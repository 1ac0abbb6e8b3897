#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let app = pulse_lambda::start::<realtime::LambdaApp>().await?;
    lambda_http::run(lambda_http::service_fn(|request| {
        realtime::function_handler(&app, request)
    }))
    .await
}
