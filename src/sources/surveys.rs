//! surveys.csv: NPS (0..10) and CSAT (1..5) responses, with an optional
//! comment that reports quote (escaped) as the voice of the customer.
use super::ColumnType::{Date, Integer, Text};
use super::{id, opt, req, values, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Surveys;

const COLUMNS: &[Column] = &[
    id("response_id"),
    req("answered_on", Date),
    req("kind", Text),
    req("score", Integer),
    opt("customer_id", Text),
    opt("comment", Text),
];

const DESCRIPTION: Description = Description::new(FileKind::Surveys, COLUMNS)
    .dated("answered_day", 2)
    .unknown_customers("answered_day")
    .with_segment_cells("survey_attributes");

impl Source for Surveys {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("response_id");
        let answered = c.date("answered_on", ctx);
        let kind = c.get("kind").map(str::to_lowercase);
        let score = c.parsed("score", values::parse_integer);
        let range = match kind.as_deref() {
            Some("nps") => Some((0, 10)),
            Some("csat") => Some((1, 5)),
            Some(other) => {
                c.fail_at(
                    "kind",
                    format!("unknown survey kind '{other}' (expected nps or csat)"),
                );
                None
            }
            None => None,
        };
        if let (Some((lo, hi)), Some(s)) = (range, score) {
            if !(lo..=hi).contains(&s) {
                let kind = kind.as_deref().unwrap_or_default();
                c.fail_at(
                    "score",
                    format!("{s} is outside the {kind} range {lo}..{hi}"),
                );
            }
        }
        vec![
            Field::text(id),
            Field::date(answered),
            Field::text(kind),
            Field::integer(score),
            Field::text(c.text("customer_id")),
            Field::text(c.text("comment")),
        ]
    }
}
