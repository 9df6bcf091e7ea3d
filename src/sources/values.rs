//! Cell parsers and their error wording: dates, timestamps, decimals,
//! integers. Each returns a reason a user can act on.
//!
//! Without a configured format, dates and timestamps are detected as ISO
//! 8601: `2026-11-17`, `2026-11-17 09:30`, `2026-11-17T09:30:15.250Z`,
//! `…+01:00`, `…+0100`, `…+01`. An offset is always honoured; a local time
//! is read in the file's source time zone. Fractional seconds are kept (to the
//! millisecond when stored). Values a user cannot have meant are refused: a
//! year outside 1900–2199, a date that is not zero-padded, a number too large
//! to be a number.
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::period;

/// The years a date may fall in: outside them it is a placeholder
/// (`0001-01-01`, `9999-12-31`) or a typo, never a CRM event.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2199;

/// The time zones a file's values are read in.
#[derive(Debug, Clone, Copy)]
pub struct Zones {
    /// Local timestamps in the file (`timezone`, else the report's).
    pub source: Tz,
    /// Instants become days in this zone.
    pub report: Tz,
}

impl Zones {
    pub fn utc() -> Zones {
        Zones {
            source: Tz::UTC,
            report: Tz::UTC,
        }
    }
}

/// What an ISO 8601 cell says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Iso {
    Date(NaiveDate),
    Local(NaiveDateTime),
    Instant(DateTime<FixedOffset>),
}

/// The number an ASCII digit run says (None: empty, another byte, or past
/// u32), without going through `str::parse`.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0u32, |n, &d| {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u32::from(d))
    })
}

/// Strict ISO 8601 (zero-padded): None when the cell is not one.
fn iso(cell: &str) -> Option<Iso> {
    let b = cell.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    if b.len() == 10 {
        return Some(Iso::Date(date));
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let (h, m) = (digits(&b[11..13])?, digits(&b[14..16])?);
    let mut i = 16;
    let mut s = 0;
    let mut nanos = 0;
    if b.get(i) == Some(&b':') {
        s = digits(b.get(i + 1..i + 3)?)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return None;
            }
            let frac = &cell[start..end];
            nanos = format!("{frac:0<9}").parse().ok()?;
            i = end;
        }
    }
    let local = NaiveDateTime::new(date, NaiveTime::from_hms_nano_opt(h, m, s, nanos)?);
    let rest = cell[i..].trim_start_matches(' ');
    if rest.is_empty() {
        return Some(Iso::Local(local));
    }
    let offset_secs = match rest {
        "Z" | "z" | "UTC" | "GMT" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = &rest.as_bytes()[1..];
            let (oh, om) = match r.len() {
                2 => (digits(r)?, 0),
                4 => (digits(&r[0..2])?, digits(&r[2..4])?),
                5 if r[2] == b':' => (digits(&r[0..2])?, digits(&r[3..5])?),
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60) as i32
        }
    };
    let offset = FixedOffset::east_opt(offset_secs)?;
    offset
        .from_local_datetime(&local)
        .single()
        .map(Iso::Instant)
}

/// Looks like a date but is not zero-padded (`2026-1-5`).
fn unpadded_date(cell: &str) -> bool {
    let head = cell.split(['T', ' ']).next().unwrap_or(cell);
    let parts: Vec<&str> = head.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && (parts[1].len() != 2 || parts[2].len() != 2)
        && parts[1].len() <= 2
        && parts[2].len() <= 2
}

fn check_year(cell: &str, year: i32) -> Result<(), String> {
    if YEARS.contains(&year) {
        Ok(())
    } else {
        Err(format!(
            "'{cell}' is outside the years {} to {} (a placeholder or a typo?)",
            YEARS.start(),
            YEARS.end()
        ))
    }
}

fn local_instant(cell: &str, local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, String> {
    period::local_to_utc(local, tz).ok_or_else(|| {
        format!(
            "'{cell}' does not exist in time zone {} (a daylight-saving gap)",
            tz.name()
        )
    })
}

/// Whether a strftime format reads a UTC offset.
fn has_offset(format: &str) -> bool {
    ["%z", "%:z", "%::z", "%#z"]
        .iter()
        .any(|z| format.contains(z))
}

/// Whether a strftime format reads a time of day.
fn has_time(format: &str) -> bool {
    ["%H", "%I", "%M", "%T", "%R", "%X", "%s", "%+"]
        .iter()
        .any(|t| format.contains(t))
}

/// A date: `YYYY-MM-DD`, or the date (in the report time zone) of an ISO
/// timestamp; with a format, that layout only (a format with a time of day
/// reads a timestamp and takes its date).
pub fn parse_date(cell: &str, format: Option<&str>, zones: Zones) -> Result<NaiveDate, String> {
    let date = match format {
        Some(f) if has_time(f) => {
            parse_timestamp(cell, Some(f), zones).map(|t| period::local_date(t, zones.report))?
        }
        Some(f) => NaiveDate::parse_from_str(cell, f).map_err(|_| {
            format!("'{cell}' is not a date (expected the configured format {f})")
        })?,
        None => match iso(cell) {
            Some(Iso::Date(d)) => d,
            Some(Iso::Local(_) | Iso::Instant(_)) => {
                let t = parse_timestamp(cell, None, zones)?;
                period::local_date(t, zones.report)
            }
            None if unpadded_date(cell) => {
                return Err(format!("'{cell}' is not a date (expected YYYY-MM-DD with a zero-padded month and day, like 2026-01-05; set date_format in [import.<file>] for other layouts)"))
            }
            None => {
                return Err(format!("'{cell}' is not a date (expected YYYY-MM-DD; set date_format in [import.<file>] for other layouts)"))
            }
        },
    };
    check_year(cell, date.year())?;
    Ok(date)
}

/// An instant: ISO 8601 with an offset (always honoured), or a local time
/// (or a date: midnight) in the source time zone; with a format, that
/// layout only (its offset honoured when it has `%z`).
pub fn parse_timestamp(
    cell: &str,
    format: Option<&str>,
    zones: Zones,
) -> Result<DateTime<Utc>, String> {
    let tz = zones.source;
    let t = match format {
        Some(f) if has_offset(f) => DateTime::parse_from_str(cell, f)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                format!("'{cell}' is not a timestamp (expected the configured format {f})")
            })?,
        Some(f) => {
            let local = NaiveDateTime::parse_from_str(cell, f)
                .or_else(|_| {
                    NaiveDate::parse_from_str(cell, f).map(|d| d.and_time(NaiveTime::MIN))
                })
                .map_err(|_| {
                    format!("'{cell}' is not a timestamp (expected the configured format {f})")
                })?;
            local_instant(cell, local, tz)?
        }
        None => match iso(cell) {
            Some(Iso::Instant(t)) => t.with_timezone(&Utc),
            Some(Iso::Local(local)) => local_instant(cell, local, tz)?,
            Some(Iso::Date(d)) => local_instant(cell, d.and_time(NaiveTime::MIN), tz)?,
            None if unpadded_date(cell) => {
                return Err(format!("'{cell}' is not a timestamp (expected ISO 8601 with a zero-padded month and day, like 2026-01-05 09:30; set timestamp_format in [import.<file>] for other layouts)"))
            }
            None => {
                return Err(format!("'{cell}' is not a timestamp (expected ISO 8601 like 2026-11-17T09:30:00Z, 2026-11-17T09:30:00.250+01:00 or 2026-11-17 09:30[:SS] in the file's time zone; set timestamp_format in [import.<file>] for other layouts)"))
            }
        },
    };
    let local_year = t.with_timezone(&tz).year();
    check_year(cell, local_year)?;
    Ok(t)
}

/// Milliseconds since the epoch: what the store keeps of an instant.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// How numbers are written in a file (`number_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberFormat {
    /// Thousands separator, if any.
    pub group: Option<char>,
    pub decimal: char,
    /// Plain: `.` only, no symbols (the snapshot format itself).
    pub plain: bool,
}

impl NumberFormat {
    pub const PLAIN: NumberFormat = NumberFormat {
        group: None,
        decimal: '.',
        plain: true,
    };

    /// The config spelling: how one thousand two hundred thirty-four and 56
    /// hundredths is written (`"1,234.56"`, `"1.234,56"`, `"1 234,56"`,
    /// `"1'234.56"`, `"1234,56"`, `"1234.56"`).
    pub fn parse(s: &str) -> Option<NumberFormat> {
        let (group, decimal) = match s {
            "1234.56" => return Some(NumberFormat::PLAIN_SYMBOLS),
            "1,234.56" => (Some(','), '.'),
            "1.234,56" => (Some('.'), ','),
            "1 234,56" => (Some(' '), ','),
            "1 234.56" => (Some(' '), '.'),
            "1'234.56" => (Some('\''), '.'),
            "1234,56" => (None, ','),
            _ => return None,
        };
        Some(NumberFormat {
            group,
            decimal,
            plain: false,
        })
    }

    /// `1234.56` with currency symbols allowed.
    const PLAIN_SYMBOLS: NumberFormat = NumberFormat {
        group: None,
        decimal: '.',
        plain: false,
    };
}

impl Default for NumberFormat {
    fn default() -> Self {
        NumberFormat::PLAIN
    }
}

const CURRENCY: &[&str] = &[
    "US$", "CA$", "A$", "R$", "$", "€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "CHF", "EUR", "USD",
    "GBP", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "INR", "BRL", "kr", "zł",
];

fn too_long(cell: &str) -> String {
    if cell.chars().count() > 24 {
        format!(
            "{}… ({} characters)",
            cell.chars().take(20).collect::<String>(),
            cell.chars().count()
        )
    } else {
        cell.to_string()
    }
}

/// A decimal with `.` as decimal point, no thousands separator, optional `-`.
pub fn parse_decimal(cell: &str) -> Result<f64, String> {
    parse_number(cell, NumberFormat::PLAIN)
}

/// A decimal written as `format` says: currency symbols and codes at either
/// end, thousands separators, a decimal comma, `-` before or after, or an
/// accounting `(12.00)`.
pub fn parse_number(cell: &str, format: NumberFormat) -> Result<f64, String> {
    let shown = too_long(cell);
    let canonical = if format.plain {
        cell.to_string()
    } else {
        canonical_number(cell, format).map_err(|why| {
            format!("'{shown}' is not a number as number_format writes them ({why})")
        })?
    };
    let digits = canonical.strip_prefix('-').unwrap_or(&canonical);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        let hint = if !format.plain {
            " (expected digits as number_format writes them, with an optional currency symbol and sign)"
        } else if cell.contains(',') || CURRENCY.iter().any(|c| cell.contains(c)) {
            " (use '.' as decimal point and no thousands separator, or set number_format in [import.<file>], e.g. \"1,234.56\" or \"1.234,56\")"
        } else {
            " (expected digits with an optional '-' and '.', like -12.50)"
        };
        return Err(format!("'{shown}' is not a number{hint}"));
    }
    let v = canonical
        .parse::<f64>()
        .map_err(|_| format!("'{shown}' is not a number"))?;
    if !v.is_finite() || int.trim_start_matches('0').len() > 18 {
        return Err(format!(
            "'{shown}' is too large to be a number from a CRM (more than 18 digits before the decimal point)"
        ));
    }
    Ok(v)
}

/// A number as `format` writes it, rewritten as `-1234.56` (signs, currency
/// and thousands separators gone, `.` as decimal point); not yet checked to
/// be digits. Err: why the thousands separators do not fit.
fn canonical_number(cell: &str, format: NumberFormat) -> Result<String, &'static str> {
    let (s, negative) = without_sign_and_currency(cell);
    let (int, frac) = match s.rsplit_once(format.decimal) {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s.clone(), None),
    };
    let int = match format.group {
        Some(g) => {
            // Groups after the first have three digits.
            let groups: Vec<&str> = int.split(g).collect();
            if groups.len() > 1
                && (groups[0].is_empty()
                    || groups[0].len() > 3
                    || groups[1..].iter().any(|x| x.len() != 3))
            {
                return Err("misplaced thousands separator");
            }
            groups.concat()
        }
        None => int,
    };
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&int);
    if let Some(f) = frac {
        out.push('.');
        out.push_str(&f);
    }
    Ok(out)
}

/// A cell without its accounting parentheses, `-` signs (before or after)
/// and currency symbols or codes (at either end), and whether it is
/// negative.
fn without_sign_and_currency(cell: &str) -> (String, bool) {
    let mut s = cell.trim().replace(['\u{a0}', '\u{202f}'], " ");
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].trim().to_string();
    }
    loop {
        let before = s.clone();
        if let Some(rest) = s.strip_prefix('-') {
            negative = !negative;
            s = rest.trim().to_string();
        }
        if let Some(rest) = s.strip_suffix('-') {
            negative = !negative;
            s = rest.trim().to_string();
        }
        for c in CURRENCY {
            if let Some(rest) = s.strip_prefix(c) {
                s = rest.trim().to_string();
            }
            if let Some(rest) = s.strip_suffix(c) {
                s = rest.trim().to_string();
            }
        }
        if s == before {
            break;
        }
    }
    (s, negative)
}

pub fn parse_integer(cell: &str) -> Result<i64, String> {
    cell.parse::<i64>()
        .map_err(|_| format!("'{}' is not a whole number", too_long(cell)))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The digit runs read as `str::parse` reads them, for any bytes.
        #[test]
        fn digits_agree_with_parse(b in proptest::collection::vec(
            proptest::prop_oneof![b'0'..=b'9', proptest::num::u8::ANY], 0..12,
        )) {
            let parsed = match b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
                true => None,
                false => std::str::from_utf8(&b).ok().and_then(|t| t.parse::<u32>().ok()),
            };
            proptest::prop_assert_eq!(digits(&b), parsed);
        }
    }

    fn utc() -> Zones {
        Zones::utc()
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026-11-17", None, utc()).unwrap().to_string(),
            "2026-11-17"
        );
        assert!(parse_date("2026-13-01", None, utc())
            .unwrap_err()
            .contains("not a date (expected YYYY-MM-DD"));
        assert!(parse_date("17/11/2026", None, utc()).is_err());
        assert_eq!(
            parse_date("11/17/2026", Some("%m/%d/%Y"), utc())
                .unwrap()
                .to_string(),
            "2026-11-17"
        );
        assert_eq!(
            parse_date("2026-1-5", None, utc()).unwrap_err(),
            "'2026-1-5' is not a date (expected YYYY-MM-DD with a zero-padded month and day, like 2026-01-05; set date_format in [import.<file>] for other layouts)"
        );
        for bad in ["1899-12-31", "2200-01-01", "0001-01-01", "9999-12-31"] {
            assert_eq!(
                parse_date(bad, None, utc()).unwrap_err(),
                format!("'{bad}' is outside the years 1900 to 2199 (a placeholder or a typo?)")
            );
        }
        // A timestamp in a date column: its day in the report time zone.
        let berlin = Zones {
            source: Tz::UTC,
            report: "Europe/Berlin".parse().unwrap(),
        };
        assert_eq!(
            parse_date("2024-01-22T23:30:00.000+0000", None, berlin)
                .unwrap()
                .to_string(),
            "2024-01-23"
        );
        assert_eq!(
            parse_date(
                "2024-01-22T23:30:00.000+0000",
                Some("%Y-%m-%dT%H:%M:%S%.3f%z"),
                utc()
            )
            .unwrap()
            .to_string(),
            "2024-01-22"
        );
    }

    #[test]
    fn timestamps() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let in_paris = Zones {
            source: paris,
            report: paris,
        };
        let t = |s: &str, z: Zones| parse_timestamp(s, None, z).map(|t| t.to_rfc3339());
        assert_eq!(
            t("2026-11-17T09:30:00+01:00", utc()).unwrap(),
            "2026-11-17T08:30:00+00:00"
        );
        // Offsets in every spelling, always honoured, whatever the zone.
        for s in [
            "2026-11-17T09:30:00+0100",
            "2026-11-17T09:30:00+01",
            "2026-11-17 09:30:00 +01:00",
            "2026-11-17T08:30:00Z",
            "2026-11-17T08:30:00.000+0000",
        ] {
            assert_eq!(t(s, in_paris).unwrap(), "2026-11-17T08:30:00+00:00", "{s}");
        }
        // A local time is read in the source time zone.
        assert_eq!(
            t("2026-11-17 09:30", in_paris).unwrap(),
            "2026-11-17T08:30:00+00:00"
        );
        assert_eq!(
            t("2026-11-17 09:30:15", utc()).unwrap(),
            "2026-11-17T09:30:15+00:00"
        );
        // Fractional seconds are kept.
        let ms = parse_timestamp("2026-11-17T09:30:15.250Z", None, utc()).unwrap();
        assert_eq!(millis(ms) % 1000, 250);
        assert!(t("yesterday", utc())
            .unwrap_err()
            .contains("not a timestamp"));
        // 02:30 on the spring-forward night does not exist in Paris.
        assert!(t("2026-03-29 02:30", in_paris)
            .unwrap_err()
            .contains("daylight-saving"));
        // A configured format with %z honours the offset (it was ignored).
        let f = Some("%Y-%m-%dT%H:%M:%S%.3f%z");
        let t = parse_timestamp("2024-01-22T16:14:25.000+0200", f, utc()).unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-22T14:14:25+00:00");
        assert!(parse_timestamp("1850-01-01T00:00:00Z", None, utc())
            .unwrap_err()
            .contains("outside the years 1900 to 2199"));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("12.50").unwrap(), 12.5);
        assert_eq!(parse_decimal("-3").unwrap(), -3.0);
        assert!(parse_decimal("1,000")
            .unwrap_err()
            .contains("no thousands separator, or set number_format"));
        for bad in ["", "abc", "1e5", "inf", "NaN", "1.", ".5", "--1", "+1"] {
            assert!(parse_decimal(bad).is_err(), "{bad}");
        }
        let big = "9".repeat(400);
        assert_eq!(
            parse_decimal(&big).unwrap_err(),
            "'99999999999999999999… (400 characters)' is too large to be a number from a CRM (more than 18 digits before the decimal point)"
        );
    }

    #[test]
    fn number_formats() {
        let us = NumberFormat::parse("1,234.56").unwrap();
        let de = NumberFormat::parse("1.234,56").unwrap();
        let fr = NumberFormat::parse("1 234,56").unwrap();
        for (cell, f, want) in [
            ("$1,234.56", us, 1234.56),
            ("-$1,234.56", us, -1234.56),
            ("($12.00)", us, -12.0),
            ("USD 1,000", us, 1000.0),
            ("12", us, 12.0),
            ("1.234,56 €", de, 1234.56),
            ("-0,5", de, -0.5),
            ("1\u{a0}234,56 €", fr, 1234.56),
            ("£7.5", NumberFormat::parse("1234.56").unwrap(), 7.5),
        ] {
            assert_eq!(parse_number(cell, f).unwrap(), want, "{cell}");
        }
        assert!(parse_number("1,23.4", us)
            .unwrap_err()
            .contains("misplaced thousands separator"));
        assert!(parse_number("1.234,56", us).is_err());
        assert!(NumberFormat::parse("1_234").is_none());
    }
}
