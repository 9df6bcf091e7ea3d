//! The machine-readable outputs of a period: `kpis.json` (schema
//! `scorecard.kpis/1`, cli-and-outputs.md) and `kpis.csv`. Numbers are not
//! rounded here; rounding is for the rendered reports.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::compare::{Compared, Comparison};
use crate::model::DataQuality;
use crate::period::Period;

// kpis.json is written straight from these structs (no `serde_json::Value`
// tree). Their fields are in the byte order of their names, the order the
// document has always had (it was a tree of sorted maps), and a float that
// is not finite is `null` there as it was in the tree: serde_json writes a
// non-finite f64 as `null`.

#[derive(Serialize)]
struct Doc<'a> {
    as_of: BTreeMap<&'a str, &'a str>,
    data_quality: QualityJson,
    kpis: Vec<KpiJson<'a>>,
    period: PeriodJson,
    schema: &'static str,
    timezone: &'a str,
}

#[derive(Serialize)]
struct QualityJson {
    deals_created_after_close: u64,
    open_deals_close_date_ignored: u64,
}

#[derive(Serialize)]
struct PeriodJson {
    cadence: &'static str,
    end: String,
    id: String,
    start: String,
}

#[derive(Serialize)]
struct KpiJson<'a> {
    category: &'static str,
    ci95: Option<(f64, f64)>,
    direction: &'static str,
    id: &'a str,
    industry: Option<ComparisonJson<'a>>,
    n: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending: Option<u64>,
    previous: Option<ComparisonJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provisional: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    segment: Option<&'a str>,
    status: &'static str,
    target: Option<ComparisonJson<'a>>,
    trailing_avg: Option<ComparisonJson<'a>>,
    unit: &'static str,
    unusual: Option<bool>,
    usual: Option<(f64, f64)>,
    value: Option<f64>,
    year_ago: Option<ComparisonJson<'a>>,
}

#[derive(Serialize)]
struct ComparisonJson<'a> {
    delta: Option<f64>,
    delta_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    significant: Option<Option<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    year: Option<i32>,
}

fn comparison_json(c: &Option<Comparison>) -> Option<ComparisonJson<'_>> {
    c.as_ref().map(|c| ComparisonJson {
        delta: c.delta,
        delta_pct: c.delta_pct,
        significant: c.significant,
        source: c.source.as_deref(),
        value: c.value,
        year: c.year,
    })
}

/// `kpis.json` of one period: every KPI of the whole business and of every segment.
pub fn kpis_json(
    period: Period,
    timezone: &str,
    rows: &[Compared],
    quality: &DataQuality,
) -> String {
    let kpis = rows
        .iter()
        .map(|r| KpiJson {
            category: r.info.category.as_str(),
            ci95: r.current.ci95,
            direction: r.info.direction.as_str(),
            id: &r.info.id,
            industry: comparison_json(&r.industry),
            n: r.current.n,
            pending: r.current.pending,
            previous: comparison_json(&r.previous),
            provisional: r.current.pending.map(|p| p > 0),
            reason: r.current.reason.as_deref(),
            segment: (!r.segment.is_empty()).then_some(r.segment.as_str()),
            status: r.status.as_str(),
            target: comparison_json(&r.target),
            trailing_avg: comparison_json(&r.trailing_avg),
            unit: r.info.unit.as_str(),
            unusual: r.unusual,
            usual: r.usual,
            value: r.current.value,
            year_ago: comparison_json(&r.year_ago),
        })
        .collect();
    let doc = Doc {
        // A map: one entry per file, the last one given winning.
        as_of: quality
            .as_of
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect(),
        data_quality: QualityJson {
            deals_created_after_close: quality.created_after_close,
            open_deals_close_date_ignored: quality.close_dates_ignored,
        },
        kpis,
        period: PeriodJson {
            cadence: period.cadence.as_str(),
            end: period.end().to_string(),
            id: period.id(),
            start: period.start.to_string(),
        },
        schema: "scorecard.kpis/1",
        timezone,
    };
    let mut out = Vec::with_capacity(1200 * rows.len() + 1000);
    serde_json::to_writer_pretty(&mut out, &doc).expect("JSON of plain values");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// `n` in decimal, in `buf`.
fn itoa(buf: &mut String, n: u64) -> &str {
    use std::fmt::Write;
    buf.clear();
    let _ = write!(buf, "{n}");
    buf
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
    // One record and one number buffer for every row (no String per cell).
    let mut rec = csv::StringRecord::new();
    let (mut num, mut count) = (String::new(), String::new());
    let id = period.id();
    for r in rows {
        use std::fmt::Write;
        rec.clear();
        let mut f = |rec: &mut csv::StringRecord, x: Option<f64>| {
            num.clear();
            if let Some(v) = x {
                let _ = write!(num, "{v}");
            }
            rec.push_field(&num);
        };
        // Text cells come from the CRM (segment values, activity kinds): no
        // cell may start a spreadsheet formula.
        let text = |rec: &mut csv::StringRecord, s: &str| {
            rec.push_field(&crate::escape::csv_cell(s));
        };
        rec.push_field(&id);
        text(&mut rec, &r.segment);
        text(&mut rec, &r.info.id);
        text(&mut rec, &r.info.title);
        rec.push_field(r.info.unit.as_str());
        f(&mut rec, r.current.value);
        match r.current.n {
            Some(n) => rec.push_field(itoa(&mut count, n)),
            None => rec.push_field(""),
        }
        f(&mut rec, r.current.ci95.map(|c| c.0));
        f(&mut rec, r.current.ci95.map(|c| c.1));
        f(&mut rec, r.previous.as_ref().map(|c| c.value));
        f(&mut rec, r.previous.as_ref().and_then(|c| c.delta));
        rec.push_field(
            match r.previous.as_ref().and_then(|c| c.significant.flatten()) {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            },
        );
        f(&mut rec, r.trailing_avg.as_ref().map(|c| c.value));
        f(&mut rec, r.year_ago.as_ref().map(|c| c.value));
        f(&mut rec, r.industry.as_ref().map(|c| c.value));
        f(&mut rec, r.target.as_ref().map(|c| c.value));
        rec.push_field(r.status.as_str());
        text(&mut rec, r.current.reason.as_deref().unwrap_or_default());
        f(&mut rec, r.usual.map(|u| u.0));
        f(&mut rec, r.usual.map(|u| u.1));
        rec.push_field(match r.unusual {
            Some(true) => "true",
            Some(false) => "false",
            None => "",
        });
        w.write_record(&rec)?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Status;
    use crate::config::Target;
    use crate::kpi::catalogue::{built_in, KpiInfo};
    use crate::model::KpiValue;

    /// kpis.json as it was built before: a `serde_json::Value` tree.
    mod tree {
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
    }

    fn comparison(value: f64, k: u32) -> Comparison {
        Comparison {
            value,
            delta: (!k.is_multiple_of(3)).then_some(value / 7.0 - 1.5),
            delta_pct: k.is_multiple_of(2).then_some(f64::from(k) * 1.0e-3 / 3.0),
            significant: match k % 4 {
                0 => None,
                1 => Some(None),
                2 => Some(Some(true)),
                _ => Some(Some(false)),
            },
            n: Some(u64::from(k)),
            source: (k % 5 == 1).then(|| format!("Survey \"{k}\" é")),
            year: (k % 5 == 1).then_some(2020 + k as i32),
        }
    }

    fn rows() -> Vec<Compared> {
        let ids = [
            "revenue",
            "nps",
            "churn_rate",
            "median_first_response_hours",
        ];
        let values = [
            Some(1234.5),
            None,
            Some(-0.0),
            Some(f64::NAN),
            Some(1.0e21),
            Some(0.1 + 0.2),
            Some(f64::INFINITY),
            Some(-3.0e-7),
        ];
        let mut out = Vec::new();
        for (k, v) in values.into_iter().enumerate() {
            let k = k as u32;
            let with = |i: u32| !(k + i).is_multiple_of(3);
            out.push(Compared {
                info: KpiInfo::from(built_in(ids[k as usize % ids.len()]).unwrap()),
                segment: ["", "region=EMEA", "plan=(none)", "=HYPERLINK(\"x,y\")"][k as usize % 4]
                    .into(),
                current: KpiValue {
                    value: v,
                    n: with(1).then_some(u64::from(k) * 1000),
                    ci95: with(2).then_some((f64::from(k) - 0.25, f64::from(k) / 3.0)),
                    se: Some(0.5),
                    reason: v.is_none().then(|| "no data: \"deals.csv\"\nnever".into()),
                    pending: [None, Some(0), Some(41)][k as usize % 3],
                },
                previous: with(0).then(|| comparison(100.0 + f64::from(k), k)),
                trailing_avg: with(1).then(|| comparison(f64::from(k) / 9.0, k + 1)),
                year_ago: with(2).then(|| comparison(-f64::from(k), k + 2)),
                industry: (!k.is_multiple_of(2)).then(|| comparison(42.0, 1)),
                target: k
                    .is_multiple_of(2)
                    .then(|| comparison(f64::from(k) * 1.1, k + 3)),
                target_spec: Target::default(),
                status: [Status::OnTrack, Status::AtRisk, Status::NoData][k as usize % 3],
                history: Vec::new(),
                usual: with(0).then_some((f64::from(k) * 0.3, 12.25)),
                unusual: [None, Some(true), Some(false)][k as usize % 3],
                outside: None,
            });
        }
        out
    }

    #[test]
    fn kpis_json_and_csv_written_directly_are_the_value_tree_and_string_cells_byte_for_byte() {
        let p = Period::parse("2025-W07").unwrap();
        let quality = DataQuality {
            as_of: vec![
                ("tickets.csv".into(), "2025-02-16T23:59:55Z".into()),
                ("orders.csv".into(), "2025-02-17T00:00:00Z".into()),
                // Twice: the last one given wins, as in a map.
                ("tickets.csv".into(), "2025-02-17T01:00:00Z".into()),
            ],
            close_dates_ignored: 3,
            created_after_close: 17,
            ..DataQuality::default()
        };
        let rows = rows();
        for n in [0, 1, rows.len()] {
            assert_eq!(
                kpis_json(p, "Europe/Paris", &rows[..n], &quality),
                tree::kpis_json(p, "Europe/Paris", &rows[..n], &quality),
                "{n} rows"
            );
            assert_eq!(
                kpis_csv(p, &rows[..n]).unwrap(),
                tree::kpis_csv(p, &rows[..n]).unwrap(),
                "{n} rows"
            );
        }
        let empty = DataQuality::default();
        assert_eq!(
            kpis_json(p, "UTC", &rows, &empty),
            tree::kpis_json(p, "UTC", &rows, &empty)
        );
    }
}
