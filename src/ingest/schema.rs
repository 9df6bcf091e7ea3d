//! The snapshot files and their columns now live in [`crate::sources`]
//! (one module per file); this path stays for the callers that name it.
pub use crate::sources::{Column, ColumnType, FileKind};
