//! The figures built on top of the cached ones, per run: measured values
//! from measures.csv override computed ones, then custom KPIs (formulas and
//! SQL) and the CRM ROI KPIs are derived for every period and segment.
use std::collections::BTreeMap;

use anyhow::{Context, Result};

use super::engine::{KpiValue, PeriodValues, WHOLE};

/// The reason carried by a value that measures.csv supplied.
const MEASURED: &str = "measured: from measures.csv";
use crate::config::{Config, CustomBody};
use crate::period::Period;
use crate::store::Store;

pub fn apply(
    store: &Store,
    config: &Config,
    values: &mut BTreeMap<Period, PeriodValues>,
) -> Result<()> {
    apply_measures(store, config, values)?;
    for (period, by_segment) in values.iter_mut() {
        for (segment, kpis) in by_segment.iter_mut() {
            derive_custom(store, config, *period, segment, kpis)?;
            derive_roi(config, kpis);
        }
    }
    Ok(())
}

/// `measures.csv` values replace the computed ones of their period and segment.
fn apply_measures(
    store: &Store,
    config: &Config,
    values: &mut BTreeMap<Period, PeriodValues>,
) -> Result<()> {
    let rows = store
        .reader()
        .rows("SELECT period, kpi, segment, value FROM measures", [])?;
    let by_id: BTreeMap<String, Period> = values.keys().map(|p| (p.id(), *p)).collect();
    for r in &rows {
        let id: String = r.get(0)?;
        let Some(period) = by_id.get(&id) else {
            continue;
        };
        let kpi: String = r.get(1)?;
        let segment: String = r.get(2)?;
        // Segment strings use the attribute name as configured.
        let segment = match segment.split_once('=') {
            Some((attr, value)) => {
                let attr = attr.trim();
                let name = config
                    .segment_attrs()
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(attr))
                    .map(String::as_str)
                    .unwrap_or(attr);
                format!("{name}={}", value.trim())
            }
            None => WHOLE.to_string(),
        };
        let value: f64 = r.get(3)?;
        let by_segment = values.get_mut(period).expect("period from the map");
        by_segment.entry(segment).or_default().insert(
            kpi,
            KpiValue {
                value: Some(value),
                reason: Some(MEASURED.into()),
                ..Default::default()
            },
        );
    }
    Ok(())
}

fn derive_custom(
    store: &Store,
    config: &Config,
    period: Period,
    segment: &str,
    kpis: &mut BTreeMap<String, KpiValue>,
) -> Result<()> {
    // Custom KPIs may refer to each other: evaluate in order until nothing
    // changes (at most one round per custom KPI).
    for _ in 0..config.custom_kpis.len().max(1) {
        let mut changed = false;
        for c in &config.custom_kpis {
            if kpis
                .get(&c.id)
                .is_some_and(|v| v.reason.as_deref() == Some(MEASURED))
            {
                continue;
            }
            let v = match &c.body {
                CustomBody::Formula(expr) => {
                    let lookup = |id: &str| kpis.get(id).and_then(|v| v.value);
                    match expr.eval(&lookup) {
                        Some(x) => KpiValue::of(x),
                        None => {
                            KpiValue::null("an input of the formula is null, or a division by zero")
                        }
                    }
                }
                CustomBody::Sql(sql) => {
                    let (attr, value) = match segment.split_once('=') {
                        Some((a, v)) => (Some(a.to_string()), Some(v.to_string())),
                        None => (None, None),
                    };
                    let start = period.start.to_string();
                    let end = period.end().to_string();
                    let named = [
                        (":start", Some(start)),
                        (":end", Some(end)),
                        (":segment_attr", attr),
                        (":segment_value", value),
                    ];
                    let (numbered, args) = number_named(sql, &named);
                    let x: Option<f64> = store
                        .reader()
                        .query_row(&numbered, args, |r| r.get(0))
                        .with_context(|| format!("custom KPI {}: the SQL failed", c.id))?;
                    match x.filter(|x| x.is_finite()) {
                        Some(x) => KpiValue::of(x),
                        None => KpiValue::null("the SQL returned no number"),
                    }
                }
            };
            if kpis.get(&c.id) != Some(&v) {
                kpis.insert(c.id.clone(), v);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    Ok(())
}

/// crm_value_realized, crm_roi and crm_roi_projected (kpis.md).
fn derive_roi(config: &Config, kpis: &mut BTreeMap<String, KpiValue>) {
    if config.objectives.is_empty() {
        return;
    }
    let mut realized = 0.0;
    let mut known = 0;
    for o in &config.objectives {
        if let Some(actual) = kpis.get(&o.kpi).and_then(|v| v.value) {
            let share = ((actual - o.baseline) / (o.target - o.baseline)).clamp(0.0, 1.0);
            realized += o.value * share;
            known += 1;
        }
    }
    let projected: f64 = config.objectives.iter().map(|o| o.value).sum();
    let realized_v = if known == 0 {
        KpiValue::null("no objective's KPI has a value in this period")
    } else {
        KpiValue::of(realized)
    };
    let crm_cost = kpis
        .get("crm_cost")
        .cloned()
        .unwrap_or_else(|| KpiValue::null("no CRM cost"));
    let roi = |value: Option<f64>| match (value, crm_cost.value) {
        (Some(v), Some(c)) if c > 0.0 => KpiValue::of(100.0 * (v - c) / c),
        (_, Some(_)) => KpiValue::null("no CRM cost in the period"),
        (None, _) => KpiValue::null("no objective's KPI has a value in this period"),
        (_, None) => KpiValue::null(
            crm_cost
                .reason
                .clone()
                .unwrap_or_else(|| "CRM cost unknown".into()),
        ),
    };
    kpis.insert("crm_roi".into(), roi(realized_v.value));
    kpis.insert("crm_roi_projected".into(), roi(Some(projected)));
    kpis.insert("crm_value_realized".into(), realized_v);
}

/// A custom KPI's named parameters (`:start`, `:end`, `:segment_attr`,
/// `:segment_value`) as numbered ones (`?1`…, in order of first use), with
/// the values of those it uses: the same SQL then runs on SQLite and
/// PostgreSQL. Names inside quotes are left alone.
fn number_named(
    sql: &str,
    named: &[(&str, Option<String>)],
) -> (String, Vec<rusqlite::types::Value>) {
    let mut out = String::with_capacity(sql.len());
    let mut used: Vec<usize> = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    let bytes = sql.as_bytes();
    while i < sql.len() {
        let c = sql[i..].chars().next().unwrap_or(' ');
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == ':' && bytes.get(i + 1) != Some(&b':') && (i == 0 || bytes[i - 1] != b':') {
            let found = named.iter().enumerate().find(|(_, (name, _))| {
                sql[i..].starts_with(name)
                    && !sql[i + name.len()..]
                        .chars()
                        .next()
                        .is_some_and(|n| n.is_ascii_alphanumeric() || n == '_')
            });
            if let Some((k, (name, _))) = found {
                let pos = match used.iter().position(|u| *u == k) {
                    Some(p) => p,
                    None => {
                        used.push(k);
                        used.len() - 1
                    }
                };
                out.push_str(&format!("?{}", pos + 1));
                i += name.len();
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    let values = used
        .iter()
        .map(|k| match &named[*k].1 {
            Some(v) => rusqlite::types::Value::Text(v.clone()),
            None => rusqlite::types::Value::Null,
        })
        .collect();
    (out, values)
}

#[cfg(test)]
mod named_tests {
    #[test]
    fn named_parameters_become_numbered_ones_in_order_of_use() {
        let named = [
            (":start", Some("a".to_string())),
            (":end", Some("b".to_string())),
            (":segment_attr", None),
        ];
        let (sql, values) = super::number_named(
            "SELECT x::real FROM t WHERE d < :end AND d >= :start AND e < :end AND s = ':start'",
            &named,
        );
        assert_eq!(
            sql,
            "SELECT x::real FROM t WHERE d < ?1 AND d >= ?2 AND e < ?1 AND s = ':start'"
        );
        assert_eq!(values.len(), 2);
    }
}
