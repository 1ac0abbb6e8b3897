use lambda_runtime::{Error, run, service_fn};
use websocket::default_route::function_handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pulse_core::logging::init();
    run(service_fn(function_handler)).await
}
