//! Charts: sparklines as small SVG paths written directly, and trend charts
//! (plotters) as inline SVG for the standalone page, and the trend charts as PNG for email (most mail clients
//! show no SVG), at twice their CSS size and with a transparent background.
//! Trend charts carry units on the value axis, the year on the time axis, a
//! labelled dashed target line and a legend. The font is embedded (DejaVu Sans), so nothing is needed from
//! the system at run time.
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::kpi::catalogue::Unit;

mod recorder;
use recorder::{replay, Recorder};

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() {
    FONT.call_once(|| {
        // The font ships in the binary; failing to parse it is a build defect.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES);
    });
}

const LINE: RGBColor = RGBColor(37, 99, 235);

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
    values.iter().flatten().next()?;
    let lo = values
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = values
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
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
/// computed from and the current one); None without data. Written directly
/// as one small SVG (a rectangle, one path with a segment per run of known
/// values, a circle): a scorecard has one per KPI, so no chart library here.
pub fn sparkline_svg(values: &[Option<f64>], band: Option<(f64, f64)>) -> Result<Option<String>> {
    use std::fmt::Write;
    let Some((lo, hi)) = band_range(values, band) else {
        return Ok(None);
    };
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    const MARGIN: f64 = 3.0;
    let last = values.len().max(2) - 1;
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x = |i: usize| MARGIN + (W - 2.0 * MARGIN) * i as f64 / last as f64;
    let y = |v: f64| MARGIN + (H - 2.0 * MARGIN) * (hi - v.clamp(lo, hi)) / span;
    let mut svg = String::with_capacity(160 + 14 * values.len());
    svg.push_str(
        "<svg width=\"120\" height=\"28\" viewBox=\"0 0 120 28\" xmlns=\"http://www.w3.org/2000/svg\">",
    );
    // Writing into a String cannot fail.
    if let Some((b_lo, b_hi)) = band {
        let from = last.saturating_sub(crate::kpi::stats::USUAL_WINDOW);
        let (top, bottom) = (y(b_hi.min(hi)), y(b_lo.max(lo)));
        let _ = write!(
            svg,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#DBEAFE\"/>",
            F1(x(from)),
            F1(top),
            F1(x(last) - x(from)),
            F1((bottom - top).max(0.0))
        );
    }
    // One path, a segment per run of known values (no list of the runs).
    let mut lonely = Vec::new();
    let mut path = false;
    let mut i = 0;
    while i < values.len() {
        let Some(first) = values[i] else {
            i += 1;
            continue;
        };
        let end = values[i..]
            .iter()
            .position(Option::is_none)
            .map_or(values.len(), |n| i + n);
        if end - i == 1 {
            lonely.push((i, first));
        } else {
            if !path {
                svg.push_str("<path d=\"");
                path = true;
            }
            for (k, v) in values[i..end].iter().flatten().enumerate() {
                let _ = write!(
                    svg,
                    "{}{} {}",
                    if k == 0 { "M" } else { "L" },
                    F1(x(i + k)),
                    F1(y(*v))
                );
            }
        }
        i = end;
    }
    if path {
        svg.push_str(
            "\" fill=\"none\" stroke=\"#2563EB\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
        );
    }
    let latest = values
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, v)| v.map(|v| (i, v)));
    // A value with no known neighbour is a dot (a line needs two points),
    // and the latest value is always marked.
    for (i, v) in lonely
        .into_iter()
        .filter(|p| Some(*p) != latest)
        .chain(latest)
    {
        let _ = write!(
            svg,
            "<circle cx=\"{}\" cy=\"{}\" r=\"2\" fill=\"#2563EB\"/>",
            F1(x(i)),
            F1(y(v))
        );
    }
    // Ends with a newline, as the pages have always had it.
    svg.push_str("</svg>\n");
    Ok(Some(svg))
}

/// A number as `{:.1}` writes it, without the float formatter for the
/// coordinates of a sparkline: a binary fraction is never a tie at one
/// decimal, so unless ten times the value is within rounding error of a
/// half, its nearest tenth is `(10 v).round()`'s.
struct F1(f64);

impl std::fmt::Display for F1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if v.is_sign_positive() && v < 1e6 {
            let t = v * 10.0;
            // t ≥ 0: the cast is its floor.
            let floor = t as u64;
            let frac = t - floor as f64;
            if (frac - 0.5).abs() > 1e-6 {
                let m = floor + u64::from(frac > 0.5);
                return write!(f, "{}.{}", m / 10, m % 10);
            }
        }
        write!(f, "{v:.1}")
    }
}

/// A labelled trend chart of one KPI over the history window. The title is
/// not drawn: the page and the email put it above the chart as text.
pub struct Trend<'a> {
    pub title: &'a str,
    /// Axis labels with the year ("W23 2026", "Nov 2026", "Q4 2026").
    pub labels: &'a [String],
    pub values: &'a [Option<f64>],
    pub target: Option<f64>,
    pub unit: Unit,
    pub currency: &'a str,
    /// "per week" / "per month" / "per quarter", for the legend.
    pub per: &'a str,
}

/// Trend charts already drawn in this period, by everything they show: the
/// segment pages of a period share the chart of a KPI whose history, target
/// and labels are the same (a segment that holds the whole business, a KPI
/// without data in several segments), and the email's PNG is drawn once.
#[derive(Default)]
pub struct ChartCache {
    svg: std::cell::RefCell<rustc_hash::FxHashMap<TrendKey, std::rc::Rc<str>>>,
    png: std::cell::RefCell<rustc_hash::FxHashMap<TrendKey, std::rc::Rc<[u8]>>>,
}

thread_local! {
    /// The buffers of the email's PNGs, kept from chart to chart and from
    /// period to period (2 MB of fresh pixels per chart cost page faults).
    static SCRATCH: std::cell::RefCell<PngScratch> = std::cell::RefCell::default();
}

/// Everything a trend chart is drawn from, floats by their bits.
#[derive(PartialEq, Eq, Hash)]
struct TrendKey {
    title: String,
    /// The labels, each ended by a NUL (one string, not one per label).
    labels: String,
    values: Vec<Option<u64>>,
    target: Option<u64>,
    unit: &'static str,
    currency: String,
    per: String,
}

impl TrendKey {
    fn of(t: &Trend) -> TrendKey {
        TrendKey {
            title: t.title.to_string(),
            labels: t.labels.iter().fold(String::new(), |mut all, l| {
                all.push_str(l);
                all.push('\0');
                all
            }),
            values: t.values.iter().map(|v| v.map(f64::to_bits)).collect(),
            target: t.target.map(f64::to_bits),
            unit: t.unit.as_str(),
            currency: t.currency.to_string(),
            per: t.per.to_string(),
        }
    }
}

impl ChartCache {
    /// [`trend_svg`], drawn once per distinct chart.
    pub fn svg(&self, t: &Trend) -> Result<std::rc::Rc<str>> {
        let key = TrendKey::of(t);
        if let Some(svg) = self.svg.borrow().get(&key) {
            return Ok(svg.clone());
        }
        let svg: std::rc::Rc<str> = trend_svg(t)?.into();
        self.svg.borrow_mut().insert(key, svg.clone());
        Ok(svg)
    }

    /// [`trend_png`], drawn once per distinct chart.
    pub fn png(&self, t: &Trend) -> Result<std::rc::Rc<[u8]>> {
        let key = TrendKey::of(t);
        if let Some(png) = self.png.borrow().get(&key) {
            return Ok(png.clone());
        }
        let png: std::rc::Rc<[u8]> = SCRATCH
            .with(|s| trend_png_with(t, &mut s.borrow_mut()))?
            .into();
        self.png.borrow_mut().insert(key, png.clone());
        Ok(png)
    }
}

/// The chart's size in CSS pixels; the email's PNG has twice as many.
pub const TREND_SIZE: (u32, u32) = (320, 180);
/// Pixels per CSS pixel of the email's PNG (sharp on high-density screens).
pub const PNG_SCALE: u32 = 2;

/// Mid-tone colours, legible on a white and on a dark background alike (the
/// PNG is transparent, so a dark-mode mail client shows its own background).
const LABEL: RGBColor = RGBColor(100, 116, 139);
const TARGET: RGBColor = RGBColor(22, 163, 74);

fn draw_trend<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    t: &Trend,
    scale: u32,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    register_font();
    let s = |v: u32| v * scale;
    let font = |px: u32| ("sans-serif", s(px) as f64).into_font().color(&LABEL);
    let (chart_area, legend_area) = root.split_vertically(root.dim_in_pixel().1 - s(20));
    let with_target: Vec<Option<f64>> = t.values.iter().copied().chain([t.target]).collect();
    let (lo, hi) = y_range(&with_target).unwrap_or((0.0, 1.0));
    let n = t.values.len().max(2);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin(s(6))
        .margin_right(s(14))
        .x_label_area_size(s(18))
        .y_label_area_size(s(46))
        .build_cartesian_2d(0..n - 1, lo..hi)
        .map_err(err)?;
    let labels = t.labels;
    let (unit, currency) = (t.unit, t.currency);
    let grid = RGBAColor(148, 163, 184, 0.35);
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(grid.stroke_width(scale))
        .axis_style(LABEL.stroke_width(scale))
        .x_labels(3)
        .y_labels(4)
        .label_style(font(11))
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_label_formatter(&|v| super::format::axis(*v, unit, currency))
        .draw()
        .map_err(err)?;
    if let Some(target) = t.target {
        chart
            .draw_series(DashedLineSeries::new(
                [(0, target), (n - 1, target)],
                s(5),
                s(3),
                TARGET.stroke_width(s(1) + scale / 2),
            ))
            .map_err(err)?;
    }
    for run in runs(t.values) {
        chart
            .draw_series(LineSeries::new(run.clone(), LINE.stroke_width(s(2))))
            .map_err(err)?;
        chart
            .draw_series(run.into_iter().map(|p| Circle::new(p, s(2), LINE.filled())))
            .map_err(err)?;
    }
    // The legend, in its own strip under the plot so it never hides a point.
    let y = s(10) as i32;
    let x0 = s(52) as i32;
    legend_area
        .draw(&PathElement::new(
            [(x0, y), (x0 + s(16) as i32, y)],
            LINE.stroke_width(s(2)),
        ))
        .map_err(err)?;
    let value_label = format!("{} {}", t.title, t.per);
    legend_area
        .draw(&Text::new(
            value_label.clone(),
            (x0 + s(20) as i32, y - s(6) as i32),
            font(11),
        ))
        .map_err(err)?;
    if let Some(target) = t.target {
        let width = legend_area
            .estimate_text_size(&value_label, &font(11))
            .map(|(w, _)| w as i32)
            .unwrap_or(s(120) as i32);
        let x1 = x0 + s(32) as i32 + width;
        legend_area
            .draw(&PathElement::new(
                [(x1, y), (x1 + s(16) as i32, y)],
                TARGET.stroke_width(s(2)),
            ))
            .map_err(err)?;
        legend_area
            .draw(&Text::new(
                format!("target {}", super::format::value(target, unit, currency)),
                (x1 + s(20) as i32, y - s(6) as i32),
                font(11),
            ))
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
        1,
    )?;
    Ok(svg)
}

/// The same chart as a PNG for `cid:` images in email: twice the CSS size,
/// with a transparent background. The bitmap backend has no alpha channel,
/// so the chart is drawn on white and on black and the alpha of each pixel
/// recovered from the difference. The chart is laid out and its text and
/// shapes broken into pixels once ([`Recorder`]), then put on both
/// backgrounds.
pub fn trend_png(t: &Trend) -> Result<Vec<u8>> {
    trend_png_with(t, &mut PngScratch::default())
}

/// The buffers of [`trend_png`], kept from one chart to the next (a fresh
/// 2 MB of pixels per chart costs page faults).
#[derive(Default)]
pub struct PngScratch {
    ops: Vec<recorder::Op>,
    white: Vec<u8>,
    black: Vec<u8>,
    rgba: Vec<u8>,
}

fn trend_png_with(t: &Trend, scratch: &mut PngScratch) -> Result<Vec<u8>> {
    let (w, h) = (TREND_SIZE.0 * PNG_SCALE, TREND_SIZE.1 * PNG_SCALE);
    let PngScratch {
        ops,
        white,
        black,
        rgba,
    } = scratch;
    ops.clear();
    let recorder = Recorder {
        size: (w, h),
        ops: &mut *ops,
    };
    draw_trend(recorder.into_drawing_area(), t, PNG_SCALE)?;
    let pixels = (w * h) as usize;
    for (rgb, background) in [(&mut *white, 255), (&mut *black, 0)] {
        rgb.clear();
        rgb.resize(pixels * 3, background);
        let mut bitmap = BitMapBackend::with_buffer(rgb, (w, h));
        replay(ops, &mut bitmap);
        bitmap.present().map_err(err)?;
    }
    // Every byte is written by `unblend_all`.
    rgba.resize(pixels * 4, 0);
    unblend_all(white, black, rgba);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgba)?;
    }
    Ok(out)
}

/// [`unblend`] of every pixel into `rgba`: eight untouched pixels at a
/// time are made transparent without a look at each.
fn unblend_all(white: &[u8], black: &[u8], rgba: &mut [u8]) {
    const N: usize = 8;
    let (w8, b8, o8) = (
        white.chunks_exact(3 * N),
        black.chunks_exact(3 * N),
        rgba.chunks_exact_mut(4 * N),
    );
    let tail = (w8.remainder(), b8.remainder());
    for ((w, b), o) in w8.zip(b8).zip(o8) {
        let word = |s: &[u8], i: usize| {
            u64::from_ne_bytes(s[8 * i..8 * i + 8].try_into().expect("8 bytes"))
        };
        if word(w, 0) & word(w, 1) & word(w, 2) == u64::MAX
            && word(b, 0) | word(b, 1) | word(b, 2) == 0
        {
            o.fill(0);
            continue;
        }
        for ((wp, bp), op) in w
            .chunks_exact(3)
            .zip(b.chunks_exact(3))
            .zip(o.chunks_exact_mut(4))
        {
            op.copy_from_slice(&unblend(wp, bp));
        }
    }
    let done = rgba.len() - tail.0.len() / 3 * 4;
    for ((wp, bp), op) in tail
        .0
        .chunks_exact(3)
        .zip(tail.1.chunks_exact(3))
        .zip(rgba[done..].chunks_exact_mut(4))
    {
        op.copy_from_slice(&unblend(wp, bp));
    }
}

/// The RGBA pixel drawn as `white` on a white and as `black` on a black
/// background. Most pixels are untouched (transparent) or fully covered (the
/// same on both backgrounds): [`unblend_any`] gives exactly these bytes for
/// them, without its divisions.
fn unblend(white: &[u8], black: &[u8]) -> [u8; 4] {
    let (white, black) = (
        [white[0], white[1], white[2]],
        [black[0], black[1], black[2]],
    );
    if white == [255, 255, 255] && black == [0, 0, 0] {
        [0, 0, 0, 0]
    } else if white == black {
        [black[0], black[1], black[2], 255]
    } else {
        unblend_any(&white, &black)
    }
}

/// white = c·a + 255·(1 − a), black = c·a  ⇒  a = 1 − (white − black)/255.
fn unblend_any(white: &[u8], black: &[u8]) -> [u8; 4] {
    let diff = (0..3)
        .map(|i| i32::from(white[i]) - i32::from(black[i]))
        .sum::<i32>()
        / 3;
    let alpha = (255 - diff).clamp(0, 255) as u8;
    let mut out = [0, 0, 0, alpha];
    if alpha > 0 {
        for i in 0..3 {
            out[i] = ((u32::from(black[i]) * 255 + u32::from(alpha) / 2) / u32::from(alpha))
                .min(255) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sparkline as it was written before (`format!`'s tenths, a list
    /// of the runs).
    mod before {
        use anyhow::Result;

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

        fn band_range(values: &[Option<f64>], band: Option<(f64, f64)>) -> Option<(f64, f64)> {
            let (lo, hi) = y_range(values)?;
            let Some((b_lo, b_hi)) = band else {
                return Some((lo, hi));
            };
            let slack = (hi - lo) * 0.5;
            Some((lo.min(b_lo.max(lo - slack)), hi.max(b_hi.min(hi + slack))))
        }

        pub fn sparkline_svg(
            values: &[Option<f64>],
            band: Option<(f64, f64)>,
        ) -> Result<Option<String>> {
            use std::fmt::Write;
            let Some((lo, hi)) = band_range(values, band) else {
                return Ok(None);
            };
            const W: f64 = 120.0;
            const H: f64 = 28.0;
            const MARGIN: f64 = 3.0;
            let last = values.len().max(2) - 1;
            let span = if hi > lo { hi - lo } else { 1.0 };
            let x = |i: usize| MARGIN + (W - 2.0 * MARGIN) * i as f64 / last as f64;
            let y = |v: f64| MARGIN + (H - 2.0 * MARGIN) * (hi - v.clamp(lo, hi)) / span;
            let mut svg = String::with_capacity(160 + 14 * values.len());
            svg.push_str(
                "<svg width=\"120\" height=\"28\" viewBox=\"0 0 120 28\" xmlns=\"http://www.w3.org/2000/svg\">",
            );
            // Writing into a String cannot fail.
            if let Some((b_lo, b_hi)) = band {
                let from = last.saturating_sub(crate::kpi::stats::USUAL_WINDOW);
                let (top, bottom) = (y(b_hi.min(hi)), y(b_lo.max(lo)));
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#DBEAFE\"/>",
                    x(from),
                    x(last) - x(from),
                    (bottom - top).max(0.0)
                );
            }
            let mut d = String::with_capacity(14 * values.len());
            let mut lonely = Vec::new();
            for run in runs(values) {
                if run.len() == 1 {
                    lonely.push(run[0]);
                    continue;
                }
                for (k, (i, v)) in run.iter().enumerate() {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1}",
                        if k == 0 { "M" } else { "L" },
                        x(*i),
                        y(*v)
                    );
                }
            }
            if !d.is_empty() {
                let _ = write!(
                    svg,
                    "<path d=\"{d}\" fill=\"none\" stroke=\"#2563EB\" stroke-width=\"2\" stroke-linejoin=\"round\"/>"
                );
            }
            let latest = values
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, v)| v.map(|v| (i, v)));
            // A value with no known neighbour is a dot (a line needs two points),
            // and the latest value is always marked.
            for (i, v) in lonely
                .into_iter()
                .filter(|p| Some(*p) != latest)
                .chain(latest)
            {
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"#2563EB\"/>",
                    x(i),
                    y(v)
                );
            }
            // Ends with a newline, as the pages have always had it.
            svg.push_str("</svg>\n");
            Ok(Some(svg))
        }
    }

    #[test]
    fn sparkline_is_the_same_svg_as_before() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(26);
        for case in 0..3000 {
            let n = rng.gen_range(0..30);
            let gaps = rng.gen_range(0.0..0.6);
            let scale = 10f64.powi(rng.gen_range(-3..7));
            let values: Vec<Option<f64>> = (0..n)
                .map(|_| (!rng.gen_bool(gaps)).then(|| rng.gen_range(-1.0..1.0) * scale))
                .collect();
            let band = match case % 3 {
                0 => None,
                1 => Some((-0.2 * scale, 0.3 * scale)),
                _ => Some((-100.0 * scale, 100.0 * scale)),
            };
            assert_eq!(
                sparkline_svg(&values, band).unwrap(),
                before::sparkline_svg(&values, band).unwrap(),
                "{values:?} {band:?}"
            );
        }
        for values in [
            vec![Some(f64::NAN), Some(1.0)],
            vec![Some(2.0); 5],
            vec![None, Some(0.35)],
        ] {
            assert_eq!(
                sparkline_svg(&values, None).unwrap(),
                before::sparkline_svg(&values, None).unwrap()
            );
        }
    }

    #[test]
    fn tenths_without_the_float_formatter_are_the_float_formatters() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        let mut values = vec![
            0.0,
            -0.0,
            0.05,
            0.15,
            0.25,
            0.35,
            0.45,
            2.675,
            117.0,
            999_999.95,
            1e6,
            1e7,
            f64::NAN,
            f64::INFINITY,
            -0.04,
            -3.0,
            5e-324,
        ];
        for _ in 0..200_000 {
            values.push(rng.gen_range(-10.0..130.0));
            values.push(f64::from(rng.gen_range(0..100_000)) / 1000.0 + 0.05);
            values.push(3.0 + 114.0 * f64::from(rng.gen_range(0..26)) / 25.0);
        }
        for v in values {
            assert_eq!(F1(v).to_string(), format!("{v:.1}"), "{v:e}");
        }
    }

    #[test]
    fn sparkline_breaks_at_gaps() {
        assert_eq!(runs(&[Some(1.0), None, Some(2.0), Some(3.0)]).len(), 2);
        let svg = sparkline_svg(&[Some(1.0), Some(3.0), None, Some(2.0)], None)
            .unwrap()
            .unwrap();
        assert!(
            svg.starts_with("<svg") && svg.ends_with("</svg>\n"),
            "{svg}"
        );
        // One path with a segment per run of known values; the lone value
        // after the gap is the latest one, marked by the circle.
        assert_eq!(svg.matches("<path").count(), 1, "{svg}");
        assert_eq!(svg.matches('M').count(), 1, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 1, "{svg}");
        // x from 3 (first) to 117 (last), y from 3 (highest) to 25 (lowest).
        assert!(svg.contains("M3.0 "), "{svg}");
        assert!(svg.contains("cx=\"117.0\""), "{svg}");
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
    fn transparent_and_opaque_pixels_keep_their_exact_bytes() {
        assert_eq!(unblend(&[255; 3], &[0; 3]), [0, 0, 0, 0]);
        for c in 0..=255u8 {
            let px = [c, 255 - c, c / 2];
            assert_eq!(unblend(&px, &px), unblend_any(&px, &px));
            assert_eq!(unblend(&px, &px), [c, 255 - c, c / 2, 255]);
            // Half covered: the general formula.
            let white = [c / 2 + 128, 200, 255];
            assert_eq!(unblend(&white, &px), unblend_any(&white, &px));
        }
        assert_eq!(unblend_any(&[255; 3], &[0; 3]), [0, 0, 0, 0]);
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
            unit: Unit::Score,
            currency: "$",
            per: "per week",
        };
        let svg = trend_svg(&t).unwrap();
        assert!(svg.contains("NPS per week"), "a legend");
        assert!(svg.contains("target 40.0"), "a labelled target line");
        let png = trend_png(&t).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // Twice the CSS size, transparent where nothing is drawn.
        let decoder = png::Decoder::new(std::io::Cursor::new(&png));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(
            (info.width, info.height),
            (TREND_SIZE.0 * PNG_SCALE, TREND_SIZE.1 * PNG_SCALE)
        );
        assert_eq!(info.color_type, png::ColorType::Rgba);
        assert_eq!(buf[3], 0, "the corner is transparent");
        assert!(
            buf.chunks_exact(4).any(|p| p[3] == 255),
            "something is drawn"
        );
    }

    /// The PNG as drawn before the recorder: the whole chart drawn twice.
    fn trend_png_drawn_twice(t: &Trend) -> Vec<u8> {
        let (w, h) = (TREND_SIZE.0 * PNG_SCALE, TREND_SIZE.1 * PNG_SCALE);
        let draw = |background: u8| {
            let mut rgb = vec![background; (w * h * 3) as usize];
            draw_trend(
                BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area(),
                t,
                PNG_SCALE,
            )
            .unwrap();
            rgb
        };
        let (on_white, on_black) = (draw(255), draw(0));
        let rgba: Vec<u8> = on_white
            .chunks_exact(3)
            .zip(on_black.chunks_exact(3))
            .flat_map(|(wp, bp)| unblend(wp, bp))
            .collect();
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&rgba).unwrap();
        out
    }

    #[test]
    fn png_laid_out_once_is_the_png_drawn_twice_byte_for_byte() {
        let labels: Vec<String> = (1..=26).map(|i| format!("W{i:02} 2026")).collect();
        let wavy: Vec<Option<f64>> = (0..26)
            .map(|i| (i % 7 != 3).then(|| 1000.0 + 370.0 * (f64::from(i) * 0.7).sin()))
            .collect();
        let flat = vec![Some(12.5); 26];
        let sparse: Vec<Option<f64>> = (0..26).map(|i| (i % 9 == 0).then_some(-3.25)).collect();
        let cases = [
            (&wavy, Some(1200.0), Unit::Currency),
            (&wavy, None, Unit::Percent),
            (&flat, Some(12.5), Unit::Hours),
            (&sparse, Some(-40.0), Unit::Score),
        ];
        // One cache for all: each chart reuses the buffers of the one before.
        let cache = ChartCache::default();
        for (values, target, unit) in cases {
            let t = Trend {
                title: "Revenue",
                labels: &labels,
                values,
                target,
                unit,
                currency: "€",
                per: "per week",
            };
            let twice = trend_png_drawn_twice(&t);
            assert!(trend_png(&t).unwrap() == twice, "{unit:?} {target:?}");
            assert!(*cache.png(&t).unwrap() == *twice, "{unit:?} {target:?}");
        }
    }
}
