//! The local stack: what should run (desired containers), how it compares
//! with what runs, how `up` reconciles one with the other, and local
//! secret values, and the edit loop's batching and planning (`watch`).
//! Pure but for the small records kept under `.geno/` (`secrets`, the
//! readiness and sync records).

pub mod drift;
pub mod images;
pub mod init;
pub mod plan;
pub mod readiness;
pub mod reconcile;
pub mod rehearsal;
pub mod secrets;
pub mod tasks;
pub mod top;
pub mod watch;
