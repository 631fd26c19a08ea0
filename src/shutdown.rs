//! Ctrl-C handling shared by the long-running verbs: the first press cancels
//! (work under way finishes, nothing is left half-made), the second exits.

use tokio_util::sync::CancellationToken;

/// A runtime sized for a CLI: two workers are plenty for I/O-bound work.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Must be called inside the runtime.
pub fn install(what: &'static str) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("\n{what}: interrupted; finishing what is under way (Ctrl-C again to force)");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("{what}: forced exit");
            std::process::exit(130);
        }
    });
    token
}
