//! tickets.csv: support. Times are instants (read in the report time zone
//! when they carry no offset); a ticket belongs to the local day it was
//! opened on, so the day numbers follow the report time zone.
use super::ColumnType::{Text, Timestamp};
use super::{dated_instant, id, opt, Cells, Column, Description, Field, FileKind, RuleCtx, Source};

pub struct Tickets;

const COLUMNS: &[Column] = &[
    id("ticket_id"),
    dated_instant("opened_at"),
    opt("first_response_at", Timestamp),
    opt("resolved_at", Timestamp),
    opt("customer_id", Text),
    opt("channel", Text),
];

const DESCRIPTION: Description = Description::new(FileKind::Tickets, COLUMNS)
    .dated("opened_day", 1)
    .unknown_customers("opened_day");

impl Source for Tickets {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("ticket_id");
        let opened = c.instant("opened_at", ctx);
        let response = c.instant("first_response_at", ctx);
        let resolved = c.instant("resolved_at", ctx);
        for (name, t) in [("first_response_at", response), ("resolved_at", resolved)] {
            if let (Some(o), Some(t)) = (opened, t) {
                if t < o {
                    let reason =
                        format!("{} is before opened_at {}", t.to_rfc3339(), o.to_rfc3339());
                    c.fail_at(name, reason);
                }
            }
        }
        vec![
            Field::text(id),
            Field::instant(opened),
            Field::instant(response),
            Field::instant(resolved),
            Field::text(c.text("customer_id")),
            Field::text(c.text("channel")),
        ]
    }
}
