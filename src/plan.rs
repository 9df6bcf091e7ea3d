//! Stage 1 of a run, **plan**: which periods to report (the selection, with
//! catch-up of missed periods for `last`) and which periods' figures those
//! reports need (history, trailing, usual range, year ago). Everything later
//! is a function of this [`Plan`]; nothing here computes or renders.
use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::config::Config;
use crate::error::Failure;
use crate::period::{self, Cadence, Period};
use crate::store::Store;

/// Which periods a run covers.
#[derive(Debug, Clone)]
pub enum Selection {
    /// The last completed period, plus catch-up of missed ones.
    Last,
    One(Period),
    Range(Period, Option<Period>),
}

/// The periods to report, oldest first, and the periods their figures need.
#[derive(Debug, Clone)]
pub struct Plan {
    pub periods: Vec<Period>,
    pub needed: Vec<Period>,
    /// Said to the user, not fatal (a period that has not ended yet).
    pub warnings: Vec<String>,
}

impl Plan {
    /// The plan of one period's figures (`scorecard show`).
    pub fn one(config: &Config, p: Period) -> Plan {
        Plan {
            periods: vec![p],
            needed: needed_periods(config, &[p]),
            warnings: Vec::new(),
        }
    }
}

/// Resolves the selection for `cadence` into a plan.
///
/// A period counts as archived when the run that archived it recorded it
/// in the store (with its emails queued, in one transaction): a folder a
/// killed run left without that record is rendered again. `Last` refuses a
/// `today` whose last completed period is earlier than a period already
/// archived (a clock set back would re-mail old weeks) unless `force`; a
/// range never goes past the last completed period.
pub fn plan(
    store: &Store,
    config: &Config,
    cadence: Cadence,
    selection: &Selection,
    today: NaiveDate,
    force: bool,
    allow_stale: bool,
) -> Result<Plan> {
    let mut warnings = Vec::new();
    let last = Period::last_completed(cadence, today);
    let check = |p: Period| -> Result<Period> {
        if p.cadence != cadence {
            return Err(Failure::usage(format!(
                "{} is a {} period but the run's cadence is {cadence} (pass --cadence {})",
                p.id(),
                p.cadence,
                p.cadence
            ))
            .into());
        }
        Ok(p)
    };
    let periods = match selection {
        Selection::One(p) => {
            let p = check(*p)?;
            if !p.is_complete(today) {
                warnings.push(format!(
                    "{} has not ended yet (today is {today}): its figures are partial",
                    p.id()
                ));
            }
            vec![p]
        }
        Selection::Range(since, until) => {
            let since = check(*since)?;
            let until = match until {
                Some(u) => check(*u)?,
                None => last,
            };
            if since > until {
                return Err(Failure::usage(format!(
                    "--since {} is after --until {}",
                    since.id(),
                    until.id()
                ))
                .into());
            }
            if !until.is_complete(today) {
                return Err(Failure::usage(format!(
                    "--until {} has not ended yet (today is {today}; the last completed period is {}): a range archives completed periods only; run a period that has not ended alone with --period {} for partial figures",
                    until.id(),
                    last.id(),
                    until.id()
                ))
                .into());
            }
            since.range_to(until)
        }
        Selection::Last => {
            let periods = catch_up(store, cadence, last, today, force, &mut warnings)?;
            if allow_stale {
                periods
            } else {
                with_data(store, config, periods, &mut warnings)?
            }
        }
    };
    Ok(Plan {
        needed: needed_periods(config, &periods),
        periods,
        warnings,
    })
}

/// Every completed period since the latest archived one that has no
/// archived run yet, and `last`; on the very first run, only `last`.
fn catch_up(
    store: &Store,
    cadence: Cadence,
    last: Period,
    today: NaiveDate,
    force: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<Period>> {
    let archived = store.archived_periods(cadence)?;
    if let Some(latest) = archived.last().filter(|p| **p > last) {
        if !force {
            return Err(Failure::usage(format!(
                "today is {today}, so the last completed period is {}, but {} is archived already: is the clock (or --today) right? Running now would report old periods again; pass --force to run anyway",
                last.id(),
                latest.id()
            ))
            .into());
        }
        warnings.push(format!(
            "--force: running {} although {} is archived already",
            last.id(),
            latest.id()
        ));
    }
    Ok(match archived.iter().rev().find(|p| **p < last) {
        Some(prev) => prev
            .next()
            .range_to(last)
            .into_iter()
            .filter(|p| *p == last || archived.binary_search(p).is_err())
            .collect(),
        None => vec![last],
    })
}

/// The periods of a catch-up that begin before the data's as-of (the latest
/// instant any imported file is known up to). A period that begins after it
/// cannot hold a single row: archiving it would only put an empty scorecard
/// at the top of the index, as when the clock (or `--today`) is ahead of the
/// data. Such periods are left out with a warning; when none is left the run
/// stops with exit 3. `--allow-stale` or `--period` archive them anyway.
fn with_data(
    store: &Store,
    config: &Config,
    periods: Vec<Period>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Period>> {
    let as_of = store
        .data_as_of()?
        .into_iter()
        .filter_map(|(_, t)| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .max();
    let Some(as_of) = as_of else {
        return Ok(periods);
    };
    let tz = config.report.timezone;
    let begins_before = |p: &Period| {
        let start = period::date_from_day(p.start_day()).and_time(NaiveTime::MIN);
        period::local_to_utc(start, tz).is_none_or(|s| s < as_of)
    };
    let (kept, empty): (Vec<Period>, Vec<Period>) = periods.into_iter().partition(begins_before);
    if empty.is_empty() {
        return Ok(kept);
    }
    let ids: Vec<String> = empty.iter().map(|p| p.id()).collect();
    let message = format!(
        "{} begin{} after the data's as-of ({}): not archived, since no row can fall in {}; is the clock (or --today) right? Import a fresh export, or pass --allow-stale to archive {} anyway",
        ids.join(", "),
        if ids.len() == 1 { "s" } else { "" },
        as_of.with_timezone(&tz).format("%a %-d %b %Y %H:%M %Z"),
        if ids.len() == 1 { "it" } else { "them" },
        if ids.len() == 1 { "it" } else { "them" },
    );
    if kept.is_empty() {
        return Err(Failure::input(message).into());
    }
    warnings.push(message);
    Ok(kept)
}

/// The periods whose values the reports of `periods` need.
fn needed_periods(config: &Config, periods: &[Period]) -> Vec<Period> {
    let mut set = BTreeSet::new();
    let back = config
        .report
        .history_periods
        .max(config.report.trailing_periods + 1)
        .max(crate::model::USUAL_WINDOW + 1);
    for p in periods {
        for k in 0..back {
            set.insert(p.back(k));
        }
        set.insert(p.year_ago());
    }
    set.into_iter().collect()
}
