//! Keep-alive connections to targets, one pool per proxy thread: a
//! connection goes back when its response body has ended, at most
//! `max_idle` wait per target, and none longer than the idle timeout.
//!
//! hyper-util's pooled client does the same with more machinery per
//! request (a keyed, hashed checkout, and a task spawned per response to
//! wait for the connection to be free again); with one pool per thread and
//! the return made by the body itself, a request costs a vector pop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long to wait for a target to accept a connection, as the ALB does.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A target's idle connections, each with when it went idle.
type Waiting<B> = Vec<(SendRequest<B>, Instant)>;

/// Connections for requests with bodies of type `B`.
pub struct Pool<B> {
    idle: Mutex<HashMap<SocketAddr, Waiting<B>>>,
    max_idle: usize,
    idle_timeout: Duration,
}

/// Why a request did not reach a target or came back without an answer.
#[derive(Debug)]
pub enum SendError {
    /// The target did not accept a connection within `CONNECT_TIMEOUT`.
    ConnectTimeout,
    Connect(std::io::Error),
    Http(hyper::Error),
}

/// A connection lent for one exchange; `give_back` once its body ended.
pub struct Lease<B> {
    pool: Arc<Pool<B>>,
    addr: SocketAddr,
    sender: SendRequest<B>,
}

impl<B> Lease<B> {
    pub fn give_back(self) {
        self.pool.put(self.addr, self.sender);
    }
}

impl<B> Pool<B> {
    pub fn new(max_idle: usize, idle_timeout: Duration) -> Pool<B> {
        Pool {
            idle: Mutex::new(HashMap::new()),
            max_idle,
            idle_timeout,
        }
    }

    /// Sends `req` to `addr` on an idle connection, or a new one; the
    /// answer, and the connection to give back when its body has ended.
    pub async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        mut req: Request<B>,
    ) -> Result<(Response<Incoming>, Lease<B>), SendError>
    where
        B: hyper::body::Body + Send + Unpin + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        while let Some(mut sender) = self.take(addr) {
            match sender.try_send_request(req).await {
                Ok(response) => return Ok((response, self.lease(addr, sender))),
                // The connection closed before the request went out (the
                // target ended an idle keep-alive): another one gets it.
                Err(mut e) => match e.take_message() {
                    Some(back) => req = back,
                    None => return Err(SendError::Http(e.into_error())),
                },
            }
        }
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Err(_) => return Err(SendError::ConnectTimeout),
            Ok(Err(e)) => return Err(SendError::Connect(e)),
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(SendError::Http)?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!("connection to target {addr} ended: {e}");
            }
        });
        let response = sender.send_request(req).await.map_err(SendError::Http)?;
        Ok((response, self.lease(addr, sender)))
    }

    fn lease(self: &Arc<Self>, addr: SocketAddr, sender: SendRequest<B>) -> Lease<B> {
        Lease {
            pool: self.clone(),
            addr,
            sender,
        }
    }

    /// An idle connection to `addr` that can take a request now. One still
    /// finishing its last exchange stays in the pool; closed or stale ones
    /// are dropped (which closes them).
    fn take(&self, addr: SocketAddr) -> Option<SendRequest<B>> {
        let mut idle = self.idle.lock().expect("pool lock");
        let waiting = idle.get_mut(&addr)?;
        let mut busy = Vec::new();
        let mut found = None;
        while let Some((mut sender, since)) = waiting.pop() {
            if sender.is_closed() || since.elapsed() >= self.idle_timeout {
                continue;
            }
            match sender.ready().now_or_never() {
                Some(Ok(())) => {
                    found = Some(sender);
                    break;
                }
                Some(Err(_)) => continue,
                None => busy.push((sender, since)),
            }
        }
        waiting.extend(busy);
        found
    }

    fn put(&self, addr: SocketAddr, sender: SendRequest<B>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().expect("pool lock");
        let waiting = idle.entry(addr).or_default();
        if waiting.len() < self.max_idle {
            waiting.push((sender, Instant::now()));
        }
    }

    /// Closes connections idle for the idle timeout, and forgets closed ones.
    pub fn reap(&self) {
        let mut idle = self.idle.lock().expect("pool lock");
        for waiting in idle.values_mut() {
            waiting.retain(|(s, since)| !s.is_closed() && since.elapsed() < self.idle_timeout);
        }
        idle.retain(|_, waiting| !waiting.is_empty());
    }
}
