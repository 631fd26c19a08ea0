//! How ECS replaces a deployed service's tasks (`ecs.strategy`): rolling,
//! or ECS's own blue/green, canary and linear deployments, which shift the
//! ALB's production traffic between two target groups. Model only;
//! `render::ecs` turns it into the service's deployment configuration.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dur::Dur;

/// The suffix of the alternate target group's name (infra/ creates
/// `NAME-alt` beside each group ECS shifts traffic from).
pub const ALTERNATE_SUFFIX: &str = "-alt";

/// The name of the alternate of target group `name`.
pub fn alternate_name(name: &str) -> String {
    format!("{name}{ALTERNATE_SUFFIX}")
}

/// `rolling` (the default), `blue_green`, `{ canary: { percent, bake } }`
/// or `{ linear: { percent, bake } }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// New tasks replace old ones within `min_healthy_percent` and
    /// `max_percent`.
    #[default]
    Rolling,
    /// A full set of new tasks behind the alternate target group; all
    /// production traffic moves at once, then `bake` before the old tasks go.
    BlueGreen,
    /// `percent` of production traffic on the new tasks for `bake`, then
    /// all of it.
    Canary(Shift),
    /// Production traffic moves `percent` at a time, `bake` apart.
    Linear(Shift),
}

/// One traffic shift: how much of production traffic moves, and how long
/// it stays there before the next move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// Percent of production traffic (canary 0.1–100, linear 3–100).
    pub percent: f64,
    /// How long traffic stays at each step, in whole minutes (0–1440).
    pub bake: Dur,
}

impl Strategy {
    pub fn is_rolling(&self) -> bool {
        matches!(self, Strategy::Rolling)
    }

    /// ECS's name of it (`deploymentConfiguration.strategy`).
    pub fn ecs_name(&self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Canary(_) => "CANARY",
            Strategy::Linear(_) => "LINEAR",
        }
    }

    /// Its name in a sentence.
    pub fn prose(&self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::BlueGreen => "blue/green",
            Strategy::Canary(_) => "canary",
            Strategy::Linear(_) => "linear",
        }
    }
}
