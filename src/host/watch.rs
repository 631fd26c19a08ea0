//! The edit loop (`geno up --watch`, `geno watch`): file events from the
//! rules' paths, batched until the tree is quiet, planned by
//! `local::watch`, then carried out service by service — files copied into
//! every replica, then a restart in place (one replica at a time, drained
//! by the load balancer), an exec, or a rebuild of the image that
//! replaces the services running it. One line per batch; a failure shows
//! its last log lines and the loop goes on. Ctrl-C ends the loop and
//! leaves the stack running.
//!
//! The phases of one batch, each a function below:
//! 1. `changes`: the batch's paths, each a file that exists or is gone
//!    (a new directory stands for the files in it);
//! 2. `local::watch::plan`: the work per service, or a rebuild;
//! 3. `rebuild`: the image built again, the services on it replaced;
//! 4. `carry_out`: per service, sync then restart or exec.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::LocalStack;
use super::converge::{Wait, converge, load_balancer};
use super::sync::{Files, Synced};
use super::up::{plan_changes, prepare};
use crate::context::Context;
use crate::docker::Member;
use crate::error::{CliError, CliResult};
use crate::local::reconcile::Reconcile;
use crate::local::watch::{Change, Debounce, ServiceWork, Then, WatchPlan, plan};
use crate::stack::develop::WatchSet;
use futures_util::future::join_all;

/// An editor's burst of events (write, rename, chmod) and a save-all of
/// many files settle within this; short enough not to be felt.
pub const QUIET: Duration = Duration::from_millis(60);
/// A tree that never goes quiet (a checkout) is acted on after this.
pub const AT_MOST: Duration = Duration::from_secs(2);
/// How long one restart, exec or rebuild may take before the loop says so
/// and goes on.
const PER_CHANGE: Duration = Duration::from_secs(300);
/// New directories are walked for their files up to this many.
const WALK_AT_MOST: usize = 10_000;

/// Watches until Ctrl-C. `Err` only when watching cannot begin.
pub async fn run(ctx: &Context, local: &LocalStack) -> CliResult {
    let rules = WatchSet::new(local.stack(), &local.dir());
    if rules.is_empty() {
        return Err(anyhow::anyhow!(
            "no service of `{}` has watch rules; add `develop: {{ watch: [{{ path: src, action: sync+restart, target: /app/src }}] }}` to one in {}",
            local.name(),
            local.loaded.source.display
        )
        .into());
    }
    let paths = crate::stack::develop::check_paths(local.stack(), &local.dir());
    if !paths.is_empty() {
        return Err(anyhow::Error::from(local.loaded.invalid(paths)).into());
    }
    check_targets(local).await?;
    let dir = std::path::absolute(local.dir()).unwrap_or_else(|_| local.dir());
    let (tx, mut events) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && !matches!(event.kind, EventKind::Access(_))
        {
            for p in event.paths {
                let _ = tx.send(p);
            }
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot watch files: {e}"))?;
    for rel in rules.paths() {
        let path = dir.join(&rel);
        // A file is watched through its folder: editors replace files by
        // renaming over them, which ends a watch on the file itself.
        let (at, mode) = if path.is_dir() {
            (path.clone(), RecursiveMode::Recursive)
        } else {
            (
                path.parent().unwrap_or(&dir).to_path_buf(),
                RecursiveMode::NonRecursive,
            )
        };
        watcher.watch(&at, mode).map_err(|e| {
            anyhow::anyhow!(
                "cannot watch {}: {e}{}",
                at.display(),
                if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) {
                    " (raise fs.inotify.max_user_watches)"
                } else {
                    ""
                }
            )
        })?;
    }
    // The files under the rules' paths as they are now: a deletion of a
    // file never seen here (an editor's temporary file, made and gone in
    // one burst) is nothing to remove in the containers.
    let mut known: HashSet<String> = HashSet::new();
    for rel in rules.paths() {
        let at = dir.join(&rel);
        let mut found = Vec::new();
        if at.is_dir() {
            walk(&dir, &at, &mut found);
        } else {
            found.push(Change {
                rel: rel.clone(),
                deleted: false,
            });
        }
        known.extend(found.into_iter().map(|c| c.rel));
    }
    initial_sync(ctx, local, &rules, &dir).await;
    ctx.shell.status(format!(
        "watching {} for {} (Ctrl-C stops watching; the stack keeps running)",
        rules.paths().join(", "),
        services_with_rules(local).join(", ")
    ));

    let epoch = Instant::now();
    let mut debounce = Debounce::new(QUIET, AT_MOST);
    let mut first_event: Option<Instant> = None;
    loop {
        let due = debounce.due_at().map(|d| epoch + d);
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            got = events.recv() => match got {
                Some(path) => {
                    if let Ok(rel) = path.strip_prefix(&dir) {
                        first_event.get_or_insert_with(Instant::now);
                        debounce.push(rel.to_string_lossy().into_owned(), epoch.elapsed());
                    }
                }
                None => break,
            },
            _ = sleep_until(due) => {
                let Some(paths) = debounce.take_if_due(epoch.elapsed()) else { continue };
                let since = first_event.take().unwrap_or_else(Instant::now);
                let mut changes = changes(&dir, &paths);
                changes.retain(|c| !c.deleted || known.contains(&c.rel));
                for c in &changes {
                    if c.deleted {
                        known.remove(&c.rel);
                    } else {
                        known.insert(c.rel.clone());
                    }
                }
                let work = plan(local.stack(), &rules, &changes);
                for rel in &work.unmatched {
                    ctx.shell.verbose_status(format!("{rel}: no watch rule (or ignored)"));
                }
                if work.is_empty() {
                    continue;
                }
                batch(ctx, local, &work, since).await;
                if ctx.cancel.is_cancelled() {
                    break;
                }
            }
        }
    }
    drop(watcher);
    ctx.shell
        .status("stopped watching; the stack keeps running (`geno down` stops it)");
    Ok(())
}

/// Every sync rule's `target` lies in the working directory of the
/// service's containers (the image's WORKDIR): the code the process runs,
/// not some other corner of the image. Known only once a container
/// exists, so checked here rather than by `validate`.
async fn check_targets(local: &LocalStack) -> CliResult {
    use crate::stack::diag::{At, Problem};
    let mut problems = Vec::new();
    for (name, svc) in &local.stack().services {
        let rules: Vec<(usize, &String)> = svc
            .develop
            .watch
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.target
                    .as_ref()
                    .filter(|_| r.action.syncs())
                    .map(|t| (i, t))
            })
            .collect();
        let Some(first) = local
            .containers(std::slice::from_ref(name))
            .await?
            .into_iter()
            .next()
        else {
            continue;
        };
        if rules.is_empty() {
            continue;
        }
        let inspect = local
            .engine
            .inspect(&first.id)
            .await
            .map_err(anyhow::Error::from)?;
        let workdir = inspect
            .config
            .and_then(|c| c.working_dir)
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        for (i, target) in rules {
            if crate::stack::develop::below(
                &crate::stack::develop::clean(target),
                &crate::stack::develop::clean(&workdir),
            )
            .is_none()
            {
                problems.push(
                    Problem::new(
                        crate::path!["services", name, "develop", "watch", i, "target"],
                        At::Value,
                        format!(
                            "`{target}` is outside the working directory of `{name}`'s containers (`{workdir}`, the image's WORKDIR)"
                        ),
                    )
                    .help("sync into the tree the process runs from, e.g. a folder under the working directory"),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(anyhow::Error::from(local.loaded.invalid(problems)).into())
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn services_with_rules(local: &LocalStack) -> Vec<String> {
    local
        .stack()
        .services
        .iter()
        .filter(|(_, s)| !s.develop.watch.is_empty())
        .map(|(n, _)| n.clone())
        .collect()
}

/// Phase 1: each path a file that exists or is gone; a directory that
/// exists stands for the files in it (a folder moved in, or made with
/// files faster than its own watch was set).
pub fn changes(dir: &Path, paths: &[String]) -> Vec<Change> {
    let mut out = Vec::new();
    for rel in paths {
        let full = dir.join(rel);
        match std::fs::metadata(&full) {
            Err(_) => out.push(Change {
                rel: rel.clone(),
                deleted: true,
            }),
            Ok(m) if m.is_dir() => walk(dir, &full, &mut out),
            Ok(_) => out.push(Change {
                rel: rel.clone(),
                deleted: false,
            }),
        }
    }
    out.dedup();
    out
}

fn walk(dir: &Path, at: &Path, out: &mut Vec<Change>) {
    let Ok(entries) = std::fs::read_dir(at) else {
        return;
    };
    for e in entries.flatten() {
        if out.len() >= WALK_AT_MOST {
            return;
        }
        let path = e.path();
        if path.is_dir() {
            walk(dir, &path, out);
        } else if let Ok(rel) = path.strip_prefix(dir) {
            out.push(Change {
                rel: rel.to_string_lossy().into_owned(),
                deleted: false,
            });
        }
    }
}

/// Rules with `initial_sync`: every file under their path is copied when
/// watching begins (a stack started before the latest edits), then the
/// rule's action runs.
async fn initial_sync(ctx: &Context, local: &LocalStack, rules: &WatchSet, dir: &Path) {
    for w in rules.rules.iter().filter(|w| w.rule.initial_sync) {
        let mut files = Vec::new();
        let root = dir.join(crate::stack::develop::clean(&w.rule.path));
        if root.is_dir() {
            walk(dir, &root, &mut files);
        } else if root.exists() {
            files.push(Change {
                rel: crate::stack::develop::clean(&w.rule.path),
                deleted: false,
            });
        }
        let mut work = plan(local.stack(), rules, &files);
        work.rebuild.clear();
        work.services.retain(|s| s.service == w.service);
        if !work.services.is_empty() {
            batch(ctx, local, &work, Instant::now()).await;
        }
    }
}

/// One batch, under the stack's lock (another geno's `up` or `restart`
/// waits for it, and it for them). Says one line per service.
async fn batch(ctx: &Context, local: &LocalStack, work: &WatchPlan, since: Instant) {
    // `-v` traces each step from the first event of the batch (the
    // quiet period included), to show where a change's time goes.
    tracing::info!(after = ?since.elapsed(), "batch: the tree is quiet");
    let lock = match local.lock(ctx, "watch", false).await {
        Ok(l) => l,
        Err(e) => {
            ctx.shell.warn(format!("cannot act on the change: {e}"));
            return;
        }
    };
    tracing::info!(after = ?since.elapsed(), "batch: locked");
    for (build, files) in &work.rebuild {
        match rebuild(ctx, local, build, files, since).await {
            Ok(line) => ctx.shell.status(line),
            Err(e) => report(ctx, &format!("{}: rebuild failed", files_word(files)), e),
        }
    }
    // Files first: read, recorded once for the batch, then copied into
    // every service's containers at once; each service acts as soon as
    // its own files are in (the api's restart does not wait for the
    // workers' copies, nor a worker for the api's restart).
    let members = match local.engine.members(local.name()).await {
        Ok(m) => m,
        Err(e) => {
            ctx.shell.warn(format!("cannot act on the change: {e}"));
            return;
        }
    };
    let mut prepared = Vec::new();
    for w in &work.services {
        let head = format!("{} → {}", files_word(&w.files()), w.service);
        match Files::read(local, w) {
            Ok(files) => prepared.push((w, head, replicas(&members, &w.service), files)),
            Err(e) => report(ctx, &head, e.into()),
        }
    }
    let batch: Vec<(&[Member], &Files)> = prepared
        .iter()
        .map(|(_, _, containers, files)| (containers.as_slice(), files))
        .collect();
    if let Err(e) = super::sync::record(local, &members, &batch) {
        ctx.shell.warn(format!(
            "cannot act on the change: the record of synced files: {e:#}"
        ));
        return;
    }
    join_all(
        prepared
            .into_iter()
            .map(|(w, head, containers, files)| async move {
                let copied = match containers.is_empty() {
                    true => Ok(None),
                    false => super::sync::put(local, &containers, &files).await.map(Some),
                };
                tracing::info!(after = ?since.elapsed(), service = %w.service, "batch: copied");
                let result = match copied {
                    Ok(synced) => act(ctx, local, w, Copied { containers, synced }, since).await,
                    Err(e) => Err(e.into()),
                };
                tracing::info!(after = ?since.elapsed(), service = %w.service, "batch: done");
                match result {
                    Ok(line) => ctx.shell.status(format!("{head}: {line}")),
                    Err(e) => report(ctx, &head, e),
                }
            }),
    )
    .await;
    drop(lock);
}

/// A failure is said and the loop goes on; the error carries the
/// container's last log lines where a service failed.
fn report(ctx: &Context, head: &str, e: CliError) {
    match e.error {
        Some(err) => ctx.shell.warn(format!("{head}: {err:#}")),
        None => ctx.shell.warn(format!("{head}: stopped")),
    }
}

/// `a.py` / `a.py, b.py` / `a.py and 4 more`.
fn files_word(files: &[String]) -> String {
    match files {
        [] => "nothing".into(),
        [one] => one.clone(),
        [a, b] => format!("{a}, {b}"),
        [a, rest @ ..] => format!("{a} and {} more", rest.len()),
    }
}

/// Phase 3: one build's image made from the tree as it is now, and every
/// service that runs it replaced (the others are not touched).
async fn rebuild(
    ctx: &Context,
    local: &LocalStack,
    build: &str,
    files: &[String],
    since: Instant,
) -> CliResult<String> {
    let _quiet = ctx.shell.hushed();
    let stack = local.stack();
    let app: Vec<String> = stack
        .services
        .keys()
        .filter(|n| stack.build_of(n) == Some(build))
        .cloned()
        .collect();
    let desired = prepare(ctx, local, &app).await?;
    let actions = plan_changes(ctx, local, &desired, false).await?;
    let mut reconcile = Reconcile::only(local.stack(), &app, actions);
    let wait = Wait::from_now(PER_CHANGE);
    converge(ctx, local, &mut reconcile, "geno watch", wait).await?;
    let replaced: Vec<String> = reconcile
        .services
        .iter()
        .filter(|s| s.changed)
        .map(|s| s.name.clone())
        .collect();
    if local.stack().load_balancer.is_some() {
        load_balancer(ctx, local, None, &app, wait.deadline).await?;
    }
    let which = if stack.names_builds() {
        format!("build `{build}`")
    } else {
        "the image".to_string()
    };
    Ok(format!(
        "{}: rebuilt {which}; {}; ready {:.1}s after the change",
        files_word(files),
        if replaced.is_empty() {
            "nothing to replace (the image came out the same)".to_string()
        } else {
            format!("replaced {}", replaced.join(", "))
        },
        since.elapsed().as_secs_f64()
    ))
}

/// Phase 4a: the containers a service's files go into, every replica
/// (running or not) and its task's sidecars, in the order they restart.
fn replicas(members: &[Member], service: &str) -> Vec<Member> {
    let mut found: Vec<Member> = members
        .iter()
        .filter(|m| m.kind == "service" && m.service == service)
        .cloned()
        .collect();
    found.sort_by_key(|m| (m.replica, m.sidecar.is_some()));
    found
}

/// What phase 4a did: the service's containers, and the files it copied
/// and removed (`None`: there was no container).
struct Copied {
    containers: Vec<Member>,
    synced: Option<Synced>,
}

/// Phase 4b: the rule's action in the service's running containers; the
/// line that says what was done.
async fn act(
    ctx: &Context,
    local: &LocalStack,
    w: &ServiceWork,
    copied: Copied,
    since: Instant,
) -> CliResult<String> {
    let Some(synced) = copied.synced else {
        return Ok(format!("no container (`geno up {}` creates it)", w.service));
    };
    let mut done = Vec::new();
    if synced.copied > 0 {
        done.push(format!(
            "synced {} file{}",
            synced.copied,
            plural(synced.copied)
        ));
    }
    if synced.deleted > 0 {
        done.push(format!("deleted {}", synced.deleted));
    }
    // Running, or crash-looping after an earlier edit broke it (the engine
    // restarts it with a growing back-off; the fix should not wait for
    // that). A container stopped with `geno stop` stays stopped.
    let running: Vec<Member> = copied
        .containers
        .into_iter()
        .filter(|c| c.running() || c.state == "restarting")
        .collect();
    match &w.then {
        Then::Nothing => {}
        Then::Restart if running.is_empty() => done.push("not running, so not restarted".into()),
        Then::Restart => {
            let _quiet = ctx.shell.hushed();
            let how = super::restart::in_place(
                ctx,
                local,
                &running,
                "geno watch",
                Wait::from_now(PER_CHANGE),
                super::restart::By::Watch,
            )
            .await?;
            let names: Vec<String> = running
                .iter()
                .map(|c| match how.iter().find(|(name, _)| name == &c.name) {
                    Some((_, how)) => format!("{} ({})", c.name, how.words()),
                    None => c.name.clone(),
                })
                .collect();
            done.push(format!("restarted {}", names.join(", ")));
        }
        Then::Exec(command) => {
            for c in &running {
                let (code, out, err) = local
                    .engine
                    .exec_capture(&c.id, command.clone())
                    .await
                    .map_err(anyhow::Error::from)?;
                if code != 0 {
                    let tail: Vec<&str> = out.lines().chain(err.lines()).rev().take(10).collect();
                    return Err(anyhow::anyhow!(
                        "`{}` exited with {code} in {}{}",
                        command.join(" "),
                        c.name,
                        tail.iter()
                            .rev()
                            .map(|l| format!("\n  | {l}"))
                            .collect::<String>()
                    )
                    .into());
                }
            }
            done.push(format!("ran `{}` in {}", command.join(" "), running.len()));
        }
    }
    Ok(format!(
        "{}; ready {:.1}s after the change",
        done.join(", "),
        since.elapsed().as_secs_f64()
    ))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
