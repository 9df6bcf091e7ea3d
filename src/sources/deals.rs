//! deals.csv: the sales pipeline. A deal is open, won or lost (a CRM's own
//! stages are mapped in `[import.deals] stages`); won and lost deals carry
//! their close date, open ones none.
use super::ColumnType::{Date, Decimal, Text};
use super::{id, opt, req, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Deals;

const COLUMNS: &[Column] = &[
    id("deal_id"),
    req("created_on", Date),
    req("stage", Text),
    opt("closed_on", Date),
    opt("amount", Decimal),
    opt("customer_id", Text),
    opt("owner", Text),
];

const DESCRIPTION: Description = Description::new(FileKind::Deals, COLUMNS)
    .dated("created_day", 3)
    .unknown_customers("closed_day");

impl Source for Deals {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("deal_id");
        let created = c.date("created_on", ctx);
        let stage = c.get("stage").and_then(|s| map_stage(s, c, ctx));
        let closed = c.date("closed_on", ctx);
        let amount = c.number("amount", ctx);
        match (stage, closed) {
            (Some("open"), Some(d)) => {
                c.fail_at("closed_on", format!("{d} is set on an open deal (an open deal has no close date; is the stage right?)"));
            }
            (Some(s @ ("won" | "lost")), None)
                if c.errors.iter().all(|e| !e.reason.starts_with("closed_on")) =>
            {
                let p = c.column_of("closed_on").or(c.column_of("stage"));
                c.fail(p, "closed_on", format!("required when the deal is {s}"));
            }
            _ => {}
        }
        if let (Some(cr), Some(cl)) = (created, closed) {
            if cl < cr {
                c.fail_at("closed_on", format!("{cl} is before created_on {cr}"));
            }
        }
        if amount.is_some_and(|a| a < 0.0) {
            c.fail_at("amount", "must not be negative".into());
        }
        vec![
            Field::text(id),
            Field::date(created),
            Field::text(stage.map(str::to_string)),
            Field::date(closed),
            Field::real(amount),
            Field::text(c.text("customer_id")),
            Field::text(c.text("owner")),
        ]
    }
}

/// Maps a CRM stage to open / won / lost.
fn map_stage(raw: &str, c: &mut Cells, ctx: &RuleCtx) -> Option<&'static str> {
    let key = raw.to_lowercase();
    let canonical = |s: &str| match s {
        "open" => Some("open"),
        "won" => Some("won"),
        "lost" => Some("lost"),
        _ => None,
    };
    if let Some(mapped) = ctx.stages.get(&key) {
        return canonical(mapped);
    }
    if let Some(s) = canonical(&key) {
        return Some(s);
    }
    if !ctx.stages.is_empty() {
        // With a stage mapping, every other stage is an open deal.
        return Some("open");
    }
    c.fail_at("stage", format!("unknown stage '{raw}' (expected open, won or lost; map your CRM's stages in [import.deals] stages)"));
    None
}
