//! `scorecard demo`: a generated sample business run end to end.
pub mod generate;
