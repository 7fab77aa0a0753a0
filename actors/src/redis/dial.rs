//! Opening one socket to one Redis server: TCP, TLS when asked, `AUTH`, all framed with
//! redis-async's RESP codec.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use redis_async::error::Error as RedisError;
use redis_async::resp::{FromResp, RespCodec, RespValue};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_util::codec::{Decoder, Framed};

use super::config::RedisConfig;
use super::tls::TlsRoots;
use super::url_parts::Address;

/// A socket to one server, reading and writing RESP values.
pub type Socket = Framed<Stream, RespCodec>;

/// TCP, or TLS over TCP.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Who to be on the server: `AUTH [user] password` when a password is given.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
}

impl<'a> Credentials<'a> {
    /// The data nodes' credentials from the URL.
    pub fn of(config: &'a RedisConfig) -> Self {
        Self {
            username: config.username.as_deref(),
            password: config.password.as_deref(),
        }
    }

    /// None: sentinels are asked without any.
    pub const NONE: Credentials<'static> = Credentials {
        username: None,
        password: None,
    };
}

/// Connects to `address`, over TLS trusting `tls` when given, and authenticates.
pub async fn dial(
    address: &Address,
    tls: Option<&TlsRoots>,
    credentials: Credentials<'_>,
) -> Result<Socket, RedisError> {
    let tcp = TcpStream::connect((address.host.as_str(), address.port)).await?;
    // Closed with a reset, not a FIN after the unsent data: a frozen Redis that wakes up must
    // not run the commands of a connection we gave up on.
    tcp.set_zero_linger()?;
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some(roots) => Stream::Tls(Box::new(roots.connect(&address.host, tcp).await?)),
    };
    let mut socket = RespCodec.framed(stream);
    if let Some(password) = credentials.password {
        let mut auth = vec![RespValue::from("AUTH")];
        auth.extend(credentials.username.map(RespValue::from));
        auth.push(password.into());
        <()>::from_resp(ask(&mut socket, RespValue::Array(auth)).await?)?;
    }
    Ok(socket)
}

/// One command on a socket no task reads yet; an error answer is an `Err`.
pub async fn ask(socket: &mut Socket, command: RespValue) -> Result<RespValue, RedisError> {
    socket.send(command).await?;
    match socket.next().await {
        Some(Ok(RespValue::Error(reason))) => Err(RedisError::Remote(reason)),
        Some(answer) => answer,
        None => Err(closed()),
    }
}

/// The connection was closed, or the socket failed, before the answer came.
pub fn closed() -> RedisError {
    RedisError::Connection(redis_async::error::ConnectionReason::NotConnected)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
