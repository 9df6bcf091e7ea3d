//! KPIs: the catalogue (definitions as data), the set-based engine, the
//! statistics (intervals, significance) and custom formulas.
pub mod catalogue;
pub mod custom;
pub mod derive;
pub mod engine;
pub mod extras;
pub mod stats;
