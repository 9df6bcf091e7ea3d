#!/usr/bin/env bash
# Render (issue 4): time of one full scorecard, and of 100 segment scorecards,
# read from the "render" seconds and the "N reports" of `scorecard run`'s
# summary line (the render stage includes writing the period folder and the
# archive index, so it is an upper bound of the template work).
#
#   benches/render_bench.sh [DATA_DIR] [WORK_DIR] [REPEAT]
#
# DATA_DIR (default /work/benchdata/plans100) is generated if missing: 20,000
# customers whose `plan` attribute has 100 values, two years of records.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${1:-/work/benchdata/plans100}
WORK=${2:-/work/benchdata/render-work}
REPEAT=${3:-3}
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
TODAY=2026-01-05
PERIOD=2025-W52
if [ ! -f "$DATA/customers.csv" ]; then
  python3 "$ROOT/benches/gen_snapshot.py" --out "$DATA" --plans 100 --customers 20000 --orders 300000 \
    --tickets 100000 --surveys 50000 --activities 50000 --deals 10000
fi
rm -rf "$WORK"; mkdir -p "$WORK"
echo "load average (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
# "computed reports render_seconds" from the JSON summary line (--log-format json: more digits)
summary() { python3 -c 'import json, sys
j = json.loads([l for l in open(sys.argv[1]) if l.startswith("{\"periods")][-1])
print(j["computed_periods"], j["reports"], j["seconds"]["render"])' "$1"; }

for setup in whole:'[]' plan100:'["plan"]'; do
  name=${setup%%:*}; segs=${setup#*:}
  mkdir -p "$WORK/$name"
  cat > "$WORK/$name/config.toml" <<EOF
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
out_dir = "reports"
segments = $segs
EOF
  SC() { "$BIN" --config "$WORK/$name/config.toml" --log-format json "$@"; }
  SC import "$DATA" > /dev/null
  SC run --no-send --period "$PERIOD" --today "$TODAY" > /dev/null 2>&1   # fills the KPI cache
  for i in $(seq 1 "$REPEAT"); do
    SC run --no-send --period "$PERIOD" --today "$TODAY" > "$WORK/$name/run.txt" 2>&1
    read -r computed reports render < <(summary "$WORK/$name/run.txt")
    awk -v n="$name" -v r="$reports" -v s="$render" -v c="$computed" \
      'BEGIN {printf "%-8s run %d: %3d reports, render %.3f s, %.1f ms per scorecard (%d periods computed)\n", n, '"$i"', r, s, 1000 * s / r, c}'
  done
  grep -E '^[{]"periods' "$WORK/$name/run.txt"
done
# A backfill of 104 periods, whole business only: render seconds per period.
SC() { "$BIN" --config "$WORK/whole/config.toml" --log-format json "$@"; }
SC run --no-send --since 2024-W01 --until 2025-W52 --today "$TODAY" > "$WORK/whole/backfill.txt" 2>&1
read -r computed reports render < <(summary "$WORK/whole/backfill.txt")
awk -v r="$reports" -v s="$render" 'BEGIN {printf "backfill: %d reports, render %.2f s, %.1f ms per scorecard\n", r, s, 1000 * s / r}'
# Peak memory of a run as the number of periods grows (102 scorecards per period).
SC() { "$BIN" --config "$WORK/plan100/config.toml" --log-format json "$@"; }
for range in "--period $PERIOD" "--since 2025-W40 --until $PERIOD" "--since 2025-W27 --until $PERIOD"; do
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$BIN" --config "$WORK/plan100/config.toml" --log-format json \
    run --no-send $range --today "$TODAY" > "$WORK/plan100/mem.txt" 2>&1
  read -r wall rss < "$WORK/time.txt"
  read -r computed reports render < <(summary "$WORK/plan100/mem.txt")
  echo "plan100 $range: $reports reports, render $render s, wall $wall s, peak RSS $((rss / 1024)) MiB"
done
du -sh "$WORK/plan100/reports/weekly/$PERIOD" "$WORK/whole/reports/weekly/$PERIOD"

echo "load average at the end (1/5/15 min): $(cut -d" " -f1-3 /proc/loadavg)"
