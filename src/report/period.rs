//! Stage 3 of a run, **render**: a function of one period's
//! [`PeriodFigures`]. Every file of the period's folder (the scorecard of the
//! whole business and of each segment, email.html and its charts, kpis.json,
//! kpis.csv, summary.json), laid out as the archive will hold them, and the
//! email of each scope a recipient may ask for. Nothing is written here.
use std::path::PathBuf;

use anyhow::Result;

use super::{data, layout, render_scorecard, view, EmailParts, Renderer};
use crate::compute::PeriodFigures;
use crate::config::Config;

/// The email of one scope, with the scope's kpis.csv to attach.
#[derive(Debug, Clone)]
pub struct ScopeEmail {
    /// "" for the whole business, else "region=EMEA".
    pub segment: String,
    pub parts: EmailParts,
    pub csv: Vec<u8>,
}

/// One period, rendered.
pub struct PeriodReport {
    /// Relative path in the period folder → bytes.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// The whole business's email, and each segment's a recipient asks for.
    pub emails: Vec<ScopeEmail>,
    /// Scorecards rendered (whole business + segments).
    pub reports: usize,
    /// Said to the user, not fatal (a remote image dropped from a note).
    pub warnings: Vec<String>,
    /// The Slack/Teams notice of each scope a `[[notify]]` entry asks for.
    pub notices: Vec<(String, super::notice::Notice)>,
}

/// Renders the period's files. `generated_at` is the run's timestamp.
pub fn render_period(
    renderer: &Renderer,
    config: &Config,
    figures: &PeriodFigures,
    generated_at: &str,
) -> Result<PeriodReport> {
    let p = figures.period;
    let rows = figures.rows.as_slice();
    let mut warnings = Vec::new();
    let note = note(config, figures, &mut warnings);
    let folders = layout::segment_folders(&figures.segments());
    let charts = super::charts::ChartCache::default();
    let input = view::ReportInput {
        title: &config.report.title,
        period: p,
        rows,
        history: &figures.history,
        comments: &figures.comments,
        note_markdown: note.as_deref(),
        quality: &figures.quality,
        generated_at,
        timezone: config.report.timezone.name(),
        currency: &config.report.currency,
        segment_folders: &folders,
        base_url: config.report.base_url.as_deref(),
        charts: &charts,
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    let mut emails = Vec::new();
    // The whole business's email variant is always archived; a segment's is
    // rendered only when a recipient asks for that segment.
    let whole = render_scorecard(renderer, &input, None, "../../", true)?;
    let whole_email = whole.email.expect("asked for");
    files.push(("scorecard.html".into(), whole.html.into_bytes()));
    files.push(("scorecard.md".into(), whole.markdown.into_bytes()));
    files.push(("email.html".into(), whole_email.html.clone().into_bytes()));
    for (cid, png, _) in &whole_email.images {
        files.push((PathBuf::from("charts").join(cid), png.clone()));
    }
    emails.push(scope_email(figures, String::new(), whole_email)?);
    files.push((
        "kpis.json".into(),
        data::kpis_json(p, config.report.timezone.name(), rows, &figures.quality).into_bytes(),
    ));
    files.push(("kpis.csv".into(), data::kpis_csv(p, rows)?.into_bytes()));
    let summary = layout::summary(p, rows, &config.report.currency);
    files.push(("summary.json".into(), serde_json::to_vec_pretty(&summary)?));
    for (segment, folder) in &folders {
        let wanted = config
            .email
            .recipients
            .iter()
            .any(|r| r.segment_key() == *segment);
        let r = render_scorecard(renderer, &input, Some(segment), "../../../../", wanted)?;
        let dir = PathBuf::from(folder);
        files.push((dir.join("scorecard.html"), r.html.into_bytes()));
        files.push((dir.join("scorecard.md"), r.markdown.into_bytes()));
        if let Some(email) = r.email {
            emails.push(scope_email(figures, segment.clone(), email)?);
        }
    }
    let notices = super::notice::for_scopes(config, &input, &folders)?;
    Ok(PeriodReport {
        files,
        emails,
        reports: 1 + folders.len(),
        warnings,
        notices,
    })
}

fn scope_email(figures: &PeriodFigures, segment: String, parts: EmailParts) -> Result<ScopeEmail> {
    let scoped: Vec<_> = figures
        .rows
        .iter()
        .filter(|r| r.segment == segment)
        .cloned()
        .collect();
    Ok(ScopeEmail {
        csv: data::kpis_csv(figures.period, &scoped)?.into_bytes(),
        segment,
        parts,
    })
}

/// The analyst's note of the period (`notes_dir/<id>.md`), without images
/// from another host: tracking pixels never reach a reader.
fn note(config: &Config, figures: &PeriodFigures, warnings: &mut Vec<String>) -> Option<String> {
    let id = figures.period.id();
    let dir = config.report.notes_dir.as_ref()?;
    let text = std::fs::read_to_string(dir.join(format!("{id}.md"))).ok()?;
    let (kept, dropped) = super::markdown::drop_remote_images(&text);
    for url in dropped {
        warnings.push(format!(
            "notes/{id}.md: remote image {} dropped (only data: and archive-relative images are kept)",
            crate::escape::text(&url)
        ));
    }
    Some(kept)
}
