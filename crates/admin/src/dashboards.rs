//! Open dashboards of a site being changed or removed.

use pulse_core::SiteId;
use pulse_dynamodb::DynamoStore;

/// Closes the dashboards that `site` (as it is now; `None` once deleted) no longer admits, and says what
/// happened. The broadcast function does the same as soon as the change reaches it on the table's stream,
/// so this is only sooner, and a failure here leaves nothing open for long.
pub async fn close_stale(
    store: &DynamoStore,
    sdk_config: &aws_config::SdkConfig,
    endpoint: Option<&str>,
    site_id: &SiteId,
    site: Option<&pulse_core::Site>,
) -> String {
    const BY_THE_STREAM: &str = "the broadcast function closes the dashboards of the old token as soon as the \
        change reaches it on the table's stream (seconds)";
    let Some(endpoint) = endpoint else {
        return format!("{BY_THE_STREAM}; pass --stack (or --websocket-endpoint) to close them from here first");
    };
    let closer = pulse_dynamodb::management::ApiGatewaySender::new(sdk_config, endpoint);
    match pulse_core::live::revoke_stale_connections(store, &closer, site_id, site).await {
        Ok(closed) => format!("{closed} open dashboard connection(s) closed"),
        Err(err) => format!("could not close the open dashboards from here ({err}); {BY_THE_STREAM}"),
    }
}

/// Waits (up to `wait`) until the site has no open dashboard left, as the broadcast closes them.
pub async fn all_closed(store: &DynamoStore, site: &SiteId, wait: std::time::Duration) -> bool {
    use pulse_core::live::ConnectionStore as _;
    let deadline = std::time::Instant::now() + wait;
    loop {
        if store.site_connections(site).await.is_ok_and(|open| open.is_empty()) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
