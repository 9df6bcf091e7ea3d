//! The layout of a period's pages, decided when they are rendered: the
//! folder of each segment's version (a safe slug, unique within the period)
//! and the headline kept beside the report for the index. The archive writes
//! what render laid out; the index reads the headlines back.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compare::{Compared, Status};
use crate::period::Period;

/// Headline figures of an archived period, kept beside its report for the index.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeriodSummary {
    pub id: String,
    pub cadence: String,
    pub start: String,
    /// (KPI title, formatted value), in headline order.
    pub headline: Vec<(String, String)>,
    /// The period's last day and its dates in words ("23 Nov 2026 – 29 Nov 2026").
    #[serde(default)]
    pub end: String,
    #[serde(default)]
    pub label: String,
    /// Whole-business KPIs by status.
    #[serde(default)]
    pub on_track: usize,
    #[serde(default)]
    pub at_risk: usize,
    #[serde(default)]
    pub off_track: usize,
}

/// Longest segment folder name kept as it is; a longer one is cut and
/// given a hash of the full value (file systems refuse names over 255 bytes).
const SLUG_MAX: usize = 60;
/// Bytes of the readable part of a shortened name (then `-` and 8 hex digits).
const SLUG_KEEP: usize = 50;

/// A safe folder name for a segment: `region=EMEA` → `region-emea`; no
/// separators, no `..`, unicode letters kept readable, at most 60 bytes (a
/// longer value keeps its first 50 bytes and gets `-` and a short hash of
/// the full value, so two long values that start alike stay apart).
pub fn segment_slug(segment: &str) -> String {
    let mut out = String::new();
    for c in segment.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let slug = out.trim_matches('-').to_string();
    if slug.is_empty() {
        return "segment".into();
    }
    if slug.len() <= SLUG_MAX {
        return slug;
    }
    let mut cut = SLUG_KEEP;
    while !slug.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = hex::encode(Sha256::digest(segment.as_bytes()));
    format!("{}-{}", slug[..cut].trim_end_matches('-'), &hash[..8])
}

/// `(segment, "segments/<slug>")` of every segment, in order; a slug that
/// two segments share gets a numeric suffix on the later one.
pub fn segment_folders(segments: &[String]) -> Vec<(String, String)> {
    let mut folders: Vec<(String, String)> = Vec::new();
    for s in segments {
        let base = segment_slug(s);
        let mut name = base.clone();
        let mut i = 2;
        while folders
            .iter()
            .any(|(_, f)| *f == format!("segments/{name}"))
        {
            name = format!("{base}-{i}");
            i += 1;
        }
        folders.push((s.clone(), format!("segments/{name}")));
    }
    folders
}

/// The headline of the whole business for the index: each headline KPI's
/// title and formatted value (`n/a` without one), the period's dates and
/// how many KPIs are on track, at risk and off track.
pub fn summary(p: Period, rows: &[Compared], currency: &str) -> PeriodSummary {
    let headline = super::view::HEADLINE
        .iter()
        .filter_map(|id| {
            rows.iter()
                .find(|r| r.segment.is_empty() && r.info.id == *id)
        })
        .map(|r| {
            let v = r
                .current
                .value
                .map(|v| {
                    let refs = super::view::references(r);
                    super::format::value_against(v, &refs, r.info.unit, currency)
                })
                .unwrap_or_else(|| "n/a".into());
            (r.info.title.clone(), v)
        })
        .collect();
    let whole: Vec<&Compared> = rows.iter().filter(|r| r.segment.is_empty()).collect();
    let count = |s: Status| whole.iter().filter(|r| r.status == s).count();
    PeriodSummary {
        id: p.id(),
        cadence: p.cadence.as_str().into(),
        start: p.start.to_string(),
        headline,
        end: (p.end() - chrono::Duration::days(1)).to_string(),
        label: super::view::period_label(p),
        on_track: count(Status::OnTrack),
        at_risk: count(Status::AtRisk),
        off_track: count(Status::OffTrack),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_safe() {
        assert_eq!(segment_slug("region=EMEA"), "region-emea");
        assert_eq!(segment_slug("region=../etc"), "region-etc");
        assert_eq!(segment_slug("../.."), "segment");
        assert_eq!(segment_slug("region=Île-de-France"), "region-île-de-france");
        assert_eq!(segment_slug("plan=a/b\\c"), "plan-a-b-c");
    }

    #[test]
    fn long_slugs_are_bounded_and_distinct() {
        let a = format!("region={}", "x".repeat(300));
        let b = format!("region={}y", "x".repeat(300));
        let (sa, sb) = (segment_slug(&a), segment_slug(&b));
        assert!(sa.len() < 100 && sb.len() < 100, "{sa}");
        assert_ne!(sa, sb);
        assert!(sa.starts_with("region-xxx"), "{sa}");
        assert_eq!(segment_slug(&a), sa, "stable");
        // A cut never splits a character.
        let c = format!("region={}", "é".repeat(200));
        assert!(segment_slug(&c).len() <= SLUG_MAX);
        assert_eq!(segment_slug(&"x".repeat(60)), "x".repeat(60));
    }

    #[test]
    fn colliding_slugs_get_a_suffix() {
        let segments = ["region=EMEA", "region-emea", "REGION=emea", "plan=pro"].map(String::from);
        let folders: Vec<String> = segment_folders(&segments)
            .into_iter()
            .map(|(_, f)| f)
            .collect();
        assert_eq!(
            folders,
            [
                "segments/region-emea",
                "segments/region-emea-2",
                "segments/region-emea-3",
                "segments/plan-pro"
            ]
        );
    }
}
