//! The KPI catalogue as data (kpis.md), listed once. The engine, `scorecard
//! kpis`, the templates and the docs all read this list.
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Count,
    Percent,
    Currency,
    Hours,
    Days,
    Score,
    Ratio,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Higher,
    Lower,
}

/// The input / process / output / outcome view of CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Input,
    Process,
    Output,
    Outcome,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Input,
        Category::Process,
        Category::Output,
        Category::Outcome,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Input => "input",
            Category::Process => "process",
            Category::Output => "output",
            Category::Outcome => "outcome",
        }
    }
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Percent => "percent",
            Unit::Currency => "currency",
            Unit::Hours => "hours",
            Unit::Days => "days",
            Unit::Score => "score",
            Unit::Ratio => "ratio",
        }
    }
    pub fn parse(s: &str) -> Option<Unit> {
        [
            Unit::Count,
            Unit::Percent,
            Unit::Currency,
            Unit::Hours,
            Unit::Days,
            Unit::Score,
            Unit::Ratio,
        ]
        .into_iter()
        .find(|u| u.as_str() == s)
    }
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
        }
    }
    /// +1 when higher is better, -1 when lower is better.
    pub fn sign(self) -> f64 {
        match self {
            Direction::Higher => 1.0,
            Direction::Lower => -1.0,
        }
    }
}

/// How a KPI's 95 % interval and standard error are derived (kpis.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uncertainty {
    None,
    /// A proportion on 0..100: Wilson interval, se = 100 sqrt(q(1-q)/n).
    Proportion,
    /// NPS: margin 1.96 × 100 × sqrt((p + d − (p − d)²) / n).
    Nps,
}

/// A built-in KPI definition.
#[derive(Debug, Clone, Copy)]
pub struct KpiDef {
    pub id: &'static str,
    pub title: &'static str,
    pub formula: &'static str,
    pub unit: Unit,
    pub direction: Direction,
    pub category: Category,
    /// The snapshot files it is computed from.
    pub inputs: &'static [&'static str],
    pub uncertainty: Uncertainty,
}

macro_rules! kpi {
    ($id:literal, $title:literal, $formula:literal, $unit:ident, $dir:ident, $cat:ident, [$($input:literal),*], $unc:ident) => {
        KpiDef {
            id: $id,
            title: $title,
            formula: $formula,
            unit: Unit::$unit,
            direction: Direction::$dir,
            category: Category::$cat,
            inputs: &[$($input),*],
            uncertainty: Uncertainty::$unc,
        }
    };
}

/// Every built-in KPI, in the order reports list them. The activity KPIs
/// (`activities.KIND`), custom KPIs and the CRM ROI KPIs are added per run.
#[rustfmt::skip]
pub const BUILT_IN: &[KpiDef] = &[
    kpi!("customers_start", "Customers at start", "customers acquired before the period and not churned before it (S)", Count, Higher, Outcome, ["customers"], None),
    kpi!("new_customers", "New customers", "customers acquired in the period (N)", Count, Higher, Output, ["customers"], None),
    kpi!("churned_customers", "Churned customers", "customers whose churned_on is in the period", Count, Lower, Outcome, ["customers"], None),
    kpi!("customers_end", "Customers at end", "customers acquired before the end and not churned by it (E)", Count, Higher, Outcome, ["customers"], None),
    kpi!("retention_rate", "Retention rate", "100 × (E − N) / S", Percent, Higher, Outcome, ["customers"], Proportion),
    kpi!("churn_rate", "Churn rate", "100 × customers of S churned in the period / S", Percent, Lower, Outcome, ["customers"], Proportion),
    kpi!("revenue", "Revenue", "Σ order amount in the period (refunds included)", Currency, Higher, Outcome, ["orders"], None),
    kpi!("orders", "Orders", "orders placed in the period", Count, Higher, Output, ["orders"], None),
    kpi!("average_order_value", "Average order value", "revenue / orders", Currency, Higher, Outcome, ["orders"], None),
    kpi!("revenue_per_customer", "Revenue per customer", "revenue / ((S + E) / 2)", Currency, Higher, Outcome, ["orders", "customers"], None),
    kpi!("gross_margin", "Gross margin", "100 × (Σ amount − Σ cost) / Σ amount over orders with a cost", Percent, Higher, Outcome, ["orders"], None),
    kpi!("clv", "Customer lifetime value", "revenue_per_customer × margin / (churn_rate / 100)", Currency, Higher, Outcome, ["orders", "customers"], None),
    kpi!("acquisition_spend", "Acquisition spend", "Σ marketing and sales spend in the period", Currency, Lower, Input, ["spend"], None),
    kpi!("cac", "Customer acquisition cost", "acquisition_spend / new_customers", Currency, Lower, Outcome, ["spend", "customers"], None),
    kpi!("clv_cac_ratio", "CLV : CAC", "clv / cac", Ratio, Higher, Outcome, ["orders", "customers", "spend"], None),
    kpi!("crm_cost", "CRM cost", "Σ crm spend in the period", Currency, Lower, Input, ["spend"], None),
    kpi!("deals_created", "Deals created", "deals created in the period", Count, Higher, Input, ["deals"], None),
    kpi!("pipeline_created", "Pipeline created", "Σ amount of the deals created in the period", Currency, Higher, Input, ["deals"], None),
    kpi!("deals_won", "Deals won", "deals won with closed_on in the period", Count, Higher, Output, ["deals"], None),
    kpi!("deals_lost", "Deals lost", "deals lost with closed_on in the period", Count, Lower, Output, ["deals"], None),
    kpi!("win_rate", "Win rate", "100 × won / (won + lost)", Percent, Higher, Outcome, ["deals"], Proportion),
    kpi!("won_revenue", "Won revenue", "Σ amount of the deals won in the period", Currency, Higher, Output, ["deals"], None),
    kpi!("average_deal_size", "Average deal size", "won_revenue / deals_won", Currency, Higher, Outcome, ["deals"], None),
    kpi!("sales_cycle_days", "Sales cycle", "mean days from created_on to closed_on of won deals", Days, Lower, Process, ["deals"], None),
    kpi!("tickets_opened", "Tickets opened", "tickets opened in the period", Count, Lower, Input, ["tickets"], None),
    kpi!("avg_first_response_hours", "First response (mean)", "mean hours to first response of answered tickets", Hours, Lower, Process, ["tickets"], None),
    kpi!("median_first_response_hours", "First response (median)", "median hours to first response of answered tickets", Hours, Lower, Process, ["tickets"], None),
    kpi!("first_response_sla_rate", "First response within SLA", "100 × tickets answered within the SLA / tickets opened", Percent, Higher, Process, ["tickets"], Proportion),
    kpi!("avg_resolution_hours", "Resolution time (mean)", "mean hours from opening to resolution of resolved tickets", Hours, Lower, Process, ["tickets"], None),
    kpi!("resolution_rate", "Resolution rate", "100 × tickets resolved / tickets opened", Percent, Higher, Output, ["tickets"], Proportion),
    kpi!("nps", "Net Promoter Score", "100 × (promoters − detractors) / responses", Score, Higher, Outcome, ["surveys"], Nps),
    kpi!("nps_responses", "NPS responses", "NPS responses in the period", Count, Higher, Input, ["surveys"], None),
    kpi!("csat", "Customer satisfaction", "100 × CSAT responses scoring 4 or 5 / responses", Percent, Higher, Outcome, ["surveys"], Proportion),
    kpi!("csat_responses", "CSAT responses", "CSAT responses in the period", Count, Higher, Input, ["surveys"], None),
    kpi!("activities_per_owner", "Activities per owner", "activities / distinct owners", Ratio, Higher, Process, ["activities"], None),
];

/// The CRM ROI KPIs, present when objectives are configured.
#[rustfmt::skip]
pub const ROI: &[KpiDef] = &[
    kpi!("crm_value_realized", "CRM value realized", "Σ objective value × share of the way from baseline to target", Currency, Higher, Outcome, [], None),
    kpi!("crm_roi", "CRM ROI", "100 × (crm_value_realized − crm_cost) / crm_cost", Percent, Higher, Outcome, ["spend"], None),
    kpi!("crm_roi_projected", "CRM ROI (projected)", "100 × (Σ objective values − crm_cost) / crm_cost", Percent, Higher, Outcome, ["spend"], None),
];

pub const ACTIVITY_PREFIX: &str = "activities.";

/// Currency KPIs that are sums over the period (counts are sums too): a
/// segment's share of them cannot be held against a whole-business target.
const CURRENCY_TOTALS: [&str; 6] = [
    "revenue",
    "acquisition_spend",
    "crm_cost",
    "pipeline_created",
    "won_revenue",
    "crm_value_realized",
];

pub fn built_in(id: &str) -> Option<&'static KpiDef> {
    BUILT_IN.iter().chain(ROI).find(|k| k.id == id)
}

/// Whether `id` names a KPI the program can know about before reading the
/// store (built-in, ROI, or an activity kind).
pub fn is_known_static(id: &str) -> bool {
    built_in(id).is_some()
        || id
            .strip_prefix(ACTIVITY_PREFIX)
            .is_some_and(|k| !k.is_empty())
}

/// A KPI of this run: built-in, activity kind, ROI or custom, with owned text.
#[derive(Debug, Clone, Serialize)]
pub struct KpiInfo {
    pub id: String,
    pub title: String,
    pub formula: String,
    pub unit: Unit,
    pub direction: Direction,
    pub category: Category,
    #[serde(skip)]
    pub uncertainty: Uncertainty,
}

impl From<&KpiDef> for KpiInfo {
    fn from(d: &KpiDef) -> Self {
        KpiInfo {
            id: d.id.to_string(),
            title: d.title.to_string(),
            formula: d.formula.to_string(),
            unit: d.unit,
            direction: d.direction,
            category: d.category,
            uncertainty: d.uncertainty,
        }
    }
}

impl KpiInfo {
    /// Whether the KPI adds up across segments (a count or a sum of money).
    pub fn is_total(&self) -> bool {
        self.unit == Unit::Count || CURRENCY_TOTALS.contains(&self.id.as_str())
    }

    pub fn activity(kind: &str, category: Category) -> KpiInfo {
        KpiInfo {
            id: format!("{ACTIVITY_PREFIX}{kind}"),
            title: format!("Activities: {}", kind.replace('_', " ")),
            formula: format!("activities of kind '{kind}' in the period"),
            unit: Unit::Count,
            direction: Direction::Higher,
            category,
            uncertainty: Uncertainty::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        let mut ids: Vec<_> = BUILT_IN.iter().chain(ROI).map(|k| k.id).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn interval_kpis_match_the_spec() {
        let with_ci: Vec<_> = BUILT_IN
            .iter()
            .filter(|k| k.uncertainty != Uncertainty::None)
            .map(|k| k.id)
            .collect();
        assert_eq!(
            with_ci,
            [
                "retention_rate",
                "churn_rate",
                "win_rate",
                "first_response_sla_rate",
                "resolution_rate",
                "nps",
                "csat"
            ]
        );
    }
}
