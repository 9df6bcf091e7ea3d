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

/// Median of sorted values (even count: mean of the two middle ones).
pub fn median_sorted(sorted: &[u32]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(f64::from(sorted[n / 2])),
        _ => Some((f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0),
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
