//! `geno lb`: the load balancer process `geno up` starts in the background.

use super::local::Local;
use crate::cli::Config;

pub fn lb(config: &Config, fast: bool) -> anyhow::Result<i32> {
    let rt = crate::shutdown::runtime()?;
    let result = rt.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let cancel = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        });
        let local = Local::open(config).await?;
        let state_dir = local.state_dir();
        crate::proxy::daemon::serve(
            local.engine,
            local.loaded.stack,
            state_dir,
            fast,
            config.verbose > 0,
            shutdown,
        )
        .await?;
        Ok(0)
    });
    // Do not wait for idle connections and sleeping tasks to wind down:
    // `geno down` waits for this process to exit.
    rt.shutdown_background();
    result
}
