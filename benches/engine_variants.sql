-- Where the KPI engine's cold run spends its time, and what cheaper query
-- shapes would cost (see BENCHMARKS.md, "KPI engine"). Run on a COPY of a
-- store filled by benches/kpi_bench.sh (it creates temp tables only):
--   sqlite3 COPY.db < benches/engine_variants.sql
-- Same pragmas as the store (src/store/mod.rs). Day numbers: 738521 = 2023-01-02,
-- 739613 = 2025-12-29.
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;
.timer on
.print == 1. plain scans of every column the engine reads (the floor for any plan)
SELECT sum(ordered_day), sum(length(customer_id)), sum(amount), sum(cost) FROM orders;
SELECT sum(opened_day), sum(length(customer_id)), sum(first_response_at - opened_at), sum(resolved_at) FROM tickets;
SELECT sum(answered_day), sum(length(customer_id)), sum(length(kind)), sum(score) FROM surveys;
SELECT sum(occurred_day), sum(length(customer_id)), sum(length(kind)), sum(length(owner)) FROM activities;
SELECT sum(created_day), sum(closed_day), sum(length(customer_id)), sum(length(stage)), sum(amount) FROM deals;
SELECT sum(length(customer_id)), sum(acquired_day), sum(churned_day) FROM customers;
SELECT sum(length(customer_id)), sum(length(value)) FROM customer_attributes;
.print == 2. SQLite's GROUP BY alone, no join: orders by day (index order + row lookups)
SELECT count(*) FROM (SELECT ordered_day, count(*), sum(amount) FROM orders GROUP BY ordered_day);
.print == 3. orders as the engine asks today, but a table scan instead of the day index
CREATE TEMP TABLE run_segments (attr TEXT PRIMARY KEY);
INSERT INTO run_segments VALUES (''), ('region'), ('plan');
SELECT count(*) FROM (SELECT o.ordered_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, count(*), sum(o.amount),
   sum(CASE WHEN o.cost IS NOT NULL THEN o.amount END), sum(o.cost), count(o.cost)
 FROM orders o CROSS JOIN temp.run_segments s LEFT JOIN customer_attributes a ON a.customer_id = o.customer_id AND a.name = s.attr
 WHERE +o.ordered_day >= 738521 AND +o.ordered_day < 739613 GROUP BY o.ordered_day, s.attr, seg);
.print == 4. each customer's segment combination resolved once (temp table), one join per record, grouped by (day, combination)
CREATE TEMP TABLE run_combos (combo INTEGER PRIMARY KEY, region TEXT, plan TEXT);
CREATE TEMP TABLE run_customers (customer_id TEXT PRIMARY KEY, combo INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO run_combos (region, plan) SELECT DISTINCT r.value, p.value FROM customers c
  LEFT JOIN customer_attributes r ON r.customer_id = c.customer_id AND r.name = 'region'
  LEFT JOIN customer_attributes p ON p.customer_id = c.customer_id AND p.name = 'plan';
INSERT INTO run_customers SELECT c.customer_id, k.combo FROM customers c
  LEFT JOIN customer_attributes r ON r.customer_id = c.customer_id AND r.name = 'region'
  LEFT JOIN customer_attributes p ON p.customer_id = c.customer_id AND p.name = 'plan'
  JOIN run_combos k ON k.region IS r.value AND k.plan IS p.value;
.print orders
SELECT count(*) FROM (SELECT o.ordered_day, k.combo, count(*), sum(o.amount),
   sum(CASE WHEN o.cost IS NOT NULL THEN o.amount END), sum(o.cost), count(o.cost)
 FROM orders o LEFT JOIN temp.run_customers k ON k.customer_id = o.customer_id
 WHERE +o.ordered_day >= 738521 AND +o.ordered_day < 739613 GROUP BY o.ordered_day, k.combo);
.print tickets (response kept exact)
SELECT count(*) FROM (SELECT t.opened_day, k.combo, t.first_response_at - t.opened_at AS response,
   count(*), count(t.resolved_at), sum(t.resolved_at - t.opened_at)
 FROM tickets t LEFT JOIN temp.run_customers k ON k.customer_id = t.customer_id
 WHERE +t.opened_day >= 738521 AND +t.opened_day < 739613 GROUP BY t.opened_day, k.combo, response);
.print customers by (acquired, churned, combination)
SELECT count(*) FROM (SELECT c.acquired_day, c.churned_day, k.combo, count(*) FROM customers c JOIN temp.run_customers k USING (customer_id)
 WHERE c.acquired_day < 739613 GROUP BY 1, 2, 3);
.print == 5. the join alone (orders x run_customers), no GROUP BY
SELECT count(*), sum(k.combo) FROM orders o LEFT JOIN temp.run_customers k ON k.customer_id = o.customer_id;
.print == 6. activity kinds (asked 3 times per run: fingerprint, compute, catalogue)
SELECT count(*) FROM (SELECT DISTINCT kind FROM activities ORDER BY kind);
