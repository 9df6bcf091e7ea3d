//! KPIs: the catalogue (definitions as data), the set-based engine, the
//! statistics (intervals, significance) and custom formulas.
pub mod derive;
pub mod engine;
pub mod extras;
pub mod stats;

/// The KPI definitions are a leaf module of their own (config, sources and
/// reports read them too); `kpi::catalogue` stays as a path.
pub use crate::catalogue;
/// Custom KPI formulas are a leaf module too (config parses them).
pub use crate::formula as custom;
