//! Comparisons of every KPI with the previous period, the trailing average,
//! the same period a year ago, the industry benchmark and the target, and the
//! status (kpis.md "Comparisons").
use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Benchmark, Config, Target};
use crate::kpi::catalogue::{Direction, KpiInfo, Uncertainty, Unit};
use crate::kpi::engine::{KpiValue, PeriodValues};
use crate::kpi::stats::{self, change_significance, outside_by, usual_range, Sample, USUAL_WINDOW};
use crate::period::Period;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub value: f64,
    pub delta: Option<f64>,
    pub delta_pct: Option<f64>,
    /// Present (Some) only on `previous` of interval KPIs.
    pub significant: Option<Option<bool>>,
    /// The reference's sample size (previous period only).
    pub n: Option<u64>,
    pub source: Option<String>,
    pub year: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OnTrack,
    AtRisk,
    OffTrack,
    NoTarget,
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnTrack => "on_track",
            Status::AtRisk => "at_risk",
            Status::OffTrack => "off_track",
            Status::NoTarget => "no_target",
            Status::NoData => "no_data",
        }
    }
}

/// One KPI in one segment of the reported period, with everything it is compared to.
#[derive(Debug, Clone)]
pub struct Compared {
    pub info: KpiInfo,
    pub segment: String,
    pub current: KpiValue,
    pub previous: Option<Comparison>,
    pub trailing_avg: Option<Comparison>,
    pub year_ago: Option<Comparison>,
    pub industry: Option<Comparison>,
    pub target: Option<Comparison>,
    pub target_spec: Target,
    pub status: Status,
    /// Values of the history window, oldest first (for sparklines).
    pub history: Vec<Option<f64>>,
    /// The usual range from the 12 periods before (kpis.md "Usual range").
    pub usual: Option<(f64, f64)>,
    /// The value lies outside its usual range; None without either.
    pub unusual: Option<bool>,
    /// How far outside, in units of the range's width (0 inside, signed).
    pub outside: Option<f64>,
}

fn comparison(value: Option<f64>, reference: f64) -> Comparison {
    let delta = value.map(|v| v - reference);
    let delta_pct = delta
        .filter(|_| reference != 0.0)
        .map(|d| 100.0 * d / reference.abs());
    Comparison {
        value: reference,
        delta,
        delta_pct,
        significant: None,
        n: None,
        source: None,
        year: None,
    }
}

/// Compares every KPI of every segment of `period`. `values` holds the
/// period and its references (previous, trailing window, year ago, history).
pub fn compare_period(
    period: Period,
    values: &BTreeMap<Period, PeriodValues>,
    catalogue: &[KpiInfo],
    config: &Config,
) -> Vec<Compared> {
    let Some(by_segment) = values.get(&period) else {
        return Vec::new();
    };
    // The periods the comparisons read, resolved once: 0, 1, 2… back, and
    // the year ago.
    let reach = config
        .report
        .history_periods
        .max(USUAL_WINDOW + 1)
        .max(config.report.trailing_periods + 1);
    let back: Vec<Period> = std::iter::successors(Some(period), |p| Some(p.previous()))
        .take(reach)
        .collect();
    let year_ago = period.year_ago();
    let mut out = Vec::with_capacity(by_segment.len() * catalogue.len());
    for segment in by_segment.keys() {
        let of = |p: &Period| values.get(p).and_then(|v| v.get(segment.as_str()));
        let seen = Seen {
            back: back.iter().map(of).collect(),
            year_ago: of(&year_ago),
        };
        for info in catalogue {
            out.push(compare_kpi(&seen, segment, info, config));
        }
    }
    out
}

/// One segment's values in the periods a comparison reads.
struct Seen<'a> {
    /// `back[k]`: `k` periods back (0 = the period compared).
    back: Vec<Option<&'a BTreeMap<String, KpiValue>>>,
    year_ago: Option<&'a BTreeMap<String, KpiValue>>,
}

impl<'a> Seen<'a> {
    fn back(&self, k: usize, kpi: &str) -> Option<&'a KpiValue> {
        self.back.get(k).copied().flatten()?.get(kpi)
    }
}

/// One KPI of one segment against its previous period, trailing average,
/// year ago, benchmark and target, with its status, history and usual range.
fn compare_kpi(seen: &Seen, segment: &str, info: &KpiInfo, config: &Config) -> Compared {
    // The KPI's value in each period back, looked up once.
    let at: Vec<Option<&KpiValue>> = (0..seen.back.len())
        .map(|k| seen.back(k, &info.id))
        .collect();
    let value_at = |k: usize| at.get(k).copied().flatten().and_then(|v| v.value);
    let current = at
        .first()
        .copied()
        .flatten()
        .cloned()
        .unwrap_or_else(|| KpiValue::null("not computed for this segment"));
    let value = current.value;
    let prev_v = at.get(1).copied().flatten();
    let previous = prev_v
        .and_then(|p| p.value)
        .map(|r| against_previous(&current, prev_v, r, info));
    let trailing: Vec<f64> = (1..=config.report.trailing_periods)
        .filter_map(value_at)
        .collect();
    let trailing_avg = (!trailing.is_empty())
        .then(|| comparison(value, trailing.iter().sum::<f64>() / trailing.len() as f64));
    let year_ago = seen
        .year_ago
        .and_then(|v| v.get(&info.id))
        .and_then(|v| v.value)
        .map(|r| comparison(value, r));
    let standard = Standard::of(&current, prev_v, segment, info, config);
    let history = (0..config.report.history_periods)
        .rev()
        .map(value_at)
        .collect();
    let window: Vec<Option<f64>> = (1..=USUAL_WINDOW).rev().map(value_at).collect();
    let usual = usual_range(&window).map(|u| within_bounds(u, info));
    let unusual = value.zip(usual).map(|(v, u)| stats::unusual(v, u));
    let outside = value.zip(usual).and_then(|(v, u)| outside_by(v, u));
    Compared {
        info: info.clone(),
        segment: segment.to_string(),
        current,
        previous,
        trailing_avg,
        year_ago,
        industry: standard.industry,
        target: standard.target,
        target_spec: standard.target_spec,
        status: standard.status,
        history,
        usual,
        unusual,
        outside,
    }
}

/// The change against the previous period's value `reference`, with its
/// significance for KPIs with an interval.
fn against_previous(
    current: &KpiValue,
    prev_v: Option<&KpiValue>,
    reference: f64,
    info: &KpiInfo,
) -> Comparison {
    let mut c = comparison(current.value, reference);
    c.n = prev_v.and_then(|p| p.n);
    if info.uncertainty != Uncertainty::None {
        let sample = |k: &KpiValue| Sample {
            value: k.value,
            n: k.n,
            se: k.se,
        };
        // A provisional figure is never called a significant change.
        c.significant = Some(
            change_significance(
                sample(current),
                prev_v.map(sample).unwrap_or(Sample {
                    value: None,
                    n: None,
                    se: None,
                }),
            )
            .filter(|_| !current.provisional()),
        );
    }
    c
}

/// A KPI measured against its industry benchmark and target, and the status
/// they give it.
struct Standard {
    industry: Option<Comparison>,
    target: Option<Comparison>,
    target_spec: Target,
    status: Status,
}

impl Standard {
    fn of(
        current: &KpiValue,
        prev_v: Option<&KpiValue>,
        segment: &str,
        info: &KpiInfo,
        config: &Config,
    ) -> Standard {
        let value = current.value;
        // Targets and benchmarks of totals (counts, revenue…) are for the
        // whole business: a segment's share never meets them.
        let applies = segment.is_empty() || !info.is_total();
        let bench: Option<&Benchmark> = config.benchmark(&info.id).filter(|_| applies);
        let industry = bench.map(|b| {
            let mut c = comparison(value, b.value);
            c.source = Some(b.source.clone());
            c.year = Some(b.year);
            c
        });
        let target_spec = config
            .targets
            .get(&info.id)
            .filter(|_| applies)
            .cloned()
            .unwrap_or_default();
        let target = target_spec.target.map(|t| comparison(value, t));
        let mut status = status(value, info.direction, &target_spec, bench.map(|b| b.value));
        // A provisional figure never changes status on its own: it keeps
        // the previous period's.
        if current.provisional() {
            if let Some(p) = prev_v.and_then(|p| p.value) {
                status = self::status(
                    Some(p),
                    info.direction,
                    &target_spec,
                    bench.map(|b| b.value),
                );
            }
        }
        Standard {
            industry,
            target,
            target_spec,
            status,
        }
    }
}

/// The usual range cut to the values a KPI can take (kpis.md "Usual
/// range"): counts and durations are never below 0, proportions stay in
/// 0..100, NPS in −100..100; money, ratios and other percentages (ROI) are
/// not cut.
pub fn within_bounds((lo, hi): (f64, f64), info: &KpiInfo) -> (f64, f64) {
    let (min, max) = match (info.uncertainty, info.unit) {
        (Uncertainty::Proportion, _) => (0.0, 100.0),
        (Uncertainty::Nps, _) => (-100.0, 100.0),
        (_, Unit::Count | Unit::Hours | Unit::Days) => (0.0, f64::INFINITY),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    };
    (lo.clamp(min, max), hi.clamp(min, max))
}

/// on_track when the value meets the target (or, with no target, the
/// industry benchmark) in the KPI's direction; at_risk when it misses but
/// meets the floor (no floor: misses by less than 5 % of the target);
/// off_track otherwise; no_target without either; no_data without a value.
pub fn status(
    value: Option<f64>,
    direction: Direction,
    target: &Target,
    benchmark: Option<f64>,
) -> Status {
    let (goal, floor) = match (target.target, benchmark) {
        (Some(t), _) => (t, target.floor),
        (None, Some(b)) => (b, None),
        (None, None) => return Status::NoTarget,
    };
    let Some(v) = value else {
        return Status::NoData;
    };
    let meets = |v: f64, goal: f64| match direction {
        Direction::Higher => v >= goal,
        Direction::Lower => v <= goal,
    };
    if meets(v, goal) {
        Status::OnTrack
    } else if match floor {
        Some(f) => meets(v, f),
        None => (v - goal).abs() < 0.05 * goal.abs(),
    } {
        Status::AtRisk
    } else {
        Status::OffTrack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(target: f64, floor: Option<f64>) -> Target {
        Target {
            target: Some(target),
            stretch: None,
            floor,
        }
    }

    #[test]
    fn statuses_follow_direction_floor_and_benchmark() {
        use Direction::*;
        use Status::*;
        let none = Target::default();
        // (value, direction, target, benchmark, expected status)
        type Case = (Option<f64>, Direction, Target, Option<f64>, Status);
        let cases: [Case; 11] = [
            (Some(41.0), Higher, t(40.0, Some(30.0)), None, OnTrack),
            (Some(40.0), Higher, t(40.0, Some(30.0)), None, OnTrack),
            (Some(35.0), Higher, t(40.0, Some(30.0)), None, AtRisk),
            (Some(29.0), Higher, t(40.0, Some(30.0)), None, OffTrack),
            // Lower is better: churn against target 0.5, floor 0.8.
            (Some(0.6), Lower, t(0.5, Some(0.8)), None, AtRisk),
            (Some(0.9), Lower, t(0.5, Some(0.8)), None, OffTrack),
            // No floor: within 5 % of the target is at risk.
            (Some(96.0), Higher, t(100.0, None), None, AtRisk),
            (Some(94.0), Higher, t(100.0, None), None, OffTrack),
            // No target: the benchmark decides.
            (Some(37.0), Higher, none.clone(), Some(36.0), OnTrack),
            (Some(1.0), Higher, none, None, NoTarget),
            (None, Higher, t(1.0, None), None, NoData),
        ];
        for (value, direction, target, benchmark, expected) in cases {
            assert_eq!(
                status(value, direction, &target, benchmark),
                expected,
                "{value:?} {direction:?} {target:?} {benchmark:?}"
            );
        }
    }

    #[test]
    fn usual_ranges_stay_within_what_a_kpi_can_take() {
        let info = |id: &str| KpiInfo::from(crate::kpi::catalogue::built_in(id).unwrap());
        // A count never goes below 0; money is not cut.
        assert_eq!(within_bounds((-2.0, 5.0), &info("orders")), (0.0, 5.0));
        assert_eq!(within_bounds((-2.0, 5.0), &info("revenue")), (-2.0, 5.0));
        // A proportion stays in 0..100, NPS in −100..100.
        assert_eq!(within_bounds((91.9, 104.0), &info("csat")), (91.9, 100.0));
        assert_eq!(within_bounds((-130.0, 20.0), &info("nps")), (-100.0, 20.0));
    }

    #[test]
    fn deltas() {
        let c = comparison(Some(41.2), 39.0);
        assert!((c.delta.unwrap() - 2.2).abs() < 1e-9);
        assert!((c.delta_pct.unwrap() - 5.641).abs() < 1e-3);
        assert_eq!(comparison(Some(1.0), 0.0).delta_pct, None);
        let c = comparison(None, 3.0);
        assert_eq!((c.value, c.delta, c.delta_pct), (3.0, None, None));
        // Negative reference: the percentage is against its magnitude.
        assert!((comparison(Some(-5.0), -10.0).delta_pct.unwrap() - 50.0).abs() < 1e-9);
    }
}
