#!/usr/bin/env bash
# Issue 15, side by side in one run on one snapshot: `scorecard import` beside
# the sqlite3 shell's plain `.import` into bare tables, then the cold two-year
# backfill (compute + render of every weekly scorecard, segments region and
# plan) beside DuckDB computing every KPI from the same CSV files.
#
#   benches/side_by_side.sh SNAPSHOT_DIR WORK_DIR
#
# Prints wall, CPU (user + sys) and peak RSS of each, the store sizes, and the
# load average (the machine may be shared: compare CPU seconds when it is).
set -euo pipefail
SNAP=$(realpath "$1")
WORK=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
rm -rf "$WORK"; mkdir -p "$WORK"
ROWS=0
for f in "$SNAP"/*.csv; do ROWS=$((ROWS + $(wc -l < "$f") - 1)); done
BYTES=$(cat "$SNAP"/*.csv | wc -c)
echo "snapshot $SNAP: $ROWS rows, $((BYTES / 1048576)) MiB of CSV"
echo "load average (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
measure() {  # measure LABEL CMD...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; exit 1; }
  read -r wall user sys rss < "$WORK/time.txt"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN {printf "%-28s wall %7.2f s  cpu %7.2f s  peak RSS %5d MiB\n", l, w, u + s, r / 1024}'
  grep -E '^run:' "$WORK/out.txt" | sed 's/^/    /' || true
}
cat "$SNAP"/*.csv > /dev/null
cat > "$WORK/config.toml" <<CFG
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
timezone = "UTC"
out_dir = "reports"
segments = ["region", "plan"]
CFG
measure "scorecard import" "$BIN" --config "$WORK/config.toml" import "$SNAP"
{
  echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;"
  echo "BEGIN;"
  for f in "$SNAP"/*.csv; do echo ".import --csv $f $(basename "$f" .csv)"; done
  echo "COMMIT;"
} > "$WORK/bare.sql"
measure "sqlite3 .import (bare)" sh -c "sqlite3 '$WORK/bare.db' < '$WORK/bare.sql'"
sqlite3 "$WORK/scorecard.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
sqlite3 "$WORK/bare.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
echo "store sizes: scorecard $(($(stat -c %s "$WORK/scorecard.db") / 1048576)) MiB, bare $(($(stat -c %s "$WORK/bare.db") / 1048576)) MiB, CSV $((BYTES / 1048576)) MiB"
rm -f "$WORK/bare.db"*
measure "scorecard cold backfill" "$BIN" --config "$WORK/config.toml" run --no-send --since 2024-W01 --until 2025-W52 --today 2026-01-05
echo "== duckdb"
python3 "$ROOT/benches/duckdb_kpis.py" "$SNAP" --from 2023-01-02 --to 2025-12-22 --repeat 1 --check "$WORK/reports"
echo "load average at the end (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
