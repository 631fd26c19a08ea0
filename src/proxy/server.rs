//! The listener: route each request by the rules, pick a target, forward it
//! with the headers the ALB adds, and answer as the ALB does: 400 for what
//! the client got wrong (no Host on HTTP/1.1, a malformed body), 502/503/504
//! only for target faults. Bodies stream both ways, unbuffered; an
//! `Upgrade` (WebSocket) the target accepts becomes a byte pipe.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::header::{HOST, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::targets::{Pick, Shared};
use crate::alb::rules;
use crate::stack::{Action, Listener};

pub type Body = BoxBody<Bytes, hyper::Error>;

pub struct Proxy {
    pub table: Shared,
    pub listener: Listener,
    pub idle_timeout: Duration,
    client: Client<HttpConnector, ClientBody>,
}

/// The client's request body on its way to the target, noting whether it
/// broke (malformed chunks, a dropped connection): then the fault is the
/// client's, and the answer a 400, not a 502.
pub struct ClientBody {
    inner: Incoming,
    broken: Arc<AtomicBool>,
}

impl hyper::body::Body for ClientBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(_))) = &polled {
            this.broken.store(true, Ordering::SeqCst);
        }
        polled
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
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Proxy {
            table,
            listener,
            idle_timeout,
            client,
        }
    }
}

pub async fn serve(listener: TcpListener, proxy: Arc<Proxy>, shutdown: CancellationToken) {
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
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(handle(proxy, req, peer).await) }
            });
            // A client that shuts its side once the request is sent still
            // gets the answer, as from the ALB.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .half_close(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn handle(proxy: Arc<Proxy>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let started = Instant::now();
    let trace = trace_id();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    // Borrowed from the listener for the whole request: no copy per request.
    let action = rules::route(&proxy.listener, &path, host.as_deref(), method.as_str());
    // HTTP/1.1 requires Host; the ALB refuses a request without it.
    let no_host = req.version() == hyper::Version::HTTP_11 && host.is_none();
    let (response, target) = match action {
        _ if no_host => (error_page(StatusCode::BAD_REQUEST), "-".to_string()),
        Action::FixedResponse(fr) => (
            text(fr.status, &fr.content_type, fr.body.clone()),
            "-".to_string(),
        ),
        Action::Forward(group) => {
            let pick = proxy.table.lock().expect("target table lock").pick(group);
            match pick {
                Pick::Unavailable => (
                    error_page(StatusCode::SERVICE_UNAVAILABLE),
                    format!("{group}:-"),
                ),
                Pick::Target {
                    addr,
                    name,
                    inflight,
                } => {
                    inflight.fetch_add(1, Ordering::SeqCst);
                    let r = forward(&proxy, req, addr, peer, &trace).await;
                    inflight.fetch_sub(1, Ordering::SeqCst);
                    (r, name)
                }
            }
        }
    };
    tracing::info!(
        target: "access",
        "{} \"{} {}\" {} {} {}ms {}",
        peer.ip(),
        method,
        path,
        response.status().as_u16(),
        target,
        started.elapsed().as_millis(),
        trace
    );
    let mut response = response;
    if let Ok(v) = HeaderValue::from_str(&trace) {
        response.headers_mut().insert("x-amzn-trace-id", v);
    }
    response
}

async fn forward(
    proxy: &Proxy,
    mut req: Request<Incoming>,
    addr: SocketAddr,
    peer: SocketAddr,
    trace: &str,
) -> Response<Body> {
    // A protocol switch (WebSocket): if the target agrees, both sides'
    // connections are joined once the 101 has gone out.
    let upgrade = req
        .headers()
        .contains_key(hyper::header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let broken = Arc::new(AtomicBool::new(false));
    let body = ClientBody {
        inner: body,
        broken: broken.clone(),
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let Ok(uri) = format!("http://{addr}{path}").parse::<Uri>() else {
        return error_page(StatusCode::BAD_REQUEST);
    };
    parts.uri = uri;
    let h = &mut parts.headers;
    let forwarded_for = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        h.insert("x-forwarded-for", v);
    }
    h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    if let Ok(v) = HeaderValue::from_str(&proxy.listener.port.to_string()) {
        h.insert("x-forwarded-port", v);
    }
    if let Ok(v) = HeaderValue::from_str(trace) {
        h.insert("x-amzn-trace-id", v);
    }
    let request = Request::from_parts(parts, body);
    match tokio::time::timeout(proxy.idle_timeout, proxy.client.request(request)).await {
        Err(_) => error_page(StatusCode::GATEWAY_TIMEOUT),
        Ok(Err(e)) if broken.load(Ordering::SeqCst) => {
            tracing::debug!("the client's body to {addr} broke: {e:?}");
            error_page(StatusCode::BAD_REQUEST)
        }
        Ok(Err(e)) => {
            tracing::debug!("target {addr} failed: {e:?}");
            error_page(StatusCode::BAD_GATEWAY)
        }
        Ok(Ok(mut resp)) => {
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS
                && let Some(client_side) = upgrade
            {
                let target_side = hyper::upgrade::on(&mut resp);
                tokio::spawn(async move {
                    if let (Ok(c), Ok(t)) = (client_side.await, target_side.await) {
                        let _ = tokio::io::copy_bidirectional(
                            &mut TokioIo::new(c),
                            &mut TokioIo::new(t),
                        )
                        .await;
                    }
                });
            }
            resp.map(|b| b.boxed())
        }
    }
}

/// `Root=1-<epoch seconds, hex>-<96 random bits, hex>`, as the ALB writes it.
pub fn trace_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random: [u8; 12] = rand::random();
    format!("Root=1-{secs:08x}-{}", hex::encode(random))
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
    r
}

#[cfg(test)]
mod tests {
    //! The proxy between a raw TCP client and a target on loopback: what
    //! the ALB answers to a client's mistakes, and what passes through
    //! (streams, upgrades) unbuffered.

    use super::*;
    use crate::alb::health::Check;
    use crate::proxy::targets::TargetTable;
    use crate::stack::LoadBalancer;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::Notify;

    /// A target: `/sse` sends one event, then another once `next` is
    /// notified; `/echo` returns the body; `/ws` switches protocols and
    /// echoes bytes.
    pub(super) async fn target(next: Arc<Notify>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let next = next.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |mut req: Request<Incoming>| {
                        let next = next.clone();
                        async move {
                            let resp: Response<Body> = match req.uri().path() {
                                "/sse" => {
                                    let (tx, rx) = tokio::sync::mpsc::channel::<
                                        Result<Frame<Bytes>, hyper::Error>,
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
        addr
    }

    /// The proxy in front of `target`, healthy; its address.
    pub(super) async fn proxy(target: SocketAddr) -> SocketAddr {
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
            Arc::new(Mutex::new(table)),
            lb.listeners[0].clone(),
            Duration::from_secs(5),
        ));
        tokio::spawn(serve(listener, p, CancellationToken::new()));
        addr
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
}

#[cfg(test)]
mod fuzz {
    //! Raw bytes at the proxy, 10,000 cases from a fixed seed: valid
    //! requests mutated (bytes flipped, cut, duplicated, spliced) and plain
    //! noise. Every case ends (no hang), an answer is HTTP, a client's
    //! garbage never earns a 5xx (the target is healthy), and the proxy
    //! still serves a good request afterwards.

    use super::tests::{proxy, target};
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
        let addr = proxy(target(Arc::new(tokio::sync::Notify::new())).await).await;
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
    }
}
