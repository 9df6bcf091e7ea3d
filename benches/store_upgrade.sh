#!/usr/bin/env bash
# A store made by an older scorecard, opened by this one: the migrations run
# on first open (timed), the store passes `PRAGMA integrity_check`, a
# re-import of the same snapshot finds every row unchanged, and the KPIs of
# a backfill are byte for byte those of a fresh import by this binary.
#
#   benches/store_upgrade.sh OLD_STORE FRESH_STORE SNAPSHOT_DIR WORK_DIR
#
# OLD_STORE: the older binary's import of SNAPSHOT_DIR (copied, not changed);
# FRESH_STORE: this binary's import of it (e.g. benches/import_speed.sh's),
# both with the settings below (weekly, UTC, no segments at import).
set -euo pipefail
OLD=$(realpath "$1"); FRESH=$(realpath "$2"); SNAP=$(realpath "$3"); WORK=$4
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${SCORECARD_BIN:-$ROOT/target/release/scorecard}"
rm -rf "$WORK"; mkdir -p "$WORK/up" "$WORK/fresh"
cp "$OLD" "$WORK/up/scorecard.db"; cp "$FRESH" "$WORK/fresh/scorecard.db"
for d in up fresh; do
  cat > "$WORK/$d/config.toml" <<CFG
[store]
path = "scorecard.db"
[report]
cadence = "weekly"
timezone = "UTC"
segments = ["region", "plan"]
CFG
done
echo "schema before: $(sqlite3 "$WORK/up/scorecard.db" 'PRAGMA user_version'), size $(($(stat -c %s "$WORK/up/scorecard.db") / 1048576)) MiB"
echo "    load average before: $(cut -d" " -f1-3 /proc/loadavg)"
# The first open migrates; `show` of an early week computes almost nothing.
/usr/bin/time -f "first open (migrations + one week): wall %e s, cpu user %U s + sys %S s, peak RSS %M KiB" \
  "$BIN" --config "$WORK/up/config.toml" show --period 2023-W01 > /dev/null
echo "schema after: $(sqlite3 "$WORK/up/scorecard.db" 'PRAGMA user_version')"
sqlite3 "$WORK/up/scorecard.db" "PRAGMA wal_checkpoint(TRUNCATE);" > /dev/null
echo "size after the migrations: $(($(stat -c %s "$WORK/up/scorecard.db") / 1048576)) MiB, of which free pages: $(($(sqlite3 "$WORK/up/scorecard.db" 'PRAGMA freelist_count') * 4096 / 1048576)) MiB (reused by later imports; VACUUM returns them)"
sqlite3 "$WORK/up/scorecard.db" "VACUUM;" > /dev/null
echo "size after VACUUM: $(($(stat -c %s "$WORK/up/scorecard.db") / 1048576)) MiB"
echo "integrity_check: $(sqlite3 "$WORK/up/scorecard.db" 'PRAGMA integrity_check')"
# The same rows in other bytes (CRLF line ends), so that the import compares
# every row with the stored one instead of skipping the known files.
mkdir -p "$WORK/crlf"
for f in "$SNAP"/*.csv; do sed 's/$/\r/' "$f" > "$WORK/crlf/$(basename "$f")"; done
/usr/bin/time -f "re-import: wall %e s, cpu user %U s + sys %S s, peak RSS %M KiB" -o "$WORK/reimport.time" \
  "$BIN" --config "$WORK/up/config.toml" import "$WORK/crlf" > "$WORK/reimport.txt" 2>&1
rm -rf "$WORK/crlf"
cat "$WORK/reimport.time"
echo "re-import of the same snapshot:"; sed 's/^/    /' "$WORK/reimport.txt"
for d in up fresh; do
  "$BIN" --config "$WORK/$d/config.toml" run --no-send --since 2025-W01 --until 2025-W26 --today 2026-01-05 > /dev/null
done
DIFFS=0
for f in $(cd "$WORK/fresh/reports" && find . -name kpis.json | sort); do
  cmp -s "$WORK/fresh/reports/$f" "$WORK/up/reports/$f" || { echo "differs: $f"; DIFFS=$((DIFFS + 1)); }
done
echo "kpis.json files compared: $(cd "$WORK/fresh/reports" && find . -name kpis.json | wc -l), differing: $DIFFS"
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
