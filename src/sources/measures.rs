//! measures.csv: figures measured elsewhere (a survey tool's NPS, a finance
//! system's revenue) that replace the computed ones of their period and
//! segment. Keyed by (period, KPI, segment); feeds no KPI of its own.
use super::ColumnType::{Decimal, Text};
use super::{key, req, Cells, Column, Description, Field, FileKind, RuleCtx, Source};
use crate::period::Period;

pub struct Measures;

const COLUMNS: &[Column] = &[
    key("period", Text, true),
    key("kpi", Text, true),
    req("value", Decimal),
    key("segment", Text, false),
];

const DESCRIPTION: Description = Description::new(FileKind::Measures, COLUMNS);

impl Source for Measures {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let period = c.parsed("period", Period::parse);
        let kpi = c.text("kpi");
        if let Some(k) = &kpi {
            if !(ctx.known_kpi)(k) {
                c.fail_at("kpi", format!("unknown KPI '{k}' (see `scorecard kpis`)"));
            }
        }
        let value = c.number("value", ctx);
        let segment = c.text("segment");
        if let Some(s) = &segment {
            if !s
                .split_once('=')
                .is_some_and(|(a, v)| !a.trim().is_empty() && !v.trim().is_empty())
            {
                c.fail_at(
                    "segment",
                    format!("'{s}' is not attribute=value (e.g. region=EMEA)"),
                );
            }
        }
        vec![
            Field::text(period.map(|p| p.id())),
            Field::text(kpi),
            Field::real(value),
            Field::text(segment),
        ]
    }
}
