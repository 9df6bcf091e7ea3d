//! Honest uncertainty (kpis.md): Wilson intervals for proportions, the NPS
//! margin of error, standard errors and the significance test of a change.

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.96;

/// The 95 % Wilson score interval of `successes / n`, on a 0..100 scale.
pub fn wilson(successes: f64, n: f64) -> Option<(f64, f64)> {
    if n <= 0.0 {
        return None;
    }
    let q = successes / n;
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let center = (q + z2 / (2.0 * n)) / denom;
    let half = Z95 * (q * (1.0 - q) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some((
        100.0 * (center - half).max(0.0),
        100.0 * (center + half).min(1.0),
    ))
}

/// Standard error of a proportion `q` (0..1) on a 0..100 scale.
pub fn proportion_se(q: f64, n: f64) -> Option<f64> {
    (n > 0.0 && (0.0..=1.0).contains(&q)).then(|| 100.0 * (q * (1.0 - q) / n).sqrt())
}

/// Standard error of NPS from the promoter and detractor shares.
pub fn nps_se(p: f64, d: f64, n: f64) -> Option<f64> {
    (n > 0.0).then(|| 100.0 * ((p + d - (p - d).powi(2)).max(0.0) / n).sqrt())
}

/// NPS 95 % interval: value ± 1.96 × se.
pub fn nps_interval(p: f64, d: f64, n: f64) -> Option<(f64, f64)> {
    let nps = 100.0 * (p - d);
    nps_se(p, d, n).map(|se| (nps - Z95 * se, nps + Z95 * se))
}

/// Below this many observations in either period the test is not run: the
/// normal approximation behind it is too weak to tell (kpis.md).
pub const MIN_N: u64 = 30;

/// A change is significant when it exceeds 1.96 × the combined standard error.
pub fn significant(value: f64, previous: f64, se1: f64, se2: f64) -> bool {
    (value - previous).abs() > Z95 * (se1 * se1 + se2 * se2).sqrt()
}

/// One period's side of the two-sample test: value, sample size, standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub value: Option<f64>,
    pub n: Option<u64>,
    pub se: Option<f64>,
}

/// THE significance rule of a change against the previous period, used by
/// kpis.json, the tables' `*`, the insights and top movers alike:
/// `Some(true|false)` from the two-sample test, `None` ("too few to tell")
/// when either period has fewer than [`MIN_N`] observations or lacks a value
/// or a standard error.
pub fn change_significance(current: Sample, previous: Sample) -> Option<bool> {
    let (v1, n1, se1) = (current.value?, current.n?, current.se?);
    let (v2, n2, se2) = (previous.value?, previous.n?, previous.se?);
    if n1 < MIN_N || n2 < MIN_N {
        return None;
    }
    Some(significant(v1, v2, se1, se2))
}

pub use crate::model::USUAL_WINDOW;
/// Fewer values than this in the window: no usual range.
pub const USUAL_MIN_VALUES: usize = 6;
/// Fewer moving ranges (pairs of adjacent periods both with a value): none.
pub const USUAL_MIN_RANGES: usize = 5;
/// The XmR chart's scaling constant for natural process limits (3 / d₂, d₂ = 1.128).
pub const XMR_SCALE: f64 = 2.66;

/// A KPI's usual range from its own history (kpis.md "Usual range"): the
/// natural process limits of an XmR chart, mean ± 2.66 × mean moving range,
/// over `window`, the periods before the current one, oldest first (null =
/// no value). The mean is over the values; a moving range is
/// |x(t) − x(t−1)| for two adjacent periods that both have a value (a gap
/// breaks the chain). None with fewer than [`USUAL_MIN_VALUES`] values or
/// [`USUAL_MIN_RANGES`] moving ranges.
pub fn usual_range(window: &[Option<f64>]) -> Option<(f64, f64)> {
    let values: Vec<f64> = window.iter().flatten().copied().collect();
    let ranges: Vec<f64> = window
        .windows(2)
        .filter_map(|w| Some((w[1]? - w[0]?).abs()))
        .collect();
    if values.len() < USUAL_MIN_VALUES || ranges.len() < USUAL_MIN_RANGES {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let mr = ranges.iter().sum::<f64>() / ranges.len() as f64;
    Some((mean - XMR_SCALE * mr, mean + XMR_SCALE * mr))
}

/// How far `value` lies outside `usual`, in units of the range's width:
/// 0 inside (limits included), (value − hi) / (hi − lo) above (positive),
/// (value − lo) / (hi − lo) below (negative). None for a range of zero width
/// (a constant history), where any other value is unusual but no distance
/// in units of the range exists.
pub fn outside_by(value: f64, usual: (f64, f64)) -> Option<f64> {
    let (lo, hi) = usual;
    if (lo..=hi).contains(&value) {
        return Some(0.0);
    }
    let width = hi - lo;
    if width <= 0.0 {
        return None;
    }
    Some(if value > hi {
        (value - hi) / width
    } else {
        (value - lo) / width
    })
}

/// `unusual`: the value lies outside its usual range (limits are usual).
pub fn unusual(value: f64, usual: (f64, f64)) -> bool {
    !(usual.0..=usual.1).contains(&value)
}

/// Milliseconds per hour: ticket instants are stored in milliseconds.
pub const MS_PER_HOUR: f64 = 3_600_000.0;

/// A ticket duration of `ms` milliseconds in hours (THE conversion: every
/// comparison with a window and every figure goes through it).
pub fn hours(ms: i64) -> f64 {
    ms as f64 / MS_PER_HOUR
}

/// The largest whole number of milliseconds whose [`hours`] is at most
/// `horizon`: `hours(ms) <= horizon` exactly when `ms <= within_ms(horizon)`
/// ([`hours`] is monotone), so that SQL can compare integers.
pub fn within_ms(horizon: f64) -> i64 {
    let guess = (horizon * MS_PER_HOUR).floor();
    if guess.is_nan() || guess >= 9.0e18 {
        return i64::MAX;
    }
    let mut ms = (guess as i64).max(i64::MIN / 2);
    while hours(ms) > horizon {
        ms -= 1;
    }
    while ms < i64::MAX && hours(ms + 1) <= horizon {
        ms += 1;
    }
    ms
}

/// The plain mean in hours of durations summing to `sum_ms` milliseconds
/// over `n` tickets: an exact integer sum, the same in any order and on
/// both engines, converted once.
pub fn mean_hours(sum_ms: i128, n: u64) -> Option<f64> {
    (n > 0).then(|| sum_ms as f64 / MS_PER_HOUR / n as f64)
}

/// What is known of one ticket's wait for an event (first response or
/// resolution) at the data's `as_of`, in milliseconds after it was opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The event happened this many milliseconds after opening.
    Happened(i64),
    /// No event yet; the ticket has been open this many milliseconds (as_of − opened).
    Open(i64),
}

/// Decided / pending counting of "the event happened within `horizon`
/// hours" (kpis.md "Tickets and the data's as-of"): a ticket is *decided*
/// once the event happened within the horizon or the horizon has passed
/// (opened + horizon ≤ as_of), else *pending*.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decided {
    pub within: u64,
    pub decided: u64,
    pub pending: u64,
}

impl Decided {
    /// 100 × within / decided: with nothing pending, the plain rate over
    /// every ticket.
    pub fn rate(&self) -> Option<f64> {
        (self.decided > 0).then(|| 100.0 * self.within as f64 / self.decided as f64)
    }
}

pub fn decided_within(outcomes: &[Outcome], horizon: f64) -> Decided {
    let mut d = Decided::default();
    for o in outcomes {
        match *o {
            Outcome::Happened(t) if hours(t) <= horizon => {
                d.within += 1;
                d.decided += 1;
            }
            Outcome::Happened(_) => d.decided += 1,
            Outcome::Open(c) if hours(c) >= horizon => d.decided += 1,
            Outcome::Open(_) => d.pending += 1,
        }
    }
    d
}

/// The Kaplan–Meier estimate of the share of events within `horizon`, with
/// the steps of the cumulative incidence F(t) = 1 − S(t) at each distinct
/// event time t ≤ horizon (ascending). A ticket still open is censored at
/// its time open; one whose event came after the horizon is at risk up to
/// it. At a time with both, events come first (censored at t are at risk at t).
#[derive(Debug, Clone, PartialEq)]
pub struct Incidence {
    /// (t, F(t)) at each distinct event time t ≤ horizon.
    pub steps: Vec<(f64, f64)>,
    pub horizon: f64,
}

impl Incidence {
    pub fn new(outcomes: &[Outcome], horizon: f64) -> Incidence {
        // (time, is_event), events within the horizon only.
        let mut times: Vec<(f64, bool)> = outcomes
            .iter()
            .map(|o| match *o {
                Outcome::Happened(t) if hours(t) <= horizon => (hours(t).max(0.0), true),
                Outcome::Happened(t) | Outcome::Open(t) => (hours(t).max(0.0), false),
            })
            .collect();
        times.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut at_risk = times.len() as f64;
        let mut survival = 1.0;
        let mut steps = Vec::new();
        let mut i = 0;
        while i < times.len() {
            let t = times[i].0;
            let (mut events, mut leaving) = (0.0, 0.0);
            while i < times.len() && times[i].0 == t {
                if times[i].1 {
                    events += 1.0;
                }
                leaving += 1.0;
                i += 1;
            }
            if events > 0.0 {
                survival *= 1.0 - events / at_risk;
                steps.push((t, 1.0 - survival));
            }
            at_risk -= leaving;
        }
        Incidence { steps, horizon }
    }

    /// F(horizon): the estimated share of tickets whose event comes within
    /// the horizon; with nothing pending, within / tickets exactly.
    pub fn within(&self) -> Option<f64> {
        self.steps.last().map(|s| s.1).or(Some(0.0))
    }

    /// The median of the durations of the tickets whose event comes within
    /// the horizon: the smallest event time t with F(t) / F(H) ≥ ½; when the
    /// ratio is exactly ½ on a step, the mean of that time and the next
    /// event time (the even-count rule). None without events.
    pub fn median(&self) -> Option<f64> {
        let total = self.steps.last()?.1;
        if total <= 0.0 {
            return None;
        }
        for (k, (t, f)) in self.steps.iter().enumerate() {
            let g = f / total;
            if (g - 0.5).abs() < 1e-9 {
                let next = self.steps.get(k + 1).map(|s| s.0).unwrap_or(*t);
                return Some((t + next) / 2.0);
            }
            if g > 0.5 {
                return Some(*t);
            }
        }
        self.steps.last().map(|s| s.0)
    }

    /// The mean duration of the tickets whose event comes within the
    /// horizon: ∫₀^H (1 − F(t) / F(H)) dt, which is Σ tₖ × (F(tₖ) − F(tₖ₋₁))
    /// / F(H); with nothing pending, the plain mean of those durations.
    pub fn mean(&self) -> Option<f64> {
        let total = self.steps.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let mut prev = 0.0;
        let mut sum = 0.0;
        for (t, f) in &self.steps {
            sum += t * (f - prev);
            prev = *f;
        }
        Some(sum / total)
    }
}

/// Median of sorted hours (even count: mean of the two middle ones).
pub fn median_of_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Median of sorted values (even count: mean of the two middle ones).
pub fn median_sorted(sorted: &[u64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wilson_known_values() {
        // 8 of 10: Wilson 95 % is [49.0, 94.3] (textbook value).
        let (lo, hi) = wilson(8.0, 10.0).unwrap();
        assert!(
            (lo - 49.02).abs() < 0.05 && (hi - 94.33).abs() < 0.05,
            "{lo} {hi}"
        );
        assert_eq!(wilson(1.0, 0.0), None);
        let (lo, hi) = wilson(0.0, 5.0).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 40.0);
    }

    #[test]
    fn nps_margin() {
        // 50 promoters, 20 detractors, 100 responses: NPS 30,
        // se = 100 sqrt((0.5 + 0.2 - 0.09) / 100) = 7.81, margin 15.31.
        let (lo, hi) = nps_interval(0.5, 0.2, 100.0).unwrap();
        assert!(
            (lo - 14.69).abs() < 0.01 && (hi - 45.31).abs() < 0.01,
            "{lo} {hi}"
        );
    }

    #[test]
    fn significance() {
        assert!(significant(40.0, 20.0, 5.0, 5.0)); // 20 > 1.96 × 7.07 = 13.9
        assert!(!significant(30.0, 20.0, 5.0, 5.0));
    }

    #[test]
    fn one_rule_with_a_minimum_sample() {
        let s = |value: f64, n: u64| {
            // A proportion of 0..100 with its own standard error.
            let q = value / 100.0;
            Sample {
                value: Some(value),
                n: Some(n),
                se: proportion_se(q, n as f64),
            }
        };
        // 80 % of 100 against 60 % of 100: se 4.0 and 4.9, 1.96 × 6.32 = 12.4 < 20.
        assert_eq!(change_significance(s(80.0, 100), s(60.0, 100)), Some(true));
        // 65 % against 60 %: 5 < 13.4.
        assert_eq!(change_significance(s(65.0, 100), s(60.0, 100)), Some(false));
        // Either side below 30: too few to tell, however large the move.
        assert_eq!(change_significance(s(100.0, 29), s(0.0, 500)), None);
        assert_eq!(change_significance(s(100.0, 500), s(0.0, 29)), None);
        // Exactly 30 is enough.
        assert_eq!(change_significance(s(90.0, 30), s(10.0, 30)), Some(true));
        // A missing standard error or value: nothing to test.
        let none = Sample {
            value: Some(1.0),
            n: Some(100),
            se: None,
        };
        assert_eq!(change_significance(none, s(10.0, 100)), None);
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn usual_range_by_hand() {
        // 10 12 11 13 12 14: mean 72 / 6 = 12; moving ranges 2 1 2 1 2,
        // mean 8 / 5 = 1.6; 2.66 × 1.6 = 4.256 → [7.744, 16.256].
        let w = [10.0, 12.0, 11.0, 13.0, 12.0, 14.0].map(Some);
        let (lo, hi) = usual_range(&w).unwrap();
        close(lo, 7.744);
        close(hi, 16.256);
        assert!(!unusual(16.256, (lo, hi)));
        assert!(unusual(16.3, (lo, hi)));
        // 20.768 is one range width (8.512) above the upper limit.
        close(outside_by(16.256 + 8.512, (lo, hi)).unwrap(), 1.0);
        close(outside_by(lo - 4.256, (lo, hi)).unwrap(), -0.5);
        close(outside_by(12.0, (lo, hi)).unwrap(), 0.0);
    }

    #[test]
    fn usual_range_gaps_and_too_few() {
        // A gap breaks the chain of moving ranges but not the mean:
        // 4 _ 6 8 6 8 6 8: mean 46 / 7 = 6.571…; ranges (6,8) (8,6) (6,8)
        // (8,6) (6,8) = 2 each, 5 of them → ± 5.32.
        let w = [
            Some(4.0),
            None,
            Some(6.0),
            Some(8.0),
            Some(6.0),
            Some(8.0),
            Some(6.0),
            Some(8.0),
        ];
        let (lo, hi) = usual_range(&w).unwrap();
        close(lo, 46.0 / 7.0 - 5.32);
        close(hi, 46.0 / 7.0 + 5.32);
        // Five values are too few.
        assert_eq!(usual_range(&[1.0, 2.0, 3.0, 4.0, 5.0].map(Some)), None);
        // Six values but only four moving ranges (a gap in the middle).
        let w = [
            Some(1.0),
            Some(2.0),
            Some(3.0),
            None,
            Some(4.0),
            Some(5.0),
            Some(6.0),
        ];
        assert_eq!(usual_range(&w), None);
        assert_eq!(usual_range(&[None; 12]), None);
        // A constant history: zero width, any other value unusual, no distance.
        let flat = usual_range(&[Some(3.0); 12]).unwrap();
        assert_eq!(flat, (3.0, 3.0));
        assert!(!unusual(3.0, flat) && unusual(4.0, flat));
        assert_eq!(outside_by(4.0, flat), None);
        assert_eq!(outside_by(3.0, flat), Some(0.0));
    }

    /// An event after `h` hours (tests write hours; outcomes hold milliseconds).
    #[allow(non_snake_case)]
    fn H(h: f64) -> Outcome {
        Outcome::Happened((h * MS_PER_HOUR).round() as i64)
    }

    /// Open for `h` hours.
    #[allow(non_snake_case)]
    fn O(h: f64) -> Outcome {
        Outcome::Open((h * MS_PER_HOUR).round() as i64)
    }

    #[test]
    fn within_ms_is_the_hours_comparison() {
        for horizon in [24.0, 72.0, 1.5, 0.001, 1.0 / 3.0, 7.7, 100_000.3] {
            let m = within_ms(horizon);
            assert!(hours(m) <= horizon && hours(m + 1) > horizon, "{horizon}");
        }
        assert_eq!(within_ms(24.0), 86_400_000);
        assert_eq!(within_ms(1e300), i64::MAX);
        assert_eq!(mean_hours(0, 0), None);
        assert_eq!(mean_hours(3 * 3_600_000, 2), Some(1.5));
    }

    #[test]
    fn decided_and_pending_by_hand() {
        // Horizon 24 h, as_of cuts some tickets: answered at 2 h and 24 h
        // (within, exactly 24 counts), 30 h (a miss), open 40 h (a miss: its
        // deadline passed), open 5 h (pending).
        let d = decided_within(&[H(2.0), H(24.0), H(30.0), O(40.0), O(5.0)], 24.0);
        assert_eq!(
            d,
            Decided {
                within: 2,
                decided: 4,
                pending: 1
            }
        );
        assert_eq!(d.rate(), Some(50.0));
        // Nothing pending: the plain formula, within / tickets.
        let d = decided_within(&[H(2.0), H(24.0), H(30.0), O(40.0)], 24.0);
        assert_eq!((d.pending, d.rate()), (0, Some(50.0)));
        assert_eq!(decided_within(&[O(1.0)], 24.0).rate(), None);
    }

    #[test]
    fn kaplan_meier_without_pending_is_the_plain_formula() {
        // Resolved 10, 20, 30, 40 h and one resolved at 100 h (after the
        // 72 h horizon): durations within the horizon 10 20 30 40, mean 25,
        // median (20 + 30) / 2 = 25 (even count); share within 4 / 5.
        let o = [H(30.0), H(10.0), H(100.0), H(40.0), H(20.0)];
        let km = Incidence::new(&o, 72.0);
        close(km.within().unwrap(), 0.8);
        close(km.mean().unwrap(), 25.0);
        close(km.median().unwrap(), 25.0);
        // Odd count: 10 20 30 → median 20, mean 20.
        let km = Incidence::new(&[H(10.0), H(20.0), H(30.0), O(500.0)], 72.0);
        close(km.median().unwrap(), 20.0);
        close(km.mean().unwrap(), 20.0);
        close(km.within().unwrap(), 0.75);
        // Ties: 5 5 5 7 → median 5, mean 5.5.
        let km = Incidence::new(&[H(5.0), H(5.0), H(7.0), H(5.0)], 72.0);
        close(km.median().unwrap(), 5.0);
        close(km.mean().unwrap(), 5.5);
        // No event within the horizon: no duration, share 0.
        let km = Incidence::new(&[O(80.0), H(90.0)], 72.0);
        assert_eq!((km.mean(), km.median()), (None, None));
        assert_eq!(km.within(), Some(0.0));
    }

    #[test]
    fn kaplan_meier_with_pending_tickets_by_hand() {
        // Events at 1, 3, 6 h; one ticket open for 2 h (pending), one open
        // for 100 h (no event within 72 h). At risk: t=1: 5 → S = 4/5;
        // the 2 h ticket leaves; t=3: 3 at risk → S = 4/5 × 2/3 = 8/15;
        // t=6: 2 at risk → S = 8/15 × 1/2 = 4/15.
        // F: 1/5, 7/15, 11/15. F(H) = 11/15.
        let km = Incidence::new(&[H(1.0), O(2.0), H(3.0), H(6.0), O(100.0)], 72.0);
        close(km.within().unwrap(), 11.0 / 15.0);
        assert_eq!(km.steps.len(), 3);
        // Conditional shares F / F(H): 3/11, 7/11, 1 → median 3 h.
        close(km.median().unwrap(), 3.0);
        // Mean: (1 × 3/15 + 3 × 4/15 + 6 × 4/15) / (11/15) = 39 / 11.
        close(km.mean().unwrap(), 39.0 / 11.0);
        // The plain mean over answered tickets would be 10 / 3 = 3.33 h:
        // the pending ticket pulls the estimate toward the slower ones.
        assert!(km.mean().unwrap() > 10.0 / 3.0);
        // A ticket censored at the same time as an event is still at risk:
        // events 2, 2 (censored 2), 4 → t=2: S = 1 − 2/4 = 1/2; t=4: 1 at
        // risk → S = 0. F(2) = 1/2 exactly: median (2 + 4) / 2.
        let km = Incidence::new(&[H(2.0), O(2.0), H(2.0), H(4.0)], 72.0);
        close(km.median().unwrap(), 3.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median_sorted(&[1, 2, 3]), Some(2.0));
        assert_eq!(median_sorted(&[1, 2, 3, 4]), Some(2.5));
        assert_eq!(median_sorted(&[]), None);
    }

    proptest! {
        #[test]
        fn wilson_contains_the_proportion(n in 1u32..5000, k in 0u32..5000) {
            let k = k.min(n);
            let (lo, hi) = wilson(k as f64, n as f64).unwrap();
            let q = 100.0 * k as f64 / n as f64;
            prop_assert!(0.0 <= lo && lo <= q + 1e-9 && q <= hi + 1e-9 && hi <= 100.0);
        }

        #[test]
        fn with_nothing_pending_kaplan_meier_is_the_plain_formula(
            hours in proptest::collection::vec(0u64..200, 1..60),
            old_open in 0usize..5,
        ) {
            let horizon = 72.0;
            let mut outcomes: Vec<Outcome> =
                hours.iter().map(|h| H(*h as f64)).collect();
            // Tickets open past the horizon are decided misses, not pending.
            outcomes.extend((0..old_open).map(|k| O(horizon + k as f64)));
            let d = decided_within(&outcomes, horizon);
            prop_assert_eq!(d.pending, 0);
            let mut within: Vec<u64> = hours.iter().copied().filter(|h| *h as f64 <= horizon).collect();
            within.sort_unstable();
            let km = Incidence::new(&outcomes, horizon);
            let share = within.len() as f64 / outcomes.len() as f64;
            prop_assert!((km.within().unwrap() - share).abs() < 1e-9);
            prop_assert!((d.rate().unwrap() - 100.0 * share).abs() < 1e-9);
            match median_sorted(&within) {
                None => prop_assert_eq!(km.median(), None),
                Some(m) => {
                    let mean = within.iter().sum::<u64>() as f64 / within.len() as f64;
                    prop_assert!((km.median().unwrap() - m).abs() < 1e-9, "{:?} {}", km.median(), m);
                    prop_assert!((km.mean().unwrap() - mean).abs() < 1e-6);
                }
            }
        }

        #[test]
        fn nps_interval_contains_the_score(n in 1u32..2000, a in 0u32..2000, b in 0u32..2000) {
            let promoters = a.min(n);
            let detractors = b.min(n - promoters);
            let (p, d) = (promoters as f64 / n as f64, detractors as f64 / n as f64);
            let nps = 100.0 * (p - d);
            prop_assert!((-100.0..=100.0).contains(&nps));
            let (lo, hi) = nps_interval(p, d, n as f64).unwrap();
            prop_assert!(lo <= nps && nps <= hi);
        }
    }
}
