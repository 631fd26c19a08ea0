//! What geno keeps on disk between runs, read and written here only (the
//! pure modules that define these records never touch a file): promotion
//! records, verification records, readiness, generated local secrets, the files the edit loop synced, the development certificate of HTTPS listeners. Each file is written whole
//! then renamed.

pub mod readiness;
pub mod records;
pub mod secrets;
pub mod synced;
pub mod tls;
pub mod verifications;
