#!/usr/bin/env python3
"""Compares the figures of benches/pg_reference.sql (its two CSV outputs)
with the kpis.json files of a scorecard archive, so that the reference SQL
is shown to compute what scorecard computes.

    python3 benches/pg_reference_check.py KPIS_CSV KINDS_CSV FIRST_MONDAY REPORTS_DIR

FIRST_MONDAY is the date of week index 0 (the reference's `lo`). Figures
that scorecard marks provisional (tickets still inside their window, where
it estimates by Kaplan-Meier and the reference keeps the plain formula) are
not compared. Exits 1 if any compared figure differs by more than 1e-9
relative.
"""
import csv
import datetime as dt
import glob
import json
import os
import sys


def main():
    kpis_csv, kinds_csv, first, reports = sys.argv[1:5]
    monday = dt.date.fromisoformat(first)
    ours = {}
    with open(kpis_csv) as f:
        for r in csv.DictReader(f):
            start = (monday + dt.timedelta(days=7 * int(r.pop("w")))).isoformat()
            ours[(start, r.pop("seg"))] = r
    with open(kinds_csv) as f:
        for r in csv.DictReader(f):
            start = (monday + dt.timedelta(days=7 * int(r["w"]))).isoformat()
            ours.setdefault((start, r["seg"]), {})["activities." + r["kind"]] = r["n"]
    compared, provisional, missing, worst = 0, 0, 0, []
    for path in sorted(glob.glob(os.path.join(reports, "weekly", "*", "kpis.json"))):
        doc = json.load(open(path))
        start = doc["period"]["start"]
        for k in doc["kpis"]:
            r = ours.get((start, k["segment"] or ""))
            if r is not None and k["id"].startswith("activities.") and k["id"] not in r:
                r[k["id"]] = "0"  # no activity of that kind: no group
            if r is None or k["id"] not in r:
                missing += 1
                continue
            if k.get("provisional"):
                provisional += 1
                continue
            a, b = k["value"], r[k["id"]]
            b = None if b == "" else float(b)
            if a is None and b is None:
                diff = 0.0
            elif a is None or b is None:
                # a count of 0 where the reference has no group
                diff = 0.0 if (a or 0) == (b or 0) else float("inf")
            else:
                diff = abs(a - b) / max(1.0, abs(a))
            compared += 1
            worst.append((diff, doc["period"]["id"], k["segment"], k["id"], a, b))
    worst.sort(key=lambda w: w[0], reverse=True)
    print(f"reference check: {compared} figures equal within {worst[0][0] if worst else 0:.3g} relative"
          f" ({provisional} provisional and {missing} without a reference figure not compared)")
    bad = [w for w in worst if w[0] > 1e-9]
    for w in bad[:5]:
        print("  differs: %.3g at %s %s %s: scorecard %r, reference %r" % w)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
