//! The archive index pages: a view model of every archived period (newest
//! first) with the headline columns of the newest, rendered through the
//! `index.html` and `index.md` templates.
use anyhow::Result;
use serde::Serialize;

use super::layout::PeriodSummary;
use super::Renderer;

#[derive(Serialize)]
struct Row {
    id: String,
    cadence: String,
    href: String,
    values: Vec<String>,
    label: String,
    on_track: usize,
    at_risk: usize,
    off_track: usize,
}

#[derive(Serialize)]
struct Index {
    title: String,
    columns: Vec<String>,
    periods: Vec<Row>,
}

/// The index pages, HTML and Markdown, of the archived `periods`.
pub struct IndexPages {
    pub html: String,
    pub markdown: String,
}

pub fn render_index(
    renderer: &Renderer,
    title: &str,
    periods: &[PeriodSummary],
) -> Result<IndexPages> {
    let columns: Vec<String> = periods
        .first()
        .map(|s| s.headline.iter().map(|(t, _)| t.clone()).collect())
        .unwrap_or_default();
    let rows = periods
        .iter()
        .map(|s| Row {
            id: s.id.clone(),
            cadence: s.cadence.clone(),
            href: format!("{}/{}/", s.cadence, s.id),
            label: s.label.clone(),
            on_track: s.on_track,
            at_risk: s.at_risk,
            off_track: s.off_track,
            values: columns
                .iter()
                .map(|c| {
                    s.headline
                        .iter()
                        .find(|(t, _)| t == c)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect();
    let model = Index {
        title: title.to_string(),
        columns,
        periods: rows,
    };
    Ok(IndexPages {
        html: renderer.render("index.html", &model)?,
        markdown: renderer.render("index.md", &model)?,
    })
}
