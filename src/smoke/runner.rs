//! Running a smoke suite: each step in order — HTTP requests through the
//! load balancer (or a deployed environment's URL), commands in the
//! containers (locally through the engine, deployed through ECS Exec), the
//! load balancer's target health (geno's, or the ALB's) — polled per step
//! until it passes or its deadline, with what failed kept for the report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{self as s, Outcome, Report, StepResult};
use crate::deploy::live::exec_blocker;
use crate::environment::deployed::{Deployed, main_container};
use crate::host::LocalStack;
use crate::proxy::daemon;
use crate::shell::Shell;
use crate::stack::{ExecStep, HttpStep, Loaded, SmokeStep, Stack, TargetsStep};
use crate::wait::{self, Check, GaveUp, Poll};

/// Where a suite runs.
pub struct Target<'a> {
    pub stack: &'a Stack,
    pub environment: &'a str,
    /// `http://host:port` the HTTP steps go to: the load balancer, or the
    /// URL given; `None` for a local stack without one.
    pub base: Option<String>,
    /// The URL was given (`--url`): every request goes there, those of
    /// steps that name a service too.
    pub url_only: bool,
    /// What `exec` and `targets` steps act on.
    pub place: Place<'a>,
    /// The images the stack's services run, by build (locally).
    pub images: crate::spec::Images,
}

/// What a suite's `exec` and `targets` steps reach.
pub enum Place<'a> {
    /// The local stack: the engine and geno's load balancer.
    Local(&'a LocalStack),
    /// A deployed environment: ECS Exec and the ALB's target health.
    Deployed(&'a Deployed<'a>),
    /// A URL only: those steps are skipped.
    Url,
}

/// Runs every step, saying PASS/FAIL/SKIP per step as it goes; stops
/// early on Ctrl-C.
pub async fn run_suite(
    target: &Target<'_>,
    cancel: &CancellationToken,
    shell: &Shell,
) -> anyhow::Result<Report> {
    let stack = target.stack;
    let started = Instant::now();
    let mut client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none());
    // Locally, HTTPS listeners serve the stack's development certificate.
    if let Place::Local(local) = &target.place {
        let ca = local
            .state_dir()
            .join(&stack.name)
            .join("tls")
            .join("ca.pem");
        if let Ok(pem) = std::fs::read(&ca) {
            client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
    }
    let client = client.build()?;
    let mut captures: BTreeMap<String, String> = BTreeMap::new();
    let mut results = Vec::new();
    shell.status(format!(
        "smoke: {} ({}) through {}",
        stack.name,
        target.environment,
        target
            .base
            .as_deref()
            .unwrap_or("each service's own port (no load balancer)")
    ));
    for step in &stack.smoke {
        if cancel.is_cancelled() {
            break;
        }
        let result = run_step(step, &client, target, &mut captures, cancel).await;
        say(shell, step, &result);
        results.push(result);
    }
    let passed =
        results.len() == stack.smoke.len() && results.iter().all(|r| r.outcome != Outcome::Failed);
    Ok(Report {
        stack: stack.name.clone(),
        environment: target.environment.to_string(),
        target: target.base.clone().unwrap_or_default(),
        image_id: match target.images.values().collect::<Vec<_>>().as_slice() {
            [one] => Some(one.to_string()),
            _ => None,
        },
        images: target.images.clone(),
        passed,
        seconds: started.elapsed().as_secs_f64(),
        steps: results,
    })
}

fn say(shell: &Shell, step: &SmokeStep, result: &StepResult) {
    let mark = match result.outcome {
        Outcome::Passed => "PASS",
        Outcome::Failed => "FAIL",
        Outcome::Skipped => "SKIP",
    };
    let attempts = if result.attempts > 1 {
        format!(", {} attempts", result.attempts)
    } else {
        String::new()
    };
    shell.status(format!(
        "{mark}  {} ({:.2}s{attempts})",
        step.name, result.seconds
    ));
    if let Some(detail) = &result.detail
        && result.outcome != Outcome::Passed
    {
        for line in detail.lines().take(40) {
            shell.status(format!("      {line}"));
        }
    }
}

/// Where a deployed environment's suite goes: `url`, else the
/// environment's `aws.url`.
pub fn environment_url(loaded: &Loaded, url: Option<&str>) -> anyhow::Result<String> {
    let url = url
        .map(str::to_string)
        .or_else(|| {
            loaded
                .environment()
                .and_then(|e| e.aws.as_ref())
                .and_then(|a| a.url.clone())
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no URL for environment `{}`: pass --url or set environments.{}.aws.url",
                loaded.env,
                loaded.env
            )
        })?;
    Ok(url.trim_end_matches('/').to_string())
}

/// `passed, failed, skipped` counts of a report.
pub fn counts(report: &Report) -> (usize, usize, usize) {
    report
        .steps
        .iter()
        .fold((0, 0, 0), |(p, f, k), r| match r.outcome {
            Outcome::Passed => (p + 1, f, k),
            Outcome::Failed => (p, f + 1, k),
            Outcome::Skipped => (p, f, k + 1),
        })
}

/// The one image every app container runs; smoke vouches for that image.
/// The image each of the stack's builds runs as, by build: what a passing
/// run vouches for. A build only jobs run counts by its job's container.
pub async fn running_images(local: &LocalStack) -> anyhow::Result<crate::spec::Images> {
    let stack = local.stack();
    let mut seen: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    let mut by_jobs: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for m in local.engine.members(&stack.name).await? {
        // Each build, and each external image a deployed service runs.
        let key = match &m.sidecar {
            Some(car) => stack.sidecar_key(&m.service, car),
            None => stack.image_key(&m.service),
        };
        let Some(build) = key else {
            continue;
        };
        let into = match m.kind.as_str() {
            "service" => &mut seen,
            "job" => &mut by_jobs,
            _ => continue,
        };
        let image = local.engine.inspect(&m.id).await?.image.unwrap_or_default();
        into.entry(build.to_string()).or_default().insert(image);
    }
    for (build, ids) in by_jobs {
        seen.entry(build).or_insert(ids);
    }
    let mut images = crate::spec::Images::new();
    for (build, ids) in seen {
        if ids.len() > 1 {
            let whose = if stack.names_builds() {
                format!("the containers of build `{build}`")
            } else {
                "the app containers".to_string()
            };
            anyhow::bail!(
                "{whose} run different images ({}); run `geno up` so they all run the current one",
                ids.iter()
                    .map(|i| &i[..19.min(i.len())])
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        images.extend(ids.into_iter().next().map(|id| (build.to_string(), id)));
    }
    Ok(images)
}

async fn run_step(
    step: &SmokeStep,
    client: &reqwest::Client,
    target: &Target<'_>,
    captures: &mut BTreeMap<String, String>,
    cancel: &CancellationToken,
) -> StepResult {
    let place = &target.place;
    let started = Instant::now();
    let kind = if step.http.is_some() {
        "http"
    } else if step.exec.is_some() {
        "exec"
    } else {
        "targets"
    };
    let finish = |outcome, attempts, detail| StepResult {
        name: step.name.clone(),
        kind,
        outcome,
        seconds: started.elapsed().as_secs_f64(),
        attempts,
        detail,
    };
    if step.http.is_none()
        && let Some(why) = skip_reason(kind, place)
    {
        return finish(Outcome::Skipped, 0, Some(why));
    }
    // A value an earlier step failed to capture: polling cannot help, so
    // fail at once instead of waiting out the step's deadline.
    let text = serde_json::to_string(step).unwrap_or_default();
    let missing = s::unresolved(&text, captures);
    if !missing.is_empty() {
        return finish(
            Outcome::Failed,
            0,
            Some(format!(
                "needs {}, which an earlier step did not capture",
                missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    // One look, or looks every `poll.interval` until `poll.deadline`.
    let poll = match &step.poll {
        Some(p) => Poll::every(p.interval.0).timeout(p.deadline.0),
        None => Poll::every(Duration::ZERO).until(tokio::time::Instant::now()),
    };
    let mut attempts = 0;
    let mut last = String::new();
    let result = wait::until(poll, cancel, async || {
        attempts += 1;
        let outcome = match (&step.http, &step.exec, &step.targets, place) {
            (Some(http), _, _, _) => match base_of(http, target).await {
                Ok(base) => http_attempt(http, client, &base, captures).await,
                Err(why) => Err(why),
            },
            (_, Some(exec), _, Place::Local(local)) => exec_attempt(exec, local, captures).await,
            (_, Some(exec), _, Place::Deployed(d)) => ecs_exec_attempt(exec, d, captures).await,
            (_, _, Some(t), Place::Local(local)) => targets_attempt(t, local).await,
            (_, _, Some(t), Place::Deployed(d)) => alb_targets_attempt(t, d).await,
            _ => Err("nothing to run".into()),
        };
        match outcome {
            Ok(new) => Check::Ready(new),
            Err(detail) => {
                last = detail;
                Check::<_, ()>::NotYet
            }
        }
    })
    .await;
    match result {
        Ok(new) => {
            captures.extend(new);
            finish(Outcome::Passed, attempts, None)
        }
        Err(gave_up) => {
            let detail = match (gave_up, &step.poll) {
                (GaveUp::Interrupted, _) => format!("interrupted: {last}"),
                (_, Some(_)) => format!(
                    "still failing after {:.0}s: {last}",
                    started.elapsed().as_secs_f64()
                ),
                (_, None) => last,
            };
            finish(Outcome::Failed, attempts, Some(detail))
        }
    }
}

/// Where an HTTP step's request goes: the load balancer (or the URL
/// given), or straight to the service it names — its published port here,
/// a running task's address on ECS.
async fn base_of(http: &HttpStep, target: &Target<'_>) -> Result<String, String> {
    let Some(service) = &http.service else {
        return target.base.clone().ok_or_else(|| {
            format!(
                "`{}` has no load balancer: name the service the request goes to (`service:`)",
                target.stack.name
            )
        });
    };
    if target.url_only
        && let Some(base) = &target.base
    {
        return Ok(base.clone());
    }
    let port = http
        .port
        .or_else(|| {
            target
                .stack
                .services
                .get(service)
                .and_then(|s| s.ports.first())
                .map(|p| p.container)
        })
        .ok_or_else(|| format!("service `{service}` has no port to send the request to"))?;
    match &target.place {
        Place::Local(local) => local_address(local, service, port).await,
        Place::Deployed(d) => task_address(d, service, port).await,
        Place::Url => target
            .base
            .clone()
            .ok_or_else(|| "no URL to send the request to".to_string()),
    }
}

/// `http://127.0.0.1:HOST-PORT` when the container port is published,
/// else the container's own address on the stack's network.
async fn local_address(local: &LocalStack, service: &str, port: u16) -> Result<String, String> {
    let members = local
        .engine
        .members(local.name())
        .await
        .map_err(|e| e.to_string())?;
    let Some(member) = members
        .iter()
        .filter(|m| m.service == service && m.kind == "service" && m.state == "running")
        .filter(|m| m.sidecar.is_none())
        .min_by_key(|m| m.replica)
    else {
        return Err(format!(
            "no container of `{service}` is running (`geno up {service}`)"
        ));
    };
    let inspected = local
        .engine
        .inspect(&member.id)
        .await
        .map_err(|e| e.to_string())?;
    let settings = inspected.network_settings.unwrap_or_default();
    let published = settings
        .ports
        .as_ref()
        .and_then(|p| p.get(&format!("{port}/tcp")).cloned().flatten())
        .and_then(|b| b.into_iter().find_map(|b| b.host_port));
    if let Some(host_port) = published {
        return Ok(format!("http://127.0.0.1:{host_port}"));
    }
    settings
        .networks
        .unwrap_or_default()
        .values()
        .find_map(|n| n.ip_address.clone().filter(|ip| !ip.is_empty()))
        .map(|ip| format!("http://{ip}:{port}"))
        .ok_or_else(|| format!("`{}` has no address on the stack's network", member.name))
}

/// A running task's private address on ECS (reachable from inside its
/// VPC; from elsewhere, pass `--url`).
async fn task_address(d: &Deployed<'_>, service: &str, port: u16) -> Result<String, String> {
    let plan = d.service(service).map_err(|e| e.to_string())?;
    let tasks = d
        .aws
        .service_tasks(d.cluster(), &plan.update.service)
        .await
        .map_err(|e| e.to_string())?;
    tasks
        .iter()
        .filter(|t| t.last_status == "RUNNING")
        .find_map(|t| t.address.clone())
        .map(|ip| format!("http://{ip}:{port}"))
        .ok_or_else(|| {
            format!(
                "no running task of {} has an address yet (pass --url to test through another way in)",
                plan.update.service
            )
        })
}

/// Why a step of `kind` cannot run at `place`, if it cannot.
fn skip_reason(kind: &str, place: &Place<'_>) -> Option<String> {
    match (kind, place) {
        (_, Place::Local(_)) => None,
        (_, Place::Url) => Some(format!(
            "{kind} steps need the local stack or a deployed environment's AWS access, not a URL alone"
        )),
        ("exec", Place::Deployed(_)) => crate::environment::exec::plugin().err().map(|_| {
            format!(
                "ECS Exec needs AWS's session-manager-plugin, which is not installed here ({})",
                crate::environment::exec::PLUGIN
            )
        }),
        _ => None,
    }
}

async fn http_attempt(
    http: &HttpStep,
    client: &reqwest::Client,
    base: &str,
    captures: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let url = format!("{base}{}", s::substitute(&http.path, captures));
    let method = reqwest::Method::from_bytes(http.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", http.method))?;
    let mut req = client.request(method.clone(), &url);
    for (k, v) in &http.headers {
        req = req.header(k, s::substitute(v, captures));
    }
    if let Some(host) = &http.host {
        req = req.header(reqwest::header::HOST, s::substitute(host, captures));
    }
    if let Some(body) = &http.json {
        req = req.json(&s::substitute_json(body, captures));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("{method} {url}: {}", crate::error::causes(&e).join(": ")))?;
    let status = resp.status().as_u16();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("{method} {url}: reading the body: {e}"))?;
    s::check_http(&http.expect, status, &body, captures).map_err(|why| {
        format!(
            "{method} {url}: {why}\nresponse {status}: {}",
            clip(&body, 800)
        )
    })?;
    s::capture(&http.capture, &body).map_err(|why| format!("{method} {url}: {why}"))
}

async fn exec_attempt(
    exec: &ExecStep,
    local: &LocalStack,
    captures: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let id = local
        .running_container(&exec.service, 1)
        .await
        .map_err(|e| e.to_string())?;
    let command: Vec<String> = exec
        .command
        .0
        .iter()
        .map(|a| s::substitute(a, captures))
        .collect();
    let (code, stdout, stderr) = local
        .engine
        .exec_capture(&id, command.clone())
        .await
        .map_err(|e| e.to_string())?;
    let shown = || {
        format!(
            "`{}` in {}: exit {code}\nstdout: {}\nstderr: {}",
            command.join(" "),
            exec.service,
            clip(stdout.trim(), 600),
            clip(stderr.trim(), 600)
        )
    };
    if code != exec.expect.exit_code {
        return Err(format!(
            "expected exit code {}; {}",
            exec.expect.exit_code,
            shown()
        ));
    }
    if let Some(needle) = &exec.expect.stdout_contains {
        let needle = s::substitute(needle, captures);
        if !stdout.contains(&needle) {
            return Err(format!("stdout does not contain `{needle}`; {}", shown()));
        }
    }
    Ok(BTreeMap::new())
}

async fn targets_attempt(
    t: &TargetsStep,
    local: &LocalStack,
) -> Result<BTreeMap<String, String>, String> {
    let lb = daemon::running(&local.state_dir(), local.name())
        .await
        .ok_or("the load balancer is not running")?;
    let report = daemon::targets(&lb)
        .await
        .ok_or("the load balancer did not answer")?;
    let group: Vec<_> = report
        .iter()
        .filter(|r| r.target_group == t.target_group)
        .collect();
    if group.is_empty() {
        return Err(format!(
            "target group `{}` has no registered targets",
            t.target_group
        ));
    }
    let wrong: Vec<String> = group
        .iter()
        .filter(|r| r.state.as_str() != t.state)
        .map(|r| {
            format!(
                "{} is {} ({})",
                r.container,
                r.state.as_str(),
                r.reason.as_deref().unwrap_or("-")
            )
        })
        .collect();
    if wrong.is_empty() {
        Ok(BTreeMap::new())
    } else {
        Err(format!(
            "expected every target of `{}` {}: {}",
            t.target_group,
            t.state,
            wrong.join("; ")
        ))
    }
}

/// An `exec` step through ECS Exec, in the first task of the service that
/// can take it. ECS Exec does not carry the command's exit code back, so
/// only a step that expects 0 can pass, on a session that ended well.
async fn ecs_exec_attempt(
    exec: &ExecStep,
    d: &Deployed<'_>,
    captures: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    if exec.expect.exit_code != 0 {
        return Err(format!(
            "expects exit code {}, but ECS Exec does not report a command's exit code",
            exec.expect.exit_code
        ));
    }
    let plan = d.service(&exec.service).map_err(|e| e.to_string())?;
    let container = main_container(&plan.task_definition).to_string();
    let tasks = d
        .aws
        .service_tasks(d.cluster(), &plan.update.service)
        .await
        .map_err(|e| e.to_string())?;
    let task = match tasks.iter().find(|t| exec_blocker(t, &container).is_none()) {
        Some(t) => t,
        None => {
            return Err(match tasks.first() {
                Some(t) => exec_blocker(t, &container).unwrap_or_default(),
                None => format!("{} has no running task", plan.update.service),
            });
        }
    };
    let command: Vec<String> = exec
        .command
        .0
        .iter()
        .map(|a| s::substitute(a, captures))
        .collect();
    let ended =
        crate::environment::exec::exec(d.aws, d.cluster(), task, &container, &command, true)
            .await
            .map_err(|e| e.to_string())?;
    let shown = || {
        format!(
            "`{}` in task {} of {}: session exit {}\nstdout: {}\nstderr: {}",
            command.join(" "),
            crate::deploy::live::short_task(task.id()),
            exec.service,
            ended.code,
            clip(ended.stdout.trim(), 600),
            clip(ended.stderr.trim(), 600)
        )
    };
    if ended.code != 0 {
        return Err(format!("the ECS Exec session failed; {}", shown()));
    }
    if let Some(needle) = &exec.expect.stdout_contains {
        let needle = s::substitute(needle, captures);
        if !ended.stdout.contains(&needle) {
            return Err(format!("stdout does not contain `{needle}`; {}", shown()));
        }
    }
    Ok(BTreeMap::new())
}

/// A `targets` step against the ALB: the target group stack.yaml renders
/// for the step's group, through DescribeTargetHealth.
async fn alb_targets_attempt(
    t: &TargetsStep,
    d: &Deployed<'_>,
) -> Result<BTreeMap<String, String>, String> {
    let stack = &d.env.loaded.stack;
    let aws_name = stack.target_group_name(&t.target_group, d.env.name());
    let group = d
        .plans
        .services
        .iter()
        .flat_map(|p| &p.target_groups)
        .find(|g| g.name == aws_name)
        .ok_or_else(|| {
            format!(
                "target group `{}` is not rendered for `{}`",
                t.target_group,
                d.env.name()
            )
        })?;
    let health = d
        .aws
        .target_health(&group.name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("ALB target group {} does not exist", group.name))?;
    if health.is_empty() {
        return Err(format!(
            "ALB target group {} has no registered targets",
            group.name
        ));
    }
    let wrong: Vec<String> = health
        .iter()
        .filter(|h| h.state != t.state)
        .map(|h| {
            format!(
                "{} is {} ({})",
                h.target,
                h.state,
                h.reason.as_deref().unwrap_or("-")
            )
        })
        .collect();
    if wrong.is_empty() {
        Ok(BTreeMap::new())
    } else {
        Err(format!(
            "expected every target of {} {}: {}",
            group.name,
            t.state,
            wrong.join("; ")
        ))
    }
}

fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}
