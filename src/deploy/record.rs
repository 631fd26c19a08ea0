//! Promotion records: what each `geno promote` / `geno rollback` / `geno
//! scale` did to an environment, and which one a rollback returns to. Pure:
//! `state::records` keeps them on disk.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Promote,
    Rollback,
    /// `geno scale`: desired counts changed, task definitions untouched.
    Scale,
    /// `geno restart --env`: new tasks on the task definitions that ran.
    Restart,
}

impl Kind {
    /// Whether the change put task definitions in place (a scale did not).
    pub fn moves_task_definitions(&self) -> bool {
        matches!(self, Kind::Promote | Kind::Rollback)
    }
}

/// One service's desired count before and after `geno scale`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountRecord {
    pub name: String,
    pub ecs_service: String,
    pub before: i32,
    pub after: i32,
}

/// The range of a service that scales itself, before and after `geno
/// scale SERVICE=MIN..MAX`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RangeRecord {
    pub name: String,
    pub ecs_service: String,
    pub before: (i32, i32),
    pub after: (i32, i32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Outcome {
    /// Every service reached its new task definition.
    Succeeded,
    /// The rollout failed and every service was put back.
    RolledBack { reason: String },
    /// It failed and putting it back failed too, or was not possible.
    Failed { reason: String },
    /// Under way in process `pid`, at `phase`, when last saved. A record
    /// that still says so once that process is gone was interrupted there
    /// (killed, or the machine went down): see `Record::interrupted`.
    InProgress { phase: String, pid: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    /// The service's name in stack.yaml.
    pub name: String,
    pub ecs_service: String,
    /// Task definition ARN before this promotion.
    pub before: String,
    /// Task definition ARN it was moved to.
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Start time and environment; also the file name.
    pub id: String,
    pub kind: Kind,
    pub stack: String,
    pub environment: String,
    pub cluster: String,
    /// The image carried, for a stack with one build (`image:`).
    pub image_id: String,
    pub manifest_digest: String,
    /// Each build's image and digest, for a stack with `builds:`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub builds: std::collections::BTreeMap<String, Carried>,
    /// `registry/repository@digest` per service repository.
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_revision: Option<String>,
    /// Promoted with `--force`, without a passing verification record.
    #[serde(default)]
    pub forced: bool,
    /// For a rollback: the record whose task definitions it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
    pub services: Vec<ServiceRecord>,
    /// One-off tasks run before the services were updated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<crate::deploy::job::JobRecord>,
    /// For a scale: the desired counts it changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<CountRecord>,
    /// For a scale: the ranges of services that scale themselves it set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<RangeRecord>,
    /// Changes to scaling and alarms, one line each (`web: scales between
    /// 2 and 10 tasks`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<String>,
    pub outcome: Outcome,
    pub started_at: String,
    pub finished_at: String,
    pub geno_version: String,
}

/// One build's image as a change carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Carried {
    pub image_id: String,
    pub manifest_digest: String,
}

impl Record {
    /// Every image the change carried: (build, image ID, digest).
    pub fn carried(&self) -> Vec<(&str, &str, &str)> {
        if self.builds.is_empty() {
            if self.image_id.is_empty() && self.manifest_digest.is_empty() {
                return Vec::new();
            }
            return vec![(
                crate::stack::DEFAULT_BUILD,
                self.image_id.as_str(),
                self.manifest_digest.as_str(),
            )];
        }
        self.builds
            .iter()
            .map(|(b, c)| (b.as_str(), c.image_id.as_str(), c.manifest_digest.as_str()))
            .collect()
    }

    /// The digest `image_id` was pushed as, if this change carried it.
    pub fn digest_of(&self, image_id: &str) -> Option<&str> {
        self.carried()
            .into_iter()
            .find(|(_, id, _)| *id == image_id)
            .map(|(_, _, d)| d)
    }

    /// The image this change pushed as `digest`, if it did.
    pub fn image_of(&self, digest: &str) -> Option<&str> {
        self.carried()
            .into_iter()
            .find(|(_, _, d)| *d == digest)
            .map(|(_, id, _)| id)
    }

    /// What it carried, as messages say it: `image 5d69faf904d7
    /// (sha256:…)`, or `api 5d69faf904d7, web 0be1c2d3e4f5` by build.
    pub fn carried_line(&self) -> String {
        if self.builds.is_empty() {
            return format!(
                "image {}, {}",
                crate::ids::short_id(&self.image_id),
                self.manifest_digest
            );
        }
        self.builds
            .iter()
            .map(|(b, c)| format!("{b} {}", crate::ids::short_id(&c.image_id)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A record of a change starting now, succeeded until it says otherwise;
    /// what it moved and which image it carried are filled in as it goes.
    pub fn begin(kind: Kind, stack: &str, environment: &str, cluster: &str) -> Record {
        let started_at = now();
        Record {
            id: id_for(&started_at, &kind),
            kind,
            stack: stack.to_string(),
            environment: environment.to_string(),
            cluster: cluster.to_string(),
            image_id: String::new(),
            manifest_digest: String::new(),
            builds: Default::default(),
            images: Vec::new(),
            git_revision: None,
            forced: false,
            restores: None,
            services: Vec::new(),
            jobs: Vec::new(),
            counts: Vec::new(),
            ranges: Vec::new(),
            settings: Vec::new(),
            outcome: Outcome::Succeeded,
            started_at,
            finished_at: String::new(),
            geno_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }

    /// The phase a change was in when its process died, if it did;
    /// `alive` says whether a process ID still runs.
    pub fn interrupted(&self, alive: impl Fn(u32) -> bool) -> Option<&str> {
        match &self.outcome {
            Outcome::InProgress { phase, pid } if !alive(*pid) => Some(phase),
            _ => None,
        }
    }

    /// Marks the change as at `phase` (saved by the caller), so that if the
    /// process dies here the record says where.
    pub fn at(&mut self, phase: &str) {
        self.outcome = Outcome::InProgress {
            phase: phase.to_string(),
            pid: std::process::id(),
        };
    }
}

/// The time now as records keep it (RFC 3339, milliseconds).
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// A record id from an RFC 3339 time: sortable and usable as a file name.
pub fn id_for(started_at: &str, kind: &Kind) -> String {
    let compact: String = started_at.chars().filter(|c| *c != ':').collect();
    match kind {
        Kind::Promote => compact,
        Kind::Rollback => format!("{compact}-rollback"),
        Kind::Scale => format!("{compact}-scale"),
        Kind::Restart => format!("{compact}-restart"),
    }
}

/// The latest successful promotion or rollback: what the environment
/// should be running (a scale changes counts, not what runs).
pub fn current(records: &[Record]) -> Option<&Record> {
    records
        .iter()
        .rev()
        .find(|r| r.succeeded() && r.kind.moves_task_definitions())
}

/// Where `geno rollback` goes: the latest successful record before the
/// current one that put different task definitions in place. Rolling back
/// twice therefore returns to where the first rollback started, as
/// `cd -` does.
pub fn rollback_target(records: &[Record]) -> Option<&Record> {
    let current = current(records)?;
    let afters = |r: &Record| {
        let mut v: Vec<String> = r.services.iter().map(|s| s.after.clone()).collect();
        v.sort();
        v
    };
    let now = afters(current);
    records
        .iter()
        .rev()
        .filter(|r| r.succeeded() && r.kind.moves_task_definitions() && r.id != current.id)
        .find(|r| afters(r) != now)
}

/// The digest `image_id` was pushed as to this environment, by its newest
/// successful promotion, for renderings and diffs.
pub fn digest_of(records: &[Record], image_id: &str) -> Option<String> {
    records
        .iter()
        .rev()
        .filter(|r| r.succeeded() && r.kind.moves_task_definitions())
        .find_map(|r| r.digest_of(image_id))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, after: &str, outcome: Outcome) -> Record {
        Record {
            id: id.into(),
            kind: Kind::Promote,
            stack: "genonaut".into(),
            environment: "demo".into(),
            cluster: "genonaut-demo".into(),
            image_id: format!("sha256:{after}"),
            manifest_digest: format!("sha256:pushed-{id}"),
            builds: Default::default(),
            images: vec![],
            git_revision: None,
            forced: false,
            restores: None,
            services: vec![ServiceRecord {
                name: "api".into(),
                ecs_service: "genonaut-api-demo".into(),
                before: String::new(),
                after: after.into(),
            }],
            jobs: vec![],
            counts: vec![],
            ranges: vec![],
            settings: vec![],
            outcome,
            started_at: id.into(),
            finished_at: id.into(),
            geno_version: "0".into(),
        }
    }

    #[test]
    fn rollback_goes_to_the_previous_success_with_other_task_definitions() {
        let failed = Outcome::RolledBack { reason: "x".into() };
        let rs = vec![
            record("1", "api:1", Outcome::Succeeded),
            record("2", "api:2", Outcome::Succeeded),
            record("3", "api:2", Outcome::Succeeded),
            record("4", "api:3", failed),
        ];
        assert_eq!(current(&rs).unwrap().id, "3");
        assert_eq!(rollback_target(&rs).unwrap().id, "1");
        assert!(rollback_target(&rs[..1]).is_none());
        assert!(rollback_target(&[]).is_none());
        assert_eq!(digest_of(&rs, "sha256:api:2").unwrap(), "sha256:pushed-3");
        assert!(digest_of(&rs, "sha256:api:3").is_none());
    }

    #[test]
    fn a_change_left_under_way_by_a_dead_process_was_interrupted_there() {
        let mut r = record("1", "api:1", Outcome::Succeeded);
        r.at("rollout");
        assert!(!r.succeeded());
        assert_eq!(r.interrupted(|_| false), Some("rollout"));
        assert_eq!(r.interrupted(|_| true), None);
        let rs = vec![record("0", "api:0", Outcome::Succeeded), r];
        // Neither current nor a place to roll back to.
        assert_eq!(current(&rs).unwrap().id, "0");
        assert!(rollback_target(&rs).is_none());
    }

    #[test]
    fn a_scale_is_neither_current_nor_a_rollback_target() {
        let mut rs = vec![
            record("1", "api:1", Outcome::Succeeded),
            record("2", "api:2", Outcome::Succeeded),
        ];
        let mut scale = record("3", "api:2", Outcome::Succeeded);
        scale.kind = Kind::Scale;
        scale.image_id = String::new();
        rs.push(scale);
        assert_eq!(current(&rs).unwrap().id, "2");
        assert_eq!(rollback_target(&rs).unwrap().id, "1");
        assert_eq!(digest_of(&rs, "sha256:api:2").unwrap(), "sha256:pushed-2");
    }

    #[test]
    fn a_change_of_several_builds_carries_each_image_by_its_own_digest() {
        let mut r = record("1", "api:1", Outcome::Succeeded);
        r.image_id = String::new();
        r.manifest_digest = String::new();
        for (build, c) in [("api", 'a'), ("web", 'b')] {
            r.builds.insert(
                build.into(),
                Carried {
                    image_id: format!("sha256:{}", c.to_string().repeat(64)),
                    manifest_digest: format!("sha256:{build}-pushed"),
                },
            );
        }
        let web = format!("sha256:{}", "b".repeat(64));
        assert_eq!(digest_of(&[r.clone()], &web).unwrap(), "sha256:web-pushed");
        assert_eq!(
            r.image_of("sha256:api-pushed").unwrap(),
            format!("sha256:{}", "a".repeat(64))
        );
        assert_eq!(r.carried_line(), "api aaaaaaaaaaaa, web bbbbbbbbbbbb");
        assert_eq!(r.carried().len(), 2);
        // What a record of one build said before builds existed still reads.
        let old = record("2", "api:2", Outcome::Succeeded);
        assert_eq!(
            old.carried(),
            [("image", "sha256:api:2", "sha256:pushed-2")]
        );
    }
}
