#!/usr/bin/env bash
# Render at the scale of the side-by-side snapshot (issue 15 item 3, BENCHMARKS.md §5.2):
# CPU seconds (user + sys, GNU time) per scorecard of a *warm* two-year
# backfill (every KPI already cached, so the run is the render stage: data
# quality, comments, comparisons, the three formats, the email with its PNG
# charts, kpis.json/csv, writing the archive), for one or more binaries run
# alternately in the same minutes, with the load average beside each figure.
# The archive is kept between runs (an `rm -rf` of it makes ext4 file
# creation slow, §6); each binary's archive is compared with the first's
# (`diff -r`, manifest.json aside).
#
#   benches/render_backfill.sh DATA_DIR WORK_DIR REPEAT BIN [BIN…]
#
# e.g. benches/render_backfill.sh /work/benchdata/perf-6m /work/benchdata/render-work 3 \
#        /tmp/scorecard-before target/profiling/scorecard
# WORK_DIR is created with a store imported from DATA_DIR by the first BIN
# (segments region and plan: 10 segments, 1,040 scorecards) if it has none.
set -euo pipefail
DATA=${1:?DATA_DIR}
WORK=${2:?WORK_DIR}
REPEAT=${3:?REPEAT}
shift 3
[ $# -ge 1 ] || { echo "give at least one binary" >&2; exit 2; }
BINS=()
for b in "$@"; do BINS+=("$(realpath "$b")"); done
RANGE=(--since 2024-W01 --until 2025-W52 --today 2026-01-05)
mkdir -p "$WORK"
cd "$WORK"
if [ ! -f scorecard.db ]; then
  cat > config.toml <<'EOF'
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
timezone = "UTC"
out_dir = "reports"
segments = ["region", "plan"]
EOF
  "${BINS[0]}" --config config.toml import "$DATA" > /dev/null
  # Cold: computes and caches every KPI.
  /usr/bin/time -f "cold backfill (${BINS[0]}): %U user %S sys, load $(cut -d' ' -f1 /proc/loadavg)" \
    "${BINS[0]}" --config config.toml run --no-send "${RANGE[@]}" > /dev/null
fi
for b in "${BINS[@]}"; do  # warm-up, and each binary's archive against the first's
  "$b" --config config.toml run --no-send "${RANGE[@]}" > /dev/null 2>&1
  if [ "$b" = "${BINS[0]}" ]; then
    rm -rf reports-first; cp -a reports reports-first
  elif diff -r -q -x manifest.json reports-first reports > /dev/null; then
    echo "archive of $b: the same bytes as ${BINS[0]}'s"
  else
    echo "archive of $b DIFFERS from ${BINS[0]}'s" >&2; exit 1
  fi
done
for i in $(seq 1 "$REPEAT"); do
  for b in "${BINS[@]}"; do
    /usr/bin/time -f "%U %S" -o time.txt "$b" --config config.toml --log-format json \
      run --no-send "${RANGE[@]}" > run.txt 2>&1
    read -r user sys < time.txt
    reports=$(python3 -c 'import json, sys
print(json.loads([l for l in open(sys.argv[1]) if l.startswith("{\"periods")][-1])["reports"])' run.txt)
    awk -v b="$b" -v u="$user" -v s="$sys" -v r="$reports" -v i="$i" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN {printf "run %d %s: %.2f CPU-s (%.2f user + %.2f sys), %d scorecards, %.2f ms per scorecard, load %s\n", i, b, u + s, u, s, r, 1000 * (u + s) / r, l}'
  done
done
