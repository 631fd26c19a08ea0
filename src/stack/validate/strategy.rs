//! Checks of how ECS replaces a service's tasks, as ECS takes a blue/green,
//! canary or linear deployment: a target group to shift, one listener rule
//! whose weights ECS moves, percentages and bakes within ECS's bounds, and
//! room in the target group's name for its alternate.

use super::super::diag::{At, Problem, Seg};
use super::super::model::Action;
use super::super::strategy::{ALTERNATE_SUFFIX, Shift, Strategy, alternate_name};
use super::Checks;
use crate::path;

/// ECS's longest bake, in minutes.
const MAX_BAKE_MINUTES: u64 = 1440;

impl<'a> Checks<'a> {
    pub(super) fn strategies(&mut self) {
        let stack = self.stack;
        // Each strategy written, where: the service's own and the
        // environments' (which name a deployed service).
        let mut written: Vec<(Vec<Seg>, &str, &Strategy)> = Vec::new();
        for (name, svc) in &stack.services {
            if let Some(ecs) = &svc.ecs {
                written.push((
                    path!["services", name, "ecs", "strategy"],
                    name,
                    &ecs.strategy,
                ));
            }
        }
        for (env, e) in &stack.environments {
            for (service, strategy) in &e.strategy {
                let at = path!["environments", env, "strategy", service];
                if self.ecs_service_at(at.clone(), service).is_some() {
                    written.push((at, service, strategy));
                }
            }
        }
        let mut checked: Vec<&str> = Vec::new();
        for (at, name, strategy) in written {
            let kind = strategy.prose();
            match strategy {
                Strategy::Canary(shift) => self.shift(&at, "canary", shift, 0.1),
                Strategy::Linear(shift) => self.shift(&at, "linear", shift, 3.0),
                Strategy::Rolling | Strategy::BlueGreen => {}
            }
            // What the service needs for any of them, said once.
            if strategy.is_rolling() || checked.contains(&name) {
                continue;
            }
            checked.push(name);
            let Some(ecs) = stack.ecs(name) else { continue };
            let Some(group) = &ecs.target_group else {
                self.push(
                    Problem::new(at, At::Value, format!("`{name}` has no target group, and ECS's {kind} deployments shift an ALB's traffic between two"))
                        .help("give it `ecs.target_group`, or use `strategy: rolling`"),
                );
                continue;
            };
            if let Some(bake) = ecs.bake {
                self.minutes(path!["services", name, "ecs", "bake"], kind, bake);
            }
            self.production_rule(name, group, kind);
            if let Some(lb) = &stack.load_balancer {
                for (key, tg) in &lb.target_groups {
                    if tg.service == *name && key != group {
                        self.push(
                            Problem::new(path!["load_balancer", "target_groups", key, "service"], At::Value, format!("`{name}` has {kind} deployments, in which ECS shifts the traffic of its own target group `{group}` only; `{key}` would stay on the old tasks"))
                                .help(format!("route `{key}`'s requests to `{group}`, or use `strategy: rolling`")),
                        );
                    }
                }
            }
            // In every environment on AWS it shifts in: the name carries
            // the environment's.
            let mut alternates: Vec<String> = stack
                .environments
                .iter()
                .filter(|(env, e)| e.aws.is_some() && !stack.strategy_in(name, env).is_rolling())
                .map(|(env, _)| alternate_name(&stack.target_group_name(group, env)))
                .collect();
            alternates.dedup();
            for alternate in alternates {
                if alternate.len() > 32 && stack.group_on_ecs(group) {
                    self.push(
                        Problem::new(at.clone(), At::Value, format!("the alternate target group of `{group}` would be `{alternate}`, longer than ALB's 32 characters"))
                            .help(format!("give `load_balancer.target_groups.{group}` a `name:` of at most {} characters", 32 - ALTERNATE_SUFFIX.len())),
                    );
                }
            }
        }
    }

    fn shift(&mut self, at: &[Seg], kind: &str, shift: &Shift, least: f64) {
        let field = |f: &str| {
            let mut p = at.to_vec();
            p.extend([Seg::from(kind), Seg::from(f)]);
            p
        };
        let tenths = shift.percent * 10.0;
        if !(least..=100.0).contains(&shift.percent) || (tenths - tenths.round()).abs() > 1e-9 {
            self.push(Problem::new(
                field("percent"),
                At::Value,
                format!(
                    "ECS takes a {kind} step of {least}–100 percent in steps of 0.1, found {}",
                    shift.percent
                ),
            ));
        }
        self.minutes(field("bake"), kind, shift.bake);
    }

    /// A bake ECS takes: whole minutes, at most a day.
    fn minutes(&mut self, at: Vec<Seg>, kind: &str, bake: crate::stack::dur::Dur) {
        let secs = bake.0.as_secs();
        if !bake.whole_seconds() || !secs.is_multiple_of(60) || secs / 60 > MAX_BAKE_MINUTES {
            self.push(
                Problem::new(
                    at,
                    At::Value,
                    format!("ECS bakes a {kind} deployment in whole minutes, 0–{MAX_BAKE_MINUTES}, found {bake}"),
                )
                .help("write it in minutes, e.g. `5m`"),
            );
        }
    }

    /// ECS moves the weights of one listener rule: the group must be
    /// reached by exactly one rule and by no listener's default action,
    /// which would keep sending requests to the group ECS just emptied.
    fn production_rule(&mut self, name: &str, group: &str, kind: &str) {
        let Some(lb) = &self.stack.load_balancer else {
            return;
        };
        let forwards = |a: &Action| matches!(a, Action::Forward(g) if g == group);
        let mut rules = Vec::new();
        for (i, listener) in lb.listeners.iter().enumerate() {
            if forwards(&listener.default_action) {
                self.push(
                    Problem::new(
                        path!["load_balancer", "listeners", i, "default_action"],
                        At::Value,
                        format!("`{name}` has {kind} deployments, in which ECS moves one listener rule's traffic between `{group}` and its alternate; a default action forwarding to `{group}` would keep sending requests to the tasks ECS has just replaced"),
                    )
                    .help(format!("route `{group}` by a rule (e.g. `path: [\"/*\"]`) and give the listener another default action")),
                );
            }
            for (j, rule) in listener.rules.iter().enumerate() {
                if forwards(&rule.action) {
                    rules.push((i, j));
                }
            }
        }
        match rules.as_slice() {
            [] => self.push(
                Problem::new(
                    path!["services", name, "ecs", "strategy"],
                    At::Value,
                    format!("`{name}` has {kind} deployments, but no listener rule forwards to `{group}`, so ECS has no production traffic to shift"),
                )
                .help(format!("add a listener rule forwarding to `{group}`")),
            ),
            [_] => {}
            [_, rest @ ..] => {
                for (i, j) in rest {
                    self.push(
                        Problem::new(
                            path!["load_balancer", "listeners", *i, "rules", *j, "action"],
                            At::Value,
                            format!("`{name}` has {kind} deployments, in which ECS moves the traffic of one listener rule; this is a second rule forwarding to `{group}`, which ECS would leave on the old tasks"),
                        )
                        .help("forward to it from one rule, with all its paths and hosts among that rule's conditions"),
                    );
                }
            }
        }
    }
}
