//! Bringing an existing definition into stack.yaml: a compose file
//! (`compose`). Pure: callers read and write the files.

pub mod compose;
