use lambda_http::{Error, run, service_fn};
use web::{Config, WebApp, function_handler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pulse_core::logging::init();
    let app = WebApp::new(&Config::from_env()?);
    run(service_fn(|request| function_handler(&app, request))).await
}
