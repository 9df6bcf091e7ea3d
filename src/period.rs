//! Periods: ISO weeks, months and quarters as half-open date ranges
//! `[start, end)`, their ids, and the arithmetic the comparisons need.
//!
//! Dates are also handled as *day numbers* (days since 0001-01-01, which was a
//! Monday), the integer the store keeps next to every date so that grouping
//! by day is portable SQL and bucketing into periods happens here, once.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    Weekly,
    Monthly,
    Quarterly,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
        }
    }
    pub fn adjective(self) -> &'static str {
        match self {
            Cadence::Weekly => "Weekly",
            Cadence::Monthly => "Monthly",
            Cadence::Quarterly => "Quarterly",
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cadence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "weekly" => Ok(Cadence::Weekly),
            "monthly" => Ok(Cadence::Monthly),
            "quarterly" => Ok(Cadence::Quarterly),
            other => Err(format!(
                "unknown cadence '{other}' (expected weekly, monthly or quarterly)"
            )),
        }
    }
}

/// One period of a cadence, identified by its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub cadence: Cadence,
    pub start: NaiveDate,
}

/// Days since 0001-01-01 (day 0), a Monday: the store's portable date key.
pub fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 1
}

pub fn date_from_day(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt((day + 1) as i32)
        .expect("day number within chrono's range")
}

/// The local calendar date of an instant in the report time zone.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// Today's date in the report time zone, from the clock value `main` read.
pub fn today_in(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    local_date(now, tz)
}

impl Period {
    /// The period of `cadence` that contains `date`.
    pub fn containing(cadence: Cadence, date: NaiveDate) -> Period {
        let start = match cadence {
            Cadence::Weekly => date.week(Weekday::Mon).first_day(),
            Cadence::Monthly => NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap(),
            Cadence::Quarterly => {
                NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1).unwrap()
            }
        };
        Period { cadence, start }
    }

    /// The exclusive end: the first day of the next period.
    pub fn end(self) -> NaiveDate {
        match self.cadence {
            Cadence::Weekly => self.start + Duration::days(7),
            Cadence::Monthly => add_months(self.start, 1),
            Cadence::Quarterly => add_months(self.start, 3),
        }
    }

    pub fn start_day(self) -> i64 {
        day_number(self.start)
    }
    pub fn end_day(self) -> i64 {
        day_number(self.end())
    }

    pub fn next(self) -> Period {
        Period {
            cadence: self.cadence,
            start: self.end(),
        }
    }

    pub fn previous(self) -> Period {
        Period::containing(self.cadence, self.start - Duration::days(1))
    }

    /// `n` periods back (0 = this one).
    pub fn back(self, n: usize) -> Period {
        (0..n).fold(self, |p, _| p.previous())
    }

    /// The same ISO week number (W53 → W52), month or quarter a year earlier.
    pub fn year_ago(self) -> Period {
        match self.cadence {
            Cadence::Weekly => {
                let iso = self.start.iso_week();
                let week = iso.week().min(52);
                let start = NaiveDate::from_isoywd_opt(iso.year() - 1, week, Weekday::Mon)
                    .expect("week 1..=52 exists in every ISO year");
                Period {
                    cadence: self.cadence,
                    start,
                }
            }
            Cadence::Monthly | Cadence::Quarterly => Period {
                cadence: self.cadence,
                start: add_months(self.start, -12),
            },
        }
    }

    /// The last period that has ended by `today` (today's own period is not
    /// complete until its last day has passed).
    pub fn last_completed(cadence: Cadence, today: NaiveDate) -> Period {
        Period::containing(cadence, today).previous()
    }

    /// Whether the period is over on `today`.
    pub fn is_complete(self, today: NaiveDate) -> bool {
        self.end() <= today
    }

    pub fn id(self) -> String {
        match self.cadence {
            Cadence::Weekly => {
                let iso = self.start.iso_week();
                format!("{}-W{:02}", iso.year(), iso.week())
            }
            Cadence::Monthly => format!("{}-{:02}", self.start.year(), self.start.month()),
            Cadence::Quarterly => {
                format!("{}-Q{}", self.start.year(), self.start.month0() / 3 + 1)
            }
        }
    }

    /// Parses `2026-W47`, `2026-11` or `2026-Q4`; the cadence follows from the form.
    pub fn parse(id: &str) -> Result<Period, String> {
        let bad = || {
            format!("'{id}' is not a period id (expected a week like 2026-W47, a month like 2026-11 or a quarter like 2026-Q4)")
        };
        let (year, rest) = id.trim().split_once('-').ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(1000..=9999).contains(&year) {
            return Err(bad());
        }
        if let Some(week) = rest.strip_prefix('W') {
            let week: u32 = week.parse().map_err(|_| bad())?;
            let start = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
                .ok_or_else(|| format!("{year} has no ISO week {week}"))?;
            Ok(Period {
                cadence: Cadence::Weekly,
                start,
            })
        } else if let Some(q) = rest.strip_prefix('Q') {
            let q: u32 = q.parse().map_err(|_| bad())?;
            if !(1..=4).contains(&q) {
                return Err(bad());
            }
            Ok(Period {
                cadence: Cadence::Quarterly,
                start: NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1).unwrap(),
            })
        } else {
            let month: u32 = rest.parse().map_err(|_| bad())?;
            let start = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
            Ok(Period {
                cadence: Cadence::Monthly,
                start,
            })
        }
    }

    /// The periods from `self` to `last`, inclusive, oldest first.
    pub fn range_to(self, last: Period) -> Vec<Period> {
        let mut out = Vec::new();
        let mut p = self;
        while p <= last {
            out.push(p);
            p = p.next();
        }
        out
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id())
    }
}

fn add_months(date: NaiveDate, months: i32) -> NaiveDate {
    let total = date.year() * 12 + date.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap()
}

/// Parses an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("unknown time zone '{name}' (use an IANA name such as UTC, Europe/Paris or America/New_York)")
    })
}

/// A naive local date-time in `tz` as an instant; ambiguous times (DST fall
/// back) take the earlier instant, non-existent ones (spring forward) fail.
pub fn local_to_utc(local: chrono::NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|dt| dt.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ids_round_trip() {
        for id in [
            "2026-W47", "2026-W53", "2027-W01", "2026-11", "2026-01", "2026-Q4", "2026-Q1",
        ] {
            assert_eq!(Period::parse(id).unwrap().id(), id);
        }
    }

    #[test]
    fn iso_weeks_and_w53() {
        // 2026 has 53 ISO weeks: 2026-W53 is Mon 2026-12-28 .. Sun 2027-01-03.
        let w53 = Period::parse("2026-W53").unwrap();
        assert_eq!(w53.start, d("2026-12-28"));
        assert_eq!(w53.end(), d("2027-01-04"));
        assert_eq!(w53.next().id(), "2027-W01");
        assert_eq!(
            Period::containing(Cadence::Weekly, d("2027-01-03")).id(),
            "2026-W53"
        );
        // Its year-ago week is 2025-W52 (2025 has no W53).
        assert_eq!(w53.year_ago().id(), "2025-W52");
        assert_eq!(
            Period::parse("2026-W47").unwrap().year_ago().id(),
            "2025-W47"
        );
        assert!(Period::parse("2025-W53").is_err());
    }

    #[test]
    fn months_and_quarters() {
        let m = Period::parse("2026-12").unwrap();
        assert_eq!(m.end(), d("2027-01-01"));
        assert_eq!(m.previous().id(), "2026-11");
        assert_eq!(Period::parse("2026-01").unwrap().previous().id(), "2025-12");
        assert_eq!(m.year_ago().id(), "2025-12");
        let q = Period::containing(Cadence::Quarterly, d("2026-11-17"));
        assert_eq!(q.id(), "2026-Q4");
        assert_eq!((q.start, q.end()), (d("2026-10-01"), d("2027-01-01")));
        assert_eq!(q.previous().id(), "2026-Q3");
        assert_eq!(Period::parse("2026-Q1").unwrap().previous().id(), "2025-Q4");
    }

    #[test]
    fn last_completed_period() {
        // Monday 2026-11-23: the week 2026-W47 (16..22) has just ended.
        assert_eq!(
            Period::last_completed(Cadence::Weekly, d("2026-11-23")).id(),
            "2026-W47"
        );
        // Sunday 2026-11-22: W47 is not over yet.
        assert_eq!(
            Period::last_completed(Cadence::Weekly, d("2026-11-22")).id(),
            "2026-W46"
        );
        assert_eq!(
            Period::last_completed(Cadence::Monthly, d("2026-11-23")).id(),
            "2026-10"
        );
    }

    #[test]
    fn bad_ids_are_refused_with_a_hint() {
        for bad in [
            "2026", "2026-W", "2026-13", "2026-Q5", "W47", "abcd-W01", "2026-W00",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn day_numbers_are_monday_based() {
        assert_eq!(day_number(d("0001-01-01")), 0);
        assert_eq!(date_from_day(day_number(d("2026-11-17"))), d("2026-11-17"));
        // Monday 2026-11-16 is a multiple of 7.
        assert_eq!(day_number(d("2026-11-16")) % 7, 0);
    }

    #[test]
    fn local_dates_near_midnight() {
        let tz = parse_timezone("America/New_York").unwrap();
        // 03:30 UTC on the 17th is still the 16th in New York.
        let t: DateTime<Utc> = "2026-11-17T03:30:00Z".parse().unwrap();
        assert_eq!(local_date(t, tz), d("2026-11-16"));
        assert!(parse_timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn ranges_and_back() {
        let a = Period::parse("2026-W50").unwrap();
        let b = Period::parse("2027-W02").unwrap();
        let ids: Vec<_> = a.range_to(b).iter().map(|p| p.id()).collect();
        assert_eq!(
            ids,
            ["2026-W50", "2026-W51", "2026-W52", "2026-W53", "2027-W01", "2027-W02"]
        );
        assert_eq!(b.back(2).id(), "2026-W53");
    }
}
