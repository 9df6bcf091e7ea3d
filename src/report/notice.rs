//! The short form of a scorecard that chat webhooks post (Slack, Teams):
//! the headline figures, the top insights and the link to the archived page.
//! Built from the same view model as the pages, so a post says exactly what
//! the report says; plain, already-formatted strings, nothing to compute.
use serde::Serialize;

use super::view::{self, ReportInput};

/// How many insights a post carries.
pub const TOP_INSIGHTS: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeFigure {
    pub title: String,
    pub value: String,
    /// "▲ +2.2" (empty without a previous value).
    pub change: String,
    /// "better", "worse", "no change" or "" (no previous value): never
    /// colour alone.
    pub verdict: String,
    /// `on_track`, `at_risk`, `off_track`, `no_target`, `no_data`.
    pub status: String,
    /// ✓ on track, ! at risk, ✗ off track (empty otherwise).
    pub status_symbol: String,
    pub status_label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    pub title: String,
    pub period: String,
    /// "16 Nov 2026 – 22 Nov 2026".
    pub period_label: String,
    /// The segment as the reports name it ("EMEA (region)", "Unattributed
    /// (owner)"), or None for the whole business.
    pub segment: Option<String>,
    pub headline: Vec<NoticeFigure>,
    pub insights: Vec<String>,
    /// The archived page, when `[report] base_url` is set.
    pub link: Option<String>,
}

/// The notice of one scope; `page` is the scorecard's path inside the
/// period folder (`scorecard.html`, `segments/region-emea/scorecard.html`).
pub fn build(
    input: &ReportInput,
    segment: Option<&str>,
    base_url: Option<&str>,
    page: &str,
) -> anyhow::Result<Notice> {
    let model = view::build(input, segment, "")?;
    let headline = model
        .headline
        .iter()
        .map(|r| NoticeFigure {
            title: r.title.clone(),
            value: r.value.clone(),
            change: match (r.arrow.as_str(), r.delta.as_str()) {
                (_, "") => String::new(),
                ("", d) => d.to_string(),
                (a, d) => format!("{a} {d}"),
            },
            verdict: r.verdict.clone(),
            status: r.status.clone(),
            status_symbol: r.status_symbol.clone(),
            status_label: r.status_label.clone(),
        })
        .collect();
    let link = base_url.map(|base| {
        format!(
            "{}/{}/{}/{page}",
            base.trim_end_matches('/'),
            input.period.cadence.as_str(),
            input.period.id()
        )
    });
    Ok(Notice {
        title: input.title.to_string(),
        period: input.period.id(),
        period_label: view::period_label(input.period),
        segment: segment.map(view::segment_label),
        headline,
        insights: model.insights.into_iter().take(TOP_INSIGHTS).collect(),
        link,
    })
}

/// The notice of each scope a `[[notify]]` entry asks for: the whole
/// business ("") and the segments, with the link to each scope's page.
pub fn for_scopes(
    config: &crate::config::Config,
    input: &ReportInput,
    folders: &[(String, String)],
) -> anyhow::Result<Vec<(String, Notice)>> {
    let mut out: Vec<(String, Notice)> = Vec::new();
    for t in &config.notify {
        let key = t.segment_key();
        if out.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let page = if key.is_empty() {
            "scorecard.html".to_string()
        } else {
            match folders.iter().find(|(s, _)| *s == key) {
                Some((_, folder)) => format!("{folder}/scorecard.html"),
                // No data for that segment: the run says so, no post.
                None => continue,
            }
        };
        let segment = (!key.is_empty()).then_some(key.as_str());
        let notice = build(input, segment, config.report.base_url.as_deref(), &page)?;
        out.push((key, notice));
    }
    Ok(out)
}
