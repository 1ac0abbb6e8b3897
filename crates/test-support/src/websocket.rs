//! Dashboards' WebSockets, as the tests hold them.

use std::time::Duration;

use futures::{Stream, StreamExt as _};
use tokio_tungstenite::tungstenite::{Error, Message};

/// Whether the server closes `socket` within `wait`: a close frame, an error or the end of the
/// stream; messages before it are read and dropped.
pub async fn closed_within<S>(socket: &mut S, wait: Duration) -> bool
where
    S: Stream<Item = Result<Message, Error>> + Unpin,
{
    tokio::time::timeout(wait, async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .is_ok()
}
