//! The stack's images, one per build: each built from its context, or
//! found when an image with the same context digest exists; `up` and
//! `run` both use them, so both run exactly the images the contexts give.

use std::time::Instant;

use super::LocalStack;
use crate::docker::build::{self, short_id};
use crate::local::images::{KEEP_VERIFIED, Keep, describe, to_remove};
use crate::shell::Shell;

/// Builds a stack may keep before `geno up` removes the old ones
/// (`GENO_KEEP_BUILDS` changes it).
pub const KEEP_BUILDS: usize = 10;

/// Removes the stack's old builds: all of them (`geno down --rmi`), or
/// only once there are more than `over` (after a build). Kept: what the
/// stack's containers run, `current`, the last verified images and every
/// promoted one. Says what was freed.
pub async fn prune(
    local_name: &str,
    engine: &crate::docker::Engine,
    state_dir: &std::path::Path,
    current: &[String],
    over: Option<usize>,
    shell: &Shell,
) -> anyhow::Result<usize> {
    let images = engine.stack_images(local_name).await?;
    if over.is_some_and(|n| images.len() <= n) {
        return Ok(0);
    }
    let mut keep = Keep {
        verified: crate::state::verifications::verified_images(state_dir, local_name),
        promoted: crate::state::records::promoted_images(state_dir, local_name),
        ..Default::default()
    };
    keep.in_use.extend(current.iter().cloned());
    // The listing names each container's image ID: no inspect per container.
    keep.in_use.extend(
        engine
            .stack_containers(local_name)
            .await?
            .into_iter()
            .filter_map(|c| c.image_id),
    );
    let candidates = to_remove(&images, &keep);
    let mut removed = Vec::new();
    for image in candidates {
        if engine.remove_image(&image.id).await? {
            // Its verification vouched for an image that is gone: promote
            // could not push it, so the record would only accumulate.
            let record = crate::deploy::verification::path(state_dir, local_name, &image.id);
            let _ = std::fs::remove_file(record);
            removed.push(image);
        }
    }
    if !removed.is_empty() {
        shell.status(format!(
            "removed {} old build{} of {local_name}: {} (kept what runs, the last {KEEP_VERIFIED} verified and every promoted image)",
            removed.len(),
            if removed.len() == 1 { "" } else { "s" },
            describe(&removed)
        ));
    }
    Ok(removed.len())
}

/// Builds (or finds) the images `builds` name, one after another (two
/// builds at once on two cores only slow each other), and says which;
/// their IDs by build.
pub async fn stack_images(
    local: &LocalStack,
    builds: &[String],
    shell: &Shell,
) -> anyhow::Result<crate::spec::Images> {
    let stack = local.stack();
    let mut images = crate::spec::Images::new();
    let mut any_new = false;
    for name in builds {
        let Some(image) = stack.build(name) else {
            anyhow::bail!("stack `{}` has no build `{name}`", stack.name);
        };
        let naming = build::Naming::of(stack, name);
        let t = Instant::now();
        let built = build::ensure_image(
            &local.engine,
            &naming,
            &local.dir(),
            image,
            &mut shell.err_writer(),
        )
        .await?;
        if built.skipped {
            shell.status(format!(
                "image {} ({}): context unchanged ({} files, {}), build skipped",
                built.tag,
                short_id(&built.id),
                built.context.files,
                &built.context.digest[..19]
            ));
        } else {
            any_new = true;
            shell.status(format!(
                "image {} ({}) built in {:.1}s",
                built.tag,
                short_id(&built.id),
                t.elapsed().as_secs_f64()
            ));
        }
        images.insert(name.clone(), built.id);
    }
    if any_new {
        // A new build: past the limit, the old ones go (a watch loop that
        // rebuilds several times an hour would fill the disk).
        let over = local
            .loaded
            .vars
            .get("GENO_KEEP_BUILDS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(KEEP_BUILDS);
        let current: Vec<String> = images.values().cloned().collect();
        if let Err(e) = prune(
            local.name(),
            &local.engine,
            &local.state_dir(),
            &current,
            Some(over),
            shell,
        )
        .await
        {
            shell.warn(format!(
                "old builds of {} were not removed: {e}",
                local.name()
            ));
        }
    }
    Ok(images)
}

/// The builds the services named run, each once, in stack order.
pub fn builds_of(stack: &crate::stack::Stack, services: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (name, svc) in &stack.services {
        if !services.contains(name) {
            continue;
        }
        let sidecars = svc.sidecars.keys().map(|c| stack.sidecar_build(name, c));
        for b in std::iter::once(stack.build_of(name))
            .chain(sidecars)
            .flatten()
        {
            if !out.iter().any(|o| o == b) {
                out.push(b.to_string());
            }
        }
    }
    out
}
