#!/usr/bin/env python3
"""The DuckDB side of the KPI engine benchmark (issue 3): the built-in KPIs of
shared/spec/kpis.md for every ISO week of a range, for the whole business and
every value of the `region` and `plan` customer attributes, computed by DuckDB
from the snapshot CSV files. Times the CSV load and the queries separately.

    pip install duckdb
    python3 benches/duckdb_kpis.py SNAPSHOT_DIR --from 2023-01-02 --to 2025-12-22 \
        [--threads N] [--repeat 3] [--check REPORTS_DIR]

--from / --to are the Mondays of the first and last week (inclusive).
--check compares every figure with the kpis.json files that `scorecard run`
wrote under REPORTS_DIR/weekly/*/ and prints the largest difference, so the
two engines are shown to compute the same thing.

What is computed, per (week, segment): customers_start/new/churned/end,
retention_rate, churn_rate, revenue, orders, average_order_value,
revenue_per_customer, gross_margin, clv, acquisition_spend, crm_cost, cac,
clv_cac_ratio, deals_created, pipeline_created, deals_won, deals_lost,
win_rate, won_revenue, average_deal_size, sales_cycle_days, tickets_opened,
avg/median_first_response_hours, first_response_sla_rate,
avg_resolution_hours, resolution_rate, nps, nps_responses, csat,
csat_responses, activities.KIND, activities_per_owner. (Not: confidence
intervals, comparisons, custom KPIs, ROI: those are arithmetic on these.)
The SQL is the plain translation of kpis.md (the customer base is a join of
weeks × customers), with GROUPING SETS for the segments.
"""
import argparse
import glob
import json
import math
import os
import resource
import time

import duckdb

SLA_HOURS = 24
# kpis.md: the durations are over the tickets answered / resolved within H.
RESOLUTION_HOURS = 72

LOAD = """
CREATE OR REPLACE TABLE customers AS SELECT * FROM read_csv('{d}/customers.csv', header = true, all_varchar = true);
CREATE OR REPLACE TABLE c AS SELECT customer_id, CAST(acquired_on AS DATE) AS acquired_on,
    CAST(NULLIF(churned_on, '') AS DATE) AS churned_on,
    COALESCE(NULLIF(trim(region), ''), '(none)') AS region, COALESCE(NULLIF(trim(plan), ''), '(none)') AS plan
  FROM customers;
DROP TABLE customers;
CREATE OR REPLACE TABLE orders AS SELECT * FROM read_csv('{d}/orders.csv', header = true,
  columns = {{'order_id': 'VARCHAR', 'customer_id': 'VARCHAR', 'ordered_on': 'DATE', 'amount': 'DOUBLE', 'cost': 'DOUBLE'}});
CREATE OR REPLACE TABLE tickets AS SELECT * FROM read_csv('{d}/tickets.csv', header = true,
  columns = {{'ticket_id': 'VARCHAR', 'opened_at': 'TIMESTAMP', 'first_response_at': 'TIMESTAMP', 'resolved_at': 'TIMESTAMP', 'customer_id': 'VARCHAR', 'channel': 'VARCHAR'}});
CREATE OR REPLACE TABLE surveys AS SELECT * FROM read_csv('{d}/surveys.csv', header = true,
  columns = {{'response_id': 'VARCHAR', 'answered_on': 'DATE', 'kind': 'VARCHAR', 'score': 'INTEGER', 'customer_id': 'VARCHAR', 'comment': 'VARCHAR'}});
CREATE OR REPLACE TABLE deals AS SELECT * FROM read_csv('{d}/deals.csv', header = true,
  columns = {{'deal_id': 'VARCHAR', 'created_on': 'DATE', 'stage': 'VARCHAR', 'closed_on': 'DATE', 'amount': 'DOUBLE', 'customer_id': 'VARCHAR', 'owner': 'VARCHAR'}});
CREATE OR REPLACE TABLE spend AS SELECT * FROM read_csv('{d}/spend.csv', header = true,
  columns = {{'spend_id': 'VARCHAR', 'spent_on': 'DATE', 'category': 'VARCHAR', 'amount': 'DOUBLE', 'region': 'VARCHAR'}});
CREATE OR REPLACE TABLE activities AS SELECT * FROM read_csv('{d}/activities.csv', header = true,
  columns = {{'activity_id': 'VARCHAR', 'occurred_on': 'DATE', 'kind': 'VARCHAR', 'owner': 'VARCHAR', 'customer_id': 'VARCHAR'}});
"""

# A record's segment columns: '' for the whole business, else 'region=X' / 'plan=Y'.
SEG = """CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
              WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END"""
SETS = "GROUPING SETS ((wk), (wk, region), (wk, plan))"
# Customer-linked records: unknown or absent customer → (none) for every attribute.
LINK = "LEFT JOIN c ON c.customer_id = x.customer_id"
RP = "COALESCE(c.region, '(none)') AS region, COALESCE(c.plan, '(none)') AS plan"
WEEK = "CAST(date_trunc('week', {col}) AS DATE)"

QUERIES = {
    "weeks": """
CREATE OR REPLACE TEMP TABLE weeks AS
  SELECT CAST(w AS DATE) AS wk, CAST(w + INTERVAL 7 DAY AS DATE) AS wend
  FROM range(DATE '{lo}', DATE '{hi}' + INTERVAL 7 DAY, INTERVAL 7 DAY) t(w)""",
    "customers": f"""
CREATE OR REPLACE TEMP TABLE k_customers AS
SELECT wk, {SEG} AS seg,
  count(*) FILTER (WHERE acquired_on < wk AND (churned_on IS NULL OR churned_on >= wk)) AS s,
  count(*) FILTER (WHERE acquired_on >= wk) AS n,
  count(*) FILTER (WHERE churned_on >= wk AND churned_on < wend) AS churned,
  count(*) FILTER (WHERE churned_on IS NULL OR churned_on >= wend) AS e,
  count(*) FILTER (WHERE acquired_on < wk AND churned_on >= wk AND churned_on < wend) AS l
FROM weeks JOIN c ON c.acquired_on < weeks.wend
GROUP BY {SETS}""",
    "orders": f"""
CREATE OR REPLACE TEMP TABLE k_orders AS
SELECT wk, {SEG} AS seg, count(*) AS orders, sum(amount) AS revenue,
  sum(amount) FILTER (WHERE cost IS NOT NULL) AS costed_amount, sum(cost) AS cost, count(cost) AS costed
FROM (SELECT {WEEK.format(col='x.ordered_on')} AS wk, x.amount, x.cost, {RP} FROM orders x {LINK}
      WHERE x.ordered_on >= DATE '{{lo}}' AND x.ordered_on < DATE '{{hi}}' + 7)
GROUP BY {SETS}""",
    "tickets": f"""
CREATE OR REPLACE TEMP TABLE k_tickets AS
SELECT wk, {SEG} AS seg, count(*) AS tickets,
  avg(resp) FILTER (WHERE resp <= {RESOLUTION_HOURS}) AS avg_resp,
  median(resp) FILTER (WHERE resp <= {RESOLUTION_HOURS}) AS median_resp, count(resp) AS answered,
  count(*) FILTER (WHERE resp <= {SLA_HOURS}) AS within_sla,
  count(res) FILTER (WHERE res <= {RESOLUTION_HOURS}) AS resolved,
  avg(res) FILTER (WHERE res <= {RESOLUTION_HOURS}) AS avg_res
FROM (SELECT {WEEK.format(col='x.opened_at')} AS wk,
        epoch(x.first_response_at - x.opened_at) / 3600.0 AS resp,
        epoch(x.resolved_at - x.opened_at) / 3600.0 AS res, {RP}
      FROM tickets x {LINK}
      WHERE x.opened_at >= DATE '{{lo}}' AND x.opened_at < DATE '{{hi}}' + 7)
GROUP BY {SETS}""",
    "surveys": f"""
CREATE OR REPLACE TEMP TABLE k_surveys AS
SELECT wk, {SEG} AS seg,
  count(*) FILTER (WHERE kind = 'nps') AS nps_n,
  count(*) FILTER (WHERE kind = 'nps' AND score >= 9) AS promoters,
  count(*) FILTER (WHERE kind = 'nps' AND score <= 6) AS detractors,
  count(*) FILTER (WHERE kind = 'csat') AS csat_n,
  count(*) FILTER (WHERE kind = 'csat' AND score >= 4) AS csat_ok
FROM (SELECT {WEEK.format(col='x.answered_on')} AS wk, lower(x.kind) AS kind, x.score, {RP} FROM surveys x {LINK}
      WHERE x.answered_on >= DATE '{{lo}}' AND x.answered_on < DATE '{{hi}}' + 7)
GROUP BY {SETS}""",
    "deals": f"""
CREATE OR REPLACE TEMP TABLE k_deals AS
WITH created AS (
  SELECT wk, {SEG} AS seg, count(*) AS created, sum(COALESCE(amount, 0)) AS pipeline
  FROM (SELECT {WEEK.format(col='x.created_on')} AS wk, x.amount, {RP} FROM deals x {LINK}
        WHERE x.created_on >= DATE '{{lo}}' AND x.created_on < DATE '{{hi}}' + 7)
  GROUP BY {SETS}),
closed AS (
  SELECT wk, {SEG} AS seg, count(*) FILTER (WHERE stage = 'won') AS won, count(*) FILTER (WHERE stage = 'lost') AS lost,
    sum(COALESCE(amount, 0)) FILTER (WHERE stage = 'won') AS won_amount,
    avg(closed_on - created_on) FILTER (WHERE stage = 'won') AS cycle
  FROM (SELECT {WEEK.format(col='x.closed_on')} AS wk, lower(x.stage) AS stage, x.amount, x.closed_on, x.created_on, {RP}
        FROM deals x {LINK}
        WHERE x.closed_on >= DATE '{{lo}}' AND x.closed_on < DATE '{{hi}}' + 7)
  GROUP BY {SETS})
SELECT COALESCE(a.wk, b.wk) AS wk, COALESCE(a.seg, b.seg) AS seg, COALESCE(created, 0) AS created,
  COALESCE(pipeline, 0) AS pipeline, COALESCE(won, 0) AS won, COALESCE(lost, 0) AS lost,
  COALESCE(won_amount, 0) AS won_amount, cycle
FROM created a FULL JOIN closed b ON a.wk = b.wk AND a.seg = b.seg""",
    "spend": f"""
CREATE OR REPLACE TEMP TABLE k_spend AS
SELECT wk, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region ELSE '' END AS seg,
  COALESCE(sum(amount) FILTER (WHERE category IN ('marketing', 'sales')), 0) AS acq,
  COALESCE(sum(amount) FILTER (WHERE category = 'crm'), 0) AS crm
FROM (SELECT {WEEK.format(col='spent_on')} AS wk, lower(category) AS category, amount,
        COALESCE(NULLIF(trim(region), ''), '(none)') AS region FROM spend
      WHERE spent_on >= DATE '{{lo}}' AND spent_on < DATE '{{hi}}' + 7)
GROUP BY GROUPING SETS ((wk), (wk, region))""",
    "activities": f"""
CREATE OR REPLACE TEMP TABLE k_activities AS
SELECT wk, {SEG} AS seg, count(*) AS total, count(DISTINCT NULLIF(owner, '')) AS owners
FROM (SELECT {WEEK.format(col='x.occurred_on')} AS wk, x.kind, x.owner, {RP} FROM activities x {LINK}
      WHERE x.occurred_on >= DATE '{{lo}}' AND x.occurred_on < DATE '{{hi}}' + 7)
GROUP BY {SETS}""",
    "activity_kinds": f"""
CREATE OR REPLACE TEMP TABLE k_activity_kinds AS
SELECT wk, {SEG} AS seg, kind, count(*) AS n
FROM (SELECT {WEEK.format(col='x.occurred_on')} AS wk, x.kind, {RP} FROM activities x {LINK}
      WHERE x.occurred_on >= DATE '{{lo}}' AND x.occurred_on < DATE '{{hi}}' + 7)
GROUP BY GROUPING SETS ((wk, kind), (wk, region, kind), (wk, plan, kind))""",
    # The formulas of kpis.md over the per-source counts.
    "kpis": """
CREATE OR REPLACE TEMP TABLE kpis AS
WITH keys AS (
  SELECT wk, seg FROM k_customers UNION SELECT wk, seg FROM k_orders UNION SELECT wk, seg FROM k_tickets
  UNION SELECT wk, seg FROM k_surveys UNION SELECT wk, seg FROM k_deals UNION SELECT wk, seg FROM k_activities
  UNION SELECT wk, '' FROM weeks),
base AS (
  SELECT k.wk, k.seg,
    COALESCE(cu.s, 0) AS s, COALESCE(cu.n, 0) AS n, COALESCE(cu.churned, 0) AS churned, COALESCE(cu.e, 0) AS e, COALESCE(cu.l, 0) AS l,
    COALESCE(o.orders, 0) AS orders, COALESCE(o.revenue, 0) AS revenue, o.costed_amount, o.cost, COALESCE(o.costed, 0) AS costed,
    t.tickets, t.avg_resp, t.median_resp, t.within_sla, t.resolved, t.avg_res,
    sv.nps_n, sv.promoters, sv.detractors, sv.csat_n, sv.csat_ok,
    d.created, d.pipeline, d.won, d.lost, d.won_amount, d.cycle,
    CASE WHEN k.seg = '' OR k.seg LIKE 'region=%' THEN COALESCE(sp.acq, 0) END AS acq,
    CASE WHEN k.seg = '' OR k.seg LIKE 'region=%' THEN COALESCE(sp.crm, 0) END AS crm,
    a.total AS activities, a.owners
  FROM keys k
  LEFT JOIN k_customers cu USING (wk, seg) LEFT JOIN k_orders o USING (wk, seg)
  LEFT JOIN k_tickets t USING (wk, seg) LEFT JOIN k_surveys sv USING (wk, seg)
  LEFT JOIN k_deals d USING (wk, seg) LEFT JOIN k_spend sp USING (wk, seg)
  LEFT JOIN k_activities a USING (wk, seg)),
f AS (
  SELECT *,
    100.0 * l / NULLIF(s, 0) AS churn_rate,
    revenue / NULLIF((s + e) / 2.0, 0) AS revenue_per_customer,
    CASE WHEN costed > 0 AND costed_amount <> 0 THEN 100.0 * (costed_amount - cost) / costed_amount END AS gross_margin,
    acq / NULLIF(n, 0) AS cac
  FROM base),
g AS (
  SELECT *, CASE WHEN churn_rate > 0 THEN revenue_per_customer * COALESCE(gross_margin / 100.0, 1) / (churn_rate / 100.0) END AS clv
  FROM f)
SELECT wk, seg,
  s AS customers_start, n AS new_customers, churned AS churned_customers, e AS customers_end,
  100.0 * (e - n) / NULLIF(s, 0) AS retention_rate, churn_rate,
  revenue, orders, revenue / NULLIF(orders, 0) AS average_order_value, revenue_per_customer, gross_margin, clv,
  acq AS acquisition_spend, crm AS crm_cost, cac, CASE WHEN cac > 0 THEN clv / cac END AS clv_cac_ratio,
  COALESCE(created, 0) AS deals_created, COALESCE(pipeline, 0) AS pipeline_created, COALESCE(won, 0) AS deals_won,
  COALESCE(lost, 0) AS deals_lost, 100.0 * won / NULLIF(won + lost, 0) AS win_rate, COALESCE(won_amount, 0) AS won_revenue,
  won_amount / NULLIF(won, 0) AS average_deal_size, cycle AS sales_cycle_days,
  COALESCE(tickets, 0) AS tickets_opened, avg_resp AS avg_first_response_hours, median_resp AS median_first_response_hours,
  100.0 * within_sla / NULLIF(tickets, 0) AS first_response_sla_rate, avg_res AS avg_resolution_hours,
  100.0 * resolved / NULLIF(tickets, 0) AS resolution_rate,
  100.0 * (promoters - detractors) / NULLIF(nps_n, 0) AS nps, COALESCE(nps_n, 0) AS nps_responses,
  100.0 * csat_ok / NULLIF(csat_n, 0) AS csat, COALESCE(csat_n, 0) AS csat_responses,
  1.0 * activities / NULLIF(owners, 0) AS activities_per_owner
FROM g""",
}


def run_queries(con, lo, hi):
    times = {}
    for name, sql in QUERIES.items():
        t = time.perf_counter()
        con.execute(sql.format(lo=lo, hi=hi))
        times[name] = time.perf_counter() - t
    # Fetch the results into Python, as a program would use them.
    t = time.perf_counter()
    rows = con.execute("SELECT * FROM kpis ORDER BY wk, seg").fetchall()
    kinds = con.execute("SELECT wk, seg, kind, n FROM k_activity_kinds").fetchall()
    times["fetch"] = time.perf_counter() - t
    return times, rows, kinds


def check(con, reports, kinds):
    """Compares with scorecard's kpis.json files; prints the largest differences."""
    cols = [d[0] for d in con.execute("SELECT * FROM kpis LIMIT 0").description]
    ours = {}
    for row in con.execute("SELECT * FROM kpis").fetchall():
        r = dict(zip(cols, row))
        ours[(r["wk"].isoformat(), r["seg"])] = r
    for wk, seg, kind, n in kinds:
        ours.get((wk.isoformat(), seg), {})["activities." + kind] = n
    compared, worst, missing, provisional = 0, [], 0, 0
    for path in sorted(glob.glob(os.path.join(reports, "weekly", "*", "kpis.json"))):
        doc = json.load(open(path))
        start = doc["period"]["start"]
        for k in doc["kpis"]:
            seg = k["segment"] or ""
            if k.get("provisional"):
                # tickets still inside their window: scorecard estimates by
                # Kaplan-Meier, this file keeps the plain formula
                provisional += 1
                continue
            r = ours.get((start, seg))
            if r is None or k["id"] not in r:
                if k["id"] in cols or k["id"].startswith("activities."):
                    missing += 1
                continue
            a, b = k["value"], r[k["id"]]
            b = None if b is None or (isinstance(b, float) and math.isnan(b)) else float(b)
            if a is None and b is None:
                compared += 1
                continue
            if a is None or b is None:
                # scorecard shows 0-valued counts where no row exists; DuckDB may have no group
                diff = float("inf") if (a or 0) != (b or 0) else 0.0
            else:
                diff = abs(a - b) / max(1.0, abs(a))
            compared += 1
            worst.append((diff, doc["period"]["id"], seg, k["id"], a, b))
    worst.sort(reverse=True)
    print(f"check: {compared} figures compared with {reports}, {missing} not computed here, "
          f"{provisional} provisional not compared")
    for w in worst[:5]:
        print("  largest difference: %.3g at %s %s %s: scorecard %r, duckdb %r" % w)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("snapshot")
    p.add_argument("--from", dest="lo", required=True, help="Monday of the first week")
    p.add_argument("--to", dest="hi", required=True, help="Monday of the last week")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (default: all cores)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--check", metavar="REPORTS_DIR")
    args = p.parse_args()

    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    t, c = time.perf_counter(), time.process_time()
    con.execute(LOAD.format(d=os.path.abspath(args.snapshot)))
    load = time.perf_counter() - t
    load_cpu = time.process_time() - c
    rows = sum(con.execute(f"SELECT count(*) FROM {x}").fetchone()[0]
               for x in ["c", "orders", "tickets", "surveys", "deals", "spend", "activities"])
    print(f"duckdb {duckdb.__version__}, {threads} threads: loaded {rows} rows from CSV in {load:.2f} s"
          f" (CPU {load_cpu:.2f} s)")
    best = None
    for i in range(args.repeat):
        c = time.process_time()
        times, out, kinds = run_queries(con, args.lo, args.hi)
        total = sum(times.values())
        print(f"  run {i + 1}: queries {total:.3f} s, CPU {time.process_time() - c:.2f} s ("
              + ", ".join(f"{k} {v:.3f}" for k, v in times.items()) + ")")
        best = total if best is None else min(best, total)
    weeks = len({r[0] for r in out})
    segs = len({r[1] for r in out})
    print(f"result: {len(out)} (week, segment) rows, {weeks} weeks, {segs} segments; "
          f"best query time {best:.3f} s; load + best {load + best:.2f} s; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
    if args.check:
        check(con, args.check, kinds)


if __name__ == "__main__":
    main()
