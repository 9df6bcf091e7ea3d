//! Stage 1 of a run, **plan**: which periods to report (the selection, with
//! catch-up of missed periods for `last`) and which periods' figures those
//! reports need (history, trailing, usual range, year ago). Everything later
//! is a function of this [`Plan`]; nothing here computes or renders.
use std::collections::BTreeSet;

use anyhow::Result;
use chrono::NaiveDate;

use crate::archive;
use crate::config::Config;
use crate::error::Failure;
use crate::period::{Cadence, Period};
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
pub fn plan(
    store: &Store,
    config: &Config,
    cadence: Cadence,
    selection: &Selection,
    today: NaiveDate,
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
            since.range_to(until)
        }
        Selection::Last => catch_up(store, config, cadence, last)?,
    };
    Ok(Plan {
        needed: needed_periods(config, &periods),
        periods,
        warnings,
    })
}

/// Every completed period since the last successful run that has no report
/// yet, and `last`; on the very first run, only `last`.
fn catch_up(store: &Store, config: &Config, cadence: Cadence, last: Period) -> Result<Vec<Period>> {
    let previous: Option<String> = store.last_archived(cadence)?;
    Ok(
        match previous
            .and_then(|id| Period::parse(&id).ok())
            .filter(|p| p.cadence == cadence && *p < last)
        {
            Some(prev) => prev
                .next()
                .range_to(last)
                .into_iter()
                .filter(|p| {
                    *p == last
                        || !archive::period_dir(&config.report.out_dir, *p)
                            .join("kpis.json")
                            .exists()
                })
                .collect(),
            None => vec![last],
        },
    )
}

/// The periods whose values the reports of `periods` need.
fn needed_periods(config: &Config, periods: &[Period]) -> Vec<Period> {
    let mut set = BTreeSet::new();
    let back = config
        .report
        .history_periods
        .max(config.report.trailing_periods + 1)
        .max(crate::kpi::stats::USUAL_WINDOW + 1);
    for p in periods {
        for k in 0..back {
            set.insert(p.back(k));
        }
        set.insert(p.year_ago());
    }
    set.into_iter().collect()
}
