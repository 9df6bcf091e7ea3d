//! Charts with plotters: sparklines and trend charts as inline SVG for the
//! standalone page, and the trend charts as PNG for email (most mail clients
//! show no SVG). The font is embedded (DejaVu Sans), so nothing is needed from
//! the system at run time.
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() {
    FONT.call_once(|| {
        // The font ships in the binary; failing to parse it is a build defect.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES);
    });
}

const LINE: RGBColor = RGBColor(37, 99, 235);
const AXIS: RGBColor = RGBColor(100, 116, 139);
const GRID: RGBColor = RGBColor(226, 232, 240);
/// The usual-range band behind sparklines.
const BAND: RGBColor = RGBColor(219, 234, 254);

/// Runs of consecutive known values: a gap (null) breaks the line.
fn runs(values: &[Option<f64>]) -> Vec<Vec<(usize, f64)>> {
    let mut out: Vec<Vec<(usize, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => current.push((i, *v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn y_range(values: &[Option<f64>]) -> Option<(f64, f64)> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.is_empty() {
        return None;
    }
    let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo {
        (hi - lo) * 0.1
    } else {
        lo.abs().max(1.0) * 0.1
    };
    Some((lo - pad, hi + pad))
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("chart drawing failed: {e:?}")
}

/// The y range of a sparkline with its usual band: the values' range,
/// widened to show the band, but never by more than half the values' span
/// on either side (a band far wider than the data would flatten the line).
fn band_range(values: &[Option<f64>], band: Option<(f64, f64)>) -> Option<(f64, f64)> {
    let (lo, hi) = y_range(values)?;
    let Some((b_lo, b_hi)) = band else {
        return Some((lo, hi));
    };
    let slack = (hi - lo) * 0.5;
    Some((lo.min(b_lo.max(lo - slack)), hi.max(b_hi.min(hi + slack))))
}

/// A 120×28 sparkline (no axes, the last point marked) with the usual range
/// `band` shaded behind the periods it covers (the last 13: the 12 it is
/// computed from and the current one); None without data.
pub fn sparkline_svg(values: &[Option<f64>], band: Option<(f64, f64)>) -> Result<Option<String>> {
    let Some((lo, hi)) = band_range(values, band) else {
        return Ok(None);
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (120, 28)).into_drawing_area();
        let last = values.len().max(2) - 1;
        let mut chart = ChartBuilder::on(&root)
            .margin(3)
            .build_cartesian_2d(0..last, lo..hi)
            .map_err(err)?;
        if let Some((b_lo, b_hi)) = band {
            let from = last.saturating_sub(crate::kpi::stats::USUAL_WINDOW);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(from, b_lo.max(lo)), (last, b_hi.min(hi))],
                    BAND.filled(),
                )))
                .map_err(err)?;
        }
        for run in runs(values) {
            chart
                .draw_series(LineSeries::new(run, LINE.stroke_width(2)))
                .map_err(err)?;
        }
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, v)| v.map(|v| (i, v)))
        {
            chart
                .draw_series(std::iter::once(Circle::new((i, v), 2, LINE.filled())))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(Some(svg))
}

/// A labelled trend chart of one KPI over the history window.
pub struct Trend<'a> {
    pub title: &'a str,
    pub labels: &'a [String],
    pub values: &'a [Option<f64>],
    pub target: Option<f64>,
}

const TREND_SIZE: (u32, u32) = (300, 150);

fn draw_trend<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    t: &Trend,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    register_font();
    root.fill(&WHITE).map_err(err)?;
    let with_target: Vec<Option<f64>> = t.values.iter().copied().chain([t.target]).collect();
    let (lo, hi) = y_range(&with_target).unwrap_or((0.0, 1.0));
    let n = t.values.len().max(2);
    let mut chart = ChartBuilder::on(&root)
        .caption(t.title, ("sans-serif", 14).into_font().color(&BLACK))
        .margin(6)
        .x_label_area_size(18)
        .y_label_area_size(42)
        .build_cartesian_2d(0..n - 1, lo..hi)
        .map_err(err)?;
    let labels = t.labels;
    chart
        .configure_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .x_labels(4)
        .y_labels(4)
        .label_style(("sans-serif", 10).into_font().color(&AXIS))
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_label_formatter(&|v| super::format::compact(*v))
        .draw()
        .map_err(err)?;
    if let Some(target) = t.target {
        chart
            .draw_series(LineSeries::new(
                [(0, target), (n - 1, target)],
                RGBColor(22, 163, 74).stroke_width(1),
            ))
            .map_err(err)?;
    }
    for run in runs(t.values) {
        chart
            .draw_series(LineSeries::new(run.clone(), LINE.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(run.into_iter().map(|p| Circle::new(p, 2, LINE.filled())))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

pub fn trend_svg(t: &Trend) -> Result<String> {
    let mut svg = String::new();
    draw_trend(
        SVGBackend::with_string(&mut svg, TREND_SIZE).into_drawing_area(),
        t,
    )?;
    Ok(svg)
}

/// The same chart as a PNG (for `cid:` images in email).
pub fn trend_png(t: &Trend) -> Result<Vec<u8>> {
    let (w, h) = TREND_SIZE;
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    draw_trend(
        BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
        t,
    )?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_breaks_at_gaps() {
        assert_eq!(runs(&[Some(1.0), None, Some(2.0), Some(3.0)]).len(), 2);
        let svg = sparkline_svg(&[Some(1.0), Some(3.0), None, Some(2.0)], None)
            .unwrap()
            .unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"));
        assert_eq!(sparkline_svg(&[None, None], None).unwrap(), None);
    }

    #[test]
    fn sparkline_draws_the_usual_band() {
        let values: Vec<Option<f64>> = (0..20).map(|i| Some(f64::from(i % 3))).collect();
        let plain = sparkline_svg(&values, None).unwrap().unwrap();
        let banded = sparkline_svg(&values, Some((0.5, 1.5))).unwrap().unwrap();
        let fill = "fill=\"#DBEAFE\"";
        assert!(!plain.contains(fill));
        assert_eq!(banded.matches(fill).count(), 1, "{banded}");
        // A band far wider than the data is cut at half the padded span:
        // values 0..2 padded to −0.2..2.2 (2.4 wide), ± 1.2 → −1.4..3.4.
        let (lo, hi) = band_range(&values, Some((-100.0, 100.0))).unwrap();
        assert!(
            (lo + 1.4).abs() < 1e-9 && (hi - 3.4).abs() < 1e-9,
            "{lo} {hi}"
        );
        assert_eq!(band_range(&values, Some((0.5, 1.5))), y_range(&values));
    }

    #[test]
    fn trend_chart_as_svg_and_png() {
        let labels: Vec<String> = (1..=5).map(|i| format!("W{i}")).collect();
        let values = [Some(30.0), Some(35.0), None, Some(41.0), Some(38.0)];
        let t = Trend {
            title: "NPS",
            labels: &labels,
            values: &values,
            target: Some(40.0),
        };
        let svg = trend_svg(&t).unwrap();
        assert!(svg.contains("NPS"));
        let png = trend_png(&t).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
