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

/// The usual range of a KPI is computed from this many periods before it.
pub const USUAL_WINDOW: usize = 12;
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
