#!/usr/bin/env bash
# Issue 15 item 2: `scorecard import` of one snapshot into a fresh store beside
# the sqlite3 shell's bare `.import` of the same files (same pragmas: WAL,
# synchronous NORMAL, 64 MiB cache), then the store's size by table and
# index (dbstat) against the CSV bytes.
#
#   benches/import_speed.sh SNAPSHOT_DIR WORK_DIR [RUNS]
#
# Prints wall, CPU (user + sys) and peak RSS of each run and the load
# average (on a shared machine compare CPU seconds). With SCORECARD_BEFORE
# set to another binary, each run imports with it too, first (before and
# after alternating with the shell in one run).
set -euo pipefail
SNAP=$(realpath "$1")
WORK=$2
RUNS=${3:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
mkdir -p "$WORK"
ROWS=0
for f in "$SNAP"/*.csv; do ROWS=$((ROWS + $(wc -l < "$f") - 1)); done
BYTES=$(cat "$SNAP"/*.csv | wc -c)
echo "snapshot $SNAP: $ROWS rows, $((BYTES / 1048576)) MiB of CSV"
measure() {  # measure LABEL CMD...
  local label=$1; shift
  echo "    load average before: $(cut -d" " -f1-3 /proc/loadavg)"
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; exit 1; }
  read -r wall user sys rss < "$WORK/time.txt"
  awk -v l="$label" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    'BEGIN {printf "%-26s wall %7.2f s  cpu %7.2f s  peak RSS %5d MiB\n", l, w, u + s, r / 1024}'
}
cat > "$WORK/config.toml" <<CFG
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
timezone = "UTC"
CFG
{
  echo "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;"
  echo "BEGIN;"
  for f in "$SNAP"/*.csv; do echo ".import --csv $f $(basename "$f" .csv)"; done
  echo "COMMIT;"
} > "$WORK/bare.sql"
for run in $(seq "$RUNS"); do
  cat "$SNAP"/*.csv > /dev/null
  rm -f "$WORK"/scorecard.db* "$WORK"/bare.db*
  if [ -n "${SCORECARD_BEFORE:-}" ]; then
    measure "scorecard import (before)" "$SCORECARD_BEFORE" --config "$WORK/config.toml" import "$SNAP"
    rm -f "$WORK"/scorecard.db*
  fi
  measure "scorecard import" "$BIN" --config "$WORK/config.toml" import "$SNAP"
  measure "sqlite3 .import (bare)" sh -c "sqlite3 '$WORK/bare.db' < '$WORK/bare.sql'"
done
sqlite3 "$WORK/scorecard.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
sqlite3 "$WORK/bare.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
S=$(stat -c %s "$WORK/scorecard.db"); B=$(stat -c %s "$WORK/bare.db")
awk -v s="$S" -v b="$B" -v c="$BYTES" 'BEGIN {printf "store: scorecard %d MiB (%.2fx CSV), bare %d MiB (%.2fx CSV), CSV %d MiB\n", s/1048576, s/c, b/1048576, b/c, c/1048576}'
echo "scorecard store by table and index (MiB):"
sqlite3 "$WORK/scorecard.db" "SELECT printf('    %-30s %7.1f', name, sum(pgsize) / 1048576.0) FROM dbstat GROUP BY name HAVING sum(pgsize) > 1048576 ORDER BY sum(pgsize) DESC"
rm -f "$WORK"/bare.db*
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
