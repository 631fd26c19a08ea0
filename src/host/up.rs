//! Phases 1 and 2 of bringing services up, as `geno up` and the edit
//! loop's rebuild share them: what the services need (secrets, images,
//! the stack's builds, network, volumes) and what to do to each container,
//! a container that runs synced files counting as changed.

use futures_util::future::join_all;

use super::LocalStack;
use crate::context::Context;
use crate::docker::Containers;
use crate::docker::container::actual_from;
use crate::host::image::{builds_of, stack_images};
use crate::local::plan::{self, Action, DesiredContainer, names};
use crate::local::secrets;

/// Phase 1: Everything the selected services need; their containers as
/// stack.yaml asks for them.
pub async fn prepare(
    ctx: &Context,
    local: &LocalStack,
    selected: &[String],
) -> anyhow::Result<Vec<DesiredContainer>> {
    let stack = local.stack();
    let engine = &local.engine;
    let chosen = || {
        stack
            .services
            .iter()
            .filter(|(name, _)| selected.contains(name))
            .map(|(_, svc)| svc)
    };
    let mut secret_names: Vec<String> = chosen()
        .flat_map(|s| {
            let cars = s.sidecars.values().flat_map(|c| c.secrets.clone());
            s.secrets.iter().cloned().chain(cars).collect::<Vec<_>>()
        })
        .collect();
    secret_names.sort();
    secret_names.dedup();
    let resolved = local.secrets(&secret_names)?;
    let externals = chosen().flat_map(|s| {
        let cars = s.sidecars.values().filter_map(|c| c.image.as_ref());
        s.image.iter().chain(cars).collect::<Vec<_>>()
    });
    for image in externals {
        {
            engine
                .ensure_image(
                    image,
                    "set the variable that names it (e.g. POSTGRES_IMAGE) to an image this machine has, or build local stand-ins with scripts/images.sh",
                )
                .await?;
        }
    }
    let images = stack_images(local, &builds_of(stack, selected), &ctx.shell).await?;
    warn_on_new_passwords(ctx, local, &resolved).await?;
    let network = engine
        .ensure_network(&stack.name, &names::network(&stack.name))
        .await?;
    if network.duplicates_removed > 0 {
        ctx.shell.warn(format!(
            "found more than one network {}; kept one, removed {} other(s){}",
            names::network(&stack.name),
            network.duplicates_removed,
            if network.containers_removed.is_empty() {
                String::new()
            } else {
                format!(
                    " and the containers on them ({}), recreated below",
                    network.containers_removed.join(", ")
                )
            }
        ));
    }
    for volume in stack.volumes.keys() {
        engine
            .ensure_volume(&stack.name, volume, &names::volume(&stack.name, volume))
            .await?;
    }
    Ok(
        plan::desired_containers(stack, &images, &resolved.values, &local.dir())
            .into_iter()
            .filter(|d| selected.contains(&d.service))
            .collect(),
    )
}

/// New passwords cannot open a database initialised with old ones: say so
/// before the first container fails to log in.
async fn warn_on_new_passwords(
    ctx: &Context,
    local: &LocalStack,
    resolved: &secrets::Resolved,
) -> anyhow::Result<()> {
    if resolved.generated.is_empty() {
        return Ok(());
    }
    let existing: Vec<String> = local
        .engine
        .stack_volumes(local.name())
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    if !existing.is_empty() {
        ctx.shell.warn(format!(
            "generated new values for {} but volume {} already exists; a database in it keeps its old password. \
             `geno down --volumes` removes the volume and its data, or put the old values back in {}",
            resolved.generated.join(", "),
            existing.join(", "),
            resolved.store.display()
        ));
    }
    Ok(())
}

/// Phase 2: What to do to each selected container. On a whole-stack `up`,
/// containers stack.yaml no longer asks for (or whose profile is off) go;
/// with services named, nothing outside them is touched.
pub async fn plan_changes<E: Containers>(
    ctx: &Context,
    local: &LocalStack<E>,
    desired: &[DesiredContainer],
    whole: bool,
) -> anyhow::Result<Vec<Action>> {
    let engine = &local.engine;
    let members = engine.members(local.name()).await?;
    let actual: Vec<_> = members
        .iter()
        .map(actual_from)
        .filter(|a| {
            whole
                || desired
                    .iter()
                    .any(|d| Some(&d.service) == a.service.as_ref())
        })
        .collect();
    let mut actions = plan::plan(desired, &actual);
    // A container into which files were synced runs more than its image:
    // replaced, so what runs is the image again (and smoke can vouch for it).
    let kept: Vec<crate::docker::Member> = members
        .into_iter()
        .filter(|m| {
            actions
                .iter()
                .any(|a| matches!(a, Action::Keep { id, .. } if *id == m.id))
        })
        .collect();
    for d in super::sync::drift(local, &kept, false).await? {
        for a in actions.iter_mut() {
            if let Action::Keep { id, desired } = a
                && *id == d.id
            {
                let why = format!(
                    "it runs {} synced file{}",
                    d.files.len(),
                    if d.files.len() == 1 { "" } else { "s" }
                );
                *a = Action::Replace {
                    old: id.clone(),
                    desired: desired.clone(),
                    why,
                };
            }
        }
    }
    for a in &mut actions {
        if let Action::Remove { name, why, .. } = a
            && let Some(actual) = actual.iter().find(|x| x.name == *name)
            && let Some(svc) = actual
                .service
                .as_ref()
                .and_then(|s| local.loaded.disabled.get(s))
        {
            *why = format!(
                "its profile {} is not active",
                svc.profiles
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
        }
    }
    let removals: Vec<(&String, &String, &String)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Remove { id, name, why } => Some((id, name, why)),
            _ => None,
        })
        .collect();
    for (_, name, why) in &removals {
        ctx.shell.status(format!("removing {name} ({why})"));
    }
    for r in join_all(
        removals
            .iter()
            .map(|(id, _, _)| engine.stop_and_remove(id, 10)),
    )
    .await
    {
        r?;
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::host::paper::{self, running};

    /// `remove NAME (why)`, `replace NAME (why)`, `keep NAME`… for a table.
    fn said(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                Action::Keep { desired, .. } => format!("keep {}", desired.name),
                Action::Start { desired, .. } => format!("start {}", desired.name),
                Action::Create { desired } => format!("create {}", desired.name),
                Action::Replace { desired, why, .. } => {
                    format!("replace {} ({why})", desired.name)
                }
                Action::Remove { name, why, .. } => format!("remove {name} ({why})"),
                Action::AsIs { name, .. } => format!("as is {name}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn up_replaces_what_changed_or_runs_synced_files_and_removes_what_is_not_wanted() {
        let (_dir, ctx, mut local) = paper::open();
        let desired = plan::desired_containers(
            local.stack(),
            &crate::spec::only_image("sha256:abc"),
            &BTreeMap::new(),
            &local.dir(),
        );
        let by_service = |s: &str| desired.iter().find(|d| d.service == s).unwrap();
        let mut worker = running(by_service("worker"), "id-worker");
        worker.hash = Some("an older definition".into());
        let mut dropped = running(by_service("worker"), "id-old");
        dropped.name = "shop-old-1".into();
        dropped.service = "old".into();
        let mut debug = running(by_service("worker"), "id-debug");
        debug.name = "shop-debug-1".into();
        debug.service = "debug".into();
        let mut elsewhere = running(by_service("web"), "id-other-stack");
        elsewhere.name = "other-web-1".into();
        local.engine.members = vec![
            running(by_service("web"), "id-web"),
            worker,
            running(by_service("db"), "id-db"),
            dropped,
            debug,
            elsewhere,
        ];
        local.engine.changed.insert(
            "id-web".into(),
            vec!["/app/main.py".into(), "/app/util.py".into()],
        );

        let actions = plan_changes(&ctx, &local, &desired, true).await.unwrap();
        assert_eq!(
            said(&actions),
            [
                "replace shop-web-1 (it runs 2 synced files)",
                "replace shop-worker-1 (definition changed)",
                "keep shop-db-1",
                "remove shop-old-1 (no longer in stack.yaml)",
                "remove shop-debug-1 (its profile `debug` is not active)",
            ]
        );
        assert_eq!(
            ctx.shell.take().1,
            "removing shop-old-1 (no longer in stack.yaml)\n\
             removing shop-debug-1 (its profile `debug` is not active)\n"
        );
        assert_eq!(
            *local.engine.removed.lock().unwrap(),
            ["id-old", "id-debug"]
        );
    }

    #[tokio::test]
    async fn up_with_services_named_touches_nothing_outside_them() {
        let (_dir, ctx, mut local) = paper::open();
        let desired = plan::desired_containers(
            local.stack(),
            &crate::spec::only_image("sha256:abc"),
            &BTreeMap::new(),
            &local.dir(),
        );
        let web: Vec<DesiredContainer> = desired
            .iter()
            .filter(|d| d.service == "web")
            .cloned()
            .collect();
        let mut dropped = running(&web[0], "id-old");
        dropped.name = "shop-old-1".into();
        dropped.service = "old".into();
        local.engine.members = vec![dropped];

        let actions = plan_changes(&ctx, &local, &web, false).await.unwrap();
        assert_eq!(said(&actions), ["create shop-web-1"]);
        assert!(local.engine.removed.lock().unwrap().is_empty());
        assert_eq!(ctx.shell.take(), (String::new(), String::new()));
    }
}
