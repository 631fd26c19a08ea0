//! `geno init --from-compose FILE [--out PATH]`: a stack.yaml written from
//! a compose file, what could not be carried listed with the compose
//! file's line and why, and the result checked as `geno validate` would.
//!
//! 1. read the compose file and the `env_file`s it names;
//! 2. `import::compose::convert`;
//! 3. write the result (never over an existing file without `--force`);
//! 4. list what was not carried, then validate the result.
//!
//! `--from-ecs` reads live services instead (`ecs`).

pub mod ecs;

use std::path::{Path, PathBuf};

use super::{OnInterrupt, Verb};
use crate::context::Context;
use crate::error::CliResult;
use crate::import::compose::convert;

/// The arguments of `geno init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The compose file to convert.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "from_ecs",
        conflicts_with = "from_ecs"
    )]
    pub from_compose: Option<PathBuf>,
    /// Read the live ECS services of an environment instead (with --env and --cluster).
    #[arg(long, requires_all = ["env", "cluster"])]
    pub from_ecs: bool,
    /// With --from-ecs: the environment's name in stack.yaml.
    #[arg(long)]
    pub env: Option<String>,
    /// With --from-ecs: the ECS cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// With --from-ecs: the services to read (default: every service of the cluster).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// With --from-ecs: the region (default: AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,
    /// With --from-ecs: the stack's name (default: from the task definition families).
    #[arg(long = "stack", value_name = "NAME")]
    pub stack_name: Option<String>,
    /// Where to write (default: stack.yaml beside the compose file).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

impl Verb for Args {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        match self.from_compose {
            Some(from_compose) => {
                let opts = InitOptions {
                    from_compose,
                    out: self.out,
                    force: self.force,
                };
                init(ctx, opts).await
            }
            None => {
                let opts = ecs::FromEcsOptions {
                    env: self.env.unwrap_or_default(),
                    cluster: self.cluster.unwrap_or_default(),
                    services: self.services,
                    region: self.region,
                    stack: self.stack_name,
                    out: self.out.unwrap_or_else(|| PathBuf::from("stack.yaml")),
                    force: self.force,
                };
                ecs::from_ecs(ctx, opts).await
            }
        }
    }
}

pub struct InitOptions {
    pub from_compose: PathBuf,
    pub out: Option<PathBuf>,
    pub force: bool,
}

pub async fn init(ctx: &Context, opts: InitOptions) -> CliResult {
    let shell = &ctx.shell;
    let compose = &opts.from_compose;
    let text = std::fs::read_to_string(compose)
        .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", compose.display()))?;
    let parent = compose.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = parent
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let out = opts.out.clone().unwrap_or_else(|| match parent {
        Some(p) => p.join("stack.yaml"),
        None => PathBuf::from("stack.yaml"),
    });
    if out.exists() && !opts.force {
        return Err(anyhow::anyhow!(
            "{} exists; nothing was written (pass --force to replace it, or --out PATH)",
            out.display()
        )
        .into());
    }
    if !same_dir(&dir, out.parent().unwrap_or(Path::new("."))) {
        return Err(anyhow::anyhow!(
            "--out must be in the compose file's directory ({}), where the paths it names are relative to",
            dir.display()
        )
        .into());
    }
    let name = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into());
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).ok();
    let file = compose.display().to_string();
    let converted = convert(&text, &file, &name, &read).map_err(|e| {
        anyhow::anyhow!(
            "{}:{}:{}: {} (not a YAML document; nothing was written)",
            file,
            e.span.line,
            e.span.col,
            e.message
        )
    })?;
    // Inline Dockerfiles first: stack.yaml names them.
    for (rel, text) in &converted.files {
        let path = dir.join(rel);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == *text => continue,
            Ok(_) if !opts.force => {
                return Err(anyhow::anyhow!(
                    "{} exists with other content; nothing was written (it would hold the compose file's inline Dockerfile: pass --force to replace it)",
                    path.display()
                )
                .into());
            }
            _ => {}
        }
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        shell.status(format!(
            "wrote {}: the compose file's dockerfile_inline",
            path.display()
        ));
    }
    let tmp = out.with_extension("yaml.tmp");
    std::fs::write(&tmp, &converted.text)
        .and_then(|()| std::fs::rename(&tmp, &out))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    for u in &converted.unmapped {
        shell.warn(format!(
            "not carried: {file}:{}:{}: {}: {}",
            u.line, u.col, u.path, u.why
        ));
    }
    match crate::stack::validate_all(&out, &ctx.settings.load_options("local")) {
        Ok(loaded) => {
            let stack = &loaded[0].stack;
            let on_image = stack.services.values().filter(|s| s.is_app()).count();
            let built = match stack.builds.len() {
                0 | 1 => format!("{on_image} on the stack image"),
                n => format!("{on_image} on the stack's {n} builds"),
            };
            shell.status(format!(
                "wrote {}: {} service{} ({built}), {} item{} not carried{}; it passes `geno validate`",
                out.display(),
                stack.services.len(),
                if stack.services.len() == 1 { "" } else { "s" },
                converted.unmapped.len(),
                if converted.unmapped.len() == 1 { "" } else { "s" },
                if converted.unmapped.is_empty() { "" } else { " (listed above)" }
            ));
            Ok(())
        }
        Err(e) => {
            // Said first and on its own: the located errors that follow are
            // reported as they are, and would hide a context.
            shell.warn(format!(
                "wrote {}, but it does not pass `geno validate` yet; fix what is listed below, then run `geno validate`",
                out.display()
            ));
            Err(anyhow::Error::from(e).into())
        }
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let b = if b.as_os_str().is_empty() {
        Path::new(".")
    } else {
        b
    };
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
