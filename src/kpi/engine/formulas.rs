//! The formulas of kpis.md: from one (period, segment)'s counts ([`Acc`]) to
//! its KPI values, section by section as the catalogue lists them. Apart
//! from the readers that fill the counts, so that each formula can be read
//! (and checked against kpis.md) on its own; a KPI whose only input file was
//! never imported says so, from the catalogue's list of inputs.
use std::collections::{BTreeMap, BTreeSet};

use super::{stats, Acc, KpiValue};
use crate::catalogue;
use crate::sources::FileKind;

/// One (period, segment)'s values by KPI id.
type Kpis = BTreeMap<String, KpiValue>;

macro_rules! put {
    ($out:expr, $id:expr, $v:expr $(,)?) => {{
        let v = $v;
        $out.insert($id.to_string(), v);
    }};
}

/// What the formulas need besides the counts.
pub(super) struct FormulaCtx<'a> {
    pub(super) imported: &'a BTreeSet<String>,
    pub(super) spend_attrs: &'a BTreeSet<String>,
    pub(super) kinds: &'a [String],
    pub(super) sla_hours: f64,
    pub(super) resolution_hours: f64,
}

/// Why a KPI is null when its file was never imported.
fn never(kind: FileKind) -> KpiValue {
    KpiValue::null(never_reason(kind))
}

fn never_reason(kind: FileKind) -> String {
    format!("no data: {} was never imported", kind.default_file_name())
}

/// Every KPI computed from `kind` alone (the catalogue's inputs) is null:
/// the file was never imported.
fn never_imported(out: &mut BTreeMap<String, KpiValue>, kind: FileKind) {
    for k in kind.feeds_alone() {
        out.insert(k.id.to_string(), never(kind));
    }
}

fn ratio(num: f64, den: f64, reason: &str) -> KpiValue {
    if den == 0.0 {
        KpiValue::null(reason)
    } else {
        KpiValue::of(num / den)
    }
}

/// A ticket rate "the event within `horizon` hours" (kpis.md "Tickets and
/// the data's as-of"): the Kaplan–Meier share within the horizon, which is
/// within / decided when nothing is pending; n = decided, with the pending
/// count; the Wilson interval and standard error on n.
fn within_rate(outcomes: &[stats::Outcome], horizon: f64) -> KpiValue {
    let d = stats::decided_within(outcomes, horizon);
    // Nothing pending: the plain formula, exactly (no product-limit rounding).
    let q = (d.pending > 0).then(|| {
        stats::Incidence::new(outcomes, horizon)
            .within()
            .unwrap_or(0.0)
    });
    rate_value(d, q)
}

/// The rate KPI of counts `d`, with the share `q` estimated when some
/// tickets are pending (None: nothing pending, within / decided).
fn rate_value(d: stats::Decided, q: Option<f64>) -> KpiValue {
    if d.decided == 0 {
        let reason = if d.pending > 0 {
            "every ticket of the period is still inside its window"
        } else {
            "no tickets opened in the period"
        };
        let mut v = KpiValue::null(reason).with_n(Some(0));
        v.pending = Some(d.pending);
        return v;
    }
    let q = q.unwrap_or(d.within as f64 / d.decided as f64);
    let n = d.decided as f64;
    KpiValue {
        value: Some(100.0 * q),
        n: Some(d.decided),
        ci95: stats::wilson(q * n, n),
        se: stats::proportion_se(q, n),
        reason: None,
        pending: Some(d.pending),
    }
}

#[derive(Clone, Copy)]
enum Duration {
    Mean,
    Median,
}

/// A ticket duration in hours over the tickets whose event came within the
/// horizon, from the Kaplan–Meier estimate (the plain mean or median when
/// nothing is pending); n = those events, with the pending count.
fn duration(outcomes: &[stats::Outcome], horizon: f64, which: Duration, verb: &str) -> KpiValue {
    let d = stats::decided_within(outcomes, horizon);
    let value = if d.pending == 0 {
        // Nothing pending: the plain mean (of the exact sum of milliseconds)
        // and median, exactly, as the bounded accumulators give them.
        let mut ms: Vec<i64> = outcomes
            .iter()
            .filter_map(|o| match *o {
                stats::Outcome::Happened(t) if stats::hours(t) <= horizon => Some(t),
                _ => None,
            })
            .collect();
        match which {
            Duration::Mean => {
                stats::mean_hours(ms.iter().map(|t| i128::from(*t)).sum(), ms.len() as u64)
            }
            Duration::Median => {
                ms.sort_unstable();
                let xs: Vec<f64> = ms.iter().map(|t| stats::hours(*t)).collect();
                stats::median_of_sorted(&xs)
            }
        }
    } else {
        let km = stats::Incidence::new(outcomes, horizon);
        match which {
            Duration::Mean => km.mean(),
            Duration::Median => km.median(),
        }
    };
    duration_value(d, value, horizon, verb)
}

/// The duration KPI of counts `d` and value `value` (hours).
fn duration_value(d: stats::Decided, value: Option<f64>, horizon: f64, verb: &str) -> KpiValue {
    let mut v = match value {
        Some(h) => KpiValue::of(h),
        None => KpiValue::null(format!(
            "no tickets opened in the period {verb} within {} h",
            format::hours(horizon)
        )),
    }
    .with_n(Some(d.within));
    v.pending = Some(d.pending);
    v
}

/// The ticket KPIs computed from the outcomes, in the order of [`ticket_kpis`].
const TICKET_KPIS: [&str; 5] = [
    "avg_first_response_hours",
    "median_first_response_hours",
    "first_response_sla_rate",
    "avg_resolution_hours",
    "resolution_rate",
];

/// The five ticket KPIs of one (period, segment) from its tickets' first
/// response and resolution outcomes (S = `sla`, H = `window` hours).
pub(super) fn ticket_kpis(
    response: &[stats::Outcome],
    resolution: &[stats::Outcome],
    sla: f64,
    window: f64,
) -> [KpiValue; 5] {
    [
        duration(response, window, Duration::Mean, "answered"),
        duration(response, window, Duration::Median, "answered"),
        within_rate(response, sla),
        duration(resolution, window, Duration::Mean, "resolved"),
        within_rate(resolution, window),
    ]
}

/// The same five KPIs from a bounded summary of a period whose tickets are
/// all decided ([`super::tickets::Summary`]; kpis.md: with nothing pending,
/// the plain formulas): the same figures to the bit as [`ticket_kpis`] on
/// the tickets' outcomes.
pub(super) fn ticket_kpis_bounded(
    tickets: u64,
    s: &super::tickets::Summary,
    window: f64,
) -> [KpiValue; 5] {
    let decided = |within: u64| stats::Decided {
        within,
        decided: tickets,
        pending: 0,
    };
    let response = decided(s.response_within);
    let resolution = decided(s.resolution_within);
    [
        duration_value(
            response,
            stats::mean_hours(s.response_ms, s.response_within),
            window,
            "answered",
        ),
        duration_value(response, s.median(), window, "answered"),
        rate_value(decided(s.response_within_sla), None),
        duration_value(
            resolution,
            stats::mean_hours(s.resolution_ms, s.resolution_within),
            window,
            "resolved",
        ),
        rate_value(resolution, None),
    ]
}

mod format {
    /// 72 → "72", 1.5 → "1.5".
    pub fn hours(h: f64) -> String {
        if h.fract() == 0.0 {
            format!("{h:.0}")
        } else {
            format!("{h}")
        }
    }
}

/// A proportion KPI on 0..100 with its Wilson interval and standard error.
fn proportion(successes: u64, n: u64, reason: &str) -> KpiValue {
    if n == 0 {
        return KpiValue::null(reason).with_n(Some(0));
    }
    let (k, n_f) = (successes as f64, n as f64);
    KpiValue {
        value: Some(100.0 * k / n_f),
        n: Some(n),
        ci95: stats::wilson(k, n_f),
        se: stats::proportion_se(k / n_f, n_f),
        reason: None,
        pending: None,
    }
}

impl FormulaCtx<'_> {
    pub(super) fn evaluate(&self, segment: &str, a: &Acc) -> Kpis {
        let mut out = Kpis::new();
        self.customer_base(a, &mut out);
        let clv = self.revenue(a, &mut out);
        self.acquisition(segment, a, clv, &mut out);
        self.sales(a, &mut out);
        self.service(a, &mut out);
        self.feedback(a, &mut out);
        self.activities(a, &mut out);
        // Counts carry no n; ratios said theirs above. Never NaN or infinite.
        for v in out.values_mut() {
            if v.value.is_some_and(|x| !x.is_finite()) {
                *v = KpiValue::null("not a finite number");
            }
        }
        out
    }

    fn has(&self, kind: FileKind) -> bool {
        self.imported.contains(kind.key())
    }

    fn customer_base(&self, a: &Acc, out: &mut Kpis) {
        let customers = self.has(FileKind::Customers);
        if customers {
            put!(out, "customers_start", KpiValue::of(a.start as f64));
            put!(out, "new_customers", KpiValue::of(a.new as f64));
            put!(out, "churned_customers", KpiValue::of(a.churned as f64));
            put!(out, "customers_end", KpiValue::of(a.end as f64));
            let retained = a.end as f64 - a.new as f64;
            let mut retention = ratio(
                100.0 * retained,
                a.start as f64,
                "no customers at the start of the period",
            )
            .with_n(Some(a.start));
            if a.start > 0 && retained >= 0.0 {
                let q = retained / a.start as f64;
                retention.ci95 = stats::wilson(retained, a.start as f64);
                retention.se = stats::proportion_se(q, a.start as f64);
            }
            put!(out, "retention_rate", retention);
            put!(
                out,
                "churn_rate",
                proportion(
                    a.churned_of_start,
                    a.start,
                    "no customers at the start of the period"
                )
            );
        } else {
            never_imported(out, FileKind::Customers);
        }
    }

    /// Revenue, and the customer lifetime value (put with the acquisition KPIs).
    fn revenue(&self, a: &Acc, out: &mut Kpis) -> KpiValue {
        let customers = self.has(FileKind::Customers);
        let churn = out["churn_rate"].value;
        let orders = self.has(FileKind::Orders);
        if orders {
            put!(out, "revenue", KpiValue::of(a.revenue.total()));
            put!(out, "orders", KpiValue::of(a.orders as f64));
            put!(
                out,
                "average_order_value",
                ratio(
                    a.revenue.total(),
                    a.orders as f64,
                    "no orders in the period"
                )
                .with_n(Some(a.orders))
            );
            let (costed_amount, cost) = (a.costed_amount.total(), a.cost.total());
            put!(
                out,
                "gross_margin",
                if a.costed == 0 || costed_amount == 0.0 {
                    KpiValue::null("no orders with a cost in the period")
                } else {
                    KpiValue::of(100.0 * (costed_amount - cost) / costed_amount)
                },
            );
        } else {
            never_imported(out, FileKind::Orders);
        }
        let rpc = match (orders, customers) {
            (true, true) => ratio(
                a.revenue.total(),
                (a.start + a.end) as f64 / 2.0,
                "no customers in the period",
            ),
            (false, _) => never(FileKind::Orders),
            (_, false) => never(FileKind::Customers),
        };
        let clv = match (rpc.value, churn) {
            (Some(rpc_v), Some(ch)) if ch > 0.0 => {
                let m = out["gross_margin"].value.map(|g| g / 100.0).unwrap_or(1.0);
                KpiValue::of(rpc_v * m / (ch / 100.0))
            }
            (Some(_), Some(_)) => KpiValue::null("churn rate is 0: lifetime is unbounded"),
            (None, _) => KpiValue::null(rpc.reason.clone().unwrap_or_default()),
            (_, None) => KpiValue::null(format!(
                "churn rate unknown ({})",
                out["churn_rate"].reason.clone().unwrap_or_default()
            )),
        };
        put!(out, "revenue_per_customer", rpc);
        clv
    }

    fn acquisition(&self, segment: &str, a: &Acc, clv: KpiValue, out: &mut Kpis) {
        let customers = self.has(FileKind::Customers);
        let spend_attr = segment.split_once('=').map(|(attr, _)| attr.to_lowercase());
        let spend_ok = match &spend_attr {
            _ if !self.has(FileKind::Spend) => Err(never_reason(FileKind::Spend)),
            Some(attr) if !self.spend_attrs.contains(attr) => {
                Err(format!("spend.csv has no {attr} column"))
            }
            _ => Ok(()),
        };
        match &spend_ok {
            Ok(()) => {
                put!(
                    out,
                    "acquisition_spend",
                    KpiValue::of(a.acquisition_spend.total())
                );
                put!(out, "crm_cost", KpiValue::of(a.crm_spend.total()));
                put!(
                    out,
                    "cac",
                    if !customers {
                        never(FileKind::Customers)
                    } else {
                        ratio(
                            a.acquisition_spend.total(),
                            a.new as f64,
                            "no new customers in the period",
                        )
                    },
                );
            }
            Err(reason) => {
                for id in ["acquisition_spend", "crm_cost", "cac"] {
                    put!(out, id, KpiValue::null(reason.clone()));
                }
            }
        }
        let ratio_value = match (clv.value, out["cac"].value) {
            (Some(c), Some(k)) if k > 0.0 => KpiValue::of(c / k),
            (Some(_), Some(_)) => KpiValue::null("CAC is 0"),
            (None, _) => KpiValue::null(format!(
                "CLV unknown ({})",
                clv.reason.clone().unwrap_or_default()
            )),
            (_, None) => KpiValue::null(format!(
                "CAC unknown ({})",
                out["cac"].reason.clone().unwrap_or_default()
            )),
        };
        put!(out, "clv", clv);
        put!(out, "clv_cac_ratio", ratio_value);
    }

    fn sales(&self, a: &Acc, out: &mut Kpis) {
        if self.has(FileKind::Deals) {
            put!(out, "deals_created", KpiValue::of(a.created as f64));
            put!(out, "pipeline_created", KpiValue::of(a.pipeline.total()));
            put!(out, "deals_won", KpiValue::of(a.won as f64));
            put!(out, "deals_lost", KpiValue::of(a.lost as f64));
            put!(
                out,
                "win_rate",
                proportion(a.won, a.won + a.lost, "no deals won or lost in the period")
            );
            put!(out, "won_revenue", KpiValue::of(a.won_amount.total()));
            put!(
                out,
                "average_deal_size",
                ratio(
                    a.won_amount.total(),
                    a.won as f64,
                    "no deals won in the period"
                )
                .with_n(Some(a.won))
            );
            put!(
                out,
                "sales_cycle_days",
                ratio(
                    a.won_cycle_days,
                    a.won_cycle_n as f64,
                    "no deals won in the period"
                )
                .with_n(Some(a.won_cycle_n))
            );
        } else {
            never_imported(out, FileKind::Deals);
        }
    }

    fn service(&self, a: &Acc, out: &mut Kpis) {
        if self.has(FileKind::Tickets) {
            // Decided / pending at the data's as-of (on PostgreSQL the
            // outcomes come from grouped histograms, the same outcomes).
            let (sla, window) = (self.sla_hours, self.resolution_hours);
            put!(out, "tickets_opened", KpiValue::of(a.tickets as f64));
            let computed;
            let values = match (&a.service, &a.ticket_summary) {
                (Some(sealed), _) => sealed.as_ref(),
                // A period whose tickets are all decided: its bounded summary.
                (None, Some(summary)) => {
                    computed = ticket_kpis_bounded(a.tickets, summary, window);
                    &computed
                }
                (None, None) => {
                    computed = ticket_kpis(&a.response, &a.resolution, sla, window);
                    &computed
                }
            };
            for (id, v) in TICKET_KPIS.iter().zip(values.iter()) {
                put!(out, id, v.clone());
            }
        } else {
            never_imported(out, FileKind::Tickets);
        }
    }

    fn feedback(&self, a: &Acc, out: &mut Kpis) {
        if self.has(FileKind::Surveys) {
            put!(
                out,
                "nps",
                if a.nps_n == 0 {
                    KpiValue::null("no NPS responses in the period").with_n(Some(0))
                } else {
                    let n = a.nps_n as f64;
                    let (p, d) = (a.promoters as f64 / n, a.detractors as f64 / n);
                    KpiValue {
                        value: Some(100.0 * (p - d)),
                        n: Some(a.nps_n),
                        ci95: stats::nps_interval(p, d, n),
                        se: stats::nps_se(p, d, n),
                        reason: None,
                        pending: None,
                    }
                },
            );
            put!(out, "nps_responses", KpiValue::of(a.nps_n as f64));
            put!(
                out,
                "csat",
                proportion(a.csat_ok, a.csat_n, "no CSAT responses in the period")
            );
            put!(out, "csat_responses", KpiValue::of(a.csat_n as f64));
        } else {
            never_imported(out, FileKind::Surveys);
        }
    }

    fn activities(&self, a: &Acc, out: &mut Kpis) {
        if self.has(FileKind::Activities) {
            for (i, kind) in self.kinds.iter().enumerate() {
                put!(
                    out,
                    &format!("{}{kind}", catalogue::ACTIVITY_PREFIX),
                    KpiValue::of(a.activities.get(i).copied().unwrap_or(0) as f64)
                );
            }
            put!(
                out,
                "activities_per_owner",
                ratio(
                    a.activity_total as f64,
                    a.owners.len() as f64,
                    "no activities with an owner in the period"
                )
            );
        } else {
            never_imported(out, FileKind::Activities);
        }
    }
}
