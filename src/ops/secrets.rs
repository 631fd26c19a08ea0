//! `geno secrets --env ENV ls|set|rm`: the secrets stack.yaml declares for
//! a deployed environment. `ls` shows where each lives (SSM or Secrets
//! Manager), whether it exists, its type and last change — never a value;
//! `set NAME` reads the value from stdin or a prompt that does not echo and
//! writes it (a SecureString in SSM), under the declared name only; `rm
//! NAME` asks first. Values travel from the terminal to the SDK call and
//! nowhere else: not into arguments, output or records.

use std::io::Read;

use serde::Serialize;

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::deploy::live::{DeclaredSecret, SecretMeta, Store, declared};
use crate::environment::deployed::Deployed;
use crate::error::CliResult;

/// The arguments of `geno secrets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (before or after the action: `geno secrets set --env demo NAME`).
    #[arg(long, global = true)]
    pub env: Option<String>,
    #[command(subcommand)]
    pub action: Action,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        secrets(ctx, self.env.as_deref(), self.action).await
    }
}

/// `geno secrets --env E …`.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Each declared secret: where it lives, whether it exists, its type and last change.
    Ls,
    /// Write a secret's value (from stdin, or a prompt that does not echo).
    Set {
        /// The secret's name in stack.yaml (`DATABASE_URL`).
        name: String,
    },
    /// Remove a secret from SSM or Secrets Manager (asks first).
    Rm {
        name: String,
        /// Do not ask.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    #[serde(flatten)]
    secret: &'a DeclaredSecret,
    exists: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<SecretMeta>,
}

pub async fn secrets(ctx: &Context, env: Option<&str>, action: Action) -> CliResult {
    let Some(env) = env else {
        return Err(anyhow::anyhow!(
            "`geno secrets` acts on a deployed environment: add --env ENV (locally, secrets come from stack.yaml's `local` sources)"
        )
        .into());
    };
    let d = Deployed::open(ctx, env).await?;
    let all = declared(&d.env.loaded.stack, &d.plans);
    match action {
        Action::Ls => ls(ctx, &d, &all).await,
        Action::Set { name } => set(ctx, &d, pick(&d, &all, &name)?).await,
        Action::Rm { name, yes } => rm(ctx, &d, pick(&d, &all, &name)?, yes).await,
    }
}

async fn ls(ctx: &Context, d: &Deployed<'_>, all: &[DeclaredSecret]) -> CliResult {
    let shell = &ctx.shell;
    let mut rows = Vec::new();
    let ssm_ids: Vec<String> = all
        .iter()
        .filter(|s| s.store == Store::Ssm)
        .map(|s| s.id.clone())
        .collect();
    let ssm = d.aws.parameter_meta(&ssm_ids).await?;
    for s in all {
        let meta = match s.store {
            Store::Ssm => ssm.get(&s.id).cloned(),
            Store::SecretsManager => d.aws.secret_meta(&s.id).await?,
        };
        rows.push(Row {
            secret: s,
            exists: meta.is_some(),
            meta,
        });
    }
    if shell.json() {
        shell.print_json(&rows)?;
        return Ok(());
    }
    if rows.is_empty() {
        shell.status(format!(
            "stack.yaml declares no secrets with an `aws` source for `{}`",
            d.env.name()
        ));
        return Ok(());
    }
    let mut t = vec![
        [
            "NAME",
            "STORE",
            "ID",
            "EXISTS",
            "TYPE",
            "LAST CHANGE",
            "USED BY",
        ]
        .map(String::from),
    ];
    for r in &rows {
        let m = r.meta.as_ref();
        t.push([
            r.secret.name.clone(),
            r.secret.store.label().to_string(),
            match &r.secret.json_key {
                Some(k) => format!("{} (key {k})", r.secret.id),
                None => r.secret.id.clone(),
            },
            if r.exists { "yes" } else { "MISSING" }.to_string(),
            m.map(|m| m.kind.clone()).unwrap_or_else(|| "-".into()),
            m.and_then(|m| m.last_changed.clone())
                .unwrap_or_else(|| "-".into()),
            if r.secret.used_by.is_empty() {
                "- (no deployed service)".into()
            } else {
                r.secret.used_by.join(", ")
            },
        ]);
    }
    shell.table(&t)?;
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| !r.exists && !r.secret.used_by.is_empty())
        .map(|r| r.secret.name.as_str())
        .collect();
    if !missing.is_empty() {
        let env = d.env.name();
        shell.warn(match missing.as_slice() {
            [one] => format!(
                "{one} is missing: `geno promote --env {env}` stops at preflight until `geno secrets set --env {env} {one}` writes it"
            ),
            many => format!(
                "{} are missing: `geno promote --env {env}` stops at preflight until `geno secrets set --env {env} NAME` writes each",
                many.join(", ")
            ),
        });
    }
    Ok(())
}

/// The declared secret `name`, or an error that lists the names.
fn pick<'a>(
    d: &Deployed<'_>,
    all: &'a [DeclaredSecret],
    name: &str,
) -> anyhow::Result<&'a DeclaredSecret> {
    if let Some(s) = all.iter().find(|s| s.name == name) {
        return Ok(s);
    }
    if d.env.loaded.stack.secrets.contains_key(name) {
        anyhow::bail!(
            "secret `{name}` has no `aws` source in stack.yaml, so nothing on AWS holds it for `{}`; add `aws: {{ ssm: … }}` to it first",
            d.env.name()
        );
    }
    if let Some(s) = all.iter().find(|s| s.id == name) {
        anyhow::bail!(
            "name the secret as stack.yaml does: `{}` (it lives at {name})",
            s.name
        );
    }
    let known: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    let hint = crate::stack::de::did_you_mean(name, &known)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    anyhow::bail!(
        "stack.yaml declares no secret `{name}`{hint}; geno writes only declared secrets, which for `{}` are: {}",
        d.env.name(),
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )
}

fn place(s: &DeclaredSecret) -> String {
    format!(
        "{} {}",
        match s.store {
            Store::Ssm => "SSM parameter",
            Store::SecretsManager => "Secrets Manager secret",
        },
        s.id
    )
}

async fn set(ctx: &Context, d: &Deployed<'_>, s: &DeclaredSecret) -> CliResult {
    if let Some(key) = &s.json_key {
        return Err(anyhow::anyhow!(
            "`{}` reads key `{key}` of {}; geno writes whole values only, so set that secret's JSON with the AWS console or `aws secretsmanager put-secret-value --secret-id {} --secret-string file://FILE`",
            s.name,
            place(s),
            s.id
        )
        .into());
    }
    let value = read_value(ctx, s)?;
    match s.store {
        Store::Ssm => {
            let version = d.aws.put_parameter(&s.id, &value).await?;
            ctx.shell.status(format!(
                "set {}: {} (SecureString, version {version})",
                s.name,
                place(s)
            ));
        }
        Store::SecretsManager => {
            d.aws.put_secret(&s.id, &value).await?;
            ctx.shell.status(format!("set {}: {}", s.name, place(s)));
        }
    }
    // Only ECS services restart; a job reads the value at its next run.
    let services: Vec<&str> = s
        .used_by
        .iter()
        .filter(|u| d.plans.services.iter().any(|p| &p.name == *u))
        .map(String::as_str)
        .collect();
    if !services.is_empty() {
        ctx.shell.note(format!(
            "running tasks keep the value they started with: `geno restart --env {} {}` starts new tasks, which read this one",
            d.env.name(),
            services.join(" ")
        ));
    }
    Ok(())
}

/// The value from a prompt that does not echo, or all of stdin (one
/// trailing newline dropped: `echo value |`).
fn read_value(ctx: &Context, s: &DeclaredSecret) -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("value for {} ({}): ", s.name, place(s)))
            .map_err(|e| anyhow::anyhow!("cannot read the value from the terminal: {e}"))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| anyhow::anyhow!("cannot read the value from stdin: {e}"))?;
        if let Some(t) = text.strip_suffix('\n') {
            text = t.strip_suffix('\r').unwrap_or(t).to_string();
        }
        text
    };
    if value.is_empty() {
        anyhow::bail!("the value for {} is empty; nothing was written", s.name);
    }
    ctx.shell
        .verbose_status(format!("read {} bytes for {}", value.len(), s.name));
    Ok(value)
}

async fn rm(ctx: &Context, d: &Deployed<'_>, s: &DeclaredSecret, yes: bool) -> CliResult {
    let exists = match s.store {
        Store::Ssm => d
            .aws
            .parameter_meta(std::slice::from_ref(&s.id))
            .await?
            .contains_key(&s.id),
        Store::SecretsManager => d.aws.secret_meta(&s.id).await?.is_some(),
    };
    if !exists {
        return Err(anyhow::anyhow!("{} does not exist; nothing was removed", place(s)).into());
    }
    let users = if s.used_by.is_empty() {
        String::new()
    } else {
        format!(
            "; new tasks of {} will fail to start without it",
            s.used_by.join(", ")
        )
    };
    if !yes {
        if !ctx.shell.interactive() {
            return Err(anyhow::anyhow!(
                "not removing {} without a confirmation: run it in a terminal, or pass --yes",
                place(s)
            )
            .into());
        }
        let question = format!(
            "remove {} ({} of `{}`){users}? [y/N] ",
            place(s),
            s.name,
            d.env.name()
        );
        if !confirm(&question)? {
            ctx.shell.status("nothing was removed");
            return Ok(());
        }
    }
    match s.store {
        Store::Ssm => d.aws.delete_parameter(&s.id).await?,
        Store::SecretsManager => d.aws.delete_secret(&s.id).await?,
    }
    ctx.shell.status(format!(
        "removed {}{}",
        place(s),
        if s.store == Store::SecretsManager {
            " (Secrets Manager keeps it restorable for its recovery window)"
        } else {
            ""
        }
    ));
    Ok(())
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
