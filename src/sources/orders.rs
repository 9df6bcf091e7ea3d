//! orders.csv: revenue. An amount may be negative (a refund); a cost, when
//! given, may not.
use super::ColumnType::{Date, Decimal, Text};
use super::{id, opt, req, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Orders;

const COLUMNS: &[Column] = &[
    id("order_id"),
    req("customer_id", Text),
    req("ordered_on", Date),
    req("amount", Decimal),
    opt("cost", Decimal),
];

const DESCRIPTION: Description = Description::new(FileKind::Orders, COLUMNS)
    .dated("ordered_day", 0)
    .unknown_customers("ordered_day")
    .with_segment_cells("order_attributes");

impl Source for Orders {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("order_id");
        let customer = c.text("customer_id");
        let ordered = c.date("ordered_on", ctx);
        let amount = c.number("amount", ctx);
        let cost = c.amount("cost", ctx);
        vec![
            Field::text(id),
            Field::text(customer),
            Field::date(ordered),
            Field::real(amount),
            Field::real(cost),
        ]
    }
}
