//! Unit-aware number formatting for the rendered reports (JSON keeps raw numbers).
use crate::kpi::catalogue::Unit;

/// Groups thousands: 1234567.8 → "1,234,568" (with `decimals` digits).
pub fn grouped(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
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
        out.insert(0, '-');
    }
    out
}

/// A value with its unit: "$12,340", "42.1%", "5.2 h", "3.1×".
pub fn value(v: f64, unit: Unit, currency: &str) -> String {
    match unit {
        Unit::Count => grouped(v, if v.fract() == 0.0 { 0 } else { 1 }),
        Unit::Currency => {
            let digits = if v.abs() >= 100.0 { 0 } else { 2 };
            let s = grouped(v, digits);
            match s.strip_prefix('-') {
                Some(rest) => format!("-{currency}{rest}"),
                None => format!("{currency}{s}"),
            }
        }
        Unit::Percent => format!("{}%", grouped(v, 1)),
        Unit::Hours => format!("{} h", grouped(v, 1)),
        Unit::Days => format!("{} d", grouped(v, 1)),
        Unit::Score => grouped(v, 1),
        Unit::Ratio => grouped(v, 2),
    }
}

/// A change: points for percent and score KPIs, the unit otherwise.
pub fn delta(d: f64, unit: Unit, currency: &str) -> String {
    let sign = if d > 0.0 {
        "+"
    } else if d < 0.0 {
        "−"
    } else {
        "±"
    };
    let body = match unit {
        // Small changes keep a second decimal so they never read "+0.0".
        Unit::Percent | Unit::Score => format!(
            "{} pts",
            grouped(d.abs(), if d.abs() < 0.1 { 2 } else { 1 })
        ),
        other => value(d.abs(), other, currency),
    };
    format!("{sign}{body}")
}

pub fn percent_change(p: f64) -> String {
    let sign = if p > 0.0 {
        "+"
    } else if p < 0.0 {
        "−"
    } else {
        "±"
    };
    format!("{sign}{}%", grouped(p.abs(), 1))
}

/// Short axis labels: 1200 → "1.2k", 3400000 → "3.4M".
pub fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(grouped(1234567.89, 0), "1,234,568");
        assert_eq!(grouped(-1234.5, 1), "-1,234.5");
        assert_eq!(value(12345.0, Unit::Currency, "$"), "$12,345");
        assert_eq!(value(-20.5, Unit::Currency, "€"), "-€20.50");
        assert_eq!(value(42.123, Unit::Percent, "$"), "42.1%");
        assert_eq!(value(5.25, Unit::Hours, "$"), "5.2 h");
        assert_eq!(value(3.0, Unit::Ratio, "$"), "3.00");
        assert_eq!(value(1200.0, Unit::Count, "$"), "1,200");
        assert_eq!(delta(2.2, Unit::Score, "$"), "+2.2 pts");
        assert_eq!(delta(-150.0, Unit::Currency, "$"), "−$150");
        assert_eq!(compact(1200.0), "1.2k");
        assert_eq!(compact(3_400_000.0), "3.4M");
    }
}
