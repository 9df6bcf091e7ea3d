//! Generated insights: plain sentences from rules, in the words of the
//! people who read the scorecard. Only what the figures support is said: a
//! change is called significant only when the test says so, and a large
//! move on a small sample is called inconclusive.
use crate::compare::{Compared, Status};
use crate::kpi::catalogue::{Direction, Uncertainty};

use super::format;

/// KPIs checked for segments pulling the business down.
const SEGMENT_WATCH: [&str; 6] = [
    "nps",
    "csat",
    "churn_rate",
    "first_response_sla_rate",
    "median_first_response_hours",
    "win_rate",
];
/// Below this many observations a segment is not singled out (the same
/// minimum as the significance rule).
const SMALL_SAMPLE: u64 = crate::kpi::stats::MIN_N;
const MAX_INSIGHTS: usize = 8;

fn verb(delta: f64) -> &'static str {
    if delta > 0.0 {
        "rose"
    } else {
        "fell"
    }
}

fn worse(direction: Direction, a: f64, b: f64) -> bool {
    match direction {
        Direction::Higher => a < b,
        Direction::Lower => a > b,
    }
}

pub fn generate(rows: &[Compared], segment: &str, currency: &str) -> Vec<String> {
    let mine: Vec<&Compared> = rows.iter().filter(|r| r.segment == segment).collect();
    let fmt = |r: &Compared, v: f64| format::value(v, r.info.unit, currency);
    let mut out = Vec::new();

    // 1. The largest significant changes.
    let mut significant: Vec<(&Compared, f64)> = mine
        .iter()
        .filter_map(|r| {
            let c = r.previous.as_ref()?;
            // The one rule of kpis.md (too few observations: None).
            (c.significant.flatten() == Some(true)).then_some((*r, c.delta?))
        })
        .collect();
    significant.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    for (r, d) in significant.iter().take(3) {
        let (lo, hi) = r.current.ci95.unwrap_or_default();
        out.push(format!(
            "{} {} {} to {} against the previous period, a significant change (95% interval {} – {}, n = {}).",
            r.info.title,
            verb(*d),
            format::delta(d.abs(), r.info.unit, currency).trim_start_matches('+'),
            fmt(r, r.current.value.unwrap_or_default()),
            format::grouped(lo, 1),
            format::grouped(hi, 1),
            r.current.n.unwrap_or(0)
        ));
    }

    // 2. KPIs off track against their target or benchmark.
    for r in mine.iter().filter(|r| r.status == Status::OffTrack).take(3) {
        let (goal, what) = match (&r.target, &r.industry) {
            (Some(t), _) => (t.value, "the target".to_string()),
            (None, Some(i)) => (
                i.value,
                format!(
                    "the industry benchmark ({})",
                    i.source.clone().unwrap_or_default()
                ),
            ),
            _ => continue,
        };
        out.push(format!(
            "{} is off track: {} against {} of {}.",
            r.info.title,
            fmt(r, r.current.value.unwrap_or_default()),
            what,
            fmt(r, goal)
        ));
    }

    // 3. Segments holding a KPI back (whole-business scorecard only).
    if segment.is_empty() {
        for id in SEGMENT_WATCH {
            let Some(whole) = mine.iter().find(|r| r.info.id == id) else {
                continue;
            };
            let Some(total) = whole.current.value else {
                continue;
            };
            let worst = rows
                .iter()
                .filter(|r| {
                    r.info.id == id && !r.segment.is_empty() && !r.segment.ends_with("=(none)")
                })
                .filter(|r| r.current.n.unwrap_or(0) >= SMALL_SAMPLE)
                .filter_map(|r| r.current.value.map(|v| (r, v)))
                .filter(|(r, v)| {
                    // Worse than the whole business by more than its own margin of error.
                    let margin = r
                        .current
                        .ci95
                        .map(|(lo, hi)| (hi - lo) / 2.0)
                        .unwrap_or(total.abs() * 0.2);
                    worse(r.info.direction, *v, total) && (v - total).abs() > margin
                })
                .max_by(|a, b| (a.1 - total).abs().total_cmp(&(b.1 - total).abs()));
            if let Some((r, v)) = worst {
                let trend = match r.previous.as_ref().and_then(|c| c.delta) {
                    Some(d) if d != 0.0 => format!(
                        ", {} {} since the previous period",
                        verb(d),
                        format::delta(d.abs(), r.info.unit, currency).trim_start_matches('+')
                    ),
                    _ => String::new(),
                };
                out.push(format!(
                    "{} is holding back {}: {} against {} for the whole business{}.",
                    r.segment,
                    whole.info.title,
                    fmt(r, v),
                    fmt(whole, total),
                    trend
                ));
            }
        }
    }

    // 4. Big moves the test cannot judge: too few observations to tell.
    for r in mine
        .iter()
        .filter(|r| r.info.uncertainty != Uncertainty::None)
    {
        let Some(c) = &r.previous else { continue };
        let (Some(d), Some(n)) = (c.delta, r.current.n) else {
            continue;
        };
        if c.significant == Some(None) && d.abs() >= 5.0 {
            let sizes = match c.n {
                Some(m) if m < SMALL_SAMPLE && n >= SMALL_SAMPLE => {
                    format!("{m} observations in the previous period")
                }
                _ if n == 1 => "1 observation".to_string(),
                _ => format!("{n} observations"),
            };
            out.push(format!(
                "{} moved {}: too few to tell whether the change is real ({}; the test needs {} in each period).",
                r.info.title,
                format::delta(d, r.info.unit, currency),
                sizes,
                SMALL_SAMPLE
            ));
        }
    }
    if out.is_empty() {
        out.push(
            "No KPI changed significantly against the previous period, and none is off track."
                .into(),
        );
    }
    out.truncate(MAX_INSIGHTS);
    out
}
