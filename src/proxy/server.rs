//! The listener: route each request by the rules, pick a target, forward it
//! with the headers the ALB adds, and answer as the ALB does: 400 for what
//! the client got wrong (no Host on HTTP/1.1, a malformed body), 502/503/504
//! only for target faults, 408 for a body that stops coming. Bodies stream
//! both ways, unbuffered; an `Upgrade` (WebSocket) the target accepts
//! becomes a byte pipe. Either side idle for the idle timeout is closed;
//! target connections are kept alive in a bounded pool.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HOST, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::pool::{Lease, Pool, SendError};
use super::targets::{Pick, Shared};
use crate::alb::rules;
use crate::stack::{Action, Listener};

pub type Body = BoxBody<Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Idle connections kept open to each target, for reuse; more are closed
/// once their request is done (an ALB, too, opens as many as it needs and
/// keeps some).
pub const IDLE_PER_TARGET: usize = 64;

pub struct Proxy {
    pub table: Shared,
    pub listener: Listener,
    /// The ALB's idle timeout: a connection on either side with no bytes
    /// moving for this long is closed; a target that does not start its
    /// answer within it earns a 504, a client that stops sending its body
    /// a 408.
    pub idle_timeout: Duration,
    pool: Arc<Pool<ClientBody>>,
    /// `X-Forwarded-Port`, the same on every request.
    port: HeaderValue,
    /// TLS for an HTTPS listener (the stack's development certificate).
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Every listener of the load balancer: where a redirect to a port of
    /// the ALB lands here.
    peers: Arc<Vec<Listener>>,
    connections: Arc<AtomicUsize>,
    /// This thread's round-robin position in each target group.
    next: Vec<AtomicUsize>,
}

/// The client's request body on its way to the target, noting whether it
/// broke (malformed chunks, a dropped connection: the fault is the
/// client's, and the answer a 400, not a 502) or stalled past the idle
/// timeout (a 408).
pub struct ClientBody {
    inner: Incoming,
    idle: Idle,
    progress: Arc<Progress>,
}

/// How the client's body is going, for the answer when the target's fails.
#[derive(Default)]
struct Progress {
    state: AtomicU8,
    /// When the last of it went to the target.
    done_at: std::sync::OnceLock<Instant>,
}

// 0: still coming.
const BODY_BROKEN: u8 = 1;
const BODY_STALLED: u8 = 2;
const BODY_DONE: u8 = 3;

impl Progress {
    fn state(&self) -> u8 {
        self.state.load(Ordering::Relaxed)
    }

    fn end(&self, state: u8) {
        if state == BODY_DONE {
            let _ = self.done_at.set(Instant::now());
        }
        self.state.store(state, Ordering::Relaxed);
    }
}

/// A deadline that moves on whenever bytes do. The timer is made only
/// when a body has to wait: most bodies (an empty GET's, a small page's)
/// are there when first asked for, and cost no timer at all.
struct Idle {
    after: Duration,
    last: Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Idle {
    fn new(after: Duration) -> Idle {
        Idle {
            after,
            last: Instant::now(),
            sleep: None,
        }
    }

    fn moved(&mut self) {
        self.last = Instant::now();
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = tokio::time::Instant::from_std(self.last + self.after);
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        sleep.as_mut().poll(cx).is_ready()
    }
}

/// One poll of a body under its idle timeout.
enum Step {
    Frame(Result<Frame<Bytes>, hyper::Error>),
    End,
    /// Nothing came for the idle timeout.
    Stalled,
    Pending,
}

impl Idle {
    fn poll(&mut self, body: &mut Incoming, cx: &mut Context<'_>) -> Step {
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(None) => Step::End,
            Poll::Ready(Some(frame)) => {
                self.moved();
                Step::Frame(frame)
            }
            Poll::Pending if self.expired(cx) => Step::Stalled,
            Poll::Pending => Step::Pending,
        }
    }
}

/// Nothing moved for the idle timeout.
#[derive(Debug)]
pub struct IdleTimeout;

impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no data moved within the idle timeout")
    }
}

impl std::error::Error for IdleTimeout {}

impl hyper::body::Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match this.idle.poll(&mut this.inner, cx) {
            Step::Frame(Err(e)) => {
                this.progress.end(BODY_BROKEN);
                Poll::Ready(Some(Err(e.into())))
            }
            Step::Frame(Ok(frame)) => {
                if this.inner.is_end_stream() {
                    this.progress.end(BODY_DONE);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Step::End => {
                this.progress.end(BODY_DONE);
                Poll::Ready(None)
            }
            Step::Stalled => {
                this.progress.end(BODY_STALLED);
                Poll::Ready(Some(Err(IdleTimeout.into())))
            }
            Step::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.progress.end(BODY_DONE);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The target's response body on its way to the client: a target that
/// stops sending for the idle timeout gets the client's connection closed,
/// as the ALB closes it.
struct TargetBody {
    inner: Incoming,
    idle: Idle,
    /// The connection it came on, back to the pool when the body ends.
    lease: Option<Lease<ClientBody>>,
}

impl TargetBody {
    fn ended(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.give_back();
        }
    }
}

impl hyper::body::Body for TargetBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match this.idle.poll(&mut this.inner, cx) {
            Step::End => {
                this.ended();
                Poll::Ready(None)
            }
            Step::Frame(frame) => {
                if frame.is_ok() && this.inner.is_end_stream() {
                    this.ended();
                }
                Poll::Ready(Some(frame.map_err(Into::into)))
            }
            Step::Stalled => {
                // The connection stays out of the pool: dropped, it closes.
                this.lease = None;
                Poll::Ready(Some(Err(IdleTimeout.into())))
            }
            Step::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Proxy {
    pub fn new(table: Shared, mut listener: Listener, idle_timeout: Duration) -> Proxy {
        listener.rules.sort_by_key(|r| r.priority);
        let pool = Arc::new(Pool::new(IDLE_PER_TARGET, idle_timeout));
        let port = HeaderValue::from(listener.port);
        let next = table.read().counters();
        let peers = Arc::new(vec![listener.clone()]);
        Proxy {
            table,
            listener,
            idle_timeout,
            pool,
            port,
            tls: None,
            peers,
            connections: Arc::new(AtomicUsize::new(0)),
            next,
        }
    }

    /// Ends TLS with `acceptor` before serving (an HTTPS listener).
    pub fn with_tls(mut self, acceptor: tokio_rustls::TlsAcceptor) -> Proxy {
        self.tls = Some(acceptor);
        self
    }

    /// The load balancer's listeners, for redirects between them.
    pub fn with_peers(mut self, peers: Arc<Vec<Listener>>) -> Proxy {
        self.peers = peers;
        self
    }

    /// Client connections open now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

/// Counts a client connection while it lives.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: &Arc<AtomicUsize>) -> Open {
        count.fetch_add(1, Ordering::Relaxed);
        Open(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves `socket` on one thread per core, each with a single-threaded
/// runtime and a proxy (and target connection pool) of its own, as
/// HAProxy's threads do: a request's tasks never wake one another across
/// cores, and a thread the kernel preempts holds up only its own
/// connections. The threads share the socket; whichever is free accepts.
pub fn serve_sharded(
    socket: std::net::TcpListener,
    proxy: impl Fn() -> Proxy + Send + Clone + 'static,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let shards = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    for shard in 0..shards {
        let socket = socket.try_clone()?;
        let proxy = proxy.clone();
        let shutdown = shutdown.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(format!("proxy-{shard}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(socket) {
                        Ok(listener) => serve(listener, Arc::new(proxy()), shutdown).await,
                        Err(e) => tracing::warn!("proxy thread {shard} cannot serve: {e}"),
                    }
                })
            })?;
    }
    Ok(())
}

pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: CancellationToken) {
    let pool = proxy.pool.clone();
    let every = (proxy.idle_timeout / 2).max(Duration::from_millis(100));
    let reaping = shutdown.clone();
    tokio::spawn(async move {
        let mut heart = crate::wait::every(every, &reaping);
        while heart.next().await {
            pool.reap();
        }
    });
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let open = Open::new(&proxy.connections);
        // The client's address as `X-Forwarded-For` gets it, once per connection.
        let client = HeaderValue::from_str(&peer.ip().to_string()).ok();
        let idle = proxy.idle_timeout;
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let _open = open;
            let tls = proxy.tls.clone();
            let service = service_fn(move |req| {
                let proxy = proxy.clone();
                let client = client.clone();
                async move { Ok::<_, Infallible>(handle(proxy, req, peer, client).await) }
            });
            match tls {
                None => serve_io(stream, service, idle).await,
                // A handshake gets the idle timeout too: a client that
                // opens a connection and says nothing holds no task.
                Some(acceptor) => match tokio::time::timeout(idle, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => serve_io(stream, service, idle).await,
                    Ok(Err(e)) => tracing::debug!("TLS handshake from {peer} failed: {e}"),
                    Err(_) => tracing::debug!("TLS handshake from {peer} timed out"),
                },
            }
        });
    }
}

/// One client connection, plain or TLS. A client that shuts its side once
/// the request is sent still gets the answer, as from the ALB. The header
/// timeout runs from the moment the connection waits for a request, so it
/// is also the idle timeout between requests.
async fn serve_io<I, S>(io: I, service: S, idle: Duration)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .half_close(true)
        .timer(TokioTimer::new())
        .header_read_timeout(idle)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
}

async fn handle(
    proxy: Arc<Proxy>,
    req: Request<Incoming>,
    peer: SocketAddr,
    client: Option<HeaderValue>,
) -> Response<Body> {
    let started = Instant::now();
    let trace = trace_id();
    // The access log's fields are copied only when it is on (`-v`).
    let logged = tracing::enabled!(target: "access", tracing::Level::INFO)
        .then(|| (req.method().clone(), req.uri().path().to_string()));
    let host = req.headers().get(HOST).and_then(|h| h.to_str().ok());
    // HTTP/1.1 requires Host; the ALB refuses a request without it.
    let no_host = req.version() == hyper::Version::HTTP_11 && host.is_none();
    // Borrowed from the listener for the whole request: no copy per request.
    let action = rules::route(
        &proxy.listener,
        req.uri().path(),
        host,
        req.method().as_str(),
    );
    let (mut response, target) = match action {
        _ if no_host => (error_page(StatusCode::BAD_REQUEST), None),
        Action::FixedResponse(fr) => (text(fr.status, &fr.content_type, fr.body.clone()), None),
        Action::Redirect(r) => {
            let asked = crate::alb::redirect::Asked {
                protocol: proxy.listener.protocol,
                host: host.unwrap_or_default(),
                port: proxy.listener.port,
                path: req.uri().path(),
                query: req.uri().query(),
            };
            let to = crate::alb::redirect::location(r, &asked, &proxy.peers);
            (redirect(r.status, &to), None)
        }
        Action::Forward(group) => {
            let pick = proxy.table.routes().pick(group, &proxy.next);
            let asked = Instant::now();
            let mut lane = false;
            let (r, name) = match pick {
                Pick::Unavailable => (error_page(StatusCode::SERVICE_UNAVAILABLE), None),
                Pick::Target {
                    addr,
                    name,
                    inflight,
                    next,
                } => {
                    lane = next;
                    inflight.fetch_add(1, Ordering::Relaxed);
                    let r = forward(&proxy, req, addr, peer, client, &trace).await;
                    inflight.fetch_sub(1, Ordering::Relaxed);
                    (r, Some(name))
                }
            };
            let from_target = r.extensions().get::<FromBalancer>().is_none();
            proxy.table.stats.record(
                group,
                lane,
                r.status().as_u16(),
                from_target,
                asked.elapsed(),
            );
            (r, name)
        }
    };
    if let Some((method, path)) = logged {
        tracing::info!(
            target: "access",
            "{} \"{} {}\" {} {} {}ms {}",
            peer.ip(),
            method,
            path,
            response.status().as_u16(),
            target.as_deref().unwrap_or("-"),
            started.elapsed().as_millis(),
            trace.to_str().unwrap_or("-")
        );
    }
    response.headers_mut().insert("x-amzn-trace-id", trace);
    response
}

async fn forward(
    proxy: &Proxy,
    mut req: Request<Incoming>,
    addr: SocketAddr,
    peer: SocketAddr,
    client: Option<HeaderValue>,
    trace: &HeaderValue,
) -> Response<Body> {
    // A protocol switch (WebSocket): if the target agrees, both sides'
    // connections are joined once the 101 has gone out.
    let upgrade = req
        .headers()
        .contains_key(hyper::header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let progress = Arc::new(Progress::default());
    let body = ClientBody {
        inner: body,
        idle: Idle::new(proxy.idle_timeout),
        progress: progress.clone(),
    };
    // To the target in origin form (`/path?query`), as the client sent it
    // or cut down from the absolute form a client may send a proxy.
    if parts.uri.scheme().is_some() || parts.uri.authority().is_some() {
        let origin = parts
            .uri
            .path_and_query()
            .map_or(Ok(Uri::from_static("/")), |p| p.as_str().parse::<Uri>());
        match origin {
            Ok(uri) => parts.uri = uri,
            Err(_) => return error_page(StatusCode::BAD_REQUEST),
        }
    }
    let h = &mut parts.headers;
    strip_hop_by_hop(h, upgrade.is_some());
    let forwarded_for = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => HeaderValue::from_str(&format!("{prev}, {}", peer.ip())).ok(),
        None => client,
    };
    if let Some(v) = forwarded_for {
        h.insert("x-forwarded-for", v);
    }
    h.insert(
        "x-forwarded-proto",
        HeaderValue::from_static(proxy.listener.protocol.scheme()),
    );
    h.insert("x-forwarded-port", proxy.port.clone());
    h.insert("x-amzn-trace-id", trace.clone());
    let request = Request::from_parts(parts, body);
    match answer(proxy, addr, request, &progress).await {
        None | Some(Err(SendError::ConnectTimeout)) => error_page(StatusCode::GATEWAY_TIMEOUT),
        Some(Err(e)) => match progress.state() {
            BODY_BROKEN => {
                tracing::debug!("the client's body to {addr} broke: {e:?}");
                error_page(StatusCode::BAD_REQUEST)
            }
            BODY_STALLED => {
                tracing::debug!("the client's body to {addr} stalled: {e:?}");
                error_page(StatusCode::REQUEST_TIMEOUT)
            }
            _ => {
                tracing::debug!("target {addr} failed: {e:?}");
                error_page(StatusCode::BAD_GATEWAY)
            }
        },
        Some(Ok((mut resp, lease))) => {
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS
                && let Some(client_side) = upgrade
            {
                let target_side = hyper::upgrade::on(&mut resp);
                let idle = proxy.idle_timeout;
                tokio::spawn(async move {
                    if let (Ok(c), Ok(t)) = (client_side.await, target_side.await) {
                        pipe(TokioIo::new(c), TokioIo::new(t), idle).await;
                    }
                });
            }
            // An upgraded connection is the pipe's, not the pool's.
            let lease = (resp.status() != StatusCode::SWITCHING_PROTOCOLS).then_some(lease);
            if lease.is_some() {
                strip_hop_by_hop(resp.headers_mut(), false);
            }
            let idle = Idle::new(proxy.idle_timeout);
            resp.map(|inner| {
                let mut body = TargetBody { inner, idle, lease };
                if body.inner.is_end_stream() {
                    body.ended();
                }
                body.boxed()
            })
        }
    }
}

/// The target's answer, or `None` if it has not begun one within the idle
/// timeout of the client's body ending: while the client still sends, the
/// wait is the client's (its body stalling is a 408), not the target's.
async fn answer(
    proxy: &Proxy,
    addr: SocketAddr,
    request: Request<ClientBody>,
    progress: &Progress,
) -> Option<Result<(Response<Incoming>, Lease<ClientBody>), SendError>> {
    let response = proxy.pool.send(addr, request);
    tokio::pin!(response);
    let mut deadline = tokio::time::Instant::now() + proxy.idle_timeout;
    loop {
        tokio::select! {
            r = &mut response => return Some(r),
            _ = tokio::time::sleep_until(deadline) => {
                match progress.done_at.get() {
                    Some(done) if done.elapsed() >= proxy.idle_timeout => return None,
                    Some(done) => deadline = (*done + proxy.idle_timeout).into(),
                    None => deadline += proxy.idle_timeout,
                }
            }
        }
    }
}

/// Headers about one connection, not the request (RFC 9110, 7.6.1): those
/// the client sent are not the target's business, and the target's
/// connection is kept alive whatever the client's is. An upgrade keeps
/// `Connection` and `Upgrade`, which ask the target to switch.
fn strip_hop_by_hop(h: &mut hyper::HeaderMap, upgrading: bool) {
    use hyper::header::{CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
    let named: Vec<hyper::header::HeaderName> = h
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| !(upgrading && *n == UPGRADE))
        .collect();
    for n in named {
        h.remove(n);
    }
    if !upgrading {
        h.remove(CONNECTION);
        h.remove(UPGRADE);
    }
    h.remove(TE);
    h.remove(TRAILER);
    h.remove(TRANSFER_ENCODING);
    h.remove("keep-alive");
    h.remove("proxy-connection");
}

/// Bytes both ways between an upgraded client and target until either
/// side closes or nothing moves for `idle`.
async fn pipe<A, B>(mut a: A, mut b: B, idle: Duration)
where
    A: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    B: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut from_a = vec![0u8; 16 * 1024];
    let mut from_b = vec![0u8; 16 * 1024];
    loop {
        let moved = tokio::time::timeout(idle, async {
            tokio::select! {
                n = a.read(&mut from_a) => match n {
                    Ok(n) if n > 0 => b.write_all(&from_a[..n]).await.is_ok(),
                    _ => false,
                },
                n = b.read(&mut from_b) => match n {
                    Ok(n) if n > 0 => a.write_all(&from_b[..n]).await.is_ok(),
                    _ => false,
                },
            }
        })
        .await;
        if !matches!(moved, Ok(true)) {
            let _ = a.shutdown().await;
            let _ = b.shutdown().await;
            return;
        }
    }
}

/// `Root=1-<epoch seconds, hex>-<96 random bits, hex>`, as the ALB writes it.
pub fn trace_id() -> HeaderValue {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random: [u8; 12] = rand::random();
    let mut id = [0u8; 40];
    id[..7].copy_from_slice(b"Root=1-");
    // Eight hex digits of seconds (good until 2106), a dash, 24 of random.
    let hex = |n: u8| b"0123456789abcdef"[usize::from(n)];
    for (i, shift) in (0..8).rev().enumerate() {
        id[7 + i] = hex(((secs >> (shift * 4)) & 0xf) as u8);
    }
    id[15] = b'-';
    for (i, b) in random.iter().enumerate() {
        id[16 + 2 * i] = hex(b >> 4);
        id[17 + 2 * i] = hex(b & 0xf);
    }
    HeaderValue::from_bytes(&id).expect("ASCII")
}

/// A redirect as the ALB answers it: the status, `Location`, no body.
fn redirect(status: u16, location: &str) -> Response<Body> {
    let mut r = text(status, "text/plain", String::new());
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(hyper::header::LOCATION, v);
    }
    r
}

fn text(status: u16, content_type: &str, body: String) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert("content-type", v);
    }
    r
}

/// The ALB's own error pages.
pub fn error_page(status: StatusCode) -> Response<Body> {
    let line = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let body = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    let mut r = text(status.as_u16(), "text/html", body);
    r.headers_mut()
        .insert("server", HeaderValue::from_static("awselb/2.0"));
    r.extensions_mut().insert(FromBalancer);
    r
}

/// Marks an answer the load balancer gave itself, not a target (never sent).
#[derive(Clone, Copy)]
struct FromBalancer;

#[cfg(test)]
mod tests {
    //! The proxy between a raw TCP client and a target on loopback: what
    //! the ALB answers to a client's mistakes, and what passes through
    //! (streams, upgrades) unbuffered.

    use super::*;
    use crate::alb::health::Check;
    use crate::proxy::targets::TargetTable;
    use crate::stack::LoadBalancer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::Notify;

    /// A target: `/sse` sends one event, then another once `next` is
    /// notified; `/echo` returns the body; `/ws` switches protocols and
    /// echoes bytes.
    pub(super) async fn target(next: Arc<Notify>) -> SocketAddr {
        target_counted(next).await.0
    }

    /// Connections a target has accepted, and has open now.
    #[derive(Clone, Default)]
    pub(super) struct Counted {
        accepted: Arc<AtomicUsize>,
        open: Arc<AtomicUsize>,
    }

    /// `target`, also answering `/slow` after 200 ms and `/stall` with a
    /// first chunk and then nothing, and counting its connections.
    pub(super) async fn target_counted(next: Arc<Notify>) -> (SocketAddr, Counted) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counted = Counted::default();
        let c = counted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let next = next.clone();
                c.accepted.fetch_add(1, Ordering::SeqCst);
                let open = Open::new(&c.open);
                tokio::spawn(async move {
                    let _open = open;
                    let service = service_fn(move |mut req: Request<Incoming>| {
                        let next = next.clone();
                        async move {
                            let resp: Response<Body> = match req.uri().path() {
                                "/sse" => {
                                    let (tx, rx) = tokio::sync::mpsc::channel::<
                                        Result<Frame<Bytes>, BoxError>,
                                    >(2);
                                    tokio::spawn(async move {
                                        let _ = tx
                                            .send(Ok(Frame::data(Bytes::from("data: 1\n\n"))))
                                            .await;
                                        next.notified().await;
                                        let _ = tx
                                            .send(Ok(Frame::data(Bytes::from("data: 2\n\n"))))
                                            .await;
                                    });
                                    let stream =
                                        futures_util::stream::unfold(rx, |mut rx| async move {
                                            rx.recv().await.map(|f| (f, rx))
                                        });
                                    let mut r = Response::new(
                                        http_body_util::StreamBody::new(stream).boxed(),
                                    );
                                    r.headers_mut().insert(
                                        "content-type",
                                        HeaderValue::from_static("text/event-stream"),
                                    );
                                    r
                                }
                                "/close" => {
                                    let mut r = Response::new(
                                        Full::new(Bytes::from("bye"))
                                            .map_err(|n| match n {})
                                            .boxed(),
                                    );
                                    r.headers_mut()
                                        .insert("connection", HeaderValue::from_static("close"));
                                    r
                                }
                                "/slow" => {
                                    tokio::time::sleep(Duration::from_millis(200)).await;
                                    Response::new(
                                        Full::new(Bytes::from("slow"))
                                            .map_err(|n| match n {})
                                            .boxed(),
                                    )
                                }
                                "/stall" => {
                                    let (tx, rx) = tokio::sync::mpsc::channel::<
                                        Result<Frame<Bytes>, BoxError>,
                                    >(1);
                                    tokio::spawn(async move {
                                        let _ = tx.send(Ok(Frame::data(Bytes::from("part")))).await;
                                        // Holds the body open, sending nothing more.
                                        tokio::time::sleep(Duration::from_secs(3600)).await;
                                        drop(tx);
                                    });
                                    let stream =
                                        futures_util::stream::unfold(rx, |mut rx| async move {
                                            rx.recv().await.map(|f| (f, rx))
                                        });
                                    Response::new(http_body_util::StreamBody::new(stream).boxed())
                                }
                                "/ws" => {
                                    let up = hyper::upgrade::on(&mut req);
                                    tokio::spawn(async move {
                                        if let Ok(io) = up.await {
                                            let mut io = TokioIo::new(io);
                                            let mut buf = [0u8; 64];
                                            while let Ok(n) = io.read(&mut buf).await {
                                                if n == 0 || io.write_all(&buf[..n]).await.is_err()
                                                {
                                                    break;
                                                }
                                            }
                                        }
                                    });
                                    let mut r = Response::new(
                                        Full::new(Bytes::new()).map_err(|n| match n {}).boxed(),
                                    );
                                    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                                    r.headers_mut()
                                        .insert("connection", HeaderValue::from_static("upgrade"));
                                    r.headers_mut()
                                        .insert("upgrade", HeaderValue::from_static("websocket"));
                                    r
                                }
                                _ => {
                                    let body = req
                                        .into_body()
                                        .collect()
                                        .await
                                        .map(|b| b.to_bytes())
                                        .unwrap_or_default();
                                    Response::new(Full::new(body).map_err(|n| match n {}).boxed())
                                }
                            };
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        (addr, counted)
    }

    /// The proxy in front of `target`, healthy; its address.
    pub(super) async fn proxy(target: SocketAddr) -> SocketAddr {
        proxy_with(target, Duration::from_secs(5)).await.0
    }

    /// The proxy in front of `target` with the idle timeout given.
    pub(super) async fn proxy_with(target: SocketAddr, idle: Duration) -> (SocketAddr, Arc<Proxy>) {
        let text = "name: t\nimage: { context: . }\nservices:\n  web: { command: [serve], ports: [8000] }\nload_balancer:\n  listeners:\n    - port: 8080\n      default_action: { forward: web }\n  target_groups:\n    web: { service: web, port: 8000, health_check: { healthy_threshold: 2 } }\n";
        let source = crate::stack::load::Source {
            path: "stack.yaml".into(),
            display: "stack.yaml".into(),
            text: text.into(),
        };
        let loaded = crate::stack::load::load_source(
            source,
            "local",
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        let lb: LoadBalancer = loaded.stack.load_balancer.unwrap();
        let mut table = TargetTable::new(&lb);
        table.sync("web", &[("c1".into(), "web-1".into(), target)]);
        for _ in 0..2 {
            table.record("web", "c1", &Check::Pass);
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let p = Arc::new(Proxy::new(
            crate::proxy::targets::Table::shared(table),
            lb.listeners[0].clone(),
            idle,
        ));
        tokio::spawn(serve(listener, p.clone(), CancellationToken::new()));
        (addr, p)
    }

    /// Sends raw bytes; the response's head and what of the body came
    /// within the time given.
    async fn raw(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn a_clients_mistakes_are_400_and_a_good_body_passes() {
        let addr = proxy(target(Arc::new(Notify::new())).await).await;
        let no_host = raw(addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await;
        assert!(
            no_host.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{no_host}"
        );
        assert!(no_host.contains("server: awselb/2.0"), "{no_host}");
        let bad_chunks = raw(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        )
        .await;
        assert!(
            bad_chunks.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{bad_chunks}"
        );
        let good = raw(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        )
        .await;
        assert!(
            good.starts_with("HTTP/1.1 200 OK\r\n") && good.ends_with("hello"),
            "{good}"
        );
    }

    #[tokio::test]
    async fn server_sent_events_stream_through_unbuffered() {
        let next = Arc::new(Notify::new());
        let addr = proxy(target(next.clone()).await).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // The first event arrives while the target still holds the second.
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !String::from_utf8_lossy(&seen).contains("data: 1") {
            let mut buf = [0u8; 256];
            let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
                .await
                .expect("the first event within 5 s")
                .unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
        }
        assert!(!String::from_utf8_lossy(&seen).contains("data: 2"));
        next.notify_one();
        while !String::from_utf8_lossy(&seen).contains("data: 2") {
            let mut buf = [0u8; 256];
            let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
                .await
                .expect("the second event within 5 s")
                .unwrap();
            assert!(n > 0);
            seen.extend_from_slice(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn a_websocket_upgrade_becomes_a_pipe_to_the_target() {
        let addr = proxy(target(Arc::new(Notify::new())).await).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
        let mut head = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            let n = tokio::time::timeout_at(deadline, s.read(&mut b))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "{}", String::from_utf8_lossy(&head));
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(
            head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
            "{head}"
        );
        for msg in [&b"ping"[..], &b"second frame"[..]] {
            s.write_all(msg).await.unwrap();
            let mut got = vec![0u8; msg.len()];
            tokio::time::timeout_at(deadline, s.read_exact(&mut got))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(got, msg);
        }
    }

    /// Reads until the proxy closes the connection; what came, or `None`
    /// if it was still open after `within`.
    async fn until_closed(s: &mut TcpStream, within: Duration) -> Option<String> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mut buf = [0u8; 1024];
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&seen).into()),
                Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }

    #[tokio::test]
    async fn an_idle_client_connection_is_closed_after_the_idle_timeout() {
        let (addr, proxy) = proxy_with(
            target(Arc::new(Notify::new())).await,
            Duration::from_secs(1),
        )
        .await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Kept alive: two requests on one connection (the target closing
        // its own after the first is no reason to close the client's),
        // then silence.
        for path in ["/close", "/echo"] {
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
        }
        assert_eq!(proxy.connections(), 1);
        let rest = until_closed(&mut s, Duration::from_secs(10)).await;
        assert_eq!(rest.as_deref(), Some(""), "closed without a word");
        // The half-sent request of a slow client is cut off the same way.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost:").await.unwrap();
        assert!(
            until_closed(&mut s, Duration::from_secs(10))
                .await
                .is_some()
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while proxy.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(proxy.connections(), 0);
    }

    #[tokio::test]
    async fn a_body_that_stops_coming_is_408_and_a_stalled_target_is_cut_off() {
        let addr = proxy_with(
            target(Arc::new(Notify::new())).await,
            Duration::from_secs(1),
        )
        .await
        .0;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let answer = until_closed(&mut s, Duration::from_secs(10)).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{answer}"
        );
        // The target sends its head and a first chunk, then nothing: the
        // client has what came, then the connection closes.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = until_closed(&mut s, Duration::from_secs(10)).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("part"), "{answer}");
        assert!(!answer.ends_with("0\r\n\r\n"), "no clean end: {answer}");
    }

    #[tokio::test]
    async fn a_target_that_resets_the_connection_is_502() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.set_zero_linger();
                drop(s);
            }
        });
        let addr = proxy(target).await;
        let answer = raw(
            addr,
            b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(
            answer.starts_with("HTTP/1.1 502 Bad Gateway\r\n"),
            "{answer}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn target_connections_are_reused_and_the_idle_pool_is_bounded() {
        let (target, counted) = target_counted(Arc::new(Notify::new())).await;
        let addr = proxy(target).await;
        let get = |path: &'static str| async move {
            raw(
                addr,
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
        };
        // One after another: one connection to the target serves them all.
        for _ in 0..20 {
            assert!(get("/echo").await.starts_with("HTTP/1.1 200 OK"));
        }
        assert_eq!(counted.accepted.load(Ordering::SeqCst), 1);
        // 100 at once, each held 200 ms by the target: 100 connections,
        // of which the pool keeps IDLE_PER_TARGET once they are done.
        let answers = futures_util::future::join_all((0..100).map(|_| get("/slow"))).await;
        assert!(answers.iter().all(|a| a.starts_with("HTTP/1.1 200 OK")));
        assert!(counted.accepted.load(Ordering::SeqCst) >= 100);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while counted.open.load(Ordering::SeqCst) > IDLE_PER_TARGET
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(counted.open.load(Ordering::SeqCst), IDLE_PER_TARGET);
    }
}

#[cfg(test)]
mod fuzz {
    //! Raw bytes at the proxy, 10,000 cases from a fixed seed: valid
    //! requests mutated (bytes flipped, cut, duplicated, spliced) and plain
    //! noise. Every case ends (no hang), an answer is HTTP, a client's
    //! garbage never earns a 5xx (the target is healthy), and the proxy
    //! still serves a good request afterwards.

    use super::tests::{proxy_with, target};
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    const CASES: usize = 10_000;
    const AT_ONCE: usize = 64;

    const SEEDS: [&[u8]; 4] = [
        b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET /a/b?c=d HTTP/1.0\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
    ];

    fn case(rng: &mut rand::rngs::StdRng) -> Vec<u8> {
        if rng.random_bool(0.1) {
            let n = rng.random_range(0..300);
            return (0..n).map(|_| rng.random()).collect();
        }
        let mut b = SEEDS[rng.random_range(0..SEEDS.len())].to_vec();
        for _ in 0..rng.random_range(1..6) {
            if b.is_empty() {
                break;
            }
            let i = rng.random_range(0..b.len());
            match rng.random_range(0..4) {
                0 => b[i] = rng.random(),
                1 => b.truncate(i),
                2 => {
                    let j = rng.random_range(i..b.len());
                    let piece = b[i..j].to_vec();
                    b.splice(i..i, piece);
                }
                _ => {
                    let other = SEEDS[rng.random_range(0..SEEDS.len())];
                    let k = rng.random_range(0..other.len());
                    b.splice(i..i, other[k..].iter().copied());
                }
            }
        }
        b
    }

    /// What the proxy answered (empty when it closed without a word).
    async fn send(addr: std::net::SocketAddr, bytes: Vec<u8>) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(&bytes).await;
        let _ = s.shutdown().await;
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("the proxy ended the exchange within 10 s")
            .ok();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_thousand_mangled_requests_never_hang_crash_or_earn_a_5xx() {
        let (addr, proxy) = proxy_with(
            target(Arc::new(tokio::sync::Notify::new())).await,
            Duration::from_secs(5),
        )
        .await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x6e6f);
        let cases: Vec<Vec<u8>> = (0..CASES).map(|_| case(&mut rng)).collect();
        let mut answered = 0;
        for batch in cases.chunks(AT_ONCE) {
            let replies =
                futures_util::future::join_all(batch.iter().map(|c| send(addr, c.clone()))).await;
            for (c, reply) in batch.iter().zip(replies) {
                if reply.is_empty() {
                    continue;
                }
                answered += 1;
                assert!(
                    reply.starts_with("HTTP/1."),
                    "not HTTP for {:?}: {reply:?}",
                    String::from_utf8_lossy(c)
                );
                let status = &reply[9..12];
                assert!(
                    !status.starts_with('5'),
                    "{status} for the client's {:?}:\n{reply}",
                    String::from_utf8_lossy(c)
                );
            }
        }
        assert!(answered > CASES / 4, "only {answered} answers");
        let good = send(
            addr,
            b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        )
        .await;
        assert!(
            good.starts_with("HTTP/1.1 200 OK"),
            "{good:?} after {answered} answers"
        );
        // Memory stays bounded: every client connection the cases opened
        // has been let go (none left half-parsed, waiting for more).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while proxy.connections() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(proxy.connections(), 0, "connections still open");
    }
}
