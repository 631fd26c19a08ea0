//! The stack's one image: built from the context, or found when an image
//! with the same context digest exists; `up` and `run` both use it, so
//! both run exactly the image the context gives.

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
    current: Option<&str>,
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
    keep.in_use.extend(current.map(str::to_string));
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

/// Builds (or finds) the stack's one image and says which; its ID.
pub async fn stack_image(local: &LocalStack, shell: &Shell) -> anyhow::Result<String> {
    let stack = local.stack();
    let t = Instant::now();
    let built = build::ensure_image(
        &local.engine,
        &stack.name,
        &local.dir(),
        &stack.image,
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
        shell.status(format!(
            "image {} ({}) built in {:.1}s",
            built.tag,
            short_id(&built.id),
            t.elapsed().as_secs_f64()
        ));
        // A new build: past the limit, the old ones go (a watch loop that
        // rebuilds several times an hour would fill the disk).
        let over = local
            .loaded
            .vars
            .get("GENO_KEEP_BUILDS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(KEEP_BUILDS);
        if let Err(e) = prune(
            local.name(),
            &local.engine,
            &local.state_dir(),
            Some(&built.id),
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
    Ok(built.id)
}
