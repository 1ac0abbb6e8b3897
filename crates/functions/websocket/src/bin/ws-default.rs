use lambda_runtime::{Error, run, service_fn, tracing};
use websocket::default_route::function_handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    run(service_fn(function_handler)).await
}
