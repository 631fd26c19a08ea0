//! `geno init --from-ecs --env E --cluster C [--service S…]`: a stack.yaml
//! read from live ECS services, their task definitions and target groups.
//!
//! 1. which services: those named, or every service of the cluster;
//! 2. `Aws::live_services`: settings, task definitions, target groups;
//! 3. `import::ecs::convert`, written (never over a file without --force);
//! 4. what stack.yaml cannot say as it is, listed; the result validated.

use std::path::PathBuf;

use crate::context::Context;
use crate::error::CliResult;
use crate::import::ecs::{LiveEnvironment, convert};

pub struct FromEcsOptions {
    pub env: String,
    pub cluster: String,
    pub services: Vec<String>,
    pub region: Option<String>,
    pub stack: Option<String>,
    pub out: PathBuf,
    pub force: bool,
}

pub async fn from_ecs(ctx: &Context, opts: FromEcsOptions) -> CliResult {
    let shell = &ctx.shell;
    if opts.out.exists() && !opts.force {
        return Err(anyhow::anyhow!(
            "{} exists; nothing was written (pass --force to replace it, or --out PATH and merge by hand)",
            opts.out.display()
        )
        .into());
    }
    let region = opts
        .region
        .clone()
        .or_else(|| ctx.settings.vars.get("AWS_REGION").cloned())
        .or_else(|| ctx.settings.vars.get("AWS_DEFAULT_REGION").cloned())
        .ok_or_else(|| anyhow::anyhow!("which region? pass --region or set AWS_REGION"))?;
    let aws = ctx.aws(&region).await;
    let identity = aws.identity().await?;
    let names = if opts.services.is_empty() {
        aws.cluster_services(&opts.cluster).await?
    } else {
        opts.services.clone()
    };
    if names.is_empty() {
        return Err(anyhow::anyhow!(
            "cluster {} in {region} has no services to read",
            opts.cluster
        )
        .into());
    }
    let (services, missing) = aws.live_services(&opts.cluster, &names).await?;
    if !missing.is_empty() {
        return Err(anyhow::anyhow!(
            "not in cluster {}: {}; nothing was written",
            opts.cluster,
            missing.join(", ")
        )
        .into());
    }
    let live = LiveEnvironment {
        env: opts.env.clone(),
        region,
        account_id: identity.account,
        cluster: opts.cluster.clone(),
        services,
    };
    let converted = convert(&live, opts.stack.as_deref());
    let tmp = opts.out.with_extension("yaml.tmp");
    std::fs::write(&tmp, &converted.text)
        .and_then(|()| std::fs::rename(&tmp, &opts.out))
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", opts.out.display()))?;
    for n in &converted.notes {
        shell.warn(format!("not as it is: {}: {}", n.what, n.why));
    }
    match crate::stack::validate_all(&opts.out, &ctx.settings.load_options("local")) {
        Ok(_) => {
            shell.status(format!(
                "wrote {}: stack `{}`, {} service{} of {}; `geno diff --env {} --image sha256:<the running digest>` compares it with what runs",
                opts.out.display(),
                converted.stack_name,
                live.services.len(),
                if live.services.len() == 1 { "" } else { "s" },
                opts.cluster,
                opts.env
            ));
            Ok(())
        }
        Err(e) => Err(anyhow::Error::from(e)
            .context(format!(
                "wrote {}, but it does not pass `geno validate` yet",
                opts.out.display()
            ))
            .into()),
    }
}
