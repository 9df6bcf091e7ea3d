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

/// A change is significant when it exceeds 1.96 × the combined standard error.
pub fn significant(value: f64, previous: f64, se1: f64, se2: f64) -> bool {
    (value - previous).abs() > Z95 * (se1 * se1 + se2 * se2).sqrt()
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
