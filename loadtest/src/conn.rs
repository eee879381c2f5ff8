//! WebSocket connections of the load tester: small buffers (so the tester
//! stays cheap next to the hub), an optional source address (several
//! 127.x.y.z addresses avoid running out of ephemeral ports), and a split
//! into a writer task fed by a channel and a reader that hands every text
//! frame to a callback.

use bedside_protocol::{ClientMessage, Features};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A connected WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection or handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The URL is not `ws://host:port/...`.
    #[error("bad url {0}")]
    Url(String),
    /// TCP or WebSocket failure.
    #[error("connect: {0}")]
    Io(String),
    /// The hub closed or refused before `welcome`.
    #[error("refused: {0}")]
    Refused(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

fn target(url: &str) -> Result<SocketAddr, ConnError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| ConnError::Url(url.to_owned()))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    hostport
        .parse()
        .map_err(|_| ConnError::Url(format!("{url} (use an IP address and port)")))
}

/// Opens a WebSocket to `url` (plain `ws://IP:port/…`), from `source` if given.
pub async fn connect(url: &str, source: Option<IpAddr>) -> Result<Ws, ConnError> {
    let addr = target(url)?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| ConnError::Io(e.to_string()))?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| ConnError::Io(format!("bind {ip}: {e}")))?;
    }
    let tcp = socket
        .connect(addr)
        .await
        .map_err(|e| ConnError::Io(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let cfg = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(tcp), Some(cfg))
            .await
            .map_err(|e| ConnError::Io(e.to_string()))?;
    Ok(ws)
}

/// Sends one JSON message.
pub async fn send(ws: &mut Ws, m: &ClientMessage) -> Result<(), ConnError> {
    ws.send(Message::text(m.to_json(None)))
        .await
        .map_err(|e| ConnError::Io(e.to_string()))
}

/// Reads until a message of type `ty` (other messages are dropped).
pub async fn recv_type(ws: &mut Ws, ty: &str, within: Duration) -> Result<Value, ConnError> {
    let fut = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["type"] == ty {
                        return Ok(v);
                    }
                    if v["type"] == "error" && v["code"] != "rate_limited" && ty == "welcome" {
                        return Err(ConnError::Refused(v["code"].to_string()));
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    return Err(ConnError::Refused(format!(
                        "closed {:?}",
                        f.map(|f| u16::from(f.code))
                    )));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(ConnError::Io(e.to_string())),
                None => return Err(ConnError::Refused("closed".into())),
            }
        }
    };
    tokio::time::timeout(within, fut)
        .await
        .map_err(|_| ConnError::Timeout)?
}

/// `hello` with `token`; returns the socket and the `welcome`.
pub async fn hello(
    url: &str,
    source: Option<IpAddr>,
    token: &str,
) -> Result<(Ws, Value), ConnError> {
    let mut ws = connect(url, source).await?;
    let hello = ClientMessage::Hello {
        token: token.to_owned(),
        device: None,
        sdk: Some("bedside-loadtest".to_owned()),
        features: Features::default(),
    };
    send(&mut ws, &hello).await?;
    let w = recv_type(&mut ws, "welcome", Duration::from_secs(30)).await?;
    Ok((ws, w))
}

/// `resume`; returns the socket and the `welcome`.
pub async fn resume(
    url: &str,
    source: Option<IpAddr>,
    resume_token: &str,
    last_seq: u64,
) -> Result<(Ws, Value), ConnError> {
    let mut ws = connect(url, source).await?;
    let resume = ClientMessage::Resume {
        resume_token: resume_token.to_owned(),
        last_seq: Some(last_seq),
        features: Features::default(),
    };
    send(&mut ws, &resume).await?;
    let w = recv_type(&mut ws, "welcome", Duration::from_secs(30)).await?;
    Ok((ws, w))
}

/// A live connection after the handshake: write through `tx`; the reader
/// task calls `on_frame` for every text frame until the socket closes.
#[derive(Debug, Clone)]
pub struct Live {
    /// Frames to send.
    pub tx: mpsc::UnboundedSender<String>,
}

impl Live {
    /// Splits `ws` into a writer task and a reader task.
    pub fn spawn(
        ws: Ws,
        mut on_frame: impl FnMut(&str, &mpsc::UnboundedSender<String>) + Send + 'static,
    ) -> (Live, tokio::task::JoinHandle<()>) {
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if text.is_empty() {
                    let _ = sink.close().await;
                    break;
                }
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let reply = tx.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m {
                    on_frame(t.as_str(), &reply);
                }
            }
        });
        (Live { tx }, reader)
    }

    /// Queues a frame.
    pub fn send(&self, text: String) {
        let _ = self.tx.send(text);
    }

    /// Closes the socket (after what is queued).
    pub fn close(&self) {
        let _ = self.tx.send(String::new());
    }
}
