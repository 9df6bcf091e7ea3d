//! `[kpi.<id>]` and `[[objective]]`: targets of catalogue KPIs, custom KPIs
//! (a formula over other KPIs, or one SELECT), and objectives that put a
//! value on moving a KPI. Both refer to KPI ids, so both are checked here,
//! against the catalogue and the custom ids.
use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::{ConfigError, Source};
use crate::catalogue::{self, Category, Direction, Unit};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawKpi {
    target: Option<f64>,
    stretch: Option<f64>,
    floor: Option<f64>,
    // Custom KPIs (kpis.md "Custom KPIs"): a `[kpi.<id>]` table with formula or sql.
    title: Option<String>,
    formula: Option<String>,
    sql: Option<String>,
    unit: Option<String>,
    direction: Option<String>,
    category: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObjective {
    name: String,
    kpi: String,
    baseline: f64,
    target: f64,
    value: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub target: Option<f64>,
    pub stretch: Option<f64>,
    pub floor: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct CustomKpi {
    pub id: String,
    pub title: String,
    pub body: CustomBody,
    pub unit: Unit,
    pub direction: Direction,
    pub category: Category,
}

#[derive(Debug, Clone)]
pub enum CustomBody {
    Formula(crate::formula::Expr),
    Sql(String),
}

#[derive(Debug, Clone)]
pub struct Objective {
    pub name: String,
    pub kpi: String,
    pub baseline: f64,
    pub target: f64,
    pub value: f64,
}

/// Targets (only of KPIs that have one) and custom KPIs, formulas checked
/// to refer to known KPIs and not to themselves.
pub(super) fn check(
    raw: &BTreeMap<String, RawKpi>,
    src: &Source<'_>,
) -> Result<(BTreeMap<String, Target>, Vec<CustomKpi>), ConfigError> {
    let mut targets = BTreeMap::new();
    let mut custom_kpis = Vec::new();
    for (id, k) in raw {
        let section = format!("kpi.{id}");
        if k.formula.is_some() || k.sql.is_some() {
            custom_kpis.push(custom(id, k, &section, src)?);
        } else if k.title.is_some()
            || k.unit.is_some()
            || k.direction.is_some()
            || k.category.is_some()
        {
            return Err(src.invalid(&section, "title", "title, unit, direction and category are only for custom KPIs (with formula or sql)"));
        } else if !catalogue::is_known_static(id) {
            return Err(src.invalid(
                &section,
                "target",
                format!(
                    "unknown KPI '{id}' (see `scorecard kpis`; a custom KPI needs formula or sql)"
                ),
            ));
        }
        let t = Target {
            target: k.target,
            stretch: k.stretch,
            floor: k.floor,
        };
        if t != Target::default() {
            targets.insert(id.clone(), t);
        }
    }
    let custom_ids: Vec<&str> = custom_kpis.iter().map(|c| c.id.as_str()).collect();
    for c in &custom_kpis {
        let CustomBody::Formula(expr) = &c.body else {
            continue;
        };
        let section = format!("kpi.{}", c.id);
        for v in expr.variables() {
            if !catalogue::is_known_static(&v) && !custom_ids.contains(&v.as_str()) {
                return Err(src.invalid(
                    &section,
                    "formula",
                    format!("unknown KPI '{v}' in the formula"),
                ));
            }
            if v == c.id {
                return Err(src.invalid(&section, "formula", "a KPI cannot refer to itself"));
            }
        }
    }
    Ok((targets, custom_kpis))
}

/// One custom KPI: its id, its body (formula or SELECT) and its metadata.
fn custom(id: &str, k: &RawKpi, section: &str, src: &Source<'_>) -> Result<CustomKpi, ConfigError> {
    let err = |key: &str, msg: String| src.invalid(section, key, msg);
    if catalogue::is_known_static(id) {
        return Err(err(
            "formula",
            format!("'{id}' is a built-in KPI; give the custom KPI another id"),
        ));
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(err(
            "formula",
            format!("'{id}': custom KPI ids use letters, digits and _"),
        ));
    }
    let body = match (&k.formula, &k.sql) {
        (Some(f), None) => {
            CustomBody::Formula(crate::formula::Expr::parse(f).map_err(|e| err("formula", e))?)
        }
        (None, Some(s)) => {
            let lower = s.trim_start().to_ascii_lowercase();
            if !(lower.starts_with("select") || lower.starts_with("with")) {
                return Err(err("sql", "must be one SELECT statement".into()));
            }
            CustomBody::Sql(s.clone())
        }
        _ => return Err(err("sql", "give either formula or sql, not both".into())),
    };
    let unit = match &k.unit {
        Some(u) => Unit::parse(u).ok_or_else(|| {
            err(
                "unit",
                format!("unknown unit '{u}' (count, percent, currency, hours, days, score, ratio)"),
            )
        })?,
        None => Unit::Ratio,
    };
    let direction = match k.direction.as_deref() {
        None | Some("higher") => Direction::Higher,
        Some("lower") => Direction::Lower,
        Some(o) => {
            return Err(err(
                "direction",
                format!("'{o}' (expected higher or lower)"),
            ))
        }
    };
    let category = match &k.category {
        Some(c) => parse_category(c).map_err(|m| err("category", m))?,
        None => Category::Outcome,
    };
    Ok(CustomKpi {
        id: id.to_string(),
        title: k.title.clone().unwrap_or_else(|| id.replace('_', " ")),
        body,
        unit,
        direction,
        category,
    })
}

/// A KPI category by name, or the sentence that says which names there are.
pub(super) fn parse_category(name: &str) -> Result<Category, String> {
    Category::parse(name)
        .ok_or_else(|| format!("'{name}' (expected input, process, output or outcome)"))
}

/// `[[objective]]` entries: a known KPI, a target other than the baseline,
/// a non-negative value.
pub(super) fn objectives(
    raw: Vec<RawObjective>,
    custom_kpis: &[CustomKpi],
    src: &Source<'_>,
) -> Result<Vec<Objective>, ConfigError> {
    let mut objectives = Vec::new();
    for o in raw {
        let problem =
            if !catalogue::is_known_static(&o.kpi) && !custom_kpis.iter().any(|c| c.id == o.kpi) {
                Some(format!("unknown KPI '{}' (see `scorecard kpis`)", o.kpi))
            } else if o.target == o.baseline {
                Some("target equals baseline; nothing to realize".to_string())
            } else if !(o.value.is_finite() && o.value >= 0.0) {
                Some("value must be a non-negative amount".to_string())
            } else {
                None
            };
        if let Some(message) = problem {
            return Err(ConfigError::Objective {
                file: src.name.clone(),
                name: o.name,
                message,
            });
        }
        objectives.push(Objective {
            name: o.name,
            kpi: o.kpi,
            baseline: o.baseline,
            target: o.target,
            value: o.value,
        });
    }
    Ok(objectives)
}
