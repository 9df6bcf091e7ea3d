//! activities.csv: calls, meetings, emails… Each distinct kind becomes a KPI
//! (`activities.<kind>`), so the file adds to the catalogue as it grows.
use super::ColumnType::{Date, Text};
use super::{id, opt, req, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Activities;

const COLUMNS: &[Column] = &[
    id("activity_id"),
    req("occurred_on", Date),
    req("kind", Text),
    opt("owner", Text),
    opt("customer_id", Text),
];

const DESCRIPTION: Description = Description::new(FileKind::Activities, COLUMNS)
    .dated("occurred_day", 4)
    .with_segment_cells("activity_attributes");

impl Source for Activities {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("activity_id");
        let occurred = c.date("occurred_on", ctx);
        let kind = c.text("kind");
        vec![
            Field::text(id),
            Field::date(occurred),
            Field::text(kind),
            Field::text(c.text("owner")),
            Field::text(c.text("customer_id")),
        ]
    }
}
