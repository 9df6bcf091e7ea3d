//! spend.csv: what acquisition and the CRM cost. Spend has no customer: it
//! is segmented by its own attribute columns (every other column).
use super::ColumnType::{Date, Decimal, Text};
use super::{id, req, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Spend;

const COLUMNS: &[Column] = &[
    id("spend_id"),
    req("spent_on", Date),
    req("category", Text),
    req("amount", Decimal),
];

/// The spend categories (marketing and sales are acquisition spend).
const CATEGORIES: [&str; 4] = ["marketing", "sales", "crm", "other"];

const DESCRIPTION: Description = Description::new(FileKind::Spend, COLUMNS).keeping_attributes();

impl Source for Spend {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("spend_id");
        let spent = c.date("spent_on", ctx);
        let category = c.get("category").map(str::to_lowercase);
        if let Some(cat) = &category {
            if !CATEGORIES.contains(&cat.as_str()) {
                c.fail_at(
                    "category",
                    format!(
                        "unknown spend category '{cat}' (expected marketing, sales, crm or other)"
                    ),
                );
            }
        }
        let amount = c.amount("amount", ctx);
        vec![
            Field::text(id),
            Field::date(spent),
            Field::text(category),
            Field::real(amount),
        ]
    }
}
