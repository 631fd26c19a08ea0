//! The local stack: what should run (desired containers), how it compares
//! with what runs, how `up` reconciles one with the other, and local
//! secret values. Pure except `secrets`, which
//! keeps generated values under `.geno/`.

pub mod plan;
pub mod readiness;
pub mod reconcile;
pub mod secrets;
