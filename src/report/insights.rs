//! Generated insights: plain sentences from rules, in the words of the
//! people who read the scorecard (kpis.md "Insights"). Only what the figures
//! support is said: a change is called significant only when the one rule of
//! kpis.md says so, a move the test cannot judge is "too few to tell", a
//! change is worded by whether it is better or worse (never "fell 2.2 h" for a
//! response time that improved), a finding that was already true last period
//! is collapsed ("still off track since W41") instead of repeated, and
//! segments are named the way people say them ("EMEA (region)").
use crate::compare::{self, Compared, Status};
use crate::kpi::catalogue::{Direction, Uncertainty};
use crate::kpi::stats::MIN_N;
use crate::period::{Cadence, Period};

use super::format;
use super::view::{segment_label, short_label};

/// KPIs checked for segments pulling the business down, and for segments'
/// streaks on the whole-business scorecard.
const SEGMENT_WATCH: [&str; 6] = [
    "nps",
    "csat",
    "churn_rate",
    "first_response_sla_rate",
    "median_first_response_hours",
    "win_rate",
];
/// A streak is told once a KPI has moved the same way this many periods running.
pub const STREAK_MIN: usize = 5;
/// Moves the test cannot judge are told from this size on (units, points).
const BIG_MOVE: f64 = 5.0;
const MAX_SIGNIFICANT: usize = 3;
const MAX_STREAKS: usize = 2;
const MAX_OFF_TRACK: usize = 3;
const MAX_INSIGHTS: usize = 8;

/// Whether a change of sign `delta` is better for a KPI of `direction`.
fn better(direction: Direction, delta: f64) -> bool {
    match direction {
        Direction::Higher => delta > 0.0,
        Direction::Lower => delta < 0.0,
    }
}

fn worse_than(direction: Direction, a: f64, b: f64) -> bool {
    match direction {
        Direction::Higher => a < b,
        Direction::Lower => a > b,
    }
}

/// "improved" / "worsened".
fn judged(direction: Direction, delta: f64) -> &'static str {
    if better(direction, delta) {
        "improved"
    } else {
        "worsened"
    }
}

/// "rose" / "fell" and "risen" / "fallen".
fn moved(delta: f64) -> (&'static str, &'static str) {
    if delta > 0.0 {
        ("rose", "risen")
    } else {
        ("fell", "fallen")
    }
}

fn period_word(cadence: Cadence) -> &'static str {
    match cadence {
        Cadence::Weekly => "week",
        Cadence::Monthly => "month",
        Cadence::Quarterly => "quarter",
    }
}

fn periods_word(cadence: Cadence, n: usize) -> String {
    let unit = period_word(cadence);
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// A run of moves the same way ending at the latest value.
#[derive(Debug, Clone, PartialEq)]
pub struct Streak {
    /// Number of period-over-period moves (values − 1).
    pub moves: usize,
    /// The values from the start of the streak to the latest, oldest first.
    pub values: Vec<f64>,
}

impl Streak {
    pub fn delta(&self) -> f64 {
        self.values.last().copied().unwrap_or_default()
            - self.values.first().copied().unwrap_or_default()
    }
}

/// The streak ending at the last entry of `history` (oldest first): the
/// longest run of strictly rising (or strictly falling) consecutive values;
/// a gap or an unchanged value ends it. None with fewer than `min` moves.
pub fn streak(history: &[Option<f64>], min: usize) -> Option<Streak> {
    let mut values: Vec<f64> = Vec::new();
    let mut sign = 0.0f64;
    for v in history.iter().rev() {
        let Some(v) = *v else { break };
        if let Some(&later) = values.last() {
            let d: f64 = later - v;
            if d == 0.0 || (sign != 0.0 && d.signum() != sign) {
                break;
            }
            sign = d.signum();
        }
        values.push(v);
    }
    values.reverse();
    let moves = values.len().saturating_sub(1);
    (moves >= min.max(1)).then_some(Streak { moves, values })
}

/// The oldest period of the run of consecutive off-track periods that ends
/// with the current one, from the KPI's history (the current target and
/// benchmark applied to each past value), and whether the run reaches the
/// start of the window. None when the previous period was not off track.
pub fn off_track_since(r: &Compared, period: Period) -> Option<(Period, bool)> {
    let bench = r.industry.as_ref().map(|c| c.value);
    let len = r.history.len();
    if len < 2 {
        return None;
    }
    let mut since = None;
    // history[len - 1] is the current period; walk back from the previous one.
    for back in 1..len {
        let v = r.history[len - 1 - back];
        if compare::status(v, r.info.direction, &r.target_spec, bench) != Status::OffTrack {
            break;
        }
        since = Some(period.back(back));
    }
    let since = since?;
    Some((since, since == period.back(len - 1)))
}

/// "W41" in the same year as `period`, else the full id ("2025-W52").
fn period_name(p: Period, period: Period) -> String {
    let same_year = p.id().get(..4) == period.id().get(..4);
    if same_year && p.cadence != Cadence::Monthly {
        short_label(p)
    } else if same_year {
        p.start.format("%B").to_string()
    } else {
        p.id()
    }
}

/// "EMEA (region): " before a title, or nothing on the scorecard's own rows.
fn subject(r: &Compared, own: &str) -> String {
    if r.segment == own {
        r.info.title.clone()
    } else {
        format!("{}: {}", segment_label(&r.segment), r.info.title)
    }
}

fn arrows(values: &[f64], r: &Compared, currency: &str) -> String {
    let fmt = |v: f64| format::value(v, r.info.unit, currency);
    if values.len() <= 7 {
        values
            .iter()
            .map(|v| fmt(*v))
            .collect::<Vec<_>>()
            .join(" → ")
    } else {
        format!("{} → … → {}", fmt(values[0]), fmt(*values.last().unwrap()))
    }
}

/// What every rule reads: the period's rows, the scorecard's own, and how
/// to write a figure.
struct Scope<'a> {
    rows: &'a [Compared],
    /// The rows of the scorecard's segment.
    mine: Vec<&'a Compared>,
    segment: &'a str,
    currency: &'a str,
    period: Period,
}

impl Scope<'_> {
    /// The scorecard's current value as its table shows it: with the
    /// decimals it takes not to read the same as a target, floor or
    /// benchmark it differs from.
    fn current(&self, r: &Compared) -> String {
        let v = r.current.value.unwrap_or_default();
        format::value_against(v, &super::view::references(r), r.info.unit, self.currency)
    }

    /// `v` said beside `other` (a goal, the whole business): never the same
    /// figure when the two differ ("0.84% against 0.8%", not "0.8% against 0.8%").
    fn beside(&self, r: &Compared, v: f64, other: f64) -> String {
        format::value_against(v, &[other], r.info.unit, self.currency)
    }

    /// The size of a change, without its sign.
    fn amount(&self, r: &Compared, d: f64) -> String {
        format::delta(d.abs(), r.info.unit, self.currency)
            .trim_start_matches('+')
            .to_string()
    }
}

pub fn generate(rows: &[Compared], segment: &str, currency: &str, period: Period) -> Vec<String> {
    let scope = Scope {
        rows,
        mine: rows.iter().filter(|r| r.segment == segment).collect(),
        segment,
        currency,
        period,
    };
    let mut out = Vec::new();
    out.extend(provisional(&scope));
    out.extend(significant_changes(&scope));
    out.extend(streaks(&scope));
    out.extend(off_track(&scope));
    if segment.is_empty() {
        out.extend(holding_back(&scope));
    }
    out.extend(too_few_to_tell(&scope));
    if out.is_empty() {
        out.push(
            "No KPI changed significantly against the previous period, and none is off track."
                .into(),
        );
    }
    out.truncate(MAX_INSIGHTS);
    out
}

/// Figures the cut-off still moves (kpis.md "Tickets and the data's as-of").
fn provisional(s: &Scope) -> Option<String> {
    let provisional: Vec<&&Compared> = s.mine.iter().filter(|r| r.current.provisional()).collect();
    let most = provisional.iter().filter_map(|r| r.current.pending).max()?;
    Some(format!(
        "Provisional: {} tickets of this period are still inside their window at the data's as-of, so {} can still move (never called a significant change, status held from the previous period).",
        format::grouped(most as f64, 0),
        provisional
            .iter()
            .map(|r| r.info.title.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The largest significant changes, worded by better or worse.
fn significant_changes(s: &Scope) -> Vec<String> {
    let mut significant: Vec<(&Compared, f64)> = s
        .mine
        .iter()
        .filter_map(|r| {
            let c = r.previous.as_ref()?;
            (c.significant.flatten() == Some(true)).then_some((*r, c.delta?))
        })
        .collect();
    largest_first(&mut significant);
    significant
        .iter()
        .take(MAX_SIGNIFICANT)
        .map(|(r, d)| {
            let (lo, hi) = r.current.ci95.unwrap_or_default();
            format!(
                "{} {}: {} {} to {} against the previous period, a significant change (95% interval {} – {}, n = {}).",
                r.info.title,
                judged(r.info.direction, *d),
                moved(*d).0,
                s.amount(r, *d),
                s.current(r),
                format::grouped(lo, 1),
                format::grouped(hi, 1),
                r.current.n.unwrap_or(0)
            )
        })
        .collect()
}

/// KPIs with a size (a change, a distance from the usual range), the
/// largest first whatever its sign, then by id.
pub(super) fn largest_first(kpis: &mut [(&Compared, f64)]) {
    kpis.sort_by(|a, b| {
        b.1.abs()
            .total_cmp(&a.1.abs())
            .then_with(|| a.0.info.id.cmp(&b.0.info.id))
    });
}

/// Streaks: the scorecard's own KPIs, and on the whole business the watched
/// KPIs of every attributed segment with enough observations (worsening
/// ones only).
fn streaks(s: &Scope) -> Vec<String> {
    let (segment, period) = (s.segment, s.period);
    let mut streaks: Vec<(&Compared, Streak)> = s
        .mine
        .iter()
        .filter_map(|r| streak(&r.history, STREAK_MIN).map(|s| (*r, s)))
        .collect();
    if segment.is_empty() {
        streaks.extend(
            s.rows
                .iter()
                .filter(|r| {
                    !r.segment.is_empty()
                        && !r.segment.ends_with("=(none)")
                        && SEGMENT_WATCH.contains(&r.info.id.as_str())
                        && r.current.n.unwrap_or(0) >= MIN_N
                })
                .filter_map(|r| streak(&r.history, STREAK_MIN).map(|s| (r, s)))
                .filter(|(r, s)| !better(r.info.direction, s.delta())),
        );
    }
    // Worse first, then the longest, then the largest relative move.
    streaks.sort_by(|(ra, a), (rb, b)| {
        better(ra.info.direction, a.delta())
            .cmp(&better(rb.info.direction, b.delta()))
            .then(b.moves.cmp(&a.moves))
            .then_with(|| ra.segment.cmp(&rb.segment))
            .then_with(|| ra.info.id.cmp(&rb.info.id))
    });
    streaks
        .iter()
        .take(MAX_STREAKS)
        .map(|(r, st)| {
            let d = st.delta();
            format!(
                "{} has {} {} running, {} each {}: {}.",
                subject(r, segment),
                moved(d).1,
                periods_word(period.cadence, st.moves),
                if better(r.info.direction, d) {
                    "better"
                } else {
                    "worse"
                },
                period_word(period.cadence),
                arrows(&st.values, r, s.currency)
            )
        })
        .collect()
}

/// KPIs off track against their target or benchmark; one already off track
/// the period before is told as "still off track since …".
fn off_track(s: &Scope) -> Vec<String> {
    let mut out = Vec::new();
    for r in s
        .mine
        .iter()
        .filter(|r| r.status == Status::OffTrack)
        .take(MAX_OFF_TRACK)
    {
        let value = s.current(r);
        let current = r.current.value.unwrap_or_default();
        let (goal, what, short) = match (&r.target, &r.industry) {
            (Some(t), _) => (t.value, "the target".to_string(), "the target"),
            (None, Some(i)) => (
                i.value,
                format!(
                    "the industry benchmark ({})",
                    i.source.clone().unwrap_or_default()
                ),
                "the industry benchmark",
            ),
            _ => continue,
        };
        out.push(match off_track_since(r, s.period) {
            Some((since, at_window_start)) => format!(
                "{} is still off track since {}{}: {} against {} of {}.",
                r.info.title,
                if at_window_start { "at least " } else { "" },
                period_name(since, s.period),
                value,
                short,
                s.beside(r, goal, current)
            ),
            None => format!(
                "{} is off track: {} against {} of {}.",
                r.info.title,
                value,
                what,
                s.beside(r, goal, current)
            ),
        });
    }
    out
}

/// Segments holding a KPI back (for the whole-business scorecard): the
/// attributed segment furthest worse than the whole business, by more than
/// its own margin of error.
fn holding_back(s: &Scope) -> Vec<String> {
    let mut out = Vec::new();
    for id in SEGMENT_WATCH {
        let Some(whole) = s.mine.iter().find(|r| r.info.id == id) else {
            continue;
        };
        let Some(total) = whole.current.value else {
            continue;
        };
        let worst = s
            .rows
            .iter()
            .filter(|r| r.info.id == id && !r.segment.is_empty() && !r.segment.ends_with("=(none)"))
            .filter(|r| r.current.n.unwrap_or(0) >= MIN_N)
            .filter_map(|r| r.current.value.map(|v| (r, v)))
            .filter(|(r, v)| {
                // Worse than the whole business by more than its own margin of error.
                let margin = r
                    .current
                    .ci95
                    .map(|(lo, hi)| (hi - lo) / 2.0)
                    .unwrap_or(total.abs() * 0.2);
                worse_than(r.info.direction, *v, total) && (v - total).abs() > margin
            })
            .max_by(|a, b| (a.1 - total).abs().total_cmp(&(b.1 - total).abs()));
        if let Some((r, v)) = worst {
            let trend = match r.previous.as_ref().and_then(|c| c.delta) {
                Some(d) if d != 0.0 => format!(
                    ", {} by {} since the previous period",
                    judged(r.info.direction, d),
                    s.amount(r, d)
                ),
                _ => String::new(),
            };
            out.push(format!(
                "{} is holding back {}: {} against {} for the whole business{}.",
                segment_label(&r.segment),
                whole.info.title,
                s.beside(r, v, total),
                s.beside(whole, total, v),
                trend
            ));
        }
    }
    out
}

/// Big moves the test cannot judge: too few observations to tell.
fn too_few_to_tell(s: &Scope) -> Vec<String> {
    let mut out = Vec::new();
    for r in s
        .mine
        .iter()
        .filter(|r| r.info.uncertainty != Uncertainty::None)
    {
        let Some(c) = &r.previous else { continue };
        let (Some(d), Some(n)) = (c.delta, r.current.n) else {
            continue;
        };
        if c.significant == Some(None) && d.abs() >= BIG_MOVE {
            let sizes = match c.n {
                Some(m) if m < MIN_N && n >= MIN_N => {
                    format!("{m} observations in the previous period")
                }
                _ if n == 1 => "1 observation".to_string(),
                _ => format!("{n} observations"),
            };
            out.push(format!(
                "{} {} by {}: too few to tell whether the change is real ({}; the test needs {} in each period).",
                r.info.title,
                judged(r.info.direction, d),
                s.amount(r, d),
                sizes,
                MIN_N
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Comparison;
    use crate::config::Target;
    use crate::kpi::catalogue::{built_in, KpiInfo};
    use crate::model::KpiValue;

    fn week(id: &str) -> Period {
        Period::parse(id).unwrap()
    }

    fn row(id: &str, segment: &str, history: &[Option<f64>]) -> Compared {
        let value = *history.last().unwrap();
        let prev = history.len().checked_sub(2).and_then(|i| history[i]);
        Compared {
            info: KpiInfo::from(built_in(id).unwrap()),
            segment: segment.into(),
            current: KpiValue {
                value,
                n: Some(200),
                ..Default::default()
            },
            previous: prev.map(|p| Comparison {
                value: p,
                delta: value.map(|v| v - p),
                delta_pct: None,
                significant: Some(Some(false)),
                n: Some(200),
                source: None,
                year: None,
            }),
            trailing_avg: None,
            year_ago: None,
            industry: None,
            target: None,
            target_spec: Target::default(),
            status: Status::NoTarget,
            history: history.to_vec(),
            usual: None,
            unusual: None,
            outside: None,
        }
    }

    #[test]
    fn streaks_by_hand() {
        let s = |v: &[f64]| v.iter().copied().map(Some).collect::<Vec<_>>();
        // 95 → 79.2 → … → 50.9: six falls in a row.
        let h = s(&[95.0, 79.2, 76.5, 72.5, 70.6, 60.2, 50.9]);
        let st = streak(&h, 5).unwrap();
        assert_eq!(st.moves, 6);
        assert_eq!(st.values.first(), Some(&95.0));
        // A rise before the falls starts the streak after it.
        let h = s(&[50.0, 79.2, 76.5, 72.5, 70.6, 60.2, 50.9]);
        assert_eq!(
            streak(&h, 5).unwrap().values,
            vec![79.2, 76.5, 72.5, 70.6, 60.2, 50.9]
        );
        // Four moves are not enough at min 5; a gap or a flat step ends it.
        assert_eq!(streak(&s(&[5.0, 4.0, 3.0, 2.0, 1.0]), 5), None);
        assert_eq!(streak(&s(&[5.0, 4.0, 3.0, 2.0, 1.0]), 4).unwrap().moves, 4);
        let gap = [Some(9.0), None, Some(7.0), Some(6.0), Some(5.0)];
        assert_eq!(streak(&gap, 2).unwrap().moves, 2);
        assert_eq!(streak(&s(&[3.0, 3.0, 4.0]), 1).unwrap().moves, 1);
        assert_eq!(streak(&[None, Some(1.0)], 1), None);
        // Rises count the same way.
        assert_eq!(
            streak(&s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 5)
                .unwrap()
                .delta(),
            5.0
        );
    }

    #[test]
    fn a_segment_streak_is_told_by_name_and_direction() {
        let h: Vec<Option<f64>> = [83.0, 79.2, 76.5, 72.5, 70.6, 60.2, 50.9]
            .into_iter()
            .map(Some)
            .collect();
        let rows = vec![
            row("first_response_sla_rate", "", &[Some(80.0), Some(81.0)]),
            row("first_response_sla_rate", "region=EMEA", &h),
        ];
        let out = generate(&rows, "", "$", week("2026-W48"));
        assert!(
            out.contains(&"EMEA (region): First response within SLA has fallen 6 weeks running, worse each week: 83.0% → 79.2% → 76.5% → 72.5% → 70.6% → 60.2% → 50.9%.".to_string()),
            "{out:#?}"
        );
        // On EMEA's own scorecard the subject is the KPI alone.
        let out = generate(&rows, "region=EMEA", "$", week("2026-W48"));
        assert!(
            out[0].starts_with("First response within SLA has fallen 6 weeks running"),
            "{out:#?}"
        );
    }

    #[test]
    fn changes_are_worded_by_direction() {
        // A median response time that fell 2.2 h improved.
        let mut r = row("median_first_response_hours", "", &[Some(6.3), Some(4.1)]);
        r.previous.as_mut().unwrap().significant = Some(Some(true));
        r.current.ci95 = Some((3.0, 5.0));
        let out = generate(&[r], "", "$", week("2026-W48"));
        assert_eq!(
            out[0],
            "First response (median) improved: fell 2.2 h to 4.1 h against the previous period, a significant change (95% interval 3.0 – 5.0, n = 200)."
        );
        let mut r = row("nps", "", &[Some(30.0), Some(20.0)]);
        r.previous.as_mut().unwrap().significant = Some(Some(true));
        let out = generate(&[r], "", "$", week("2026-W48"));
        assert!(
            out[0].starts_with("Net Promoter Score worsened: fell 10.0 pts to 20.0"),
            "{}",
            out[0]
        );
    }

    #[test]
    fn a_finding_from_last_week_is_collapsed() {
        let target = Target {
            target: Some(80.0),
            stretch: None,
            floor: Some(75.0),
        };
        // Off track (< 75) in W45, W46, W47 and W48; on track in W44.
        let mut r = row(
            "csat",
            "",
            &[Some(85.0), Some(70.0), Some(71.0), Some(72.0), Some(60.0)],
        );
        r.target_spec = target.clone();
        r.target = Some(Comparison {
            value: 80.0,
            delta: Some(-20.0),
            delta_pct: None,
            significant: None,
            n: None,
            source: None,
            year: None,
        });
        r.status = Status::OffTrack;
        assert_eq!(
            off_track_since(&r, week("2026-W48")),
            Some((week("2026-W45"), false))
        );
        let out = generate(std::slice::from_ref(&r), "", "$", week("2026-W48"));
        assert!(
            out.contains(&"Customer satisfaction is still off track since W45: 60.0% against the target of 80.0%.".to_string()),
            "{out:#?}"
        );
        // Newly off track: said in full.
        r.history = vec![Some(85.0), Some(60.0)];
        assert_eq!(off_track_since(&r, week("2026-W48")), None);
        let out = generate(std::slice::from_ref(&r), "", "$", week("2026-W48"));
        assert!(
            out.contains(
                &"Customer satisfaction is off track: 60.0% against the target of 80.0%."
                    .to_string()
            ),
            "{out:#?}"
        );
        // Off track over the whole window, across a year boundary.
        r.history = vec![Some(60.0), Some(61.0), Some(60.0)];
        assert_eq!(
            off_track_since(&r, week("2026-W01")),
            Some((week("2025-W51"), true))
        );
        let out = generate(std::slice::from_ref(&r), "", "$", week("2026-W01"));
        assert!(
            out.iter()
                .any(|s| s.contains("still off track since at least 2025-W51")),
            "{out:#?}"
        );
    }

    #[test]
    fn an_off_track_figure_never_reads_the_same_as_its_target() {
        let mut r = row("csat", "", &[Some(85.0), Some(79.96)]);
        r.target_spec = Target {
            target: Some(80.0),
            stretch: None,
            floor: Some(79.99),
        };
        r.target = Some(Comparison {
            value: 80.0,
            delta: Some(-0.04),
            delta_pct: None,
            significant: None,
            n: None,
            source: None,
            year: None,
        });
        r.status = Status::OffTrack;
        let out = generate(std::slice::from_ref(&r), "", "$", week("2026-W48"));
        // The table shows 79.96% (it differs from 79.99 and 80 only there).
        assert!(
            out.contains(
                &"Customer satisfaction is off track: 79.96% against the target of 80.00%."
                    .to_string()
            ),
            "{out:#?}"
        );
    }
}
