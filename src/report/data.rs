//! The machine-readable outputs of a period: `kpis.json` (schema
//! `scorecard.kpis/1`, cli-and-outputs.md) and `kpis.csv`. Numbers are not
//! rounded here; rounding is for the rendered reports.
use serde_json::{json, Map, Value};

use crate::compare::{Compared, Comparison};
use crate::model::DataQuality;
use crate::period::Period;

fn number(x: Option<f64>) -> Value {
    x.map(|v| json!(v)).unwrap_or(Value::Null)
}

fn comparison_json(c: &Option<Comparison>) -> Value {
    let Some(c) = c else { return Value::Null };
    let mut m = Map::new();
    m.insert("value".into(), json!(c.value));
    m.insert("delta".into(), number(c.delta));
    m.insert("delta_pct".into(), number(c.delta_pct));
    if let Some(sig) = c.significant {
        m.insert(
            "significant".into(),
            sig.map(Value::Bool).unwrap_or(Value::Null),
        );
    }
    if let Some(s) = &c.source {
        m.insert("source".into(), json!(s));
    }
    if let Some(y) = c.year {
        m.insert("year".into(), json!(y));
    }
    Value::Object(m)
}

/// `kpis.json` of one period: every KPI of the whole business and of every segment.
pub fn kpis_json(
    period: Period,
    timezone: &str,
    rows: &[Compared],
    quality: &DataQuality,
) -> String {
    let kpis: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("id".into(), json!(r.info.id));
            m.insert(
                "segment".into(),
                if r.segment.is_empty() {
                    Value::Null
                } else {
                    json!(r.segment)
                },
            );
            m.insert("value".into(), number(r.current.value));
            m.insert(
                "n".into(),
                r.current.n.map(|n| json!(n)).unwrap_or(Value::Null),
            );
            m.insert(
                "ci95".into(),
                r.current
                    .ci95
                    .map(|(lo, hi)| json!([lo, hi]))
                    .unwrap_or(Value::Null),
            );
            m.insert("unit".into(), json!(r.info.unit.as_str()));
            m.insert("direction".into(), json!(r.info.direction.as_str()));
            m.insert("category".into(), json!(r.info.category.as_str()));
            m.insert("previous".into(), comparison_json(&r.previous));
            m.insert("trailing_avg".into(), comparison_json(&r.trailing_avg));
            m.insert("year_ago".into(), comparison_json(&r.year_ago));
            m.insert("industry".into(), comparison_json(&r.industry));
            m.insert("target".into(), comparison_json(&r.target));
            m.insert(
                "usual".into(),
                r.usual
                    .map(|(lo, hi)| json!([lo, hi]))
                    .unwrap_or(Value::Null),
            );
            m.insert(
                "unusual".into(),
                r.unusual.map(Value::Bool).unwrap_or(Value::Null),
            );
            m.insert("status".into(), json!(r.status.as_str()));
            if let Some(p) = r.current.pending {
                m.insert("pending".into(), json!(p));
                m.insert("provisional".into(), json!(p > 0));
            }
            if let Some(reason) = &r.current.reason {
                m.insert("reason".into(), json!(reason));
            }
            Value::Object(m)
        })
        .collect();
    let doc = json!({
        "schema": "scorecard.kpis/1",
        "period": {
            "id": period.id(),
            "cadence": period.cadence.as_str(),
            "start": period.start.to_string(),
            "end": period.end().to_string(),
        },
        "timezone": timezone,
        "as_of": quality.as_of.iter().map(|(f, t)| (f.clone(), json!(t))).collect::<Map<String, Value>>(),
        "data_quality": {
            "open_deals_close_date_ignored": quality.close_dates_ignored,
            "deals_created_after_close": quality.created_after_close,
        },
        "kpis": kpis,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    text.push('\n');
    text
}

/// `kpis.csv`: one row per KPI × segment.
pub fn kpis_csv(period: Period, rows: &[Compared]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "period",
        "segment",
        "kpi",
        "title",
        "unit",
        "value",
        "n",
        "ci95_low",
        "ci95_high",
        "previous",
        "delta_previous",
        "significant",
        "trailing_avg",
        "year_ago",
        "industry",
        "target",
        "status",
        "reason",
        "usual_low",
        "usual_high",
        "unusual",
    ])?;
    let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        // Text cells come from the CRM (segment values, activity kinds): no
        // cell may start a spreadsheet formula.
        let text = |s: &str| crate::escape::csv_cell(s).into_owned();
        w.write_record([
            period.id(),
            text(&r.segment),
            text(&r.info.id),
            text(&r.info.title),
            r.info.unit.as_str().to_string(),
            f(r.current.value),
            r.current.n.map(|n| n.to_string()).unwrap_or_default(),
            f(r.current.ci95.map(|c| c.0)),
            f(r.current.ci95.map(|c| c.1)),
            f(r.previous.as_ref().map(|c| c.value)),
            f(r.previous.as_ref().and_then(|c| c.delta)),
            r.previous
                .as_ref()
                .and_then(|c| c.significant.flatten())
                .map(|b| b.to_string())
                .unwrap_or_default(),
            f(r.trailing_avg.as_ref().map(|c| c.value)),
            f(r.year_ago.as_ref().map(|c| c.value)),
            f(r.industry.as_ref().map(|c| c.value)),
            f(r.target.as_ref().map(|c| c.value)),
            r.status.as_str().to_string(),
            text(r.current.reason.as_deref().unwrap_or_default()),
            f(r.usual.map(|u| u.0)),
            f(r.usual.map(|u| u.1)),
            r.unusual.map(|b| b.to_string()).unwrap_or_default(),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
