//! The proxy's admin endpoint on loopback, for geno's other verbs:
//! `GET /targets`, `GET /stats` (each group's answers so far;
//! `?lane=next`: a rehearsed shift's new targets' alone),
//! `POST /shift?group=G&percent=P[&next=ID,…]` and `POST /unshift?group=G`
//! (`geno up --rehearse`'s weighted routing),
//! `POST /drain?container=ID` (out of rotation, and kept
//! out while it restarts), `POST /admit?container=ID` (just (re)started:
//! registered and checked at once, then often until it passes),
//! `POST /shutdown`, `GET /health`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::server::Body;
use super::targets::Shared;

pub async fn serve(listener: TcpListener, table: Shared, shutdown: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
        };
        let table = table.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let table = table.clone();
                let shutdown = shutdown.clone();
                async move { Ok::<_, Infallible>(handle(req, table, shutdown).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(value.to_string()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("valid header"),
    );
    r
}

async fn handle(
    req: Request<Incoming>,
    table: Shared,
    shutdown: CancellationToken,
) -> Response<Body> {
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => json(StatusCode::OK, serde_json::json!({"status": "ok"})),
        (&Method::GET, "/stats") => {
            let snapshot = match param(&query, "lane") {
                Some("next") => table.stats.next_snapshot(),
                _ => table.stats.snapshot(),
            };
            json(
                StatusCode::OK,
                serde_json::to_value(snapshot).unwrap_or_default(),
            )
        }
        (&Method::POST, "/shift") => {
            let (Some(group), Some(percent)) = (
                param(&query, "group"),
                param(&query, "percent").and_then(|p| p.parse::<u8>().ok()),
            ) else {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "group= and percent= (0-100) are required"}),
                );
            };
            let next = param(&query, "next").map(|ids| {
                ids.split(',')
                    .filter(|i| !i.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            match table.update(|r| r.shift(group, next, percent)) {
                true => json(
                    StatusCode::OK,
                    serde_json::json!({"group": group, "percent": percent}),
                ),
                false => json(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({"error": format!("no target group {group}")}),
                ),
            }
        }
        (&Method::POST, "/unshift") => match param(&query, "group") {
            None => json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "group= is required"}),
            ),
            Some(group) => {
                let ended = table.update(|r| r.unshift(group));
                json(StatusCode::OK, serde_json::json!({"ended": ended}))
            }
        },
        (&Method::GET, "/targets") => {
            let report = table.read().report();
            json(
                StatusCode::OK,
                serde_json::to_value(report).unwrap_or_default(),
            )
        }
        (&Method::POST, "/drain") => {
            let Some(container) = container_of(&query) else {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "container= is required"}),
                );
            };
            let container = container.to_string();
            let started = Instant::now();
            let (found, delay) = table.update(|r| {
                let delay = r
                    .groups
                    .iter()
                    .filter(|g| {
                        g.targets
                            .iter()
                            .any(|t| t.container == container || t.name == container)
                    })
                    .map(|g| g.spec.deregistration_delay.0)
                    .max()
                    .unwrap_or_default();
                (r.drain(&container), delay)
            });
            // Answer when in-flight requests are done (or the delay is over):
            // the caller stops the container after that.
            let deadline = started + delay + Duration::from_secs(1);
            while Instant::now() < deadline && !table.update(|t| t.drained(&container)) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            json(
                StatusCode::OK,
                serde_json::json!({"targets": found, "waited_ms": started.elapsed().as_millis() as u64}),
            )
        }
        (&Method::POST, "/admit") => match container_of(&query) {
            None => json(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": "container= is required"}),
            ),
            Some(container) => {
                let found = table.update(|r| r.admit(container));
                json(StatusCode::OK, serde_json::json!({"targets": found}))
            }
        },
        (&Method::POST, "/shutdown") => {
            shutdown.cancel();
            json(StatusCode::OK, serde_json::json!({"status": "stopping"}))
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "unknown admin path"}),
        ),
    }
}

/// The `container=` of an admin query.
fn container_of(query: &str) -> Option<&str> {
    param(query, "container")
}

/// The value of `name=` in a query, if not empty.
fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .filter(|c| !c.is_empty())
}
