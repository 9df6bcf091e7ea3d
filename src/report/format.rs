//! Number formatting for every rendered report, in one place (docs/kpis.md
//! "Formatting"). JSON and CSV keep raw numbers with ASCII signs; everything a
//! person reads goes through here:
//! - thousands separators everywhere ("40,484"), one minus sign, U+2212 ("−");
//! - counts without decimals; currency with cents only below 100, and a
//!   change of a currency KPI with the precision of its value;
//! - percent, hours, days and scores with one decimal, ratios with two;
//! - a value never looks equal to its target (or floor, stretch, benchmark)
//!   when it is not: decimals are added until they differ (0.84 against a
//!   floor of 0.8 shows "0.84%", not "0.8%");
//! - one interval style: "low – high" in the KPI's unit.
use crate::kpi::catalogue::Unit;

/// The minus sign of prose (U+2212).
pub const MINUS: char = '\u{2212}';

/// Groups thousands: 1234567.8 → "1,234,568" (with `decimals` digits);
/// negatives with U+2212, and never a "−0".
pub fn grouped(v: f64, decimals: usize) -> String {
    let mut out = String::with_capacity(24);
    push_grouped(&mut out, v, decimals);
    out
}

/// [`grouped`], appended to `out`.
fn push_grouped(out: &mut String, v: f64, decimals: usize) {
    // Halves round away from zero (0.5 → "1"), not to even as `format!` does.
    let scale = 10f64.powi(decimals.min(12) as i32);
    let m = (v.abs() * scale).round();
    if decimals <= 12 && m < 1e15 {
        // `format!("{:.*}", decimals, m / scale)` without the float
        // formatter: below 2^52, m / scale is nearer m·10^-decimals than
        // any other number of `decimals` decimals, so those are m's digits.
        let mut buf = [0u8; 32];
        let (mut m, mut at) = (m as u64, buf.len());
        while m > 0 || buf.len() - at <= decimals {
            at -= 1;
            buf[at] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        let (int, frac) = buf[at..].split_at(buf.len() - at - decimals);
        return with_separators(out, int, (decimals > 0).then_some(frac), v < 0.0);
    }
    let digits = format!("{:.*}", decimals, m / scale);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f.as_bytes())),
        None => (digits.as_str(), None),
    };
    with_separators(out, int.as_bytes(), frac, v < 0.0)
}

/// `int.frac` (ASCII) with a comma between thousands of `int`, and a minus
/// sign when `negative` and not all zeros.
fn with_separators(out: &mut String, int: &[u8], frac: Option<&[u8]>, negative: bool) {
    let nonzero = |d: &[u8]| d.iter().any(|c| c.is_ascii_digit() && *c != b'0');
    if negative && (nonzero(int) || frac.is_some_and(nonzero)) {
        out.push(MINUS);
    }
    for (i, c) in int.iter().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(char::from(*c));
    }
    if let Some(f) = frac {
        out.push('.');
        out.extend(f.iter().map(|c| char::from(*c)));
    }
}

/// The decimals a value of this unit is shown with.
fn base_decimals(v: f64, unit: Unit) -> usize {
    match unit {
        Unit::Count => 0,
        Unit::Currency => {
            if v.abs() >= 100.0 {
                0
            } else {
                2
            }
        }
        Unit::Percent | Unit::Hours | Unit::Days | Unit::Score => 1,
        Unit::Ratio => 2,
    }
}

fn with_decimals(v: f64, decimals: usize, unit: Unit, currency: &str) -> String {
    let mut s = String::with_capacity(24 + currency.len());
    push_with_decimals(&mut s, v, decimals, unit, currency);
    s
}

/// [`with_decimals`], appended to `out`.
fn push_with_decimals(out: &mut String, v: f64, decimals: usize, unit: Unit, currency: &str) {
    let start = out.len();
    push_grouped(out, v, decimals);
    match unit {
        Unit::Count | Unit::Score | Unit::Ratio => {}
        Unit::Currency => {
            let at = if out[start..].starts_with(MINUS) {
                start + MINUS.len_utf8()
            } else {
                start
            };
            out.insert_str(at, currency);
        }
        Unit::Percent => out.push('%'),
        Unit::Hours => out.push_str(" h"),
        Unit::Days => out.push_str(" d"),
    }
}

/// A value with its unit: "$12,340", "42.1%", "5.2 h", "3.10", "1,998".
pub fn value(v: f64, unit: Unit, currency: &str) -> String {
    with_decimals(v, base_decimals(v, unit), unit, currency)
}

/// A value shown beside references it is judged against (target, floor,
/// stretch, benchmark): with as many decimals (up to 4 more) as it takes not
/// to read the same as any reference it differs from.
pub fn value_against(v: f64, references: &[f64], unit: Unit, currency: &str) -> String {
    let base = base_decimals(v, unit);
    let mut d = base;
    while d < base + 4
        && references
            .iter()
            .any(|r| *r != v && grouped(v, d) == grouped(*r, d))
    {
        d += 1;
    }
    with_decimals(v, d, unit, currency)
}

/// A change: points for percent and score KPIs, the unit otherwise; the
/// sign always shown ("+", "−", or "±" for no change).
pub fn delta(d: f64, unit: Unit, currency: &str) -> String {
    change(d, d, unit, currency)
}

/// A change of a KPI whose value is `of`: a currency change keeps the
/// precision of the value ("$1,104", "+$71", not "+$70.59"); a small change
/// of a percent or score keeps a second decimal so it never reads "+0.0 pts".
pub fn change(d: f64, of: f64, unit: Unit, currency: &str) -> String {
    let sign = if d > 0.0 {
        "+".to_string()
    } else if d < 0.0 {
        MINUS.to_string()
    } else {
        "±".to_string()
    };
    let body = match unit {
        Unit::Percent | Unit::Score => format!(
            "{} pts",
            grouped(d.abs(), if d.abs() < 0.1 && d != 0.0 { 2 } else { 1 })
        ),
        Unit::Currency => {
            let decimals = base_decimals(of.abs().max(d.abs()), unit);
            with_decimals(d.abs(), decimals, unit, currency)
        }
        // Nor "+0.0 h" for a change of a few minutes.
        Unit::Hours | Unit::Days if d.abs() < 0.1 && d != 0.0 => {
            with_decimals(d.abs(), 2, unit, currency)
        }
        other => value(d.abs(), other, currency),
    };
    format!("{sign}{body}")
}

/// A relative change: "+5.6%", "−12.0%".
pub fn percent_change(p: f64) -> String {
    let sign = if p > 0.0 {
        "+".to_string()
    } else if p < 0.0 {
        MINUS.to_string()
    } else {
        "±".to_string()
    };
    format!("{sign}{}%", grouped(p.abs(), 1))
}

/// The one interval style: "35.1 – 47.3", "12.4% – 18.0%". A range of
/// counts (from a mean and a spread, rarely whole) keeps a decimal while its
/// ends are small ("0.0 – 0.3" orders), none from 100 on ("49,940 –
/// 52,250" customers, not "49,940.4 – 52,250.3").
pub fn interval(lo: f64, hi: f64, unit: Unit, currency: &str) -> String {
    let d = match unit {
        Unit::Count if lo.abs().max(hi.abs()) >= 100.0 => 0,
        Unit::Count => 1,
        _ => base_decimals(lo.abs().max(hi.abs()), unit),
    };
    let mut out = String::with_capacity(48 + 2 * currency.len());
    push_with_decimals(&mut out, lo, d, unit, currency);
    out.push_str(" – ");
    push_with_decimals(&mut out, hi, d, unit, currency);
    out
}

/// Short numbers for chart axes: 1200 → "1.2k", 3400000 → "3.4M".
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 1e6 {
        format!("{:.1}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", a / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", a / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{a:.0}")
    } else {
        format!("{a:.1}")
    };
    if v < 0.0
        && s.chars()
            .any(|c| c.is_ascii_digit() && c != '0' && c != '.')
    {
        format!("{MINUS}{s}")
    } else {
        s
    }
}

/// An axis label with its unit: "$400k", "42%", "12 h", "1.5".
pub fn axis(v: f64, unit: Unit, currency: &str) -> String {
    let c = compact(v);
    match unit {
        Unit::Currency => match c.strip_prefix(MINUS) {
            Some(rest) => format!("{MINUS}{currency}{rest}"),
            None => format!("{currency}{c}"),
        },
        Unit::Percent => format!("{c}%"),
        Unit::Hours => format!("{c} h"),
        Unit::Days => format!("{c} d"),
        Unit::Count | Unit::Score | Unit::Ratio => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`grouped`] as it was: through `format!` and fresh strings.
    fn grouped_by_format(v: f64, decimals: usize) -> String {
        let scale = 10f64.powi(decimals.min(12) as i32);
        let rounded = (v.abs() * scale).round() / scale;
        let s = format!("{:.*}", decimals, rounded);
        let (int, frac) = s
            .split_once('.')
            .map(|(i, f)| (i.to_string(), Some(f.to_string())))
            .unwrap_or((s.clone(), None));
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if let Some(f) = frac {
            out.push('.');
            out.push_str(&f);
        }
        if v < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
            out.insert(0, MINUS);
        }
        out
    }

    #[test]
    fn grouped_without_the_float_formatter_is_grouped_by_format() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(15);
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            1.5,
            2.5,
            -0.5,
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            1.005,
            2.675,
            999.5,
            999_999.5,
            1e14,
            4.4e15,
            9.9e15,
            1e16,
            1e21,
            1e300,
            5e-324,
            -1e-9,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
            123_456_789.123_457,
            0.1 + 0.2,
        ];
        for _ in 0..20_000 {
            let scale = 10f64.powi(rng.gen_range(-8..16));
            let v: f64 = rng.gen_range(-1.0..1.0) * scale;
            values.push(v);
            // Halves at each number of decimals.
            let d = rng.gen_range(0..6);
            values.push((rng.gen_range(0..1_000_000) as f64 + 0.5) / 10f64.powi(d));
        }
        for v in values {
            for d in 0..=14 {
                assert_eq!(grouped(v, d), grouped_by_format(v, d), "{v:e} {d}");
            }
        }
    }

    #[test]
    fn values() {
        assert_eq!(grouped(1234567.89, 0), "1,234,568");
        assert_eq!(grouped(-1234.5, 1), "−1,234.5");
        assert_eq!(grouped(-0.01, 1), "0.0", "never a minus zero");
        assert_eq!(grouped(0.5, 0), "1");
        assert_eq!(grouped(2.5, 0), "3");
        assert_eq!(value(12345.0, Unit::Currency, "$"), "$12,345");
        assert_eq!(value(-20.5, Unit::Currency, "€"), "−€20.50");
        assert_eq!(value(99.5, Unit::Currency, "$"), "$99.50");
        assert_eq!(value(42.123, Unit::Percent, "$"), "42.1%");
        assert_eq!(value(5.25, Unit::Hours, "$"), "5.3 h");
        assert_eq!(value(3.0, Unit::Ratio, "$"), "3.00");
        assert_eq!(value(1200.0, Unit::Count, "$"), "1,200");
        assert_eq!(value(40484.0, Unit::Count, "$"), "40,484");
        // Counts never carry decimals, even averaged.
        assert_eq!(value(1997.8, Unit::Count, "$"), "1,998");
    }

    #[test]
    fn a_value_never_looks_equal_to_a_reference_it_differs_from() {
        // The case: churn 0.84 % against a floor of 0.8.
        assert_eq!(
            value_against(0.84, &[0.5, 0.8], Unit::Percent, "$"),
            "0.84%"
        );
        assert_eq!(value_against(0.8, &[0.5, 0.8], Unit::Percent, "$"), "0.8%");
        assert_eq!(value_against(0.81, &[], Unit::Percent, "$"), "0.8%");
        assert_eq!(value_against(39.96, &[40.0], Unit::Score, "$"), "39.96");
        assert_eq!(
            value_against(24.9999, &[25.0], Unit::Percent, "$"),
            "24.9999%"
        );
        assert_eq!(value_against(1.0, &[3.0], Unit::Ratio, "$"), "1.00");
        assert_eq!(
            value_against(419_999.6, &[420_000.0], Unit::Currency, "$"),
            "$419,999.6"
        );
    }

    #[test]
    fn changes() {
        assert_eq!(delta(2.2, Unit::Score, "$"), "+2.2 pts");
        assert_eq!(delta(-2.4, Unit::Score, "$"), "−2.4 pts");
        assert_eq!(delta(0.04, Unit::Percent, "$"), "+0.04 pts");
        assert_eq!(delta(0.0, Unit::Percent, "$"), "±0.0 pts");
        assert_eq!(delta(-150.0, Unit::Currency, "$"), "−$150");
        assert_eq!(delta(-0.3, Unit::Hours, "$"), "−0.3 h");
        assert_eq!(delta(0.04, Unit::Hours, "$"), "+0.04 h");
        // A currency change keeps the precision of its value.
        assert_eq!(change(70.59, 1104.0, Unit::Currency, "$"), "+$71");
        assert_eq!(change(0.35, 85.2, Unit::Currency, "$"), "+$0.35");
        assert_eq!(change(-3.0, 1998.0, Unit::Count, "$"), "−3");
        assert_eq!(percent_change(-12.0), "−12.0%");
    }

    #[test]
    fn intervals_and_axes() {
        assert_eq!(interval(35.12, 47.3, Unit::Score, "$"), "35.1 – 47.3");
        assert_eq!(interval(0.0, 0.3, Unit::Count, "$"), "0.0 – 0.3");
        assert_eq!(interval(12.44, 99.94, Unit::Count, "$"), "12.4 – 99.9");
        assert_eq!(
            interval(49_940.4, 52_250.3, Unit::Count, "$"),
            "49,940 – 52,250"
        );
        assert_eq!(interval(-120.6, 80.2, Unit::Count, "$"), "−121 – 80");
        assert_eq!(interval(12.44, 18.0, Unit::Percent, "$"), "12.4% – 18.0%");
        assert_eq!(interval(-5.0, 12.0, Unit::Score, "$"), "−5.0 – 12.0");
        assert_eq!(compact(1200.0), "1.2k");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(compact(-1500.0), "−1.5k");
        assert_eq!(axis(400_000.0, Unit::Currency, "$"), "$400k");
        assert_eq!(axis(42.0, Unit::Percent, "$"), "42%");
        assert_eq!(axis(12.0, Unit::Hours, "$"), "12 h");
    }
}
