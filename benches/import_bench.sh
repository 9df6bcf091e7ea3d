#!/usr/bin/env bash
# Import throughput (issue 2): `scorecard import` of a generated snapshot,
# beside the sqlite3 shell's `.import --csv --skip 1` of the same CSV files.
#
#   benches/import_bench.sh SNAPSHOT_DIR [WORK_DIR] [REPEAT]
#
# SNAPSHOT_DIR comes from benches/gen_snapshot.py. WORK_DIR (default
# /work/benchdata/import-work) receives the stores; it is wiped first.
# Needs: target/release/scorecard (cargo build --release), sqlite3 and GNU time
# (apt-get install sqlite3 time), python3.
#
# Three measurements, each from an empty store file, each REPEAT times (default 1):
#   scorecard  scorecard import into its own schema (migrations 1-3): parse and
#              validate every cell, day numbers, row hash, upsert by id, ledger.
#   staging    sqlite3 shell .import into plain tables with just the CSV columns
#              (typed like the CSV, no primary key, no index): the bare loading
#              speed of SQLite, no validation.
#   keyed      sqlite3 shell .import into tables with just the CSV columns plus
#              what costs in the real schema: the id as TEXT PRIMARY KEY and an
#              index on each date column that has a day index in migration 1.
#   schema     sqlite3 shell .import into staging tables, then INSERT ... SELECT
#              into the real tables of migration 1 (primary keys, day indexes,
#              customer_attributes), computing the day numbers and epoch seconds
#              in SQL; snapshot_id = 1 and row_hash = 0 (no hash). The closest
#              thing to "the same tables" the shell can do.
# Each variant runs with the store's pragmas (WAL, synchronous=NORMAL, 64 MiB cache).
set -euo pipefail
SNAP=$(realpath "$1")
WORK=${2:-/work/benchdata/import-work}
REPEAT=${3:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"   # SCORECARD_BIN: a copy, while others rebuild target/
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "apt-get install sqlite3" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "apt-get install time" >&2; exit 1; }

rm -rf "$WORK"; mkdir -p "$WORK"
FILES="customers deals orders tickets surveys spend activities"
ROWS=0
for f in $FILES; do
  [ -f "$SNAP/$f.csv" ] && ROWS=$((ROWS + $(wc -l < "$SNAP/$f.csv") - 1))
done
BYTES=$(cat "$SNAP"/*.csv | wc -c)
echo "snapshot: $SNAP: $ROWS data rows, $((BYTES / 1048576)) MiB"
# Warm the page cache so that every variant reads the files from memory.
cat "$SNAP"/*.csv > /dev/null

# measure NAME CMD... : runs under GNU time, prints "NAME wall_s rss_mib rows/s"
measure() {
  local name=$1; shift
  /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$WORK/$name.out" 2>&1 || { cat "$WORK/$name.out" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$WORK/$name.time")
  printf "%-10s wall %8.2f s   peak RSS %6s MiB   %10.0f rows/s\n" "$name" "$wall" "$rss" "$(awk -v r="$ROWS" -v w="$wall" 'BEGIN {print r / w}')"
}

# --- scorecard -------------------------------------------------------------
cat > "$WORK/config.toml" <<EOF
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
segments = ["region", "plan"]
EOF

# --- sqlite3: staging tables with the CSV columns -----------------------------
cat > "$WORK/pragmas.sql" <<'EOF'
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;
EOF
cat > "$WORK/staging.sql" <<'EOF'
CREATE TABLE s_customers (customer_id TEXT, acquired_on TEXT, churned_on TEXT, region TEXT, plan TEXT);
CREATE TABLE s_deals (deal_id TEXT, created_on TEXT, stage TEXT, closed_on TEXT, amount REAL, customer_id TEXT, owner TEXT);
CREATE TABLE s_orders (order_id TEXT, customer_id TEXT, ordered_on TEXT, amount REAL, cost REAL);
CREATE TABLE s_tickets (ticket_id TEXT, opened_at TEXT, first_response_at TEXT, resolved_at TEXT, customer_id TEXT, channel TEXT);
CREATE TABLE s_surveys (response_id TEXT, answered_on TEXT, kind TEXT, score INTEGER, customer_id TEXT, comment TEXT);
CREATE TABLE s_spend (spend_id TEXT, spent_on TEXT, category TEXT, amount REAL, region TEXT);
CREATE TABLE s_activities (activity_id TEXT, occurred_on TEXT, kind TEXT, owner TEXT, customer_id TEXT);
EOF
{
  cat "$WORK/pragmas.sql" "$WORK/staging.sql"
  echo "BEGIN;"
  for f in $FILES; do echo ".import --csv --skip 1 $SNAP/$f.csv s_$f"; done
  echo "COMMIT;"
} > "$WORK/staging-run.sql"

# --- sqlite3: CSV columns, with the primary keys and day indexes -------------
sed -e 's/(\([a-z_]*_id\) TEXT,/(\1 TEXT PRIMARY KEY,/' "$WORK/staging.sql" > "$WORK/keyed.sql"
cat >> "$WORK/keyed.sql" <<'SQL'
CREATE INDEX k_deals_created ON s_deals(created_on);
CREATE INDEX k_deals_closed ON s_deals(closed_on);
CREATE INDEX k_orders_day ON s_orders(ordered_on);
CREATE INDEX k_tickets_day ON s_tickets(opened_at);
CREATE INDEX k_surveys_day ON s_surveys(answered_on);
CREATE INDEX k_spend_day ON s_spend(spent_on);
CREATE INDEX k_activities_day ON s_activities(occurred_on);
-- as migration 5: activity kinds, and customer_id on the customer-linked tables
CREATE INDEX k_activities_kind ON s_activities(kind);
CREATE INDEX k_deals_customer ON s_deals(customer_id);
CREATE INDEX k_orders_customer ON s_orders(customer_id);
CREATE INDEX k_tickets_customer ON s_tickets(customer_id);
CREATE INDEX k_surveys_customer ON s_surveys(customer_id);
CREATE INDEX k_activities_customer ON s_activities(customer_id);
SQL
{
  cat "$WORK/pragmas.sql" "$WORK/keyed.sql"
  echo "BEGIN;"
  for f in $FILES; do echo ".import --csv --skip 1 $SNAP/$f.csv s_$f"; done
  echo "COMMIT;"
} > "$WORK/keyed-run.sql"

# --- sqlite3: the real schema (migrations 1 and 5) through staging -------------------
python3 - "$ROOT/src/store/migrations.rs" > "$WORK/schema.sql" <<'EOF'
import re, sys
src = open(sys.argv[1]).read()
blocks = re.findall(r'r#"(.*?)"#', src, re.S)
print(blocks[0])   # migration 1, verbatim: the snapshot tables
print(blocks[4])   # migration 5, verbatim: kind and customer_id indexes
EOF
# day number = days since 0001-01-01 (period::day_number); julianday('0001-01-01') = 1721425.5
D() { echo "CAST(julianday($1) - 1721425.5 AS INTEGER)"; }
E() { echo "CAST(unixepoch($1) AS INTEGER) * 1000"; }  # milliseconds (migration 6)
N() { echo "NULLIF($1, '')"; }
{
  cat "$WORK/pragmas.sql" "$WORK/schema.sql" "$WORK/staging.sql"
  echo "BEGIN;"
  echo "INSERT INTO snapshots VALUES (1, 'all', '$SNAP', '', 0, 0, 0, 0, 0, '');"
  for f in $FILES; do echo ".import --csv --skip 1 $SNAP/$f.csv s_$f"; done
  cat <<EOF
INSERT INTO customers SELECT customer_id, acquired_on, $(D acquired_on), $(N churned_on), $(D "$(N churned_on)"), 1, 0 FROM s_customers;
INSERT INTO customer_attributes SELECT customer_id, 'region', region FROM s_customers UNION ALL SELECT customer_id, 'plan', plan FROM s_customers;
INSERT INTO deals SELECT deal_id, created_on, $(D created_on), stage, $(N closed_on), $(D "$(N closed_on)"), $(N amount), $(N customer_id), $(N owner), 1, 0 FROM s_deals;
INSERT INTO orders SELECT order_id, customer_id, ordered_on, $(D ordered_on), amount, $(N cost), 1, 0 FROM s_orders;
INSERT INTO tickets SELECT ticket_id, $(E opened_at), $(D "date(opened_at)"), $(E "$(N first_response_at)"), $(E "$(N resolved_at)"), $(N customer_id), $(N channel), 1, 0 FROM s_tickets;
INSERT INTO surveys SELECT response_id, answered_on, $(D answered_on), kind, score, $(N customer_id), $(N comment), 1, 0 FROM s_surveys;
INSERT INTO spend SELECT spend_id, spent_on, $(D spent_on), category, amount, 1, 0 FROM s_spend;
INSERT INTO spend_attributes SELECT spend_id, 'region', region FROM s_spend;
INSERT INTO activities SELECT activity_id, occurred_on, $(D occurred_on), kind, $(N owner), $(N customer_id), 1, 0 FROM s_activities;
EOF
  for f in $FILES; do echo "DROP TABLE s_$f;"; done
  echo "COMMIT;"
} > "$WORK/schema-run.sql"

echo "load average (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), sqlite3 shell $(sqlite3 --version | cut -d' ' -f1)"
for i in $(seq 1 "$REPEAT"); do
  rm -f "$WORK"/*.db "$WORK"/*.db-wal "$WORK"/*.db-shm
  measure scorecard "$BIN" --config "$WORK/config.toml" import "$SNAP"
  measure staging sh -c "sqlite3 '$WORK/staging.db' < '$WORK/staging-run.sql'"
  measure keyed sh -c "sqlite3 '$WORK/keyed.db' < '$WORK/keyed-run.sql'"
  measure schema sh -c "sqlite3 '$WORK/schema.db' < '$WORK/schema-run.sql'"
  # Same rows in the end?
  for t in customers orders tickets surveys activities deals spend; do
    a=$(sqlite3 "$WORK/scorecard.db" "SELECT count(*) FROM $t")
    b=$(sqlite3 "$WORK/schema.db" "SELECT count(*) FROM $t")
    [ "$a" = "$b" ] || echo "row count differs for $t: scorecard $a, sqlite3 $b" >&2
  done
done
grep -v '^$' "$WORK/scorecard.out" | tail -8
ls -l "$WORK"/*.db | awk '{printf "%s %d MiB\n", $NF, $5 / 1048576}'

echo "load average at the end (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
