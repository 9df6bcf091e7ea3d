//! The engine's readers on PostgreSQL: each source table is aggregated in
//! the database at period × segment grain, and the accumulators of the
//! parent module merge the grouped rows, so that only those rows cross the
//! wire. Periods are found by `width_bucket` over the period starts (and a
//! check against the matching end, since the periods of a run need not be
//! contiguous; by arithmetic when they are contiguous and of one length).
//! Segments: each record is joined once with the store's per-customer
//! segment table (store/pg_segments.rs, a reference table under Citus) and
//! grouped by its customer's combination of values; where that table does
//! not hold the configured attributes (warehouse mode) and for records with
//! own segment cells, once per configured attribute with
//! the customer attributes (a reference table too) and grouped by the
//! values themselves. Each grouped row is
//! added to the whole business and to the segment of each of its values, as
//! the SQLite engine adds a record: one pass per table, one row per
//! combination instead of one per segment. Exact ticket durations come from
//! grouped histograms (milliseconds → count), from which the same
//! per-ticket outcomes as on SQLite are rebuilt. Rows are streamed, not
//! held. The SQL avoids GROUPING SETS, recursive CTEs and ordered-set
//! aggregates, which Citus does not distribute (a test below reads it and
//! fails on them).
use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use postgres::Row;

use super::tickets::Windows;
use super::{acc_at, customer_base_into, Acc, CustomerDays, Grid, WHOLE};
use crate::sources::FileKind;
use crate::store::Store;

/// The distinct activity kinds (in byte order, as SQLite's `min` walks them).
pub(super) fn activity_kinds(store: &Store) -> Result<Vec<String>> {
    let rows = store.reader().rows(KINDS_SQL, [])?;
    rows.iter().map(|r| Ok(r.get::<_, String>(0)?)).collect()
}

const KINDS_SQL: &str = "SELECT DISTINCT kind COLLATE \"C\" AS kind FROM activities ORDER BY 1";

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

/// The SQL pieces shared by every grouped query of one computation.
struct Shape {
    /// `ARRAY[…]` of the period starts and of their ends (day numbers).
    starts: String,
    ends: String,
    /// `(first start, length in days)` when the periods are contiguous and
    /// all as long (weeks): a period is then found by arithmetic.
    uniform: Option<(i64, i64)>,
    /// How many periods.
    periods: i64,
    /// The configured attributes' lowercase names (as the store keeps them),
    /// in the grid's order: the value columns v0, v1, … of a grouped row.
    attrs: Vec<String>,
    /// `(VALUES (''), ('region'), …) s(attr)`: the whole business and each
    /// attribute, for spend (which carries its own attributes).
    segments: String,
    /// Lowercase attribute → configured name.
    names: HashMap<String, String>,
    /// Per record table, its own segment cells: `(owner, cells)` of
    /// [`OwnCells`], with the table of its cells and its id column.
    own: HashMap<&'static str, (bool, Option<CellTable>)>,
    /// When the store's per-customer segment table holds the configured
    /// attributes (store/pg_segments.rs): its combinations (id → the value
    /// of each attribute), and the queries of the tables without own cells
    /// join it once instead of `customer_attributes` once per attribute.
    combos: Option<HashMap<i64, Vec<String>>>,
}

/// A record file's table of segment cells and its id column.
type CellTable = (String, &'static str);

/// A string as an SQL literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Shape {
    fn new(grid: &Grid, own_cells: &OwnCells) -> Shape {
        let list = |v: &[i64]| {
            v.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        // Attribute names come from the config: quoted as SQL literals.
        let values: Vec<String> = std::iter::once(WHOLE.to_string())
            .chain(grid.attrs.iter().map(|(_, lower)| lower.clone()))
            .map(|a| format!("({})", literal(&a)))
            .collect();
        let len = grid
            .ends
            .first()
            .zip(grid.starts.first())
            .map(|(e, s)| e - s);
        let uniform = len.filter(|len| {
            (0..grid.starts.len()).all(|i| {
                grid.ends[i] - grid.starts[i] == *len
                    && grid
                        .starts
                        .get(i + 1)
                        .is_none_or(|next| *next == grid.ends[i])
            })
        });
        let mut own = HashMap::new();
        for kind in FileKind::ALL.into_iter().filter(|k| k.has_segment_cells()) {
            let (owner, cells) = own_cells.get(kind.key()).copied().unwrap_or_default();
            let cells = cells.then(|| kind.table().attributes).flatten();
            own.insert(kind.key(), (owner, cells));
        }
        Shape {
            own,
            combos: None,
            uniform: uniform.map(|len| (grid.starts[0], len)),
            periods: grid.starts.len() as i64,
            starts: format!("ARRAY[{}]::bigint[]", list(&grid.starts)),
            ends: format!("ARRAY[{}]::bigint[]", list(&grid.ends)),
            attrs: grid.attrs.iter().map(|(_, lower)| lower.clone()).collect(),
            segments: format!("(VALUES {}) s(attr)", values.join(", ")),
            names: grid
                .attrs
                .iter()
                .map(|(configured, lower)| (lower.clone(), configured.clone()))
                .collect(),
        }
    }

    /// The queries join the per-customer segment table, whose combinations
    /// are `combos`.
    fn with_combos(mut self, combos: HashMap<i64, Vec<String>>) -> Shape {
        self.combos = Some(combos);
        self
    }

    /// Whether the rows of `table` (None: the customers) take their segment
    /// values from the per-customer segment table: it holds the configured
    /// attributes and the table has no own cells for them.
    fn by_combo(&self, table: Option<&str>) -> bool {
        self.combos.is_some()
            && !self.attrs.is_empty()
            && table
                .and_then(|t| self.own.get(t))
                .is_none_or(|(owner, cells)| !owner && cells.is_none())
    }

    /// How many segment columns a grouped row of `table` has after its
    /// period: one (the combination) or one per attribute (the values).
    fn width(&self, table: Option<&str>) -> usize {
        if self.by_combo(table) {
            1
        } else {
            self.attrs.len()
        }
    }

    /// [`Shape::values`], or the customer's combination (`v0`, NULL for a
    /// record without a known customer).
    fn seg_values(&self, table: Option<&str>) -> String {
        if self.by_combo(table) {
            return ", cs.combo AS v0".to_string();
        }
        self.values(table)
    }

    /// [`Shape::joins`], or the one join with the per-customer segment table.
    fn seg_joins(&self, table: Option<&str>) -> String {
        if self.by_combo(table) {
            return "\n LEFT JOIN customer_segments cs ON cs.customer_id = x.customer_id"
                .to_string();
        }
        self.joins(table)
    }

    /// `GROUP BY 1, 2, …`: the period, the segment columns of `table` and
    /// `extra` more leading columns.
    fn group(&self, table: &str, extra: usize) -> String {
        let n = 1 + self.width(Some(table)) + extra;
        let cols: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        format!("GROUP BY {}", cols.join(", "))
    }

    /// `FROM`: the rows of `table` (alias x) dated in [lo, hi) by `day`, with
    /// their period `p`, joined with their customer's segment values
    /// ([`Shape::seg_joins`]).
    fn source(&self, table: &str, day: &str, lo: i64, hi: i64) -> String {
        format!(
            "(SELECT {p} AS p, t.* FROM {table} t WHERE t.{day} >= {lo} AND t.{day} < {hi}) x{joins}",
            p = self.period(&format!("t.{day}")),
            joins = self.seg_joins(Some(table))
        )
    }

    /// The segment keys of the grouped rows of `table`.
    fn keys(&self, table: Option<&str>) -> SegKeys<'_> {
        SegKeys {
            combos: self.combos.as_ref().filter(|_| self.by_combo(table)),
            values: Combos::new(),
            ids: HashMap::new(),
        }
    }

    /// The 1-based index of the period holding `day`, or NULL (bigint): by
    /// arithmetic for contiguous periods of one length (much cheaper per
    /// row), else by `width_bucket` over the starts.
    fn period(&self, day: &str) -> String {
        if let Some((first, len)) = self.uniform {
            let end = first + len * self.periods;
            return format!(
                "(CASE WHEN {day} >= {first} AND {day} < {end} THEN ({day} - {first}) / {len} + 1 END)::bigint"
            );
        }
        format!(
            "(CASE WHEN {day} < ({ends})[width_bucket({day}, {starts})] THEN width_bucket({day}, {starts}) END)::bigint",
            ends = self.ends,
            starts = self.starts
        )
    }

    /// `, v0, v1, …`: a record's value of each attribute, after its period
    /// `p`: its own cell (its owner for `owner`, or a cell of its file),
    /// else its customer's, else `(none)` (also for an empty value).
    /// `table`: the record table, None for the customers themselves.
    fn values(&self, table: Option<&str>) -> String {
        let (owner, cells) = table
            .and_then(|t| self.own.get(t))
            .map(|(o, c)| (*o, c.is_some()))
            .unwrap_or_default();
        (0..self.attrs.len())
            .map(|j| {
                let mut first = Vec::new();
                if owner && self.attrs[j] == "owner" {
                    first.push("NULLIF(x.owner, ''), ".to_string());
                }
                if cells {
                    first.push(format!("NULLIF(r{j}.value, ''), "));
                }
                format!(
                    ", COALESCE({}NULLIF(a{j}.value, ''), '(none)') AS v{j}",
                    first.concat()
                )
            })
            .collect()
    }

    /// The joins of the records `x` of `table` (None: the customers
    /// themselves, aliased `x`) with their customer's attributes, one per
    /// attribute (a pivot of the attributes per customer in one join would
    /// hide the values' statistics from the planner, which then sorts
    /// instead of hashing), and with their own cells when they have any.
    fn joins(&self, table: Option<&str>) -> String {
        let cells = table
            .and_then(|t| self.own.get(t))
            .and_then(|(_, c)| c.as_ref());
        let mut out = String::new();
        for (j, a) in self.attrs.iter().enumerate() {
            let name = literal(a);
            out.push_str(&format!(
                "\n LEFT JOIN customer_attributes a{j} ON a{j}.customer_id = x.customer_id AND a{j}.name = {name}"
            ));
            if let Some((cells, id)) = cells {
                out.push_str(&format!(
                    "\n LEFT JOIN {cells} r{j} ON r{j}.{id} = x.{id} AND r{j}.name = {name}"
                ));
            }
        }
        out
    }
}

/// A grouped row's segment keys: the whole business, then the segment of
/// each attribute value in columns `from..from + attrs` (cached per
/// combination of values).
struct Combos {
    keys: HashMap<String, Vec<usize>>,
    buf: String,
}

impl Combos {
    fn new() -> Combos {
        Combos {
            keys: HashMap::new(),
            buf: String::new(),
        }
    }

    fn of(&mut self, grid: &mut Grid, r: &Row, from: usize) -> Result<&[usize]> {
        let n = grid.attrs.len();
        self.buf.clear();
        for j in 0..n {
            self.buf.push_str(r.try_get::<_, &str>(from + j)?);
            self.buf.push('\u{1f}');
        }
        if !self.keys.contains_key(&self.buf) {
            let mut keys = vec![grid.key(WHOLE)];
            for j in 0..n {
                let v: &str = r.try_get(from + j)?;
                let name = format!("{}={v}", grid.attrs[j].0);
                keys.push(grid.key(&name));
            }
            self.keys.insert(self.buf.clone(), keys);
        }
        Ok(&self.keys[&self.buf])
    }
}

/// A grouped row's segment keys from its segment columns: the values
/// ([`Combos`]) or the customer's combination in the per-customer segment
/// table (cached per combination).
struct SegKeys<'c> {
    combos: Option<&'c HashMap<i64, Vec<String>>>,
    values: Combos,
    ids: HashMap<Option<i64>, Vec<usize>>,
}

impl SegKeys<'_> {
    /// How many segment columns the rows have.
    fn width(&self, grid: &Grid) -> usize {
        if self.combos.is_some() {
            1
        } else {
            grid.attrs.len()
        }
    }

    fn of(&mut self, grid: &mut Grid, r: &Row, from: usize) -> Result<&[usize]> {
        let Some(combos) = self.combos else {
            return self.values.of(grid, r, from);
        };
        let id: Option<i64> = r.try_get(from)?;
        let entry = match self.ids.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let vals = match id {
                    Some(c) => Some(
                        combos
                            .get(&c)
                            .filter(|v| v.len() == grid.attrs.len())
                            .ok_or_else(|| {
                                anyhow::anyhow!(
                                    "the per-customer segment table changed during the computation (an import of customers ran meanwhile): run the command again"
                                )
                            })?,
                    ),
                    None => None,
                };
                let mut keys = vec![grid.key(WHOLE)];
                for j in 0..grid.attrs.len() {
                    let v = vals.map_or(super::NONE_VALUE, |v| v[j].as_str());
                    let name = format!("{}={v}", grid.attrs[j].0);
                    keys.push(grid.key(&name));
                }
                e.insert(keys)
            }
        };
        Ok(entry)
    }
}

/// The combinations of the per-customer segment table, when it holds the
/// configured attributes (`attrs`, lowercase); None: join the attributes.
fn combos(store: &Store, attrs: &[String]) -> Result<Option<HashMap<i64, Vec<String>>>> {
    if !store.customer_segments_hold(attrs)? {
        return Ok(None);
    }
    let mut out = HashMap::new();
    store.reader().pg_each(COMBOS_SQL, |r| {
        out.insert(r.try_get::<_, i64>(0)?, r.try_get::<_, Vec<String>>(1)?);
        Ok(())
    })?;
    Ok(Some(out))
}

const COMBOS_SQL: &str = "SELECT combo, vals FROM segment_combos";

fn u(r: &Row, i: usize) -> Result<u64> {
    Ok(r.try_get::<_, Option<i64>>(i)?.unwrap_or(0) as u64)
}

fn f(r: &Row, i: usize) -> Result<f64> {
    Ok(r.try_get::<_, Option<f64>>(i)?.unwrap_or(0.0))
}

/// Two columns summing the amounts `e` (with `when`, an SQL condition or
/// "TRUE") as [`Money`](super::Money) adds them: the whole number of
/// ten-thousandths of each amount that has at most four decimals (as text:
/// the sum may pass bigint), then the plain sum of the others. In float
/// arithmetic, which is much cheaper than casting every amount to numeric,
/// and exact in any order all the same.
fn money(e: &str, when: &str) -> String {
    let c = format!("round(({e}) * 10000)");
    let exact = format!("abs({c}) < 9e15::float8 AND {c} / 10000 = ({e})");
    format!(
        "sum(CASE WHEN ({when}) AND {exact} THEN {c}::bigint END)::text,
         sum(CASE WHEN ({when}) AND NOT ({exact}) THEN {e} END)"
    )
}

/// Reads the two columns of [`money`] at `i` into `m`.
fn money_at(r: &Row, i: usize) -> Result<(i128, f64)> {
    let units = match r.try_get::<_, Option<&str>>(i)? {
        Some(t) => t
            .parse::<i128>()
            .map_err(|e| anyhow::anyhow!("a sum of money from PostgreSQL, {t:?}: {e}"))?,
        None => 0,
    };
    Ok((units, f(r, i + 1)?))
}

/// Runs one grouped query (columns: p, v0…, then the figures from column
/// `b`), parses each row's figures once with `parse` and adds them with
/// `add` to the accumulator of the whole business and of each segment.
fn each<T>(
    store: &Store,
    grid: &mut Grid,
    mut combos: SegKeys,
    sql: &str,
    mut parse: impl FnMut(&Row, usize) -> Result<T>,
    mut add: impl FnMut(&T, &mut Acc),
) -> Result<()> {
    let b = 1 + combos.width(grid);
    store.reader().pg_each(sql, |r| {
        let Some(p) = r.try_get::<_, Option<i64>>(0)? else {
            return Ok(());
        };
        let figures = parse(r, b)?;
        for key in combos.of(grid, r, 1)? {
            add(&figures, acc_at(&mut grid.cells, p as usize - 1, *key));
        }
        Ok(())
    })
}

/// The tickets' joint histogram per period × attribute values, ordered by
/// period: for each ticket's first response and resolution, (1,
/// milliseconds to the event) for an event by the data's as-of, else (0,
/// the opening instant), with the count of tickets alike. The parent module
/// turns each into the outcomes it computes per ticket.
fn ticket_histogram(shape: &Shape, source: &str, as_of: i64) -> String {
    let event = |at: &str| {
        let happened = format!("x.{at} IS NOT NULL AND x.{at} <= {as_of}");
        format!(
            "(CASE WHEN {happened} THEN 1 ELSE 0 END)::bigint,
             CASE WHEN {happened} THEN x.{at} - x.opened_at ELSE x.opened_at END"
        )
    };
    format!(
        "SELECT p{v}, {response}, {resolution}, count(*)
         FROM {source} WHERE p IS NOT NULL
         {group} ORDER BY 1",
        v = shape.seg_values(Some("tickets")),
        response = event("first_response_at"),
        resolution = event("resolved_at"),
        group = shape.group("tickets", 4)
    )
}

/// A ticket's first response (`first_response_at`) or resolution time in
/// ms when it happened by the data's as-of, else NULL.
fn event_ms(at: &str, as_of: i64) -> String {
    format!("(CASE WHEN x.{at} IS NOT NULL AND x.{at} <= {as_of} THEN x.{at} - x.opened_at END)")
}

/// The bounded summaries of the tickets of the periods whose tickets are
/// all decided ([`super::tickets::Summary`]): per period × attribute
/// values × bucket of the response time within H (NULL: not answered
/// within H), the tickets, those answered within S, the sum of the
/// response times (within H: all of the row's when its bucket is not
/// NULL), those resolved within H and the sum of their times; sums of ms
/// as text (exact, past bigint).
fn ticket_summaries(shape: &Shape, source: &str, as_of: i64, w: &Windows) -> String {
    let (response, resolution) = (
        event_ms("first_response_at", as_of),
        event_ms("resolved_at", as_of),
    );
    let (sla, window) = (w.sla_ms, w.window_ms);
    format!(
        "SELECT p{v}, (CASE WHEN {response} <= {window} THEN width_bucket({response}, {bounds}) END)::bigint,
                count(*), count(*) FILTER (WHERE {response} <= {sla}),
                (sum({response}) FILTER (WHERE {response} <= {window}))::text,
                count(*) FILTER (WHERE {resolution} <= {window}),
                (sum({resolution}) FILTER (WHERE {resolution} <= {window}))::text
         FROM {source} WHERE p IS NOT NULL
         {group}",
        v = shape.seg_values(Some("tickets")),
        bounds = w.buckets.sql(),
        group = shape.group("tickets", 1)
    )
}

/// The second pass of the medians: the response times within H (ms, with
/// their count) per period × attribute values, only in the (period,
/// bucket) pairs `wanted` (a small VALUES list) where the middle ranks fall.
fn ticket_middles(
    shape: &Shape,
    source: &str,
    as_of: i64,
    w: &Windows,
    wanted: &[(usize, usize)],
) -> String {
    let response = event_ms("first_response_at", as_of);
    let pairs: Vec<String> = wanted
        .iter()
        .map(|(p, b)| format!("({}, {b})", p + 1))
        .collect();
    format!(
        "SELECT p{v}, {response}, count(*)
         FROM {source}
         JOIN (VALUES {pairs}) n(np, nb) ON n.np = x.p AND n.nb = width_bucket({response}, {bounds})
         WHERE p IS NOT NULL AND {response} <= {window}
         {group}",
        v = shape.seg_values(Some("tickets")),
        pairs = pairs.join(", "),
        bounds = w.buckets.sql(),
        window = w.window_ms,
        group = shape.group("tickets", 1)
    )
}

/// How the tickets are read: the windows, and the first period (index)
/// whose tickets may still be pending, from the day it starts; the periods
/// before it are summarized, it and the later ones read per ticket.
struct TicketSplit<'a> {
    windows: &'a Windows,
    first_pending: usize,
    day: i64,
}

/// The SQL of every grouped query, for one computation (also read by the
/// Citus test below).
fn queries(
    shape: &Shape,
    lo: i64,
    hi: i64,
    as_of: i64,
    t: &TicketSplit,
) -> Vec<(&'static str, String)> {
    // Every customer-linked table takes its segments from the per-customer
    // segment table when it can (Shape::by_combo).
    let v = |table: &str| shape.seg_values(Some(table));
    let (orders, deals, surveys, activities) =
        (v("orders"), v("deals"), v("surveys"), v("activities"));
    let group = |table: &str| shape.group(table, 0);
    let seg_src = |table: &str, day: &str| shape.source(table, day, lo, hi);
    vec![
        (
            "orders",
            format!(
                "SELECT p{orders}, count(*), {}, {}, {}, count(x.cost)
                 FROM {} WHERE p IS NOT NULL {}",
                money("x.amount", "TRUE"),
                money("x.amount", "x.cost IS NOT NULL"),
                money("x.cost", "TRUE"),
                seg_src("orders", "ordered_day"),
                group("orders")
            ),
        ),
        (
            "deals_created",
            format!(
                "SELECT p{deals}, count(*), {}
                 FROM {} WHERE p IS NOT NULL {}",
                money("COALESCE(x.amount, 0)", "TRUE"),
                seg_src("deals", "created_day"),
                group("deals")
            ),
        ),
        (
            "deals_closed",
            format!(
                "SELECT p{deals}, count(*) FILTER (WHERE x.stage = 'won'), count(*) FILTER (WHERE x.stage = 'lost'),
                        {},
                        (sum(x.closed_day - x.created_day) FILTER (WHERE x.stage = 'won' AND x.closed_day >= x.created_day))::float8,
                        count(*) FILTER (WHERE x.stage = 'won' AND x.closed_day >= x.created_day)
                 FROM {} WHERE p IS NOT NULL AND x.stage IN ('won', 'lost') {}",
                money("COALESCE(x.amount, 0)", "x.stage = 'won'"),
                seg_src("deals", "closed_day"),
                group("deals")
            ),
        ),
        (
            "tickets",
            ticket_summaries(
                shape,
                &shape.source("tickets", "opened_day", lo, t.day.min(hi)),
                as_of,
                t.windows,
            ),
        ),
        (
            "tickets_pending",
            ticket_histogram(
                shape,
                &shape.source("tickets", "opened_day", t.day.max(lo), hi),
                as_of,
            ),
        ),
        (
            "surveys",
            format!(
                "SELECT p{surveys}, count(*) FILTER (WHERE x.kind = 'nps'),
                        count(*) FILTER (WHERE x.kind = 'nps' AND x.score >= 9),
                        count(*) FILTER (WHERE x.kind = 'nps' AND x.score <= 6),
                        count(*) FILTER (WHERE x.kind <> 'nps'),
                        count(*) FILTER (WHERE x.kind <> 'nps' AND x.score >= 4)
                 FROM {} WHERE p IS NOT NULL {}",
                seg_src("surveys", "answered_day"),
                group("surveys")
            ),
        ),
        (
            // Every activity has a kind: this also counts them. Distinct
            // owners do not add up over combinations: their names come back.
            "activities",
            format!(
                "SELECT p{activities}, x.kind, NULLIF(x.owner, ''), count(*)
                 FROM {} WHERE p IS NOT NULL {}",
                seg_src("activities", "occurred_day"),
                shape.group("activities", 2)
            ),
        ),
        (
            "spend",
            // Spend carries its own attributes instead of a customer: a
            // small table, fanned out over the attributes.
            format!(
                "SELECT p, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END,
                        CASE WHEN x.category IN ('marketing', 'sales') THEN 'acquisition' ELSE x.category END AS kind,
                        sum(x.amount::numeric)::float8
                 FROM (SELECT {p} AS p, t.* FROM spend t WHERE t.spent_day >= {lo} AND t.spent_day < {hi}) x
                 CROSS JOIN {segments}
                 LEFT JOIN spend_attributes a ON a.spend_id = x.spend_id AND a.name = s.attr
                 WHERE p IS NOT NULL AND x.category IN ('marketing', 'sales', 'crm')
                 GROUP BY 1, 2, 3, 4",
                p = shape.period("t.spent_day"),
                segments = shape.segments
            ),
        ),
        (
            "customers",
            // Acquisitions and churns by day, and the customers acquired and
            // churned in the same period, per combination of attribute values
            // (customers and their attributes are reference tables under Citus).
            {
                // Columns: what, day, v0…, count; grouped by day and values.
                let width = shape.width(None);
                let cols: String = (0..width).map(|j| format!(", v{j}")).collect();
                let g: String = (2..=width + 2)
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "WITH c AS (
                       SELECT x.acquired_day, x.churned_day{v},
                              {pa} AS pa, {pc} AS pc
                       FROM customers x{joins}
                       WHERE x.acquired_day < {hi}
                     )
                     SELECT 0::bigint, acquired_day{cols}, count(*) FROM c GROUP BY {g}
                     UNION ALL
                     SELECT 1::bigint, churned_day{cols}, count(*) FROM c WHERE churned_day IS NOT NULL GROUP BY {g}
                     UNION ALL
                     SELECT 2::bigint, pa{cols}, count(*) FROM c WHERE pa = pc GROUP BY {g}",
                    pa = shape.period("x.acquired_day"),
                    pc = shape.period("x.churned_day"),
                    v = shape.seg_values(None),
                    joins = shape.seg_joins(None)
                )
            },
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
    windows: (f64, f64),
    spend_attrs: &BTreeSet<String>,
    kinds: &[String],
) -> Result<()> {
    let mut shape = Shape::new(grid, &own_cells(store, grid)?);
    if let Some(combos) = combos(store, &shape.attrs)? {
        shape = shape.with_combos(combos);
    }
    let first_pending = super::first_pending(grid, as_of, windows);
    let w = Windows::new(windows.0, windows.1, 4);
    let split = TicketSplit {
        windows: &w,
        first_pending,
        day: grid.starts.get(first_pending).copied().unwrap_or(hi),
    };
    // An event after the data's as-of has not happened yet (as on SQLite).
    let as_of = as_of.unwrap_or(i64::MAX);
    let before = store.pg_transfer();
    for (name, sql) in queries(&shape, lo, hi, as_of, &split) {
        // No period to read tickets of for one of the two ticket queries.
        match name {
            "tickets" if split.first_pending == 0 => continue,
            "tickets_pending" if split.first_pending == grid.periods.len() => continue,
            _ => {}
        }
        let (started, at) = (std::time::Instant::now(), store.pg_transfer());
        tracing::debug!(query = name, %sql, "engine: grouped query SQL");
        match name {
            "orders" => read_orders(store, grid, shape.keys(Some("orders")), &sql)?,
            "deals_created" => read_deals_created(store, grid, shape.keys(Some("deals")), &sql)?,
            "deals_closed" => read_deals_closed(store, grid, shape.keys(Some("deals")), &sql)?,
            "tickets" => read_ticket_summaries(store, grid, &shape, &sql, as_of, &split)?,
            "tickets_pending" => read_tickets(
                store,
                grid,
                shape.keys(Some("tickets")),
                &sql,
                as_of,
                windows,
            )?,
            "surveys" => read_surveys(store, grid, shape.keys(Some("surveys")), &sql)?,
            "activities" => {
                read_activities(store, grid, shape.keys(Some("activities")), &sql, kinds)?
            }
            "spend" => read_spend(store, grid, &shape, &sql, spend_attrs)?,
            "customers" => read_customers(store, grid, shape.keys(None), &sql)?,
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

fn read_orders(store: &Store, grid: &mut Grid, keys: SegKeys, sql: &str) -> Result<()> {
    each(
        store,
        grid,
        keys,
        sql,
        |r, b| {
            Ok((
                u(r, b)?,
                money_at(r, b + 1)?,
                money_at(r, b + 3)?,
                money_at(r, b + 5)?,
                u(r, b + 7)?,
            ))
        },
        |&(n, revenue, costed_amount, cost, costed), acc| {
            acc.orders += n;
            acc.revenue.add_parts(revenue.0, revenue.1);
            acc.costed_amount
                .add_parts(costed_amount.0, costed_amount.1);
            acc.cost.add_parts(cost.0, cost.1);
            acc.costed += costed;
        },
    )
}

fn read_deals_created(store: &Store, grid: &mut Grid, keys: SegKeys, sql: &str) -> Result<()> {
    each(
        store,
        grid,
        keys,
        sql,
        |r, b| Ok((u(r, b)?, money_at(r, b + 1)?)),
        |&(n, (units, other)), acc| {
            acc.created += n;
            acc.pipeline.add_parts(units, other);
        },
    )
}

fn read_deals_closed(store: &Store, grid: &mut Grid, keys: SegKeys, sql: &str) -> Result<()> {
    each(
        store,
        grid,
        keys,
        sql,
        |r, b| {
            Ok((
                u(r, b)?,
                u(r, b + 1)?,
                money_at(r, b + 2)?,
                f(r, b + 4)?,
                u(r, b + 5)?,
            ))
        },
        |&(won, lost, (units, other), days, n), acc| {
            acc.won += won;
            acc.lost += lost;
            acc.won_amount.add_parts(units, other);
            acc.won_cycle_days += days;
            acc.won_cycle_n += n;
        },
    )
}

/// The summaries of the periods whose tickets are all decided, then the
/// second query for their medians (only the middle buckets' times).
fn read_ticket_summaries(
    store: &Store,
    grid: &mut Grid,
    shape: &Shape,
    sql: &str,
    as_of: i64,
    t: &TicketSplit,
) -> Result<()> {
    let sum = |r: &Row, i: usize| -> Result<i128> {
        Ok(match r.try_get::<_, Option<&str>>(i)? {
            Some(v) => v
                .parse()
                .map_err(|e| anyhow::anyhow!("a sum of ms from PostgreSQL, {v:?}: {e}"))?,
            None => 0,
        })
    };
    each(
        store,
        grid,
        shape.keys(Some("tickets")),
        sql,
        |r, b| {
            let bucket = r.try_get::<_, Option<i64>>(b)?.map(|k| k as usize);
            Ok((
                u(r, b + 1)?,
                u(r, b + 2)?,
                bucket,
                sum(r, b + 3)?,
                u(r, b + 4)?,
                sum(r, b + 5)?,
            ))
        },
        |&(n, within_sla, bucket, response, resolved, resolution), acc| {
            acc.tickets += n;
            acc.ticket_summary
                .get_or_insert_with(Default::default)
                .add_grouped(n, within_sla, bucket, response, resolved, resolution);
        },
    )?;
    let mut wanted: Vec<(usize, usize)> = Vec::new();
    for (p, row) in grid.cells.iter_mut().enumerate().take(t.first_pending) {
        for s in row
            .iter_mut()
            .flatten()
            .filter_map(|a| a.ticket_summary.as_mut())
        {
            if s.plan() {
                for b in s.wanted() {
                    if !wanted.contains(&(p, b)) {
                        wanted.push((p, b));
                    }
                }
            }
        }
    }
    if !wanted.is_empty() {
        wanted.sort_unstable();
        let source = shape.source("tickets", "opened_day", grid.starts[0], t.day);
        let sql = ticket_middles(shape, &source, as_of, t.windows, &wanted);
        tracing::debug!(query = "ticket_middles", %sql, "engine: grouped query SQL");
        let (started, at) = (std::time::Instant::now(), store.pg_transfer());
        let w = t.windows;
        each(
            store,
            grid,
            shape.keys(Some("tickets")),
            &sql,
            |r, b| {
                let ms: i64 = r.try_get(b)?;
                Ok((w.buckets.of(ms), ms, u(r, b + 1)?))
            },
            |&(bucket, ms, n), acc| {
                if let Some(s) = acc.ticket_summary.as_mut() {
                    s.offer(bucket, ms, n);
                }
            },
        )?;
        let now = store.pg_transfer();
        tracing::info!(
            query = "ticket_middles",
            rows = now.0 - at.0,
            bytes = now.1 - at.1,
            ms = started.elapsed().as_millis() as u64,
            "engine: grouped query on PostgreSQL"
        );
    }
    grid.finish_ticket_summaries(t.first_pending)
}

/// Rows come period by period: once a period is complete, its ticket KPIs
/// are computed and its outcomes dropped, so that memory does not grow with
/// the number of tickets.
fn read_tickets(
    store: &Store,
    grid: &mut Grid,
    mut combos: SegKeys,
    sql: &str,
    as_of: i64,
    (sla_hours, resolution_hours): (f64, f64),
) -> Result<()> {
    let mut current: Option<usize> = None;
    let seal = |grid: &mut Grid, p: usize| {
        for acc in grid.cells[p].iter_mut().flatten() {
            let response = std::mem::take(&mut acc.response);
            let resolution = std::mem::take(&mut acc.resolution);
            acc.service = Some(Box::new(super::formulas::ticket_kpis(
                &response,
                &resolution,
                sla_hours,
                resolution_hours,
            )));
        }
    };
    let b = 1 + combos.width(grid);
    store.reader().pg_each(sql, |r| {
        let Some(p) = r.try_get::<_, Option<i64>>(0)? else {
            return Ok(());
        };
        let p = p as usize - 1;
        if current != Some(p) {
            if let Some(done) = current {
                seal(grid, done);
            }
            current = Some(p);
        }
        let outcome = |i: usize| -> Result<_> {
            let happened = r.try_get::<_, i64>(i)? == 1;
            Ok(super::outcome(happened, r.try_get(i + 1)?, as_of))
        };
        let (response, resolution) = (outcome(b)?, outcome(b + 2)?);
        let n = u(r, b + 4)?;
        for key in combos.of(grid, r, 1)? {
            let acc = acc_at(&mut grid.cells, p, *key);
            acc.tickets += n;
            acc.response
                .extend(std::iter::repeat_n(response, n as usize));
            acc.resolution
                .extend(std::iter::repeat_n(resolution, n as usize));
        }
        Ok(())
    })?;
    if let Some(done) = current {
        seal(grid, done);
    }
    Ok(())
}

fn read_surveys(store: &Store, grid: &mut Grid, keys: SegKeys, sql: &str) -> Result<()> {
    each(
        store,
        grid,
        keys,
        sql,
        |r, b| {
            Ok([
                u(r, b)?,
                u(r, b + 1)?,
                u(r, b + 2)?,
                u(r, b + 3)?,
                u(r, b + 4)?,
            ])
        },
        |&[nps, promoters, detractors, csat, csat_ok], acc| {
            acc.nps_n += nps;
            acc.promoters += promoters;
            acc.detractors += detractors;
            acc.csat_n += csat;
            acc.csat_ok += csat_ok;
        },
    )
}

fn read_activities(
    store: &Store,
    grid: &mut Grid,
    keys: SegKeys,
    sql: &str,
    kinds: &[String],
) -> Result<()> {
    let kind_index = super::kind_index(kinds);
    let mut owners: HashMap<String, u32> = HashMap::new();
    each(
        store,
        grid,
        keys,
        sql,
        |r, b| {
            let kind: &str = r.try_get(b)?;
            let owner = match r.try_get::<_, Option<&str>>(b + 1)? {
                Some(o) => {
                    let next = owners.len() as u32;
                    Some(*owners.entry(o.to_string()).or_insert(next))
                }
                None => None,
            };
            Ok((kind_index.get(kind).copied(), owner, u(r, b + 2)?))
        },
        |&(k, owner, n), acc| {
            if let Some(k) = k {
                if acc.activities.len() < kinds.len() {
                    acc.activities.resize(kinds.len(), 0);
                }
                acc.activities[k] += n;
            }
            acc.activity_total += n;
            if let Some(o) = owner {
                acc.owners.insert(o);
            }
        },
    )
}

/// Spend carries its own attribute columns (no customer): one row per
/// attribute name, the whole business under the empty name.
fn read_spend(
    store: &Store,
    grid: &mut Grid,
    shape: &Shape,
    sql: &str,
    spend_attrs: &BTreeSet<String>,
) -> Result<()> {
    store.reader().pg_each(sql, |r| {
        let Some(p) = r.try_get::<_, Option<i64>>(0)? else {
            return Ok(());
        };
        let attr: &str = r.try_get(1)?;
        if !attr.is_empty() && !spend_attrs.contains(attr) {
            return Ok(()); // spend.csv has no such column: null, not (none)
        }
        let name = match shape.names.get(attr) {
            Some(configured) => format!("{configured}={}", r.try_get::<_, &str>(2)?),
            None => WHOLE.to_string(),
        };
        let key = grid.key(&name);
        let category: &str = r.try_get(3)?;
        let amount = f(r, 4)?;
        let acc = acc_at(&mut grid.cells, p as usize - 1, key);
        match category {
            "acquisition" => acc.acquisition_spend += amount,
            _ => acc.crm_spend += amount,
        }
        Ok(())
    })
}

fn read_customers(store: &Store, grid: &mut Grid, mut combos: SegKeys, sql: &str) -> Result<()> {
    let mut by_key: HashMap<usize, CustomerDays> = HashMap::new();
    let b = 2 + combos.width(grid);
    store.reader().pg_each(sql, |r| {
        let what: i64 = r.try_get(0)?;
        let day: i64 = r.try_get(1)?;
        let n = u(r, b)?;
        for key in combos.of(grid, r, 2)? {
            let days = by_key.entry(*key).or_default();
            match what {
                0 => days.acquired.push((day, n)),
                1 => days.churned.push((day, n)),
                _ => *days.same_period.entry(day as usize - 1).or_default() += n,
            }
        }
        Ok(())
    })?;
    customer_base_into(grid, by_key);
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
        let weeks: Vec<Period> = Period::parse("2026-W40")
            .unwrap()
            .range_to(Period::parse("2026-W47").unwrap());
        // Periods with gaps (some were cached) and months of unequal length.
        let gaps: Vec<Period> = ["2026-W40", "2026-W42", "2026-W45"]
            .iter()
            .map(|p| Period::parse(p).unwrap())
            .collect();
        let months: Vec<Period> = Period::parse("2026-01")
            .unwrap()
            .range_to(Period::parse("2026-04").unwrap());
        // Every record table with both kinds of own cells.
        let own: OwnCells = FileKind::ALL
            .into_iter()
            .filter(|k| k.has_segment_cells())
            .map(|k| (k.key(), (true, true)))
            .collect();
        let sql_of = |periods: &[Period], own: &OwnCells, combos: bool| -> Vec<String> {
            let grid = Grid::new(periods, &config);
            let w = Windows::new(24.0, 72.0, 4);
            let split = TicketSplit {
                windows: &w,
                first_pending: 1,
                day: grid.starts[1],
            };
            let mut shape = Shape::new(&grid, own);
            if combos {
                shape = shape.with_combos(HashMap::new());
            }
            let mut sql: Vec<String> = queries(&shape, 0, 1000, i64::MAX, &split)
                .into_iter()
                .map(|(_, sql)| sql)
                .collect();
            let source = shape.source("tickets", "opened_day", 0, split.day);
            sql.push(ticket_middles(
                &shape,
                &source,
                i64::MAX,
                &w,
                &[(0, 3), (0, 4)],
            ));
            sql
        };
        let (weekly, gapped, monthly) = (
            sql_of(&weeks, &own, false),
            sql_of(&gaps, &own, false),
            sql_of(&months, &own, false),
        );
        // With the per-customer segment table, with and without own cells.
        let none: OwnCells = own.keys().map(|k| (*k, (false, false))).collect();
        let (combo, combo_own) = (sql_of(&weeks, &none, true), sql_of(&weeks, &own, true));
        let mut all: Vec<String> = [&weekly, &gapped, &monthly, &combo, &combo_own]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        all.push(KINDS_SQL.to_string());
        all.push(COMBOS_SQL.to_string());
        let attrs = ["region", "tier", "owner"].map(String::from);
        all.push(crate::store::pg_segments::rebuild_sql(&attrs));
        all.extend(
            crate::store::migrations_pg::MIGRATIONS
                .iter()
                .map(|s| s.to_string()),
        );
        for sql in &all {
            let refused = crate::store::dialect::citus_refusals(sql);
            assert!(refused.is_empty(), "{refused:?} in: {sql}");
        }
        // Orders: one join with the pivoted attributes, no fan-out over
        // segments; contiguous weeks by arithmetic, other periods by
        // width_bucket over their starts.
        assert!(weekly[0].contains("a1.name = 'tier'") && weekly[0].contains("r1.name = 'tier'"));
        assert!(!weekly[0].contains("VALUES"), "{}", weekly[0]);
        assert!(!weekly[0].contains("width_bucket") && weekly[0].contains(") / 7 + 1"));
        assert!(gapped[0].contains("width_bucket") && monthly[0].contains("width_bucket"));
        // The per-customer segment table: one join, for every table without
        // own cells (and the customers); none with them.
        let grid = Grid::new(&weeks, &config);
        let w = Windows::new(24.0, 72.0, 4);
        let split = TicketSplit {
            windows: &w,
            first_pending: 1,
            day: grid.starts[1],
        };
        let names: Vec<&str> = queries(&Shape::new(&grid, &own), 0, 1, 0, &split)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for (name, sql) in names.iter().zip(&combo) {
            let joined = sql.contains("LEFT JOIN customer_segments cs") && !sql.contains("a0.");
            assert_eq!(joined, *name != "spend", "{name}: {sql}");
        }
        for (name, sql) in names.iter().zip(&combo_own) {
            let joined = sql.contains("customer_segments");
            assert_eq!(joined, *name == "customers", "{name}: {sql}");
        }
    }
}
