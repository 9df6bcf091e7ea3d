//! Stage 2 of a run, **compute**: a function of the [`Plan`]. The KPI
//! values of every needed period (set-based and cached, then the derived and
//! custom KPIs), and per reported period the comparisons and the store's
//! facts the report shows beside the figures (stale sources, data quality,
//! survey comments). `scorecard show` and `run` both go through here, so
//! that a figure is computed one way.
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};

use crate::compare::{self, Compared};
use crate::config::Config;
use crate::kpi::catalogue::KpiInfo;
use crate::kpi::{derive, engine, extras};
use crate::model::PeriodValues;
use crate::model::{Comment, DataQuality};
use crate::period::Period;
use crate::plan::Plan;
use crate::store::Store;

/// The values of every needed period and the KPI catalogue they follow.
pub struct Computed {
    values: BTreeMap<Period, PeriodValues>,
    pub catalogue: Vec<KpiInfo>,
    /// Periods computed now, and periods the cache already held.
    pub computed_periods: usize,
    pub cached_periods: usize,
    /// The periods to report, and the facts read for all of them at once
    /// where one pass beats a query per period (read when the first
    /// period's facts are asked for: part of the render stage).
    reported: Vec<Period>,
    /// The unknown-customer counts the SQLite engine kept with the values.
    unknown_counted: BTreeMap<Period, BTreeMap<String, u64>>,
    /// The deals closed before they were created, likewise.
    created_after_close: BTreeMap<Period, u64>,
    facts: std::cell::RefCell<Option<RunFacts>>,
}

/// What [`Computed::period`] reads once per run.
struct RunFacts {
    unknown: extras::UnknownCustomers,
    comments: Option<extras::RunComments>,
}

/// Everything one period's report shows, figures and facts.
pub struct PeriodFigures {
    pub period: Period,
    /// The compared KPIs of the whole business ("") and of every segment.
    pub rows: Vec<Compared>,
    /// The periods of the trend charts, oldest first, ending with `period`.
    pub history: Vec<Period>,
    /// Sources whose last row is older than the period: the report is
    /// archived with a warning and not emailed.
    pub stale: Vec<String>,
    pub quality: DataQuality,
    /// Survey comments, newest first: the period's pool, or on a SQLite
    /// store those of it that the scorecards can show
    /// ([`extras::shown_comments`]).
    pub comments: Vec<Comment>,
}

impl PeriodFigures {
    /// The segments with figures, in the order they first appear.
    pub fn segments(&self) -> Vec<String> {
        segments_of(&self.rows)
    }

    /// How many scopes (whole business and segments) have figures.
    pub fn scopes(&self) -> usize {
        self.rows
            .iter()
            .map(|r| &r.segment)
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// The segments with figures in `rows`, in the order they first appear
/// (each has a scorecard).
fn segments_of(rows: &[Compared]) -> Vec<String> {
    let mut segments: Vec<String> = Vec::new();
    for r in rows {
        if !r.segment.is_empty() && !segments.contains(&r.segment) {
            segments.push(r.segment.clone());
        }
    }
    segments
}

/// Computes (or takes from the cache) the values of `plan.needed`.
pub fn compute(store: &mut Store, config: &Config, plan: &Plan) -> Result<Computed> {
    crate::ingest::ensure_timezone(store, config)?;
    store.ensure_customer_segments(&crate::store::pg_segments::configured(config))?;
    let cache = engine::ensure(store, config, &plan.needed).context("computing the KPIs")?;
    let mut values = engine::load(store, &plan.needed)?;
    let unknown_counted = engine::take_unknown_customers(&mut values);
    let created_after_close = engine::take_created_after_close(&mut values);
    derive::apply(store, config, &mut values).context("deriving custom and ROI KPIs")?;
    let catalogue = engine::catalogue_for(store, config)?;
    tracing::info!(
        computed = cache.computed.len(),
        cached = cache.cached,
        "compute done"
    );
    Ok(Computed {
        values,
        catalogue,
        computed_periods: cache.computed.len(),
        cached_periods: cache.cached,
        reported: plan.periods.clone(),
        unknown_counted,
        created_after_close,
        facts: std::cell::RefCell::new(None),
    })
}

impl Computed {
    /// The KPIs of `p` compared with the previous, trailing and year-ago
    /// periods, targets and benchmarks.
    pub fn compared(&self, config: &Config, p: Period) -> Vec<Compared> {
        compare::compare_period(p, &self.values, &self.catalogue, config)
    }

    /// The figures and facts of `p`'s report.
    pub fn period(&self, store: &Store, config: &Config, p: Period) -> Result<PeriodFigures> {
        let stale = extras::stale_sources(store, p)?;
        let mut facts = self.facts.borrow_mut();
        if facts.is_none() {
            *facts = Some(RunFacts {
                unknown: extras::UnknownCustomers::for_periods(
                    store,
                    &self.reported,
                    self.unknown_counted.clone(),
                )?,
                comments: extras::RunComments::for_periods(store, config, &self.reported)?,
            });
        }
        let facts = facts.as_mut().expect("set above");
        let rows = self.compared(config, p);
        let comments = match facts.comments.as_mut().and_then(|c| c.take(p)) {
            Some(comments) => comments,
            None => match extras::shown_comments(store, config, p, &segments_of(&rows))? {
                Some(shown) => shown,
                None => extras::comments(store, config, p)?,
            },
        };
        Ok(PeriodFigures {
            period: p,
            rows,
            history: (0..config.report.history_periods)
                .rev()
                .map(|k| p.back(k))
                .collect(),
            quality: extras::data_quality(
                store,
                p,
                stale.clone(),
                &facts.unknown,
                self.created_after_close.get(&p).copied(),
            )?,
            comments,
            stale,
        })
    }
}
