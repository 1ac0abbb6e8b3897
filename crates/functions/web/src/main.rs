use lambda_http::{Error, run, service_fn, tracing};
use web::{Config, WebApp, function_handler};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let app = WebApp::new(&Config::from_env()?);
    run(service_fn(|request| function_handler(&app, request))).await
}
