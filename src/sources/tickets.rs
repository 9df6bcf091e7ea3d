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
    .unknown_customers("opened_day")
    .with_segment_cells("ticket_attributes");

impl Source for Tickets {
    fn describe(&self) -> &'static Description {
        &DESCRIPTION
    }

    fn read(&self, c: &mut Cells, ctx: &RuleCtx) -> Vec<Field> {
        let id = c.text("ticket_id");
        let opened = c.instant("opened_at", ctx);
        let mut response = c.instant("first_response_at", ctx);
        let mut resolved = c.instant("resolved_at", ctx);
        // Durations after another timestamp (Zendesk's minutes, Freshdesk's
        // hours), where the file has no timestamp of its own.
        for (target, d) in ctx.durations {
            let current = match target.as_str() {
                "first_response_at" => response,
                "resolved_at" => resolved,
                _ => continue,
            };
            if current.is_some() {
                continue;
            }
            let base = match d.after.as_str() {
                "opened_at" => opened,
                "first_response_at" => response,
                "resolved_at" => resolved,
                _ => None,
            };
            let (pos, cell) = c.extra(&d.column, target);
            let (Some(base), Some(cell)) = (base, cell) else {
                continue;
            };
            match duration_ms(cell, d.unit) {
                Ok(ms) => {
                    let t = Some(base + chrono::Duration::milliseconds(ms));
                    if target == "first_response_at" {
                        response = t;
                    } else {
                        resolved = t;
                    }
                }
                Err(reason) => c.fail(pos, target, format!("'{}': {reason}", d.column)),
            }
        }
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

/// A duration as exports write them: a number of `unit`s (decimals
/// allowed), or H:MM[:SS].
fn duration_ms(cell: &str, unit: super::DurationUnit) -> Result<i64, String> {
    let bad = || {
        format!(
            "'{cell}' is not a duration (expected a number of {} or H:MM:SS)",
            unit.name()
        )
    };
    if cell.contains(':') {
        let parts: Vec<&str> = cell.split(':').collect();
        let nums: Option<Vec<u64>> = parts.iter().map(|p| p.parse::<u64>().ok()).collect();
        return match (parts.len(), nums) {
            (2 | 3, Some(n)) if n[1..].iter().all(|&x| x < 60) => {
                let secs = n[0] * 3600 + n[1] * 60 + n.get(2).copied().unwrap_or(0);
                Ok(secs as i64 * 1000)
            }
            _ => Err(bad()),
        };
    }
    let v = super::values::parse_decimal(cell).map_err(|_| bad())?;
    if v < 0.0 {
        return Err(format!("'{cell}' is a negative duration"));
    }
    Ok((v * unit.millis()).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::DurationUnit;

    #[test]
    fn durations() {
        assert_eq!(duration_ms("30", DurationUnit::Minutes), Ok(1_800_000));
        assert_eq!(duration_ms("0.5", DurationUnit::Minutes), Ok(30_000));
        assert_eq!(duration_ms("2.5", DurationUnit::Hours), Ok(9_000_000));
        assert_eq!(duration_ms("25:15:00", DurationUnit::Hours), Ok(90_900_000));
        assert_eq!(duration_ms("00:30", DurationUnit::Hours), Ok(1_800_000));
        assert!(duration_ms("1:75:00", DurationUnit::Hours).is_err());
        assert!(duration_ms("-3", DurationUnit::Hours).is_err());
        assert!(duration_ms("soon", DurationUnit::Hours).is_err());
    }
}
