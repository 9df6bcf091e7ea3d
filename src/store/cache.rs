//! The KPI cache (migration 2): one row per (cadence, period, segment, KPI),
//! tagged with the fingerprint of the settings that shaped it, and the
//! `computed_periods` that say which periods are complete. The engine decides
//! what to compute; an import (or a new time zone) says what is stale through
//! [`Store::invalidate`] and [`Store::clear_cache`].
use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::model::{KpiValue, PeriodValues};
use crate::period::Period;

/// Cache rows written by one multi-row INSERT (one round trip to a server).
const INSERT_ROWS: usize = 500;
const CACHE_COLUMNS: usize = 14;

/// Writes the buffered cache rows (14 values each) and empties the buffer.
fn insert_cache_rows(tx: &super::sql::Db, rows: &mut Vec<Value>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len() / CACHE_COLUMNS;
    let tuples: Vec<String> = (0..n)
        .map(|r| {
            let p: Vec<String> = (1..=CACHE_COLUMNS)
                .map(|c| format!("?{}", r * CACHE_COLUMNS + c))
                .collect();
            format!("({})", p.join(", "))
        })
        .collect();
    tx.execute(
        &format!(
            "INSERT INTO kpi_cache (cadence, period, start_day, end_day, segment, kpi, value, n, ci_low, ci_high, se, reason, fingerprint, pending)
             VALUES {}",
            tuples.join(", ")
        ),
        std::mem::take(rows),
    )?;
    Ok(())
}

impl Store {
    /// The fingerprint the cached figures of `p` were computed with, if any.
    pub fn cached_fingerprint(&self, p: Period) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT fingerprint FROM computed_periods WHERE cadence = ?1 AND period = ?2",
            )?
            .query_row(params![p.cadence.as_str(), p.id()], |r| r.get(0))
            .optional()?)
    }

    /// Replaces the cached figures of each period by `values`, in one
    /// transaction.
    pub fn save_kpis(
        &mut self,
        values: &BTreeMap<Period, PeriodValues>,
        fingerprint: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut del =
                tx.prepare_cached("DELETE FROM kpi_cache WHERE cadence = ?1 AND period = ?2")?;
            let mut mark = tx.prepare_cached(
                "INSERT INTO computed_periods (cadence, period, start_day, end_day, fingerprint) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (cadence, period) DO UPDATE SET fingerprint = excluded.fingerprint,
                   start_day = excluded.start_day, end_day = excluded.end_day, computations = computed_periods.computations + 1",
            )?;
            let mut rows: Vec<Value> = Vec::with_capacity(INSERT_ROWS * CACHE_COLUMNS);
            for (p, by_segment) in values {
                let (cad, id) = (p.cadence.as_str(), p.id());
                del.execute(params![cad, id])?;
                for (segment, kpis) in by_segment {
                    for (kpi, v) in kpis {
                        let opt_real = |x: Option<f64>| x.map(Value::Real).unwrap_or(Value::Null);
                        rows.extend([
                            Value::Text(cad.to_string()),
                            Value::Text(id.clone()),
                            Value::Integer(p.start_day()),
                            Value::Integer(p.end_day()),
                            Value::Text(segment.clone()),
                            Value::Text(kpi.clone()),
                            opt_real(v.value),
                            v.n.map(|n| Value::Integer(n as i64)).unwrap_or(Value::Null),
                            opt_real(v.ci95.map(|c| c.0)),
                            opt_real(v.ci95.map(|c| c.1)),
                            opt_real(v.se),
                            v.reason.clone().map(Value::Text).unwrap_or(Value::Null),
                            Value::Text(fingerprint.to_string()),
                            v.pending
                                .map(|n| Value::Integer(n as i64))
                                .unwrap_or(Value::Null),
                        ]);
                        if rows.len() >= INSERT_ROWS * CACHE_COLUMNS {
                            insert_cache_rows(&tx, &mut rows)?;
                        }
                    }
                }
                insert_cache_rows(&tx, &mut rows)?;
                mark.execute(params![cad, id, p.start_day(), p.end_day(), fingerprint])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The cached figures of `periods` (one cadence).
    pub fn load_kpis(&self, periods: &[Period]) -> Result<BTreeMap<Period, PeriodValues>> {
        let mut out: BTreeMap<Period, PeriodValues> = BTreeMap::new();
        let Some(cadence) = periods.first().map(|p| p.cadence) else {
            return Ok(out);
        };
        let wanted: HashMap<String, Period> = periods.iter().map(|p| (p.id(), *p)).collect();
        let lo = periods.iter().map(|p| p.start_day()).min().unwrap_or(0);
        let hi = periods.iter().map(|p| p.start_day()).max().unwrap_or(0);
        let mut stmt = self.conn.prepare_cached(
            "SELECT period, segment, kpi, value, n, ci_low, ci_high, se, reason, pending FROM kpi_cache
             WHERE cadence = ?1 AND start_day >= ?2 AND start_day <= ?3",
        )?;
        let mut rows = stmt.query(params![cadence.as_str(), lo, hi])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let Some(p) = wanted.get(&id) else { continue };
            let ci: (Option<f64>, Option<f64>) = (r.get(5)?, r.get(6)?);
            let v = KpiValue {
                value: r.get(3)?,
                n: r.get::<_, Option<i64>>(4)?.map(|n| n as u64),
                ci95: ci.0.zip(ci.1),
                se: r.get(7)?,
                reason: r.get(8)?,
                pending: r.get::<_, Option<i64>>(9)?.map(|n| n as u64),
            };
            out.entry(*p)
                .or_default()
                .entry(r.get(1)?)
                .or_default()
                .insert(r.get(2)?, v);
        }
        Ok(out)
    }
}
