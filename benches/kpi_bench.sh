#!/usr/bin/env bash
# KPI engine (issue 3): (a) the full computation of every weekly period × every
# segment from a cold cache, (b) the incremental run after importing one more
# week, beside DuckDB computing the same KPIs from the same CSV files.
#
#   benches/kpi_bench.sh HISTORY_DIR NEXT_WEEK_DIR [WORK_DIR] [REPEAT]
#
# HISTORY_DIR: 104 weeks 2024-W01..2025-W52 from benches/gen_snapshot.py;
# NEXT_WEEK_DIR: the same generator with --extra-week (2026-W01 only).
# Needs target/release/scorecard (or SCORECARD_BIN), GNU time, sqlite3, and
# `pip install duckdb` for the comparison.
set -euo pipefail
HIST=$(realpath "$1")
NEXT=$(realpath "$2")
WORK=${3:-/work/benchdata/kpi-work}
REPEAT=${4:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
TODAY=2026-01-05
rm -rf "$WORK"; mkdir -p "$WORK"
cat > "$WORK/config.toml" <<EOF
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
timezone = "UTC"
out_dir = "reports"
segments = ["region", "plan"]
EOF
SC=("$BIN" --config "$WORK/config.toml")
timed() {  # timed LABEL CMD...: prints the command's last line, wall time and peak RSS
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; exit 1; }
  read -r wall rss < "$WORK/time.txt"
  echo "$label: wall ${wall} s, peak RSS $((rss / 1024)) MiB"
  grep -E '^run:|inserted' "$WORK/out.txt" | sed 's/^/    /' | tail -8
}
uncache() { sqlite3 "$WORK/scorecard.db" "DELETE FROM kpi_cache; DELETE FROM computed_periods; VACUUM;"; }
cat "$HIST"/*.csv > /dev/null   # page cache warm for both engines

echo "load average (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
echo "== scorecard: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
timed "import history" "${SC[@]}" import "$HIST"
for i in $(seq 1 "$REPEAT"); do
  [ "$i" -gt 1 ] && uncache
  timed "(a) cold full run #$i" "${SC[@]}" run --no-send --since 2024-W01 --until 2025-W52 --today "$TODAY"
done
timed "import next week" "${SC[@]}" import "$NEXT"
timed "(b) incremental run" "${SC[@]}" run --no-send --period 2026-W01 --today "$TODAY"
for i in $(seq 2 "$REPEAT"); do
  # the same invalidation the import did: the new week's periods leave the cache
  sqlite3 "$WORK/scorecard.db" "DELETE FROM kpi_cache WHERE period = '2026-W01'; DELETE FROM computed_periods WHERE period = '2026-W01';"
  timed "(b) incremental run #$i" "${SC[@]}" run --no-send --period 2026-W01 --today "$TODAY"
done

# The cold run computes 2023-W01..2025-W52 (the 104 weeks, the 25 weeks of
# sparkline history before them and their year-ago weeks): DuckDB does the same.
echo "== duckdb"
python3 "$ROOT/benches/duckdb_kpis.py" "$HIST" --from 2023-01-02 --to 2025-12-22 --repeat "$REPEAT" --check "$WORK/reports"
python3 "$ROOT/benches/duckdb_kpis.py" "$HIST" --from 2023-01-02 --to 2025-12-22 --repeat "$REPEAT" --threads 1

echo "load average at the end (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
