//! The listener: route each request by the rules, pick a target, forward it
//! with the headers the ALB adds, and answer 502/503/504 as the ALB does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
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
    client: Client<HttpConnector, Incoming>,
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
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
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
    let (response, target) = match action {
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
    req: Request<Incoming>,
    addr: SocketAddr,
    peer: SocketAddr,
    trace: &str,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
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
        Ok(Err(e)) => {
            tracing::debug!("target {addr} failed: {e:?}");
            error_page(StatusCode::BAD_GATEWAY)
        }
        Ok(Ok(resp)) => resp.map(|b| b.boxed()),
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
