//! The engine's readers on PostgreSQL: each source table is aggregated in
//! the database at period × segment grain, and the accumulators of the
//! parent module merge the grouped rows, so that only those rows cross the
//! wire. Periods are found by `width_bucket` over the period starts (and a
//! check against the matching end, since the periods of a run need not be
//! contiguous); segments by a join with a `VALUES` list of attribute names
//! and the customer attributes (a reference table under Citus). Exact
//! ticket durations come from grouped histograms (milliseconds → count), from which the same per-ticket outcomes as on SQLite are rebuilt. The SQL avoids
//! GROUPING SETS, recursive CTEs and ordered-set aggregates, which Citus
//! does not distribute (a test below reads it and fails on them).
use std::collections::{BTreeSet, HashMap};

use anyhow::Result;

use super::{acc_at, customer_base_into, Acc, CustomerDays, Grid, WHOLE};
use crate::sources::FileKind;
use crate::store::sql::Row;
use crate::store::Store;

/// The distinct activity kinds (in byte order, as SQLite's `min` walks them).
pub(super) fn activity_kinds(store: &Store) -> Result<Vec<String>> {
    let rows = store.reader().rows(KINDS_SQL, [])?;
    rows.iter().map(|r| Ok(r.get::<_, String>(0)?)).collect()
}

const KINDS_SQL: &str = "SELECT DISTINCT kind COLLATE \"C\" AS kind FROM activities ORDER BY 1";

/// The SQL pieces shared by every grouped query of one computation.
struct Shape {
    /// `ARRAY[…]` of the period starts and of their ends (day numbers).
    starts: String,
    ends: String,
    /// `(VALUES (''), ('region'), …) s(attr)`: the whole business and each
    /// configured attribute (lowercase, as the store keeps them).
    segments: String,
    /// Lowercase attribute → configured name.
    names: HashMap<String, String>,
    /// Per record table, the segment value of a fanned-out row (`CASE …
    /// END`): its own cell, else its customer's, else `(none)`; and the join
    /// with its segment cells, when the file can carry any.
    seg: HashMap<&'static str, (String, String)>,
}

/// Which record tables have own segment cells for the configured attributes:
/// `(owner, cells)`: `owner` is configured and one of the table's columns;
/// some configured attribute other than that is a column some import of the
/// file had (its `<record>_attributes` rows may hold it).
pub(super) type OwnCells = HashMap<&'static str, (bool, bool)>;

/// What each record table can carry, from the columns its imports had.
pub(super) fn own_cells(store: &Store, grid: &Grid) -> Result<OwnCells> {
    let mut out = HashMap::new();
    for kind in FileKind::ALL.into_iter().filter(|k| k.has_segment_cells()) {
        let seen = store.file_columns(kind.key())?;
        let owner = kind.has_owner() && grid.attrs.iter().any(|(_, l)| l == "owner");
        let cells = grid
            .attrs
            .iter()
            .any(|(_, l)| seen.contains(l) && !(l == "owner" && kind.has_owner()));
        out.insert(kind.key(), (owner, cells));
    }
    Ok(out)
}

impl Shape {
    fn new(grid: &Grid, own: &OwnCells) -> Shape {
        let list = |v: &[i64]| {
            v.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Attribute names come from the config: quoted as SQL literals.
        let values: Vec<String> = std::iter::once(WHOLE.to_string())
            .chain(grid.attrs.iter().map(|(_, lower)| lower.clone()))
            .map(|a| format!("('{}')", a.replace('\'', "''")))
            .collect();
        let mut seg = HashMap::new();
        for kind in FileKind::ALL.into_iter().filter(|k| k.has_segment_cells()) {
            let (owner, cells) = own.get(kind.key()).copied().unwrap_or_default();
            let mut first = Vec::new();
            if owner {
                first.push("NULLIF(CASE WHEN s.attr = 'owner' THEN x.owner END, '')".to_string());
            }
            let mut join = String::new();
            let table = kind.table();
            if let (true, Some((cells, id))) = (cells, &table.attributes) {
                first.push("NULLIF(r.value, '')".to_string());
                join = format!(" LEFT JOIN {cells} r ON r.{id} = x.{id} AND r.name = s.attr");
            }
            if !first.is_empty() {
                let expr = format!(
                    "CASE WHEN s.attr = '' THEN '' ELSE COALESCE({}, NULLIF(a.value, ''), '(none)') END",
                    first.join(", ")
                );
                seg.insert(kind.key(), (expr, join));
            }
        }
        Shape {
            seg,
            starts: format!("ARRAY[{}]::bigint[]", list(&grid.starts)),
            ends: format!("ARRAY[{}]::bigint[]", list(&grid.ends)),
            segments: format!("(VALUES {}) s(attr)", values.join(", ")),
            names: grid
                .attrs
                .iter()
                .map(|(configured, lower)| (lower.clone(), configured.clone()))
                .collect(),
        }
    }

    /// The 1-based index of the period holding `day`, or NULL.
    fn period(&self, day: &str) -> String {
        format!(
            "CASE WHEN {day} < ({ends})[width_bucket({day}, {starts})] THEN width_bucket({day}, {starts}) END",
            ends = self.ends,
            starts = self.starts
        )
    }

    /// `FROM`: the rows of `table` (alias x) dated in [lo, hi) by `day`, with
    /// their period `p`, fanned out over the segments (attr, seg) of their
    /// customer. The caller groups by `p, s.attr, seg`.
    fn source(&self, table: &str, day: &str, lo: i64, hi: i64) -> String {
        format!(
            "(SELECT {p} AS p, t.* FROM {table} t WHERE t.{day} >= {lo} AND t.{day} < {hi}) x
             CROSS JOIN {segments}
             LEFT JOIN customer_attributes a ON a.customer_id = x.customer_id AND a.name = s.attr{own}",
            p = self.period(&format!("t.{day}")),
            segments = self.segments,
            own = self.seg.get(table).map(|(_, join)| join.as_str()).unwrap_or("")
        )
    }

    /// The segment value of a row of `table` fanned out over the segments.
    fn seg(&self, table: &str) -> &str {
        self.seg.get(table).map(|(e, _)| e.as_str()).unwrap_or(SEG)
    }

    /// The grid key of a grouped row's (attr, seg) columns at `i`, `i + 1`.
    fn key(&self, grid: &mut Grid, r: &Row, i: usize) -> Result<usize> {
        let attr: String = r.get(i)?;
        let name = match self.names.get(&attr) {
            Some(configured) => format!("{configured}={}", r.get::<_, String>(i + 1)?),
            None => WHOLE.to_string(),
        };
        Ok(grid.key(&name))
    }
}

/// A segment value: '' for the whole business, else the attribute's value
/// or `(none)`.
const SEG: &str = "CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END";

/// Runs one grouped query and hands each row, with its period index and
/// accumulator, to `f`.
fn each(
    store: &Store,
    grid: &mut Grid,
    shape: &Shape,
    sql: &str,
    mut f: impl FnMut(&Row, &mut Acc) -> Result<()>,
) -> Result<()> {
    for r in store.reader().rows(sql, [])? {
        let Some(p) = r.get::<_, Option<i64>>(0)? else {
            continue;
        };
        let key = shape.key(grid, &r, 1)?;
        f(&r, acc_at(&mut grid.cells, p as usize - 1, key))?;
    }
    Ok(())
}

fn u(r: &Row, i: usize) -> Result<u64> {
    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0) as u64)
}

fn f(r: &Row, i: usize) -> Result<f64> {
    Ok(r.get::<_, Option<f64>>(i)?.unwrap_or(0.0))
}

/// A histogram of one ticket event (`at`: first response or resolution) per
/// period × segment: (1, milliseconds to the event) for an event by the
/// data's as-of, else (0, the opening instant), with their counts. The
/// parent module turns each into the outcome it computes per ticket.
fn outcome_histogram(source: &str, seg: &str, group: &str, at: &str, as_of: i64) -> String {
    let happened = format!("x.{at} IS NOT NULL AND x.{at} <= {as_of}");
    format!(
        "SELECT p, s.attr, {seg}, CASE WHEN {happened} THEN 1 ELSE 0 END,
                CASE WHEN {happened} THEN x.{at} - x.opened_at ELSE x.opened_at END, count(*)
         FROM {source} WHERE p IS NOT NULL
         {group}, 4, 5"
    )
}

/// The SQL of every grouped query, for one computation (also read by the
/// Citus test below).
fn queries(shape: &Shape, lo: i64, hi: i64, as_of: i64) -> Vec<(&'static str, String)> {
    let group = |table: &str| format!("GROUP BY p, s.attr, {}", shape.seg(table));
    let src = |table: &str, day: &str| shape.source(table, day, lo, hi);
    let (orders, deals, tickets, surveys, activities) = (
        shape.seg("orders"),
        shape.seg("deals"),
        shape.seg("tickets"),
        shape.seg("surveys"),
        shape.seg("activities"),
    );
    vec![
        (
            "orders",
            format!(
                "SELECT p, s.attr, {orders}, count(*), sum(x.amount::numeric)::float8, (sum(x.amount::numeric) FILTER (WHERE x.cost IS NOT NULL))::float8,
                        sum(x.cost::numeric)::float8, count(x.cost)
                 FROM {} WHERE p IS NOT NULL {}",
                src("orders", "ordered_day"),
                group("orders")
            ),
        ),
        (
            "deals_created",
            format!(
                "SELECT p, s.attr, {deals}, count(*), sum(COALESCE(x.amount, 0)::numeric)::float8
                 FROM {} WHERE p IS NOT NULL {}",
                src("deals", "created_day"),
                group("deals")
            ),
        ),
        (
            "deals_closed",
            format!(
                "SELECT p, s.attr, {deals}, count(*) FILTER (WHERE x.stage = 'won'), count(*) FILTER (WHERE x.stage = 'lost'),
                        (sum(COALESCE(x.amount, 0)::numeric) FILTER (WHERE x.stage = 'won'))::float8,
                        sum(x.closed_day - x.created_day) FILTER (WHERE x.stage = 'won' AND x.closed_day >= x.created_day),
                        count(*) FILTER (WHERE x.stage = 'won' AND x.closed_day >= x.created_day)
                 FROM {} WHERE p IS NOT NULL AND x.stage IN ('won', 'lost') {}",
                src("deals", "closed_day"),
                group("deals")
            ),
        ),
        (
            "tickets",
            format!(
                "SELECT p, s.attr, {tickets}, count(*) FROM {} WHERE p IS NOT NULL {}",
                src("tickets", "opened_day"),
                group("tickets")
            ),
        ),
        (
            "ticket_responses",
            outcome_histogram(
                &src("tickets", "opened_day"),
                tickets,
                &group("tickets"),
                "first_response_at",
                as_of,
            ),
        ),
        (
            "ticket_resolutions",
            outcome_histogram(
                &src("tickets", "opened_day"),
                tickets,
                &group("tickets"),
                "resolved_at",
                as_of,
            ),
        ),
        (
            "surveys",
            format!(
                "SELECT p, s.attr, {surveys}, count(*) FILTER (WHERE x.kind = 'nps'),
                        count(*) FILTER (WHERE x.kind = 'nps' AND x.score >= 9),
                        count(*) FILTER (WHERE x.kind = 'nps' AND x.score <= 6),
                        count(*) FILTER (WHERE x.kind <> 'nps'),
                        count(*) FILTER (WHERE x.kind <> 'nps' AND x.score >= 4)
                 FROM {} WHERE p IS NOT NULL {}",
                src("surveys", "answered_day"),
                group("surveys")
            ),
        ),
        (
            "activity_kinds",
            format!(
                "SELECT p, s.attr, {activities}, x.kind, count(*)
                 FROM {} WHERE p IS NOT NULL {}, x.kind",
                src("activities", "occurred_day"),
                group("activities")
            ),
        ),
        (
            "activity_owners",
            format!(
                "SELECT p, s.attr, {activities}, count(*), count(DISTINCT x.owner) FILTER (WHERE x.owner <> '')
                 FROM {} WHERE p IS NOT NULL {}",
                src("activities", "occurred_day"),
                group("activities")
            ),
        ),
        (
            "spend",
            // Spend carries its own attributes instead of a customer.
            format!(
                "SELECT p, s.attr, {SEG},
                        CASE WHEN x.category IN ('marketing', 'sales') THEN 'acquisition' ELSE x.category END AS kind,
                        sum(x.amount::numeric)::float8
                 FROM (SELECT {p} AS p, t.* FROM spend t WHERE t.spent_day >= {lo} AND t.spent_day < {hi}) x
                 CROSS JOIN {segments}
                 LEFT JOIN spend_attributes a ON a.spend_id = x.spend_id AND a.name = s.attr
                 WHERE p IS NOT NULL AND x.category IN ('marketing', 'sales', 'crm')
                 GROUP BY p, s.attr, {SEG}, 4",
                p = shape.period("t.spent_day"),
                segments = shape.segments
            ),
        ),
        (
            "customers",
            // Acquisitions and churns by day, and the customers acquired and
            // churned in the same period, per segment (customers and their
            // attributes are reference tables under Citus).
            format!(
                "WITH c AS (
                   SELECT s.attr, {SEG} AS seg, x.acquired_day, x.churned_day,
                          {pa} AS pa, {pc} AS pc
                   FROM customers x CROSS JOIN {segments}
                   LEFT JOIN customer_attributes a ON a.customer_id = x.customer_id AND a.name = s.attr
                   WHERE x.acquired_day < {hi}
                 )
                 SELECT 0, attr, seg, acquired_day, count(*) FROM c GROUP BY attr, seg, acquired_day
                 UNION ALL
                 SELECT 1, attr, seg, churned_day, count(*) FROM c WHERE churned_day IS NOT NULL GROUP BY attr, seg, churned_day
                 UNION ALL
                 SELECT 2, attr, seg, pa, count(*) FROM c WHERE pa = pc GROUP BY attr, seg, pa",
                pa = shape.period("x.acquired_day"),
                pc = shape.period("x.churned_day"),
                segments = shape.segments
            ),
        ),
    ]
}

/// Fills the grid from grouped queries (see the module doc).
#[allow(clippy::too_many_arguments)]
pub(super) fn compute_into(
    store: &Store,
    grid: &mut Grid,
    lo: i64,
    hi: i64,
    as_of: Option<i64>,
    spend_attrs: &BTreeSet<String>,
    kinds: &[String],
) -> Result<()> {
    let shape = Shape::new(grid, &own_cells(store, grid)?);
    // An event after the data's as-of has not happened yet (as on SQLite).
    let as_of = as_of.unwrap_or(i64::MAX);
    let kind_index: HashMap<&str, usize> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let before = store.pg_transfer();
    for (name, sql) in queries(&shape, lo, hi, as_of) {
        let (started, at) = (std::time::Instant::now(), store.pg_transfer());
        match name {
            "orders" => each(store, grid, &shape, &sql, |r, acc| {
                acc.orders += u(r, 3)?;
                acc.revenue += f(r, 4)?;
                acc.costed_amount += f(r, 5)?;
                acc.cost += f(r, 6)?;
                acc.costed += u(r, 7)?;
                Ok(())
            })?,
            "deals_created" => each(store, grid, &shape, &sql, |r, acc| {
                acc.created += u(r, 3)?;
                acc.pipeline += f(r, 4)?;
                Ok(())
            })?,
            "deals_closed" => each(store, grid, &shape, &sql, |r, acc| {
                acc.won += u(r, 3)?;
                acc.lost += u(r, 4)?;
                acc.won_amount += f(r, 5)?;
                acc.won_cycle_days += f(r, 6)?;
                acc.won_cycle_n += u(r, 7)?;
                Ok(())
            })?,
            "tickets" => each(store, grid, &shape, &sql, |r, acc| {
                acc.tickets += u(r, 3)?;
                Ok(())
            })?,
            "ticket_responses" | "ticket_resolutions" => {
                let responses = name == "ticket_responses";
                each(store, grid, &shape, &sql, |r, acc| {
                    let (happened, v, n) =
                        (r.get::<_, i64>(3)? == 1, r.get::<_, i64>(4)?, u(r, 5)?);
                    let o = super::outcome(happened, v, as_of);
                    let list = if responses {
                        &mut acc.response
                    } else {
                        &mut acc.resolution
                    };
                    list.extend(std::iter::repeat_n(o, n as usize));
                    Ok(())
                })?
            }
            "surveys" => each(store, grid, &shape, &sql, |r, acc| {
                acc.nps_n += u(r, 3)?;
                acc.promoters += u(r, 4)?;
                acc.detractors += u(r, 5)?;
                acc.csat_n += u(r, 6)?;
                acc.csat_ok += u(r, 7)?;
                Ok(())
            })?,
            "activity_kinds" => each(store, grid, &shape, &sql, |r, acc| {
                let kind: String = r.get(3)?;
                if let Some(k) = kind_index.get(kind.as_str()) {
                    if acc.activities.len() < kinds.len() {
                        acc.activities.resize(kinds.len(), 0);
                    }
                    acc.activities[*k] += u(r, 4)?;
                }
                Ok(())
            })?,
            "activity_owners" => each(store, grid, &shape, &sql, |r, acc| {
                acc.activity_total += u(r, 3)?;
                acc.owner_count += u(r, 4)?;
                Ok(())
            })?,
            "spend" => {
                for r in store.reader().rows(&sql, [])? {
                    let Some(p) = r.get::<_, Option<i64>>(0)? else {
                        continue;
                    };
                    let attr: String = r.get(1)?;
                    if !attr.is_empty() && !spend_attrs.contains(&attr) {
                        continue; // spend.csv has no such column: null, not (none)
                    }
                    let key = shape.key(grid, &r, 1)?;
                    let category: String = r.get(3)?;
                    let amount = f(&r, 4)?;
                    let acc = acc_at(&mut grid.cells, p as usize - 1, key);
                    match category.as_str() {
                        "acquisition" => acc.acquisition_spend += amount,
                        _ => acc.crm_spend += amount,
                    }
                }
            }
            "customers" => {
                let mut by_key: HashMap<usize, CustomerDays> = HashMap::new();
                for r in store.reader().rows(&sql, [])? {
                    let what: i64 = r.get(0)?;
                    let key = shape.key(grid, &r, 1)?;
                    let day: i64 = r.get(3)?;
                    let n = u(&r, 4)?;
                    let days = by_key.entry(key).or_default();
                    match what {
                        0 => days.acquired.push((day, n)),
                        1 => days.churned.push((day, n)),
                        _ => *days.same_period.entry(day as usize - 1).or_default() += n,
                    }
                }
                customer_base_into(grid, by_key);
            }
            other => unreachable!("no reader for {other}"),
        }
        let now = store.pg_transfer();
        tracing::info!(
            query = name,
            rows = now.0 - at.0,
            bytes = now.1 - at.1,
            ms = started.elapsed().as_millis() as u64,
            "engine: grouped query on PostgreSQL"
        );
    }
    let after = store.pg_transfer();
    tracing::info!(
        rows = after.0 - before.0,
        bytes = after.1 - before.1,
        "engine: grouped rows received from PostgreSQL"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::period::Period;

    /// Citus distributes none of these: the PostgreSQL dialect must not use them.
    #[test]
    fn the_postgres_sql_is_one_citus_distributes() {
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\", \"tier\", \"owner\"]\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let periods: Vec<Period> = Period::parse("2026-W40")
            .unwrap()
            .range_to(Period::parse("2026-W47").unwrap());
        let grid = Grid::new(&periods, &config);
        // Every record table with both kinds of own cells.
        let own: OwnCells = FileKind::ALL
            .into_iter()
            .filter(|k| k.has_segment_cells())
            .map(|k| (k.key(), (true, true)))
            .collect();
        let shape = Shape::new(&grid, &own);
        let mut all: Vec<String> = queries(&shape, 0, 1000, i64::MAX)
            .into_iter()
            .map(|(_, sql)| sql)
            .collect();
        all.push(KINDS_SQL.to_string());
        all.extend(
            crate::store::migrations_pg::MIGRATIONS
                .iter()
                .map(|s| s.to_string()),
        );
        for sql in &all {
            let upper = sql.to_ascii_uppercase();
            for banned in [
                "GROUPING SETS",
                "WITH RECURSIVE",
                "WITHIN GROUP",
                "ROLLUP",
                "CUBE(",
            ] {
                assert!(!upper.contains(banned), "{banned} in: {sql}");
            }
        }
        assert!(all[0].contains("width_bucket") && all[0].contains("(VALUES ('')"));
    }
}
