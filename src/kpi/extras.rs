//! What a report shows beside the KPIs, read from the store: the voice of the
//! customer (recent survey comments), data quality and stale sources.
use std::collections::BTreeMap;

use anyhow::Result;
use rusqlite::params;

use crate::config::Config;
use crate::model::{is_detractor, is_promoter, Comment, DataQuality, FileQuality, COMMENTS_SHOWN};
use crate::period::{self, Period};
use crate::sources::FileKind;
use crate::store::Store;

/// Comments shown per scorecard are picked from at most this many recent ones.
const COMMENT_POOL: i64 = 400;

/// Survey comments of the period, newest first, with the respondent's segments.
pub fn comments(store: &Store, config: &Config, p: Period) -> Result<Vec<Comment>> {
    // One query: the period's recent comments with every attribute of their
    // customer (one row per comment and attribute, or one with NULLs).
    let rows = store.reader().rows(
        "SELECT v.response_id, v.answered_day, v.kind, v.score, v.comment, a.name, a.value, v.answered_day
         FROM (SELECT response_id, answered_day, kind, score, comment, customer_id FROM surveys
               WHERE answered_day >= ?1 AND answered_day < ?2 AND comment IS NOT NULL AND comment <> ''
               ORDER BY answered_day DESC, response_id LIMIT ?3) v
         LEFT JOIN customer_attributes a ON a.customer_id = v.customer_id
         ORDER BY v.answered_day DESC, v.response_id",
        params![p.start_day(), p.end_day(), COMMENT_POOL],
    )?;
    let pending = pending_comments(&rows)?;
    let own = if pending.is_empty() {
        Default::default()
    } else {
        let kept = pending.iter().map(|c| c.id.as_str()).collect();
        own_cells(store, config, "surveys", p.start_day(), p.end_day(), &kept)?
    };
    Ok(pending
        .into_iter()
        .map(|c| c.finish(&own, config))
        .collect())
}

/// The comments of `p` that its scorecards can show, newest first, on a
/// SQLite store with the index of the commented responses (None without
/// it): of the [`COMMENT_POOL`] newest comments (the pool [`comments`]
/// reads), the detractors' and promoters' (the others are never shown),
/// up to the one after which the whole business's scorecard and each of
/// `scorecards` (segment keys) has [`COMMENTS_SHOWN`] of each side: no
/// scorecard shows a comment after it. Read row by row from the index, so
/// that only the comments up to there are looked up (their customer's
/// attributes, their own cells).
pub fn shown_comments(
    store: &Store,
    config: &Config,
    p: Period,
    scorecards: &[String],
) -> Result<Option<Vec<Comment>>> {
    if !commented_index(store)? {
        return Ok(None);
    }
    let own_cells = !config.segment_attrs().is_empty()
        && store.reader().query_row(
            "SELECT EXISTS (SELECT 1 FROM survey_attributes)",
            [],
            |r| r.get::<_, bool>(0),
        )?;
    // Per scope (the whole business, then each scorecard's segment), the
    // detractors and promoters still to find.
    let mut wanted: Vec<[usize; 2]> = vec![[COMMENTS_SHOWN; 2]; scorecards.len() + 1];
    let mut out = Vec::new();
    let mut pool = store.reader().prepare(
        "SELECT response_id, answered_day, kind, score, comment, customer_key FROM surveys_rows
         WHERE answered_day >= ?1 AND answered_day < ?2 AND comment IS NOT NULL AND comment <> ''
         ORDER BY answered_day DESC, response_id LIMIT ?3",
    )?;
    let mut attrs = store.reader().prepare(
        "SELECT a.name, a.value FROM customer_keys k
         JOIN customer_attributes a ON a.customer_id = k.customer_id
         WHERE k.customer_key = ?1",
    )?;
    let mut cells = store
        .reader()
        .prepare("SELECT name, value FROM survey_attributes WHERE response_id = ?1")?;
    let mut rows = pool.query(params![p.start_day(), p.end_day(), COMMENT_POOL])?;
    while let Some(r) = rows.next()? {
        let (kind, score): (String, i64) = (r.get(2)?, r.get(3)?);
        let side = if is_detractor(&kind, score) {
            0
        } else if is_promoter(&kind, score) {
            1
        } else {
            continue;
        };
        let (id, day): (String, i64) = (r.get(0)?, r.get(1)?);
        let customer: Option<i64> = r.get(5)?;
        let mut pending = PendingComment {
            id,
            day,
            comment: Comment {
                date: period::date_from_day(day).to_string(),
                kind,
                score,
                text: r.get(4)?,
                segments: Vec::new(),
            },
            attrs: Vec::new(),
        };
        if let Some(key) = customer {
            let mut q = attrs.query(params![key])?;
            while let Some(a) = q.next()? {
                pending.attrs.push((a.get(0)?, a.get(1)?));
            }
        }
        let mut mine = Vec::new();
        if own_cells {
            let mut q = cells.query(params![pending.id])?;
            while let Some(a) = q.next()? {
                mine.push((a.get(0)?, a.get(1)?));
            }
        }
        let c = pending.finish_with(&mine, config);
        for (k, w) in wanted.iter_mut().enumerate() {
            if k == 0 || c.segments.contains(&scorecards[k - 1]) {
                w[side] = w[side].saturating_sub(1);
            }
        }
        out.push(c);
        if wanted.iter().all(|w| *w == [0, 0]) {
            break;
        }
    }
    Ok(Some(out))
}

/// A comment read from the store, its segments not yet resolved.
struct PendingComment {
    id: String,
    day: i64,
    comment: Comment,
    /// The customer's attributes, (name, value).
    attrs: Vec<(String, String)>,
}

impl PendingComment {
    /// The comment with its segments: the response's own cells win over
    /// its customer's attributes.
    fn finish(self, own: &OwnCells, config: &Config) -> Comment {
        let mine = own.get(&self.id).map(Vec::as_slice).unwrap_or_default();
        self.finish_with(mine, config)
    }

    /// The comment with its segments, `mine` being the response's own cells.
    fn finish_with(self, mine: &[(String, String)], config: &Config) -> Comment {
        let PendingComment {
            mut comment, attrs, ..
        } = self;
        comment.segments = config
            .segment_attrs()
            .iter()
            .map(|attr| {
                let value = mine
                    .iter()
                    .chain(&attrs)
                    .find(|(n, v)| n.eq_ignore_ascii_case(attr) && !v.is_empty())
                    .map(|(_, v)| v.as_str())
                    .unwrap_or(crate::kpi::engine::NONE_VALUE);
                format!("{attr}={value}")
            })
            .collect();
        comment
    }
}

/// The rows of a comments query (one per comment and customer attribute,
/// comments in order), one entry per comment.
fn pending_comments(rows: &[crate::store::sql::Row]) -> Result<Vec<PendingComment>> {
    let mut out = Vec::new();
    let mut g = Grouping::default();
    for r in rows {
        if g.continues(r)? {
            continue;
        }
        out.extend(g.current.take());
        g.start(r)?;
    }
    out.extend(g.current.take());
    Ok(out)
}

/// Rows of a comments query (one per comment and customer attribute,
/// comments in order) read one at a time into the comment being read, or
/// past one not wanted.
#[derive(Default)]
struct Grouping {
    current: Option<PendingComment>,
    /// The id of the comment whose rows are being skipped.
    skipped: Option<String>,
}

impl Grouping {
    /// Whether row `r` belongs to the comment being read (its attribute is
    /// added) or skipped.
    fn continues(&mut self, r: &crate::store::sql::Row) -> Result<bool> {
        let id = r.get_ref(0)?.as_str()?;
        if let Some(c) = self.current.as_mut().filter(|c| c.id == id) {
            if let (Some(name), Some(value)) = (
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ) {
                c.attrs.push((name, value));
            }
            return Ok(true);
        }
        Ok(self.skipped.as_deref() == Some(id))
    }

    /// Starts reading the comment of row `r` (the previous one taken out).
    fn start(&mut self, r: &crate::store::sql::Row) -> Result<()> {
        let comment = comment_of(r, r.get(1)?)?;
        self.skipped = None;
        self.current = Some(PendingComment {
            id: r.get(0)?,
            day: r.get(7)?,
            comment,
            attrs: Vec::new(),
        });
        self.continues(r)?;
        Ok(())
    }

    /// Skips the rows of the comment of row `r`.
    fn skip(&mut self, r: &crate::store::sql::Row) -> Result<()> {
        self.current = None;
        self.skipped = Some(r.get(0)?);
        Ok(())
    }
}

/// The own segment cells of the commented responses `kept` of days
/// `from..to`, by response id; `surveys` is the table as PostgreSQL's
/// query reads it.
type OwnCells = std::collections::HashMap<String, Vec<(String, String)>>;

fn own_cells(
    store: &Store,
    config: &Config,
    surveys: &str,
    from: i64,
    to: i64,
    kept: &std::collections::HashSet<&str>,
) -> Result<OwnCells> {
    let mut own = OwnCells::default();
    if config.segment_attrs().is_empty() {
        return Ok(own);
    }
    if !store.reader().is_postgres() {
        // The cells of the comments kept (at most COMMENT_POOL per period)
        // by key, in one statement, not a pass over every commented
        // response of the days; none when no response has cells of its own.
        let any: bool = store.reader().query_row(
            "SELECT EXISTS (SELECT 1 FROM survey_attributes)",
            [],
            |r| r.get(0),
        )?;
        if !any {
            return Ok(own);
        }
        return pairs_by_key(
            store,
            "SELECT response_id, name, value FROM survey_attributes
             WHERE response_id IN (SELECT value FROM json_each(?1))",
            &kept.iter().collect::<Vec<_>>(),
        );
    }
    // Streamed: only the cells of the comments kept are held.
    store.reader().each(
        &format!(
            "SELECT s.response_id, a.name, a.value
             FROM (SELECT response_id FROM {surveys}
                   WHERE answered_day >= ?1 AND answered_day < ?2 AND comment IS NOT NULL AND comment <> '') s
             JOIN survey_attributes a ON a.response_id = s.response_id"
        ),
        params![from, to],
        |r| {
            let id = r.get_ref(0)?.as_str()?;
            if kept.contains(id) {
                own.entry(id.to_string())
                    .or_default()
                    .push((r.get(1)?, r.get(2)?));
            }
            Ok(())
        },
    )?;
    Ok(own)
}

/// The survey comments of all the periods of a run, read by one plain scan
/// of the surveys where that beats a query per period: on PostgreSQL, and
/// on a SQLite store without the index of the commented responses (store
/// migration 16; without it the day range of each period looks up every
/// survey of the period to see whether it has a comment: a table seek per
/// survey). Chosen, as [`UnknownCustomers`], when the periods cover at
/// least 1/[`SET_BASED_SHARE`] of the surveys' days.
/// Holds at most [`COMMENT_POOL`] comments per period, as a query per
/// period picks them.
pub struct RunComments {
    /// The periods, by start, with their comments, newest first.
    periods: Vec<(Period, Vec<Comment>)>,
}

impl RunComments {
    /// None when a query per period is cheaper.
    pub fn for_periods(
        store: &Store,
        config: &Config,
        periods: &[Period],
    ) -> Result<Option<RunComments>> {
        let (Some(from), Some(to)) = (
            periods.iter().map(|p| p.start_day()).min(),
            periods.iter().map(|p| p.end_day()).max(),
        ) else {
            return Ok(None);
        };
        if commented_index(store)? {
            // Each period's comments are the first of an index: a query
            // per period reads those only.
            return Ok(None);
        }
        let covered: i64 = periods.iter().map(|p| p.end_day() - p.start_day()).sum();
        if covered * SET_BASED_SHARE < day_span(store, "surveys", "answered_day")? {
            return Ok(None);
        }
        let mut sorted: Vec<Period> = periods.to_vec();
        sorted.sort_by_key(|p| (p.start_day(), p.end_day()));
        sorted.dedup();
        if sorted.windows(2).any(|w| w[0].end_day() > w[1].start_day()) {
            // Overlapping periods (never one cadence's): one query each.
            return Ok(None);
        }
        let scan = store.reader().dialect().table_scan("surveys");
        let pools = if store.reader().is_postgres() {
            pools_by_query(store, &scan, &sorted, from, to)?
        } else {
            pools_by_scan(store, &scan, &sorted, from, to)?
        };
        let own = if pools.iter().all(Vec::is_empty) {
            OwnCells::default()
        } else {
            let kept = pools.iter().flatten().map(|c| c.id.as_str()).collect();
            own_cells(store, config, &scan, from, to, &kept)?
        };
        Ok(Some(RunComments {
            periods: sorted
                .into_iter()
                .zip(pools)
                .map(|(p, pool)| {
                    (
                        p,
                        pool.into_iter().map(|c| c.finish(&own, config)).collect(),
                    )
                })
                .collect(),
        }))
    }

    /// The comments of `p`, when it is one of the run's periods (once: a
    /// second call is None).
    pub fn take(&mut self, p: Period) -> Option<Vec<Comment>> {
        let k = self.periods.iter().position(|(q, _)| *q == p)?;
        Some(self.periods.remove(k).1)
    }
}

/// Whether the SQLite store has the index of the commented responses by
/// day (store migration 16), through which the query per period reads a
/// period's newest comments and no other response.
fn commented_index(store: &Store) -> Result<bool> {
    if store.reader().is_postgres() || store.warehouse().is_some() {
        return Ok(false);
    }
    store.reader().query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'surveys_commented')",
        [],
        |r| r.get(0),
    )
}

/// The index of the period of `periods` (sorted, apart) holding `day`.
fn period_holding(periods: &[Period], day: i64) -> Option<usize> {
    let k = periods
        .partition_point(|p| p.start_day() <= day)
        .checked_sub(1)?;
    (day < periods[k].end_day()).then_some(k)
}

/// A comments query's row as the report shows it: its kind, score and
/// text in columns 2–4, its date from the day number (the SQLite store
/// keeps no text beside it), the `YYYY-MM-DD` the file gave.
fn comment_of(r: &crate::store::sql::Row, day: i64) -> Result<Comment> {
    Ok(Comment {
        date: period::date_from_day(day).to_string(),
        kind: r.get(2)?,
        score: r.get(3)?,
        text: r.get(4)?,
        segments: Vec::new(),
    })
}

/// The pools of `periods` (sorted, apart) from one query of days
/// `from..to` that sorts the comments newest first in the database, read
/// row by row: a comment is kept while its period's pool has room, the
/// others are stepped past.
fn pools_by_query(
    store: &Store,
    scan: &str,
    periods: &[Period],
    from: i64,
    to: i64,
) -> Result<Vec<Vec<PendingComment>>> {
    let mut pools: Vec<Vec<PendingComment>> = periods.iter().map(|_| Vec::new()).collect();
    // The reported period holding `day` with room left in its pool.
    let room = |pools: &[Vec<PendingComment>], day: i64| {
        period_holding(periods, day).filter(|&k| pools[k].len() < COMMENT_POOL as usize)
    };
    let mut g = Grouping::default();
    let keep = |pools: &mut Vec<Vec<PendingComment>>, c: Option<PendingComment>| {
        if let Some(c) = c {
            let k = room(pools, c.day).expect("started with room");
            pools[k].push(c);
        }
    };
    store.reader().each(
        &format!(
            "SELECT v.response_id, v.answered_day, v.kind, v.score, v.comment, a.name, a.value, v.answered_day
             FROM (SELECT response_id, answered_day, kind, score, comment, customer_id FROM {scan}
                   WHERE answered_day >= ?1 AND answered_day < ?2 AND comment IS NOT NULL AND comment <> '') v
             LEFT JOIN customer_attributes a ON a.customer_id = v.customer_id
             ORDER BY v.answered_day DESC, v.response_id"
        ),
        params![from, to],
        |r| {
            if g.continues(r)? {
                return Ok(());
            }
            keep(&mut pools, g.current.take());
            if room(&pools, r.get(7)?).is_some() {
                g.start(r)
            } else {
                g.skip(r)
            }
        },
    )?;
    keep(&mut pools, g.current.take());
    Ok(pools)
}

/// A comment ranked as the comments query orders them: newest first, then
/// by response id (SQLite's BINARY collation: byte order, as `str`'s).
/// The greatest is the one a full pool gives up first.
struct Ranked {
    comment: PendingComment,
    /// Its customer's key (store migration 15).
    customer: Option<i64>,
}

impl Ranked {
    fn rank(&self) -> (std::cmp::Reverse<i64>, &str) {
        (std::cmp::Reverse(self.comment.day), &self.comment.id)
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.rank() == other.rank()
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// The pools of `periods` (sorted, apart) from one plain scan of the
/// commented surveys of days `from..to` on SQLite, in table order: each
/// period keeps its [`COMMENT_POOL`] newest in a heap as the rows go by,
/// so that no more are held, and nothing is sorted in the database (the
/// SQLite sorter would hold every comment of the run); then the customer
/// attributes of the comments kept, by a key lookup each.
fn pools_by_scan(
    store: &Store,
    scan: &str,
    periods: &[Period],
    from: i64,
    to: i64,
) -> Result<Vec<Vec<PendingComment>>> {
    use std::collections::BinaryHeap;
    let mut heaps: Vec<BinaryHeap<Ranked>> = periods.iter().map(|_| BinaryHeap::new()).collect();
    store.reader().each(
        &format!(
            "SELECT response_id, answered_day, kind, score, comment, customer_key FROM {scan}
             WHERE answered_day >= ?1 AND answered_day < ?2 AND comment IS NOT NULL AND comment <> ''"
        ),
        params![from, to],
        |r| {
            let day: i64 = r.get(1)?;
            let Some(k) = period_holding(periods, day) else {
                return Ok(());
            };
            let heap = &mut heaps[k];
            let id = r.get_ref(0)?.as_str()?;
            if heap.len() >= COMMENT_POOL as usize {
                let worst = heap.peek().expect("a full pool");
                if (std::cmp::Reverse(day), id) >= worst.rank() {
                    return Ok(());
                }
                heap.pop();
            }
            heap.push(Ranked {
                comment: PendingComment {
                    id: id.to_string(),
                    day,
                    comment: comment_of(r, day)?,
                    attrs: Vec::new(),
                },
                customer: r.get(5)?,
            });
            Ok(())
        },
    )?;
    let sorted: Vec<Vec<Ranked>> = heaps.into_iter().map(|h| h.into_sorted_vec()).collect();
    let keys: std::collections::BTreeSet<i64> =
        sorted.iter().flatten().filter_map(|r| r.customer).collect();
    let mut attrs = customer_attributes(store, &keys)?;
    Ok(sorted
        .into_iter()
        .map(|pool| {
            pool.into_iter()
                .map(
                    |Ranked {
                         mut comment,
                         customer,
                     }| {
                        if let Some(a) = customer.and_then(|k| attrs.get_mut(&k)) {
                            comment.attrs = a.clone();
                        }
                        comment
                    },
                )
                .collect()
        })
        .collect())
}

/// The attributes (name, value) of the customers of `keys` (store
/// migration 15's customer keys), by key, each customer's by name: one
/// statement for all of them (a statement per customer costs a step and a
/// reset each, and they add up over a backfill's comments).
fn customer_attributes(
    store: &Store,
    keys: &std::collections::BTreeSet<i64>,
) -> Result<std::collections::HashMap<i64, Vec<(String, String)>>> {
    if keys.is_empty() {
        return Ok(Default::default());
    }
    pairs_by_key(
        store,
        "SELECT k.customer_key, a.name, a.value FROM customer_keys k
         JOIN customer_attributes a ON a.customer_id = k.customer_id
         WHERE k.customer_key IN (SELECT value FROM json_each(?1))",
        keys,
    )
}

/// The (name, value) pairs `sql` reads for `keys` (its `?1`: the keys as a
/// JSON array, for SQLite's `json_each`; its columns: key, name, value), by
/// key, each key's sorted by name, as a look-up by the key reads them (the
/// primary key's order; names are unique per key): one statement for all
/// the keys instead of one each.
fn pairs_by_key<K, T>(
    store: &Store,
    sql: &str,
    keys: &T,
) -> Result<std::collections::HashMap<K, Vec<(String, String)>>>
where
    K: rusqlite::types::FromSql + std::hash::Hash + Eq,
    T: serde::Serialize + ?Sized,
{
    let mut out: std::collections::HashMap<K, Vec<(String, String)>> = Default::default();
    let list = serde_json::to_string(keys)?;
    store.reader().each(sql, params![list], |r| {
        out.entry(r.get(0)?)
            .or_default()
            .push((r.get(1)?, r.get(2)?));
        Ok(())
    })?;
    for pairs in out.values_mut() {
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(out)
}

/// Days from the first to the last row of `table` (0 when empty).
fn day_span(store: &Store, table: &str, day: &str) -> Result<i64> {
    Ok(match day_range(store, table, day)? {
        Some((lo, hi)) => hi - lo + 1,
        None => 0,
    })
}

/// The first and last `day` of `table`'s rows (none for an empty table).
pub(super) fn day_range(store: &Store, table: &str, day: &str) -> Result<Option<(i64, i64)>> {
    let (lo, hi): (Option<i64>, Option<i64>) = store.reader().query_row(
        // Two subqueries: each reads one end of the day index (min and max
        // in one SELECT would read the whole table).
        &format!("SELECT (SELECT min({day}) FROM {table}), (SELECT max({day}) FROM {table})"),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(lo.zip(hi))
}

/// Sources with rows before the period but none in it: a scorecard of zeros
/// must not be mailed as news.
pub fn stale_sources(store: &Store, p: Period) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for kind in FileKind::by_report_rank() {
        let (table, day) = (kind.key(), kind.describe().period_day.expect("dated"));
        let last: Option<i64> = store.reader().query_row(
            &format!("SELECT max({day}) FROM {table} WHERE {day} < ?1"),
            [p.end_day()],
            |r| r.get(0),
        )?;
        if let Some(last) = last {
            if last < p.start_day() {
                out.push(format!(
                    "{} has no rows after {}: import a fresh snapshot, or pass --allow-stale",
                    kind.default_file_name(),
                    period::date_from_day(last)
                ));
            }
        }
    }
    Ok(out)
}

/// What the importer kept of the deals that a reader should know of
/// (snapshot-format.md "deals.csv"): open deals whose close date the latest
/// import ignored (recorded by that import), and the period's deals closed
/// before they were created (`counted` by the engine's pass, else from the
/// stored rows).
fn deal_notes(store: &Store, p: Period, counted: Option<u64>, q: &mut DataQuality) -> Result<()> {
    q.close_dates_ignored = store
        .meta(crate::store::CLOSE_DATES_IGNORED_KEY)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let n = q.close_dates_ignored;
    if n > 0 {
        q.notes.push(format!(
            "{n} open deal{} had a close date (the expected close CRMs write) that the latest import of deals.csv ignored: {} as open.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it counts" } else { "they count" }
        ));
    }
    let n = match counted {
        Some(n) => n,
        None => created_after_close_in(store, p)?,
    };
    q.created_after_close = n;
    if n > 0 {
        q.notes.push(format!(
            "{n} deal{} closed in this period {} created after {} close date (migrated records?): counted by the close date, left out of the sales cycle.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "was" } else { "were" },
            if n == 1 { "its" } else { "their" }
        ));
    }
    Ok(())
}

/// The deals closed in `p` before they were created: a look-up of every
/// deal closed in the period (the way when the engine did not count them).
fn created_after_close_in(store: &Store, p: Period) -> Result<u64> {
    let n: i64 = store.reader().query_row(
        "SELECT count(*) FROM deals WHERE closed_day >= ?1 AND closed_day < ?2 AND closed_day < created_day",
        [p.start_day(), p.end_day()],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// The tables whose rows name a customer, with the day they are counted
/// by, in the order the reports list them.
fn unknown_customer_tables() -> impl Iterator<Item = (&'static str, &'static str)> {
    FileKind::by_report_rank()
        .into_iter()
        .filter_map(|k| Some((k.key(), k.describe().unknown_customer_day?)))
}

/// Rows of `table` in days `from..to` naming a customer the customers file
/// does not hold: one day-index range with a lookup of each row's customer
/// (the way for a few periods).
fn unknown_customers_in(store: &Store, table: &str, day: &str, from: i64, to: i64) -> Result<u64> {
    let n: i64 = store.reader().query_row(
        &format!(
            "SELECT count(*) FROM {table} t WHERE t.{day} >= ?1 AND t.{day} < ?2 AND t.customer_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = t.customer_id)"
        ),
        [from, to],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// The rows naming an unknown customer, counted by day once for all the
/// periods of a run (data quality, kpis.md), where that beats one query per
/// period.
///
/// Per period, counting walks the period's day range and looks up every
/// row's customer: a table seek per row, which in a backfill adds up to
/// the whole table, seek by seek. Unknown customers are few, so here they
/// are found first and only their rows are counted, by day: on PostgreSQL
/// from each table's `customer_id` index (read in order, one customers
/// lookup per distinct id); on SQLite they are the customer keys no
/// customer holds (store migration 15), and each table is read once,
/// unless there is none. That reads a whole index or table, so it is
/// chosen only when the run's periods cover at least 1/[`SET_BASED_SHARE`]
/// of the table's days.
#[derive(Default)]
pub struct UnknownCustomers {
    /// Per period, per file: the counts the SQLite engine kept beside the
    /// KPIs (`kpi::engine::take_unknown_customers`), which need no pass.
    counted: BTreeMap<Period, BTreeMap<String, u64>>,
    /// The days counted here, `from..to`.
    days: (i64, i64),
    by_table: Vec<(&'static str, BTreeMap<i64, u64>)>,
}

/// See [`UnknownCustomers`].
const SET_BASED_SHARE: i64 = 16;

impl UnknownCustomers {
    /// Counts the tables for which one pass beats a query per period of
    /// `periods`; the others are left to [`data_quality`]'s query per period.
    pub fn for_periods(
        store: &Store,
        periods: &[Period],
        counted: BTreeMap<Period, BTreeMap<String, u64>>,
    ) -> Result<UnknownCustomers> {
        let mut out = UnknownCustomers {
            counted,
            ..Default::default()
        };
        let (Some(from), Some(to)) = (
            periods.iter().map(|p| p.start_day()).min(),
            periods.iter().map(|p| p.end_day()).max(),
        ) else {
            return Ok(out);
        };
        out.days = (from, to);
        let covered: i64 = periods.iter().map(|p| p.end_day() - p.start_day()).sum();
        let postgres = store.reader().is_postgres();
        /// SQLite: the keys of the customers the customers file does not hold.
        const UNKNOWN_KEYS: &str = "SELECT k.customer_key FROM customer_keys k
             WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = k.customer_id)";
        // Asked once, and only when a table is left to count: it probes the
        // customers once per customer key (a backfill whose counts the
        // engine kept asks nothing).
        let mut none_unknown = None;
        for (table, day) in unknown_customer_tables() {
            let all_counted = periods
                .iter()
                .all(|p| out.counted.get(p).is_some_and(|c| c.contains_key(table)));
            if all_counted || covered * SET_BASED_SHARE < day_span(store, table, day)? {
                continue;
            }
            if none_unknown.is_none() {
                none_unknown = Some(
                    !postgres
                        && !store.reader().query_row(
                            &format!("SELECT EXISTS ({UNKNOWN_KEYS})"),
                            [],
                            |r| r.get::<_, bool>(0),
                        )?,
                );
            }
            if none_unknown == Some(true) {
                out.by_table.push((table, BTreeMap::new()));
                continue;
            }
            let sql = if postgres {
                format!(
                    "SELECT t.{day}, count(*) FROM {table} t
                     WHERE t.customer_id IN (
                         SELECT u.customer_id FROM (SELECT DISTINCT customer_id FROM {table} WHERE customer_id IS NOT NULL) u
                         WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = u.customer_id))
                     AND t.{day} >= ?1 AND t.{day} < ?2
                     GROUP BY t.{day}"
                )
            } else {
                format!(
                    "SELECT t.{day}, count(*) FROM {base} t NOT INDEXED
                     WHERE t.customer_key IN ({UNKNOWN_KEYS})
                     AND t.{day} >= ?1 AND t.{day} < ?2
                     GROUP BY t.{day}",
                    base = crate::store::tables::base_table(table)
                )
            };
            let rows = store.reader().rows(&sql, [from, to])?;
            let mut by_day = BTreeMap::new();
            for r in &rows {
                let (d, n): (i64, i64) = (r.get(0)?, r.get(1)?);
                by_day.insert(d, n as u64);
            }
            out.by_table.push((table, by_day));
        }
        Ok(out)
    }

    /// The rows of `table` in period `p` naming an unknown customer, when
    /// counted by the engine or here.
    fn count(&self, table: &str, p: Period) -> Option<u64> {
        if let Some(n) = self.counted.get(&p).and_then(|c| c.get(table)) {
            return Some(*n);
        }
        let (from, to) = (p.start_day(), p.end_day());
        if from < self.days.0 || to > self.days.1 {
            return None;
        }
        let (_, by_day) = self.by_table.iter().find(|(t, _)| *t == table)?;
        Some(by_day.range(from..to).map(|(_, n)| n).sum())
    }
}

/// What the report says about the data of `p` beside the figures.
/// `unknown` holds the run's unknown-customer counts where they were
/// counted for all its periods at once ([`UnknownCustomers::for_periods`]),
/// `created_after_close` the period's deals closed before they were created
/// where the engine counted them (`kpi::engine::take_created_after_close`).
pub fn data_quality(
    store: &Store,
    p: Period,
    stale: Vec<String>,
    unknown: &UnknownCustomers,
    created_after_close: Option<u64>,
) -> Result<DataQuality> {
    let mut q = DataQuality {
        stale,
        ..Default::default()
    };
    q.files = store
        .latest_imports()?
        .into_iter()
        .map(|f| FileQuality {
            file: format!("{}.csv", f.file),
            last_import: f.imported_at,
            rows: f.rows,
            rejected: f.rejected,
            as_of: String::new(),
        })
        .collect();
    q.as_of = store.data_as_of()?;
    for f in &mut q.files {
        if let Some((_, t)) = q.as_of.iter().find(|(file, _)| *file == f.file) {
            f.as_of = t.clone();
        }
    }
    let imported = store.imported_files()?;
    for kind in FileKind::ALL {
        if kind.feeds_kpis() && !imported.contains(kind.key()) {
            q.never_imported.push(kind.default_file_name());
        }
    }
    if imported.contains(FileKind::Deals.key()) {
        deal_notes(store, p, created_after_close, &mut q)?;
    }
    if imported.contains(FileKind::Customers.key()) {
        for (table, day) in unknown_customer_tables() {
            let (from, to) = (p.start_day(), p.end_day());
            let n = match unknown.count(table, p) {
                Some(n) => n,
                None => unknown_customers_in(store, table, day, from, to)?,
            };
            if n > 0 {
                q.unknown_customers.push((format!("{table}.csv"), n));
            }
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{self, ImportOptions};

    /// A store in memory holding `files` (imported as of 2026-11-23 with
    /// the default config), and that config.
    fn imported<T: AsRef<str>>(files: &[(&str, T)]) -> (Store, Config) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text.as_ref()).unwrap();
        }
        let config =
            Config::from_toml("", std::path::Path::new("."), None, &Default::default()).unwrap();
        let mut store = Store::in_memory().unwrap();
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        let paths = [dir.path().to_path_buf()];
        ingest::import(&mut store, &config, &paths, &ImportOptions::default(), now).unwrap();
        (store, config)
    }

    /// The weeks 2026-W`first` to 2026-W`last`.
    fn weeks_2026(first: u32, last: u32) -> Vec<Period> {
        (first..=last)
            .map(|w| Period::parse(&format!("2026-W{w}")).unwrap())
            .collect()
    }

    #[test]
    fn stale_sources_and_data_quality_follow_the_file_descriptions() {
        let files = [
            (
                "deals.csv",
                "deal_id,created_on,stage,customer_id\nD1,2026-10-05,open,X\n",
            ),
            (
                "orders.csv",
                "order_id,customer_id,ordered_on,amount\nO1,X,2026-10-05,5\nO2,C1,2026-11-17,5\n",
            ),
            (
                "tickets.csv",
                "ticket_id,opened_at\nT1,2026-10-05T09:00:00Z\n",
            ),
            ("customers.csv", "customer_id,acquired_on\nC1,2026-01-05\n"),
        ];
        let (store, _) = imported(&files);
        let p = Period::parse("2026-W48").unwrap();
        let stale = stale_sources(&store, p).unwrap();
        let files: Vec<&str> = stale.iter().map(|s| s.split(' ').next().unwrap()).collect();
        assert_eq!(files, ["orders.csv", "tickets.csv", "deals.csv"]);
        let q = data_quality(
            &store,
            Period::parse("2026-W41").unwrap(),
            stale,
            &UnknownCustomers::default(),
            None,
        )
        .unwrap();
        assert_eq!(
            q.never_imported,
            ["surveys.csv", "spend.csv", "activities.csv"]
        );
        assert_eq!(q.unknown_customers, [("orders.csv".to_string(), 1)]);
    }

    /// The run's one pass over each table, the counts of the SQLite
    /// engine's pass kept with the KPIs, and the query per period give the
    /// same unknown-customer counts, period by period.
    #[test]
    fn unknown_customers_counted_once_per_run_agree_with_the_query_per_period() {
        // Customers C1 and C2 are known; X and Y are not. Weeks 2026-W41 to
        // W46 (Mondays 5 Oct to 9 Nov).
        let days = [
            "2026-10-05",
            "2026-10-13",
            "2026-10-21",
            "2026-10-29",
            "2026-11-06",
            "2026-11-09",
        ];
        // An old order of a known customer: orders span 162 days, the
        // other tables 36.
        let mut orders =
            String::from("order_id,customer_id,ordered_on,amount\nO0,C1,2025-06-01,5\n");
        let mut unknown_rows = 0u64;
        let mut tickets = String::from("ticket_id,opened_at,customer_id\n");
        let mut surveys = String::from("response_id,answered_on,kind,score,customer_id\n");
        let mut deals = String::from("deal_id,created_on,stage,closed_on,customer_id\n");
        let customers = ["C1", "X", "C2", "Y", "", "X", "Y"];
        for (i, day) in days.iter().enumerate() {
            for (j, c) in customers.iter().enumerate().skip(i % 3) {
                let k = i * 10 + j;
                if c.is_empty() {
                    // Tickets may have no customer: not unknown.
                    tickets.push_str(&format!("T{k},{day}T09:00:00Z,\n"));
                    continue;
                }
                let unknown = u64::from(c.starts_with(['X', 'Y']));
                unknown_rows += unknown * if j % 2 == 0 { 4 } else { 1 };
                orders.push_str(&format!("O{k}N,{c},{day},5\n"));
                if j % 2 == 0 {
                    tickets.push_str(&format!("T{k},{day}T09:00:00Z,{c}\n"));
                    surveys.push_str(&format!("R{k},{day},nps,9,{c}\n"));
                    deals.push_str(&format!("D{k},2026-10-01,won,{day},{c}\n"));
                }
            }
        }
        let files = [
            (
                "customers.csv",
                "customer_id,acquired_on\nC1,2026-01-05\nC2,2026-01-05\n".to_string(),
            ),
            ("orders.csv", orders),
            ("tickets.csv", tickets),
            ("surveys.csv", surveys),
            ("deals.csv", deals),
        ];
        let (store, config) = imported(&files);
        let weeks = weeks_2026(41, 46);
        let once = UnknownCustomers::for_periods(&store, &weeks, BTreeMap::new()).unwrap();
        let tables: Vec<&str> = once.by_table.iter().map(|(t, _)| *t).collect();
        assert_eq!(tables, ["orders", "tickets", "surveys", "deals"]);
        let mut values = crate::kpi::engine::compute(&store, &config, &weeks).unwrap();
        let counted = crate::kpi::engine::take_unknown_customers(&mut values);
        crate::kpi::engine::take_created_after_close(&mut values);
        assert!(values
            .values()
            .flat_map(|v| v.values())
            .all(|kpis| kpis.keys().all(|id| !id.starts_with('#'))));
        let by_engine = UnknownCustomers::for_periods(&store, &weeks, counted).unwrap();
        assert!(
            by_engine.by_table.is_empty(),
            "no pass when the engine counted"
        );
        let mut total = 0;
        for p in &weeks {
            let by_query =
                data_quality(&store, *p, Vec::new(), &UnknownCustomers::default(), None).unwrap();
            let by_pass = data_quality(&store, *p, Vec::new(), &once, None).unwrap();
            assert_eq!(
                by_pass.unknown_customers,
                by_query.unknown_customers,
                "{}",
                p.id()
            );
            let counted = data_quality(&store, *p, Vec::new(), &by_engine, None).unwrap();
            assert_eq!(
                counted.unknown_customers,
                by_query.unknown_customers,
                "engine, {}",
                p.id()
            );
            total += by_query
                .unknown_customers
                .iter()
                .map(|(_, n)| n)
                .sum::<u64>();
        }
        assert_eq!(
            total, unknown_rows,
            "X and Y rows of every table, no empty ids"
        );
        assert!(total > 0);
        // A period outside the counted days is queried, not taken as zero.
        let later = Period::parse("2026-W47").unwrap();
        assert_eq!(once.count("orders", later), None);
        // One week of orders' longer history: a query per period is cheaper
        // (7 × 16 days < 162); the other tables are still counted at once.
        let one = UnknownCustomers::for_periods(&store, &weeks[..1], BTreeMap::new()).unwrap();
        let tables: Vec<&str> = one.by_table.iter().map(|(t, _)| *t).collect();
        assert_eq!(tables, ["tickets", "surveys", "deals"]);
    }

    /// The deals closed before they were created, counted by the SQLite
    /// engine's pass over the deals and kept with the KPIs, are the query
    /// per period's: closed on the day created is not before; a deal created
    /// after the computed days still counts where it closed; an open deal
    /// has no close; a close before the periods counts in none of them.
    #[test]
    fn deals_created_after_close_counted_by_the_engine_are_the_query_per_period() {
        let deals = "deal_id,created_on,stage,closed_on,customer_id,amount
D1,2026-10-20,won,2026-10-06,C1,10
D2,2026-10-07,won,2026-10-07,C1,10
D3,2026-12-01,lost,2026-10-14,C1,
D4,2026-10-10,open,,C1,5
D5,2026-10-25,lost,2026-10-19,X,
D6,2026-10-06,won,2026-09-01,C1,10
D7,2026-10-08,won,2026-10-09,C1,10
";
        let files = [
            ("customers.csv", "customer_id,acquired_on\nC1,2026-01-05\n"),
            ("deals.csv", deals),
        ];
        let (store, config) = imported(&files);
        let weeks = weeks_2026(41, 44);
        let mut values = crate::kpi::engine::compute(&store, &config, &weeks).unwrap();
        crate::kpi::engine::take_unknown_customers(&mut values);
        let counted = crate::kpi::engine::take_created_after_close(&mut values);
        assert!(values
            .values()
            .flat_map(|v| v.values())
            .all(|kpis| kpis.keys().all(|id| !id.starts_with('#'))));
        let mut by_query = Vec::new();
        for p in &weeks {
            let n = created_after_close_in(&store, *p).unwrap();
            assert_eq!(counted.get(p), Some(&n), "{}", p.id());
            let unknown = UnknownCustomers::default();
            let queried = data_quality(&store, *p, Vec::new(), &unknown, None).unwrap();
            let taken = data_quality(&store, *p, Vec::new(), &unknown, Some(n)).unwrap();
            assert_eq!(taken.created_after_close, queried.created_after_close);
            assert_eq!(taken.notes, queried.notes, "{}", p.id());
            by_query.push(n);
        }
        assert_eq!(by_query, [1, 1, 1, 0], "D1 in W41, D3 in W42, D5 in W43");
    }

    /// The query per period through the index of the commented responses,
    /// the run's one scan of the surveys (a store without that index) and
    /// the query per period without it pick, period by period, the same
    /// comments (at most COMMENT_POOL, newest first, ties by response id),
    /// with the same segments (own cells over the customer's).
    #[test]
    fn comments_read_once_per_run_are_the_comments_of_a_query_per_period() {
        let dir = tempfile::tempdir().unwrap();
        // An old answer without comment: the surveys span 245 days.
        let mut surveys = String::from(
            "response_id,answered_on,kind,score,customer_id,comment,region\nQ0,2026-03-01,nps,9,C0,,\n",
        );
        // 2026-W41 has more comments than the pool; W42 a few; W43 none;
        // W44 some without a customer, some with their own region.
        for i in 0..(COMMENT_POOL + 50) {
            let day = 5 + i % 7;
            surveys.push_str(&format!(
                "R{i:04},2026-10-{day:02},nps,{},C{},said {i},\n",
                i % 11,
                i % 3
            ));
        }
        for i in 0..30 {
            let comment = if i % 2 == 0 { "fine" } else { "" };
            surveys.push_str(&format!(
                "S{i:02},2026-10-{:02},csat,{},C1,{comment},\n",
                12 + i % 7,
                1 + i % 5
            ));
        }
        for i in 0..12 {
            let (customer, region) = match i % 3 {
                0 => ("", ""),
                1 => ("C2", "APAC"),
                _ => ("X", ""),
            };
            surveys.push_str(&format!(
                "T{i:02},2026-10-{:02},nps,{},{customer},\"so, so\",{region}\n",
                26 + i % 6,
                i % 11
            ));
        }
        let files = [
            ("customers.csv", "customer_id,acquired_on,region,plan\nC0,2026-01-05,EMEA,Pro\nC1,2026-01-05,,Basic\nC2,2026-01-05,LATAM,\n".to_string()),
            ("surveys.csv", surveys),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let config = Config::from_toml(
            "[report]\nsegments = [\"region\", \"plan\"]\n",
            std::path::Path::new("."),
            None,
            &Default::default(),
        )
        .unwrap();
        let db = dir.path().join("scorecard.db");
        let mut store = Store::open(&db).unwrap();
        let now = "2026-11-23T00:00:00Z".parse().unwrap();
        let paths = [dir.path().to_path_buf()];
        ingest::import(&mut store, &config, &paths, &ImportOptions::default(), now).unwrap();
        let weeks = weeks_2026(41, 44);
        // Through the index of the commented responses (migration 16): a
        // query per period, which reads only the period's newest comments.
        assert!(RunComments::for_periods(&store, &config, &weeks)
            .unwrap()
            .is_none());
        let plan: Vec<String> = store
            .reader()
            .rows(
                "EXPLAIN QUERY PLAN SELECT response_id FROM surveys
                 WHERE answered_day >= 0 AND answered_day < 1 AND comment IS NOT NULL AND comment <> ''
                 ORDER BY answered_day DESC, response_id LIMIT 400",
                [],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(3).unwrap())
            .collect();
        assert_eq!(
            plan,
            ["SEARCH t USING INDEX surveys_commented (answered_day>? AND answered_day<?)"],
            "no sort, no other response read"
        );
        let by_index: Vec<Vec<Comment>> = weeks
            .iter()
            .map(|p| comments(&store, &config, *p).unwrap())
            .collect();
        // What the scorecards show of each pool: the comments up to the
        // last one a scorecard shows, passives left out.
        let scorecards: Vec<String> = [
            "region=EMEA",
            "region=(none)",
            "region=LATAM",
            "region=APAC",
            "plan=Pro",
            "plan=Basic",
            "plan=(none)",
        ]
        .map(String::from)
        .to_vec();
        let nowhere = ["region=Mars".to_string()];
        for (p, pool) in weeks.iter().zip(&by_index) {
            for cards in [&scorecards[..], &scorecards[..2], &nowhere[..], &[]] {
                let shown = shown_comments(&store, &config, *p, cards)
                    .unwrap()
                    .expect("the index");
                let scopes = std::iter::once(None).chain(cards.iter().map(|s| Some(s.as_str())));
                for scope in scopes {
                    let view =
                        |c: &[Comment]| format!("{:?}", crate::model::shown_comments(c, scope));
                    assert_eq!(view(&shown), view(pool), "{} {scope:?}", p.id());
                }
                assert!(shown.iter().all(|c| c.is_detractor() || c.is_promoter()));
                if cards == nowhere {
                    let sides = pool.iter().filter(|c| c.is_detractor() || c.is_promoter());
                    assert_eq!(
                        shown.len(),
                        sides.count(),
                        "a scorecard with none: all read"
                    );
                }
            }
        }
        // W41's respondents are in EMEA and in no region: once both have
        // theirs, the rest of its pool is not read.
        let w41 = shown_comments(&store, &config, weeks[0], &scorecards[..2])
            .unwrap()
            .unwrap();
        assert!(
            w41.len() < by_index[0].len() / 4,
            "W41 stops early: {} of {}",
            w41.len(),
            by_index[0].len()
        );
        // Without the index (a store before migration 16): one scan.
        drop(store);
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("DROP INDEX surveys_commented")
            .unwrap();
        let store = Store::open(&db).unwrap();
        assert!(shown_comments(&store, &config, weeks[0], &scorecards)
            .unwrap()
            .is_none());
        let mut once = RunComments::for_periods(&store, &config, &weeks)
            .unwrap()
            .expect("4 weeks × 16 > 245 days: read at once");
        let mut seen = 0;
        for (p, by_index) in weeks.iter().zip(&by_index) {
            let by_query = comments(&store, &config, *p).unwrap();
            let by_scan = once.take(*p).unwrap();
            let text = |c: &[Comment]| format!("{c:?}");
            assert_eq!(text(&by_scan), text(&by_query), "{}", p.id());
            assert_eq!(text(by_index), text(&by_query), "{}", p.id());
            seen += by_query.len();
        }
        assert_eq!(
            seen,
            COMMENT_POOL as usize + 15 + 12,
            "the pool, W42's comments, W44's"
        );
        let w44 = comments(&store, &config, weeks[3]).unwrap();
        assert!(
            w44.iter()
                .any(|c| c.segments == ["region=APAC", "plan=(none)"]),
            "{w44:?}"
        );
        assert!(once.take(weeks[0]).is_none(), "taken once");
        // One week × 16 < 245 days: a query per period is cheaper.
        assert!(RunComments::for_periods(&store, &config, &weeks[..1])
            .unwrap()
            .is_none());
    }
}
