#!/usr/bin/env bash
# The stores side by side in one run (issue 13 item 7), and one point of the
# scale curve (issue 15 item 4): on one generated snapshot,
#   - `scorecard import` into SQLite, beside the sqlite3 shell's bare `.import`;
#   - the cold two-year backfill on SQLite (compute, render, peak memory);
#   - `scorecard import` into PostgreSQL and the same backfill there, with the
#     time, rows and bytes of the engine's grouped queries;
#   - PostgreSQL's own aggregate SQL for the same KPIs in the same server
#     (benches/pg_reference.sql), checked figure by figure against
#     scorecard's kpis.json;
#   - DuckDB computing the same KPIs from the CSV files (benches/duckdb_kpis.py).
#
#   benches/store_bench.sh SNAPSHOT_DIR PG_URL [WORK_DIR] [REPEAT]
#
# SNAPSHOT_DIR: 104 weeks 2024-W01..2025-W52 from benches/gen_snapshot.py.
# PG_URL: postgres://user@host:port/db (the schema `bench` is dropped first;
# PG_URL=none skips PostgreSQL). REPEAT (default 1): the cold backfill and
# the reference SQL are run that many times (the KPI cache emptied between
# runs, the archive removed). STAGES (default "sqlite shell pg duckdb")
# chooses the parts; SCHEMA (default bench) the PostgreSQL schema. KEEP=1
# keeps the stores (default: each is removed when done, the disk is shared). Needs target/release/scorecard (or SCORECARD_BIN),
# GNU time, sqlite3, psql, and `pip install duckdb`.
#
# Every figure is printed with the 1-minute load average at its start. Peak
# memory: GNU time's maximum resident set size of the process; for the
# backfill also the peak and the CPU seconds (user + sys) up to the end of
# the compute stage (VmHWM and utime + stime of the process, polled every
# 50 ms until its "compute done" log line), so that compute and render each
# have a CPU figure. COMMIT names the commit SCORECARD_BIN was built from
# (default: this worktree's HEAD).
set -euo pipefail
SNAP=$(realpath "$1")
PG_URL=$2
SCHEMA=${SCHEMA:-bench}
WORK=${3:-/work/benchdata/store-work}
REPEAT=${4:-1}
STAGES=${STAGES:-sqlite shell pg duckdb}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
TODAY=2026-01-05
FIRST_MONDAY=2023-01-02   # the backfill computes 2023-W01..2025-W52 (history for sparklines, year ago)
WEEKS=156
has() { [[ " $STAGES " == *" $1 "* ]]; }
load() { cut -d" " -f1 /proc/loadavg; }
rm -rf "$WORK"; mkdir -p "$WORK/sqlite" "$WORK/pg"
ROWS=0
for f in "$SNAP"/*.csv; do ROWS=$((ROWS + $(wc -l < "$f") - 1)); done
BYTES=$(cat "$SNAP"/*.csv | wc -c)
common='[report]
cadence = "weekly"
timezone = "UTC"
out_dir = "reports"
segments = ["region", "plan"]'
printf '[store]\npath = "scorecard.db"\n%s\n' "$common" > "$WORK/sqlite/config.toml"
printf '[store]\nurl = "%s"\nschema = "%s"\n%s\n' "$PG_URL" "$SCHEMA" "$common" > "$WORK/pg/config.toml"
echo "snapshot $SNAP: $ROWS rows, $((BYTES / 1048576)) MiB of CSV; $(nproc) cores; binary $BIN, commit ${COMMIT:-$(git -C "$ROOT" log -1 --format=%h)}"
echo "disk: $(df -h --output=avail,pcent "$(dirname "$WORK")" | tail -1 | xargs) free/used"
echo "load average (1/5/15 min) at the start: $(cut -d" " -f1-3 /proc/loadavg)"
cat "$SNAP"/*.csv > /dev/null   # page cache warm

# measure LABEL DIR CMD...: wall, CPU (user + sys) and peak RSS of CMD, the
# load average at its start, its summary line; with SAMPLE=1 also the peak
# RSS and the CPU seconds up to its "compute done" log line (the end of the
# compute stage; the first "archived" line if there is none).
measure() {
  local label=$1 dir=$2; shift 2
  local l0; l0=$(load)
  SCORECARD_LOG=info /usr/bin/time -v -o "$dir/time.txt" "$@" > "$dir/out.txt" 2>&1 &
  local tpid=$! peak_compute="" cpu_compute=""
  if [ "${SAMPLE:-0}" = 1 ]; then
    local pid="" hwm=0 ticks=0 hz; hz=$(getconf CLK_TCK)
    while kill -0 "$tpid" 2>/dev/null; do
      [ -z "$pid" ] && pid=$(pgrep -P "$tpid" | head -1 || true)
      if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo "$hwm")
        # utime + stime: fields 14 and 15 of /proc/PID/stat (after the "(comm)")
        ticks=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}' || echo "$ticks")
        if grep -q 'compute done\|"archived"\| archived' "$dir/out.txt" 2>/dev/null; then
          peak_compute=$hwm; cpu_compute=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}'); break
        fi
      fi
      sleep 0.05
    done
  fi
  wait "$tpid" || { cat "$dir/out.txt" >&2; exit 1; }
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$dir/time.txt")
  cpu=$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' "$dir/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print int($2 / 1024)}' "$dir/time.txt")
  printf '%-34s wall %7.2f s  cpu %7.2f s  peak RSS %5d MiB%s  (load %s)\n' "$label" "$wall" "$cpu" "$rss" \
    "${peak_compute:+; up to the end of compute: $((peak_compute / 1024)) MiB, cpu $cpu_compute s (render and archive: cpu $(awk -v a="$cpu" -v b="$cpu_compute" 'BEGIN {printf "%.2f", a - b}') s)}" "$l0"
  grep -E '^run:|inserted' "$dir/out.txt" | sed "s/\x1b\[[0-9;]*m//g; s/^/    /" | tail -3 || true
}

backfill() {  # backfill STORE: REPEAT cold backfills
  local store=$1
  for i in $(seq 1 "$REPEAT"); do
    if [ "$i" -gt 1 ]; then
      # The archive stays: the run replaces each period folder in place, as
      # a user's does. Deleting it first made the next run's file creation
      # slow on ext4 (BENCHMARKS.md §6, "Explained since").
      if [ "$store" = sqlite ]; then
        sqlite3 "$WORK/sqlite/scorecard.db" "DELETE FROM kpi_cache; DELETE FROM computed_periods; DELETE FROM sends;"
      else
        # One -c per transaction: VACUUM refuses to run inside the block
        # that a multi-statement -c string is.
        psql -qX "$PG_URL" -c "SET search_path = $SCHEMA" \
          -c "DELETE FROM kpi_cache; DELETE FROM computed_periods; DELETE FROM sends" -c "VACUUM ANALYZE" > /dev/null
      fi
    fi
    SAMPLE=1 measure "$store cold backfill #$i" "$WORK/$store" "$BIN" --config "$WORK/$store/config.toml" \
      run --no-send --since 2024-W01 --until 2025-W52 --today "$TODAY"
  done
}

if has sqlite; then
  echo "== SQLite store"
  measure "sqlite: scorecard import" "$WORK/sqlite" "$BIN" --config "$WORK/sqlite/config.toml" import "$SNAP"
  sqlite3 "$WORK/sqlite/scorecard.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
  echo "    store $(($(stat -c %s "$WORK/sqlite/scorecard.db") / 1048576)) MiB"
  backfill sqlite
  [ "${KEEP:-0}" = 1 ] || rm -f "$WORK/sqlite/scorecard.db"*   # the disk is shared; the reports stay
fi

if has shell; then
  {
    echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;"
    echo "BEGIN;"
    for f in "$SNAP"/*.csv; do echo ".import --csv $f $(basename "$f" .csv)"; done
    echo "COMMIT;"
  } > "$WORK/bare.sql"
  measure "sqlite3 shell .import (bare)" "$WORK" sh -c "sqlite3 '$WORK/bare.db' < '$WORK/bare.sql'"
  sqlite3 "$WORK/bare.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
  echo "    store $(($(stat -c %s "$WORK/bare.db") / 1048576)) MiB"
  rm -f "$WORK/bare.db"*
  # The shell as it comes: its default rollback journal, synchronous FULL
  # and 2 MiB page cache (the bare import above runs with the store's WAL
  # settings). A first `scorecard import` writes through a rollback journal
  # too (store::import, FirstImportJournal).
  grep -v PRAGMA "$WORK/bare.sql" > "$WORK/plain.sql"
  measure "sqlite3 shell .import (plain)" "$WORK" sh -c "sqlite3 '$WORK/plain.db' < '$WORK/plain.sql'"
  echo "    store $(($(stat -c %s "$WORK/plain.db") / 1048576)) MiB"
  rm -f "$WORK/plain.db"*
fi

if has pg && [ "$PG_URL" != none ]; then
  echo "== PostgreSQL store: $(psql -qXAt "$PG_URL" -c "SELECT version()" | cut -d' ' -f1-2)"
  psql -qX "$PG_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" > /dev/null
  measure "pg: scorecard import" "$WORK/pg" "$BIN" --config "$WORK/pg/config.toml" import "$SNAP"
  psql -qX "$PG_URL" -c "VACUUM ANALYZE" > /dev/null 2>&1 || true
  echo "    store $(psql -qXAt "$PG_URL" -c "SELECT sum(pg_total_relation_size(c.oid))::bigint / 1048576 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r'") MiB (tables with their indexes)"
  backfill pg
  echo "    the grouped queries of the last backfill (ms, rows, bytes):"
  sed "s/\x1b\[[0-9;]*m//g" "$WORK/pg/out.txt" | grep "grouped query on PostgreSQL" \
    | sed -E 's/.*query="?([a-z_]+)"? rows=([0-9]+) bytes=([0-9]+) ms=([0-9]+).*/\1 \2 \3 \4/' \
    | awk '{r[$1]+=$2; b[$1]+=$3; t[$1]+=$4; R+=$2; B+=$3; T+=$4} END {for (q in t) printf "      %-22s %7d ms %9d rows %11d bytes\n", q, t[q], r[q], b[q]; printf "      %-22s %7d ms %9d rows %11d bytes\n", "all", T, R, B}'
  if has sqlite; then
    diffs=0
    for f in $(cd "$WORK/sqlite/reports" && find . -name kpis.json); do
      cmp -s "$WORK/sqlite/reports/$f" "$WORK/pg/reports/$f" || diffs=$((diffs + 1))
    done
    echo "    kpis.json files that differ between SQLite and PostgreSQL: $diffs of $(cd "$WORK/sqlite/reports" && find . -name kpis.json | wc -l)"
  fi
  # The reference: the same KPIs by PostgreSQL's own SQL, in the same server.
  lo=$(python3 -c "import datetime as d; print(d.date.fromisoformat('$FIRST_MONDAY').toordinal() - 1)")
  asof=$(psql -qXAt "$PG_URL" -c "SELECT greatest(max(opened_at), max(first_response_at), max(resolved_at)) FROM $SCHEMA.tickets")
  for i in $(seq 1 "$REPEAT"); do
    l0=$(load)
    /usr/bin/time -f "%e" -o "$WORK/pg/ref-time.txt" psql -qX "$PG_URL" -v schema="$SCHEMA" -v lo="$lo" -v k="$WEEKS" \
      -v asof="$asof" -v sla=$((24 * 3600000)) -v h=$((72 * 3600000)) \
      -v out="$WORK/pg/reference.csv" -v out_kinds="$WORK/pg/reference-kinds.csv" -f "$ROOT/benches/pg_reference.sql"
    printf '%-34s wall %7.2f s  (load %s)\n' "pg: reference SQL #$i" "$(cat "$WORK/pg/ref-time.txt")" "$l0"
  done
  python3 "$ROOT/benches/pg_reference_check.py" "$WORK/pg/reference.csv" "$WORK/pg/reference-kinds.csv" \
    "$FIRST_MONDAY" "$WORK/pg/reports" | sed 's/^/    /' || echo "    (the reference differs from scorecard: see above)"
fi

if has duckdb && python3 -c "import duckdb" 2>/dev/null; then
  echo "== DuckDB (load $(load))"
  check=""
  for s in sqlite pg; do [ -d "$WORK/$s/reports" ] && check="$WORK/$s/reports"; done
  python3 "$ROOT/benches/duckdb_kpis.py" "$SNAP" --from "$FIRST_MONDAY" --to 2025-12-22 --repeat 1 \
    ${check:+--check "$check"} | sed 's/^/    /'
fi

echo "load average (1/5/15 min) at the end: $(cut -d" " -f1-3 /proc/loadavg)"
if [ "${KEEP:-0}" != 1 ]; then
  rm -rf "$WORK"
  [ "$PG_URL" != none ] && has pg && psql -qX "$PG_URL" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" > /dev/null
fi
