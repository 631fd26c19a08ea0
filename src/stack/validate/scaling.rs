//! Checks of how services scale and what they are watched by, as
//! Application Auto Scaling and CloudWatch take them: ranges, targets,
//! cooldowns, schedules, alarm metrics and periods, and the alarms that
//! roll a promotion back.

use super::super::diag::{At, Problem, Seg};
use super::super::model::EcsService;
use super::super::scaling::{Alarms, Scaling, Source, standard, valid_statistic};
use super::Checks;
use crate::path;

/// Application Auto Scaling's largest ECS capacity.
const MAX_TASKS: u32 = 10_000;

impl<'a> Checks<'a> {
    pub(super) fn scaling(&mut self) {
        let stack = self.stack;
        for (name, svc) in &stack.services {
            let Some(ecs) = &svc.ecs else { continue };
            if let Some(s) = &ecs.scaling {
                self.range_of(path!["services", name, "ecs", "scaling"], name, ecs, s);
                if ecs.desired_count != 1 {
                    self.push(
                        Problem::new(
                            path!["services", name, "ecs", "desired_count"],
                            At::Value,
                            format!("`{name}` scales itself ({}–{} tasks), so a desired count would be overridden by the scaler", s.min, s.max),
                        )
                        .help("drop `desired_count`; promote keeps the count the service has, within min and max"),
                    );
                }
            }
            self.alarms(
                path!["services", name, "ecs", "alarms"],
                name,
                ecs,
                &ecs.alarms,
            );
            let rolls_back = |a: &Alarms| match a {
                Alarms::Named(named) => named.values().flatten().any(|s| s.rollback),
                _ => false,
            };
            let watched = rolls_back(&ecs.alarms)
                || stack
                    .environments
                    .values()
                    .filter_map(|e| e.alarms.get(name))
                    .any(rolls_back);
            // With ECS's own strategies, `bake` is how long ECS keeps the old
            // tasks.
            let shifts = !ecs.strategy.is_rolling()
                || stack
                    .environments
                    .values()
                    .any(|e| e.strategy.get(name).is_some_and(|s| !s.is_rolling()));
            if ecs.bake.is_some() && !watched && !shifts {
                self.push(
                    Problem::new(
                        path!["services", name, "ecs", "bake"],
                        At::Key,
                        format!("no alarm of `{name}` has `rollback: true`, so there is nothing to watch during a bake"),
                    )
                    .help("mark the alarms that should roll a promotion back with `rollback: true`, or drop `bake`"),
                );
            }
        }
        for (env, e) in &stack.environments {
            // Settings of ECS in an environment that deploys nothing would
            // do nothing: said, not ignored.
            if e.aws.is_none() {
                let kinds = [
                    ("scaling", e.scaling.is_empty()),
                    ("alarms", e.alarms.is_empty()),
                    ("strategy", e.strategy.is_empty()),
                ];
                for (field, empty) in kinds {
                    if !empty {
                        self.push(
                            Problem::new(
                                path!["environments", env, field],
                                At::Key,
                                format!("`{env}` has no `aws` section, so nothing deploys there and its `{field}` would do nothing"),
                            )
                            .help("put it under an environment with `aws`; `geno up --rehearse ENV` tries an environment's strategy and rollback alarms here"),
                        );
                    }
                }
            }
            for (service, alarms) in &e.alarms {
                let at = path!["environments", env, "alarms", service];
                if let Some(ecs) = self.ecs_service_at(at.clone(), service) {
                    self.alarms(at, service, ecs, alarms);
                }
            }
            for service in e.desired_count.keys() {
                let scaled = e.scaling.contains_key(service)
                    || stack
                        .services
                        .get(service)
                        .and_then(|s| s.ecs.as_ref())
                        .is_some_and(|ecs| ecs.scaling.is_some());
                if scaled {
                    self.push(
                        Problem::new(
                            path!["environments", env, "desired_count", service],
                            At::Key,
                            format!("`{service}` scales itself, so a desired count here would be overridden by the scaler"),
                        )
                        .help(format!("set its range for `{env}` instead: `environments.{env}.scaling.{service}: {{ min: N, max: M }}`")),
                    );
                }
            }
            for (service, s) in &e.scaling {
                let at = path!["environments", env, "scaling", service];
                if let Some(ecs) = self.ecs_service_at(at.clone(), service) {
                    self.range_of(at, service, ecs, s);
                }
            }
        }
    }

    /// The ECS settings of the service an environment's entry at `at`
    /// names; an unknown name is a problem there.
    pub(super) fn ecs_service_at(&mut self, at: Vec<Seg>, service: &str) -> Option<&'a EcsService> {
        let stack = self.stack;
        let found = stack.services.get(service).and_then(|svc| svc.ecs.as_ref());
        if found.is_none() {
            let known: Vec<&str> = stack
                .services
                .iter()
                .filter(|(_, s)| s.ecs.is_some())
                .map(|(n, _)| n.as_str())
                .collect();
            self.unknown(at, At::Key, "ECS service", service, &known);
        }
        found
    }

    fn range_of(&mut self, at: Vec<Seg>, service: &str, ecs: &EcsService, s: &Scaling) {
        let field = |f: &str| {
            let mut p = at.clone();
            p.push(f.into());
            p
        };
        if s.max > MAX_TASKS {
            self.push(Problem::new(
                field("max"),
                At::Value,
                format!("max must be 0–{MAX_TASKS} tasks, found {}", s.max),
            ));
        }
        if s.min > s.max {
            self.push(
                Problem::new(
                    field("min"),
                    At::Value,
                    format!("min {} is above max {}", s.min, s.max),
                )
                .help("a service scales between min and max tasks: min ≤ max"),
            );
        }
        for (metric, tracking) in [
            ("cpu", &s.cpu),
            ("memory", &s.memory),
            ("requests", &s.requests),
        ] {
            let Some(t) = tracking else { continue };
            let percent = metric != "requests";
            if (percent && !(1..=100).contains(&t.target)) || t.target == 0 {
                self.push(Problem::new(
                    field(metric),
                    At::Value,
                    if percent {
                        format!(
                            "a {metric} target is a percentage, 1–100; found {}",
                            t.target
                        )
                    } else {
                        format!(
                            "a requests target is at least 1 request per target a minute; found {}",
                            t.target
                        )
                    },
                ));
            }
            if metric == "requests" && ecs.target_group.is_none() {
                self.push(
                    Problem::new(
                        field(metric),
                        At::Key,
                        format!(
                            "`{service}` has no `ecs.target_group`, so no ALB counts its requests"
                        ),
                    )
                    .help("track `cpu` or `memory`, or route it through the load balancer"),
                );
            }
            if let Some(policy) = &t.policy
                && !policy_name_ok(policy)
            {
                self.push(Problem::new(
                    field(metric),
                    At::Value,
                    format!("policy name `{policy}`: 1–256 characters, no `:` or `/`"),
                ));
            }
        }
        for (f, d) in [
            ("scale_out_cooldown", s.scale_out_cooldown),
            ("scale_in_cooldown", s.scale_in_cooldown),
        ] {
            self.range(field(f), f, d, 0, 86_400);
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, sched) in s.schedule.iter().enumerate() {
            let at = |f: &str| {
                let mut p = field("schedule");
                p.push(i.into());
                p.push(f.into());
                p
            };
            if !seen.insert(sched.name.as_str()) {
                self.push(Problem::new(
                    at("name"),
                    At::Value,
                    format!(
                        "`{}` is already the name of another scheduled change",
                        sched.name
                    ),
                ));
            } else if !policy_name_ok(&sched.name) {
                self.push(Problem::new(
                    at("name"),
                    At::Value,
                    format!("`{}`: 1–256 characters, no `:` or `/`", sched.name),
                ));
            }
            let t = sched.at.trim();
            let known = ["cron(", "at(", "rate("];
            if !known.iter().any(|k| t.starts_with(k)) || !t.ends_with(')') {
                self.push(
                    Problem::new(
                        at("at"),
                        At::Value,
                        format!("`{}` is not a schedule Application Auto Scaling takes", sched.at),
                    )
                    .help("write `cron(MIN HOUR DAY MONTH WEEKDAY YEAR)`, `at(YYYY-MM-DDThh:mm:ss)` or `rate(N unit)`"),
                );
            } else if let Some(fields) = t.strip_prefix("cron(").and_then(|r| r.strip_suffix(')'))
                && fields.split_whitespace().count() != 6
            {
                self.push(
                    Problem::new(
                        at("at"),
                        At::Value,
                        format!(
                            "a cron schedule has 6 fields (minutes hours day-of-month month day-of-week year), found {}",
                            fields.split_whitespace().count()
                        ),
                    )
                    .help("e.g. `cron(0 20 ? * MON-FRI *)`: 20:00 on weekdays"),
                );
            }
            match (sched.min, sched.max) {
                (None, None) => self.push(Problem::new(
                    at("name"),
                    At::Key,
                    format!(
                        "scheduled change `{}` sets neither `min` nor `max`",
                        sched.name
                    ),
                )),
                (Some(lo), Some(hi)) if lo > hi => self.push(Problem::new(
                    at("min"),
                    At::Value,
                    format!("min {lo} is above max {hi}"),
                )),
                _ => {}
            }
        }
    }

    fn alarms(&mut self, base: Vec<Seg>, service: &str, ecs: &EcsService, alarms: &Alarms) {
        let at = |name: &str, f: Option<&str>| {
            let mut p = base.clone();
            p.push(name.into());
            if let Some(f) = f {
                p.push(f.into());
            }
            p
        };
        let Alarms::Named(named) = alarms else {
            return;
        };
        let standard_names: Vec<&str> = super::super::scaling::STANDARD
            .iter()
            .map(|s| s.name)
            .collect();
        for (name, spec) in named {
            if !alarm_name_ok(name) {
                self.push(Problem::new(
                    at(name, None),
                    At::Key,
                    format!("alarm name `{name}`: letters, digits, `-` and `_`"),
                ));
            }
            let spec = spec.clone().unwrap_or_default();
            match (standard(name), &spec.metric) {
                (None, None) => {
                    let mut p = Problem::new(
                        at(name, None),
                        At::Key,
                        format!("`{name}` is not a standard alarm and names no `metric`"),
                    );
                    if let Some(s) = super::did_you_mean(name, &standard_names) {
                        p = p.label(format!("did you mean `{s}`?"));
                    }
                    self.push(p.help(format!(
                        "standard alarms are: {}; an alarm of your own needs `metric` and `threshold`",
                        super::quoted_list(&standard_names)
                    )));
                }
                (None, Some(_)) if spec.threshold.is_none() => {
                    self.push(Problem::new(
                        at(name, None),
                        At::Key,
                        format!("alarm `{name}` has no `threshold`"),
                    ));
                }
                (Some(s), _) if s.source == Source::Alb && ecs.target_group.is_none() => {
                    self.push(
                        Problem::new(
                            at(name, None),
                            At::Key,
                            format!(
                                "alarm `{name}` watches `{service}`'s ALB target group, and it has none (`ecs.target_group`)"
                            ),
                        )
                        .help("`alarms: standard` leaves these out by itself for a service without one"),
                    );
                }
                _ => {}
            }
            if let Some(stat) = &spec.statistic
                && !valid_statistic(stat)
            {
                self.push(
                    Problem::new(
                        at(name, Some("statistic")),
                        At::Value,
                        format!("`{stat}` is not a CloudWatch statistic"),
                    )
                    .help("Average, Sum, Minimum, Maximum, SampleCount, or a percentile like p99"),
                );
            }
            if let Some(period) = spec.period {
                let s = period.as_secs();
                if !(s == 10 || s == 30 || (s >= 60 && s % 60 == 0)) || period.0.subsec_nanos() != 0
                {
                    self.push(Problem::new(
                        at(name, Some("period")),
                        At::Value,
                        format!(
                            "a period is 10s, 30s or a multiple of 60s; found {}",
                            humantime::format_duration(period.0)
                        ),
                    ));
                }
            }
            if spec.periods == Some(0) {
                self.push(Problem::new(
                    at(name, Some("periods")),
                    At::Value,
                    "periods must be at least 1",
                ));
            }
            if spec.threshold.is_some_and(|t| !t.is_finite()) {
                self.push(Problem::new(
                    at(name, Some("threshold")),
                    At::Value,
                    "a threshold is a finite number",
                ));
            }
        }
    }
}

/// What Application Auto Scaling takes as a policy or action name.
fn policy_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && !name.contains([':', '/'])
}

/// A name geno puts into an alarm's name on AWS (`SERVICE-NAME`).
fn alarm_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
