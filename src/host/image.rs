//! The stack's one image: built from the context, or found when an image
//! with the same context digest exists; `up` and `run` both use it, so
//! both run exactly the image the context gives.

use std::time::Instant;

use super::LocalStack;
use crate::docker::build::{self, short_id};
use crate::shell::Shell;

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
    }
    Ok(built.id)
}
