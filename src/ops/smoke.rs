//! `geno smoke`: the stack's smoke tests through its load balancer (local)
//! or a deployed environment's URL; a verification record when they pass
//! locally.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::local::Local;
use crate::cli::Config;
use crate::proxy::daemon;
use crate::smoke::{self as s, Outcome, Report, StepResult};
use crate::stack::validate::LOCAL_ENV;
use crate::stack::{ExecStep, HttpStep, SmokeStep, TargetsStep, load};

pub struct SmokeOptions {
    pub env: String,
    pub url: Option<String>,
    pub junit: Option<PathBuf>,
}

/// What `geno promote` looks for: this image passed this definition's smoke suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub image_id: String,
    pub definition_hash: String,
    pub stack: String,
    pub environment: String,
    pub passed_at: String,
    pub geno_version: String,
    pub steps: Vec<serde_json::Value>,
}

pub fn record_path(state_dir: &std::path::Path, stack: &str, image_id: &str) -> PathBuf {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    state_dir
        .join(stack)
        .join("verified")
        .join(format!("{hex}.json"))
}

pub fn smoke(config: &Config, opts: SmokeOptions) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    rt.block_on(async {
        let shutdown = crate::shutdown::install("geno smoke");
        let local_run = opts.env == LOCAL_ENV && opts.url.is_none();
        let (stack, local, base, image_id) = if local_run {
            let local = Local::open(config).await?;
            let stack = local.loaded.stack.clone();
            let lb = daemon::running(&local.state_dir(), &stack.name)
                .await
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the load balancer of `{}` is not running; run `geno up` first",
                        stack.name
                    )
                })?;
            let base = format!(
                "http://{}",
                lb.listeners.first().cloned().unwrap_or_default()
            );
            let image = running_image(&local).await?;
            (stack, Some(local), base, image)
        } else {
            let loaded = load(&config.file, &config.load_options(&opts.env))?;
            let url = opts
                .url
                .clone()
                .or_else(|| {
                    loaded
                        .environment()
                        .and_then(|e| e.aws.as_ref())
                        .and_then(|a| a.url.clone())
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no URL for environment `{}`: pass --url or set environments.{}.aws.url",
                        opts.env,
                        opts.env
                    )
                })?;
            (
                loaded.stack,
                None,
                url.trim_end_matches('/').to_string(),
                None,
            )
        };
        if stack.smoke.is_empty() {
            anyhow::bail!(
                "`{}` has no smoke tests (add a `smoke:` list to stack.yaml)",
                stack.name
            );
        }

        let started = Instant::now();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut captures: BTreeMap<String, String> = BTreeMap::new();
        let mut results = Vec::new();
        let mut err = std::io::stderr();
        let _ = writeln!(err, "smoke: {} ({}) through {base}", stack.name, opts.env);
        for step in &stack.smoke {
            if shutdown.is_cancelled() {
                break;
            }
            let result = run_step(
                step,
                &client,
                &base,
                local.as_ref(),
                &mut captures,
                &shutdown,
            )
            .await;
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
            let _ = writeln!(
                err,
                "{mark}  {} ({:.2}s{attempts})",
                step.name, result.seconds
            );
            if let Some(detail) = &result.detail
                && result.outcome != Outcome::Passed
            {
                for line in detail.lines().take(40) {
                    let _ = writeln!(err, "      {line}");
                }
            }
            results.push(result);
        }
        let passed = results.len() == stack.smoke.len()
            && results.iter().all(|r| r.outcome != Outcome::Failed);
        let report = Report {
            stack: stack.name.clone(),
            environment: opts.env.clone(),
            target: base.clone(),
            image_id: image_id.clone(),
            passed,
            seconds: started.elapsed().as_secs_f64(),
            steps: results,
        };
        if let Some(path) = &opts.junit {
            std::fs::write(path, s::junit(&report))?;
        }
        if config.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        let (ok, failed, skipped) =
            report
                .steps
                .iter()
                .fold((0, 0, 0), |(p, f, k), r| match r.outcome {
                    Outcome::Passed => (p + 1, f, k),
                    Outcome::Failed => (p, f + 1, k),
                    Outcome::Skipped => (p, f, k + 1),
                });
        let _ = writeln!(
            err,
            "{ok} passed, {failed} failed, {skipped} skipped in {:.1}s",
            report.seconds
        );
        if passed && let (Some(local), Some(image)) = (&local, &image_id) {
            let record = Verification {
                image_id: image.clone(),
                definition_hash: crate::spec::definition_hash(&stack),
                stack: stack.name.clone(),
                environment: LOCAL_ENV.into(),
                passed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string(),
                geno_version: env!("CARGO_PKG_VERSION").into(),
                steps: report
                    .steps
                    .iter()
                    .map(|r| serde_json::to_value(r).unwrap_or_default())
                    .collect(),
            };
            let path = record_path(&local.state_dir(), &stack.name, image);
            std::fs::create_dir_all(path.parent().unwrap_or(&local.state_dir()))?;
            std::fs::write(&path, serde_json::to_string_pretty(&record)?)?;
            let _ = writeln!(
                err,
                "verified: image {} passed; recorded in {}",
                &image[..19.min(image.len())],
                path.display()
            );
        }
        Ok(if passed { 0 } else { 1 })
    })
}

/// The one image every app container runs; smoke vouches for that image.
async fn running_image(local: &Local) -> anyhow::Result<Option<String>> {
    let stack = &local.loaded.stack;
    let mut images = std::collections::BTreeSet::new();
    for m in local.engine.members(&stack.name).await? {
        let is_app = stack.services.get(&m.service).is_some_and(|s| s.is_app());
        if is_app && m.kind == "service" {
            images.insert(local.engine.inspect(&m.id).await?.image.unwrap_or_default());
        }
    }
    match images.len() {
        0 => Ok(None),
        1 => Ok(images.into_iter().next()),
        _ => anyhow::bail!(
            "the app containers run different images ({}); run `geno up` so they all run the current one",
            images
                .iter()
                .map(|i| &i[..19.min(i.len())])
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

async fn run_step(
    step: &SmokeStep,
    client: &reqwest::Client,
    base: &str,
    local: Option<&Local>,
    captures: &mut BTreeMap<String, String>,
    shutdown: &tokio_util::sync::CancellationToken,
) -> StepResult {
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
    if local.is_none() && step.http.is_none() {
        return finish(
            Outcome::Skipped,
            0,
            Some(format!("{kind} steps run against the local stack only")),
        );
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
    let deadline = step.poll.as_ref().map(|p| started + p.deadline.0);
    let interval = step.poll.as_ref().map(|p| p.interval.0).unwrap_or_default();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = match (&step.http, &step.exec, &step.targets, local) {
            (Some(http), _, _, _) => http_attempt(http, client, base, captures).await,
            (_, Some(exec), _, Some(local)) => exec_attempt(exec, local, captures).await,
            (_, _, Some(t), Some(local)) => targets_attempt(t, local).await,
            _ => Err("nothing to run".into()),
        };
        match outcome {
            Ok(new) => {
                captures.extend(new);
                return finish(Outcome::Passed, attempts, None);
            }
            Err(detail) => {
                let again = deadline.is_some_and(|d| Instant::now() + interval < d)
                    && !shutdown.is_cancelled();
                if !again {
                    let detail = match deadline {
                        Some(_) => format!(
                            "still failing after {:.0}s: {detail}",
                            started.elapsed().as_secs_f64()
                        ),
                        None => detail,
                    };
                    return finish(Outcome::Failed, attempts, Some(detail));
                }
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        }
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
    local: &Local,
    captures: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let id = super::exec::running_container(local, &exec.service, 1)
        .await
        .map_err(|e| e.to_string())?;
    let command: Vec<String> = exec
        .command
        .0
        .iter()
        .map(|a| s::substitute(a, captures))
        .collect();
    let (code, stdout, stderr) = super::exec::capture(local, &id, command.clone())
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
    local: &Local,
) -> Result<BTreeMap<String, String>, String> {
    let stack = &local.loaded.stack.name;
    let lb = daemon::running(&local.state_dir(), stack)
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

fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}
