//! Cell parsers and their error wording: dates, timestamps, decimals,
//! integers. Each returns a reason a user can act on.
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::period;

pub fn parse_date(cell: &str, format: Option<&str>) -> Result<NaiveDate, String> {
    let fmt = format.unwrap_or("%Y-%m-%d");
    NaiveDate::parse_from_str(cell, fmt).map_err(|_| {
        let expected = format.map(|f| format!("the configured format {f}")).unwrap_or_else(|| "YYYY-MM-DD".into());
        format!("'{cell}' is not a date (expected {expected}; set date_format in [import.<file>] for other layouts)")
    })
}

/// RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` (or the configured format) read in
/// the report time zone.
pub fn parse_timestamp(cell: &str, format: Option<&str>, tz: Tz) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(cell) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = match format {
        Some(f) => NaiveDateTime::parse_from_str(cell, f).ok(),
        None => NaiveDateTime::parse_from_str(cell, "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(cell, "%Y-%m-%d %H:%M"))
            .ok(),
    };
    let local = local.ok_or_else(|| {
        let expected = format
            .map(|f| format!("the configured format {f}"))
            .unwrap_or_else(|| "RFC 3339 like 2026-11-17T09:30:00Z, or YYYY-MM-DD HH:MM[:SS] in the report time zone".into());
        format!("'{cell}' is not a timestamp (expected {expected})")
    })?;
    period::local_to_utc(local, tz).ok_or_else(|| {
        format!(
            "'{cell}' does not exist in time zone {} (a daylight-saving gap)",
            tz.name()
        )
    })
}

/// A decimal with `.` as decimal point, no thousands separator, optional `-`.
pub fn parse_decimal(cell: &str) -> Result<f64, String> {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        let hint = if cell.contains(',') {
            " (use '.' as decimal point and no thousands separator)"
        } else {
            " (expected digits with an optional '-' and '.', like -12.50)"
        };
        return Err(format!("'{cell}' is not a number{hint}"));
    }
    cell.parse::<f64>()
        .map_err(|_| format!("'{cell}' is not a number"))
}

pub fn parse_integer(cell: &str) -> Result<i64, String> {
    cell.parse::<i64>()
        .map_err(|_| format!("'{cell}' is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-11-17", None).unwrap().to_string(),
            "2026-11-17"
        );
        assert!(parse_date("2026-13-01", None)
            .unwrap_err()
            .contains("not a date (expected YYYY-MM-DD"));
        assert!(parse_date("17/11/2026", None).is_err());
        assert_eq!(
            parse_date("11/17/2026", Some("%m/%d/%Y"))
                .unwrap()
                .to_string(),
            "2026-11-17"
        );
    }

    #[test]
    fn timestamps() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let t = parse_timestamp("2026-11-17T09:30:00+01:00", None, Tz::UTC).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-17T08:30:00+00:00");
        // A local time is read in the report time zone.
        let t = parse_timestamp("2026-11-17 09:30", None, paris).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-17T08:30:00+00:00");
        let t = parse_timestamp("2026-11-17 09:30:15", None, Tz::UTC).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-17T09:30:15+00:00");
        assert!(parse_timestamp("yesterday", None, Tz::UTC)
            .unwrap_err()
            .contains("not a timestamp"));
        // 02:30 on the spring-forward night does not exist in Paris.
        assert!(parse_timestamp("2026-03-29 02:30", None, paris)
            .unwrap_err()
            .contains("daylight-saving"));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12.50").unwrap(), 12.5);
        assert_eq!(parse_decimal("-3").unwrap(), -3.0);
        assert!(parse_decimal("1,000")
            .unwrap_err()
            .contains("no thousands separator"));
        for bad in ["", "abc", "1e5", "inf", "NaN", "1.", ".5", "--1", "+1"] {
            assert!(parse_decimal(bad).is_err(), "{bad}");
        }
    }
}
