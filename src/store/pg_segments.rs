//! The PostgreSQL store's per-customer segment table: each customer's
//! values of the configured segment attributes as one small integer, the
//! id of their combination, so that the engine's grouped queries join each
//! record once (on its `customer_id`) instead of once per attribute with
//! `customer_attributes`, and group by one integer instead of the value
//! texts (docs/scale-out.md).
//!
//! - `segment_combos (combo, vals)`: every combination of values some
//!   customer has, `vals[j]` the value of the `j`-th configured attribute,
//!   `(none)` for a missing or empty one; `combo` a 64-bit hash of the
//!   values, the same for the same values over every rebuild;
//! - `customer_segments (customer_id, combo)`: every customer's combination.
//!
//! Both are reference tables under Citus. They hold the attributes named in
//! the `meta` key [`META_KEY`] (a JSON list, lowercase, in the configured
//! order); the engine uses them only when that list is its own, and else
//! joins `customer_attributes` as before (as it always does in warehouse
//! mode, which creates nothing). An import that brings customers rebuilds
//! them in its own transaction, for the configured segments; a run whose
//! configured segments differ from the recorded ones rebuilds them first,
//! in a transaction of its own.
use anyhow::Result;

use super::sql::Db;
use super::Store;

/// The `meta` key naming the attributes the tables hold.
pub const META_KEY: &str = "customer_segments";

/// The configured segment attributes as the store keeps them (lowercase,
/// in the configured order), as the engine's grid names them.
pub fn configured(config: &crate::config::Config) -> Vec<String> {
    config
        .segment_attrs()
        .iter()
        .map(|a| a.to_lowercase())
        .collect()
}

/// The value of [`META_KEY`] for `attrs` (lowercase, configured order).
pub fn meta_value(attrs: &[String]) -> String {
    serde_json::to_string(attrs).expect("a list of strings")
}

/// The statements that rebuild both tables for `attrs` from `customers` and
/// `customer_attributes` and record `attrs` (also read by the Citus test).
pub fn rebuild_sql(attrs: &[String]) -> String {
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let joins: String = attrs
        .iter()
        .enumerate()
        .map(|(j, a)| {
            format!(
                " LEFT JOIN customer_attributes a{j} ON a{j}.customer_id = c.customer_id AND a{j}.name = {}",
                lit(a)
            )
        })
        .collect();
    let vals: Vec<String> = (0..attrs.len())
        .map(|j| {
            format!(
                "COALESCE(NULLIF(a{j}.value, ''), {})",
                lit(crate::model::NONE_VALUE)
            )
        })
        .collect();
    let vals = format!("ARRAY[{}]::text[]", vals.join(", "));
    // A combination's id is a hash of its values (their array's text, which
    // quotes each value): the same values keep their id over rebuilds, so
    // that a computation reading the tables while an import rebuilds them
    // never takes one combination for another.
    let id = |vals: &str| format!("hashtextextended(({vals})::text, 0)");
    let mut sql = String::from("DELETE FROM customer_segments;\nDELETE FROM segment_combos;\n");
    if !attrs.is_empty() {
        sql.push_str(&format!(
            "INSERT INTO segment_combos (combo, vals)
             SELECT {}, vals FROM (SELECT DISTINCT {vals} AS vals FROM customers c{joins}) d;
             INSERT INTO customer_segments (customer_id, combo)
             SELECT c.customer_id, {} FROM customers c{joins};\n",
            id("vals"),
            id(&vals)
        ));
    }
    sql.push_str(&format!(
        "INSERT INTO meta (key, value) VALUES ({}, {}) ON CONFLICT (key) DO UPDATE SET value = excluded.value;
         ANALYZE customer_segments;
         ANALYZE segment_combos;",
        lit(META_KEY),
        lit(&meta_value(attrs))
    ));
    sql
}

/// Rebuilds both tables for `attrs` on the connection `db` (inside the
/// caller's transaction); nothing on SQLite.
pub(super) fn rebuild(db: &Db, attrs: &[String]) -> Result<()> {
    if db.is_postgres() {
        db.execute_batch(&rebuild_sql(attrs))?;
    }
    Ok(())
}

impl Store {
    /// Whether the per-customer segment table holds `attrs`, so that the
    /// engine may join it: a PostgreSQL store (not in warehouse mode) whose
    /// recorded attributes are `attrs`.
    pub fn customer_segments_hold(&self, attrs: &[String]) -> Result<bool> {
        if !self.conn.is_postgres() || self.warehouse.is_some() || attrs.is_empty() {
            return Ok(false);
        }
        Ok(self.meta(META_KEY)?.as_deref() == Some(meta_value(attrs).as_str()))
    }

    /// Before computing: on a PostgreSQL store (not in warehouse mode)
    /// whose per-customer segment table holds other attributes than
    /// `attrs` (the configured segments changed, or a store from before
    /// the table), rebuilds it in one transaction.
    pub fn ensure_customer_segments(&self, attrs: &[String]) -> Result<()> {
        if !self.conn.is_postgres() || self.warehouse.is_some() || attrs.is_empty() {
            return Ok(());
        }
        if self.customer_segments_hold(attrs)? {
            return Ok(());
        }
        let tx = self.conn.begin(true)?;
        rebuild(&tx, attrs)?;
        tx.commit()?;
        tracing::info!(
            attributes = %meta_value(attrs),
            "store: per-customer segment table rebuilt"
        );
        Ok(())
    }
}
