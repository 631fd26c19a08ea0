//! The stack definition: model, parsing, interpolation, validation.
//!
//! Pure: nothing here talks to Docker or AWS, so it is all unit-testable and
//! every command shares one view of what stack.yaml means.

pub mod addresses;
pub mod de;
pub mod develop;
pub mod diag;
pub mod dur;
pub mod emit;
pub mod graph;
pub mod interp;
pub mod load;
pub mod matcher;
pub mod model;
pub mod profiles;
pub mod scaling;
pub mod strategy;
pub mod validate;
pub mod yaml;

pub use load::{LoadError, LoadOptions, Loaded, load, validate_all};
pub use model::*;
pub use scaling::{Alarms, Scaling};
