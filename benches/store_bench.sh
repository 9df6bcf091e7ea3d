#!/usr/bin/env bash
# The two stores side by side (issue 13): import and the full two-year
# backfill of a generated snapshot on SQLite and on PostgreSQL, with the
# wall time and peak RSS of the `scorecard` process, the time PostgreSQL
# spent in the grouped queries and what crossed the wire, and DuckDB
# computing the same KPIs from the CSV files.
#
#   benches/store_bench.sh SNAPSHOT_DIR PG_URL [WORK_DIR]
#
# SNAPSHOT_DIR: 104 weeks 2024-W01..2025-W52 from benches/gen_snapshot.py.
# PG_URL: postgres://user@host:port/db (the schema `bench` is dropped first).
# Needs target/release/scorecard (or SCORECARD_BIN), GNU time, psql, and
# `pip install duckdb` for the DuckDB line.
set -euo pipefail
SNAP=$(realpath "$1")
PG_URL=$2
WORK=${3:-/work/benchdata/store-work}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
TODAY=2026-01-05
rm -rf "$WORK"; mkdir -p "$WORK/sqlite" "$WORK/pg"
common='[report]
cadence = "weekly"
timezone = "UTC"
out_dir = "reports"
segments = ["region", "plan"]'
printf '[store]\npath = "scorecard.db"\n%s\n' "$common" > "$WORK/sqlite/config.toml"
printf '[store]\nurl = "%s"\nschema = "bench"\n%s\n' "$PG_URL" "$common" > "$WORK/pg/config.toml"
psql -q "$PG_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench CASCADE" >/dev/null
timed() {  # timed LABEL DIR CMD...: wall time, peak RSS, the run summary
  local label=$1 dir=$2; shift 2
  SCORECARD_LOG=info /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$BIN" --config "$dir/config.toml" "$@" > "$dir/out.txt" 2>&1 || { cat "$dir/out.txt" >&2; exit 1; }
  read -r wall rss < "$dir/time.txt"
  echo "$label: wall ${wall} s, peak RSS $((rss / 1024)) MiB"
  grep -E '^run:|inserted' "$dir/out.txt" | sed 's/^/    /' | tail -8
}
ROWS=$(cat "$SNAP"/*.csv | wc -l)
cat "$SNAP"/*.csv > /dev/null   # page cache warm
echo "snapshot: $SNAP, $ROWS lines; load average $(cut -d" " -f1-3 /proc/loadavg)"
for store in sqlite pg; do
  timed "$store import" "$WORK/$store" import "$SNAP"
  timed "$store backfill 2024-W01..2025-W52" "$WORK/$store" run --no-send --since 2024-W01 --until 2025-W52 --today "$TODAY"
done
echo "pg: the grouped queries (ms, rows, bytes summed over the backfill):"
grep "grouped query on PostgreSQL" "$WORK/pg/out.txt" | sed "s/\x1b\[[0-9;]*m//g" | sed -E 's/.*query="?([a-z_]+)"? rows=([0-9]+) bytes=([0-9]+) ms=([0-9]+).*/\1 \2 \3 \4/' \
  | awk '{r[$1]+=$2; b[$1]+=$3; t[$1]+=$4; R+=$2; B+=$3; T+=$4} END {for (q in t) printf "    %-26s %7d ms %9d rows %11d bytes\n", q, t[q], r[q], b[q]; printf "    %-26s %7d ms %9d rows %11d bytes\n", "all", T, R, B}'
diffs=0
for f in $(cd "$WORK/sqlite/reports" && find . -name kpis.json); do
  cmp -s "$WORK/sqlite/reports/$f" "$WORK/pg/reports/$f" || diffs=$((diffs + 1))
done
echo "kpis.json files that differ between the stores: $diffs of $(cd "$WORK/sqlite/reports" && find . -name kpis.json | wc -l)"
if python3 -c "import duckdb" 2>/dev/null; then
  echo "== duckdb"
  python3 "$ROOT/benches/duckdb_kpis.py" "$SNAP" --from 2023-01-02 --to 2025-12-22 --repeat 1
fi
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
