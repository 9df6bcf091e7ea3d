//! deals.csv: the sales pipeline. A deal is open, won or lost (a CRM's own
//! stages are mapped in `[import.deals] stages`, or read from boolean
//! columns with `stage_from`); won and lost deals carry their close date. An
//! open deal's close date (CRMs write the expected one) is ignored, and a
//! closed deal created after its close (a migrated record) is kept; both
//! are noted for the import summary.
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
    .unknown_customers("closed_day")
    .with_segment_cells("deal_attributes");

impl Source for Deals {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("deal_id");
        let created = c.date("created_on", ctx);
        let stage_raw = c.get("stage");
        let stage = match ctx.stage_from {
            Some(sf) => stage_from_booleans(sf, c),
            None => stage_raw.and_then(|s| map_stage(s, c, ctx)),
        };
        if let Some(s) = stage {
            c.notes.stage = Some((stage_raw.unwrap_or(s).to_string(), s));
        }
        let mut closed = c.date("closed_on", ctx);
        let amount = c.number("amount", ctx);
        match (stage, closed) {
            (Some("open"), Some(_)) => {
                closed = None;
                c.notes.close_date_ignored = true;
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
            // Kept, counted by its close date, left out of the sales cycle.
            c.notes.closed_before_created = cl < cr;
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

/// A boolean as CRMs write them; empty is false.
fn parse_bool(cell: &str) -> Result<bool, ()> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "t" | "x" => Ok(true),
        "false" | "0" | "no" | "n" | "f" | "" => Ok(false),
        _ => Err(()),
    }
}

/// Won / lost / open from the mapping's boolean columns: won when `won` is
/// true, lost when `lost` (or `closed`) is, open otherwise.
fn stage_from_booleans(sf: &super::StageFrom, c: &mut Cells) -> Option<&'static str> {
    let read = |h: &Option<String>, c: &mut Cells| -> Option<Option<bool>> {
        let Some(h) = h else { return Some(None) };
        let (pos, cell) = c.extra(h, "stage_from");
        match cell.map(parse_bool) {
            None => Some(Some(false)),
            Some(Ok(b)) => Some(Some(b)),
            Some(Err(())) => {
                c.fail(
                    pos,
                    "stage_from",
                    format!(
                        "'{h}' is '{}', not true or false (expected true/false, 1/0, yes/no or empty)",
                        cell.unwrap_or_default()
                    ),
                );
                None
            }
        }
    };
    let won = read(&sf.won, c)?;
    let closed = read(&sf.closed, c)?;
    let lost = read(&sf.lost, c)?;
    Some(match (won, closed, lost) {
        (Some(true), _, _) => "won",
        (_, _, Some(true)) => "lost",
        (_, Some(true), _) => "lost",
        _ => "open",
    })
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
