//! customers.csv: who the customers are, when they came and left, and their
//! segment attributes (every other column). Read first, so that the other
//! files' rows find their customer's segments.
use super::ColumnType::Date;
use super::{id, opt, req, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Customers;

const COLUMNS: &[Column] = &[
    id("customer_id"),
    req("acquired_on", Date),
    opt("churned_on", Date),
];

const DESCRIPTION: Description =
    Description::new(FileKind::Customers, COLUMNS).keeping_attributes();

impl Source for Customers {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("customer_id");
        let acquired = c.date("acquired_on", ctx);
        let churned = c.date("churned_on", ctx);
        if let (Some(a), Some(ch)) = (acquired, churned) {
            if ch < a {
                c.fail_at("churned_on", format!("{ch} is before acquired_on {a}"));
            }
        }
        vec![Field::text(id), Field::date(acquired), Field::date(churned)]
    }
}
