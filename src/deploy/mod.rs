//! Promotion to ECS, the pure part: the typed task definitions and service
//! updates geno sends, how a rollout is read, and the records of what was
//! done. No tokio, bollard or AWS SDK here; `aws`, `registry` and
//! `ops::promote` do the talking.

pub mod change;
pub mod connect;
pub mod iam;
pub mod job;
pub mod listener;
pub mod live;
pub mod logs;
pub mod metrics;
pub mod origin;
pub mod parity;
pub mod platform;
pub mod record;
pub mod rollout;
pub mod scaling;
pub mod taskdef;
pub mod verification;
