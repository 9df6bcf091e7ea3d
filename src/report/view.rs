//! The plain view model the templates receive: already-formatted strings
//! beside raw numbers, never store rows. Built from the comparisons of one
//! period, for the whole business or one segment.
use serde::Serialize;

use super::{charts, format, insights, markdown};
use crate::compare::{Compared, Status};
use crate::kpi::catalogue::{Category, Direction, Uncertainty, Unit};
use crate::period::Period;

/// KPIs on the headline strip, in order.
pub const HEADLINE: [&str; 8] = [
    "revenue",
    "new_customers",
    "churn_rate",
    "nps",
    "csat",
    "win_rate",
    "median_first_response_hours",
    "clv_cac_ratio",
];
/// The headline KPIs in the order the subject line picks its figure from:
/// the first off track, else the first at risk, else the first.
const SUBJECT_ORDER: [&str; 8] = [
    "nps",
    "revenue",
    "churn_rate",
    "csat",
    "win_rate",
    "new_customers",
    "median_first_response_hours",
    "clv_cac_ratio",
];
/// KPIs with a trend chart.
pub const TRENDS: [&str; 6] = [
    "revenue",
    "nps",
    "churn_rate",
    "win_rate",
    "median_first_response_hours",
    "csat",
];
/// KPIs in the segment breakdown tables.
pub const BREAKDOWN: [&str; 7] = [
    "revenue",
    "customers_end",
    "churn_rate",
    "nps",
    "csat",
    "avg_first_response_hours",
    "win_rate",
];

// What the store says beside the KPIs: a leaf type, read by `kpi::extras`.
pub use crate::model::{Comment, DataQuality, FileQuality};

pub struct ReportInput<'a> {
    pub title: &'a str,
    pub period: Period,
    pub rows: &'a [Compared],
    pub history: &'a [Period],
    pub comments: &'a [Comment],
    pub note_markdown: Option<&'a str>,
    pub quality: &'a DataQuality,
    pub generated_at: &'a str,
    pub timezone: &'a str,
    pub currency: &'a str,
    /// (segment key, relative folder) of every segment version.
    pub segment_folders: &'a [(String, String)],
    /// `[report] base_url`: where the archive root is published.
    pub base_url: Option<&'a str>,
    /// The period's trend charts, drawn once and shared by its scorecards.
    pub charts: &'a charts::ChartCache,
}

#[derive(Debug, Serialize)]
pub struct PeriodView {
    pub id: String,
    pub cadence: String,
    pub start: String,
    pub end: String,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct RowView {
    /// Some tickets are still inside their window: the figure can move.
    pub provisional: bool,
    /// How many (formatted), for "provisional: 41 tickets inside their window".
    pub pending: String,
    pub id: String,
    pub title: String,
    pub formula: String,
    pub unit: String,
    pub raw_value: Option<f64>,
    pub value: String,
    pub n: String,
    pub ci: String,
    pub previous: String,
    pub delta: String,
    pub delta_pct: String,
    pub arrow: String,
    pub tone: String,
    /// The tone in words, for readers who cannot tell the colours apart:
    /// "better", "worse" or "no change" (empty without a change).
    pub verdict: String,
    pub significant: bool,
    pub inconclusive: bool,
    pub trailing: String,
    pub year_ago: String,
    pub industry: String,
    pub industry_source: String,
    pub target: String,
    pub status: String,
    pub status_label: String,
    /// ✓ on track, ! at risk, ✗ off track (empty otherwise).
    pub status_symbol: String,
    pub sparkline: String,
    /// The usual range, formatted ("120 – 180"); empty without one.
    pub usual: String,
    pub unusual: bool,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct CategoryView {
    pub name: String,
    pub label: String,
    pub rows: Vec<RowView>,
}

#[derive(Debug, Serialize)]
pub struct ChartView {
    pub id: String,
    pub title: String,
    pub svg: String,
    pub cid: String,
    pub alt: String,
}

#[derive(Debug, Serialize)]
pub struct BreakdownCell {
    pub value: String,
    pub status: String,
    pub status_label: String,
    pub status_symbol: String,
}

#[derive(Debug, Serialize)]
pub struct BreakdownRow {
    pub segment: String,
    pub value: String,
    pub href: String,
    pub cells: Vec<BreakdownCell>,
}

#[derive(Debug, Serialize)]
pub struct BreakdownView {
    pub attribute: String,
    pub columns: Vec<String>,
    pub rows: Vec<BreakdownRow>,
}

#[derive(Debug, Serialize)]
pub struct MoverView {
    pub title: String,
    pub value: String,
    /// "1.4 ranges above the usual 120 – 180".
    pub change: String,
    pub arrow: String,
    pub tone: String,
    pub verdict: String,
    pub significant: bool,
    /// The usual range, formatted ("120 – 180").
    pub usual: String,
    /// How far outside, in units of the range (signed: below is negative).
    pub outside: f64,
}

/// "120 – 180" in the KPI's unit.
fn usual_text(r: &Compared, currency: &str) -> String {
    r.usual
        .map(|(lo, hi)| format::interval(lo, hi, r.info.unit, currency))
        .unwrap_or_default()
}

/// "0.4 of a range", "1 range", "2.3 ranges".
fn ranges_text(x: f64) -> String {
    let t = format::grouped(x, 1);
    match t.as_str() {
        "0.0" => "just".into(),
        "1.0" => "1 range".into(),
        _ if x < 1.0 => format!("{t} of a range"),
        _ => format!("{t} ranges"),
    }
}

#[derive(Debug, Serialize)]
pub struct CommentView {
    pub date: String,
    pub score: i64,
    pub kind: String,
    pub text: String,
    pub text_md: String,
    pub segment: String,
}

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub label: String,
    pub href: String,
}

#[derive(Debug, Serialize)]
pub struct ScorecardView {
    pub title: String,
    pub period: PeriodView,
    pub segment: Option<String>,
    pub generated_at: String,
    pub timezone: String,
    /// "Sun 29 Nov 23:52 UTC": the latest as-of of the imported files.
    pub data_as_of: String,
    pub headline: Vec<RowView>,
    pub charts: Vec<ChartView>,
    pub categories: Vec<CategoryView>,
    pub breakdowns: Vec<BreakdownView>,
    pub movers: Vec<MoverView>,
    pub insights: Vec<String>,
    pub detractors: Vec<CommentView>,
    pub promoters: Vec<CommentView>,
    pub note_html: Option<String>,
    /// The note for the Markdown scorecard, raw HTML neutralised.
    pub note_markdown: Option<String>,
    pub quality: DataQuality,
    pub segment_links: Vec<LinkView>,
    /// Relative path back to the archive root (for links from segment pages).
    pub root: String,
    pub has_industry: bool,
    pub has_targets: bool,
    /// The segment's value alone ("EMEA"; "Unattributed (owner)"), for the
    /// subject line.
    pub segment_name: Option<String>,
    /// The headline figure of the subject: "NPS 22.9 ▼".
    pub subject_figure: String,
    /// "2 KPIs off track", "1 KPI off track", "no KPI off track".
    pub off_track_phrase: String,
    pub off_track: usize,
    /// The email preheader: the two or three most important facts.
    pub preheader: String,
    /// The archived page of this scorecard when `[report] base_url` is set.
    pub archive_url: Option<String>,
    /// From a segment page: its week's whole-business page.
    pub week_href: Option<String>,
}

pub fn status_symbol(s: Status) -> &'static str {
    match s {
        Status::OnTrack => "✓",
        Status::AtRisk => "!",
        Status::OffTrack => "✗",
        Status::NoTarget | Status::NoData => "",
    }
}

/// The tone of a change in words.
pub fn verdict(tone: &str, has_delta: bool) -> &'static str {
    match (has_delta, tone) {
        (false, _) => "",
        (true, "good") => "better",
        (true, "bad") => "worse",
        (true, _) => "no change",
    }
}

/// Short names for the subject line and preheader.
fn short_title(id: &str, title: &str) -> String {
    match id {
        "nps" => "NPS".into(),
        "csat" => "CSAT".into(),
        "churn_rate" => "Churn".into(),
        "median_first_response_hours" | "avg_first_response_hours" => "First response".into(),
        "clv_cac_ratio" => "CLV:CAC".into(),
        _ => title.to_string(),
    }
}

fn status_label(s: Status) -> &'static str {
    match s {
        Status::OnTrack => "On track",
        Status::AtRisk => "At risk",
        Status::OffTrack => "Off track",
        Status::NoTarget => "No target",
        Status::NoData => "No data",
    }
}

/// Arrow and tone of a change, coloured by the KPI's direction.
pub fn arrow_tone(delta: Option<f64>, direction: Direction) -> (&'static str, &'static str) {
    match delta {
        Some(d) if d > 0.0 => (
            "▲",
            if direction == Direction::Higher {
                "good"
            } else {
                "bad"
            },
        ),
        Some(d) if d < 0.0 => (
            "▼",
            if direction == Direction::Lower {
                "good"
            } else {
                "bad"
            },
        ),
        Some(_) => ("■", "flat"),
        None => ("", "flat"),
    }
}

/// The latest of the files' as-of instants, in the report time zone:
/// "Sun 29 Nov 23:52 UTC"; empty when none was recorded.
pub fn data_as_of(as_of: &[(String, String)], timezone: &str) -> String {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    as_of
        .iter()
        .filter_map(|(_, t)| chrono::DateTime::parse_from_rfc3339(t).ok())
        .max()
        .map(|t| {
            t.with_timezone(&tz)
                .format("%a %-d %b %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default()
}

pub fn period_label(p: Period) -> String {
    let last = p.end() - chrono::Duration::days(1);
    format!(
        "{} – {}",
        p.start.format("%-d %b %Y"),
        last.format("%-d %b %Y")
    )
}

/// Everything a KPI's status is judged against (target, stretch, floor,
/// benchmark): its value must not read the same as one of them when it
/// differs ([`format::value_against`]).
pub fn references(r: &Compared) -> Vec<f64> {
    [
        r.target_spec.target,
        r.target_spec.stretch,
        r.target_spec.floor,
        r.industry.as_ref().map(|c| c.value),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn row_view(r: &Compared, currency: &str, with_sparkline: bool) -> anyhow::Result<RowView> {
    let unit = r.info.unit;
    let fmt = |v: Option<f64>| {
        v.map(|v| format::value(v, unit, currency))
            .unwrap_or_default()
    };
    let prev = r.previous.as_ref();
    let delta = prev.and_then(|c| c.delta);
    let (arrow, tone) = arrow_tone(delta, r.info.direction);
    let significant = prev.and_then(|c| c.significant.flatten()).unwrap_or(false);
    // "Too few to tell": the one significance rule could not judge the change.
    let inconclusive = delta.is_some() && prev.is_some_and(|c| c.significant == Some(None));
    let ci = match r.current.ci95 {
        // Shown within the scale's bounds (kpis.json keeps the raw interval).
        Some((lo, hi)) => match (unit, r.info.id.as_str()) {
            (Unit::Percent, _) if r.info.uncertainty == Uncertainty::Proportion => {
                format::interval(lo.max(0.0), hi.min(100.0), unit, currency)
            }
            (_, "nps") => format::interval(lo.max(-100.0), hi.min(100.0), unit, currency),
            _ => format::interval(lo, hi, unit, currency),
        },
        None => String::new(),
    };
    let references = references(r);
    let sparkline = if with_sparkline {
        charts::sparkline_svg(&r.history, r.usual)?.unwrap_or_default()
    } else {
        String::new()
    };
    Ok(RowView {
        provisional: r.current.provisional(),
        pending: format::grouped(r.current.pending.unwrap_or(0) as f64, 0),
        id: r.info.id.clone(),
        title: r.info.title.clone(),
        formula: r.info.formula.clone(),
        unit: unit.as_str().to_string(),
        raw_value: r.current.value,
        value: r
            .current
            .value
            .map(|v| format::value_against(v, &references, unit, currency))
            .unwrap_or_else(|| "n/a".into()),
        n: r.current
            .n
            .map(|n| format::grouped(n as f64, 0))
            .unwrap_or_default(),
        ci,
        previous: fmt(prev.map(|c| c.value)),
        delta: delta
            .map(|d| format::change(d, r.current.value.unwrap_or(d), unit, currency))
            .unwrap_or_default(),
        delta_pct: prev
            .and_then(|c| c.delta_pct)
            .map(format::percent_change)
            .unwrap_or_default(),
        arrow: arrow.into(),
        tone: tone.into(),
        verdict: verdict(tone, delta.is_some()).into(),
        significant,
        inconclusive,
        trailing: fmt(r.trailing_avg.as_ref().map(|c| c.value)),
        year_ago: fmt(r.year_ago.as_ref().map(|c| c.value)),
        industry: fmt(r.industry.as_ref().map(|c| c.value)),
        industry_source: r
            .industry
            .as_ref()
            .map(|c| {
                format!(
                    "{} ({})",
                    c.source.clone().unwrap_or_default(),
                    c.year.unwrap_or_default()
                )
            })
            .unwrap_or_default(),
        target: fmt(r.target.as_ref().map(|c| c.value)),
        status: r.status.as_str().into(),
        status_label: status_label(r.status).into(),
        status_symbol: status_symbol(r.status).into(),
        sparkline,
        usual: usual_text(r, currency),
        unusual: r.unusual == Some(true),
        reason: r.current.reason.clone().unwrap_or_default(),
    })
}

/// The label of records with no (known) customer or an empty attribute.
pub const UNATTRIBUTED: &str = "Unattributed";

/// A segment's value as people say it: `(none)` is "Unattributed".
fn segment_value(key: &str) -> &str {
    match key.split_once('=').map(|(_, v)| v).unwrap_or(key) {
        crate::model::NONE_VALUE => UNATTRIBUTED,
        v => v,
    }
}

/// A segment's value for a short line ("EMEA · Pro", a subject): an
/// unattributed one names its attribute ("Unattributed (owner)").
fn segment_name(key: &str) -> String {
    match segment_value(key) {
        UNATTRIBUTED => segment_label(key),
        v => v.to_string(),
    }
}

/// A segment key as people say it: `region=EMEA` → "EMEA (region)",
/// `region=(none)` → "Unattributed (region)", the whole business → "the
/// whole business".
pub fn segment_label(key: &str) -> String {
    match key.split_once('=') {
        Some((attr, _)) => format!("{} ({attr})", segment_value(key)),
        None if key.is_empty() => "the whole business".into(),
        None => key.to_string(),
    }
}

/// Builds the view of the whole business (`segment` None) or of one segment.
pub fn build(
    input: &ReportInput,
    segment: Option<&str>,
    root: &str,
) -> anyhow::Result<ScorecardView> {
    let key = segment.unwrap_or("");
    let mine: Vec<&Compared> = input.rows.iter().filter(|r| r.segment == key).collect();
    let currency = input.currency;
    let headline = HEADLINE
        .iter()
        .filter_map(|id| mine.iter().find(|r| r.info.id == *id))
        .map(|r| row_view(r, currency, false))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Breakdown tables and links to the segments: whole-business scorecard only.
    let (breakdowns, segment_links) = match segment {
        None => (breakdowns(input, &mine), segment_links(input)),
        Some(_) => (Vec::new(), Vec::new()),
    };
    let (detractors, promoters) = comments(input.comments, segment);
    let summary = Summary::of(&mine, currency)?;
    Ok(ScorecardView {
        title: input.title.to_string(),
        period: PeriodView {
            id: input.period.id(),
            cadence: input.period.cadence.as_str().into(),
            start: input.period.start.to_string(),
            end: input.period.end().to_string(),
            label: period_label(input.period),
        },
        segment: segment.map(segment_label),
        generated_at: input.generated_at.to_string(),
        timezone: input.timezone.to_string(),
        data_as_of: data_as_of(&input.quality.as_of, input.timezone),
        headline,
        charts: trend_charts(input, &mine)?,
        has_industry: mine.iter().any(|r| r.industry.is_some()),
        has_targets: mine.iter().any(|r| r.target.is_some()),
        categories: categories(&mine, currency)?,
        breakdowns,
        movers: top_movers(&mine, currency),
        insights: insights::generate(input.rows, key, currency, input.period),
        detractors,
        promoters,
        note_html: input.note_markdown.map(markdown::to_safe_html),
        note_markdown: input.note_markdown.map(markdown::without_html),
        quality: input.quality.clone(),
        segment_links,
        root: root.to_string(),
        segment_name: segment.map(segment_name),
        subject_figure: summary.subject_figure,
        off_track_phrase: summary.off_track_phrase,
        off_track: summary.off_track,
        preheader: summary.preheader,
        archive_url: archive_url(input, segment),
        week_href: segment.map(|_| "../../scorecard.html".to_string()),
    })
}

/// The KPI table, one group per category (in the catalogue's order) that
/// has a KPI.
fn categories(mine: &[&Compared], currency: &str) -> anyhow::Result<Vec<CategoryView>> {
    let mut categories = Vec::new();
    for cat in Category::ALL {
        let rows = mine
            .iter()
            .filter(|r| r.info.category == cat)
            .map(|r| row_view(r, currency, true))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if !rows.is_empty() {
            let label = match cat {
                Category::Input => "Input: what goes in",
                Category::Process => "Process: how work is done",
                Category::Output => "Output: what comes out",
                Category::Outcome => "Outcome: what it achieves",
            };
            categories.push(CategoryView {
                name: cat.as_str().into(),
                label: label.into(),
                rows,
            });
        }
    }
    Ok(categories)
}

/// The trend charts of the [`TRENDS`] KPIs that have any history.
fn trend_charts(input: &ReportInput, mine: &[&Compared]) -> anyhow::Result<Vec<ChartView>> {
    let currency = input.currency;
    let labels: Vec<String> = input.history.iter().map(|p| axis_label(*p)).collect();
    let mut charts_out = Vec::new();
    for id in TRENDS {
        if let Some(r) = mine.iter().find(|r| r.info.id == id) {
            if r.history.iter().all(Option::is_none) {
                continue;
            }
            let t = trend(r, &labels, currency, input.period);
            let last = r
                .current
                .value
                .map(|v| format::value(v, r.info.unit, currency))
                .unwrap_or_else(|| "n/a".into());
            charts_out.push(ChartView {
                id: id.to_string(),
                title: r.info.title.clone(),
                svg: input.charts.svg(&t)?.to_string(),
                cid: format!("trend-{id}.png"),
                alt: format!(
                    "{} over the last {} periods, latest {}",
                    r.info.title,
                    labels.len(),
                    last
                ),
            });
        }
    }
    Ok(charts_out)
}

/// One breakdown table per segment attribute (in the order the rows name
/// them): a row per segment, a column per [`BREAKDOWN`] KPI.
fn breakdowns(input: &ReportInput, mine: &[&Compared]) -> Vec<BreakdownView> {
    let mut attrs: Vec<&str> = Vec::new();
    for r in input.rows {
        if let Some((a, _)) = r.segment.split_once('=') {
            if !attrs.contains(&a) {
                attrs.push(a);
            }
        }
    }
    let mut breakdowns = Vec::new();
    for attr in attrs {
        let mut seg_keys: Vec<&str> = Vec::new();
        for r in input.rows {
            if r.segment.split_once('=').is_some_and(|(a, _)| a == attr)
                && !seg_keys.contains(&r.segment.as_str())
            {
                seg_keys.push(&r.segment);
            }
        }
        let columns = BREAKDOWN
            .iter()
            .filter_map(|id| {
                mine.iter()
                    .find(|r| r.info.id == *id)
                    .map(|r| r.info.title.clone())
            })
            .collect();
        let rows = seg_keys
            .iter()
            .map(|k| breakdown_row(input, mine, k))
            .collect();
        breakdowns.push(BreakdownView {
            attribute: attr.to_string(),
            columns,
            rows,
        });
    }
    breakdowns
}

/// A segment's row of a breakdown table (`mine`: the whole business's rows,
/// which say which columns there are).
fn breakdown_row(input: &ReportInput, mine: &[&Compared], k: &str) -> BreakdownRow {
    let currency = input.currency;
    BreakdownRow {
        segment: k.to_string(),
        value: segment_value(k).to_string(),
        href: input
            .segment_folders
            .iter()
            .find(|(s, _)| s == k)
            .map(|(_, f)| format!("{f}/scorecard.html"))
            .unwrap_or_default(),
        cells: BREAKDOWN
            .iter()
            .filter(|id| mine.iter().any(|r| r.info.id == **id))
            .map(|id| {
                let r = input
                    .rows
                    .iter()
                    .find(|r| r.segment == *k && r.info.id == *id);
                BreakdownCell {
                    value: r
                        .and_then(|r| {
                            r.current
                                .value
                                .map(|v| format::value(v, r.info.unit, currency))
                        })
                        .unwrap_or_else(|| "n/a".into()),
                    status: r.map(|r| r.status.as_str()).unwrap_or("no_data").into(),
                    status_label: status_label(r.map(|r| r.status).unwrap_or(Status::NoData))
                        .into(),
                    status_symbol: status_symbol(r.map(|r| r.status).unwrap_or(Status::NoData))
                        .into(),
                }
            })
            .collect(),
    }
}

/// Top movers: the values furthest outside their usual range, in units of
/// the range (kpis.md "Usual range"); values inside it are not news.
fn top_movers(mine: &[&Compared], currency: &str) -> Vec<MoverView> {
    let mut movers: Vec<(&Compared, f64)> = mine
        .iter()
        .filter_map(|r| r.outside.filter(|x| *x != 0.0).map(|x| (*r, x)))
        .collect();
    insights::largest_first(&mut movers);
    movers
        .into_iter()
        .take(5)
        .map(|(r, x)| {
            let (arrow, tone) = arrow_tone(Some(x), r.info.direction);
            let usual = usual_text(r, currency);
            MoverView {
                title: r.info.title.clone(),
                value: r
                    .current
                    .value
                    .map(|v| format::value(v, r.info.unit, currency))
                    .unwrap_or_else(|| "n/a".into()),
                change: format!(
                    "{} {} the usual {}",
                    ranges_text(x.abs()),
                    if x > 0.0 { "above" } else { "below" },
                    usual
                ),
                arrow: arrow.into(),
                tone: tone.into(),
                verdict: verdict(tone, true).into(),
                significant: r
                    .previous
                    .as_ref()
                    .and_then(|c| c.significant.flatten())
                    .unwrap_or(false),
                usual,
                outside: x,
            }
        })
        .collect()
}

/// The survey comments of the scorecard's segment (all, for the whole
/// business): up to 5 detractors and up to 5 promoters
/// ([`crate::model::shown_comments`]).
fn comments(all: &[Comment], segment: Option<&str>) -> (Vec<CommentView>, Vec<CommentView>) {
    let comment_view = |c: &Comment| CommentView {
        date: c.date.clone(),
        score: c.score,
        kind: c.kind.to_uppercase(),
        text: c.text.clone(),
        text_md: markdown::escape_inline(&c.text),
        segment: c
            .segments
            .iter()
            .map(|s| segment_name(s))
            .collect::<Vec<_>>()
            .join(" · "),
    };
    let [detractors, promoters] = crate::model::shown_comments(all, segment)
        .map(|side| side.into_iter().map(comment_view).collect());
    (detractors, promoters)
}

/// The links from the whole business's scorecard to each segment's.
fn segment_links(input: &ReportInput) -> Vec<LinkView> {
    input
        .segment_folders
        .iter()
        .map(|(k, f)| LinkView {
            label: segment_label(k),
            href: format!("{f}/scorecard.html"),
        })
        .collect()
}

/// Subject line and preheader: the facts a lead reads before opening.
struct Summary {
    subject_figure: String,
    off_track_phrase: String,
    off_track: usize,
    preheader: String,
}

impl Summary {
    fn of(mine: &[&Compared], currency: &str) -> anyhow::Result<Summary> {
        let off_track: Vec<&&Compared> = mine
            .iter()
            .filter(|r| r.status == Status::OffTrack)
            .collect();
        let off_track_phrase = match off_track.len() {
            0 => "no KPI off track".to_string(),
            1 => "1 KPI off track".to_string(),
            k => format!("{k} KPIs off track"),
        };
        let headline_rows: Vec<&&Compared> = SUBJECT_ORDER
            .iter()
            .filter_map(|id| mine.iter().find(|r| r.info.id == *id))
            .filter(|r| r.current.value.is_some())
            .collect();
        let lead = headline_rows
            .iter()
            .find(|r| r.status == Status::OffTrack)
            .or_else(|| headline_rows.iter().find(|r| r.status == Status::AtRisk))
            .or_else(|| headline_rows.first())
            .copied();
        let figure = |r: &Compared, words: bool| {
            let v = row_view(r, currency, false)?;
            let mut s = format!("{} {}", short_title(&r.info.id, &r.info.title), v.value);
            if !v.arrow.is_empty() && v.arrow != "■" {
                s.push(' ');
                s.push_str(&v.arrow);
                if words {
                    s.push_str(&format!(" {} {}", v.delta, v.verdict));
                }
            }
            anyhow::Ok(s)
        };
        let subject_figure = match lead {
            Some(r) => figure(r, false)?,
            None => String::new(),
        };
        let mut facts = Vec::new();
        if let Some(r) = lead {
            facts.push(figure(r, true)?);
        }
        let others: Vec<String> = off_track
            .iter()
            .filter(|r| lead.is_none_or(|l| l.info.id != r.info.id))
            .map(|r| r.info.title.clone())
            .collect();
        facts.push(match others.len() {
            0 => off_track_phrase.clone(),
            1 | 2 => format!("{off_track_phrase} ({})", others.join(", ")),
            _ => format!("{off_track_phrase} ({}, …)", others[..2].join(", ")),
        });
        if let Some(rev) = headline_rows
            .iter()
            .find(|r| r.info.id == "revenue" && lead.is_none_or(|l| l.info.id != "revenue"))
        {
            facts.push(figure(rev, true)?);
        }
        Ok(Summary {
            subject_figure,
            off_track_phrase,
            off_track: off_track.len(),
            preheader: facts.join(" · "),
        })
    }
}

/// The scorecard's address in the published archive (`[report] base_url`).
fn archive_url(input: &ReportInput, segment: Option<&str>) -> Option<String> {
    let page = match segment {
        Some(s) => input
            .segment_folders
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, f)| format!("{f}/scorecard.html"))
            .unwrap_or_else(|| "scorecard.html".into()),
        None => "scorecard.html".into(),
    };
    input.base_url.map(|base| {
        format!(
            "{}/{}/{}/{page}",
            base.trim_end_matches('/'),
            input.period.cadence.as_str(),
            input.period.id()
        )
    })
}

/// The trend chart of one KPI (`labels` from [`axis_label`]).
pub fn trend<'a>(
    r: &'a Compared,
    labels: &'a [String],
    currency: &'a str,
    period: Period,
) -> charts::Trend<'a> {
    charts::Trend {
        title: &r.info.title,
        labels,
        values: &r.history,
        target: r.target.as_ref().map(|c| c.value),
        unit: r.info.unit,
        currency,
        per: match period.cadence {
            crate::period::Cadence::Weekly => "per week",
            crate::period::Cadence::Monthly => "per month",
            crate::period::Cadence::Quarterly => "per quarter",
        },
    }
}

/// "W47 2026" / "Nov 2026" / "Q4 2026": chart axis labels with their year.
pub fn axis_label(p: Period) -> String {
    let id = p.id();
    match id.split_once('-') {
        Some((year, rest)) if p.cadence != crate::period::Cadence::Monthly => {
            format!("{rest} {year}")
        }
        _ => p.start.format("%b %Y").to_string(),
    }
}

/// "W47" / "Nov" / "Q4" for chart axes.
pub fn short_label(p: Period) -> String {
    let id = p.id();
    match p.cadence {
        crate::period::Cadence::Weekly => {
            id.split_once('-').map(|(_, w)| w.to_string()).unwrap_or(id)
        }
        crate::period::Cadence::Monthly => p.start.format("%b").to_string(),
        crate::period::Cadence::Quarterly => {
            id.split_once('-').map(|(_, q)| q.to_string()).unwrap_or(id)
        }
    }
}
