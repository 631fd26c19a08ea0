//! The local stack: what should run (desired containers), how it compares
//! with what runs, and local secret values. Pure except `secrets`, which
//! keeps generated values under `.geno/`.

pub mod plan;
pub mod secrets;
