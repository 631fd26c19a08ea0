//! The secrets the task definitions read, by name only: SSM parameters and
//! Secrets Manager secrets (written by `geno secrets set`, not by geno's
//! releases; no value is ever read).

use super::{Observed, Observing, unique};
use crate::aws::Live;
use crate::deploy::live::{DeclaredSecret, Store, declared};

/// The secrets of `store` the plans' task definitions read, as stack.yaml
/// declares them for this environment.
fn read<L: Live>(cx: &Observing<'_, L>, store: Store) -> Vec<DeclaredSecret> {
    declared(&cx.env.loaded.stack, cx.plans)
        .into_iter()
        .filter(|d| !d.used_by.is_empty() && d.store == store)
        .collect()
}

/// The stack.yaml names that read `id`, for `geno secrets set`.
fn names(secrets: &[DeclaredSecret], id: &str) -> String {
    secrets
        .iter()
        .filter(|d| d.id == id)
        .map(|d| d.name.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// One problem per missing secret of `store`, saying how to write it.
pub async fn observe<L: Live>(cx: &Observing<'_, L>, store: Store) -> Vec<Observed> {
    let secrets = read(cx, store);
    let ids = unique(secrets.iter().map(|d| d.id.clone()));
    if ids.is_empty() {
        return Vec::new();
    }
    let (found, what) = match store {
        Store::Ssm => (cx.live.missing_parameters(&ids).await, "SSM parameter"),
        Store::SecretsManager => (
            cx.live.missing_secrets(&ids).await,
            "Secrets Manager secret",
        ),
    };
    let problems = match found {
        Ok(missing) => missing
            .iter()
            .map(|id| {
                format!(
                    "{what} {id} does not exist: `geno secrets set --env {} {}` writes it",
                    cx.env.name(),
                    names(&secrets, id)
                )
            })
            .collect(),
        Err(e) => vec![e.to_string()],
    };
    vec![Observed::problems(problems)]
}
