//! Whether an image can run where its task definitions put it: the
//! architecture its config names against the `runtimePlatform` stack.yaml
//! renders. An image built on an arm64 laptop for an X86_64 task starts
//! nowhere (`exec format error`), after a push and a rollout; promote asks
//! before either. Pure.

use crate::stack::Platform;

/// `Err` with the one line promote stops on when the image (its config's
/// `os` and `architecture`) is not for `wanted` (X86_64 when unset).
pub fn check(
    image: &str,
    os: &str,
    arch: &str,
    wanted: Option<Platform>,
    env: &str,
) -> Result<(), String> {
    let want = wanted.unwrap_or(Platform::Amd64);
    if os == "linux" && arch == want.image_arch() {
        return Ok(());
    }
    let other = match want {
        Platform::Amd64 => Platform::Arm64,
        Platform::Arm64 => Platform::Amd64,
    };
    let said = match wanted {
        Some(_) => format!("`image.platform: {want}`"),
        None => "no `image.platform`, so X86_64".into(),
    };
    Err(format!(
        "image {image} is built for {os}/{arch}, but the task definitions of `{env}` run on {} ({want}: stack.yaml says {said}); ECS could not start it. Set `image.platform: {want}` and run `geno up` and `geno smoke` again (BuildKit builds for it on any machine){}",
        want.ecs_arch(),
        if arch == other.image_arch() {
            format!(
                ", or `image.platform: {other}` to run on {}",
                other.ecs_arch()
            )
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_must_be_for_the_task_definitions_platform() {
        assert_eq!(
            check("58c1e74f9ab2", "linux", "amd64", None, "prod"),
            Ok(())
        );
        assert_eq!(
            check(
                "58c1e74f9ab2",
                "linux",
                "arm64",
                Some(Platform::Arm64),
                "prod"
            ),
            Ok(())
        );
        assert_eq!(
            check("58c1e74f9ab2", "linux", "arm64", None, "prod").unwrap_err(),
            "image 58c1e74f9ab2 is built for linux/arm64, but the task definitions of `prod` run on X86_64 (linux/amd64: stack.yaml says no `image.platform`, so X86_64); ECS could not start it. Set `image.platform: linux/amd64` and run `geno up` and `geno smoke` again (BuildKit builds for it on any machine), or `image.platform: linux/arm64` to run on ARM64"
        );
        assert_eq!(
            check(
                "58c1e74f9ab2",
                "linux",
                "amd64",
                Some(Platform::Arm64),
                "prod"
            )
            .unwrap_err(),
            "image 58c1e74f9ab2 is built for linux/amd64, but the task definitions of `prod` run on ARM64 (linux/arm64: stack.yaml says `image.platform: linux/arm64`); ECS could not start it. Set `image.platform: linux/arm64` and run `geno up` and `geno smoke` again (BuildKit builds for it on any machine), or `image.platform: linux/amd64` to run on X86_64"
        );
        assert!(check("x", "windows", "amd64", None, "prod").is_err());
    }
}
