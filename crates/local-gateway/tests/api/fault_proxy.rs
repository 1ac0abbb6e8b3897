//! A DynamoDB endpoint in front of moto that injects faults: slow answers, server errors, throttling,
//! refused requests and connection resets. HTTP/1.1 with `Content-Length` bodies is all the SDK and moto
//! speak here, so requests and answers are relayed whole.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    None,
    /// Every answer this much later.
    Delay(Duration),
    /// 500 InternalServerError.
    ServerError,
    /// 400 ProvisionedThroughputExceededException (the SDK retries it).
    Throttle,
    /// 400 ValidationException (a permanent refusal).
    Reject,
    /// The connection reset without an answer.
    Reset,
}

pub struct FaultProxy {
    pub endpoint: String,
    fault: Arc<Mutex<Fault>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let fault = Arc::new(Mutex::new(Fault::None));
        let shared = fault.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstream.clone(), shared.clone()));
            }
        });
        Self { endpoint, fault }
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}

async fn relay(mut client: TcpStream, upstream: String, fault: Arc<Mutex<Fault>>) {
    while let Some(request) = read_message(&mut client).await {
        let current = *fault.lock().unwrap();
        let answer = match current {
            Fault::Reset => {
                // Linger 0: closing sends RST instead of FIN.
                let _ = client.set_zero_linger();
                return;
            }
            Fault::ServerError => error_answer(500, "InternalServerError"),
            Fault::Throttle => error_answer(400, "ProvisionedThroughputExceededException"),
            Fault::Reject => error_answer(400, "ValidationException"),
            Fault::Delay(delay) => {
                tokio::time::sleep(delay).await;
                forward(&upstream, &request).await
            }
            Fault::None => forward(&upstream, &request).await,
        };
        let Some(answer) = answer.or_else(|| error_answer(502, "InternalServerError")) else {
            return;
        };
        if client.write_all(&answer).await.is_err() {
            return;
        }
    }
}

async fn forward(upstream: &str, request: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    server.write_all(request).await.ok()?;
    read_message(&mut server).await
}

fn error_answer(status: u16, code: &str) -> Option<Vec<u8>> {
    let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"injected fault"}}"#);
    Some(
        format!(
            "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-requestid: fault\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// One HTTP/1.1 message (head and `Content-Length` body), or `None` at the end of the stream.
async fn read_message(stream: &mut (impl AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = message.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        message.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&message[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while message.len() < head_end + length {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        message.extend_from_slice(&buffer[..read]);
    }
    Some(message)
}
