//! Values every stage passes on: a KPI figure, a period's figures by
//! segment, and what the store says beside them (survey comments, data
//! quality). A leaf module (it imports nothing of the crate) so that the
//! store can keep them in its cache and the later stages read them without
//! depending on the engine that computes them.
use std::collections::BTreeMap;

use serde::Serialize;

/// The segment key of the whole business.
pub const WHOLE: &str = "";
/// The value of records with no (known) customer or an empty attribute.
pub const NONE_VALUE: &str = "(none)";

/// The usual range of a KPI is computed from this many periods before it
/// (the plan fetches them, the comparison and the charts read them).
pub const USUAL_WINDOW: usize = 12;

/// One KPI's figure in one period and segment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KpiValue {
    pub value: Option<f64>,
    pub n: Option<u64>,
    pub ci95: Option<(f64, f64)>,
    /// Standard error, for the significance test (interval KPIs only).
    pub se: Option<f64>,
    /// Why the value is null ("no data: deals.csv was never imported").
    pub reason: Option<String>,
    /// Ticket KPIs: tickets still inside their window at the data's as-of
    /// (kpis.md); Some(0) when none, None for KPIs without a window.
    pub pending: Option<u64>,
}

impl KpiValue {
    /// A figure that can still move: some tickets are inside their window.
    pub fn provisional(&self) -> bool {
        self.pending.is_some_and(|p| p > 0)
    }

    pub fn of(value: f64) -> KpiValue {
        KpiValue {
            value: Some(value),
            ..Default::default()
        }
    }
    pub fn null(reason: impl Into<String>) -> KpiValue {
        KpiValue {
            reason: Some(reason.into()),
            ..Default::default()
        }
    }
    pub fn with_n(mut self, n: Option<u64>) -> KpiValue {
        self.n = n;
        self
    }
}

/// segment key ("" or "region=EMEA") → KPI id → value.
pub type PeriodValues = BTreeMap<String, BTreeMap<String, KpiValue>>;

/// A survey comment for the voice-of-the-customer section (untrusted text).
#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub date: String,
    pub kind: String,
    pub score: i64,
    pub text: String,
    /// The segment keys of the respondent ("region=EMEA", …).
    pub segments: Vec<String>,
}

/// Comments a scorecard shows of each side (detractors, promoters).
pub const COMMENTS_SHOWN: usize = 5;

impl Comment {
    /// A detractor's comment: NPS 0–6, CSAT 1–2.
    pub fn is_detractor(&self) -> bool {
        is_detractor(&self.kind, self.score)
    }

    /// A promoter's comment: NPS 9–10, CSAT 5.
    pub fn is_promoter(&self) -> bool {
        is_promoter(&self.kind, self.score)
    }
}

/// The comments of `all` (newest first) a scorecard shows: of the
/// segment's respondents (everyone's for the whole business, `None`), the
/// first [`COMMENTS_SHOWN`] detractors and the first [`COMMENTS_SHOWN`]
/// promoters.
pub fn shown_comments<'a>(all: &'a [Comment], segment: Option<&str>) -> [Vec<&'a Comment>; 2] {
    let relevant = || {
        all.iter()
            .filter(move |c| segment.is_none_or(|s| c.segments.iter().any(|x| x == s)))
    };
    [
        relevant()
            .filter(|c| c.is_detractor())
            .take(COMMENTS_SHOWN)
            .collect(),
        relevant()
            .filter(|c| c.is_promoter())
            .take(COMMENTS_SHOWN)
            .collect(),
    ]
}

/// See [`Comment::is_detractor`].
pub fn is_detractor(kind: &str, score: i64) -> bool {
    (kind == "nps" && score <= 6) || (kind == "csat" && score <= 2)
}

/// See [`Comment::is_promoter`].
pub fn is_promoter(kind: &str, score: i64) -> bool {
    (kind == "nps" && score >= 9) || (kind == "csat" && score >= 5)
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FileQuality {
    pub file: String,
    pub last_import: String,
    pub rows: u64,
    pub rejected: u64,
    /// The instant the file's data is known up to (RFC 3339), if recorded.
    pub as_of: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DataQuality {
    pub files: Vec<FileQuality>,
    pub never_imported: Vec<String>,
    /// (file, records of the period whose customer is unknown)
    pub unknown_customers: Vec<(String, u64)>,
    /// Sentences: sources with no rows in the period.
    pub stale: Vec<String>,
    /// Sentences: what the import kept that a reader should know of (deals
    /// closed in the period but created after their close).
    pub notes: Vec<String>,
    /// (file, RFC 3339 instant its data is known up to), by file.
    pub as_of: Vec<(String, String)>,
    /// Open deals whose close date the latest import of deals ignored (CRMs
    /// write the expected close on open deals).
    pub close_dates_ignored: u64,
    /// Deals closed in the period but created after their close (migrated
    /// records): counted by the close date, left out of the sales cycle.
    pub created_after_close: u64,
}
