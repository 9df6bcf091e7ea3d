-- PostgreSQL's own aggregate SQL for the KPIs of the store benchmark (issue
-- 13 item 7): the reference that scorecard's PostgreSQL engine is measured
-- against. Hand-written for the benchmark's config (weekly, UTC, segments
-- region and plan), it reads the tables that `scorecard import` filled in
-- the same server and computes, per week x segment (the whole business,
-- region=X, plan=Y, with (none) for a missing or unknown customer), every
-- built-in KPI of docs/kpis.md in its mature-period form (the plain
-- formulas; no Kaplan-Meier for tickets still inside their window, no
-- confidence intervals or comparisons: those are arithmetic on these
-- counts), as one would write it by hand, with everything PostgreSQL offers
-- and scorecard's Citus-ready SQL does not use: GROUPING SETS,
-- percentile_cont for the exact median, window sums for the customer base,
-- one pass per table, plain float sums of money (scorecard sums money
-- exactly: see `money` in src/kpi/engine/pg.rs). The results are
-- fetched by the client (COPY TO STDOUT into :out), as scorecard receives its rows.
--
--   psql URL -v schema=bench -v lo=DAY -v k=WEEKS -v asof=MS -v sla=MS -v h=MS \
--        -v out=FILE -f benches/pg_reference.sql
--
-- lo: day number (days since 0001-01-01) of the first Monday; k: weeks;
-- asof: the tickets' as-of instant (ms since the epoch); sla / h: the
-- first-response SLA and the resolution window in ms. benches/store_bench.sh
-- passes them and times the whole script.
\set ON_ERROR_STOP on
SET search_path = :schema;
SET client_min_messages = warning;

-- Each customer's segment values, once.
CREATE TEMP TABLE r_seg AS
SELECT customer_id,
       COALESCE(max(value) FILTER (WHERE name = 'region' AND value <> ''), '(none)') AS region,
       COALESCE(max(value) FILTER (WHERE name = 'plan' AND value <> ''), '(none)') AS plan
FROM customer_attributes GROUP BY customer_id;
ANALYZE r_seg;

-- The customer base: acquisitions and churns by week index (-1: before the
-- first week), then window sums (churned_on >= acquired_on is validated at
-- import, so the churned before a week were acquired before it).
CREATE TEMP TABLE r_customers AS
WITH c AS (
  SELECT CASE WHEN x.acquired_day < :lo THEN -1 ELSE (x.acquired_day - :lo) / 7 END AS a,
         CASE WHEN x.churned_day IS NULL OR x.churned_day >= :lo + 7 * :k THEN NULL
              WHEN x.churned_day < :lo THEN -1 ELSE (x.churned_day - :lo) / 7 END AS c,
         COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
  FROM customers x LEFT JOIN r_seg g USING (customer_id)
  WHERE x.acquired_day < :lo + 7 * :k),
e AS (
  SELECT a AS w, region, plan, 1 AS acq, 0 AS chu, (a = c)::int AS same FROM c
  UNION ALL
  SELECT c, region, plan, 0, 1, 0 FROM c WHERE c IS NOT NULL),
g AS (
  SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
                 WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
         sum(acq) AS acq, sum(chu) AS chu, sum(same) AS same
  FROM e GROUP BY GROUPING SETS ((w), (w, region), (w, plan))),
grid AS (
  SELECT w, seg FROM generate_series(-1, :k - 1) w CROSS JOIN (SELECT DISTINCT seg FROM g) s),
run AS (
  SELECT grid.w, grid.seg, COALESCE(g.acq, 0) AS acq, COALESCE(g.chu, 0) AS chu, COALESCE(g.same, 0) AS same,
         COALESCE(sum(COALESCE(g.acq, 0) - COALESCE(g.chu, 0)) OVER (PARTITION BY grid.seg ORDER BY grid.w
                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS s,
         sum(COALESCE(g.acq, 0)) OVER (PARTITION BY grid.seg ORDER BY grid.w) AS acquired_by_end
  FROM grid LEFT JOIN g USING (w, seg))
SELECT w, seg, s, acq AS n, chu AS churned, s + acq - chu AS e, chu - same AS l
FROM run WHERE w >= 0 AND acquired_by_end > 0;

-- One pass per fact table, grouped by week and each segment attribute.
CREATE TEMP TABLE r_orders AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
               WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
       count(*) AS orders, sum(amount) AS revenue,
       sum(amount) FILTER (WHERE cost IS NOT NULL) AS costed_amount,
       sum(cost) AS cost, count(cost) AS costed
FROM (SELECT (x.ordered_day - :lo) / 7 AS w, x.amount, x.cost,
             COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
      FROM orders x LEFT JOIN r_seg g USING (customer_id)
      WHERE x.ordered_day >= :lo AND x.ordered_day < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w), (w, region), (w, plan));

CREATE TEMP TABLE r_tickets AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
               WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
       count(*) AS tickets,
       avg(resp) FILTER (WHERE resp <= :h) / 3600000.0 AS avg_resp,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY resp) FILTER (WHERE resp <= :h) / 3600000.0 AS median_resp,
       count(*) FILTER (WHERE resp <= :sla) AS within_sla,
       count(*) FILTER (WHERE resp <= :sla OR opened_at + :sla <= :asof) AS sla_decided,
       count(*) FILTER (WHERE res <= :h) AS resolved,
       count(*) FILTER (WHERE res <= :h OR opened_at + :h <= :asof) AS res_decided,
       avg(res) FILTER (WHERE res <= :h) / 3600000.0 AS avg_res
FROM (SELECT (x.opened_day - :lo) / 7 AS w, x.opened_at,
             CASE WHEN x.first_response_at <= :asof THEN x.first_response_at - x.opened_at END AS resp,
             CASE WHEN x.resolved_at <= :asof THEN x.resolved_at - x.opened_at END AS res,
             COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
      FROM tickets x LEFT JOIN r_seg g USING (customer_id)
      WHERE x.opened_day >= :lo AND x.opened_day < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w), (w, region), (w, plan));

CREATE TEMP TABLE r_surveys AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
               WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
       count(*) FILTER (WHERE kind = 'nps') AS nps_n,
       count(*) FILTER (WHERE kind = 'nps' AND score >= 9) AS promoters,
       count(*) FILTER (WHERE kind = 'nps' AND score <= 6) AS detractors,
       count(*) FILTER (WHERE kind <> 'nps') AS csat_n,
       count(*) FILTER (WHERE kind <> 'nps' AND score >= 4) AS csat_ok
FROM (SELECT (x.answered_day - :lo) / 7 AS w, x.kind, x.score,
             COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
      FROM surveys x LEFT JOIN r_seg g USING (customer_id)
      WHERE x.answered_day >= :lo AND x.answered_day < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w), (w, region), (w, plan));

-- Deals: one pass, each deal once as created and once as closed.
CREATE TEMP TABLE r_deals AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
               WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
       count(*) FILTER (WHERE ev = 'c') AS created,
       COALESCE(sum(amount) FILTER (WHERE ev = 'c'), 0) AS pipeline,
       count(*) FILTER (WHERE ev = 'won') AS won, count(*) FILTER (WHERE ev = 'lost') AS lost,
       COALESCE(sum(amount) FILTER (WHERE ev = 'won'), 0) AS won_amount,
       avg(cycle) FILTER (WHERE ev = 'won' AND cycle >= 0) AS cycle
FROM (SELECT (CASE WHEN e.ev = 'c' THEN x.created_day ELSE x.closed_day END - :lo) / 7 AS w, e.ev,
             COALESCE(x.amount, 0) AS amount, x.closed_day - x.created_day AS cycle,
             COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
      FROM deals x LEFT JOIN r_seg g USING (customer_id)
      CROSS JOIN LATERAL (VALUES ('c'), (CASE WHEN x.stage IN ('won', 'lost') THEN x.stage END)) e(ev)
      WHERE e.ev IS NOT NULL
        AND CASE WHEN e.ev = 'c' THEN x.created_day ELSE x.closed_day END >= :lo
        AND CASE WHEN e.ev = 'c' THEN x.created_day ELSE x.closed_day END < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w), (w, region), (w, plan));

CREATE TEMP TABLE r_spend AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region ELSE '' END AS seg,
       COALESCE(sum(amount) FILTER (WHERE category IN ('marketing', 'sales')), 0) AS acq,
       COALESCE(sum(amount) FILTER (WHERE category = 'crm'), 0) AS crm
FROM (SELECT (x.spent_day - :lo) / 7 AS w, x.category, x.amount, COALESCE(NULLIF(a.value, ''), '(none)') AS region
      FROM spend x LEFT JOIN spend_attributes a ON a.spend_id = x.spend_id AND a.name = 'region'
      WHERE x.spent_day >= :lo AND x.spent_day < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w), (w, region));

CREATE TEMP TABLE r_activities AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
               WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
       count(*) AS total, count(DISTINCT NULLIF(owner, '')) AS owners
FROM (SELECT (x.occurred_day - :lo) / 7 AS w, x.owner,
             COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
      FROM activities x LEFT JOIN r_seg g USING (customer_id)
      WHERE x.occurred_day >= :lo AND x.occurred_day < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w), (w, region), (w, plan));

CREATE TEMP TABLE r_activity_kinds AS
SELECT w, CASE WHEN GROUPING(region) = 0 THEN 'region=' || region
               WHEN GROUPING(plan) = 0 THEN 'plan=' || plan ELSE '' END AS seg,
       kind, count(*) AS n
FROM (SELECT (x.occurred_day - :lo) / 7 AS w, x.kind,
             COALESCE(g.region, '(none)') AS region, COALESCE(g.plan, '(none)') AS plan
      FROM activities x LEFT JOIN r_seg g USING (customer_id)
      WHERE x.occurred_day >= :lo AND x.occurred_day < :lo + 7 * :k) x
GROUP BY GROUPING SETS ((w, kind), (w, region, kind), (w, plan, kind));

-- The formulas of kpis.md over the counts, fetched by the client.
CREATE TEMP TABLE r_kpis AS
WITH keys AS (
  SELECT w, seg FROM r_customers UNION SELECT w, seg FROM r_orders UNION SELECT w, seg FROM r_tickets
  UNION SELECT w, seg FROM r_surveys UNION SELECT w, seg FROM r_deals UNION SELECT w, seg FROM r_activities
  UNION SELECT w, '' FROM generate_series(0, :k - 1) w),
base AS (
  SELECT k.w, k.seg,
    COALESCE(cu.s, 0) AS s, COALESCE(cu.n, 0) AS n, COALESCE(cu.churned, 0) AS churned,
    COALESCE(cu.e, 0) AS e, COALESCE(cu.l, 0) AS l,
    COALESCE(o.orders, 0) AS orders, COALESCE(o.revenue, 0) AS revenue, o.costed_amount, o.cost,
    COALESCE(o.costed, 0) AS costed,
    t.tickets, t.avg_resp, t.median_resp, t.within_sla, t.sla_decided, t.resolved, t.res_decided, t.avg_res,
    sv.nps_n, sv.promoters, sv.detractors, sv.csat_n, sv.csat_ok,
    d.created, d.pipeline, d.won, d.lost, d.won_amount, d.cycle,
    CASE WHEN k.seg = '' OR k.seg LIKE 'region=%' THEN COALESCE(sp.acq, 0) END AS acq,
    CASE WHEN k.seg = '' OR k.seg LIKE 'region=%' THEN COALESCE(sp.crm, 0) END AS crm,
    a.total AS activities, a.owners
  FROM keys k
  LEFT JOIN r_customers cu USING (w, seg) LEFT JOIN r_orders o USING (w, seg)
  LEFT JOIN r_tickets t USING (w, seg) LEFT JOIN r_surveys sv USING (w, seg)
  LEFT JOIN r_deals d USING (w, seg) LEFT JOIN r_spend sp USING (w, seg)
  LEFT JOIN r_activities a USING (w, seg)),
f AS (
  SELECT *,
    100.0 * l / NULLIF(s, 0) AS churn_rate,
    revenue / NULLIF((s + e) / 2.0, 0) AS revenue_per_customer,
    CASE WHEN costed > 0 AND costed_amount <> 0 THEN 100.0 * (costed_amount - cost) / costed_amount END AS gross_margin,
    acq / NULLIF(n, 0) AS cac
  FROM base),
g AS (
  SELECT *, CASE WHEN churn_rate > 0
                 THEN revenue_per_customer * COALESCE(gross_margin / 100.0, 1) / (churn_rate / 100.0) END AS clv
  FROM f)
SELECT w, seg,
  s AS customers_start, n AS new_customers, churned AS churned_customers, e AS customers_end,
  100.0 * (e - n) / NULLIF(s, 0) AS retention_rate, churn_rate,
  revenue, orders, revenue / NULLIF(orders, 0) AS average_order_value, revenue_per_customer, gross_margin, clv,
  acq AS acquisition_spend, crm AS crm_cost, cac, CASE WHEN cac > 0 THEN clv / cac END AS clv_cac_ratio,
  COALESCE(created, 0) AS deals_created, COALESCE(pipeline, 0) AS pipeline_created, COALESCE(won, 0) AS deals_won,
  COALESCE(lost, 0) AS deals_lost, 100.0 * won / NULLIF(won + lost, 0) AS win_rate,
  COALESCE(won_amount, 0) AS won_revenue, won_amount / NULLIF(won, 0) AS average_deal_size, cycle AS sales_cycle_days,
  COALESCE(tickets, 0) AS tickets_opened, avg_resp AS avg_first_response_hours,
  median_resp AS median_first_response_hours,
  100.0 * within_sla / NULLIF(sla_decided, 0) AS first_response_sla_rate, avg_res AS avg_resolution_hours,
  100.0 * resolved / NULLIF(res_decided, 0) AS resolution_rate,
  100.0 * (promoters - detractors) / NULLIF(nps_n, 0) AS nps, COALESCE(nps_n, 0) AS nps_responses,
  100.0 * csat_ok / NULLIF(csat_n, 0) AS csat, COALESCE(csat_n, 0) AS csat_responses,
  1.0 * activities / NULLIF(owners, 0) AS activities_per_owner
FROM g;
COPY (SELECT * FROM r_kpis ORDER BY w, seg) TO STDOUT WITH (FORMAT csv, HEADER) \g :out
COPY (SELECT w, seg, kind, n FROM r_activity_kinds ORDER BY w, seg, kind) TO STDOUT WITH (FORMAT csv, HEADER) \g :out_kinds
