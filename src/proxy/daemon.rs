//! The load balancer as a background process: `geno lb` serves; `ensure`
//! starts it (or keeps one that serves the same configuration), `stop`
//! ends it, and `targets` asks it for target health. Its state file
//! `.geno/<stack>/lb.json` says where its admin endpoint is.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::server::Proxy;
use super::targets::{FAST_CHECK, Shared, Table, TargetReport, TargetTable};
use super::{admin, server, timing};
use crate::alb::health::Check;
use crate::docker::Engine;
use crate::local::plan::names;
use crate::stack::matcher::Matcher;
use crate::stack::{LoadBalancer, Stack};
use crate::wait::{self, Check as Look, GaveUp, Poll};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LbState {
    pub pid: u32,
    pub admin: String,
    pub listeners: Vec<String>,
    pub config_hash: String,
    pub log: String,
}

pub fn state_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(stack).join("lb.json")
}

pub fn log_path(state_dir: &Path, stack: &str) -> PathBuf {
    state_dir.join(stack).join("lb.log")
}

/// What the running proxy must match: its configuration and flags, and
/// the geno that serves it (a proxy left running by an older build of
/// geno speaks an older admin protocol, so an upgrade replaces it).
pub fn config_hash(lb: &LoadBalancer, fast: bool, verbose: bool) -> String {
    let json = serde_json::to_vec(&(lb, fast, verbose, build_identity())).unwrap_or_default();
    hex::encode(&Sha256::digest(json)[..12])
}

/// This geno build: its version and its executable's modification time.
pub fn build_identity() -> String {
    let modified = std::env::current_exe()
        .and_then(std::fs::metadata)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}@{modified}", env!("CARGO_PKG_VERSION"))
}

/// Whether a running proxy serves `lb` as stack.yaml says it now (with
/// whichever flags it was started).
pub fn serves(state: &LbState, lb: &LoadBalancer) -> bool {
    [(false, false), (false, true), (true, false), (true, true)]
        .iter()
        .any(|(fast, verbose)| config_hash(lb, *fast, *verbose) == state.config_hash)
}

pub fn read_state(state_dir: &Path, stack: &str) -> Option<LbState> {
    let text = std::fs::read_to_string(state_path(state_dir, stack)).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn alive(pid: u32) -> bool {
    // An exited process stays a zombie until its parent (init, for this
    // detached one) reaps it, which some inits do only every second or two:
    // a zombie has stopped serving, so it counts as gone.
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        return !matches!(state, Some("Z") | Some("X"));
    }
    // SAFETY: signal 0 checks for existence and permission only.
    unsafe { libc::kill(pid as i32, 0) == 0 }
}

async fn admin_get(admin: &str, path: &str) -> Option<Bytes> {
    admin_call(admin, hyper::Method::GET, path, Duration::from_secs(2)).await
}

async fn admin_call(
    admin: &str,
    method: hyper::Method,
    path: &str,
    timeout: Duration,
) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{admin}{path}"))
        .body(Empty::new())
        .ok()?;
    let resp = tokio::time::timeout(timeout, client.request(req))
        .await
        .ok()?
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    Some(resp.into_body().collect().await.ok()?.to_bytes())
}

/// The running proxy of a stack, if one answers.
pub async fn running(state_dir: &Path, stack: &str) -> Option<LbState> {
    let state = read_state(state_dir, stack)?;
    if !alive(state.pid) {
        return None;
    }
    admin_get(&state.admin, "/health").await?;
    Some(state)
}

pub async fn targets(state: &LbState) -> Option<Vec<TargetReport>> {
    let body = admin_get(&state.admin, "/targets").await?;
    serde_json::from_slice(&body).ok()
}

/// What each target group has answered since the proxy started.
pub async fn stats(state: &LbState) -> Option<crate::alb::stats::Snapshot> {
    let body = admin_get(&state.admin, "/stats").await?;
    serde_json::from_slice(&body).ok()
}

/// What the new targets of each group's rehearsed shift have answered.
pub async fn next_stats(state: &LbState) -> Option<crate::alb::stats::Snapshot> {
    let body = admin_get(&state.admin, "/stats?lane=next").await?;
    serde_json::from_slice(&body).ok()
}

/// Sends `percent` of `group`'s requests to `next` (the containers of a
/// new release; `None` keeps those already named). False when the load
/// balancer did not take it.
pub async fn shift(state: &LbState, group: &str, percent: u8, next: Option<&[String]>) -> bool {
    let next = next
        .map(|ids| format!("&next={}", ids.join(",")))
        .unwrap_or_default();
    admin_call(
        &state.admin,
        hyper::Method::POST,
        &format!("/shift?group={group}&percent={percent}{next}"),
        Duration::from_secs(2),
    )
    .await
    .is_some()
}

/// Ends `group`'s rehearsed shift: its targets are one set again.
pub async fn unshift(state: &LbState, group: &str) {
    let _ = admin_call(
        &state.admin,
        hyper::Method::POST,
        &format!("/unshift?group={group}"),
        Duration::from_secs(2),
    )
    .await;
}

/// Whether every target of container `id` is healthy (and it has one).
pub async fn healthy(state: &LbState, id: &str) -> bool {
    use crate::alb::health::State;
    let Some(report) = targets(state).await else {
        return false;
    };
    let mine: Vec<_> = report.iter().filter(|r| r.id == id).collect();
    !mine.is_empty() && mine.iter().all(|r| r.state == State::Healthy)
}

/// Stops routing to a container and waits for its requests to finish.
pub async fn drain(state: &LbState, container: &str, delay: Duration) {
    let _ = admin_call(
        &state.admin,
        hyper::Method::POST,
        &format!("/drain?container={container}"),
        delay + Duration::from_secs(5),
    )
    .await;
}

/// Tells the load balancer that geno has just started or restarted a
/// container (see `TargetTable::admit`).
pub async fn admit(state: &LbState, container: &str) {
    let _ = admin_call(
        &state.admin,
        hyper::Method::POST,
        &format!("/admit?container={container}"),
        Duration::from_secs(2),
    )
    .await;
}

#[derive(Debug, thiserror::Error)]
pub enum LbError {
    #[error("cannot start the load balancer: {0}")]
    Spawn(std::io::Error),
    #[error("the load balancer did not come up within 15s; its log is {}:\n{}", .log.display(), .tail)]
    NoStart { log: PathBuf, tail: String },
}

/// Starts the proxy unless one with the same configuration already runs.
/// `fast`: its health-check speed, or `None` to keep a running one's.
pub async fn ensure(
    file: &Path,
    state_dir: &Path,
    stack: &Stack,
    fast: Option<bool>,
    verbose: bool,
) -> Result<(LbState, bool), LbError> {
    let Some(lb) = &stack.load_balancer else {
        unreachable!("ensure is only called for stacks with a load balancer")
    };
    let current = running(state_dir, &stack.name).await;
    if let Some(state) = current {
        let keep = match fast {
            Some(fast) => state.config_hash == config_hash(lb, fast, verbose),
            // Any speed will do: only stack.yaml must match.
            None => serves(&state, lb),
        };
        if keep {
            return Ok((state, false));
        }
        stop(state_dir, &stack.name).await;
    }
    let fast = fast.unwrap_or(false);
    let dir = state_dir.join(&stack.name);
    std::fs::create_dir_all(&dir).map_err(LbError::Spawn)?;
    let log = log_path(state_dir, &stack.name);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(LbError::Spawn)?;
    let err = out.try_clone().map_err(LbError::Spawn)?;
    let _ = std::fs::remove_file(state_path(state_dir, &stack.name));
    let exe = std::env::current_exe().map_err(LbError::Spawn)?;
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-f").arg(&file).arg("lb");
    if fast {
        cmd.arg("--fast-health");
    }
    if verbose {
        cmd.arg("-v");
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    // Its own process group: a Ctrl-C meant for `geno up` does not stop it.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(LbError::Spawn)?;
    let pid = child.id();
    // Up when its state file names it and its admin endpoint answers; a
    // process that died will not come up.
    let up = wait::until(
        Poll::every(Duration::from_millis(100)).timeout(Duration::from_secs(15)),
        &CancellationToken::new(),
        async || {
            if let Some(state) = read_state(state_dir, &stack.name)
                && state.pid == pid
                && admin_get(&state.admin, "/health").await.is_some()
            {
                return Look::Ready(state);
            }
            if alive(pid) {
                Look::NotYet
            } else {
                Look::Failed(())
            }
        },
    )
    .await;
    if let Ok(state) = up {
        return Ok((state, true));
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Err(LbError::NoStart {
        log,
        tail: tail
            .into_iter()
            .rev()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// Stops the proxy of a stack (if any) and removes its state file.
pub async fn stop(state_dir: &Path, stack: &str) -> bool {
    let Some(state) = read_state(state_dir, stack) else {
        return false;
    };
    let was_alive = alive(state.pid);
    if was_alive {
        let _ = admin_call(
            &state.admin,
            hyper::Method::POST,
            "/shutdown",
            Duration::from_secs(2),
        )
        .await;
        let gone: Result<(), GaveUp<()>> = wait::until(
            Poll::every(Duration::from_millis(50)).timeout(Duration::from_secs(5)),
            &CancellationToken::new(),
            async || {
                if alive(state.pid) {
                    Look::NotYet
                } else {
                    Look::Ready(())
                }
            },
        )
        .await;
        if gone.is_err() {
            // SAFETY: sending SIGTERM to the pid our own state file names.
            unsafe {
                libc::kill(state.pid as i32, libc::SIGTERM);
            }
        }
    }
    let _ = std::fs::remove_file(state_path(state_dir, stack));
    was_alive
}

/// The URLs of a running load balancer's listeners (`addrs`, in the order
/// of stack.yaml's `listeners`): `https://` for an HTTPS one.
pub fn urls(listeners: &[crate::stack::Listener], addrs: &[String]) -> Vec<String> {
    let schemes = listeners
        .iter()
        .map(|l| l.protocol.scheme())
        .chain(std::iter::repeat("http"));
    addrs
        .iter()
        .zip(schemes)
        .map(|(addr, scheme)| format!("{scheme}://{addr}"))
        .collect()
}

/// TLS with the stack's development certificate, HTTP/1.1 only (what the
/// proxy speaks).
fn acceptor(cert: &crate::state::tls::DevCert) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let unreadable = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        anyhow::anyhow!(
            "cannot read the development certificate {}: {e}; remove {} and run `geno up` to make it again",
            what.display(),
            cert.dir.display()
        )
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert.chain)
        .map_err(|e| unreadable(&cert.chain, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| unreadable(&cert.chain, &e))?;
    let key = PrivateKeyDer::from_pem_file(&cert.key).map_err(|e| unreadable(&cert.key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// `geno lb`: serve until told to stop.
pub async fn serve(
    engine: Engine,
    stack: Stack,
    state_dir: PathBuf,
    fast: bool,
    verbose: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let lb = stack
        .load_balancer
        .clone()
        .ok_or_else(|| anyhow::anyhow!("stack `{}` has no load_balancer section", stack.name))?;
    let table: Shared = Table::shared(TargetTable::new(&lb));
    let peers = Arc::new(lb.listeners.clone());
    let tls = if crate::state::tls::needed(&lb) {
        let cert =
            crate::state::tls::ensure(&state_dir, &stack.name, &crate::state::tls::names_for(&lb))?;
        Some(acceptor(&cert)?)
    } else {
        None
    };
    let mut listeners = Vec::new();
    for l in &lb.listeners {
        let addr = format!("{}:{}", l.bind, l.port);
        let socket = std::net::TcpListener::bind(&addr)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {addr}: {e} (is another stack or program using the port?)"
                )
            })?;
        let (table, listener, idle) = (table.clone(), l.clone(), lb.idle_timeout.0);
        let tls = tls
            .clone()
            .filter(|_| l.protocol == crate::stack::ListenerProtocol::Https);
        let peers = peers.clone();
        server::serve_sharded(
            socket,
            move || {
                let proxy =
                    Proxy::new(table.clone(), listener.clone(), idle).with_peers(peers.clone());
                match &tls {
                    Some(acceptor) => proxy.with_tls(acceptor.clone()),
                    None => proxy,
                }
            },
            shutdown.clone(),
        )?;
        listeners.push(addr);
    }
    let admin_socket = TcpListener::bind("127.0.0.1:0").await?;
    let admin_addr = admin_socket.local_addr()?.to_string();
    tokio::spawn(admin::serve(admin_socket, table.clone(), shutdown.clone()));
    tokio::spawn(discover(
        engine,
        stack.name.clone(),
        lb.clone(),
        table.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(check_health(
        lb.clone(),
        table.clone(),
        fast,
        shutdown.clone(),
    ));

    let state = LbState {
        pid: std::process::id(),
        admin: admin_addr,
        listeners,
        config_hash: config_hash(&lb, fast, verbose),
        log: log_path(&state_dir, &stack.name).display().to_string(),
    };
    let path = state_path(&state_dir, &stack.name);
    std::fs::create_dir_all(path.parent().unwrap_or(&state_dir))?;
    std::fs::write(&path, serde_json::to_string_pretty(&state)?)?;
    tracing::info!(
        "serving {} (admin {})",
        state.listeners.join(", "),
        state.admin
    );

    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = term.recv() => shutdown.cancel(),
        }
    }
    #[cfg(not(unix))]
    shutdown.cancelled().await;
    // Remove the state file only if it is still ours.
    if read_state(&state_dir, &stack.name).is_some_and(|s| s.pid == std::process::id()) {
        let _ = std::fs::remove_file(&path);
    }
    tracing::info!("stopped");
    Ok(())
}

/// Every second: the stack's running service containers become targets of
/// the groups for their service; the rest drain.
async fn discover(
    engine: Engine,
    stack: String,
    lb: LoadBalancer,
    table: Shared,
    shutdown: CancellationToken,
) {
    let network = names::network(&stack);
    let mut heart = wait::every(Duration::from_secs(1), &shutdown);
    while heart.next().await {
        match engine.stack_containers(&stack).await {
            Ok(summaries) => {
                // The address as the listing has it now: a container that
                // restarts in place may come back with another one.
                let running: Vec<(String, String, String, std::net::IpAddr)> = summaries
                    .iter()
                    .filter_map(|c| {
                        let m = crate::docker::Member::from_summary(c);
                        let ip = c
                            .network_settings
                            .as_ref()
                            .and_then(|n| n.networks.as_ref())
                            .and_then(|n| n.get(&network))
                            .and_then(|e| e.ip_address.as_deref())
                            .and_then(|ip| ip.parse().ok())?;
                        (m.running() && m.kind == "service" && m.sidecar.is_none())
                            .then_some((m.id, m.name, m.service, ip))
                    })
                    .collect();
                table.update(|reg| {
                    for (group, spec) in &lb.target_groups {
                        let members: Vec<(String, String, SocketAddr)> = running
                            .iter()
                            .filter(|(_, _, service, _)| *service == spec.service)
                            .map(|(id, name, _, ip)| {
                                (id.clone(), name.clone(), SocketAddr::new(*ip, spec.port))
                            })
                            .collect();
                        reg.sync(group, &members);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot list containers: {e}"),
        }
    }
}

/// Checks each target when it is due: at once when registered, then every
/// interval; results go through the ALB state machine.
async fn check_health(lb: LoadBalancer, table: Shared, fast: bool, shutdown: CancellationToken) {
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let mut next: HashMap<(String, String), Instant> = HashMap::new();
    // Parsed once; validation has already refused a matcher that does not parse.
    let matchers: HashMap<&String, Matcher> = lb
        .target_groups
        .iter()
        .filter_map(|(name, g)| Some((name, Matcher::parse(&g.health_check.matcher).ok()?)))
        .collect();
    let mut heart = wait::every(Duration::from_millis(100), &shutdown);
    while heart.next().await {
        let due: Vec<(String, String, SocketAddr, bool)> = table.schedule(|reg| {
            let now = reg.take_check_now();
            let mut candidates = Vec::new();
            for g in &reg.groups {
                for t in g.targets.iter().filter(|t| t.draining_since.is_none()) {
                    if now.contains(&t.container) || now.contains(&t.name) {
                        next.remove(&(g.name.clone(), t.container.clone()));
                    }
                    candidates.push((
                        g.name.clone(),
                        t.container.clone(),
                        t.name.clone(),
                        t.addr,
                        t.health.state,
                    ));
                }
            }
            candidates
                .into_iter()
                .filter(|(g, c, ..)| {
                    next.get(&(g.clone(), c.clone()))
                        .is_none_or(|at| Instant::now() >= *at)
                })
                .map(|(g, c, name, addr, state)| {
                    let quick = reg.fast(&c, &name, state);
                    (g, c, addr, quick)
                })
                .collect()
        });
        for (group, container, addr, quick) in due {
            let Some(spec) = lb.target_groups.get(&group) else {
                continue;
            };
            let t = timing(&spec.health_check, fast);
            next.insert(
                (group.clone(), container.clone()),
                Instant::now()
                    + if quick {
                        FAST_CHECK.min(t.interval)
                    } else {
                        t.interval
                    },
            );
            let hc = spec.health_check.clone();
            let matcher = matchers.get(&group).cloned();
            let client = client.clone();
            let table = table.clone();
            tokio::spawn(async move {
                let port = hc.port.unwrap_or(addr.port());
                let uri = format!("http://{}:{port}{}", addr.ip(), hc.path);
                let check = match hyper::Request::get(&uri).body(Empty::<Bytes>::new()) {
                    Err(e) => Check::Failed(e.to_string()),
                    Ok(req) => match tokio::time::timeout(t.timeout, client.request(req)).await {
                        Err(_) => Check::Timeout,
                        Ok(Err(e)) => Check::Failed(short_error(&e)),
                        Ok(Ok(resp)) => {
                            let status = resp.status().as_u16();
                            if matcher.is_some_and(|m| m.matches(status)) {
                                Check::Pass
                            } else {
                                Check::Mismatch(status)
                            }
                        }
                    },
                };
                // A just-(re)started target's failures while it starts do
                // not count (see `TargetTable::admit`).
                if quick && check != Check::Pass {
                    return;
                }
                table.update(|t| t.record(&group, &container, &check));
            });
        }
        {
            let reg = table.read();
            next.retain(|(g, c), _| {
                reg.groups
                    .iter()
                    .any(|grp| grp.name == *g && grp.targets.iter().any(|t| t.container == *c))
            });
        }
    }
}

/// The innermost cause: "connection refused" rather than hyper's wrapper text.
fn short_error(e: &hyper_util::client::legacy::Error) -> String {
    crate::error::causes(e).pop().unwrap_or_default()
}
