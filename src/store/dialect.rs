//! The small seam where SQL differs between stores. The engine and the
//! importer write portable SQL (CASE, COALESCE, NULLIF, joins, GROUP BY,
//! `ON CONFLICT … DO NOTHING`) and ask the dialect only for what is not
//! portable: connection-local scratch tables and insert-or-ignore. SQLite is
//! the store today; a PostgreSQL dialect implements the same three methods.

pub trait Dialect {
    /// The qualified name of a connection-local scratch table.
    fn scratch(&self, name: &str) -> String;
    /// Creates (if needed) and empties a scratch table with one text key column.
    fn create_scratch(&self, name: &str, column: &str) -> String;
    /// An INSERT of one row that does nothing when its key exists.
    fn insert_ignore(&self, table: &str, columns: &[&str]) -> String;
    /// `table` read by a plain scan, not through an index (the planner
    /// cannot tell that a range covers most of a table).
    fn table_scan(&self, table: &str) -> String;
}

pub struct Sqlite;

impl Dialect for Sqlite {
    fn scratch(&self, name: &str) -> String {
        format!("temp.{name}")
    }

    fn create_scratch(&self, name: &str, column: &str) -> String {
        format!("CREATE TEMP TABLE IF NOT EXISTS {name} ({column} TEXT PRIMARY KEY); DELETE FROM temp.{name};")
    }

    fn insert_ignore(&self, table: &str, columns: &[&str]) -> String {
        let params: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            columns.join(", "),
            params.join(", ")
        )
    }

    fn table_scan(&self, table: &str) -> String {
        // A compact record table is read through its view (migration 12),
        // which SQLite flattens: `NOT INDEXED` there would be ignored, so
        // the same view over a plain scan stands in, under the table's name.
        if super::tables::is_compact(table) {
            format!("{table}_scan AS {table}")
        } else {
            format!("{table} NOT INDEXED")
        }
    }
}

/// PostgreSQL: scratch tables are temporary tables (local to the
/// connection, never distributed by Citus); a plain table name lets the
/// planner choose the scan.
pub struct Postgres;

impl Dialect for Postgres {
    fn scratch(&self, name: &str) -> String {
        name.to_string()
    }

    fn create_scratch(&self, name: &str, column: &str) -> String {
        format!(
            "CREATE TEMP TABLE IF NOT EXISTS {name} ({column} TEXT PRIMARY KEY); TRUNCATE {name};"
        )
    }

    fn insert_ignore(&self, table: &str, columns: &[&str]) -> String {
        Sqlite.insert_ignore(table, columns)
    }

    fn table_scan(&self, table: &str) -> String {
        table.to_string()
    }
}

/// The SQL constructs a Citus coordinator does not distribute, found in
/// `sql` (the tests of every PostgreSQL statement call it).
#[cfg(test)]
pub(crate) fn citus_refusals(sql: &str) -> Vec<&'static str> {
    let upper = sql.to_ascii_uppercase();
    [
        "GROUPING SETS",
        "WITH RECURSIVE",
        "WITHIN GROUP",
        "ROLLUP",
        "CUBE(",
    ]
    .into_iter()
    .filter(|banned| upper.contains(banned))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citus_refusals_name_each_construct() {
        assert!(citus_refusals("SELECT a, count(*) FROM t GROUP BY a").is_empty());
        assert_eq!(
            citus_refusals(
                "select percentile_cont(0.5) within group (order by x) from t group by rollup(a)"
            ),
            ["WITHIN GROUP", "ROLLUP"]
        );
    }

    #[test]
    fn sqlite_statements_run() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let d = Sqlite;
        conn.execute_batch(&d.create_scratch("seen", "id")).unwrap();
        let sql = d.insert_ignore(&d.scratch("seen"), &["id"]);
        assert_eq!(conn.execute(&sql, ["a"]).unwrap(), 1);
        assert_eq!(conn.execute(&sql, ["a"]).unwrap(), 0);
        conn.execute_batch(&d.create_scratch("seen", "id")).unwrap();
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {}", d.scratch("seen")),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0);
    }
}
