//! The set-based KPI engine. For a set of periods of one cadence, one grouped
//! query per source table (restricted to the days those periods cover, and
//! fanned out over every segment attribute by a join with a small table of
//! attribute names) feeds per-(period, segment) accumulators; the formulas of
//! kpis.md then turn each accumulator into values. Never one query per period
//! × KPI × segment.
//!
//! Results are cached in the store per (cadence, period, segment, KPI) with
//! the fingerprint of the settings that shape them; an import deletes the
//! cached periods its rows touch, so a weekly run computes one new week.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{Context, Result};

use super::catalogue::{self, KpiInfo, Uncertainty};
use super::stats;
use crate::config::Config;
use crate::ids::IdTable;
use crate::period::Period;
use crate::sources::FileKind;
use crate::store::Store;

mod formulas;
mod pg;
mod tickets;

use formulas::FormulaCtx;

pub use crate::model::{KpiValue, PeriodValues, NONE_VALUE, WHOLE};

/// What a call to [`ensure`] did: which periods it computed, which it found cached.
#[derive(Debug, Default, Clone)]
pub struct CacheStats {
    pub computed: Vec<String>,
    pub cached: usize,
}

/// The KPIs of this store and config: built-ins, one per activity kind, ROI
/// when objectives exist, and custom KPIs.
pub fn catalogue_for(store: &Store, config: &Config) -> Result<Vec<KpiInfo>> {
    let mut list: Vec<KpiInfo> = catalogue::BUILT_IN.iter().map(KpiInfo::from).collect();
    for kind in activity_kinds(store)? {
        let category = config
            .activity_categories
            .get(&kind)
            .copied()
            .unwrap_or(catalogue::Category::Input);
        list.push(KpiInfo::activity(&kind, category));
    }
    if !config.objectives.is_empty() {
        list.extend(catalogue::ROI.iter().map(KpiInfo::from));
    }
    for c in &config.custom_kpis {
        list.push(KpiInfo {
            id: c.id.clone(),
            title: c.title.clone(),
            formula: match &c.body {
                crate::config::CustomBody::Formula(e) => e.to_string(),
                crate::config::CustomBody::Sql(q) => {
                    format!(
                        "SQL: {}",
                        q.split_whitespace().collect::<Vec<_>>().join(" ")
                    )
                }
            },
            unit: c.unit,
            direction: c.direction,
            category: c.category,
            uncertainty: Uncertainty::None,
        });
    }
    Ok(list)
}

/// The distinct activity kinds, in order: on SQLite from the small table
/// the import keeps (store migration 14), rather than reading every activity.
pub fn activity_kinds(store: &Store) -> Result<Vec<String>> {
    if store.reader().is_postgres() {
        return pg::activity_kinds(store);
    }
    let mut stmt = store
        .reader()
        .prepare("SELECT kind FROM activity_kinds ORDER BY kind")?;
    let kinds = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(kinds.collect::<rusqlite::Result<_>>()?)
}

/// Makes sure every period is in the cache, computing the missing ones in one
/// set-based pass.
pub fn ensure(store: &mut Store, config: &Config, periods: &[Period]) -> Result<CacheStats> {
    let base = cache_fingerprint(store, config)?;
    let as_of = tickets_as_of(store)?;
    let fingerprint = |p: Period| match as_of {
        Some(t) if windows_open(p, t, config) => format!("{base}:as_of={t}"),
        _ => base.clone(),
    };
    let mut missing = Vec::new();
    let mut stats = CacheStats::default();
    for p in periods {
        if store.cached_fingerprint(*p)?.as_deref() == Some(fingerprint(*p).as_str()) {
            stats.cached += 1;
        } else {
            missing.push(*p);
        }
    }
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(stats);
    }
    let values = compute(store, config, &missing)?;
    // Periods whose ticket windows were still open at the as-of are cached
    // with it: a later as-of (an import that matures them) recomputes them.
    let mut groups: BTreeMap<String, BTreeMap<Period, PeriodValues>> = BTreeMap::new();
    for (p, v) in values {
        groups.entry(fingerprint(p)).or_default().insert(p, v);
    }
    for (fp, values) in &groups {
        store.save_kpis(values, fp)?;
        stats.computed.extend(values.keys().map(|p| p.id()));
    }
    stats.computed.sort();
    Ok(stats)
}

/// Whether a ticket of `p` can still be inside its window at `as_of` (ms):
/// the period's last local day ends at most 14 h after its UTC end (the
/// widest time-zone offset), and the longest window is the larger of the
/// SLA and the resolution window.
fn windows_open(p: Period, as_of: i64, config: &Config) -> bool {
    const MS_PER_DAY: i64 = 86_400_000;
    let epoch = crate::period::day_number(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
    let end = (p.end_day() - epoch) * MS_PER_DAY + 14 * 3_600_000;
    let window = (config.sla_hours.max(config.resolution_hours) * 3_600_000.0).ceil() as i64;
    as_of < end + window
}

/// The cache key: the settings that shape figures, plus the activity kinds
/// (a new kind adds a KPI to every period), plus in warehouse mode every
/// table's fingerprint (a change there recomputes).
fn cache_fingerprint(store: &Store, config: &Config) -> Result<String> {
    Ok(format!(
        "{}:{}{}",
        config.compute_fingerprint,
        activity_kinds(store)?.join(","),
        store.data_fingerprint()
    ))
}

/// Reads cached values of the periods (which must have been [`ensure`]d).
pub fn load(store: &Store, periods: &[Period]) -> Result<BTreeMap<Period, PeriodValues>> {
    store.load_kpis(periods)
}

/// Counts for one (period, segment) from every source table.
#[derive(Debug, Default, Clone)]
struct Acc {
    // customers
    start: u64,
    new: u64,
    churned: u64,
    end: u64,
    churned_of_start: u64,
    // orders
    orders: u64,
    revenue: Money,
    costed_amount: Money,
    cost: Money,
    costed: u64,
    // spend
    acquisition_spend: Money,
    crm_spend: Money,
    // deals
    created: u64,
    pipeline: Money,
    won: u64,
    lost: u64,
    won_amount: Money,
    won_cycle_days: f64,
    /// Won deals with a cycle (closed on or after their creation).
    won_cycle_n: u64,
    // tickets: what is known of each one's first response and resolution at
    // the data's as-of (kpis.md "Tickets and the data's as-of"), per ticket
    // in the periods whose tickets may still be pending ([`tickets::may_pend`]),
    // else in a bounded summary
    tickets: u64,
    response: Vec<stats::Outcome>,
    resolution: Vec<stats::Outcome>,
    ticket_summary: Option<Box<tickets::Summary>>,
    /// The ticket KPIs ([`formulas::ticket_kpis`]) of a period whose tickets
    /// were all read, computed then so that the outcomes can be dropped (the
    /// PostgreSQL engine reads tickets period by period).
    service: Option<Box<[KpiValue; 5]>>,
    // surveys
    nps_n: u64,
    promoters: u64,
    detractors: u64,
    csat_n: u64,
    csat_ok: u64,
    // activities: counts by kind index, owners by interned index
    activities: Vec<u64>,
    activity_total: u64,
    owners: BTreeSet<u32>,
}

/// A sum of money, exact to 1/10,000 in any order: an amount with at most
/// four decimals (the f64 nearest to one) is added as a whole number of
/// ten-thousandths, and the total rounded once, so that SQLite (row by row,
/// in index or table order) and PostgreSQL (`sum(amount::numeric)` per
/// group) give the same figure to the bit. Other amounts are added as they
/// come.
#[derive(Debug, Default, Clone)]
struct Money {
    units: i128,
    other: f64,
}

impl Money {
    fn total(&self) -> f64 {
        if self.units == 0 {
            return self.other;
        }
        let u = self.units.unsigned_abs();
        let sign = if self.units < 0 { "-" } else { "" };
        let exact: f64 = format!("{sign}{}.{:04}", u / 10_000, u % 10_000)
            .parse()
            .unwrap_or(f64::NAN);
        exact + self.other
    }
}

impl Money {
    /// Adds a sum made elsewhere (the PostgreSQL engine's [`pg::money`]):
    /// `units` ten-thousandths of the amounts this type keeps exactly, and
    /// the plain sum of the others.
    fn add_parts(&mut self, units: i128, other: f64) {
        self.units += units;
        self.other += other;
    }
}

impl std::ops::AddAssign<f64> for Money {
    fn add_assign(&mut self, x: f64) {
        let c = (x * 10_000.0).round();
        if c.abs() < 9.0e15 && c / 10_000.0 == x {
            self.units += c as i128;
        } else {
            self.other += x;
        }
    }
}

/// Each customer's segment keys, read once per computation: a record finds
/// its segments by its customer's key (store migration 15), instead of a
/// join per record and attribute. Compact, for a million customers and
/// more: the distinct combinations of segment keys (a few dozen) are
/// interned once, and each customer key indexes its combination in an
/// array ([`KeyCombos`]).
struct Segments {
    /// Per customer key, its combination.
    by_key: KeyCombos,
    /// Per combination, `stride` keys: the whole business, then one per
    /// attribute. Combination 0 is the one of a record with no customer,
    /// one the store does not know, or a customer without attributes.
    combos: Vec<usize>,
    combo_of: HashMap<Box<[usize]>, u32>,
    stride: usize,
}

impl Segments {
    fn new(unknown: Vec<usize>) -> Segments {
        let mut segments = Segments {
            by_key: KeyCombos::Narrow(Vec::new()),
            combos: Vec::new(),
            combo_of: HashMap::new(),
            stride: unknown.len(),
        };
        segments.intern(&unknown);
        segments
    }

    /// The combination of `keys` (`stride` of them), interned.
    fn intern(&mut self, keys: &[usize]) -> u32 {
        if let Some(c) = self.combo_of.get(keys) {
            return *c;
        }
        let c =
            u32::try_from(self.combos.len() / self.stride.max(1)).expect("combinations fit u32");
        self.combos.extend_from_slice(keys);
        self.combo_of.insert(keys.into(), c);
        c
    }

    fn combo(&self, c: u32) -> &[usize] {
        let i = c as usize * self.stride;
        &self.combos[i..i + self.stride]
    }

    /// The combination of customer key `customer`, `None` for a key no
    /// customer holds.
    fn combo_of_key(&self, customer: i64) -> Option<u32> {
        self.by_key.get(usize::try_from(customer).ok()?)
    }

    /// The segment keys of a record whose customer has key `customer`.
    fn keys_for(&self, customer: Option<i64>) -> &[usize] {
        let c = customer.and_then(|k| self.combo_of_key(k)).unwrap_or(0);
        self.combo(c)
    }

    /// Whether a record names a customer the customers file does not hold.
    fn is_unknown(&self, customer: Option<i64>) -> bool {
        customer.is_some_and(|k| self.combo_of_key(k).is_none())
    }
}

/// The accumulators of a computation: period index → segment → Acc. Segment
/// keys are interned once, and rows find their period by binary search.
struct Grid {
    periods: Vec<Period>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    /// Interned segment keys ("" or "region=EMEA").
    names: Vec<String>,
    name_of: HashMap<String, usize>,
    /// Per period, the accumulator of each segment key (dense: keys are few).
    cells: Vec<Vec<Option<Acc>>>,
    segments: Segments,
    /// Configured attribute names, and their lowercase store names.
    attrs: Vec<(String, String)>,
    /// Per attribute, the keys of the values records carry in their own cells.
    own: Vec<HashMap<String, usize>>,
    /// Per period, the rows naming a customer the customers file does not
    /// hold, by file (data quality; counted by the SQLite engine's pass).
    unknown: Vec<BTreeMap<&'static str, u64>>,
    /// Per period, the deals closed in it before they were created (data
    /// quality; counted by the SQLite engine's pass).
    created_after_close: Vec<u64>,
}

impl Grid {
    /// After the second pass over the tickets: the exact medians of the
    /// summarized (period, key) cells of the first `periods` periods.
    fn finish_ticket_summaries(&mut self, periods: usize) -> Result<()> {
        for row in self.cells.iter_mut().take(periods) {
            for s in row
                .iter_mut()
                .flatten()
                .filter_map(|a| a.ticket_summary.as_mut())
            {
                s.finish()?;
            }
        }
        Ok(())
    }

    fn new(periods: &[Period], config: &Config) -> Grid {
        let mut periods = periods.to_vec();
        periods.sort();
        periods.dedup();
        let attrs: Vec<(String, String)> = config
            .segment_attrs()
            .iter()
            .map(|a| (a.clone(), a.to_lowercase()))
            .collect();
        let mut grid = Grid {
            unknown: vec![BTreeMap::new(); periods.len()],
            created_after_close: vec![0; periods.len()],
            starts: periods.iter().map(|p| p.start_day()).collect(),
            ends: periods.iter().map(|p| p.end_day()).collect(),
            cells: vec![Vec::new(); periods.len()],
            periods,
            names: Vec::new(),
            name_of: HashMap::new(),
            segments: Segments::new(Vec::new()),
            own: vec![HashMap::new(); attrs.len()],
            attrs,
        };
        let whole = grid.key(WHOLE);
        let mut unknown = vec![whole];
        for j in 0..grid.attrs.len() {
            let none = format!("{}={NONE_VALUE}", grid.attrs[j].0);
            unknown.push(grid.key(&none));
        }
        grid.segments = Segments::new(unknown);
        grid
    }

    /// The interned index of a segment key.
    fn key(&mut self, name: &str) -> usize {
        if let Some(i) = self.name_of.get(name) {
            return *i;
        }
        self.names.push(name.to_string());
        self.name_of.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// The index of the period being computed that contains `day`.
    fn period_of(&self, day: i64) -> Option<usize> {
        let i = self.starts.partition_point(|s| *s <= day).checked_sub(1)?;
        (day < self.ends[i]).then_some(i)
    }

    /// Counts a row of `kind` placed on `day` (its description's
    /// `unknown_customer_day`) when it names an unknown customer.
    fn count_unknown(&mut self, kind: FileKind, day: Option<i64>, customer: Option<i64>) {
        if !self.segments.is_unknown(customer) {
            return;
        }
        if let Some(p) = day.and_then(|d| self.period_of(d)) {
            *self.unknown[p].entry(kind.key()).or_default() += 1;
        }
    }

    /// The key of `attr j = value` for a record's own cell.
    fn own_key(&mut self, j: usize, value: &str) -> usize {
        if let Some(k) = self.own[j].get(value) {
            return *k;
        }
        let k = self.key(&format!("{}={value}", self.attrs[j].0));
        self.own[j].insert(value.to_string(), k);
        k
    }

    /// Adds a record dated `day` to each of its segments (`keys`, from
    /// [`OwnCells::keys_into`]).
    fn add(&mut self, day: i64, keys: &[usize], mut f: impl FnMut(&mut Acc)) {
        let Some(p) = self.period_of(day) else { return };
        for k in keys {
            f(acc_at(&mut self.cells, p, *k));
        }
    }

    fn day_range(&self) -> (i64, i64) {
        (
            self.starts.first().copied().unwrap_or(0),
            self.ends.iter().copied().max().unwrap_or(0),
        )
    }
}

/// The accumulator of segment key `k` in period `p`, created on first use.
/// Each activity kind's position in `kinds` (the accumulators' order).
fn kind_index(kinds: &[String]) -> HashMap<&str, usize> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect()
}

fn acc_at(cells: &mut [Vec<Option<Acc>>], p: usize, k: usize) -> &mut Acc {
    let row = &mut cells[p];
    if row.len() <= k {
        row.resize_with(k + 1, || None);
    }
    row[k].get_or_insert_with(Acc::default)
}

/// A record file's own segment cells as its reader selects them (after its
/// other columns, from index `first`): per configured attribute the file
/// can carry, its `owner` column (deals, activities) or a lookup of its
/// `<record>_attributes` row by the record's id (a key probe per row, only
/// for attributes some import of the file had a column for). A record's
/// segment for an attribute is its own non-empty cell, else its customer's,
/// else `(none)` (kpis.md "Segments").
struct OwnCells {
    /// `, <cell>, <cell>`, to append to the select list.
    sql: String,
    /// The attribute names bound from `?3` on (lowercase, as stored).
    params: Vec<String>,
    /// The attribute index of each selected cell.
    attrs: Vec<usize>,
    first: usize,
}

impl OwnCells {
    fn of(store: &Store, grid: &Grid, kind: FileKind, first: usize) -> Result<OwnCells> {
        let table = kind.table();
        let (id, name) = (table.columns[0].name.as_str(), table.name);
        let seen = store.file_columns(kind.key())?;
        let mut own = OwnCells {
            sql: String::new(),
            params: Vec::new(),
            attrs: Vec::new(),
            first,
        };
        for (j, (_, lower)) in grid.attrs.iter().enumerate() {
            if lower == "owner" && kind.has_owner() {
                own.sql.push_str(&format!(", {name}.owner"));
            } else if let (Some((cells, _)), true) = (&table.attributes, seen.contains(lower)) {
                own.params.push(lower.clone());
                own.sql.push_str(&format!(
                    ", (SELECT value FROM {cells} WHERE {id} = {name}.{id} AND name = ?{})",
                    2 + own.params.len()
                ));
            } else {
                continue;
            }
            own.attrs.push(j);
        }
        Ok(own)
    }

    /// `?1 = lo, ?2 = hi`, then the attribute names.
    fn params(&self, lo: i64, hi: i64) -> Vec<rusqlite::types::Value> {
        use rusqlite::types::Value;
        [Value::Integer(lo), Value::Integer(hi)]
            .into_iter()
            .chain(self.params.iter().map(|p| Value::Text(p.clone())))
            .collect()
    }

    /// The segment keys of row `r`: its customer's, each attribute replaced
    /// by the record's own non-empty cell.
    fn keys_into(
        &self,
        grid: &mut Grid,
        r: &rusqlite::Row<'_>,
        customer: Option<i64>,
        keys: &mut Vec<usize>,
    ) -> Result<()> {
        keys.clear();
        keys.extend_from_slice(grid.segments.keys_for(customer));
        for (i, j) in self.attrs.iter().enumerate() {
            if let Some(v) = text(r, self.first + i)?.filter(|v| !v.is_empty()) {
                keys[1 + j] = grid.own_key(*j, v);
            }
        }
        Ok(())
    }
}

/// SQL for a spend row's segment value, given its joined attribute row `a`
/// and the fan-out row `s` of the `run_segments` scratch table.
const SEGMENT_VALUE: &str =
    "CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END";

/// Computes every KPI of `periods` (one cadence) for the whole business and
/// every segment, set-based: one query per source table for all of them.
pub fn compute(
    store: &Store,
    config: &Config,
    periods: &[Period],
) -> Result<BTreeMap<Period, PeriodValues>> {
    let mut out = BTreeMap::new();
    if periods.is_empty() {
        return Ok(out);
    }
    let mut grid = Grid::new(periods, config);
    let (lo, hi) = grid.day_range();
    let imported = store.imported_files()?;
    let kinds = activity_kinds(store)?;

    // Spend is segmented by its own columns: which attributes does it carry?
    let spend_attrs: BTreeSet<String> = store.file_columns("spend")?;

    let counts_unknown = !store.reader().is_postgres();
    if store.reader().is_postgres() {
        // Grouped in the database; only period × segment rows come back.
        pg::compute_into(
            store,
            &mut grid,
            lo,
            hi,
            tickets_as_of(store)?,
            (config.sla_hours, config.resolution_hours),
            &spend_attrs,
            &kinds,
        )?;
    } else {
        // Each reader's time, logged (`SCORECARD_LOG=scorecard::kpi=debug`).
        let mut started = std::time::Instant::now();
        let mut done = |table: &str| {
            tracing::debug!(
                table,
                ms = started.elapsed().as_millis() as u64,
                "engine: table read on SQLite"
            );
            started = std::time::Instant::now();
        };
        customers_into(store, &mut grid, hi)?;
        done("customers");
        orders_into(store, &mut grid, lo, hi)?;
        done("orders");
        deals_into(store, &mut grid, lo, hi)?;
        done("deals");
        let windows = (config.sla_hours, config.resolution_hours);
        tickets_into(store, &mut grid, lo, hi, tickets_as_of(store)?, windows)?;
        done("tickets");
        surveys_into(store, &mut grid, lo, hi)?;
        done("surveys");
        spend_into(store, &mut grid, lo, hi, &spend_attrs)?;
        done("spend");
        activities_into(store, &mut grid, lo, hi, &kinds)?;
        done("activities");
    }

    let ctx = FormulaCtx {
        imported: &imported,
        spend_attrs: &spend_attrs,
        kinds: &kinds,
        sla_hours: config.sla_hours,
        resolution_hours: config.resolution_hours,
    };
    // The whole business is always listed, even when empty.
    let whole = grid.key(WHOLE);
    for (i, p) in grid.periods.iter().enumerate() {
        acc_at(&mut grid.cells, i, whole);
        let by_segment: PeriodValues = grid.cells[i]
            .iter_mut()
            .enumerate()
            .filter_map(|(k, acc)| acc.as_mut().map(|acc| (k, acc)))
            .map(|(k, acc)| (grid.names[k].clone(), ctx.evaluate(&grid.names[k], acc)))
            .collect();
        out.insert(*p, by_segment);
    }
    if counts_unknown {
        for (i, p) in grid.periods.iter().enumerate() {
            let whole = out
                .get_mut(p)
                .and_then(|v| v.get_mut(WHOLE))
                .expect("listed above");
            for kind in FileKind::ALL
                .into_iter()
                .filter(|k| k.describe().unknown_customer_day.is_some())
            {
                let n = grid.unknown[i].get(kind.key()).copied().unwrap_or(0);
                whole.insert(
                    format!("{UNKNOWN_CUSTOMERS}{}", kind.key()),
                    KpiValue {
                        value: Some(n as f64),
                        ..Default::default()
                    },
                );
            }
            whole.insert(
                CREATED_AFTER_CLOSE.to_string(),
                KpiValue {
                    value: Some(grid.created_after_close[i] as f64),
                    ..Default::default()
                },
            );
        }
    }
    Ok(out)
}

/// The data-quality counts the SQLite engine keeps beside a period's KPIs
/// (in the KPI cache, under the whole business): the rows of each file
/// naming a customer the customers file does not hold, counted in the
/// engine's one pass over the rows instead of another pass per file when
/// the report is written. Not a KPI: [`take_unknown_customers`] takes them
/// out of the values before anything else reads them.
const UNKNOWN_CUSTOMERS: &str = "#unknown_customers.";

/// The other data-quality count the SQLite engine keeps beside a period's
/// KPIs, as [`UNKNOWN_CUSTOMERS`]: the deals closed in the period before
/// they were created (`extras::data_quality`'s note), counted in the
/// engine's pass over the deals instead of a look-up of every deal closed
/// in the period when its report is written. [`take_created_after_close`]
/// takes it out of the values.
const CREATED_AFTER_CLOSE: &str = "#created_after_close.deals";

/// Takes the counts of deals created after their close out of `values`:
/// per period, where the SQLite engine counted them (a period cached by an
/// older version has none: its report counts them by a query).
pub fn take_created_after_close(
    values: &mut BTreeMap<Period, PeriodValues>,
) -> BTreeMap<Period, u64> {
    let mut out = BTreeMap::new();
    for (p, by_segment) in values.iter_mut() {
        if let Some(v) = by_segment
            .get_mut(WHOLE)
            .and_then(|whole| whole.remove(CREATED_AFTER_CLOSE))
        {
            out.insert(*p, v.value.unwrap_or(0.0) as u64);
        }
    }
    out
}

/// Takes the unknown-customer counts out of `values`: per period, per file
/// (its table name), where the SQLite engine counted them.
pub fn take_unknown_customers(
    values: &mut BTreeMap<Period, PeriodValues>,
) -> BTreeMap<Period, BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (p, by_segment) in values.iter_mut() {
        let Some(whole) = by_segment.get_mut(WHOLE) else {
            continue;
        };
        let ids: Vec<String> = whole
            .keys()
            .filter(|id| id.starts_with(UNKNOWN_CUSTOMERS))
            .cloned()
            .collect();
        for id in ids {
            let v = whole.remove(&id).expect("listed");
            let file = id[UNKNOWN_CUSTOMERS.len()..].to_string();
            let n = v.value.unwrap_or(0.0) as u64;
            out.entry(*p).or_insert_with(BTreeMap::new).insert(file, n);
        }
    }
    out
}

/// Day counts of one segment's customers: acquisitions and churns by day,
/// and per period the customers acquired and churned within it.
#[derive(Default)]
struct CustomerDays {
    acquired: Vec<(i64, u64)>,
    churned: Vec<(i64, u64)>,
    same_period: HashMap<usize, u64>,
}

/// How many of `days` (sorted, with counts) fall before `day`, from prefix sums.
fn before(days: &[(i64, u64)], prefix: &[u64], day: i64) -> u64 {
    prefix[days.partition_point(|(d, _)| *d < day)]
}

fn prefix_sums(days: &mut [(i64, u64)]) -> Vec<u64> {
    days.sort_unstable();
    let mut prefix = Vec::with_capacity(days.len() + 1);
    prefix.push(0);
    for (_, c) in days.iter() {
        prefix.push(prefix.last().unwrap() + c);
    }
    prefix
}

/// Reads the customers (acquired before the last period's end) with their
/// segments, and derives the customer base of every period: with A(x) the
/// customers acquired before day x and C(x) those churned before x
/// (churned_on >= acquired_on, so C counts only acquired ones),
/// S = A(start) − C(start), E = A(end) − C(end), N = A(end) − A(start),
/// churned in P = C(end) − C(start), and L = churned in P minus those
/// acquired in P too.
fn customers_into(store: &Store, grid: &mut Grid, hi: i64) -> Result<()> {
    let stride = grid.segments.stride;
    let count: i64 = store
        .reader()
        .query_row("SELECT count(*) FROM customers", [], |r| r.get(0))?;
    // While the customers are read: each id's index here, and the
    // combination of each (0, none, until its attributes are read).
    let mut customers: Vec<(i64, Option<i64>)> = Vec::with_capacity(count.max(0) as usize);
    let mut combo_of: Vec<u32> = Vec::with_capacity(customers.capacity());
    let mut ids = IdTable::with_capacity(customers.capacity());
    {
        let mut stmt = store
            .reader()
            .prepare("SELECT customer_id, acquired_day, churned_day FROM customers")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let index = u32::try_from(customers.len()).context("more than 4 billion customers")?;
            ids.insert(r.get_ref(0)?.as_str()?, index);
            customers.push((r.get(1)?, r.get(2)?));
            combo_of.push(0);
        }
    }
    if stride > 1 {
        let mut stmt = store.reader().prepare(
            "SELECT customer_id, name, value FROM customer_attributes WHERE value <> ''",
        )?;
        let mut rows = stmt.query([])?;
        let mut keys = Vec::with_capacity(stride);
        while let Some(r) = rows.next()? {
            let name = r.get_ref(1)?.as_str()?;
            let Some(j) = grid.attrs.iter().position(|(_, lower)| lower == name) else {
                continue;
            };
            let Some(i) = ids.get(r.get_ref(0)?.as_str()?) else {
                continue;
            };
            let key = grid.key(&format!("{}={}", grid.attrs[j].0, r.get_ref(2)?.as_str()?));
            let c = &mut combo_of[i as usize];
            keys.clear();
            keys.extend_from_slice(grid.segments.combo(*c));
            keys[1 + j] = key;
            *c = grid.segments.intern(&keys);
        }
    }
    // Day counts per combination (few), then per key of each.
    #[derive(Default)]
    struct Counts {
        acquired: HashMap<i64, u64>,
        churned: HashMap<i64, u64>,
        same_period: HashMap<usize, u64>,
    }
    let mut by_combo: HashMap<u32, Counts> = HashMap::new();
    for ((acquired, churned), c) in customers.iter().zip(&combo_of) {
        if *acquired >= hi {
            continue;
        }
        let counts = by_combo.entry(*c).or_default();
        *counts.acquired.entry(*acquired).or_default() += 1;
        if let Some(ch) = churned {
            *counts.churned.entry(*ch).or_default() += 1;
            let same = grid
                .period_of(*acquired)
                .filter(|p| grid.period_of(*ch) == Some(*p));
            if let Some(p) = same {
                *counts.same_period.entry(p).or_default() += 1;
            }
        }
    }
    drop(customers);
    grid.segments.by_key = combos_by_key(store, &ids, &combo_of)?;
    drop((ids, combo_of));
    let mut by_key: HashMap<usize, CustomerDays> = HashMap::new();
    for (c, counts) in by_combo {
        for k in grid.segments.combo(c) {
            let days = by_key.entry(*k).or_default();
            days.acquired
                .extend(counts.acquired.iter().map(|(d, n)| (*d, *n)));
            days.churned
                .extend(counts.churned.iter().map(|(d, n)| (*d, *n)));
            for (p, n) in &counts.same_period {
                *days.same_period.entry(*p).or_default() += n;
            }
        }
    }
    customer_base_into(grid, by_key);
    Ok(())
}

/// Customer key → the combination of its customer, `MAX` for a key no
/// customer holds: one byte a key while there are fewer than 255
/// combinations (the usual case: a million customers in 1 MiB, within a
/// core's L2 cache), else four. Records name customers in no order, so
/// each lookup is a random read of this array: at 60 M rows and a million
/// customers the four-byte array's cache misses were 23 % of a backfill's
/// CPU.
enum KeyCombos {
    Narrow(Vec<u8>),
    Wide(Vec<u32>),
}

impl KeyCombos {
    /// From one u32 a key ([`NO_CUSTOMER`] for none), narrowed when it can.
    fn new(wide: Vec<u32>) -> KeyCombos {
        if wide
            .iter()
            .all(|c| *c == NO_CUSTOMER || *c < u32::from(u8::MAX))
        {
            KeyCombos::Narrow(
                wide.iter()
                    .map(|c| (*c).min(u32::from(u8::MAX)) as u8)
                    .collect(),
            )
        } else {
            KeyCombos::Wide(wide)
        }
    }

    /// The combination of `key`; None for a key no customer holds.
    fn get(&self, key: usize) -> Option<u32> {
        match self {
            KeyCombos::Narrow(v) => v.get(key).filter(|c| **c != u8::MAX).map(|c| u32::from(*c)),
            KeyCombos::Wide(v) => v.get(key).filter(|c| **c != NO_CUSTOMER).copied(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        match self {
            KeyCombos::Narrow(v) => v.len(),
            KeyCombos::Wide(v) => v.len(),
        }
    }
}

/// A key no customer holds, in [`combos_by_key`]'s array.
const NO_CUSTOMER: u32 = u32::MAX;

/// Each customer key of the records (store migration 15) → the combination
/// of its customer (`combo_of`, by the customer's index in `ids`);
/// [`NO_CUSTOMER`] for a key of no known customer.
fn combos_by_key(store: &Store, ids: &IdTable, combo_of: &[u32]) -> Result<KeyCombos> {
    let max: i64 = store.reader().query_row(
        "SELECT coalesce(max(customer_key), 0) FROM customer_keys",
        [],
        |r| r.get(0),
    )?;
    let mut by_key =
        vec![NO_CUSTOMER; usize::try_from(max).context("a negative customer key")? + 1];
    let mut stmt = store
        .reader()
        .prepare("SELECT customer_key, customer_id FROM customer_keys")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        if let Some(i) = ids.get(r.get_ref(1)?.as_str()?) {
            let key: i64 = r.get(0)?;
            by_key[usize::try_from(key).context("a negative customer key")?] = combo_of[i as usize];
        }
    }
    Ok(KeyCombos::new(by_key))
}

/// The customer base of every period and segment from its day counts.
fn customer_base_into(grid: &mut Grid, by_key: HashMap<usize, CustomerDays>) {
    for (key, mut days) in by_key {
        let a = prefix_sums(&mut days.acquired);
        let c = prefix_sums(&mut days.churned);
        for i in 0..grid.periods.len() {
            let (start, end) = (grid.starts[i], grid.ends[i]);
            let acquired_by_end = before(&days.acquired, &a, end);
            if acquired_by_end == 0 {
                continue; // no customer of this segment yet
            }
            let acquired_by_start = before(&days.acquired, &a, start);
            let churned_by_start = before(&days.churned, &c, start);
            let churned_by_end = before(&days.churned, &c, end);
            let acc = acc_at(&mut grid.cells, i, key);
            acc.start += acquired_by_start - churned_by_start;
            acc.end += acquired_by_end - churned_by_end;
            acc.new += acquired_by_end - acquired_by_start;
            acc.churned += churned_by_end - churned_by_start;
            acc.churned_of_start +=
                churned_by_end - churned_by_start - days.same_period.get(&i).copied().unwrap_or(0);
        }
    }
}

/// The rows of a dated file placed in days `[lo, hi)` (by its period day,
/// from its description), as `day, customer_key, columns…`.
fn dated_rows<'s>(
    store: &'s Store,
    kind: FileKind,
    columns: &str,
    own: &OwnCells,
    lo: i64,
    hi: i64,
) -> Result<rusqlite::CachedStatement<'s>> {
    let table = kind.key();
    let day = kind.describe().period_day.expect("a dated file");
    let from = source(store, table, day, lo, hi)?;
    store.reader().prepare(&format!(
        "SELECT {day}, customer_key, {columns}{cells} FROM {from} WHERE {day} >= ?1 AND {day} < ?2",
        cells = own.sql
    ))
}

/// The FROM source for reading `table` over days `[lo, hi)`: through its day
/// index when the range is a small part of the data (a weekly run), as a
/// plain scan when it covers most of it (a backfill), where following the
/// index would seek the table once per row.
fn source(store: &Store, table: &str, day: &str, lo: i64, hi: i64) -> Result<String> {
    let Some((min, max)) = super::extras::day_range(store, table, day)? else {
        return Ok(table.to_string());
    };
    let span = max + 1 - min;
    let covered = hi.min(max + 1) - lo.max(min);
    Ok(if covered * 2 >= span {
        store.reader().dialect().table_scan(table)
    } else {
        table.to_string()
    })
}

/// A nullable text column as `&str`.
fn text<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> Result<Option<&'a str>> {
    Ok(r.get_ref(i)?.as_str_or_null()?)
}

fn orders_into(store: &Store, grid: &mut Grid, lo: i64, hi: i64) -> Result<()> {
    let own = OwnCells::of(store, grid, FileKind::Orders, 4)?;
    let mut stmt = dated_rows(store, FileKind::Orders, "amount, cost", &own, lo, hi)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(own.params(lo, hi)))?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let amount: f64 = r.get(2)?;
        let cost: Option<f64> = r.get(3)?;
        let (day, customer) = (r.get(0)?, r.get(1)?);
        own.keys_into(grid, r, customer, &mut keys)?;
        grid.count_unknown(FileKind::Orders, Some(day), customer);
        grid.add(day, &keys, |acc| {
            acc.orders += 1;
            acc.revenue += amount;
            if let Some(c) = cost {
                acc.costed_amount += amount;
                acc.cost += c;
                acc.costed += 1;
            }
        });
    }
    Ok(())
}

fn deals_into(store: &Store, grid: &mut Grid, lo: i64, hi: i64) -> Result<()> {
    // One pass over the deals touching the range: created in it, or closed in
    // it. A backfill's range holds most deals: a plain scan, where the two
    // indexes' union would seek the table once per deal.
    let own = OwnCells::of(store, grid, FileKind::Deals, 5)?;
    let from = source(store, "deals", "created_day", lo, hi)?;
    let mut stmt = store.reader().prepare(&format!(
        "SELECT created_day, closed_day, stage, COALESCE(amount, 0), customer_key{} FROM {from}
         WHERE (created_day >= ?1 AND created_day < ?2) OR (closed_day >= ?1 AND closed_day < ?2)",
        own.sql
    ))?;
    let mut rows = stmt.query(rusqlite::params_from_iter(own.params(lo, hi)))?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let created: i64 = r.get(0)?;
        let closed: Option<i64> = r.get(1)?;
        let stage = r.get_ref(2)?.as_str()?;
        let amount: f64 = r.get(3)?;
        let customer = r.get(4)?;
        own.keys_into(grid, r, customer, &mut keys)?;
        grid.count_unknown(FileKind::Deals, closed, customer);
        if let Some(p) = closed
            .filter(|&c| c < created)
            .and_then(|c| grid.period_of(c))
        {
            grid.created_after_close[p] += 1;
        }
        let keys = keys.as_slice();
        grid.add(created, keys, |acc| {
            acc.created += 1;
            acc.pipeline += amount;
        });
        if let Some(closed) = closed {
            match stage {
                "won" => grid.add(closed, keys, |acc| {
                    acc.won += 1;
                    acc.won_amount += amount;
                    // A deal created after its close (a migrated record)
                    // has no sales cycle.
                    if closed >= created {
                        acc.won_cycle_days += (closed - created) as f64;
                        acc.won_cycle_n += 1;
                    }
                }),
                "lost" => grid.add(closed, keys, |acc| acc.lost += 1),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The instant (ms) the tickets' data is known up to: the as-of recorded by
/// the last import of tickets.csv, else the latest instant in the table.
pub(crate) fn tickets_as_of(store: &Store) -> Result<Option<i64>> {
    let key = crate::store::as_of_key(FileKind::Tickets);
    if let Some(t) = store.meta(&key)? {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&t) {
            return Ok(Some(t.timestamp_millis()));
        }
    }
    Ok(store
        .latest_values(
            "tickets",
            &["opened_at", "first_response_at", "resolved_at"],
        )?
        .into_iter()
        .flatten()
        .max())
}

/// A ticket event's outcome at the data's as-of (ms): `happened` with the
/// milliseconds it took, or still open since the opening instant `v`.
fn outcome(happened: bool, v: i64, as_of: i64) -> stats::Outcome {
    if happened {
        stats::Outcome::Happened(v)
    } else {
        stats::Outcome::Open(as_of.saturating_sub(v).max(0))
    }
}

/// The index of the first period whose tickets may still be pending at the
/// as-of ([`tickets::may_pend`]; the periods are sorted, so all later ones
/// may too), or the number of periods.
fn first_pending(grid: &Grid, as_of: Option<i64>, (sla, window): (f64, f64)) -> usize {
    grid.ends
        .iter()
        .position(|end| tickets::may_pend(*end, as_of, sla, window))
        .unwrap_or(grid.ends.len())
}

/// Tickets in bounded memory ([`tickets`]): the periods whose tickets are
/// all decided get one [`tickets::Summary`] per segment, their medians from
/// a second scan that reads only the durations of the middle buckets; the
/// last periods, whose tickets may be pending, keep each ticket's outcomes.
fn tickets_into(
    store: &Store,
    grid: &mut Grid,
    lo: i64,
    hi: i64,
    as_of: Option<i64>,
    windows: (f64, f64),
) -> Result<()> {
    let columns = "opened_at, first_response_at, resolved_at";
    let own = OwnCells::of(store, grid, FileKind::Tickets, 5)?;
    let w = tickets::Windows::new(windows.0, windows.1, 8);
    let exact_from = first_pending(grid, as_of, windows);
    let as_of = as_of.unwrap_or(i64::MAX);
    let mut keys = Vec::new();
    {
        let mut stmt = dated_rows(store, FileKind::Tickets, columns, &own, lo, hi)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(own.params(lo, hi)))?;
        while let Some(r) = rows.next()? {
            let Some(p) = grid.period_of(r.get(0)?) else {
                continue;
            };
            let opened: i64 = r.get(2)?;
            let (response, resolution) = tickets::outcomes(opened, r.get(3)?, r.get(4)?, as_of);
            let customer = r.get(1)?;
            own.keys_into(grid, r, customer, &mut keys)?;
            grid.count_unknown(FileKind::Tickets, r.get(0)?, customer);
            if p >= exact_from {
                for k in &keys {
                    let acc = acc_at(&mut grid.cells, p, *k);
                    acc.tickets += 1;
                    acc.response.push(response);
                    acc.resolution.push(resolution);
                }
                continue;
            }
            let reading = w.read(response, resolution).ok_or_else(|| {
                anyhow::anyhow!(
                    "internal error: a ticket opened at {opened} ms is still pending at the as-of {as_of} ms in {}, whose windows have passed",
                    grid.periods[p].id()
                )
            })?;
            for k in &keys {
                let acc = acc_at(&mut grid.cells, p, *k);
                acc.tickets += 1;
                acc.ticket_summary
                    .get_or_insert_with(Default::default)
                    .add(&reading);
            }
        }
    }
    // The buckets of the middle ranks, per period (few: one or two per segment).
    let mut wanted: Vec<Vec<usize>> = vec![Vec::new(); exact_from];
    let mut any = false;
    for (p, row) in grid.cells.iter_mut().enumerate().take(exact_from) {
        for s in row
            .iter_mut()
            .flatten()
            .filter_map(|a| a.ticket_summary.as_mut())
        {
            if s.plan() {
                any = true;
                for b in s.wanted() {
                    if !wanted[p].contains(&b) {
                        wanted[p].push(b);
                    }
                }
            }
        }
    }
    if any {
        // The second scan: only the response times in the wanted buckets.
        let mut stmt = dated_rows(store, FileKind::Tickets, columns, &own, lo, hi)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(own.params(lo, hi)))?;
        while let Some(r) = rows.next()? {
            let Some(p) = grid.period_of(r.get(0)?).filter(|p| *p < exact_from) else {
                continue;
            };
            let opened: i64 = r.get(2)?;
            let (response, resolution) = tickets::outcomes(opened, r.get(3)?, r.get(4)?, as_of);
            let Some(reading) = w.read(response, resolution) else {
                continue;
            };
            let (Some(b), Some(ms)) = (reading.bucket, reading.response_ms()) else {
                continue;
            };
            if !wanted[p].contains(&b) {
                continue;
            }
            own.keys_into(grid, r, r.get(1)?, &mut keys)?;
            for k in &keys {
                if let Some(s) = acc_at(&mut grid.cells, p, *k).ticket_summary.as_mut() {
                    s.offer(b, ms, 1);
                }
            }
        }
    }
    grid.finish_ticket_summaries(exact_from)
}

fn surveys_into(store: &Store, grid: &mut Grid, lo: i64, hi: i64) -> Result<()> {
    let own = OwnCells::of(store, grid, FileKind::Surveys, 4)?;
    let mut stmt = dated_rows(store, FileKind::Surveys, "kind, score", &own, lo, hi)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(own.params(lo, hi)))?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let nps = r.get_ref(2)?.as_str()? == "nps";
        let score: i64 = r.get(3)?;
        let (day, customer) = (r.get(0)?, r.get(1)?);
        own.keys_into(grid, r, customer, &mut keys)?;
        grid.count_unknown(FileKind::Surveys, Some(day), customer);
        grid.add(day, &keys, |acc| {
            if nps {
                acc.nps_n += 1;
                acc.promoters += u64::from(score >= 9);
                acc.detractors += u64::from(score <= 6);
            } else {
                acc.csat_n += 1;
                acc.csat_ok += u64::from(score >= 4);
            }
        });
    }
    Ok(())
}

fn spend_into(
    store: &Store,
    grid: &mut Grid,
    lo: i64,
    hi: i64,
    spend_attrs: &BTreeSet<String>,
) -> Result<()> {
    // Spend carries its own attribute columns instead of a customer: a small
    // table, fanned out over the attributes in SQL.
    let dialect = store.dialect();
    let attrs = grid.attrs.iter().map(|(_, lower)| lower.as_str());
    store.scratch_keys("run_segments", "attr", std::iter::once(WHOLE).chain(attrs))?;
    let sql = format!(
        "SELECT x.spent_day, s.attr, {SEGMENT_VALUE} AS seg, x.category, x.amount
         FROM spend x CROSS JOIN {segs} s
         LEFT JOIN spend_attributes a ON a.spend_id = x.spend_id AND a.name = s.attr
         WHERE x.spent_day >= ?1 AND x.spent_day < ?2",
        segs = dialect.scratch("run_segments")
    );
    let mut stmt = store.reader().prepare(&sql)?;
    let mut rows = stmt.query([lo, hi])?;
    while let Some(r) = rows.next()? {
        let Some(p) = grid.period_of(r.get(0)?) else {
            continue;
        };
        let attr = r.get_ref(1)?.as_str()?;
        if !attr.is_empty() && !spend_attrs.contains(attr) {
            continue; // spend.csv has no such column: its segment KPIs are null, not (none)
        }
        let name = match grid.attrs.iter().find(|(_, lower)| lower == attr) {
            Some((configured, _)) => format!("{configured}={}", r.get_ref(2)?.as_str()?),
            None => WHOLE.to_string(),
        };
        let key = grid.key(&name);
        let category = r.get_ref(3)?.as_str()?;
        let amount: f64 = r.get(4)?;
        let acc = acc_at(&mut grid.cells, p, key);
        match category {
            "marketing" | "sales" => acc.acquisition_spend += amount,
            "crm" => acc.crm_spend += amount,
            _ => {}
        }
    }
    Ok(())
}

fn activities_into(
    store: &Store,
    grid: &mut Grid,
    lo: i64,
    hi: i64,
    kinds: &[String],
) -> Result<()> {
    let own = OwnCells::of(store, grid, FileKind::Activities, 4)?;
    let mut stmt = dated_rows(store, FileKind::Activities, "kind, owner", &own, lo, hi)?;
    let kind_index = kind_index(kinds);
    let mut owners: HashMap<String, u32> = HashMap::new();
    let mut rows = stmt.query(rusqlite::params_from_iter(own.params(lo, hi)))?;
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let kind = kind_index.get(r.get_ref(2)?.as_str()?).copied();
        let owner = match text(r, 3)?.filter(|o| !o.is_empty()) {
            Some(o) => match owners.get(o) {
                Some(i) => Some(*i),
                None => {
                    let i = owners.len() as u32;
                    owners.insert(o.to_string(), i);
                    Some(i)
                }
            },
            None => None,
        };
        own.keys_into(grid, r, r.get(1)?, &mut keys)?;
        grid.add(r.get(0)?, &keys, |acc| {
            if let Some(k) = kind {
                if acc.activities.len() < kinds.len() {
                    acc.activities.resize(kinds.len(), 0);
                }
                acc.activities[k] += 1;
            }
            acc.activity_total += 1;
            if let Some(o) = owner {
                acc.owners.insert(o);
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{self, ImportOptions};
    use proptest::prelude::*;

    fn store_with(config: &Config, files: &[(&str, String)]) -> Store {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let mut store = Store::in_memory().unwrap();
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        ingest::import(
            &mut store,
            config,
            &[dir.path().to_path_buf()],
            &ImportOptions::default(),
            now,
        )
        .unwrap();
        store
    }

    fn week(id: &str) -> Period {
        Period::parse(id).unwrap()
    }

    /// A key's combination reads the same from one byte a key as from four,
    /// and four are kept when a combination does not fit a byte.
    #[test]
    fn key_combos_narrow_only_when_every_combination_fits_a_byte() {
        let few = vec![NO_CUSTOMER, 0, 3, 254, NO_CUSTOMER, 1];
        let narrow = KeyCombos::new(few.clone());
        assert!(matches!(narrow, KeyCombos::Narrow(_)));
        for (k, c) in few.iter().enumerate() {
            let want = (*c != NO_CUSTOMER).then_some(*c);
            assert_eq!(narrow.get(k), want, "key {k}");
        }
        assert_eq!(narrow.get(few.len()), None, "past the end");
        let many = vec![0, 255, NO_CUSTOMER, 70_000];
        let wide = KeyCombos::new(many.clone());
        assert!(matches!(wide, KeyCombos::Wide(_)));
        assert_eq!(
            (0..5).map(|k| wide.get(k)).collect::<Vec<_>>(),
            [Some(0), Some(255), None, Some(70_000), None]
        );
    }

    /// Each customer's segments through the interned combinations: its
    /// attributes, `(none)` for an empty or missing one, the unknown
    /// combination for an unknown customer or none; long ids too.
    #[test]
    fn a_customer_finds_its_segments_in_the_compact_lookup() {
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\", \"plan\"]\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let long = "a-customer-id-much-longer-than-a-slot-holds-1";
        let long2 = "a-customer-id-much-longer-than-a-slot-holds-2";
        let mut customers = String::from("customer_id,acquired_on,region,plan\n");
        customers.push_str(&format!(
            "C1,2026-01-05,EMEA,Pro\nC2,2026-01-05,,\nC3,2026-01-05,APAC,\n{long},2026-01-05,EMEA,Basic\n{long2},2026-01-05,,Pro\n"
        ));
        for i in 0..500 {
            let region = ["EMEA", "APAC", ""][i % 3];
            customers.push_str(&format!("N{i},2026-01-05,{region},Pro\n"));
        }
        // An order of each (so each has a key), and of two unknown ones.
        let mut orders = String::from("order_id,customer_id,ordered_on,amount\n");
        let named: Vec<String> = ["C1", "C2", "C3", long, long2, "X", "c1"]
            .into_iter()
            .map(String::from)
            .chain((0..500).map(|i| format!("N{i}")))
            .collect();
        for (i, c) in named.iter().enumerate() {
            orders.push_str(&format!("O{i},{c},2026-11-17,5\n"));
        }
        let store = store_with(
            &config,
            &[("customers.csv", customers), ("orders.csv", orders)],
        );
        let periods = [week("2026-W47")];
        let mut grid = Grid::new(&periods, &config);
        let hi = grid.day_range().1;
        customers_into(&store, &mut grid, hi).unwrap();
        let key = |c: &str| -> i64 {
            store
                .reader()
                .query_row(
                    "SELECT customer_key FROM customer_keys WHERE customer_id = ?1",
                    [c],
                    |r| r.get(0),
                )
                .unwrap()
        };
        let names = |c: Option<&str>| -> Vec<String> {
            grid.segments
                .keys_for(c.map(key))
                .iter()
                .map(|k| grid.names[*k].clone())
                .collect()
        };
        let of = |w: [&str; 3]| w.map(String::from).to_vec();
        assert_eq!(names(Some("C1")), of(["", "region=EMEA", "plan=Pro"]));
        let none = of(["", "region=(none)", "plan=(none)"]);
        assert_eq!(names(Some("C2")), none, "empty attributes");
        assert_eq!(names(Some("C3")), of(["", "region=APAC", "plan=(none)"]));
        assert_eq!(names(Some(long)), of(["", "region=EMEA", "plan=Basic"]));
        assert_eq!(names(Some(long2)), of(["", "region=(none)", "plan=Pro"]));
        assert_eq!(names(Some("N4")), of(["", "region=APAC", "plan=Pro"]));
        assert_eq!(names(Some("N5")), of(["", "region=(none)", "plan=Pro"]));
        assert_eq!(names(Some("X")), none, "unknown customer");
        assert_eq!(names(Some("c1")), none, "ids are case-sensitive");
        assert_eq!(names(None), none, "no customer");
        let past_the_end = grid.segments.by_key.len() as i64;
        let unknown = grid.segments.combo(0);
        assert_eq!(
            grid.segments.keys_for(Some(past_the_end)),
            unknown,
            "a key past the end"
        );
        assert_eq!(grid.segments.keys_for(Some(-1)), unknown, "a negative key");
        // Combinations are interned once (with those met on the way, as
        // one attribute is read before the other): not one per customer.
        let combos = grid.segments.combos.len() / grid.segments.stride;
        assert!((6..=10).contains(&combos), "{combos} combinations");
        // And the customer base counts each customer once per segment.
        let emea = grid.names.iter().position(|n| n == "region=EMEA").unwrap();
        let acc = grid.cells[0][emea].as_ref().unwrap();
        assert_eq!(acc.end, 2 + 167);
    }

    /// The grouped PostgreSQL readers against SQLite's row-by-row ones on a
    /// generated business, the tiny fixture's awkward rows and a second
    /// snapshot, in a time zone that moves tickets across midnight: the same
    /// figures to the bit, computed and cached.
    #[test]
    fn postgres_computes_what_sqlite_computes() {
        let mut stores = Store::test_stores("postgres_computes_what_sqlite_computes");
        if stores.len() < 2 {
            return;
        }
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\", \"plan\"]\ntimezone = \"America/New_York\"\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let snap = tempfile::tempdir().unwrap();
        crate::demo::generate::generate(
            snap.path(),
            &crate::demo::generate::DemoOptions {
                weeks: 16,
                seed: 3,
                end: "2026-11-23".parse().unwrap(),
                customers: 300,
            },
        )
        .unwrap();
        let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny");
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        let periods = week("2026-W30").range_to(week("2026-W47"));
        // Every third week: periods with gaps (found by width_bucket on
        // PostgreSQL, not by arithmetic).
        let gapped: Vec<Period> = periods.iter().step_by(3).copied().collect();
        let mut gapped_results = Vec::new();
        let mut results = Vec::new();
        for store in &mut stores {
            for dir in [snap.path(), tiny.as_path()] {
                ingest::import(
                    store,
                    &config,
                    &[dir.to_path_buf()],
                    &ImportOptions::default(),
                    now,
                )
                .unwrap();
            }
            let mut gapped_values = compute(store, &config, &gapped).unwrap();
            // The SQLite engine's unknown-customer counts are no KPIs (the
            // extras' tests hold them to the data-quality queries).
            take_unknown_customers(&mut gapped_values);
            take_created_after_close(&mut gapped_values);
            gapped_results.push(gapped_values);
            let mut computed = compute(store, &config, &periods).unwrap();
            ensure(store, &config, &periods).unwrap();
            assert_eq!(
                load(store, &periods).unwrap(),
                computed,
                "the cache keeps the figures"
            );
            take_unknown_customers(&mut computed);
            take_created_after_close(&mut computed);
            results.push(computed);
        }
        assert_eq!(results[0].len(), periods.len());
        for (p, by_segment) in &results[0] {
            let other = &results[1][p];
            assert_eq!(
                by_segment.keys().collect::<Vec<_>>(),
                other.keys().collect::<Vec<_>>(),
                "{}",
                p.id()
            );
            for (segment, kpis) in by_segment {
                for (kpi, v) in kpis {
                    assert_eq!(
                        Some(v),
                        other[segment].get(kpi),
                        "{} {segment} {kpi}",
                        p.id()
                    );
                }
            }
        }
        assert_eq!(gapped_results[0].len(), gapped.len());
        assert_eq!(gapped_results[0], gapped_results[1], "periods with gaps");
        assert!(
            stores[1].pg_transfer().0 > 0,
            "grouped rows came over the wire"
        );
        // The import built the per-customer segment table, which the
        // figures above came from; without it (the joins of warehouse mode)
        // the same figures.
        let attrs = crate::store::pg_segments::configured(&config);
        assert!(stores[1].customer_segments_hold(&attrs).unwrap());
        stores[1].set_meta("customer_segments", "[]").unwrap();
        assert!(!stores[1].customer_segments_hold(&attrs).unwrap());
        assert_eq!(compute(&stores[1], &config, &periods).unwrap(), results[1]);
        stores[1].ensure_customer_segments(&attrs).unwrap();
        assert!(stores[1].customer_segments_hold(&attrs).unwrap());
        assert_eq!(compute(&stores[1], &config, &periods).unwrap(), results[1]);
    }

    /// The bounded ticket summaries (every period but the last, whose
    /// tickets may be pending) against the five ticket KPIs computed from
    /// every ticket's outcomes, for the whole business: the same figures
    /// to the bit, medians found by the second scan included.
    #[test]
    fn bounded_ticket_kpis_are_the_per_ticket_formulas() {
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\"]\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let snap = tempfile::tempdir().unwrap();
        crate::demo::generate::generate(
            snap.path(),
            &crate::demo::generate::DemoOptions {
                weeks: 12,
                seed: 11,
                end: "2026-11-23".parse().unwrap(),
                customers: 400,
            },
        )
        .unwrap();
        let mut store = Store::in_memory().unwrap();
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        let paths = [snap.path().to_path_buf()];
        ingest::import(&mut store, &config, &paths, &ImportOptions::default(), now).unwrap();
        let periods = week("2026-W36").range_to(week("2026-W47"));
        let as_of = tickets_as_of(&store).unwrap();
        let windows = (config.sla_hours, config.resolution_hours);
        let grid = Grid::new(&periods, &config);
        let exact_from = first_pending(&grid, as_of, windows);
        assert!(
            (1..periods.len()).contains(&exact_from),
            "both kinds of periods: {exact_from}"
        );
        let computed = compute(&store, &config, &periods).unwrap();
        let rows = store
            .reader()
            .rows(
                "SELECT opened_day, opened_at, first_response_at, resolved_at FROM tickets",
                [],
            )
            .unwrap();
        let mut by_period: BTreeMap<usize, (Vec<stats::Outcome>, Vec<stats::Outcome>)> =
            BTreeMap::new();
        for r in &rows {
            let Some(p) = grid.period_of(r.get(0).unwrap()) else {
                continue;
            };
            let (a, b) = tickets::outcomes(
                r.get(1).unwrap(),
                r.get(2).unwrap(),
                r.get(3).unwrap(),
                as_of.unwrap(),
            );
            let e = by_period.entry(p).or_default();
            e.0.push(a);
            e.1.push(b);
        }
        let mut medians = 0;
        for (i, p) in grid.periods.iter().enumerate() {
            let (response, resolution) = by_period.remove(&i).unwrap_or_default();
            let expected = formulas::ticket_kpis(&response, &resolution, windows.0, windows.1);
            let got = &computed[p][WHOLE];
            for (id, v) in ["avg_first_response_hours", "median_first_response_hours"]
                .iter()
                .chain(&[
                    "first_response_sla_rate",
                    "avg_resolution_hours",
                    "resolution_rate",
                ])
                .zip(expected.iter())
            {
                assert_eq!(&got[*id], v, "{} {id}", p.id());
            }
            medians += usize::from(got["median_first_response_hours"].value.is_some());
        }
        assert!(medians > 6, "{medians}");
    }

    /// A change of the report time zone derives the tickets' local days
    /// again, on both backends (on PostgreSQL in one set-based UPDATE, in
    /// the server's time-zone database): the same days as an import in the
    /// new zone, and the cache emptied.
    #[test]
    fn a_new_time_zone_rederives_the_local_days_on_both_backends() {
        let dir = tempfile::tempdir().unwrap();
        let tickets = "ticket_id,opened_at\nT1,2026-11-16T03:30:00Z\nT2,2026-11-16T05:30:00Z\nT3,2026-11-17T23:30:00-05:00\n";
        std::fs::write(dir.path().join("tickets.csv"), tickets).unwrap();
        let config = |tz: &str| {
            Config::from_toml(
                &format!("[report]\ntimezone = \"{tz}\"\n"),
                std::path::Path::new("."),
                None,
                &Default::default(),
            )
            .unwrap()
        };
        let (utc, ny, tokyo) = (
            config("UTC"),
            config("America/New_York"),
            config("Asia/Tokyo"),
        );
        let days = |s: &Store| -> Vec<(String, i64)> {
            s.reader()
                .rows(
                    "SELECT ticket_id, opened_day FROM tickets ORDER BY ticket_id",
                    [],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
                .collect()
        };
        let day = |d: &str| crate::period::day_number(d.parse().unwrap());
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        for mut s in Store::test_stores("a_new_time_zone_rederives_the_local_days") {
            let paths = [dir.path().to_path_buf()];
            ingest::import(&mut s, &utc, &paths, &ImportOptions::default(), now).unwrap();
            let w = [week("2026-W47")];
            ensure(&mut s, &utc, &w).unwrap();
            assert_eq!(
                days(&s),
                [
                    ("T1".to_string(), day("2026-11-16")),
                    ("T2".to_string(), day("2026-11-16")),
                    ("T3".to_string(), day("2026-11-18")),
                ]
            );
            ingest::ensure_timezone(&mut s, &ny).unwrap();
            assert_eq!(
                days(&s),
                [
                    ("T1".to_string(), day("2026-11-15")),
                    ("T2".to_string(), day("2026-11-16")),
                    ("T3".to_string(), day("2026-11-17")),
                ],
                "postgres: {}",
                s.is_postgres()
            );
            assert_eq!(s.cached_fingerprint(w[0]).unwrap(), None, "cache emptied");
            ingest::ensure_timezone(&mut s, &tokyo).unwrap();
            assert_eq!(
                days(&s),
                [
                    ("T1".to_string(), day("2026-11-16")),
                    ("T2".to_string(), day("2026-11-16")),
                    ("T3".to_string(), day("2026-11-18")),
                ]
            );
        }
    }

    /// kpis.md "Segments": on each of the five record files, a record's own
    /// cell wins over its customer's attribute, which wins over `(none)`; an
    /// empty cell is no cell; `owner` is deals' and activities' own column
    /// and an extra column elsewhere; on both engines.
    #[test]
    fn a_record_cell_wins_over_its_customer_then_none() {
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\", \"Owner\"]\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        // (customer, own region, own owner): C1 is EMEA / carol, C2 has
        // empty attributes, Y is unknown, the fourth record has no customer
        // (orders require one: an unknown X).
        let records = [
            ("C1", "APAC", ""),
            ("C1", "", "bob"),
            ("Y", "AMER", "alice"),
            ("", "", ""),
            ("C2", "", ""),
        ];
        type Line = fn(usize, &str, &str, &str) -> String;
        let files: [(&str, &str, &str, Line); 5] = [
            (
                "deals",
                "deal_id,created_on,stage,customer_id,owner,region",
                "deals_created",
                |i, c, o, r| format!("D{i},2026-11-17,open,{c},{o},{r}"),
            ),
            (
                "orders",
                "order_id,ordered_on,amount,customer_id,owner,region",
                "orders",
                |i, c, o, r| {
                    format!(
                        "O{i},2026-11-17,5,{},{o},{r}",
                        if c.is_empty() { "X" } else { c }
                    )
                },
            ),
            (
                "tickets",
                "ticket_id,opened_at,customer_id,owner,region",
                "tickets_opened",
                |i, c, o, r| format!("T{i},2026-11-17T09:00:00Z,{c},{o},{r}"),
            ),
            (
                "surveys",
                "response_id,answered_on,kind,score,customer_id,owner,region",
                "nps_responses",
                |i, c, o, r| format!("S{i},2026-11-17,nps,9,{c},{o},{r}"),
            ),
            (
                "activities",
                "activity_id,occurred_on,kind,customer_id,owner,region",
                "activities.call",
                |i, c, o, r| format!("A{i},2026-11-17,call,{c},{o},{r}"),
            ),
        ];
        let expected = [
            ("", 5.0),
            ("Owner=(none)", 2.0),
            ("Owner=alice", 1.0),
            ("Owner=bob", 1.0),
            ("Owner=carol", 1.0),
            ("region=(none)", 2.0),
            ("region=AMER", 1.0),
            ("region=APAC", 1.0),
            ("region=EMEA", 1.0),
        ];
        let customers =
            "customer_id,acquired_on,region,owner\nC1,2026-01-01,EMEA,carol\nC2,2026-01-01,,\n";
        for (file, header, kpi, line) in files {
            let mut text = format!("{header}\n");
            for (i, (c, r, o)) in records.iter().enumerate() {
                text.push_str(&line(i, c, o, r));
                text.push('\n');
            }
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("customers.csv"), customers).unwrap();
            std::fs::write(dir.path().join(format!("{file}.csv")), &text).unwrap();
            let test = format!("a_record_cell_wins_{file}");
            for mut store in Store::test_stores(&test) {
                let now = "2026-11-23T00:00:00Z".parse().unwrap();
                let paths = [dir.path().to_path_buf()];
                ingest::import(&mut store, &config, &paths, &ImportOptions::default(), now)
                    .unwrap();
                let v = compute(&store, &config, &[week("2026-W47")]).unwrap();
                let got: Vec<(&str, f64)> = v[&week("2026-W47")]
                    .iter()
                    .filter_map(|(seg, kpis)| Some((seg.as_str(), kpis.get(kpi)?.value?)))
                    .filter(|(_, n)| *n > 0.0)
                    .collect();
                assert_eq!(got, expected, "{file} on {}", store.describe());
            }
        }
    }

    #[test]
    fn tickets_near_midnight_follow_the_report_time_zone() {
        // 03:30 UTC on Monday 11-16 is still Sunday 11-15 in New York: week 46.
        let tickets =
            "ticket_id,opened_at\nT1,2026-11-16T03:30:00Z\nT2,2026-11-16T05:30:00Z\n".to_string();
        let ny = Config::from_toml(
            "[report]\ntimezone = \"America/New_York\"\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let store = store_with(&ny, &[("tickets.csv", tickets.clone())]);
        let v = compute(&store, &ny, &[week("2026-W46"), week("2026-W47")]).unwrap();
        assert_eq!(
            v[&week("2026-W46")][WHOLE]["tickets_opened"].value,
            Some(1.0)
        );
        assert_eq!(
            v[&week("2026-W47")][WHOLE]["tickets_opened"].value,
            Some(1.0)
        );
        let utc =
            Config::from_toml("", std::path::Path::new("."), None, &Default::default()).unwrap();
        let mut store = store_with(&utc, &[("tickets.csv", tickets)]);
        let v = compute(&store, &utc, &[week("2026-W46"), week("2026-W47")]).unwrap();
        assert_eq!(
            v[&week("2026-W47")][WHOLE]["tickets_opened"].value,
            Some(2.0)
        );
        // Changing the report time zone later re-derives the local days.
        ingest::ensure_timezone(&mut store, &ny).unwrap();
        let v = compute(&store, &ny, &[week("2026-W46"), week("2026-W47")]).unwrap();
        assert_eq!(
            v[&week("2026-W46")][WHOLE]["tickets_opened"].value,
            Some(1.0)
        );
    }

    #[test]
    fn never_imported_is_null_and_imported_but_empty_is_zero() {
        let config =
            Config::from_toml("", std::path::Path::new("."), None, &Default::default()).unwrap();
        let store = store_with(
            &config,
            &[(
                "orders.csv",
                "order_id,customer_id,ordered_on,amount\nO1,C1,2026-01-05,5\n".into(),
            )],
        );
        let v = compute(&store, &config, &[week("2026-W47")]).unwrap();
        let kpis = &v[&week("2026-W47")][WHOLE];
        assert_eq!(kpis["orders"].value, Some(0.0));
        assert_eq!(kpis["average_order_value"].n, Some(0));
        assert_eq!(kpis["average_order_value"].value, None);
        assert_eq!(kpis["nps"].value, None);
        assert_eq!(kpis["nps"].n, None);
        assert_eq!(
            kpis["nps"].reason.as_deref(),
            Some("no data: surveys.csv was never imported")
        );
    }

    #[test]
    fn spend_without_the_attribute_lists_no_none_segment() {
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\"]\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let store = store_with(
            &config,
            &[
                (
                    "customers.csv",
                    "customer_id,acquired_on,region\nC1,2026-01-01,EMEA\n".into(),
                ),
                (
                    "spend.csv",
                    "spend_id,spent_on,category,amount\nS1,2026-11-17,marketing,10\n".into(),
                ),
            ],
        );
        let v = compute(&store, &config, &[week("2026-W47")]).unwrap();
        let segments: Vec<&String> = v[&week("2026-W47")].keys().collect();
        assert_eq!(segments, [&"".to_string(), &"region=EMEA".to_string()]);
        let emea = &v[&week("2026-W47")]["region=EMEA"];
        assert_eq!(
            emea["acquisition_spend"].reason.as_deref(),
            Some("spend.csv has no region column")
        );
        assert_eq!(
            v[&week("2026-W47")][WHOLE]["acquisition_spend"].value,
            Some(10.0)
        );
    }

    #[test]
    fn w53_and_its_year_ago_week_are_computed() {
        let config =
            Config::from_toml("", std::path::Path::new("."), None, &Default::default()).unwrap();
        let orders = "order_id,customer_id,ordered_on,amount\nO1,C1,2026-12-28,5\nO2,C1,2027-01-03,7\nO3,C1,2025-12-22,11\n".to_string();
        let store = store_with(&config, &[("orders.csv", orders)]);
        let w53 = week("2026-W53");
        let v = compute(&store, &config, &[w53, w53.year_ago()]).unwrap();
        assert_eq!(v[&w53][WHOLE]["revenue"].value, Some(12.0));
        assert_eq!(v[&week("2025-W52")][WHOLE]["revenue"].value, Some(11.0));
    }

    fn period_day(date: &str) -> i64 {
        crate::period::day_number(date.parse().unwrap())
    }

    fn customers_csv(rows: &[(u8, Option<u8>)]) -> String {
        // Days counted from Monday 2026-10-05; six weeks of history.
        let base = chrono::NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        let mut s = String::from("customer_id,acquired_on,churned_on,region\n");
        for (i, (a, c)) in rows.iter().enumerate() {
            let acquired = base + chrono::Duration::days(i64::from(*a));
            let churned = c
                .map(|c| (acquired + chrono::Duration::days(i64::from(c))).to_string())
                .unwrap_or_default();
            s.push_str(&format!(
                "C{i},{acquired},{churned},{}\n",
                ["EMEA", "APAC"][i % 2]
            ));
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
        /// Laws: churn within 0..100, retention at most 100, NPS within
        /// -100..100, intervals contain their value; re-importing is a no-op.
        #[test]
        fn rates_stay_in_their_ranges(
            customers in proptest::collection::vec((0u8..42, proptest::option::of(0u8..30)), 1..40),
            scores in proptest::collection::vec(0u8..=10, 0..40),
        ) {
            let config = Config::from_toml("[report]\nsegments = [\"region\"]\n", std::path::Path::new("."), None, &Default::default()).unwrap();
            let mut surveys = String::from("response_id,answered_on,kind,score\n");
            for (i, s) in scores.iter().enumerate() {
                surveys.push_str(&format!("R{i},2026-11-{:02},nps,{s}\n", 9 + i % 14));
            }
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("customers.csv"), customers_csv(&customers)).unwrap();
            std::fs::write(dir.path().join("surveys.csv"), surveys).unwrap();
            let mut store = Store::in_memory().unwrap();
            let now = "2026-11-23T00:00:00Z".parse().unwrap();
            ingest::import(&mut store, &config, &[dir.path().to_path_buf()], &ImportOptions::default(), now).unwrap();
            let periods: Vec<Period> = week("2026-W42").range_to(week("2026-W47"));
            let before = compute(&store, &config, &periods).unwrap();
            // The customer base against a brute-force count of the same rows.
            let base = period_day("2026-10-05");
            for p in &periods {
                let (start, end) = (p.start_day(), p.end_day());
                let (mut s, mut n, mut e, mut churned, mut l) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (a, c) in &customers {
                    let acq = base + i64::from(*a);
                    let ch = c.map(|c| acq + i64::from(c));
                    let alive = |d: i64| acq < d && ch.is_none_or(|x| x >= d);
                    if alive(start) { s += 1.0; }
                    if alive(end) { e += 1.0; }
                    if start <= acq && acq < end { n += 1.0; }
                    if ch.is_some_and(|x| start <= x && x < end) {
                        churned += 1.0;
                        if alive(start) { l += 1.0; }
                    }
                }
                let got = &before[p][WHOLE];
                prop_assert_eq!(got["customers_start"].value, Some(s));
                prop_assert_eq!(got["new_customers"].value, Some(n));
                prop_assert_eq!(got["customers_end"].value, Some(e));
                prop_assert_eq!(got["churned_customers"].value, Some(churned));
                prop_assert_eq!(got["churn_rate"].value, (s > 0.0).then(|| 100.0 * l / s));
            }
            for by_segment in before.values() {
                for kpis in by_segment.values() {
                    if let Some(c) = kpis["churn_rate"].value { prop_assert!((0.0..=100.0).contains(&c)); }
                    if let Some(r) = kpis["retention_rate"].value { prop_assert!(r <= 100.0); }
                    if let Some(n) = kpis["nps"].value { prop_assert!((-100.0..=100.0).contains(&n)); }
                    for v in kpis.values() {
                        if let (Some(x), Some((lo, hi))) = (v.value, v.ci95) { prop_assert!(lo <= x + 1e-9 && x <= hi + 1e-9); }
                    }
                }
            }
            // Re-importing the same files changes nothing.
            let report = ingest::import(&mut store, &config, &[dir.path().to_path_buf()], &ImportOptions::default(), now).unwrap();
            prop_assert!(report.files.iter().all(|f| f.already_imported.is_some()));
            prop_assert_eq!(compute(&store, &config, &periods).unwrap(), before);
        }
    }
}
